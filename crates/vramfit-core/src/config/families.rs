//! The model families vramfit reads, one row each: the `model_type`s its config.json uses, its
//! converter, the key spellings its wire struct accepts, and its config class's dropout
//! defaults. Every list that names families (the unsupported-type error, `--help`, the
//! README's table) is drawn from [`FAMILIES`]; a new family is one converter file and one row.

use super::{
    bert, bloom, cohere, deepseek, falcon, glm4, gpt2, gpt_neox, gpt_oss, granite, granitemoehybrid, llama, mistral3,
    nemotron_h, olmo2, opt, phi, qwen3_next, t5, wire,
};
use crate::error::Result;
use crate::model::ModelSpec;
use serde_json::Value;

/// One family.
pub struct Family {
    /// `model_type`s as config.json spells them, listed to users.
    pub model_types: &'static [&'static str],
    /// Older spellings accepted but not listed (Falcon's `RefinedWeb`).
    pub aliases: &'static [&'static str],
    /// What it covers, for the README and `vramfit models`.
    pub about: &'static str,
    /// Key spellings its wire struct accepts for one field: when a config carries two
    /// spellings of the same field, the first present wins and the others are dropped.
    pub key_aliases: &'static [&'static [&'static str]],
    /// The config class's defaults for (attention, hidden) dropout when the keys are absent.
    pub dropout: (f64, f64),
    /// config.json (with `model_type` as given) → spec.
    pub convert: fn(&str, &Value) -> Result<ModelSpec>,
}

const LLAMA_KEYS: &[&[&str]] = &[
    &["hidden_size", "n_embd", "d_model"],
    &["intermediate_size", "ffn_hidden_size"],
    &["num_hidden_layers", "n_layer", "num_layers"],
    &["num_attention_heads", "n_head"],
    &["num_key_value_heads", "num_kv_heads", "n_head_kv"],
    &["max_position_embeddings", "n_positions"],
    &["num_local_experts", "num_experts", "n_routed_experts"],
];

/// Every family vramfit reads.
pub const FAMILIES: &[Family] = &[
    Family {
        model_types: &[
            "llama",
            "mistral",
            "mixtral",
            "qwen2",
            "qwen2_moe",
            "qwen3",
            "qwen3_moe",
            "gemma",
            "gemma2",
            "gemma3",
            "gemma3_text",
            "phi3",
        ],
        aliases: &[],
        about:
            "Llama 1/2/3.x and the families that share its keys: Mistral, Mixtral, Qwen2/3 (MoE), Gemma 1/2/3, Phi-3",
        key_aliases: LLAMA_KEYS,
        dropout: (0.0, 0.0),
        convert: |t, v| llama::convert(t, wire(v, t, LLAMA_KEYS)?),
    },
    Family {
        model_types: &["olmo2"],
        aliases: &[],
        about: "OLMo 2 (post-norms, full-width q/k RMSNorm)",
        key_aliases: LLAMA_KEYS,
        dropout: (0.0, 0.0),
        convert: |_, v| olmo2::convert(wire(v, "olmo2", LLAMA_KEYS)?),
    },
    Family {
        model_types: &["granite"],
        aliases: &[],
        about: "IBM Granite 3.x dense (Llama layout; its multipliers scale values, not memory)",
        key_aliases: LLAMA_KEYS,
        dropout: (0.0, 0.0),
        convert: |_, v| granite::convert(wire(v, "granite", LLAMA_KEYS)?),
    },
    Family {
        model_types: &["granitemoehybrid"],
        aliases: &[],
        about: "IBM Granite 4.0 hybrids (Mamba-2 blocks with a recurrent state, a few attention blocks; shared MLP and routed experts)",
        key_aliases: &[&["layer_types", "layers_block_type"]],
        dropout: (0.0, 0.0),
        convert: |_, v| granitemoehybrid::convert(wire(v, "granitemoehybrid", row("granitemoehybrid").key_aliases)?),
    },
    Family {
        model_types: &["nemotron_h"],
        aliases: &[],
        about: "NVIDIA Nemotron-H (single-mixer blocks: Mamba-2 with a recurrent state, attention, ReLU² MLP or routed MoE)",
        key_aliases: &[&["layer_types", "layers_block_type"], &["n_groups", "mamba_n_groups"], &["conv_kernel", "mamba_d_conv"], &["use_conv_bias", "mamba_conv_bias"], &["n_routed_experts", "num_local_experts"]],
        dropout: (0.0, 0.0),
        convert: |_, v| nemotron_h::convert(wire(v, "nemotron_h", row("nemotron_h").key_aliases)?),
    },
    Family {
        model_types: &["cohere"],
        aliases: &[],
        about: "Cohere Command R / R+ (parallel attention and MLP, LayerNorm without bias, tied embeddings)",
        key_aliases: LLAMA_KEYS,
        dropout: (0.0, 0.0),
        convert: |_, v| cohere::convert(v, wire(v, "cohere", LLAMA_KEYS)?),
    },
    Family {
        model_types: &["glm4"],
        aliases: &[],
        about: "GLM-4 0414 (q/k/v biases, fused gate_up, four norms per block)",
        key_aliases: LLAMA_KEYS,
        dropout: (0.0, 0.0),
        convert: |_, v| glm4::convert(wire(v, "glm4", LLAMA_KEYS)?),
    },
    Family {
        model_types: &["gpt_oss"],
        aliases: &[],
        about: "gpt-oss (MXFP4 experts with biases, attention sinks, alternating sliding window)",
        key_aliases: LLAMA_KEYS,
        dropout: (0.0, 0.0),
        convert: |_, v| gpt_oss::convert(v, wire(v, "gpt_oss", LLAMA_KEYS)?),
    },
    Family {
        model_types: &["qwen3_next", "qwen3_5", "qwen3_5_moe"],
        aliases: &["qwen3_5_text", "qwen3_5_moe_text"],
        about: "Qwen3-Next, Qwen3.5/3.6 (hybrid: Gated DeltaNet linear attention with a recurrent state, gated full attention every 4th block; MoE)",
        key_aliases: &[],
        dropout: (0.0, 0.0),
        convert: |t, v| qwen3_next::convert(t, wire(v, t, &[])?),
    },
    Family {
        model_types: &["mistral3"],
        aliases: &[],
        about: "Mistral 3 (Mistral-Small-3.1/3.2: a Mistral language model and a Pixtral vision tower, its own parameter group)",
        key_aliases: LLAMA_KEYS,
        dropout: (0.0, 0.0),
        convert: |_, v| mistral3::convert(v),
    },
    Family {
        model_types: &["phi"],
        aliases: &[],
        about: "Phi-1/1.5/2 (parallel attention and MLP, partial rotary)",
        key_aliases: &[
            &["hidden_size", "n_embd"],
            &["intermediate_size", "n_inner"],
            &["num_hidden_layers", "n_layer"],
            &["num_attention_heads", "n_head"],
            &["max_position_embeddings", "n_positions"],
        ],
        dropout: (0.0, 0.0),
        convert: |_, v| phi::convert(wire(v, "phi", row("phi").key_aliases)?),
    },
    Family {
        model_types: &["falcon"],
        aliases: &["RefinedWeb", "RefinedWebModel"],
        about: "Falcon 7B (multi-query) and 40B/180B (grouped K/V) layouts",
        key_aliases: &[
            &["hidden_size", "n_embed"],
            &["num_hidden_layers", "n_layer"],
            &["num_attention_heads", "n_head"],
            &["num_kv_heads", "n_head_kv", "num_key_value_heads"],
        ],
        dropout: (0.0, 0.0),
        convert: |_, v| falcon::convert(wire(v, "falcon", row("falcon").key_aliases)?),
    },
    Family {
        model_types: &["gpt2", "gpt_bigcode"],
        aliases: &[],
        about: "GPT-2 and GPTBigCode (StarCoder)",
        key_aliases: &[
            &["n_embd", "hidden_size"],
            &["n_layer", "num_hidden_layers"],
            &["n_head", "num_attention_heads"],
            &["n_inner", "intermediate_size"],
            &["n_positions", "max_position_embeddings"],
        ],
        dropout: (0.1, 0.1),
        convert: |t, v| gpt2::convert(t, wire(v, t, row("gpt2").key_aliases)?),
    },
    Family {
        model_types: &["gpt_neox"],
        aliases: &[],
        about: "GPT-NeoX, Pythia",
        key_aliases: &[&["rotary_pct", "partial_rotary_factor"]],
        dropout: (0.0, 0.0),
        convert: |_, v| gpt_neox::convert(wire(v, "gpt_neox", row("gpt_neox").key_aliases)?),
    },
    Family {
        model_types: &["bloom"],
        aliases: &[],
        about: "BLOOM (ALiBi)",
        key_aliases: &[
            &["hidden_size", "n_embed"],
            &["n_layer", "num_hidden_layers"],
            &["n_head", "num_attention_heads"],
        ],
        dropout: (0.0, 0.0),
        convert: |_, v| bloom::convert(wire(v, "bloom", row("bloom").key_aliases)?),
    },
    Family {
        model_types: &["opt"],
        aliases: &[],
        about: "OPT",
        key_aliases: &[],
        dropout: (0.0, 0.1),
        convert: |_, v| opt::convert(wire(v, "opt", &[])?),
    },
    Family {
        model_types: &["deepseek_v2", "deepseek_v3"],
        aliases: &[],
        about: "DeepSeek V2/V3 (MLA, shared experts)",
        key_aliases: &[],
        dropout: (0.0, 0.0),
        convert: |t, v| deepseek::convert(t, wire(v, t, &[])?),
    },
    Family {
        model_types: &["t5", "mt5"],
        aliases: &["umt5"],
        about: "T5, mT5 (encoder-decoder; parameter counts and inference)",
        key_aliases: &[&["d_model", "hidden_size"], &["num_heads", "num_attention_heads"]],
        dropout: (0.0, 0.1),
        convert: |t, v| t5::convert(t, wire(v, t, row("t5").key_aliases)?),
    },
    Family {
        model_types: &["bert"],
        aliases: &[],
        about: "BERT (encoder; parameter counts)",
        key_aliases: &[],
        dropout: (0.1, 0.1),
        convert: |_, v| bert::convert(wire(v, "bert", &[])?),
    },
];

/// The family of a `model_type` (listed or alias).
#[must_use]
pub fn family(model_type: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.model_types.contains(&model_type) || f.aliases.contains(&model_type))
}

fn row(model_type: &str) -> &'static Family {
    family(model_type).expect("a family row names itself")
}

/// The `model_type`s listed to users, in table order.
#[must_use]
pub fn supported_model_types() -> Vec<&'static str> {
    FAMILIES.iter().flat_map(|f| f.model_types.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_type_names_one_family() {
        let mut all: Vec<&str> = FAMILIES.iter().flat_map(|f| f.model_types.iter().chain(f.aliases)).copied().collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a model_type is claimed by two families");
        for t in all {
            assert!(family(t).is_some());
        }
    }
}
