//! GPT-2 (`gpt2`) and GPTBigCode (`gpt_bigcode`: StarCoder, OctoCoder, SantaCoder), which adds
//! multi-query attention. Both use `Conv1D`/`Linear` modules named `c_attn`, `c_proj`, `c_fc`.

use super::{activation, exact_div, need, need_count, opt_dim};
use crate::error::Result;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `GPT2Config` and `GPTBigCodeConfig`.
#[derive(Debug, Deserialize)]
pub(crate) struct Gpt2Wire {
    #[serde(alias = "hidden_size")]
    n_embd: Option<u64>,
    #[serde(alias = "num_hidden_layers")]
    n_layer: Option<u64>,
    #[serde(alias = "num_attention_heads")]
    n_head: Option<u64>,
    #[serde(alias = "intermediate_size")]
    n_inner: Option<u64>,
    vocab_size: Option<u64>,
    #[serde(alias = "max_position_embeddings")]
    n_positions: Option<u64>,
    multi_query: Option<bool>,
    tie_word_embeddings: Option<bool>,
    activation_function: Option<String>,
    reorder_and_upcast_attn: Option<bool>,
}

pub(crate) fn convert(model_type: &str, w: Gpt2Wire) -> Result<ModelSpec> {
    let f = model_type;
    let h = need(f, "n_embd", w.n_embd)?;
    let n_layers = need_count(f, "n_layer", w.n_layer)?;
    let heads = need(f, "n_head", w.n_head)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let positions = need(f, "n_positions", w.n_positions)?;
    let head_dim = exact_div("head_dim", h, heads)?;
    let inner = opt_dim("n_inner", w.n_inner)?.unwrap_or(4 * h);
    let mq = model_type == "gpt_bigcode" && w.multi_query.unwrap_or(true);
    let kv_heads = if mq { 1 } else { heads };
    let act = activation(w.activation_function.as_deref(), Activation::Gelu);
    let layers = (0..n_layers)
        .map(|_| Layer {
            linears: vec![
                Linear::new("c_attn", ParamGroup::AttentionQkv, h, h + 2 * kv_heads * head_dim, true),
                Linear::new("attn.c_proj", ParamGroup::AttentionO, h, h, true),
                Linear::new("c_fc", ParamGroup::Mlp, h, inner, true),
                Linear::new("mlp.c_proj", ParamGroup::Mlp, inner, h, true),
            ],
            norms: vec![Norm::new("ln_1", NormKind::LayerNorm, h), Norm::new("ln_2", NormKind::LayerNorm, h)],
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
            mlp: Mlp::dense(false, act, inner),
            parallel_residual: false,
            mixer: crate::model::Mixer::Attention,
        })
        .collect();
    Ok(ModelSpec {
        model_type: model_type.to_string(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![
            Tensor { name: "wte".into(), group: ParamGroup::Embeddings, numel: vocab * h },
            Tensor { name: "wpe".into(), group: ParamGroup::Embeddings, numel: positions * h },
        ],
        embedding_linears: vec![],
        encoder_layers: vec![],
        layers,
        final_norms: vec![Norm::new("ln_f", NormKind::LayerNorm, h)],
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, h, vocab, false)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(true),
        extra: vec![],
        positions: Positions::Learned,
        max_positions: Some(positions),
        position_limit: None,
        head: crate::model::Head::CausalLm,
        torch_dtype: None,
        quantization: None,
        is_decoder: true,
        dropout: crate::model::Dropout::default(),
        eager_softmax: if model_type == "gpt2" && !w.reorder_and_upcast_attn.unwrap_or(false) {
            crate::model::EagerSoftmax::Native
        } else {
            crate::model::EagerSoftmax::Fp32
        },
        norm_weight_fp32: false,
        checkpoint: None,
        softcap: crate::model::Softcap::default(),
        // modeling_gpt_bigcode.py registers a max_positions² bool mask buffer ("bias").
        quirks: crate::model::FamilyQuirks {
            hf_causal_mask_buffer: model_type == "gpt_bigcode",
            ..crate::model::FamilyQuirks::default()
        },
    })
}
