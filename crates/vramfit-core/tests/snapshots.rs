//! Snapshot tests of breakdowns: a reviewer reads the numbers in the diff.

use crate::util::run;
use vramfit_core::quant::QuantConfig;
use vramfit_core::{DType, Task, Workload};

fn table(b: &vramfit_core::Breakdown) -> String {
    let mut s = format!("peak_phase: {}\n", b.peak_phase);
    for c in &b.components {
        s.push_str(&format!("{:<26} {:>16}  {:?}  {}\n", c.label(), c.bytes, c.level, c.formula));
    }
    s.push_str(&format!("levels: {:?}\n", b.levels));
    s
}

#[test]
fn llama_7b_fp16_generate() {
    let b = run("llama-7b", &Workload { dtype: Some(DType::Fp16), ..Workload::default() });
    insta::assert_snapshot!(table(&b));
}

#[test]
fn llama_7b_nf4_load() {
    let b = run(
        "llama-7b",
        &Workload {
            task: Task::Load,
            dtype: Some(DType::Fp16),
            quant: Some(QuantConfig::parse("nf4", None).unwrap()),
            ..Workload::default()
        },
    );
    insta::assert_snapshot!(table(&b));
}

#[test]
fn mixtral_prefill_long_prompt() {
    let b = run(
        "mixtral-8x7b",
        &Workload { task: Task::Prefill, batch: 2, prompt: 8192, dtype: Some(DType::Bf16), ..Workload::default() },
    );
    insta::assert_snapshot!(table(&b));
}
