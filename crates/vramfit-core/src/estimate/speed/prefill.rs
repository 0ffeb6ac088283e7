//! Prefill: the prompt's tokens go through the model together, so it is compute-bound.
//!
//! ```text
//! FLOPs per token = 2·N_active + 4·n_layers·d_attn·ctx_avg     (ctx_avg = prompt/2, causal)
//! F_eff = min(share × datasheet dense 16-bit peak, kernel ceiling)      (per backend)
//! TTFT = batch·prompt·FLOPs per token / F_eff (+ CPU-resident weights copied over PCIe)
//! ```
//! llama.cpp runs a large batch's matmuls of CPU-resident layers on the GPU, copying their
//! weights over PCIe once per micro-batch (`ggml_backend_sched` op offload), which is why
//! prompt processing stays fast with partial offload while decode does not.

use super::backend::Backend;
use super::{Basis, SpeedDevice};
use crate::estimate::workload::Workload;
use crate::model::{ModelSpec, ParamCount};

/// Prefill of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prefill {
    /// Prompt tokens per second.
    pub tokens_per_s: f64,
    /// Time to first token for the asked batch of prompts, seconds.
    pub ttft_s: f64,
}

/// Effective matmul throughput of `backend` on the device, FLOP/s per GPU, with its formula.
#[must_use]
pub fn effective_flops(dev: &SpeedDevice<'_>, backend: Backend, w: &Workload) -> Option<(f64, String)> {
    let g = dev.gpu;
    let c = backend.constants();
    let fp32 = w.dtype == Some(crate::DType::Fp32) && w.quant.is_none() && backend == Backend::TorchEager;
    let what = if fp32 { "fp32" } else { "dense fp16 tensor" };
    // GeForce (Turing and later) runs fp16 matmuls with fp16 accumulation at twice the rate of
    // fp32 accumulation; llama.cpp's cuBLAS path accumulates f16 in f16.
    let geforce_fp16_acc = backend == Backend::LlamaCppCuda && g.vendor == "nvidia" && g.class == "consumer";
    let peak = prefill_peak(dev, backend, w)?;
    let scaled = peak * c.prefill_share;
    let (tflops, capped) = match c.prefill_cap_tflops {
        Some(cap) if scaled > cap => (cap, true),
        _ => (scaled, false),
    };
    let formula = format!(
        "{} × {peak:.1} TFLOPS {what} peak{} = {scaled:.1}{}",
        c.prefill_share,
        if geforce_fp16_acc { " (GeForce fp16-accumulate rate, 2× the fp32-accumulate datasheet figure)" } else { "" },
        if capped { format!(", capped at the backend's kernel ceiling {tflops:.0} TFLOPS") } else { String::new() }
    );
    Some((tflops * 1e12, formula))
}

/// The datasheet peak prefill is scaled from (TFLOPS, GeForce fp16-accumulate rate applied).
#[must_use]
pub fn prefill_peak(dev: &SpeedDevice<'_>, backend: Backend, w: &Workload) -> Option<f64> {
    let g = dev.gpu;
    let fp32 = w.dtype == Some(crate::DType::Fp32) && w.quant.is_none() && backend == Backend::TorchEager;
    let peak = if fp32 { g.fp32_tflops? } else { g.fp16_tflops? };
    let geforce_fp16_acc = backend == Backend::LlamaCppCuda && g.vendor == "nvidia" && g.class == "consumer";
    Some(if geforce_fp16_acc { peak * 2.0 } else { peak })
}

impl Prefill {
    /// Prefill of `w` on `dev`; `None` when the catalog has no matmul peak for the GPU.
    #[must_use]
    pub fn of(
        spec: &ModelSpec,
        w: &Workload,
        dev: &SpeedDevice<'_>,
        backend: Backend,
        cpu_weight_bytes: f64,
        basis: &mut Vec<Basis>,
    ) -> Option<Prefill> {
        let (flops, formula) = effective_flops(dev, backend, w)?;
        let tensor = w.parallel.tp.max(1) as f64;
        let flops = flops * tensor;
        let p = ParamCount::of(spec);
        let d_attn: u64 = spec.layers.iter().map(|l| l.attention.q_width()).sum();
        let ctx_avg = w.prompt as f64 / 2.0;
        let per_token = 2.0 * p.active as f64 + 4.0 * d_attn as f64 * ctx_avg;
        let tokens = (w.prompt.max(1) * w.batch) as f64;
        let pcie = dev.gpu.pcie_gb_s.unwrap_or(16.0) * 1e9;
        let copy = if cpu_weight_bytes > 0.0 && dev.gpu.class != "apple" {
            let ubatches = (tokens / 512.0).ceil();
            ubatches * cpu_weight_bytes / pcie
        } else {
            0.0
        };
        let ttft = tokens * per_token / flops + copy;
        basis.push(Basis::new(
            "prefill_flops_per_token",
            per_token,
            "FLOP",
            format!("2 × {} active parameters + 4 × Σ d_attn {} × average context {ctx_avg:.0}", p.active, d_attn),
            "Kaplan et al. 2020 (arXiv:2001.08361) Table 1 forward FLOPs",
        ));
        basis.push(Basis::new(
            "prefill_peak_tflops",
            prefill_peak(dev, backend, w).unwrap_or(0.0),
            "TFLOPS",
            format!("{} datasheet dense 16-bit matmul peak (GeForce: fp16-accumulate rate)", dev.gpu.name),
            dev.gpu.perf_source.clone().unwrap_or_else(|| dev.gpu.source.clone()),
        ));
        basis.push(Basis::new(
            "effective_tflops",
            flops / 1e12,
            "TFLOPS",
            if tensor > 1.0 { format!("{formula}, × {tensor} GPUs (tensor parallel)") } else { formula },
            format!(
                "{}; peak: {}",
                backend.constants().source,
                dev.gpu.perf_source.as_deref().unwrap_or(&dev.gpu.source)
            ),
        ));
        if copy > 0.0 {
            basis.push(Basis::new(
                "prefill_pcie_s",
                copy,
                "s",
                format!(
                    "CPU-resident weights {:.2} GB copied to the GPU per 512-token micro-batch at {:.0} GB/s PCIe",
                    cpu_weight_bytes / 1e9,
                    pcie / 1e9
                ),
                "llama.cpp ggml/src/ggml-backend.cpp (scheduler offloads large-batch ops of host weights to the GPU)",
            ));
        }
        Some(Prefill { tokens_per_s: tokens / ttft, ttft_s: ttft })
    }
}
