//! A catalog row as compiled in: the names it answers to and its own JSON, so that looking up
//! one model or GPU parses that row only (parsing a whole catalog was most of an estimate's
//! start-up). `build.rs` writes the rows from the TOML catalogs.

use super::names::normalize;
use serde::de::DeserializeOwned;
use std::sync::OnceLock;

/// One row of a catalog.
#[derive(Debug)]
pub(crate) struct CatalogEntry {
    /// Its canonical name first, then every other name it answers to (the Hugging Face id,
    /// aliases).
    pub names: &'static [&'static str],
    /// The row as JSON (the TOML table, converted at build time).
    pub json: &'static str,
}

/// The first row one of whose names equals `name` ignoring ASCII case, else the first whose
/// names equal it once normalized (case, `-`, `_`, `.` and spaces ignored); exact matches win
/// because `opt-1.3b` and `opt-13b` differ by a dot only.
pub(crate) fn position(entries: &[CatalogEntry], name: &str, exact_first: bool) -> Option<usize> {
    let t = name.trim();
    if exact_first {
        if let Some(i) = entries.iter().position(|e| e.names.iter().any(|n| n.eq_ignore_ascii_case(t))) {
            return Some(i);
        }
    }
    let q = normalize(t);
    entries.iter().position(|e| e.names.iter().any(|n| normalize(n) == q))
}

/// Row `i` parsed, once per process.
///
/// # Panics
/// A row that does not parse: the catalog-integrity tests parse every row.
pub(crate) fn parsed<T: DeserializeOwned>(
    entries: &[CatalogEntry],
    cells: &'static [OnceLock<T>],
    i: usize,
) -> &'static T {
    cells[i].get_or_init(|| {
        serde_json::from_str(entries[i].json).unwrap_or_else(|e| {
            panic!("catalog row {} is checked by the catalog-integrity test: {e}", entries[i].names[0])
        })
    })
}
