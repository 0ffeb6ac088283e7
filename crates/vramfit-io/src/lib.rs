//! I/O for vramfit: finding a model (the catalog, a local checkpoint — config.json,
//! safetensors, GGUF — or a Hugging Face repo read header-only over HTTP) and reading
//! validation cases with their config files. The core stays pure; everything that touches
//! the file system or the network is here.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod adapter;
mod gguf_repo;
mod headers;
pub mod hub;
mod local;

use std::path::{Path, PathBuf};
use thiserror::Error;
use vramfit_core::catalog::{self, CatalogModel};
use vramfit_core::formats::FormatError;
use vramfit_core::validate::Case;
use vramfit_core::ModelSpec;

pub use adapter::{read_adapter, PeftAdapter};
pub use gguf_repo::{read_gguf_repo, split_part, GgufModelFile, GgufRepo};
pub use hub::{HubClient, HubConfig, Progress, RepoId};

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
    /// A checkpoint header is malformed or truncated.
    #[error("{source_name}: {error}")]
    Format {
        /// The file or URL.
        source_name: String,
        /// What the parser found.
        error: FormatError,
    },
    /// A local path is not a model vramfit can read.
    #[error("{path}: {reason}")]
    Local {
        /// The path.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The repo is gated or private and the request was refused.
    #[error("{what}: access refused (HTTP {status}): the model is gated or private; accept the license on the Hub and set HF_TOKEN")]
    HubGated {
        /// Repo and file.
        what: String,
        /// 401 or 403.
        status: u16,
    },
    /// The repo does not exist (or is private and no token was sent).
    #[error("{what}: repository not found (HTTP {status}); check the name, or set HF_TOKEN if it is private")]
    HubRepoNotFound {
        /// Repo and file.
        what: String,
        /// 401 or 404.
        status: u16,
    },
    /// A file or revision does not exist in the repo.
    #[error("{what}: {} (HTTP 404)", if *.revision_missing { "revision not found; check --revision" } else { "not found in the repository" })]
    HubMissing {
        /// Repo and file.
        what: String,
        /// The revision, not the file, is missing.
        revision_missing: bool,
    },
    /// Another HTTP error status.
    #[error("{what}: HTTP {status} from {url}: {reason}")]
    HubStatus {
        /// Repo and file.
        what: String,
        /// URL asked.
        url: String,
        /// Status.
        status: u16,
        /// Status text or advice.
        reason: String,
    },
    /// The network failed (connection, timeout, dropped body).
    #[error("{what}: cannot read {url}: {reason} (offline? HF_HUB_OFFLINE=1 reads the Hugging Face cache, HF_ENDPOINT names a mirror, or pass a local directory)")]
    Network {
        /// Repo and file.
        what: String,
        /// URL.
        url: String,
        /// The transport's error.
        reason: String,
    },
    /// A response ended before the bytes asked for.
    #[error("{what}: truncated response from {url}: {got} of {expected} bytes")]
    Truncated {
        /// Repo and file.
        what: String,
        /// URL.
        url: String,
        /// Bytes received.
        got: u64,
        /// Bytes asked for.
        expected: u64,
    },
    /// Another Hub failure.
    #[error("{what}: {reason}")]
    Hub {
        /// What was being read.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// A Hub read failed for an id the catalog knows under a nearby spelling.
    #[error("{source}; did you mean {catalog} from the built-in catalog (no network needed)?")]
    HubNearCatalog {
        /// The Hub's error.
        source: Box<IoError>,
        /// The catalog entry.
        catalog: String,
    },
    /// `HF_HUB_OFFLINE` is set and the file is not cached.
    #[error("HF_HUB_OFFLINE is set and {repo} {what} is not in the cache ({}); unset HF_HUB_OFFLINE to fetch it", .cache.display())]
    Offline {
        /// Repo and revision.
        repo: String,
        /// The file.
        what: String,
        /// The repo's cache folder.
        cache: PathBuf,
    },
}

impl IoError {
    /// Whether trying again may help (rate limits, server errors, timeouts, dropped
    /// connections, truncated bodies).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            IoError::Network { .. } | IoError::Truncated { .. } => true,
            IoError::HubStatus { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Largest cases file read (far above any real one); config.json files are bounded by
/// [`vramfit_core::limits::CONFIG_BYTES`].
const MAX_CASES_BYTES: u64 = 64 << 20;

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
    /// Bytes received over the network to describe it.
    pub bytes_transferred: u64,
    /// Bytes of checkpoint headers read from disk (local files and caches).
    pub bytes_read: u64,
    /// Things a report should say about how it was read.
    pub notes: Vec<String>,
}

/// How to resolve a model name.
pub struct ResolveOptions<'a> {
    /// Revision for a repo id (`MODEL@REV` wins).
    pub revision: Option<String>,
    /// Hub settings (from the environment by default).
    pub hub: HubConfig,
    /// Called after each shard header read from the Hub.
    pub progress: Option<&'a mut dyn FnMut(Progress<'_>)>,
}

impl Default for ResolveOptions<'_> {
    fn default() -> Self {
        ResolveOptions { revision: None, hub: HubConfig::from_env(), progress: None }
    }
}

/// Read a config.json (or a safetensors index) with [`vramfit_core::limits::CONFIG_BYTES`].
///
/// # Errors
/// Missing, unreadable, not UTF-8, or beyond the limit.
pub fn read_text(path: &Path) -> Result<String, IoError> {
    read_text_within(path, vramfit_core::limits::CONFIG_BYTES.max)
}

/// Read a text file of at most `limit` bytes. The bytes are counted as they are read, not
/// taken from the file's size: a device (`/dev/zero`) or a FIFO reports 0 and never ends.
///
/// # Errors
/// Missing, unreadable, not UTF-8, or longer than `limit`.
pub fn read_text_within(path: &Path, limit: u64) -> Result<String, IoError> {
    use std::io::Read;
    let err = |source| IoError::Read { path: path.to_path_buf(), source };
    refuse_pipe(path)?;
    let file = std::fs::File::open(path).map_err(err)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(err)?;
    if bytes.len() as u64 > limit {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("file larger than {limit} bytes (the limit on {})", vramfit_core::limits::CONFIG_BYTES.name),
        )));
    }
    String::from_utf8(bytes).map_err(|_| err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8")))
}

/// A named pipe or socket is refused before it is opened: opening a pipe waits for a writer,
/// so `vramfit estimate some-fifo` would hang (newcomer D11). Devices are read within the
/// byte limit instead (see [`read_text_within`]).
///
/// # Errors
/// `path` is a named pipe or a socket.
pub(crate) fn refuse_pipe(path: &Path) -> Result<(), IoError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(m) = std::fs::metadata(path) {
            let t = m.file_type();
            if t.is_fifo() || t.is_socket() {
                return Err(IoError::Local {
                    path: path.to_path_buf(),
                    reason: format!(
                        "is a {}, not a file: vramfit reads config.json, safetensors and GGUF files (save the model to a file first)",
                        if t.is_fifo() { "named pipe" } else { "socket" }
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Resolve `MODEL` with the environment's Hub settings: see [`resolve_model_with`].
///
/// # Errors
/// As [`resolve_model_with`].
pub fn resolve_model(name: &str) -> Result<ResolvedModel, IoError> {
    resolve_model_with(name, ResolveOptions::default())
}

/// Resolve `MODEL`, in order: a catalog name or alias; a local path (a directory with
/// config.json and safetensors files or an index, a .safetensors file beside its
/// config.json, a .gguf file, a config.json file); a Hugging Face repo id
/// (`org/name[@revision]`), read header-only.
///
/// # Errors
/// Not found (with catalog suggestions), unreadable or invalid files, Hub failures.
pub fn resolve_model_with(name: &str, mut opts: ResolveOptions<'_>) -> Result<ResolvedModel, IoError> {
    let not_found = match catalog::find_model(name) {
        Ok(m) if opts.revision.is_none() => {
            let spec =
                m.spec().map_err(|source| IoError::Core { context: format!("catalog model {}", m.name), source })?;
            return Ok(ResolvedModel {
                name: m.name.clone(),
                spec,
                origin: "catalog".into(),
                catalog: Some(m),
                bytes_transferred: 0,
                bytes_read: 0,
                notes: vec![],
            });
        }
        Ok(_) => None,
        Err(e) => Some(e),
    };
    let path = Path::new(name);
    if let Some(adapter) = adapter::read_adapter(path)? {
        // The base model, resolved as MODEL would be (catalog, path or Hub), with the adapter said.
        if adapter::read_adapter(Path::new(&adapter.base))?.is_some() {
            return Err(IoError::Local {
                path: adapter.config.clone(),
                reason: format!("its base model {} is another adapter: pass the base model itself", adapter.base),
            });
        }
        let mut base = resolve_model_with(&adapter.base, opts)?;
        base.notes.insert(0, adapter.describe());
        return Ok(base);
    }
    if path.exists() {
        return local::read_path(name, path);
    }
    let looks_like_path = name.starts_with(['.', '/', '~'])
        || [".json", ".gguf", ".safetensors"].iter().any(|ext| name.to_ascii_lowercase().ends_with(ext));
    if !looks_like_path {
        if let Some(repo) = RepoId::parse(name, opts.revision.as_deref()) {
            let client = HubClient::new(opts.hub)?;
            let mut ignore = |_: Progress<'_>| {};
            let progress: &mut dyn FnMut(Progress<'_>) = match opts.progress.as_mut() {
                Some(p) => *p,
                None => &mut ignore,
            };
            let m = client.fetch_model(&repo, progress).map_err(|e| near_catalog(e, &repo))?;
            return local::from_hub(name, m, client.config());
        }
    }
    match not_found {
        None => Err(IoError::Local {
            path: path.to_path_buf(),
            reason: "--revision applies to Hugging Face repo ids (org/name), not catalog names".into(),
        }),
        Some(e) if !looks_like_path => Err(IoError::NotFound(e)),
        _ => Err(IoError::Local { path: path.to_path_buf(), reason: "no such file or directory".into() }),
    }
}

/// A Hub failure for a repo id that differs from a catalog alias only by its revision
/// (`Qwen/Qwen3-8B@main`) or a `-hf` suffix (`meta-llama/Llama-2-7b`) names the catalog
/// entry (newcomer D13).
fn near_catalog(e: IoError, repo: &RepoId) -> IoError {
    let id = repo.repo.as_str();
    let base = id.strip_suffix("-hf").or_else(|| id.strip_suffix("-HF"));
    let spellings = [Some(id.to_string()), Some(format!("{id}-hf")), base.map(str::to_string)];
    match spellings.into_iter().flatten().find_map(|s| catalog::find_model(&s).ok()) {
        Some(m) => IoError::HubNearCatalog { source: Box::new(e), catalog: m.name.clone() },
        None => e,
    }
}

/// Bytes of the tensors a local GGUF file holds (its header only is read): the weights of a
/// multimodal projector given with `--mmproj`.
///
/// # Errors
/// The file cannot be read or is not a GGUF file.
pub fn gguf_tensor_bytes(path: &Path) -> Result<u64, IoError> {
    headers::gguf_file(path).map(|(f, _)| f.tensor_bytes())
}

/// A local `--mmproj` GGUF (its header only is read): the bytes of its tensors, and its
/// vision encoder's shape for the warm-up compute buffers, or why that graph is not modelled.
/// A `.json` file is read as the model's config.json instead (its `vision_config`).
///
/// # Errors
/// The file cannot be read or is not a GGUF file; a config.json without a modelled
/// `vision_config`.
pub fn gguf_mmproj(
    path: &Path,
) -> Result<(u64, Result<vramfit_core::estimate::mmproj::ClipProjector, String>), IoError> {
    use vramfit_core::estimate::mmproj::ClipProjector;
    if path.extension().is_some_and(|x| x.eq_ignore_ascii_case("json")) {
        // No GGUF: the projector a config.json's vision_config describes, its weights as the
        // converter writes them in F16.
        let text = read_text(path)?;
        let p = ClipProjector::from_config_json(&text)
            .map_err(|e| IoError::Local { path: path.to_path_buf(), reason: e.to_string() })?;
        return Ok((p.weight_bytes(), Ok(p)));
    }
    headers::gguf_file(path).map(|(f, _)| {
        let projector = ClipProjector::from_gguf(&f).map_err(|e| e.to_string());
        (f.tensor_bytes(), projector)
    })
}

/// The tensors of a local LoRA adapter GGUF given with `--lora` (its header only is read).
///
/// # Errors
/// The file cannot be read or is not a GGUF file.
pub fn gguf_lora_adapter(path: &Path) -> Result<vramfit_core::estimate::LoraAdapter, IoError> {
    headers::gguf_file(path).map(|(f, _)| vramfit_core::estimate::LoraAdapter::from_gguf(&f))
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
    let text = read_text_within(path, MAX_CASES_BYTES)?;
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
