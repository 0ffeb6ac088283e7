//! Phi-1, Phi-1.5 and Phi-2 (`phi`): parallel attention/MLP sharing one LayerNorm, partial
//! rotary, biases everywhere including the untied head.

use super::{activation, exact_div, need, need_count, opt_dim};
use crate::error::Result;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `PhiConfig`.
#[derive(Debug, Deserialize)]
pub(crate) struct PhiWire {
    #[serde(alias = "n_embd")]
    hidden_size: Option<u64>,
    #[serde(alias = "n_inner")]
    intermediate_size: Option<u64>,
    #[serde(alias = "n_layer")]
    num_hidden_layers: Option<u64>,
    #[serde(alias = "n_head")]
    num_attention_heads: Option<u64>,
    num_key_value_heads: Option<u64>,
    vocab_size: Option<u64>,
    partial_rotary_factor: Option<f64>,
    qk_layernorm: Option<bool>,
    tie_word_embeddings: Option<bool>,
    #[serde(alias = "n_positions")]
    max_position_embeddings: Option<u64>,
    hidden_act: Option<String>,
}

pub(crate) fn convert(w: PhiWire) -> Result<ModelSpec> {
    let f = "phi";
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let inter = opt_dim("intermediate_size", w.intermediate_size)?.unwrap_or(4 * h);
    let head_dim = exact_div("head_dim", h, heads)?;
    let kv_heads = opt_dim("num_key_value_heads", w.num_key_value_heads)?.unwrap_or(heads);
    let kv_w = kv_heads * head_dim;
    let act = activation(w.hidden_act.as_deref(), Activation::Gelu);
    let qk_ln = w.qk_layernorm.unwrap_or(false);
    let layers = (0..n_layers)
        .map(|_| {
            let mut norms = vec![Norm::new("input_layernorm", NormKind::LayerNorm, h)];
            if qk_ln {
                norms.push(Norm::new("q_layernorm", NormKind::LayerNorm, head_dim));
                norms.push(Norm::new("k_layernorm", NormKind::LayerNorm, head_dim));
            }
            Layer {
                linears: vec![
                    Linear::new("q_proj", ParamGroup::AttentionQ, h, h, true),
                    Linear::new("k_proj", ParamGroup::AttentionK, h, kv_w, true),
                    Linear::new("v_proj", ParamGroup::AttentionV, h, kv_w, true),
                    Linear::new("dense", ParamGroup::AttentionO, h, h, true),
                    Linear::new("fc1", ParamGroup::Mlp, h, inter, true),
                    Linear::new("fc2", ParamGroup::Mlp, inter, h, true),
                ],
                norms,
                others: vec![],
                attention: Attention {
                    heads,
                    head_dim,
                    v_head_dim: head_dim,
                    kv: KvLayout::Heads { kv_heads, k_dim: head_dim, v_dim: head_dim },
                    window: None,
                    qk_norm: qk_ln,
                    cross: false,
                },
                cross_attention: None,
                mlp: Mlp::dense(false, act, inter),
                parallel_residual: true,
                mixer: crate::model::Mixer::Attention,
            }
        })
        .collect();
    let rot = (head_dim as f64 * w.partial_rotary_factor.unwrap_or(0.5).clamp(0.0, 1.0)) as u64;
    Ok(ModelSpec {
        model_type: f.into(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![Tensor { name: "embed_tokens".into(), group: ParamGroup::Embeddings, numel: vocab * h }],
        embedding_linears: vec![],
        encoder_layers: vec![],
        layers,
        final_norms: vec![Norm::new("final_layernorm", NormKind::LayerNorm, h)],
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, h, vocab, true)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(false),
        extra: vec![],
        positions: Positions::Rotary { dims: rot },
        max_positions: w.max_position_embeddings,
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
