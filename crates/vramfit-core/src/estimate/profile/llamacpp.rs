//! llama.cpp: ggml buffers per device (estimated by `estimate::llamacpp`); it does not train.
//!
//! `--runtime-version` takes a build number (`b4000` or `4000`, as `llama-cli --version` prints
//! it); the behaviours below change with the build. Build numbers of each change are from the
//! release tags of ggml-org/llama.cpp (approximate where marked: the tag nearest the PR).

use super::{DecodePath, Engine, InferenceProfile, KvAllocation, RuntimeProfile, TORCH_INFERENCE};
use crate::estimate::runtime::{Runtime, RuntimeVersion};

/// The build assumed when none is given (early 2026).
pub const CURRENT_BUILD: u32 = 7800;

/// `ggml_backend_sched` (ggml-org/llama.cpp PR #4766, January 2024, about b1833): before
/// it one measure allocator placed the whole graph and CUDA allocated a "VRAM scratch
/// buffer" of its size (`estimate::llamacpp_scratch`); after it, each backend's share of the
/// graph has a compute buffer of its own.
const SCHEDULER_SINCE: u32 = 1833;
/// LoRA adapters kept as their own tensors and applied in the graph (`build_lora_mm`;
/// ggml-org/llama.cpp PR #8332, July 2024, about b3400); before, `--lora` merged the adapter
/// into the model's weights at load (no LoRA buffer, no extra graph tensors).
const LORA_BUFFERS_SINCE: u32 = 3400;
/// `-ub/--ubatch-size` and host-side graph inputs arrived with pipeline parallelism
/// (ggml-org/llama.cpp PR #6017, tag b2424, March 2024): before it the graph was built for
/// `n_batch` tokens (default 512) and the inputs lived with the first GPU layer.
const UBATCH_SINCE: u32 = 2424;
/// One `ggml_mul_mat_id` over every selected expert (PR #6505, about b2700, April 2024);
/// before, one `mul_mat_id` per expert slot.
const BATCHED_EXPERTS_SINCE: u32 = 2700;
/// `ggml_swiglu_split` / `ggml_geglu_split` (PR #14158, about b5700, June 2025): the gated
/// activation is a GLU op, which ggml-alloc cannot run in place (`ggml_op_can_inplace` lists
/// UNARY and MUL, not GLU), so gate, up and their product are live together.
const GLU_OP_SINCE: u32 = 5700;
/// `-fa auto` became the default (PR #15434, about b6250, August 2025): flash attention on
/// CUDA unless asked otherwise.
const FLASH_AUTO_SINCE: u32 = 6250;
/// `load_tensors`: `i_gpu_start = max(n_layer + 1 − n_gpu_layers, 0)`, the output layer is
/// one of the `-ngl` layers (about b7000, late 2025; before: `n_layer − n_gpu_layers`, the
/// output layer on the GPU only when `n_gpu_layers > n_layer`).
const NGL_COUNTS_OUTPUT_SINCE: u32 = 7000;
/// `sched_reserve`: the prompt graph is reserved for `min(n_ubatch, n_outputs_max)` output
/// rows, and llama-server sets `n_outputs_max = n_parallel` (`server_n_outputs_max`); about
/// b7600 (2026). Before, every token of the micro-batch was an output of the reserved graph.
const OUTPUTS_MAX_SINCE: u32 = 7600;
/// The context is padded to 256 whatever the attention; before (about b7600; the exact tag
/// not located), `llama_kv_cache::get_padding` padded to 256 with flash attention and 32
/// without ("the FA kernels require padding").
const CTX_PAD_256_SINCE: u32 = 7600;

/// How one llama.cpp build lays out its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlamaCppBehaviour {
    /// The build number these behaviours are for.
    pub build: u32,
    /// Per-backend compute buffers (`ggml_backend_sched`); before, one scratch buffer of the
    /// whole graph's size on the GPU and one in host memory.
    pub scheduler: bool,
    /// `--lora` adapters live in their own buffers and run in the graph (else merged at load).
    pub lora_buffers: bool,
    /// `-ngl N` counts the output layer as one of the N layers (newer builds); before, N
    /// repeating blocks went to the GPU and the output layer only with N > n_layer.
    pub ngl_counts_output: bool,
    /// The micro-batch (`-ub`, default 512) exists; before, the graph had `n_batch` tokens.
    pub has_ubatch: bool,
    /// `--batch-size` default (2048 since the micro-batch, 512 before).
    pub default_batch: u64,
    /// Graph inputs (token embeddings, the f32 KQ mask) are allocated in host memory
    /// (`CUDA_Host` compute buffer) and copied to the GPU.
    pub host_inputs: bool,
    /// All selected experts in one `mul_mat_id` (else one expert slot at a time).
    pub batched_experts: bool,
    /// The gated FFN activation is a separate GLU op (three `n_ff` tensors live, not two).
    pub glu_op: bool,
    /// Flash attention is on unless `-fa off` (else off unless `-fa on`).
    pub flash_by_default: bool,
    /// The reserved graph's logits have `min(n_ubatch, n_outputs_max)` rows, with
    /// llama-server's `n_outputs_max = n_seq_max`; else one row per micro-batch token.
    pub outputs_max: bool,
    /// `n_ctx` padded to 256 even without flash attention (else to 32).
    pub ctx_pad_256: bool,
}

impl LlamaCppBehaviour {
    /// The behaviours of a build.
    #[must_use]
    pub fn of_build(build: u32) -> Self {
        LlamaCppBehaviour {
            build,
            scheduler: build >= SCHEDULER_SINCE,
            lora_buffers: build >= LORA_BUFFERS_SINCE,
            ngl_counts_output: build >= NGL_COUNTS_OUTPUT_SINCE,
            has_ubatch: build >= UBATCH_SINCE,
            default_batch: if build >= UBATCH_SINCE { 2048 } else { 512 },
            host_inputs: build >= UBATCH_SINCE,
            batched_experts: build >= BATCHED_EXPERTS_SINCE,
            glu_op: build >= GLU_OP_SINCE,
            flash_by_default: build >= FLASH_AUTO_SINCE,
            outputs_max: build >= OUTPUTS_MAX_SINCE,
            ctx_pad_256: build >= CTX_PAD_256_SINCE,
        }
    }

    /// The first block index on a GPU for `-ngl ngl` of `n_layer` blocks (index `n_layer` is
    /// the output layer): `load_tensors`' `i_gpu_start`, which counts the output layer as one
    /// of the `-ngl` layers in newer builds.
    #[must_use]
    pub fn first_gpu_layer(&self, n_layer: u64, ngl: u64) -> u64 {
        if self.ngl_counts_output {
            (n_layer + 1).saturating_sub(ngl)
        } else {
            n_layer.saturating_sub(ngl)
        }
    }

    /// The behaviours of `--runtime-version` (a build number; `None` = [`CURRENT_BUILD`]).
    #[must_use]
    pub fn of(version: Option<RuntimeVersion>) -> Self {
        Self::of_build(version.map_or(CURRENT_BUILD, |v| v.major))
    }
}

/// The llama.cpp build current in the middle of a given month (for logs that give a date,
/// not a build), interpolated between release tags: (year, month, first build that month).
#[must_use]
pub fn build_at(year: u32, month: u32) -> u32 {
    const TAGS: &[(u32, u32, u32)] = &[
        (2023, 8, 1000),
        (2023, 10, 1300),
        (2023, 12, 1600),
        (2024, 1, 1750),
        (2024, 2, 2050),
        (2024, 3, 2300),
        (2024, 4, 2600),
        (2024, 6, 3050),
        (2024, 8, 3500),
        (2024, 10, 3880),
        (2024, 12, 4230),
        (2025, 2, 4600),
        (2025, 4, 5000),
        (2025, 6, 5560),
        (2025, 8, 6080),
        (2025, 10, 6680),
        (2025, 12, 7230),
        (2026, 2, 7900),
    ];
    // Half-months from year 0, so the middle of `month` sits between two tags.
    let key = (year * 12 + month.clamp(1, 12)) * 2 + 1;
    let at = |t: &(u32, u32, u32)| (t.0 * 12 + t.1) * 2;
    match TAGS.iter().rposition(|t| at(t) <= key) {
        None => 900,
        Some(i) if i + 1 == TAGS.len() => TAGS[i].2,
        Some(i) => {
            let (a, b) = (&TAGS[i], &TAGS[i + 1]);
            a.2 + (b.2 - a.2) * (key - at(a)) / (at(b) - at(a))
        }
    }
}

/// The build a log's description names: `build 3946`, `b4000`, or a date (`March 2024`,
/// `mid-2025`, `Dec 2023`, `2026`; a year alone is its middle).
#[must_use]
pub fn build_from_text(text: &str) -> Option<u32> {
    const MONTHS: &[(&str, u32)] = &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
        ("early", 2),
        ("mid", 6),
        ("late", 10),
    ];
    let t = text.to_ascii_lowercase();
    let words: Vec<&str> = t.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    for (i, w) in words.iter().enumerate() {
        let number = w.strip_prefix('b').unwrap_or(w);
        let after_build = i > 0 && words[i - 1] == "build";
        if (after_build || w.starts_with('b')) && number.len() >= 3 && number.chars().all(|c| c.is_ascii_digit()) {
            return number.parse().ok();
        }
    }
    let year = words.iter().find_map(|w| w.parse::<u32>().ok().filter(|y| (2023..=2030).contains(y)))?;
    let month = words.iter().find_map(|w| MONTHS.iter().find(|(m, _)| w.starts_with(m)).map(|m| m.1)).unwrap_or(6);
    Some(build_at(year, month))
}

/// llama.cpp at a build (`None` = current).
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    RuntimeProfile {
        runtime: Runtime::LlamaCpp,
        version,
        engine: Engine::LlamaCpp,
        // llama_context allocates the KV cache for n_ctx at start-up.
        inference: InferenceProfile {
            kv_allocation: KvAllocation::Preallocated,
            llamacpp: Some(LlamaCppBehaviour::of(version)),
            decode: DecodePath::LlamaCpp,
            ..TORCH_INFERENCE
        },
        training: None,
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngl_meaning_and_graph_change_with_the_build() {
        let old = LlamaCppBehaviour::of(Some(RuntimeVersion::new(2300, 0)));
        assert!(old.scheduler && !LlamaCppBehaviour::of_build(1600).scheduler);
        assert!(!old.ngl_counts_output && !old.has_ubatch && old.default_batch == 512 && !old.glu_op);
        let new = LlamaCppBehaviour::of(None);
        assert!(new.ngl_counts_output && new.has_ubatch && new.glu_op && new.flash_by_default && new.outputs_max);
        assert!(build_at(2024, 2) < UBATCH_SINCE && build_at(2024, 3) > UBATCH_SINCE);
        assert!(build_at(2025, 7) >= GLU_OP_SINCE && build_at(2023, 1) < 1000);
        assert_eq!(build_from_text("build ~3946 (ggml-ci run, Oct 2024)"), Some(3946));
        assert_eq!(build_from_text("b4000"), Some(4000));
        assert_eq!(build_from_text("March 2024 (n_ubatch introduced)"), Some(build_at(2024, 3)));
        assert_eq!(build_from_text("mid-2025 (llama_kv_cache_unified era)"), Some(build_at(2025, 6)));
        assert_eq!(build_from_text("nothing"), None);
    }
}
