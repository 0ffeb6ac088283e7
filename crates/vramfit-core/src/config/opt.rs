//! OPT (`opt`): learned positions with an offset of 2, optional project_in/out.

use super::{exact_div, need, need_count, opt_dim};
use crate::error::Result;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `OPTConfig`.
#[derive(Debug, Deserialize)]
pub(crate) struct OptWire {
    hidden_size: Option<u64>,
    num_hidden_layers: Option<u64>,
    num_attention_heads: Option<u64>,
    ffn_dim: Option<u64>,
    vocab_size: Option<u64>,
    max_position_embeddings: Option<u64>,
    word_embed_proj_dim: Option<u64>,
    do_layer_norm_before: Option<bool>,
    #[serde(rename = "_remove_final_layer_norm")]
    remove_final_layer_norm: Option<bool>,
    enable_bias: Option<bool>,
    tie_word_embeddings: Option<bool>,
}

pub(crate) fn convert(w: OptWire) -> Result<ModelSpec> {
    let f = "opt";
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let ffn = need(f, "ffn_dim", w.ffn_dim)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let max_pos = need(f, "max_position_embeddings", w.max_position_embeddings)?;
    let proj = opt_dim("word_embed_proj_dim", w.word_embed_proj_dim)?.unwrap_or(h);
    let head_dim = exact_div("head_dim", h, heads)?;
    let bias = w.enable_bias.unwrap_or(true);
    let layers = (0..n_layers)
        .map(|_| Layer {
            linears: vec![
                Linear::new("q_proj", ParamGroup::AttentionQ, h, h, bias),
                Linear::new("k_proj", ParamGroup::AttentionK, h, h, bias),
                Linear::new("v_proj", ParamGroup::AttentionV, h, h, bias),
                Linear::new("out_proj", ParamGroup::AttentionO, h, h, bias),
                Linear::new("fc1", ParamGroup::Mlp, h, ffn, bias),
                Linear::new("fc2", ParamGroup::Mlp, ffn, h, bias),
            ],
            norms: vec![
                Norm::new("self_attn_layer_norm", NormKind::LayerNorm, h),
                Norm::new("final_layer_norm", NormKind::LayerNorm, h),
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
            mlp: Mlp::dense(false, Activation::Relu, ffn),
            parallel_residual: false,
            mixer: crate::model::Mixer::Attention,
        })
        .collect();
    let mut embedding_linears = vec![];
    if proj != h {
        embedding_linears.push(Linear::new("project_out", ParamGroup::Embeddings, h, proj, false));
        embedding_linears.push(Linear::new("project_in", ParamGroup::Embeddings, proj, h, false));
    }
    let final_norm = w.do_layer_norm_before.unwrap_or(true) && !w.remove_final_layer_norm.unwrap_or(false);
    Ok(ModelSpec {
        model_type: f.into(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![
            Tensor { name: "embed_tokens".into(), group: ParamGroup::Embeddings, numel: vocab * proj },
            Tensor { name: "embed_positions".into(), group: ParamGroup::Embeddings, numel: (max_pos + 2) * h },
        ],
        embedding_linears,
        encoder_layers: vec![],
        layers,
        final_norms: if final_norm { vec![Norm::new("final_layer_norm", NormKind::LayerNorm, h)] } else { vec![] },
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, proj, vocab, false)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(true),
        extra: vec![],
        positions: Positions::Learned,
        max_positions: Some(max_pos),
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
