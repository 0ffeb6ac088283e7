//! Validation against measured peaks: the case format of `shared/validation/README.md`, how a
//! case becomes a workload, and the error statistics.

mod case;
mod engine;
mod score;

pub use case::{Case, CaseModel, CaseWeights, Inference, Measured, Parallel, Training};
pub use engine::CaseEngine;
pub use score::{score_case, summarize, CaseResult, Summary};
