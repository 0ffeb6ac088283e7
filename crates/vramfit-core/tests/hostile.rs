//! Hostile inputs from the reliability audit (shared/qa/reliability.md), built here rather than
//! committed: each is small, and each used to cost minutes, gigabytes, a panic or a wrong
//! answer. Now each is refused quickly with an error naming the limit it hit, or read in
//! linear time.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use vramfit_core::config::parse_config;
use vramfit_core::estimate::{Task, Workload};
use vramfit_core::formats::gguf::{self, GgufWriter};
use vramfit_core::formats::Parsed;
use vramfit_core::{estimate, ParamCount};

/// A catalog config.json as a JSON object.
pub fn catalog_config(file: &str) -> Value {
    let path = format!("{}/data/configs/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `config` with `key` set to `value`.
pub fn with(mut config: Value, key: &str, value: Value) -> String {
    config[key] = value;
    config.to_string()
}

fn refused_naming(text: &str, limit: &str) -> String {
    let t = Instant::now();
    let e = parse_config(text).expect_err("a hostile config must be refused").to_string();
    assert!(e.contains(limit), "{e}");
    assert!(!e.contains('\n'), "{e}");
    // Refusals take milliseconds; the bound is loose for a loaded CI machine (a T5 refusal
    // used to take 121 s and 6.5 GB).
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    e
}

/// Audit defect 1: a 1 KB T5 config asked for 16.7 M decoder layers (6.5 GB, 121 s).
#[test]
fn t5_decoder_layers_are_bounded_like_every_layer_count() {
    let c = with(catalog_config("google__flan-t5-xl.json"), "num_decoder_layers", json!(1u64 << 24));
    assert!(c.len() < 2048);
    let e = refused_naming(&c, "limit on layers");
    assert!(e.contains("num_decoder_layers"), "{e}");
}

/// Audit defect 3: the duplicate-key check was quadratic (200k keys: 236 s).
#[test]
fn gguf_with_many_keys_parses_in_linear_time() {
    let mut w = GgufWriter::new().string("general.architecture", "llama");
    for i in 0..200_000u32 {
        w = w.u32(&format!("k{i}"), i);
    }
    let bytes = w.tensor("token_embd.weight", &[32, 3], "Q8_0").build();
    let t = Instant::now();
    let Ok(Parsed::Done(f)) = gguf::parse_header(&bytes) else { panic!("parses") };
    assert_eq!(f.metadata.len(), 200_001);
    // Not a timing test (that is the bench's job): the bound only tells a linear parse (about a
    // second in a debug build on a loaded 2-core machine) from the quadratic one the audit
    // found (200,000² / 2 key comparisons: minutes).
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    // A duplicate is still found.
    let dup = GgufWriter::new().string("general.architecture", "llama").u32("k", 1).u32("k", 2).build();
    let e = gguf::parse_header(&dup).unwrap_err().to_string();
    assert!(e.contains("duplicate key"), "{e}");
}

/// Audit defect 4: 60 nested gemma3 text_configs around a 1M-element array cost 1.9 GB.
#[test]
fn nested_text_configs_and_huge_arrays_are_refused_before_they_cost_memory() {
    let text = catalog_config("google__gemma-3-4b-it.json");
    assert_eq!(text["model_type"], "gemma3_text");
    // One wrapper level is a real (multimodal) model and still reads.
    let one = json!({"model_type": "gemma3", "text_config": text, "torch_dtype": "bfloat16"});
    assert_eq!(parse_config(&one.to_string()).unwrap(), parse_config(&text.to_string()).unwrap());
    let mut inner = one;
    for _ in 0..12 {
        inner = json!({"model_type": "gemma3", "text_config": inner});
    }
    refused_naming(&inner.to_string(), "text_config nesting");
    for _ in 0..48 {
        inner = json!({"model_type": "gemma3", "text_config": inner});
    }
    refused_naming(&inner.to_string(), "JSON nesting");

    let big = with(catalog_config("meta-llama__Llama-3.1-8B.json"), "payload", json!(vec![0u8; 1_100_000]));
    assert!(big.len() < 3 << 20);
    refused_naming(&big, "limit on JSON values");
    let deep = format!("{{\"model_type\":\"llama\",\"x\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    refused_naming(&deep, "limit on JSON nesting");
}

/// Audit defect 6: `mlp_only_layers.contains` per layer (5 M entries: 60 s).
#[test]
fn mlp_only_layers_is_looked_up_in_constant_time() {
    let mut c = catalog_config("Qwen__Qwen3-30B-A3B.json");
    c["num_hidden_layers"] = json!(16_384);
    c["mlp_only_layers"] = json!((0..60_000u64).collect::<Vec<_>>());
    let t = Instant::now();
    let spec = parse_config(&c.to_string()).unwrap();
    assert!(spec.layers.iter().all(|l| !l.mlp.is_moe()), "every layer listed as dense");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    c["mlp_only_layers"] = json!(vec![1u64; 70_000]);
    refused_naming(&c.to_string(), "limit on list entries");
}

/// Audit defect 5: dimensions each within their limit whose products overflow 64 bits
/// (hidden 2^24, heads = head_dim = 2^20: every projection held 2^64 parameters, wrapped to
/// 0, and the model "fit" an RTX 4090).
#[test]
fn products_of_bounded_dimensions_are_checked() {
    let mut c = catalog_config("meta-llama__Llama-3.1-8B.json");
    c["hidden_size"] = json!(1u64 << 24);
    c["num_attention_heads"] = json!(1u64 << 20);
    c["num_key_value_heads"] = json!(1u64 << 20);
    c["head_dim"] = json!(1u64 << 20);
    refused_naming(&c.to_string(), "projection width");

    // Widths at the limit, a MoE with the most experts: the parameter count overflows.
    let mut m = catalog_config("Qwen__Qwen3-30B-A3B.json");
    m["hidden_size"] = json!(1u64 << 24);
    m["moe_intermediate_size"] = json!(1u64 << 24);
    m["num_experts"] = json!(1u64 << 14);
    m["num_hidden_layers"] = json!(1u64 << 14);
    refused_naming(&m.to_string(), "limit on parameters");

    // DeepSeek's shared experts were not bounded at all.
    let mut d = catalog_config("deepseek-ai__DeepSeek-V3.json");
    d["n_shared_experts"] = json!(1u64 << 40);
    refused_naming(&d.to_string(), "limit on experts");

    // T5 relative buckets × heads.
    let t = with(catalog_config("google__flan-t5-xl.json"), "relative_attention_num_buckets", json!(1u64 << 24));
    refused_naming(&t, "limit on projection width");
}

/// A model at the parameter limit's edge still counts exactly with checked arithmetic.
#[test]
fn try_of_agrees_with_of_on_the_catalog() {
    for m in vramfit_core::catalog::models() {
        let s = m.spec().unwrap();
        assert_eq!(ParamCount::try_of(&s).unwrap(), ParamCount::of(&s), "{}", m.name);
    }
}

/// Totals beyond 2^53 bytes are not exact in JavaScript: an error, not a saturated number.
#[test]
fn estimates_beyond_2_pow_53_bytes_are_errors() {
    let spec = vramfit_core::catalog::find_model("llama-3.1-405b").unwrap().spec().unwrap();
    let w = Workload { task: Task::Prefill, batch: 1 << 20, prompt: 1 << 24, ..Workload::default() };
    let e = estimate(&spec, &w).unwrap_err().to_string();
    assert!(e.contains("estimate bytes") && e.contains("--batch"), "{e}");
    assert!(estimate(&spec, &Workload { task: Task::Load, ..Workload::default() }).is_ok());
}

/// Audit item 12: a safetensors `shape` of millions of entries was allocated whole before its
/// rank was checked (98 MB of shape: 484 MB). It is refused at the 17th dimension.
#[test]
fn a_huge_shape_is_refused_at_the_first_dimension_beyond_the_rank_limit() {
    use vramfit_core::formats::safetensors;
    let json = format!(r#"{{"t":{{"dtype":"F32","shape":[{}1],"data_offsets":[0,4]}}}}"#, "1,".repeat(2_000_000));
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(json.as_bytes());
    let e = safetensors::parse_header(&file).unwrap_err().to_string();
    assert!(e.contains("rank exceeds 16"), "{e}");
    let ok = r#"{"t":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}"#;
    let mut file = (ok.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(ok.as_bytes());
    assert!(matches!(safetensors::parse_header(&file), Ok(Parsed::Done(_))));
}
