//! The `vramfit` command line as a library: [`run`] is the whole program (the binary's `main`
//! calls it, and so does the Python package's `python -m vramfit`), and [`report`] gives other
//! front ends the CLI's own renderings of a result. Only this crate prints.

mod args;
mod cmd;
mod render;
pub mod report;

use clap::Parser;
use std::ffi::OsString;
use std::io::Write;

/// Run the command line on `args` (the program name first), writing to stdout and stderr;
/// returns the exit code: 0 success, 2 bad input (one line on stderr naming what to fix).
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap's own printing: help and version on stdout, usage errors on stderr (colored
            // on a terminal).
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let stdout = std::io::stdout();
    execute(cli, &mut stdout.lock(), &mut std::io::stderr().lock())
}

/// [`run`] with the output written to `out` and the error line to `err` (clap's messages
/// without color).
pub fn run_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match args::Cli::try_parse_from(args) {
        Ok(cli) => execute(cli, out, err),
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                let _ = write!(err, "{text}");
                2
            } else {
                let _ = write!(out, "{text}");
                0
            }
        }
    }
}

fn execute(cli: args::Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match cmd::run(cli.command, out).and_then(|()| out.flush().map_err(anyhow::Error::from)) {
        Ok(()) => 0,
        Err(e) => {
            if is_broken_pipe(&e) {
                return 0;
            }
            let _ = writeln!(err, "error: {}", one_line(&e));
            2
        }
    }
}

/// The error and its causes on one line, each cause once: library errors often already say
/// their cause, which `{:#}` would repeat (`X: Y: Y`). Line breaks a cause may hold (a server's
/// text) become spaces.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().filter_map(|c| c.downcast_ref::<std::io::Error>()).any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
