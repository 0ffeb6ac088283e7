//! Estimators: a model spec and a workload in, a [`Breakdown`] out.

pub mod activations;
pub mod breakdown;
pub mod defaults;
pub mod inference;
pub mod kv_cache;
pub mod llamacpp;
pub mod overhead;
pub mod parallel;
pub mod profile;
pub mod runtime;
pub mod training;
pub mod weights;
pub mod workload;

pub use breakdown::{Breakdown, Component, Level, Levels};
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
    workload.parallel.check_model(spec)?;
    if let (Some(asked), Some(stored)) = (&workload.quant, &spec.quantization) {
        if asked != stored {
            return Err(crate::error::Error::workload(
                "--quant",
                format!("the checkpoint is already quantized ({}); drop --quant to use it as stored", stored.label()),
            ));
        }
    }
    let mut b = match workload.task {
        Task::Load | Task::Prefill | Task::Generate => inference::estimate_inference(spec, workload)?,
        Task::Train => training::estimate_training(spec, workload)?,
        Task::Merge => {
            let (dtype, note) = defaults::load_dtype(spec, workload);
            let mut b = training::merge::estimate_merge(spec, dtype, &workload.training, workload.merge_on_gpu)?;
            b.notes.extend(note);
            b
        }
    };
    b.notes.extend(beyond_position_limit(spec, workload));
    Ok(b)
}

/// Prefix of the note that warns of a context beyond the model's position limit (the CLI
/// repeats the warning beside the verdict).
pub const POSITION_LIMIT_WARNING: &str = "warning: beyond the model's position limit";

/// The warning when the workload's context is longer than the model addresses
/// (`max_position_embeddings`, extended by `rope_scaling`): learned position tables have no
/// row for it, rotary models were never trained that far.
fn beyond_position_limit(spec: &ModelSpec, w: &Workload) -> Option<String> {
    let (context, flag) = match w.task {
        Task::Load | Task::Merge => return None,
        Task::Prefill => (w.prompt, "--prompt"),
        Task::Generate => (w.prompt.saturating_add(w.new_tokens), "--prompt + --new"),
        Task::Train => (w.training.seq, "--seq"),
    };
    let limit = spec.context_limit()?;
    (context > limit).then(|| {
        let scaled = match (spec.position_limit, spec.max_positions) {
            (Some(l), Some(m)) if l > m => format!(" ({m} positions extended by rope_scaling)"),
            _ => " (max_position_embeddings)".into(),
        };
        format!(
            "{POSITION_LIMIT_WARNING}: {flag} = {context} tokens, the model addresses {limit}{scaled}; the memory is estimated, but the model cannot run this context as configured"
        )
    })
}
