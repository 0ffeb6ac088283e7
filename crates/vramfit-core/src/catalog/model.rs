//! The model catalog (data/models.toml + data/configs/*.json).

use super::entry::{parsed, position, CatalogEntry};
use super::names::suggest;
use crate::error::{Error, Result};
use crate::model::ModelSpec;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/configs.rs"));

/// Every row of data/models.toml: its names (name, Hugging Face id, aliases) and its JSON.
const ENTRIES: &[CatalogEntry] = include!(concat!(env!("OUT_DIR"), "/models_entries.rs"));

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

/// Every catalog model.
#[must_use]
pub fn models() -> &'static [CatalogModel] {
    static MODELS: OnceLock<Vec<CatalogModel>> = OnceLock::new();
    MODELS.get_or_init(|| ENTRIES.iter().map(CatalogEntry::parse).collect())
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
    static CELLS: [OnceLock<CatalogModel>; ENTRIES.len()] = [const { OnceLock::new() }; ENTRIES.len()];
    if let Some(i) = position(ENTRIES, name, true) {
        return Ok(parsed(ENTRIES, &CELLS, i));
    }
    Err(Error::UnknownModel {
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

#[cfg(test)]
mod tests {
    use super::super::names::normalize;
    use super::*;

    /// The configs are embedded without their layout: each is the same JSON as its file.
    #[test]
    fn embedded_configs_are_their_files_without_layout() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/configs");
        for (name, text) in CONFIGS {
            let file = std::fs::read_to_string(dir.join(name)).unwrap();
            let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
            assert_eq!(parse(text), parse(&file), "{name}");
            assert!(!text.contains('\n') && text.len() <= file.len(), "{name}");
        }
    }

    /// A lookup parses one row: every row parses to the catalog's model, and every name of it
    /// finds what the whole-catalog search found (exact spelling first, then normalized).
    #[test]
    fn each_row_is_the_catalog_model_and_answers_to_its_names() {
        assert_eq!(ENTRIES.len(), models().len());
        for (e, m) in ENTRIES.iter().zip(models()) {
            assert_eq!(&serde_json::from_str::<CatalogModel>(e.json).unwrap(), m);
            let spellings: Vec<&str> =
                [m.name.as_str(), m.hf_id.as_str()].into_iter().chain(m.aliases.iter().map(String::as_str)).collect();
            assert_eq!(e.names, &spellings[..]);
            for n in spellings.iter().flat_map(|s| [s.to_string(), s.to_uppercase(), s.replace('-', "_")]) {
                let all = |m: &&CatalogModel| {
                    [m.name.clone(), m.hf_id.clone()].into_iter().chain(m.aliases.iter().cloned()).collect::<Vec<_>>()
                };
                let exact = models().iter().find(|m| all(m).iter().any(|s| s.eq_ignore_ascii_case(&n)));
                let first =
                    exact.or_else(|| models().iter().find(|m| all(m).iter().any(|s| normalize(s) == normalize(&n))));
                assert_eq!(find_model(&n).ok(), first, "{n}");
            }
        }
        assert!(find_model("no-such-model-anywhere").is_err());
    }
}
