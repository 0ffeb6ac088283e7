//! Decode: one step produces one token per sequence and reads, per step, the weights those
//! tokens need and every sequence's KV cache.
//!
//! ```text
//! t_step(B) = max(W_gpu(B)/(η·BW_gpu) + B·KV(ctx_avg)/(η·BW), q·c/F32)
//!             + W_cpu(B)/(η_cpu·BW_ram) + t0 + τ·n_layers
//! tokens/s(B) = B / max(t_step(B), compute floor 2·N_active·B / F_eff + t0 + τ·n_layers)
//! ```
//! The fixed time per step is t0 plus τ per layer: the runtime launches the same kernels for
//! every layer (norms, projections, rope, attention, adds), and each has a floor however few
//! bytes it reads, so a 70B model of 80 layers pays 2.5× the fixed time of an 8B of 32.
//! q·c/F32 is the arithmetic of unpacking quantized weights (q of them per token, c ALU
//! operations each, at the GPU's fp32 rate F32): on GPUs with few FLOPs per byte of bandwidth
//! (Apple M1) a quantized mat-vec is bound by it rather than by memory (backend constant `c`).
//!
//! W(B): dense models read every block weight, the output head and one embedding row; MoE
//! models read the shared part and the experts the batch routes to — on average
//! E·(1 − (1 − k/E)^B) of E experts (each token picks k; a batch of one reads k).

use super::backend::{Backend, BackendConstants};
use super::host::{CPU_ETA, CPU_ETA_SOURCE};
use super::{Basis, SpeedDevice};
use crate::dtype::DType;
use crate::estimate::breakdown::Breakdown;
use crate::estimate::component::ComponentKind;
use crate::estimate::kv_cache::{KvCache, KvPolicy};
use crate::estimate::llamacpp::Residency;
use crate::estimate::workload::Workload;
use crate::model::{ModelSpec, ParamCount, ParamGroup};

/// The decode model of one run, ready to price any batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Decode {
    /// Block weight bytes on the GPU(s): the dense part (read by every token) and the routed
    /// experts (a token reads k of E).
    gpu_dense: f64,
    gpu_experts: f64,
    /// The same in CPU RAM.
    cpu_dense: f64,
    cpu_experts: f64,
    /// Head, embedding row and other always-read bytes on the GPU (or CPU when none offloaded).
    fixed_gpu_bytes: f64,
    /// Head bytes read from CPU RAM (`-ngl 0`).
    fixed_cpu_bytes: f64,
    /// Experts per layer and top-k.
    experts: u64,
    top_k: u64,
    /// KV bytes read per sequence per step at the average context, GPU and CPU parts.
    kv_gpu: f64,
    kv_cpu: f64,
    /// Bandwidths in B/s (already × η).
    gpu_bw: f64,
    cpu_bw: f64,
    /// Fixed time per step: t0 + τ·n_layers.
    t0: f64,
    /// Time to unpack the quantized weights of one step at the GPU's ALU rate (0: not bound).
    alu_s: f64,
    /// FLOPs per token and effective FLOP/s, for the compute floor at large batches.
    flops_per_token: f64,
    flops: Option<f64>,
    /// Weight bytes kept in CPU RAM (for prefill's PCIe traffic).
    pub cpu_weight_bytes: f64,
}

impl Decode {
    /// Build the decode model and record its basis.
    #[must_use]
    pub fn of(
        spec: &ModelSpec,
        w: &Workload,
        b: &Breakdown,
        dev: &SpeedDevice<'_>,
        backend: Backend,
        basis: &mut Vec<Basis>,
    ) -> Decode {
        let c = backend.constants();
        let m = ModelFacts::of(spec);
        let weights = PlacedWeights::of(spec, w, b, dev, &m);
        let kv = KvRead::of(spec, w, backend);
        let cpu_share = weights.cpu_share();
        let bws = Bandwidths::of(dev, c.eta);

        weights.record(&m, basis);
        let alu_s = unpacking_bound(dev, backend, &m, &weights, basis);
        let n_layers_f = m.n_layers as f64;
        let fixed_s = c.t0_s + c.t0_per_layer_s * n_layers_f;
        basis.push(Basis::new(
            "layers",
            n_layers_f,
            "1",
            "decoder layers: the runtime launches the same kernels for each",
            "model spec",
        ));
        kv.record(basis);
        record_rates(dev, backend, &m, fixed_s, basis);
        if weights.cpu_block() + weights.fixed_cpu > 0.0 {
            bws.record_ram(dev, basis);
        }
        record_read_times(&m, &weights, kv.bytes, cpu_share, &bws, basis);
        let flops = super::prefill::effective_flops(dev, backend, w).map(|(f, _)| f * dev.count.max(1) as f64);
        Decode {
            gpu_dense: weights.gpu_dense,
            gpu_experts: weights.gpu_experts,
            cpu_dense: weights.cpu_dense,
            cpu_experts: weights.cpu_experts,
            fixed_gpu_bytes: weights.fixed_gpu,
            fixed_cpu_bytes: weights.fixed_cpu,
            experts: m.experts,
            top_k: m.top_k,
            kv_gpu: kv.bytes * (1.0 - cpu_share),
            kv_cpu: kv.bytes * cpu_share,
            gpu_bw: bws.gpu * c.eta,
            cpu_bw: bws.cpu,
            t0: fixed_s,
            alu_s,
            flops_per_token: 2.0 * m.params.active as f64,
            flops,
            cpu_weight_bytes: weights.cpu_block() + weights.fixed_cpu,
        }
    }

    /// Share of routed-expert weights a batch of `batch` reads in one step: E·(1 − (1 − k/E)^B)
    /// of E experts.
    fn routed_read_share(&self, batch: u64) -> f64 {
        if self.experts == 0 || self.top_k == 0 || self.top_k >= self.experts {
            return 1.0;
        }
        let k_over_e = self.top_k as f64 / self.experts as f64;
        1.0 - (1.0 - k_over_e).powf(batch as f64)
    }

    /// Seconds per decode step for `batch` sequences.
    #[must_use]
    pub fn step_s(&self, batch: u64) -> f64 {
        let share = self.routed_read_share(batch);
        let b = batch as f64;
        let mem = ((self.gpu_dense + self.gpu_experts * share + self.fixed_gpu_bytes + b * self.kv_gpu) / self.gpu_bw)
            .max(self.alu_s)
            + (self.cpu_dense + self.cpu_experts * share + self.fixed_cpu_bytes + b * self.kv_cpu) / self.cpu_bw;
        let compute = self.flops.map_or(0.0, |f| self.flops_per_token * b / f);
        mem.max(compute) + self.t0
    }

    /// Whether a step of `batch` sequences is bound by matmul throughput rather than memory.
    #[must_use]
    pub fn compute_bound(&self, batch: u64) -> bool {
        let t1 = self.step_s(batch) - self.t0;
        self.flops.is_some_and(|f| self.flops_per_token * batch as f64 / f >= t1 - 1e-12)
    }

    /// Tokens/s of `batch` sequences together (`None` when no time can be given).
    #[must_use]
    pub fn tokens_per_s(&self, batch: u64) -> Option<f64> {
        let t = self.step_s(batch);
        (t.is_finite() && t > 0.0).then(|| batch as f64 / t)
    }
}

/// What decode needs to know of the model: its parameter groups, the blocks' share that every
/// token reads, its MoE shape and its layers.
struct ModelFacts {
    params: ParamCount,
    /// Parameters of the blocks (all but embeddings and head), at least 1.
    blocks_total: f64,
    /// Share of the block parameters active per token.
    active_share: f64,
    /// Share of the block parameters in routed experts.
    routed_share: f64,
    /// Experts per layer and top-k (0, 0 for dense models).
    experts: u64,
    top_k: u64,
    /// Decoder layers, at least 1.
    n_layers: u64,
}

impl ModelFacts {
    fn of(spec: &ModelSpec) -> ModelFacts {
        let p = ParamCount::of(spec);
        let emb = p.group(ParamGroup::Embeddings) as f64;
        let head = p.group(ParamGroup::LmHead) as f64;
        let blocks_total = (p.total as f64 - emb - head).max(1.0);
        let blocks_active = (p.active as f64 - emb - head).max(0.0);
        let routed_total = p.group(ParamGroup::Experts) as f64;
        let (experts, top_k) =
            spec.layers.iter().find(|l| l.mlp.is_moe()).map_or((0, 0), |l| (l.mlp.experts, l.mlp.top_k));
        ModelFacts {
            blocks_total,
            active_share: blocks_active / blocks_total,
            routed_share: routed_total / blocks_total,
            experts,
            top_k,
            n_layers: spec.num_layers().max(1),
            params: p,
        }
    }

    /// Share of the routed experts one token reads: k/E (1 for dense models).
    fn routed_one(&self) -> f64 {
        if self.experts > 0 && self.top_k < self.experts {
            self.top_k as f64 / self.experts as f64
        } else {
            1.0
        }
    }
}

/// Weight bytes by where they live: the dense part of the blocks and the routed experts on the
/// GPU(s) and in CPU RAM, and the head bytes (with one embedding row) read every token.
struct PlacedWeights {
    gpu_dense: f64,
    gpu_experts: f64,
    cpu_dense: f64,
    cpu_experts: f64,
    fixed_gpu: f64,
    fixed_cpu: f64,
    /// How they were placed, for the basis.
    how: String,
}

impl PlacedWeights {
    /// llama.cpp's per-layer placement where it has one, else the memory estimate's weights.
    fn of(spec: &ModelSpec, w: &Workload, b: &Breakdown, dev: &SpeedDevice<'_>, m: &ModelFacts) -> PlacedWeights {
        let place = w.profile().inference.llamacpp.and_then(|_| crate::estimate::llamacpp::residency(spec, w).ok());
        if let Some(r) = place {
            return PlacedWeights::of_llamacpp(&r, spec, m.n_layers);
        }
        let (blocks, fixed, how) = dense_split(spec, b, &m.params, dev, w);
        let dense = (m.active_share - m.routed_share * m.routed_one()).max(0.0);
        PlacedWeights {
            gpu_dense: blocks * dense,
            gpu_experts: blocks * m.routed_share,
            cpu_dense: 0.0,
            cpu_experts: 0.0,
            fixed_gpu: fixed,
            fixed_cpu: 0.0,
            how,
        }
    }

    /// Where llama.cpp keeps each block (`-ngl`, `--n-cpu-moe`, `-ot`) and the output head.
    fn of_llamacpp(r: &Residency, spec: &ModelSpec, n_layers: u64) -> PlacedWeights {
        let row = r.input as f64 / spec.vocab_size.max(1) as f64;
        // The one embedding row read per token is negligible next to a block; it is counted
        // with the head so that a model wholly on the GPU reads nothing from CPU RAM.
        let (fixed_gpu, fixed_cpu) =
            if r.output_on_gpu { (r.output as f64 + row, 0.0) } else { (0.0, r.output as f64 + row) };
        let cpu_layers = n_layers - r.gpu_blocks.min(n_layers);
        let moved = if r.moved_experts > 0.0 {
            format!(
                "; {:.2} GB of routed experts of GPU blocks kept in CPU RAM (--n-cpu-moe / -ot)",
                r.moved_experts / 1e9
            )
        } else {
            String::new()
        };
        let how = format!(
            "llama.cpp -ngl {} ({}): {} of {n_layers} blocks on the GPU ({:.2} GB), {cpu_layers} in CPU RAM ({:.2} GB){moved}; output head {:.2} GB on the {}; {}",
            r.ngl,
            if r.ngl_counts_output { "counts the output layer" } else { "counts repeating blocks" },
            r.gpu_blocks.min(n_layers),
            (r.gpu_dense + r.gpu_experts) / 1e9,
            (r.cpu_dense + r.cpu_experts) / 1e9,
            r.output as f64 / 1e9,
            if r.output_on_gpu { "GPU" } else { "CPU" },
            r.how
        );
        PlacedWeights {
            gpu_dense: r.gpu_dense,
            gpu_experts: r.gpu_experts,
            cpu_dense: r.cpu_dense,
            cpu_experts: r.cpu_experts,
            fixed_gpu,
            fixed_cpu,
            how,
        }
    }

    /// Block bytes on the GPU(s).
    fn gpu_block(&self) -> f64 {
        self.gpu_dense + self.gpu_experts
    }

    /// Block bytes in CPU RAM.
    fn cpu_block(&self) -> f64 {
        self.cpu_dense + self.cpu_experts
    }

    /// Share of the block bytes in CPU RAM: the KV cache is split the same way.
    fn cpu_share(&self) -> f64 {
        let (gpu_block, cpu_block) = (self.gpu_block(), self.cpu_block());
        if (gpu_block + cpu_block) > 0.0 {
            cpu_block / (gpu_block + cpu_block)
        } else {
            0.0
        }
    }

    /// Weight bytes one token reads: the dense part of the blocks, k/E of the routed experts,
    /// the head and one embedding row.
    fn per_token(&self, routed_one: f64) -> f64 {
        self.gpu_dense
            + self.cpu_dense
            + (self.gpu_experts + self.cpu_experts) * routed_one
            + self.fixed_gpu
            + self.fixed_cpu
    }

    /// Record the weight bytes read per token.
    fn record(&self, m: &ModelFacts, basis: &mut Vec<Basis>) {
        let routed_one = m.routed_one();
        basis.push(Basis::new(
            "weight_bytes_per_token",
            self.per_token(routed_one),
            "B",
            format!(
                "{}; read per token = dense part of the blocks + routed experts × {routed_one:.4}{} + head and one embedding row",
                self.how,
                if m.experts > 0 {
                    format!(
                        " (MoE: {} of {} routed experts; a batch of B reads E·(1 − (1 − k/E)^B))",
                        m.top_k, m.experts
                    )
                } else {
                    String::new()
                }
            ),
            "weights as in the memory estimate; MoE active parameters from the model spec",
        ));
    }
}

/// The time to unpack the quantized weights of one step at the GPU's fp32 ALU rate, q·c/F32
/// (0 where the backend has no such bound, the weights are 16-bit or the GPU has no fp32 rate).
fn unpacking_bound(
    dev: &SpeedDevice<'_>,
    backend: Backend,
    m: &ModelFacts,
    weights: &PlacedWeights,
    basis: &mut Vec<Basis>,
) -> f64 {
    let BackendConstants { alu_ops_per_weight, source, .. } = backend.constants();
    let per_token = weights.per_token(m.routed_one());
    // Quantized weights unpacked per token: the bytes read ÷ bytes per parameter of the
    // model's weights (16-bit weights need no unpacking).
    let all_bytes = weights.gpu_block() + weights.cpu_block() + weights.fixed_gpu + weights.fixed_cpu;
    let bytes_per_param = (weights.gpu_block() + weights.cpu_block()) / m.blocks_total;
    let quantized = (bytes_per_param < 1.9).then_some(per_token / bytes_per_param.max(1e-9));
    if let Some(q) = quantized {
        basis.push(Basis::new(
            "quantized_weights_per_token",
            q,
            "1",
            format!("weight bytes read per token ÷ {bytes_per_param:.3} B per parameter"),
            "weights as in the memory estimate",
        ));
    }
    if let Some(f) = dev.gpu.fp32_tflops {
        basis.push(Basis::new(
            "alu_tflops",
            f,
            "TFLOPS",
            format!("{} datasheet fp32 (non-tensor) rate", dev.gpu.name),
            dev.gpu.perf_source.clone().unwrap_or_else(|| dev.gpu.source.clone()),
        ));
    }
    match (alu_ops_per_weight, quantized, dev.gpu.fp32_tflops) {
        (Some(c), Some(q), Some(f)) if all_bytes > 0.0 && f > 0.0 => {
            let s = q * c / (f * 1e12);
            basis.push(Basis::new(
                "alu_s",
                s,
                "s",
                format!(
                    "{q:.3e} quantized weights × {c} ALU operations each ÷ {f} TFLOPS fp32 (the step takes the longer of this and the memory read)"
                ),
                format!("{}: {source}", backend.name()),
            ));
            s
        }
        _ => 0.0,
    }
}

/// The KV cache one sequence's decode step reads, at the average decode context.
struct KvRead {
    /// prompt + new/2 tokens.
    ctx_avg: u64,
    /// Bytes per cached element.
    elem_bytes: f64,
    /// Bytes per sequence.
    bytes: f64,
}

impl KvRead {
    fn of(spec: &ModelSpec, w: &Workload, backend: Backend) -> KvRead {
        let ctx_avg = w.prompt.saturating_add(w.new_tokens / 2).max(1);
        let latent = backend != Backend::TorchEager;
        let policy = KvPolicy { honor_window: true, latent, expanded_heads: false };
        let kv16 = KvCache::of(spec, 1, ctx_avg, DType::Fp16, policy).bytes as f64;
        let elem_bytes = kv_bytes_per_element(w, spec);
        KvRead { ctx_avg, elem_bytes, bytes: kv16 / 2.0 * elem_bytes }
    }

    fn record(&self, basis: &mut Vec<Basis>) {
        basis.push(Basis::new(
            "kv_bytes_per_sequence",
            self.bytes,
            "B",
            format!(
                "KV cache of one sequence at the average decode context prompt + new/2 = {} tokens (sliding-window layers capped at their window){}",
                self.ctx_avg,
                if self.elem_bytes == 2.0 { String::new() } else { format!(", {:.3} B per element", self.elem_bytes) }
            ),
            "every decode step reads the whole cache of each sequence",
        ));
    }
}

/// The bandwidths decode reads at.
struct Bandwidths {
    /// GPU datasheet bandwidth, B/s (before η).
    gpu: f64,
    /// CPU RAM bandwidth, GB/s, and what it stands for.
    ram: f64,
    ram_why: String,
    /// Unified memory (Apple, LPDDR): CPU-resident weights read at the GPU's bandwidth.
    unified: bool,
    /// What CPU-resident bytes are read at, B/s (already × η).
    cpu: f64,
}

impl Bandwidths {
    fn of(dev: &SpeedDevice<'_>, eta: f64) -> Bandwidths {
        let bw = dev.gpu.bandwidth_gb_s as f64 * 1e9;
        let (ram, ram_why) = dev.ram_bandwidth();
        let unified = dev.gpu.class == "apple" || dev.gpu.memory_type.starts_with("LPDDR");
        let cpu = if unified { bw * eta } else { ram * 1e9 * CPU_ETA };
        Bandwidths { gpu: bw, ram, ram_why, unified, cpu }
    }

    /// Record the CPU RAM bandwidth (when some bytes live there).
    fn record_ram(&self, dev: &SpeedDevice<'_>, basis: &mut Vec<Basis>) {
        basis.push(Basis::new(
            "ram_bandwidth",
            if self.unified { dev.gpu.bandwidth_gb_s as f64 } else { self.ram },
            "GB/s",
            if self.unified {
                "unified memory: CPU-resident weights read at the GPU's bandwidth".to_string()
            } else {
                self.ram_why.clone()
            },
            "--ram-bandwidth",
        ));
        if !self.unified {
            basis.push(Basis::new(
                "eta_cpu",
                CPU_ETA,
                "1",
                "share of peak DDR bandwidth a CPU decode reaches",
                CPU_ETA_SOURCE,
            ));
        }
    }
}

/// Record the GPU bandwidth, the backend's η and its fixed time per step, t0 + τ·n_layers.
fn record_rates(dev: &SpeedDevice<'_>, backend: Backend, m: &ModelFacts, fixed_s: f64, basis: &mut Vec<Basis>) {
    let BackendConstants { eta, t0_s, t0_per_layer_s, source, .. } = backend.constants();
    basis.push(Basis::new(
        "bandwidth",
        dev.gpu.bandwidth_gb_s as f64,
        "GB/s",
        format!("{} datasheet memory bandwidth", dev.gpu.name),
        dev.gpu.source.clone(),
    ));
    basis.push(Basis::new(
        "eta",
        eta,
        "1",
        format!("{}: share of datasheet bandwidth a decode step reaches", backend.name()),
        source,
    ));
    basis.push(Basis::new("t0_s", t0_s, "s", format!("{}: fixed time per decode step", backend.name()), source));
    basis.push(Basis::new(
        "t0_per_layer_s",
        t0_per_layer_s,
        "s",
        format!(
            "{}: fixed time per layer and step (kernel floors); with t0: {:.2} ms per step for {} layers",
            backend.name(),
            fixed_s * 1e3,
            m.n_layers
        ),
        source,
    ));
}

/// Batch-1 read times, for validation/speed/fit.py to refit η, t0, τ and c: the GPU-side
/// bytes at the datasheet bandwidth (η = 1; unified memory: all of them) and the CPU RAM part.
fn record_read_times(
    m: &ModelFacts,
    weights: &PlacedWeights,
    kv: f64,
    cpu_share: f64,
    bws: &Bandwidths,
    basis: &mut Vec<Basis>,
) {
    let k_over_e = m.routed_one();
    let gpu_bytes = weights.gpu_dense + weights.gpu_experts * k_over_e + weights.fixed_gpu + kv * (1.0 - cpu_share);
    let cpu_bytes = weights.cpu_dense + weights.cpu_experts * k_over_e + weights.fixed_cpu + kv * cpu_share;
    let (read_s, cpu_read_s) =
        if bws.unified { ((gpu_bytes + cpu_bytes) / bws.gpu, 0.0) } else { (gpu_bytes / bws.gpu, cpu_bytes / bws.cpu) };
    basis.push(Basis::new(
        "read_s",
        read_s,
        "s",
        "bytes read per token from GPU memory ÷ datasheet bandwidth (before η)",
        "weight and KV bytes above",
    ));
    if cpu_read_s > 0.0 {
        basis.push(Basis::new(
            "cpu_read_s",
            cpu_read_s,
            "s",
            "bytes read per token from CPU RAM ÷ (η_cpu × RAM bandwidth)",
            "weight and KV bytes above",
        ));
    }
}

/// Weights from the memory estimate when no per-layer placement exists: everything on the
/// GPU(s); a sequential split over GPUs reads each GPU's share in turn.
fn dense_split(
    spec: &ModelSpec,
    b: &Breakdown,
    p: &ParamCount,
    dev: &SpeedDevice<'_>,
    w: &Workload,
) -> (f64, f64, String) {
    let per_gpu = (b.component(ComponentKind::Weights) + b.component(ComponentKind::BaseWeights)) as f64;
    let tensor = w.parallel.tp > 1;
    let total = if tensor { per_gpu } else { per_gpu * dev.count.max(1) as f64 };
    let bpp = total / (p.total.max(1) as f64);
    let emb = p.group(ParamGroup::Embeddings) as f64;
    let head = p.group(ParamGroup::LmHead) as f64;
    let (head_read, head_kept) = if spec.tied_embeddings { (emb, emb) } else { (head, head + emb) };
    let blocks = (total - bpp * head_kept).max(0.0);
    let fixed = bpp * (head_read + spec.hidden_size as f64);
    let how = format!(
        "weights {:.2} GB{} ({:.3} B per parameter)",
        total / 1e9,
        if tensor { format!(" per GPU (tensor parallel {})", w.parallel.tp) } else { String::new() },
        bpp
    );
    (blocks, fixed, how)
}

/// Bytes per cached K/V element: the asked KV dtype (llama.cpp: its cache type).
fn kv_bytes_per_element(w: &Workload, spec: &ModelSpec) -> f64 {
    if w.profile().inference.llamacpp.is_some() {
        if let Ok(t) = crate::estimate::llamacpp::kv_cache_type(w) {
            return t.bytes as f64 / t.block.max(1) as f64;
        }
    }
    w.kv_dtype.or(w.dtype).or(spec.torch_dtype).map_or(2.0, |d| d.bytes() as f64)
}
