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
        if let Some(bw) = self.ram_bandwidth_gb_s {
            (bw, format!("--ram-bandwidth {bw} GB/s"))
        } else {
            let (bw, why) = host::default_ram_bandwidth(&self.gpu.class, &self.gpu.vendor);
            if bw > 0.0 {
                (bw, format!("default: {why}; set --ram-bandwidth for your machine"))
            } else {
                (self.gpu.bandwidth_gb_s as f64, why.to_string())
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
        // Serving engines' aggregate tokens/s against concurrency is not modelled yet.
        Task::Load | Task::Merge | Task::Serve => return None,
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
    Some(s.rounded())
}

/// `x` to 6 significant digits: estimates are not more precise than that, and such numbers
/// survive a JSON round trip exactly (the web page and Python read the JSON back).
#[must_use]
pub fn sig6(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.5e}").parse().unwrap_or(x)
}

impl Speed {
    fn rounded(mut self) -> Self {
        for v in [
            &mut self.decode_tokens_per_s,
            &mut self.decode_tokens_per_s_batch,
            &mut self.prefill_tokens_per_s,
            &mut self.ttft_s,
            &mut self.step_s,
            &mut self.train_tokens_per_s,
        ] {
            *v = v.map(sig6);
        }
        for b in &mut self.basis {
            b.value = sig6(b.value);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{find_gpu, find_model};
    use crate::estimate::training::setup::Method;
    use crate::estimate::Runtime;
    use crate::quant::QuantConfig;

    fn run(model: &str, w: &Workload, gpu: &str) -> Speed {
        let spec = find_model(model).unwrap().spec().unwrap();
        let b = crate::estimate::estimate(&spec, w).unwrap();
        let dev = SpeedDevice { gpu: find_gpu(gpu).unwrap(), count: 1, ram_bandwidth_gb_s: None, backend: None };
        estimate_speed(&spec, w, &b, &dev).unwrap()
    }

    fn llama(quant: &str) -> Workload {
        Workload {
            runtime: Runtime::LlamaCpp,
            quant: Some(QuantConfig::parse(quant, None).unwrap()),
            prompt: 1,
            new_tokens: 128,
            ..Workload::default()
        }
    }

    fn value(s: &Speed, name: &str) -> f64 {
        s.basis.iter().find(|b| b.name == name).unwrap_or_else(|| panic!("{name} in the basis")).value
    }

    #[test]
    fn figures_survive_a_json_round_trip() {
        let s = run("llama-2-7b", &llama("q4_0"), "RTX-4090");
        let text = serde_json::to_string(&s).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, serde_json::to_value(&s).unwrap());
        assert_eq!(sig6(0.225_711_969_798_218_61), 0.225_712);
        assert_eq!(sig6(13_214_695_424.0), 13_214_700_000.0);
    }

    #[test]
    fn decode_is_bytes_over_bandwidth_plus_t0() {
        let s = run("llama-2-7b", &llama("q4_0"), "RTX-4090");
        let bytes = value(&s, "weight_bytes_per_token") + value(&s, "kv_bytes_per_sequence");
        let t = bytes / (value(&s, "eta") * value(&s, "bandwidth") * 1e9) + value(&s, "t0_s");
        assert!((s.decode_tokens_per_s.unwrap() * t - 1.0).abs() < 1e-4);
        // A 4-bit model reads ~3.5 GB per token: 100-200 tokens/s on a 1 TB/s card.
        assert!((100.0..200.0).contains(&s.decode_tokens_per_s.unwrap()), "{:?}", s.decode_tokens_per_s);
        assert!(s.step_s.is_none() && s.prefill_tokens_per_s.is_some());
        assert!((s.ttft_s.unwrap() * s.prefill_tokens_per_s.unwrap() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn moe_reads_active_experts_and_batches_touch_more() {
        let moe = run("qwen3-30b-a3b", &llama("q4_k_m"), "RTX-PRO-6000-Blackwell");
        let dense = run("qwen3-32b", &llama("q4_k_m"), "RTX-PRO-6000-Blackwell");
        assert!(value(&moe, "weight_bytes_per_token") * 4.0 < value(&dense, "weight_bytes_per_token"));
        let mut w = llama("q4_k_m");
        w.batch = 16;
        let batch = run("qwen3-30b-a3b", &w, "RTX-PRO-6000-Blackwell");
        let (one, all) = (batch.decode_tokens_per_s.unwrap(), batch.decode_tokens_per_s_batch.unwrap());
        // More sequences share each step, but each step reads more experts.
        assert!(all > one && all < 16.0 * one, "{one} {all}");
    }

    #[test]
    fn layers_in_cpu_ram_cost_speed_and_context_costs_kv_reads() {
        let full = run("llama-2-7b", &llama("q4_0"), "RTX-3060-12GB").decode_tokens_per_s.unwrap();
        let mut w = llama("q4_0");
        w.llama_cpp.n_gpu_layers = Some(20);
        let part = run("llama-2-7b", &w, "RTX-3060-12GB");
        assert!(part.decode_tokens_per_s.unwrap() < full / 2.0);
        assert!(part.basis.iter().any(|b| b.name == "ram_bandwidth"));
        let mut long = llama("q4_0");
        long.prompt = 3000;
        assert!(run("llama-2-7b", &long, "RTX-3060-12GB").decode_tokens_per_s.unwrap() < full);
    }

    #[test]
    fn training_costs_follow_the_flops() {
        let mut w = Workload { task: Task::Train, batch: 4, ..Workload::default() };
        w.training.seq = 512;
        w.training.optimizer = Some(crate::estimate::training::setup::Optimizer::Adamw);
        let full = run("llama-3.2-1b", &w, "A100-80GB").step_s.unwrap();
        w.training.grad_ckpt = true;
        let ckpt = run("llama-3.2-1b", &w, "A100-80GB").step_s.unwrap();
        assert!(ckpt > full * 1.2 && ckpt < full * 1.5, "{full} {ckpt}");
        w.training.grad_ckpt = false;
        w.training.method = Method::Lora;
        let lora = run("llama-3.2-1b", &w, "A100-80GB");
        assert!(lora.step_s.unwrap() < full);
        let tokens = value(&lora, "tokens_per_step");
        assert!((lora.train_tokens_per_s.unwrap() * lora.step_s.unwrap() / tokens - 1.0).abs() < 1e-5);
    }
}
