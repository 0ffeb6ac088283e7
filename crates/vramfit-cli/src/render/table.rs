//! Plain-text tables for terminals. Sizes in GiB (2^30 B) with GB (10^9 B) beside them.
#![allow(clippy::write_literal)] // aligned header rows read best as literals

use super::{describe, gb, gib, level_label, signed_both, EstimateReport};
use std::io::Write;
use vramfit_core::catalog;
use vramfit_core::estimate::breakdown::thousands;
use vramfit_core::validate::{CaseResult, Summary};
use vramfit_core::{Level, ParamCount};
use vramfit_io::ResolvedModel;

pub fn estimate(r: &EstimateReport<'_>, explain: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let b = r.breakdown;
    writeln!(out, "{} ({})", r.model.name, r.model.origin)?;
    writeln!(out, "{}", describe(r.workload, b, r.model))?;
    writeln!(out, "peak during: {}", b.peak_phase)?;
    writeln!(out)?;
    writeln!(out, "{:<28} {:>10} {:>10}  {}", "component", "GiB", "GB", "level")?;
    for c in &b.components {
        let level = match c.level {
            Level::Allocated => "allocated",
            Level::Reserved => "reserved",
            Level::Device => "device",
            Level::Host => "cpu ram",
        };
        writeln!(out, "{:<28} {:>10} {:>10}  {level}", c.name, gib(c.bytes), gb(c.bytes))?;
        if explain {
            writeln!(out, "    = {}", c.formula)?;
            writeln!(out, "      source: {}", c.source)?;
        }
    }
    writeln!(out, "{}", "-".repeat(62))?;
    for l in [Level::Allocated, Level::Reserved, Level::Device] {
        let v = b.levels.get(l);
        writeln!(out, "{:<40} {:>8} GiB {:>8} GB", level_label(l), gib(v), gb(v))?;
    }
    if b.host_bytes > 0 {
        writeln!(
            out,
            "{:<40} {:>8} GiB {:>8} GB",
            "host      (CPU RAM, not on the GPU)",
            gib(b.host_bytes),
            gb(b.host_bytes)
        )?;
    }
    for n in r.model.notes.iter().chain(&b.notes) {
        writeln!(out, "note: {n}")?;
    }
    if let Some(v) = r.verdict {
        writeln!(out)?;
        writeln!(
            out,
            "{}: {} GiB usable per GPU → {} ({} headroom)",
            v.gpu.label,
            gib(v.gpu.usable_bytes),
            if v.fits { "FITS" } else { "DOES NOT FIT" },
            signed_both(v.headroom_bytes)
        )?;
        if v.gpu.count > 1 {
            writeln!(
                out,
                "note: multi-GPU strategies are not modelled yet: each GPU is assumed to hold the whole workload"
            )?;
        }
    }
    Ok(())
}

pub fn inspect(m: &ResolvedModel, out: &mut dyn Write) -> anyhow::Result<()> {
    let p = ParamCount::of(&m.spec);
    writeln!(out, "{} ({}) — model_type {}", m.name, m.origin, m.spec.model_type)?;
    writeln!(
        out,
        "layers {} · hidden {} · vocab {} · {} embeddings",
        m.spec.num_layers().max(m.spec.encoder_layers.len() as u64),
        m.spec.hidden_size,
        m.spec.vocab_size,
        if m.spec.tied_embeddings { "tied" } else { "untied" }
    )?;
    writeln!(out)?;
    writeln!(out, "{:<18} {:>18} {:>8}", "component", "parameters", "share")?;
    for (g, n) in &p.by_group {
        writeln!(out, "{:<18} {:>18} {:>7.2}%", g.name(), thousands(*n), *n as f64 * 100.0 / p.total.max(1) as f64)?;
    }
    writeln!(out, "{:<18} {:>18}", "total", thousands(p.total))?;
    if p.active != p.total {
        writeln!(out, "{:<18} {:>18}  (per token: routed top-k experts + shared)", "active", thousands(p.active))?;
    }
    if let Some(published) = m.catalog.and_then(|c| c.params) {
        writeln!(
            out,
            "published count: {} ({})",
            thousands(published),
            if published == p.total { "matches" } else { "differs" }
        )?;
    }
    writeln!(out)?;
    let stored = m.spec.torch_dtype;
    writeln!(out, "weights by dtype (GiB / GB):")?;
    for d in [vramfit_core::DType::Fp32, vramfit_core::DType::Bf16, vramfit_core::DType::Fp8] {
        let bytes = p.total.saturating_mul(d.bytes());
        let label = if d == vramfit_core::DType::Bf16 { "fp16/bf16" } else { d.name() };
        let mark = if stored.map(vramfit_core::DType::bytes) == Some(d.bytes()) {
            "  ← stored checkpoint (torch_dtype)"
        } else {
            ""
        };
        writeln!(out, "  {:<10} {:>9} GiB {:>9} GB{mark}", label, gib(bytes), gb(bytes))?;
    }
    if let Some(d) = stored {
        if d != vramfit_core::DType::Fp32 {
            writeln!(
                out,
                "The checkpoint stores {d} ({} bytes/param), so the download is about {} GB; loading it in fp32 (the transformers default without torch_dtype) needs {} GB.",
                d.bytes(),
                gb(p.total.saturating_mul(d.bytes())),
                gb(p.total.saturating_mul(4))
            )?;
        }
    }
    if let Some(q) = &m.spec.quantization {
        writeln!(out, "quantization_config: {}", q.label())?;
    }
    if let Some(ck) = &m.spec.checkpoint {
        writeln!(out)?;
        writeln!(
            out,
            "checkpoint: {} file{} ({}), {} tensors, {} bytes exactly ({} GiB / {} GB)",
            ck.files,
            if ck.files == 1 { "" } else { "s" },
            ck.format.name(),
            thousands(ck.tensors),
            thousands(ck.bytes),
            gib(ck.bytes),
            gb(ck.bytes)
        )?;
        writeln!(out, "stored dtypes:")?;
        for d in &ck.by_dtype {
            writeln!(
                out,
                "  {:<10} {:>6} tensors {:>18} elements {:>9} GiB",
                d.dtype,
                d.tensors,
                thousands(d.elements),
                gib(d.bytes)
            )?;
        }
        writeln!(out, "bytes per component (from tensor names):")?;
        for g in &ck.by_group {
            writeln!(out, "  {:<16} {:>6} tensors {:>9} GiB", g.group.name(), g.tensors, gib(g.bytes))?;
        }
        for (k, v) in &ck.metadata {
            writeln!(out, "  {k} = {v}")?;
        }
    }
    writeln!(
        out,
        "read: {} bytes over the network, {} bytes of headers from disk",
        thousands(m.bytes_transferred),
        thousands(m.bytes_read)
    )?;
    for n in &m.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

pub fn models(out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "{:<24} {:<12} {:>18}  {}", "name", "family", "parameters", "hugging face id")?;
    for m in catalog::models() {
        let params = m.spec().map(|s| thousands(ParamCount::of(&s).total)).unwrap_or_else(|e| format!("error: {e}"));
        writeln!(out, "{:<24} {:<12} {:>18}  {}", m.name, m.family, params, m.hf_id)?;
    }
    Ok(())
}

pub fn gpus(out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<24} {:>9} {:>11} {:>8}  {:<5} {:<5} {:<5}  {}",
        "name", "memory", "usable GiB", "GB/s", "bf16", "fp8", "FA2", "architecture"
    )?;
    let yes = |b: bool| if b { "yes" } else { "-" };
    for g in catalog::gpus() {
        writeln!(
            out,
            "{:<24} {:>5} GiB {:>11} {:>8}  {:<5} {:<5} {:<5}  {}",
            g.name,
            g.memory_bytes >> 30,
            gib(g.usable_bytes),
            g.bandwidth_gb_s,
            yes(g.bf16),
            yes(g.fp8),
            yes(g.flash_attention),
            g.architecture
        )?;
    }
    Ok(())
}

pub fn validate(results: &[CaseResult], s: &Summary, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "{:<44} {:>10} {:>10} {:>8}  {}", "case", "estimate", "measured", "error", "metric / phase")?;
    for r in results {
        match (&r.skipped, r.estimate_bytes, r.error) {
            (None, Some(e), Some(err)) => writeln!(
                out,
                "{:<44} {:>7} GB {:>7} GB {:>+7.1}%  {} / {}",
                r.id,
                gb(e),
                gb(r.measured_bytes),
                err * 100.0,
                r.metric,
                r.peak_phase.as_deref().unwrap_or("")
            )?,
            (reason, _, _) => writeln!(out, "{:<44} skipped: {}", r.id, reason.as_deref().unwrap_or("?"))?,
        }
    }
    writeln!(out)?;
    summary(s, out)
}

pub fn summary(s: &Summary, out: &mut dyn Write) -> anyhow::Result<()> {
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
    writeln!(out, "estimated {} cases, skipped {}", s.n, s.skipped)?;
    writeln!(
        out,
        "median |error| {} · p90 |error| {} · max |error| {}",
        pct(s.median_abs_error),
        pct(s.p90_abs_error),
        pct(s.max_abs_error)
    )?;
    writeln!(out, "under-estimates beyond 10%: {} · beyond 15%: {}", s.under_10, s.under_15)?;
    Ok(())
}
