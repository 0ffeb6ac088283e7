//! A Hub repository of GGUF files (bartowski/…-GGUF, unsloth/…-GGUF): every `.gguf` file the
//! Hub's tree API lists, split files
//! (`-00001-of-00003.gguf`) as one model, each header read progressively with Range requests.
//!
//! Reading asks for what the parser says it still needs plus a quarter of what it already
//! has (at least 64 KiB): a few round trips for a header of megabytes of vocabulary, and never
//! more than about 1.25× the header (not the 2× of doubling).

use crate::hub::{HubClient, RepoId};
use crate::IoError;
use vramfit_core::formats::gguf::{self, GgufFile};
use vramfit_core::formats::{FormatError, Parsed};
use vramfit_core::model::ModelSpec;

/// Least bytes asked per request.
const MIN_READ: u64 = 64 << 10;
/// Largest tree listing read.
const TREE_LIMIT: u64 = 16 << 20;

/// One model of the repository: a `.gguf` file, or the parts of a split one.
#[derive(Debug, Clone)]
pub struct GgufModelFile {
    /// The file name, or the first part's name for a split model.
    pub name: String,
    /// Every part, in order (one for an unsplit file).
    pub parts: Vec<String>,
    /// Bytes of all parts, as the Hub lists them.
    pub bytes: u64,
    /// Bytes of the headers (key/values and tensor infos) of all parts.
    pub header_bytes: u64,
    /// The model the headers describe (exact tensor bytes as its checkpoint).
    pub spec: Result<ModelSpec, String>,
    /// `general.file_type` (`Q4_K_M`) when the header names it.
    pub file_type: Option<String>,
}

/// Every GGUF model in a repository.
#[derive(Debug, Clone)]
pub struct GgufRepo {
    /// `org/name@revision`.
    pub repo: String,
    /// The models, in the listing's order.
    pub files: Vec<GgufModelFile>,
    /// Bytes received from the Hub for the listing and the headers.
    pub bytes_transferred: u64,
    /// Range requests made for the headers.
    pub requests: u64,
}

/// An entry of the tree listing.
#[derive(serde::Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(serde::Deserialize)]
struct Lfs {
    size: u64,
}

/// `name-00002-of-00003.gguf` → (`name`, 2, 3).
#[must_use]
pub fn split_part(name: &str) -> Option<(&str, u32, u32)> {
    let stem = name.strip_suffix(".gguf")?;
    let (rest, of) = stem.rsplit_once("-of-")?;
    let (base, part) = rest.rsplit_once('-')?;
    let digits = |s: &str| s.len() == 5 && s.chars().all(|c| c.is_ascii_digit());
    if !digits(part) || !digits(of) {
        return None;
    }
    Some((base, part.parse().ok()?, of.parse().ok()?))
}

/// The `.gguf` files of a listing grouped into models: (name, parts with sizes).
fn group(entries: &[(String, u64)]) -> Vec<(String, Vec<(String, u64)>)> {
    let mut out: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    for (path, size) in entries {
        match split_part(path) {
            Some((base, _, _)) => {
                match out.iter_mut().find(|(n, _)| split_part(n).is_some_and(|(b, _, _)| b == base)) {
                    Some((_, parts)) => parts.push((path.clone(), *size)),
                    None => out.push((path.clone(), vec![(path.clone(), *size)])),
                }
            }
            None => out.push((path.clone(), vec![(path.clone(), *size)])),
        }
    }
    for (name, parts) in &mut out {
        parts.sort_by_key(|(p, _)| split_part(p).map_or(0, |(_, i, _)| i));
        if let Some(first) = parts.first() {
            name.clone_from(&first.0);
        }
    }
    out
}

/// Read a GGUF header through Range requests of `file` in `repo`.
fn read_header(hub: &HubClient, repo: &RepoId, file: &str, size: u64, requests: &mut u64) -> Result<GgufFile, IoError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut need = MIN_READ;
    loop {
        let have = buf.len() as u64;
        let want = need.saturating_sub(have).max(have / 4).max(MIN_READ).min(size.saturating_sub(have));
        if want == 0 {
            return Err(IoError::Format {
                source_name: file.to_string(),
                error: FormatError::Truncated { format: "gguf", needed: need, available: have },
            });
        }
        *requests += 1;
        let more = hub.file_range(repo, file, have, have + want - 1)?;
        if more.is_empty() {
            return Err(IoError::Format {
                source_name: file.to_string(),
                error: FormatError::Truncated { format: "gguf", needed: need, available: have },
            });
        }
        buf.extend_from_slice(&more);
        if buf.len() as u64 > gguf::MAX_HEADER_BYTES {
            return Err(IoError::Format {
                source_name: file.to_string(),
                error: FormatError::Truncated { format: "gguf", needed: need, available: gguf::MAX_HEADER_BYTES },
            });
        }
        match gguf::parse_header(&buf).map_err(|error| IoError::Format { source_name: file.to_string(), error })? {
            Parsed::Done(f) => return Ok(f),
            Parsed::NeedBytes(n) => need = n,
        }
    }
}

/// List the repository's GGUF files and read every header.
///
/// # Errors
/// The listing cannot be read (not found, gated, offline); a header that fails is kept as
/// that file's error instead.
pub fn read_gguf_repo(hub: &HubClient, repo: &RepoId) -> Result<GgufRepo, IoError> {
    let start = hub.bytes_transferred();
    let path = format!("api/models/{}/tree/{}?recursive=true", repo.repo, repo.revision.replace('/', "%2F"));
    let body = hub.api_get(&format!("{} file list", repo.display()), &path, TREE_LIMIT)?;
    let entries: Vec<TreeEntry> = serde_json::from_slice(&body).map_err(|e| IoError::Hub {
        what: format!("{} file list", repo.display()),
        reason: format!("not the Hub's tree listing: {e}"),
    })?;
    let ggufs: Vec<(String, u64)> = entries
        .into_iter()
        .filter(|e| e.kind == "file" && e.path.to_ascii_lowercase().ends_with(".gguf"))
        .map(|e| {
            let size = e.lfs.map_or(e.size, |l| l.size);
            (e.path, size)
        })
        .collect();
    let mut requests = 0u64;
    let mut files = Vec::new();
    for (name, parts) in group(&ggufs) {
        let bytes = parts.iter().map(|p| p.1).sum();
        let mut header_bytes = 0u64;
        let mut merged: Option<GgufFile> = None;
        let mut error = None;
        for (part, size) in &parts {
            match read_header(hub, repo, part, *size, &mut requests) {
                Ok(f) => {
                    header_bytes += f.header_bytes;
                    match &mut merged {
                        None => merged = Some(f),
                        Some(m) => m.tensors.extend(f.tensors),
                    }
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let file_type = merged.as_ref().and_then(GgufFile::file_type).map(str::to_string);
        let spec = match (error, merged) {
            (Some(e), _) => Err(e),
            (None, Some(f)) => vramfit_core::config::spec_from_gguf(&f, &format!("{}/{name}", repo.display()))
                .map_err(|e| e.to_string()),
            (None, None) => Err("no parts".into()),
        };
        files.push(GgufModelFile {
            name,
            parts: parts.into_iter().map(|p| p.0).collect(),
            bytes,
            header_bytes,
            spec,
            file_type,
        });
    }
    Ok(GgufRepo { repo: repo.display(), files, bytes_transferred: hub.bytes_transferred() - start, requests })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names_group_into_one_model() {
        assert_eq!(split_part("Q8_0/m-Q8_0-00002-of-00003.gguf"), Some(("Q8_0/m-Q8_0", 2, 3)));
        assert_eq!(split_part("m-Q4_K_M.gguf"), None);
        assert_eq!(split_part("m-1-of-3.gguf"), None);
        let g =
            group(&[("a-00002-of-00002.gguf".into(), 5), ("b.gguf".into(), 7), ("a-00001-of-00002.gguf".into(), 3)]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].0, "a-00001-of-00002.gguf");
        assert_eq!(g[0].1.iter().map(|p| p.1).sum::<u64>(), 8);
    }
}
