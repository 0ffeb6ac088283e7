//! The operations the Python package calls: the core's request schema
//! ([`EstimateRequest`], the same JSON the web page sends) in, JSON out, with the model
//! resolved the way the CLI resolves MODEL (the catalog, a local path, a `.gguf` file, a Hub
//! repo through `vramfit-io`) unless the request carries a config. Each answer is
//! `{"ok": ...}` or `{"error": {"kind", "message"}}`; nothing panics on bad input.

use crate::failure::Failure;
use serde_json::{json, Value};
use vramfit_cli::report;
use vramfit_core::fit::sweep::SweepAxis;
use vramfit_core::fit::{self, FitOptions};
use vramfit_core::request::{self, EstimateRequest, ModelReport, RequestedModel, WorkloadRequest};
use vramfit_io::{ResolveOptions, ResolvedModel};

/// `{"ok": value}` or `{"error": {...}}`.
fn answer(r: Result<Value, Failure>) -> String {
    match r {
        Ok(v) => json!({ "ok": v }).to_string(),
        Err(f) => json!({ "error": f.value() }).to_string(),
    }
}

fn parse(input: &str) -> Result<EstimateRequest, Failure> {
    serde_json::from_str(input).map_err(|e| Failure::request(&e))
}

/// The request's model: its config when it carries one (a `dict` or a transformers config
/// from Python), else MODEL resolved as the CLI resolves it (at `revision` for a Hub id).
fn resolve(r: &EstimateRequest, revision: Option<String>) -> Result<ResolvedModel, Failure> {
    if r.config.is_some() {
        let m = r.model()?;
        return Ok(ResolvedModel {
            name: m.name,
            spec: m.spec,
            origin: m.origin,
            catalog: None,
            bytes_transferred: r.bytes_transferred,
            bytes_read: 0,
            notes: Vec::new(),
        });
    }
    Ok(vramfit_io::resolve_model_with(&r.model, ResolveOptions { revision, ..ResolveOptions::default() })?)
}

fn model_report(m: &ResolvedModel) -> ModelReport<'_> {
    ModelReport { name: &m.name, origin: &m.origin, notes: &m.notes, bytes_transferred: m.bytes_transferred }
}

/// `vramfit estimate --json` for a request: `{"report": the JSON object, "table": the table
/// the CLI prints, "explain": the table with `--explain`, "svg": the chart `--svg` writes,
/// "model_dtype": the checkpoint's dtype}`.
fn estimate_value(input: &str, revision: Option<String>) -> Result<Value, Failure> {
    let r = parse(input)?;
    // The GPU and the workload are checked before the model is read, as the CLI does, so the
    // same input fails with the same message.
    let gpu = r.workload.gpu_of(r.gpu.as_deref())?;
    r.workload.resolve(&r.model, gpu.as_ref().map(|g| g.count))?;
    let model = resolve(&r, revision)?;
    let requested = RequestedModel { name: model.name.clone(), origin: model.origin.clone(), spec: model.spec.clone() };
    let (w, b, verdict) = r.estimate_on(&requested)?;
    let speed = request::speed_of(&model.spec, &w, &b, verdict.as_ref(), r.workload.ram_bandwidth);
    Ok(json!({
        "report": request::estimate_value(&model_report(&model), &w, &b, verdict.as_ref(), speed.as_ref()),
        "table": report::estimate_text(&model, &w, &b, verdict.as_ref(), speed.as_ref(), false),
        "explain": report::estimate_text(&model, &w, &b, verdict.as_ref(), speed.as_ref(), true),
        "svg": report::estimate_svg(&model, &w, &b, verdict.as_ref()),
        "model_dtype": model.spec.torch_dtype,
    }))
}

/// [`estimate_value`] as an answer.
#[must_use]
pub fn estimate(input: &str, revision: Option<String>) -> String {
    answer(estimate_value(input, revision))
}

/// `vramfit fit --json` for a request (its GPU is required): `{"report", "table"}`.
fn fit_value(input: &str, revision: Option<String>, all: bool) -> Result<Value, Failure> {
    let r = parse(input)?;
    let Some(gpu) = r.gpu.as_deref() else {
        return Err(vramfit_core::Error::workload("--gpu", "fit needs GPUs: add one (T4, 2xA100-80GB, 24GiB)").into());
    };
    let gpu = r.workload.gpu(gpu)?;
    let w = r.workload.resolve(&r.model, Some(gpu.count))?;
    let model = resolve(&r, revision)?;
    let fitted = fit::fit(
        &model.spec,
        &w,
        &gpu,
        FitOptions { all, prefer_speed: false, ram_bandwidth: r.workload.ram_bandwidth },
    )?;
    Ok(json!({
        "report": request::fit_value(&model_report(&model), &fitted),
        "table": report::fit_text(&model, &fitted, all),
    }))
}

/// [`fit_value`] as an answer.
#[must_use]
pub fn fit(input: &str, revision: Option<String>, all: bool) -> String {
    answer(fit_value(input, revision, all))
}

/// `vramfit sweep --json` for a request over `over` (batch, seq, context) at `values` (empty:
/// the CLI's default values): `{"report", "svg"}` (the chart `--svg` writes).
fn sweep_value(input: &str, revision: Option<String>, over: &str, values: &[u64]) -> Result<Value, Failure> {
    let r = parse(input)?;
    let axis = SweepAxis::parse(over)?;
    let gpu = r.workload.gpu_of(r.gpu.as_deref())?;
    let w = r.workload.resolve(&r.model, gpu.as_ref().map(|g| g.count))?;
    let model = resolve(&r, revision)?;
    let w = report::sweep_workload(&model, w, gpu.as_ref())?;
    let points = report::sweep_points(&model, &w, axis, values, gpu.as_ref())?;
    Ok(json!({
        "report": report::sweep_json(&model, &w, axis, &points, gpu.as_ref()),
        "svg": report::sweep_svg(&model, &w, axis, &points, gpu.as_ref()),
    }))
}

/// [`sweep_value`] as an answer.
#[must_use]
pub fn sweep(input: &str, revision: Option<String>, over: &str, values: &[u64]) -> String {
    answer(sweep_value(input, revision, over, values))
}

/// The workload settings with their defaults, keyed by flag name: the keyword arguments of
/// the Python functions are these names in snake_case.
#[must_use]
pub fn workload_defaults() -> String {
    let run = || -> Result<Value, Failure> {
        let mut v = serde_json::to_value(WorkloadRequest::default()).map_err(|e| Failure::request(&e))?;
        // Settings the request leaves out of its JSON while unset are keywords too (None).
        let set = WorkloadRequest {
            other_processes_memory: Some(String::new()),
            ram_bandwidth: Some(0.0),
            wired_limit_mb: Some(0),
            ..WorkloadRequest::default()
        };
        if let (Value::Object(all), Ok(Value::Object(with_set))) = (&mut v, serde_json::to_value(set)) {
            for key in with_set.keys() {
                all.entry(key.clone()).or_insert(Value::Null);
            }
        }
        Ok(v)
    };
    answer(run())
}

/// Run the command line on `argv` (without the program name), capturing what it writes:
/// `(exit code, stdout, stderr)`.
#[must_use]
pub fn cli_output(argv: &[String]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = std::iter::once("vramfit".to_string()).chain(argv.iter().cloned());
    let code = vramfit_cli::run_with(args, &mut out, &mut err);
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn estimate_is_the_core_request() {
        let input = r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp16"}}"#;
        let a = parsed(&estimate(input, None));
        let b = serde_json::from_str::<EstimateRequest>(input).unwrap().run().unwrap();
        assert_eq!(a["ok"]["report"], b);
        assert!(a["ok"]["explain"].as_str().unwrap().contains("kv_cache"));
    }

    #[test]
    fn a_config_in_the_request_is_read_without_io() {
        let m = vramfit_core::catalog::find_model("llama-7b").unwrap();
        let req = json!({
            "model": "mine",
            "config": m.config_text().unwrap(),
            "origin": "dict",
            "bytes_transferred": 7,
            "gpu": "T4",
        });
        let a = parsed(&estimate(&req.to_string(), None));
        let r = &a["ok"]["report"];
        assert_eq!((&r["model"], &r["origin"], &r["bytes_transferred"]), (&json!("mine"), &json!("dict"), &json!(7)));
        let b = parsed(&estimate(r#"{"model":"llama-7b","gpu":"T4"}"#, None));
        assert_eq!(r["levels"], b["ok"]["report"]["levels"]);
        assert_eq!(a["ok"]["model_dtype"], b["ok"]["model_dtype"]);
        let bad = json!({"model": "mine", "config": "{\"model_type\": \"llama\"}"});
        assert_eq!(parsed(&estimate(&bad.to_string(), None))["error"]["kind"], "input");
    }

    #[test]
    fn errors_are_sorted_and_name_the_flag() {
        let e = parsed(&estimate(r#"{"model":"llama-7b","workload":{"batch":0}}"#, None));
        assert_eq!(e["error"]["kind"], "input");
        assert!(e["error"]["message"].as_str().unwrap().starts_with("--batch"), "{e}");
        let e = parsed(&estimate(r#"{"model":"llama-7b","workload":{"lora_rank":4}}"#, None));
        assert!(e["error"]["message"].as_str().unwrap().starts_with("request: unknown field"), "{e}");
        let e = parsed(&fit(r#"{"model":"llama-7b"}"#, None, false));
        assert!(e["error"]["message"].as_str().unwrap().starts_with("--gpu"), "{e}");
        let e = parsed(&sweep(r#"{"model":"llama-7b"}"#, None, "heads", &[]));
        assert_eq!(e["error"]["kind"], "input");
        for input in ["", "{", "[]", "\u{0}"] {
            assert_eq!(parsed(&estimate(input, None))["error"]["kind"], "input", "{input}");
        }
        let offline = Failure::from(vramfit_io::IoError::Hub { what: "a/b".into(), reason: "down".into() });
        assert_eq!(offline, Failure::Hub("a/b: down".into()));
    }

    #[test]
    fn fit_and_sweep_are_the_cli_objects() {
        let f = parsed(&fit(r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp32"}}"#, None, false));
        assert_eq!(f["ok"]["report"]["as_asked"]["fits"], json!(false));
        assert!(!f["ok"]["report"]["plans"].as_array().unwrap().is_empty());
        let s = parsed(&sweep(r#"{"model":"llama-7b","gpu":"T4"}"#, None, "batch", &[1, 2]));
        assert_eq!(s["ok"]["report"]["points"].as_array().unwrap().len(), 2);
        assert!(s["ok"]["svg"].as_str().unwrap().starts_with("<svg"));
    }

    #[test]
    fn the_cli_runs_in_process() {
        let (code, out, _) = cli_output(&["gpus".into(), "--json".into()]);
        assert_eq!(code, 0);
        assert!(out.contains("\"T4\""));
        let (code, _, err) = cli_output(&["estimate".into(), "llama-7b".into(), "--batch".into(), "0".into()]);
        assert_eq!(code, 2);
        assert!(err.starts_with("error: --batch"), "{err}");
        assert_eq!(parsed(&workload_defaults())["ok"]["lora-rank"], json!(8));
    }
}
