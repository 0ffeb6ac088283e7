//! The CLI's renderings of results, for other front ends (the Python package) that compute
//! the same results and want to show them exactly as the command line does.

use crate::render::{self, EstimateReport, SweepReport};
use serde_json::Value;
use vramfit_core::catalog::GpuSpec;
use vramfit_core::fit::sweep::{SweepAxis, SweepPoint};
use vramfit_core::fit::FitReport;
use vramfit_core::request::GpuVerdict;
use vramfit_core::{Breakdown, Workload};
use vramfit_io::ResolvedModel;

fn text(f: impl FnOnce(&mut Vec<u8>) -> anyhow::Result<()>) -> String {
    let mut buf = Vec::new();
    // Writing into memory cannot fail; a renderer error would leave what was written so far.
    let _ = f(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The table `vramfit estimate` prints (with `explain`, as `--explain`: each component's
/// formula with its numbers, and its source).
#[must_use]
pub fn estimate_text(
    model: &ResolvedModel,
    workload: &Workload,
    breakdown: &Breakdown,
    verdict: Option<&GpuVerdict>,
    speed: Option<&vramfit_core::estimate::speed::Speed>,
    explain: bool,
) -> String {
    let r = EstimateReport { model, workload, breakdown, verdict, speed, compare: &[], ram: None };
    text(|out| render::table::estimate(&r, explain, out))
}

/// The chart `vramfit estimate --svg` writes: the three levels as stacked bars.
#[must_use]
pub fn estimate_svg(
    model: &ResolvedModel,
    workload: &Workload,
    breakdown: &Breakdown,
    verdict: Option<&GpuVerdict>,
) -> String {
    render::svg::estimate(&EstimateReport { model, workload, breakdown, verdict, speed: None, compare: &[], ram: None })
}

/// The text `vramfit fit` prints (with `all`, as `--all`).
#[must_use]
pub fn fit_text(model: &ResolvedModel, report: &FitReport, all: bool) -> String {
    text(|out| render::table::fit(model, report, all, out))
}

/// The workload `vramfit sweep` sweeps on `gpu`: as `estimate` and `fit` resolve it there.
///
/// # Errors
/// Settings the GPU cannot run.
pub fn sweep_workload(model: &ResolvedModel, asked: Workload, gpu: Option<&GpuSpec>) -> anyhow::Result<Workload> {
    Ok(crate::cmd::on_gpu(&model.spec, asked, gpu)?.0)
}

/// The points of `vramfit sweep` (see the command for the checks and the default values).
///
/// # Errors
/// As the command: settings the GPU cannot run, a task without a batch or sequence, a zero value.
pub fn sweep_points(
    model: &ResolvedModel,
    workload: &Workload,
    axis: SweepAxis,
    values: &[u64],
    gpu: Option<&GpuSpec>,
) -> anyhow::Result<Vec<SweepPoint>> {
    crate::cmd::sweep::points(model, workload, axis, values, gpu)
}

/// The object `vramfit sweep --json` prints.
#[must_use]
pub fn sweep_json(
    model: &ResolvedModel,
    workload: &Workload,
    axis: SweepAxis,
    points: &[SweepPoint],
    gpu: Option<&GpuSpec>,
) -> Value {
    render::json::sweep_value(&SweepReport { model, workload, axis, points, gpu })
}

/// The chart `vramfit sweep --svg` writes.
#[must_use]
pub fn sweep_svg(
    model: &ResolvedModel,
    workload: &Workload,
    axis: SweepAxis,
    points: &[SweepPoint],
    gpu: Option<&GpuSpec>,
) -> String {
    render::svg::sweep(&SweepReport { model, workload, axis, points, gpu })
}
