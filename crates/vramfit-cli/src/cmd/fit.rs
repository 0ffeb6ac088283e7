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
    if workload.runtime.is_serving_engine() {
        let f = vramfit_core::estimate::serving::plans::fit(&model.spec, &workload, &gpu)?;
        return if a.json {
            let m = vramfit_core::request::ModelReport {
                name: &model.name,
                origin: &model.origin,
                notes: &model.notes,
                bytes_transferred: model.bytes_transferred,
            };
            render::json::emit(&vramfit_core::request::serving_fit_value(&m, &gpu, &f), out)
        } else {
            render::table::serving_fit(&model, &gpu, &f, out)
        };
    }
    let report = fit(&model.spec, &workload, &gpu, FitOptions { all: a.all })?;
    if a.json {
        render::json::fit(&model, &report, out)
    } else {
        render::table::fit(&model, &report, a.all, out)
    }
}
