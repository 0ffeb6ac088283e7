"""Tests of the GPU measurement kit that need no GPU.

    python3 -m pytest validation/gpu            # the dry runs, plans, merge, NVML parsing
    validation/oracle/.venv/bin/python -m pytest validation/gpu   # + the tiny plan run on the CPU

The CPU run of the tiny plan needs torch, transformers and peft; where they are not
importable it is skipped and says so (pytest -rs, set in validation/gpu/pytest.ini).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

GPU = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.abspath(os.path.join(GPU, "..", ".."))
sys.path.insert(0, GPU)

import levels as L  # noqa: E402
import merge as M  # noqa: E402
import plan as P  # noqa: E402
from nvml import Nvml  # noqa: E402

CHECK = next((c for c in M.CHECKERS if os.path.exists(c)), None)
TINY = P.load_cases("validation/gpu/tiny/cases.json")
ORACLE = P.load_cases("validation/oracle/cases.json")
HAS_TORCH = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "peft"))


def run(args, env=None, timeout=120):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=timeout)


def check_cases(path):
    if CHECK is None:
        # Loud unless the checkout runs without ../shared on purpose (scripts/test.sh says so).
        if not os.environ.get("VRAMFIT_NO_SHARED"):
            pytest.fail("../shared/validation/check_cases.py is missing: put the shared directory beside "
                        "this checkout, or set VRAMFIT_NO_SHARED=1 to run without it")
        pytest.skip("../shared/validation/check_cases.py not found (VRAMFIT_NO_SHARED)")
    p = subprocess.run([sys.executable, CHECK, str(path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


# ----------------------------------------------------------------------------------------------
# dry run
# ----------------------------------------------------------------------------------------------
def poisoned_env(tmp_path):
    """An environment where `import torch` fails: a package named torch that raises, first on the path."""
    d = tmp_path / "poison"
    (d / "torch").mkdir(parents=True)
    (d / "torch" / "__init__.py").write_text("raise ImportError('torch was imported')\n")
    env = dict(os.environ, PYTHONPATH=str(d))
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "torch was imported" in probe.stderr  # the poison works
    return env


def test_dry_run_tiny_imports_no_torch_and_lists_every_case(tmp_path):
    p = run(["validation/gpu/measure.py", "--dry-run", "--plan", "tiny"], env=poisoned_env(tmp_path))
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if "[all]" in ln]
    assert [ln.split("] ")[1].split(":")[0] for ln in lines] == [c["id"] for c in TINY]
    assert "6 cases to run" in p.stdout and "0 skipped" in p.stdout
    # what each would run: the workload read from the case's fields
    assert "train lora r8 q_proj+v_proj mixed-bf16 adamw ckpt sdpa b1 s128 x2 steps" in p.stdout
    assert "generate fp32 eager b2 s32 +3 decode" in p.stdout


def test_dry_run_device_plan_orders_every_oracle_case_once(tmp_path):
    p = run(["validation/gpu/measure.py", "--dry-run", "--plan", "device"], env=poisoned_env(tmp_path))
    assert p.returncode == 0, p.stderr
    rows = [ln.split() for ln in p.stdout.splitlines() if ln[:4].strip().isdigit()]
    rows = [r for r in rows if r[1] == "SKIP" or r[1].startswith("[")]
    ids = [r[2].rstrip(":") for r in rows]
    assert sorted(ids) == sorted(c["id"] for c in ORACLE)
    assert rows[0][1] == "[context]"
    skipped = [r for r in rows if r[1] == "SKIP"]
    # the assumed 80 GiB card cannot hold what needs more; everything else is planned
    assert skipped and all("does not fit the card" in " ".join(r) for r in skipped)


def test_plan_stages_select_what_they_say():
    plan = P.load_plan("device")
    entries = P.resolve(plan, card_bytes=80 * P.GiB)
    by_stage = {}
    for e in entries:
        by_stage.setdefault(e["stage"], []).append(e)
    stages = {st["name"]: st for st in plan["stages"]}
    for name, es in by_stage.items():
        st = stages[name]
        assert len(es) <= st.get("limit", len(es))
        for e in es:
            assert P._matches(st, e["case"], e["spec"]), (name, e["id"])
    ctx = by_stage["context"]
    assert all(e["case"]["task"] == "load" for e in ctx)
    assert [e["case"]["model"]["params"] for e in ctx] == sorted(e["case"]["model"]["params"] for e in ctx)
    fam = [e["family"] for e in by_stage["families-train"]]
    assert len(fam) == len(set(fam)) and len(fam) >= 8
    # a bigger card skips fewer cases
    big = P.resolve(plan, card_bytes=141 * P.GiB)
    assert sum(bool(e["skip"]) for e in big) < sum(bool(e["skip"]) for e in entries)


def test_plan_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "sources": [], "budget_s": 1, "case_timeout_s": 1,
                               "card_gib_assumed": 80, "stages": [{"name": "x", "colour": "red"}]}))
    p = run(["validation/gpu/measure.py", "--dry-run", "--plan", str(bad)])
    assert p.returncode == 2 and "unknown keys ['colour']" in p.stderr
    p = run(["validation/gpu/measure.py", "--dry-run", "--plan", "no-such-plan"])
    assert p.returncode == 2 and "--plan" in p.stderr


# ----------------------------------------------------------------------------------------------
# case -> workload
# ----------------------------------------------------------------------------------------------
SPEC_DEFAULTS = dict(task="load", dtype="bf16", attn="sdpa", batch=1, seq=512, new_tokens=1, method="full",
                     precision="pure-bf16", optimizer="adamw", grad_ckpt=False, lora_r=8, lora_alpha=None,
                     lora_targets=["q_proj", "v_proj"], lora_dropout=0.0, steps=2)


def test_fields_say_the_same_workload_as_the_oracles_own_spec():
    """Every oracle case is run with the spec in its source; its standard fields must describe the
    same workload (so the kit reads any other case file of the format the same way).  The format
    has no attention field for training, the one thing the oracle's spec adds."""
    for c in ORACLE:
        o = {**SPEC_DEFAULTS, **P.oracle_spec(c)}
        d = P.spec_from_fields(c, P.family(c))
        for k, v in d.items():
            if k == "attn" and c["task"] == "train":
                continue
            if k == "lora_targets" and o[k] != "all-linear":
                assert sorted(o[k]) == sorted(v), c["id"]
            elif k == "lora_alpha" and o[k] is None:
                assert v == 2 * o["lora_r"], c["id"]
            elif k != "lora_targets":
                assert o[k] == v, (c["id"], k, o[k], v)
        assert P.case_spec(c)["config"] == c["_config"]


def test_what_the_kit_cannot_run_is_refused_with_the_reason():
    base = [c for c in TINY if c["task"] == "train"][0]

    def edited(**kw):
        c = json.loads(json.dumps(P.public(base)))
        for path, v in kw.items():
            obj = c
            keys = path.split("__")
            for k in keys[:-1]:
                obj = obj[k]
            obj[keys[-1]] = v
        return c

    for kw, why in [({"weights__quant": "bnb-nf4"}, "quantized"),
                    ({"parallel__gpus": 2, "parallel__strategy": "ddp"}, "one GPU"),
                    ({"runtime": "torchtune"}, "runtime torchtune"),
                    ({"training__grad_accum": 4}, "grad_accum 4"),
                    ({"training__optimizer": "adamw-8bit"}, "training.optimizer adamw-8bit"),
                    ({"training__chunked_ce": True}, "chunked_ce")]:
        with pytest.raises(P.Unsupported, match=why):
            P.spec_from_fields(edited(**kw), "llama")
    inf = [c for c in TINY if c["task"] == "prefill"][0]
    c = json.loads(json.dumps(P.public(inf)))
    c["inference"]["attention"] = "flash"
    with pytest.raises(P.Unsupported, match="flash-attn"):
        P.spec_from_fields(c, "llama")


def test_unsupported_cases_of_a_plan_are_listed_with_the_reason(tmp_path):
    cases = [P.public(c) for c in TINY]
    cases[0] = dict(cases[0], runtime="litgpt")
    (tmp_path / "configs").mkdir()
    for f in os.listdir(os.path.join(GPU, "tiny", "configs")):
        shutil.copy(os.path.join(GPU, "tiny", "configs", f), tmp_path / "configs" / f)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    p = run(["validation/gpu/measure.py", "--dry-run", "--cases", str(tmp_path / "cases.json")])
    assert p.returncode == 0, p.stderr
    assert f"SKIP {cases[0]['id']}: unsupported: runtime litgpt" in p.stdout
    assert "5 cases to run" in p.stdout


# ----------------------------------------------------------------------------------------------
# levels, NVML, merge (synthetic records: the shapes measure.py writes)
# ----------------------------------------------------------------------------------------------
def phase(name, ma, mr, a, r, nv):
    return {"phase": name, "max_allocated": ma, "max_reserved": mr, "allocated": a, "reserved": r, "nvml_used": nv}


TRAIN_PHASES = [phase("load", 900, 1000, 500, 600, 1100), phase("lora_init", 950, 1000, 520, 600, 1100),
                phase("inputs", 520, 600, 520, 600, 1100), phase("fwd1", 2000, 2100, 1500, 2100, 2600),
                phase("bwd1", 2500, 2800, 800, 2800, 3300), phase("opt1", 1200, 2800, 1000, 2800, 3300),
                phase("zero1", 1000, 2800, 700, 2800, 3300), phase("fwd2", 2100, 2800, 1600, 2800, 3300),
                phase("bwd2", 2600, 2900, 900, 2900, 3400), phase("opt2", 1300, 2900, 1000, 2900, 3400),
                phase("zero2", 1000, 2900, 700, 2900, 3400)]


def test_levels_take_the_oracles_phases():
    lv = L.levels("train", TRAIN_PHASES, "cuda")
    assert lv["max_memory_allocated"] == {"bytes": 2600, "phase": "bwd2", "reason": None}
    assert lv["max_memory_reserved"]["bytes"] == 2900
    assert lv["nvml_used"]["bytes"] == 3400
    # load: the steady state at the end of the build, not the build's transient peak
    lv = L.levels("load", TRAIN_PHASES[:1], "cuda")
    assert [lv[m]["bytes"] for m, _, _ in L.METRICS] == [500, 600, 1100]
    # generate: inputs, prefill and decode count; the load's transients do not
    ph = [phase("load", 9000, 9000, 500, 600, 1100), phase("inputs", 501, 600, 501, 600, 1100),
          phase("prefill", 700, 800, 650, 800, 1300), phase("decode", 720, 800, 700, 800, 1300)]
    assert L.levels("generate", ph, "cuda")["max_memory_allocated"]["bytes"] == 720
    cpu = [dict(p, max_reserved=None, reserved=None, nvml_used=None) for p in ph]
    lv = L.levels("generate", cpu, "cpu")
    assert lv["max_memory_reserved"]["bytes"] is None and "CPU run" in lv["max_memory_reserved"]["reason"]
    assert L.levels("train", TRAIN_PHASES[:3], "cuda")["max_memory_allocated"]["reason"] == "no measured phase completed"


def fake_nvidia_smi(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    script = d / "nvidia-smi"
    script.write_text("""#!/bin/sh
case "$*" in
  *query-compute-apps*) printf '111, 2000\\n4242, 1536\\n5, [N/A]\\n' ;;
  *driver_version*) printf '999.12, 81559, NVIDIA H100 80GB HBM3\\n' ;;
  *memory.used*) printf '2048\\n' ;;
  *memory.total*) printf '81559\\n' ;;
  *) exit 1 ;;
esac
""")
    script.chmod(0o755)
    return str(d)


def test_nvml_reads_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path) + os.pathsep + os.environ["PATH"])
    nv = Nvml(0, prefer=("nvidia-smi",))
    assert nv.kind == "nvidia-smi"
    assert nv.device_used() == 2048 * 2 ** 20
    assert nv.process_used(4242) == 1536 * 2 ** 20
    assert nv.process_used(5) is None and nv.process_used(77) is None
    assert nv.describe() == {"nvml_via": "nvidia-smi", "driver": "999.12", "nvml_total": 81559 * 2 ** 20,
                             "nvml_name": "NVIDIA H100 80GB HBM3"}
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert Nvml(0, prefer=("nvidia-smi",)).kind is None


EXPECTED_PHASES = {
    "load": ["load"],
    "prefill": ["load", "inputs", "prefill"],
    "generate": ["load", "inputs", "prefill", "decode"],
    "train": ["load", "inputs"] + [f"{p}{s}" for s in (1, 2) for p in ("fwd", "bwd", "opt", "zero")],
}


def gpu_record(case, alloc, reserved, nvml, status="ok", device="cuda"):
    names = EXPECTED_PHASES[case["task"]]
    ph = [phase(n, alloc, reserved, alloc, reserved, nvml) for n in names]
    return {"id": case["id"], "status": status, "device": device, "spec": P.case_spec(case),
            "env": {"device": device, "gpu": "NVIDIA H100 80GB HBM3" if device == "cuda" else None,
                    "torch": "2.15.0", "transformers": "5.24.0", "peft": "0.21.2", "cuda": "13.2",
                    "driver": "999.12", "nvml_via": "nvidia-smi"},
            "context": {"bytes": 500 * 2 ** 20}, "phases": ph,
            "levels": L.levels(case["task"], ph, device), "plan": "tiny", "stage": "all",
            "case": P.public(case), "cases_file": case["_file"], "config_path": case["_config"],
            "finished_at": "2026-01-01T00:00:00Z"}


def test_merge_writes_one_case_per_level_and_replaces_by_id(tmp_path):
    load = TINY[0]
    b = load["measured"]["bytes"]
    res = tmp_path / "r.jsonl"
    recs = [gpu_record(load, b, b + 2 ** 21, b + 2 ** 21 + 500 * 2 ** 20),
            gpu_record(TINY[1], b, b, b, status="oom"),
            gpu_record(TINY[2], b, b, b, device="cpu")]
    res.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "out" / "cases.json"
    os.makedirs(out.parent)
    p = run(["validation/gpu/merge.py", str(res), "--out", str(out), "--report"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"not merged: {TINY[1]['id']}: oom" in p.stdout
    assert f"not merged: {TINY[2]['id']}: a CPU run" in p.stdout
    cases = json.loads(out.read_text())
    assert [c["id"] for c in cases] == [f"GPU-H100-{load['id']}-{s}" for s in ("alloc", "reserved", "nvml")]
    assert [c["measured"]["metric"] for c in cases] == ["max_memory_allocated", "max_memory_reserved", "nvml_used"]
    assert [c["measured"]["bytes"] for c in cases] == [b, b + 2 ** 21, b + 2 ** 21 + 500 * 2 ** 20]
    assert all(c["grade"] == "A" and c["gpu"] == "NVIDIA H100 80GB HBM3" for c in cases)
    assert "(+0.00% measured vs recorded)" in cases[0]["notes"] and "CUDA context alone" in cases[0]["notes"]
    assert (out.parent / cases[0]["model"]["config_file"]).exists()
    assert "CUDA context alone (NVML): n=1 min 500 MiB" in p.stdout
    check_cases(out)
    # a newer measurement of the same case replaces the old one
    res.write_text(json.dumps(gpu_record(load, b + 512, b + 2 ** 21, b + 2 ** 22)) + "\n")
    assert run(["validation/gpu/merge.py", str(res), "--out", str(out)]).returncode == 0
    cases = json.loads(out.read_text())
    assert len(cases) == 3 and cases[-3]["measured"]["bytes"] == b + 512
    # bad input: one line naming the argument, exit 2
    res.write_text("not json\n")
    p = run(["validation/gpu/merge.py", str(res), "--out", str(out)])
    assert p.returncode == 2 and p.stderr.startswith("error: RESULTS:")


# ----------------------------------------------------------------------------------------------
# the tiny plan, for real, on the CPU
# ----------------------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_TORCH, reason="torch/transformers/peft are not importable with this Python: the CPU "
                                          "run of the tiny plan is skipped (run pytest with the oracle's venv, "
                                          "validation/oracle/.venv/bin/python -m pytest validation/gpu)")
def test_cpu_run_of_the_tiny_plan(tmp_path):
    out = tmp_path / "r.jsonl"
    p = run(["validation/gpu/measure.py", "--device", "cpu", "--plan", "tiny", "--out", str(out)], timeout=1200)
    assert p.returncode == 0, p.stdout + p.stderr
    recs = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert list(recs) == [c["id"] for c in TINY]
    for c in TINY:
        r = recs[c["id"]]
        assert r["status"] == "ok", r.get("traceback")
        want = list(EXPECTED_PHASES[c["task"]])
        if c["training"] and c["training"]["method"] == "lora":
            want.insert(1, "lora_init")
        assert [ph["phase"] for ph in r["phases"]] == want
        assert not any(ph["failed"] for ph in r["phases"])
        lv = r["levels"]
        assert lv["max_memory_reserved"]["bytes"] is None and "CPU run" in lv["max_memory_reserved"]["reason"]
        assert lv["nvml_used"]["bytes"] is None and r["context"]["bytes"] is None
        got, recorded = lv["max_memory_allocated"]["bytes"], c["measured"]["bytes"]
        if c["task"] == "load":
            assert got == recorded  # weights and buffers only: the same bytes on any device
        # the same workload as the oracle's trace: CPU kernels differ from the emulated CUDA ones
        # in a few small temporaries only
        assert abs(got / recorded - 1) < 0.01, (c["id"], got, recorded)
        assert r["info"]["n_params"] == c["model"]["params"]
    # a re-run skips what is already measured
    p = run(["validation/gpu/measure.py", "--device", "cpu", "--plan", "tiny", "--out", str(out)], timeout=600)
    assert p.returncode == 0 and "6 already in" in p.stdout
    # CPU results are refused by default; with --allow-cpu they make valid cases
    cases = tmp_path / "cases" / "cases.json"
    os.makedirs(cases.parent)
    p = run(["validation/gpu/merge.py", str(out), "--out", str(cases)])
    assert p.returncode == 0 and "merged 0 cases" in p.stdout
    p = run(["validation/gpu/merge.py", str(out), "--out", str(cases), "--allow-cpu"])
    assert p.returncode == 0, p.stdout + p.stderr
    merged = json.loads(cases.read_text())
    assert len(merged) == 6 and all(c["measured"]["metric"] == "max_memory_allocated" for c in merged)
    assert "6 cases, 2 config files referenced, 0 skipped, 0 errors" in check_cases(cases)
    vramfit = next((b for b in (os.environ.get("VRAMFIT"), os.path.join(REPO, "target", "debug", "vramfit"),
                                os.path.join(REPO, "target", "release", "vramfit")) if b and os.path.exists(b)), None)
    if vramfit:  # `vramfit validate` reads the output like any cases file
        v = subprocess.run([vramfit, "validate", str(cases), "--json"], capture_output=True, text=True)
        assert v.returncode == 0, v.stderr
        assert len(json.loads(v.stdout)["cases"]) == 6


# ----------------------------------------------------------------------------------------------
# the CUDA meter's bookkeeping, without a GPU: torch.cuda and NVML replaced by fakes, the
# workload itself running on the CPU
# ----------------------------------------------------------------------------------------------
class FakeCuda:
    """torch.cuda's memory functions over a made-up device: used memory grows 1 MiB per read."""

    MiB = 2 ** 20

    def __init__(self):
        self.used = 300 * self.MiB
        self.initialized = False

    def install(self, monkeypatch, torch):
        c = torch.cuda
        monkeypatch.setattr(c, "is_initialized", lambda: self.initialized)
        monkeypatch.setattr(c, "init", lambda: setattr(self, "initialized", True))
        monkeypatch.setattr(c, "mem_get_info", self.mem_get_info)
        for name in ("synchronize", "reset_peak_memory_stats", "empty_cache"):
            monkeypatch.setattr(c, name, lambda *a, **k: None)
        monkeypatch.setattr(c, "memory_stats", lambda *a, **k: {"num_alloc_retries": 0, "segment.all.current": 3})
        for name, v in (("max_memory_allocated", 7), ("max_memory_reserved", 11), ("memory_allocated", 5),
                        ("memory_reserved", 9)):
            monkeypatch.setattr(c, name, lambda *a, _v=v, **k: _v * self.MiB)
        props = type("P", (), {"total_memory": 80 * 2 ** 30, "major": 9, "minor": 0})()
        monkeypatch.setattr(c, "get_device_properties", lambda *a: props)
        monkeypatch.setattr(c, "get_device_name", lambda *a: "NVIDIA H100 80GB HBM3")

    def mem_get_info(self, *a):
        if not self.initialized:
            raise RuntimeError("no context")
        self.used += self.MiB
        return 80 * 2 ** 30 - self.used, 80 * 2 ** 30


def fake_pynvml(pid):
    class Mem:
        used, total = 2 * 2 ** 30, 80 * 2 ** 30

    class Proc:
        def __init__(self):
            self.pid, self.usedGpuMemory = pid, 512 * 2 ** 20

    m = type(sys)("pynvml")
    m.nvmlInit = lambda: None
    m.nvmlDeviceGetHandleByIndex = lambda i: "h"
    m.nvmlDeviceGetMemoryInfo = lambda h: Mem()
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: [Proc()]
    m.nvmlSystemGetDriverVersion = lambda: b"999.12"
    return m


@pytest.mark.skipif(not HAS_TORCH, reason="torch/transformers/peft are not importable with this Python: the CUDA "
                                          "meter's bookkeeping test is skipped")
@pytest.mark.parametrize("nvml_kind", ["nvidia-smi", "pynvml"])
def test_cuda_meter_bookkeeping_with_fake_cuda(tmp_path, monkeypatch, nvml_kind):
    import torch
    import workload as W

    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path) + os.pathsep + os.environ["PATH"])
    if nvml_kind == "pynvml":
        monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(os.getpid()))
    else:
        monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    FakeCuda().install(monkeypatch, torch)

    class Meter(W.CudaMeter):
        device = "cpu"  # the workload's tensors; the readings come from the fakes

    case = [c for c in TINY if c["task"] == "generate"][0]
    meter = Meter()
    assert meter.nvml.kind == nvml_kind
    res = W.measure({"id": case["id"], "spec": P.case_spec(case)}, "cuda", meter=meter)
    assert res["status"] == "ok", res.get("traceback")
    assert [p["phase"] for p in res["phases"]] == EXPECTED_PHASES["generate"]
    ctx = res["context"]
    lv = res["levels"]
    assert lv["max_memory_allocated"]["bytes"] == 7 * 2 ** 20 and lv["max_memory_reserved"]["bytes"] == 11 * 2 ** 20
    assert res["env"]["gpu"] == "NVIDIA H100 80GB HBM3" and res["env"]["driver"] == "999.12"
    if nvml_kind == "pynvml":  # read at every phase end: the process's own row
        assert ctx["bytes"] == 512 * 2 ** 20 and ctx["nvml_per_phase"]
        assert all(p["nvml_how"] == "nvml" and p["nvml_used"] == 512 * 2 ** 20 for p in res["phases"])
    else:  # nvidia-smi: our pid has no row there, so the device minus the baseline (2048 - 2048 MiB)
        assert ctx["bytes"] == 0 and not ctx["nvml_per_phase"]
        for p in res["phases"]:
            assert p["nvml_how"] == "context + memgetinfo growth"
            assert p["nvml_used"] == ctx["bytes"] + p["memgetinfo_grown_since_context"] > 0
        assert lv["nvml_used"]["bytes"] == res["phases"][-1]["nvml_used"]
        assert ctx["nvml_final"] == 0 and ctx["nvml_final_minus_last_phase"] < 0


@pytest.mark.skipif(not HAS_TORCH, reason="torch/transformers/peft are not importable with this Python: the "
                                          "failure-handling run is skipped")
def test_failures_timeouts_and_the_stop_after_errors_in_a_row(tmp_path):
    load = P.public(TINY[0])
    (tmp_path / "configs").mkdir()
    cfg = json.load(open(os.path.join(GPU, "tiny", load["model"]["config_file"])))
    cfg["vocab_size"] = -5  # the build fails: every case errors
    (tmp_path / "configs" / "broken.json").write_text(json.dumps(cfg))
    cases = [dict(load, id=f"BROKEN-{i}", model=dict(load["model"], config_file="configs/broken.json"))
             for i in range(6)]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    out = tmp_path / "r.jsonl"
    p = run(["validation/gpu/measure.py", "--device", "cpu", "--cases", str(tmp_path / "cases.json"),
             "--out", str(out), "--max-failures", "3"], timeout=600)
    assert p.returncode == 1 and "stopping: 3 cases in a row failed" in p.stdout
    recs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert [r["status"] for r in recs] == ["error"] * 3 and "Traceback" in recs[0]["traceback"]
    # a case over its time limit is killed and recorded
    p = run(["validation/gpu/measure.py", "--device", "cpu", "--plan", "tiny", "--only", "gpt2", "--out", str(out),
             "--case-timeout-s", "1"], timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    last = json.loads(out.read_text().splitlines()[-1])
    assert last["status"] == "timeout" and last["id"] == "TINY-gpt2-train-full-fp32-adafactor-b1s64"
