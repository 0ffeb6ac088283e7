//! The measured error of each speed figure: median and 90th percentile of |estimate −
//! measured| / measured on `validation/speed/cases.json`, per backend (leave-one-out for the
//! fitted constants; ACCURACY.md has the table these numbers come from).

use super::backend::Backend;
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

/// Error bands of the figures of one backend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorBand {
    /// Decode tokens/s.
    pub decode: Option<Band>,
    /// Prefill tokens/s and TTFT.
    pub prefill: Option<Band>,
    /// Training step time.
    pub train: Option<Band>,
}

// A table cell: the runtimes without measured cases have `None` bands.
#[allow(clippy::unnecessary_wraps)]
const fn band(median: f64, p90: f64, cases: u32) -> Option<Band> {
    Some(Band { median, p90, cases })
}

impl ErrorBand {
    /// The measured bands of `backend` (`None` where no case measures that figure).
    #[must_use]
    pub fn of(backend: Backend) -> ErrorBand {
        // Training: 2 PEFT MetaMathQA cases (LoRA, full) on an L40S, leave-one-out.
        let train = band(0.154, 0.223, 2);
        match backend {
            Backend::LlamaCppCuda => {
                ErrorBand { decode: band(0.089, 0.391, 39), prefill: band(0.084, 0.243, 10), train }
            }
            Backend::LlamaCppMetal => {
                ErrorBand { decode: band(0.068, 0.419, 22), prefill: band(0.115, 0.206, 11), train }
            }
            Backend::Mlx => ErrorBand { decode: band(0.184, 0.295, 4), prefill: None, train },
            Backend::TorchEager => ErrorBand { decode: band(0.071, 0.664, 3), prefill: None, train },
            Backend::LlamaCppVulkan | Backend::Vllm => ErrorBand { decode: None, prefill: None, train },
        }
    }

    /// `±12 %` for a figure's median band, or `unvalidated`.
    #[must_use]
    pub fn label(b: Option<Band>) -> String {
        b.map_or_else(
            || "no validation cases".to_string(),
            |b| format!("±{:.0} % (median; p90 ±{:.0} %)", b.median * 100.0, b.p90 * 100.0),
        )
    }
}
