//! Markdown output (`--markdown`) for reports pasted into issues and ACCURACY.md.

use super::{describe, gb, gib, level_label, EstimateReport};
use std::io::Write;
use vramfit_core::validate::{CaseResult, Summary};
use vramfit_core::Level;

pub fn estimate(r: &EstimateReport<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    let b = r.breakdown;
    writeln!(out, "### {} — {}\n", r.model.name, describe(r.workload, r.model))?;
    writeln!(out, "Peak during **{}**.\n", b.peak_phase)?;
    writeln!(out, "| component | GiB | GB | formula | source |")?;
    writeln!(out, "|---|---:|---:|---|---|")?;
    for c in &b.components {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            c.label(),
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
            level_label(l, r.workload.backend).split_whitespace().next().unwrap_or(""),
            gib(b.levels.get(l)),
            gb(b.levels.get(l))
        )?;
    }
    if let Some(v) = r.verdict {
        writeln!(
            out,
            "\n{}: {}, headroom {}",
            v.gpu.label,
            if v.fits() {
                "fits"
            } else if v.tight() {
                "tight (less than the reserve free)"
            } else {
                "does not fit"
            },
            super::signed_both(v.headroom.headroom_bytes)
        )?;
    }
    Ok(())
}

pub fn validate(results: &[CaseResult], s: &Summary, out: &mut dyn Write) -> anyhow::Result<()> {
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.1} %", x * 100.0));
    writeln!(out, "| cases | estimated | skipped | median abs. error | p90 abs. error | max abs. error | under-estimates > 10 % |")?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        results.len(),
        s.n,
        s.skipped,
        pct(s.median_abs_error),
        pct(s.p90_abs_error),
        pct(s.max_abs_error),
        s.under_10
    )?;
    // Error by task group, runtime and metric.
    let group = |r: &CaseResult| {
        let task = if r.task == "train" { "train" } else { "inference" };
        // Speed cases group by the backend whose constants priced them (llama.cpp-cuda, mlx).
        (task.to_string(), r.backend.clone().unwrap_or_else(|| r.runtime.clone()), r.metric.clone())
    };
    let mut keys: Vec<(String, String, String)> = results.iter().filter(|r| r.error.is_some()).map(group).collect();
    keys.sort();
    keys.dedup();
    writeln!(out, "| task | runtime | metric | n | median abs. error | p90 abs. error | worst | under > 10 % |")?;
    writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|")?;
    for k in &keys {
        let members: Vec<CaseResult> =
            results.iter().filter(|r| r.error.is_some() && &group(r) == k).cloned().collect();
        let g = vramfit_core::validate::summarize(&members);
        let worst = members.iter().filter_map(|r| r.error).max_by(|a, b| a.abs().total_cmp(&b.abs())).unwrap_or(0.0);
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:+.1} % | {} |",
            k.0,
            k.1,
            k.2,
            g.n,
            pct(g.median_abs_error),
            pct(g.p90_abs_error),
            worst * 100.0,
            g.under_10
        )?;
    }
    let speed = results.iter().any(|r| r.measured_value.is_some());
    writeln!(
        out,
        "\n| case | task | runtime | metric | {} | error | peak |",
        if speed { "estimate | measured" } else { "estimate (GB) | measured (GB)" }
    )?;
    writeln!(out, "|---|---|---|---|---:|---:|---:|---|")?;
    let mut sorted: Vec<&CaseResult> = results.iter().filter(|r| r.error.is_some()).collect();
    sorted.sort_by(|a, b| b.error.unwrap_or(0.0).abs().total_cmp(&a.error.unwrap_or(0.0).abs()));
    for r in sorted {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:+.1} % | {} |",
            r.id,
            r.task,
            r.runtime,
            r.metric,
            figure(&r.metric, r.estimate_bytes, r.estimate_tokens, r.estimate_value),
            figure(&r.metric, Some(r.measured_bytes), r.measured_tokens, r.measured_value),
            r.error.unwrap_or(0.0) * 100.0,
            r.peak_phase.map_or("", vramfit_core::Phase::name)
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

/// A case's figure in its own unit: GB, tokens or a ratio (serving cases).
/// A case's figure as its metric counts it: tokens, a concurrency ratio (`2.05x`), a speed
/// (tokens/s or seconds, as the metric names), else GB.
fn figure(metric: &str, bytes: Option<u64>, tokens: Option<u64>, value: Option<f64>) -> String {
    match (tokens, value) {
        (Some(t), _) => format!("{} tok", vramfit_core::estimate::breakdown::thousands(t)),
        (None, Some(v)) if vramfit_core::validate::SPEED_METRICS.contains(&metric) => format!("{v:.2}"),
        (None, Some(v)) => format!("{v:.2}x"),
        (None, None) => bytes.map(gb).unwrap_or_default(),
    }
}
