//! Exact parameter counts against published totals. Each count's source is beside it.

use crate::util::spec;
use vramfit_core::model::{ParamCount, ParamGroup};

/// (catalog name, published total, source)
const PUBLISHED: &[(&str, u64, &str)] = &[
    (
        "llama-2-7b",
        6_738_415_616,
        "Llama 2 paper Table 1 '7B'; HF Hub safetensors total of Llama-2-7B-architecture checkpoints",
    ),
    ("llama-7b", 6_738_415_616, "HF Hub safetensors total for huggyllama/llama-7b (LLaMA paper: 6.7B)"),
    ("llama-2-13b", 13_015_864_320, "HF Hub safetensors total for a Llama-2-13B checkpoint (issue #2 examples)"),
    ("llama-2-70b", 68_976_648_192, "Llama-2-70B module count reported by transformers (GQA, 8 KV heads)"),
    ("mistral-7b-v0.1", 7_241_732_096, "HF Hub safetensors total for mistralai/Mistral-7B-v0.1"),
    ("llama-3-8b", 8_030_261_248, "HF Hub safetensors total for meta-llama/Meta-Llama-3-8B"),
    ("llama-3.1-70b", 70_553_706_496, "HF Hub safetensors total for meta-llama/Llama-3.1-70B"),
    ("llama-3.2-1b", 1_235_814_400, "HF Hub safetensors total for meta-llama/Llama-3.2-1B (tied embeddings)"),
    ("gpt2", 124_439_808, "transformers GPT2LMHeadModel(gpt2).num_parameters() (tied wte)"),
    ("gpt2-xl", 1_557_611_200, "transformers GPT2LMHeadModel(gpt2-xl).num_parameters()"),
    ("mixtral-8x7b", 46_702_792_704, "HF Hub safetensors total for mistralai/Mixtral-8x7B-Instruct-v0.1"),
    ("qwen2.5-7b", 7_615_616_512, "HF Hub safetensors total for Qwen/Qwen2.5-7B (q/k/v biases)"),
    ("qwen3-30b-a3b", 30_532_122_624, "HF Hub safetensors total for Qwen/Qwen3-30B-A3B-Base (128 experts)"),
    ("phi-2", 2_779_683_840, "HF Hub safetensors total for microsoft/phi-2 (litgpt log: 2,779,683,840 non-trainable)"),
    (
        "phi-3-mini-4k",
        3_821_079_552,
        "HF Hub safetensors total for microsoft/Phi-3-mini-4k-instruct (fused qkv, gate_up)",
    ),
    ("gemma-2-9b", 9_241_705_984, "HF Hub safetensors total for google/gemma-2-9b-it (4 norms per layer)"),
    ("gemma-3-1b", 999_885_952, "HF Hub safetensors total for google/gemma-3-1b-it (q/k norms)"),
    ("bloom-560m", 559_214_592, "HF Hub safetensors total for bigscience/bloom-560m"),
    ("bert-base-uncased", 109_482_240, "transformers BertModel(bert-base-uncased) with pooler"),
];

#[test]
fn published_totals_are_exact() {
    let mut wrong = vec![];
    for (name, expected, source) in PUBLISHED {
        let got = ParamCount::of(&spec(name)).total;
        if got != *expected {
            wrong.push(format!("{name}: computed {got}, published {expected} ({source})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn falcon_7b_module_count() {
    // transformers FalconForCausalLM(tiiuae/falcon-7b).num_parameters(): 6,921,720,704
    // (the Hub total adds a separately stored copy of the tied lm_head).
    assert_eq!(ParamCount::of(&spec("falcon-7b")).total, 6_921_720_704);
}

#[test]
fn every_catalog_count_with_a_source_matches() {
    for m in vramfit_core::catalog::models() {
        if let Some(p) = m.params {
            let got = ParamCount::of(&m.spec().unwrap()).total;
            assert_eq!(got, p, "{} (source: {})", m.name, m.params_source.as_deref().unwrap_or("?"));
            assert!(m.params_source.is_some(), "{} has params without a source", m.name);
        }
    }
}

#[test]
fn components_add_up_and_are_named() {
    let p = ParamCount::of(&spec("llama-2-7b"));
    let sum: u64 = p.by_group.iter().map(|(_, n)| n).sum();
    assert_eq!(sum, p.total);
    assert_eq!(p.group(ParamGroup::Embeddings), 32_000 * 4096);
    assert_eq!(p.group(ParamGroup::LmHead), 32_000 * 4096);
    assert_eq!(p.group(ParamGroup::AttentionQ), 32 * 4096 * 4096);
    assert_eq!(p.group(ParamGroup::Mlp), 32 * 3 * 4096 * 11008);
    assert_eq!(p.group(ParamGroup::Norms), 65 * 4096);
    assert_eq!(p.group(ParamGroup::Biases), 0);
}

#[test]
fn moe_active_parameters() {
    // Mixtral: 2 of 8 experts per token; Mistral AI quotes ~12.9B active of 46.7B.
    let p = ParamCount::of(&spec("mixtral-8x7b"));
    assert!(p.group(ParamGroup::Experts) > 0 && p.group(ParamGroup::Router) == 32 * 4096 * 8);
    let active_b = p.active as f64 / 1e9;
    assert!((12.5..13.2).contains(&active_b), "active {active_b}B");
}

#[test]
fn deepseek_v3_mla_and_shared_experts() {
    let s = spec("deepseek-v3");
    let p = ParamCount::of(&s);
    // DeepSeek-V3 report: 671B total, 37B activated (main model, MTP module excluded).
    let total_b = p.total as f64 / 1e9;
    let active_b = p.active as f64 / 1e9;
    assert!((670.0..672.0).contains(&total_b), "{total_b}");
    assert!((36.0..38.5).contains(&active_b), "{active_b}");
    assert!(p.group(ParamGroup::SharedExperts) > 0);
    assert!(s.layers[0].mlp.experts == 0 && s.layers[3].mlp.experts == 256);
}

#[test]
fn tied_heads_are_counted_once() {
    let gpt2 = ParamCount::of(&spec("gpt2"));
    assert_eq!(gpt2.group(ParamGroup::LmHead), 0);
    let t5 = ParamCount::of(&spec("t5-base"));
    // T5ForConditionalGeneration(t5-base): 222,903,552 with the head tied to `shared`.
    assert_eq!(t5.total, 222_903_552);
}
