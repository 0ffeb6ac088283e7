//! Typed errors of the core crate.

use thiserror::Error;

/// Everything the core can reject. Messages are lowercase and say what was wrong with the
/// input; the CLI adds the flag that fixes it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The config's `model_type` is not one vramfit describes.
    #[error("unsupported model_type {found:?}; supported: {supported}")]
    UnsupportedModelType {
        /// What the config said.
        found: String,
        /// Comma-separated list of supported types.
        supported: String,
    },
    /// A key the family needs is absent from config.json.
    #[error("config.json ({family}): missing key `{key}`")]
    MissingKey {
        /// Model family being read.
        family: String,
        /// The key (first of its aliases).
        key: String,
    },
    /// A key is present but its value is impossible.
    #[error("config.json: invalid value for `{key}`: {reason}")]
    InvalidConfig {
        /// The key.
        key: String,
        /// Why it is invalid.
        reason: String,
    },
    /// config.json is not valid JSON or has a wrong type somewhere.
    #[error("config.json is not valid: {0}")]
    ConfigSyntax(String),
    /// No catalog model matches the name.
    #[error("unknown model {name:?}{}", model_hint(.suggestions))]
    UnknownModel {
        /// What was asked for.
        name: String,
        /// Close catalog names.
        suggestions: Vec<String>,
    },
    /// No catalog GPU matches the name.
    #[error("unknown GPU {name:?}{}", did_you_mean(.suggestions))]
    UnknownGpu {
        /// What was asked for.
        name: String,
        /// Close catalog names.
        suggestions: Vec<String>,
    },
    /// A workload option is impossible or contradicts another one.
    #[error("{flag}: {reason}")]
    InvalidWorkload {
        /// The flag that fixes it, e.g. `--batch`.
        flag: String,
        /// What is wrong.
        reason: String,
    },
    /// A built-in data file is malformed (a bug caught by the catalog-integrity tests).
    #[error("built-in catalog {file}: {reason}")]
    Catalog {
        /// The data file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// An input or a result beyond one of the limits in [`crate::limits`].
    #[error("{what}: {} the limit on {} ({})", exceeded(*.value), .limit.name, .limit.max)]
    Limit {
        /// What reached it (`config.json num_decoder_layers`, `the index`...).
        what: String,
        /// The value found; `u64::MAX` when computing it overflowed.
        value: u64,
        /// The limit.
        limit: &'static crate::limits::Limit,
    },
    /// A validation case cannot be read.
    #[error("validation case {id}: {reason}")]
    Case {
        /// Case id (or its index).
        id: String,
        /// What is wrong.
        reason: String,
    },
}

fn exceeded(value: u64) -> String {
    if value == u64::MAX {
        "overflows 64 bits, beyond".into()
    } else {
        format!("{value} exceeds")
    }
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

/// An unknown model with no close catalog name says what MODEL may be (newcomer D25).
fn model_hint(s: &[String]) -> String {
    if s.is_empty() {
        "; MODEL is a catalog name (`vramfit models` lists them), a Hub id (org/name) or a local path".into()
    } else {
        did_you_mean(s)
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidWorkload`].
    pub fn workload(flag: &str, reason: impl Into<String>) -> Self {
        Error::InvalidWorkload { flag: flag.to_string(), reason: reason.into() }
    }
    /// Shorthand for [`Error::InvalidConfig`].
    pub fn config(key: &str, reason: impl Into<String>) -> Self {
        Error::InvalidConfig { key: key.to_string(), reason: reason.into() }
    }
}

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
