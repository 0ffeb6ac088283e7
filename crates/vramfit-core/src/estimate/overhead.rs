//! Memory that is not tensors: the caching allocator's rounding and the CUDA context.

use super::breakdown::{thousands, Component, Level};
use super::component::ComponentKind;

/// CUDA context, kernel images and library handles with lazy module loading (the default
/// since CUDA 11.7 / PyTorch 2.0): 300–600 MiB on Ampere and Hopper GPUs per
/// shared/validation/ORACLE.md and PyTorch's CUDA notes; we take the middle.
pub const CUDA_CONTEXT_BYTES: u64 = 512 << 20;

/// cuBLAS / cuBLASLt workspace PyTorch allocates per handle (`CUBLAS_WORKSPACE_CONFIG`
/// default `:4096:8` = 32 MiB; Hopper's default is 32 MiB as well).
pub const CUBLAS_WORKSPACE_BYTES: u64 = 32 << 20;

/// Average space the allocator loses per transient tensor whose size we do not track one by
/// one (activations): half a 2 MiB rounding unit.
pub const LARGE_BLOCK_ROUNDING: u64 = 1 << 20;

/// Bytes lost to rounding one allocation of `bytes`: blocks of 1 MiB and more are carved
/// from segments rounded up to 2 MiB (`kRoundLarge`); a remainder of at least 1 MiB is split
/// off and reused, a smaller one is lost (c10/cuda/CUDACachingAllocator.cpp).
#[must_use]
pub fn rounding_waste(bytes: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    if bytes < MIB {
        return 0;
    }
    let r = bytes.div_ceil(2 * MIB) * 2 * MIB - bytes;
    if r < MIB {
        r
    } else {
        0
    }
}

/// How the caching allocator model treats a component's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// The weights: their rounding is counted tensor by tensor (`WeightBytes::rounding_waste`).
    PerTensor,
    /// Freed and allocated again every training step in varying sizes: a share of them stays
    /// cached in blocks that do not fit the next request (fragmentation).
    PerStep,
    /// Held in a few large blocks, counted as blocks of average rounding.
    Blocks,
}

/// The allocator's treatment of `kind`; every kind is placed, so a new one must be.
#[must_use]
pub const fn allocation(kind: ComponentKind) -> Allocation {
    use ComponentKind as K;
    match kind {
        K::Weights => Allocation::PerTensor,
        K::Activations | K::LogitsAndLoss | K::BackwardWorkingSet | K::RecomputedLayer => Allocation::PerStep,
        K::MasterWeights
        | K::AdapterWeights
        | K::BaseWeights
        | K::MergeDelta
        | K::SaveShardBuffer
        | K::ShardStaging
        | K::LoraWeights
        | K::MmprojWeights
        | K::HostWeights
        | K::HostLoraWeights
        | K::HostMmprojWeights
        | K::AutocastWeightCopies
        | K::Buffers
        | K::GatheredParameters
        | K::KvCache
        | K::KvCachePrevious
        | K::KvCacheGrowth
        | K::HostKvCache
        | K::RecurrentState
        | K::HostRecurrentState
        | K::Mask
        | K::Logits
        | K::ActivationPeak
        | K::OffloadedActivations
        | K::Gradients
        | K::HeadGradient
        | K::EmbeddingGradient
        | K::GradientBuckets
        | K::OptimizerState
        | K::PagedOptimizerState
        | K::OptimizerStepTemporaries
        | K::DequantizationTemporaries
        | K::QuantizationTransient
        | K::Int8MatmulWorkspace
        | K::DequantScratch
        | K::ComputeBuffer
        | K::HostComputeBuffer
        | K::MmprojComputeBuffer
        | K::HostMmprojComputeBuffer
        | K::OutputBuffer
        | K::CudaGraphs
        | K::NonTorch
        | K::Allocator
        | K::CudaContext
        | K::RocmContext
        | K::MetalContext
        | K::XpuContext => Allocation::Blocks,
    }
}

/// Reserved-level component: rounding of the persistent tensors, rounding of the transient
/// ones, and the cached blocks of transients that cannot be reused exactly.
#[must_use]
pub fn allocator(persistent_waste: u64, transient_tensors: u64, fragmentation: u64, why: &str) -> Component {
    let bytes = persistent_waste
        .saturating_add(transient_tensors.saturating_mul(LARGE_BLOCK_ROUNDING))
        .saturating_add(fragmentation);
    Component::new(
        ComponentKind::Allocator,
        bytes,
        format!(
            "2 MiB-segment rounding of persistent tensors ({}) + {transient_tensors} transient blocks × 1 MiB{}",
            thousands(persistent_waste),
            if fragmentation > 0 { format!(" + {why} ({})", thousands(fragmentation)) } else { String::new() }
        ),
        "PyTorch CUDACachingAllocator (kRoundLarge = 2 MiB, cached free blocks)",
    )
    .at(Level::Reserved)
}

/// CUDA context when every kernel image is loaded at start-up (PyTorch before 2.0): the
/// transformers performance guide measured 1343 MB on a V100 with PyTorch 1.x
/// (docs/source/en/model_memory_anatomy.md, v4.27).
pub const CUDA_CONTEXT_EAGER_BYTES: u64 = 1343 << 20;

/// Device-level component: the CUDA context and library workspaces outside PyTorch's pool.
#[must_use]
pub fn cuda_context(lazy: bool) -> Component {
    if lazy {
        Component::new(
            ComponentKind::CudaContext,
            CUDA_CONTEXT_BYTES + CUBLAS_WORKSPACE_BYTES,
            "CUDA context with lazy module loading (512 MiB) + cuBLAS workspace (32 MiB)",
            "PyTorch CUDA semantics notes (CUDA_MODULE_LOADING=LAZY); shared/validation/ORACLE.md",
        )
        .at(Level::Device)
    } else {
        Component::new(
            ComponentKind::CudaContext,
            CUDA_CONTEXT_EAGER_BYTES + CUBLAS_WORKSPACE_BYTES,
            "CUDA context with every kernel loaded at start-up (PyTorch < 2.0: 1343 MiB) + cuBLAS workspace (32 MiB)",
            "transformers docs model_memory_anatomy.md (v4.27): 'CUDA kernels ... 1343 MB'",
        )
        .at(Level::Device)
    }
}

#[cfg(test)]
mod tests {
    use super::rounding_waste;

    #[test]
    fn rounding() {
        assert_eq!(rounding_waste(1000), 0);
        assert_eq!(rounding_waste(32 << 20), 0);
        assert_eq!(rounding_waste((3 << 20) - 1), 0); // a remainder over 1 MiB is split off and reused
        assert_eq!(rounding_waste((3 << 20) + 1), (1 << 20) - 1);
        assert_eq!(rounding_waste((4 << 20) - 100), 100);
    }
}
