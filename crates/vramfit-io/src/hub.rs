//! A small Hugging Face Hub client: config.json, the safetensors index and each shard's
//! header (two HTTP Range requests per shard), read through and written to the standard
//! cache. Follows huggingface_hub's conventions:
//!
//! - `HF_ENDPOINT` (default `https://huggingface.co`); files at
//!   `{endpoint}/{repo}/resolve/{revision}/{file}`, the commit in `X-Repo-Commit`, the blob
//!   id in `X-Linked-Etag` / `ETag`, errors named by `X-Error-Code`.
//! - `HF_TOKEN`, else the token file (`HF_TOKEN_PATH`, default `$HF_HOME/token`), sent as
//!   `Authorization: Bearer` to the endpoint's host only: a redirect to another host (the
//!   CDN) keeps the `Range` header and drops the token.
//! - `HF_HOME` (default `~/.cache/huggingface`), `HF_HUB_CACHE` (default `$HF_HOME/hub`):
//!   `models--{org}--{name}/refs/{revision}` holds the commit,
//!   `snapshots/{commit}/{file}` links to `blobs/{etag}`. Whole files found there are read
//!   (a fully downloaded shard is read locally, header only); what is fetched whole
//!   (config.json, the index) is written there the same way. Shard headers, which are not
//!   whole files, go to `$HF_HOME/vramfit/safetensors-headers/` so the standard cache never
//!   holds a truncated blob.
//! - `HF_HUB_OFFLINE=1`: no network; everything must come from the caches.
//! - `HF_HUB_DOWNLOAD_TIMEOUT` / `HF_HUB_ETAG_TIMEOUT` (seconds): read and connect timeouts.
//!
//! Retries: 429 and 5xx answers, timeouts, dropped connections and truncated bodies are tried
//! again with exponential backoff (honouring a short `Retry-After`).

use crate::headers::{self, RangeSource};
use crate::IoError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vramfit_core::formats::safetensors::{self, SafetensorsHeader, ShardIndex};

/// Largest config.json or index fetched.
const MAX_JSON_BYTES: u64 = 64 << 20;
/// Redirects followed per request.
const MAX_REDIRECTS: u32 = 5;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How the client reaches the Hub and where it caches.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Base URL (`HF_ENDPOINT`).
    pub endpoint: String,
    /// Access token (`HF_TOKEN` or the token file).
    pub token: Option<String>,
    /// `HF_HOME`.
    pub hf_home: PathBuf,
    /// `HF_HUB_CACHE`.
    pub hub_cache: PathBuf,
    /// `HF_HUB_OFFLINE`.
    pub offline: bool,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Read timeout (per read on the socket).
    pub read_timeout: Duration,
    /// Tries after the first.
    pub retries: u32,
    /// First backoff delay; doubles each retry.
    pub backoff: Duration,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on" | "y" | "t")
}

impl HubConfig {
    /// The configuration the environment describes, as huggingface_hub reads it.
    #[must_use]
    pub fn from_env() -> Self {
        let home = env("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        let hf_home = env("HF_HOME").map_or_else(
            || env("XDG_CACHE_HOME").map_or_else(|| home.join(".cache"), PathBuf::from).join("huggingface"),
            PathBuf::from,
        );
        let hub_cache = env("HF_HUB_CACHE")
            .or_else(|| env("HUGGINGFACE_HUB_CACHE"))
            .map_or_else(|| hf_home.join("hub"), PathBuf::from);
        let token = env("HF_TOKEN")
            .or_else(|| env("HUGGING_FACE_HUB_TOKEN"))
            .or_else(|| {
                let path = env("HF_TOKEN_PATH").map_or_else(|| hf_home.join("token"), PathBuf::from);
                std::fs::read_to_string(path).ok()
            })
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let secs = |k: &str, d: u64| {
            env(k)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map_or(Duration::from_secs(d), |s| Duration::from_secs_f64(s.clamp(0.1, 3600.0)))
        };
        HubConfig {
            endpoint: env("HF_ENDPOINT")
                .map_or_else(|| "https://huggingface.co".into(), |e| e.trim_end_matches('/').to_string()),
            token,
            hf_home,
            hub_cache,
            offline: env("HF_HUB_OFFLINE").is_some_and(|v| truthy(&v)),
            connect_timeout: secs("HF_HUB_ETAG_TIMEOUT", 10),
            read_timeout: secs("HF_HUB_DOWNLOAD_TIMEOUT", 30),
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

/// A Hugging Face repo id with an optional revision: `org/name[@revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    /// `org/name`.
    pub repo: String,
    /// Branch, tag or commit.
    pub revision: String,
}

impl RepoId {
    /// Parse `org/name[@revision]`; `None` when it is not shaped like a repo id.
    #[must_use]
    pub fn parse(s: &str, revision: Option<&str>) -> Option<Self> {
        let (repo, rev) = match s.split_once('@') {
            Some((r, v)) => (r, Some(v)),
            None => (s, None),
        };
        let (org, name) = repo.split_once('/')?;
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 96
                && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !p.starts_with(['.', '-'])
                && !p.ends_with('.')
                && !p.contains("..")
                && !p.contains("--")
        };
        if !part_ok(org) || !part_ok(name) {
            return None;
        }
        let revision = rev.or(revision).unwrap_or("main");
        let rev_ok = !revision.is_empty()
            && revision.len() <= 255
            && !revision.contains("..")
            && revision.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        rev_ok.then(|| RepoId { repo: repo.to_string(), revision: revision.to_string() })
    }

    /// The cache folder name: `models--org--name`.
    #[must_use]
    pub fn folder(&self) -> String {
        format!("models--{}", self.repo.replace('/', "--"))
    }

    /// `org/name@revision`.
    #[must_use]
    pub fn display(&self) -> String {
        format!("{}@{}", self.repo, self.revision)
    }
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Progress of a multi-file read, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Files done.
    pub done: usize,
    /// Files in all.
    pub total: usize,
    /// The file just read.
    pub file: &'a str,
    /// Bytes transferred so far.
    pub bytes: u64,
}

/// What was read from the Hub (or its cache) for one model.
#[derive(Debug, Clone)]
pub struct HubModel {
    /// The repo asked for.
    pub repo: RepoId,
    /// The commit the revision resolved to.
    pub commit: String,
    /// config.json text.
    pub config: String,
    /// Shard headers, in index order; empty when the repo has no safetensors weights.
    pub shards: Vec<(String, SafetensorsHeader)>,
    /// The index, when the checkpoint is sharded.
    pub index: Option<ShardIndex>,
    /// Bytes received over the network (bodies).
    pub bytes_transferred: u64,
    /// Requests sent.
    pub requests: u64,
    /// Files found in the caches instead of fetched.
    pub cache_hits: u64,
    /// Things the report should say.
    pub notes: Vec<String>,
}

/// One HTTP answer that was read.
struct Fetched {
    body: Vec<u8>,
    commit: Option<String>,
    etag: Option<String>,
}

/// The client.
pub struct HubClient {
    cfg: HubConfig,
    agent: ureq::Agent,
    endpoint: url::Url,
    transferred: u64,
    requests: u64,
}

impl HubClient {
    /// A client for `cfg`.
    ///
    /// # Errors
    /// An endpoint that is not a URL.
    pub fn new(cfg: HubConfig) -> Result<Self, IoError> {
        let endpoint = url::Url::parse(&cfg.endpoint).map_err(|e| IoError::Hub {
            what: format!("HF_ENDPOINT {:?}", cfg.endpoint),
            reason: format!("not a URL: {e}"),
        })?;
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(cfg.connect_timeout)
            .timeout_read(cfg.read_timeout)
            .user_agent(concat!("vramfit/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(HubClient { cfg, agent, endpoint, transferred: 0, requests: 0 })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &HubConfig {
        &self.cfg
    }

    fn resolve_url(&self, repo: &RepoId, rev: &str, file: &str) -> String {
        // Branch names with slashes (refs/pr/1) are one path segment, percent-encoded.
        format!("{}/{}/resolve/{}/{}", self.cfg.endpoint, repo.repo, rev.replace('/', "%2F"), file)
    }

    fn same_origin(&self, u: &url::Url) -> bool {
        u.scheme() == self.endpoint.scheme()
            && u.host_str() == self.endpoint.host_str()
            && u.port_or_known_default() == self.endpoint.port_or_known_default()
    }

    /// GET `url` (optionally a byte range), following redirects by hand so the token stays
    /// on the endpoint's host, retrying transient failures, reading at most `limit` bytes.
    fn get(&mut self, what: &str, url: &str, range: Option<(u64, u64)>, limit: u64) -> Result<Fetched, IoError> {
        let mut attempt = 0u32;
        loop {
            match self.get_once(what, url, range, limit) {
                Ok(f) => return Ok(f),
                Err((e, retry_after)) if e.is_transient() && attempt < self.cfg.retries => {
                    let backoff = self.cfg.backoff.saturating_mul(1 << attempt.min(16));
                    std::thread::sleep(retry_after.map_or(backoff, |r| r.min(MAX_RETRY_AFTER)));
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    fn get_once(
        &mut self,
        what: &str,
        url: &str,
        range: Option<(u64, u64)>,
        limit: u64,
    ) -> Result<Fetched, (IoError, Option<Duration>)> {
        let mut current = url::Url::parse(url)
            .map_err(|e| (IoError::Hub { what: what.to_string(), reason: format!("bad URL {url}: {e}") }, None))?;
        let mut commit = None;
        let mut etag = None;
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.agent.get(current.as_str());
            if let Some((start, end)) = range {
                req = req.set("Range", &format!("bytes={start}-{end}"));
            }
            if let (Some(t), true) = (&self.cfg.token, self.same_origin(&current)) {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
            self.requests += 1;
            let resp = match req.call() {
                Ok(r) => r,
                Err(ureq::Error::Status(code, r)) => {
                    let retry_after =
                        r.header("Retry-After").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
                    return Err((status_error(what, current.as_str(), code, &r), retry_after));
                }
                Err(ureq::Error::Transport(t)) => {
                    return Err((
                        IoError::Network { what: what.to_string(), url: current.to_string(), reason: t.to_string() },
                        None,
                    ))
                }
            };
            // The first answer from the endpoint carries the commit and blob id.
            commit = commit.or_else(|| resp.header("X-Repo-Commit").map(str::to_string));
            etag = etag.or_else(|| {
                resp.header("X-Linked-Etag")
                    .or_else(|| resp.header("ETag"))
                    .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
            });
            if (300..400).contains(&resp.status()) {
                let loc = resp.header("Location").unwrap_or_default().to_string();
                current = current.join(&loc).map_err(|e| {
                    (IoError::Hub { what: what.to_string(), reason: format!("bad redirect {loc:?}: {e}") }, None)
                })?;
                continue;
            }
            let (skip, want) = match range {
                // A server that ignores Range answers 200 with the whole file: read only
                // what was asked for.
                Some((start, end)) if resp.status() == 200 => (start, end - start + 1),
                Some((start, end)) => (0, (end - start + 1).min(limit)),
                None => (0, limit),
            };
            let mut body = Vec::new();
            let read = resp
                .into_reader()
                .take(skip.saturating_add(want).saturating_add(u64::from(range.is_none())))
                .read_to_end(&mut body);
            self.transferred += body.len() as u64;
            if let Err(e) = read {
                return Err((
                    IoError::Network {
                        what: what.to_string(),
                        url: current.to_string(),
                        reason: format!("connection dropped after {} bytes: {e}", body.len()),
                    },
                    None,
                ));
            }
            if range.is_none() && body.len() as u64 > limit {
                return Err((
                    IoError::Hub { what: what.to_string(), reason: format!("larger than {limit} bytes") },
                    None,
                ));
            }
            let body = body.split_off(usize::try_from(skip).unwrap_or(usize::MAX).min(body.len()));
            if range.is_some() && (body.len() as u64) < want {
                return Err((
                    IoError::Truncated {
                        what: what.to_string(),
                        url: current.to_string(),
                        got: body.len() as u64,
                        expected: want,
                    },
                    None,
                ));
            }
            return Ok(Fetched { body, commit, etag });
        }
        Err((IoError::Hub { what: what.to_string(), reason: format!("more than {MAX_REDIRECTS} redirects") }, None))
    }

    // ---- the standard cache ------------------------------------------------------------

    fn repo_dir(&self, repo: &RepoId) -> PathBuf {
        self.cfg.hub_cache.join(repo.folder())
    }

    fn header_dir(&self, repo: &RepoId, commit: &str) -> PathBuf {
        self.cfg.hf_home.join("vramfit").join("safetensors-headers").join(repo.folder()).join(commit)
    }

    /// The commit a revision points to in the cache.
    fn cached_commit(&self, repo: &RepoId) -> Option<String> {
        if is_commit(&repo.revision) {
            return Some(repo.revision.clone());
        }
        let text = std::fs::read_to_string(self.repo_dir(repo).join("refs").join(&repo.revision)).ok()?;
        let c = text.trim().to_string();
        is_commit(&c).then_some(c)
    }

    fn cached_file(&self, repo: &RepoId, commit: &str, file: &str) -> Option<PathBuf> {
        let p = self.repo_dir(repo).join("snapshots").join(commit).join(file);
        p.is_file().then_some(p)
    }

    /// Write a whole file the way huggingface_hub does; failures only cost a later refetch.
    fn store(&self, repo: &RepoId, revision: &str, commit: &str, file: &str, etag: Option<&str>, body: &[u8]) {
        let dir = self.repo_dir(repo);
        let snap = dir.join("snapshots").join(commit);
        let _ = std::fs::create_dir_all(&snap);
        let target = snap.join(file);
        let blob_ok =
            etag.filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).and_then(|e| {
                let blobs = dir.join("blobs");
                std::fs::create_dir_all(&blobs).ok()?;
                let blob = blobs.join(e);
                write_atomic(&blob, body).ok()?;
                link_or_copy(&blob, &target, &Path::new("../../blobs").join(e)).ok()
            });
        if blob_ok.is_none() {
            let _ = write_atomic(&target, body);
        }
        if revision != commit {
            let r = dir.join("refs").join(revision);
            if let Some(parent) = r.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = write_atomic(&r, commit.as_bytes());
        }
    }

    // ---- reading a model -----------------------------------------------------------------

    /// Read config.json and every safetensors header of `repo`, from the caches where they
    /// are, from the Hub otherwise (never in offline mode).
    ///
    /// # Errors
    /// Offline and not cached; gated, private or missing repos and files; network failures
    /// after retries; malformed headers.
    pub fn fetch_model(&mut self, repo: &RepoId, progress: &mut dyn FnMut(Progress<'_>)) -> Result<HubModel, IoError> {
        let start_bytes = self.transferred;
        let start_requests = self.requests;
        let mut hits = 0u64;
        let mut notes = Vec::new();
        let offline = self.cfg.offline;
        let cached_commit = self.cached_commit(repo);
        // A commit is immutable: use the cache without asking. A branch may have moved: ask,
        // unless offline.
        let (commit, config) = match (&cached_commit, offline || is_commit(&repo.revision)) {
            (Some(c), true) if self.cached_file(repo, c, "config.json").is_some() => {
                hits += 1;
                let p = self.cached_file(repo, c, "config.json").unwrap_or_default();
                (c.clone(), crate::read_text(&p)?)
            }
            _ if offline => {
                return Err(IoError::Offline {
                    repo: repo.display(),
                    what: "config.json".into(),
                    cache: self.repo_dir(repo),
                })
            }
            _ => {
                let url = self.resolve_url(repo, &repo.revision, "config.json");
                let f = self.get(&format!("{} config.json", repo.display()), &url, None, MAX_JSON_BYTES)?;
                let commit = f.commit.clone().filter(|c| is_commit(c)).unwrap_or_else(|| repo.revision.clone());
                let text = String::from_utf8(f.body).map_err(|_| IoError::Hub {
                    what: format!("{} config.json", repo.display()),
                    reason: "not UTF-8".into(),
                })?;
                if is_commit(&commit) {
                    self.store(repo, &repo.revision, &commit, "config.json", f.etag.as_deref(), text.as_bytes());
                }
                (commit, text)
            }
        };
        // The index, or a single model.safetensors.
        let index_name = "model.safetensors.index.json";
        let index_text = match self.cached_file(repo, &commit, index_name) {
            Some(p) => {
                hits += 1;
                Some(crate::read_text(&p)?)
            }
            None if offline => None,
            None => {
                let url = self.resolve_url(repo, &commit, index_name);
                match self.get(&format!("{} {index_name}", repo.display()), &url, None, MAX_JSON_BYTES) {
                    Ok(f) => {
                        let text = String::from_utf8_lossy(&f.body).into_owned();
                        if is_commit(&commit) {
                            self.store(repo, &repo.revision, &commit, index_name, f.etag.as_deref(), text.as_bytes());
                        }
                        Some(text)
                    }
                    Err(IoError::HubMissing { .. }) => None,
                    Err(e) => return Err(e),
                }
            }
        };
        let index = index_text
            .map(|t| {
                safetensors::parse_index(&t)
                    .map_err(|error| IoError::Format { source_name: format!("{} {index_name}", repo.display()), error })
            })
            .transpose()?;
        let files: Vec<String> = match &index {
            Some(i) => i.shards.clone(),
            None => vec!["model.safetensors".into()],
        };
        let mut shards = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            match self.shard_header(repo, &commit, file, offline, &mut hits) {
                Ok(h) => shards.push((file.clone(), h)),
                Err(IoError::HubMissing { .. }) if index.is_none() => {
                    notes.push(format!("{} has no safetensors weights: weights from parameter counts", repo.display()));
                    break;
                }
                Err(IoError::Offline { .. }) if index.is_none() && offline => {
                    notes.push("offline: no cached safetensors header: weights from parameter counts".into());
                    break;
                }
                Err(e) => return Err(e),
            }
            progress(Progress { done: i + 1, total: files.len(), file, bytes: self.transferred - start_bytes });
        }
        if let (Some(i), false) = (&index, shards.is_empty()) {
            let sum: u64 = shards.iter().map(|(_, h)| h.data_bytes).sum();
            if let Some(total) = i.total_size.filter(|&t| t != sum) {
                notes.push(format!(
                    "the index's metadata.total_size ({total}) differs from the headers' tensor bytes ({sum}); the headers are used"
                ));
            }
        }
        Ok(HubModel {
            repo: repo.clone(),
            commit,
            config,
            shards,
            index,
            bytes_transferred: self.transferred - start_bytes,
            requests: self.requests - start_requests,
            cache_hits: hits,
            notes,
        })
    }

    fn shard_header(
        &mut self,
        repo: &RepoId,
        commit: &str,
        file: &str,
        offline: bool,
        hits: &mut u64,
    ) -> Result<SafetensorsHeader, IoError> {
        // A whole shard downloaded by huggingface_hub: read its header from disk.
        if let Some(p) = self.cached_file(repo, commit, file) {
            *hits += 1;
            return headers::safetensors_file(&p).map(|(h, _)| h);
        }
        // A header cached by an earlier run.
        let sidecar = self.header_dir(repo, commit).join(file);
        if let Ok(bytes) = std::fs::read(&sidecar) {
            if let Ok(vramfit_core::formats::Parsed::Done(h)) = safetensors::parse_header(&bytes) {
                *hits += 1;
                return Ok(h);
            }
        }
        if offline {
            return Err(IoError::Offline { repo: repo.display(), what: file.to_string(), cache: self.repo_dir(repo) });
        }
        let url = self.resolve_url(repo, commit, file);
        let what = format!("{} {file}", repo.display());
        let mut src = HttpSource { client: self, url, what };
        let (h, bytes) = headers::read_safetensors(&mut src)?;
        if is_commit(commit) {
            if let Some(parent) = sidecar.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = write_atomic(&sidecar, &bytes);
        }
        Ok(h)
    }
}

/// Byte ranges of a file on the Hub.
struct HttpSource<'a> {
    client: &'a mut HubClient,
    url: String,
    what: String,
}

impl RangeSource for HttpSource<'_> {
    fn read_range(&mut self, start: u64, len: u64) -> Result<Vec<u8>, IoError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let end = start + len - 1;
        let url = self.url.clone();
        let what = self.what.clone();
        Ok(self.client.get(&what, &url, Some((start, end)), len)?.body)
    }
    fn len(&self) -> Option<u64> {
        None
    }
    fn name(&self) -> String {
        self.what.clone()
    }
}

fn status_error(what: &str, url: &str, code: u16, r: &ureq::Response) -> IoError {
    let error_code = r.header("X-Error-Code").unwrap_or_default().to_string();
    match (code, error_code.as_str()) {
        (_, "GatedRepo") | (403, _) => IoError::HubGated { what: what.to_string(), status: code },
        (_, "RepoNotFound") => IoError::HubRepoNotFound { what: what.to_string(), status: code },
        (401, _) => IoError::HubGated { what: what.to_string(), status: code },
        (404, _) => IoError::HubMissing { what: what.to_string(), revision_missing: error_code == "RevisionNotFound" },
        (429, _) => IoError::HubStatus {
            what: what.to_string(),
            url: url.to_string(),
            status: code,
            reason: "rate limited (HTTP 429); wait, or set HF_TOKEN for a higher limit".into(),
        },
        _ => IoError::HubStatus {
            what: what.to_string(),
            url: url.to_string(),
            status: code,
            reason: r.status_text().to_string(),
        },
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("vramfit-tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn link_or_copy(blob: &Path, target: &Path, relative: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_file(target);
    #[cfg(unix)]
    {
        if std::os::unix::fs::symlink(relative, target).is_ok() {
            return Ok(());
        }
    }
    let _ = relative;
    std::fs::copy(blob, target).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        let r = RepoId::parse("meta-llama/Llama-3.1-8B@refs/pr/3", None).unwrap();
        assert_eq!((r.repo.as_str(), r.revision.as_str()), ("meta-llama/Llama-3.1-8B", "refs/pr/3"));
        assert_eq!(r.folder(), "models--meta-llama--Llama-3.1-8B");
        assert_eq!(RepoId::parse("Qwen/Qwen3-8B", Some("v1")).unwrap().revision, "v1");
        for bad in ["llama-7b", "a/b/c", "../x/y", "a/..", "org/na me", "/abs/path", "a/b@", "a/b@../../x", "a--b/c"] {
            assert!(RepoId::parse(bad, None).is_none(), "{bad}");
        }
    }

    #[test]
    fn offline_spellings() {
        assert!(truthy("1") && truthy("TRUE") && truthy("yes"));
        assert!(!truthy("0") && !truthy("false") && !truthy(""));
    }
}
