//! Integration tests of the `vramfit` binary (one test binary).

// The tests say SKIPPED on stderr when they run without ../shared on purpose.
#![allow(clippy::print_stderr)]

// The I/O crate's loopback fake Hub and tiny checkpoints, shared rather than copied.
mod campaign;
mod defects;
mod fit;
mod golden;
mod hostile;
mod hybrid;
#[path = "../../vramfit-io/tests/util.rs"]
#[allow(dead_code)]
mod io_util;
mod mmproj;
#[path = "../../vramfit-io/tests/server.rs"]
mod server;
mod sources;
mod sweep;

use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

pub(crate) fn vramfit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vramfit")).args(args).output().expect("run vramfit")
}

pub(crate) fn json(args: &[&str]) -> Value {
    let out = vramfit(args);
    assert!(out.status.success(), "{:?}: {}", args, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

pub(crate) fn stderr_of(args: &[&str]) -> String {
    let out = vramfit(args);
    assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2; stdout: {}", String::from_utf8_lossy(&out.stdout));
    let e = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!e.contains("panicked"), "{e}");
    e
}

/// The shared validation cases (`../shared` beside this checkout).
fn shared_cases() -> Option<PathBuf> {
    shared_file(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/validation/cases.json"))
}

/// A file of `../shared`: a missing one fails the test, loudly, unless `VRAMFIT_NO_SHARED=1`
/// says this checkout runs without the shared directory on purpose (then the test says SKIPPED).
fn shared_file(p: &std::path::Path) -> Option<PathBuf> {
    if p.exists() {
        return Some(p.to_path_buf());
    }
    assert!(
        std::env::var_os("VRAMFIT_NO_SHARED").is_some(),
        "{} is missing: put the shared directory beside this checkout, or set VRAMFIT_NO_SHARED=1 to run without its cases",
        p.display()
    );
    eprintln!("SKIPPED (VRAMFIT_NO_SHARED): {} is not beside this checkout", p.display());
    None
}

#[test]
fn estimate_json_has_the_documented_fields() {
    let v = json(&["estimate", "llama-7b", "--gpu", "T4", "--json"]);
    for key in ["total_bytes", "levels", "components", "peak_phase", "fits", "headroom_bytes"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for level in ["allocated", "reserved", "device"] {
        assert!(v["levels"][level].as_u64().unwrap() > 13_000_000_000);
    }
    for c in v["components"].as_array().unwrap() {
        for key in ["name", "bytes", "formula", "source", "level"] {
            assert!(c.get(key).is_some(), "component lacks {key}: {c}");
        }
    }
    assert_eq!(v["fits"], Value::Bool(true));
    assert_eq!(v["total_bytes"], v["levels"]["device"]);
}

#[test]
fn the_original_question() {
    // LLaMA-7B in fp32: ~27 GB of weights, does not fit a 16 GB T4.
    let v = json(&["estimate", "llama-7b", "--gpu", "T4", "--dtype", "fp32", "--json"]);
    assert_eq!(v["fits"], Value::Bool(false));
    assert!(v["headroom_bytes"].as_i64().unwrap() < -10_000_000_000);
    // fp16 fits; nf4 fits with more headroom.
    let fp16 = json(&["estimate", "llama-7b", "--gpu", "T4", "--dtype", "fp16", "--json"]);
    let nf4 = json(&["estimate", "llama-7b", "--gpu", "T4", "--quant", "nf4", "--json"]);
    assert_eq!(fp16["fits"], Value::Bool(true));
    assert!(nf4["headroom_bytes"].as_i64().unwrap() > fp16["headroom_bytes"].as_i64().unwrap() + 8_000_000_000);
}

#[test]
fn table_report_snapshot() {
    let out = vramfit(&["estimate", "llama-7b", "--gpu", "T4"]);
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn explain_shows_formulas_with_numbers() {
    let out =
        String::from_utf8(vramfit(&["estimate", "llama-2-7b", "--explain", "--prompt", "1000", "--new", "1"]).stdout)
            .unwrap();
    assert!(out.contains("6,738,415,616 × 2"), "{out}");
    assert!(out.contains("source:"));
}

#[test]
fn inspect_explains_disk_versus_memory() {
    let out = String::from_utf8(vramfit(&["inspect", "llama-7b"]).stdout).unwrap();
    assert!(out.contains("6,738,415,616"), "{out}");
    assert!(out.contains("13.48") && out.contains("26.95"), "{out}");
    let v = json(&["inspect", "llama-7b", "--json"]);
    assert_eq!(v["params"], 6_738_415_616u64);
    assert!(v["by_component"].as_array().unwrap().len() >= 5);
}

#[test]
fn catalogs_list() {
    assert!(json(&["models", "--json"]).as_array().unwrap().len() >= 40);
    assert!(json(&["gpus", "--json"]).as_array().unwrap().len() >= 40);
}

#[test]
fn bad_input_exits_2_with_the_flag_to_fix() {
    assert!(stderr_of(&["estimate", "llama-7b", "--batch", "0"]).contains("--batch"));
    assert!(stderr_of(&["estimate", "llama-7b", "--quant", "int3"]).contains("--quant"));
    assert!(stderr_of(&["estimate", "llama-7b", "--dtype", "fp8", "--gpu", "T4"]).contains("fp8"));
    assert!(stderr_of(&["estimate", "llama-7b", "--dtype", "bf16", "--gpu", "V100-16GB"]).contains("bf16"));
    assert!(stderr_of(&["estimate", "llama-7b", "--gpu", "T5"]).contains("--gpu"));
    assert!(stderr_of(&["estimate", "lama-7b"]).contains("did you mean"));
    assert!(stderr_of(&["estimate", "llama-7b", "--task", "fly"]).contains("--task"));
    assert!(stderr_of(&["estimate", "llama-7b", "--batch", "-3"]).contains("batch"));
    assert!(stderr_of(&["validate", "/nonexistent/cases.json"]).contains("cannot read"));
    assert!(stderr_of(&["estimate", "llama-7b", "--quant", "nf4", "--gpu", "M2-Ultra-192GB"]).contains("--quant"));
    assert!(stderr_of(&["estimate", "llama-7b", "--task", "train", "--precision", "mixed-bf16", "--gpu", "T4"])
        .contains("bf16"));
    assert!(stderr_of(&["estimate", "llama-7b", "--gpus", "4", "--tp", "3"]).contains("--tp"));
    assert!(stderr_of(&["estimate", "llama-7b", "--task", "train", "--offload", "cpu", "--gpus", "2"])
        .contains("--offload"));
}

#[test]
fn local_config_files_work_and_bad_ones_name_the_key() {
    let dir = std::env::temp_dir().join(format!("vramfit-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("config.json");
    std::fs::write(&good, r#"{"model_type":"llama","hidden_size":512,"intermediate_size":1024,"num_hidden_layers":4,"num_attention_heads":8,"vocab_size":1000,"torch_dtype":"bfloat16"}"#).unwrap();
    let v = json(&["estimate", dir.to_str().unwrap(), "--json"]);
    assert!(v["total_bytes"].as_u64().unwrap() > 0);
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"model_type":"llama","hidden_size":512}"#).unwrap();
    let e = stderr_of(&["estimate", bad.to_str().unwrap()]);
    assert!(e.contains("missing key"), "{e}");
    let gptq = dir.join("gptq.json");
    std::fs::write(&gptq, r#"{"model_type":"llama","hidden_size":512,"intermediate_size":1024,"num_hidden_layers":4,"num_attention_heads":8,"vocab_size":1000,"quantization_config":{"quant_method":"gptq","bits":4,"group_size":128}}"#).unwrap();
    assert!(stderr_of(&["estimate", gptq.to_str().unwrap(), "--quant", "nf4"]).contains("already quantized"));
    std::fs::write(&bad, r#"{"model_type":"mamba"}"#).unwrap();
    assert!(stderr_of(&["inspect", bad.to_str().unwrap()]).contains("supported"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn validate_reads_the_shared_format_and_meets_the_inference_bar() {
    let Some(cases) = shared_cases() else { return };
    let v = json(&["validate", cases.to_str().unwrap(), "--json"]);
    let list = v["cases"].as_array().unwrap();
    assert!(list.len() >= 50);
    let mut inference_errors = vec![];
    for c in list {
        for key in ["id", "estimate_bytes", "measured_bytes", "skipped", "error"] {
            assert!(c.get(key).is_some(), "{c}");
        }
        let task = c["task"].as_str().unwrap();
        let single_gpu = !c["skipped"].as_str().unwrap_or("").contains("multi-GPU");
        let published = !c["skipped"].as_str().unwrap_or("").starts_with("case says");
        if ["load", "prefill", "generate"].contains(&task) && single_gpu && published {
            let e = c["error"].as_f64().unwrap_or_else(|| panic!("inference case not estimated: {c}"));
            inference_errors.push(e);
        }
    }
    assert!(inference_errors.len() >= 15, "{}", inference_errors.len());
    let mut abs: Vec<f64> = inference_errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let median = abs[abs.len() / 2];
    assert!(median <= 0.08, "median |error| {median}");
    assert!(inference_errors.iter().all(|&e| e >= -0.15), "an under-estimate beyond 15%: {inference_errors:?}");
    let s = &v["summary"];
    for key in ["n", "median_abs_error", "p90_abs_error", "under_10"] {
        assert!(s.get(key).is_some());
    }
}

#[test]
fn validate_explains_selected_cases() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../validation/oracle/cases.json");
    let f = file.to_str().unwrap();
    let out = vramfit(&["validate", f, "--case", "ORC-gpt2-load-fp32", "--explain"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("== ORC-gpt2-load-fp32") && text.contains("weights") && text.contains("estimated 1 cases"),
        "{text}"
    );
    let v = json(&["validate", f, "--case", "ORC-gpt2-", "--json"]);
    let ids: Vec<&str> = v["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.len() > 3 && ids.iter().all(|i| i.contains("ORC-gpt2-")), "{ids:?}");
    let out = vramfit(&["validate", f, "--case", "no-such-case"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--case"));
}

fn thresholds() -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../validation/thresholds.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn abs_sorted(errors: &[f64]) -> Vec<f64> {
    let mut a: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    a.sort_by(f64::total_cmp);
    a
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn errors(v: &Value, keep: impl Fn(&Value) -> bool) -> Vec<f64> {
    v["cases"].as_array().unwrap().iter().filter(|c| keep(c)).filter_map(|c| c["error"].as_f64()).collect()
}

#[test]
fn oracle_accuracy_gate() {
    let t = &thresholds()["oracle"];
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(t["file"].as_str().unwrap());
    let v = json(&["validate", file.to_str().unwrap(), "--json"]);
    let e = errors(&v, |_| true);
    assert!(e.len() >= 20, "{} oracle cases estimated", e.len());
    let a = abs_sorted(&e);
    assert!(quantile(&a, 0.5) <= t["median"].as_f64().unwrap(), "median {}", quantile(&a, 0.5));
    assert!(quantile(&a, 0.9) <= t["p90"].as_f64().unwrap(), "p90 {}", quantile(&a, 0.9));
    assert!(a[a.len() - 1] <= t["max"].as_f64().unwrap(), "max {}", a[a.len() - 1]);
    let under = e.iter().filter(|&&x| x < -0.10).count() as u64;
    assert!(under <= t["under_10"].as_u64().unwrap(), "{under} under-estimates beyond 10 %");
    let worst = e.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(worst >= t["min_error"].as_f64().unwrap(), "an oracle case is under-estimated by {worst}");
}

/// Issue 17: decode and prefill estimates per backend against the published speed cases.
#[test]
fn speed_accuracy_gate() {
    let t = &thresholds()["speed"];
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(t["file"].as_str().unwrap());
    let v = json(&["validate", file.to_str().unwrap(), "--json"]);
    let mut gated = 0;
    for (metric, key) in [("decode_tokens_per_s", "decode"), ("prefill_tokens_per_s", "prefill")] {
        for backend in ["llama.cpp-cuda", "llama.cpp-metal"] {
            let e = errors(&v, |c| c["metric"] == metric && c["backend"] == backend);
            assert!(e.len() >= 10, "{} {metric} cases on {backend}", e.len());
            let a = abs_sorted(&e);
            let (m, p) = (quantile(&a, 0.5), quantile(&a, 0.9));
            assert!(m <= t[format!("{key}_median")].as_f64().unwrap(), "{backend} {metric} median {m}");
            assert!(p <= t[format!("{key}_p90")].as_f64().unwrap(), "{backend} {metric} p90 {p}");
            gated += 1;
        }
    }
    assert_eq!(gated, 4);
}

#[test]
fn measured_accuracy_gate() {
    let Some(cases) = shared_cases() else { return };
    let t = thresholds();
    let v = json(&["validate", cases.to_str().unwrap(), "--json"]);
    let all = errors(&v, |_| true);
    let ta = &t["measured_all"];
    assert!(
        quantile(&abs_sorted(&all), 0.5) <= ta["median"].as_f64().unwrap(),
        "median {}",
        quantile(&abs_sorted(&all), 0.5)
    );
    let under = all.iter().filter(|&&x| x < -0.10).count() as u64;
    assert!(under <= ta["under_10"].as_u64().unwrap(), "{under} measured cases under-estimated beyond 10 %");
    let single = |c: &Value| {
        !c["id"].as_str().unwrap_or("").contains("gpu") && !c["id"].as_str().unwrap_or("").contains("xA100")
    };
    let inf = errors(&v, |c| c["task"] != "train");
    let a = abs_sorted(&inf);
    let ti = &t["measured_inference"];
    assert!(quantile(&a, 0.5) <= ti["median"].as_f64().unwrap(), "inference median {}", quantile(&a, 0.5));
    assert!(quantile(&a, 0.9) <= ti["p90"].as_f64().unwrap(), "inference p90 {}", quantile(&a, 0.9));
    assert!(inf.iter().all(|&x| x >= ti["min_error"].as_f64().unwrap()), "{inf:?}");
    let train = errors(&v, |c| c["task"] == "train" && single(c) && c["runtime"] != "deepspeed");
    let a = abs_sorted(&train);
    let tt = &t["measured_training_single_gpu"];
    assert!(train.len() >= 20, "{}", train.len());
    assert!(quantile(&a, 0.5) <= tt["median"].as_f64().unwrap(), "training median {}", quantile(&a, 0.5));
    let under = train.iter().filter(|&&x| x < -0.15).count() as f64;
    assert!(
        under / train.len() as f64 <= tt["under_15_share"].as_f64().unwrap(),
        "{under} of {} under by > 15 %",
        train.len()
    );
}

/// Serving engines' start-up figures, each metric on its own (thresholds.json "serving").
#[test]
fn serving_accuracy_gate() {
    let t = &thresholds()["serving"];
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(t["file"].as_str().unwrap());
    if file.starts_with("../shared") || t["file"].as_str().unwrap().starts_with("../shared") {
        if shared_file(&file).is_none() {
            return;
        }
    } else {
        assert!(file.exists(), "{} is missing", file.display());
    }
    let v = json(&["validate", file.to_str().unwrap(), "--json"]);
    // A log whose two figures cannot come from one worker (the KV bytes of one, the token count
    // of the minimum over workers) is left out of the over-estimate count, but only while the
    // estimator prices a token at the model's size and the log's pair contradicts it by > 10 %.
    let case = |id: &str| v["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    let mut inconsistent = Vec::new();
    for log in t["vllm_kv_tokens"]["inconsistent_logs"].as_array().into_iter().flatten() {
        let (tok, byt) = (case(log["tokens_case"].as_str().unwrap()), case(log["bytes_case"].as_str().unwrap()));
        let per_token = log["bytes_per_token"].as_f64().unwrap();
        let estimated = byt["estimate_bytes"].as_f64().unwrap() / tok["estimate_tokens"].as_f64().unwrap();
        assert!((estimated / per_token - 1.0).abs() < 0.001, "the estimator prices a token at {estimated} B");
        let printed = byt["measured_bytes"].as_f64().unwrap() / tok["measured_tokens"].as_f64().unwrap();
        assert!(printed / per_token - 1.0 > 0.10, "the log's pair is consistent ({printed} B/token): count it");
        inconsistent.push(tok["id"].as_str().unwrap().to_string());
    }
    for (metric, gate) in t.as_object().unwrap().iter().filter(|(k, _)| k.starts_with("vllm_")) {
        let e = errors(&v, |c| c["metric"] == metric.as_str());
        assert!(e.len() >= 5, "{metric}: only {} cases estimated", e.len());
        let median = quantile(&abs_sorted(&e), 0.5);
        assert!(median <= gate["median"].as_f64().unwrap(), "{metric}: median {median}");
        if let Some(allowed) = gate["over_10"].as_u64() {
            let counted =
                errors(&v, |c| c["metric"] == metric.as_str() && !inconsistent.iter().any(|id| c["id"] == id.as_str()));
            let over = counted.iter().filter(|&&x| x > 0.10).count() as u64;
            assert!(over <= allowed, "{metric}: {over} over-estimates beyond 10 %: {e:?}");
        }
    }
    // Token and ratio cases carry their own estimate fields.
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.iter().any(|c| c["estimate_tokens"].is_u64() && c["measured_tokens"].is_u64()));
    assert!(cases.iter().any(|c| c["estimate_value"].is_f64()));
    assert!(v["by_metric"]["vllm_kv_tokens"]["n"].as_u64().unwrap() >= 5);
}

/// SGLang's KV pool from `mem_fraction_static`, checked against start-up logs from several
/// public sources (issue 14: at least five).
#[test]
fn sglang_accuracy_gate() {
    let t = &thresholds()["sglang"];
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(t["file"].as_str().unwrap());
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let gate = &t["sglang_kv_tokens"];
    let sources: std::collections::BTreeSet<&str> = cases
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["measured"]["metric"] == "sglang_kv_tokens")
        .map(|c| c["source"].as_str().unwrap())
        .collect();
    assert!(sources.len() as u64 >= gate["sources"].as_u64().unwrap(), "only {} logs: {sources:?}", sources.len());
    let v = json(&["validate", file.to_str().unwrap(), "--json"]);
    let e = errors(&v, |c| c["metric"] == "sglang_kv_tokens");
    assert_eq!(e.len(), sources.len(), "every log's pool is estimated");
    let median = quantile(&abs_sorted(&e), 0.5);
    assert!(median <= gate["median"].as_f64().unwrap(), "median {median}");
    let over = e.iter().filter(|&&x| x > 0.10).count() as u64;
    assert!(over <= gate["over_10"].as_u64().unwrap(), "{over} over-estimates beyond 10 %: {e:?}");
}

/// The issue's question on the command line: vLLM 0.6.4 refused 29,000 tokens on an RTX 3090.
#[test]
fn vllm_0_6_4_refuses_29000_tokens_on_an_rtx_3090() {
    let argv = |len: &'static str| {
        vec![
            "estimate",
            "llama-3.1-8b",
            "--runtime",
            "vllm",
            "--runtime-version",
            "0.6.4",
            "--gpu",
            "RTX-3090",
            "--max-model-len",
            len,
        ]
    };
    let args = |len: &'static str| json(&[argv(len), vec!["--json"]].concat());
    let no = args("29000");
    assert_eq!(no["serving"]["starts"], Value::Bool(false));
    assert!(no["serving"]["error"].as_str().unwrap().contains("larger than the maximum number of tokens"));
    for key in [
        "engine",
        "version",
        "weights_bytes",
        "activation_peak_bytes",
        "non_torch_bytes",
        "cuda_graph_bytes",
        "kv_cache_bytes",
        "kv_tokens",
        "gpu_blocks",
        "block_size",
        "max_model_len",
        "max_concurrency",
        "starts",
        "error",
    ] {
        assert!(no["serving"].get(key).is_some(), "serving lacks {key}");
    }
    assert_eq!(args("20000")["serving"]["starts"], Value::Bool(true));
    let table = vramfit(&argv("20000"));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("→ starts; 31,") && text.contains("requests of 20,000 tokens at once"), "{text}");
    let e = stderr_of(&["estimate", "llama-3.1-8b", "--runtime", "vllm", "--gpu-memory-utilization", "2"]);
    assert!(e.contains("--gpu-memory-utilization"), "{e}");
    let e = stderr_of(&["estimate", "llama-3.1-8b", "--max-model-len", "4096"]);
    assert!(e.contains("--max-model-len") && e.contains("--runtime vllm"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any combination of flag values exits 0 or 2, never with a panic.
    #[test]
    fn random_flags_never_panic(
        model in prop::sample::select(vec!["llama-7b", "mixtral-8x7b", "gpt2", "bert-base-uncased", "nope", "deepseek-v3"]),
        task in prop::sample::select(vec!["load", "prefill", "generate", "train", "merge", "x"]),
        dtype in prop::sample::select(vec!["fp32", "fp16", "bf16", "fp8", "int4"]),
        quant in prop::sample::select(vec!["", "int8", "nf4", "nf4-dq", "gptq-4bit", "awq-4bit", "q4_k_m", "fp8", "zzz"]),
        batch in prop::sample::select(vec!["0", "1", "7", "99999999999", "-1", "abc"]),
        prompt in prop::sample::select(vec!["0", "1", "4096", "100000000", "18446744073709551615"]),
        attn in prop::sample::select(vec!["eager", "sdpa", "flash", "none"]),
        gpu in prop::sample::select(vec!["", "T4", "4xA100-80GB", "0xT4", "24GiB", "1e400GB", "H100"]),
        engine in prop::sample::select(vec!["", "", "vllm", "sglang"]),
        len in prop::sample::select(vec!["1", "4096", "99999999999", "0"]),
    ) {
        let mut args = vec!["estimate", model, "--task", task, "--dtype", dtype, "--batch", batch, "--prompt", prompt, "--attn", attn, "--json"];
        if !engine.is_empty() { args.extend(["--runtime", engine, "--max-model-len", len]); }
        if !quant.is_empty() { args.extend(["--quant", quant]); }
        if !gpu.is_empty() { args.extend(["--gpu", gpu]); }
        let out = vramfit(&args);
        let code = out.status.code();
        prop_assert!(code == Some(0) || code == Some(2), "{args:?} exited {code:?}: {}", String::from_utf8_lossy(&out.stderr));
        prop_assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }

    /// `fit` and `sweep` with any flags exit 0 or 2, never with a panic.
    #[test]
    fn random_fit_and_sweep_flags_never_panic(
        model in prop::sample::select(vec!["llama-7b", "qwen3-0.6b", "gpt2", "bert-base-uncased", "mixtral-8x7b"]),
        task in prop::sample::select(vec!["load", "prefill", "generate", "train", "merge"]),
        dtype in prop::sample::select(vec!["", "fp32", "fp16", "bf16", "fp8"]),
        method in prop::sample::select(vec!["full", "lora", "qlora", "ia3"]),
        batch in prop::sample::select(vec!["1", "7", "1048576", "0"]),
        prompt in prop::sample::select(vec!["1", "4096", "16777216"]),
        gpu in prop::sample::select(vec!["T4", "4xA100-80GB", "8GiB", "H100-SXM", "RTX-3060-12GB"]),
        over in prop::sample::select(vec!["batch", "seq", "context"]),
        all in any::<bool>(),
    ) {
        let mut fit = vec!["fit", model, "--gpu", gpu, "--task", task, "--method", method, "--batch", batch, "--prompt", prompt, "--json"];
        if !dtype.is_empty() { fit.extend(["--dtype", dtype]); }
        if all { fit.push("--all"); }
        let mut sweep = vec!["sweep", model, "--over", over, "--gpu", gpu, "--task", task, "--method", method, "--batch", batch, "--prompt", prompt];
        if !dtype.is_empty() { sweep.extend(["--dtype", dtype]); }
        for args in [fit, sweep] {
            let out = vramfit(&args);
            let code = out.status.code();
            prop_assert!(code == Some(0) || code == Some(2), "{args:?} exited {code:?}: {}", String::from_utf8_lossy(&out.stderr));
            prop_assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
        }
    }
}

/// `estimate --svg`: the three levels as stacked bars, each stacking the components that
/// count in it, with the GPU's usable memory; the printed table is unchanged.
#[test]
fn estimate_svg_stacks_the_three_levels() {
    let dir = std::env::temp_dir().join(format!("vramfit-cli-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("levels.svg");
    let args = ["estimate", "llama-7b", "--gpu", "T4", "--task", "train", "--method", "lora"];
    let mut with_svg = args.to_vec();
    with_svg.extend(["--svg", path.to_str().unwrap()]);
    let out = vramfit(&with_svg);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, vramfit(&args).stdout);
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for level in [">allocated<", ">reserved<", ">device<", "T4 usable: 15.00 GiB"] {
        assert!(svg.contains(level), "{level} in {svg}");
    }
    let v = json(&args.iter().copied().chain(["--json"]).collect::<Vec<_>>());
    let parts: Vec<&Value> =
        v["components"].as_array().unwrap().iter().filter(|c| c["level"] != "host" && c["bytes"] != 0).collect();
    let rank = |l: &Value| ["allocated", "reserved", "device"].iter().position(|x| l == *x).unwrap();
    let stacked: usize = (0..3).map(|lv| parts.iter().filter(|c| rank(&c["level"]) <= lv).count()).sum();
    // One background, the stacked bars, one legend swatch per component.
    assert_eq!(svg.matches("<rect").count(), 1 + stacked + parts.len());
    assert!(stacked > parts.len(), "allocated components count in every level");
    assert!(stderr_of(&["estimate", "llama-7b", "--svg", "/nonexistent/dir/x.svg"]).contains("--svg"));
}

/// The seed's "in the Meta FAIR version we can adjust the max batch size to make it work on a
/// single T4", as commands.
#[test]
fn meta_reference_max_batch_size_decides_the_t4() {
    let example = json(&["estimate", "llama-7b", "--runtime", "meta-reference", "--gpu", "T4", "--json"]);
    assert_eq!(example["fits"], Value::Bool(false));
    let one = json(&[
        "estimate",
        "llama-7b",
        "--runtime",
        "meta-reference",
        "--max-batch-size",
        "1",
        "--gpu",
        "T4",
        "--json",
    ]);
    assert_eq!(one["fits"], Value::Bool(true));
    let kv = one["components"].as_array().unwrap().iter().find(|c| c["name"] == "kv_cache").unwrap();
    assert_eq!(kv["bytes"], 32u64 * 2 * 512 * 4096 * 2);
    let longer = json(&[
        "estimate",
        "llama-7b",
        "--runtime",
        "meta",
        "--max-batch-size",
        "1",
        "--max-seq-len",
        "2048",
        "--json",
    ]);
    let kv = longer["components"].as_array().unwrap().iter().find(|c| c["name"] == "kv_cache").unwrap();
    assert_eq!(kv["bytes"], 32u64 * 2 * 2048 * 4096 * 2);
    assert!(stderr_of(&["estimate", "llama-7b", "--max-batch-size", "1"]).starts_with("error: --max-batch-size"));
}

/// `--gpu` several times (or comma-separated) compares GPUs: the report is the first GPU's,
/// `compare` has each GPU's own estimate (a count changes how the work is shared) or why it
/// cannot run it.
#[test]
fn several_gpus_are_compared() {
    let v =
        json(&["estimate", "llama-2-13b", "--gpu", "T4", "--gpu", "2xA100-40GB,H100-SXM", "--dtype", "fp16", "--json"]);
    let single = json(&["estimate", "llama-2-13b", "--gpu", "T4", "--dtype", "fp16", "--json"]);
    assert_eq!(v["levels"], single["levels"], "the report is the first GPU's");
    let c = v["compare"].as_array().unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(c[0]["gpu"], "T4");
    assert_eq!(c[0]["fits"], Value::Bool(false));
    assert_eq!(c[1]["gpu"], "2×A100-40GB");
    assert_eq!(c[1]["count"], 2);
    let two = json(&["estimate", "llama-2-13b", "--gpu", "2xA100-40GB", "--dtype", "fp16", "--json"]);
    assert_eq!(c[1]["per_gpu_bytes"], two["per_gpu_bytes"], "each GPU has its own estimate");
    assert_eq!(c[2]["fits"], Value::Bool(true));
    // A GPU that cannot run it says why; the others still answer.
    let v = json(&["estimate", "llama-7b", "--gpu", "H100-SXM,T4", "--dtype", "fp8", "--json"]);
    assert!(v["compare"][1]["error"].as_str().unwrap().contains("no fp8 support"));
    let table = String::from_utf8(vramfit(&["estimate", "llama-7b", "--gpu", "T4,RTX-4090"]).stdout).unwrap();
    assert!(table.contains("GPUs compared") && table.contains("RTX-4090"), "{table}");
}

/// Web D13: on a GPU without bf16, `estimate` named the trainer's default "pure-bf16" while
/// `fit` started from fp16 (same bytes, two precisions). Both now start where `fit` does.
#[test]
fn estimate_and_fit_name_the_same_precision_on_a_gpu_without_bf16() {
    let args = ["mistral-7b-v0.1", "--gpu", "T4", "--task", "train", "--json"];
    let e = json(&[&["estimate"][..], &args[..]].concat());
    let f = json(&[&["fit"][..], &args[..]].concat());
    let a = &f["as_asked"];
    assert_eq!(e["workload"]["dtype"], "fp16");
    assert_eq!(e["workload"], a["workload"], "estimate runs what fit starts from");
    assert_eq!(e["components"], a["components"]);
    let notes = e["notes"].to_string();
    assert!(notes.contains("pure-fp16") && !notes.contains("pure-bf16"), "{notes}");
    assert!(notes.contains("this GPU has no bf16: starting from fp16"), "{notes}");
    // A GPU with bf16 keeps the checkpoint's dtype.
    let h = json(&["estimate", "mistral-7b-v0.1", "--gpu", "A100-80GB", "--task", "train", "--json"]);
    assert_eq!(h["workload"]["dtype"], serde_json::Value::Null);
    assert!(h["notes"].to_string().contains("pure-bf16"));
}
