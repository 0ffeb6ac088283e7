//! NVIDIA Nemotron-H (`nemotron_h`: Nemotron-H 8B/47B/56B, Nemotron Nano 2, Nemotron 3 Nano):
//! a stack of single-mixer blocks, each a pre-RMSNorm and one of a Mamba-2 mixer (`M`), an
//! attention mixer (`*`), a ReLU² MLP (`-`) or a routed MoE (`E`), as `hybrid_override_pattern`
//! (or `layers_block_type` / `layer_types`) lists them.
//!
//! From transformers 5.25 `modeling_nemotron_h.py` (`NemotronHBlock`: `norm` and `mixer`):
//! - Mamba-2 (`NemotronHMamba2Mixer`): d_inner = `mamba_num_heads` · `mamba_head_dim`;
//!   conv_dim = d_inner + 2 · `n_groups` · `ssm_state_size`; `in_proj` h → d_inner +
//!   conv_dim + heads (bias `use_bias`); depthwise `conv1d` of `conv_kernel` taps (bias
//!   `use_conv_bias`); `dt_bias`, `A_log`, `D` per head; a gated RMSNorm over d_inner;
//!   `out_proj` d_inner → h.
//! - attention (`NemotronHAttention`): q/k/v/o without bias, `head_dim`; no rotary.
//! - MLP (`NemotronHMLP`): `up_proj` h → `intermediate_size`, `down_proj` back (`mlp_bias`),
//!   ReLU² between (not gated).
//! - MoE (`NemotronHMoE`): router `[n_routed_experts, h]` (its `e_score_correction_bias` is a buffer),
//!   experts `up_proj [E, moe_intermediate_size, d]` and `down_proj [E, d, …]` with d =
//!   `moe_latent_size` when set (then `fc1_latent_proj` h → d and `fc2_latent_proj` back),
//!   else h; one shared MLP of `moe_shared_expert_intermediate_size`.
//!
//! Only the attention blocks keep K/V and only the Mamba blocks a state; the MLP and MoE blocks
//! keep neither (llama.cpp `create_memory`: `filter_attn` = not recurrent and no FFN).

use super::{activation, check_list, need, need_within, opt_dim};
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{
    Activation, Attention, KvLayout, Layer, Linear, Mixer, Mlp, ModelSpec, Norm, NormKind, ParamGroup, Positions,
    Recurrent, RecurrentKind, Tensor,
};
use serde::Deserialize;

/// Mirrors `NemotronHConfig` (with the older spellings its `__post_init__` accepts).
#[derive(Debug, Deserialize)]
pub(crate) struct NemotronHWire {
    hidden_size: Option<u64>,
    vocab_size: Option<u64>,
    max_position_embeddings: Option<u64>,
    tie_word_embeddings: Option<bool>,
    num_attention_heads: Option<u64>,
    num_key_value_heads: Option<u64>,
    head_dim: Option<u64>,
    attention_bias: Option<bool>,
    intermediate_size: Option<u64>,
    mlp_hidden_act: Option<String>,
    mlp_bias: Option<bool>,
    hybrid_override_pattern: Option<String>,
    #[serde(alias = "layers_block_type")]
    layer_types: Option<Vec<String>>,
    ssm_state_size: Option<u64>,
    mamba_num_heads: Option<u64>,
    mamba_head_dim: Option<u64>,
    #[serde(alias = "mamba_n_groups")]
    n_groups: Option<u64>,
    #[serde(alias = "mamba_d_conv")]
    conv_kernel: Option<u64>,
    #[serde(alias = "mamba_conv_bias")]
    use_conv_bias: Option<bool>,
    use_bias: Option<bool>,
    #[serde(alias = "num_local_experts")]
    n_routed_experts: Option<u64>,
    num_experts_per_tok: Option<u64>,
    moe_intermediate_size: Option<u64>,
    moe_shared_expert_intermediate_size: Option<u64>,
    moe_latent_size: Option<u64>,
}

/// A block's mixer as the config names it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Mamba,
    Attention,
    Mlp,
    Moe,
}

fn blocks(w: &NemotronHWire) -> Result<Vec<Block>> {
    let of_name = |t: &str| match t {
        "linear_attention" | "mamba" | "M" => Ok(Block::Mamba),
        "full_attention" | "attention" | "*" => Ok(Block::Attention),
        "mlp" | "-" => Ok(Block::Mlp),
        "moe" | "E" => Ok(Block::Moe),
        other => Err(Error::config("layer_types", format!("{other:?} is not mamba, attention, mlp or moe"))),
    };
    let list = match (&w.layer_types, &w.hybrid_override_pattern) {
        (Some(types), _) => types.iter().map(|t| of_name(t)).collect::<Result<Vec<_>>>()?,
        (None, Some(p)) => p.chars().map(|c| of_name(&c.to_string())).collect::<Result<Vec<_>>>()?,
        (None, None) => {
            return Err(Error::MissingKey { family: "nemotron_h".into(), key: "hybrid_override_pattern".into() })
        }
    };
    limits::LAYERS.check("config.json hybrid_override_pattern blocks", list.len() as u64)?;
    if list.is_empty() {
        return Err(Error::config("hybrid_override_pattern", "names no block"));
    }
    Ok(list)
}

pub(crate) fn convert(w: NemotronHWire) -> Result<ModelSpec> {
    let f = "nemotron_h";
    check_list("layer_types", w.layer_types.as_ref())?;
    let kinds = blocks(&w)?;
    let h = need(f, "hidden_size", w.hidden_size)?;
    let vocab = need(f, "vocab_size", w.vocab_size)?;
    let heads = need(f, "num_attention_heads", w.num_attention_heads)?;
    let kv_heads = super::kv_heads(w.num_key_value_heads, heads)?;
    let head_dim = match opt_dim("head_dim", w.head_dim)? {
        Some(d) => d,
        None => super::exact_div("head_dim", h, heads)?,
    };
    // The config class's defaults where a key is absent.
    let m_heads = opt_dim("mamba_num_heads", w.mamba_num_heads)?.unwrap_or(128);
    let m_head_dim = opt_dim("mamba_head_dim", w.mamba_head_dim)?.unwrap_or(64);
    let d_state = opt_dim("ssm_state_size", w.ssm_state_size)?.unwrap_or(128);
    let groups = opt_dim("n_groups", w.n_groups)?.unwrap_or(8);
    let kernel = opt_dim("conv_kernel", w.conv_kernel)?.unwrap_or(4);
    let inner =
        limits::product(&limits::PROJECTION, "config.json mamba_num_heads × mamba_head_dim", &[m_heads, m_head_dim])?;
    let state =
        Recurrent { kind: RecurrentKind::Mamba2, inner, state: d_state, groups, heads: m_heads, conv_kernel: kernel };
    let conv_dim = state.conv_channels();
    let bias = w.attention_bias.unwrap_or(false);
    let use_bias = w.use_bias.unwrap_or(false);
    let mlp_bias = w.mlp_bias.unwrap_or(false);
    let act = activation(w.mlp_hidden_act.as_deref(), Activation::Relu);
    let q_w = limits::product(&limits::PROJECTION, "config.json num_attention_heads × head_dim", &[heads, head_dim])?;
    let kv_w = kv_heads * head_dim;
    let attention = Attention {
        heads,
        head_dim,
        v_head_dim: head_dim,
        kv: KvLayout::Heads { kv_heads, k_dim: head_dim, v_dim: head_dim },
        window: None,
        qk_norm: false,
        cross: false,
    };
    let no_mlp = Mlp::dense(false, act, 0);

    let mut layers = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let mut linears = Vec::new();
        let mut others = Vec::new();
        let mut norms = vec![Norm::new("norm", NormKind::RmsNorm, h)];
        let (attn, mlp, mixer) = match kind {
            Block::Mamba => {
                linears.push(Linear::new("in_proj", ParamGroup::AttentionQkv, h, inner + conv_dim + m_heads, use_bias));
                linears.push(Linear::new("out_proj", ParamGroup::AttentionO, inner, h, use_bias));
                others.push(Tensor { name: "conv1d".into(), group: ParamGroup::Other, numel: conv_dim * kernel });
                if w.use_conv_bias.unwrap_or(true) {
                    others.push(Tensor { name: "conv1d.bias".into(), group: ParamGroup::Biases, numel: conv_dim });
                }
                for name in ["dt_bias", "A_log", "D"] {
                    others.push(Tensor { name: name.into(), group: ParamGroup::Other, numel: m_heads });
                }
                norms.push(Norm::new("mixer.norm", NormKind::RmsNorm, inner));
                let a = Attention {
                    heads: m_heads,
                    head_dim: m_head_dim,
                    v_head_dim: m_head_dim,
                    kv: KvLayout::Heads { kv_heads: groups, k_dim: d_state, v_dim: m_head_dim },
                    ..attention.clone()
                };
                (a, no_mlp.clone(), Mixer::Recurrent(state))
            }
            Block::Attention => {
                linears.push(Linear::new("q_proj", ParamGroup::AttentionQ, h, q_w, bias));
                linears.push(Linear::new("k_proj", ParamGroup::AttentionK, h, kv_w, bias));
                linears.push(Linear::new("v_proj", ParamGroup::AttentionV, h, kv_w, bias));
                linears.push(Linear::new("o_proj", ParamGroup::AttentionO, q_w, h, bias));
                (attention.clone(), no_mlp.clone(), Mixer::Attention)
            }
            Block::Mlp => {
                let ff = need(f, "intermediate_size", w.intermediate_size)?;
                linears.push(Linear::new("up_proj", ParamGroup::Mlp, h, ff, mlp_bias));
                linears.push(Linear::new("down_proj", ParamGroup::Mlp, ff, h, mlp_bias));
                (attention.clone(), Mlp::dense(false, act, ff), Mixer::None)
            }
            Block::Moe => {
                let experts = need_within(f, "n_routed_experts", w.n_routed_experts, &limits::EXPERTS)?;
                let top_k = need_within(f, "num_experts_per_tok", w.num_experts_per_tok, &limits::EXPERTS)?;
                if top_k > experts {
                    return Err(Error::config(
                        "num_experts_per_tok",
                        format!("{top_k} is more than the model's {experts} experts (n_routed_experts)"),
                    ));
                }
                let ff = need(f, "moe_intermediate_size", w.moe_intermediate_size)?;
                let shared =
                    opt_dim("moe_shared_expert_intermediate_size", w.moe_shared_expert_intermediate_size)?.unwrap_or(0);
                let d = match opt_dim("moe_latent_size", w.moe_latent_size)? {
                    Some(l) => {
                        linears.push(Linear::new("fc1_latent_proj", ParamGroup::Mlp, h, l, mlp_bias));
                        linears.push(Linear::new("fc2_latent_proj", ParamGroup::Mlp, l, h, mlp_bias));
                        l
                    }
                    None => h,
                };
                // The router's `e_score_correction_bias` is a buffer the published checkpoints
                // do not count (see the Nemotron 3 Nano test): not a parameter here.
                linears.push(Linear::new("gate", ParamGroup::Router, h, experts, false));
                linears.push(Linear::new("experts.up_proj", ParamGroup::Experts, d, ff, false).times(experts));
                linears.push(Linear::new("experts.down_proj", ParamGroup::Experts, ff, d, false).times(experts));
                if shared > 0 {
                    linears.push(Linear::new("shared_experts.up_proj", ParamGroup::SharedExperts, h, shared, mlp_bias));
                    linears.push(Linear::new(
                        "shared_experts.down_proj",
                        ParamGroup::SharedExperts,
                        shared,
                        h,
                        mlp_bias,
                    ));
                }
                let mlp = Mlp { gated: false, act, intermediate: ff, experts, top_k, shared_intermediate: shared };
                (attention.clone(), mlp, Mixer::None)
            }
        };
        layers.push(Layer {
            linears,
            norms,
            others,
            attention: attn,
            cross_attention: None,
            mlp,
            parallel_residual: false,
            mixer,
        });
    }
    Ok(ModelSpec {
        model_type: f.to_string(),
        hidden_size: h,
        vocab_size: vocab,
        embeddings: vec![Tensor { name: "embeddings".into(), group: ParamGroup::Embeddings, numel: vocab * h }],
        embedding_linears: vec![],
        encoder_layers: vec![],
        layers,
        final_norms: vec![Norm::new("norm_f", NormKind::RmsNorm, h)],
        lm_head: Some(Linear::new("lm_head", ParamGroup::LmHead, h, vocab, false)),
        tied_embeddings: w.tie_word_embeddings.unwrap_or(false),
        extra: vec![],
        // No rotary: the attention blocks see positions through the Mamba blocks.
        positions: Positions::Rotary { dims: 0 },
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

    /// Four blocks `M-*E` counted by hand.
    #[test]
    fn tiny_nemotron_h_counts_by_hand() {
        let spec = parse_config(
            r#"{"model_type":"nemotron_h","hidden_size":64,"vocab_size":100,"num_attention_heads":4,
                "num_key_value_heads":2,"head_dim":16,"intermediate_size":128,"mlp_hidden_act":"relu2",
                "hybrid_override_pattern":"M-*E","ssm_state_size":16,"mamba_num_heads":4,"mamba_head_dim":32,
                "n_groups":2,"conv_kernel":4,"use_conv_bias":true,"n_routed_experts":8,"num_experts_per_tok":2,
                "moe_intermediate_size":32,"moe_shared_expert_intermediate_size":48,"tie_word_embeddings":false}"#,
        )
        .unwrap();
        assert_eq!(spec.layers.len(), 4);
        // Mamba: d_inner 128, conv_dim 128 + 2·2·16 = 192; in_proj 64·(128 + 192 + 4), out 128·64,
        // conv 192·4 + bias 192, dt/A/D 3·4, gated norm 128, block norm 64.
        let mamba = 64 * 324 + 128 * 64 + 192 * 4 + 192 + 12 + 128 + 64;
        let mlp = 2 * 64 * 128 + 64;
        let attn = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 64;
        // MoE: router 64·8, experts 8·2·64·32, shared 2·64·48, norm.
        let moe = 64 * 8 + 8 * 2 * 64 * 32 + 2 * 64 * 48 + 64;
        assert_eq!(ParamCount::of(&spec).total, mamba + mlp + attn + moe + 2 * 100 * 64 + 64);
        let mixers: Vec<bool> = spec.layers.iter().map(|l| l.mixer.is_attention()).collect();
        assert_eq!(mixers, [false, false, true, false]);
        assert!(matches!(spec.layers[0].mixer, Mixer::Recurrent(_)));
        assert_eq!((spec.layers[1].mixer, spec.layers[3].mixer), (Mixer::None, Mixer::None));
        let r = spec.layers[0].mixer.recurrent().unwrap();
        assert_eq!((r.inner, r.state, r.groups, r.heads, r.conv_kernel), (128, 16, 2, 4, 4));
    }

    /// NVIDIA-Nemotron-3-Nano-30B-A3B (52 blocks `MEMEM*E…`: 23 Mamba-2, 23 MoE of 128 experts
    /// top-6 with a shared expert of 3712, 6 attention; the config's fields as public
    /// transcriptions of its config.json give them): 31,577,937,344 parameters, the Hub's
    /// safetensors total of nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16 as
    /// github.com/AlexsJones/llmfit llmfit-core/data/hf_models.json records it
    /// (31.577937344 B) — without the 23 routers' correction-bias buffers.
    #[test]
    fn nemotron_3_nano_matches_its_published_total() {
        let spec = parse_config(
            r#"{"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h", "vocab_size": 131072,
                "hidden_size": 2688, "intermediate_size": 1856, "num_hidden_layers": 52,
                "max_position_embeddings": 262144, "tie_word_embeddings": false,
                "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
                "num_attention_heads": 32, "num_key_value_heads": 2, "head_dim": 128, "attention_bias": false,
                "mamba_num_heads": 64, "mamba_head_dim": 64, "ssm_state_size": 128, "conv_kernel": 4,
                "chunk_size": 128, "n_groups": 8, "n_routed_experts": 128, "n_shared_experts": 1,
                "num_experts_per_tok": 6, "moe_intermediate_size": 1856,
                "moe_shared_expert_intermediate_size": 3712}"#,
        )
        .unwrap();
        assert_eq!(ParamCount::of(&spec).total, 31_577_937_344);
        assert_eq!(spec.recurrent_layers().count(), 23);
        assert_eq!(spec.layers.iter().filter(|l| l.mixer.is_attention()).count(), 6);
        // llama.cpp's R and S per Mamba block and sequence: 3 · (4096 + 2·8·128) + 128 · 4096 f32.
        let r = spec.layers[0].mixer.recurrent().unwrap();
        assert_eq!((r.conv_elements(3) + r.state_elements()) * 4, (3 * 6144 + 524_288) * 4);
    }
}
