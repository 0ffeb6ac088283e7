//! parse -> spec -> estimate, structure-aware: the input picks a catalog config, up to four
//! of its numbers and the values they get (boundary numbers near the limits and the widths
//! of 64-bit arithmetic), then a workload (task, batch, prompt, tensor parallelism). The
//! result must be a refusal or an estimate within 2^53 bytes, never a panic or a wrap.
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run spec_estimate -- -max_total_time=300
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vramfit_core::estimate::parallel::Parallel;
use vramfit_core::estimate::{Task, Workload};
use vramfit_core::{catalog, estimate, limits};

const BOUNDARIES: [u64; 16] = [
    0,
    1,
    2,
    1 << 14,
    (1 << 14) + 1,
    1 << 16,
    (1 << 20) + 1,
    1 << 24,
    (1 << 24) + 1,
    1 << 31,
    u32::MAX as u64,
    1 << 32,
    1 << 53,
    1 << 62,
    1 << 63,
    u64::MAX,
];

fn numbers(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Number(_) => out.push(at.clone()),
        Value::Object(m) => {
            for (k, x) in m {
                at.push(k.clone());
                numbers(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.iter().copied();
    let mut next = || u64::from(bytes.next().unwrap_or(0));
    let models = catalog::models();
    let m = &models[next() as usize % models.len()];
    let Ok(text) = m.config_text() else { return };
    let Ok(mut config) = serde_json::from_str::<Value>(text) else { return };
    let mut paths = vec![];
    numbers(&config, &mut vec![], &mut paths);
    if paths.is_empty() {
        return;
    }
    for _ in 0..next() % 5 {
        let path = &paths[next() as usize % paths.len()];
        let pick = next();
        let value = if pick < 16 { BOUNDARIES[pick as usize] } else { (pick << 16) | (next() << 8) | next() };
        let mut at = &mut config;
        for k in path {
            at = &mut at[k.as_str()];
        }
        *at = Value::from(value);
    }
    let Ok(spec) = vramfit_core::config::parse_config(&config.to_string()) else { return };
    let task = [Task::Load, Task::Prefill, Task::Generate, Task::Train][next() as usize % 4];
    let tp = 1u64 << (next() % 7);
    let w = Workload {
        task,
        batch: 1 + (next() << 8 | next()),
        prompt: 1 + (next() << 16 | next() << 8 | next()),
        parallel: Parallel { gpus_per_node: tp, tp, ..Parallel::default() },
        ..Workload::default()
    };
    if let Ok(b) = estimate(&spec, &w) {
        assert!(b.total_bytes() <= limits::ESTIMATE_BYTES.max);
    }
});
