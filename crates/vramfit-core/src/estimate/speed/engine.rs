//! [`Engine`]: the software path that produces tokens (runtime × GPU backend), with the
//! constants the speed model takes from measurements: η (the share of datasheet memory
//! bandwidth decode reaches), t0 (the fixed time per generated token: kernel launches,
//! sampling, host work) and the share of datasheet matmul throughput prefill reaches.
//!
//! η and t0 are fitted per engine by least squares of the measured time per token against
//! bytes read ÷ bandwidth (a straight line: slope 1/η, intercept t0) on the cases in
//! `validation/speed/cases.json` (`validation/speed/fit.py` does the fit and prints the
//! leave-one-out errors that ACCURACY.md reports).

use crate::estimate::runtime::Runtime;
use serde::Serialize;

/// The software path that produces tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
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

/// The fitted constants of one engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConstants {
    /// Share of datasheet bandwidth a decode step reaches.
    pub eta: f64,
    /// Fixed time per decode step, seconds.
    pub t0_s: f64,
    /// Share of the datasheet dense 16-bit matmul peak that prefill reaches.
    pub prefill_share: f64,
    /// Kernel-limited ceiling of prefill throughput, TFLOPS (`None` = no ceiling seen).
    pub prefill_cap_tflops: Option<f64>,
    /// How the numbers were obtained.
    pub source: &'static str,
}

const FIT: &str = "fitted by validation/speed/fit.py on validation/speed/cases.json (least squares of 1/tok/s on bytes/bandwidth)";

impl Engine {
    /// Every engine.
    pub const ALL: [Engine; 6] = [
        Engine::LlamaCppCuda,
        Engine::LlamaCppMetal,
        Engine::LlamaCppVulkan,
        Engine::Mlx,
        Engine::TorchEager,
        Engine::Vllm,
    ];

    /// The engine a runtime uses on a GPU of `vendor` (`nvidia`, `amd`, `apple`, `intel`).
    #[must_use]
    pub fn of(runtime: Runtime, vendor: &str) -> Engine {
        match (runtime, vendor) {
            (Runtime::LlamaCpp, "apple") => Engine::LlamaCppMetal,
            (Runtime::LlamaCpp, "amd" | "intel") => Engine::LlamaCppVulkan,
            (Runtime::LlamaCpp, _) => Engine::LlamaCppCuda,
            (Runtime::Vllm, _) => Engine::Vllm,
            _ => Engine::TorchEager,
        }
    }

    /// Parse the name used in speed cases (`llama.cpp-cuda`, `mlx`...).
    #[must_use]
    pub fn parse(s: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Name in reports and cases.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Engine::LlamaCppCuda => "llama.cpp-cuda",
            Engine::LlamaCppMetal => "llama.cpp-metal",
            Engine::LlamaCppVulkan => "llama.cpp-vulkan",
            Engine::Mlx => "mlx",
            Engine::TorchEager => "torch-eager",
            Engine::Vllm => "vllm",
        }
    }

    /// The fitted constants.
    #[must_use]
    pub fn constants(self) -> EngineConstants {
        match self {
            Engine::LlamaCppCuda => EngineConstants {
                eta: 0.80,
                t0_s: 0.00245,
                prefill_share: 0.30,
                prefill_cap_tflops: Some(100.0),
                source: FIT,
            },
            Engine::LlamaCppMetal => EngineConstants {
                eta: 0.86,
                t0_s: 0.0087,
                prefill_share: 0.60,
                prefill_cap_tflops: None,
                source: FIT,
            },
            Engine::LlamaCppVulkan => EngineConstants {
                eta: 0.80,
                t0_s: 0.00245,
                prefill_share: 0.25,
                prefill_cap_tflops: None,
                source: FIT,
            },
            Engine::Mlx => EngineConstants {
                eta: 0.86,
                t0_s: 0.0015,
                prefill_share: 0.60,
                prefill_cap_tflops: None,
                source: FIT,
            },
            Engine::TorchEager => EngineConstants {
                eta: 0.80,
                t0_s: 0.025,
                prefill_share: 0.45,
                prefill_cap_tflops: None,
                source: FIT,
            },
            Engine::Vllm => EngineConstants {
                eta: 0.80,
                t0_s: 0.0015,
                prefill_share: 0.50,
                prefill_cap_tflops: None,
                source: FIT,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_backends_follow_the_vendor() {
        for e in Engine::ALL {
            assert_eq!(Engine::parse(e.name()), Some(e));
            let c = e.constants();
            assert!(c.eta > 0.0 && c.eta <= 1.0 && c.t0_s >= 0.0 && c.prefill_share > 0.0);
        }
        assert_eq!(Engine::of(Runtime::LlamaCpp, "apple"), Engine::LlamaCppMetal);
        assert_eq!(Engine::of(Runtime::LlamaCpp, "nvidia"), Engine::LlamaCppCuda);
        assert_eq!(Engine::of(Runtime::Transformers, "nvidia"), Engine::TorchEager);
        assert_eq!(Engine::parse("nope"), None);
    }
}
