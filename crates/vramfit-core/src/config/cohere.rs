//! Cohere Command R / R+ (`cohere`): Llama's projections with one LayerNorm without bias per
//! block feeding attention and MLP in parallel (transformers `modeling_cohere.py`:
//! `CohereDecoderLayer` adds `hidden_states + attn_out + mlp_out`), the embeddings tied by
//! default (`CohereConfig.tie_word_embeddings = True`), and with `use_qk_norm` (Command R+) a
//! LayerNorm of shape `(heads, head_dim)` on q and `(kv_heads, head_dim)` on k. llama.cpp
//! reads it as GGUF `command-r` (`src/llama-model.cpp` `LLM_ARCH_COMMAND_R`: `attn_norm`, the
//! four projections, optional `attn_q_norm`/`attn_k_norm` `[n_embd_head_k, n_head(_kv)]`,
//! gate/up/down, `output` = `token_embd` when absent).

use super::llama::{self, LlamaWire};
use crate::error::Result;
use crate::model::{ModelSpec, Norm, NormKind};
use serde_json::Value;

pub(crate) fn convert(v: &Value, w: LlamaWire) -> Result<ModelSpec> {
    let mut spec = llama::convert("llama", w)?;
    spec.model_type = "cohere".into();
    spec.tied_embeddings = v.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(true);
    let qk_norm = v.get("use_qk_norm").and_then(Value::as_bool).unwrap_or(false);
    let h = spec.hidden_size;
    for layer in &mut spec.layers {
        let a = &mut layer.attention;
        a.qk_norm = qk_norm;
        let (q_width, kv_width) = (a.heads * a.head_dim, a.kv_heads() * a.head_dim);
        layer.norms = vec![Norm::new("input_layernorm", NormKind::LayerNormNoBias, h)];
        if qk_norm {
            layer.norms.push(Norm::new("q_norm", NormKind::LayerNormNoBias, q_width));
            layer.norms.push(Norm::new("k_norm", NormKind::LayerNormNoBias, kv_width));
        }
        layer.parallel_residual = true;
    }
    spec.final_norms = vec![Norm::new("norm", NormKind::LayerNormNoBias, h)];
    spec.quirks.gguf_arch_llama = false;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use crate::model::ParamCount;

    /// CohereForAI/c4ai-command-r-v01 config.json (no tie key: tied by CohereConfig's default;
    /// 64 KV heads; no qk norm): 34,980,831,232 parameters, the "35B" of its model card.
    #[test]
    fn command_r_v01() {
        let spec = crate::config::parse_config(
            r#"{"architectures":["CohereForCausalLM"],"attention_bias":false,"hidden_act":"silu",
                "hidden_size":8192,"intermediate_size":22528,"layer_norm_eps":1e-05,"logit_scale":0.0625,
                "max_position_embeddings":8192,"model_type":"cohere","num_attention_heads":64,
                "num_hidden_layers":40,"num_key_value_heads":64,"rope_theta":8000000.0,
                "torch_dtype":"float16","use_qk_norm":false,"vocab_size":256000}"#,
        )
        .unwrap();
        // Per block: q, k, v, o 4 × 8192², gate/up/down 3 × 8192 × 22528, one norm (no bias);
        // tied 256000 × 8192 embeddings; final norm.
        let per_layer = 4 * 8192 * 8192 + 3 * 8192 * 22528 + 8192;
        assert_eq!(ParamCount::of(&spec).total, 40 * per_layer + 256_000 * 8192 + 8192);
        assert_eq!(ParamCount::of(&spec).total, 34_980_831_232);
        assert!(spec.tied_embeddings && spec.layers.iter().all(|l| l.parallel_residual));
    }

    /// CohereForAI/c4ai-command-r-plus config.json: GQA 96/8, `use_qk_norm` (per-head norms
    /// of q and k, LayerNorm weights only): 103,810,674,688 parameters ("104B").
    #[test]
    fn command_r_plus_counts_its_qk_norms() {
        let spec = crate::config::parse_config(
            r#"{"architectures":["CohereForCausalLM"],"hidden_size":12288,"intermediate_size":33792,
                "model_type":"cohere","num_attention_heads":96,"num_hidden_layers":64,
                "num_key_value_heads":8,"use_qk_norm":true,"vocab_size":256000,"torch_dtype":"float16"}"#,
        )
        .unwrap();
        let (q, kv) = (12288u64, 8 * 128u64);
        let per_layer = 2 * 12288 * q + 2 * 12288 * kv + 3 * 12288 * 33792 + 12288 + q + kv;
        assert_eq!(ParamCount::of(&spec).total, 64 * per_layer + 256_000 * 12288 + 12288);
        assert_eq!(ParamCount::of(&spec).total, 103_810_674_688);
    }
}
