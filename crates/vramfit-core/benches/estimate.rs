//! How long a catalog estimate takes (the CLI's whole job minus printing).

use vramfit_core::{catalog, estimate, Workload};

fn main() {
    divan::main();
}

#[divan::bench(args = ["llama-2-7b", "llama-3.1-70b", "deepseek-v3"])]
fn catalog_estimate(name: &str) -> u64 {
    let model = catalog::find_model(divan::black_box(name)).expect("catalog model");
    let spec = model.spec().expect("valid config");
    estimate(&spec, &Workload::default()).expect("estimate").levels.device
}

#[divan::bench]
fn parse_config_llama_70b() -> usize {
    let text = catalog::find_model("llama-3.1-70b").expect("catalog model").config_text().expect("config");
    vramfit_core::config::parse_config(divan::black_box(text)).expect("valid").layers.len()
}
