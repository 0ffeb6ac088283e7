//! GPT-NeoX (`gpt_neox`: GPT-NeoX-20B, Pythia, StableLM-alpha, Dolly v2).

use super::{activation, exact_div, need, need_count};
use crate::error::Result;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `GPTNeoXConfig`.
#[derive(Debug, Deserialize)]
pub(crate) struct NeoxWire {
    hidden_size: Option<u64>,
    num_hidden_layers: Option<u64>,
    num_attention_heads: Option<u64>,
    intermediate_size: Option<u64>,
    vocab_size: Option<u64>,
    max_position_embeddings: Option<u64>,
    #[serde(alias = "partial_rotary_factor")]
    rotary_pct: Option<f64>,
    use_parallel_residual: Option<bool>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    hidden_act: Option<String>,
}

pub(crate) fn convert(w: NeoxWire) -> Result<ModelSpec> {
    let f = "gpt_neox";
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let inter = need(f, "intermediate_size", w.intermediate_size)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let head_dim = exact_div("head_dim", h, heads)?;
    let bias = w.attention_bias.unwrap_or(true);
    let act = activation(w.hidden_act.as_deref(), Activation::Gelu);
    let layers = (0..n_layers)
        .map(|_| Layer {
            linears: vec![
                Linear::new("query_key_value", ParamGroup::AttentionQkv, h, 3 * h, bias),
                Linear::new("dense", ParamGroup::AttentionO, h, h, bias),
                Linear::new("dense_h_to_4h", ParamGroup::Mlp, h, inter, true),
                Linear::new("dense_4h_to_h", ParamGroup::Mlp, inter, h, true),
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
            mlp: Mlp::dense(false, act, inter),
            parallel_residual: w.use_parallel_residual.unwrap_or(true),
            mixer: crate::model::Mixer::Attention,
        })
        .collect();
    let rot = (head_dim as f64 * w.rotary_pct.unwrap_or(0.25).clamp(0.0, 1.0)) as u64;
    Ok(ModelSpec {
        model_type: f.into(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![Tensor { name: "embed_in".into(), group: ParamGroup::Embeddings, numel: vocab * h }],
        embedding_linears: vec![],
        encoder_layers: vec![],
        layers,
        final_norms: vec![Norm::new("final_layer_norm", NormKind::LayerNorm, h)],
        lm_head: Some(Linear::new("embed_out", ParamGroup::LmHead, h, vocab, false)),
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
