//! OLMo 2 (`olmo2`): the Llama layout with its norms moved. transformers
//! `modeling_olmo2.py` (4.47+): each decoder layer has `post_attention_layernorm` and
//! `post_feedforward_layernorm` (no input norm), and attention normalizes the full-width
//! query and key projections (`q_norm = Olmo2RMSNorm(num_attention_heads * head_dim)`,
//! `k_norm = Olmo2RMSNorm(num_key_value_heads * head_dim)`), not each head as Qwen3 does.

use super::llama::{self, LlamaWire};
use crate::error::Result;
use crate::model::{FamilyQuirks, ModelSpec, Norm, NormKind};

pub(crate) fn convert(w: LlamaWire) -> Result<ModelSpec> {
    let mut spec = llama::convert("llama", w)?;
    spec.model_type = "olmo2".into();
    let h = spec.hidden_size;
    for layer in &mut spec.layers {
        let a = &mut layer.attention;
        a.qk_norm = true;
        let (q_width, kv_width) = (a.heads * a.head_dim, a.kv_heads() * a.head_dim);
        layer.norms = vec![
            Norm::new("post_attention_layernorm", NormKind::RmsNorm, h),
            Norm::new("post_feedforward_layernorm", NormKind::RmsNorm, h),
            Norm::new("q_norm", NormKind::RmsNorm, q_width),
            Norm::new("k_norm", NormKind::RmsNorm, kv_width),
        ];
    }
    // Added in transformers 4.47, after logits stopped being upcast in forward and rotary
    // caches stopped being per layer.
    spec.quirks = FamilyQuirks::default();
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use crate::model::ParamCount;

    /// allenai/OLMo-2-1124-7B config.json: the count follows from modeling_olmo2.py's modules.
    #[test]
    fn olmo2_7b_counts_full_width_qk_norms() {
        let spec = crate::config::parse_config(
            r#"{"model_type":"olmo2","hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,
                "num_attention_heads":32,"num_key_value_heads":32,"vocab_size":100352,
                "max_position_embeddings":4096,"tie_word_embeddings":false,"torch_dtype":"float32"}"#,
        )
        .unwrap();
        // Per layer: q, k, v, o 4 × 4096² + MLP 3 × 4096 × 11008 + four 4096-wide norms;
        // embeddings and head 2 × 100352 × 4096; final norm 4096.
        let per_layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 4 * 4096;
        assert_eq!(ParamCount::of(&spec).total, 32 * per_layer + 2 * 100_352 * 4096 + 4096);
        assert_eq!(ParamCount::of(&spec).total, 7_298_617_344);
        assert!(spec.layers.iter().all(|l| l.norms.iter().any(|n| n.numel() == 4096 && n.name == "q_norm")));
    }
}
