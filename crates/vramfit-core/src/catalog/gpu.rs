//! The GPU catalog (data/gpus.toml) and GPU specs as typed on the command line.

use super::entry::{parsed, position, CatalogEntry};
use super::names::suggest;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// One GPU of the catalog.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// Canonical id (`A100-80GB`).
    pub name: String,
    /// Other spellings (what torch and nvidia-smi print).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// nvidia, amd, apple, intel.
    pub vendor: String,
    /// datacenter, workstation, consumer, apple.
    pub class: String,
    /// Architecture name.
    pub architecture: String,
    /// CUDA compute capability (NVIDIA).
    #[serde(default)]
    pub compute_capability: Option<String>,
    /// Marketed memory in bytes.
    pub memory_bytes: u64,
    /// What frameworks can use (nvidia-smi total, Metal working set).
    pub usable_bytes: u64,
    /// Memory technology.
    pub memory_type: String,
    /// Peak bandwidth, GB/s.
    pub bandwidth_gb_s: u64,
    /// Native bf16.
    pub bf16: bool,
    /// Hardware fp8.
    pub fp8: bool,
    /// FlashAttention-2 supported.
    pub flash_attention: bool,
    /// Board power.
    #[serde(default)]
    pub tdp_watts: Option<u64>,
    /// Peak fp32 (non-tensor) TFLOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp32_tflops: Option<f64>,
    /// Peak dense fp16 tensor TFLOPS with fp32 accumulation (Apple: the GPU's fp16 rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp16_tflops: Option<f64>,
    /// Peak dense bf16 tensor TFLOPS (absent where bf16 is not native).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bf16_tflops: Option<f64>,
    /// Peak dense fp8 tensor TFLOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8_tflops: Option<f64>,
    /// Peak dense int8 tensor TOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_tops: Option<f64>,
    /// Host link bandwidth per direction, GB/s (PCIe generation × lanes; absent on unified memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcie_gb_s: Option<f64>,
    /// GPU-to-GPU link bandwidth per GPU, both directions together, GB/s (NVLink, Infinity Fabric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvlink_gb_s: Option<f64>,
    /// Where the TFLOPS and link figures come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf_source: Option<String>,
    /// Where the figures come from.
    pub source: String,
    /// Caveats.
    #[serde(default)]
    pub note: Option<String>,
}

// Catalog figures are finite numbers (the catalog-integrity test checks), so equality is total.
impl Eq for Gpu {}

/// Every row of data/gpus.toml: its names (name, aliases) and its JSON.
const ENTRIES: &[CatalogEntry] = include!(concat!(env!("OUT_DIR"), "/gpus_entries.rs"));

#[derive(Deserialize)]
struct GpuFile {
    gpu: Vec<Gpu>,
}

/// Every catalog GPU.
#[must_use]
pub fn gpus() -> &'static [Gpu] {
    static GPUS: OnceLock<Vec<Gpu>> = OnceLock::new();
    GPUS.get_or_init(|| {
        serde_json::from_str::<GpuFile>(include_str!(concat!(env!("OUT_DIR"), "/gpus.json")))
            .expect("gpus.toml is checked by the catalog-integrity test")
            .gpu
    })
}

/// Find a GPU by name or alias (case, spaces, dashes ignored).
///
/// # Errors
/// No match; the error carries close names.
pub fn find_gpu(name: &str) -> Result<&'static Gpu> {
    static CELLS: [OnceLock<Gpu>; ENTRIES.len()] = [const { OnceLock::new() }; ENTRIES.len()];
    position(ENTRIES, name, false).map(|i| parsed(ENTRIES, &CELLS, i)).ok_or_else(|| Error::UnknownGpu {
        name: name.to_string(),
        suggestions: suggest(
            name,
            gpus().iter().map(|g| {
                (
                    g.name.as_str(),
                    std::iter::once(g.name.as_str()).chain(g.aliases.iter().map(String::as_str)).collect(),
                )
            }),
        ),
    })
}

/// GPUs as asked for: `T4`, `4xA100-80GB`, `24GiB`, `2x16GB`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuSpec {
    /// The catalog GPU, when named.
    pub gpu: Option<Gpu>,
    /// How many.
    pub count: u64,
    /// Usable bytes per GPU.
    pub usable_bytes: u64,
    /// Label for reports.
    pub label: String,
}

impl GpuSpec {
    /// Parse a `--gpu` value.
    ///
    /// # Errors
    /// An unknown GPU or a malformed size (the error names `--gpu`).
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        let (count, rest) = match t.split_once(['x', 'X', '×']) {
            Some((n, rest)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                let n: u64 = n.parse().map_err(|_| Error::workload("--gpu", format!("bad GPU count in {s:?}")))?;
                (n, rest.trim())
            }
            _ => (1, t),
        };
        // The same bound as --gpus (GPUs per node): a larger count is several nodes (--nodes).
        if count == 0 || count > 4096 {
            return Err(Error::workload(
                "--gpu",
                format!("GPU count in {s:?} must be between 1 and 4096 per node; use --nodes for more"),
            ));
        }
        if rest.is_empty() {
            return Err(Error::workload("--gpu", format!("no GPU after the count in {s:?}; write e.g. 4xA100-80GB")));
        }
        if let Some(why) = size_mistake(rest) {
            return Err(Error::workload("--gpu", why));
        }
        if let Some(bytes) = parse_size(rest) {
            if bytes == 0 {
                return Err(Error::workload("--gpu", "memory size must be positive"));
            }
            return Ok(GpuSpec {
                gpu: None,
                count,
                usable_bytes: bytes,
                label: if count > 1 { format!("{count}×{rest}") } else { rest.to_string() },
            });
        }
        let gpu = find_gpu(rest).map_err(|e| {
            if rest.parse::<f64>().is_ok() {
                return Error::workload(
                    "--gpu",
                    format!("{rest:?} has no unit: write {rest}GB or {rest}GiB for a memory size, or a GPU name (T4, RTX-4090)"),
                );
            }
            Error::workload("--gpu", e.to_string())
        })?;
        Ok(GpuSpec {
            gpu: Some(gpu.clone()),
            count,
            usable_bytes: gpu.usable_bytes,
            label: if count > 1 { format!("{count}×{}", gpu.name) } else { gpu.name.clone() },
        })
    }
}

/// What is wrong with a `--gpu` value that was meant as a memory size but is not one
/// (newcomer D25): a bare number (`24`), a negative or absurd size. `None` when it is not a
/// size at all (a GPU name) or a valid one.
fn size_mistake(s: &str) -> Option<String> {
    let t = s.trim().to_ascii_lowercase().replace(' ', "");
    let unit = ["gib", "mib", "tib", "gb", "mb", "tb"].into_iter().find(|u| t.ends_with(u))?;
    let v: f64 = t[..t.len() - unit.len()].parse().ok()?;
    if v < 0.0 || v == 0.0 && v.is_sign_negative() {
        return Some("memory size must be positive".into());
    }
    if !(v.is_finite() && v < 1e7) {
        return Some(format!("memory size {s:?} is too large (at most 10,000,000 of its unit)"));
    }
    None
}

impl GpuSpec {
    /// An Apple GPU's usable memory after `sudo sysctl iogpu.wired_limit_mb=MB`: Metal's
    /// recommendedMaxWorkingSetSize follows the sysctl in both directions (llmfit PR #754; on a
    /// 128 GB M5 Max, 114688 reads back as 112.00 GiB: antirez/ds4 PR #893), so the working set
    /// is `MB` MiB. `0` is the sysctl's "default" and leaves the catalog's value.
    ///
    /// # Errors
    /// Not an Apple catalog GPU, or more than its unified memory.
    pub fn with_wired_limit_mb(mut self, mb: u64) -> Result<Self> {
        let flag = "--wired-limit-mb";
        let Some(g) = self.gpu.as_ref() else {
            return Err(Error::workload(
                flag,
                "applies to Apple GPUs from the catalog (M1 ... M4); a bare size is the usable memory already",
            ));
        };
        if g.vendor != "apple" {
            return Err(Error::workload(
                flag,
                format!("is macOS's iogpu.wired_limit_mb: {} is not an Apple GPU", g.name),
            ));
        }
        if mb == 0 {
            return Ok(self);
        }
        let bytes = mb.saturating_mul(1 << 20);
        if bytes > g.memory_bytes {
            return Err(Error::workload(
                flag,
                format!("{mb} MiB is more than the {} MiB of unified memory of {}", g.memory_bytes >> 20, g.name),
            ));
        }
        self.usable_bytes = bytes;
        self.label = format!("{} (iogpu.wired_limit_mb={mb})", self.label);
        Ok(self)
    }
}

/// `24GiB`, `16GB`, `80 GB`, `512MiB` → bytes.
fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase().replace(' ', "");
    let units: [(&str, f64); 6] = [
        ("gib", 1_073_741_824.0),
        ("mib", 1_048_576.0),
        ("tib", 1_099_511_627_776.0),
        ("gb", 1e9),
        ("mb", 1e6),
        ("tb", 1e12),
    ];
    for (u, mult) in units {
        if let Some(num) = t.strip_suffix(u) {
            let v: f64 = num.parse().ok()?;
            if !(v.is_finite() && (0.0..1e7).contains(&v)) {
                return None;
            }
            return Some((v * mult) as u64);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::names::normalize;
    use super::*;

    /// A lookup parses one row: every row parses to the catalog's GPU, and every name of it
    /// finds that GPU (or an earlier one answering to the same name, as the whole-catalog
    /// search did).
    #[test]
    fn each_row_is_the_catalog_gpu_and_answers_to_its_names() {
        assert_eq!(ENTRIES.len(), gpus().len());
        for (e, g) in ENTRIES.iter().zip(gpus()) {
            assert_eq!(&serde_json::from_str::<Gpu>(e.json).unwrap(), g);
            assert_eq!(e.names[0], g.name);
            assert_eq!(e.names[1..], g.aliases.iter().map(String::as_str).collect::<Vec<_>>()[..]);
            for n in e.names {
                let q = normalize(n);
                let first =
                    gpus().iter().find(|g| normalize(&g.name) == q || g.aliases.iter().any(|a| normalize(a) == q));
                assert_eq!(find_gpu(n).ok(), first, "{n}");
            }
        }
    }

    #[test]
    fn specs() {
        let g = GpuSpec::parse("4xA100-80GB").unwrap();
        assert_eq!(g.count, 4);
        assert_eq!(g.gpu.unwrap().name, "A100-80GB");
        assert_eq!(GpuSpec::parse("24GiB").unwrap().usable_bytes, 24 << 30);
        assert_eq!(GpuSpec::parse("16GB").unwrap().usable_bytes, 16_000_000_000);
        assert!(GpuSpec::parse("0xT4").is_err());
        assert!(GpuSpec::parse("nonsense-gpu").is_err());
        assert!(GpuSpec::parse("-5GB").is_err());
    }

    /// Apple's working set follows `iogpu.wired_limit_mb`; other GPUs refuse the flag.
    #[test]
    fn the_wired_limit_sets_an_apple_working_set() {
        let m = GpuSpec::parse("M2-Max-96GB").unwrap();
        assert_eq!(m.usable_bytes, 72 << 30);
        assert_eq!(m.clone().with_wired_limit_mb(90_112).unwrap().usable_bytes, 88 << 30);
        assert_eq!(m.clone().with_wired_limit_mb(0).unwrap().usable_bytes, 72 << 30);
        assert!(m.with_wired_limit_mb(200_000).unwrap_err().to_string().contains("more than"));
        assert!(GpuSpec::parse("T4").unwrap().with_wired_limit_mb(1000).is_err());
        assert!(GpuSpec::parse("24GiB").unwrap().with_wired_limit_mb(1000).is_err());
    }

    /// Newcomer D25: sizes that are not quite sizes say what is wrong instead of suggesting
    /// unrelated GPUs.
    #[test]
    fn size_mistakes_are_named() {
        let e = |s: &str| GpuSpec::parse(s).unwrap_err().to_string();
        assert!(e("24").contains("has no unit: write 24GB or 24GiB"), "{}", e("24"));
        assert!(e("-5GB").contains("must be positive"), "{}", e("-5GB"));
        assert!(e("99999999999999999999GB").contains("too large"), "{}", e("99999999999999999999GB"));
        assert!(e("4x").contains("no GPU after the count"), "{}", e("4x"));
        assert!(e("nanGB").contains("too large") || e("nanGB").contains("unknown GPU"));
        assert_eq!(GpuSpec::parse("1.5GB").unwrap().usable_bytes, 1_500_000_000);
    }

    #[test]
    fn aliases_resolve() {
        assert_eq!(find_gpu("tesla t4").unwrap().name, "T4");
        assert_eq!(find_gpu("rtx4090").unwrap().name, "RTX-4090");
        let e = find_gpu("A100").unwrap_err().to_string();
        assert!(e.contains("did you mean"), "{e}");
    }
}
