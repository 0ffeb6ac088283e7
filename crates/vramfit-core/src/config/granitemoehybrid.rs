//! IBM Granite 4.0 hybrids (`granitemoehybrid`): Mamba-2 blocks with a few attention blocks
//! (`layer_types`: `mamba` / `attention`, transformers' legacy names for `linear_attention` /
//! `full_attention`), each block with a shared MLP and, where `num_local_experts > 0`, routed
//! experts beside it.
//!
//! From transformers 5.25 `modeling_granitemoehybrid.py`:
//! - attention: q/k/v/o with `attention_bias`, head_dim = hidden / heads; rotary only with
//!   `position_embedding_type = "rope"` (Granite 4.0-H uses none).
//! - Mamba-2 (`GraniteMoeHybridMambaLayer`): d_inner = `mamba_expand` · hidden =
//!   `mamba_n_heads` · `mamba_d_head`; conv_dim = d_inner + 2 · `mamba_n_groups` ·
//!   `mamba_d_state`; `in_proj` h → d_inner + conv_dim + heads (bias `mamba_proj_bias`);
//!   depthwise `conv1d` of `mamba_d_conv` taps over conv_dim (bias `mamba_conv_bias`);
//!   `dt_bias`, `A_log`, `D` per head; a gated RMSNorm over d_inner; `out_proj` d_inner → h.
//! - `shared_mlp`: `input_linear` h → 2 · `shared_intermediate_size`, `output_linear` back;
//!   MoE: router h → experts (no bias), experts `gate_up_proj [E, 2·ff, h]` and `down_proj
//!   [E, h, ff]` with ff = `intermediate_size`, `num_experts_per_tok` of them.
//! - `embedding_multiplier`, `logits_scaling`, `residual_multiplier` scale values, not memory.
//!
//! llama.cpp reads it as GGUF `granitehybrid` (`ssm.conv_kernel`, `ssm.inner_size`,
//! `ssm.state_size`, `ssm.group_count`, `ssm.time_step_rank`).

use super::{activation, check_list, exact_div, need, need_count, need_within, opt_dim};
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mixer, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions,
    Recurrent, RecurrentKind, Tensor,
};
use serde::Deserialize;

/// Mirrors `GraniteMoeHybridConfig`.
#[derive(Debug, Deserialize)]
pub(crate) struct GraniteHybridWire {
    hidden_size: Option<u64>,
    intermediate_size: Option<u64>,
    num_hidden_layers: Option<u64>,
    num_attention_heads: Option<u64>,
    num_key_value_heads: Option<u64>,
    vocab_size: Option<u64>,
    max_position_embeddings: Option<u64>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    hidden_act: Option<String>,
    num_local_experts: Option<u64>,
    num_experts_per_tok: Option<u64>,
    shared_intermediate_size: Option<u64>,
    position_embedding_type: Option<String>,
    #[serde(alias = "layers_block_type")]
    layer_types: Option<Vec<String>>,
    mamba_n_heads: Option<u64>,
    mamba_n_groups: Option<u64>,
    mamba_d_state: Option<u64>,
    mamba_d_head: Option<serde_json::Value>,
    mamba_d_conv: Option<u64>,
    mamba_expand: Option<u64>,
    mamba_conv_bias: Option<bool>,
    mamba_proj_bias: Option<bool>,
}

pub(crate) fn convert(w: GraniteHybridWire) -> Result<ModelSpec> {
    let f = "granitemoehybrid";
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let kv_heads = super::kv_heads(w.num_key_value_heads, heads)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let head_dim = exact_div("head_dim", h, heads)?;
    // The config class's defaults where a key is absent.
    let m_heads = opt_dim("mamba_n_heads", w.mamba_n_heads)?.unwrap_or(128);
    let groups = opt_dim("mamba_n_groups", w.mamba_n_groups)?.unwrap_or(1);
    let d_state = opt_dim("mamba_d_state", w.mamba_d_state)?.unwrap_or(256);
    let kernel = opt_dim("mamba_d_conv", w.mamba_d_conv)?.unwrap_or(4);
    let expand = opt_dim("mamba_expand", w.mamba_expand)?.unwrap_or(2);
    let inner = limits::product(&limits::PROJECTION, "config.json mamba_expand × hidden_size", &[expand, h])?;
    let d_head = match w.mamba_d_head.as_ref().and_then(serde_json::Value::as_u64) {
        Some(d) => d,
        // "auto" (or absent): d_inner / heads.
        None => exact_div("mamba_d_head", inner, m_heads)?,
    };
    if d_head.saturating_mul(m_heads) != inner {
        return Err(Error::config(
            "mamba_d_head",
            format!("{d_head} × mamba_n_heads {m_heads} is not mamba_expand × hidden_size = {inner}"),
        ));
    }
    let experts = opt_dim("num_local_experts", w.num_local_experts.filter(|&e| e > 0))?.unwrap_or(0);
    if experts > 0 {
        limits::EXPERTS.check("config.json num_local_experts", experts)?;
    }
    let shared = need(f, "shared_intermediate_size", w.shared_intermediate_size)?;
    check_list("layer_types", w.layer_types.as_ref())?;
    let act = activation(w.hidden_act.as_deref(), Activation::Silu);
    let bias = w.attention_bias.unwrap_or(false);
    let proj_bias = w.mamba_proj_bias.unwrap_or(false);
    let state =
        Recurrent { kind: RecurrentKind::Mamba2, inner, state: d_state, groups, heads: m_heads, conv_kernel: kernel };
    let conv_dim = state.conv_channels();
    let q_w = heads * head_dim;
    let kv_w = kv_heads * head_dim;

    let mut layers = Vec::with_capacity(n_layers as usize);
    for i in 0..n_layers {
        let kind = match &w.layer_types {
            Some(types) => types
                .get(i as usize)
                .map(String::as_str)
                .ok_or_else(|| Error::config("layer_types", format!("has no entry for block {i} of {n_layers}")))?,
            // The config class's default: every block Mamba.
            None => "mamba",
        };
        let mut linears = Vec::new();
        let mut norms = vec![
            Norm::new("input_layernorm", NormKind::RmsNorm, h),
            Norm::new("post_attention_layernorm", NormKind::RmsNorm, h),
        ];
        let mut others = Vec::new();
        let (attention, mixer) = match kind {
            "attention" | "full_attention" => {
                linears.push(Linear::new("q_proj", ParamGroup::AttentionQ, h, q_w, bias));
                linears.push(Linear::new("k_proj", ParamGroup::AttentionK, h, kv_w, bias));
                linears.push(Linear::new("v_proj", ParamGroup::AttentionV, h, kv_w, bias));
                linears.push(Linear::new("o_proj", ParamGroup::AttentionO, q_w, h, bias));
                let a = Attention {
                    heads,
                    head_dim,
                    v_head_dim: head_dim,
                    kv: KvLayout::Heads { kv_heads, k_dim: head_dim, v_dim: head_dim },
                    window: None,
                    qk_norm: false,
                    cross: false,
                };
                (a, Mixer::Attention)
            }
            "mamba" | "linear_attention" => {
                linears.push(Linear::new(
                    "in_proj",
                    ParamGroup::AttentionQkv,
                    h,
                    inner + conv_dim + m_heads,
                    proj_bias,
                ));
                linears.push(Linear::new("out_proj", ParamGroup::AttentionO, inner, h, proj_bias));
                others.push(Tensor { name: "conv1d".into(), group: ParamGroup::Other, numel: conv_dim * kernel });
                if w.mamba_conv_bias.unwrap_or(true) {
                    others.push(Tensor { name: "conv1d.bias".into(), group: ParamGroup::Biases, numel: conv_dim });
                }
                others.push(Tensor { name: "dt_bias".into(), group: ParamGroup::Other, numel: m_heads });
                others.push(Tensor { name: "A_log".into(), group: ParamGroup::Other, numel: m_heads });
                others.push(Tensor { name: "D".into(), group: ParamGroup::Other, numel: m_heads });
                norms.push(Norm::new("mamba.norm", NormKind::RmsNorm, inner));
                // The scan's heads, for the activation estimates.
                let a = Attention {
                    heads: m_heads,
                    head_dim: d_head,
                    v_head_dim: d_head,
                    kv: KvLayout::Heads { kv_heads: groups, k_dim: d_state, v_dim: d_head },
                    window: None,
                    qk_norm: false,
                    cross: false,
                };
                (a, Mixer::Recurrent(state))
            }
            other => {
                return Err(Error::config("layer_types", format!("{other:?} is neither mamba nor attention")));
            }
        };
        linears.push(Linear::new("shared_mlp.input_linear", ParamGroup::SharedExperts, h, 2 * shared, false));
        linears.push(Linear::new("shared_mlp.output_linear", ParamGroup::SharedExperts, shared, h, false));
        let mlp = if experts > 0 {
            let top_k = need_within(f, "num_experts_per_tok", w.num_experts_per_tok, &limits::EXPERTS)?;
            if top_k > experts {
                return Err(Error::config(
                    "num_experts_per_tok",
                    format!("{top_k} is more than the model's {experts} experts (num_local_experts)"),
                ));
            }
            let ff = need(f, "intermediate_size", w.intermediate_size)?;
            linears.push(Linear::new("router", ParamGroup::Router, h, experts, false));
            linears.push(Linear::new("experts.gate_up_proj", ParamGroup::Experts, h, 2 * ff, false).times(experts));
            linears.push(Linear::new("experts.down_proj", ParamGroup::Experts, ff, h, false).times(experts));
            Mlp { gated: true, act, intermediate: ff, experts, top_k, shared_intermediate: shared }
        } else {
            Mlp::dense(true, act, shared)
        };
        layers.push(Layer {
            linears,
            norms,
            others,
            attention,
            cross_attention: None,
            mlp,
            parallel_residual: false,
            mixer,
        });
    }
    let rope = w.position_embedding_type.as_deref() == Some("rope");
    Ok(ModelSpec {
        model_type: f.to_string(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![Tensor { name: "embed_tokens".into(), group: ParamGroup::Embeddings, numel: vocab * h }],
        embedding_linears: vec![],
        encoder_layers: vec![],
        layers,
        final_norms: vec![Norm::new("norm", NormKind::RmsNorm, h)],
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, h, vocab, false)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(false),
        extra: vec![],
        // NoPE attention rotates nothing.
        positions: Positions::Rotary { dims: if rope { head_dim } else { 0 } },
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

#[cfg(test)]
mod tests {
    use crate::config::parse_config;
    use crate::model::{Mixer, ParamCount};

    /// A four-block hybrid (transformers' own test shape) counted by hand.
    #[test]
    fn tiny_granite_hybrid_counts_by_hand() {
        let spec = parse_config(
            r#"{"model_type":"granitemoehybrid","vocab_size":1000,"hidden_size":128,"intermediate_size":128,
                "num_hidden_layers":4,"num_attention_heads":8,"num_key_value_heads":4,"attention_bias":false,
                "num_local_experts":8,"num_experts_per_tok":2,"shared_intermediate_size":128,"mamba_n_heads":8,
                "mamba_d_head":32,"mamba_proj_bias":false,"mamba_d_state":128,"mamba_d_conv":4,"mamba_n_groups":1,
                "mamba_conv_bias":false,"layer_types":["mamba","attention","mamba","attention"],
                "tie_word_embeddings":true,"position_embedding_type":"nope"}"#,
        )
        .unwrap();
        // d_inner 256, conv_dim 256 + 2·128 = 512; in_proj 128·(256 + 512 + 8), out 256·128,
        // conv 512·4, dt/A/D 3·8, norm 256.
        let mamba = 128 * 776 + 256 * 128 + 512 * 4 + 24 + 256;
        // head_dim 16: q 128·128, k and v 128·64, o 128·128.
        let attn = 2 * 128 * 128 + 2 * 128 * 64;
        // shared MLP 128·256 + 128·128; router 128·8; experts 8·(128·256 + 128·128); 2 norms.
        let rest = 128 * 256 + 128 * 128 + 128 * 8 + 8 * (128 * 256 + 128 * 128) + 2 * 128;
        assert_eq!(ParamCount::of(&spec).total, 2 * mamba + 2 * attn + 4 * rest + 1000 * 128 + 128);
        assert!(matches!(spec.layers[0].mixer, Mixer::Recurrent(_)) && spec.layers[1].mixer.is_attention());
        let r = spec.layers[0].mixer.recurrent().unwrap();
        assert_eq!((r.inner, r.state, r.groups, r.heads, r.conv_kernel), (256, 128, 1, 8, 4));
    }
}
