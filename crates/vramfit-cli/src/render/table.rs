//! Plain-text tables for terminals. Sizes in GiB (2^30 B) with GB (10^9 B) beside them.
#![allow(clippy::write_literal)] // aligned header rows read best as literals

use super::{describe, gb, gib, level_label, signed_both, EstimateReport};
use std::io::Write;
use vramfit_core::catalog;
use vramfit_core::estimate::breakdown::thousands;
use vramfit_core::estimate::speed::Speed;
use vramfit_core::fit::{self, FitReport};
use vramfit_core::validate::{CaseResult, Summary};
use vramfit_core::{Level, ParamCount, Task, Workload};
use vramfit_io::ResolvedModel;

pub fn estimate(r: &EstimateReport<'_>, explain: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let b = r.breakdown;
    // A local path is its own origin: say it once.
    if r.model.name == r.model.origin {
        writeln!(out, "{}", r.model.name)?;
    } else {
        writeln!(out, "{} ({})", r.model.name, r.model.origin)?;
    }
    writeln!(out, "{}", describe(r.workload, r.model))?;
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
        writeln!(out, "{:<28} {:>10} {:>10}  {level}", c.label(), gib(c.bytes), gb(c.bytes))?;
        if explain {
            writeln!(out, "    = {}", c.formula)?;
            writeln!(out, "      source: {}", c.source)?;
        }
    }
    writeln!(out, "{}", "-".repeat(62))?;
    for l in [Level::Allocated, Level::Reserved, Level::Device] {
        let v = b.levels.get(l);
        writeln!(out, "{:<40} {:>8} GiB {:>8} GB", level_label(l, r.workload.backend), gib(v), gb(v))?;
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
    if let Some(s) = &b.serving {
        serving(s, r, out)?;
    } else if let Some(v) = r.verdict {
        writeln!(out)?;
        writeln!(
            out,
            "{}: {} GiB usable per GPU → {}",
            v.gpu.label,
            gib(v.gpu.usable_bytes),
            if v.fits() && beyond_limit(&b.notes) {
                format!(
                    "FITS in memory, but beyond the model's position limit (see the warning) ({} headroom)",
                    signed_both(v.headroom.headroom_bytes)
                )
            } else if v.fits() {
                format!("FITS ({} headroom)", signed_both(v.headroom.headroom_bytes))
            } else if v.tight() {
                format!(
                    "TIGHT: less than the {} GiB reserve left free ({} headroom)",
                    gib(v.headroom.reserve_bytes),
                    signed_both(v.headroom.headroom_bytes)
                )
            } else {
                // As fit says it: the shortfall, not a negative headroom.
                format!("DOES NOT FIT (short by {})", signed_both(-v.headroom.headroom_bytes))
            }
        )?;
        if v.gpu.count > 1 && r.workload.parallel.gpus() == 1 {
            writeln!(out, "note: --gpus 1 was given: one GPU holds the whole workload")?;
        }
    }
    if let Some(m) = r.ram {
        writeln!(out)?;
        writeln!(
            out,
            "CPU RAM {} GB: needs {} GB → {} ({} headroom)",
            gb(m.ram_bytes),
            gb(m.needed_bytes),
            if m.fits { "FITS" } else { "DOES NOT FIT" },
            signed_both(m.headroom_bytes)
        )?;
    }
    if !r.compare.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:<22} {:>12} {:>14} {:>14}  verdict",
            "GPUs compared", "usable GiB", "needs GiB/GPU", "headroom GiB"
        )?;
        for c in r.compare {
            match &c.verdict {
                Ok(v) => writeln!(
                    out,
                    "{:<22} {:>12} {:>14} {:>14}  {}",
                    c.label,
                    gib(v.gpu.usable_bytes),
                    gib(v.headroom.per_gpu_bytes),
                    signed_gib(v.headroom.headroom_bytes),
                    match (b.serving.is_some(), v.fits(), v.tight()) {
                        (true, true, _) => "starts",
                        (true, false, _) => "does not start",
                        (false, true, _) => "fits",
                        (false, false, true) => "tight",
                        (false, false, false) => "does not fit",
                    }
                )?,
                Err(e) => writeln!(out, "{:<22} cannot say: {e}", c.label)?,
            }
        }
    }
    if let Some(s) = r.speed {
        speed(s, r.workload, explain, out)?;
    }
    Ok(())
}

/// A serving engine's start-up, next to the lines of its own log.
fn serving(
    s: &vramfit_core::estimate::serving::ServingReport,
    r: &EstimateReport<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    writeln!(out)?;
    let on = r.verdict.map_or(String::new(), |v| format!(" on {}", v.gpu.label));
    writeln!(out, "{} {}{on}, utilization {:.2}", s.engine, s.version, s.gpu_memory_utilization)?;
    writeln!(
        out,
        "  max_model_len {} · max_num_seqs {} · max_num_batched_tokens {} · block_size {} · {} KV B/token",
        thousands(s.max_model_len),
        thousands(s.max_num_seqs),
        thousands(s.max_num_batched_tokens),
        s.block_size,
        thousands(s.kv_bytes_per_token)
    )?;
    writeln!(
        out,
        "  weights {} GiB · activation peak {} GiB · non-torch {} GiB · CUDA graphs {} GiB ({})",
        gib(s.weights_bytes),
        gib(s.activation_peak_bytes),
        gib(s.non_torch_bytes),
        gib(s.cuda_graph_bytes),
        if s.cuda_graph_counted { "budgeted before the cache" } else { "captured after the cache, outside the budget" }
    )?;
    if let (Some(kv), Some(blocks)) = (s.kv_cache_bytes, s.gpu_blocks) {
        writeln!(out, "  KV cache {} GiB = {} blocks of {} tokens", gib(kv), thousands(blocks), s.block_size)?;
    }
    if let (Some(total), Some(free)) = (s.device_total_bytes, s.free_bytes) {
        writeln!(
            out,
            "  device {} GiB; left free by the engine: {} GiB",
            gib(total),
            super::gib(u64::try_from(free.max(0)).unwrap_or(0))
        )?;
    }
    match s.verdict() {
        Some(v) => writeln!(out, "→ {v}")?,
        None => writeln!(out, "→ add --gpu for the KV tokens, the concurrency and whether it starts")?,
    }
    for a in s.advice() {
        writeln!(out, "  {a}")?;
    }
    Ok(())
}

/// `fit` for a serving engine: the verdict as asked, the limits, the plans.
pub fn serving_fit(
    m: &ResolvedModel,
    gpu: &catalog::GpuSpec,
    f: &vramfit_core::estimate::serving::plans::ServingFit,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let s = &f.as_asked;
    writeln!(out, "{} ({}) with {} {} on {}", m.name, m.origin, s.engine, s.version, gpu.label)?;
    writeln!(out, "as asked: {}", s.verdict().unwrap_or_default())?;
    let l = &f.limits;
    let num = |x: Option<u64>| x.map_or("none".to_string(), thousands);
    writeln!(out, "largest --max-model-len that starts: {}", num(l.max_model_len))?;
    writeln!(
        out,
        "largest --max-model-len with {} requests of it at once: {}",
        l.concurrency,
        num(l.max_model_len_at_concurrency)
    )?;
    writeln!(out, "requests of {} tokens at once: {}", thousands(s.max_model_len), num(l.max_concurrency))?;
    if let Some(u) = l.gpu_memory_utilization_to_start {
        writeln!(out, "starts with --gpu-memory-utilization {u:.2} or more")?;
    }
    if !f.plans.is_empty() {
        writeln!(out)?;
        writeln!(out, "plans that serve {} request(s) of max_model_len, cheapest first:", l.concurrency)?;
        for (i, p) in f.plans.iter().enumerate() {
            let flags: Vec<&str> = p.changes.iter().map(|c| c.flag.as_str()).collect();
            writeln!(out, "{:>2}. {}", i + 1, flags.join(" "))?;
            writeln!(out, "    → {}", p.report.verdict().unwrap_or_default())?;
            for c in &p.changes {
                writeln!(out, "    cost: {}", c.cost)?;
            }
        }
    } else if !f.serves {
        writeln!(out, "no single change or pair of changes serves it: a larger GPU or more GPUs are needed")?;
    }
    for n in &f.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

/// The speed section: each figure with its measured error band; with `--explain`, its basis.
fn speed(s: &Speed, w: &vramfit_core::Workload, explain: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    use vramfit_core::estimate::speed::band::ErrorBand;
    writeln!(out)?;
    writeln!(out, "speed (estimate, {} constants):", s.backend.name())?;
    let band = |b| ErrorBand::label(b);
    if let Some(t) = s.decode_tokens_per_s {
        writeln!(out, "  decode, one sequence      {t:>9.1} tokens/s   {}", band(s.error_band.decode))?;
    }
    if let (Some(t), true) = (s.decode_tokens_per_s_batch, w.batch > 1) {
        writeln!(out, "  decode, batch of {:<8} {t:>9.1} tokens/s   (all sequences)", w.batch)?;
    }
    if !s.concurrency.is_empty() {
        writeln!(out, "  aggregate decode by concurrency (all sequences; per sequence; bound):")?;
        for p in &s.concurrency {
            writeln!(
                out,
                "    {:>6} sequences  {:>9.1} tokens/s   {:>7.1} each   {}",
                p.sequences, p.tokens_per_s, p.per_sequence_tokens_per_s, p.bound
            )?;
        }
    }
    if let Some(t) = s.prefill_tokens_per_s {
        writeln!(out, "  prefill                   {t:>9.1} tokens/s   {}", band(s.error_band.prefill))?;
    }
    if let Some(t) = s.ttft_s {
        writeln!(out, "  time to first token       {t:>9.3} s")?;
    }
    if let Some(t) = s.step_s {
        writeln!(out, "  training step             {t:>9.3} s          {}", band(s.error_band.train))?;
    }
    if let Some(t) = s.train_tokens_per_s {
        writeln!(out, "  training throughput       {t:>9.1} tokens/s")?;
    }
    if explain {
        for b in &s.basis {
            writeln!(out, "  {:<26} {} {}", b.name, fmt_value(b.value), b.unit)?;
            writeln!(out, "    = {}", b.formula)?;
            writeln!(out, "      source: {}", b.source)?;
        }
    }
    Ok(())
}

/// A basis value: bytes and counts grouped, fractions and seconds with their digits.
fn fmt_value(v: f64) -> String {
    if v.abs() >= 1000.0 {
        thousands(v.round() as u64)
    } else {
        format!("{v:.4}")
    }
}

/// Signed GiB with two decimals (headroom below zero is a shortfall).
fn signed_gib(x: i128) -> String {
    let b = u64::try_from(x.unsigned_abs()).unwrap_or(u64::MAX);
    format!("{}{}", if x < 0 { "-" } else { "" }, gib(b))
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
        let params = m.spec().map_or_else(|e| format!("error: {e}"), |s| thousands(ParamCount::of(&s).total));
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
            (None, None, Some(err)) => {
                let (e, m) = match (r.estimate_tokens, r.estimate_value) {
                    (Some(t), _) => {
                        (format!("{} tok", thousands(t)), format!("{} tok", thousands(r.measured_tokens.unwrap_or(0))))
                    }
                    (None, Some(v)) => (format!("{v:.2}x"), format!("{:.2}x", r.measured_value.unwrap_or(0.0))),
                    (None, None) => ("?".into(), "?".into()),
                };
                writeln!(out, "{:<44} {:>10} {:>10} {:>+7.1}%  {}", r.id, e, m, err * 100.0, r.metric)?;
            }
            (None, Some(e), Some(err)) => writeln!(
                out,
                "{:<44} {:>7} GB {:>7} GB {:>+7.1}%  {} / {}",
                r.id,
                gb(e),
                gb(r.measured_bytes),
                err * 100.0,
                r.metric,
                r.peak_phase.map_or("", vramfit_core::Phase::name)
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

/// Plans shown without `--all`.
const PLANS_SHOWN: usize = 8;

pub fn fit(m: &ResolvedModel, r: &FitReport, all: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let a = &r.as_asked;
    let usable = r.gpu.usable_bytes;
    writeln!(
        out,
        "{} ({}) on {}: {} GiB usable per GPU, keeping {} GiB free ({} % or at least {} GiB)",
        m.name,
        m.origin,
        r.gpu.label,
        gib(usable),
        gib(a.verdict.reserve_bytes),
        fit::RESERVE_PERCENT,
        gib(fit::RESERVE_MIN_BYTES)
    )?;
    writeln!(out)?;
    writeln!(out, "as asked: {}", describe(&a.workload, m))?;
    writeln!(
        out,
        "  needs {} GiB ({} GB) per GPU → {}",
        gib(a.verdict.per_gpu_bytes),
        gb(a.verdict.per_gpu_bytes),
        verdict_words(&a.verdict)
            + if a.verdict.fits && beyond_limit(&a.breakdown.notes) {
                ", in memory only: beyond the model's position limit (see the warning)"
            } else {
                ""
            }
    )?;
    for n in r.notes.iter().chain(&a.breakdown.notes) {
        writeln!(out, "  note: {n}")?;
    }
    writeln!(out, "  limits: {}", limits_words(&a.workload, &r.limits))?;
    if let (Some(n), false) = (r.gpus.min_gpus_lower_bound, r.multi_gpu_not_modelled) {
        writeln!(
            out,
            "  GPUs: one {} is not enough; with perfect sharding at least {n} (a lower bound: plans with \
             --gpus N --zero 3 or --fsdp full give the real per-GPU numbers)",
            r.gpu.label
        )?;
    }
    if r.gpus.gpus_that_fit.is_empty() {
        writeln!(out, "  no single catalog GPU fits it as asked")?;
    } else if !a.verdict.fits {
        let list: Vec<String> =
            r.gpus.gpus_that_fit.iter().map(|g| format!("{} ({} GiB)", g.name, gib(g.usable_bytes))).collect();
        writeln!(out, "  smallest catalog GPUs that fit it as asked (no prices in the catalog): {}", list.join(", "))?;
    }
    writeln!(out)?;
    if r.plans.is_empty() {
        if a.verdict.fits {
            writeln!(out, "It fits as asked; --all lists alternatives that buy headroom.")?;
        } else {
            writeln!(out, "No plan vramfit can model makes it fit one {}.", r.gpu.label)?;
        }
    } else {
        writeln!(
            out,
            "plans that fit, best first ({}):",
            if r.prefer_speed {
                "fastest estimate first (--prefer speed)"
            } else {
                "doing what was asked first, then least quality loss, then speed"
            }
        )?;
        let shown = if all { r.plans.len() } else { r.plans.len().min(PLANS_SHOWN) };
        for (i, p) in r.plans.iter().take(shown).enumerate() {
            writeln!(out)?;
            writeln!(out, "{:>2}. {}", i + 1, p.flags())?;
            for c in &p.changes {
                writeln!(out, "    {}", c.description)?;
            }
            writeln!(
                out,
                "    {} GiB ({} GB) per GPU · {} GiB free · peak during {}",
                gib(p.verdict.per_gpu_bytes),
                gb(p.verdict.per_gpu_bytes),
                super::gib(u64::try_from(p.verdict.headroom_bytes).unwrap_or(0)),
                p.peak_phase
            )?;
            if let Some(l) = &p.limits {
                writeln!(out, "    limits: {}", limits_words(&p.workload, l))?;
            }
            if let Some(s) = p.stretch.as_ref().filter(|s| Some(&s.limits) != p.limits.as_ref()) {
                writeln!(out, "    with {} as well: {}", s.flags(), limits_words(&s.workload, &s.limits))?;
            }
            if let Some(s) = &p.speed_estimate {
                match (s.decode_tokens_per_s, s.decode_tokens_per_s_batch, s.step_s, s.train_tokens_per_s) {
                    (Some(one), Some(all), _, _) if p.workload.batch > 1 => writeln!(
                        out,
                        "    speed: ~{one:.1} tokens/s per sequence, ~{all:.1} tokens/s for the batch of {} (estimate)",
                        p.workload.batch
                    )?,
                    (Some(one), _, _, _) => writeln!(out, "    speed: ~{one:.1} tokens/s decode (estimate)")?,
                    (_, _, Some(step), Some(tps)) => {
                        writeln!(out, "    speed: ~{step:.2} s per optimizer step, ~{tps:.0} tokens/s (estimate)")?;
                    }
                    _ => {}
                }
            }
            writeln!(out, "    cost: {}", p.cost_words())?;
        }
        if shown < r.plans.len() {
            writeln!(out)?;
            writeln!(out, "{} more plans: --all lists them.", r.plans.len() - shown)?;
        }
    }
    if !r.not_chosen.is_empty() {
        writeln!(out)?;
        for n in &r.not_chosen {
            writeln!(
                out,
                "not chosen: {} ({} GiB per GPU, {}): {}",
                n.flag,
                gib(n.verdict.per_gpu_bytes),
                n.verdict.word(),
                n.why
            )?;
        }
    }
    Ok(())
}

/// The estimate warned of a context beyond the model's position limit.
fn beyond_limit(notes: &[String]) -> bool {
    notes.iter().any(|n| n.starts_with(vramfit_core::estimate::POSITION_LIMIT_WARNING))
}

fn verdict_words(v: &fit::Verdict) -> String {
    if v.fits {
        format!("FITS ({} free)", signed_both(v.headroom_bytes))
    } else if v.tight() {
        format!("TIGHT: only {} free, less than the reserve", signed_both(v.headroom_bytes))
    } else {
        format!("DOES NOT FIT (short by {})", signed_both(-v.headroom_bytes))
    }
}

fn limits_words(w: &Workload, l: &fit::Limits) -> String {
    let training = w.task == Task::Train;
    let mut parts = vec![];
    let (batch_word, ctx_word) = if training { ("micro-batch", "seq") } else { ("batch", "context") };
    if let (Some(ctx), Some(b)) = (l.batch_context, l.max_batch) {
        let concurrent = if w.task == Task::Generate { " (concurrent sequences)" } else { "" };
        parts.push(format!("max {batch_word} {}{concurrent} at {} tokens", thousands(b), thousands(ctx)));
    }
    if let Some(c) = l.max_context {
        let by_model = if l.context_limited_by_model { " (the model's position limit)" } else { "" };
        parts.push(format!("max {ctx_word} {} tokens at {batch_word} {}{by_model}", thousands(c), l.context_batch));
    }
    if parts.is_empty() {
        if l.batch_context.is_none() {
            "no batch or context to grow".into()
        } else {
            format!("none: it does not fit at {batch_word} 1 with any context")
        }
    } else {
        parts.join(" · ")
    }
}
