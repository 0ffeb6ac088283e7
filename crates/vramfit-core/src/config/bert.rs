//! BERT (`bert`): an encoder; counted as `BertModel` with its pooler. vramfit counts its
//! parameters and weights; it has no KV cache and does not generate.

use super::{activation, exact_div, need, need_count};
use crate::error::Result;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `BertConfig`.
#[derive(Debug, Deserialize)]
pub(crate) struct BertWire {
    hidden_size: Option<u64>,
    num_hidden_layers: Option<u64>,
    num_attention_heads: Option<u64>,
    intermediate_size: Option<u64>,
    vocab_size: Option<u64>,
    max_position_embeddings: Option<u64>,
    type_vocab_size: Option<u64>,
    hidden_act: Option<String>,
}

pub(crate) fn convert(w: BertWire) -> Result<ModelSpec> {
    let f = "bert";
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let inter = need(f, "intermediate_size", w.intermediate_size)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let max_pos = w.max_position_embeddings.unwrap_or(512).min(super::MAX_DIM);
    let types = w.type_vocab_size.unwrap_or(2).min(super::MAX_DIM);
    let head_dim = exact_div("head_dim", h, heads)?;
    let act = activation(w.hidden_act.as_deref(), Activation::Gelu);
    let encoder_layers = (0..n_layers)
        .map(|_| Layer {
            linears: vec![
                Linear::new("query", ParamGroup::AttentionQ, h, h, true),
                Linear::new("key", ParamGroup::AttentionK, h, h, true),
                Linear::new("value", ParamGroup::AttentionV, h, h, true),
                Linear::new("attention.output.dense", ParamGroup::AttentionO, h, h, true),
                Linear::new("intermediate.dense", ParamGroup::Mlp, h, inter, true),
                Linear::new("output.dense", ParamGroup::Mlp, inter, h, true),
            ],
            norms: vec![
                Norm::new("attention.output.LayerNorm", NormKind::LayerNorm, h),
                Norm::new("output.LayerNorm", NormKind::LayerNorm, h),
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
            mlp: Mlp::dense(false, act, inter),
            parallel_residual: false,
            mixer: crate::model::Mixer::Attention,
        })
        .collect();
    Ok(ModelSpec {
        model_type: f.into(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![
            Tensor { name: "word_embeddings".into(), group: ParamGroup::Embeddings, numel: vocab * h },
            Tensor { name: "position_embeddings".into(), group: ParamGroup::Embeddings, numel: max_pos * h },
            Tensor { name: "token_type_embeddings".into(), group: ParamGroup::Embeddings, numel: types * h },
        ],
        embedding_linears: vec![],
        encoder_layers,
        layers: vec![],
        final_norms: vec![Norm::new("embeddings.LayerNorm", NormKind::LayerNorm, h)],
        lm_head: None,
        tied_embeddings: false,
        extra: vec![Linear::new("pooler.dense", ParamGroup::Other, h, h, true)],
        positions: Positions::Learned,
        max_positions: Some(max_pos),
        position_limit: None,
        head: crate::model::Head::CausalLm,
        torch_dtype: None,
        quantization: None,
        is_decoder: false,
        dropout: crate::model::Dropout::default(),
        eager_softmax: crate::model::EagerSoftmax::default(),
        norm_weight_fp32: false,
        checkpoint: None,
        softcap: crate::model::Softcap::default(),
        quirks: crate::model::FamilyQuirks::default(),
    })
}
