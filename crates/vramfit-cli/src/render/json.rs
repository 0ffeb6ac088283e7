//! JSON output (`--json`): bytes everywhere, field names as ../shared/CLI.md fixes them.

use super::EstimateReport;
use serde_json::{json, Value};
use std::io::Write;
use vramfit_core::catalog;
use vramfit_core::validate::{CaseResult, Summary};
use vramfit_core::ParamCount;
use vramfit_io::ResolvedModel;

fn emit(v: &Value, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)?;
    Ok(())
}

/// The estimate object (built in the core, so the web page returns the very same object).
pub fn estimate_value(r: &EstimateReport<'_>) -> Value {
    vramfit_core::request::estimate_value(&r.model.name, &r.model.origin, r.workload, r.breakdown, r.verdict)
}

pub fn estimate(r: &EstimateReport<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    emit(&estimate_value(r), out)
}

pub fn inspect(m: &ResolvedModel, out: &mut dyn Write) -> anyhow::Result<()> {
    let p = ParamCount::of(&m.spec);
    let dtype = m.spec.torch_dtype.unwrap_or(vramfit_core::DType::Fp16);
    let by: Vec<Value> = p
        .by_group
        .iter()
        .map(|(g, n)| json!({"name": g.name(), "params": n, "bytes": n.saturating_mul(dtype.bytes())}))
        .collect();
    emit(
        &json!({
            "model": m.name,
            "model_type": m.spec.model_type,
            "params": p.total,
            "active_params": p.active,
            "published_params": m.catalog.and_then(|c| c.params),
            "stored_dtype": m.spec.torch_dtype,
            "weight_bytes": p.total.saturating_mul(dtype.bytes()),
            "by_component": by,
            "layers": m.spec.num_layers(),
            "hidden_size": m.spec.hidden_size,
            "vocab_size": m.spec.vocab_size,
            "tied_embeddings": m.spec.tied_embeddings,
            "quantization": m.spec.quantization,
            "source": m.origin,
            "bytes_transferred": 0,
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
