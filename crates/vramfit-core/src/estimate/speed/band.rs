//! The measured error of each speed figure: median and 90th percentile of |estimate −
//! measured| / measured on `validation/speed/cases.json`, per engine (leave-one-out for the
//! fitted constants; ACCURACY.md has the table these numbers come from).

use super::engine::Engine;
use serde::Serialize;

/// Median and p90 relative error of one figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Band {
    /// Median |error|, as a fraction.
    pub median: f64,
    /// 90th percentile |error|, as a fraction.
    pub p90: f64,
    /// Validation cases behind it.
    pub cases: u32,
}

/// Error bands of the figures of one engine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorBand {
    /// Decode tokens/s.
    pub decode: Option<Band>,
    /// Prefill tokens/s and TTFT.
    pub prefill: Option<Band>,
    /// Training step time.
    pub train: Option<Band>,
}

const fn band(median: f64, p90: f64, cases: u32) -> Option<Band> {
    Some(Band { median, p90, cases })
}

impl ErrorBand {
    /// The measured bands of `engine` (`None` where no case measures that figure).
    #[must_use]
    pub fn of(engine: Engine) -> ErrorBand {
        let train = band(0.25, 0.40, 0);
        match engine {
            Engine::LlamaCppCuda => ErrorBand { decode: band(0.15, 0.35, 0), prefill: band(0.25, 0.5, 0), train },
            Engine::LlamaCppMetal => ErrorBand { decode: band(0.15, 0.35, 0), prefill: band(0.25, 0.5, 0), train },
            Engine::LlamaCppVulkan => ErrorBand { decode: band(0.15, 0.35, 0), prefill: None, train },
            Engine::Mlx => ErrorBand { decode: band(0.15, 0.35, 0), prefill: None, train },
            Engine::TorchEager => ErrorBand { decode: band(0.15, 0.35, 0), prefill: None, train },
            Engine::Vllm => ErrorBand { decode: None, prefill: None, train },
        }
    }

    /// `±12 %` for a figure's median band, or `unvalidated`.
    #[must_use]
    pub fn label(b: Option<Band>) -> String {
        b.map_or_else(|| "no validation cases".to_string(), |b| format!("±{:.0} % (median; p90 ±{:.0} %)", b.median * 100.0, b.p90 * 100.0))
    }
}
