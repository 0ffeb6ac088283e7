//! Ollama: its runner is llama.cpp (vendored at a build that moves with Ollama's release), so
//! the buffers are llama.cpp's; what differs is what Ollama asks for by default and the
//! estimate it prints before loading (`estimate::ollama`).
//!
//! `--runtime-version` takes Ollama's release (`0.5.13`). Sources (github.com/ollama/ollama):
//! `envconfig/config.go` (`OLLAMA_CONTEXT_LENGTH` 2048 up to 0.6.6, 4096 from 0.6.7, and from
//! 0.15.5 0 = by VRAM: `server/routes.go` 262144 with ≥ 47 GiB, 32768 with ≥ 23 GiB, else
//! 4096; `OLLAMA_NUM_PARALLEL` 0 = automatic, 4 where it fits (`server/sched.go`
//! `defaultParallel`) up to 0.9, 1 from 0.10.0; `OLLAMA_FLASH_ATTENTION` off by default;
//! `OLLAMA_KV_CACHE_TYPE` applies only with flash attention (`llm/memory.go`)), and
//! `llm/server.go` (the runner gets `--ctx-size num_ctx × num_parallel`, `--batch-size 512`).

use super::llamacpp::{build_at, LlamaCppBehaviour};
use super::{InferenceProfile, RuntimeProfile};
use crate::estimate::runtime::{Runtime, RuntimeVersion};

/// The Ollama release assumed when none is given.
pub const CURRENT: RuntimeVersion = RuntimeVersion::new(0, 15);

/// What Ollama asks llama.cpp for when the user does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OllamaDefaults {
    /// `num_ctx` per sequence with less than 23 GiB of VRAM (2048 before 0.6.7, else 4096).
    pub num_ctx: u64,
    /// From 0.15.5 `num_ctx` follows the GPUs' VRAM (32768 from 23 GiB, 262144 from 47 GiB).
    pub num_ctx_by_vram: bool,
    /// `OLLAMA_NUM_PARALLEL` unset: 4 sequences where they fit (before 0.10), else 1.
    pub num_parallel: u64,
    /// `num_batch` (the runner's `--batch-size`, its micro-batch).
    pub num_batch: u64,
    /// The CUDA minimum memory Ollama's estimate adds per GPU (`cudaMinimumMemory`, 457 MiB).
    pub minimum_memory: u64,
}

impl OllamaDefaults {
    /// The defaults of a release (`None` = [`CURRENT`]).
    #[must_use]
    pub fn of(version: Option<RuntimeVersion>) -> Self {
        let v = version.unwrap_or(CURRENT);
        let at_least = |minor: u32| v >= RuntimeVersion::new(0, minor);
        OllamaDefaults {
            // 0.6.7 is 0.6 with patch 7; RuntimeVersion keeps major.minor, so 0.6 counts as
            // the later default only from 0.7 (0.6.0-0.6.6 were 2048).
            num_ctx: if at_least(7) { 4096 } else { 2048 },
            num_ctx_by_vram: v > RuntimeVersion::new(0, 15),
            num_parallel: if at_least(10) { 1 } else { 4 },
            num_batch: 512,
            minimum_memory: 457 << 20,
        }
    }

    /// `num_ctx` for GPUs with `vram` bytes in all (`None`: not known, the smallest tier).
    #[must_use]
    pub fn num_ctx_for(&self, vram: Option<u64>) -> u64 {
        match (self.num_ctx_by_vram, vram) {
            (true, Some(v)) if v >= 47 << 30 => 262_144,
            (true, Some(v)) if v >= 23 << 30 => 32_768,
            _ => self.num_ctx,
        }
    }
}

/// The llama.cpp build an Ollama release vendors (by its release month).
#[must_use]
pub fn llama_cpp_build(v: RuntimeVersion) -> u32 {
    // (minor, year, month of the .0 release)
    const RELEASES: &[(u32, u32, u32)] = &[
        (1, 2023, 10),
        (2, 2024, 7),
        (3, 2024, 8),
        (4, 2024, 11),
        (5, 2024, 12),
        (6, 2025, 3),
        (7, 2025, 5),
        (8, 2025, 5),
        (9, 2025, 6),
        (10, 2025, 7),
        (11, 2025, 8),
        (12, 2025, 9),
        (13, 2025, 11),
        (14, 2025, 12),
        (15, 2026, 1),
    ];
    let (_, y, m) = RELEASES.iter().rfind(|r| r.0 <= v.minor || v.major > 0).copied().unwrap_or((1, 2023, 10));
    build_at(y, m)
}

/// Ollama at a release (`None` = current): llama.cpp's profile at the build the release
/// vendors, with Ollama's own runner settings and defaults on top.
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    let build = llama_cpp_build(version.unwrap_or(CURRENT));
    let llama_cpp = super::llamacpp::profile(Some(RuntimeVersion::new(build, 0)));
    let behaviour = LlamaCppBehaviour {
        // Ollama's runner is not llama-server: the reserved graph keeps a row of logits per
        // micro-batch token.
        outputs_max: false,
        // OLLAMA_FLASH_ATTENTION is off unless set.
        flash_by_default: false,
        ..LlamaCppBehaviour::of_build(build)
    };
    RuntimeProfile {
        runtime: Runtime::Ollama,
        version,
        inference: InferenceProfile {
            llamacpp: Some(behaviour),
            ollama: Some(OllamaDefaults::of(version)),
            ..llama_cpp.inference
        },
        ..llama_cpp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_by_release() {
        let old = OllamaDefaults::of(Some(RuntimeVersion::new(0, 5)));
        assert_eq!((old.num_ctx, old.num_parallel), (2048, 4));
        let mid = OllamaDefaults::of(Some(RuntimeVersion::new(0, 12)));
        assert_eq!((mid.num_ctx, mid.num_parallel, mid.num_ctx_for(Some(80 << 30))), (4096, 1, 4096));
        let new = OllamaDefaults::of(Some(RuntimeVersion::new(0, 16)));
        assert_eq!(new.num_ctx_for(Some(24 << 30)), 32_768);
        assert_eq!(new.num_ctx_for(Some(48 << 30)), 262_144);
        assert_eq!(new.num_ctx_for(None), 4096);
        assert!(llama_cpp_build(RuntimeVersion::new(0, 5)) < llama_cpp_build(RuntimeVersion::new(0, 12)));
    }
}
