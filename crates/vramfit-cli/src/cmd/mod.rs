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
pub fn run(cmd: Command, out: &mut dyn Write) -> anyhow::Result<()> {
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
