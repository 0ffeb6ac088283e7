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
        // Training: 11 cases (2 PEFT MetaMathQA runs on an L40S, 9 torchtune runs on an A100),
        // leave-one-out with one MFU per runtime.
        let train = band(0.081, 0.223, 11);
        match backend {
            Backend::LlamaCppCuda => {
                ErrorBand { decode: band(0.066, 0.230, 41), prefill: band(0.084, 0.243, 10), train }
            }
            Backend::LlamaCppMetal => {
                ErrorBand { decode: band(0.092, 0.153, 25), prefill: band(0.115, 0.206, 11), train }
            }
            Backend::Mlx => ErrorBand { decode: band(0.148, 0.309, 6), prefill: None, train },
            Backend::TorchEager => ErrorBand { decode: band(0.071, 0.081, 3), prefill: None, train },
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
