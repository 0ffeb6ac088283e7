//! How fast: decode and prefill tokens/s, time to first token, training step time.
//!
//! Decode is memory-bound: each step reads the weights a token needs (MoE: the active experts
//! only) and the KV cache at the average context, so its time is bytes ÷ (η × bandwidth)
//! plus a fixed time t0 per step (see [`backend`]). Layers kept in CPU RAM are read at the RAM
//! bandwidth. Prefill and training are compute-bound: FLOPs ÷ effective TFLOPS.
//! Every figure comes with its basis: the inputs, each with its formula and source.

pub mod backend;
pub mod band;
pub mod decode;
pub mod host;
pub mod prefill;
pub mod train;

pub use backend::Backend;

use crate::catalog::Gpu;
use crate::estimate::breakdown::Breakdown;
use crate::estimate::workload::{Task, Workload};
use crate::model::ModelSpec;
use serde::Serialize;

/// One input of a speed figure, with its value, formula and source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Basis {
    /// Short name (`bytes_per_token`, `eta`, `t0_s`, `effective_tflops`, `mfu`...).
    pub name: String,
    /// Its value in `unit`.
    pub value: f64,
    /// Unit (`B`, `s`, `GB/s`, `TFLOPS`, `1`).
    pub unit: String,
    /// The formula with the numbers put in.
    pub formula: String,
    /// Where it comes from.
    pub source: String,
}

impl Basis {
    fn new(name: &str, value: f64, unit: &str, formula: impl Into<String>, source: impl Into<String>) -> Self {
        Basis { name: name.into(), value, unit: unit.into(), formula: formula.into(), source: source.into() }
    }
}

/// The speed of a run, as `estimate --json` prints it under `speed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Speed {
    /// Decode tokens/s of one sequence.
    pub decode_tokens_per_s: Option<f64>,
    /// Decode tokens/s of the asked batch, all sequences together.
    pub decode_tokens_per_s_batch: Option<f64>,
    /// Prefill tokens/s.
    pub prefill_tokens_per_s: Option<f64>,
    /// Time to first token for the asked prompt and batch, seconds.
    pub ttft_s: Option<f64>,
    /// Training: time per optimizer step, seconds.
    pub step_s: Option<f64>,
    /// Training: tokens/s.
    pub train_tokens_per_s: Option<f64>,
    /// Measured error of each figure on the validation cases.
    pub error_band: band::ErrorBand,
    /// The backend whose constants were used.
    pub backend: Backend,
    /// Every input of the figures.
    pub basis: Vec<Basis>,
}

/// Where the run happens, beyond the workload: the GPU, how many, the host RAM.
#[derive(Debug, Clone, Copy)]
pub struct SpeedDevice<'a> {
    /// The catalog GPU.
    pub gpu: &'a Gpu,
    /// How many of them.
    pub count: u64,
    /// CPU RAM bandwidth, GB/s (`--ram-bandwidth`); `None` = the platform default.
    pub ram_bandwidth_gb_s: Option<f64>,
    /// The backend, when not implied by the runtime and the GPU (speed cases name MLX).
    pub backend: Option<Backend>,
}

impl SpeedDevice<'_> {
    /// The backend used.
    #[must_use]
    pub fn backend(&self, w: &Workload) -> Backend {
        self.backend.unwrap_or_else(|| Backend::of(w.runtime, &self.gpu.vendor))
    }

    /// CPU RAM bandwidth (GB/s) and what it stands for.
    #[must_use]
    pub fn ram_bandwidth(&self) -> (f64, String) {
        match self.ram_bandwidth_gb_s {
            Some(bw) => (bw, format!("--ram-bandwidth {bw} GB/s")),
            None => {
                let (bw, why) = host::default_ram_bandwidth(&self.gpu.class, &self.gpu.vendor);
                if bw > 0.0 {
                    (bw, format!("default: {why}; set --ram-bandwidth for your machine"))
                } else {
                    (self.gpu.bandwidth_gb_s as f64, why.to_string())
                }
            }
        }
    }
}

/// Estimate the speed of `w` on `dev`; `b` is the memory estimate of the same run (the speed
/// model reads the same byte counts). `None` for tasks without a speed (load, merge).
#[must_use]
pub fn estimate_speed(spec: &ModelSpec, w: &Workload, b: &Breakdown, dev: &SpeedDevice<'_>) -> Option<Speed> {
    let backend = dev.backend(w);
    let mut basis = Vec::new();
    let mut s = Speed {
        decode_tokens_per_s: None,
        decode_tokens_per_s_batch: None,
        prefill_tokens_per_s: None,
        ttft_s: None,
        step_s: None,
        train_tokens_per_s: None,
        error_band: band::ErrorBand::of(backend),
        backend,
        basis: Vec::new(),
    };
    match w.task {
        Task::Load | Task::Merge => return None,
        Task::Prefill | Task::Generate => {
            let dec = decode::Decode::of(spec, w, b, dev, backend, &mut basis);
            if w.task == Task::Generate {
                s.decode_tokens_per_s = dec.tokens_per_s(1);
                s.decode_tokens_per_s_batch = dec.tokens_per_s(w.batch);
            }
            if let Some(p) = prefill::Prefill::of(spec, w, dev, backend, dec.cpu_weight_bytes, &mut basis) {
                s.prefill_tokens_per_s = Some(p.tokens_per_s);
                s.ttft_s = Some(p.ttft_s);
            }
        }
        Task::Train => {
            let t = train::Step::of(spec, w, b, dev, &mut basis)?;
            s.step_s = Some(t.step_s);
            s.train_tokens_per_s = Some(t.tokens_per_s);
        }
    }
    s.basis = basis;
    Some(s)
}
