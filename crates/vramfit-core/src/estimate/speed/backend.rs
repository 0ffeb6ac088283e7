//! [`Backend`]: the software path that produces tokens (runtime × GPU backend), with the
//! constants the speed model takes from measurements: η (the share of datasheet memory
//! bandwidth decode reaches), t0 (the fixed time per generated token: kernel launches,
//! sampling, host work) and the share of datasheet matmul throughput prefill reaches.
//!
//! η, t0, τ (per layer) and the ALU cost of a quantized weight are fitted per backend by least
//! squares of the measured time per token against bytes read ÷ bandwidth, the number of layers
//! and the unpacking time (linear in 1/η, t0 and τ; the ALU cost from a grid) on the cases in
//! `validation/speed/cases.json` (`validation/speed/fit.py` does the fit and prints the
//! leave-one-out errors that ACCURACY.md reports).

use crate::estimate::profile::DecodePath;
use serde::Serialize;

/// The software path that produces tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// llama.cpp with its CUDA backend.
    LlamaCppCuda,
    /// llama.cpp with its Metal backend (Apple).
    LlamaCppMetal,
    /// llama.cpp with ROCm/HIP or Vulkan (AMD, Intel).
    LlamaCppVulkan,
    /// Apple MLX (mlx-lm).
    Mlx,
    /// PyTorch eager decoding, one Python step per token (transformers `generate`, litgpt,
    /// torchtune, Meta's reference code).
    TorchEager,
    /// vLLM (CUDA graphs, paged attention).
    Vllm,
}

/// The fitted constants of one backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackendConstants {
    /// Share of datasheet bandwidth a decode step reaches.
    pub eta: f64,
    /// Fixed time per decode step, seconds.
    pub t0_s: f64,
    /// Fixed time per layer and decode step, seconds (kernel floors: the same kernels run for
    /// every layer).
    pub t0_per_layer_s: f64,
    /// ALU operations to unpack and multiply one quantized weight in a decode mat-vec, where
    /// that and not memory bounds decode on some GPUs (`None`: never seen to bound).
    pub alu_ops_per_weight: Option<f64>,
    /// Share of the datasheet dense 16-bit matmul peak that prefill reaches.
    pub prefill_share: f64,
    /// Kernel-limited ceiling of prefill throughput, TFLOPS (`None` = no ceiling seen).
    pub prefill_cap_tflops: Option<f64>,
    /// How the numbers were obtained.
    pub source: &'static str,
}

const FIT: &str =
    "fitted by validation/speed/fit.py on validation/speed/cases.json (least squares of the relative error of 1/tok/s on bytes/bandwidth, layers and the quantized-weight unpacking time)";

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 6] = [
        Backend::LlamaCppCuda,
        Backend::LlamaCppMetal,
        Backend::LlamaCppVulkan,
        Backend::Mlx,
        Backend::TorchEager,
        Backend::Vllm,
    ];

    /// The backend a runtime's decode path uses on a GPU of `vendor` (`nvidia`, `amd`,
    /// `apple`, `intel`).
    #[must_use]
    pub fn of(path: DecodePath, vendor: &str) -> Backend {
        match (path, vendor) {
            (DecodePath::LlamaCpp, "apple") => Backend::LlamaCppMetal,
            (DecodePath::LlamaCpp, "amd" | "intel") => Backend::LlamaCppVulkan,
            (DecodePath::LlamaCpp, _) => Backend::LlamaCppCuda,
            (DecodePath::Vllm, _) => Backend::Vllm,
            (DecodePath::TorchEager, _) => Backend::TorchEager,
        }
    }

    /// Parse the name used in speed cases (`llama.cpp-cuda`, `mlx`...).
    #[must_use]
    pub fn parse(s: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|e| e.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Name in reports and cases.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Backend::LlamaCppCuda => "llama.cpp-cuda",
            Backend::LlamaCppMetal => "llama.cpp-metal",
            Backend::LlamaCppVulkan => "llama.cpp-vulkan",
            Backend::Mlx => "mlx",
            Backend::TorchEager => "torch-eager",
            Backend::Vllm => "vllm",
        }
    }

    /// The fitted constants.
    #[must_use]
    pub fn constants(self) -> BackendConstants {
        match self {
            // 41 decode cases (XiongjieDai LLaMA-2/3 tables, P40, NVIDIA's H100 CUDA-graphs
            // issue), 10 prefill cases. The fixed time is all per layer: 7-8B models (32 layers)
            // pay 4.0 ms, 70B (80 layers) 9.9 ms.
            Backend::LlamaCppCuda => BackendConstants {
                eta: 0.969,
                t0_s: 0.0,
                t0_per_layer_s: 0.000_124,
                alu_ops_per_weight: None,
                prefill_share: 0.475,
                prefill_cap_tflops: Some(135.0),
                source: FIT,
            },
            // 25 decode cases (M1 to M4), 11 prefill cases. Quantized mat-vecs cost 26 ALU
            // operations per weight (unpacking, scaling, the multiply-add): on an M1 Max (10.4
            // TFLOPS for 400 GB/s) that, not memory, bounds a 4-bit decode, which is why it
            // reaches under half its bandwidth on Q4_K_M but three quarters on f16.
            Backend::LlamaCppMetal => BackendConstants {
                eta: 0.843,
                t0_s: 0.0051,
                t0_per_layer_s: 0.0,
                alu_ops_per_weight: Some(26.0),
                prefill_share: 0.65,
                prefill_cap_tflops: None,
                source: FIT,
            },
            // No AMD/Intel case yet: the CUDA constants stand in.
            Backend::LlamaCppVulkan => BackendConstants {
                eta: 0.969,
                t0_s: 0.0,
                t0_per_layer_s: 0.000_124,
                alu_ops_per_weight: None,
                prefill_share: 0.475,
                prefill_cap_tflops: None,
                source: "no AMD or Intel speed case yet: llama.cpp CUDA's fitted constants stand in",
            },
            // 6 decode cases (M2 Ultra, M3 Max, M3 Ultra, M4 Pro); prefill share as Metal's.
            Backend::Mlx => BackendConstants {
                eta: 0.853,
                t0_s: 0.00074,
                t0_per_layer_s: 0.000_008_6,
                alu_ops_per_weight: None,
                prefill_share: 0.65,
                prefill_cap_tflops: None,
                source: FIT,
            },
            // 3 decode cases (litgpt, A100): one Python step per token dominates; η would fit
            // above 1 and is held at 1.
            Backend::TorchEager => BackendConstants {
                eta: 1.0,
                t0_s: 0.0316,
                t0_per_layer_s: 0.0,
                alu_ops_per_weight: None,
                prefill_share: 0.475,
                prefill_cap_tflops: None,
                source: FIT,
            },
            // No vLLM speed case yet: η as llama.cpp CUDA, t0 of a CUDA-graph decode step.
            Backend::Vllm => BackendConstants {
                eta: 0.969,
                t0_s: 0.001,
                t0_per_layer_s: 0.0,
                alu_ops_per_weight: None,
                prefill_share: 0.475,
                prefill_cap_tflops: None,
                source: "no vLLM speed case yet: η as llama.cpp CUDA's fit; t0 1 ms (CUDA graphs replay one step)",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_backends_follow_the_vendor() {
        for e in Backend::ALL {
            assert_eq!(Backend::parse(e.name()), Some(e));
            let c = e.constants();
            assert!(c.eta > 0.0 && c.eta <= 1.0 && c.t0_s >= 0.0 && c.prefill_share > 0.0);
        }
        assert_eq!(Backend::of(DecodePath::LlamaCpp, "apple"), Backend::LlamaCppMetal);
        assert_eq!(Backend::of(DecodePath::LlamaCpp, "nvidia"), Backend::LlamaCppCuda);
        assert_eq!(Backend::of(DecodePath::TorchEager, "nvidia"), Backend::TorchEager);
        assert_eq!(Backend::parse("nope"), None);
    }
}
