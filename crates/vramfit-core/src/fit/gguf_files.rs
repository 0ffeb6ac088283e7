//! Which GGUF file of a repository fits a GPU: for each file, whether llama.cpp runs it
//! with every layer on the GPU at the asked context, else how many layers `-ngl` can
//! offload, the longest context that still fits fully, and the KV cache type that would make
//! the asked context fit (LM Studio's "full GPU offload possible", for any repo).

use super::headroom::Verdict;
use crate::estimate::{estimate, Workload};
use crate::model::ModelSpec;
use crate::Result;
use serde::Serialize;

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
