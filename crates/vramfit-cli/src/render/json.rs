//! JSON output (`--json`): bytes everywhere, field names as ../shared/CLI.md fixes them.

use super::EstimateReport;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write;
use vramfit_core::catalog;
use vramfit_core::fit;
use vramfit_core::validate::{CaseResult, Summary};
use vramfit_core::ParamCount;
use vramfit_io::ResolvedModel;

pub fn emit(v: &Value, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)?;
    Ok(())
}

/// The estimate object (the core's report, so the web page returns the very same object),
/// with the CPU RAM verdict and the GPUs compared.
pub fn estimate_value(r: &EstimateReport<'_>) -> Value {
    use vramfit_core::reports::{CompareJson, EstimateJson, RamJson};
    use vramfit_core::request::ModelReport;
    let model = ModelReport {
        name: &r.model.name,
        origin: &r.model.origin,
        notes: &r.model.notes,
        bytes_transferred: r.model.bytes_transferred,
    };
    let mut report = EstimateJson::new(&model, r.workload, r.breakdown, r.verdict, r.speed);
    report.ram = r.ram.map(RamJson::from);
    report.compare =
        r.compare.iter().map(|c| CompareJson::new(&c.label, c.verdict.as_ref().map_err(String::as_str))).collect();
    report.value()
}

pub fn estimate(r: &EstimateReport<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    emit(&estimate_value(r), out)
}

pub fn inspect(m: &ResolvedModel, out: &mut dyn Write) -> anyhow::Result<()> {
    let p = ParamCount::of(&m.spec);
    let dtype = m.spec.torch_dtype.unwrap_or(vramfit_core::DType::Fp16);
    let ck = m.spec.checkpoint.as_ref();
    let by: Vec<Value> = match ck {
        Some(ck) => ck
            .by_group
            .iter()
            .map(
                |g| json!({"name": g.group.name(), "params": p.group(g.group), "tensors": g.tensors, "bytes": g.bytes}),
            )
            .collect(),
        None => p
            .by_group
            .iter()
            .map(|(g, n)| json!({"name": g.name(), "params": n, "bytes": n.saturating_mul(dtype.bytes())}))
            .collect(),
    };
    emit(
        &json!({
            "model": m.name,
            "model_type": m.spec.model_type,
            "params": p.total,
            "active_params": p.active,
            "published_params": m.catalog.and_then(|c| c.params),
            "stored_dtype": m.spec.torch_dtype,
            "stored_dtypes": ck.map(|c| &c.by_dtype),
            "weight_bytes": ck.map_or(p.total.saturating_mul(dtype.bytes()), |c| c.bytes),
            "weight_bytes_source": if ck.is_some() { "checkpoint headers (exact)" } else { "parameters × stored dtype" },
            "by_component": by,
            "layers": m.spec.num_layers(),
            "hidden_size": m.spec.hidden_size,
            "vocab_size": m.spec.vocab_size,
            "tied_embeddings": m.spec.tied_embeddings,
            "quantization": m.spec.quantization,
            "checkpoint": ck.map(|c| json!({
                "format": c.format,
                "files": c.files,
                "tensors": c.tensors,
                "elements": c.elements,
                "bytes": c.bytes,
                "largest_tensor_bytes": c.largest_tensor,
                "metadata": c.metadata,
                "source": c.source,
            })),
            "source": m.origin,
            "bytes_transferred": m.bytes_transferred,
            "bytes_read": m.bytes_read,
            "notes": m.notes,
        }),
        out,
    )
}

pub fn models(out: &mut dyn Write) -> anyhow::Result<()> {
    let list: Vec<Value> = catalog::models()
        .iter()
        .map(|m| {
            let computed = m.spec().ok().map(|s| ParamCount::of(&s).total);
            json!({"name": m.name, "hf_id": m.hf_id, "aliases": m.aliases, "family": m.family, "params": computed, "published_params": m.params, "source": m.source})
        })
        .collect();
    emit(&Value::Array(list), out)
}

pub fn gpus(out: &mut dyn Write) -> anyhow::Result<()> {
    emit(&serde_json::to_value(catalog::gpus())?, out)
}

pub fn validate(results: &[CaseResult], s: &Summary, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut v = json!({"cases": results, "summary": s});
    if results.iter().any(|r| r.task == "serve") {
        // Serving cases measure different things (bytes, tokens, a ratio): each metric on its own.
        let mut by_metric = serde_json::Map::new();
        let mut metrics: Vec<&str> = results.iter().map(|r| r.metric.as_str()).collect();
        metrics.sort_unstable();
        metrics.dedup();
        for m in metrics {
            let members: Vec<CaseResult> = results.iter().filter(|r| r.metric == m).cloned().collect();
            by_metric.insert(m.to_string(), json!(vramfit_core::validate::summarize(&members)));
        }
        v["by_metric"] = Value::Object(by_metric);
    }
    emit(&v, out)
}

/// Signed byte counts as JSON numbers: saturated to 64 bits (estimates saturate at u64::MAX
/// for absurd inputs, and serde_json has no 128-bit numbers).
fn sat(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// The fit object: CLI.md's `as_asked`, `plans`, `limits`, and more (built in the core, so
/// the web page returns the very same object).
pub fn fit_value(m: &ResolvedModel, r: &fit::FitReport) -> Value {
    let model = vramfit_core::request::ModelReport {
        name: &m.name,
        origin: &m.origin,
        notes: &m.notes,
        bytes_transferred: m.bytes_transferred,
    };
    vramfit_core::request::fit_value(&model, r)
}

pub fn fit(m: &ResolvedModel, r: &fit::FitReport, out: &mut dyn Write) -> anyhow::Result<()> {
    emit(&fit_value(m, r), out)
}

/// A component of a sweep point: its name, bytes and level.
#[derive(Serialize)]
struct SweepComponentJson {
    name: std::borrow::Cow<'static, str>,
    bytes: u64,
    level: vramfit_core::Level,
}

/// One point of a sweep: its estimate (with the verdict when a GPU is given), or its error.
#[derive(Serialize)]
#[serde(untagged)]
enum SweepPointJson<'a> {
    Estimate {
        value: u64,
        total_bytes: u64,
        levels: &'a vramfit_core::Levels,
        host_bytes: u64,
        peak_phase: &'a vramfit_core::Phase,
        components: Vec<SweepComponentJson>,
        #[serde(skip_serializing_if = "Option::is_none")]
        fits: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        headroom_bytes: Option<i64>,
    },
    Failed {
        value: u64,
        error: String,
    },
}

/// The GPU line of a sweep.
#[derive(Serialize)]
struct SweepGpuJson<'a> {
    label: &'a str,
    count: u64,
    usable_bytes: u64,
    reserve_bytes: u64,
}

/// The sweep object (`vramfit sweep --json`).
#[derive(Serialize)]
struct SweepJson<'a> {
    model: &'a str,
    origin: &'a str,
    over: &'static str,
    axis_label: &'static str,
    workload: &'a vramfit_core::Workload,
    gpu: Option<SweepGpuJson<'a>>,
    points: Vec<SweepPointJson<'a>>,
}

/// The sweep object: one entry per point, bytes everywhere.
pub fn sweep_value(r: &super::SweepReport<'_>) -> Value {
    let points = r
        .points
        .iter()
        .map(|p| match &p.outcome {
            Ok(b) => {
                let verdict = r.gpu.map(|g| fit::Verdict::new(b.total_bytes(), g.usable_bytes));
                SweepPointJson::Estimate {
                    value: p.value,
                    total_bytes: b.total_bytes(),
                    levels: &b.levels,
                    host_bytes: b.host_bytes,
                    peak_phase: &b.peak_phase,
                    components: b
                        .components
                        .iter()
                        .map(|c| SweepComponentJson { name: c.label(), bytes: c.bytes, level: c.level })
                        .collect(),
                    fits: verdict.map(|v| v.fits),
                    headroom_bytes: verdict.map(|v| sat(v.headroom_bytes)),
                }
            }
            Err(e) => SweepPointJson::Failed { value: p.value, error: e.to_string() },
        })
        .collect();
    vramfit_core::reports::value(&SweepJson {
        model: &r.model.name,
        origin: &r.model.origin,
        over: r.axis.name(),
        axis_label: super::axis_label(r.axis, r.workload),
        workload: r.workload,
        gpu: r.gpu.map(|g| SweepGpuJson {
            label: &g.label,
            count: g.count,
            usable_bytes: g.usable_bytes,
            reserve_bytes: fit::reserve_bytes(g.usable_bytes),
        }),
        points,
    })
}

pub fn sweep(r: &super::SweepReport<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    emit(&sweep_value(r), out)
}
