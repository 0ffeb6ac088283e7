//! Helpers shared by the integration tests.

use vramfit_core::{catalog, estimate, Breakdown, ModelSpec, Workload};

pub fn spec(name: &str) -> ModelSpec {
    catalog::find_model(name).unwrap_or_else(|e| panic!("{name}: {e}")).spec().unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn run(name: &str, w: &Workload) -> Breakdown {
    estimate(&spec(name), w).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub const GIB: f64 = (1u64 << 30) as f64;
