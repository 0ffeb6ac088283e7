#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod catalog;
pub mod choice;
pub mod config;
pub mod dtype;
pub mod error;
pub mod estimate;
pub mod fit;
pub mod formats;
pub mod ignored_flags;
pub mod limits;
pub mod model;
pub mod options;
pub mod quant;
pub mod reports;
pub mod request;
pub mod units;
pub mod validate;

pub use dtype::DType;
pub use error::{Error, Result};
pub use estimate::{estimate, Breakdown, Component, ComponentKind, Level, Levels, Phase, Task, Workload};
pub use model::{ModelSpec, ParamCount};
