"""Known-value tests of the oracle (trace.py).  Run:  validation/oracle/.venv/bin/python -m pytest validation/oracle

Each test checks the tracer against a number derived independently of it:
  * weights after load = params x bytes + the rotary buffers (exact);
  * KV cache = 2 * L * kv_heads * head_dim * tokens * batch * bytes, and the traced growth of live
    memory during prefill / decode is exactly that (+ the token ids);
  * a tiny model's training step gives the same peak on fake tensors as on real CPU tensors, and the
    same as torch.profiler's allocator events (which see every CPU allocation, tracker or not);
  * the optimizer-step peak of full fine-tuning is exactly 5 (pure bf16) / 20 (fp32 + autocast)
    bytes per parameter with foreach AdamW;
  * the CUDA emulations pick the kernels / dtypes an A100 would.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import trace as oracle  # noqa: E402  (validation/oracle/trace.py, not the stdlib module)

assert hasattr(oracle, "MemTracker"), "imported the stdlib 'trace' instead of validation/oracle/trace.py"

# Every parameter's byte size is a multiple of 512 here, so rounding changes nothing in the formulas.
TINY = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1024, "max_position_embeddings": 1024,
        "tie_word_embeddings": False, "rms_norm_eps": 1e-5}


def tiny_params(c=TINY):
    h, i, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    hd = h // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * hd
    per_layer = h * h + 2 * h * kv + h * h + 3 * h * i + 2 * h
    return 2 * V * h + L * per_layer + h


@pytest.fixture(scope="module")
def tiny_cfg(tmp_path_factory):
    p = tmp_path_factory.mktemp("cfg") / "tiny.json"
    p.write_text(json.dumps(TINY))
    return str(p)


def trace_subprocess(spec: dict) -> dict:
    """Fake-tensor runs go through the CLI: the transformers patches are process-global."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "trace.py"), "--spec", json.dumps(spec)],
                         capture_output=True, text=True, check=True, cwd=HERE)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rotary_buffer_bytes(c):
    hd = c["hidden_size"] // c["num_attention_heads"]
    return 2 * (hd // 2) * 4  # inv_freq and original_inv_freq, fp32, head_dim/2 each


# ---------------------------------------------------------------------------------------------
def test_load_is_params_times_bytes(tiny_cfg):
    r = trace_subprocess({"config": tiny_cfg, "task": "load", "dtype": "bf16"})
    n = tiny_params()
    assert r["n_params"] == n
    assert r["param_bytes"] == 2 * n
    assert r["buffer_bytes"] == rotary_buffer_bytes(TINY)
    assert r["events"]["after_load"]["cur"] == 2 * n + rotary_buffer_bytes(TINY)


def test_load_llama2_7b_exact():
    """Llama-2-7B: 6,738,415,616 params (the published count) x 2 B + 512 B of rotary buffers."""
    r = trace_subprocess({"config": "configs/meta-llama__Llama-2-7b-hf.json", "task": "load", "dtype": "bf16"})
    assert r["n_params"] == 6_738_415_616
    assert r["events"]["after_load"]["cur"] == 6_738_415_616 * 2 + 512
    assert r["peak_r512"] == 6_738_415_616 * 2 + 2 * 512  # two 256-B buffers, each rounded to 512


@pytest.mark.parametrize("dtype,nbytes", [("bf16", 2), ("fp32", 4)])
def test_kv_cache_growth(tiny_cfg, dtype, nbytes):
    B, S, N = 3, 40, 6
    c = TINY
    L, kvh, hd = c["num_hidden_layers"], c["num_key_value_heads"], c["hidden_size"] // c["num_attention_heads"]
    r = trace_subprocess({"config": tiny_cfg, "task": "generate", "dtype": dtype, "batch": B, "seq": S,
                          "new_tokens": N})
    kv = lambda tokens: 2 * L * kvh * hd * tokens * B * nbytes  # noqa: E731
    assert r["kv_cache_bytes_after_prefill"] == kv(S)
    # the last generated token is never fed back: the cache holds prompt + N-1 tokens
    assert r["kv_cache_bytes_final"] == kv(S + N - 1)
    ev = r["events"]
    ids = lambda tokens: B * tokens * 8  # noqa: E731  (int64 token ids, grown by cat like generate())
    nxt = B * 8  # the last argmax
    assert ev["after_prefill"]["cur"] - ev["after_load"]["cur"] == kv(S) + ids(S + 1) + nxt
    assert ev["after_decode"]["cur"] - ev["after_prefill"]["cur"] == kv(N - 1) + ids(N - 1)


def test_kv_cache_llama31_8b_gqa():
    """Llama-3.1-8B (GQA, 8 KV heads): 2*32*8*128*tokens*batch*2 B = 128 KiB per token."""
    r = trace_subprocess({"config": "configs/meta-llama__Llama-3.1-8B.json", "task": "prefill", "dtype": "bf16",
                          "batch": 2, "seq": 256, "new_tokens": 1})
    assert r["kv_cache_bytes_after_prefill"] == 2 * 32 * 8 * 128 * 256 * 2 * 2
    assert r["sdpa_backends"] == {"flash": 32}


def test_fake_equals_real_and_profiler(tiny_cfg):
    """One training step of a tiny Llama: fake tensors give exactly the peak that real CPU tensors give,
    and the tracker's total (counting CPU scalars too) equals torch.profiler's allocator events."""
    from torch.profiler import ProfilerActivity, profile

    spec = dict(config=tiny_cfg, task="train", precision="fp32", attn="eager", batch=2, seq=64, steps=2)
    fake = trace_subprocess(spec)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        real = oracle.run(oracle.Spec(**spec, real=True))
    cur = peak = 0
    for e in sorted(prof.profiler.kineto_results.events(), key=lambda e: e.start_ns()):
        if e.name() == "[memory]":
            cur += e.nbytes()
            peak = max(peak, cur)
    assert fake["peak_r512"] == real["peak_r512"]
    assert fake["peak"] == real["peak"]
    # The profiler also sees the few bytes that torch.tensor(python_number) allocates before the
    # tensor reaches the dispatcher (a handful of 4/8-byte CPU scalars: 28 B here); everything else
    # matches to the byte.
    assert 0 <= peak - real["peak_all_storages"] < 256


def test_fake_equals_real_sdpa_bf16_lora_ckpt(tiny_cfg):
    """SDPA + LoRA + checkpointing + autocast: fake == real when both use the CPU flash kernel."""
    spec = dict(config=tiny_cfg, task="train", precision="mixed-bf16", attn="sdpa", batch=2, seq=64,
                method="lora", grad_ckpt=True, lora_targets="all-linear", sdpa_cuda_ops=False)
    fake = trace_subprocess(spec)
    real = oracle.run(oracle.Spec(**spec, real=True))
    assert fake["peak_r512"] == real["peak_r512"]
    assert fake["sdpa_backends"] == real["sdpa_backends"] == {"flash": 8}  # 2 layers x (fwd + recompute) x 2 steps


@pytest.mark.parametrize("precision,per_param", [("pure-bf16", 10), ("mixed-bf16", 20), ("fp32", 20)])
def test_full_adamw_optimizer_peak(tiny_cfg, precision, per_param):
    """foreach AdamW step: weights + grads + exp_avg + exp_avg_sq + one temporary (sqrt(exp_avg_sq))."""
    spec = dict(config=tiny_cfg, task="train", precision=precision, batch=1, seq=32, steps=2)
    r = trace_subprocess(spec)
    n = tiny_params()
    inputs = 2 * 512  # input ids + labels (1 x 32 int64 = 256 B each, rounded)
    buffers = 2 * 512
    assert r["steps"][0]["peak_phase"] == "opt1"
    assert r["steps"][0]["peak_r512"] == per_param * n + inputs + buffers


def test_lora_trainable_count(tiny_cfg):
    r = trace_subprocess(dict(config=tiny_cfg, task="train", precision="pure-bf16", method="lora", lora_r=8,
                              lora_targets=["q_proj", "v_proj"], batch=1, seq=32))
    h, L = TINY["hidden_size"], TINY["num_hidden_layers"]
    kv = TINY["num_key_value_heads"] * h // TINY["num_attention_heads"]
    assert r["trainable_params"] == L * 8 * ((h + h) + (h + kv))
    assert r["trainable_bytes"] == 4 * r["trainable_params"]  # peft upcasts adapters to fp32
    assert r["lora_targets"] == ["q_proj", "v_proj"]


# ---------------------------------------------------------------------------------------------
def test_sdpa_choice_like_sm80():
    ch = oracle.SdpaAsCuda.choose
    bf = dict(dtype=torch.bfloat16)
    q = torch.empty(1, 32, 16, 128, **bf)
    k8 = torch.empty(1, 8, 16, 128, **bf)
    assert ch(q, q, q, None, 0.0, True, False) == "flash"
    assert ch(q, k8, k8, None, 0.0, True, True) == "flash"           # flash supports GQA
    assert ch(q, q, q, torch.ones(1, 1, 16, 16, dtype=torch.bool), 0.0, False, False) == "efficient"
    qf, kf = q.float(), k8.float()
    assert ch(qf, qf, qf, None, 0.0, True, False) == "efficient"     # fp32: no flash
    assert ch(qf, kf, kf, None, 0.0, True, True) == "math"           # fp32 + GQA: neither fused kernel
    q1 = torch.empty(1, 32, 1, 128, **bf)
    assert ch(q1, q, q, None, 0.0, True, False) == "efficient"       # causal with q_len != kv_len
    q256 = torch.empty(1, 8, 16, 256, **bf)
    assert ch(q256, q256, q256, None, 0.0, True, False) == "flash"   # head_dim 256 (Gemma)
    q71 = torch.empty(1, 71, 16, 64, **bf)
    k1 = torch.empty(1, 1, 16, 64, **bf)
    assert ch(q71, k1, k1, None, 0.0, True, False) == "math"         # Falcon MQA without enable_gqa


def test_cuda_autocast_fp32_ops():
    import torch.nn.functional as F

    x = torch.randn(4, 8)
    w = torch.randn(8, 8)
    with oracle.CudaAutocast(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = F.linear(x, w)
        assert y.dtype == torch.bfloat16
        assert F.layer_norm(y, (8,)).dtype == torch.float32
        assert F.softmax(y, -1).dtype == torch.float32
        assert F.softmax(y, -1, dtype=torch.bfloat16).dtype == torch.bfloat16
        assert torch.pow(y, 3.0).dtype == torch.float32
        assert y.sum().dtype == torch.float32
        assert F.silu(y).dtype == torch.bfloat16


def test_tracker_counts_views_once_and_frees():
    tr = oracle.MemTracker()
    with tr:
        a = torch.empty(1000, dtype=torch.float32)   # 4000 B -> 4096 rounded
        b = a.view(10, 100).t()                       # a view: no new storage
        c = torch.empty(10)                           # 40 B -> 512 rounded
        assert tr.cur == 4040 and tr.cur_r == 4096 + 512
        del a, b
        assert tr.cur == 40
        del c
    assert tr.cur == 0 and tr.peak == 4040 and tr.peak_r == 4608


def test_cases_file_passes_checker():
    cases = os.path.join(HERE, "cases.json")
    checker = "/work/shared/validation/check_cases.py"
    if not (os.path.exists(cases) and os.path.exists(checker)):
        pytest.skip("no cases.json or checker")
    subprocess.run([sys.executable, checker, cases], check=True, capture_output=True)


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("fake", [True, False])
def test_dropout_saves_bool_mask_like_cuda(dtype, fake):
    """Training-mode nn.Dropout: CUDA's fused native_dropout keeps output + a 1-byte bool mask for
    backward; the CPU path would keep output + a noise tensor of the input's dtype."""
    import contextlib

    import torch.nn as nn
    from torch._subclasses.fake_tensor import FakeTensorMode

    shape = (2, 64, 256)  # 32768 elements: every size below is a multiple of 512
    numel, es = 2 * 64 * 256, torch.empty((), dtype=dtype).element_size()
    drop = nn.Dropout(0.1).train()
    fm = FakeTensorMode() if fake else contextlib.nullcontext()
    with fm:
        x = torch.empty(shape, dtype=dtype, requires_grad=True)
        tr = oracle.MemTracker()
        with tr:
            emu = oracle.DropoutAsCuda()
            with emu:
                y = drop(x)
                z = torch.nn.functional.dropout(x, p=0.2, training=True)  # as transformers' eager attention
            assert emu.hits == {"F.dropout": 2}
            assert y.grad_fn.name() == "NativeDropoutBackward0"
            assert tr.cur == 2 * (numel * es + numel * 1)  # two outputs + two bool masks
            del y, z
            assert tr.cur == 0  # nothing references the graphs any more
            with emu:
                loss = drop(x).sum()  # the output is gone, the graph keeps the saved mask
            assert tr.cur - loss.untyped_storage().nbytes() == numel * 1
            del loss
            with emu:  # eval mode and p == 0 are left alone (no copy at all)
                assert nn.Dropout(0.1).eval()(x) is x
                assert torch.nn.functional.dropout(x, p=0.0, training=True) is x
            assert emu.hits == {"F.dropout": 3}
            # without the emulation the CPU path saves a noise tensor of the input's dtype
            y = drop(x)
            assert tr.cur == numel * es + numel * es
            del y


def test_fp16_softmax_to_fp32_reads_the_input_like_cuda():
    """softmax(x_fp16, dtype=float32): CUDA runs _softmax(half_to_float=True) on the fp16 input;
    the CPU path (where fake tensors live) first copies x to fp32.  The emulation must leave no
    fp32 copy: the peak is the fp16 input plus the fp32 output, and bf16 is left to copy."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    shape = (2, 4, 128, 128)
    numel = 2 * 4 * 128 * 128
    with FakeTensorMode():
        for dtype, copies in ((torch.float16, False), (torch.bfloat16, True)):
            x = torch.empty(shape, dtype=dtype)
            tr = oracle.MemTracker()
            with tr:
                tr.reset_peak()
                emu = oracle.SoftmaxAsCuda()
                with emu:
                    y = torch.nn.functional.softmax(x, dim=-1, dtype=torch.float32)
                assert y.dtype == torch.float32
                expected = numel * 4 + (numel * 4 if copies else 0)
                assert tr.peak == expected, (dtype, tr.peak, expected)
                assert emu.hits == ({} if copies else {"softmax": 1})
                del y


def test_peak_detail_and_dropout_in_a_tiny_gpt2(tmp_path):
    """A tiny GPT-2 (dropout 0.1 everywhere) trains with native_dropout (bool masks, no bernoulli
    noise), and --peak-detail's replayed live set adds up to the reported peak exactly."""
    cfg = {"model_type": "gpt2", "n_embd": 128, "n_head": 4, "n_layer": 2, "n_positions": 256,
           "vocab_size": 1024, "attn_pdrop": 0.1, "embd_pdrop": 0.1, "resid_pdrop": 0.1}
    p = tmp_path / "gpt2tiny.json"
    p.write_text(json.dumps(cfg))
    spec = dict(config=str(p), task="train", precision="fp32", attn="eager", batch=2, seq=64, steps=2)
    out = subprocess.run([sys.executable, os.path.join(HERE, "trace.py"), "--spec", json.dumps(spec),
                          "--peak-detail", "1000"], capture_output=True, text=True, check=True, cwd=HERE)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # per step: embedding dropout + 2 layers x (attention probs, attention out, mlp out)
    assert r["dropout_as_native"] == {"F.dropout": 2 * (1 + 2 * 3)}
    d = r["peak_detail"]
    assert d["matches_peak"] and d["total_r512"] == r["peak_r512"]
    ops = {g["op"] for g in d["groups"]}
    assert "bernoulli" not in ops and "bernoulli_" not in ops
    masks = [g for g in d["groups"] if g["op"] == "native_dropout" and g["dtype"] == "bool"]
    assert masks and r["peak_phase"].startswith(("fwd", "bwd", "opt"))
    # the same case without the detail gives the same numbers
    plain = trace_subprocess(spec)
    assert (plain["peak_r512"], plain["peak"]) == (r["peak_r512"], r["peak"])
