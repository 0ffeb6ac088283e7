//! Runtime profiles: what the software that runs the model keeps alive, resolved once per
//! workload from the runtime and its version.
//!
//! A runtime is one file here: a function from its version to a [`RuntimeProfile`], and one
//! row in [`RUNTIMES`] (its CLI names). The estimators and the fit search read the profile's
//! named behaviours; none of them asks which runtime it is.

mod litgpt;
pub mod llamacpp;
mod meta_reference;
pub mod ollama;
mod sglang;
mod torchtune;
mod transformers;
mod vllm;

use super::runtime::{Runtime, RuntimeVersion, TransformersBehaviour};
use super::training::setup::Optimizer;

/// One runtime: its names on the command line and its profile.
pub struct RuntimeRow {
    /// The runtime.
    pub runtime: Runtime,
    /// Spellings `--runtime` accepts (the first is the canonical name).
    pub names: &'static [&'static str],
    /// What the profile is based on, for `--help` and errors.
    pub about: &'static str,
    /// The runtime's profile at a version (`None` = current).
    pub profile: fn(Option<RuntimeVersion>) -> RuntimeProfile,
    /// The flag that gives the share of GPU memory the runtime may budget (vLLM's
    /// `--gpu-memory-utilization`, SGLang's `--mem-fraction-static`; other runtimes refuse it
    /// under vLLM's name).
    pub memory_fraction_flag: &'static str,
    /// The release current at a date (year, month), for published runs that give a date and
    /// not a version (`None`: the runtime's versions are not dated).
    pub release_at: Option<fn(u32, u32) -> RuntimeVersion>,
}

/// Every runtime vramfit knows. A new runtime is one file in this module and one row here.
pub const RUNTIMES: &[RuntimeRow] = &[
    RuntimeRow {
        runtime: Runtime::Transformers,
        names: &["transformers", "hf", "peft", "peft-transformers", "optimum-gptq", "optimum"],
        about: "Hugging Face transformers generate / Trainer, with PEFT",
        profile: transformers::profile,
        memory_fraction_flag: "--gpu-memory-utilization",
        release_at: Some(RuntimeVersion::transformers_at),
    },
    RuntimeRow {
        runtime: Runtime::Litgpt,
        names: &["litgpt", "lit-gpt"],
        about: "Lightning AI litgpt",
        profile: litgpt::profile,
        memory_fraction_flag: "--gpu-memory-utilization",
        release_at: None,
    },
    RuntimeRow {
        runtime: Runtime::Torchtune,
        names: &["torchtune"],
        about: "PyTorch torchtune recipes",
        profile: torchtune::profile,
        memory_fraction_flag: "--gpu-memory-utilization",
        release_at: Some(RuntimeVersion::torchtune_at),
    },
    RuntimeRow {
        runtime: Runtime::Vllm,
        names: &["vllm"],
        about: "vLLM serving engine (start-up budget by release)",
        profile: vllm::profile,
        memory_fraction_flag: "--gpu-memory-utilization",
        release_at: None,
    },
    RuntimeRow {
        runtime: Runtime::Sglang,
        names: &["sglang"],
        about: "SGLang serving engine (token pool from mem_fraction_static)",
        profile: sglang::profile,
        memory_fraction_flag: "--mem-fraction-static",
        release_at: None,
    },
    RuntimeRow {
        runtime: Runtime::LlamaCpp,
        names: &["llama.cpp", "llamacpp", "llama-cpp"],
        about: "llama.cpp (GGUF)",
        profile: llamacpp::profile,
        memory_fraction_flag: "--gpu-memory-utilization",
        release_at: None,
    },
    RuntimeRow {
        runtime: Runtime::MetaReference,
        names: &["meta-reference", "meta", "llama-reference"],
        about: "Meta's reference LLaMA code (llama repository, Llama.build / generate)",
        profile: meta_reference::profile,
        memory_fraction_flag: "--gpu-memory-utilization",
        release_at: None,
    },
    RuntimeRow {
        runtime: Runtime::Ollama,
        names: &["ollama"],
        about: "Ollama (llama.cpp runner; its defaults and its own printed estimate)",
        profile: ollama::profile,
        memory_fraction_flag: "--gpu-memory-utilization",
        release_at: None,
    },
];

/// The row of a runtime.
#[must_use]
pub fn row(runtime: Runtime) -> &'static RuntimeRow {
    RUNTIMES.iter().find(|r| r.runtime == runtime).expect("every runtime has a row in RUNTIMES")
}

/// Which estimator runs the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PyTorch modules on the CUDA caching allocator (transformers, litgpt, torchtune, the
    /// reference code).
    Torch,
    /// llama.cpp's ggml buffers.
    LlamaCpp,
    /// A serving engine's start-up budget (`estimate::serving`: vLLM, SGLang), with the
    /// engine's own estimator and flag names.
    Serving(&'static crate::estimate::serving::ServingEngine),
    /// Not modelled yet: estimates are refused with this message.
    Unmodelled(&'static str),
}

/// The code path that produces decode tokens, for the speed model's constants
/// (`estimate::speed::backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodePath {
    /// PyTorch eager decoding, one Python step per token.
    TorchEager,
    /// llama.cpp's ggml graph (CUDA, Metal, or Vulkan/ROCm by the GPU's vendor).
    LlamaCpp,
    /// A serving engine's CUDA-graph decode step (vLLM, SGLang).
    Vllm,
}

/// The training loop's speed, as measured: its model FLOPs utilization and where that came
/// from (`estimate::speed::train`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainingSpeed {
    /// Model FLOPs utilization on one GPU, per mille of the datasheet peak.
    pub mfu_per_mille: u32,
    /// Where the MFU comes from.
    pub mfu_source: &'static str,
    /// The loop clips the gradient norm every step (one read of the gradients for the norm,
    /// one read and write to scale them).
    pub clips_grad_norm: bool,
}

/// How the KV cache is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvAllocation {
    /// Grows with every token (transformers `DynamicCache`), unless `--kv-prealloc` is given.
    Growing,
    /// Allocated up front for the whole sequence (`--kv-prealloc`, default prompt + new).
    Preallocated,
}

/// What the runtime builds around attention for inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskPolicy {
    /// Masks built per forward the way transformers' modeling code does (by version).
    Transformers,
    /// A boolean mask cache for the whole preallocated length, built once (litgpt
    /// `build_mask_cache`).
    Cache,
    /// A float causal mask of prompt × keys in the compute dtype, shared by the batch (the
    /// reference code's `torch.full((1, 1, seqlen, seqlen), -inf)`).
    Square,
    /// No materialized mask (causal kernels).
    None,
}

/// How tensor parallelism splits the weights for inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpWeights {
    /// Every weight split over the GPUs (vocabulary-parallel embeddings and head).
    All,
    /// Only the blocks' linears; embeddings and head stay whole on every GPU
    /// (litgpt/generate/tp.py).
    BlocksOnly,
}

/// How bitsandbytes 4-bit weights are quantized at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bnb4Load {
    /// The 16-bit source on the GPU, quantized in place (`Params4bit.cuda`).
    OnDevice,
    /// The 16-bit source and its `.half()` copy (litgpt `BitsandbytesPrecision`).
    HalfCopy,
}

/// A KV cache allocated at build time for a fixed number of sequences and tokens (the
/// reference code's `max_batch_size` × `max_seq_len`): larger batches and prompts are refused
/// and generation stops at `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSlots {
    /// Sequences the cache holds when `--max-batch-size` is not given.
    pub batch: u64,
    /// Tokens per sequence when `--max-seq-len` is not given.
    pub seq: u64,
}

/// The runtime's inference behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferenceProfile {
    /// How the KV cache is allocated.
    pub kv_allocation: KvAllocation,
    /// A cache built for fixed slots (`None`: sized by the workload).
    pub cache_slots: Option<CacheSlots>,
    /// The attention implementation the runtime always uses (`None`: `--attn`).
    pub attention: Option<crate::estimate::workload::AttnImpl>,
    /// Weights and compute dtype the runtime always uses (`None`: `--dtype` or the
    /// checkpoint's).
    pub dtype: Option<crate::DType>,
    /// Logits are returned in fp32 (`.float()`) whatever the model's dtype.
    pub logits_fp32: bool,
    /// transformers' modeling code and its version's behaviours (`None`: not transformers).
    pub transformers: Option<TransformersBehaviour>,
    /// Attention repeats grouped K/V heads to every query head (`repeat_kv`).
    pub repeats_kv: bool,
    /// PyTorch's SDPA falls back to the math kernel for fp32 grouped-query attention
    /// without a mask (transformers >= 4.48 passes `enable_gqa=True`).
    pub sdpa_math_for_fp32_gqa: bool,
    /// The mask built for prefill.
    pub mask: MaskPolicy,
    /// Prefill computes logits for every prompt position (litgpt `GPT.forward`).
    pub logits_all_positions: bool,
    /// Quantization covers the output head too (litgpt quantizes every linear).
    pub quantized_head: bool,
    /// Under autocast the KV cache keeps the weights' dtype (litgpt's cache is built with
    /// the module's dtype).
    pub kv_in_weight_dtype_under_autocast: bool,
    /// How bitsandbytes 4-bit weights are quantized at load.
    pub bnb4_load: Bnb4Load,
    /// How tensor parallelism splits the weights.
    pub tp_weights: TpWeights,
    /// llama.cpp's buffer behaviours at the asked build (`None`: not llama.cpp).
    pub llamacpp: Option<llamacpp::LlamaCppBehaviour>,
    /// Ollama's defaults in front of llama.cpp (`None`: not Ollama).
    pub ollama: Option<ollama::OllamaDefaults>,
    /// The decode code path (the speed model's constants).
    pub decode: DecodePath,
}

/// The loss code a runtime trains with (its logits and cross-entropy temporaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossCode {
    /// transformers `ForCausalLMLoss` (or a chunked loss when asked).
    Transformers,
    /// torchtune before 0.3: fp32 logits from the model, shifted with a contiguous copy.
    TorchtuneFp32Logits,
    /// torchtune 0.3+: `CEWithChunkedOutputLoss` (compiled: one chunk in fp32 at a time).
    Torchtune,
    /// litgpt `chunked_cross_entropy` under Fabric, whose precision plugin converts outputs
    /// to fp32.
    Litgpt,
}

/// Which units FSDP's `no_sync()` keeps unsharded gradients for under accumulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSyncUnits {
    /// Each block's frozen weights share flat parameters with its adapters (litgpt).
    BlocksWithAdapters,
    /// Adapters are wrapped in units of their own (Trainer + PEFT).
    AdaptersOnly,
    /// The runtime does not accumulate under `no_sync` (torchtune syncs every micro-batch).
    None,
}

/// Whose code holds QLoRA's 4-bit base weights: how they are quantized and dequantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nf4Code {
    /// bitsandbytes `Linear4bit`: quantized as the checkpoint is loaded, `dequantize_4bit` to
    /// the compute dtype for each matmul (transformers + PEFT, litgpt).
    Bitsandbytes,
    /// torchao `NF4Tensor` (torchtune's `LoRALinear(quantize_base=True)`): each weight is
    /// built in bf16 on the GPU and quantized at model construction; `get_original_weight`
    /// dequantizes for each matmul. `chunked_quantize`: the nearest-code search runs in chunks
    /// of 2^20 elements (torchao 0.3.1, pinned from torchtune 0.2; torchao 0.1, pinned by
    /// torchtune 0.1, compares every element with the 16 codes at once).
    Torchao {
        /// The nearest-code search is chunked.
        chunked_quantize: bool,
    },
}

/// Default precision policy for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultPrecision {
    /// fp32 master weights, autocast to the model's half dtype.
    Mixed,
    /// Everything in the model's half dtype.
    Pure,
    /// The model as loaded, no autocast: fp32 when it loads in fp32, else pure half (the
    /// Trainer without --bf16/--fp16: TrainingArguments bf16=False, fp16=False,
    /// training_args.py 4.46.0 and 5.0.0).
    AsLoaded,
}

/// The runtime's training behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainingProfile {
    /// Precision when `--precision` is not given.
    pub default_precision: DefaultPrecision,
    /// Optimizer when `--optimizer` is not given.
    pub default_optimizer: Optimizer,
    /// Adapter weights stay fp32 whatever the precision (PEFT `autocast_adapter_dtype`).
    pub adapters_fp32: bool,
    /// Chunked cross-entropy when `--chunked-ce` is not given.
    pub chunked_ce: bool,
    /// LoRA dropout in per mille when `--lora-dropout` is not given.
    pub lora_dropout_per_mille: u32,
    /// QLoRA upcasts every non-quantized parameter to fp32 (PEFT
    /// `prepare_model_for_kbit_training`).
    pub kbit_upcast: bool,
    /// q/k/v are one fused linear (LoRA adapts its parts; activations saved once).
    pub fused_qkv: bool,
    /// The head runs in chunks of this many tokens (litgpt `lm_head_chunk_size=128`).
    pub head_chunk: Option<u64>,
    /// Attention copies grouped K/V to every query head in any implementation.
    pub always_repeats_kv: bool,
    /// Attention repeats K/V when it runs eager (transformers `repeat_kv`).
    pub eager_repeats_kv: bool,
    /// Dropout layers of the config run in training.
    pub dropout: bool,
    /// RoPE is applied even to models the config describes otherwise (litgpt's own blocks).
    pub forces_rotary: bool,
    /// Norm weights kept in fp32 where the model says so (transformers modules).
    pub norm_weight_fp32: bool,
    /// The loss code.
    pub loss: LossCode,
    /// FSDP `no_sync` under gradient accumulation.
    pub no_sync: NoSyncUnits,
    /// The 4-bit code QLoRA runs on.
    pub nf4: Nf4Code,
    /// The runtime offers optimizer-in-backward and activation offloading
    /// (torchtune `optimizer_in_bwd`, `enable_activation_offloading`).
    pub memory_recipes: bool,
    /// Its published recipes turn activation checkpointing on (torchtune's configs:
    /// `enable_activation_checkpointing: True`): what a published run that does not say used.
    pub recipes_checkpoint: bool,
    /// How fast its training loop runs.
    pub speed: TrainingSpeed,
}

/// The transformers Trainer's training speed (PEFT MetaMathQA runs on an L40S); the stand-in
/// where a runtime has no training case.
pub(crate) const TRAINER_SPEED: TrainingSpeed = TrainingSpeed {
    mfu_per_mille: 255,
    mfu_source: "fitted by validation/speed/fit.py on the training cases of validation/speed/cases.json (PEFT MetaMathQA runs, transformers on an L40S)",
    // transformers' Trainer and the PEFT benchmark clip the gradient norm (max_grad_norm 1.0).
    clips_grad_norm: true,
};

/// Everything an estimator needs to know about the runtime, for one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeProfile {
    /// The runtime (for names in notes and formulas only).
    pub runtime: Runtime,
    /// The version asked for (`None` = current).
    pub version: Option<RuntimeVersion>,
    /// Which estimator runs it.
    pub engine: Engine,
    /// Inference behaviours.
    pub inference: InferenceProfile,
    /// Training behaviours (`None`: the runtime does not train).
    pub training: Option<TrainingProfile>,
    /// Without `--dtype`, `from_pretrained` loads fp32 whatever the checkpoint
    /// (transformers 4.x without `torch_dtype`).
    pub loads_fp32_by_default: bool,
    /// PyTorch of this version's era loads CUDA kernels lazily (`CUDA_MODULE_LOADING=LAZY`).
    pub lazy_cuda_loading: bool,
}

impl RuntimeProfile {
    /// The profile of `runtime` at `version` (`None` = current).
    #[must_use]
    pub fn of(runtime: Runtime, version: Option<RuntimeVersion>) -> Self {
        (row(runtime).profile)(version)
    }

    /// The name the CLI uses.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.runtime.name()
    }
}

/// A PyTorch runtime's inference defaults that most runtimes share; each profile overrides
/// what differs.
pub(crate) const TORCH_INFERENCE: InferenceProfile = InferenceProfile {
    kv_allocation: KvAllocation::Preallocated,
    cache_slots: None,
    attention: None,
    dtype: None,
    logits_fp32: false,
    transformers: None,
    repeats_kv: false,
    sdpa_math_for_fp32_gqa: false,
    mask: MaskPolicy::None,
    logits_all_positions: false,
    quantized_head: false,
    kv_in_weight_dtype_under_autocast: false,
    bnb4_load: Bnb4Load::OnDevice,
    tp_weights: TpWeights::All,
    llamacpp: None,
    ollama: None,
    decode: DecodePath::TorchEager,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_has_one_row_and_unique_names() {
        let mut names: Vec<&str> = RUNTIMES.iter().flat_map(|r| r.names.iter().copied()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a --runtime spelling names two runtimes");
        for r in RUNTIMES {
            assert_eq!(r.runtime.name(), r.names[0], "the first name is the canonical one");
            assert_eq!(RuntimeProfile::of(r.runtime, None).runtime, r.runtime);
        }
    }

    #[test]
    fn versions_change_what_the_source_says() {
        let old = RuntimeProfile::of(Runtime::Transformers, Some(RuntimeVersion::new(4, 31)));
        let new = RuntimeProfile::of(Runtime::Transformers, None);
        assert!(old.inference.transformers.unwrap().tuple_cache && !new.inference.transformers.unwrap().tuple_cache);
        assert_eq!(old.training.unwrap().default_optimizer, Optimizer::AdamwLoop);
        assert_eq!(new.training.unwrap().default_optimizer, Optimizer::Adamw);
        let before_torch2 = RuntimeProfile::of(Runtime::Transformers, Some(RuntimeVersion::new(4, 26)));
        assert!(!before_torch2.lazy_cuda_loading && old.lazy_cuda_loading && new.lazy_cuda_loading);
        assert!(old.loads_fp32_by_default && !new.loads_fp32_by_default);
        let tt02 = RuntimeProfile::of(Runtime::Torchtune, Some(RuntimeVersion::new(0, 2)));
        assert_eq!(tt02.training.unwrap().loss, LossCode::TorchtuneFp32Logits);
        assert!(!tt02.training.unwrap().chunked_ce);
        assert!(RuntimeProfile::of(Runtime::LlamaCpp, None).training.is_none());
    }
}
