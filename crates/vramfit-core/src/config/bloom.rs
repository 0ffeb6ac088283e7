//! BLOOM (`bloom`: BLOOM, BLOOMZ): ALiBi, an embedding LayerNorm, fused qkv with biases.

use super::{exact_div, need, need_count};
use crate::error::Result;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `BloomConfig` (attribute map: `n_embed`, `n_layer`, `n_head`).
#[derive(Debug, Deserialize)]
pub(crate) struct BloomWire {
    #[serde(alias = "n_embed")]
    hidden_size: Option<u64>,
    #[serde(alias = "num_hidden_layers")]
    n_layer: Option<u64>,
    #[serde(alias = "num_attention_heads")]
    n_head: Option<u64>,
    vocab_size: Option<u64>,
    tie_word_embeddings: Option<bool>,
}

pub(crate) fn convert(w: BloomWire) -> Result<ModelSpec> {
    let f = "bloom";
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "n_layer", w.n_layer)?;
    let heads = need(f, "n_head", w.n_head)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let head_dim = exact_div("head_dim", h, heads)?;
    let layers = (0..n_layers)
        .map(|_| Layer {
            linears: vec![
                Linear::new("query_key_value", ParamGroup::AttentionQkv, h, 3 * h, true),
                Linear::new("dense", ParamGroup::AttentionO, h, h, true),
                Linear::new("dense_h_to_4h", ParamGroup::Mlp, h, 4 * h, true),
                Linear::new("dense_4h_to_h", ParamGroup::Mlp, 4 * h, h, true),
            ],
            norms: vec![
                Norm::new("input_layernorm", NormKind::LayerNorm, h),
                Norm::new("post_attention_layernorm", NormKind::LayerNorm, h),
            ],
            others: vec![],
            attention: Attention {
                heads,
                head_dim,
                v_head_dim: head_dim,
                kv: KvLayout::Heads { kv_heads: heads, k_dim: head_dim, v_dim: head_dim },
                window: None,
                qk_norm: false,
                cross: false,
            },
            cross_attention: None,
            mlp: Mlp::dense(false, Activation::Gelu, 4 * h),
            parallel_residual: false,
            mixer: crate::model::Mixer::Attention,
        })
        .collect();
    Ok(ModelSpec {
        model_type: f.into(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![Tensor { name: "word_embeddings".into(), group: ParamGroup::Embeddings, numel: vocab * h }],
        embedding_linears: vec![],
        encoder_layers: vec![],
        layers,
        final_norms: vec![
            Norm::new("word_embeddings_layernorm", NormKind::LayerNorm, h),
            Norm::new("ln_f", NormKind::LayerNorm, h),
        ],
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, h, vocab, false)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(true),
        extra: vec![],
        positions: Positions::Alibi,
        max_positions: None,
        position_limit: None,
        head: crate::model::Head::CausalLm,
        torch_dtype: None,
        quantization: None,
        is_decoder: true,
        dropout: crate::model::Dropout::default(),
        eager_softmax: crate::model::EagerSoftmax::default(),
        norm_weight_fp32: false,
        checkpoint: None,
        softcap: crate::model::Softcap::default(),
        quirks: crate::model::FamilyQuirks::default(),
    })
}
