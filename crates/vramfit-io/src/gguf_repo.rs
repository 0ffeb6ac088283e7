//! A Hub repository of GGUF files (bartowski/…-GGUF, unsloth/…-GGUF): every `.gguf` file the
//! Hub's tree API lists, split files
//! (`-00001-of-00003.gguf`) as one model, each header read progressively with Range requests.
//!
//! What to ask for, and how parts join, are the core's steps
//! ([`vramfit_core::formats::gguf_repo`]), which the web page follows too: here only the HTTP.

use crate::hub::{HubClient, RepoId};
use crate::IoError;
use vramfit_core::formats::gguf::GgufFile;
use vramfit_core::formats::gguf_repo::{self, Step, TREE_LIMIT};
use vramfit_core::formats::FormatError;

pub use vramfit_core::formats::gguf_repo::split_part;
/// One model of the repository: a `.gguf` file, or the parts of a split one.
pub use vramfit_core::formats::gguf_repo::RepoModel as GgufModelFile;

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

/// Read a GGUF header through Range requests of `file` in `repo`, as the core's steps ask.
fn read_header(hub: &HubClient, repo: &RepoId, file: &str, size: u64, requests: &mut u64) -> Result<GgufFile, IoError> {
    let format = |error: FormatError| IoError::Format { source_name: file.to_string(), error };
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let (start, end, need) = match gguf_repo::next_step(&buf, size).map_err(format)? {
            Step::Done(f) => return Ok(f),
            Step::Ask { start, end, need } => (start, end, need),
        };
        *requests += 1;
        let more = hub.file_range(repo, file, start, end)?;
        if more.is_empty() {
            return Err(format(FormatError::Truncated { format: "gguf", needed: need, available: start }));
        }
        buf.extend_from_slice(&more);
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
    let listed = gguf_repo::listing(&body).map_err(|e| IoError::Hub {
        what: format!("{} file list", repo.display()),
        reason: format!("not the Hub's tree listing: {e}"),
    })?;
    let mut requests = 0u64;
    let mut files = Vec::new();
    for model in &listed {
        let mut headers = Vec::new();
        let mut error = None;
        for (part, size) in &model.parts {
            match read_header(hub, repo, part, *size, &mut requests) {
                Ok(f) => headers.push(f),
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let source = format!("{}/{}", repo.display(), model.name);
        files.push(gguf_repo::model_of_parts(model, headers, error, &source));
    }
    Ok(GgufRepo { repo: repo.display(), files, bytes_transferred: hub.bytes_transferred() - start, requests })
}
