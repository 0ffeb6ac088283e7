//! JSON output (`--json`): bytes everywhere, field names as ../shared/CLI.md fixes them.

use super::EstimateReport;
use serde_json::{json, Value};
use std::io::Write;
use vramfit_core::catalog;
use vramfit_core::fit;
use vramfit_core::validate::{CaseResult, Summary};
use vramfit_core::ParamCount;
use vramfit_io::ResolvedModel;

fn emit(v: &Value, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)?;
    Ok(())
}

/// The estimate object (also used by tests and, later, the web page).
pub fn estimate_value(r: &EstimateReport<'_>) -> Value {
    let b = r.breakdown;
    let mut v = json!({
        "model": r.model.name,
        "origin": r.model.origin,
        "workload": r.workload,
        "total_bytes": b.total_bytes(),
        "levels": b.levels,
        "components": b.components,
        "peak_phase": b.peak_phase,
        "host_bytes": b.host_bytes,
        "notes": r.model.notes.iter().chain(&b.notes).collect::<Vec<_>>(),
        "bytes_transferred": r.model.bytes_transferred,
    });
    if let Some(verdict) = r.verdict {
        v["gpu"] =
            json!({"label": verdict.gpu.label, "count": verdict.gpu.count, "usable_bytes": verdict.gpu.usable_bytes});
        v["fits"] = json!(verdict.fits);
        v["headroom_bytes"] = json!(sat(verdict.headroom_bytes));
        v["reserve_bytes"] = json!(verdict.reserve_bytes);
        v["per_gpu_bytes"] = json!(verdict.needed_per_gpu);
    }
    v
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
    emit(&json!({"cases": results, "summary": s}), out)
}

/// Signed byte counts as JSON numbers: saturated to 64 bits (estimates saturate at u64::MAX
/// for absurd inputs, and serde_json has no 128-bit numbers).
fn sat(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

fn verdict_value(v: &fit::Verdict) -> Value {
    json!({
        "fits": v.fits,
        "tight": v.tight(),
        "per_gpu_bytes": v.per_gpu_bytes,
        "headroom_bytes": sat(v.headroom_bytes),
        "reserve_bytes": v.reserve_bytes,
    })
}

fn limits_value(w: &vramfit_core::Workload, l: &fit::Limits) -> Value {
    json!({
        "max_batch": l.max_batch,
        "max_batch_context": l.batch_context,
        "max_concurrent_sequences": if w.task == vramfit_core::Task::Generate { json!(l.max_batch) } else { Value::Null },
        "max_context": l.max_context,
        "max_context_batch": l.context_batch,
        "model_max_context": l.model_max_context,
        "context_limited_by_model": l.context_limited_by_model,
    })
}

/// The fit object: CLI.md's `as_asked`, `plans`, `limits`, and more.
pub fn fit_value(m: &ResolvedModel, r: &fit::FitReport) -> Value {
    let a = &r.as_asked;
    let mut as_asked = verdict_value(&a.verdict);
    as_asked["workload"] = json!(a.workload);
    as_asked["peak_phase"] = json!(a.breakdown.peak_phase);
    as_asked["components"] = json!(a.breakdown.components);
    as_asked["notes"] = json!(a.breakdown.notes);
    let plans: Vec<Value> =
        r.plans
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut v = verdict_value(&p.verdict);
                v["rank"] = json!(i + 1);
                v["flags"] = json!(p.flags());
                v["changes"] = json!(p.changes);
                v["cost"] = json!(p.cost_words());
                v["severity"] = json!({"scope": p.scope, "quality": p.quality, "speed": p.speed});
                v["peak_phase"] = json!(p.peak_phase);
                v["limits"] = p.limits.as_ref().map_or(Value::Null, |l| limits_value(&p.workload, l));
                v["stretch"] = p.stretch.as_ref().map_or(Value::Null, |s| {
                json!({"flags": s.flags(), "changes": s.changes, "limits": limits_value(&s.workload, &s.limits)})
            });
                v["workload"] = json!(p.workload);
                v
            })
            .collect();
    let mut limits = limits_value(&a.workload, &r.limits);
    limits["min_gpus"] = json!(r.gpus.min_gpus);
    limits["min_gpus_lower_bound"] = json!(r.gpus.min_gpus_lower_bound);
    limits["multi_gpu_modelled"] = json!(false);
    limits["gpus_that_fit"] = json!(r
        .gpus
        .gpus_that_fit
        .iter()
        .map(
            |g| json!({"name": g.name, "usable_bytes": g.usable_bytes, "headroom_bytes": sat(g.verdict.headroom_bytes)})
        )
        .collect::<Vec<_>>());
    json!({
        "model": m.name,
        "origin": m.origin,
        "gpu": {
            "label": r.gpu.label,
            "count": r.gpu.count,
            "usable_bytes": r.gpu.usable_bytes,
            "reserve_bytes": a.verdict.reserve_bytes,
            "capabilities": r.capabilities,
        },
        "as_asked": as_asked,
        "plans": plans,
        "limits": limits,
        "not_chosen": r.not_chosen.iter().map(|n| {
            let mut v = verdict_value(&n.verdict);
            v["flag"] = json!(n.flag);
            v["why"] = json!(n.why);
            v
        }).collect::<Vec<_>>(),
        "notes": r.notes,
        "multi_gpu_not_modelled": r.multi_gpu_not_modelled,
        "estimates": r.estimates,
        "truncated": r.truncated,
    })
}

pub fn fit(m: &ResolvedModel, r: &fit::FitReport, out: &mut dyn Write) -> anyhow::Result<()> {
    emit(&fit_value(m, r), out)
}

/// The sweep object: one entry per point, bytes everywhere.
pub fn sweep_value(r: &super::SweepReport<'_>) -> Value {
    let points: Vec<Value> = r
        .points
        .iter()
        .map(|p| match &p.outcome {
            Ok(b) => {
                let mut v = json!({
                    "value": p.value,
                    "total_bytes": b.total_bytes(),
                    "levels": b.levels,
                    "host_bytes": b.host_bytes,
                    "peak_phase": b.peak_phase,
                    "components": b.components.iter().map(|c| json!({"name": c.name, "bytes": c.bytes, "level": c.level})).collect::<Vec<_>>(),
                });
                if let Some(g) = r.gpu {
                    let verdict = fit::Verdict::new(b.total_bytes(), g.usable_bytes);
                    v["fits"] = json!(verdict.fits);
                    v["headroom_bytes"] = json!(sat(verdict.headroom_bytes));
                }
                v
            }
            Err(e) => json!({"value": p.value, "error": e.to_string()}),
        })
        .collect();
    json!({
        "model": r.model.name,
        "origin": r.model.origin,
        "over": r.axis.name(),
        "axis_label": super::axis_label(r.axis, r.workload),
        "workload": r.workload,
        "gpu": r.gpu.map(|g| json!({"label": g.label, "count": g.count, "usable_bytes": g.usable_bytes, "reserve_bytes": fit::reserve_bytes(g.usable_bytes)})),
        "points": points,
    })
}

pub fn sweep(r: &super::SweepReport<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    emit(&sweep_value(r), out)
}
