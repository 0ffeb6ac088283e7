//! Training step time: the FLOPs of forward, backward and recompute at a model FLOPs
//! utilization (MFU) per runtime, plus the memory traffic the FLOP count does not see
//! (the optimizer step, 4-bit dequantization) and what crosses PCIe (offload) or the
//! interconnect (gradient all-reduce).
//!
//! ```text
//! FLOPs/token = 6·N + 12·Σ d_attn·seq        full fine-tuning (PaLM, arXiv:2204.02311 App. B)
//!             = 4·N + 12·Σ d_attn·seq        frozen base (adapters): no weight gradients
//!             + 2·N + 4·Σ d_attn·seq         gradient checkpointing (one more forward)
//! step = tokens·FLOPs/(MFU·peak·GPUs) + optimizer bytes/(η·BW) + dequant bytes/(η·BW)
//!        + offload bytes/PCIe + all-reduce bytes/link
//! ```

use super::{Basis, SpeedDevice};
use crate::catalog::Gpu;
use crate::dtype::DType;
use crate::estimate::breakdown::Breakdown;
use crate::estimate::component::ComponentKind;
use crate::estimate::parallel::{Offload, Strategy};
use crate::estimate::profile::{TrainingSpeed, TRAINER_SPEED};
use crate::estimate::training::setup::{Method, Optimizer};
use crate::estimate::workload::Workload;
use crate::model::{ModelSpec, ParamCount};

/// Share of datasheet bandwidth element-wise passes (optimizer step, dequantization) reach.
const STREAM_ETA: f64 = 0.8;

/// Bytes an optimizer step moves, and how they are counted.
///
/// torch's foreach AdamW runs one kernel per operation over all tensors: weight decay
/// (param read + write), `lerp_` of exp_avg (3 tensor passes), `mul_` and `addcmul_` of
/// exp_avg_sq (2 + 3), `sqrt`, two scalings and `add_` of eps on a temporary (2 each), and
/// `addcdiv_` into the param (4): 20 element passes, i.e. 10 × the bytes of its two states when
/// weights and states share a dtype. The fused kernel reads param, gradient and both states
/// once and writes param and states once.
fn optimizer_traffic(o: Optimizer, states: f64, grads: f64, trained: f64) -> (f64, String) {
    match o {
        Optimizer::AdamwFused => {
            (2.0 * states + grads + 2.0 * trained, "fused: 2 × states + gradients + 2 × weights".into())
        }
        Optimizer::Adamw | Optimizer::AdamwLoop | Optimizer::PagedAdamw => {
            (10.0 * states, "foreach AdamW: 20 element passes = 10 × states".into())
        }
        _ => (
            2.0 * states + grads + 2.0 * trained,
            "one read and write of states and weights, one read of gradients".into(),
        ),
    }
}

/// One optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Seconds per optimizer step.
    pub step_s: f64,
    /// Trained tokens per second, all GPUs.
    pub tokens_per_s: f64,
}

impl Step {
    /// The step of `w`; `None` without a matmul peak in the catalog.
    #[must_use]
    pub fn of(
        spec: &ModelSpec,
        w: &Workload,
        b: &Breakdown,
        dev: &SpeedDevice<'_>,
        basis: &mut Vec<Basis>,
    ) -> Option<Step> {
        let res = crate::estimate::training::resolve(spec, w).ok()?;
        let g = dev.gpu;
        let (peak, what) = matmul_peak(g, res.precision.compute())?;
        let p = ParamCount::of(spec);
        // The runtime's training loop: its MFU (torchtune's packed, compiled steps run at two
        // thirds of the peak, the transformers Trainer's short unpacked batches at a quarter).
        let speed = w.profile().training.map_or(TrainingSpeed { clips_grad_norm: false, ..TRAINER_SPEED }, |t| t.speed);
        let tokens = tokens_per_step(w);
        let compute_s = compute_time(spec, w, dev, &p, (peak, what), speed, basis);

        let bw = g.bandwidth_gb_s as f64 * 1e9 * STREAM_ETA;
        let bytes = StepBytes::of(w, b);
        let opt_s = optimizer_time(w, dev, res.optimizer, speed.clips_grad_norm, &bytes, bw, basis);
        let dequant_s = dequantization_time(w, &p, bw, basis);
        let pcie = g.pcie_gb_s.unwrap_or(16.0) * 1e9;
        let offload_s = offload_time(w, b, &bytes, pcie, basis);
        let allreduce_s = allreduce_time(w, dev, &bytes, pcie, basis);
        let step_s = compute_s + opt_s + dequant_s + offload_s + allreduce_s;
        (step_s.is_finite() && step_s > 0.0).then_some(Step { step_s, tokens_per_s: tokens / step_s })
    }
}

/// The GPU's dense matmul peak (TFLOPS) in the compute dtype, and what it is.
fn matmul_peak(g: &Gpu, compute: DType) -> Option<(f64, &'static str)> {
    Some(match compute {
        DType::Fp32 => (g.fp32_tflops?, "fp32"),
        DType::Bf16 => (g.bf16_tflops.or(g.fp16_tflops)?, "bf16 tensor"),
        _ => (g.fp16_tflops?, "fp16 tensor"),
    })
}

/// Trained tokens per optimizer step, all data-parallel ranks.
fn tokens_per_step(w: &Workload) -> f64 {
    let t = &w.training;
    let dp = w.parallel.dp().max(1) as f64;
    w.batch as f64 * t.seq.max(1) as f64 * t.grad_accum.max(1) as f64 * dp
}

/// Seconds of matmuls per step: tokens × FLOPs per token ÷ (MFU × peak × GPUs), with the
/// FLOPs per token of forward, backward and recompute (PaLM's count).
fn compute_time(
    spec: &ModelSpec,
    w: &Workload,
    dev: &SpeedDevice<'_>,
    p: &ParamCount,
    (peak, what): (f64, &str),
    speed: TrainingSpeed,
    basis: &mut Vec<Basis>,
) -> f64 {
    let t = &w.training;
    let tokens = tokens_per_step(w);
    let n = p.active as f64;
    let d_attn: f64 = spec.layers.iter().map(|l| l.attention.q_width() as f64).sum();
    let seq = t.seq.max(1) as f64;
    let attn = d_attn * seq;
    let full = t.method == Method::Full;
    let mut per_token = if full { 6.0 * n + 12.0 * attn } else { 4.0 * n + 12.0 * attn };
    if t.grad_ckpt {
        per_token += 2.0 * n + 4.0 * attn;
    }
    let gpus = dev.count.max(1) as f64;
    let dp = w.parallel.dp().max(1) as f64;
    let (mfu, mfu_src) = (f64::from(speed.mfu_per_mille) / 1000.0, speed.mfu_source);
    let compute_s = tokens * per_token / (mfu * peak * 1e12 * gpus);
    basis.push(Basis::new(
        "train_flops_per_token",
        per_token,
        "FLOP",
        format!(
            "{} × {} parameters + 12 × Σ d_attn {} × seq {}{}",
            if full { 6 } else { 4 },
            p.active,
            d_attn,
            t.seq,
            if t.grad_ckpt { " + recompute 2·N + 4·Σ d_attn·seq" } else { "" }
        ),
        "PaLM (arXiv:2204.02311) Appendix B; frozen weights skip the weight-gradient half of backward",
    ));
    basis.push(Basis::new(
        "tokens_per_step",
        tokens,
        "tokens",
        format!("batch {} × seq {} × grad_accum {} × data-parallel {dp}", w.batch, t.seq, t.grad_accum.max(1)),
        "workload",
    ));
    let g = dev.gpu;
    basis.push(Basis::new(
        "peak_tflops",
        peak,
        "TFLOPS",
        format!("{} dense {what} datasheet peak", g.name),
        g.perf_source.clone().unwrap_or_else(|| g.source.clone()),
    ));
    basis.push(Basis::new("mfu", mfu, "1", format!("model FLOPs utilization of {}", w.runtime.name()), mfu_src));
    compute_s
}

/// The memory estimate's bytes that the step moves besides its FLOPs.
struct StepBytes {
    /// Trained weights: all of them (full fine-tuning) or the adapters'.
    trained: f64,
    /// Optimizer states.
    states: f64,
    /// Gradients.
    grads: f64,
}

impl StepBytes {
    fn of(w: &Workload, b: &Breakdown) -> StepBytes {
        let full = w.training.method == Method::Full;
        StepBytes {
            trained: if full { b.component(ComponentKind::Weights) } else { b.component(ComponentKind::AdapterWeights) }
                as f64,
            states: b.component(ComponentKind::OptimizerState) as f64,
            grads: b.component(ComponentKind::Gradients) as f64,
        }
    }
}

/// Optimizer step: element-wise passes over states, gradients and trained weights, at the
/// GPU's streaming bandwidth `bw` (CPU RAM when offloaded), plus gradient clipping.
fn optimizer_time(
    w: &Workload,
    dev: &SpeedDevice<'_>,
    optimizer: Optimizer,
    clips_grad_norm: bool,
    bytes: &StepBytes,
    bw: f64,
    basis: &mut Vec<Basis>,
) -> f64 {
    let StepBytes { trained, states, grads } = *bytes;
    let offload = w.parallel.offload;
    let (opt_bytes, how) = optimizer_traffic(optimizer, states, grads, trained);
    // Clipping the gradient norm: one read for the norm, one read and write to scale.
    let clip = if clips_grad_norm { 3.0 * grads } else { 0.0 };
    let (ram, ram_why) = dev.ram_bandwidth();
    let opt_s = match offload {
        Some(_) => opt_bytes / (ram * 1e9 * super::host::CPU_ETA),
        None => opt_bytes / bw,
    } + clip / bw;
    basis.push(Basis::new(
        "optimizer_s",
        opt_s,
        "s",
        format!(
            "{how} (states {:.2} GB, gradients {:.2} GB, trained weights {:.2} GB){} ÷ {}",
            states / 1e9,
            grads / 1e9,
            trained / 1e9,
            if clip > 0.0 { " + gradient clipping 3 × gradients" } else { "" },
            if offload.is_some() {
                format!("CPU RAM {ram:.0} GB/s × 0.68 ({ram_why})")
            } else {
                format!("{STREAM_ETA} × {} GB/s", dev.gpu.bandwidth_gb_s)
            }
        ),
        "torch/optim/adamw.py _multi_tensor_adamw (foreach: one kernel per operation) and _fused_adamw; torch/nn/utils/clip_grad.py",
    ));
    opt_s
}

/// 4-bit bases are dequantized in every forward and backward pass (and recompute); 0 for
/// other bases.
fn dequantization_time(w: &Workload, p: &ParamCount, bw: f64, basis: &mut Vec<Basis>) -> f64 {
    let t = &w.training;
    if !(t.method == Method::Qlora || w.quant.is_some()) {
        return 0.0;
    }
    let passes = if t.grad_ckpt { 3.0 } else { 2.0 };
    let bytes = passes * (p.linear_weights as f64) * (0.5 + 2.0 + 2.0);
    let s = bytes * t.grad_accum.max(1) as f64 / bw;
    basis.push(Basis::new(
        "dequantization_s",
        s,
        "s",
        format!(
            "{passes} passes × {} quantized weights × (0.5 B read + 2 B written + 2 B read by the matmul) per micro-batch, × {} micro-batches",
            p.linear_weights,
            t.grad_accum.max(1)
        ),
        "bitsandbytes dequantizes each 4-bit weight to the compute dtype before every matmul (bitsandbytes/autograd/_functions.py MatMul4Bit)",
    ));
    s
}

/// ZeRO-Offload's PCIe traffic: gradients down, updated weights up (and the parameters for
/// each pass when they are offloaded too); 0 without offload.
fn offload_time(w: &Workload, b: &Breakdown, bytes: &StepBytes, pcie: f64, basis: &mut Vec<Basis>) -> f64 {
    match w.parallel.offload {
        Some(Offload::Cpu | Offload::Nvme) => {
            let mut moved = bytes.grads + bytes.trained / 2.0;
            if w.parallel.offload_params {
                moved += 2.0 * (b.component(ComponentKind::Weights) as f64);
            }
            let s = moved / pcie;
            basis.push(Basis::new(
                "offload_pcie_s",
                s,
                "s",
                format!(
                    "gradients down + updated 16-bit weights up{} = {:.2} GB at {:.0} GB/s PCIe",
                    if w.parallel.offload_params { " + parameters up for forward and backward" } else { "" },
                    moved / 1e9,
                    pcie / 1e9
                ),
                "DeepSpeed ZeRO-Offload (arXiv:2101.06840) data flow",
            ));
            s
        }
        None => 0.0,
    }
}

/// Data-parallel gradient all-reduce over NVLink (or PCIe): a ring moves 2·(n−1)/n of the
/// gradients each way; 0 on one rank or a sequential split.
fn allreduce_time(w: &Workload, dev: &SpeedDevice<'_>, bytes: &StepBytes, pcie: f64, basis: &mut Vec<Basis>) -> f64 {
    let dp = w.parallel.dp().max(1) as f64;
    if !(dp > 1.0 && w.parallel.strategy != Strategy::Sequential) {
        return 0.0;
    }
    let link = dev.gpu.nvlink_gb_s.map_or(pcie, |l| l * 1e9 / 2.0);
    let s = 2.0 * (dp - 1.0) / dp * bytes.grads.max(bytes.trained / 2.0) / link;
    basis.push(Basis::new(
        "allreduce_s",
        s,
        "s",
        format!("ring all-reduce 2·(n−1)/n × gradients over {:.0} GB/s per direction", link / 1e9),
        "NCCL ring all-reduce bus bandwidth (nccl-tests doc/PERFORMANCE.md)",
    ));
    s
}
