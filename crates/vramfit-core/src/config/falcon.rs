//! Falcon (`falcon`, legacy `RefinedWeb`/`RefinedWebModel`): the 7B layout (multi-query,
//! parallel attention, one shared norm) and the 40B/180B layout (`new_decoder_architecture`:
//! grouped KV heads, two norms).

use super::{activation, exact_div, need, need_count, opt_dim};
use crate::error::Result;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `FalconConfig` (and the RW remote-code config's `n_embed`/`n_head`/`n_layer`).
#[derive(Debug, Deserialize)]
pub(crate) struct FalconWire {
    #[serde(alias = "n_embed")]
    hidden_size: Option<u64>,
    #[serde(alias = "n_layer")]
    num_hidden_layers: Option<u64>,
    #[serde(alias = "n_head")]
    num_attention_heads: Option<u64>,
    #[serde(alias = "n_head_kv", alias = "num_key_value_heads")]
    num_kv_heads: Option<u64>,
    vocab_size: Option<u64>,
    multi_query: Option<bool>,
    new_decoder_architecture: Option<bool>,
    parallel_attn: Option<bool>,
    bias: Option<bool>,
    ffn_hidden_size: Option<u64>,
    num_ln_in_parallel_attn: Option<u64>,
    tie_word_embeddings: Option<bool>,
    alibi: Option<bool>,
    max_position_embeddings: Option<u64>,
    activation: Option<String>,
}

pub(crate) fn convert(w: FalconWire) -> Result<ModelSpec> {
    let f = "falcon";
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let head_dim = exact_div("head_dim", h, heads)?;
    let new_arch = w.new_decoder_architecture.unwrap_or(false);
    let kv_heads = if new_arch {
        opt_dim("num_kv_heads", w.num_kv_heads)?.unwrap_or(heads)
    } else if w.multi_query.unwrap_or(true) {
        1
    } else {
        heads
    };
    let parallel = w.parallel_attn.unwrap_or(true);
    let bias = w.bias.unwrap_or(false);
    let ffn = opt_dim("ffn_hidden_size", w.ffn_hidden_size)?.unwrap_or(4 * h);
    let act = activation(w.activation.as_deref(), Activation::Gelu);
    let mut layers = Vec::new();
    for _ in 0..n_layers {
        let qkv_out = (heads + 2 * kv_heads) * head_dim;
        let linears = vec![
            Linear::new("query_key_value", ParamGroup::AttentionQkv, h, qkv_out, bias),
            Linear::new("dense", ParamGroup::AttentionO, h, h, bias),
            Linear::new("dense_h_to_4h", ParamGroup::Mlp, h, ffn, bias),
            Linear::new("dense_4h_to_h", ParamGroup::Mlp, ffn, h, bias),
        ];
        let norms = if new_arch && w.num_ln_in_parallel_attn.unwrap_or(2) == 2 {
            vec![Norm::new("ln_attn", NormKind::LayerNorm, h), Norm::new("ln_mlp", NormKind::LayerNorm, h)]
        } else if parallel || new_arch {
            vec![Norm::new("input_layernorm", NormKind::LayerNorm, h)]
        } else {
            vec![
                Norm::new("input_layernorm", NormKind::LayerNorm, h),
                Norm::new("post_attention_layernorm", NormKind::LayerNorm, h),
            ]
        };
        layers.push(Layer {
            linears,
            norms,
            others: vec![],
            attention: Attention {
                heads,
                head_dim,
                v_head_dim: head_dim,
                kv: KvLayout::Heads { kv_heads, k_dim: head_dim, v_dim: head_dim },
                window: None,
                qk_norm: false,
                cross: false,
            },
            cross_attention: None,
            mlp: Mlp::dense(false, act, ffn),
            parallel_residual: parallel || new_arch,
            mixer: crate::model::Mixer::Attention,
        });
    }
    Ok(ModelSpec {
        model_type: "falcon".into(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![Tensor { name: "word_embeddings".into(), group: ParamGroup::Embeddings, numel: vocab * h }],
        embedding_linears: vec![],
        encoder_layers: vec![],
        layers,
        final_norms: vec![Norm::new("ln_f", NormKind::LayerNorm, h)],
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, h, vocab, false)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(true),
        extra: vec![],
        positions: if w.alibi.unwrap_or(false) { Positions::Alibi } else { Positions::Rotary { dims: head_dim } },
        max_positions: w.max_position_embeddings,
        position_limit: None,
        head: crate::model::Head::CausalLm,
        torch_dtype: None,
        quantization: None,
        is_decoder: true,
        dropout: crate::model::Dropout::default(),
        eager_softmax: crate::model::EagerSoftmax::NativeMasked,
        norm_weight_fp32: false,
        checkpoint: None,
        softcap: crate::model::Softcap::default(),
        // modeling_falcon.py: broadcast single K/V head (7B) or K/V copied to every head (40B/180B).
        quirks: crate::model::FamilyQuirks { hf_falcon_attention: true, ..crate::model::FamilyQuirks::default() },
    })
}
