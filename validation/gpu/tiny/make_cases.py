#!/usr/bin/env python3
"""Writes validation/gpu/tiny/cases.json: the `tiny` plan's cases, for the kit's self-test.

Two tiny models (configs/: Llama and GPT-2, 2 layers, hidden 64) run every phase the kit
measures: load, prefill, decode, full training (pure-bf16 SGD; fp32 Adafactor with GPT-2's
dropout) and LoRA training (mixed-bf16 AdamW with gradient checkpointing).  Their vocabulary
is 262,144 tokens (Gemma-3's size) so that every case's bytes clear the shared format's
1e8 B floor; everything else is tiny, so the CPU runs them in seconds.

Each case's ``measured.bytes`` is the oracle's trace (validation/oracle/trace.py, fake
tensors) of the workload its fields describe, read through ``plan.spec_from_fields`` (the
path the kit takes for cases that are not the oracle's): run with the oracle's Python
(torch, transformers, peft installed):

    validation/oracle/.venv/bin/python validation/gpu/tiny/make_cases.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import plan as P  # noqa: E402

TRACE = os.path.join(P.REPO, "validation", "oracle", "trace.py")
LLAMA = "configs/tiny__llama-h64.json"
GPT2 = "configs/tiny__gpt2-h64.json"


def inference(b, s, n, dtype, attn):
    return {"batch_size": b, "prompt_tokens": s, "new_tokens": n, "kv_cache_dtype": dtype, "attention": attn,
            "kv_prealloc_tokens": None}


def training(method, b, s, precision, optimizer, ckpt, lora=None):
    return {"method": method, "batch_size": b, "seq_len": s, "seq_len_is_max": False, "grad_accum": 1,
            "precision": precision, "optimizer": optimizer, "optimizer_in_backward": False,
            "grad_checkpointing": ckpt, "activation_offload": False, "chunked_ce": False, "compile": False,
            "lora": lora}


# id, config, task, weights dtype, inference, training
CASES = [
    ("TINY-llama-load-fp32", LLAMA, "load", "float32", None, None),
    ("TINY-llama-prefill-fp32-sdpa-b2s64", LLAMA, "prefill", "float32", inference(2, 64, 1, "float32", "sdpa"), None),
    ("TINY-llama-generate-fp32-eager-b2s32-n4", LLAMA, "generate", "float32",
     inference(2, 32, 4, "float32", "eager"), None),
    ("TINY-llama-train-full-bf16-sgd-b1s128", LLAMA, "train", "bfloat16", None,
     training("full", 1, 128, "pure-bf16", "sgd", False)),
    ("TINY-llama-train-lora-r8qv-amp-adamw-ckpt-b1s128", LLAMA, "train", "float32", None,
     training("lora", 1, 128, "mixed-bf16", "adamw", True,
              {"rank": 8, "alpha": 16, "targets": ["q_proj", "v_proj"], "dropout": 0.0})),
    ("TINY-gpt2-train-full-fp32-adafactor-b1s64", GPT2, "train", "float32", None,
     training("full", 1, 64, "fp32", "adafactor", False)),
]


def main():
    out = []
    for cid, cfg, task, dtype, inf, tr in CASES:
        case = {
            "id": cid, "source": "", "grade": "A",
            "model": {"name": os.path.basename(cfg)[:-5].split("__", 1)[1], "hf_id": None, "config_file": cfg,
                      "params": None},
            "runtime": "peft-transformers" if tr and tr["method"] == "lora" else "transformers",
            "task": task,
            "weights": {"dtype": dtype, "quant": None, "bits": None, "group_size": None},
            "inference": inf, "training": tr,
            "parallel": {"gpus": 1, "strategy": "none", "cpu_offload": False},
            "gpu": None,
            "measured": {"bytes": 0, "metric": "max_memory_allocated", "per_device": True},
            "notes": "",
        }
        with open(os.path.join(HERE, cfg)) as f:
            model_type = json.load(f)["model_type"]
        spec = P.spec_from_fields(case, model_type)
        spec["config"] = os.path.join(HERE, cfg)
        r = subprocess.run([sys.executable, TRACE, "--spec", json.dumps(spec)], capture_output=True, text=True,
                           check=True)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        case["model"]["params"] = int(res["n_params"])
        case["measured"]["bytes"] = int(res["peak_r512"])
        v = res["versions"]
        case["source"] = (f"validation/gpu/tiny/make_cases.py: the oracle's FakeTensorMode trace "
                          f"(validation/oracle/trace.py, torch {v['torch']} transformers {v['transformers']} "
                          f"peft {v['peft']}) of the workload these fields describe")
        case["notes"] = (f"A tiny model for the GPU kit's self-test (not a real model: 2 layers, hidden 64, a "
                         f"262,144-token vocabulary so the bytes clear the format's 1e8 B floor). Oracle peak "
                         f"{res['peak_r512']} B in {res['peak_phase']}.")
        out.append(case)
        print(f"{cid}: {res['peak_r512']} B in {res['peak_phase']}", flush=True)
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
