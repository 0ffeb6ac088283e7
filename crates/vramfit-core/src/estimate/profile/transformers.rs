//! Hugging Face transformers (`generate`, `Trainer`) with PEFT for adapters, by version.

use super::{
    DefaultPrecision, Engine, InferenceProfile, KvAllocation, LossCode, MaskPolicy, Nf4Code, NoSyncUnits,
    RuntimeProfile, TrainingProfile, TORCH_INFERENCE, TRAINER_SPEED,
};
use crate::estimate::runtime::{Runtime, RuntimeVersion, TransformersBehaviour};
use crate::estimate::training::setup::Optimizer;

/// transformers at `version` (`None` = current).
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    let before = |major: u32, minor: u32| version.is_some_and(|v| v < RuntimeVersion::new(major, minor));
    RuntimeProfile {
        runtime: Runtime::Transformers,
        version,
        engine: Engine::Torch,
        inference: InferenceProfile {
            // DynamicCache grows by torch.cat each step (cache_utils.py).
            kv_allocation: KvAllocation::Growing,
            transformers: Some(TransformersBehaviour::of(version)),
            // modeling_llama.py repeat_kv before eager attention and SDPA without enable_gqa.
            repeats_kv: true,
            // From 4.48 unmasked GQA goes to SDPA with enable_gqa=True, which only the flash
            // and math kernels take; flash takes no fp32.
            sdpa_math_for_fp32_gqa: !before(4, 48),
            mask: MaskPolicy::Transformers,
            ..TORCH_INFERENCE
        },
        training: Some(TrainingProfile {
            // The Trainer without --bf16/--fp16 trains the model as loaded (fp32 under 4.x,
            // the checkpoint's dtype under 5.x); --bf16/--fp16 is --precision bf16/fp16.
            default_precision: DefaultPrecision::AsLoaded,
            // The Trainer's default was transformers' own per-parameter AdamW (`adamw_hf`)
            // before it switched to torch's AdamW (4.36).
            default_optimizer: if before(4, 36) { Optimizer::AdamwLoop } else { Optimizer::Adamw },
            // PEFT keeps adapter weights in fp32 on a half-precision base (autocast_adapter_dtype).
            adapters_fp32: true,
            chunked_ce: false,
            lora_dropout_per_mille: 0,
            kbit_upcast: true,
            fused_qkv: false,
            head_chunk: None,
            // Before 4.48 SDPA got K/V repeated to every head; eager always repeats them.
            always_repeats_kv: before(4, 48),
            eager_repeats_kv: true,
            dropout: true,
            forces_rotary: false,
            norm_weight_fp32: true,
            loss: LossCode::Transformers,
            no_sync: NoSyncUnits::AdaptersOnly,
            nf4: Nf4Code::Bitsandbytes,
            memory_recipes: false,
            recipes_checkpoint: false,
            speed: TRAINER_SPEED,
        }),
        // from_pretrained without torch_dtype loads fp32 in 4.x (modeling_utils.py 4.46.0);
        // 5.x defaults to dtype="auto" (the checkpoint's). No version given = current, 5.x.
        loads_fp32_by_default: version.is_some_and(|v| v < RuntimeVersion::new(5, 0)),
        // PyTorch 2.0 (March 2023, with transformers 4.27/4.28) made CUDA_MODULE_LOADING=LAZY
        // the default.
        lazy_cuda_loading: version.is_none_or(|v| v > RuntimeVersion::new(4, 27)),
    }
}
