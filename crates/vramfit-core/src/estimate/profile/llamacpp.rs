//! llama.cpp: ggml buffers per device (estimated by `estimate::llamacpp`); it does not train.

use super::{Engine, InferenceProfile, KvAllocation, RuntimeProfile, TORCH_INFERENCE};
use crate::estimate::runtime::{Runtime, RuntimeVersion};

/// llama.cpp (every build modelled behaves the same).
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    RuntimeProfile {
        runtime: Runtime::LlamaCpp,
        version,
        engine: Engine::LlamaCpp,
        // llama_context allocates the KV cache for n_ctx at start-up.
        inference: InferenceProfile { kv_allocation: KvAllocation::Preallocated, ..TORCH_INFERENCE },
        training: None,
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}
