//! `vramfit fit`: the verdict as asked, ranked plans that fit, and the limits.

use crate::args::FitArgs;
use crate::render;
use std::io::Write;
use vramfit_core::catalog::GpuSpec;
use vramfit_core::fit::{fit, FitOptions};

pub fn run(a: &FitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gpu = GpuSpec::parse(&a.gpu)?;
    let workload = a.workload.resolve(&a.model, Some(gpu.count))?;
    let model = vramfit_io::resolve_model(&a.model)?;
    let report = fit(
        &model.spec,
        &workload,
        &gpu,
        FitOptions { all: a.all, prefer_speed: a.prefer == "speed", ram_bandwidth: a.workload.ram_bandwidth },
    )?;
    if a.json {
        render::json::fit(&model, &report, out)
    } else {
        render::table::fit(&model, &report, a.all, out)
    }
}
