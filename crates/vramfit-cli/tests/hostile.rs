//! The reliability audit through the binary, against the loopback fake Hub: every output of a
//! suite of network faults grepped for the token, `--timeout` against a dripping server, and
//! concurrent runs sharing one `HF_HOME` (writers and offline readers) never seeing a partial
//! cache file.

use crate::io_util::{shards, tmp};
use crate::server::{FakeHub, Reply, Request, COMMIT};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REPO: &str = "tiny-org/tiny-llama";
const TOKEN: &str = "hf_secret_test";

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vramfit"));
    c.args(args);
    for k in [
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_HUB_OFFLINE",
        "HF_ENDPOINT",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_TOKEN_PATH",
    ] {
        c.env_remove(k);
    }
    c.env("HF_HUB_DOWNLOAD_TIMEOUT", "2");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args, env).output().expect("run vramfit")
}

fn hub_with(f: impl Fn(&Request, usize) -> Option<Reply> + Send + Sync + 'static) -> FakeHub {
    FakeHub::start(REPO, shards(), Some(Arc::new(f)), None)
}

#[test]
fn no_output_of_the_fault_suite_holds_the_token() {
    let mut outputs: Vec<(String, Output)> = vec![];
    let mut go = |name: &str, hub: &str, args: &[&str], env: &[(&str, &str)]| {
        let home = tmp(&format!("tok-{name}"));
        let home = home.to_str().unwrap().to_string();
        let mut e: Vec<(&str, &str)> = vec![("HF_ENDPOINT", hub), ("HF_HOME", &home), ("HF_TOKEN", TOKEN)];
        e.extend_from_slice(env);
        let mut a = args.to_vec();
        if a.is_empty() {
            a = vec!["estimate", REPO, "--json"];
        }
        outputs.push((name.to_string(), run(&a, &e)));
    };
    let ok = FakeHub::start(REPO, shards(), None, None);
    let ok_url = ok.hub.url();
    go("ok", &ok_url, &[], &[]);
    go("explain", &ok_url, &["estimate", REPO, "--explain"], &[]);
    go("markdown", &ok_url, &["estimate", REPO, "--markdown"], &[]);
    go("inspect", &ok_url, &["inspect", REPO], &[]);
    go("inspect-json", &ok_url, &["inspect", REPO, "--json"], &[]);
    go("fit", &ok_url, &["fit", REPO, "--gpu", "T4", "--json"], &[]);
    let gated = hub_with(|_, _| Some(Reply::Full(401, vec![("X-Error-Code".into(), "GatedRepo".into())], vec![])));
    go("gated", &gated.hub.url(), &[], &[]);
    go("missing", &ok_url, &["estimate", "tiny-org/nothing", "--json"], &[]);
    let limited = hub_with(|_, n| (n < 2).then(|| Reply::Full(429, vec![("Retry-After".into(), "0".into())], vec![])));
    go("429", &limited.hub.url(), &[], &[]);
    let broken = hub_with(|_, _| Some(Reply::Full(500, vec![], b"Authorization: Bearer ?".to_vec())));
    go("500", &broken.hub.url(), &[], &[]);
    let file = hub_with(|_, _| Some(Reply::Full(302, vec![("Location".into(), "file:///etc/passwd".into())], vec![])));
    go("file-redirect", &file.hub.url(), &[], &[]);
    let cut = hub_with(|req: &Request, _| {
        req.path.ends_with("config.json").then(|| Reply::Truncated(200, 1000, b"{\"model_type\"".to_vec()))
    });
    go("truncated", &cut.hub.url(), &[], &[]);
    let drip = hub_with(|_, _| {
        Some(Reply::Drip {
            interval: Duration::from_millis(100),
            head: true,
            reply: Box::new(Reply::Full(200, vec![], b"{}".to_vec())),
        })
    });
    go("drip", &drip.hub.url(), &["estimate", REPO, "--json", "--timeout", "1"], &[]);
    // Tokens that cannot go in a header: refused, unseen.
    let token_file = tmp("tok-file").join("token");
    std::fs::write(&token_file, format!("{TOKEN}\nhf_second_line\n")).unwrap();
    go("token-file-crlf", &ok_url, &[], &[("HF_TOKEN", ""), ("HF_TOKEN_PATH", token_file.to_str().unwrap())]);
    go("token-non-ascii", &ok_url, &[], &[("HF_TOKEN", "hf_secret_t\u{e9}st")]);
    go("token-crlf", &ok_url, &[], &[("HF_TOKEN", "hf_secret_test\r\nX-Injected: 1")]);
    // Credentials in the endpoint.
    let with_user = ok_url.replace("http://", &format!("http://user:{TOKEN}@"));
    go("userinfo", &with_user, &[], &[]);
    go("userinfo-inspect", &with_user, &["inspect", REPO, "--json"], &[]);
    let down = with_user.replace(&ok.hub.addr.port().to_string(), "9");
    go("userinfo-down", &down, &[], &[]);

    for (name, out) in &outputs {
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains(TOKEN) && !all.contains("hf_second_line"), "{name} shows the token:\n{all}");
        assert!(!all.contains("panicked"), "{name}: {all}");
        let code = out.status.code();
        let expect_ok = matches!(
            name.as_str(),
            "ok" | "explain"
                | "markdown"
                | "inspect"
                | "inspect-json"
                | "fit"
                | "429"
                | "userinfo"
                | "userinfo-inspect"
        );
        assert_eq!(code, Some(if expect_ok { 0 } else { 2 }), "{name}: {all}");
        if !expect_ok {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line\n{err}");
        }
    }
    let named =
        |name: &str| String::from_utf8_lossy(&outputs.iter().find(|(n, _)| n == name).unwrap().1.stderr).into_owned();
    assert!(named("token-file-crlf").contains("token file"), "{}", named("token-file-crlf"));
    assert!(named("token-non-ascii").contains("HF_TOKEN"), "{}", named("token-non-ascii"));
    assert!(named("drip").contains("--timeout"), "{}", named("drip"));
    // The token went to the endpoint's host only, and only when valid.
    for r in ok.hub.requests() {
        if let Some(a) = r.header("authorization") {
            assert!(a == format!("Bearer {TOKEN}") || a.starts_with("Basic "), "{a}");
        }
    }
}

#[test]
fn timeout_bounds_the_whole_run() {
    let drip = hub_with(|req: &Request, _| {
        req.path.ends_with("config.json").then(|| Reply::Drip {
            interval: Duration::from_millis(300),
            head: false,
            reply: Box::new(Reply::Full(200, vec![], vec![b' '; 10_000])),
        })
    });
    let home = tmp("timeout");
    let t = Instant::now();
    let out = run(
        &["estimate", REPO, "--timeout", "1.5"],
        &[("HF_ENDPOINT", &drip.hub.url()), ("HF_HOME", home.to_str().unwrap())],
    );
    // The reply alone would take 50 minutes; --timeout is 1.5 s (loose bound for loaded CI).
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no answer within --timeout 1.5 s"), "{err}");
    let bad = run(&["estimate", REPO, "--timeout", "0"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a number of seconds"));
}

/// What one shared cache must look like after any number of concurrent runs.
fn cache_is_whole(home: &Path, config: &[u8]) {
    let repo = home.join("hub/models--tiny-org--tiny-llama");
    let snap = repo.join("snapshots").join(COMMIT);
    assert_eq!(std::fs::read(snap.join("config.json")).unwrap(), config, "config.json through its link");
    for blob in std::fs::read_dir(repo.join("blobs")).unwrap().flatten() {
        assert!(blob.metadata().unwrap().len() > 0, "{} is empty", blob.path().display());
    }
    assert_eq!(std::fs::read_to_string(repo.join("refs/main")).unwrap(), COMMIT);
    let mut stack = vec![home.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            assert!(!p.to_string_lossy().contains("vramfit-tmp"), "left behind: {}", p.display());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
}

/// Concurrent runs on one `HF_HOME`: online writers (every run stores config.json again) and
/// offline readers. The audit saw the config blob truncated to 0 bytes and offline readers
/// failing. CI: 8 processes × 10 rounds (`VRAMFIT_STRESS=16x50` for the larger run).
#[test]
fn concurrent_runs_share_one_cache() {
    let (procs, rounds) = std::env::var("VRAMFIT_STRESS")
        .ok()
        .and_then(|v| v.split_once('x').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))))
        .unwrap_or((8usize, 10usize));
    let hub = FakeHub::start(REPO, shards(), None, None);
    let url = hub.hub.url();
    let config = shards().into_iter().find(|(n, _)| n == "config.json").unwrap().1;
    let home = tmp("stress");
    let h = home.to_str().unwrap().to_string();
    let spawn = |offline: bool| -> Child {
        let mut env = vec![("HF_ENDPOINT", url.as_str()), ("HF_HOME", h.as_str())];
        if offline {
            env.push(("HF_HUB_OFFLINE", "1"));
        }
        command(&["estimate", REPO, "--json"], &env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let total_of = |out: &Output| -> u64 {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["total_bytes"].as_u64().unwrap()
    };
    // Round 0: every process a writer into an empty cache.
    let first: Vec<Output> = (0..procs)
        .map(|_| spawn(false))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut failures = vec![];
    let expected = total_of(&first[0]);
    for out in first.iter().chain(std::iter::empty()) {
        if !out.status.success() || total_of(out) != expected {
            failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    cache_is_whole(&home, &config);
    // Then writers and offline readers together, a quarter readers.
    for _ in 0..rounds {
        let children: Vec<(bool, Child)> = (0..procs).map(|i| (i % 4 == 3, spawn(i % 4 == 3))).collect();
        for (offline, c) in children {
            let out = c.wait_with_output().unwrap();
            if !out.status.success() || total_of(&out) != expected {
                failures.push(format!("offline {offline}: {}", String::from_utf8_lossy(&out.stderr)));
            }
        }
        cache_is_whole(&home, &config);
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs failed: {:?}",
        failures.len(),
        procs * (rounds + 1),
        &failures[..failures.len().min(3)]
    );
}
