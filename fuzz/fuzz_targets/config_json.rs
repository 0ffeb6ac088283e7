//! Any text as config.json: parsed or refused, never a panic; a parsed model passes its
//! limits, counts its parameters with checked arithmetic and estimates (or refuses) a few
//! workloads within 2^53 bytes. Build with overflow checks (`cargo fuzz` does by default with
//! `-a`/debug assertions) and the dictionary of config keys and boundary numbers:
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run config_json -- -dict=config.dict -max_total_time=300
#![no_main]

use libfuzzer_sys::fuzz_target;
use vramfit_core::estimate::{Task, Workload};
use vramfit_core::{config::parse_config, estimate, limits, ParamCount};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = parse_config(text) else { return };
    let p = ParamCount::try_of(&spec).expect("parsed specs are within their limits");
    assert!(p.total <= limits::PARAMETERS.max);
    for task in [Task::Load, Task::Prefill, Task::Generate, Task::Train] {
        if let Ok(b) = estimate(&spec, &Workload { task, ..Workload::default() }) {
            assert!(b.total_bytes() <= limits::ESTIMATE_BYTES.max);
        }
    }
});
