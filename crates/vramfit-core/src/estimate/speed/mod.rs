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
    /// Serving engines: aggregate decode tokens/s against the number of sequences decoded
    /// together, up to what the KV pool holds (empty for other runtimes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub concurrency: Vec<ConcurrencyPoint>,
    /// Measured error of each figure on the validation cases.
    pub error_band: band::ErrorBand,
    /// The backend whose constants were used.
    pub backend: Backend,
    /// Every input of the figures.
    pub basis: Vec<Basis>,
}

/// Aggregate decode speed of a serving engine at one concurrency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConcurrencyPoint {
    /// Sequences decoded together (one token each per step).
    pub sequences: u64,
    /// Tokens/s of all of them.
    pub tokens_per_s: f64,
    /// Tokens/s each sequence sees.
    pub per_sequence_tokens_per_s: f64,
    /// `memory` (weights read once per step + every sequence's KV) or `compute` (2·N·B FLOPs).
    pub bound: &'static str,
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
        self.backend.unwrap_or_else(|| Backend::of(w.profile().inference.decode, &self.gpu.vendor))
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
        concurrency: Vec::new(),
        error_band: band::ErrorBand::of(backend),
        backend,
        basis: Vec::new(),
    };
    match w.task {
        Task::Load | Task::Merge => return None,
        Task::Serve => {
            let dec = decode::Decode::of(spec, w, b, dev, backend, &mut basis);
            s.decode_tokens_per_s = dec.tokens_per_s(1);
            let most = serving_sequences(spec, w, &mut basis);
            s.decode_tokens_per_s_batch = dec.tokens_per_s(most);
            s.concurrency = concurrency_curve(&dec, most);
        }
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

/// The most sequences a serving engine decodes together at the asked request size: what its KV
/// pool holds of prompt + new tokens each, capped by `max_num_seqs`.
fn serving_sequences(spec: &ModelSpec, w: &Workload, basis: &mut Vec<Basis>) -> u64 {
    let Ok(r) = crate::estimate::serving::report(spec, w) else { return 1 };
    let per_request = w.prompt.saturating_add(w.new_tokens).clamp(1, r.max_model_len.max(1));
    let held = r.kv_tokens.map_or(1, |t| t / per_request);
    // 0: the engine sets no request limit of its own (SGLang sizes it from the pool).
    let cap = if r.max_num_seqs == 0 { u64::MAX } else { r.max_num_seqs };
    let most = held.min(cap).max(1);
    basis.push(Basis::new(
        "max_sequences",
        most as f64,
        "1",
        format!(
            "min(KV pool {} tokens ÷ (prompt {} + new {}) = {held}, {})",
            r.kv_tokens.unwrap_or(0),
            w.prompt,
            w.new_tokens,
            if r.max_num_seqs == 0 {
                "no request limit set".to_string()
            } else {
                format!("max_num_seqs {}", r.max_num_seqs)
            }
        ),
        "the serving estimate's KV pool and scheduler limit",
    ));
    most
}

/// Aggregate decode tokens/s at 1, 2, 4, … sequences and at the most the engine holds. Each
/// step reads the weights once (MoE: the experts the batch routes to) and every sequence's KV
/// cache, and does 2·N_active FLOPs per sequence: memory-bound at low concurrency,
/// compute-bound once 2·N·B/F passes the read time (a roofline).
fn concurrency_curve(dec: &decode::Decode, most: u64) -> Vec<ConcurrencyPoint> {
    let mut sizes: Vec<u64> =
        std::iter::successors(Some(1u64), |b| b.checked_mul(2)).take_while(|&b| b < most).collect();
    sizes.push(most);
    sizes
        .into_iter()
        .filter_map(|b| {
            let t = dec.tokens_per_s(b)?;
            Some(ConcurrencyPoint {
                sequences: b,
                tokens_per_s: sig6(t),
                per_sequence_tokens_per_s: sig6(t / b as f64),
                bound: if dec.compute_bound(b) { "compute" } else { "memory" },
            })
        })
        .collect()
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
        let fixed = value(&s, "t0_s") + value(&s, "t0_per_layer_s") * value(&s, "layers");
        let t = bytes / (value(&s, "eta") * value(&s, "bandwidth") * 1e9) + fixed;
        assert!((s.decode_tokens_per_s.unwrap() * t - 1.0).abs() < 1e-4);
        assert_eq!(value(&s, "layers"), 32.0);
        // A 4-bit model reads ~3.5 GB per token: 100-200 tokens/s on a 1 TB/s card.
        assert!((100.0..200.0).contains(&s.decode_tokens_per_s.unwrap()), "{:?}", s.decode_tokens_per_s);
        assert!(s.step_s.is_none() && s.prefill_tokens_per_s.is_some());
        assert!((s.ttft_s.unwrap() * s.prefill_tokens_per_s.unwrap() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn quantized_decode_on_an_m1_max_is_bound_by_unpacking_not_memory() {
        // 8B Q4_K_M: ~4.9 GB per token at 0.84 × 400 GB/s would be ~14.5 ms; 7.5e9 weights ×
        // 26 ALU operations ÷ 10.4 TFLOPS is ~19 ms, and the step takes the longer.
        let q4 = run("llama-3-8b", &llama("q4_k_m"), "M1-Max-64GB");
        let alu = value(&q4, "alu_s");
        let mem = value(&q4, "read_s") / value(&q4, "eta");
        assert!(alu > mem, "{alu} {mem}");
        let fixed = value(&q4, "t0_s") + value(&q4, "t0_per_layer_s") * value(&q4, "layers");
        assert!((q4.decode_tokens_per_s.unwrap() * (alu + fixed) - 1.0).abs() < 1e-4);
        // 16-bit weights are not unpacked; an M2 Ultra unpacks at 2.6× the rate.
        let mut f16 = llama("q4_k_m");
        f16.quant = None;
        assert!(run("llama-3-8b", &f16, "M1-Max-64GB").basis.iter().all(|b| b.name != "alu_s"));
        let ultra = run("llama-3-8b", &llama("q4_k_m"), "M2-Ultra-192GB");
        assert!((alu / value(&ultra, "alu_s") - 27.2 / 10.4).abs() < 1e-3);
        // CUDA has no such bound.
        assert!(run("llama-3-8b", &llama("q4_k_m"), "RTX-4090").basis.iter().all(|b| b.name != "alu_s"));
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
    fn experts_in_cpu_ram_cost_less_than_blocks_and_ngl_follows_the_build() {
        let all = run("qwen3-30b-a3b", &llama("q4_k_m"), "RTX-3090").decode_tokens_per_s.unwrap();
        let mut moe = llama("q4_k_m");
        moe.llama_cpp.n_cpu_moe = Some(24);
        let experts = run("qwen3-30b-a3b", &moe, "RTX-3090");
        let mut ngl = llama("q4_k_m");
        ngl.llama_cpp.n_gpu_layers = Some(25);
        let blocks = run("qwen3-30b-a3b", &ngl, "RTX-3090").decode_tokens_per_s.unwrap();
        let e = experts.decode_tokens_per_s.unwrap();
        assert!(e < all && e > blocks, "{all} {e} {blocks}");
        assert!(experts.basis.iter().any(|b| b.formula.contains("--n-cpu-moe")));
        // -ngl 32 of 32 blocks: newer builds count the output layer as one of the 32, so one
        // block stays in CPU RAM; builds before b7000 put all 32 blocks on the GPU and the
        // output head in CPU RAM.
        let mut new = llama("q4_0");
        new.llama_cpp.n_gpu_layers = Some(32);
        let mut old = new.clone();
        old.runtime_version = Some(crate::estimate::runtime::RuntimeVersion::new(3000, 0));
        let (n, o) = (run("llama-2-7b", &new, "RTX-4090"), run("llama-2-7b", &old, "RTX-4090"));
        assert!(n.decode_tokens_per_s.unwrap() < o.decode_tokens_per_s.unwrap());
        let how = |s: &Speed| s.basis.iter().find(|b| b.name == "weight_bytes_per_token").unwrap().formula.clone();
        assert!(how(&o).contains("32 of 32 blocks on the GPU") && how(&o).contains("on the CPU"), "{}", how(&o));
        assert!(how(&n).contains("31 of 32 blocks on the GPU") && how(&n).contains("on the GPU"), "{}", how(&n));
    }

    #[test]
    fn serving_throughput_rises_with_concurrency_to_the_compute_roof() {
        let mut w = Workload { runtime: Runtime::Vllm, task: Task::Serve, ..Workload::default() };
        w.serving.device =
            Some(crate::estimate::serving::Device::of(&crate::catalog::GpuSpec::parse("A100-80GB").unwrap()));
        let s = run("llama-3.1-8b", &w, "A100-80GB");
        let c = &s.concurrency;
        assert!(c.len() > 3 && c[0].sequences == 1, "{c:?}");
        assert!((c[0].tokens_per_s / s.decode_tokens_per_s.unwrap() - 1.0).abs() < 1e-5);
        // More sequences share each weight read: the total rises, each sequence slows.
        assert!(c.windows(2).all(|p| p[1].tokens_per_s > p[0].tokens_per_s), "{c:?}");
        assert!(c.windows(2).all(|p| p[1].per_sequence_tokens_per_s <= p[0].per_sequence_tokens_per_s));
        // One sequence reads 16 GB per token: memory; 256 × 2 × 8e9 FLOPs outrun the reads.
        assert_eq!(c[0].bound, "memory");
        assert_eq!(c.last().unwrap().bound, "compute");
        assert_eq!(c.last().unwrap().sequences, value(&s, "max_sequences") as u64);
        // Other runtimes carry no curve (and no `concurrency` key in the JSON).
        let plain = run("llama-2-7b", &llama("q4_0"), "RTX-4090");
        assert!(plain.concurrency.is_empty() && serde_json::to_value(&plain).unwrap().get("concurrency").is_none());
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
