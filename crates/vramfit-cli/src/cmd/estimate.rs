//! `vramfit estimate`.

use crate::args::EstimateArgs;
use crate::render::{self, Verdict};
use std::io::Write;
use vramfit_core::catalog::GpuSpec;

pub fn run(a: &EstimateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gpu = a.gpu.as_deref().map(GpuSpec::parse).transpose()?;
    let workload = a.workload.resolve(&a.model, gpu.as_ref().map(|g| g.count))?;
    let model = super::source::resolve(&a.model, &a.source)?;
    check_gpu_support(&workload, gpu.as_ref(), &model.spec)?;
    let breakdown = vramfit_core::estimate(&model.spec, &workload)?;
    let verdict = gpu.map(|g| Verdict::new(g, &breakdown));
    let report =
        render::EstimateReport { model: &model, workload: &workload, breakdown: &breakdown, verdict: verdict.as_ref() };
    if a.json {
        render::json::estimate(&report, out)
    } else if a.markdown {
        render::markdown::estimate(&report, out)
    } else {
        render::table::estimate(&report, a.explain, out)
    }
}

/// Refuse settings the GPU cannot run, with the flag that fixes them.
fn check_gpu_support(
    w: &vramfit_core::Workload,
    gpu: Option<&GpuSpec>,
    spec: &vramfit_core::ModelSpec,
) -> anyhow::Result<()> {
    use vramfit_core::{DType, Error};
    let Some(g) = gpu.and_then(|g| g.gpu.as_ref()) else {
        return Ok(());
    };
    if w.quant.as_ref().is_some_and(vramfit_core::quant::QuantConfig::is_bitsandbytes) && g.vendor == "apple" {
        return Err(Error::workload(
            "--quant",
            format!(
                "bitsandbytes int8/nf4/fp4 kernels do not run on {} (Metal); use a GGUF scheme such as q4_k_m",
                g.name
            ),
        )
        .into());
    }
    let dtype = w.dtype.or(spec.torch_dtype);
    if (dtype == Some(DType::Fp8) || w.kv_dtype == Some(DType::Fp8)) && !g.fp8 {
        return Err(Error::workload(
            "--dtype",
            format!("{} has no fp8 support (Ada, Hopper or newer needed); use fp16 or bf16", g.name),
        )
        .into());
    }
    let train_bf16 =
        w.task == vramfit_core::Task::Train && w.training.precision.is_some_and(|p| p.compute() == DType::Bf16);
    if (w.dtype == Some(DType::Bf16) || w.autocast == Some(DType::Bf16) || train_bf16) && !g.bf16 {
        return Err(Error::workload("--dtype", format!("{} has no bf16 support; use fp16", g.name)).into());
    }
    if w.attn == vramfit_core::estimate::AttnImpl::Flash && !g.flash_attention {
        return Err(
            Error::workload("--attn", format!("{} cannot run FlashAttention-2; use sdpa or eager", g.name)).into()
        );
    }
    Ok(())
}
