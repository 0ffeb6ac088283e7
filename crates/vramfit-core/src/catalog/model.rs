//! The model catalog (data/models.toml + data/configs/*.json).

use super::names::{normalize, suggest};
use crate::error::{Error, Result};
use crate::model::ModelSpec;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/configs.rs"));

/// One catalog model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogModel {
    /// Canonical short id (`llama-2-7b`).
    pub name: String,
    /// Hugging Face repo id.
    pub hf_id: String,
    /// Other names people type.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// config.json file under data/configs.
    pub config: String,
    /// `model_type`.
    pub family: String,
    /// Exact published parameter count, when one was published.
    #[serde(default)]
    pub params: Option<u64>,
    /// Where that count was published.
    #[serde(default)]
    pub params_source: Option<String>,
    /// Dtype of the published checkpoint.
    #[serde(default)]
    pub checkpoint_dtype: Option<String>,
    /// Where the config values come from.
    pub source: String,
    /// Caveats.
    #[serde(default)]
    pub note: Option<String>,
}

impl CatalogModel {
    /// The model's config.json text.
    ///
    /// # Errors
    /// The catalog names a config file that is not embedded (caught by the integrity test).
    pub fn config_text(&self) -> Result<&'static str> {
        builtin_config(&self.config).ok_or_else(|| Error::Catalog {
            file: "models.toml".into(),
            reason: format!("{} names missing config {}", self.name, self.config),
        })
    }

    /// Parse the model's config into a spec.
    ///
    /// # Errors
    /// As [`crate::config::parse_config`].
    pub fn spec(&self) -> Result<ModelSpec> {
        crate::config::parse_config(self.config_text()?)
    }
}

#[derive(Deserialize)]
struct ModelFile {
    model: Vec<CatalogModel>,
}

/// Every catalog model.
#[must_use]
pub fn models() -> &'static [CatalogModel] {
    static MODELS: OnceLock<Vec<CatalogModel>> = OnceLock::new();
    MODELS.get_or_init(|| {
        serde_json::from_str::<ModelFile>(include_str!(concat!(env!("OUT_DIR"), "/models.json")))
            .expect("models.toml is checked by the catalog-integrity test")
            .model
    })
}

/// An embedded config.json by file name.
#[must_use]
pub fn builtin_config(file: &str) -> Option<&'static str> {
    CONFIGS.iter().find(|(n, _)| *n == file).map(|(_, t)| *t)
}

/// Find a catalog model by name, alias or Hugging Face id (case, `-`, `_`, `.` ignored).
///
/// # Errors
/// No match; the error carries close names.
pub fn find_model(name: &str) -> Result<&'static CatalogModel> {
    let exact = name.trim().to_ascii_lowercase();
    let spellings =
        |m: &'static CatalogModel| std::iter::once(&m.name).chain(std::iter::once(&m.hf_id)).chain(m.aliases.iter());
    // Exact (case-insensitive) first: `opt-1.3b` and `opt-13b` only differ by a dot.
    if let Some(m) = models().iter().find(|m| spellings(m).any(|s| s.to_ascii_lowercase() == exact)) {
        return Ok(m);
    }
    let q = normalize(name.trim());
    models().iter().find(|m| spellings(m).any(|s| normalize(s) == q)).ok_or_else(|| Error::UnknownModel {
        name: name.to_string(),
        suggestions: suggest(
            name,
            models().iter().map(|m| {
                (
                    m.name.as_str(),
                    [m.name.as_str(), m.hf_id.as_str()]
                        .into_iter()
                        .chain(m.aliases.iter().map(String::as_str))
                        .collect(),
                )
            }),
        ),
    })
}
