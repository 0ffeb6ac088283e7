//! I/O for vramfit: finding a model (catalog, local config.json or checkpoint directory) and
//! reading validation cases with their config files. The core stays pure; everything that
//! touches the file system is here.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use thiserror::Error;
use vramfit_core::catalog::{self, CatalogModel};
use vramfit_core::validate::Case;
use vramfit_core::ModelSpec;

/// Errors of the I/O layer.
#[derive(Debug, Error)]
pub enum IoError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A cases file is not the documented format.
    #[error("{path}: not a validation cases file: {reason}")]
    Cases {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The core rejected what was read.
    #[error("{context}: {source}")]
    Core {
        /// What was being read.
        context: String,
        /// The core's error.
        source: vramfit_core::Error,
    },
    /// The name is neither a catalog model nor a local path.
    #[error("{0}")]
    NotFound(vramfit_core::Error),
}

/// Largest config.json or cases file read (far above any real one).
const MAX_TEXT_BYTES: u64 = 64 << 20;

/// A model found by name or path.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// Display name.
    pub name: String,
    /// The model description.
    pub spec: ModelSpec,
    /// Where it came from (`catalog`, a path).
    pub origin: String,
    /// The catalog entry, when it came from the catalog.
    pub catalog: Option<&'static CatalogModel>,
}

/// Read a text file with a size limit.
///
/// # Errors
/// Missing, unreadable, or larger than 64 MiB.
pub fn read_text(path: &Path) -> Result<String, IoError> {
    let meta = std::fs::metadata(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?;
    if meta.len() > MAX_TEXT_BYTES {
        return Err(IoError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "file larger than 64 MiB"),
        });
    }
    std::fs::read_to_string(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })
}

/// Resolve `MODEL`: a catalog name or alias, then a local path (a directory holding
/// config.json, or a config.json file).
///
/// # Errors
/// Not found (with catalog suggestions), unreadable or invalid config.
pub fn resolve_model(name: &str) -> Result<ResolvedModel, IoError> {
    match catalog::find_model(name) {
        Ok(m) => {
            let spec =
                m.spec().map_err(|source| IoError::Core { context: format!("catalog model {}", m.name), source })?;
            Ok(ResolvedModel { name: m.name.clone(), spec, origin: "catalog".into(), catalog: Some(m) })
        }
        Err(not_found) => {
            let path = Path::new(name);
            if path.exists() {
                let file = if path.is_dir() { path.join("config.json") } else { path.to_path_buf() };
                let spec = read_config(&file)?;
                return Ok(ResolvedModel {
                    name: name.to_string(),
                    spec,
                    origin: file.display().to_string(),
                    catalog: None,
                });
            }
            Err(IoError::NotFound(not_found))
        }
    }
}

/// Read a config.json file into a model spec.
///
/// # Errors
/// Unreadable or invalid.
pub fn read_config(path: &Path) -> Result<ModelSpec, IoError> {
    let text = read_text(path)?;
    vramfit_core::config::parse_config(&text)
        .map_err(|source| IoError::Core { context: path.display().to_string(), source })
}

/// A cases file with the directory its `config_file` paths are relative to.
#[derive(Debug, Clone)]
pub struct CasesFile {
    /// The cases, in file order.
    pub cases: Vec<Case>,
    /// Directory of the cases file.
    pub base: PathBuf,
}

impl CasesFile {
    /// The model spec of `case`, read from its config file (relative to the cases file).
    ///
    /// # Errors
    /// The config file is missing or invalid.
    pub fn spec(&self, case: &Case) -> Result<ModelSpec, IoError> {
        read_config(&self.base.join(&case.model.config_file))
    }
}

/// Read a validation cases file (the format of shared/validation/README.md).
///
/// # Errors
/// Unreadable, not JSON, or not a list of cases.
pub fn read_cases(path: &Path) -> Result<CasesFile, IoError> {
    let text = read_text(path)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| IoError::Cases { path: path.to_path_buf(), reason: e.to_string() })?;
    let list = value
        .as_array()
        .ok_or_else(|| IoError::Cases { path: path.to_path_buf(), reason: "expected a JSON list of cases".into() })?;
    let mut cases = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let case: Case = serde_json::from_value(v.clone()).map_err(|e| IoError::Cases {
            path: path.to_path_buf(),
            reason: format!("case #{i} ({}): {e}", v.get("id").and_then(|x| x.as_str()).unwrap_or("no id")),
        })?;
        cases.push(case);
    }
    let base = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(CasesFile { cases, base })
}
