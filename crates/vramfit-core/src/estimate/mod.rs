//! Estimators: a model spec and a workload in, a [`Breakdown`] out.

pub mod activations;
pub mod breakdown;
pub mod inference;
pub mod kv_cache;
pub mod llamacpp;
pub mod ollama;
pub mod overhead;
pub mod parallel;
pub mod profile;
pub mod runtime;
pub mod training;
pub mod weights;
pub mod workload;

pub use breakdown::{Breakdown, Component, DeviceBuffers, Level, Levels};
pub use profile::RuntimeProfile;
pub use runtime::{Runtime, RuntimeVersion};
pub use workload::{AttnImpl, LlamaCppOptions, Task, Workload};

use crate::error::Result;
use crate::model::ModelSpec;

/// Estimate the peak memory of `workload` on `spec`.
///
/// # Errors
/// An impossible workload, or one vramfit does not model yet (the message says which).
pub fn estimate(spec: &ModelSpec, workload: &Workload) -> Result<Breakdown> {
    workload.check()?;
    if let (Some(asked), Some(stored)) = (&workload.quant, &spec.quantization) {
        if asked != stored {
            return Err(crate::error::Error::workload(
                "--quant",
                format!("the checkpoint is already quantized ({}); drop --quant to use it as stored", stored.label()),
            ));
        }
    }
    let b = match workload.task {
        Task::Load | Task::Prefill | Task::Generate => inference::estimate_inference(spec, workload),
        Task::Train => training::estimate_training(spec, workload),
        Task::Merge => training::merge::estimate_merge(
            spec,
            workload.dtype.or(spec.torch_dtype).unwrap_or(crate::DType::Fp16),
            &workload.training,
            workload.merge_on_gpu,
        ),
    }?;
    // Beyond 2^53 bytes a total is no longer exact in JavaScript (the web page, JSON
    // consumers), and a saturated total is no number at all: both are errors.
    let largest = b.total_bytes().max(b.host_bytes);
    crate::limits::ESTIMATE_BYTES.check("the estimate's bytes (lower --batch, --prompt, --seq or --new)", largest)?;
    Ok(b)
}
