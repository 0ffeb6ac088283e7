//! Qwen3-Next (`qwen3_next`) and Qwen3.5/3.6 (`qwen3_5`, `qwen3_5_moe`, whose language model is
//! the `text_config` `qwen3_5_text` / `qwen3_5_moe_text`): hybrid blocks, three Gated DeltaNet
//! linear-attention blocks to one gated full-attention block (`layer_types`, else
//! `full_attention_interval` 4: block i attends when `(i + 1) % 4 == 0`).
//!
//! From transformers 5.25 `modeling_qwen3_next.py`, `modeling_qwen3_5.py`,
//! `modeling_qwen3_5_moe.py`:
//! - full attention: `q_proj` h → 2 · heads · head_dim (the output gate rides on q), `k_proj`,
//!   `v_proj` h → kv_heads · head_dim, `o_proj`, per-head `q_norm`/`k_norm`; rotary on
//!   `partial_rotary_factor` (0.25) of the head.
//! - Gated DeltaNet (`*GatedDeltaNet`): key_dim = key heads · k_head_dim, value_dim = value
//!   heads · v_head_dim; Qwen3-Next projects `in_proj_qkvz` h → 2·key_dim + 2·value_dim and
//!   `in_proj_ba` h → 2 · value heads; Qwen3.5 splits the same outputs into `in_proj_qkv`,
//!   `in_proj_z`, `in_proj_b`, `in_proj_a`; a depthwise `conv1d` over conv_dim = 2·key_dim +
//!   value_dim channels of `linear_conv_kernel_dim` taps without bias; `dt_bias` and `A_log`
//!   per value head; a gated RMSNorm over v_head_dim; `out_proj` value_dim → h. Its state is a
//!   [`Recurrent`] of inner value_dim, state k_head_dim, groups key heads.
//! - MLP: Qwen3-Next a sparse MoE where `num_experts > 0`, `(i + 1) % decoder_sparse_step == 0`
//!   and i is not in `mlp_only_layers` (else dense `intermediate_size`); Qwen3.5 MoE always;
//!   Qwen3.5 dense never. The MoE has a router h → experts, `num_experts` experts of
//!   `moe_intermediate_size`, one shared expert of `shared_expert_intermediate_size` and its
//!   sigmoid gate h → 1.
//! - RMSNorms scale by `1 + weight` in fp32, as Gemma's.
//!
//! The multi-token-prediction block (`mtp.*`) and Qwen3.5's vision tower are not loaded by the
//! causal-LM classes (`_keys_to_ignore_on_load_unexpected = [r"^mtp.*"]`) and not counted.
//!
//! llama.cpp reads them as GGUF `qwen3next`, `qwen35`, `qwen35moe` (its `ssm.*` keys:
//! d_conv = kernel, d_inner = value_dim, d_state = k_head_dim, n_group = key heads,
//! dt_rank = value heads).

use super::{activation, check_list, need, need_count, need_within, opt_dim};
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mixer, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions,
    Recurrent, RecurrentKind, Tensor,
};
use serde::Deserialize;

/// Mirrors `Qwen3NextConfig`, `Qwen3_5TextConfig`, `Qwen3_5MoeTextConfig`.
#[derive(Debug, Deserialize)]
pub(crate) struct Qwen3NextWire {
    hidden_size: Option<u64>,
    intermediate_size: Option<u64>,
    num_hidden_layers: Option<u64>,
    num_attention_heads: Option<u64>,
    num_key_value_heads: Option<u64>,
    head_dim: Option<u64>,
    vocab_size: Option<u64>,
    max_position_embeddings: Option<u64>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    hidden_act: Option<String>,
    partial_rotary_factor: Option<f64>,
    layer_types: Option<Vec<String>>,
    full_attention_interval: Option<u64>,
    linear_conv_kernel_dim: Option<u64>,
    linear_key_head_dim: Option<u64>,
    linear_value_head_dim: Option<u64>,
    linear_num_key_heads: Option<u64>,
    linear_num_value_heads: Option<u64>,
    num_experts: Option<u64>,
    num_experts_per_tok: Option<u64>,
    moe_intermediate_size: Option<u64>,
    shared_expert_intermediate_size: Option<u64>,
    decoder_sparse_step: Option<u64>,
    mlp_only_layers: Option<Vec<u64>>,
}

/// Which of the three model classes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `qwen3_next`: fused `in_proj_qkvz`/`in_proj_ba`, MoE by `decoder_sparse_step`.
    Next,
    /// `qwen3_5(_text)`: split projections, dense MLP.
    Dense,
    /// `qwen3_5_moe(_text)`: split projections, MoE in every block.
    Moe,
}

pub(crate) fn convert(model_type: &str, w: Qwen3NextWire) -> Result<ModelSpec> {
    let variant = match model_type {
        "qwen3_next" => Variant::Next,
        "qwen3_5_moe" | "qwen3_5_moe_text" => Variant::Moe,
        _ => Variant::Dense,
    };
    let f = model_type;
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let kv_heads = super::kv_heads(w.num_key_value_heads, heads)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    // The config classes' defaults where a key is absent.
    let head_dim = opt_dim("head_dim", w.head_dim)?.unwrap_or(256);
    let kernel = opt_dim("linear_conv_kernel_dim", w.linear_conv_kernel_dim)?.unwrap_or(4);
    let hk = opt_dim("linear_key_head_dim", w.linear_key_head_dim)?.unwrap_or(128);
    let hv = opt_dim("linear_value_head_dim", w.linear_value_head_dim)?.unwrap_or(128);
    let nk = opt_dim("linear_num_key_heads", w.linear_num_key_heads)?.unwrap_or(16);
    let nv = opt_dim("linear_num_value_heads", w.linear_num_value_heads)?.unwrap_or(32);
    if nv % nk != 0 {
        return Err(Error::config(
            "linear_num_value_heads",
            format!("{nv} is not a multiple of linear_num_key_heads {nk}"),
        ));
    }
    let q_w = limits::product(&limits::PROJECTION, "config.json num_attention_heads × head_dim", &[heads, head_dim])?;
    let kv_w =
        limits::product(&limits::PROJECTION, "config.json num_key_value_heads × head_dim", &[kv_heads, head_dim])?;
    let key_dim =
        limits::product(&limits::PROJECTION, "config.json linear_num_key_heads × linear_key_head_dim", &[nk, hk])?;
    let value_dim =
        limits::product(&limits::PROJECTION, "config.json linear_num_value_heads × linear_value_head_dim", &[nv, hv])?;
    check_list("layer_types", w.layer_types.as_ref())?;
    check_list("mlp_only_layers", w.mlp_only_layers.as_ref())?;
    let interval = w.full_attention_interval.unwrap_or(4).max(1);
    let attends = |i: u64| -> Result<bool> {
        match &w.layer_types {
            Some(types) => match types.get(i as usize).map(String::as_str) {
                Some("full_attention") => Ok(true),
                Some("linear_attention") => Ok(false),
                Some(other) => Err(Error::config(
                    "layer_types",
                    format!("{other:?} is neither full_attention nor linear_attention"),
                )),
                None => Err(Error::config("layer_types", format!("has no entry for block {i} of {n_layers}"))),
            },
            None => Ok((i + 1) % interval == 0),
        }
    };
    let experts = match variant {
        Variant::Dense => 0,
        _ => opt_dim("num_experts", w.num_experts)?.unwrap_or(0),
    };
    if variant == Variant::Moe && experts == 0 {
        return Err(Error::MissingKey { family: f.into(), key: "num_experts".into() });
    }
    if experts > limits::EXPERTS.max {
        limits::EXPERTS.check("config.json num_experts", experts)?;
    }
    let mlp_only: std::collections::HashSet<u64> = w.mlp_only_layers.iter().flatten().copied().collect();
    let step = w.decoder_sparse_step.unwrap_or(1).max(1);
    let act = activation(w.hidden_act.as_deref(), Activation::Silu);
    let bias = w.attention_bias.unwrap_or(false);
    let state = Recurrent {
        kind: RecurrentKind::GatedDeltaNet,
        inner: value_dim,
        state: hk,
        groups: nk,
        heads: nv,
        conv_kernel: kernel,
    };

    let mut layers = Vec::with_capacity(n_layers as usize);
    for i in 0..n_layers {
        let mut linears = Vec::new();
        let mut norms = vec![
            Norm::new("input_layernorm", NormKind::RmsNorm, h),
            Norm::new("post_attention_layernorm", NormKind::RmsNorm, h),
        ];
        let mut others = Vec::new();
        let (attention, mixer) = if attends(i)? {
            linears.push(Linear::new("q_proj", ParamGroup::AttentionQ, h, 2 * q_w, bias));
            linears.push(Linear::new("k_proj", ParamGroup::AttentionK, h, kv_w, bias));
            linears.push(Linear::new("v_proj", ParamGroup::AttentionV, h, kv_w, bias));
            linears.push(Linear::new("o_proj", ParamGroup::AttentionO, q_w, h, bias));
            norms.push(Norm::new("q_norm", NormKind::RmsNorm, head_dim));
            norms.push(Norm::new("k_norm", NormKind::RmsNorm, head_dim));
            let a = Attention {
                heads,
                head_dim,
                v_head_dim: head_dim,
                kv: KvLayout::Heads { kv_heads, k_dim: head_dim, v_dim: head_dim },
                window: None,
                qk_norm: true,
                cross: false,
            };
            (a, Mixer::Attention)
        } else {
            if variant == Variant::Next {
                linears.push(Linear::new(
                    "in_proj_qkvz",
                    ParamGroup::AttentionQkv,
                    h,
                    2 * key_dim + 2 * value_dim,
                    false,
                ));
                linears.push(Linear::new("in_proj_ba", ParamGroup::AttentionQkv, h, 2 * nv, false));
            } else {
                linears.push(Linear::new("in_proj_qkv", ParamGroup::AttentionQkv, h, 2 * key_dim + value_dim, false));
                linears.push(Linear::new("in_proj_z", ParamGroup::AttentionQkv, h, value_dim, false));
                linears.push(Linear::new("in_proj_b", ParamGroup::AttentionQkv, h, nv, false));
                linears.push(Linear::new("in_proj_a", ParamGroup::AttentionQkv, h, nv, false));
            }
            linears.push(Linear::new("out_proj", ParamGroup::AttentionO, value_dim, h, false));
            others.push(Tensor {
                name: "conv1d".into(),
                group: ParamGroup::Other,
                numel: state.conv_channels() * kernel,
            });
            others.push(Tensor { name: "dt_bias".into(), group: ParamGroup::Other, numel: nv });
            others.push(Tensor { name: "A_log".into(), group: ParamGroup::Other, numel: nv });
            norms.push(Norm::new("linear_attn.norm", NormKind::RmsNorm, hv));
            // The recurrence's heads, for the activation estimates: value heads over key heads.
            let a = Attention {
                heads: nv,
                head_dim: hk,
                v_head_dim: hv,
                kv: KvLayout::Heads { kv_heads: nk, k_dim: hk, v_dim: hv },
                window: None,
                qk_norm: false,
                cross: false,
            };
            (a, Mixer::Recurrent(state))
        };
        let sparse = match variant {
            Variant::Dense => false,
            Variant::Moe => true,
            Variant::Next => experts > 0 && !mlp_only.contains(&i) && (i + 1) % step == 0,
        };
        let mlp = if sparse {
            let top_k = need_within(f, "num_experts_per_tok", w.num_experts_per_tok, &limits::EXPERTS)?;
            if top_k > experts {
                return Err(Error::config(
                    "num_experts_per_tok",
                    format!("{top_k} is more than the model's {experts} experts (num_experts)"),
                ));
            }
            let ei = need(f, "moe_intermediate_size", w.moe_intermediate_size)?;
            let shared = opt_dim("shared_expert_intermediate_size", w.shared_expert_intermediate_size)?.unwrap_or(0);
            linears.push(Linear::new("gate", ParamGroup::Router, h, experts, false));
            linears.push(Linear::new("gate_proj", ParamGroup::Experts, h, ei, false).times(experts));
            linears.push(Linear::new("up_proj", ParamGroup::Experts, h, ei, false).times(experts));
            linears.push(Linear::new("down_proj", ParamGroup::Experts, ei, h, false).times(experts));
            if shared > 0 {
                linears.push(Linear::new("shared_expert.gate_proj", ParamGroup::SharedExperts, h, shared, false));
                linears.push(Linear::new("shared_expert.up_proj", ParamGroup::SharedExperts, h, shared, false));
                linears.push(Linear::new("shared_expert.down_proj", ParamGroup::SharedExperts, shared, h, false));
                linears.push(Linear::new("shared_expert_gate", ParamGroup::Router, h, 1, false));
            }
            Mlp { gated: true, act, intermediate: ei, experts, top_k, shared_intermediate: shared }
        } else {
            let ff = need(f, "intermediate_size", w.intermediate_size)?;
            linears.push(Linear::new("gate_proj", ParamGroup::Mlp, h, ff, false));
            linears.push(Linear::new("up_proj", ParamGroup::Mlp, h, ff, false));
            linears.push(Linear::new("down_proj", ParamGroup::Mlp, ff, h, false));
            Mlp::dense(true, act, ff)
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
    let rotary = (head_dim as f64 * w.partial_rotary_factor.unwrap_or(0.25).clamp(0.0, 1.0)) as u64;
    Ok(ModelSpec {
        model_type: model_type.to_string(),
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
        positions: Positions::Rotary { dims: rotary },
        max_positions: w.max_position_embeddings,
        position_limit: None,
        head: crate::model::Head::CausalLm,
        torch_dtype: None,
        quantization: None,
        is_decoder: true,
        dropout: crate::model::Dropout::default(),
        eager_softmax: crate::model::EagerSoftmax::default(),
        // `output * (1.0 + self.weight.float())` then `type_as(x)`.
        norm_weight_fp32: true,
        checkpoint: None,
        softcap: crate::model::Softcap::default(),
        quirks: crate::model::FamilyQuirks::default(),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::parse_config;
    use crate::model::{Mixer, ParamCount};

    /// A two-block Qwen3.5 (one linear, one full attention) counted by hand.
    #[test]
    fn tiny_qwen35_counts_by_hand() {
        let spec = parse_config(
            r#"{"model_type":"qwen3_5","text_config":{"hidden_size":64,"intermediate_size":128,
                "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":16,
                "vocab_size":100,"full_attention_interval":2,"linear_conv_kernel_dim":4,
                "linear_key_head_dim":8,"linear_value_head_dim":8,"linear_num_key_heads":2,
                "linear_num_value_heads":4}}"#,
        )
        .unwrap();
        assert_eq!(spec.model_type, "qwen3_5_text");
        assert!(matches!(spec.layers[0].mixer, Mixer::Recurrent(_)));
        assert!(spec.layers[1].mixer.is_attention());
        // Linear block: key_dim 16, value_dim 32; qkv 64·(32+32), z 64·32, b and a 64·4 each,
        // out 32·64, conv (2·16+32)·4, dt_bias 4, A_log 4, gated norm 8.
        let linear = 64 * 64 + 64 * 32 + 2 * 64 * 4 + 32 * 64 + 64 * 4 + 4 + 4 + 8;
        // Full block: q 64·(2·64), k and v 64·32, o 64·64, q/k norms 16 each.
        let full = 64 * 128 + 2 * 64 * 32 + 64 * 64 + 2 * 16;
        let per_block = 3 * 64 * 128 + 2 * 64;
        assert_eq!(ParamCount::of(&spec).total, linear + full + 2 * per_block + 2 * 100 * 64 + 64);
        let r = spec.layers[0].mixer.recurrent().unwrap();
        assert_eq!((r.inner, r.state, r.groups, r.heads, r.conv_kernel), (32, 8, 2, 4, 4));
    }

    /// Qwen3-Next-80B-A3B (the catalog's config): the causal LM transformers loads has
    /// 79,674,391,296 parameters, the Hub's safetensors total of Qwen/Qwen3-Coder-Next (the
    /// same architecture without an MTP block) as github.com/AlexsJones/llmfit
    /// llmfit-core/data/hf_models.json records it (79.674391296 B). Qwen/Qwen3-Next-80B-A3B-
    /// Instruct's total there, 81.32486272 B, adds the multi-token-prediction block vLLM loads
    /// (model_executor/models/qwen3_next_mtp.py: `fc` 2h → h, two pre-fc RMSNorms, one
    /// full-attention MoE decoder block, a final norm) — to the parameter.
    #[test]
    fn qwen3_next_80b_matches_the_published_totals() {
        let spec = crate::catalog::find_model("qwen3-next-80b-a3b").unwrap().spec().unwrap();
        let total = ParamCount::of(&spec).total;
        assert_eq!(total, 79_674_391_296);
        let h = 2048u64;
        let attention = h * 2 * 16 * 256 + 2 * h * 2 * 256 + 16 * 256 * h + 2 * 256;
        let moe = h * 512 + 512 * 3 * h * 512 + 3 * h * 512 + h;
        let mtp = 2 * h * h + 2 * h + (2 * h + attention + moe) + h;
        assert_eq!(total + mtp, 81_324_862_720);
        assert_eq!(spec.layers.iter().filter(|l| l.mixer.is_attention()).count(), 12);
        assert_eq!(spec.recurrent_layers().count(), 36);
    }

    #[test]
    fn layer_types_must_name_every_block() {
        let e = parse_config(
            r#"{"model_type":"qwen3_next","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
                "num_attention_heads":4,"vocab_size":100,"layer_types":["linear_attention"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("layer_types"), "{e}");
    }
}
