//! T5, mT5 and UMT5 (`t5`, `mt5`, `umt5`): encoder-decoder with relative position buckets.
//! vramfit counts their parameters and weights; generation memory for encoder-decoders is not
//! modelled yet.

use super::{need, need_count, opt_dim, opt_within};
use crate::error::Result;
use crate::limits;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `T5Config` / `MT5Config`.
#[derive(Debug, Deserialize)]
pub(crate) struct T5Wire {
    #[serde(alias = "hidden_size")]
    d_model: Option<u64>,
    d_kv: Option<u64>,
    d_ff: Option<u64>,
    num_layers: Option<u64>,
    num_decoder_layers: Option<u64>,
    #[serde(alias = "num_attention_heads")]
    num_heads: Option<u64>,
    vocab_size: Option<u64>,
    relative_attention_num_buckets: Option<u64>,
    feed_forward_proj: Option<String>,
    tie_word_embeddings: Option<bool>,
}

fn attention(heads: u64, d_kv: u64, cross: bool) -> Attention {
    Attention {
        heads,
        head_dim: d_kv,
        v_head_dim: d_kv,
        kv: KvLayout::Heads { kv_heads: heads, k_dim: d_kv, v_dim: d_kv },
        window: None,
        qk_norm: false,
        cross,
    }
}

fn attn_linears(prefix: &str, d: u64, inner: u64) -> Vec<Linear> {
    vec![
        Linear::new(&format!("{prefix}q"), ParamGroup::AttentionQ, d, inner, false),
        Linear::new(&format!("{prefix}k"), ParamGroup::AttentionK, d, inner, false),
        Linear::new(&format!("{prefix}v"), ParamGroup::AttentionV, d, inner, false),
        Linear::new(&format!("{prefix}o"), ParamGroup::AttentionO, inner, d, false),
    ]
}

pub(crate) fn convert(model_type: &str, w: T5Wire) -> Result<ModelSpec> {
    let f = model_type;
    let d = need(f, "d_model", w.d_model)?;
    let d_kv = need(f, "d_kv", w.d_kv)?;
    let d_ff = need(f, "d_ff", w.d_ff)?;
    let n_enc = need_count(f, "num_layers", w.num_layers)?;
    let n_dec = opt_within("num_decoder_layers", w.num_decoder_layers, &limits::LAYERS)?.unwrap_or(n_enc);
    let heads = need(f, "num_heads", w.num_heads)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let buckets = opt_dim("relative_attention_num_buckets", w.relative_attention_num_buckets)?.unwrap_or(32);
    let bias_numel = limits::product(
        &limits::PROJECTION,
        "config.json relative_attention_num_buckets × num_heads",
        &[buckets, heads],
    )?;
    let proj = w.feed_forward_proj.as_deref().unwrap_or("relu");
    let gated = proj.starts_with("gated-");
    let act = if proj.contains("gelu") { Activation::Gelu } else { Activation::Relu };
    let inner = limits::product(&limits::PROJECTION, "config.json num_heads × d_kv", &[heads, d_kv])?;
    let ff = |linears: &mut Vec<Linear>| {
        if gated {
            linears.push(Linear::new("wi_0", ParamGroup::Mlp, d, d_ff, false));
            linears.push(Linear::new("wi_1", ParamGroup::Mlp, d, d_ff, false));
        } else {
            linears.push(Linear::new("wi", ParamGroup::Mlp, d, d_ff, false));
        }
        linears.push(Linear::new("wo", ParamGroup::Mlp, d_ff, d, false));
    };
    // mT5 / UMT5 give every layer its own relative bias (UMT5) or only the first (T5, mT5).
    let bias_every_layer = model_type == "umt5";
    let rel_bias = |i: u64| -> Vec<Tensor> {
        if i == 0 || bias_every_layer {
            vec![Tensor { name: "relative_attention_bias".into(), group: ParamGroup::Other, numel: bias_numel }]
        } else {
            vec![]
        }
    };
    let encoder_layers = (0..n_enc)
        .map(|i| {
            let mut linears = attn_linears("SelfAttention.", d, inner);
            ff(&mut linears);
            Layer {
                linears,
                norms: vec![
                    Norm::new("layer.0.layer_norm", NormKind::RmsNorm, d),
                    Norm::new("layer.1.layer_norm", NormKind::RmsNorm, d),
                ],
                others: rel_bias(i),
                attention: attention(heads, d_kv, false),
                cross_attention: None,
                mlp: Mlp::dense(gated, act, d_ff),
                parallel_residual: false,
                mixer: crate::model::Mixer::Attention,
            }
        })
        .collect();
    let layers = (0..n_dec)
        .map(|i| {
            let mut linears = attn_linears("SelfAttention.", d, inner);
            linears.extend(attn_linears("EncDecAttention.", d, inner));
            ff(&mut linears);
            Layer {
                linears,
                norms: vec![
                    Norm::new("layer.0.layer_norm", NormKind::RmsNorm, d),
                    Norm::new("layer.1.layer_norm", NormKind::RmsNorm, d),
                    Norm::new("layer.2.layer_norm", NormKind::RmsNorm, d),
                ],
                others: rel_bias(i),
                attention: attention(heads, d_kv, false),
                cross_attention: Some(attention(heads, d_kv, true)),
                mlp: Mlp::dense(gated, act, d_ff),
                parallel_residual: false,
                mixer: crate::model::Mixer::Attention,
            }
        })
        .collect();
    Ok(ModelSpec {
        model_type: model_type.into(),
        hidden_size: d,
        vocab_size: vocab,
        embeddings: vec![Tensor { name: "shared".into(), group: ParamGroup::Embeddings, numel: vocab * d }],
        embedding_linears: vec![],
        encoder_layers,
        layers,
        final_norms: vec![
            Norm::new("encoder.final_layer_norm", NormKind::RmsNorm, d),
            Norm::new("decoder.final_layer_norm", NormKind::RmsNorm, d),
        ],
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, d, vocab, false)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(model_type == "t5"),
        extra: vec![],
        positions: Positions::Relative,
        max_positions: None,
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
