//! Which GGUF file of a repository fits a GPU: for each file, whether llama.cpp runs it
//! with every layer on the GPU at the asked context, else how many layers `-ngl` can
//! offload, the longest context that still fits fully, and the KV cache type that would make
//! the asked context fit (LM Studio's "full GPU offload possible", for any repo).

use super::headroom::Verdict;
use crate::catalog::GpuSpec;
use crate::estimate::{estimate, Workload};
use crate::formats::gguf_repo::RepoModel;
use crate::model::ModelSpec;
use crate::request::WorkloadRequest;
use crate::Result;
use serde::Serialize;
use serde_json::{json, Value};

/// The verdict for one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFit {
    /// Every layer on the GPU at the asked context fits.
    pub fits_fully: bool,
    /// The busiest GPU's bytes with every layer offloaded.
    pub full_offload_bytes: u64,
    /// Otherwise, the most `-ngl` layers that fit (0: not even one; `None` when it fits fully).
    pub layers_offloaded: Option<u64>,
    /// Layers the model has (`-ngl` that offloads everything).
    pub layers_total: u64,
    /// The longest context (a multiple of 256) that fits with every layer on the GPU, up to
    /// the model's trained context or the asked one if longer (`None`: not even 256 tokens).
    pub max_context_full: Option<u64>,
    /// Where the asked context does not fit fully: the first of q8_0, q4_0 (with flash
    /// attention) whose K and V caches make it fit.
    pub kv_type_to_fit: Option<String>,
}

/// Judge one file (`w` a llama.cpp workload with `kv_prealloc` as the context).
///
/// # Errors
/// The estimate fails for this model and workload.
pub fn file_fit(spec: &ModelSpec, w: &Workload, usable_bytes: u64) -> Result<FileFit> {
    let fits = |w: &Workload| -> Result<(bool, u64)> {
        let b = estimate(spec, w)?;
        let v = Verdict::new(b.levels.device, usable_bytes);
        Ok((v.fits, b.levels.device))
    };
    let layers_total = spec.num_layers() + 1;
    let mut full = w.clone();
    full.llama_cpp.n_gpu_layers = None;
    let (fits_fully, full_offload_bytes) = fits(&full)?;
    let layers_offloaded = if fits_fully {
        None
    } else {
        // Fewer layers never need more GPU memory: binary search the largest that fits.
        let (mut lo, mut hi) = (0u64, layers_total);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let mut t = w.clone();
            t.llama_cpp.n_gpu_layers = Some(mid);
            if fits(&t)?.0 {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    };
    // Up to the trained context, or the asked one when it is longer.
    let trained = spec.max_positions.unwrap_or(131_072).max(w.kv_prealloc.unwrap_or(0)).clamp(256, 1 << 20);
    let ctx_fits = |ctx: u64| -> Result<bool> {
        let mut t = full.clone();
        t.kv_prealloc = Some(ctx);
        Ok(fits(&t)?.0)
    };
    let max_context_full = if ctx_fits(256)? {
        let (mut lo, mut hi) = (1u64, trained / 256);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if ctx_fits(mid * 256)? {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo * 256)
    } else {
        None
    };
    let mut kv_type_to_fit = None;
    if !fits_fully {
        for ty in ["Q8_0", "Q4_0"] {
            let mut t = full.clone();
            t.llama_cpp.cache_type = Some(ty.into());
            t.llama_cpp.cache_type_v = None;
            t.llama_cpp.flash_attn = Some(true);
            if estimate(spec, &t).is_ok() && fits(&t)?.0 {
                kv_type_to_fit = Some(ty.to_ascii_lowercase());
                break;
            }
        }
    }
    Ok(FileFit { fits_fully, full_offload_bytes, layers_offloaded, layers_total, max_context_full, kv_type_to_fit })
}

/// The workload a repository's files are judged under: the request's, with llama.cpp as the
/// runtime unless another is asked (`repo` names the model in errors).
///
/// # Errors
/// A bad workload setting (the message names its flag).
pub fn repo_workload(req: &WorkloadRequest, repo: &str, gpu: &GpuSpec) -> Result<Workload> {
    let mut req = req.clone();
    if req.runtime.is_none() {
        req.runtime = Some(crate::estimate::Runtime::LlamaCpp);
    }
    req.resolve(&format!("{repo}.gguf"), Some(gpu.count))
}

/// One model of the repository judged on the GPU, or why it cannot be.
///
/// # Errors
/// The model's headers could not be read, or the estimate fails (as text, kept in its row).
pub fn judge(m: &RepoModel, w: &Workload, gpu: &GpuSpec) -> std::result::Result<FileFit, String> {
    match &m.spec {
        Ok(spec) => file_fit(spec, w, gpu.usable_bytes).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    }
}

/// What was read from the Hub for a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes received for the listing and the headers.
    pub bytes: u64,
    /// Range requests made for the headers.
    pub requests: u64,
}

/// The table as `vramfit fit ORG/NAME-GGUF --json` prints it and the page shows it: one row
/// per model (file, parts, bytes, file type, the fit or the error), the context asked, and
/// what reading the headers cost.
#[must_use]
pub fn table_value(
    repo: &str,
    gpu: &GpuSpec,
    w: &Workload,
    rows: &[(&RepoModel, std::result::Result<FileFit, String>)],
    transfer: Transfer,
) -> Value {
    let files: Vec<Value> = rows
        .iter()
        .map(|(f, fit)| {
            json!({
                "file": f.name,
                "parts": f.parts,
                "bytes": f.bytes,
                "file_type": f.file_type,
                "fit": fit.as_ref().ok(),
                "error": fit.as_ref().err(),
            })
        })
        .collect();
    let headers = rows.iter().fold(0u64, |a, (f, _)| a.saturating_add(f.header_bytes));
    json!({
        "repo": repo,
        "gpu": gpu.label,
        "ctx_size": w.kv_prealloc,
        "files": files,
        "header_bytes": headers,
        "bytes_transferred": transfer.bytes,
        "requests": transfer.requests,
    })
}
