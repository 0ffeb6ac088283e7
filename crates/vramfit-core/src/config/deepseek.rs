//! DeepSeek-V2 and V3 (`deepseek_v2`, `deepseek_v3`): multi-head latent attention (MLA) and
//! a mixture of experts with shared experts, the first `first_k_dense_replace` layers dense.
//! The multi-token-prediction layer of V3 (`num_nextn_predict_layers`) is not loaded by
//! Hugging Face transformers and is not counted.

use super::{need, need_count, need_within, opt_dim, opt_within};
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions, Tensor,
};
use serde::Deserialize;

/// Mirrors `DeepseekV2Config` / `DeepseekV3Config`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeepseekWire {
    hidden_size: Option<u64>,
    intermediate_size: Option<u64>,
    moe_intermediate_size: Option<u64>,
    num_hidden_layers: Option<u64>,
    num_attention_heads: Option<u64>,
    n_shared_experts: Option<u64>,
    n_routed_experts: Option<u64>,
    num_experts_per_tok: Option<u64>,
    first_k_dense_replace: Option<u64>,
    moe_layer_freq: Option<u64>,
    q_lora_rank: Option<u64>,
    kv_lora_rank: Option<u64>,
    qk_rope_head_dim: Option<u64>,
    qk_nope_head_dim: Option<u64>,
    v_head_dim: Option<u64>,
    vocab_size: Option<u64>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    topk_method: Option<String>,
    max_position_embeddings: Option<u64>,
}

pub(crate) fn convert(model_type: &str, w: DeepseekWire) -> Result<ModelSpec> {
    let f = model_type;
    let h = need(f, "hidden_size", w.hidden_size)?;
    let n_layers = need_count(f, "num_hidden_layers", w.num_hidden_layers)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let inter = need(f, "intermediate_size", w.intermediate_size)?;
    let kv_rank = need(f, "kv_lora_rank", w.kv_lora_rank)?;
    let rope = need(f, "qk_rope_head_dim", w.qk_rope_head_dim)?;
    let nope = need(f, "qk_nope_head_dim", w.qk_nope_head_dim)?;
    let v_dim = need(f, "v_head_dim", w.v_head_dim)?;
    let q_rank = opt_dim("q_lora_rank", w.q_lora_rank)?;
    let experts = opt_within("n_routed_experts", w.n_routed_experts, &limits::EXPERTS)?.unwrap_or(0);
    let n_shared = opt_within("n_shared_experts", w.n_shared_experts, &limits::EXPERTS)?.unwrap_or(0);
    let bias = w.attention_bias.unwrap_or(false);
    let q_head = nope + rope;
    let correction_bias = model_type == "deepseek_v3" || w.topk_method.as_deref() == Some("noaux_tc");
    let mut layers = Vec::new();
    for i in 0..n_layers {
        let mut linears = Vec::new();
        let mut norms = vec![
            Norm::new("input_layernorm", NormKind::RmsNorm, h),
            Norm::new("post_attention_layernorm", NormKind::RmsNorm, h),
            Norm::new("kv_a_layernorm", NormKind::RmsNorm, kv_rank),
        ];
        if let Some(r) = q_rank {
            linears.push(Linear::new("q_a_proj", ParamGroup::AttentionQ, h, r, bias));
            linears.push(Linear::new("q_b_proj", ParamGroup::AttentionQ, r, heads * q_head, false));
            norms.push(Norm::new("q_a_layernorm", NormKind::RmsNorm, r));
        } else {
            linears.push(Linear::new("q_proj", ParamGroup::AttentionQ, h, heads * q_head, false));
        }
        linears.push(Linear::new("kv_a_proj_with_mqa", ParamGroup::AttentionQkv, h, kv_rank + rope, bias));
        linears.push(Linear::new("kv_b_proj", ParamGroup::AttentionQkv, kv_rank, heads * (nope + v_dim), false));
        linears.push(Linear::new("o_proj", ParamGroup::AttentionO, heads * v_dim, h, bias));
        let freq = w.moe_layer_freq.unwrap_or(1).max(1);
        let moe_here = experts > 0 && i >= w.first_k_dense_replace.unwrap_or(0) && i % freq == 0;
        let mut others = vec![];
        let mlp = if moe_here {
            let ei = need(f, "moe_intermediate_size", w.moe_intermediate_size)?;
            let top_k = need_within(f, "num_experts_per_tok", w.num_experts_per_tok, &limits::EXPERTS)?;
            // The router's top-k over the experts (torch.topk refuses k > n): never clamped.
            if top_k > experts {
                return Err(Error::config(
                    "num_experts_per_tok",
                    format!("{top_k} is more than the model's {experts} experts (n_routed_experts)"),
                ));
            }
            let shared = limits::product(
                &limits::PROJECTION,
                "config.json n_shared_experts × moe_intermediate_size",
                &[n_shared, ei],
            )?;
            linears.push(Linear::new("gate", ParamGroup::Router, h, experts, false));
            if correction_bias {
                others.push(Tensor {
                    name: "gate.e_score_correction_bias".into(),
                    group: ParamGroup::Router,
                    numel: experts,
                });
            }
            linears.push(Linear::new("experts.gate_proj", ParamGroup::Experts, h, ei, false).times(experts));
            linears.push(Linear::new("experts.up_proj", ParamGroup::Experts, h, ei, false).times(experts));
            linears.push(Linear::new("experts.down_proj", ParamGroup::Experts, ei, h, false).times(experts));
            if shared > 0 {
                linears.push(Linear::new("shared_experts.gate_proj", ParamGroup::SharedExperts, h, shared, false));
                linears.push(Linear::new("shared_experts.up_proj", ParamGroup::SharedExperts, h, shared, false));
                linears.push(Linear::new("shared_experts.down_proj", ParamGroup::SharedExperts, shared, h, false));
            }
            Mlp {
                gated: true,
                act: Activation::Silu,
                intermediate: ei,
                experts,
                top_k: top_k.min(experts),
                shared_intermediate: shared,
            }
        } else {
            linears.push(Linear::new("gate_proj", ParamGroup::Mlp, h, inter, false));
            linears.push(Linear::new("up_proj", ParamGroup::Mlp, h, inter, false));
            linears.push(Linear::new("down_proj", ParamGroup::Mlp, inter, h, false));
            Mlp::dense(true, Activation::Silu, inter)
        };
        layers.push(Layer {
            linears,
            norms,
            others,
            attention: Attention {
                heads,
                head_dim: q_head,
                v_head_dim: v_dim,
                kv: KvLayout::Latent { kv_lora_rank: kv_rank, rope_dim: rope, heads, k_dim: q_head, v_dim },
                window: None,
                qk_norm: false,
                cross: false,
            },
            cross_attention: None,
            mlp,
            parallel_residual: false,
            mixer: crate::model::Mixer::Attention,
        });
    }
    Ok(ModelSpec {
        model_type: model_type.into(),
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
        positions: Positions::Rotary { dims: rope },
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
        // modeling_deepseek follows modeling_llama: logits upcast (4.31–4.45), rotary caches
        // per layer (before 4.38).
        quirks: crate::model::FamilyQuirks {
            hf_logits_upcast: true,
            hf_rotary_cache_per_layer: true,
            ..crate::model::FamilyQuirks::default()
        },
    })
}
