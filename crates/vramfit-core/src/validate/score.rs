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
    pub peak_phase: Option<String>,
    /// Speed cases: the estimate of the measured figure (tokens/s or seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_value: Option<f64>,
    /// Speed cases: the measured figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_value: Option<f64>,
    /// Speed cases: the backend whose constants were used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Speed cases: the inputs of the estimate (what `validation/speed/fit.py` refits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<Vec<crate::estimate::speed::Basis>>,
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
    let measured =
        if case.measured.bytes.is_finite() && case.measured.bytes > 0.0 { case.measured.bytes as u64 } else { 0 };
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
        estimate_value: None,
        measured_value: None,
        backend: None,
        basis: None,
    };
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
            r.peak_phase = Some(b.peak_phase.clone());
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
        Some((abs[abs.len() / 2 - 1] + abs[abs.len() / 2]) / 2.0)
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
