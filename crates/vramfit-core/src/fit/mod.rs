//! Making a workload fit: whether it fits a GPU as asked (with headroom), ranked plans of
//! changes that make it fit, the limits of batch and context, and sweeps for charts.
//!
//! Everything here is a search on [`crate::estimate()`]: no other memory model is involved,
//! so a plan's bytes are exactly what `vramfit estimate` says for its flags.

mod capability;
pub mod gguf_files;
mod headroom;
mod lever;
mod limits;
mod search;
pub mod sweep;

pub use capability::{check_supported, on_gpu, Capabilities};
pub use headroom::{reserve_bytes, Verdict, RESERVE_MIN_BYTES, RESERVE_PERCENT};
pub use lever::{Change, Cost, CostKind, LeverKind};
pub use limits::{
    context_of, gpus_that_fit, largest_by_secant, largest_fitting, largest_fitting_from, min_context,
    min_gpus_lower_bound, with_batch, with_context, GpuFit, Limits,
};
pub use search::{
    fit, starting_point, Assessment, FitOptions, FitReport, GpuLimits, NotChosen, Plan, PlanSpeed, Stretch,
    MAX_ESTIMATES,
};
