//! What a GPU can run: bf16, fp8, FlashAttention-2. Plans only choose what the GPU supports,
//! and a workload that asks for something it does not is refused with the flag to change.

use crate::catalog::{Gpu, GpuSpec};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::estimate::{AttnImpl, Task, Workload};
use crate::model::ModelSpec;
use serde::Serialize;

/// Features of the GPU that decide which settings are possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Native bf16 (NVIDIA compute capability 8.0 or newer; a T4 or V100 has none).
    pub bf16: bool,
    /// Hardware fp8 (Ada, Hopper, Blackwell; MI300).
    pub fp8: bool,
    /// FlashAttention-2 runs on it.
    pub flash_attention: bool,
    /// From the catalog; `false` for a bare memory size, whose features are assumed.
    pub known: bool,
}

impl Capabilities {
    /// The features of a `--gpu` value. A bare size (`24GiB`) is assumed to be a current
    /// card with bf16 and FlashAttention-2 but without fp8.
    #[must_use]
    pub fn of(gpu: &GpuSpec) -> Self {
        match &gpu.gpu {
            Some(g) => Capabilities { bf16: g.bf16, fp8: g.fp8, flash_attention: g.flash_attention, known: true },
            None => Capabilities { bf16: true, fp8: false, flash_attention: true, known: false },
        }
    }

    /// The 16-bit dtype to run a checkpoint in: bf16 where the checkpoint is bf16 (or fp32)
    /// and the GPU has it, fp16 otherwise.
    #[must_use]
    pub fn half_for(self, checkpoint: Option<DType>) -> DType {
        match checkpoint {
            Some(DType::Fp16) => DType::Fp16,
            _ if self.bf16 => DType::Bf16,
            _ => DType::Fp16,
        }
    }
}

/// Refuse settings the GPU cannot run, naming the flag that fixes them. A bare memory size
/// has no known features, so nothing is refused for it.
///
/// # Errors
/// fp8 without fp8 hardware, bf16 without bf16, FlashAttention-2 where it does not run.
pub fn check_supported(spec: &ModelSpec, w: &Workload, gpu: &GpuSpec) -> Result<()> {
    match &gpu.gpu {
        Some(g) => check_on(spec, w, g),
        None => Ok(()),
    }
}

/// The workload as it runs on `gpu`, with notes saying what was resolved for it: a serving
/// engine budgets that device, and a bf16 default on a GPU without bf16 starts from fp16
/// ([`super::starting_point`], the same start `fit` searches from, so that `estimate` and `fit`
/// name the same precision; web D13).
///
/// # Errors
/// Settings the GPU cannot run ([`check_supported`]).
pub fn on_gpu(spec: &ModelSpec, w: &Workload, gpu: &GpuSpec) -> Result<(Workload, Vec<String>)> {
    let mut w = w.clone();
    if w.runtime.is_serving_engine() {
        w.serving.device = Some(crate::estimate::serving::Device::of(gpu));
    }
    check_supported(spec, &w, gpu)?;
    Ok(super::starting_point(spec, &w, Capabilities::of(gpu)))
}

/// [`check_supported`] for one catalog GPU.
pub(crate) fn check_on(spec: &ModelSpec, w: &Workload, g: &Gpu) -> Result<()> {
    if w.quant.as_ref().is_some_and(crate::quant::QuantConfig::is_bitsandbytes) && g.vendor == "apple" {
        return Err(Error::workload(
            "--quant",
            format!(
                "bitsandbytes int8/nf4/fp4 kernels do not run on {} (Metal); use a GGUF scheme such as q4_k_m",
                g.name
            ),
        ));
    }
    let dtype = w.dtype.or(spec.torch_dtype);
    // Serving engines store an fp8 KV cache on any CUDA GPU (they upcast to compute).
    let fp8_kv = w.kv_dtype == Some(DType::Fp8) && w.task != Task::Serve;
    if (dtype == Some(DType::Fp8) || fp8_kv) && !g.fp8 {
        let flag = if w.kv_dtype == Some(DType::Fp8) { "--kv-dtype" } else { "--dtype" };
        return Err(Error::workload(
            flag,
            format!(
                "{} has no fp8 support (Ada, Hopper or newer needed); use {}",
                g.name,
                // Web D13: a T4 has no bf16 either, so it is not offered.
                if g.bf16 { "fp16 or bf16" } else { "fp16" }
            ),
        ));
    }
    let train_bf16 = w.task == Task::Train && w.training.precision.is_some_and(|p| p.compute() == DType::Bf16);
    if (w.dtype == Some(DType::Bf16) || w.autocast == Some(DType::Bf16) || train_bf16) && !g.bf16 {
        let flag = if train_bf16 { "--precision" } else { "--dtype" };
        return Err(Error::workload(flag, format!("{} has no bf16 support; use fp16", g.name)));
    }
    if w.attn == AttnImpl::Flash && !g.flash_attention {
        return Err(Error::workload("--attn", format!("{} cannot run FlashAttention-2; use sdpa or eager", g.name)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t4_has_neither_bf16_nor_fp8() {
        let t4 = Capabilities::of(&GpuSpec::parse("T4").unwrap());
        assert!(t4.known && !t4.bf16 && !t4.fp8 && !t4.flash_attention);
        assert_eq!(t4.half_for(Some(DType::Bf16)), DType::Fp16);
        let h100 = Capabilities::of(&GpuSpec::parse("H100-SXM").unwrap());
        assert!(h100.bf16 && h100.fp8 && h100.flash_attention);
        assert_eq!(h100.half_for(Some(DType::Fp32)), DType::Bf16);
        assert_eq!(h100.half_for(Some(DType::Fp16)), DType::Fp16);
        assert!(!Capabilities::of(&GpuSpec::parse("24GiB").unwrap()).known);
    }
}
