//! Markdown output (`--markdown`) for reports pasted into issues and ACCURACY.md.

use super::{describe, gb, gib, level_label, EstimateReport};
use std::io::Write;
use vramfit_core::validate::{CaseResult, Summary};
use vramfit_core::Level;

pub fn estimate(r: &EstimateReport<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    let b = r.breakdown;
    writeln!(out, "### {} — {}\n", r.model.name, describe(r.workload, b, r.model))?;
    writeln!(out, "Peak during **{}**.\n", b.peak_phase)?;
    writeln!(out, "| component | GiB | GB | formula | source |")?;
    writeln!(out, "|---|---:|---:|---|---|")?;
    for c in &b.components {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            c.name,
            gib(c.bytes),
            gb(c.bytes),
            c.formula.replace('|', "\\|"),
            c.source.replace('|', "\\|")
        )?;
    }
    for l in [Level::Allocated, Level::Reserved, Level::Device] {
        writeln!(
            out,
            "| **{}** | **{}** | **{}** | | |",
            level_label(l).split_whitespace().next().unwrap_or(""),
            gib(b.levels.get(l)),
            gb(b.levels.get(l))
        )?;
    }
    if let Some(v) = r.verdict {
        writeln!(
            out,
            "\n{}: {}, headroom {}",
            v.gpu.label,
            if v.fits {
                "fits"
            } else if v.tight {
                "tight (less than the reserve free)"
            } else {
                "does not fit"
            },
            super::signed_both(v.headroom_bytes)
        )?;
    }
    Ok(())
}

pub fn validate(results: &[CaseResult], s: &Summary, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "| case | task | runtime | metric | estimate (GB) | measured (GB) | error |")?;
    writeln!(out, "|---|---|---|---|---:|---:|---:|")?;
    for r in results.iter().filter(|r| r.error.is_some()) {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:+.1}% |",
            r.id,
            r.task,
            r.runtime,
            r.metric,
            r.estimate_bytes.map(gb).unwrap_or_default(),
            gb(r.measured_bytes),
            r.error.unwrap_or(0.0) * 100.0
        )?;
    }
    let skipped: Vec<&CaseResult> = results.iter().filter(|r| r.skipped.is_some()).collect();
    if !skipped.is_empty() {
        writeln!(out, "\nSkipped ({}):\n", skipped.len())?;
        for r in skipped {
            writeln!(out, "- {}: {}", r.id, r.skipped.as_deref().unwrap_or(""))?;
        }
    }
    writeln!(out)?;
    super::table::summary(s, out)
}
