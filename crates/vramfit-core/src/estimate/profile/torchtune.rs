//! PyTorch torchtune recipes, by release (0.1 April 2024 … 0.6 April 2025).

use super::{
    DefaultPrecision, Engine, InferenceProfile, KvAllocation, LossCode, Nf4Code, NoSyncUnits, RuntimeProfile,
    TrainingProfile, TrainingSpeed, TORCH_INFERENCE,
};
use crate::estimate::runtime::{Runtime, RuntimeVersion};
use crate::estimate::training::setup::Optimizer;

/// torchtune at `version` (`None` = current).
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    // torchtune's configs switched to CEWithChunkedOutputLoss with release 0.3 (September 2024).
    let chunked = version.is_none_or(|v| v >= RuntimeVersion::new(0, 3));
    RuntimeProfile {
        runtime: Runtime::Torchtune,
        version,
        engine: Engine::Torch,
        // modules/kv_cache.py: KVCache buffers of max_seq_len, allocated by setup_caches.
        inference: InferenceProfile { kv_allocation: KvAllocation::Preallocated, ..TORCH_INFERENCE },
        training: Some(TrainingProfile {
            default_precision: DefaultPrecision::Pure,
            // The recipes configure torch.optim.AdamW(fused=True).
            default_optimizer: Optimizer::AdamwFused,
            adapters_fp32: false,
            chunked_ce: chunked,
            lora_dropout_per_mille: 0,
            kbit_upcast: false,
            fused_qkv: false,
            head_chunk: None,
            // modules/attention.py expands K/V to every head before SDPA.
            always_repeats_kv: true,
            eager_repeats_kv: true,
            dropout: false,
            forces_rotary: false,
            norm_weight_fp32: false,
            loss: if chunked { LossCode::Torchtune } else { LossCode::TorchtuneFp32Logits },
            no_sync: NoSyncUnits::None,
            // torchtune 0.1 pins torchao 0.1, 0.2 pins torchao 0.3.1 (nf4tensor.py CHUNK_SIZE).
            nf4: Nf4Code::Torchao { chunked_quantize: version.is_none_or(|v| v >= RuntimeVersion::new(0, 2)) },
            memory_recipes: true,
            recipes_checkpoint: true,
            // Packed, compiled steps of 8,192 tokens run at two thirds of the bf16 peak.
            speed: TrainingSpeed {
                mfu_per_mille: 687,
                mfu_source: "fitted by validation/speed/fit.py on 9 torchtune cases (README 'Optimization flags' table, Llama 3.2 3B on an A100, packed 4096, batch 2)",
                clips_grad_norm: false,
            },
        }),
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}
