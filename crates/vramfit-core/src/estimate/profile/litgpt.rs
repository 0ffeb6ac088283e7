//! Lightning AI litgpt (lit-gpt): preallocated caches, fused q/k/v, chunked head and loss.

use super::{
    Bnb4Load, DefaultPrecision, Engine, InferenceProfile, KvAllocation, LossCode, MaskPolicy, Nf4Code, NoSyncUnits,
    RuntimeProfile, TpWeights, TrainingProfile, TrainingSpeed, TORCH_INFERENCE, TRAINER_SPEED,
};
use crate::estimate::runtime::{Runtime, RuntimeVersion};
use crate::estimate::training::setup::Optimizer;

/// litgpt (every version modelled behaves the same).
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    RuntimeProfile {
        runtime: Runtime::Litgpt,
        version,
        engine: Engine::Torch,
        inference: InferenceProfile {
            // model.py set_kv_cache(max_seq_length): the cache is allocated up front.
            kv_allocation: KvAllocation::Preallocated,
            repeats_kv: true,
            // model.py build_mask_cache: a bool mask for the whole max_seq_length.
            mask: MaskPolicy::Cache,
            // GPT.forward returns logits for every input position.
            logits_all_positions: true,
            // Fabric BitsandbytesPrecision replaces every linear, the head included.
            quantized_head: true,
            kv_in_weight_dtype_under_autocast: true,
            bnb4_load: Bnb4Load::HalfCopy,
            // litgpt/generate/tp.py shards the blocks' linears only.
            tp_weights: TpWeights::BlocksOnly,
            ..TORCH_INFERENCE
        },
        training: Some(TrainingProfile {
            default_precision: DefaultPrecision::Pure,
            default_optimizer: Optimizer::Adamw,
            adapters_fp32: false,
            // litgpt always chunks the head and the loss.
            chunked_ce: true,
            // finetune/lora.py: lora_dropout 0.05.
            lora_dropout_per_mille: 50,
            kbit_upcast: false,
            fused_qkv: true,
            head_chunk: Some(128),
            always_repeats_kv: true,
            eager_repeats_kv: true,
            dropout: false,
            forces_rotary: true,
            norm_weight_fp32: false,
            loss: LossCode::Litgpt,
            no_sync: NoSyncUnits::BlocksWithAdapters,
            nf4: Nf4Code::Bitsandbytes,
            memory_recipes: false,
            recipes_checkpoint: false,
            speed: TrainingSpeed {
                mfu_source:
                    "no litgpt training case yet: the transformers fit (PEFT MetaMathQA runs on an L40S) stands in",
                clips_grad_norm: false,
                ..TRAINER_SPEED
            },
        }),
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}
