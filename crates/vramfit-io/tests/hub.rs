//! The Hub client against the loopback fake Hub: header-only reads through a CDN redirect,
//! the token kept on the Hub's host, the standard cache, offline mode, errors and retries.

use crate::server::{ranged, FakeHub, Reply, Request, COMMIT};
use crate::util::{hub_config, shards, tmp, WEIGHT_BYTES};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vramfit_core::estimate::{Task, Workload};
use vramfit_core::ComponentKind;
use vramfit_core::ParamCount;
use vramfit_io::{resolve_model_with, IoError, ResolveOptions};

const REPO: &str = "tiny-org/tiny-llama";

fn opts(endpoint: &str, home: &std::path::Path) -> ResolveOptions<'static> {
    ResolveOptions { revision: None, hub: hub_config(endpoint, home), progress: None }
}

#[test]
fn sharded_model_is_estimated_from_headers_only() {
    let files = shards();
    let hub = FakeHub::start(REPO, files.clone(), None, None);
    let home = tmp("hub-sharded");
    let mut seen = vec![];
    let mut progress = |p: vramfit_io::Progress<'_>| seen.push((p.done, p.total));
    let o = ResolveOptions { progress: Some(&mut progress), ..opts(&hub.hub.url(), &home) };
    let m = resolve_model_with(REPO, o).unwrap();
    assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
    let ck = m.spec.checkpoint.as_ref().expect("checkpoint read");
    assert_eq!(ck.files, 3);
    assert_eq!(ck.bytes, WEIGHT_BYTES);
    assert_eq!(ck.bytes, ParamCount::of(&m.spec).total * 2);
    // Each shard is megabytes; only its header crossed the wire.
    let cdn = hub.cdn.requests();
    assert_eq!(cdn.len(), 3, "one Range request per shard (the first 64 KiB hold the header): {cdn:?}");
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".safetensors")) {
        assert!(bytes.len() > 2_000_000, "{name} is {} bytes", bytes.len());
        let sent: usize = cdn.iter().filter(|r| r.path.ends_with(name.as_str())).map(|r| r.sent).sum();
        assert!(sent < 1_000_000 && sent > 8, "{name}: {sent} bytes sent");
    }
    // At most the first 64 KiB of each shard, plus config.json and the index.
    assert!(m.bytes_transferred < 3 * (64 << 10) + 10_000, "{}", m.bytes_transferred);
    // The CDN got the Range header and never the token; the Hub got the token.
    for r in &cdn {
        assert!(r.header("range").is_some(), "{r:?}");
        assert!(r.header("authorization").is_none(), "token leaked to the CDN: {r:?}");
    }
    for r in hub.hub.requests() {
        assert_eq!(r.header("authorization"), Some("Bearer secret-token"));
    }
    // The estimate's weights are the exact stored bytes.
    let w = Workload { task: Task::Load, ..Workload::default() };
    let b = vramfit_core::estimate(&m.spec, &w).unwrap();
    assert_eq!(b.component(ComponentKind::Weights), WEIGHT_BYTES);
    assert!(b.components[0].source.contains("safetensors headers"));

    // Cached: config.json and the index in the standard layout, headers beside it.
    let snap = home.join("hub/models--tiny-org--tiny-llama/snapshots").join(COMMIT);
    assert!(snap.join("config.json").is_file());
    assert!(snap.join("model.safetensors.index.json").is_file());
    assert!(!snap.join("model-00001-of-00003.safetensors").exists(), "no truncated blob in the HF cache");
    assert_eq!(std::fs::read_to_string(home.join("hub/models--tiny-org--tiny-llama/refs/main")).unwrap(), COMMIT);

    // Offline, with the Hub gone: the cache is enough and nothing is transferred.
    drop(hub);
    let mut o = opts("http://127.0.0.1:9", &home);
    o.hub.offline = true;
    let again = resolve_model_with(REPO, o).unwrap();
    assert_eq!(again.bytes_transferred, 0);
    assert_eq!(again.spec.checkpoint.unwrap().bytes, WEIGHT_BYTES);
}

#[test]
fn offline_reads_a_cache_huggingface_hub_populated() {
    // The layout huggingface_hub leaves after a full download: refs/main, a snapshot with
    // the files (here plain files; symlinks to blobs/ read the same).
    let home = tmp("hub-offline");
    let repo = home.join("hub/models--tiny-org--tiny-llama");
    let snap = repo.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), COMMIT).unwrap();
    for (name, bytes) in shards() {
        std::fs::write(snap.join(name), bytes).unwrap();
    }
    let mut o = opts("http://127.0.0.1:9", &home);
    o.hub.offline = true;
    let m = resolve_model_with(REPO, o).unwrap();
    assert_eq!(m.bytes_transferred, 0);
    assert_eq!(m.spec.checkpoint.unwrap().bytes, WEIGHT_BYTES);
    // A revision that is not cached is a clear error.
    let mut o = opts("http://127.0.0.1:9", &home);
    o.hub.offline = true;
    o.revision = Some("v2".into());
    let e = resolve_model_with(REPO, o).unwrap_err();
    assert!(matches!(e, IoError::Offline { .. }), "{e}");
    assert!(e.to_string().contains("HF_HUB_OFFLINE"), "{e}");
}

fn override_hub(f: impl Fn(&Request, usize) -> Option<Reply> + Send + Sync + 'static) -> FakeHub {
    FakeHub::start(REPO, shards(), Some(Arc::new(f)), None)
}

#[test]
fn gated_missing_and_rate_limited() {
    let hub = override_hub(|_, _| Some(Reply::Full(401, vec![("X-Error-Code".into(), "GatedRepo".into())], vec![])));
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("gated"))).unwrap_err();
    assert!(e.to_string().contains("accept the license") && e.to_string().contains("HF_TOKEN"), "{e}");

    let hub = FakeHub::start(REPO, shards(), None, None);
    let e = resolve_model_with("tiny-org/other-model", opts(&hub.hub.url(), &tmp("missing"))).unwrap_err();
    assert!(e.to_string().contains("repository not found"), "{e}");
    let mut o = opts(&hub.hub.url(), &tmp("missing-rev"));
    o.revision = Some("v9".into());
    let e = resolve_model_with(REPO, o).unwrap_err();
    assert!(e.to_string().contains("revision not found"), "{e}");

    // 429 twice, then the real answer: retried with backoff.
    let hub = override_hub(|_, n| (n < 2).then(|| Reply::Full(429, vec![("Retry-After".into(), "0".into())], vec![])));
    let m = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("429"))).unwrap();
    assert_eq!(m.spec.checkpoint.unwrap().bytes, WEIGHT_BYTES);
    // A server error that does not go away: an error naming the status, after the retries.
    let hub = override_hub(|_, _| Some(Reply::Full(503, vec![], vec![])));
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("503"))).unwrap_err();
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    assert_eq!(hub.hub.requests().len(), 3, "1 try + 2 retries");
}

#[test]
fn slow_and_truncated_answers_are_retried_then_reported() {
    // The first answer is slower than the read timeout; the retry is fast.
    let hub = override_hub(|req: &Request, n| {
        (n == 0).then(|| Reply::Slow(Duration::from_millis(1500), Box::new(ranged(req, b"{}", vec![]))))
    });
    let m = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("slow"))).unwrap();
    assert_eq!(m.spec.checkpoint.unwrap().bytes, WEIGHT_BYTES);
    // Always slow: a timeout error, in bounded time.
    let hub =
        override_hub(|_, _| Some(Reply::Slow(Duration::from_secs(3), Box::new(Reply::Full(200, vec![], vec![])))));
    let t = Instant::now();
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("slow2"))).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(matches!(e, IoError::Network { .. }), "{e}");
    // The CDN cuts the first header answer short, then behaves.
    let hub = FakeHub::start(
        REPO,
        shards(),
        None,
        Some(Arc::new(|_: &Request, n| (n == 0).then(|| Reply::Truncated(206, 8, vec![1, 2, 3])))),
    );
    let m = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("trunc"))).unwrap();
    assert_eq!(m.spec.checkpoint.unwrap().bytes, WEIGHT_BYTES);
    // Always cut short: a clear error.
    let hub = FakeHub::start(
        REPO,
        shards(),
        None,
        Some(Arc::new(|_: &Request, _| Some(Reply::Truncated(206, 8, vec![1, 2, 3])))),
    );
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("trunc2"))).unwrap_err();
    assert!(e.to_string().contains("truncated") || e.to_string().contains("dropped"), "{e}");
}

#[test]
fn hostile_shard_header_costs_eight_bytes() {
    let mut files = shards();
    for (name, bytes) in &mut files {
        if name.ends_with(".safetensors") {
            bytes[..8].copy_from_slice(&100_000_000_000u64.to_le_bytes());
        }
    }
    let hub = FakeHub::start(REPO, files, None, None);
    let e = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("hostile"))).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    let cdn = hub.cdn.requests();
    assert!((1..=3).contains(&cdn.len()), "at most one first range per shard, nothing more: {cdn:?}");
    assert!(cdn.iter().all(|r| r.sent <= 64 << 10), "{cdn:?}");
}

#[test]
fn a_repo_without_safetensors_falls_back_to_the_config() {
    let files: Vec<(String, Vec<u8>)> = shards().into_iter().filter(|(n, _)| n == "config.json").collect();
    let hub = FakeHub::start(REPO, files, None, None);
    let m = resolve_model_with(REPO, opts(&hub.hub.url(), &tmp("noweights"))).unwrap();
    assert!(m.spec.checkpoint.is_none());
    assert!(m.notes.iter().any(|n| n.contains("no safetensors")), "{:?}", m.notes);
}
