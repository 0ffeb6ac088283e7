//! Memory that is not tensors: the caching allocator's rounding and the CUDA context.

use super::breakdown::{thousands, Component, Level};

/// CUDA context, kernel images and library handles with lazy module loading (the default
/// since CUDA 11.7 / PyTorch 2.0): 300–600 MiB on Ampere and Hopper GPUs per
/// shared/validation/ORACLE.md and PyTorch's CUDA notes; we take the middle.
pub const CUDA_CONTEXT_BYTES: u64 = 512 << 20;

/// cuBLAS / cuBLASLt workspace PyTorch allocates per handle (`CUBLAS_WORKSPACE_CONFIG`
/// default `:4096:8` = 32 MiB; Hopper's default is 32 MiB as well).
pub const CUBLAS_WORKSPACE_BYTES: u64 = 32 << 20;

/// Average space the allocator loses per large tensor: blocks ≥ 1 MiB live in segments
/// rounded up to 2 MiB (c10/cuda/CUDACachingAllocator.cpp, `kRoundLarge`), half a segment
/// unit on average.
pub const LARGE_BLOCK_ROUNDING: u64 = 1 << 20;

/// Reserved-level component: allocator rounding of the live large tensors plus the cached
/// blocks of transients (freed blocks of one size are kept for reuse, not returned).
#[must_use]
pub fn allocator(large_tensors: u64, transient_tensors: u64, fragmentation: u64, why: &str) -> Component {
    let rounding = (large_tensors + transient_tensors).saturating_mul(LARGE_BLOCK_ROUNDING);
    let bytes = rounding.saturating_add(fragmentation);
    Component::new(
        "allocator",
        bytes,
        format!(
            "(large tensors + transients) × 1 MiB average 2 MiB-segment rounding{} = ({} + {}) × 1 MiB{}",
            if fragmentation > 0 {
                format!(" + {why}")
            } else {
                String::new()
            },
            thousands(large_tensors),
            transient_tensors,
            if fragmentation > 0 {
                format!(" + {}", thousands(fragmentation))
            } else {
                String::new()
            }
        ),
        "PyTorch CUDACachingAllocator (kRoundLarge = 2 MiB, cached free blocks)",
    )
    .at(Level::Reserved)
}

/// Device-level component: the CUDA context and library workspaces outside PyTorch's pool.
#[must_use]
pub fn cuda_context() -> Component {
    Component::new(
        "cuda_context",
        CUDA_CONTEXT_BYTES + CUBLAS_WORKSPACE_BYTES,
        "CUDA context with lazy module loading (512 MiB) + cuBLAS workspace (32 MiB)",
        "PyTorch CUDA semantics notes (CUDA_MODULE_LOADING=LAZY); shared/validation/ORACLE.md",
    )
    .at(Level::Device)
}
