//! Training settings: precision policy, optimizer, method (full or parameter-efficient),
//! and the memory-saving switches.

use crate::choice::{Choice, Entry};
use crate::dtype::DType;
use crate::error::Result;
use serde::Serialize;

/// Where weights, gradients and compute live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Everything fp32.
    Fp32,
    /// fp32 weights (master copy), gradients and states; matmuls autocast to this dtype.
    Mixed(DType),
    /// Weights, gradients and optimizer states all in this dtype (torchtune, litgpt
    /// `bf16-true`, PEFT with a bf16 model).
    Pure(DType),
}

impl Precision {
    /// Parse `fp32|bf16|fp16|mixed-fp16|mixed-bf16|pure-bf16|pure-fp16` (and Lightning
    /// spellings). `bf16` and `fp16` mean mixed precision, as they do in HF `TrainingArguments`
    /// (`--bf16`: "bf16 (mixed) precision"), Accelerate (`mixed_precision="bf16"`) and
    /// Lightning (`precision="bf16"` is `"bf16-mixed"`); pure half precision is `pure-bf16`
    /// or Lightning's `bf16-true`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }
    /// The dtype matmuls run in.
    #[must_use]
    pub fn compute(self) -> DType {
        match self {
            Precision::Fp32 => DType::Fp32,
            Precision::Mixed(d) | Precision::Pure(d) => d,
        }
    }
    /// Name as the CLI spells it.
    #[must_use]
    pub fn name(self) -> String {
        match self {
            Precision::Fp32 => "fp32".into(),
            Precision::Mixed(d) => format!("mixed-{d}"),
            Precision::Pure(d) => format!("pure-{d}"),
        }
    }
}

impl Choice for Precision {
    const FLAG: &'static str = "--precision";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        PRECISIONS.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!(
            "unknown precision {s:?}; use fp32, bf16 or fp16 (mixed), or pure-bf16 / pure-fp16 (bf16-true / 16-true)"
        )
    }
}

/// `--precision`: every policy, its spellings (HF, Accelerate and Lightning's) and help.
const PRECISIONS: &[Entry<Precision>] = &[
    Entry::new(Precision::Fp32, &["fp32", "32-true", "32"], "fp32"),
    Entry::new(
        Precision::Mixed(DType::Bf16),
        &["mixed-bf16", "bf16-mixed", "bf16"],
        "mixed bf16 (fp32 weights, HF --bf16)",
    ),
    Entry::new(
        Precision::Mixed(DType::Fp16),
        &["mixed-fp16", "fp16-mixed", "16-mixed", "fp16", "16"],
        "mixed fp16 (fp32 weights, HF --fp16)",
    ),
    Entry::new(Precision::Pure(DType::Bf16), &["pure-bf16", "bf16-true"], "pure bf16"),
    Entry::new(Precision::Pure(DType::Fp16), &["pure-fp16", "16-true", "fp16-true"], "pure fp16"),
];

/// Optimizers, by how much state they keep and what their step allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// Plain SGD: no state.
    Sgd,
    /// SGD with momentum: one buffer.
    SgdMomentum,
    /// torch AdamW, foreach implementation (the CUDA default): two states, and the step makes
    /// a temporary copy of one state (`_foreach_sqrt(exp_avg_sq)`).
    Adamw,
    /// torch AdamW with `fused=True`: two states, no temporaries.
    AdamwFused,
    /// A per-parameter loop (torch `foreach=False`, transformers' own `AdamW`, the Trainer
    /// default `adamw_hf` before 4.36): two states, one parameter-sized temporary at a time.
    AdamwLoop,
    /// bitsandbytes 8-bit AdamW: two uint8 states with an fp32 absmax per 256-element block.
    Adamw8bit,
    /// bitsandbytes paged AdamW: fp32 states in CUDA unified memory (evictable to CPU).
    PagedAdamw,
    /// bitsandbytes paged 8-bit AdamW.
    PagedAdamw8bit,
    /// transformers Adafactor: factored second moment (row + column vectors per matrix), no
    /// first moment by default.
    Adafactor,
    /// Lion: one momentum buffer.
    Lion,
    /// bitsandbytes 8-bit Lion.
    Lion8bit,
}

impl Optimizer {
    /// Parse the CLI spelling.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }
    /// Name as the CLI spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.canonical().expect("every optimizer has a row")
    }
}

impl Choice for Optimizer {
    const FLAG: &'static str = "--optimizer";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        OPTIMIZERS.iter().copied()
    }
    fn fold(s: &str) -> String {
        s.to_ascii_lowercase().replace('_', "-")
    }
    fn unknown(s: &str) -> String {
        format!("unknown optimizer {s:?}; use {}", Self::listed())
    }
}

/// `--optimizer`: every optimizer, its spellings (torch, transformers' `optim`, bitsandbytes)
/// and help.
const OPTIMIZERS: &[Entry<Optimizer>] = &[
    Entry::new(Optimizer::Adamw, &["adamw", "adam", "adamw-torch", "adamw-foreach"], "AdamW (foreach)"),
    Entry::new(Optimizer::AdamwFused, &["adamw-fused", "adamw-torch-fused", "fused-adamw"], "AdamW fused"),
    Entry::new(
        Optimizer::AdamwLoop,
        &["adamw-loop", "adamw-hf", "adamw-foreach-false"],
        "AdamW, one parameter at a time",
    ),
    Entry::new(Optimizer::Adamw8bit, &["adamw-8bit", "adamw8bit", "adamw-bnb-8bit", "8bit-adamw"], "AdamW 8-bit"),
    Entry::new(Optimizer::PagedAdamw, &["paged-adamw", "paged-adamw-32bit"], "paged AdamW"),
    Entry::new(Optimizer::PagedAdamw8bit, &["paged-adamw-8bit"], "paged AdamW 8-bit"),
    Entry::new(Optimizer::Adafactor, &["adafactor"], "Adafactor"),
    Entry::new(Optimizer::Sgd, &["sgd"], "SGD"),
    Entry::new(Optimizer::SgdMomentum, &["sgd-momentum", "momentum"], "SGD + momentum"),
    Entry::new(Optimizer::Lion, &["lion"], "Lion"),
    Entry::new(Optimizer::Lion8bit, &["lion-8bit", "lion8bit"], "Lion 8-bit"),
];

/// What is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Every parameter.
    Full,
    /// LoRA adapters on a frozen base.
    Lora,
    /// LoRA on a 4-bit quantized frozen base.
    Qlora,
    /// DoRA: LoRA plus a magnitude vector per adapted module.
    Dora,
    /// IA3: learned scaling vectors on keys, values and the MLP input of down_proj.
    Ia3,
    /// Prompt tuning: learned virtual-token embeddings prepended to the input.
    PromptTuning,
    /// Prefix tuning: learned key/value prefixes in every layer.
    PrefixTuning,
    /// litgpt Adapter (LLaMA-Adapter): learned prompts with zero-init gating in later layers.
    Adapter,
    /// litgpt Adapter v2: Adapter plus trainable biases, scales and norms.
    AdapterV2,
}

impl Method {
    /// Parse the CLI spelling.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }
    /// Name as the CLI spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.canonical().expect("every method has a row")
    }
    /// LoRA-shaped adapters (LoRA, QLoRA, DoRA).
    #[must_use]
    pub fn is_lora(self) -> bool {
        matches!(self, Method::Lora | Method::Qlora | Method::Dora)
    }
}

impl Choice for Method {
    const FLAG: &'static str = "--method";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        METHODS.iter().copied()
    }
    fn fold(s: &str) -> String {
        s.to_ascii_lowercase().replace('_', "-")
    }
    fn unknown(s: &str) -> String {
        format!("unknown method {s:?}; use {}", Self::listed())
    }
}

/// `--method`: every method, its spellings (PEFT's `peft_type` names among them) and help.
const METHODS: &[Entry<Method>] = &[
    Entry::new(Method::Full, &["full"], "full fine-tuning"),
    Entry::new(Method::Lora, &["lora", "loha", "lokr", "vera", "other"], "LoRA"),
    Entry::new(Method::Qlora, &["qlora"], "QLoRA (4-bit)"),
    Entry::new(Method::Dora, &["dora"], "DoRA"),
    Entry::new(Method::Ia3, &["ia3"], "IA3"),
    Entry::new(Method::PromptTuning, &["prompt-tuning", "prompt"], "prompt tuning"),
    Entry::new(Method::PrefixTuning, &["prefix-tuning", "prefix"], "prefix tuning"),
    Entry::new(Method::Adapter, &["adapter", "llama-adapter"], "litgpt Adapter"),
    Entry::new(Method::AdapterV2, &["adapter-v2", "adapterv2"], "litgpt Adapter v2"),
];

crate::choice_traits!(Precision, Optimizer, Method);

/// Training settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrainingSetup {
    /// Tokens per sample.
    pub seq: u64,
    /// Precision policy; `None` = the runtime's default for the model's dtype.
    pub precision: Option<Precision>,
    /// Optimizer; `None` = the runtime's default.
    pub optimizer: Option<Optimizer>,
    /// What is trained.
    pub method: Method,
    /// LoRA rank.
    pub lora_rank: u64,
    /// LoRA target modules (Hugging Face names, `all-linear`); empty = the runtime's default.
    pub lora_targets: Vec<String>,
    /// LoRA dropout in per mille; `None` = the runtime's default.
    pub lora_dropout: Option<u32>,
    /// Virtual tokens of prompt/prefix tuning.
    pub virtual_tokens: u64,
    /// Gradient checkpointing (activation recomputation per layer).
    pub grad_ckpt: bool,
    /// Micro-batches per optimizer step (gradients persist between them when > 1).
    pub grad_accum: u64,
    /// Cross-entropy in chunks (logits never upcast whole); `None` = the runtime's default.
    pub chunked_ce: Option<bool>,
    /// Optimizer step inside backward, gradients freed per parameter (torchtune).
    pub optimizer_in_backward: bool,
    /// Saved activations offloaded to CPU (torchtune).
    pub activation_offload: bool,
    /// torch.compile (the partitioner recomputes cheap elementwise ops instead of saving them).
    pub compile: bool,
}

impl Default for TrainingSetup {
    fn default() -> Self {
        TrainingSetup {
            seq: 512,
            precision: None,
            optimizer: None,
            method: Method::Full,
            lora_rank: 8,
            lora_targets: vec![],
            lora_dropout: None,
            virtual_tokens: 20,
            grad_ckpt: false,
            grad_accum: 1,
            chunked_ce: None,
            optimizer_in_backward: false,
            activation_offload: false,
            compile: false,
        }
    }
}
