//! SGLang: a serving engine; its token pool is `estimate::serving::sglang`.

use super::{Engine, InferenceProfile, KvAllocation, RuntimeProfile, TORCH_INFERENCE};
use crate::estimate::runtime::{Runtime, RuntimeVersion};

/// SGLang.
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    RuntimeProfile {
        runtime: Runtime::Sglang,
        version,
        engine: Engine::Serving(&crate::estimate::serving::sglang::ENGINE),
        // The token pool is sized once, from mem_fraction_static.
        inference: InferenceProfile { kv_allocation: KvAllocation::Preallocated, ..TORCH_INFERENCE },
        training: None,
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}
