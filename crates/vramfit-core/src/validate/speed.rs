//! Speed cases: a measured tokens/s or step time (`measured.value`, named by
//! `measured.metric`) against the speed estimate of the same run on the case's GPU.

use super::case::Case;
use super::score::CaseResult;
use crate::catalog::find_gpu;
use crate::estimate::profile::llamacpp::build_from_text;
use crate::estimate::runtime::RuntimeVersion;
use crate::estimate::speed::{estimate_speed, Backend, Speed, SpeedDevice};
use crate::estimate::{Breakdown, Workload};
use crate::model::ModelSpec;

/// The metrics a speed case can measure.
pub const SPEED_METRICS: &[&str] = &[
    "decode_tokens_per_s",
    "decode_tokens_per_s_batch",
    "prefill_tokens_per_s",
    "ttft_s",
    "step_s",
    "train_tokens_per_s",
];

/// The workload of a speed case: the memory case's, with llama.cpp's `-ngl` when given.
///
/// # Errors
/// A reason to skip the case.
pub fn speed_workload(case: &Case) -> Result<Workload, String> {
    let mut w = case.workload()?;
    if let Some(ngl) = case.speed.as_ref().and_then(|s| s.n_gpu_layers) {
        w.llama_cpp.n_gpu_layers = Some(ngl);
    }
    // A llama.cpp case measured on a stated build (`llama.cpp May 2024`, `b1618`) runs that
    // build's behaviours (what -ngl counts, the decode kernels' ceiling).
    if w.runtime_version.is_none() && w.profile().inference.llamacpp.is_some() {
        let build = case.speed.as_ref().and_then(|s| s.build.as_deref()).and_then(build_from_text);
        w.runtime_version = build.map(|b| RuntimeVersion::new(b, 0));
    }
    Ok(w)
}

fn pick(s: &Speed, metric: &str) -> Option<f64> {
    match metric {
        "decode_tokens_per_s" => s.decode_tokens_per_s,
        "decode_tokens_per_s_batch" => s.decode_tokens_per_s_batch,
        "prefill_tokens_per_s" => s.prefill_tokens_per_s,
        "ttft_s" => s.ttft_s,
        "step_s" => s.step_s,
        "train_tokens_per_s" => s.train_tokens_per_s,
        _ => None,
    }
}

fn estimate_value(case: &Case, spec: &ModelSpec, w: &Workload, b: &Breakdown) -> Result<(f64, Speed), String> {
    let metric = case.measured.metric.as_str();
    if !SPEED_METRICS.contains(&metric) {
        return Err(format!("metric {metric:?} is not a speed; use one of {}", SPEED_METRICS.join(", ")));
    }
    let name = case.gpu.as_deref().ok_or("speed cases need a catalog GPU")?;
    let gpu = find_gpu(name).map_err(|e| e.to_string())?;
    let setup = case.speed.clone().unwrap_or_default();
    let backend = match setup.backend.as_deref() {
        Some(n) => Some(Backend::parse(n).ok_or_else(|| format!("unknown speed backend {n:?}"))?),
        None => None,
    };
    let count = case.parallel.as_ref().and_then(|p| p.gpus).unwrap_or(1);
    let dev = SpeedDevice { gpu, count, ram_bandwidth_gb_s: setup.ram_bandwidth_gb_s, backend };
    let s = estimate_speed(spec, w, b, &dev).ok_or("no speed for this task")?;
    let v = pick(&s, metric).ok_or_else(|| format!("no {metric} estimate for this GPU (catalog lacks a figure)"))?;
    Ok((v, s))
}

/// Score a speed case: `estimate / measured − 1` of the figure its metric names.
#[must_use]
pub fn score_speed_case(case: &Case, estimated: Result<(&ModelSpec, &Workload, &Breakdown), String>) -> CaseResult {
    let measured = case.measured.value.filter(|v| v.is_finite() && *v > 0.0);
    let mut r = super::score_case(case, Err(String::new()));
    r.skipped = None;
    r.measured_value = measured;
    r.gpus = case.parallel.as_ref().and_then(|p| p.gpus).unwrap_or(1);
    match (estimated, measured) {
        (Err(e), _) => r.skipped = Some(e),
        (Ok(_), None) => r.skipped = Some("measured value missing or not positive".into()),
        (Ok((spec, w, b)), Some(m)) => match estimate_value(case, spec, w, b) {
            Ok((v, s)) => {
                r.estimate_value = Some(v);
                r.error = Some(v / m - 1.0);
                r.backend = Some(s.backend.name().to_string());
                r.basis = Some(s.basis);
            }
            Err(e) => r.skipped = Some(e),
        },
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find_model;

    fn case(metric: &str, value: f64, gpu: &str) -> Case {
        serde_json::from_value(serde_json::json!({
            "id": "t", "model": {"name": "llama-2-7b", "config_file": "x"}, "runtime": "llama.cpp",
            "task": "generate", "weights": {"dtype": "float16", "quant": "q4_0"},
            "inference": {"batch_size": 1, "prompt_tokens": 1, "new_tokens": 128},
            "gpu": gpu, "measured": {"value": value, "metric": metric}
        }))
        .unwrap()
    }

    #[test]
    fn a_decode_case_is_scored_on_its_figure() {
        let spec = find_model("llama-2-7b").unwrap().spec().unwrap();
        let c = case("decode_tokens_per_s", 100.0, "RTX-4090");
        let w = speed_workload(&c).unwrap();
        let b = crate::estimate(&spec, &w).unwrap();
        let r = score_speed_case(&c, Ok((&spec, &w, &b)));
        let est = r.estimate_value.unwrap();
        assert!(est > 50.0 && est < 300.0, "{est}");
        assert!((r.error.unwrap() - (est / 100.0 - 1.0)).abs() < 1e-12);
        assert_eq!(r.backend.as_deref(), Some("llama.cpp-cuda"));
        // A bare size has no bandwidth; an unknown metric is refused with the list.
        assert!(score_speed_case(&case("decode_tokens_per_s", 1.0, "24GiB"), Ok((&spec, &w, &b))).skipped.is_some());
        let bad = score_speed_case(&case("joules", 1.0, "RTX-4090"), Ok((&spec, &w, &b)));
        assert!(bad.skipped.unwrap().contains("decode_tokens_per_s"));
    }
}
