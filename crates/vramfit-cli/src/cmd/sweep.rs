//! `vramfit sweep`: one workload over a range of batch sizes or lengths.

use crate::args::SweepArgs;
use crate::render::{self, SweepReport};
use anyhow::Context;
use std::io::{IsTerminal, Write};
use vramfit_core::catalog::GpuSpec;
use vramfit_core::fit::sweep::SweepPoint;
use vramfit_core::fit::sweep::{sweep, SweepAxis};
use vramfit_core::Error;
use vramfit_core::Workload;
use vramfit_io::ResolvedModel;

pub fn run(a: &SweepArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let axis = a.over;
    let gpu = a.gpu.as_deref().map(|g| a.workload.gpu(g)).transpose()?;
    let asked = a.workload.resolve(&a.model, gpu.as_ref().map(|g| g.count))?;
    let color = match a.color.as_str() {
        "always" => true,
        "never" => false,
        "auto" => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        other => {
            return Err(Error::workload("--color", format!("unknown value {other:?}; use auto, always or never")).into())
        }
    };
    let model = vramfit_io::resolve_model(&a.model)?;
    // Where estimate and fit start on this GPU (notes are not part of a sweep report).
    let (workload, _) = super::on_gpu(&model.spec, asked, gpu.as_ref())?;
    let points = points(&model, &workload, axis, &a.values, gpu.as_ref())?;
    // Every point refused: the sweep answered nothing, exit 2 with the (first) reason.
    if let Some(Err(e)) =
        points.iter().all(|p| p.outcome.is_err()).then(|| points.first().map(|p| &p.outcome)).flatten()
    {
        return Err(anyhow::anyhow!("{e} (every point of the sweep)"));
    }
    let report = SweepReport { model: &model, workload: &workload, axis, points: &points, gpu: gpu.as_ref() };
    if let Some(path) = &a.svg {
        std::fs::write(path, render::svg::sweep(&report))
            .with_context(|| format!("--svg: cannot write {}", path.display()))?;
    }
    if let Some(path) = &a.csv {
        std::fs::write(path, render::csv::sweep(&report))
            .with_context(|| format!("--csv: cannot write {}", path.display()))?;
    }
    if a.json {
        return render::json::sweep(&report, out);
    }
    render::chart::sweep(&report, color, out)?;
    for (flag, path) in [("svg", &a.svg), ("csv", &a.csv)] {
        if let Some(p) = path {
            writeln!(out, "wrote {flag}: {}", p.display())?;
        }
    }
    Ok(())
}

/// The points of a sweep of `workload` on `model` over `axis`: at `values`, or (when empty) at
/// powers of two until past the GPU's memory. The checks come in the order the command makes
/// them, so every front end fails on the same input with the same message.
pub fn points(
    model: &ResolvedModel,
    workload: &Workload,
    axis: SweepAxis,
    values: &[u64],
    gpu: Option<&GpuSpec>,
) -> anyhow::Result<Vec<SweepPoint>> {
    if let Some(g) = gpu {
        vramfit_core::fit::check_supported(&model.spec, workload, g)?;
    }
    if axis.value(workload).is_none() {
        return Err(Error::workload(
            "--task",
            format!("a {} has no batch or sequence to sweep; use generate, prefill or train", workload.task.name()),
        )
        .into());
    }
    if values.contains(&0) {
        return Err(Error::workload("--values", "values must be positive").into());
    }
    let values = if values.is_empty() {
        axis.default_values(
            &model.spec,
            workload,
            |v| {
                let w = axis.apply(workload, v).ok()?;
                vramfit_core::estimate(&model.spec, &w).ok().map(|b| b.total_bytes())
            },
            gpu.map(|g| g.usable_bytes),
        )
    } else {
        values.to_vec()
    };
    Ok(sweep(&model.spec, workload, axis, &values))
}
