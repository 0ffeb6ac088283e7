//! Serving engines: vLLM's start-up release by release, KV pages, SGLang's pool. Each test
//! names the source lines (PyPI sdists) whose behaviour it pins down.

use serde_json::{json, Value};
use vramfit_core::estimate::serving::ServingReport;
use vramfit_core::request::{parse_json, EstimateRequest};

const GIB: f64 = (1u64 << 30) as f64;

fn run(model: &str, gpu: &str, workload: Value) -> Value {
    let req: EstimateRequest =
        serde_json::from_value(json!({"model": model, "gpu": gpu, "workload": workload})).expect("request");
    req.run().unwrap_or_else(|e| panic!("{model} {workload}: {e}"))
}

fn serving(model: &str, gpu: &str, workload: Value) -> ServingReport {
    let req: EstimateRequest =
        serde_json::from_value(json!({"model": model, "gpu": gpu, "workload": workload})).expect("request");
    let m = req.model().unwrap();
    let (_, b, _) = req.estimate_on(&m).unwrap_or_else(|e| panic!("{model}: {e}"));
    b.serving.expect("a serving report")
}

fn llama_3090(version: &str, len: u64) -> ServingReport {
    serving("llama-3.1-8b", "RTX-3090", json!({"runtime": "vllm", "runtime-version": version, "max-model-len": len}))
}

/// vLLM issue #10517 (0.6.4 on an RTX 3090): `--max-model-len 29000` is refused, 20000 starts.
/// 0.6.4 sizes the profile run by `max_num_batched_tokens = max(max_model_len, 2048)`
/// (`vllm/config.py:1103-1118`) and subtracts torch's peak plus all non-torch memory from
/// `total × 0.9` (`vllm/worker/worker.py:201-217`), so a longer context shrinks the cache
/// twice: it needs more tokens and gets fewer.
#[test]
fn vllm_0_6_4_refuses_29000_tokens_on_an_rtx_3090_and_starts_at_20000() {
    let v =
        run("llama-3.1-8b", "RTX-3090", json!({"runtime": "vllm", "runtime-version": "0.6.4", "max-model-len": 29000}));
    assert_eq!(v["serving"]["starts"], json!(false));
    assert_eq!(v["fits"], json!(false));
    let err = v["serving"]["error"].as_str().unwrap();
    assert!(err.starts_with("The model's max seq len (29000) is larger than the maximum number of tokens"), "{err}");
    let ok = llama_3090("0.6.4", 20000);
    assert_eq!(ok.starts, Some(true));
    // The log printed 31,232 tokens (1,952 blocks) and "Maximum concurrency ... 1.56x".
    let tokens = ok.kv_tokens.unwrap() as f64;
    assert!((tokens / 31_232.0 - 1.0).abs() < 0.01, "{tokens}");
    assert!((ok.max_concurrency.unwrap() - 1.56).abs() < 0.02);
    // Above 32K chunked prefill switches on (arg_utils.py:1000-1012) and the profile shrinks:
    // 35,000 started in the same issue.
    assert_eq!(llama_3090("0.6.4", 35000).starts, Some(true));
    // The verdict speaks the engine's language.
    let line = ok.verdict().unwrap();
    assert!(line.starts_with("starts; 31,") && line.ends_with("requests of 20,000 tokens at once"), "{line}");
}

/// The same workload (Llama-3.1-8B, RTX 3090, 20,000 tokens) under three accountings:
/// - 0.6.4 (`worker.py:201-217`): profile over 20,000 tokens, CUDA context counted.
/// - 0.8.5 V1 (`vllm/v1/worker/gpu_worker.py:177-210`): the same whole-device formula, but V1
///   profiles `max_num_batched_tokens` = 2048 on a 24 GB card (`engine/arg_utils.py:1596-1607`).
/// - 0.19.0 (`v1/worker/gpu_worker.py:366-420`): only this instance's non-torch growth counts.
/// - 0.21.0: CUDA graphs estimated and subtracted, utilization 0.92 (`envs.py:1654` flag
///   default on from 0.20/0.21, research note §1).
#[test]
fn the_same_workload_gets_the_budget_each_release_computes() {
    let v064 = llama_3090("0.6.4", 20000);
    let v085 = llama_3090("0.8.5", 20000);
    let v019 = llama_3090("0.19.0", 20000);
    let v021 = llama_3090("0.21.0", 20000);
    let kv = |r: &ServingReport| r.kv_cache_bytes.unwrap() as f64 / GIB;
    assert_eq!(v064.max_num_batched_tokens, 20000);
    assert_eq!(v085.max_num_batched_tokens, 2048);
    assert!(v064.activation_peak_bytes > 4 * v085.activation_peak_bytes);
    // 0.6.4 → 0.8.5: the smaller profile run gives back well over a GiB.
    assert!(kv(&v085) - kv(&v064) > 1.0, "{} {}", kv(&v064), kv(&v085));
    // 0.8.5 → 0.19: the same profile; the CUDA context no longer counts (0.35 → 0.25 GiB).
    // (0.19 also keeps the Triton top-k/top-p buffer, `ops/topk_topp_triton.py:1003-1008`.)
    assert!(v019.non_torch_bytes < v085.non_torch_bytes);
    let gained =
        (v085.non_torch_bytes + v085.activation_peak_bytes) - (v019.non_torch_bytes + v019.activation_peak_bytes);
    assert_eq!(v019.kv_cache_bytes.unwrap() - v085.kv_cache_bytes.unwrap(), gained);
    // 0.21: utilization 0.92 and the graphs come out of the budget.
    assert!((v021.gpu_memory_utilization - 0.92).abs() < 1e-9);
    assert!(v021.cuda_graph_counted && !v019.cuda_graph_counted);
    let expected = kv(&v019) + 0.02 * 25_318_832_210.0 / GIB - v021.cuda_graph_bytes as f64 / GIB;
    assert!((kv(&v021) - expected).abs() < 0.01, "{} vs {expected}", kv(&v021));
    // Each names its accounting.
    assert!(v064.version.contains("whole device") && v019.version.contains("this instance"));
}

/// llm-d-planner v0.19.0, Llama-3.1-8B on an H100 at utilization 0.95: "Available KV cache
/// memory: 58.11 GiB", 476,016 tokens, 58.11x at 8,192; fp8 doubles the tokens
/// (`kv_cache_interface.py:29` page size uses the cache dtype).
#[test]
fn llama_on_an_h100_matches_the_v0_19_log_and_fp8_doubles_the_tokens() {
    let w = json!({"runtime": "vllm", "max-model-len": 8192, "gpu-memory-utilization": 0.95});
    let r = serving("llama-3.1-8b", "H100-SXM", w.clone());
    assert!((r.kv_cache_bytes.unwrap() as f64 / GIB - 58.11).abs() / 58.11 < 0.01);
    assert!((r.kv_tokens.unwrap() as f64 / 476_016.0 - 1.0).abs() < 0.01);
    assert_eq!(r.kv_bytes_per_token, 32 * 2 * 8 * 128 * 2);
    let mut w8 = w;
    w8["kv-cache-dtype"] = json!("fp8");
    let r8 = serving("llama-3.1-8b", "H100-SXM", w8);
    assert_eq!(r8.kv_bytes_per_token * 2, r.kv_bytes_per_token);
    assert_eq!(r8.kv_tokens.unwrap() / 16, 2 * (r.kv_tokens.unwrap() / 16) + (r8.kv_tokens.unwrap() / 16) % 2);
}

/// KV heads are split over TP ranks and replicated once TP exceeds them
/// (`max(1, kv_heads // tp)`); MLA caches one latent per token, on every rank.
#[test]
fn pages_follow_tensor_parallel_and_mla() {
    let per_token = |model: &str, tp: u64| {
        serving(model, "H100-SXM", json!({"runtime": "vllm", "tp": tp, "max-model-len": 4096})).kv_bytes_per_token
    };
    assert_eq!(per_token("llama-3.1-8b", 2) * 2, per_token("llama-3.1-8b", 1));
    assert_eq!(per_token("llama-3.1-8b", 8), 32 * 2 * 128 * 2);
    assert_eq!(per_token("llama-3.1-8b", 16), per_token("llama-3.1-8b", 8), "8 KV heads replicated at TP16");
    // DeepSeek-V2-Lite: 27 layers × (kv_lora_rank 512 + rope 64) × 2 B, the same at any TP.
    assert_eq!(per_token("deepseek-v2-lite", 1), 27 * 576 * 2);
    assert_eq!(per_token("deepseek-v2-lite", 4), 27 * 576 * 2);
}

/// Gemma-2's sliding-window layers: 0.9.2+ groups them apart and a request needs only
/// `window − 1 + max_num_batched_tokens` of them (`kv_cache_interface.py:113`), so the
/// concurrency beats tokens / max_model_len; 0.8.5 sized every layer as full attention.
/// llm-d-planner v0.19.0: 670,160 tokens, 81.73x at 8,192 with utilization 0.95.
#[test]
fn sliding_windows_are_grouped_from_0_9_2() {
    let w = |v: &str| json!({"runtime": "vllm", "runtime-version": v, "max-model-len": 8192, "gpu-memory-utilization": 0.95});
    let new = serving("gemma-2-2b", "H100-SXM", w("0.19.0"));
    assert!((new.kv_tokens.unwrap() as f64 / 670_160.0 - 1.0).abs() < 0.01, "{:?}", new.kv_tokens);
    assert!((new.max_concurrency.unwrap() / 81.73 - 1.0).abs() < 0.01, "{:?}", new.max_concurrency);
    let old = serving("gemma-2-2b", "H100-SXM", w("0.8.5"));
    let ratio = old.max_concurrency.unwrap() * 8192.0 / old.kv_tokens.unwrap() as f64;
    assert!((ratio - 1.0).abs() < 1e-3, "0.8.5: concurrency = tokens / max_model_len");
}

/// V1's refusal text and its own estimate of the longest context
/// (`kv_cache_utils.py:619-653`), and the settings that would start.
#[test]
fn v1_refusals_name_the_longest_context_and_the_utilization_that_starts() {
    let r = serving("llama-3.1-8b", "RTX-3090", json!({"runtime": "vllm", "max-model-len": 131_072}));
    assert_eq!(r.starts, Some(false));
    let e = r.error.as_deref().unwrap();
    assert!(e.starts_with("To serve at least one request with the models's max seq len (131072)"), "{e}");
    assert!(e.contains("the estimated maximum model length is"), "{e}");
    let largest = r.largest_max_model_len.unwrap();
    assert!(largest < 131_072 && largest > 20_000, "{largest}");
    let at_largest = serving("llama-3.1-8b", "RTX-3090", json!({"runtime": "vllm", "max-model-len": largest})).starts;
    let past = serving("llama-3.1-8b", "RTX-3090", json!({"runtime": "vllm", "max-model-len": largest + 16})).starts;
    assert_eq!((at_largest, past), (Some(true), Some(false)));
    // No utilization rescues 131K on 24 GB.
    assert_eq!(r.gpu_memory_utilization_to_start, None);
    assert!(!r.advice().is_empty());
}

/// Without a GPU the engine's budget is unknown: the report gives the least KV one request
/// needs and no verdict.
#[test]
fn without_a_gpu_there_is_no_verdict() {
    let req: EstimateRequest = serde_json::from_value(
        json!({"model": "llama-3.1-8b", "workload": {"runtime": "vllm", "max-model-len": 4096}}),
    )
    .unwrap();
    let v = req.run().unwrap();
    assert_eq!(v["serving"]["starts"], Value::Null);
    assert_eq!(v["serving"]["kv_tokens"], Value::Null);
    assert_eq!(v["workload"]["task"], json!("serve"));
}

/// Serving flags are refused on other runtimes, naming the flag; the engines refuse other tasks.
#[test]
fn engine_flags_need_an_engine() {
    let bad = |w: Value| {
        // A value the flag's table refuses fails as the request is read; others when it runs.
        let req = json!({"model": "llama-3.1-8b", "workload": w}).to_string();
        parse_json::<EstimateRequest>(&req).and_then(|r| r.run().map_err(|e| e.to_string())).unwrap_err()
    };
    assert!(bad(json!({"max-model-len": 4096})).starts_with("--max-model-len"));
    assert!(bad(json!({"gpu-memory-utilization": 0.5})).starts_with("--gpu-memory-utilization"));
    assert!(bad(json!({"runtime": "vllm", "task": "train"})).starts_with("--task"));
    assert!(bad(json!({"runtime": "vllm", "gpu-memory-utilization": 1.5})).starts_with("--gpu-memory-utilization"));
    assert!(bad(json!({"runtime": "vllm", "runtime-version": "abc"})).starts_with("--runtime-version"));
    assert!(bad(json!({"runtime": "vllm", "kv-cache-dtype": "int3"})).starts_with("--kv-cache-dtype"));
    assert!(bad(json!({"runtime": "sglang", "max-model-len": 0})).starts_with("--max-model-len"));
}

/// SGLang: `max_total_num_tokens = (free_at_start × mem_fraction_static − weights) // cell`
/// (`model_runner.py:1367-1447`, sglang 0.5.6): the pool grows by exactly the extra fraction.
#[test]
fn sglang_pool_tokens_follow_mem_fraction_static() {
    let at = |f: f64| serving("llama-3.1-8b", "H100-SXM", json!({"runtime": "sglang", "mem-fraction-static": f}));
    let (a, b) = (at(0.8), at(0.9));
    assert_eq!(a.kv_bytes_per_token, 32 * 2 * 8 * 128 * 2);
    let grown = (b.kv_tokens.unwrap() - a.kv_tokens.unwrap()) as f64 * a.kv_bytes_per_token as f64;
    let free = (85_029_615_043u64 - 35 * (1u64 << 30) / 100) as f64;
    assert!((grown / (0.1 * free) - 1.0).abs() < 1e-3, "{grown}");
    assert_eq!(a.starts, Some(true));
    let none = at(0.1);
    assert_eq!(none.starts, Some(false));
    assert!(none.error.unwrap().starts_with("Not enough memory. Please try to increase --mem-fraction-static."));
}

/// SGLang by release, same workload (Llama-3.1-8B, one H100, no fraction given): the pool
/// formula is the same in 0.4.3.post2 (`model_runner.py:548-573`), 0.4.9 (`:928-963`) and
/// 0.5.6 (`:1367-1447`); the default `mem_fraction_static` is not: 0.88 for one GPU up to 0.4.7
/// (`server_args.py` 0.4.3.post2:195-205), `(81559 − 10240) / 81559 = 0.874` in 0.4.9
/// (`:280-319`), and 0.5.6's chunk-and-graphs rule (`:724-862`). The docs notebook of
/// 2025-01-23 printed 444,500 tokens with the 0.88 default on an H100.
#[test]
fn sglang_default_fraction_follows_the_release() {
    let at = |v: &str| serving("llama-3.1-8b", "H100-SXM", json!({"runtime": "sglang", "runtime-version": v}));
    let (old, mid, cur) = (at("0.4.3"), at("0.4.9"), at("current"));
    assert_eq!(old.gpu_memory_utilization, 0.88);
    assert_eq!(mid.gpu_memory_utilization, 0.874);
    assert!(cur.gpu_memory_utilization < mid.gpu_memory_utilization);
    let (t_old, t_mid, t_cur) = (old.kv_tokens.unwrap(), mid.kv_tokens.unwrap(), cur.kv_tokens.unwrap());
    assert!(t_old > t_mid && t_mid > t_cur, "{t_old} {t_mid} {t_cur}");
    assert!((t_old as f64 / 444_500.0 - 1.0).abs() < 0.01, "{t_old}");
    assert!(old.version.contains("by GPU count") && mid.version.contains("by GPU size"));
}

/// SGLang measures free memory after `init_torch_distributed`: NVLink ranks lose about 2 GiB
/// to NCCL and the custom all-reduce (sglang#11716, H200 TP8), PCIe-only ranks 0.13 GiB
/// ("Custom allreduce is disabled because it's not supported on more than two PCIe-only
/// GPUs", 4 × L4, llms-in-clouds / sglang#4127). The same TP4 run keeps more pool on PCIe.
#[test]
fn sglang_distributed_init_follows_the_interconnect() {
    let on =
        |gpu: &str| serving("qwen2.5-32b", gpu, json!({"runtime": "sglang", "tp": 4, "mem-fraction-static": 0.85}));
    let (nvlink, pcie) = (on("4xH100-SXM"), on("4xL40S"));
    let gib = |x: f64| (x * GIB) as u64;
    assert_eq!(nvlink.non_torch_bytes, gib(0.35) + gib(2.01), "{}", nvlink.non_torch_formula);
    assert_eq!(pcie.non_torch_bytes, gib(0.35) + gib(0.13), "{}", pcie.non_torch_formula);
    assert!(nvlink.non_torch_formula.contains("NVLink") && pcie.non_torch_formula.contains("PCIe"));
    // One GPU has no distributed init at all.
    let one = serving("qwen2.5-7b", "L40S", json!({"runtime": "sglang"}));
    assert_eq!(one.non_torch_bytes, gib(0.35));
}

/// Another process's memory (`--other-processes-memory`, a desktop on the same card) counts
/// where the release counts it:
/// - SGLang: `total_gpu_memory` is the free memory after `init_torch_distributed`
///   (model_runner.py 0.4.2:260-262, utils.py `get_available_gpu_memory` 0.4.2:172-189), so the
///   pool loses `mem_fraction_static` × the other process's bytes (`profile_max_num_token`,
///   0.4.2:535-560: `rest = free_after_weights − free_at_start × (1 − f)`).
/// - vLLM 0.6.4 / V1 0.8.5: `non_torch = (total − free) − torch allocated` (worker.py
///   0.6.4:203-212, v1/worker/gpu_worker.py 0.8.5:200-207) includes it: the cache loses all of it.
/// - vLLM 0.19 (`this instance` accounting): the budget is unchanged, but `request_memory`
///   (v1/worker/utils.py 0.19.0:404-421) refuses to start when the free memory is below
///   `utilization × total`.
#[test]
fn other_processes_count_where_the_release_counts_them() {
    let with = |runtime: &str, version: &str, other: Option<&str>, util: f64| {
        let mut w = json!({"runtime": runtime, "runtime-version": version, "max-model-len": 8192,
            "gpu-memory-utilization": util});
        if let Some(o) = other {
            w["other-processes-memory"] = json!(o);
        }
        serving("llama-3.1-8b", "RTX-3090", w)
    };
    let gib = |r: &ServingReport| r.kv_cache_bytes.unwrap() as f64 / GIB;
    // SGLang: 0.88 of the 1 GiB comes out of the pool; the non-torch line names it.
    let (alone, desk) = (with("sglang", "0.4.2", None, 0.88), with("sglang", "0.4.2", Some("1GiB"), 0.88));
    assert!((gib(&alone) - gib(&desk) - 0.88).abs() < 1e-6, "{} {}", gib(&alone), gib(&desk));
    assert_eq!(desk.non_torch_bytes - alone.non_torch_bytes, 1 << 30);
    assert!(desk.non_torch_formula.contains("other processes 1.00 GiB"), "{}", desk.non_torch_formula);
    // vLLM 0.6.4 and 0.8.5 V1: all of it.
    for v in ["0.6.4", "0.8.5"] {
        let (alone, desk) = (with("vllm", v, None, 0.9), with("vllm", v, Some("1GiB"), 0.9));
        assert!((gib(&alone) - gib(&desk) - 1.0).abs() < 1e-6, "{v}: {} {}", gib(&alone), gib(&desk));
        assert!(desk.starts == Some(true));
    }
    // vLLM 0.19: the same cache; a start-up refusal once the free memory is below 0.9 × total
    // (23.58 GiB − 0.35 context − 3 GiB < 21.22 GiB).
    let (alone, desk) = (with("vllm", "0.19.0", None, 0.9), with("vllm", "0.19.0", Some("1GiB"), 0.9));
    assert_eq!(alone.kv_cache_bytes, desk.kv_cache_bytes);
    assert_eq!(desk.starts, Some(true));
    let crowded = with("vllm", "0.19.0", Some("3GiB"), 0.9);
    assert_eq!(crowded.starts, Some(false));
    let err = crowded.error.unwrap();
    assert!(
        err.starts_with("Free memory on device cuda:0 (") && err.contains("reduce GPU memory used by other processes")
    );
    // A lower utilization starts: (23.58 − 0.35 − 3) / 23.58 = 0.858 is the most the free
    // memory allows, and the cache of an 8,192-token request fits well below it.
    let lower = crowded.gpu_memory_utilization_to_start.expect("a utilization that starts");
    assert!(lower <= 0.85, "{lower}");
    // 0.8.5 has no such check (its init_device takes the free memory and goes on).
    assert_eq!(with("vllm", "0.8.5", Some("3GiB"), 0.9).starts, Some(true));
}

/// `fit` names the longest length that starts, the plans over the engine's levers, and the
/// concurrency limits (`--batch` = requests of max_model_len wanted at once).
#[test]
fn fit_names_the_longest_length_and_the_plans_that_start() {
    let req: EstimateRequest = serde_json::from_value(json!({"model": "llama-3.1-8b", "gpu": "RTX-3090",
        "workload": {"runtime": "vllm", "runtime-version": "0.6.4", "max-model-len": 29000}}))
    .unwrap();
    let v = req.fit().unwrap();
    assert_eq!(v["as_asked"]["fits"], json!(false));
    assert_eq!(v["as_asked"]["serving"]["starts"], json!(false));
    let plans = v["plans"].as_array().unwrap();
    let shorter = plans
        .iter()
        .filter_map(|p| p["flags"].as_str()?.strip_prefix("--max-model-len ")?.parse::<u64>().ok())
        .find(|&l| l < 29_000)
        .expect("a shorter max_model_len plan");
    // #10517 started at 20,000; the longest below 29,000 lies between.
    assert!((20_000..29_000).contains(&shorter), "{shorter}");
    assert!(plans.iter().all(|p| p["serving"]["starts"] == json!(true)));
    assert!(plans.iter().any(|p| p["flags"] == json!("--kv-cache-dtype fp8")));
    // Above 32K chunked prefill shrinks 0.6.4's profile run: a longer context starts too.
    assert!(v["limits"]["max_model_len"].as_u64().unwrap() > 32_768);
    // Four requests of 16K on the current release: the limits say how long they can be.
    let req: EstimateRequest = serde_json::from_value(json!({"model": "llama-3.1-8b", "gpu": "RTX-3090",
        "workload": {"runtime": "vllm", "max-model-len": 16384, "batch": 4}}))
    .unwrap();
    let v = req.fit().unwrap();
    let at4 = v["limits"]["max_model_len_at_concurrency"].as_u64().unwrap();
    let tokens = v["as_asked"]["serving"]["kv_tokens"].as_u64().unwrap();
    assert!(at4 <= tokens / 4 && at4 + 16 > tokens / 4 - 16, "{at4} vs {tokens}");
    assert_eq!(v["as_asked"]["fits"], json!(at4 >= 16_384));
}
