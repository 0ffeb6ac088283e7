//! vLLM's MXFP4 MoE experts in GPU memory (gpt-oss): the checkpoint stores each expert as
//! 4-bit values with one e8m0 scale per 32 and bf16 biases, but vLLM pads the expert
//! dimensions to what its kernel needs and converts scales and biases for it, and "Model
//! loading took X GiB" (`torch.cuda.memory_allocated` after `process_weights_after_loading`,
//! `DeviceMemoryProfiler`, vllm/utils 0.10.1.1:1181-1199, platforms/cuda.py:198-203) counts
//! what the kernel keeps. Only the routed experts are MXFP4: attention, router, embedding and
//! head stay bf16 (`modules_to_not_convert`; `Mxfp4Config.get_quant_method` quantizes only
//! `FusedMoE`, mxfp4.py 0.10.1.1:86-103).
//!
//! Sources (PyPI sdists):
//! - 0.10.1.1 `model_executor/layers/quantization/mxfp4.py:113-130` `_should_use_marlin`:
//!   Marlin below SM90, and on SM90 without `triton_kernels` or with torch < 2.8 (0.10.1.1
//!   pins torch 2.7.1, `requires/cuda.txt:9`, so an H100 runs Marlin: the gpt-oss-120b log of
//!   vllm#23278 warns "Weight-only FP4 compression will be used leveraging the Marlin kernel").
//! - 0.10.1.1 `mxfp4.py:143-180` / 0.19.0 `fused_moe/oracle/mxfp4.py:376-400`
//!   (`mxfp4_round_up_hidden_size_and_intermediate_size`): Marlin pads the intermediate size
//!   (per TP rank) to 128 and the hidden size to 256; FlashInfer TRT-LLM (SM100) both to 256;
//!   the Triton kernels (SM90–SM10x from torch 2.8) the intermediate size to 64.
//! - 0.19.0 `oracle/mxfp4.py:169-184, 197-373`: backends tried in order TRT-LLM (SM100),
//!   Triton (SM90 ≤ capability < 11.0, `gpt_oss_triton_kernels_moe.py:555-564`), ..., Marlin.
//! - Marlin (`utils/marlin_utils_fp4.py` 0.10.1.1:195-297): values repacked at the same size,
//!   scales back to one byte (`mxfp4_marlin_process_scales`: `float8_e8m0fnu`), biases to the
//!   model dtype (bf16).
//! - FlashInfer TRT-LLM (`mxfp4.py` 0.10.1.1:316-382): shuffled at the same sizes, biases fp32.
//! - Triton (`oracle/mxfp4.py` 0.19.0:721-752, `mxfp4.py` 0.19.0:297-307; 0.10.1.1:383-412):
//!   biases fp32; values and scales swizzled into new tensors by `triton_kernels`
//!   (`utils/mxfp4_utils.py` 0.19.0:22-91); the swizzled scales' rows are padded to
//!   `2 × num_warps × 2 × 8 = 256` (triton_kernels `HopperMXScaleLayout`, num_warps 8), and
//!   the original uint8 scale parameters stay registered on the layer (only the values are
//!   deleted), so the scales are held twice. How far `triton_kernels` pads the swizzled
//!   values depends on its release (vLLM 0.19 builds v3.6.0) and is not modelled.

use super::{rank_weights, EngineVersion};
use crate::dtype::DType;
use crate::model::{ModelSpec, ParamGroup};
use crate::quant::{Quant, QuantConfig};

/// The MoE kernel vLLM picks for MXFP4 experts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Weight-only FP4 through the Marlin kernel.
    Marlin,
    /// OpenAI's `triton_kernels` (`matmul_ogs`).
    Triton,
    /// FlashInfer's TRT-LLM MXFP4 × bf16 kernel (Blackwell).
    FlashInferTrtllm,
}

impl Backend {
    /// The backend a release picks on a GPU of compute capability `cap` (`None`: an SM90 card
    /// is assumed, the one gpt-oss is most served on).
    #[must_use]
    pub fn of(version: EngineVersion, cap: Option<(u32, u32)>) -> Self {
        let cap = cap.unwrap_or((9, 0));
        // torch 2.8 arrived after 0.10.1 (0.10.1.1 pins 2.7.1); the boundary is the next release.
        let torch_2_8 = (version.major, version.minor, version.patch) >= (0, 10, 2) || version.major >= 1;
        match cap {
            (10, _) => Backend::FlashInferTrtllm,
            (9, _) if torch_2_8 => Backend::Triton,
            _ => Backend::Marlin,
        }
    }

    /// (intermediate, hidden) padding multiples.
    fn padding(self) -> (u64, u64) {
        match self {
            Backend::Marlin => (128, 256),
            Backend::FlashInferTrtllm => (256, 256),
            Backend::Triton => (64, 1),
        }
    }

    /// The name vLLM's log uses.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Backend::Marlin => "Marlin",
            Backend::Triton => "Triton (triton_kernels)",
            Backend::FlashInferTrtllm => "FlashInfer TRT-LLM",
        }
    }
}

fn round_up(x: u64, m: u64) -> u64 {
    x.div_ceil(m.max(1)) * m.max(1)
}

/// Bytes one MoE layer's `experts` routed experts take on one TP rank, as `backend` keeps them:
/// `hidden` model width, `intermediate` expert width (the whole, split over `tp`), `bias`
/// whether the experts have biases.
#[must_use]
pub fn layer_expert_bytes(backend: Backend, experts: u64, hidden: u64, intermediate: u64, tp: u64, bias: bool) -> u64 {
    let (pad_i, pad_h) = backend.padding();
    let i = round_up(intermediate / tp.max(1), pad_i);
    let h = round_up(hidden, pad_h);
    // gate_up [2i, h] and down [h, i]: two 4-bit values a byte, one scale byte per 32.
    let values = 2 * i * h / 2 + h * i / 2;
    let scales = 2 * i * (h / 32) + h * (i / 32);
    let bias_bytes = match backend {
        Backend::Marlin => 2,
        Backend::Triton | Backend::FlashInferTrtllm => 4,
    };
    let biases = if bias { (2 * i + h) * bias_bytes } else { 0 };
    let swizzled_scales = match backend {
        Backend::Triton => round_up(2 * i, 256) * round_up(h / 32, 2) + round_up(h, 256) * round_up(i / 32, 2),
        _ => 0,
    };
    experts * (values + scales + swizzled_scales + biases)
}

/// Whether the checkpoint's routed experts are MXFP4 (`quant_method: mxfp4`).
#[must_use]
pub fn is_mxfp4(quant: Option<&QuantConfig>) -> bool {
    matches!(quant.map(|q| &q.quant), Some(Quant::Gguf { scheme }) if scheme == "MXFP4_MOE")
}

/// One pipeline stage's weights on a TP rank with the routed experts as `backend` keeps
/// them in place of the checkpoint's MXFP4 bytes ([`rank_weights`] for everything else);
/// `None` when the experts are not MXFP4.
#[must_use]
pub fn stage_weights(
    spec: &ModelSpec,
    dtype: DType,
    quant: Option<&QuantConfig>,
    stage: (u64, u64),
    pp: u64,
    tp: u64,
    backend: Backend,
) -> Option<u64> {
    if !is_mxfp4(quant) {
        return None;
    }
    let mut without = spec.clone();
    for layer in &mut without.layers {
        layer.linears.retain(|l| l.group != ParamGroup::Experts);
    }
    let all = rank_weights(spec, dtype, quant, stage, pp, tp);
    let rest = rank_weights(&without, dtype, quant, stage, pp, tp);
    let experts: u64 = spec.layers[stage.0 as usize..stage.1 as usize]
        .iter()
        .filter(|l| l.mlp.experts > 1)
        .map(|l| {
            let bias = l.linears.iter().any(|x| x.group == ParamGroup::Experts && x.bias);
            layer_expert_bytes(backend, l.mlp.experts, spec.hidden_size, l.mlp.intermediate, tp, bias)
        })
        .sum();
    (all > rest).then(|| rest + experts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_release_and_gpu() {
        let v = |m, p| EngineVersion::new(0, m, p);
        // 0.10.1.1 pins torch 2.7.1: Marlin on an H100 too (vllm#23278's warning).
        assert_eq!(Backend::of(v(10, 1), Some((9, 0))), Backend::Marlin);
        assert_eq!(Backend::of(v(19, 0), Some((9, 0))), Backend::Triton);
        assert_eq!(Backend::of(v(19, 0), Some((8, 6))), Backend::Marlin);
        assert_eq!(Backend::of(v(19, 0), Some((12, 0))), Backend::Marlin);
        assert_eq!(Backend::of(v(19, 0), Some((10, 0))), Backend::FlashInferTrtllm);
    }

    /// gpt-oss-120b on vLLM 0.10.1.x, one H100 (vllm#23278): "Model loading took 65.9651 GiB"
    /// = 70,829,486,794 B. Marlin's padded experts plus the bf16 rest come within 0.2 %; the
    /// checkpoint's own MXFP4 bytes were 7.9 % short.
    #[test]
    fn gpt_oss_120b_on_0_10_1_matches_the_log() {
        let layers = vec!["\"sliding_attention\",\"full_attention\""; 18].join(",");
        let config = format!(
            r#"{{"architectures":["GptOssForCausalLM"],"attention_bias":true,"experts_per_token":4,
                "head_dim":64,"hidden_act":"silu","hidden_size":2880,"intermediate_size":2880,
                "layer_types":[{layers}],"max_position_embeddings":131072,"model_type":"gpt_oss",
                "num_attention_heads":64,"num_hidden_layers":36,"num_key_value_heads":8,"num_local_experts":128,
                "quantization_config":{{"quant_method":"mxfp4"}},"rms_norm_eps":1e-05,"sliding_window":128,
                "tie_word_embeddings":false,"torch_dtype":"bfloat16","vocab_size":201088}}"#
        );
        let spec = crate::config::parse_config(&config).unwrap();
        let quant = spec.quantization.clone();
        let backend = Backend::of(EngineVersion::new(0, 10, 1), Some((9, 0)));
        assert_eq!(backend, Backend::Marlin);
        let w = stage_weights(&spec, DType::Bf16, quant.as_ref(), (0, 36), 1, 1, backend).unwrap();
        let logged = 70_829_486_794.0;
        assert!((w as f64 / logged - 1.0).abs() < 0.002, "{w}");
        let checkpoint = rank_weights(&spec, DType::Bf16, quant.as_ref(), (0, 36), 1, 1);
        assert!(checkpoint as f64 / logged < 0.93, "{checkpoint}");
        // Not MXFP4: no replacement.
        assert_eq!(stage_weights(&spec, DType::Bf16, None, (0, 36), 1, 1, backend), None);
    }

    #[test]
    fn marlin_pads_gpt_oss_experts() {
        // gpt-oss: hidden 2880 → 3072, intermediate 2880 → 2944 on one GPU; 128 experts:
        // values 128 × (5888 × 1536 + 3072 × 1472), scales 128 × (5888 × 96 + 3072 × 92),
        // bf16 biases 128 × (5888 + 3072) × 2.
        let b = layer_expert_bytes(Backend::Marlin, 128, 2880, 2880, 1, true);
        let expected = 128 * (5888 * 1536 + 3072 * 1472) + 128 * (5888 * 96 + 3072 * 92) + 128 * (5888 + 3072) * 2;
        assert_eq!(b, expected);
        // Unpadded, the same layer would be 128 × (5760 × 1440 + 2880 × 1440) values.
        assert!(b > 128 * (5760 * 1440 + 2880 * 1440) * 108 / 100);
    }
}
