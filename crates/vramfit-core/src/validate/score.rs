//! Scoring: `estimate / measured - 1` per case (negative = under-estimate, the dangerous
//! direction), median and 90th percentile of the absolute error, under-estimates past 10 %.

use super::case::{Case, MetricLevel};
use crate::estimate::{Breakdown, Level};
use serde::Serialize;

/// One case's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Task.
    pub task: String,
    /// Runtime.
    pub runtime: String,
    /// Metric measured.
    pub metric: String,
    /// GPUs the case ran on.
    pub gpus: u64,
    /// Estimate on the measured level (None when skipped).
    pub estimate_bytes: Option<u64>,
    /// Measured bytes.
    pub measured_bytes: u64,
    /// Signed relative error.
    pub error: Option<f64>,
    /// Why it was skipped, or None.
    pub skipped: Option<String>,
    /// Phase of the estimated peak.
    pub peak_phase: Option<crate::Phase>,
    /// Serving cases that count tokens: the estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_tokens: Option<u64>,
    /// Serving cases that count tokens: the measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_tokens: Option<u64>,
    /// Serving cases that measure a ratio (max concurrency): the estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_value: Option<f64>,
    /// Serving cases that measure a ratio: the measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_value: Option<f64>,
    /// Speed cases: the backend whose constants were used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Speed cases: the inputs of the estimate (what `validation/speed/fit.py` refits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<Vec<crate::estimate::speed::Basis>>,
}

/// What a case measured: bytes, a token count or a ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Quantity {
    Bytes(u64),
    Tokens(u64),
    Value(f64),
}

/// The figure a serving case names, from the estimate (`None` when the estimate has no such
/// figure, with the reason).
fn serving_figure(case: &Case, b: &Breakdown) -> std::result::Result<Quantity, String> {
    let metric = case.measured.metric.as_str();
    if metric.starts_with("llamacpp_") {
        // The buffer line of the device the case names (a GPU, or the host's CPU /
        // CPU_Mapped / CUDA_Host buffers).
        let device = case.measured.device.as_deref().unwrap_or("CUDA0");
        return crate::estimate::llamacpp::log_figure(b, metric, device)
            .map(Quantity::Bytes)
            .ok_or_else(|| format!("metric {metric} on {device} is not modelled"));
    }
    if metric.starts_with("ollama_") {
        let o = b.ollama.as_ref().ok_or("the estimate has no Ollama report")?;
        return o.log_figure(metric).map(Quantity::Bytes).ok_or_else(|| format!("metric {metric} is not modelled"));
    }
    let s = b.serving.as_ref().ok_or("the estimate has no serving report")?;
    // Byte figures are per GPU of the worker whose line is quoted: rank 0 unless noted.
    let rank0 = s.ranks.first();
    let metric = metric.split_once('_').map_or(metric, |(_, m)| m);
    Ok(match metric {
        "weights" => Quantity::Bytes(rank0.map_or(s.weights_bytes, |r| r.weights_bytes)),
        "activation_peak" => Quantity::Bytes(rank0.map_or(s.activation_peak_bytes, |r| r.activation_peak_bytes)),
        "non_torch" => Quantity::Bytes(rank0.map_or(s.non_torch_bytes, |r| r.non_torch_bytes)),
        "kv_cache" | "kv_pool" => Quantity::Bytes(rank0.map_or(s.kv_cache_bytes.unwrap_or(0), |r| r.kv_cache_bytes)),
        "cuda_graph" => Quantity::Bytes(s.cuda_graph_bytes),
        "kv_tokens" | "max_total_num_tokens" => {
            Quantity::Tokens(s.kv_tokens.ok_or("no device total: KV tokens unknown")?)
        }
        "max_concurrency" => Quantity::Value(s.max_concurrency.ok_or("no device total: concurrency unknown")?),
        other => return Err(format!("metric {other} is not modelled")),
    })
}

/// Aggregate over the estimated cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Cases estimated.
    pub n: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Median absolute error.
    pub median_abs_error: Option<f64>,
    /// 90th percentile absolute error.
    pub p90_abs_error: Option<f64>,
    /// Largest absolute error.
    pub max_abs_error: Option<f64>,
    /// Under-estimates beyond 10 %.
    pub under_10: usize,
    /// Under-estimates beyond 15 %.
    pub under_15: usize,
}

/// Score one case against its estimate (or skip reason).
#[must_use]
pub fn score_case(case: &Case, estimate: std::result::Result<&Breakdown, String>) -> CaseResult {
    let positive = |x: Option<f64>| x.filter(|v| v.is_finite() && *v > 0.0);
    let measured = positive(case.measured.bytes).map_or(0, |b| b as u64);
    let mut r = CaseResult {
        id: case.id.clone(),
        task: case.task.clone(),
        runtime: case.runtime.clone(),
        metric: case.measured.metric.clone(),
        gpus: case.parallel.as_ref().and_then(|p| p.gpus).unwrap_or(1),
        estimate_bytes: None,
        measured_bytes: measured,
        error: None,
        skipped: None,
        peak_phase: None,
        estimate_tokens: None,
        measured_tokens: positive(case.measured.tokens).map(|t| t as u64),
        estimate_value: None,
        measured_value: positive(case.measured.value),
        backend: None,
        basis: None,
    };
    if case.task == "serve" {
        match estimate.and_then(|b| serving_figure(case, b).map(|q| (q, b))) {
            Err(reason) => r.skipped = Some(reason),
            Ok((q, b)) => {
                r.peak_phase = Some(b.peak_phase);
                let (est, meas) = match q {
                    Quantity::Bytes(e) => {
                        r.estimate_bytes = Some(e);
                        (e as f64, positive(case.measured.bytes))
                    }
                    Quantity::Tokens(e) => {
                        r.estimate_tokens = Some(e);
                        (e as f64, positive(case.measured.tokens))
                    }
                    Quantity::Value(e) => {
                        r.estimate_value = Some(e);
                        (e, positive(case.measured.value))
                    }
                };
                match meas {
                    Some(m) => r.error = Some(est / m - 1.0),
                    None => r.skipped = Some("the measured figure is missing or not positive".into()),
                }
            }
        }
        return r;
    }
    match estimate {
        Err(reason) => r.skipped = Some(reason),
        Ok(_) if measured == 0 => r.skipped = Some("measured bytes missing or not positive".into()),
        Ok(b) => {
            let est = match case.metric_level() {
                MetricLevel::Level(l) => b.levels.get(l),
                MetricLevel::AllocatedPlusContext => b
                    .levels
                    .allocated
                    .saturating_add(b.components.iter().filter(|c| c.level == Level::Device).map(|c| c.bytes).sum()),
            };
            r.estimate_bytes = Some(est);
            r.error = Some(est as f64 / measured as f64 - 1.0);
            r.peak_phase = Some(b.peak_phase);
        }
    }
    r
}

/// Percentile by nearest rank on sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Summarize results.
#[must_use]
pub fn summarize(results: &[CaseResult]) -> Summary {
    let errors: Vec<f64> = results.iter().filter_map(|r| r.error).collect();
    let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let median = if abs.is_empty() {
        None
    } else if abs.len() % 2 == 1 {
        Some(abs[abs.len() / 2])
    } else {
        Some(f64::midpoint(abs[abs.len() / 2 - 1], abs[abs.len() / 2]))
    };
    Summary {
        n: errors.len(),
        skipped: results.len() - errors.len(),
        median_abs_error: median,
        p90_abs_error: percentile(&abs, 0.9),
        max_abs_error: abs.last().copied(),
        under_10: errors.iter().filter(|&&e| e < -0.10).count(),
        under_15: errors.iter().filter(|&&e| e < -0.15).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(e: f64) -> CaseResult {
        CaseResult {
            id: String::new(),
            task: String::new(),
            runtime: String::new(),
            metric: String::new(),
            gpus: 1,
            estimate_bytes: Some(1),
            measured_bytes: 1,
            error: Some(e),
            skipped: None,
            peak_phase: None,
            estimate_tokens: None,
            measured_tokens: None,
            estimate_value: None,
            measured_value: None,
            backend: None,
            basis: None,
        }
    }

    #[test]
    fn statistics() {
        let s = summarize(&[res(0.1), res(-0.2), res(0.05), res(-0.12)]);
        assert_eq!(s.n, 4);
        assert!((s.median_abs_error.unwrap() - 0.11).abs() < 1e-12);
        assert_eq!(s.under_10, 2);
        assert_eq!(s.under_15, 1);
        assert!((s.p90_abs_error.unwrap() - 0.2).abs() < 1e-12);
    }
}
