//! Estimators: a model spec and a workload in, a [`Breakdown`] out.

pub mod activations;
pub mod breakdown;
pub mod inference;
pub mod kv_cache;
pub mod llamacpp;
pub mod overhead;
pub mod runtime;
pub mod weights;
pub mod workload;

pub use breakdown::{Breakdown, Component, Level, Levels};
pub use runtime::{Runtime, RuntimeVersion};
pub use workload::{AttnImpl, LlamaCppOptions, Task, Workload};

use crate::error::{Error, Result};
use crate::model::ModelSpec;

/// Estimate the peak memory of `workload` on `spec`.
///
/// # Errors
/// An impossible workload, or one vramfit does not model yet (the message says which).
pub fn estimate(spec: &ModelSpec, workload: &Workload) -> Result<Breakdown> {
    workload.check()?;
    match workload.task {
        Task::Load | Task::Prefill | Task::Generate => inference::estimate_inference(spec, workload),
        Task::Train => Err(Error::workload(
            "--task",
            "training estimates are not modelled yet (planned: training issue)",
        )),
        Task::Merge => Err(Error::workload(
            "--task",
            "adapter-merge estimates are not modelled yet (planned: training issue)",
        )),
    }
}
