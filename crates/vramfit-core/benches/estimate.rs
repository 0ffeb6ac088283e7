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

/// The whole `vramfit fit` search (every plan, the limits of each, the catalog GPUs that
/// fit) for the questions the fit issue names; the target is under 50 ms each.
#[divan::bench(args = [
    "llama-7b T4 generate",
    "llama-7b T4 train",
    "llama-2-13b 4xA100-80GB train",
    "llama-2-13b 8xA100-80GB train",
    "llama-3.1-70b 8xH100-SXM train",
    "llama-3.1-70b H100-SXM generate",
])]
fn fit_every_plan(case: &str) -> usize {
    use vramfit_core::catalog::GpuSpec;
    use vramfit_core::fit::{fit, FitOptions};
    let mut parts = case.split(' ');
    let (model, gpu, task) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let spec = catalog::find_model(model).expect("catalog model").spec().expect("valid config");
    let gpu = GpuSpec::parse(gpu).expect("catalog GPU");
    let w = Workload { task: vramfit_core::Task::parse(task).expect("task"), ..Workload::default() };
    let report =
        fit(&spec, divan::black_box(&w), &gpu, FitOptions { all: true, ..FitOptions::default() }).expect("fit");
    report.plans.len()
}
