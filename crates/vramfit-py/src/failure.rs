//! Why a request failed, sorted the way the Python package raises it: bad input
//! (`vramfit.InputError`) or the Hub (`vramfit.HubError`), with the CLI's one-line message.

use serde_json::{json, Value};
use vramfit_io::IoError;

/// A failed request: which exception, and the message `vramfit` prints after `error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Bad input: a flag's value, a model that is not found or cannot be read.
    Input(String),
    /// The Hub refused, failed, or is offline without the file cached.
    Hub(String),
}

/// The CLI's rendering of an error: the error and its causes on one line, each once.
fn one_line<E: std::error::Error + Send + Sync + 'static>(e: E) -> String {
    vramfit_cli::one_line(&anyhow::Error::from(e))
}

impl Failure {
    /// `{"kind": "input"|"hub", "message": ...}`.
    #[must_use]
    pub fn value(&self) -> Value {
        let (kind, message) = match self {
            Failure::Input(m) => ("input", m),
            Failure::Hub(m) => ("hub", m),
        };
        json!({ "kind": kind, "message": message })
    }

    /// A request that is not the core's request schema.
    #[must_use]
    pub fn request(e: &serde_json::Error) -> Self {
        Failure::Input(vramfit_core::request::json_error_line(e))
    }
}

impl From<vramfit_core::Error> for Failure {
    fn from(e: vramfit_core::Error) -> Self {
        Failure::Input(one_line(e))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Input(vramfit_cli::one_line(&e))
    }
}

impl From<IoError> for Failure {
    fn from(e: IoError) -> Self {
        // Exhaustive: a new kind of I/O error must be sorted here.
        let hub = match &e {
            IoError::HubGated { .. }
            | IoError::HubRepoNotFound { .. }
            | IoError::HubMissing { .. }
            | IoError::HubStatus { .. }
            | IoError::Network { .. }
            | IoError::Truncated { .. }
            | IoError::Hub { .. }
            | IoError::Offline { .. }
            | IoError::HubNearCatalog { .. } => true,
            IoError::Read { .. }
            | IoError::Cases { .. }
            | IoError::Core { .. }
            | IoError::NotFound(_)
            | IoError::Format { .. }
            | IoError::Local { .. } => false,
        };
        let message = one_line(e);
        if hub {
            Failure::Hub(message)
        } else {
            Failure::Input(message)
        }
    }
}
