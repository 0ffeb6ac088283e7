#![allow(clippy::print_stderr)] // the campaign says how many inputs it tried
//! The audit's hostile-number campaign on stable Rust, on every test run (overflow checks
//! are on in test builds): every number of every catalog config.json, and of a GGUF header,
//! set to boundary values (0, 1, 2^16, 2^20 ± 1, 2^24, 2^31, 2^32 − 1, 2^53, 2^62, 2^63,
//! u64::MAX, the original ± 1 and × 2, and the wrong types −1, 0.5, 1e300, null, "7"), one
//! key at a time, then several at once from a fixed seed for a few seconds. Each input goes
//! through parse → spec → parameter count → estimate (load, prefill, generate, train, with
//! tensor parallelism). None may panic, none may take over a second, and every estimate
//! that succeeds is within 2^53 bytes.

use serde_json::{json, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use vramfit_core::config::{parse_config, spec_from_gguf};
use vramfit_core::estimate::parallel::Parallel;
use vramfit_core::estimate::{Task, Workload};
use vramfit_core::formats::gguf::{self, GgufWriter};
use vramfit_core::formats::Parsed;
use vramfit_core::{estimate, limits, ModelSpec, ParamCount};

/// A fixed-seed generator (xorshift64*): the campaign is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn boundaries(orig: Option<u64>) -> Vec<Value> {
    let mut v: Vec<Value> = [0u64, 1, 1 << 16, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 1 << 24, (1 << 24) + 1]
        .into_iter()
        .chain([1 << 31, u64::from(u32::MAX), 1 << 53, 1 << 62, 1 << 63, u64::MAX])
        .map(Value::from)
        .collect();
    if let Some(o) = orig {
        v.extend([o.saturating_sub(1), o.saturating_add(1), o.saturating_mul(2)].map(Value::from));
    }
    v.extend([json!(-1), json!(0.5), json!(1e300), Value::Null, json!("7")]);
    v
}

/// Paths to every number in a config (nested objects included).
fn number_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Number(_) => out.push(prefix.clone()),
        Value::Object(m) => {
            for (k, x) in m {
                prefix.push(k.clone());
                number_paths(x, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &[String], x: Value) {
    let mut at = v;
    for k in path {
        at = &mut at[k.as_str()];
    }
    *at = x;
}

fn get(v: &Value, path: &[String]) -> Option<u64> {
    path.iter().try_fold(v, |at, k| at.get(k.as_str()))?.as_u64()
}

fn workloads() -> Vec<Workload> {
    let tp = Parallel { gpus_per_node: 8, tp: 8, ..Parallel::default() };
    vec![
        Workload { task: Task::Load, ..Workload::default() },
        Workload { task: Task::Prefill, batch: 4, prompt: 4096, ..Workload::default() },
        Workload { task: Task::Generate, batch: 2, parallel: tp, ..Workload::default() },
        Workload { task: Task::Train, batch: 1, prompt: 512, ..Workload::default() },
    ]
}

/// Everything downstream of a spec; the checks every result must pass.
fn consume(spec: &ModelSpec) {
    let p = ParamCount::try_of(spec).expect("a spec from the parser passed its limits");
    assert!(p.total <= limits::PARAMETERS.max);
    for w in workloads() {
        if let Ok(b) = estimate(spec, &w) {
            assert!(b.total_bytes() <= limits::ESTIMATE_BYTES.max && b.host_bytes <= limits::ESTIMATE_BYTES.max);
        }
    }
}

/// Run one input; a panic or a slow input is reported, not propagated.
fn trial(label: &str, f: impl FnOnce(), failures: &mut Vec<String>) {
    let t = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(f));
    let took = t.elapsed();
    if let Err(e) = r {
        let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()));
        failures.push(format!("{label}: panic: {}", msg.unwrap_or_default()));
    } else if took > Duration::from_secs(1) {
        failures.push(format!("{label}: took {took:?}"));
    }
}

fn catalog_configs() -> Vec<(String, Value)> {
    let dir = format!("{}/data/configs", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), serde_json::from_str(&text).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
#[allow(clippy::print_stderr)] // the campaign's size, for runs by hand with --nocapture
fn hostile_numbers_in_config_json() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = vec![];
    let mut tried = 0usize;
    let configs = catalog_configs();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let full = std::env::var("VRAMFIT_CAMPAIGN").is_ok_and(|v| v == "full");
    // One key at a time, over a sample of the configs (one per model family) so that a CI run
    // stays at a few seconds; the mixed phase below draws from all of them.
    let mut families = std::collections::BTreeSet::new();
    for (name, config) in &configs {
        let family = config.get("model_type").and_then(Value::as_str).unwrap_or("?").to_string();
        if !families.insert(family) {
            continue;
        }
        let mut paths = vec![];
        number_paths(config, &mut vec![], &mut paths);
        for (pi, path) in paths.iter().enumerate() {
            let all = boundaries(get(config, path));
            // Every value for every key by hand (VRAMFIT_CAMPAIGN=full); in CI three per key,
            // rotating so that each value meets many keys.
            let picked: Vec<Value> = if full {
                all
            } else {
                (0..3).map(|k| all[(pi * 3 + k + families.len()) % all.len()].clone()).collect()
            };
            for x in picked {
                let mut c = config.clone();
                set(&mut c, path, x.clone());
                let text = c.to_string();
                tried += 1;
                trial(
                    &format!("{name} {}={x}", path.join(".")),
                    || {
                        if let Ok(spec) = parse_config(&text) {
                            consume(&spec);
                        }
                    },
                    &mut failures,
                );
            }
        }
    }
    eprintln!("hostile numbers: {tried} inputs one key at a time");
    // Several keys at once, from the fixed seed, for a few seconds.
    let start = Instant::now();
    let budget = Duration::from_secs(if full { 60 } else { 2 });
    while start.elapsed() < budget {
        let (name, config) = &configs[rng.below(configs.len())];
        let mut paths = vec![];
        number_paths(config, &mut vec![], &mut paths);
        let mut c = config.clone();
        let mut label = name.clone();
        for _ in 0..=rng.below(4) {
            let path = &paths[rng.below(paths.len())];
            let values = boundaries(get(config, path));
            let x = values[rng.below(values.len())].clone();
            label.push_str(&format!(" {}={x}", path.join(".")));
            set(&mut c, path, x);
        }
        let text = c.to_string();
        tried += 1;
        trial(
            &label,
            || {
                if let Ok(spec) = parse_config(&text) {
                    consume(&spec);
                }
            },
            &mut failures,
        );
    }
    std::panic::set_hook(prev);
    eprintln!("hostile numbers: {tried} inputs in all");
    assert!(tried > 800, "{tried}");
    assert!(
        failures.is_empty(),
        "{} of {tried} inputs failed:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn hostile_numbers_in_a_gguf_header() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let keys = [
        "llama.block_count",
        "llama.embedding_length",
        "llama.feed_forward_length",
        "llama.attention.head_count",
        "llama.attention.head_count_kv",
        "llama.context_length",
        "llama.rope.dimension_count",
        "llama.expert_count",
        "llama.expert_used_count",
        "llama.vocab_size",
    ];
    let base = [2u32, 64, 128, 4, 2, 256, 16, 0, 0, 32];
    let values = [0u32, 1, 1 << 16, (1 << 20) + 1, 1 << 24, (1 << 24) + 1, 1 << 31, u32::MAX];
    let mut failures = vec![];
    let mut tried = 0;
    for (i, key) in keys.iter().enumerate() {
        for v in values {
            let mut w = GgufWriter::new().string("general.architecture", "llama");
            for (j, k) in keys.iter().enumerate() {
                let x = if i == j { v } else { base[j] };
                if x > 0 || i == j {
                    w = w.u32(k, x);
                }
            }
            let bytes = w.tensor("token_embd.weight", &[64, 32], "F16").build();
            tried += 1;
            trial(
                &format!("{key}={v}"),
                || {
                    if let Ok(Parsed::Done(f)) = gguf::parse_header(&bytes) {
                        if let Ok(spec) = spec_from_gguf(&f, "hostile.gguf") {
                            consume(&spec);
                        }
                    }
                },
                &mut failures,
            );
        }
    }
    std::panic::set_hook(prev);
    assert!(failures.is_empty(), "{} of {tried} inputs failed:\n{}", failures.len(), failures.join("\n"));
}
