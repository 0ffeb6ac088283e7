//! One module per subcommand.

mod catalog;
mod estimate;
mod fit;
mod inspect;
mod source;
pub mod sweep;
mod validate;

use crate::args::Command;
use std::io::Write;

/// Run a subcommand, writing to `out`.
pub fn run(mut cmd: Command, out: &mut dyn Write) -> anyhow::Result<()> {
    // A PEFT adapter directory as MODEL: the base model is read in its place (vramfit-io), and
    // the adapter's settings fill the flags left at their defaults.
    if let Command::Estimate(crate::args::EstimateArgs { model, workload, .. })
    | Command::Fit(crate::args::FitArgs { model, workload, .. })
    | Command::Sweep(crate::args::SweepArgs { model, workload, .. }) = &mut cmd
    {
        if let Some(adapter) = vramfit_io::read_adapter(std::path::Path::new(model.as_str()))? {
            workload.adopt_adapter(&adapter);
        }
    }
    match cmd {
        Command::Estimate(a) => estimate::run(&a, out),
        Command::Fit(a) => fit::run(&a, out),
        Command::Sweep(a) => sweep::run(&a, out),
        Command::Inspect(a) => inspect::run(&a, out),
        Command::Models(a) => catalog::models(&a, out),
        Command::Gpus(a) => catalog::gpus(&a, out),
        Command::Validate(a) => validate::run(&a, out),
        Command::Completions(a) => {
            use clap::CommandFactory;
            // Into memory first: clap_complete panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut crate::args::Cli::command(), "vramfit", &mut script);
            out.write_all(&script)?;
            Ok(())
        }
    }
}

/// The workload `w` (resolved from the flags for `gpu`'s count) as it runs on `gpu` (the
/// core's `fit::on_gpu` resolves what the GPU decides), refused when the GPU cannot run it;
/// with the notes saying what was resolved.
pub(crate) fn on_gpu(
    spec: &vramfit_core::model::ModelSpec,
    w: vramfit_core::estimate::Workload,
    gpu: Option<&vramfit_core::catalog::GpuSpec>,
) -> anyhow::Result<(vramfit_core::estimate::Workload, Vec<String>)> {
    Ok(match gpu {
        Some(g) => vramfit_core::fit::on_gpu(spec, &w, g)?,
        None => (w, vec![]),
    })
}
