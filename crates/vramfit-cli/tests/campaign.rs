//! The newcomer report's bad-input campaign (`../shared/qa/newcomer.md`, "Bad-input table",
//! 225 inputs) as one test: every input runs the debug binary, none may panic, each exits 0 or
//! 2 as `fixtures/bad/cases.tsv` says, and every exit-2 message is one line naming the flag or
//! argument to fix.
//!
//! The inputs refer to files under `./bad`. The text ones (config.json variants) are committed
//! in `fixtures/bad/`; the binary ones (truncated or hostile safetensors and GGUF headers, a file
//! that is not UTF-8, named pipes) are written here by [`binary_fixtures`], each from the
//! table's description. Hub ids go to the loopback fake Hub, which knows only `tiny-org/tiny-llama`.

use crate::server::FakeHub;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vramfit_core::formats::gguf::GgufWriter;
use vramfit_core::formats::safetensors::{build_file, SafetensorsDtype};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A safetensors file whose first 8 bytes declare a `len`-byte header, followed by `rest`.
fn declared_header(len: u64, rest: &[u8]) -> Vec<u8> {
    let mut v = len.to_le_bytes().to_vec();
    v.extend_from_slice(rest);
    v
}

/// A safetensors file with the one tensor `json` describes (header only, no data).
fn header_only(json: &str) -> Vec<u8> {
    declared_header(json.len() as u64, json.as_bytes())
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

/// The binary inputs, as the table describes them.
fn binary_fixtures(dir: &Path) {
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    // Safetensors headers that lie about their length, or describe tensors the file lacks.
    write("huge_header.safetensors", &declared_header(1 << 62, b"{}"));
    write("trunc.safetensors", &declared_header(1000, b"{\"w\":"));
    write("badoff.safetensors", &header_only(r#"{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,8000000]}}"#));
    write("stdir/model.safetensors", &declared_header(1 << 62, b"{}"));
    write("sttrunc/model.safetensors", &declared_header(1000, b"{\"w\":"));
    write(
        "stbadoff/model.safetensors",
        &header_only(r#"{"w":{"dtype":"F16","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#),
    );
    // One small tensor next to a full Llama-2-7B config.
    write("stmismatch/model.safetensors", &build_file(&[("lm_head.weight", SafetensorsDtype::F16, &[64, 64])], &[]));
    // Shard 1 of 4 of a Llama-3-8B checkpoint (a small stand-in: shards 2-4 are what is missing).
    write(
        "partial/model-00001-of-00004.safetensors",
        &build_file(&[("model.embed_tokens.weight", SafetensorsDtype::BF16, &[128, 64])], &[]),
    );
    // GGUF headers: a tensor count of 2^60, a wrong magic, nothing at all.
    let mut bad = b"GGUF".to_vec();
    bad.extend_from_slice(&3u32.to_le_bytes());
    bad.extend_from_slice(&(1u64 << 60).to_le_bytes());
    bad.extend_from_slice(&0u64.to_le_bytes());
    write("bad.gguf", &bad);
    let mut magic = GgufWriter::new().string("general.architecture", "llama").build();
    magic[..4].copy_from_slice(b"XXXX");
    write("badmagic.gguf", &magic);
    write("empty.gguf", b"");
    // A real (tiny) llama GGUF stands in for the campaign's sparse Llama-3-8B Q4_K_M file: the
    // flags under test take the same paths.
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf");
    std::fs::copy(tiny, dir.join("q4km.gguf")).unwrap();
    // Not UTF-8: a config.json, and a file of noise.
    write("binary/config.json", &[0x7b, 0xff, 0xfe, 0x00, 0x80, 0x7d]);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    write("random.bin", &noise);
    std::fs::create_dir_all(dir.join("cfgisdir/config.json")).unwrap();
    // Named pipes: one as MODEL, one where config.json should be.
    mkfifo(&dir.join("fifo"));
    std::fs::create_dir_all(dir.join("fifodir")).unwrap();
    mkfifo(&dir.join("fifodir/config.json"));
}

struct Case {
    id: String,
    expect: i32,
    args: Vec<String>,
}

fn cases(repo: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("cases.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let id = f.next().unwrap().to_string();
            let expect = f.next().unwrap().parse().unwrap();
            let _then = f.next();
            let _verdict = f.next();
            let args = f.map(|a| a.replace("$REPO", &repo.display().to_string())).collect();
            Case { id, expect, args }
        })
        .collect()
}

/// Exit code and stderr of one run, killed after `limit`.
fn run(dir: &Path, hub: &str, home: &Path, args: &[String], limit: Duration) -> (Option<i32>, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vramfit"));
    c.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for k in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_TOKEN_PATH", "RUST_BACKTRACE"]
    {
        c.env_remove(k);
    }
    c.env("HF_ENDPOINT", hub).env("HF_HOME", home).env("HF_HUB_DOWNLOAD_TIMEOUT", "2");
    let mut child = c.spawn().expect("run vramfit");
    let start = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break Some(124);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    (code, out, err)
}

/// Whether a one-line error names what to fix: it starts with a flag (`--batch: ...`), names
/// one the user typed, the MODEL or file argument as typed, or clap's placeholder for a
/// missing one (`<MODEL>`, `--gpu <GPU>`).
fn names_what_to_fix(line: &str, args: &[String]) -> bool {
    if line.starts_with("--") || (line.contains(" <") && line.contains('>')) {
        return true;
    }
    args.iter().skip(1).any(|a| {
        let a = a.split_once('=').map_or(a.as_str(), |(flag, _)| flag);
        if a.starts_with('-') {
            // clap reads `-ngl` and `-5GB` as `-n` and `-5`.
            line.contains(&format!("'{a}'"))
                || line.contains(&format!("'{a} <"))
                || line.contains(&format!("'{}'", &a[..2.min(a.len())]))
        } else {
            line.contains(&format!("\"{a}\"")) || (!a.is_empty() && line.contains(a))
        }
    })
}

/// The error line of a run that exited 2: `error: ...` as text, or the `error` field of the
/// one-line JSON object under `--json`.
fn error_line(err: &str, json: bool) -> Result<String, String> {
    let lines: Vec<&str> = err.lines().collect();
    let [line] = lines.as_slice() else { return Err(format!("{} lines", lines.len())) };
    if json {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        return v["error"].as_str().map(str::to_string).ok_or_else(|| "no `error` field".to_string());
    }
    line.strip_prefix("error: ").map(str::to_string).ok_or_else(|| "does not start with `error: `".to_string())
}

#[test]
fn the_bad_input_campaign_exits_0_or_2_with_one_line_naming_the_flag() {
    let dir = crate::io_util::tmp("campaign");
    let bad = dir.join("bad");
    copy_dir(&fixtures(), &bad);
    binary_fixtures(&bad);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let hub = FakeHub::start("tiny-org/tiny-llama", crate::io_util::shards(), None, None);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let all = cases(&repo);
    assert_eq!(all.len(), 225, "the campaign has 225 inputs");
    let mut failures = vec![];
    for case in &all {
        let (code, out, err) = run(&bad, &hub.hub.url(), &home, &case.args, Duration::from_secs(60));
        let what = format!("{} `vramfit {}`", case.id, case.args.join(" "));
        if err.contains("panicked") || out.contains("panicked") {
            failures.push(format!("{what}: panicked: {err}"));
            continue;
        }
        match code {
            Some(0 | 2) => {}
            other => {
                failures.push(format!("{what}: exit {other:?}, not 0 or 2: {err}"));
                continue;
            }
        }
        if code != Some(case.expect) {
            failures.push(format!("{what}: exit {code:?}, the table says {}: {}", case.expect, err.trim()));
            continue;
        }
        if code == Some(2) {
            match error_line(&err, case.args.iter().any(|a| a == "--json")) {
                Err(why) => failures.push(format!("{what}: not one error line ({why}): {err:?}")),
                Ok(line) if !names_what_to_fix(&line, &case.args) => {
                    failures.push(format!("{what}: names no flag or argument: {line}"));
                }
                Ok(_) => {}
            }
        }
        for number in ["NaN", "inf GiB", "-0.00 GiB"] {
            if out.contains(number) {
                failures.push(format!("{what}: prints {number}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} inputs fail:\n{}", failures.len(), all.len(), failures.join("\n"));
}
