//! `vramfit`: a thin binary over the CLI library ([`vramfit_cli::run`]): it parses flags,
//! calls the core through the I/O crate, and renders. Only the CLI prints.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(vramfit_cli::run(std::env::args_os()))
}
