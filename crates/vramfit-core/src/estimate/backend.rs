//! The GPU programming stack a torch workload runs on, from the catalog GPU's vendor: CUDA,
//! ROCm (HIP), Metal (PyTorch MPS) or Intel XPU. It decides what sits outside the caching
//! allocator at the device level (the context) and what the device level is read with.
//! Without `--gpu` (or with a bare memory size) the estimate is for CUDA, as before.

use super::breakdown::{Component, Level};
use super::component::ComponentKind;
use super::overhead::{CUBLAS_WORKSPACE_BYTES, CUDA_CONTEXT_BYTES};
use serde::Serialize;

/// A GPU software stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// NVIDIA CUDA.
    #[default]
    Cuda,
    /// AMD ROCm (HIP), which PyTorch exposes as `torch.cuda`.
    Rocm,
    /// Apple Metal through PyTorch's MPS backend: unified memory, no CUDA context.
    Metal,
    /// Intel oneAPI Level Zero (`torch.xpu`).
    Xpu,
}

impl Backend {
    /// The stack of a catalog vendor (`nvidia`, `amd`, `apple`, `intel`).
    #[must_use]
    pub fn of_vendor(vendor: &str) -> Self {
        match vendor {
            "amd" => Backend::Rocm,
            "apple" => Backend::Metal,
            "intel" => Backend::Xpu,
            _ => Backend::Cuda,
        }
    }

    /// The stack of a `--gpu` value: CUDA for a bare memory size.
    #[must_use]
    pub fn of(gpu: &crate::catalog::GpuSpec) -> Self {
        gpu.gpu.as_ref().map_or(Backend::Cuda, |g| Self::of_vendor(&g.vendor))
    }

    /// What reads the device level on this stack.
    #[must_use]
    pub fn device_reading(self) -> &'static str {
        match self {
            Backend::Cuda => "nvidia-smi",
            Backend::Rocm => "rocm-smi",
            Backend::Metal => "Metal working set",
            Backend::Xpu => "xpu-smi",
        }
    }

    /// The device-level memory outside PyTorch's pool. CUDA: [`super::overhead::cuda_context`].
    /// ROCm: the HIP runtime's context and kernel objects plus the BLAS workspace; no public
    /// measurement of PyTorch's HIP context alone was found, so CUDA's 512 MiB is kept, which
    /// matches the ~0.5 GiB rocBLAS initialisation llama.cpp measured on a 7900 XTX
    /// (ggml-org/llama.cpp PR #11080: 498 MiB less free after `rocblas_initialize`). Metal:
    /// no CUDA context; PyTorch's MPS backend allocates from the Metal device's heaps, which
    /// `torch.mps.driver_allocated_memory()` reports and which hold tensors only, so nothing
    /// is added (the working set, `recommendedMaxWorkingSetSize`, is already the usable
    /// figure). XPU: taken as CUDA's, not measured.
    #[must_use]
    pub fn context(self, lazy: bool) -> Component {
        match self {
            Backend::Cuda => super::overhead::cuda_context(lazy),
            Backend::Rocm => Component::new(
                ComponentKind::RocmContext,
                CUDA_CONTEXT_BYTES + CUBLAS_WORKSPACE_BYTES,
                "HIP runtime context and kernel objects (512 MiB, as CUDA's: not measured on ROCm) + hipBLASLt/rocBLAS workspace (32 MiB)",
                "llama.cpp PR #11080 (rocblas_initialize: 498 MiB on a 7900 XTX); PyTorch HIP semantics notes",
            )
            .at(Level::Device),
            Backend::Metal => Component::new(
                ComponentKind::MetalContext,
                0,
                "no CUDA context on Metal: PyTorch MPS allocates tensors from the device's heaps, inside the working set (recommendedMaxWorkingSetSize) that is the usable figure",
                "PyTorch MPS backend notes (torch.mps.driver_allocated_memory, recommended_max_memory); Apple MTLDevice.recommendedMaxWorkingSetSize",
            )
            .at(Level::Device),
            Backend::Xpu => Component::new(
                ComponentKind::XpuContext,
                CUDA_CONTEXT_BYTES + CUBLAS_WORKSPACE_BYTES,
                "Level Zero context and kernels (512 MiB, as CUDA's: not measured on XPU) + oneDNN/oneMKL scratch (32 MiB)",
                "PyTorch XPU notes; not measured",
            )
            .at(Level::Device),
        }
    }

    /// Whether bitsandbytes' int8/nf4/fp4 kernels run here. Its releases ship CUDA and ROCm
    /// builds; on Apple silicon they do not run (bitsandbytes installation docs, multi-backend
    /// table: MPS not supported in the current release).
    #[must_use]
    pub fn runs_bitsandbytes(self) -> bool {
        matches!(self, Backend::Cuda | Backend::Rocm)
    }

    /// Whether CPU RAM is a separate pool to offload to (not on unified memory).
    #[must_use]
    pub fn has_separate_host_memory(self) -> bool {
        self != Backend::Metal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GpuSpec;

    #[test]
    fn the_catalog_vendor_picks_the_stack() {
        assert_eq!(Backend::of(&GpuSpec::parse("T4").unwrap()), Backend::Cuda);
        assert_eq!(Backend::of(&GpuSpec::parse("MI300X").unwrap()), Backend::Rocm);
        assert_eq!(Backend::of(&GpuSpec::parse("M2-Max-96GB").unwrap()), Backend::Metal);
        assert_eq!(Backend::of(&GpuSpec::parse("24GiB").unwrap()), Backend::Cuda);
        assert_eq!(Backend::Metal.context(true).bytes, 0);
        assert_eq!(Backend::Rocm.context(true).kind, ComponentKind::RocmContext);
        assert!(!Backend::Metal.runs_bitsandbytes() && !Backend::Metal.has_separate_host_memory());
    }
}
