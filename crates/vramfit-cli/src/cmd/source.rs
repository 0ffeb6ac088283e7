//! Resolving MODEL with a progress bar for multi-shard Hub models (stderr, terminals only).

use crate::args::SourceArgs;
use std::io::{IsTerminal, Write};
use vramfit_io::{Progress, ResolveOptions, ResolvedModel};

/// Resolve `model` with the Hub settings of the environment and `--revision`.
pub fn resolve(model: &str, source: &SourceArgs) -> anyhow::Result<ResolvedModel> {
    let tty = std::io::stderr().is_terminal();
    let mut drew = false;
    let mut bar = |p: Progress<'_>| {
        if !tty || p.total < 2 {
            return;
        }
        let width = 30;
        let filled = p.done * width / p.total.max(1);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\rreading headers [{}{}] {}/{} shards, {} KiB",
            "#".repeat(filled),
            " ".repeat(width - filled),
            p.done,
            p.total,
            p.bytes / 1024
        );
        drew = true;
    };
    let mut opts =
        ResolveOptions { revision: source.revision.clone(), progress: Some(&mut bar), ..ResolveOptions::default() };
    opts.hub.timeout = source.timeout.map(std::time::Duration::from_secs_f64);
    let resolved = vramfit_io::resolve_model_with(model, opts);
    if drew {
        let _ = writeln!(std::io::stderr().lock());
    }
    Ok(resolved?)
}
