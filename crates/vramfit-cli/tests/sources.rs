//! Model sources through the binary: GGUF files with the llama.cpp profile, Hub repos read
//! header-only (against the loopback fake Hub), offline mode.

use crate::io_util::{shards, tmp, WEIGHT_BYTES};
use crate::server::FakeHub;
use crate::{json, stderr_of};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn gguf_fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf")
        .display()
        .to_string()
}

fn with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vramfit"));
    c.args(args);
    for k in ["HF_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HF_TOKEN_PATH"] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run vramfit")
}

#[test]
fn gguf_files_run_on_the_llama_cpp_profile() {
    let f = gguf_fixture();
    let v = json(&["estimate", &f, "--json", "--prompt", "100", "--new", "20"]);
    assert_eq!(v["workload"]["runtime"], "llama-cpp");
    let weights = |v: &Value| {
        v["components"].as_array().unwrap().iter().find(|c| c["name"] == "weights").unwrap()["bytes"].as_u64().unwrap()
    };
    // Everything offloaded but token_embd (2,176 B of Q8_0).
    assert_eq!(weights(&v), 83_968 - 2_176);
    let kv = v["components"].as_array().unwrap().iter().find(|c| c["name"] == "kv_cache").unwrap();
    // 2 layers × (K + V: 2 KV heads × 16 dims) × 2 B × 256 (120 tokens padded).
    assert_eq!(kv["bytes"], 2 * 2 * 32 * 2 * 256);
    let one = json(&["estimate", &f, "--json", "--ngl", "1"]);
    assert!(weights(&one) < weights(&v) / 3);
    assert!(one["host_bytes"].as_u64().unwrap() > v["host_bytes"].as_u64().unwrap());
    // Default 512 + 256 tokens = 768 cells, already a multiple of 256; q8_0: 34 B per 32.
    let q8 = json(&["estimate", &f, "--json", "--kv-dtype", "q8_0", "--attn", "flash"]);
    assert_eq!(
        q8["components"].as_array().unwrap().iter().find(|c| c["name"] == "kv_cache").unwrap()["bytes"],
        2 * 2 * 34 * 768
    );
    let inspect = json(&["inspect", &f, "--json"]);
    assert_eq!(inspect["weight_bytes"], 83_968);
    assert_eq!(inspect["checkpoint"]["format"], "gguf");
    assert!(stderr_of(&["estimate", &f, "--kv-dtype", "q4_0", "--attn", "eager"]).contains("--attn"));
    assert!(stderr_of(&["estimate", "llama-7b", "--kv-dtype", "q8_0"]).contains("--runtime llama.cpp"));
    assert!(stderr_of(&["estimate", "llama-7b", "--ngl", "10"]).contains("--ngl"));
    assert!(stderr_of(&["estimate", "/no/such/model.gguf"]).contains("no such file"));
}

#[test]
fn hub_repos_are_read_header_only_and_then_offline() {
    let hub = FakeHub::start("tiny-org/tiny-llama", shards(), None, None);
    let home = tmp("cli-hub");
    let home_s = home.display().to_string();
    let url = hub.hub.url();
    let env = [("HF_ENDPOINT", url.as_str()), ("HF_HOME", home_s.as_str()), ("HF_TOKEN", "t0k")];
    let out = with_env(&["inspect", "tiny-org/tiny-llama", "--json"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["weight_bytes"], WEIGHT_BYTES);
    assert_eq!(v["checkpoint"]["files"], 3);
    let moved = v["bytes_transferred"].as_u64().unwrap();
    assert!(moved > 0 && moved < 3 * 1_000_000, "{moved}");
    assert!(v["source"].as_str().unwrap().contains("tiny-org/tiny-llama"));
    assert!(v["stored_dtypes"][0]["dtype"] == "BF16");
    // The estimate uses the exact bytes.
    let out = with_env(&["estimate", "tiny-org/tiny-llama@main", "--task", "load", "--json"], &env);
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["components"][0]["bytes"], WEIGHT_BYTES);
    // Offline with the Hub gone.
    drop(hub);
    let offline = [("HF_ENDPOINT", "http://127.0.0.1:9"), ("HF_HOME", home_s.as_str()), ("HF_HUB_OFFLINE", "1")];
    let out = with_env(&["inspect", "tiny-org/tiny-llama", "--json"], &offline);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["bytes_transferred"].as_u64(), v["weight_bytes"].as_u64()), (Some(0), Some(WEIGHT_BYTES)));
    // Not cached, offline: exit 2 with one line that names the fix.
    let out = with_env(&["inspect", "tiny-org/other"], &offline);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HF_HUB_OFFLINE") && err.lines().count() == 1, "{err}");
}

#[test]
fn fit_of_a_gguf_repo_tabulates_every_file() {
    let tiny = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf"),
    )
    .unwrap();
    let files = vec![("tiny-Q8_0.gguf".to_string(), tiny.clone()), ("sub/tiny-copy-Q8_0.gguf".to_string(), tiny)];
    let hub = crate::server::FakeHub::start_sized("tiny-org/Tiny-GGUF", files, vec![], None, None);
    let home = crate::io_util::tmp("gguf-repo-cli");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vramfit"))
        .args(["fit", "tiny-org/Tiny-GGUF", "--gpu", "8GiB", "--ctx-size", "512", "--json"])
        .env("HF_ENDPOINT", hub.hub.url())
        .env("HF_HOME", &home)
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert!(
        files.iter().all(|f| f["fit"]["fits_fully"] == true && f["fit"]["max_context_full"].as_u64().unwrap() >= 512),
        "{v}"
    );
    assert!(v["bytes_transferred"].as_u64().unwrap() > v["header_bytes"].as_u64().unwrap());
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_vramfit"))
        .args(["fit", "tiny-org/Tiny-GGUF", "--gpu", "8GiB", "--ctx-size", "512"])
        .env("HF_ENDPOINT", hub.hub.url())
        .env("HF_HOME", &home)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("tiny-Q8_0.gguf") && text.contains("fits fully") && text.contains("range requests"),
        "{text}"
    );
}

#[test]
fn mmproj_weights_join_the_gpu_and_a_bad_file_names_the_flag() {
    let tiny =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf");
    let tiny = tiny.to_str().unwrap();
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["estimate", tiny, "--json"];
        args.extend_from_slice(extra);
        let out = crate::vramfit(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let plain = json(&[]);
    let with = json(&["--mmproj", tiny]);
    // gguf-py reports the tiny file's tensors as 83,968 bytes (tests/data).
    assert_eq!(with["total_bytes"].as_u64().unwrap() - plain["total_bytes"].as_u64().unwrap(), 83_968);
    let bad = crate::vramfit(&["estimate", tiny, "--mmproj", "/nonexistent/mmproj.gguf"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--mmproj"));
}

#[test]
fn a_lora_adapter_joins_the_device_of_its_blocks_and_a_bad_file_names_the_flag() {
    let tiny =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf");
    let tiny = tiny.to_str().unwrap();
    // An F32 rank-4 adapter on block 0's q projection (convert_lora_to_gguf.py's names).
    let adapter = vramfit_core::formats::gguf::GgufWriter::new()
        .string("general.type", "adapter")
        .tensor("blk.0.attn_q.weight.lora_a", &[64, 4], "F32")
        .tensor("blk.0.attn_q.weight.lora_b", &[4, 64], "F32")
        .build();
    let dir = tmp("lora");
    let path = dir.join("adapter.gguf");
    std::fs::write(&path, adapter).unwrap();
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["estimate", tiny, "--json"];
        args.extend_from_slice(extra);
        let out = crate::vramfit(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let plain = json(&[]);
    let with = json(&["--lora", path.to_str().unwrap()]);
    assert_eq!(with["total_bytes"].as_u64().unwrap() - plain["total_bytes"].as_u64().unwrap(), 2 * 64 * 4 * 4);
    let components = with["components"].as_array().unwrap();
    assert!(components.iter().any(|c| c["name"] == "lora_weights" && c["bytes"] == 2 * 64 * 4 * 4));
    let bad = crate::vramfit(&["estimate", tiny, "--lora", "/nonexistent/adapter.gguf"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--lora"));
}

/// Newcomer D1, issue item 5: a checkpoint that does not match its config is not trusted —
/// missing shards are an error naming them, a second copy of the tensors is counted once
/// with a note, and too few tensors for the config fall back to the parameter count.
#[test]
fn checkpoints_that_do_not_match_their_config() {
    let full = tmp("ck-full");
    for (name, bytes) in shards() {
        std::fs::write(full.join(name), bytes).unwrap();
    }
    let whole = json(&["estimate", full.to_str().unwrap(), "--json"]);
    // One shard of three, with the index: an error naming the two that are missing.
    let partial = tmp("ck-partial");
    for (name, bytes) in
        shards().into_iter().filter(|(n, _)| !n.starts_with("model-00002") && !n.starts_with("model-00003"))
    {
        std::fs::write(partial.join(name), bytes).unwrap();
    }
    let e = stderr_of(&["estimate", partial.to_str().unwrap()]);
    assert!(e.contains("model-00002-of-00003.safetensors") && e.contains("model-00003-of-00003.safetensors"), "{e}");
    // The same without the index: the file names say how many there are.
    std::fs::remove_file(partial.join("model.safetensors.index.json")).unwrap();
    let e = stderr_of(&["estimate", partial.to_str().unwrap()]);
    assert!(e.contains("2 shards are missing"), "{e}");
    // Two copies of the same tensors (no index): counted once, with a note.
    let twice = tmp("ck-twice");
    for (name, bytes) in shards() {
        if name == "model.safetensors.index.json" {
            continue;
        }
        if name.starts_with("model-") {
            std::fs::write(twice.join(name.replace("model-", "consolidated-")), &bytes).unwrap();
        }
        std::fs::write(twice.join(name), bytes).unwrap();
    }
    let v = json(&["estimate", twice.to_str().unwrap(), "--json"]);
    assert_eq!(v["levels"], whole["levels"]);
    assert!(v["notes"].to_string().contains("second copy"), "{}", v["notes"]);
    // One small tensor beside a full config: weights from the config's parameter count.
    let one = tmp("ck-one");
    let (s1, bytes) = shards().into_iter().next().unwrap();
    std::fs::write(one.join(s1.replace("-00001-of-00003", "")), bytes).unwrap();
    std::fs::write(one.join("config.json"), crate::io_util::CONFIG).unwrap();
    let v = json(&["estimate", one.to_str().unwrap(), "--json"]);
    assert!(v["notes"].to_string().contains("config.json describes"), "{}", v["notes"]);
    let weights =
        v["components"].as_array().unwrap().iter().find(|c| c["name"] == "weights").unwrap()["bytes"].as_u64().unwrap();
    assert_eq!(weights, WEIGHT_BYTES);
}
