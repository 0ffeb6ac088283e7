//! [`Workload`]: what is run, with which settings. Built by the CLI from flags and by the
//! validation reader from cases; checked once by [`Workload::check`].

use crate::choice::{Choice, Entry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::estimate::runtime::{Runtime, RuntimeVersion};
use crate::quant::QuantConfig;
use serde::Serialize;

/// What the GPU is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Weights loaded, nothing run.
    Load,
    /// One forward pass over the prompt (and one sampled token).
    Prefill,
    /// Prefill, then decode `new` tokens.
    Generate,
    /// Training or fine-tuning steps.
    Train,
    /// Merging an adapter into the base weights.
    Merge,
    /// A serving engine's start-up (vLLM, SGLang): weights, profile run, KV cache pool.
    Serve,
}

impl crate::choice::Choice for Task {
    const FLAG: &'static str = "--task";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        TASKS.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!("unknown task {s:?}; use {}", Self::listed())
    }
}

/// `--task`: every task, its spellings and help.
const TASKS: &[Entry<Task>] = &[
    Entry::new(Task::Load, &["load"], "Load the weights only"),
    Entry::new(Task::Prefill, &["prefill"], "Inference: prefill only"),
    Entry::new(Task::Generate, &["generate", "infer", "inference"], "Inference: generate"),
    Entry::new(Task::Train, &["train", "finetune", "fine-tune"], "Training / fine-tuning"),
    Entry::new(Task::Merge, &["merge"], "Merge an adapter into the weights"),
    Entry::new(Task::Serve, &["serve", "serving"], "Serving engine start-up (vLLM, SGLang)"),
];

impl Task {
    /// Parse `load|prefill|generate|train|merge|serve` (the names in its table).
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }
    /// Name as the CLI spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.canonical().expect("every task has a row")
    }
}

/// How attention is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttnImpl {
    /// Matmul + softmax in PyTorch: materializes batch × heads × q × k scores.
    Eager,
    /// `torch.nn.functional.scaled_dot_product_attention` (flash / memory-efficient kernels).
    Sdpa,
    /// FlashAttention-2.
    Flash,
    /// PyTorch SDPA's math kernel (what SDPA falls back to when no fused kernel accepts the
    /// inputs): scores and probabilities materialized in the compute dtype.
    Math,
}

impl crate::choice::Choice for AttnImpl {
    const FLAG: &'static str = "--attn";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        ATTN_IMPLS.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!("unknown attention {s:?}; use {}", Self::listed())
    }
}

/// `--attn`: every implementation, its spellings and help.
const ATTN_IMPLS: &[Entry<AttnImpl>] = &[
    Entry::new(AttnImpl::Eager, &["eager"], "eager (matmul + softmax)"),
    Entry::new(AttnImpl::Sdpa, &["sdpa"], "sdpa (PyTorch SDPA)"),
    Entry::new(AttnImpl::Flash, &["flash", "flash_attention_2", "flash-attention-2", "fa2"], "FlashAttention-2"),
    Entry::unlisted(AttnImpl::Math, &["math"], "SDPA's math kernel"),
];

impl AttnImpl {
    /// Parse `eager|sdpa|flash` (the names in its table).
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }
    /// Name as the CLI spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.canonical().expect("every attention implementation has a row")
    }
}

crate::choice_traits!(Task, AttnImpl);

/// Largest batch accepted.
pub const MAX_BATCH: u64 = 1 << 20;
/// Largest token count accepted (prompt, new, sequence).
pub const MAX_TOKENS: u64 = 1 << 24;

/// Everything about a run except the model and the GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// What is run.
    pub task: Task,
    /// Sequences processed together.
    pub batch: u64,
    /// Prompt tokens per sequence.
    pub prompt: u64,
    /// New tokens generated per sequence.
    pub new_tokens: u64,
    /// Dtype of weights and compute; `None` = the checkpoint's own dtype.
    pub dtype: Option<DType>,
    /// Mixed precision: weights in `dtype` (fp32), matmuls autocast to this dtype.
    pub autocast: Option<DType>,
    /// Weight quantization.
    pub quant: Option<QuantConfig>,
    /// KV cache dtype; `None` = compute dtype.
    pub kv_dtype: Option<DType>,
    /// Attention implementation.
    pub attn: AttnImpl,
    /// Software that runs it.
    pub runtime: Runtime,
    /// Its version, where behaviour changed across versions.
    pub runtime_version: Option<RuntimeVersion>,
    /// Tokens of KV cache allocated up front (litgpt `max_seq_length`, static caches,
    /// llama.cpp `--ctx-size`).
    pub kv_prealloc: Option<u64>,
    /// Sequences a cache built for fixed slots holds (the reference code's
    /// `--max-batch-size`); `None` = the runtime's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_batch: Option<u64>,
    /// How several GPUs share the work (one GPU by default).
    pub parallel: crate::estimate::parallel::Parallel,
    /// Merge the adapter on the GPU rather than in CPU RAM (`merge`).
    pub merge_on_gpu: bool,
    /// Training settings (used by `train` and `merge`).
    pub training: crate::estimate::training::setup::TrainingSetup,
    /// llama.cpp settings, used with [`Runtime::LlamaCpp`].
    pub llama_cpp: LlamaCppOptions,
    /// `--head`: the output head instead of the one config.json's `architectures` names (a
    /// classifier's labels 0 = the config's `num_labels`, else 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<crate::model::Head>,
    /// Serving-engine settings, used with `--task serve` (vLLM, SGLang).
    #[serde(skip_serializing_if = "crate::estimate::serving::ServingOptions::is_unset")]
    pub serving: crate::estimate::serving::ServingOptions,
    /// The GPU's software stack (CUDA unless a catalog GPU says otherwise): the device-level
    /// context it adds and what plans it can run.
    #[serde(skip_serializing_if = "is_cuda")]
    pub backend: crate::estimate::backend::Backend,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_cuda(b: &crate::estimate::backend::Backend) -> bool {
    *b == crate::estimate::backend::Backend::Cuda
}

/// Settings only llama.cpp has, with its own flag names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LlamaCppOptions {
    /// `-ngl` / `--n-gpu-layers`: layers offloaded to the GPU (whether the output layer
    /// counts as one depends on the build); `None` = everything.
    pub n_gpu_layers: Option<u64>,
    /// `--cache-type-k` (and `--cache-type-v` unless given apart): the K cache's GGML type
    /// (`F16`, `Q8_0`, `Q4_0`...); `None` = F16.
    pub cache_type: Option<String>,
    /// `--cache-type-v`: the V cache's GGML type; `None` = the K cache's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_type_v: Option<String>,
    /// `-ub` / `--ubatch-size`: tokens per compute micro-batch; `None` = 512.
    pub n_ubatch: Option<u64>,
    /// `-b` / `--batch-size`: logical batch; `None` = the build's default (2048, 512 before
    /// the micro-batch existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_batch: Option<u64>,
    /// `-np` / `--parallel`: sequences (n_seq_max); `None` = `--batch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_seq_max: Option<u64>,
    /// `--n-cpu-moe N`: the routed experts of the first N blocks stay in host memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_cpu_moe: Option<u64>,
    /// `-ot` / `--override-tensor PATTERN=DEVICE` (`exps=CPU`, `blk\.[0-9]\.ffn_.*=CUDA1`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub override_tensor: Vec<String>,
    /// `-sm` / `--split-mode layer|row|none`; `None` = layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_mode: Option<String>,
    /// `-ts` / `--tensor-split A,B,...`: each GPU's share, in millionths of their sum; empty =
    /// equal shares.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tensor_split: Vec<u64>,
    /// `-mg` / `--main-gpu`: the GPU holding everything with `--split-mode none|row`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_gpu: Option<u64>,
    /// `-fa` / `--flash-attn` as given (`None`: the build's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flash_attn: Option<bool>,
    /// `--mmproj FILE`: bytes of the multimodal projector's tensors (read from its GGUF
    /// header by the caller), loaded on the main GPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mmproj_bytes: Option<u64>,
    /// `--mmproj FILE`: the projector's vision encoder (its warm-up compute buffers), or why
    /// its graph is not modelled (said in the notes, never replaced by a guess).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mmproj_projector: Option<Result<crate::estimate::mmproj::ClipProjector, String>>,
    /// `--lora FILE`: the adapter's tensors (read from its GGUF header by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraAdapter>,
}

/// A LoRA adapter GGUF as llama.cpp loads it (`src/llama-adapter.cpp`
/// `llama_adapter_lora_init_impl`): every `*.lora_a` / `*.lora_b` tensor is allocated in the
/// buffer type of the model tensor it adapts, one "LoRA buffer" per device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoraAdapter {
    /// Bytes of the adapter tensors of each block (`blk.N.*`), by block index.
    pub block_bytes: Vec<u64>,
    /// Bytes of the adapter tensors outside the blocks (`token_embd`, `output`).
    pub other_bytes: u64,
    /// Whether the FFN projections are adapted (their low-rank product is one more
    /// n_ff-wide tensor in the graph).
    pub adapts_ffn: bool,
}

impl LoraAdapter {
    /// The adapter's tensors from a parsed GGUF header.
    #[must_use]
    pub fn from_gguf(f: &crate::formats::gguf::GgufFile) -> Self {
        let mut a = LoraAdapter::default();
        for t in &f.tensors {
            if !(t.name.ends_with(".lora_a") || t.name.ends_with(".lora_b")) {
                continue;
            }
            let block =
                t.name.strip_prefix("blk.").and_then(|r| r.split('.').next()).and_then(|n| n.parse::<usize>().ok());
            match block {
                Some(i) if i < 1 << 16 => {
                    if a.block_bytes.len() <= i {
                        a.block_bytes.resize(i + 1, 0);
                    }
                    a.block_bytes[i] = a.block_bytes[i].saturating_add(t.bytes);
                    a.adapts_ffn |= t.name.contains(".ffn_");
                }
                _ => a.other_bytes = a.other_bytes.saturating_add(t.bytes),
            }
        }
        a
    }
    /// All the adapter's bytes.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.block_bytes.iter().fold(self.other_bytes, |s, b| s.saturating_add(*b))
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            task: Task::Generate,
            batch: 1,
            prompt: 512,
            new_tokens: 256,
            dtype: None,
            autocast: None,
            quant: None,
            kv_dtype: None,
            attn: AttnImpl::Sdpa,
            runtime: Runtime::Transformers,
            runtime_version: None,
            kv_prealloc: None,
            cache_batch: None,
            parallel: crate::estimate::parallel::Parallel::default(),
            merge_on_gpu: false,
            training: crate::estimate::training::setup::TrainingSetup::default(),
            llama_cpp: LlamaCppOptions::default(),
            head: None,
            serving: crate::estimate::serving::ServingOptions::default(),
            backend: crate::estimate::backend::Backend::Cuda,
        }
    }
}

impl Workload {
    /// Reject impossible values with the flag that fixes them.
    ///
    /// # Errors
    /// Zero or absurd batch/tokens, contradictory precision settings.
    pub fn check(&self) -> Result<()> {
        if let Some(q) = self.quant.as_ref().filter(|q| matches!(q.quant, crate::quant::Quant::Gguf { .. })) {
            if self.profile().engine != crate::estimate::profile::Engine::LlamaCpp {
                return Err(Error::workload(
                    "--quant",
                    format!(
                        "{} is a GGUF scheme that only llama.cpp runs as stored ({} dequantizes GGUF weights to 16/32-bit at load): add --runtime llama.cpp, or use int8 / nf4 (bitsandbytes)",
                        q.label(),
                        self.runtime.name()
                    ),
                ));
            }
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(Error::workload("--batch", format!("must be between 1 and {MAX_BATCH}")));
        }
        if self.prompt > MAX_TOKENS {
            return Err(Error::workload("--prompt", format!("must be at most {MAX_TOKENS}")));
        }
        if self.new_tokens > MAX_TOKENS {
            return Err(Error::workload("--new", format!("must be at most {MAX_TOKENS}")));
        }
        if matches!(self.task, Task::Prefill | Task::Generate) && self.prompt == 0 {
            return Err(Error::workload("--prompt", "must be at least 1 token"));
        }
        if let Some(p) = self.kv_prealloc {
            if p == 0 {
                // llama.cpp reads `-c 0` as the model's trained context; say so rather than
                // silently using prompt + new.
                return Err(Error::workload(
                    "--kv-prealloc",
                    "must be at least 1 token (llama.cpp's -c 0 means the model's trained context: give that length)",
                ));
            }
            if p > MAX_TOKENS {
                return Err(Error::workload("--kv-prealloc", format!("must be at most {MAX_TOKENS}")));
            }
        }
        let v = self.training.virtual_tokens;
        if v == 0 || v > MAX_TOKENS {
            return Err(Error::workload("--virtual-tokens", format!("must be between 1 and {MAX_TOKENS}")));
        }
        self.parallel.check()?;
        if self.autocast.is_some() && self.quant.is_some() && self.task != Task::Train {
            return Err(Error::workload(
                "--precision",
                "mixed precision keeps fp32 weights; it cannot be combined with --quant",
            ));
        }
        Ok(())
    }

    /// The runtime's behaviours at the asked version.
    #[must_use]
    pub fn profile(&self) -> crate::estimate::profile::RuntimeProfile {
        crate::estimate::profile::RuntimeProfile::of(self.runtime, self.runtime_version)
    }

    /// Tokens in the KV cache at the end of the run.
    #[must_use]
    pub fn total_tokens(&self) -> u64 {
        match self.task {
            Task::Load => 0,
            Task::Prefill => self.prompt,
            _ => self.prompt.saturating_add(self.new_tokens),
        }
    }
}
