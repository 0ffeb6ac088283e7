#!/usr/bin/env python
"""Regenerates validation/oracle/cases.json: every case traced by trace.py in a fresh process.

    validation/oracle/.venv/bin/python validation/oracle/sweep.py            # all cases
    ... sweep.py --only llama3 --only train   # cases whose id contains every --only string
    ... sweep.py --jobs 2                     # parallel trace processes (default 1)
    ... sweep.py --list                       # print the case ids and exit
    ... sweep.py --force                      # re-trace cases already in runs.jsonl

Raw trace results go to runs.jsonl (one JSON line per case, appended as each case finishes and
compacted to the latest line per case when the sweep ends;
a re-run skips cases already there unless --force).  cases.json (the shared validation format)
is rewritten after every finished case, so a stopped sweep leaves usable partial results.
The configs used are copied to configs/ (model.config_file is relative to cases.json).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CONFIG_SOURCES = [  # first hit wins: real HF config.json files first
    os.path.join(REPO, "crates", "vramfit-core", "data", "configs"),
    os.path.join(REPO, "..", "shared", "validation", "configs"),
    "/work/shared/validation/configs",
]
RUNS = os.path.join(HERE, "runs.jsonl")
CASES = os.path.join(HERE, "cases.json")
GiB = 2 ** 30

# family -> (models, max sequence, notes)
FAMILIES = {
    "llama2": ["meta-llama__Llama-2-7b-hf", "meta-llama__Llama-2-13b-hf", "meta-llama__Llama-2-70b-hf"],
    "llama3": ["meta-llama__Llama-3.2-1B", "meta-llama__Llama-3.2-3B", "meta-llama__Llama-3.1-8B",
               "meta-llama__Llama-3.1-70B"],
    "mistral": ["mistralai__Mistral-7B-v0.1", "mistralai__Mistral-7B-v0.3"],
    "qwen2": ["Qwen__Qwen2.5-0.5B", "Qwen__Qwen2.5-1.5B", "Qwen__Qwen2.5-7B", "Qwen__Qwen2.5-14B",
              "Qwen__Qwen2.5-72B"],
    "qwen3": ["Qwen__Qwen3-0.6B", "Qwen__Qwen3-1.7B", "Qwen__Qwen3-4B", "Qwen__Qwen3-8B", "Qwen__Qwen3-32B"],
    "gemma2": ["google__gemma-2-2b", "google__gemma-2-9b", "google__gemma-2-27b"],
    "gemma3": ["google__gemma-3-1b-it", "google__gemma-3-4b-it", "google__gemma-3-12b-it"],
    "phi3": ["microsoft__Phi-3-mini-4k-instruct", "microsoft__Phi-3-medium-4k-instruct", "microsoft__phi-4"],
    "falcon": ["tiiuae__falcon-7b", "tiiuae__falcon-40b"],
    "gpt2": ["openai-community__gpt2", "openai-community__gpt2-medium", "openai-community__gpt2-large",
             "openai-community__gpt2-xl"],
    "moe": ["Qwen__Qwen3-30B-A3B", "mistralai__Mixtral-8x7B-v0.1"],
}
# approximate parameter counts (billions), only to keep cases inside the format's byte range
PARAMS_B = {
    "meta-llama__Llama-2-7b-hf": 6.74, "meta-llama__Llama-2-13b-hf": 13.0, "meta-llama__Llama-2-70b-hf": 69.0,
    "meta-llama__Llama-3.2-1B": 1.24, "meta-llama__Llama-3.2-3B": 3.21, "meta-llama__Llama-3.1-8B": 8.03,
    "meta-llama__Llama-3.1-70B": 70.6, "mistralai__Mistral-7B-v0.1": 7.24, "mistralai__Mistral-7B-v0.3": 7.25,
    "Qwen__Qwen2.5-0.5B": 0.49, "Qwen__Qwen2.5-1.5B": 1.54, "Qwen__Qwen2.5-7B": 7.62, "Qwen__Qwen2.5-14B": 14.8,
    "Qwen__Qwen2.5-72B": 72.7, "Qwen__Qwen3-0.6B": 0.6, "Qwen__Qwen3-1.7B": 1.72, "Qwen__Qwen3-4B": 4.02,
    "Qwen__Qwen3-8B": 8.19, "Qwen__Qwen3-32B": 32.8, "google__gemma-2-2b": 2.61, "google__gemma-2-9b": 9.24,
    "google__gemma-2-27b": 27.2, "google__gemma-3-1b-it": 1.0, "google__gemma-3-4b-it": 3.88,
    "google__gemma-3-12b-it": 11.8, "microsoft__Phi-3-mini-4k-instruct": 3.82,
    "microsoft__Phi-3-medium-4k-instruct": 14.0, "microsoft__phi-4": 14.7, "tiiuae__falcon-7b": 6.92,
    "tiiuae__falcon-40b": 41.8, "openai-community__gpt2": 0.124, "openai-community__gpt2-medium": 0.355,
    "openai-community__gpt2-large": 0.774, "openai-community__gpt2-xl": 1.56, "Qwen__Qwen3-30B-A3B": 30.5,
    "mistralai__Mixtral-8x7B-v0.1": 46.7,
}
MAX_SEQ = {"gpt2": 1024, "falcon": 2048}
SHORT = {"full": "full", "lora": "lora", "dora": "dora", "ia3": "ia3"}
PREC_SHORT = {"fp32": "fp32", "pure-bf16": "bf16", "mixed-bf16": "amp"}
LORA_TARGETS = {"qv": ["q_proj", "v_proj"], "all": "all-linear"}
FAMILY_QV = {"phi3": ["qkv_proj"], "falcon": ["query_key_value"], "gpt2": ["c_attn"]}  # fused q/k/v


def short_name(model):
    return model.split("__", 1)[1]


def est_bytes(model, spec):
    """A rough upper estimate, only to skip cases outside the format's 1e8..2e11 byte range."""
    p = PARAMS_B[model] * 1e9
    if spec["task"] != "train":
        return p * {"fp32": 4, "fp16": 2, "bf16": 2}[spec["dtype"]]
    wb = 2 if spec["precision"] == "pure-bf16" else 4
    if spec["method"] in ("lora", "dora", "ia3"):
        return p * wb * 1.15
    per = {"adamw": 3 * wb, "sgd": 2 * wb, "adafactor": wb * 1.1}[spec["optimizer"]]
    extra = 2 * p if spec["precision"] == "mixed-bf16" else 0
    return p * (wb + per) + extra


def build_cases(seed=20240601):
    """The case list: deterministic, ~35 % inference / ~65 % training over every family."""
    rng = random.Random(seed)
    out = []
    seen = set()

    def add(fam, model, spec):
        spec = dict(spec)
        spec["config"] = f"configs/{model}.json"
        if fam == "gemma2":
            spec["attn"] = "eager"  # transformers refuses sdpa for Gemma-2 (attention logit softcapping)
        est = est_bytes(model, spec)
        if not (2e8 < est < 1.7e11):
            return False
        t = spec["task"]
        if t == "train":
            lo = ""
            if spec["method"] in ("lora", "dora"):
                tg = "qv" if spec["lora_targets"] != "all-linear" else "all"
                lo = f"-r{spec['lora_r']}{tg}" + ("-do" if spec.get("lora_dropout") else "")
            cid = (f"ORC-{short_name(model)}-train-{spec['method']}{lo}-{PREC_SHORT[spec['precision']]}"
                   f"-{spec['optimizer']}{'-ckpt' if spec['grad_ckpt'] else ''}-{spec['attn']}"
                   f"-b{spec['batch']}s{spec['seq']}")
        elif t == "load":
            cid = f"ORC-{short_name(model)}-load-{spec['dtype']}"
        else:
            nt = f"-n{spec['new_tokens']}" if t == "generate" else ""
            cid = (f"ORC-{short_name(model)}-{t}-{spec['dtype']}-{spec['attn']}-b{spec['batch']}"
                   f"s{spec['seq']}{nt}")
        if cid in seen:
            return False
        seen.add(cid)
        out.append({"id": cid, "family": fam, "model": model, "spec": spec})
        return True

    for fam, models in FAMILIES.items():
        smax = MAX_SEQ.get(fam, 8192)
        seqs = [s for s in (128, 256, 512, 1024, 2048, 4096, 8192) if s <= smax]
        # loads: every model once
        for m in models:
            dt = "fp32" if PARAMS_B[m] < 1 else rng.choice(["bf16", "fp16"])
            add(fam, m, {"task": "load", "dtype": dt})
        # inference: prefill (= generate(max_new_tokens=1)) and generate
        for task, n in (("prefill", 3), ("generate", 3)):
            k = 0
            while k < n:
                m = rng.choice(models)
                dt = rng.choice(["bf16", "bf16", "fp16", "fp32"] if PARAMS_B[m] < 15 else ["bf16", "fp16"])
                spec = {"task": task, "dtype": dt, "attn": rng.choice(["sdpa", "sdpa", "eager"]),
                        "batch": rng.choice([1, 2, 4, 8, 16]), "seq": rng.choice(seqs)}
                if spec["attn"] == "eager" or PARAMS_B[m] > 30:  # keep eager S^2 / big models cheap
                    spec["seq"] = min(spec["seq"], 2048)
                if task == "generate":
                    spec["new_tokens"] = rng.choice([8, 16, 32, 64] if PARAMS_B[m] < 10 else [4, 8, 16])
                else:
                    spec["new_tokens"] = 1
                k += add(fam, m, spec)
        # training
        k = 0
        n_train = 12 if fam != "moe" else 8
        tries = 0
        while k < n_train and tries < 500:
            tries += 1
            m = rng.choice(models)
            method = rng.choice(["full", "lora", "lora"] if PARAMS_B[m] < 16 else ["lora"])
            if fam == "moe":
                method = "lora"
            spec = {"task": "train", "method": method,
                    "precision": rng.choice(["fp32", "pure-bf16", "pure-bf16", "mixed-bf16", "mixed-bf16"]),
                    "optimizer": rng.choice(["adamw", "adamw", "adamw", "sgd", "adafactor"]),
                    "grad_ckpt": rng.random() < 0.45,
                    "attn": rng.choice(["sdpa", "sdpa", "sdpa", "eager"]),
                    "batch": rng.choice([1, 1, 2, 4, 8, 16]), "seq": rng.choice(seqs[:6])}
            if spec["attn"] == "eager":
                spec["seq"] = min(spec["seq"], 2048)
            tokens_cap = 16384 if not spec["grad_ckpt"] else 65536
            while spec["batch"] * spec["seq"] > tokens_cap and spec["batch"] > 1:
                spec["batch"] //= 2
            if method == "lora":
                spec["lora_r"] = rng.choice([8, 16, 64])
                tg = rng.choice(["qv", "qv", "all"])
                spec["lora_targets"] = (FAMILY_QV.get(fam, ["q_proj", "v_proj"]) if tg == "qv" else "all-linear")
                spec["lora_dropout"] = rng.choice([0.0, 0.0, 0.05])
            if fam == "moe" and spec["lora_targets"] == "all-linear":
                spec["lora_targets"] = ["q_proj", "k_proj", "v_proj", "o_proj"]
            k += add(fam, m, spec)
    # DoRA (LoraConfig(use_dora=True)), appended outside the seeded draw so the cases above keep
    # their ids: the magnitude rescaling keeps each adapted linear's base and LoRA outputs.
    for m, spec in (
        ("meta-llama__Llama-3.2-1B", {"grad_ckpt": False, "seq": 512, "batch": 1, "lora_targets": "all-linear"}),
        ("meta-llama__Llama-3.2-1B", {"grad_ckpt": True, "seq": 1024, "batch": 2, "lora_targets": "all-linear"}),
        ("Qwen__Qwen2.5-1.5B", {"grad_ckpt": False, "seq": 1024, "batch": 1, "lora_targets": ["q_proj", "v_proj"]}),
        # With lora_dropout DoRA recomputes the base output as F.linear(dropout(x), W.to(x.dtype)) and
        # keeps that weight copy (adapter dtype; compute dtype under autocast) for backward.
        ("Qwen__Qwen2.5-0.5B", {"grad_ckpt": False, "seq": 512, "batch": 1, "lora_targets": "all-linear",
                                "lora_dropout": 0.05}),
        ("Qwen__Qwen2.5-0.5B", {"grad_ckpt": False, "seq": 512, "batch": 1, "lora_targets": "all-linear",
                                "lora_dropout": 0.05, "precision": "mixed-bf16"}),
        ("meta-llama__Llama-3.2-1B", {"grad_ckpt": True, "seq": 1024, "batch": 2, "lora_targets": "all-linear",
                                      "lora_dropout": 0.05}),
    ):
        add("dora", m, {"task": "train", "method": "dora", "precision": "pure-bf16", "optimizer": "adamw",
                        "attn": "sdpa", "lora_r": 16, "lora_dropout": 0.0, **spec})
    # IA3 (IA3Config with PEFT's defaults), also outside the seeded draw: the scaled K/V outputs and
    # the fp32 cast of down_proj's input are kept for backward.
    for m, spec in (
        ("meta-llama__Llama-3.2-1B", {"precision": "pure-bf16", "grad_ckpt": False, "seq": 1024, "batch": 2}),
        ("meta-llama__Llama-3.2-1B", {"precision": "mixed-bf16", "grad_ckpt": False, "seq": 1024, "batch": 2}),
        ("Qwen__Qwen2.5-1.5B", {"precision": "pure-bf16", "grad_ckpt": True, "seq": 2048, "batch": 4}),
    ):
        add("ia3", m, {"task": "train", "method": "ia3", "optimizer": "adamw", "attn": "sdpa", **spec})
    return out


# ----------------------------------------------------------------------------------------------
def est_cost(case):
    """Relative tracing time: proportional to the number of layers run (fake ops cost per op, not per byte)."""
    with open(os.path.join(HERE, "configs", case["model"] + ".json")) as f:
        cfg = json.load(f)
    L = cfg.get("num_hidden_layers") or cfg.get("n_layer") or 32
    sp = case["spec"]
    if sp["task"] == "train":
        return L * (6 + (2 if sp.get("grad_ckpt") else 0))
    if sp["task"] == "generate":
        return L * (1 + 0.15 * sp["new_tokens"])
    return L * (1 if sp["task"] == "prefill" else 0.3)


def find_config(model):
    for d in CONFIG_SOURCES:
        p = os.path.join(d, model + ".json")
        if os.path.exists(p):
            return p
    return None


def ensure_config(model):
    dst = os.path.join(HERE, "configs", model + ".json")
    if not os.path.exists(dst):
        src = find_config(model)
        if src is None:
            raise FileNotFoundError(f"no config.json for {model}")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
    return dst


def run_one(case, timeout):
    py = sys.executable
    cmd = ["nice", "-n", "19", py, os.path.join(HERE, "trace.py"), "--spec", json.dumps(case["spec"])]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"id": case["id"], "error": f"timeout after {timeout}s", "wall_s": round(time.time() - t0, 1)}
    wall = round(time.time() - t0, 1)
    if p.returncode != 0:
        err = (p.stderr or "").strip().splitlines()
        tail = [ln for ln in err if ln and not ln.startswith(" ")][-3:]
        return {"id": case["id"], "error": " | ".join(tail)[-800:], "wall_s": wall}
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["id"] = case["id"]
    res["wall_s"] = wall
    return res


def load_runs():
    runs = {}
    if os.path.exists(RUNS):
        with open(RUNS) as f:
            for line in f:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    runs[r["id"]] = r
    return runs


def compact_runs(runs):
    """Rewrite runs.jsonl with one line per case (the latest): while a sweep runs it only
    appends, so a stopped sweep loses nothing, and a re-traced case leaves its old line."""
    tmp = RUNS + ".tmp"
    with open(tmp, "w") as f:
        for r in runs.values():
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, RUNS)


# ----------------------------------------------------------------------------------------------
def gib(n):
    return f"{n / GiB:.2f} GiB"


def composition(res):
    """Human-readable breakdown of the live bytes at the peak by the phase that allocated them."""
    tags = res.get("peak_by_tag", {})
    label = {"load": "weights+buffers", "lora_init": "LoRA adapter weights", "inputs": "input ids/labels",
             "prefill": "prefill (KV cache + activations)", "decode": "decode (grown KV cache + step temporaries)"}
    parts = []
    for k, v in sorted(tags.items(), key=lambda kv: -kv[1]):
        if v < 2 ** 20:
            continue
        if k.startswith("fwd"):
            name = f"forward step {k[3:]} (saved activations, autocast copies, loss tensors)"
        elif k.startswith("bwd"):
            name = f"backward step {k[3:]} (grads + backward temporaries)"
        elif k.startswith("opt"):
            name = f"optimizer step {k[3:]} (states created there + step temporaries)"
        elif k.startswith("zero"):
            name = "zero_grad"
        else:
            name = label.get(k, k)
        parts.append(f"{name} {gib(v)}")
    return "; ".join(parts)


def peak_where(res):
    ph = res.get("peak_phase", "")
    if ph.startswith("fwd"):
        return f"forward of step {ph[3:]}"
    if ph.startswith("bwd"):
        return f"backward of step {ph[3:]}"
    if ph.startswith("opt"):
        return f"optimizer.step() of step {ph[3:]}"
    return {"prefill": "prefill forward", "decode": "a decode step", "load": "after load"}.get(ph, ph)


def to_case(case, res):
    spec = case["spec"]
    v = res["versions"]
    model = case["model"]
    org, name = model.split("__", 1)
    task = spec["task"]
    train = task == "train"
    if train:
        wdt = "bfloat16" if spec["precision"] == "pure-bf16" else "float32"
    else:
        wdt = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[spec["dtype"]]
    sd = res.get("sdpa_backends", {})
    attn_txt = (f"attn_implementation={res['attn_implementation']}" +
                (f", SDPA kernels as an A100 (sm80) would pick them: " +
                 ", ".join(f"{k} x{n}" for k, n in sorted(sd.items())) if sd else ""))
    notes = [f"GPU-free ground truth: real transformers {v['transformers']} / peft {v['peft']} / torch {v['torch']} "
             f"code run on FakeTensorMode tensors built from the config alone (from_config(dtype={wdt}), no weights); "
             f"peak of live tensor storages, each rounded up to 512 B like the CUDA caching allocator "
             f"(exact unrounded peak {res['peak']} B).",
             attn_txt + "."]
    if task == "load":
        notes.append("Task load: model built and kept; value = steady state after construction "
                     f"(parameters {res['param_bytes']} B + buffers {res['buffer_bytes']} B).")
        inference = training = None
    elif task in ("prefill", "generate"):
        steps = "one forward over the prompt" if task == "prefill" else \
            f"prefill forward + {spec['new_tokens'] - 1} decode forwards"
        notes.append(f"Task {task}: greedy generation as generate(max_new_tokens={spec['new_tokens']}) runs it: "
                     f"{steps} under torch.no_grad(), use_cache=True (DynamicCache), logits_to_keep=1, "
                     "fp32 copy of the last logits, argmax; no attention_mask passed (all-ones prompt, "
                     "which transformers skips anyway); batch of equal-length prompts. "
                     f"KV cache after prefill {res.get('kv_cache_bytes_after_prefill', 0)} B, "
                     f"at the end {res.get('kv_cache_bytes_final', 0)} B.")
        inference = {"batch_size": spec["batch"], "prompt_tokens": spec["seq"], "new_tokens": spec["new_tokens"],
                     "kv_cache_dtype": wdt, "attention": spec["attn"], "kv_prealloc_tokens": None}
        training = None
    else:
        prec = {"fp32": "fp32 weights, no autocast",
                "pure-bf16": "bf16 weights/grads/optimizer states, no autocast, no fp32 master copy",
                "mixed-bf16": "fp32 weights + torch.autocast(bf16) (CUDA autocast op lists emulated)"}[spec["precision"]]
        opt = {"adamw": "torch.optim.AdamW(lr=1e-5, foreach=True)",
               "sgd": "torch.optim.SGD(lr=1e-3, momentum=0.9, foreach=True)",
               "adafactor": "transformers.optimization.Adafactor(lr=1e-5, scale_parameter=False, "
                            "relative_step=False, warmup_init=False) as Trainer(optim='adafactor') builds it"}[spec["optimizer"]]
        notes.append(f"Task train: {prec}; {opt}; 2 steps of forward (model(input_ids, labels=input_ids-shaped "
                     "labels, use_cache=False): transformers ForCausalLMLoss upcasts the logits to fp32 and runs "
                     "cross_entropy over B*S positions; no attention_mask) -> backward -> optimizer.step() -> "
                     "zero_grad(set_to_none=True); value = max over both steps (step 2 runs with the optimizer state "
                     "already allocated). No gradient clipping.")
        if spec["grad_ckpt"]:
            notes.append("Gradient checkpointing: model.gradient_checkpointing_enable() defaults "
                         "(torch.utils.checkpoint use_reentrant=False per decoder layer, enable_input_require_grads).")
        lora = None
        if spec["method"] in ("lora", "dora"):
            notes.append(f"LoRA via peft.get_peft_model(LoraConfig(r={spec['lora_r']}, "
                         + ("use_dora=True, " if spec["method"] == "dora" else "") +
                         f"lora_alpha={2 * spec['lora_r']}, lora_dropout={spec.get('lora_dropout', 0.0)}, "
                         f"target_modules={spec['lora_targets']!r})): wrapped modules "
                         f"{res.get('lora_targets')}; trainable {res.get('trainable_params')} params; peft's "
                         "default autocast_adapter_dtype=True keeps the adapters in fp32 even on bf16 weights." +
                         (" lora_dropout runs as CUDA's fused native_dropout (a 1-byte bool mask saved per element)."
                          if spec.get("lora_dropout") else ""))
            lora = {"rank": spec["lora_r"], "alpha": 2 * spec["lora_r"], "targets": res.get("lora_targets"),
                    "dropout": spec.get("lora_dropout", 0.0)}
        elif spec["method"] == "ia3":
            notes.append(f"IA3 via peft.get_peft_model(IA3Config(task_type='CAUSAL_LM')) with PEFT's defaults for the "
                         f"architecture: wrapped modules {res.get('lora_targets')}; trainable {res.get('trainable_params')} "
                         "params (fp32 by peft's autocast_adapter_dtype=True).")
        st = res.get("steps", [])
        if st:
            notes.append("Per-step peaks: " + ", ".join(
                f"step {i + 1} {gib(s['peak_r512'])} in {s['peak_phase']}" for i, s in enumerate(st)) + ".")
        notes.append(f"Parameters {res['param_bytes']} B, trainable {res.get('trainable_bytes')} B, optimizer state "
                     f"{res.get('opt_state_bytes')} B.")
        training = {"method": spec["method"], "batch_size": spec["batch"], "seq_len": spec["seq"],
                    "seq_len_is_max": False, "grad_accum": 1, "precision": spec["precision"],
                    "optimizer": spec["optimizer"], "optimizer_in_backward": False,
                    "grad_checkpointing": bool(spec["grad_ckpt"]), "activation_offload": False,
                    "chunked_ce": False, "compile": False, "lora": lora}
        inference = None
    with open(os.path.join(HERE, "configs", model + ".json")) as f:
        cfg = json.load(f)
    drops = {k: v for k, v in cfg.items() if "drop" in k and not k.startswith("summary") and isinstance(v, (int, float))
             and not isinstance(v, bool) and v > 0}
    if train and drops:
        notes.append(f"Dropout as in the config ({', '.join(f'{k}={v}' for k, v in sorted(drops.items()))}): "
                     "the model is in train mode, so dropout masks and outputs are part of the activations "
                     "(nn.Dropout / eager-attention dropout run as CUDA's fused native_dropout, which saves a "
                     "1-byte bool mask; the flash / memory-efficient SDPA kernels drop attention "
                     "probabilities internally and save no mask).")
    hits = res.get("cuda_autocast_fp32_hits") or {}
    if hits:
        notes.append("CUDA-autocast fp32 casts applied: " + ", ".join(f"{k} x{n}" for k, n in sorted(hits.items())) + ".")
    notes.append(f"Peak in {peak_where(res)}. Live at the peak by origin: {composition(res)}.")
    notes.append("Not included (add separately): CUDA context/kernels, cuBLAS/cuDNN workspaces, FlashAttention "
                 "backward's internal fp32 dq accumulator, caching-allocator block splitting/fragmentation "
                 "beyond the 512 B rounding.")
    notes.append(f"Traced in {res.get('seconds')} s ({res.get('wall_s')} s wall incl. start-up).")
    return {
        "id": case["id"],
        "source": (f"vramfit oracle (FakeTensorMode trace) torch {v['torch']} transformers {v['transformers']} "
                   f"peft {v['peft']}: validation/oracle/trace.py --spec '{json.dumps(spec, sort_keys=True)}'"),
        "grade": "A",
        "model": {"name": name, "hf_id": f"{org}/{name}", "config_file": f"configs/{model}.json",
                  "params": int(res["n_params"])},
        "runtime": "peft-transformers" if train and spec["method"] in ("lora", "dora", "ia3") else "transformers",
        "task": task,
        "weights": {"dtype": wdt, "quant": None, "bits": None, "group_size": None},
        "inference": inference,
        "training": training,
        "parallel": {"gpus": 1, "strategy": "none", "cpu_offload": False},
        "gpu": None,
        "measured": {"bytes": int(res["peak_r512"]), "metric": "max_memory_allocated", "per_device": True},
        "notes": " ".join(notes),
    }


def write_cases(cases, runs):
    out = []
    for c in cases:
        r = runs.get(c["id"])
        if r is None or "error" in r:
            continue
        if not (10 ** 8 < r["peak_r512"] < 2 * 10 ** 11):
            continue
        out.append(to_case(c, r))
    tmp = CASES + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(tmp, CASES)
    return len(out)


def summarize(cases, runs):
    from collections import Counter, defaultdict

    ok = [(c, runs[c["id"]]) for c in cases if c["id"] in runs and "error" not in runs[c["id"]]]
    bad = [(c, runs[c["id"]]) for c in cases if c["id"] in runs and "error" in runs[c["id"]]]
    inrange = [(c, r) for c, r in ok if 10 ** 8 < r["peak_r512"] < 2 * 10 ** 11]
    print(f"{len(ok)} traced, {len(inrange)} written, {len(bad)} failed, "
          f"{len(cases) - len(ok) - len(bad)} not run")
    by = Counter((c["family"], c["spec"]["task"]) for c, _ in inrange)
    fams = sorted({f for f, _ in by})
    tasks = ["load", "prefill", "generate", "train"]
    print("family     " + " ".join(f"{t:>9}" for t in tasks) + "   total")
    for f in fams:
        print(f"{f:10} " + " ".join(f"{by[(f, t)]:9d}" for t in tasks) + f"   {sum(by[(f, t)] for t in tasks):5d}")
    print("all        " + " ".join(f"{sum(by[(f, t)] for f in fams):9d}" for t in tasks) + f"   {len(inrange):5d}")
    secs = defaultdict(list)
    for c, r in ok:
        secs[c["spec"]["task"]].append(r.get("wall_s", 0))
    for t in tasks:
        v = sorted(secs[t])
        if v:
            print(f"time per case {t:9}: median {v[len(v) // 2]:.1f} s, max {v[-1]:.1f} s, total {sum(v) / 60:.1f} min")
    ph = Counter()
    for c, r in ok:
        p = r["peak_phase"].rstrip("0123456789")
        key = c["spec"]["task"]
        if key == "train":
            key += "/" + c["spec"]["method"] + ("/ckpt" if c["spec"]["grad_ckpt"] else "")
        ph[(key, p)] += 1
    print("peak phase:", dict(sorted(ph.items())))
    for c, r in bad:
        print("FAILED", c["id"], r["error"][:300])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], help="substring(s) of the case id/family to run")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per case")
    ap.add_argument("--force", action="store_true", help="re-trace cases already in runs.jsonl")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--summary", action="store_true", help="summarize runs.jsonl and exit")
    ap.add_argument("--rewrite", action="store_true", help="rewrite cases.json from runs.jsonl and exit")
    ap.add_argument("--cheap-first", action="store_true", help="trace the cheapest cases first")
    ap.add_argument("--deadline-min", type=float, default=None,
                    help="start no new case after this many minutes (the rest stay untraced)")
    a = ap.parse_args(argv)
    cases = build_cases()
    if a.summary:
        summarize(cases, load_runs())
        return
    if a.rewrite:
        print(f"wrote {write_cases(cases, load_runs())} cases to {os.path.relpath(CASES, REPO)}")
        return
    sel = [c for c in cases if all(o in c["id"] or o == c["family"] for o in a.only)]
    if a.list:
        for c in sel:
            print(c["id"])
        print(f"{len(sel)} of {len(cases)} cases", file=sys.stderr)
        return
    for c in cases:
        ensure_config(c["model"])
    runs = load_runs()
    todo = [c for c in sel if a.force or c["id"] not in runs]
    if a.cheap_first:
        todo.sort(key=est_cost)
    print(f"{len(sel)} cases selected, {len(todo)} to trace, {a.jobs} job(s)", flush=True)
    t0 = time.time()
    done = 0
    with ThreadPoolExecutor(max_workers=a.jobs) as ex, open(RUNS, "a") as log:
        def job(c):
            if a.deadline_min is not None and time.time() - t0 > 60 * a.deadline_min:
                return {"id": c["id"], "skipped": True}
            return run_one(c, a.timeout)

        futs = {ex.submit(job, c): c for c in todo}
        for fut in as_completed(futs):
            c = futs[fut]
            res = fut.result()
            if res.get("skipped"):
                continue
            runs[c["id"]] = res
            log.write(json.dumps(res) + "\n")
            log.flush()
            done += 1
            n_ok = write_cases(cases, runs)
            if "error" in res:
                msg = f"FAILED {res['error'][:300]}"
            else:
                flag = "" if 10 ** 8 < res["peak_r512"] < 2 * 10 ** 11 else " (outside 1e8..2e11 B: not written)"
                msg = f"{gib(res['peak_r512'])} in {res['peak_phase']}{flag}"
            el = time.time() - t0
            eta = el / done * (len(todo) - done)
            print(f"[{done}/{len(todo)}] {c['id']}: {msg} ({res.get('wall_s')} s; eta {eta / 60:.0f} min)",
                  flush=True)
    compact_runs(runs)
    n_ok = write_cases(cases, runs)
    n_err = sum(1 for c in sel if "error" in runs.get(c["id"], {}))
    print(f"wrote {n_ok} cases to {os.path.relpath(CASES, REPO)}; {n_err} failed; {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
