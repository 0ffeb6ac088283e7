//! The `vramfit` command line as a library: [`run`] is the whole program (the binary's `main`
//! calls it, and so does the Python package's `python -m vramfit`), and [`report`] gives other
//! front ends the CLI's own renderings of a result. Only this crate prints.

#![allow(clippy::print_stdout, clippy::print_stderr)]

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
    let stdout = std::io::stdout();
    run_with(args, &mut stdout.lock(), &mut std::io::stderr().lock())
}

/// [`run`] with the output written to `out` and the error line to `err` (clap's messages
/// without color).
pub fn run_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // Under --json an error is a JSON object too (on stderr, one line).
    let json = args.iter().any(|a| a == "--json");
    match args::Cli::try_parse_from(&args) {
        Ok(cli) => execute(cli, json, &args, out, err),
        Err(e) if e.use_stderr() => {
            let line = match core_line(&e) {
                Some(line) => as_typed(line, &args),
                None => clap_line(&e),
            };
            report_error(err, json, &line);
            2
        }
        Err(e) => {
            // Help and version on stdout.
            let _ = write!(out, "{}", e.render());
            0
        }
    }
}

/// The core's own error for a flag value its table refused (the core's parser hands clap
/// the one-line message, `--task: unknown task "x"; use ...`), as the resolve step would print
/// it.
fn core_line(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::ValueValidation {
        return None;
    }
    match e.get(ContextKind::Custom) {
        Some(ContextValue::String(line)) => Some(line.clone()),
        _ => None,
    }
}

/// clap's usage error as one line (CLI.md): the message and what it lists, without the
/// usage block and the pointer to --help that follow it.
fn clap_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts: Vec<&str> = vec![];
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if parts.is_empty() {
                continue;
            }
            break;
        }
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        parts.push(line);
    }
    let line = parts.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line).to_string();
    format!("{line} (--help lists the flags)")
}

fn report_error(err: &mut dyn Write, json: bool, line: &str) {
    if json {
        // The flag to fix, when the message starts with it (`--batch: must be ...`).
        let flag = line.split_once(": ").map(|(f, _)| f).filter(|f| f.starts_with("--") && !f.contains(' '));
        let _ = writeln!(err, "{}", serde_json::json!({ "error": line, "flag": flag }));
    } else {
        let _ = writeln!(err, "error: {line}");
    }
}

/// An error about a flag names it as the user spelled it: `--ctx-size 100000000` is told
/// `--ctx-size: ...`, not the canonical `--kv-prealloc: ...` (newcomer D15).
fn as_typed(line: String, args: &[OsString]) -> String {
    use clap::CommandFactory;
    let Some((flag, rest)) = line.split_once(": ") else { return line };
    let Some(long) = flag.strip_prefix("--").filter(|f| !f.contains(' ')) else { return line };
    let typed: Vec<String> = args
        .iter()
        .filter_map(|a| a.to_str())
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split_once('=').map_or(a, |(f, _)| f).to_string())
        .collect();
    if typed.iter().any(|t| t == long) {
        return line;
    }
    let cli = args::Cli::command();
    let sub = args.get(1).and_then(|a| a.to_str()).and_then(|s| cli.find_subcommand(s));
    let alias = sub.and_then(|sub| {
        let arg = sub.get_arguments().find(|a| a.get_long() == Some(long))?;
        arg.get_all_aliases()?.into_iter().find(|al| typed.iter().any(|t| t == al)).map(str::to_string)
    });
    match alias {
        Some(alias) => format!("--{alias}: {rest}"),
        None => line,
    }
}

fn execute(cli: args::Cli, json: bool, args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match cmd::run(cli.command, out).and_then(|()| out.flush().map_err(anyhow::Error::from)) {
        Ok(()) => 0,
        Err(e) => {
            if is_broken_pipe(&e) {
                return 0;
            }
            report_error(err, json, &as_typed(one_line(&e), args));
            2
        }
    }
}

/// The error and its causes on one line, each cause once: library errors often already say
/// their cause, which `{:#}` would repeat (`X: Y: Y`). Line breaks a cause may hold (a server's
/// text) become spaces. This is what `vramfit` prints after `error: ` (the Python package
/// raises the same text).
#[must_use]
pub fn one_line(e: &anyhow::Error) -> String {
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
