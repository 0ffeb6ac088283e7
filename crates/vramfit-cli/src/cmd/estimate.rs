//! `vramfit estimate`.

use crate::args::EstimateArgs;
use crate::render::{self, Verdict};
use anyhow::Context;
use std::io::Write;
use vramfit_core::catalog::GpuSpec;
use vramfit_core::request;

pub fn run(a: &EstimateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gpu = a.gpu.as_deref().map(GpuSpec::parse).transpose()?;
    let workload = a.workload.resolve(&a.model, gpu.as_ref().map(|g| g.count))?;
    let ram = a.ram.as_deref().map(request::parse_ram).transpose()?;
    let model = super::source::resolve(&a.model, &a.source)?;
    if let Some(g) = &gpu {
        vramfit_core::fit::check_supported(&model.spec, &workload, g)?;
    }
    let mut breakdown = vramfit_core::estimate(&model.spec, &workload)?;
    if gpu.is_some() {
        breakdown.notes.extend(request::gpu_not_judged_note(&workload, ram));
    }
    // A merge in CPU RAM uses no GPU: it is judged against --ram only.
    let verdict = gpu.filter(|_| request::gpu_judges(&workload)).map(|g| Verdict::new(g, &breakdown));
    let ram = ram.map(|r| request::RamVerdict::new(r, &breakdown));
    let report = render::EstimateReport {
        model: &model,
        workload: &workload,
        breakdown: &breakdown,
        verdict: verdict.as_ref(),
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
