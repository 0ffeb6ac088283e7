//! `vramfit estimate`.

use crate::args::EstimateArgs;
use crate::render::{self, GpuVerdict};
use anyhow::Context;
use std::io::Write;
use vramfit_core::request;

pub fn run(a: &EstimateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gpus = a.gpu.iter().map(|g| a.workload.gpu(g)).collect::<Result<Vec<_>, _>>()?;
    if a.workload.request.wired_limit_mb.is_some() && gpus.is_empty() {
        return Err(vramfit_core::Error::workload(
            "--wired-limit-mb",
            "sets an Apple GPU's working set: add --gpu M2-Max-96GB (or another Apple GPU)",
        )
        .into());
    }
    let gpu = gpus.first().cloned();
    // The flags are checked before the model is read: a bad flag costs no download.
    let asked = a.workload.resolve(&a.model, gpu.as_ref().map(|g| g.count))?;
    let ram = a.ram.as_deref().map(request::parse_ram).transpose()?;
    let model = super::source::resolve(&a.model, &a.source)?;
    let (workload, resolved) = super::on_gpu(&model.spec, asked, gpu.as_ref())?;
    let mut breakdown = vramfit_core::estimate(&model.spec, &workload)?;
    breakdown.notes.extend(resolved);
    breakdown.notes.extend(vramfit_core::ignored_flags::notes(
        &a.workload.request,
        &workload,
        gpu.as_ref().map(|g| g.count),
    ));
    if gpu.is_some() {
        breakdown.notes.extend(request::gpu_not_judged_note(&workload, ram));
    }
    // A merge in CPU RAM uses no GPU: it is judged against --ram only.
    let verdict = gpu.filter(|_| request::gpu_judges(&workload)).map(|g| GpuVerdict::new(g, &breakdown));
    let ram = ram.map(|r| request::RamVerdict::new(r, &breakdown));
    let speed = vramfit_core::request::speed_of(
        &model.spec,
        &workload,
        &breakdown,
        verdict.as_ref(),
        a.workload.request.ram_bandwidth,
    );
    // Every GPU compared: its own estimate (a count changes how the work is shared), or why it
    // cannot run this.
    let compare: Vec<render::Compared> = if gpus.len() > 1 && request::gpu_judges(&workload) {
        gpus.iter()
            .enumerate()
            .map(|(i, g)| {
                // The first GPU is the report's: its verdict is already computed.
                if let (0, Some(v)) = (i, &verdict) {
                    return render::Compared { label: g.label.clone(), verdict: Ok(v.clone()) };
                }
                let one = || -> anyhow::Result<GpuVerdict> {
                    let w = a.workload.resolve(&a.model, Some(g.count))?;
                    let (w, _) = super::on_gpu(&model.spec, w, Some(g))?;
                    Ok(GpuVerdict::new(g.clone(), &vramfit_core::estimate(&model.spec, &w)?))
                };
                render::Compared { label: g.label.clone(), verdict: one().map_err(|e| format!("{e:#}")) }
            })
            .collect()
    } else {
        vec![]
    };
    let report = render::EstimateReport {
        model: &model,
        workload: &workload,
        breakdown: &breakdown,
        verdict: verdict.as_ref(),
        speed: speed.as_ref(),
        compare: &compare,
        ram: ram.as_ref(),
    };
    if let Some(path) = &a.svg {
        std::fs::write(path, render::svg::estimate(&report))
            .with_context(|| format!("--svg: cannot write {}", path.display()))?;
    }
    if a.json {
        render::json::estimate(&report, out)
    } else if a.markdown {
        render::markdown::estimate(&report, out)
    } else {
        render::table::estimate(&report, a.explain, out)
    }
}
