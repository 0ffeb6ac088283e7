//! A loopback HTTP/1.1 server that plays the Hugging Face Hub in tests: resolve URLs, a
//! redirect to a "CDN" on another loopback address, Range requests, error statuses, slow and
//! truncated answers. One request per connection; every request is logged. Nothing leaves
//! 127.0.0.0/8, and each server stops when dropped.

#![allow(dead_code)] // shared with the CLI's tests, which use a part of it

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    /// Body bytes the server wrote back.
    pub sent: usize,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What to answer.
pub enum Reply {
    /// Status, headers, body.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// Declare `Content-Length: declared` but send `body` and close.
    Truncated(u16, usize, Vec<u8>),
    /// Wait, then answer.
    Slow(Duration, Box<Reply>),
    /// Answer one byte every `interval` (the status line and headers too when `head`), until
    /// done or the client goes away.
    Drip { interval: Duration, head: bool, reply: Box<Reply> },
}

pub type Handler = Arc<dyn Fn(&Request, usize) -> Reply + Send + Sync>;

/// Answers a request before the fake Hub does (errors, slowness), or passes with None.
pub type Override = Arc<dyn Fn(&Request, usize) -> Option<Reply> + Send + Sync>;

pub struct Server {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serve `handler` on `ip` (a free port); the handler also gets the request's number.
    pub fn start(ip: &str, handler: Handler) -> Server {
        let listener =
            TcpListener::bind((ip, 0)).or_else(|_| TcpListener::bind(("127.0.0.1", 0))).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let (log2, stop2) = (log.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, log, n) = (handler.clone(), log2.clone(), count.fetch_add(1, Ordering::SeqCst));
                thread::spawn(move || serve(conn, &*handler, &log, n));
            }
        });
        Server { addr, log, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(
    conn: TcpStream,
    handler: &(dyn Fn(&Request, usize) -> Reply + Send + Sync),
    log: &Mutex<Vec<Request>>,
    n: usize,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut req = Request { path, headers, sent: 0 };
    let mut reply = handler(&req, n);
    let mut out = conn;
    let mut drip = None;
    loop {
        match reply {
            Reply::Slow(d, inner) => {
                thread::sleep(d);
                reply = *inner;
            }
            Reply::Drip { interval, head, reply: inner } => {
                drip = Some((interval, head));
                reply = *inner;
            }
            _ => break,
        }
    }
    let (status, extra, body, declared) = match reply {
        Reply::Full(s, h, b) => {
            let len = b.len();
            (s, h, b, len)
        }
        Reply::Truncated(s, declared, b) => (s, vec![], b, declared),
        Reply::Slow(..) | Reply::Drip { .. } => unreachable!(),
    };
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {declared}\r\nConnection: close\r\n");
    for (k, v) in &extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // Log before answering: a client that has its answer must find its request logged.
    req.sent = body.len();
    log.lock().unwrap().push(req);
    if let Some((interval, drip_head)) = drip {
        if !drip_head && out.write_all(head.as_bytes()).is_err() {
            return;
        }
        let bytes: Vec<u8> = if drip_head { head.bytes().chain(body).collect() } else { body };
        for b in bytes {
            thread::sleep(interval);
            if out.write_all(&[b]).and_then(|()| out.flush()).is_err() {
                return;
            }
        }
        return;
    }
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
    let _ = out.flush();
}

/// Answer with `bytes`, honouring a `Range: bytes=a-b` header (206 + Content-Range).
pub fn ranged(req: &Request, bytes: &[u8], mut headers: Vec<(String, String)>) -> Reply {
    let Some(range) = req.header("range").and_then(|r| r.strip_prefix("bytes=")) else {
        return Reply::Full(200, headers, bytes.to_vec());
    };
    let (a, b) = range.split_once('-').unwrap();
    let a: usize = a.parse().unwrap();
    let b: usize = b.parse::<usize>().unwrap().min(bytes.len().saturating_sub(1));
    if a >= bytes.len() {
        return Reply::Full(416, headers, vec![]);
    }
    headers.push(("Content-Range".into(), format!("bytes {a}-{b}/{}", bytes.len())));
    Reply::Full(206, headers, bytes[a..=b].to_vec())
}

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A repo on a fake Hub: small files answered by the Hub, `.safetensors` files redirected to
/// the CDN, which answers Range requests.
pub struct FakeHub {
    pub hub: Server,
    pub cdn: Server,
}

impl FakeHub {
    /// `files`: (name, bytes) of repo `org/name` at revision `main` (= [`COMMIT`]).
    /// `hub_override` may answer a request first (errors, slowness) by returning Some.
    pub fn start(
        repo: &str,
        files: Vec<(String, Vec<u8>)>,
        hub_override: Option<Override>,
        cdn_override: Option<Override>,
    ) -> FakeHub {
        Self::start_sized(repo, files, Vec::new(), hub_override, cdn_override)
    }

    /// As [`FakeHub::start`], and the tree API (`/api/models/{repo}/tree/main`) lists every
    /// file with its size; `sizes` overrides the listed size of a file served only in part
    /// (a GGUF header standing for a file of gigabytes). `.gguf` files go to the CDN too.
    pub fn start_sized(
        repo: &str,
        files: Vec<(String, Vec<u8>)>,
        sizes: Vec<(String, u64)>,
        hub_override: Option<Override>,
        cdn_override: Option<Override>,
    ) -> FakeHub {
        let listing: Vec<String> = files
            .iter()
            .map(|(name, b)| {
                let size = sizes.iter().find(|(n, _)| n == name).map_or(b.len() as u64, |s| s.1);
                format!(r#"{{"type":"file","path":"{name}","size":{size},"lfs":{{"size":{size}}}}}"#)
            })
            .collect();
        let listing = format!("[{}]", listing.join(","));
        let tree = format!("/api/models/{repo}/tree/");
        let files: Arc<HashMap<String, Vec<u8>>> = Arc::new(files.into_iter().collect());
        let f2 = files.clone();
        let cdn = Server::start(
            "127.0.0.2",
            Arc::new(move |req: &Request, n| {
                if let Some(r) = cdn_override.as_ref().and_then(|o| o(req, n)) {
                    return r;
                }
                let name = req.path.trim_start_matches("/blobs/");
                match f2.get(name) {
                    Some(b) => ranged(req, b, vec![]),
                    None => Reply::Full(404, vec![], vec![]),
                }
            }),
        );
        let cdn_url = cdn.url();
        let prefix = format!("/{repo}/resolve/");
        let hub = Server::start(
            "127.0.0.1",
            Arc::new(move |req: &Request, n| {
                if let Some(r) = hub_override.as_ref().and_then(|o| o(req, n)) {
                    return r;
                }
                if req.path.starts_with(&tree) {
                    return Reply::Full(200, vec![], listing.clone().into_bytes());
                }
                let Some(rest) = req.path.strip_prefix(&prefix) else {
                    return Reply::Full(
                        404,
                        vec![("X-Error-Code".into(), "RepoNotFound".into())],
                        b"not found".to_vec(),
                    );
                };
                let (rev, file) = rest.split_once('/').unwrap_or((rest, ""));
                if rev != "main" && rev != COMMIT {
                    return Reply::Full(404, vec![("X-Error-Code".into(), "RevisionNotFound".into())], vec![]);
                }
                let commit = ("X-Repo-Commit".to_string(), COMMIT.to_string());
                match files.get(file) {
                    None => Reply::Full(404, vec![commit, ("X-Error-Code".into(), "EntryNotFound".into())], vec![]),
                    Some(_)
                        if std::path::Path::new(file)
                            .extension()
                            .is_some_and(|e| e == "safetensors" || e == "gguf") =>
                    {
                        Reply::Full(
                            302,
                            vec![
                                commit,
                                ("X-Linked-Etag".into(), format!("\"{}\"", "ab".repeat(32))),
                                ("Location".into(), format!("{cdn_url}/blobs/{file}")),
                            ],
                            vec![],
                        )
                    }
                    Some(b) => {
                        Reply::Full(200, vec![commit, ("ETag".into(), format!("\"etag{}\"", b.len()))], b.clone())
                    }
                }
            }),
        );
        FakeHub { hub, cdn }
    }
}
