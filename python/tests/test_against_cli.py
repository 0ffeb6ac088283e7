"""The API and the CLI's --json give identical objects for the same workloads: one core."""

from __future__ import annotations

import pytest
import vramfit
from conftest import CONFIGS, IO_DATA, cli_json

# (keyword arguments, the same workload as CLI arguments)
WORKLOADS = [
    (dict(model="llama-7b"), ["llama-7b"]),
    (dict(model="llama-7b", gpu="T4", dtype="fp32"), ["llama-7b", "--gpu", "T4", "--dtype", "fp32"]),
    (
        dict(model="meta-llama/Llama-3.1-8B", gpu="A100-80GB", task="train", method="lora", seq=2048, batch=4,
             grad_ckpt=True),
        ["meta-llama/Llama-3.1-8B", "--gpu", "A100-80GB", "--task", "train", "--method", "lora", "--seq", "2048",
         "--batch", "4", "--grad-ckpt"],
    ),
    (
        dict(model="llama-7b", gpu="T4", task="train", method="qlora", dtype="fp16", grad_ckpt=True, batch=4,
             lora_targets="all-linear", lora_dropout=0.05),
        ["llama-7b", "--gpu", "T4", "--task", "train", "--method", "qlora", "--dtype", "fp16", "--grad-ckpt",
         "--batch", "4", "--lora-targets", "all-linear", "--lora-dropout", "0.05"],
    ),
    (
        dict(model="llama-2-13b", gpu="4xA100-80GB", task="train", zero=3, optimizer="adamw-8bit",
             lora_targets=["q_proj", "v_proj"]),
        ["llama-2-13b", "--gpu", "4xA100-80GB", "--task", "train", "--zero", "3", "--optimizer", "adamw-8bit",
         "--lora-targets", "q_proj,v_proj"],
    ),
    (
        dict(model="llama-7b", gpu="M2-Max-96GB", wired_limit_mb=90112),
        ["llama-7b", "--gpu", "M2-Max-96GB", "--wired-limit-mb", "90112"],
    ),
    (
        dict(model="llama-2-70b", gpu="8xH100-SXM", tp=8, quant="nf4", new=1024, prompt=2048, kv_dtype="fp8"),
        ["llama-2-70b", "--gpu", "8xH100-SXM", "--tp", "8", "--quant", "nf4", "--new", "1024", "--prompt", "2048",
         "--kv-dtype", "fp8"],
    ),
    (
        dict(model=str(IO_DATA / "tiny-llama-q8_0.gguf"), gpu="8GB", ngl=1, ctx_size=512, kv_dtype="q8_0",
             attn="flash"),
        [str(IO_DATA / "tiny-llama-q8_0.gguf"), "--gpu", "8GB", "--ngl", "1", "--ctx-size", "512", "--kv-dtype",
         "q8_0", "--attn", "flash"],
    ),
    (
        dict(model=str(CONFIGS / "huggyllama__llama-7b.json"), task="merge", lora_rank=64),
        [str(CONFIGS / "huggyllama__llama-7b.json"), "--task", "merge", "--lora-rank", "64"],
    ),
]


@pytest.mark.parametrize("kwargs,argv", WORKLOADS, ids=lambda x: None)
def test_estimate_is_the_cli_json(kwargs, argv):
    kwargs = dict(kwargs)
    model = kwargs.pop("model")
    r = vramfit.estimate(model, **kwargs)
    expected = cli_json(["estimate"] + argv)
    assert r.to_dict() == expected
    assert r.total_bytes == expected["total_bytes"] == expected["levels"]["device"]
    assert (r.allocated_bytes, r.reserved_bytes) == (expected["levels"]["allocated"], expected["levels"]["reserved"])
    assert [c.bytes for c in r.components] == [c["bytes"] for c in expected["components"]]
    assert r.fits == expected.get("fits")
    assert r.headroom_bytes == expected.get("headroom_bytes")


def test_explain_and_table_are_the_cli_text():
    from conftest import run_cli

    r = vramfit.estimate("llama-7b", gpu="T4", task="train", method="lora")
    p = run_cli(["estimate", "llama-7b", "--gpu", "T4", "--task", "train", "--method", "lora", "--explain"])
    assert r.explain() == p.stdout
    p = run_cli(["estimate", "llama-7b", "--gpu", "T4", "--task", "train", "--method", "lora"])
    assert str(r) == p.stdout


def test_svg_is_the_cli_svg(tmp_path):
    from conftest import run_cli

    out = tmp_path / "e.svg"
    p = run_cli(["estimate", "llama-7b", "--gpu", "T4", "--svg", str(out)])
    assert p.returncode == 0, p.stderr
    assert vramfit.estimate("llama-7b", gpu="T4").to_svg() == out.read_text()


@pytest.mark.parametrize(
    "kwargs,argv",
    [
        (dict(gpu="T4"), ["--gpu", "T4"]),
        (dict(gpu="T4", task="train"), ["--gpu", "T4", "--task", "train"]),
        (dict(gpu="A100-80GB", dtype="fp16", all=True), ["--gpu", "A100-80GB", "--dtype", "fp16", "--all"]),
    ],
)
def test_fit_is_the_cli_json(kwargs, argv):
    plans = vramfit.fit("llama-7b", **kwargs)
    expected = cli_json(["fit", "llama-7b"] + argv)
    assert plans.to_dict() == expected
    assert [p.per_gpu_bytes for p in plans] == [p["per_gpu_bytes"] for p in expected["plans"]]
    assert [p.changes for p in plans] == [p["changes"] for p in expected["plans"]]
    assert plans.limits.to_dict() == expected["limits"]


def test_limits_are_the_fit_limits():
    lim = vramfit.limits("llama-7b", gpu="T4", dtype="fp16")
    expected = cli_json(["fit", "llama-7b", "--gpu", "T4", "--dtype", "fp16"])["limits"]
    assert (lim.max_batch, lim.max_context) == (expected["max_batch"], expected["max_context"])
    assert lim.max_batch is not None and lim.max_batch >= 1


@pytest.mark.parametrize(
    "kwargs,argv",
    [
        (dict(over="batch", gpu="T4"), ["--over", "batch", "--gpu", "T4"]),
        (dict(over="seq", values=[256, 1024], task="train", method="qlora"),
         ["--over", "seq", "--values", "256,1024", "--task", "train", "--method", "qlora"]),
    ],
)
def test_sweep_is_the_cli_json(kwargs, argv, tmp_path):
    s = vramfit.sweep("llama-7b", **kwargs)
    svg = tmp_path / "s.svg"
    expected = cli_json(["sweep", "llama-7b", "--svg", str(svg)] + argv)
    assert s.to_dict() == expected
    assert [p.total_bytes for p in s.points] == [p.get("total_bytes") for p in expected["points"]]
    assert s.to_svg() == svg.read_text()


def test_catalogs_are_the_cli_json():
    assert vramfit.models() == cli_json(["models"])
    assert vramfit.gpus() == cli_json(["gpus"])


def test_python_m_vramfit_runs_the_cli():
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "vramfit", "estimate", "llama-7b", "--gpu", "T4", "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    import json

    assert json.loads(p.stdout) == cli_json(["estimate", "llama-7b", "--gpu", "T4"])
    p = subprocess.run([sys.executable, "-m", "vramfit", "estimate", "llama-7b", "--batch", "0"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.startswith("error: --batch")
    p = subprocess.run([sys.executable, "-m", "vramfit", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("vramfit ")


def test_speed_serving_and_devices_are_the_cli_json():
    """The speed section (issue 17), a serving engine's start-up and llama.cpp's devices are
    attributes, equal to the CLI's objects."""
    r = vramfit.estimate("llama-2-7b", gpu="RTX-3060-12GB", runtime="llama.cpp", quant="q4_k_m")
    expected = cli_json(["estimate", "llama-2-7b", "--gpu", "RTX-3060-12GB", "--runtime", "llama.cpp",
                         "--quant", "q4_k_m"])
    assert r.speed == expected["speed"] and r.speed["decode_tokens_per_s"] > 0
    assert r.devices == expected["devices"] and r.devices
    assert r.serving is None
    s = vramfit.estimate("llama-3.1-8b", gpu="A100-80GB", runtime="vllm")
    expected = cli_json(["estimate", "llama-3.1-8b", "--gpu", "A100-80GB", "--runtime", "vllm"])
    assert s.serving == expected["serving"] and s.serving["starts"] is True
    assert s.speed["concurrency"] == expected["speed"]["concurrency"]
    assert [c["sequences"] for c in s.speed["concurrency"]][:3] == [1, 2, 4]


def test_enumerated_values_take_the_cli_spellings():
    """Every spelling the CLI accepts for an enumerated flag (the core's tables) is accepted
    here too, and means the same workload as the canonical name."""
    aliases = dict(task="fine-tune", method="LoRA", optimizer="adamw_torch_fused", precision="bf16-true",
                   runtime="lit-gpt", attn="flash_attention_2")
    canonical = dict(task="train", method="lora", optimizer="adamw-fused", precision="pure-bf16",
                     runtime="litgpt", attn="flash")
    a = vramfit.estimate("llama-7b", gpu="A100-80GB", **aliases)
    b = vramfit.estimate("llama-7b", gpu="A100-80GB", **canonical)
    assert a.to_dict() == b.to_dict()
    argv = ["estimate", "llama-7b", "--gpu", "A100-80GB"]
    for k, v in aliases.items():
        argv += [f"--{k}", v]
    assert a.to_dict() == cli_json(argv)
