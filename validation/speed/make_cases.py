#!/usr/bin/env python3
"""Writes validation/speed/cases.json from the published tables below (run from anywhere).

Each row is one published measurement: model, quantization, runtime and build, device,
prompt/generated tokens, batch, measured figure and its source. The case format is the memory
cases' (shared/validation/README.md) with `measured.value` + a speed `metric`, and a `speed`
object (backend, build, -ngl, host RAM bandwidth). Rows left out are listed in README.md with
the reason."""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = "../../crates/vramfit-core/data/configs/"
MODELS = {
    "llama-7b": ("LLaMA-7B", "huggyllama/llama-7b", "huggyllama__llama-7b.json"),
    "llama-2-7b": ("Llama-2-7B", "meta-llama/Llama-2-7b-hf", "meta-llama__Llama-2-7b-hf.json"),
    "llama-2-70b": ("Llama-2-70B", "meta-llama/Llama-2-70b-hf", "meta-llama__Llama-2-70b-hf.json"),
    "llama-3-8b": ("Meta-Llama-3-8B", "meta-llama/Meta-Llama-3-8B", "meta-llama__Meta-Llama-3-8B.json"),
    "llama-3-70b": ("Meta-Llama-3-70B", "meta-llama/Meta-Llama-3-70B", "meta-llama__Meta-Llama-3-70B.json"),
    "llama-3.1-8b": ("Llama-3.1-8B", "meta-llama/Llama-3.1-8B", "meta-llama__Llama-3.1-8B.json"),
    "llama-3.3-70b": ("Llama-3.3-70B", "meta-llama/Llama-3.3-70B-Instruct", "meta-llama__Llama-3.3-70B-Instruct.json"),
    "llama-3.2-3b": ("Llama-3.2-3B", "meta-llama/Llama-3.2-3B", "meta-llama__Llama-3.2-3B.json"),
    "qwen3-30b-a3b": ("Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B", "Qwen__Qwen3-30B-A3B.json"),
    "qwen3-0.6b": ("Qwen3-0.6B", "Qwen/Qwen3-0.6B", "Qwen__Qwen3-0.6B.json"),
    "gemma-3-27b": ("gemma-3-27b-it", "google/gemma-3-27b-it", "google__gemma-3-27b-it.json"),
    "falcon-7b": ("Falcon-7B", "tiiuae/falcon-7b", "tiiuae__falcon-7b.json"),
}
XD = "https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference README.md @00dd2bdeb2404263f22bd6c1cd46ce397e341db5"
XD3 = XD + ", LLaMA 3 table (llama-bench, May 2024 build)"
XD2 = XD + ", LLaMA 2 overview 'average eval speed' (llama.cpp, Dec 2023 build)"
cases = []


def add(cid, model, gpu, quant, metric, value, source, runtime="llama.cpp", task=None, prompt=1, new=0,
        batch=1, gpus=1, backend=None, build=None, ngl=None, notes="", dtype="float16", training=None):
    name, hf, cfg = MODELS[model]
    task = task or ("prefill" if metric.startswith("prefill") else "train" if training else "generate")
    c = {
        "id": cid, "source": source, "grade": "B",
        "model": {"name": name, "hf_id": hf, "config_file": CFG + cfg},
        "runtime": runtime, "task": task,
        "weights": {"dtype": dtype, "quant": quant},
        "inference": None if training else {"batch_size": batch, "prompt_tokens": prompt, "new_tokens": new},
        "training": training,
        "parallel": {"gpus": gpus, "strategy": "pipeline-naive" if gpus > 1 else "none", "cpu_offload": False},
        "gpu": gpu,
        "measured": {"value": value, "metric": metric},
        "speed": {k: v for k, v in {"backend": backend, "build": build, "n_gpu_layers": ngl}.items() if v is not None},
        "notes": notes,
    }
    cases.append(c)


Q = {"q4_0": "q4_0", "f16": None, "Q4_K_M": "q4_k_m"}
# ---- LLaMA 3, llama-bench tg512 / pp512 (XiongjieDai, May 2024) ---------------------------
l3 = [  # device, catalog gpu, gpus, model, quant, tg512, pp512
    ("3070", "RTX-3070", 1, "llama-3-8b", "Q4_K_M", 72.79, 2402.51),
    ("3080", "RTX-3080", 1, "llama-3-8b", "Q4_K_M", 109.57, 3728.86),
    ("3080Ti", "RTX-3080-Ti", 1, "llama-3-8b", "Q4_K_M", 110.60, 3690.30),
    ("4070Ti", "RTX-4070-Ti", 1, "llama-3-8b", "Q4_K_M", 83.50, 3936.29),
    ("4080", "RTX-4080", 1, "llama-3-8b", "Q4_K_M", 108.15, 5389.74),
    ("4080", "RTX-4080", 1, "llama-3-8b", "f16", 40.58, 7246.97),
    ("3090", "RTX-3090", 1, "llama-3-8b", "Q4_K_M", 115.42, 4030.40),
    ("3090", "RTX-3090", 1, "llama-3-8b", "f16", 47.40, 4444.65),
    ("4090", "RTX-4090", 1, "llama-3-8b", "Q4_K_M", 130.58, 7138.99),
    ("4090", "RTX-4090", 1, "llama-3-8b", "f16", 54.84, 9382.00),
    ("2x3090", "RTX-3090", 2, "llama-3-8b", "Q4_K_M", 111.67, None),
    ("2x3090", "RTX-3090", 2, "llama-3-70b", "Q4_K_M", 16.57, None),
    ("2x4090", "RTX-4090", 2, "llama-3-8b", "Q4_K_M", 124.65, None),
    ("2x4090", "RTX-4090", 2, "llama-3-70b", "Q4_K_M", 19.22, None),
    ("4x3090", "RTX-3090", 4, "llama-3-70b", "Q4_K_M", 17.07, None),
    ("4x4090", "RTX-4090", 4, "llama-3-70b", "Q4_K_M", 19.80, None),
    ("6x3090", "RTX-3090", 6, "llama-3-70b", "f16", 5.85, None),
    ("8x4090", "RTX-4090", 8, "llama-3-70b", "f16", 6.47, None),
    ("M1-7c-8GB", "M1-8GB", 1, "llama-3-8b", "Q4_K_M", 10.20, 94.48),
    ("M1Max-32c-64GB", "M1-Max-64GB", 1, "llama-3-8b", "Q4_K_M", 35.73, 408.23),
    ("M1Max-32c-64GB", "M1-Max-64GB", 1, "llama-3-8b", "f16", 18.75, 517.34),
    ("M1Max-32c-64GB", "M1-Max-64GB", 1, "llama-3-70b", "Q4_K_M", 4.34, 34.96),
    ("M2Ultra-76c", "M2-Ultra-192GB", 1, "llama-3-8b", "Q4_K_M", 78.81, 994.04),
    ("M2Ultra-76c", "M2-Ultra-192GB", 1, "llama-3-8b", "f16", 36.90, 1175.40),
    ("M2Ultra-76c", "M2-Ultra-192GB", 1, "llama-3-70b", "Q4_K_M", 12.48, 118.79),
    ("M2Ultra-76c", "M2-Ultra-192GB", 1, "llama-3-70b", "f16", 4.76, 147.58),
    ("M3Max-40c-64GB", "M3-Max-64GB", 1, "llama-3-8b", "Q4_K_M", 48.97, 693.32),
    ("M3Max-40c-64GB", "M3-Max-64GB", 1, "llama-3-8b", "f16", 22.04, 769.84),
    ("M3Max-40c-64GB", "M3-Max-64GB", 1, "llama-3-70b", "Q4_K_M", 7.65, 70.19),
]
for dev, gpu, n, model, q, tg, pp in l3:
    base = f"XD3-{dev}-{model}-{q}"
    add(base + "-tg512", model, gpu, Q[q], "decode_tokens_per_s", tg, XD3 + " tg 512", new=512, gpus=n,
        build="llama.cpp May 2024", notes="llama-bench tg512: empty prompt, 512 generated tokens (average context 256)" +
        ("; layers split over the GPUs (llama.cpp default -sm layer)" if n > 1 else ""))
    if pp:
        add(base + "-pp512", model, gpu, Q[q], "prefill_tokens_per_s", pp, XD3 + " pp 512", prompt=512, gpus=n,
            build="llama.cpp May 2024", notes="llama-bench pp512: one 512-token prompt")
# ---- LLaMA 2 overview, average eval (XiongjieDai, Dec 2023), single device ------------------
l2 = [
    ("4080", "RTX-4080", [("llama-2-7b", "q4_0", 118.01), ("llama-2-7b", "f16", 44.2)]),
    ("3090", "RTX-3090", [("llama-2-7b", "q4_0", 120.6), ("llama-2-7b", "f16", 51.85)]),
    ("4090", "RTX-4090", [("llama-2-7b", "q4_0", 149.37), ("llama-2-7b", "f16", 60.78)]),
    ("RTX5000Ada", "RTX-5000-Ada", [("llama-2-7b", "q4_0", 99.19), ("llama-2-7b", "f16", 36.31)]),
    ("A6000", "RTX-A6000", [("llama-2-7b", "q4_0", 111.57), ("llama-2-7b", "f16", 44.01), ("llama-2-70b", "q4_0", 15.18)]),
    ("RTX6000Ada", "RTX-6000-Ada", [("llama-2-7b", "q4_0", 127.45), ("llama-2-7b", "f16", 50.56), ("llama-2-70b", "q4_0", 17.02)]),
    ("A100-80GB", "A100-80GB-PCIe", [("llama-2-7b", "q4_0", 136.24), ("llama-2-7b", "f16", 73.83), ("llama-2-70b", "q4_0", 25.68)]),
    ("H100-PCIe", "H100-PCIe", [("llama-2-7b", "q4_0", 133.77), ("llama-2-7b", "f16", 83.32), ("llama-2-70b", "q4_0", 25.88)]),
    ("M1Max-24c-32GB", "M1-Max-32GB", [("llama-2-7b", "q4_0", 48.65), ("llama-2-7b", "f16", 13.83)]),
    ("M2Ultra-76c", "M2-Ultra-192GB", [("llama-2-7b", "q4_0", 91.89), ("llama-2-7b", "f16", 40.68), ("llama-2-70b", "q4_0", 14.37), ("llama-2-70b", "f16", 4.81)]),
    ("M3-10c-16GB", "M3-16GB", [("llama-2-7b", "q4_0", 20.79)]),
    ("M3Max-40c-48GB", "M3-Max-48GB", [("llama-2-7b", "q4_0", 63.11), ("llama-2-7b", "f16", 24.76)]),
]
for dev, gpu, rows in l2:
    for model, q, tg in rows:
        add(f"XD2-{dev}-{model}-{q}", model, gpu, Q[q], "decode_tokens_per_s", tg, XD2, new=256,
            build="llama.cpp Dec 2023",
            notes="average of llama-bench text-generation runs; generated lengths not restated, 256 assumed"
            + ("; A100 80GB as rented on RunPod, PCIe board assumed" if gpu == "A100-80GB-PCIe" else ""))
# ---- other sources -------------------------------------------------------------------------
add("P40-llama-7b-q4_0-tg128", "llama-7b", "P40", "q4_0", "decode_tokens_per_s", 56.79,
    "https://github.com/ggml-org/llama.cpp/pull/4766 (llama-bench table)", new=128, build="llama.cpp Jan 2024")
add("P40-llama-7b-q4_0-pp512", "llama-7b", "P40", "q4_0", "prefill_tokens_per_s", 912.0,
    "https://github.com/ggml-org/llama.cpp/pull/4766 (llama-bench table)", prompt=512, build="llama.cpp Jan 2024",
    notes="Pascal has no fp16 tensor figure in the catalog: the prefill estimate is refused (skipped)")
# NVIDIA's CUDA-graphs proposal (llama.cpp issue #6763, April 2024): H100 PCIe, Llama 2 7B
# Q4_K_M, `--n-gpu-layers 100 -n 128`, before and with the graphs of PR #6766.
G6763 = "https://github.com/ggml-org/llama.cpp/issues/6763 (agray3, 2024-04-19: H100-PCIe, llama-2-7b.Q4_K_M, -n 128)"
for tag, v, what in [("master", 143.35, "master of April 2024 (one launch per kernel)"),
                     ("cuda-graphs", 163.83, "the CUDA-graphs branch (PR #6766): one graph launch per token")]:
    add(f"G6763-H100-PCIe-llama-2-7b-Q4_K_M-{tag}", "llama-2-7b", "H100-PCIe", "q4_k_m", "decode_tokens_per_s", v, G6763,
        new=128, build="llama.cpp April 2024", notes=what + "; prompt not stated (short)")
add("M4Pro24-gemma-3-27b-Q4_K_M", "gemma-3-27b", "M4-Pro-24GB", "q4_k_m", "decode_tokens_per_s", 13.24,
    "https://github.com/AlexsJones/llmfit/pull/812", new=128, build="llama.cpp (Metal), 2025",
    notes="15.4 GB GGUF; generated length not stated, 128 assumed")
add("M4Pro24-qwen3-30b-a3b-Q4_K_M", "qwen3-30b-a3b", "M4-Pro-24GB", "q4_k_m", "decode_tokens_per_s", 70.55,
    "https://github.com/AlexsJones/llmfit/pull/812", new=128, build="llama.cpp (Metal), 2025",
    notes="MoE: 8 of 128 experts per token; 17.3 GB GGUF; generated length not stated, 128 assumed")
# MLX (weights as a GGUF-like layout of the same size: 4-bit groups of 64 with fp16 scale and
# bias ~ 4.5 bits per weight = Q4_0's size; 8-bit ~ Q8_0's)
add("MLX-M2Ultra-llama-3-70b-f16", "llama-3-70b", "M2-Ultra-192GB", None, "decode_tokens_per_s", 4.7,
    "https://github.com/ml-explore/mlx-examples/pull/1069 (wired memory)", new=128, backend="mlx", build="mlx-lm 2024")
add("MLX-M3Max64-llama-3.3-70b-4bit", "llama-3.3-70b", "M3-Max-64GB", "q4_0", "decode_tokens_per_s", 9.35,
    "https://github.com/ml-explore/mlx-examples/issues/1029", prompt=260, new=128, backend="mlx", build="mlx-lm 2024",
    notes="MLX 4-bit (group 64, fp16 scale and bias: 4.5 bits per weight) priced as Q4_0 (4.5 bits per weight)")
add("MLX-M3Ultra-llama-3.1-8b-4bit", "llama-3.1-8b", "M3-Ultra-256GB", "q4_0", "decode_tokens_per_s", 119.39,
    "https://github.com/raullenchai/Rapid-MLX/pull/586 (short prompt)", new=128, backend="mlx", build="mlx-lm 2025",
    notes="MLX 4-bit priced as Q4_0; the M3 Ultra's memory size is not stated (every size has 819 GB/s)")
add("MLX-M4Pro48-qwen3-0.6b-8bit", "qwen3-0.6b", "M4-Pro-48GB", "q8_0", "decode_tokens_per_s", 284.0,
    "https://github.com/waybarrios/vllm-mlx/issues/531 (TPOT 3.52 ms)", new=128, backend="mlx", build="vllm-mlx 2025",
    notes="MLX 8-bit priced as Q8_0")
# chigkim's comparison on an M3 Max 64GB (mlx-examples issue #1029, 2024-12-16): Llama-3.3-70B
# Instruct, MLX 4-bit against llama.cpp q4_0 and Q4_K_M, by prompt length; rows of the shortest
# and of a 4k prompt (KV reads grow with the context).
CHIG = "https://github.com/ml-explore/mlx-examples/issues/1029 (chigkim, 2024-12-16, M3 Max 64GB table)"
for engine, q, prompt, new, v in [
    ("llama.cpp", "q4_0", 260, 1999, 9.07),
    ("llama.cpp", "Q4_K_M", 260, 599, 8.15),
    ("llama.cpp", "q4_0", 4126, 522, 8.67),
    ("mlx", "q4_0", 4126, 724, 8.917),
]:
    add(f"CHIG-M3Max64-llama-3.3-70b-{engine}-{q}-p{prompt}", "llama-3.3-70b", "M3-Max-64GB", Q.get(q, q),
        "decode_tokens_per_s", v, CHIG, prompt=prompt, new=new,
        backend="mlx" if engine == "mlx" else None, build="mlx-lm Dec 2024" if engine == "mlx" else "llama.cpp Dec 2024",
        notes=("MLX 4-bit priced as Q4_0 (4.5 bits per weight); " if engine == "mlx" else "") +
        f"prompt {prompt} tokens, {new} generated (the table's row)")
add("MLX-M4Pro64-llama-3.1-8b-4bit-p32k", "llama-3.1-8b", "M4-Pro-64GB", "q4_0", "decode_tokens_per_s", 23.146,
    "https://github.com/ml-explore/mlx-examples/issues/1029 (ilterpehlivan, 2025-02-11, Mac mini M4 Pro 64GB, mlx-lm 0.21.4)",
    prompt=32159, new=1000, backend="mlx", build="mlx-lm 0.21.4 (Feb 2025)",
    notes="MLX 4-bit priced as Q4_0; a 32k prompt, so the KV cache read each step (about 4 GB at the average context) is as large as the weights")
# PyTorch eager decoding (litgpt generate/base.py, A100 40GB, Falcon-7B, prompt 5 + 256 new)
LIT = "https://github.com/Lightning-AI/litgpt tutorials/quantize.md @03f819775040e06b436a68569cfd129d91c6a83b"
for q, v in [(None, 26.23), ("nf4", 28.69), ("fp4", 27.83)]:
    add(f"LIT-falcon-7b-{q or 'bf16'}", "falcon-7b", "A100-40GB", q, "decode_tokens_per_s", v, LIT,
        runtime="litgpt", prompt=5, new=256, dtype="bfloat16", build="lit-gpt July 2023",
        notes="generate/base.py --precision bf16-true --max_new_tokens 256; 'Time for inference' tokens/sec")
# ---- training: PEFT MetaMathQA benchmark (transformers + PEFT, L40S, Llama-3.2-3B bf16) ----
PEFT = "https://github.com/huggingface/peft method_comparison/MetaMathQA/results/{} @0a179c1e8659ab4f7df0369b9b03943cfe470ff1"
for f, method, lora, v in [
    ("lora--llama-3.2-3B-rank32.json", "lora", {"rank": 32, "alpha": 64, "targets": ["q_proj", "v_proj"], "dropout": 0.0}, 6770.0),
    ("full-finetuning--llama-3.2-3B-lr_0.00001.json", "full", None, 2310.0),
]:
    add(f"PEFT-metamath-{method}", "llama-3.2-3b", "L40S", None, "train_tokens_per_s", v, PEFT.format(f),
        runtime="transformers", dtype="bfloat16", build="transformers 4.52.4, PEFT 0.15.2.dev0, torch 2.7.1",
        training={"method": method, "batch_size": 4, "seq_len": 210, "seq_len_is_max": False, "grad_accum": 1,
                  "precision": "pure-bf16", "optimizer": "adamw", "grad_checkpointing": False, "lora": lora},
        notes="'tokens / sec' of the training log (median of 20 reports); 4,198,051 tokens over 20,000 samples = "
              "210 tokens per sample on average (length-bucketed batches of 4); sdpa attention")
# ---- training: torchtune README tables (tokens/s beside the memory tables) ----------------
# 'Optimization flags' (Nov 2024): Llama 3.2 3B, full_finetune_single_device, batch 2, max
# sequence 4096, bf16, A100; each technique added on top of the previous one (LoRA and QLoRA
# without optimizer_in_bwd / 8-bit AdamW). The unpacked baseline (padded to the longest sample
# of each batch: the tokens per step are not known) is left out.
TT11 = "https://github.com/pytorch/torchtune README.md @1814feb17a9038e1a8053ce93111bd26774a8db6 ('Optimization flags' table, Tokens Per Second)"
FLAGS = [  # name, tokens/s, method, compile, chunked CE, AC, optimizer in backward, act offload, optimizer
    ("packed", 7075, "full", False, False, False, False, False, "adamw"),
    ("compile", 8998, "full", True, False, False, False, False, "adamw"),
    ("chunked-ce", 9174, "full", True, True, False, False, False, "adamw"),
    ("act-ckpt", 7210, "full", True, True, True, False, False, "adamw"),
    ("opt-in-bwd", 7309, "full", True, True, True, True, False, "adamw"),
    ("act-offload", 7301, "full", True, True, True, True, True, "adamw"),
    ("adamw8bit", 6960, "full", True, True, True, True, True, "adamw-8bit"),
    ("lora", 8210, "lora", True, True, True, False, True, "adamw"),
    ("qlora", 8035, "qlora", True, True, True, False, True, "adamw"),
]
LORA3B = {"rank": 64, "alpha": 128, "targets": ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "dropout": None}
for name, v, method, comp, cce, ac, oib, off, opt in FLAGS:
    add(f"TT-flags-L32-3B-{name}", "llama-3.2-3b", "A100-80GB", "nf4" if method == "qlora" else None,
        "train_tokens_per_s", v, TT11, runtime="torchtune", dtype="bfloat16", build="torchtune Nov 2024",
        training={"method": method, "batch_size": 2, "seq_len": 4096, "seq_len_is_max": False, "grad_accum": 1,
                  "precision": "pure-bf16", "optimizer": opt, "optimizer_in_backward": oib,
                  "grad_checkpointing": ac, "activation_offload": off, "chunked_ce": cce, "compile": comp,
                  "lora": LORA3B if method != "full" else None},
        notes="packed to 4096 tokens, batch 2 (8192 tokens per step); A100 80GB (the 60 GiB row needs it)")
with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print(len(cases), "cases")
