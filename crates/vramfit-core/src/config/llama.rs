//! The Llama family and its descendants that share its config keys: llama (1, 2, 3.x),
//! mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma, gemma2, gemma3(_text), phi3.

use super::{activation, check_list, exact_div, need, need_count, need_within, opt_dim};
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `LlamaConfig`, `MistralConfig`, `MixtralConfig`, `Qwen2Config`, `Qwen3Config`,
/// `Qwen3MoeConfig`, `GemmaConfig`, `Gemma2Config`, `Gemma3TextConfig`, `Phi3Config`.
#[derive(Debug, Deserialize)]
pub(crate) struct LlamaWire {
    #[serde(alias = "n_embd", alias = "d_model")]
    hidden_size: Option<u64>,
    #[serde(alias = "ffn_hidden_size")]
    intermediate_size: Option<u64>,
    #[serde(alias = "n_layer", alias = "num_layers")]
    num_hidden_layers: Option<u64>,
    #[serde(alias = "n_head")]
    num_attention_heads: Option<u64>,
    #[serde(alias = "num_kv_heads", alias = "n_head_kv")]
    num_key_value_heads: Option<u64>,
    head_dim: Option<u64>,
    vocab_size: Option<u64>,
    #[serde(alias = "n_positions")]
    max_position_embeddings: Option<u64>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    hidden_act: Option<String>,
    /// Gemma's spelling; wins over `hidden_act` when both are present (Gemma 2 configs).
    hidden_activation: Option<String>,
    sliding_window: Option<u64>,
    use_sliding_window: Option<bool>,
    max_window_layers: Option<u64>,
    layer_types: Option<Vec<String>>,
    sliding_window_pattern: Option<u64>,
    partial_rotary_factor: Option<f64>,
    attn_logit_softcapping: Option<f64>,
    final_logit_softcapping: Option<f64>,
    // Mixture of experts.
    #[serde(alias = "num_experts", alias = "n_routed_experts")]
    num_local_experts: Option<u64>,
    num_experts_per_tok: Option<u64>,
    moe_intermediate_size: Option<u64>,
    shared_expert_intermediate_size: Option<u64>,
    decoder_sparse_step: Option<u64>,
    mlp_only_layers: Option<Vec<u64>>,
}

pub(crate) fn convert(model_type: &str, w: LlamaWire) -> Result<ModelSpec> {
    let f = model_type;
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let kv_heads = super::kv_heads(w.num_key_value_heads, heads)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let head_dim = match opt_dim("head_dim", w.head_dim)? {
        Some(d) => d,
        None => exact_div("head_dim", h, heads)?,
    };
    let is_moe_family = matches!(model_type, "mixtral" | "qwen2_moe" | "qwen3_moe");
    let experts =
        if is_moe_family { need_within(f, "num_local_experts", w.num_local_experts, &limits::EXPERTS)? } else { 0 };
    let intermediate = if is_moe_family && model_type != "mixtral" {
        // Qwen MoE: dense layers (mlp_only_layers) use intermediate_size; experts use
        // moe_intermediate_size.
        opt_dim("intermediate_size", w.intermediate_size)?.unwrap_or(0)
    } else {
        need(f, "intermediate_size", w.intermediate_size)?
    };
    let gemma_like = model_type.starts_with("gemma");
    let tie = w.tie_word_embeddings.unwrap_or(gemma_like);
    let act = activation(
        w.hidden_activation.as_deref().or(w.hidden_act.as_deref()),
        if gemma_like { Activation::Gelu } else { Activation::Silu },
    );
    let q_w = limits::product(&limits::PROJECTION, "config.json num_attention_heads × head_dim", &[heads, head_dim])?;
    let kv_w =
        limits::product(&limits::PROJECTION, "config.json num_key_value_heads × head_dim", &[kv_heads, head_dim])?;
    check_list("mlp_only_layers", w.mlp_only_layers.as_ref())?;
    check_list("layer_types", w.layer_types.as_ref())?;
    // A set: looked up once per layer.
    let mlp_only: std::collections::HashSet<u64> = w.mlp_only_layers.iter().flatten().copied().collect();
    let (qkv_bias, o_bias) = match model_type {
        // Qwen2 hard-codes bias on q, k, v and none on o.
        "qwen2" | "qwen2_moe" => (true, false),
        _ => {
            let b = w.attention_bias.unwrap_or(false);
            (b, b)
        }
    };
    let mlp_bias = w.mlp_bias.unwrap_or(false);
    let qk_norm = matches!(model_type, "qwen3" | "qwen3_moe" | "gemma3" | "gemma3_text");
    let four_norms = matches!(model_type, "gemma2" | "gemma3" | "gemma3_text");

    let mut layers = Vec::with_capacity(n_layers as usize);
    for i in 0..n_layers {
        let mut linears = Vec::new();
        if model_type == "phi3" {
            linears.push(Linear::new("qkv_proj", ParamGroup::AttentionQkv, h, q_w + 2 * kv_w, qkv_bias));
        } else {
            linears.push(Linear::new("q_proj", ParamGroup::AttentionQ, h, q_w, qkv_bias));
            linears.push(Linear::new("k_proj", ParamGroup::AttentionK, h, kv_w, qkv_bias));
            linears.push(Linear::new("v_proj", ParamGroup::AttentionV, h, kv_w, qkv_bias));
        }
        linears.push(Linear::new("o_proj", ParamGroup::AttentionO, q_w, h, o_bias));

        let sparse_here = is_moe_family && {
            let step = w.decoder_sparse_step.unwrap_or(1).max(1);
            let dense_listed = mlp_only.contains(&i);
            !dense_listed && (i + 1) % step == 0
        };
        let mlp = if sparse_here {
            let top_k = need_within(f, "num_experts_per_tok", w.num_experts_per_tok, &limits::EXPERTS)?;
            // The router's top-k over the experts (torch.topk refuses k > n): never clamped.
            if top_k > experts {
                return Err(Error::config(
                    "num_experts_per_tok",
                    format!("{top_k} is more than the model's {experts} experts (num_local_experts)"),
                ));
            }
            let ei = if model_type == "mixtral" {
                intermediate
            } else {
                need(f, "moe_intermediate_size", w.moe_intermediate_size)?
            };
            linears.push(Linear::new("gate", ParamGroup::Router, h, experts, false));
            if model_type == "mixtral" {
                linears.push(Linear::new("w1", ParamGroup::Experts, h, ei, false).times(experts));
                linears.push(Linear::new("w2", ParamGroup::Experts, ei, h, false).times(experts));
                linears.push(Linear::new("w3", ParamGroup::Experts, h, ei, false).times(experts));
            } else {
                linears.push(Linear::new("gate_proj", ParamGroup::Experts, h, ei, false).times(experts));
                linears.push(Linear::new("up_proj", ParamGroup::Experts, h, ei, false).times(experts));
                linears.push(Linear::new("down_proj", ParamGroup::Experts, ei, h, false).times(experts));
            }
            let shared = if model_type == "qwen2_moe" {
                opt_dim("shared_expert_intermediate_size", w.shared_expert_intermediate_size)?.unwrap_or(0)
            } else {
                0
            };
            if shared > 0 {
                linears.push(Linear::new("shared_expert.gate_proj", ParamGroup::SharedExperts, h, shared, false));
                linears.push(Linear::new("shared_expert.up_proj", ParamGroup::SharedExperts, h, shared, false));
                linears.push(Linear::new("shared_expert.down_proj", ParamGroup::SharedExperts, shared, h, false));
                linears.push(Linear::new("shared_expert_gate", ParamGroup::Router, h, 1, false));
            }
            Mlp { gated: true, act, intermediate: ei, experts, top_k: top_k.min(experts), shared_intermediate: shared }
        } else {
            if intermediate == 0 {
                return Err(Error::MissingKey { family: f.to_string(), key: "intermediate_size".into() });
            }
            if model_type == "phi3" {
                linears.push(Linear::new("gate_up_proj", ParamGroup::Mlp, h, 2 * intermediate, mlp_bias));
            } else {
                linears.push(Linear::new("gate_proj", ParamGroup::Mlp, h, intermediate, mlp_bias));
                linears.push(Linear::new("up_proj", ParamGroup::Mlp, h, intermediate, mlp_bias));
            }
            linears.push(Linear::new("down_proj", ParamGroup::Mlp, intermediate, h, mlp_bias));
            Mlp::dense(true, act, intermediate)
        };

        let mut norms = vec![
            Norm::new("input_layernorm", NormKind::RmsNorm, h),
            Norm::new("post_attention_layernorm", NormKind::RmsNorm, h),
        ];
        if four_norms {
            norms.push(Norm::new("pre_feedforward_layernorm", NormKind::RmsNorm, h));
            norms.push(Norm::new("post_feedforward_layernorm", NormKind::RmsNorm, h));
        }
        if qk_norm {
            norms.push(Norm::new("q_norm", NormKind::RmsNorm, head_dim));
            norms.push(Norm::new("k_norm", NormKind::RmsNorm, head_dim));
        }
        layers.push(Layer {
            linears,
            norms,
            others: vec![],
            attention: Attention {
                heads,
                head_dim,
                v_head_dim: head_dim,
                kv: KvLayout::Heads { kv_heads, k_dim: head_dim, v_dim: head_dim },
                window: window_of(model_type, &w, i)?,
                qk_norm,
                cross: false,
            },
            cross_attention: None,
            mlp,
            parallel_residual: false,
            mixer: crate::model::Mixer::Attention,
        });
    }
    let rotary = (head_dim as f64 * w.partial_rotary_factor.unwrap_or(1.0).clamp(0.0, 1.0)) as u64;
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
        tied_embeddings: tie,
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
        norm_weight_fp32: gemma_like,
        checkpoint: None,
        softcap: crate::model::Softcap {
            attention: w.attn_logit_softcapping.is_some_and(|c| c > 0.0),
            logits: w.final_logit_softcapping.is_some_and(|c| c > 0.0),
        },
        quirks: crate::model::FamilyQuirks {
            // modeling_llama.py and the files copied from it (mistral, mixtral, qwen2/3 (MoE),
            // gemma 1/2/3, phi3) upcast logits in forward from 4.31 to 4.45, and cached rotary
            // cos/sin per layer before 4.38.
            hf_logits_upcast: true,
            hf_rotary_cache_per_layer: true,
            // llama.cpp llama-model.cpp builds the iSWA cache for Gemma 2/3.
            llamacpp_iswa: matches!(model_type, "gemma2" | "gemma3" | "gemma3_text"),
            // convert_hf_to_gguf.py LlamaModel: llama, mistral and mixtral are GGUF `llama`.
            gguf_arch_llama: matches!(model_type, "llama" | "mistral" | "mixtral"),
            ..crate::model::FamilyQuirks::default()
        },
    })
}

/// The sliding window of layer `i`, if it attends locally.
fn window_of(model_type: &str, w: &LlamaWire, i: u64) -> Result<Option<u64>> {
    let Some(window) = opt_dim("sliding_window", w.sliding_window)? else {
        return Ok(None);
    };
    if let Some(types) = &w.layer_types {
        return Ok(types.get(i as usize).filter(|t| t.as_str() == "sliding_attention").map(|_| window));
    }
    Ok(match model_type {
        // Gemma 2: even layers are local (`is_sliding = not layer_idx % 2`).
        "gemma2" => (i % 2 == 0).then_some(window),
        // Gemma 3: every `sliding_window_pattern`-th layer is global.
        "gemma3" | "gemma3_text" => {
            let p = w.sliding_window_pattern.unwrap_or(6).max(1);
            ((i + 1) % p != 0).then_some(window)
        }
        // Qwen2: only when use_sliding_window, and only from max_window_layers on.
        "qwen2" | "qwen2_moe" | "qwen3" | "qwen3_moe" => {
            (w.use_sliding_window.unwrap_or(false) && i >= w.max_window_layers.unwrap_or(0)).then_some(window)
        }
        _ => Some(window),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::parse_config;
    use crate::model::ParamCount;

    #[test]
    fn tiny_llama_counts() {
        let spec = parse_config(
            r#"{"model_type":"llama","hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,
                "num_attention_heads":2,"num_key_value_heads":1,"vocab_size":10}"#,
        )
        .unwrap();
        // per layer: q 64 + k 32 + v 32 + o 64 + mlp 3*128 + norms 16 = 592
        // embed 80 + head 80 + final norm 8
        assert_eq!(ParamCount::of(&spec).total, 2 * 592 + 80 + 80 + 8);
    }
}
