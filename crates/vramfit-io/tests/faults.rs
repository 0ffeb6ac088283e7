//! The reliability audit's network and cache faults (shared/qa/reliability.md), against the
//! loopback fake Hub: dripping servers, redirects that cannot succeed, bad tokens, credentials
//! in the endpoint, bodies that do not parse, corrupt cache entries, hostile indexes, and the
//! cold read of a 30-shard repo with 50 ms per round trip.

use crate::server::{ranged, FakeHub, Reply, Request, COMMIT};
use crate::util::{hub_config, many_shards, shards, tmp, WEIGHT_BYTES};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vramfit_io::{resolve_model_with, HubClient, HubConfig, ResolveOptions};

const REPO: &str = "tiny-org/tiny-llama";

fn opts(endpoint: &str, home: &std::path::Path) -> ResolveOptions<'static> {
    ResolveOptions { revision: None, hub: hub_config(endpoint, home), progress: None }
}

fn hub_with(f: impl Fn(&Request, usize) -> Option<Reply> + Send + Sync + 'static) -> FakeHub {
    FakeHub::start(REPO, shards(), Some(Arc::new(f)), None)
}

fn config_bytes() -> Vec<u8> {
    shards().into_iter().find(|(n, _)| n == "config.json").unwrap().1
}

#[test]
fn a_server_dripping_bytes_is_cut_off_by_the_deadline() {
    for head in [false, true] {
        // One byte every 200 ms: each read is well within the 700 ms read timeout, so only a
        // deadline on the whole request ends it.
        let hub = hub_with(move |req: &Request, _| {
            req.path.ends_with("config.json").then(|| Reply::Drip {
                interval: Duration::from_millis(200),
                head,
                reply: Box::new(Reply::Full(200, vec![], config_bytes())),
            })
        });
        let mut o = opts(&hub.hub.url(), &tmp("drip"));
        o.hub.timeout = Some(Duration::from_secs(2));
        let t = Instant::now();
        let e = resolve_model_with(REPO, o).unwrap_err().to_string();
        // The reply alone would take 50 s; the deadline is 2 s (loose bound for loaded CI).
        assert!(t.elapsed() < Duration::from_secs(15), "head {head}: {:?}", t.elapsed());
        assert!(e.contains("--timeout"), "{e}");
        assert_eq!(hub.hub.requests().len(), 1, "a deadline is not retried");
    }
}

#[test]
fn redirects_that_cannot_succeed_are_not_retried() {
    for loc in ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/", "javascript:alert(1)"] {
        let hub = hub_with(move |_, _| Some(Reply::Full(302, vec![("Location".into(), loc.into())], vec![])));
        let t = Instant::now();
        let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("scheme"))).unwrap_err().to_string();
        assert!(e.contains("not followed") && e.contains("not retried"), "{loc}: {e}");
        assert_eq!(hub.hub.requests().len(), 1, "{loc}");
        assert!(t.elapsed() < Duration::from_secs(10));
    }
    // https to a server that does not speak TLS: a TLS failure, tried once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a2 = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(8) {
            a2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    let e = resolve_model_with(REPO, opts(&format!("https://127.0.0.1:{port}"), &tmp("tls"))).unwrap_err().to_string();
    assert!(e.contains("not retried"), "{e}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "{e}");
}

#[test]
fn tokens_are_checked_before_use_and_never_shown() {
    let hub = FakeHub::start(REPO, shards(), None, None);
    for bad in ["hf_secret_test\nhf_second_line", "hf_secret_t\u{e9}st", "hf_secret\r\nX-Evil: 1", "hf secret"] {
        let mut o = opts(&hub.hub.url(), &tmp("badtoken"));
        o.hub.token = Some(bad.into());
        o.hub.token_source = "HF_TOKEN".into();
        let e = resolve_model_with(REPO, o).unwrap_err().to_string();
        assert!(e.starts_with("HF_TOKEN") && !e.contains("secret") && !e.contains('\n'), "{e}");
    }
    assert!(hub.hub.requests().is_empty(), "no request goes out with a bad token");

    let mut cfg = hub_config(&hub.hub.url(), &tmp("debug"));
    cfg.token = Some("hf_secret_test".into());
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("hf_secret_test") && shown.contains("redacted"), "{shown}");

    // Credentials in HF_ENDPOINT: used, never shown.
    let endpoint = hub.hub.url().replace("http://", "http://user:hf_secret_pw@");
    let m = resolve_model_with(REPO, opts(&endpoint, &tmp("userinfo"))).unwrap();
    assert!(!m.origin.contains("hf_secret_pw") && !m.origin.contains("user:"), "{}", m.origin);
    assert!(m.notes.iter().all(|n| !n.contains("hf_secret_pw")));
    let e = resolve_model_with("tiny-org/missing", opts(&endpoint, &tmp("userinfo2"))).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("hf_secret_pw"), "{e:?}");
    let down = endpoint.replace(&hub.hub.addr.port().to_string(), "9");
    let e = resolve_model_with(REPO, opts(&down, &tmp("userinfo3"))).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("hf_secret_pw"), "{e:?}");
    let cfg = HubConfig { endpoint: endpoint.clone(), ..hub_config(&endpoint, &tmp("x")) };
    assert!(!format!("{cfg:?}").contains("hf_secret_pw"));
    assert!(HubClient::new(cfg).is_ok());
}

#[test]
fn bodies_enter_the_cache_only_when_they_parse() {
    let truncated = config_bytes()[..40].to_vec();
    // The first config.json answer is cut short with a matching Content-Length.
    let hub = hub_with(move |req: &Request, n| {
        (n == 0 && req.path.ends_with("config.json")).then(|| {
            Reply::Full(
                200,
                vec![("X-Repo-Commit".into(), COMMIT.into()), ("ETag".into(), "\"e1\"".into())],
                truncated.clone(),
            )
        })
    });
    let home = tmp("validate");
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &home)).unwrap_err().to_string();
    assert!(e.contains("EOF"), "{e}");
    let repo = home.join("hub/models--tiny-org--tiny-llama");
    let cached = repo.join("snapshots").join(COMMIT).join("config.json");
    assert!(!cached.exists(), "a body that does not parse is not cached");
    let m = resolve_model_with(REPO, opts(&hub.hub.url(), &home)).unwrap();
    assert_eq!(m.spec.checkpoint.unwrap().bytes, WEIGHT_BYTES);
    assert!(cached.is_file());

    // The cached blob goes bad: offline, a clear error naming the file; pinned to the commit
    // online (which trusts the cache), fetched again and repaired.
    std::fs::write(&cached, b"{\"model_type\": ").unwrap();
    let mut o = opts(&hub.hub.url(), &home);
    o.hub.offline = true;
    let e = resolve_model_with(REPO, o).unwrap_err().to_string();
    assert!(e.contains("config.json") && e.contains("does not parse") && e.contains("HF_HUB_OFFLINE"), "{e}");
    let m = resolve_model_with(&format!("{REPO}@{COMMIT}"), opts(&hub.hub.url(), &home)).unwrap();
    assert_eq!(m.spec.checkpoint.unwrap().bytes, WEIGHT_BYTES);
    assert_eq!(std::fs::read(&cached).unwrap(), config_bytes());

    // A truncated shard-header sidecar: reported offline (it was silently replaced by
    // parameter counts), refetched online.
    let sidecar = home
        .join("vramfit/safetensors-headers/models--tiny-org--tiny-llama")
        .join(COMMIT)
        .join("model-00002-of-00003.safetensors");
    let full = std::fs::read(&sidecar).unwrap();
    std::fs::write(&sidecar, &full[..full.len() / 2]).unwrap();
    let mut o = opts(&hub.hub.url(), &home);
    o.hub.offline = true;
    let e = resolve_model_with(REPO, o).unwrap_err().to_string();
    assert!(e.contains("model-00002-of-00003.safetensors") && e.contains("does not parse"), "{e}");
    resolve_model_with(REPO, opts(&hub.hub.url(), &home)).unwrap();
    assert_eq!(std::fs::read(&sidecar).unwrap(), full);
    // No temporary file is left behind.
    let leftovers = walk(&home).into_iter().filter(|p| p.to_string_lossy().contains("vramfit-tmp")).count();
    assert_eq!(leftovers, 0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn hostile_indexes_are_bounded() {
    const N: u64 = 70_000_000;
    // 2,000 shards (the audit's index): refused from the index, before any shard is asked for.
    let mut files: Vec<(String, Vec<u8>)> = shards().into_iter().filter(|(n, _)| n == "config.json").collect();
    let map: serde_json::Map<String, serde_json::Value> =
        (0..2000).map(|i| (format!("t{i}"), format!("model-{i:05}.safetensors").into())).collect();
    files
        .push(("model.safetensors.index.json".into(), serde_json::json!({"weight_map": map}).to_string().into_bytes()));
    let hub = FakeHub::start(REPO, files, None, None);
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("manyshards"))).unwrap_err().to_string();
    assert!(e.contains("limit on shards"), "{e}");
    assert_eq!(hub.hub.requests().len(), 2, "config.json and the index only");

    // Shards declaring 70 MB headers each (each alone within the format's 100 MB): the
    // model's header budget is spent on the second, which is refused before it is fetched
    // (N bytes each).
    let byte_at = |i: u64| -> u8 {
        match i {
            0..8 => N.to_le_bytes()[i as usize],
            8 => b'{',
            i if i == 8 + N - 1 => b'}',
            _ => b' ',
        }
    };
    let mut files: Vec<(String, Vec<u8>)> =
        shards().into_iter().filter(|(n, _)| !n.ends_with(".safetensors")).collect();
    let cdn = Arc::new(move |req: &Request, _| {
        let range = req.header("range")?.strip_prefix("bytes=")?.to_string();
        let (a, b) = range.split_once('-')?;
        let (a, b): (u64, u64) = (a.parse().ok()?, b.parse::<u64>().ok()?.min(8 + N - 1));
        // Spaces, with the few other bytes patched in (fast in a debug build).
        let mut body = vec![b' '; usize::try_from(b + 1 - a).ok()?];
        for i in (a..=b.min(8)).chain([8 + N - 1].into_iter().filter(|&i| i >= a && i <= b)) {
            body[(i - a) as usize] = byte_at(i);
        }
        Some(Reply::Full(206, vec![], body))
    });
    let stub: Vec<(String, Vec<u8>)> =
        (1..=3).map(|i| (format!("model-0000{i}-of-00003.safetensors"), vec![0u8; 16])).collect();
    files.extend(stub);
    let hub = FakeHub::start(REPO, files, None, Some(cdn));
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("fatshards"))).unwrap_err().to_string();
    assert!(e.contains("limit on header bytes per model"), "{e}");
    let sent: usize = hub.cdn.requests().iter().map(|r| r.sent).sum();
    assert!((sent as u64) < 2 * N, "{sent} bytes sent");
}

#[cfg(unix)]
#[test]
fn a_device_is_not_read_to_the_end() {
    let t = Instant::now();
    let e = vramfit_io::read_text(std::path::Path::new("/dev/zero")).unwrap_err().to_string();
    assert!(e.contains("larger than") && e.contains("config bytes"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(30));
    let e = vramfit_io::resolve_model_with("/dev/zero", opts("http://127.0.0.1:9", &tmp("zero"))).unwrap_err();
    assert!(!e.to_string().is_empty());
}

/// Newcomer D11: a named pipe as MODEL (or as a directory's config.json, or a .gguf) is an
/// error at once; opening it used to wait forever for a writer.
#[cfg(unix)]
#[test]
fn a_named_pipe_is_refused_without_waiting() {
    let dir = tmp("fifo");
    for name in ["fifo", "model.gguf", "model.safetensors"] {
        let ok = std::process::Command::new("mkfifo").arg(dir.join(name)).status().unwrap().success();
        assert!(ok);
    }
    std::fs::write(dir.join("config.json"), crate::util::CONFIG).unwrap();
    let t = Instant::now();
    for name in ["fifo", "model.gguf", "model.safetensors"] {
        let e = resolve_model_with(dir.join(name).to_str().unwrap(), opts("http://127.0.0.1:9", &tmp("fifo-home")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a named pipe, not a file"), "{name}: {e}");
    }
    assert!(t.elapsed() < Duration::from_secs(30));
}

/// The audit's speed case: a 30-shard repo, cold, with 50 ms added to every request (hub and
/// CDN). One after another with two ranges per shard that was 122 requests; now one range per
/// shard on 8 threads.
#[test]
#[allow(clippy::print_stderr)] // the measured figure is the point of this test
fn thirty_shards_cold_with_50_ms_round_trips() {
    let slow = |req: &Request, files: &Arc<Vec<(String, Vec<u8>)>>| {
        let name = req.path.rsplit('/').next().unwrap_or_default();
        let bytes = files.iter().find(|(n, _)| n == name).map(|(_, b)| b.clone())?;
        Some(Reply::Slow(Duration::from_millis(50), Box::new(ranged(req, &bytes, vec![]))))
    };
    let files = Arc::new(many_shards(30));
    let f2 = files.clone();
    let hub = FakeHub::start(
        REPO,
        (*files).clone(),
        Some(Arc::new(|_: &Request, _| None)),
        Some(Arc::new(move |req: &Request, _| slow(req, &f2))),
    );
    // The hub answers are delayed too: wrap its server with a proxy-like override.
    let hub_files = files.clone();
    let cdn = hub.cdn.url();
    let delayed = FakeHub::start(
        REPO,
        vec![],
        Some(Arc::new(move |req: &Request, _| {
            let name = req.path.rsplit('/').next().unwrap_or_default().to_string();
            let commit = ("X-Repo-Commit".to_string(), COMMIT.to_string());
            let reply = if name.ends_with(".safetensors") {
                Reply::Full(302, vec![commit, ("Location".into(), format!("{cdn}/blobs/{name}"))], vec![])
            } else {
                match hub_files.iter().find(|(n, _)| *n == name) {
                    Some((_, b)) => Reply::Full(200, vec![commit, ("ETag".into(), "\"e\"".into())], b.clone()),
                    None => Reply::Full(404, vec![], vec![]),
                }
            };
            Some(Reply::Slow(Duration::from_millis(50), Box::new(reply)))
        })),
        None,
    );
    let t = Instant::now();
    let m = resolve_model_with(REPO, opts(&delayed.hub.url(), &tmp("thirty"))).unwrap();
    let took = t.elapsed();
    assert_eq!(m.spec.checkpoint.as_ref().unwrap().files, 30);
    let requests = delayed.hub.requests().len() + hub.cdn.requests().len();
    assert_eq!(requests, 2 + 30 * 2, "config, index, and per shard a redirect and one range");
    assert!(m.notes.iter().any(|n| n.contains(&format!("over {requests} HTTP requests"))), "{:?}", m.notes);
    // One after another the 62 requests alone take 62 × 50 ms = 3.1 s; on 8 threads about
    // 0.6 s here (0.7 s at load 11 on 2 cores).
    assert!(took < Duration::from_millis(2800), "{took:?}");
    eprintln!("30 shards cold, 50 ms per request: {took:?} over {requests} requests");
    drop(hub);
}

/// A local directory is held to the same per-model bounds as a Hub repo.
#[test]
fn a_local_directory_with_too_many_shards_is_refused() {
    use vramfit_core::formats::safetensors::{build_file, SafetensorsDtype};
    let dir = tmp("local-many");
    std::fs::write(dir.join("config.json"), crate::util::CONFIG).unwrap();
    let one = build_file(&[("w", SafetensorsDtype::BF16, &[2])], &[]);
    for i in 0..1025 {
        std::fs::write(dir.join(format!("part-{i:05}.safetensors")), &one).unwrap();
    }
    let e = resolve_model_with(dir.to_str().unwrap(), opts("http://127.0.0.1:9", &tmp("local-many-home")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("limit on shards"), "{e}");
}
