//! SGLang: a serving engine; its token pool is `estimate::serving::sglang`.

use super::{DecodePath, Engine, InferenceProfile, KvAllocation, RuntimeProfile, TORCH_INFERENCE};
use crate::estimate::runtime::{Runtime, RuntimeVersion};

/// SGLang.
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    RuntimeProfile {
        runtime: Runtime::Sglang,
        version,
        engine: Engine::Serving(&crate::estimate::serving::sglang::ENGINE),
        // The token pool is sized once, from mem_fraction_static.
        inference: InferenceProfile {
            kv_allocation: KvAllocation::Preallocated,
            // CUDA-graph decode steps like vLLM's (no SGLang speed case yet: vLLM's constants).
            decode: DecodePath::Vllm,
            ..TORCH_INFERENCE
        },
        training: None,
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}
