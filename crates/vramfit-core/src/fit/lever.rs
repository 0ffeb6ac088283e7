//! Levers: the settings a plan may change, what each does to the workload, the flag that
//! makes it, and what it costs in words.

use crate::dtype::DType;
use crate::estimate::training::setup::{Method, Optimizer, Precision};
use crate::estimate::{AttnImpl, Workload};
use crate::quant::QuantConfig;
use serde::Serialize;

/// What a change costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostKind {
    /// The model's output or the trained model may get worse (quantization, adapters).
    Quality,
    /// Less is done than was asked (a shorter context).
    Scope,
    /// The same work takes longer (recomputation, offload, smaller batches).
    Speed,
    /// More or bigger hardware.
    Money,
}

impl CostKind {
    /// Name for reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            CostKind::Quality => "quality",
            CostKind::Scope => "scope",
            CostKind::Speed => "speed",
            CostKind::Money => "money",
        }
    }
}

/// One cost of one change, in words, with a severity used for ranking (0 = negligible).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// What kind of cost.
    pub kind: CostKind,
    /// 0 negligible, 1 small, 2 noticeable, 3 large.
    pub severity: u8,
    /// What it costs, for a person.
    pub words: String,
}

impl Cost {
    fn new(kind: CostKind, severity: u8, words: impl Into<String>) -> Self {
        Cost { kind, severity, words: words.into() }
    }
}

/// Which setting a change touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeverKind {
    /// Weight dtype or quantization.
    Weights,
    /// KV cache dtype.
    KvCache,
    /// Attention implementation.
    Attention,
    /// Training precision policy.
    Precision,
    /// Training method (full, LoRA, QLoRA).
    Method,
    /// Optimizer.
    Optimizer,
    /// Gradient checkpointing.
    GradientCheckpointing,
    /// Chunked cross-entropy.
    ChunkedCrossEntropy,
    /// Optimizer step inside backward.
    OptimizerInBackward,
    /// Saved activations offloaded to CPU RAM.
    ActivationOffload,
    /// How several GPUs share the work (ZeRO/FSDP sharding, offload, tensor parallelism).
    Parallel,
    /// Batch size.
    Batch,
    /// Context or sequence length.
    Context,
    /// llama.cpp `-ngl`: blocks kept in CPU RAM.
    GpuLayers,
    /// llama.cpp `--n-cpu-moe`: routed experts of the first blocks kept in CPU RAM.
    CpuExperts,
}

/// A change to the workload, as a plan proposes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The setting touched.
    pub lever: LeverKind,
    /// The command-line flags that make the change (`--quant nf4`).
    pub flag: String,
    /// What changes, for a person.
    pub description: String,
    /// What it costs.
    pub costs: Vec<Cost>,
    #[serde(skip)]
    pub(crate) setting: Setting,
}

impl Change {
    /// Apply the change to a workload.
    pub fn apply(&self, w: &mut Workload) {
        self.setting.apply(w);
    }
}

/// The concrete edit a change makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Setting {
    Dtype(DType),
    Quantize(QuantConfig, Option<DType>),
    KvDtype(DType),
    Attn(AttnImpl),
    Precision(Precision),
    Method(Method, u64),
    Optimizer(Optimizer),
    GradCkpt,
    ChunkedCe,
    OptimizerInBackward,
    ActivationOffload,
    Batch { batch: u64, grad_accum: u64 },
    Prompt(u64),
    Seq(u64),
    Parallel(crate::estimate::parallel::Parallel),
    GpuLayers(u64),
    CpuExperts(u64),
}

impl Setting {
    fn apply(&self, w: &mut Workload) {
        match self {
            Setting::Dtype(d) => {
                w.dtype = Some(*d);
                w.autocast = None;
            }
            Setting::Quantize(q, dense) => {
                w.quant = Some(q.clone());
                if let Some(d) = dense {
                    w.dtype = Some(*d);
                }
                w.autocast = None;
            }
            Setting::KvDtype(d) => w.kv_dtype = Some(*d),
            Setting::GpuLayers(n) => w.llama_cpp.n_gpu_layers = Some(*n),
            Setting::CpuExperts(n) => w.llama_cpp.n_cpu_moe = Some(*n),
            Setting::Attn(a) => w.attn = *a,
            Setting::Precision(p) => w.training.precision = Some(*p),
            Setting::Method(m, r) => {
                w.training.method = *m;
                w.training.lora_rank = *r;
            }
            Setting::Optimizer(o) => w.training.optimizer = Some(*o),
            Setting::GradCkpt => w.training.grad_ckpt = true,
            Setting::ChunkedCe => w.training.chunked_ce = Some(true),
            Setting::OptimizerInBackward => w.training.optimizer_in_backward = true,
            Setting::ActivationOffload => w.training.activation_offload = true,
            Setting::Batch { batch, grad_accum } => {
                w.batch = *batch;
                w.training.grad_accum = *grad_accum;
            }
            Setting::Prompt(p) => w.prompt = *p,
            Setting::Seq(s) => w.training.seq = *s,
            Setting::Parallel(p) => w.parallel = *p,
        }
    }
}

fn change(lever: LeverKind, setting: Setting, flag: String, description: String, costs: Vec<Cost>) -> Change {
    Change { lever, flag, description, costs, setting }
}

/// Weights in a 16-bit dtype instead of fp32.
pub(crate) fn half_weights(half: DType, checkpoint: Option<DType>) -> Change {
    let costs = match (half, checkpoint) {
        (DType::Fp16, Some(DType::Bf16)) => vec![Cost::new(
            CostKind::Quality,
            1,
            "a bf16-trained checkpoint in fp16 can overflow (fp16 tops out at 65504); watch for inf/NaN",
        )],
        (_, Some(d)) if d == half => {
            vec![Cost::new(CostKind::Quality, 0, format!("none: {half} is the checkpoint's own dtype"))]
        }
        _ => vec![Cost::new(CostKind::Quality, 0, "negligible for inference")],
    };
    change(
        LeverKind::Weights,
        Setting::Dtype(half),
        format!("--dtype {half}"),
        format!("load the weights in {half} (torch_dtype=torch.{})", torch_name(half)),
        costs,
    )
}

fn torch_name(d: DType) -> &'static str {
    match d {
        DType::Fp32 => "float32",
        DType::Fp16 => "float16",
        DType::Bf16 => "bfloat16",
        DType::Fp8 => "float8_e4m3fn",
        DType::Int8 => "int8",
    }
}

/// Quantize the weights at load time.
/// `dense` is the dtype of the layers left unquantized when it changes; `name_dtype` puts it
/// in the flags (where the user asked for fp32 explicitly).
pub(crate) fn quantize(name: &str, dense: Option<DType>, name_dtype: bool) -> Option<Change> {
    let q = QuantConfig::parse(name, None).ok()?;
    let (description, costs) = match name {
        "int8" => (
            "8-bit weights (bitsandbytes LLM.int8(), load_in_8bit=True)",
            vec![
                Cost::new(CostKind::Quality, 1, "near-lossless (outlier features kept in 16 bits)"),
                Cost::new(CostKind::Speed, 3, "bitsandbytes int8 matmuls are much slower than fp16 ones"),
            ],
        ),
        "nf4" => (
            "4-bit NF4 weights (bitsandbytes, load_in_4bit=True)",
            vec![
                Cost::new(CostKind::Quality, 2, "4-bit weights: a small loss, larger on small models"),
                Cost::new(CostKind::Speed, 1, "weights dequantized for every matmul"),
            ],
        ),
        "nf4-dq" => (
            "4-bit NF4 weights with double quantization (bnb_4bit_use_double_quant=True)",
            vec![
                Cost::new(CostKind::Quality, 2, "4-bit weights: a small loss, larger on small models"),
                Cost::new(CostKind::Speed, 2, "weights and their scales dequantized for every matmul"),
            ],
        ),
        "fp8" => (
            "fp8 (E4M3) weights with per-tensor scales",
            vec![Cost::new(CostKind::Quality, 1, "fp8 weights: usually within noise of bf16")],
        ),
        _ => return None,
    };
    let mut flag = format!("--quant {name}");
    if let (Some(d), true) = (dense, name_dtype) {
        flag.push_str(&format!(" --dtype {d}"));
    }
    Some(change(LeverKind::Weights, Setting::Quantize(q, dense), flag, description.to_string(), costs))
}

/// An fp8 KV cache.
pub(crate) fn kv_fp8() -> Change {
    change(
        LeverKind::KvCache,
        Setting::KvDtype(DType::Fp8),
        "--kv-dtype fp8".into(),
        "keep the KV cache in fp8".into(),
        vec![Cost::new(CostKind::Quality, 1, "fp8 keys and values: a small loss, mostly on long contexts")],
    )
}

/// Another attention implementation.
pub(crate) fn attention(a: AttnImpl) -> Change {
    let (description, costs) = match a {
        AttnImpl::Flash => (
            "FlashAttention-2 (attn_implementation=\"flash_attention_2\", needs the flash-attn package)",
            vec![Cost::new(CostKind::Quality, 0, "none: exact attention, usually faster")],
        ),
        _ => (
            "PyTorch scaled_dot_product_attention (attn_implementation=\"sdpa\")",
            vec![Cost::new(CostKind::Quality, 0, "none: exact attention, usually faster than eager")],
        ),
    };
    change(LeverKind::Attention, Setting::Attn(a), format!("--attn {}", a.name()), description.into(), costs)
}

/// Another precision policy for full fine-tuning.
pub(crate) fn precision(p: Precision) -> Change {
    let (description, costs) = match p {
        Precision::Pure(d) => (
            format!("train in pure {d}: {d} weights, gradients and optimizer states, no fp32 master copy"),
            vec![Cost::new(
                CostKind::Quality,
                1,
                "updates smaller than bf16's resolution are lost; use stochastic rounding or Kahan summation",
            )],
        ),
        Precision::Mixed(d) => (
            format!("mixed precision: fp32 master weights, {d} matmuls"),
            vec![Cost::new(CostKind::Quality, 0, "none: the standard recipe (and faster than fp32)")],
        ),
        Precision::Fp32 => ("fp32 everywhere".into(), vec![]),
    };
    change(LeverKind::Precision, Setting::Precision(p), format!("--precision {}", p.name()), description, costs)
}

/// Parameter-efficient fine-tuning instead of the asked method.
pub(crate) fn method(m: Method, rank: u64) -> Change {
    let (description, costs) = match m {
        Method::Qlora => (
            format!("QLoRA: rank-{rank} LoRA adapters on a frozen 4-bit NF4 base"),
            vec![
                Cost::new(
                    CostKind::Quality,
                    2,
                    "adapters on a 4-bit base: close to 16-bit LoRA in published results, not equal",
                ),
                Cost::new(CostKind::Speed, 1, "the base is dequantized for every matmul"),
            ],
        ),
        _ => (
            format!("LoRA: rank-{rank} adapters on a frozen base"),
            vec![Cost::new(CostKind::Quality, 1, "adapters learn less than full fine-tuning on large changes of task")],
        ),
    };
    change(
        LeverKind::Method,
        Setting::Method(m, rank),
        format!("--method {} --lora-rank {rank}", m.name()),
        description,
        costs,
    )
}

/// Another optimizer.
pub(crate) fn optimizer(o: Optimizer) -> Change {
    let (description, costs) = match o {
        Optimizer::AdamwFused => (
            "fused AdamW (torch.optim.AdamW(fused=True), optim=\"adamw_torch_fused\"): no step temporaries",
            vec![Cost::new(CostKind::Quality, 0, "none: the same update, one kernel")],
        ),
        Optimizer::Adamw8bit => (
            "8-bit AdamW (bitsandbytes, optim=\"adamw_bnb_8bit\"): states blockwise quantized to 8 bits",
            vec![Cost::new(CostKind::Quality, 1, "matches 32-bit Adam in published results; a slight risk")],
        ),
        Optimizer::PagedAdamw8bit => (
            "paged 8-bit AdamW (bitsandbytes, optim=\"paged_adamw_8bit\"): states in unified memory",
            vec![
                Cost::new(CostKind::Quality, 1, "8-bit states: matches 32-bit Adam in published results"),
                Cost::new(CostKind::Speed, 1, "states are evicted to CPU RAM under pressure: slower steps then"),
            ],
        ),
        Optimizer::Adafactor => (
            "Adafactor (optim=\"adafactor\"): factored second moment, no first moment",
            vec![Cost::new(CostKind::Quality, 1, "different dynamics from AdamW; may need the learning rate retuned")],
        ),
        _ => ("another optimizer", vec![]),
    };
    change(LeverKind::Optimizer, Setting::Optimizer(o), format!("--optimizer {}", o.name()), description.into(), costs)
}

/// Gradient checkpointing.
pub(crate) fn grad_ckpt() -> Change {
    change(
        LeverKind::GradientCheckpointing,
        Setting::GradCkpt,
        "--grad-ckpt".into(),
        "gradient checkpointing: keep only each layer's input, recompute the rest in backward".into(),
        vec![Cost::new(CostKind::Speed, 2, "about a third more compute per step (the forward runs twice)")],
    )
}

/// Chunked cross-entropy.
pub(crate) fn chunked_ce() -> Change {
    change(
        LeverKind::ChunkedCrossEntropy,
        Setting::ChunkedCe,
        "--chunked-ce".into(),
        "cross-entropy in chunks: the logits are never upcast to fp32 whole (litgpt, torchtune CEWithChunkedOutputLoss, Liger kernel)".into(),
        vec![Cost::new(CostKind::Speed, 1, "slightly slower loss; needs a runtime or kernel that chunks it")],
    )
}

/// torchtune's optimizer step in backward.
pub(crate) fn optimizer_in_backward() -> Change {
    change(
        LeverKind::OptimizerInBackward,
        Setting::OptimizerInBackward,
        "--optimizer-in-backward".into(),
        "step the optimizer inside backward, freeing each gradient at once (torchtune optimizer_in_bwd)".into(),
        vec![Cost::new(CostKind::Speed, 1, "no gradient accumulation and no global-norm clipping")],
    )
}

/// torchtune's activation offloading.
pub(crate) fn activation_offload() -> Change {
    change(
        LeverKind::ActivationOffload,
        Setting::ActivationOffload,
        "--activation-offload".into(),
        "stream saved activations to CPU RAM (torchtune enable_activation_offloading)".into(),
        vec![Cost::new(CostKind::Speed, 2, "activations cross PCIe twice per step; needs CPU RAM")],
    )
}

/// Shard training state across the GPUs (ZeRO / FSDP, optionally offloading to CPU), or split
/// an inference model across them by tensor parallelism.
pub(crate) fn parallel(
    current: crate::estimate::parallel::Parallel,
    to: crate::estimate::parallel::Strategy,
    offload: bool,
) -> Option<Change> {
    use crate::estimate::parallel::{Offload, Parallel, Strategy};
    let gpus = current.gpus_per_node;
    let (flag, description, costs, layout) = match to {
        Strategy::Zero(3) if offload => (
            "--zero 3 --offload cpu --offload-params".to_string(),
            format!("DeepSpeed ZeRO-3 over {gpus} GPUs with optimizer state and parameters offloaded to CPU RAM"),
            vec![
                Cost::new(CostKind::Speed, 3, "parameters and the optimizer step cross PCIe every step"),
                Cost::new(CostKind::Money, 1, "needs CPU RAM for the offloaded state"),
            ],
            Parallel { strategy: Strategy::Zero(3), offload: Some(Offload::Cpu), offload_params: true, ..current },
        ),
        Strategy::Zero(z) => (
            format!("--zero {z}"),
            format!(
                "DeepSpeed ZeRO-{z}: shard {} over {gpus} GPUs",
                if z == 3 { "parameters, gradients and optimizer state" } else { "gradients and optimizer state" }
            ),
            vec![Cost::new(CostKind::Speed, if z == 3 { 2 } else { 1 }, "extra communication per step")],
            Parallel { strategy: Strategy::Zero(z), offload: None, offload_params: false, ..current },
        ),
        Strategy::FsdpFull => (
            "--fsdp full".to_string(),
            format!("PyTorch FSDP full shard over {gpus} GPUs"),
            vec![Cost::new(CostKind::Speed, 2, "all-gathers every layer in forward and backward")],
            Parallel { strategy: Strategy::FsdpFull, offload: None, offload_params: false, ..current },
        ),
        Strategy::None if gpus > 1 => (
            format!("--tp {gpus}"),
            format!("tensor parallelism over {gpus} GPUs (heads and MLP columns split)"),
            vec![Cost::new(CostKind::Speed, 1, "all-reduces in every layer; needs fast GPU links")],
            Parallel { strategy: Strategy::None, tp: gpus, ..current },
        ),
        _ => return None,
    };
    layout.check().ok()?;
    Some(change(LeverKind::Parallel, Setting::Parallel(layout), flag, description, costs))
}

/// A smaller batch (training: the same effective batch through accumulation).
pub(crate) fn batch(asked: u64, to: u64, grad_accum: u64, training: bool, keeps_effective: bool) -> Change {
    let (flag, description, costs) = if training && keeps_effective && grad_accum > 1 {
        (
            format!("--batch {to} --grad-accum {grad_accum}"),
            format!("micro-batch {to} instead of {asked}, {grad_accum} accumulation steps per update"),
            vec![Cost::new(CostKind::Speed, 1, "smaller micro-batches use the GPU less well; the update is the same")],
        )
    } else if training {
        (
            format!("--batch {to}"),
            format!("batch {to} instead of {asked}"),
            vec![Cost::new(CostKind::Speed, 2, "a smaller effective batch: more steps, different dynamics")],
        )
    } else {
        (
            format!("--batch {to}"),
            format!("{to} {} at a time instead of {asked}", if to == 1 { "sequence" } else { "sequences" }),
            vec![Cost::new(CostKind::Speed, 2, "fewer concurrent sequences: lower throughput")],
        )
    };
    change(LeverKind::Batch, Setting::Batch { batch: to, grad_accum }, flag, description, costs)
}

/// A shorter prompt (inference) at the same number of new tokens.
pub(crate) fn prompt(asked: u64, to: u64, new_tokens: u64) -> Change {
    change(
        LeverKind::Context,
        Setting::Prompt(to),
        format!("--prompt {to}"),
        format!(
            "context {} tokens instead of {} (prompt {to} + {new_tokens} new)",
            to + new_tokens,
            asked + new_tokens
        ),
        vec![Cost::new(CostKind::Scope, 2, "shorter prompts than asked")],
    )
}

/// A shorter training sequence.
pub(crate) fn seq(asked: u64, to: u64) -> Change {
    change(
        LeverKind::Context,
        Setting::Seq(to),
        format!("--seq {to}"),
        format!("{to} tokens per sample instead of {asked}"),
        vec![Cost::new(CostKind::Scope, 2, "longer samples must be truncated or split")],
    )
}

/// llama.cpp `-ngl n`: the first blocks stay in CPU RAM and are read from there every token.
/// `first_gpu_block` is the build's `i_gpu_start` for `n` (newer builds count the output layer
/// as one of the `n`).
#[must_use]
pub fn gpu_layers(n: u64, n_layer: u64, first_gpu_block: u64) -> Change {
    let cpu = first_gpu_block.min(n_layer);
    Change {
        lever: LeverKind::GpuLayers,
        flag: format!("--ngl {n}"),
        description: format!("{} of {n_layer} blocks on the GPU, {cpu} in CPU RAM", n_layer - cpu),
        costs: vec![Cost::new(
            CostKind::Speed,
            3,
            format!("{cpu} blocks are read from CPU RAM for every token (decode runs at the RAM's bandwidth for them)"),
        )],
        setting: Setting::GpuLayers(n),
    }
}

/// llama.cpp `--n-cpu-moe n`: every block on the GPU, the routed experts of the first `n` in
/// CPU RAM; a token reads only its k experts there, so decode slows far less than with `-ngl`.
#[must_use]
pub fn cpu_experts(n: u64, n_layer: u64) -> Change {
    Change {
        lever: LeverKind::CpuExperts,
        flag: format!("--n-cpu-moe {n}"),
        description: format!(
            "all {n_layer} blocks on the GPU, the routed experts of {n} of them in CPU RAM (llama.cpp -ot exps=CPU for those blocks)"
        ),
        costs: vec![Cost::new(
            CostKind::Speed,
            2,
            format!("each token reads its active experts of {n} blocks from CPU RAM (attention and shared weights stay on the GPU)"),
        )],
        setting: Setting::CpuExperts(n),
    }
}
