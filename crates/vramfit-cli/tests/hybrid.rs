//! Hybrid models under llama.cpp: the recurrent layers' state is its own component and its
//! own per-device figure, beside a KV cache of the attention layers only.

use super::json;
use serde_json::Value;

/// Qwen3.6-27B's language model (the `qwen3_5` wrapper: 64 blocks, every fourth one full
/// attention with 4 KV heads of 256; 48 Gated DeltaNet blocks with 16 key and 48 value heads
/// of 128, conv kernel 4), as transformers' `Qwen3_5TextConfig` spells it.
const QWEN36_27B: &str = r#"{"architectures": ["Qwen3_5ForConditionalGeneration"], "model_type": "qwen3_5",
 "tie_word_embeddings": false,
 "text_config": {"model_type": "qwen3_5_text", "dtype": "bfloat16", "attention_bias": false,
  "full_attention_interval": 4, "head_dim": 256, "hidden_act": "silu", "hidden_size": 5120,
  "intermediate_size": 17408, "linear_conv_kernel_dim": 4, "linear_key_head_dim": 128,
  "linear_num_key_heads": 16, "linear_num_value_heads": 48, "linear_value_head_dim": 128,
  "max_position_embeddings": 262144, "num_attention_heads": 24, "num_hidden_layers": 64,
  "num_key_value_heads": 4, "partial_rotary_factor": 0.25, "tie_word_embeddings": false,
  "vocab_size": 248320}}"#;

fn component(v: &Value, name: &str) -> u64 {
    v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["bytes"].as_u64())
        .unwrap_or_else(|| panic!("no {name} component"))
}

/// lmstudio-ai/lmstudio-bug-tracker#1862 (llama.cpp log, Qwen3.6-27B at 262,144 cells and 4
/// sequences): `llama_kv_cache: size = 16384.00 MiB (262144 cells, 16 layers, 4/1 seqs)` and
/// `llama_memory_recurrent: size = 598.50 MiB (4 cells, 64 layers, 4 seqs)`. By hand: K and V
/// of 16 attention layers × 4 KV heads × 256 × 2 B × 262,144 cells = 16,384 MiB; 48 recurrent
/// layers × 4 sequences × (3 · 10,240 + 128 · 6,144) f32 = 627,572,736 B = 598.5 MiB.
#[test]
fn a_hybrid_model_keeps_kv_for_its_attention_layers_and_a_recurrent_state_for_the_rest() {
    let dir = std::env::temp_dir().join(format!("vramfit-hybrid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, QWEN36_27B).unwrap();
    let cfg = cfg.to_str().unwrap();
    let one = json(&[
        "estimate",
        cfg,
        "--runtime",
        "llama.cpp",
        "--quant",
        "q8_0",
        "--ctx-size",
        "262144",
        "--parallel",
        "4",
        "--gpu",
        "H100-SXM",
        "--json",
    ]);
    assert_eq!(component(&one, "kv_cache"), 16 * 2 * 4 * 256 * 2 * 262_144);
    assert_eq!(component(&one, "kv_cache"), 16_384 << 20);
    assert_eq!(component(&one, "recurrent_state"), 48 * 4 * (3 * 10_240 + 128 * 6144) * 4);
    assert_eq!(component(&one, "recurrent_state"), 627_572_736);
    let cuda0 = &one["devices"][0];
    assert_eq!(cuda0["recurrent_bytes"], 627_572_736);
    let explain = super::vramfit(&[
        "estimate",
        cfg,
        "--runtime",
        "llama.cpp",
        "--quant",
        "q8_0",
        "--ctx-size",
        "262144",
        "--parallel",
        "4",
        "--gpu",
        "H100-SXM",
        "--explain",
    ]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(text.contains("recurrent_state") && text.contains("Gated DeltaNet"), "{text}");

    // Two GPUs: each keeps the state of its own recurrent blocks; the state does not grow with
    // the context.
    let two = json(&[
        "estimate",
        cfg,
        "--runtime",
        "llama.cpp",
        "--quant",
        "q8_0",
        "--ctx-size",
        "8192",
        "--parallel",
        "4",
        "--gpus",
        "2",
        "--gpu",
        "H100-SXM",
        "--json",
    ]);
    let per_layer = 4 * (3 * 10_240 + 128 * 6144) * 4;
    let rs: Vec<u64> = (0..2).map(|i| two["devices"][i]["recurrent_bytes"].as_u64().unwrap()).collect();
    assert_eq!(rs.iter().sum::<u64>(), 627_572_736);
    assert!(rs.iter().all(|b| *b > 0 && b % per_layer == 0), "{rs:?}");
    std::fs::remove_dir_all(&dir).ok();
}
