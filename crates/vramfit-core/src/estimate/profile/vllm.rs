//! vLLM: a serving engine; its start-up budget by release is `estimate::serving::vllm`.

use super::{DecodePath, Engine, InferenceProfile, KvAllocation, RuntimeProfile, TORCH_INFERENCE};
use crate::estimate::runtime::{Runtime, RuntimeVersion};

/// vLLM (the release's accounting is read from `--runtime-version` by the serving estimator).
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    RuntimeProfile {
        runtime: Runtime::Vllm,
        version,
        engine: Engine::Serving(&crate::estimate::serving::vllm::ENGINE),
        // The paged KV cache takes what the budget leaves, at start-up.
        inference: InferenceProfile {
            kv_allocation: KvAllocation::Preallocated,
            decode: DecodePath::Vllm,
            ..TORCH_INFERENCE
        },
        training: None,
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}
