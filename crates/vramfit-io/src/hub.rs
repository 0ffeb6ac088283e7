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
//! - `HF_HUB_DOWNLOAD_TIMEOUT` / `HF_HUB_ETAG_TIMEOUT` (seconds): read and connect timeouts
//!   (per socket read, as huggingface_hub uses them). Each request also has a total deadline
//!   ([`vramfit_core::limits::REQUEST_SECONDS`]) and the whole run the caller's
//!   [`HubConfig::timeout`] (`--timeout`): a server that drips a byte at a time is cut off.
//!
//! Retries: 429 and 5xx answers, timeouts, dropped connections and truncated bodies are tried
//! again with exponential backoff (honouring a short `Retry-After`). What cannot change on
//! retry is not retried: a redirect to a scheme other than http(s), TLS failures, malformed
//! headers, a request past its deadline.
//!
//! Shard headers are read on a small pool of threads, one request per shard when the first
//! 64 KiB hold the header (they almost always do), a second one to the redirect target
//! otherwise. The cache is written atomically (a temporary file or link in the same folder,
//! then `rename`), and only with bodies that parse: concurrent runs sharing one `HF_HOME`
//! never see a partial file, and a cached file that does not parse is fetched again (online)
//! or reported (offline).
//!
//! The token never appears in an error, a `Debug` print or a report: it is checked before use
//! (visible ASCII only; the check names the variable, not the value), and credentials in
//! `HF_ENDPOINT` are stripped from every URL shown.

use crate::headers;
use crate::IoError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use vramfit_core::formats::safetensors::{self, SafetensorsHeader, ShardIndex};
use vramfit_core::formats::Parsed;
use vramfit_core::limits;

/// Redirects followed per request.
const MAX_REDIRECTS: u32 = 5;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// First range asked of a shard: the 8-byte length and, nearly always, the whole header
/// (real headers are a few KB to a few hundred KB).
const FIRST_RANGE: u64 = 64 << 10;
/// Shard headers read at once.
const POOL: usize = 8;

/// How the client reaches the Hub and where it caches.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL (`HF_ENDPOINT`).
    pub endpoint: String,
    /// Access token (`HF_TOKEN` or the token file).
    pub token: Option<String>,
    /// Where the token came from (`HF_TOKEN`, `the token file /path`), for errors that must
    /// not print the token itself.
    pub token_source: String,
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
    /// Deadline for everything this client does (`--timeout`), from its creation.
    pub timeout: Option<Duration>,
    /// Tries after the first.
    pub retries: u32,
    /// First backoff delay; doubles each retry.
    pub backoff: Duration,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_source", &self.token_source)
            .field("hf_home", &self.hf_home)
            .field("hub_cache", &self.hub_cache)
            .field("offline", &self.offline)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .finish()
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on" | "y" | "t")
}

/// `url` without user name and password, for anything shown.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Ok(_) => url.to_string(),
        // Not a URL: it may still hold `user:secret@`; show the part after the last `@`.
        Err(_) => url.rsplit_once('@').map_or_else(|| url.to_string(), |(_, rest)| format!("<redacted>@{rest}")),
    }
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
        let (token, token_source) = if let Some(t) = env("HF_TOKEN") {
            (Some(t), "HF_TOKEN".to_string())
        } else if let Some(t) = env("HUGGING_FACE_HUB_TOKEN") {
            (Some(t), "HUGGING_FACE_HUB_TOKEN".to_string())
        } else {
            let path = env("HF_TOKEN_PATH").map_or_else(|| hf_home.join("token"), PathBuf::from);
            let t = std::fs::File::open(&path).ok().and_then(|f| {
                let mut s = String::new();
                f.take(64 << 10).read_to_string(&mut s).ok().map(|_| s)
            });
            (t, format!("the token file {} (HF_TOKEN_PATH)", path.display()))
        };
        let token = token.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let secs = |k: &str, d: u64| {
            env(k)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map_or(Duration::from_secs(d), |s| Duration::from_secs_f64(s.clamp(0.1, 3600.0)))
        };
        HubConfig {
            endpoint: env("HF_ENDPOINT")
                .map_or_else(|| "https://huggingface.co".into(), |e| e.trim_end_matches('/').to_string()),
            token,
            token_source,
            hf_home,
            hub_cache,
            offline: env("HF_HUB_OFFLINE").is_some_and(|v| truthy(&v)),
            connect_timeout: secs("HF_HUB_ETAG_TIMEOUT", 10),
            read_timeout: secs("HF_HUB_DOWNLOAD_TIMEOUT", 30),
            timeout: None,
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }

    /// The endpoint as shown in reports and errors (no credentials).
    #[must_use]
    pub fn endpoint_shown(&self) -> String {
        redact_url(&self.endpoint)
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
    /// Where the body came from after redirects (asked again for more of the same file).
    url: String,
}

/// What a range request may get back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The whole body, at most this many bytes.
    Whole(u64),
    /// Exactly these bytes.
    Range(u64, u64),
    /// These bytes, fewer when the file ends first.
    UpTo(u64, u64),
}

/// The client. Shared by the threads that read shard headers: everything it counts is atomic.
pub struct HubClient {
    cfg: HubConfig,
    agent: ureq::Agent,
    endpoint: url::Url,
    deadline: Option<Instant>,
    transferred: AtomicU64,
    requests: AtomicU64,
    header_bytes: AtomicU64,
    tensors: AtomicU64,
    hits: AtomicU64,
}

impl HubClient {
    /// A client for `cfg`.
    ///
    /// # Errors
    /// An endpoint that is not a URL; a token with a byte that cannot go in an HTTP header
    /// (the error names where the token came from, never the token).
    pub fn new(cfg: HubConfig) -> Result<Self, IoError> {
        let endpoint = url::Url::parse(&cfg.endpoint).map_err(|e| IoError::Hub {
            what: format!("HF_ENDPOINT {:?}", redact_url(&cfg.endpoint)),
            reason: format!("not a URL: {e}"),
        })?;
        if let Some(t) = &cfg.token {
            if !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(IoError::Hub {
                    what: cfg.token_source.clone(),
                    reason: "the token holds a space, a control or a non-ASCII character (it is not shown); \
                             set it to the token alone"
                        .into(),
                });
            }
        }
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(cfg.connect_timeout)
            .timeout_read(cfg.read_timeout)
            .user_agent(concat!("vramfit/", env!("CARGO_PKG_VERSION")))
            .build();
        let deadline = cfg.timeout.map(|t| Instant::now() + t);
        Ok(HubClient {
            cfg,
            agent,
            endpoint,
            deadline,
            transferred: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            header_bytes: AtomicU64::new(0),
            tensors: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        })
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

    /// GET a Hub API path (`api/models/org/name/tree/main`), the body up to `limit` bytes.
    pub(crate) fn api_get(&self, what: &str, path: &str, limit: u64) -> Result<Vec<u8>, IoError> {
        let url = format!("{}/{}", self.cfg.endpoint.trim_end_matches('/'), path.trim_start_matches('/'));
        self.get(what, &url, Want::Whole(limit)).map(|f| f.body)
    }

    /// Bytes `[start, end]` of a repo file (fewer where it ends first), following the Hub's
    /// redirect; the counters see them.
    pub(crate) fn file_range(&self, repo: &RepoId, file: &str, start: u64, end: u64) -> Result<Vec<u8>, IoError> {
        let url = self.resolve_url(repo, &repo.revision, file);
        self.get(file, &url, Want::UpTo(start, end)).map(|f| f.body)
    }

    /// Bytes received so far by this client.
    #[must_use]
    pub fn bytes_transferred(&self) -> u64 {
        self.transferred.load(Ordering::Relaxed)
    }

    fn same_origin(&self, u: &url::Url) -> bool {
        u.scheme() == self.endpoint.scheme()
            && u.host_str() == self.endpoint.host_str()
            && u.port_or_known_default() == self.endpoint.port_or_known_default()
    }

    /// A text for an error: no token, no credentials from URLs.
    fn scrub(&self, text: &str) -> String {
        let mut t = text.to_string();
        if let Some(tok) = self.cfg.token.as_deref().filter(|t| !t.is_empty()) {
            t = t.replace(tok, "<token>");
        }
        let (user, pass) = (self.endpoint.username(), self.endpoint.password().unwrap_or(""));
        for secret in [pass, user] {
            if !secret.is_empty() {
                t = t.replace(secret, "<redacted>");
            }
        }
        t
    }

    fn shown(&self, url: &url::Url) -> String {
        self.scrub(&redact_url(url.as_str()))
    }

    /// The error for a request that ran out of time: per request, or the whole run's.
    fn deadline_error(&self, what: &str, url: &url::Url) -> IoError {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            let secs = self.cfg.timeout.map_or(0.0, |t| t.as_secs_f64());
            IoError::Hub { what: what.to_string(), reason: format!("no answer within --timeout {secs} s") }
        } else {
            let l = &limits::REQUEST_SECONDS;
            IoError::Hub {
                what: what.to_string(),
                reason: format!(
                    "no complete answer from {} within {} s (the limit on {}; --timeout sets a shorter one)",
                    self.shown(url),
                    l.max,
                    l.name
                ),
            }
        }
    }

    /// GET `url`, following redirects by hand so the token stays on the endpoint's host,
    /// retrying transient failures within the deadlines.
    fn get(&self, what: &str, url: &str, want: Want) -> Result<Fetched, IoError> {
        let mut attempt = 0u32;
        loop {
            match self.get_once(what, url, want) {
                Ok(f) => return Ok(f),
                Err((e, retry_after)) if e.is_transient() && attempt < self.cfg.retries => {
                    let backoff = self.cfg.backoff.saturating_mul(1 << attempt.min(16));
                    let pause = retry_after.map_or(backoff, |r| r.min(MAX_RETRY_AFTER));
                    if self.deadline.is_some_and(|d| Instant::now() + pause >= d) {
                        return Err(e);
                    }
                    std::thread::sleep(pause);
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn get_once(&self, what: &str, url: &str, want: Want) -> Result<Fetched, (IoError, Option<Duration>)> {
        let mut current = url::Url::parse(url).map_err(|e| {
            (IoError::Hub { what: what.to_string(), reason: format!("bad URL {}: {e}", self.scrub(url)) }, None)
        })?;
        let per_request = Instant::now() + Duration::from_secs(limits::REQUEST_SECONDS.max);
        let deadline = self.deadline.map_or(per_request, |d| d.min(per_request));
        let mut commit = None;
        let mut etag = None;
        for _ in 0..=MAX_REDIRECTS {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                return Err((self.deadline_error(what, &current), None));
            };
            let mut req = self.agent.get(current.as_str());
            match want {
                Want::Range(start, end) | Want::UpTo(start, end) => {
                    req = req.set("Range", &format!("bytes={start}-{end}"));
                }
                Want::Whole(_) => {}
            }
            if let (Some(t), true) = (&self.cfg.token, self.same_origin(&current)) {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let Some(answer) = call_within(req, left) else {
                return Err((self.deadline_error(what, &current), None));
            };
            let resp = match answer {
                Ok(r) => r,
                Err(ureq::Error::Status(code, r)) => {
                    let retry_after =
                        r.header("Retry-After").and_then(|v| retry_after(v, std::time::SystemTime::now()));
                    return Err((status_error(what, &self.shown(&current), code, &r), retry_after));
                }
                Err(ureq::Error::Transport(t)) => {
                    if Instant::now() >= deadline {
                        return Err((self.deadline_error(what, &current), None));
                    }
                    // ureq's text starts with the URL, which the error prints already.
                    let text = t.to_string();
                    let text = text.strip_prefix(&format!("{current}: ")).unwrap_or(&text);
                    let reason = self.scrub(text);
                    let e = if permanent(&t) {
                        IoError::Hub { what: what.to_string(), reason: format!("{reason} (not retried)") }
                    } else {
                        IoError::Network { what: what.to_string(), url: self.shown(&current), reason }
                    };
                    return Err((e, None));
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
                let next = current.join(&loc).map_err(|e| {
                    let reason = format!("bad redirect {:?}: {e} (not retried)", self.scrub(&loc));
                    (IoError::Hub { what: what.to_string(), reason }, None)
                })?;
                if !matches!(next.scheme(), "http" | "https") {
                    let reason = format!("redirect to a {}: URL is not followed (not retried)", next.scheme());
                    return Err((IoError::Hub { what: what.to_string(), reason }, None));
                }
                current = next;
                continue;
            }
            let declared = resp.header("Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
            let ranged = resp.status() == 206;
            let (skip, take) = match want {
                // A server that ignores Range answers 200 with the whole file: read only
                // what was asked for.
                Want::Range(start, end) | Want::UpTo(start, end) if !ranged => (start, end - start + 1),
                Want::Range(start, end) | Want::UpTo(start, end) => (0, end - start + 1),
                // One byte more than the limit, to tell "at the limit" from "beyond it".
                Want::Whole(limit) => (0, limit.saturating_add(1)),
            };
            let mut body = Vec::new();
            let read = read_within(resp.into_reader().take(skip.saturating_add(take)), &mut body, deadline);
            self.transferred.fetch_add(body.len() as u64, Ordering::Relaxed);
            if let Err(e) = read {
                if e.kind() == std::io::ErrorKind::TimedOut && Instant::now() >= deadline {
                    return Err((self.deadline_error(what, &current), None));
                }
                return Err((
                    IoError::Network {
                        what: what.to_string(),
                        url: self.shown(&current),
                        reason: format!(
                            "connection dropped after {} bytes: {}",
                            body.len(),
                            self.scrub(&e.to_string())
                        ),
                    },
                    None,
                ));
            }
            // A body shorter than its Content-Length is a dropped connection, whatever the
            // transport said (ureq reads at most Content-Length).
            if let Some(d) = declared.filter(|&d| d < skip.saturating_add(take) && (body.len() as u64) < d) {
                return Err((
                    IoError::Truncated {
                        what: what.to_string(),
                        url: self.shown(&current),
                        got: body.len() as u64,
                        expected: d,
                    },
                    None,
                ));
            }
            if let Want::Whole(limit) = want {
                if body.len() as u64 > limit {
                    return Err((
                        IoError::Hub { what: what.to_string(), reason: format!("larger than {limit} bytes") },
                        None,
                    ));
                }
            }
            let body = body.split_off(usize::try_from(skip).unwrap_or(usize::MAX).min(body.len()));
            if let Want::Range(start, end) = want {
                if (body.len() as u64) < end - start + 1 {
                    return Err((
                        IoError::Truncated {
                            what: what.to_string(),
                            url: self.shown(&current),
                            got: body.len() as u64,
                            expected: end - start + 1,
                        },
                        None,
                    ));
                }
            }
            return Ok(Fetched { body, commit, etag, url: current.to_string() });
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
    /// Every write is a temporary file or link in the same folder renamed over the target,
    /// so concurrent readers see the old file or the new one, never a part.
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
                link_atomic(&blob, &target, &Path::new("../../blobs").join(e)).ok()
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

    /// A cached JSON file that does not parse: refetched online, an error offline.
    fn corrupt(repo: &RepoId, path: &Path, reason: &str) -> IoError {
        IoError::Hub {
            what: format!("{} cached {}", repo.display(), path.display()),
            reason: format!("does not parse ({reason}); unset HF_HUB_OFFLINE to fetch it again"),
        }
    }

    // ---- reading a model -----------------------------------------------------------------

    /// Read config.json and every safetensors header of `repo`, from the caches where they
    /// are, from the Hub otherwise (never in offline mode).
    ///
    /// # Errors
    /// Offline and not cached; gated, private or missing repos and files; network failures
    /// after retries; malformed headers; a cached file that does not parse, offline; a
    /// checkpoint beyond the shard, header-byte or tensor limits.
    #[allow(clippy::too_many_lines)]
    pub fn fetch_model(&self, repo: &RepoId, progress: &mut dyn FnMut(Progress<'_>)) -> Result<HubModel, IoError> {
        let start_bytes = self.transferred.load(Ordering::Relaxed);
        let start_requests = self.requests.load(Ordering::Relaxed);
        let start_hits = self.hits.load(Ordering::Relaxed);
        self.header_bytes.store(0, Ordering::Relaxed);
        self.tensors.store(0, Ordering::Relaxed);
        let mut notes = Vec::new();
        let offline = self.cfg.offline;
        let cached_commit = self.cached_commit(repo);
        // A commit is immutable: use the cache without asking. A branch may have moved: ask,
        // unless offline. A cached config.json that does not parse is fetched again.
        let mut cached = None;
        if let (Some(c), true) = (&cached_commit, offline || is_commit(&repo.revision)) {
            if let Some(p) = self.cached_file(repo, c, "config.json") {
                let text = crate::read_text(&p)?;
                match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                    Ok(_) => cached = Some((c.clone(), text)),
                    Err(e) if offline => return Err(Self::corrupt(repo, &p, &e.to_string())),
                    Err(_) => {}
                }
            }
        }
        let (commit, config) = match cached {
            Some(c) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                c
            }
            None if offline => {
                return Err(IoError::Offline {
                    repo: repo.display(),
                    what: "config.json".into(),
                    cache: self.repo_dir(repo),
                })
            }
            None => {
                let what = format!("{} config.json", repo.display());
                let url = self.resolve_url(repo, &repo.revision, "config.json");
                let f = self.get(&what, &url, Want::Whole(limits::CONFIG_BYTES.max))?;
                let commit = f.commit.clone().filter(|c| is_commit(c)).unwrap_or_else(|| repo.revision.clone());
                let text = String::from_utf8(f.body)
                    .map_err(|_| IoError::Hub { what: what.clone(), reason: "not UTF-8".into() })?;
                // Only a body that parses enters the cache.
                serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| IoError::Core {
                    context: what.clone(),
                    source: vramfit_core::Error::ConfigSyntax(e.to_string()),
                })?;
                if is_commit(&commit) {
                    self.store(repo, &repo.revision, &commit, "config.json", f.etag.as_deref(), text.as_bytes());
                }
                (commit, text)
            }
        };
        // The index, or a single model.safetensors.
        let index_name = "model.safetensors.index.json";
        let index_what = format!("{} {index_name}", repo.display());
        let format_err = |error| IoError::Format { source_name: index_what.clone(), error };
        let mut index = None;
        let mut look_online = !offline;
        if let Some(p) = self.cached_file(repo, &commit, index_name) {
            match safetensors::parse_index(&crate::read_text(&p)?) {
                Ok(i) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    index = Some(i);
                    look_online = false;
                }
                Err(e) if offline => return Err(Self::corrupt(repo, &p, &e.to_string())),
                Err(_) => {}
            }
        }
        if look_online {
            let url = self.resolve_url(repo, &commit, index_name);
            match self.get(&index_what, &url, Want::Whole(limits::CONFIG_BYTES.max)) {
                Ok(f) => {
                    let text = String::from_utf8(f.body)
                        .map_err(|_| IoError::Hub { what: index_what.clone(), reason: "not UTF-8".into() })?;
                    let i = safetensors::parse_index(&text).map_err(format_err)?;
                    if is_commit(&commit) {
                        self.store(repo, &repo.revision, &commit, index_name, f.etag.as_deref(), text.as_bytes());
                    }
                    index = Some(i);
                }
                Err(IoError::HubMissing { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let files: Vec<String> = match &index {
            Some(i) => i.shards.clone(),
            None => vec!["model.safetensors".into()],
        };
        let results = self.shard_headers(repo, &commit, &files, offline, progress, start_bytes);
        let mut shards = Vec::with_capacity(files.len());
        for (file, r) in files.iter().zip(results) {
            match r {
                Some(Ok(h)) => shards.push((file.clone(), h)),
                Some(Err(IoError::HubMissing { .. })) if index.is_none() => {
                    notes.push(format!("{} has no safetensors weights: weights from parameter counts", repo.display()));
                    break;
                }
                Some(Err(IoError::Offline { .. })) if index.is_none() && offline => {
                    notes.push("offline: no cached safetensors header: weights from parameter counts".into());
                    break;
                }
                Some(Err(e)) => return Err(e),
                // Not read because another shard failed first; that error comes in its turn.
                None => {}
            }
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
            bytes_transferred: self.transferred.load(Ordering::Relaxed) - start_bytes,
            requests: self.requests.load(Ordering::Relaxed) - start_requests,
            cache_hits: self.hits.load(Ordering::Relaxed) - start_hits,
            notes,
        })
    }

    /// Read the shards' headers on up to [`POOL`] threads; results in `files` order, `None`
    /// for those not read because one failed. Progress is reported as each one ends.
    #[allow(clippy::type_complexity)]
    fn shard_headers(
        &self,
        repo: &RepoId,
        commit: &str,
        files: &[String],
        offline: bool,
        progress: &mut dyn FnMut(Progress<'_>),
        start_bytes: u64,
    ) -> Vec<Option<Result<SafetensorsHeader, IoError>>> {
        let mut results: Vec<Option<Result<SafetensorsHeader, IoError>>> = files.iter().map(|_| None).collect();
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            for _ in 0..POOL.min(files.len()) {
                let tx = tx.clone();
                let (next, stop) = (&next, &stop);
                s.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = self.shard_header(repo, commit, &files[i], offline);
                    if r.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (n, (i, r)) in rx.into_iter().enumerate() {
                let done = n + 1;
                if r.is_ok() {
                    let bytes = self.transferred.load(Ordering::Relaxed) - start_bytes;
                    progress(Progress { done, total: files.len(), file: &files[i], bytes });
                }
                results[i] = Some(r);
            }
        });
        results
    }

    /// Count a header against the per-model limits.
    fn account(&self, what: &str, header_bytes: u64, tensors: u64) -> Result<(), IoError> {
        let core = |source| IoError::Core { context: what.to_string(), source };
        let b = self.header_bytes.fetch_add(header_bytes, Ordering::Relaxed).saturating_add(header_bytes);
        limits::MODEL_HEADER_BYTES.check("checkpoint headers", b).map_err(core)?;
        let t = self.tensors.fetch_add(tensors, Ordering::Relaxed).saturating_add(tensors);
        limits::MODEL_TENSORS.check("checkpoint tensors", t).map_err(core)?;
        Ok(())
    }

    fn shard_header(
        &self,
        repo: &RepoId,
        commit: &str,
        file: &str,
        offline: bool,
    ) -> Result<SafetensorsHeader, IoError> {
        let what = format!("{} {file}", repo.display());
        // A whole shard downloaded by huggingface_hub: read its header from disk.
        if let Some(p) = self.cached_file(repo, commit, file) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            let (h, read) = headers::safetensors_file(&p)?;
            self.account(&what, read, h.tensors.len() as u64)?;
            return Ok(h);
        }
        // A header cached by an earlier run.
        let sidecar = self.header_dir(repo, commit).join(file);
        if let Ok(f) = std::fs::File::open(&sidecar) {
            let mut bytes = Vec::new();
            let limit = safetensors::MAX_HEADER_BYTES + 8;
            if f.take(limit + 1).read_to_end(&mut bytes).is_ok() {
                match safetensors::parse_header(&bytes) {
                    Ok(Parsed::Done(h)) => {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        self.account(&what, bytes.len() as u64, h.tensors.len() as u64)?;
                        return Ok(h);
                    }
                    Ok(Parsed::NeedBytes(_)) if offline => {
                        return Err(Self::corrupt(repo, &sidecar, "truncated safetensors header"));
                    }
                    Err(e) if offline => return Err(Self::corrupt(repo, &sidecar, &e.to_string())),
                    _ => {}
                }
            }
        }
        if offline {
            return Err(IoError::Offline { repo: repo.display(), what: file.to_string(), cache: self.repo_dir(repo) });
        }
        let url = self.resolve_url(repo, commit, file);
        let (h, bytes) = self.fetch_header(&what, &url)?;
        if is_commit(commit) {
            if let Some(parent) = sidecar.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = write_atomic(&sidecar, &bytes);
        }
        Ok(h)
    }

    /// A shard's header over HTTP: the first 64 KiB (one request when the header fits, as
    /// it nearly always does), then the rest from where the first request was redirected.
    fn fetch_header(&self, what: &str, url: &str) -> Result<(SafetensorsHeader, Vec<u8>), IoError> {
        let format_err = |error| IoError::Format { source_name: what.to_string(), error };
        let core = |source| IoError::Core { context: what.to_string(), source };
        let first = self.get(what, url, Want::UpTo(0, FIRST_RANGE - 1))?;
        let (mut buf, at) = (first.body, first.url);
        let short = (buf.len() as u64) < FIRST_RANGE;
        // Bytes held count against the model's budget as they are reserved, before they are
        // asked for: threads reading other shards see the reservation at once.
        let mut held = buf.len() as u64;
        let total = self.header_bytes.fetch_add(held, Ordering::Relaxed).saturating_add(held);
        limits::MODEL_HEADER_BYTES.check("checkpoint headers", total).map_err(core)?;
        loop {
            match safetensors::parse_header(&buf).map_err(format_err)? {
                Parsed::Done(h) => {
                    let kept = 8 + h.header_len;
                    buf.truncate(usize::try_from(kept).unwrap_or(buf.len()));
                    self.header_bytes.fetch_sub(held.saturating_sub(kept), Ordering::Relaxed);
                    let t = self.tensors.fetch_add(h.tensors.len() as u64, Ordering::Relaxed);
                    limits::MODEL_TENSORS
                        .check("checkpoint tensors", t.saturating_add(h.tensors.len() as u64))
                        .map_err(core)?;
                    return Ok((h, buf));
                }
                Parsed::NeedBytes(n) => {
                    let have = buf.len() as u64;
                    if n <= have {
                        return Err(format_err(vramfit_core::formats::FormatError::Truncated {
                            format: "safetensors",
                            needed: n,
                            available: have,
                        }));
                    }
                    let more = n - have;
                    let total = self.header_bytes.fetch_add(more, Ordering::Relaxed).saturating_add(more);
                    held += more;
                    limits::MODEL_HEADER_BYTES.check("checkpoint headers", total).map_err(core)?;
                    if short {
                        return Err(format_err(vramfit_core::formats::FormatError::Truncated {
                            format: "safetensors",
                            needed: n,
                            available: have,
                        }));
                    }
                    let rest = self.get(what, &at, Want::Range(have, n - 1))?;
                    buf.extend_from_slice(&rest.body);
                }
            }
        }
    }
}

/// `Retry-After` as seconds or as an HTTP-date (RFC 9110 IMF-fixdate, `Sun, 06 Nov 1994
/// 08:49:37 GMT`), as a wait from `now`; a date in the past is no wait.
fn retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let (_, date) = v.split_once(", ")?;
    let parts: Vec<&str> = date.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let num = |s: &str| s.parse::<i64>().ok();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as i64
        + 1;
    let (day, year) = (num(day)?, num(year)?);
    let hms: Vec<i64> = time.split(':').map(num).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else { return None };
    // Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let at = (era * 146_097 + doe - 719_468) * 86_400 + h * 3600 + m * 60 + s;
    let now = i64::try_from(now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs()).ok()?;
    Some(Duration::from_secs(u64::try_from(at - now).unwrap_or(0)))
}

/// Send `req` and wait at most `left` for the status line and headers. ureq's own
/// per-request deadline would replace the per-read timeout (`HF_HUB_DOWNLOAD_TIMEOUT`) on the
/// socket, so the wait is done here: the call runs on a helper thread that is abandoned (and
/// ends at its next read timeout) when the deadline passes first.
fn call_within(req: ureq::Request, left: Duration) -> Option<Result<ureq::Response, ureq::Error>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(req.call());
    });
    rx.recv_timeout(left).ok()
}

/// Read a body to the end, checking the request's deadline between reads (each read is
/// bounded by the per-read timeout): a server dripping a byte at a time is cut off.
fn read_within(mut r: impl Read, body: &mut Vec<u8>, deadline: Instant) -> std::io::Result<()> {
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        if Instant::now() >= deadline {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "request deadline passed"));
        }
        match r.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Transport errors that fail the same way on every try: a URL or scheme that cannot be
/// used, a malformed status line or header, a TLS failure (rustls reports it as invalid
/// data under the transport's I/O error).
fn permanent(t: &ureq::Transport) -> bool {
    use ureq::ErrorKind as K;
    if matches!(
        t.kind(),
        K::InvalidUrl
            | K::UnknownScheme
            | K::InsecureRequestHttpsOnly
            | K::BadStatus
            | K::BadHeader
            | K::InvalidProxyUrl
            | K::ProxyUnauthorized
            | K::TooManyRedirects
    ) {
        return true;
    }
    let own = t.to_string().to_ascii_lowercase();
    if own.contains("tls") || own.contains("certificate") {
        return true;
    }
    let mut source = std::error::Error::source(t);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::InvalidData {
                return true;
            }
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return true;
        }
        source = e.source();
    }
    false
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
            reason: r.status_text().chars().filter(|c| !c.is_control()).take(200).collect(),
        },
    }
}

/// A name beside `path` no other process or thread uses.
fn temp_beside(path: &Path) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.vramfit-tmp-{}-{n}", std::process::id()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_beside(path);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Point `target` at `blob`: a symlink made under a temporary name and renamed over the
/// target (never an unlink then a link, which leaves a moment with no file, and never a copy
/// through an existing path, which may be a link to the blob itself and truncate it). Where
/// links cannot be made, a copy made the same way.
fn link_atomic(blob: &Path, target: &Path, relative: &Path) -> std::io::Result<()> {
    let tmp = temp_beside(target);
    #[cfg(unix)]
    {
        if std::os::unix::fs::symlink(relative, &tmp).is_ok() {
            let renamed = std::fs::rename(&tmp, target);
            if renamed.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            return renamed;
        }
    }
    let _ = relative;
    let copied = std::fs::copy(blob, &tmp).and_then(|_| std::fs::rename(&tmp, target));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
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

    /// Writers storing the same file while readers read it through the snapshot link: the
    /// audit's race (unlink, then symlink, then a copy through the other writer's link onto
    /// the blob) truncated the blob to 0 bytes and left moments with no file at all.
    #[test]
    fn concurrent_stores_never_show_a_partial_or_missing_file() {
        let home = std::env::temp_dir().join(format!("vramfit-hub-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let cfg = HubConfig {
            endpoint: "http://127.0.0.1:9".into(),
            token: None,
            token_source: "HF_TOKEN".into(),
            hf_home: home.clone(),
            hub_cache: home.join("hub"),
            offline: false,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            timeout: None,
            retries: 0,
            backoff: Duration::from_millis(1),
        };
        let client = HubClient::new(cfg).unwrap();
        let repo = RepoId::parse("org/name", None).unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let body = br#"{"model_type": "llama", "hidden_size": 64}"#.repeat(50);
        client.store(&repo, "main", commit, "config.json", Some("abc123"), &body);
        let path = client.repo_dir(&repo).join("snapshots").join(commit).join("config.json");
        let blob = client.repo_dir(&repo).join("blobs").join("abc123");
        let stop = AtomicBool::new(false);
        let bad = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let writers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..300 {
                            client.store(&repo, "main", commit, "config.json", Some("abc123"), &body);
                        }
                    })
                })
                .collect();
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        if std::fs::read(&path).map_or(true, |b| b != body) {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            for w in writers {
                w.join().unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(bad.load(Ordering::Relaxed), 0, "readers saw a partial or missing file");
        assert_eq!(std::fs::read(&blob).unwrap(), body, "the blob is whole");
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        use std::time::UNIX_EPOCH;
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after("Tue, 01 Mar 2016 00:00:00 GMT", UNIX_EPOCH + Duration::from_secs(1_456_790_400 - 5)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now), None);
    }

    #[test]
    fn offline_spellings() {
        assert!(truthy("1") && truthy("TRUE") && truthy("yes"));
        assert!(!truthy("0") && !truthy("false") && !truthy(""));
    }
}
