//! Validation against measured peaks and speeds: the case format of `shared/validation/README.md`, how a
//! case becomes a workload, and the error statistics.

mod case;
mod engine;
mod mmproj;
mod score;
mod speed;

pub use case::{Case, CaseModel, CaseWeights, Inference, Measured, Parallel, SpeedSetup, Training};
pub use engine::CaseEngine;
pub use mmproj::{mmproj_figure, score_mmproj_case, MMPROJ_METRIC};
pub use score::{score_case, summarize, CaseResult, Summary};
pub use speed::{score_speed_case, speed_workload, SPEED_METRICS};
