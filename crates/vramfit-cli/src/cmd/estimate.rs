//! `vramfit estimate`.

use crate::args::EstimateArgs;
use crate::render::{self, Verdict};
use std::io::Write;
use vramfit_core::catalog::GpuSpec;

pub fn run(a: &EstimateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gpu = a.gpu.as_deref().map(GpuSpec::parse).transpose()?;
    let workload = a.workload.resolve(&a.model, gpu.as_ref().map(|g| g.count))?;
    let model = super::source::resolve(&a.model, &a.source)?;
    if let Some(g) = &gpu {
        vramfit_core::fit::check_supported(&model.spec, &workload, g)?;
    }
    let breakdown = vramfit_core::estimate(&model.spec, &workload)?;
    let verdict = gpu.map(|g| Verdict::new(g, &breakdown));
    let speed =
        vramfit_core::request::speed_of(&model.spec, &workload, &breakdown, verdict.as_ref(), a.workload.ram_bandwidth);
    let report = render::EstimateReport {
        model: &model,
        workload: &workload,
        breakdown: &breakdown,
        verdict: verdict.as_ref(),
        speed: speed.as_ref(),
    };
    if a.json {
        render::json::estimate(&report, out)
    } else if a.markdown {
        render::markdown::estimate(&report, out)
    } else {
        render::table::estimate(&report, a.explain, out)
    }
}
