//! Decode: one step produces one token per sequence and reads, per step, the weights those
//! tokens need and every sequence's KV cache.
//!
//! ```text
//! t_step(B) = W_gpu(B)/(η·BW_gpu) + W_cpu(B)/(η_cpu·BW_ram) + B·KV(ctx_avg)/(η·BW) + t0
//! tokens/s(B) = B / max(t_step(B), compute floor 2·N_active·B / F_eff + t0)
//! ```
//!
//! W(B): dense models read every block weight, the output head and one embedding row; MoE
//! models read the shared part and the experts the batch routes to — on average
//! E·(1 − (1 − k/E)^B) of E experts (each token picks k; a batch of one reads k).

use super::backend::{Backend, BackendConstants};
use super::host::{CPU_ETA, CPU_ETA_SOURCE};
use super::{Basis, SpeedDevice};
use crate::dtype::DType;
use crate::estimate::breakdown::Breakdown;
use crate::estimate::kv_cache::{KvCache, KvPolicy};
use crate::estimate::runtime::Runtime;
use crate::estimate::workload::Workload;
use crate::model::{ModelSpec, ParamCount, ParamGroup};

/// The decode model of one run, ready to price any batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Decode {
    /// Block weight bytes on the GPU(s) and in CPU RAM.
    gpu_block_bytes: f64,
    /// Block weight bytes in CPU RAM.
    cpu_block_bytes: f64,
    /// Head, embedding row and other always-read bytes on the GPU (or CPU when none offloaded).
    fixed_gpu_bytes: f64,
    /// Head bytes read from CPU RAM (`-ngl 0`).
    fixed_cpu_bytes: f64,
    /// Share of block parameters one token reads (1 for dense).
    active_share: f64,
    /// Routed experts share of block parameters, experts per layer and top-k.
    routed_share: f64,
    experts: u64,
    top_k: u64,
    /// KV bytes read per sequence per step at the average context, GPU and CPU parts.
    kv_gpu: f64,
    kv_cpu: f64,
    /// Bandwidths in B/s (already × η).
    gpu_bw: f64,
    cpu_bw: f64,
    /// Fixed time per step.
    t0: f64,
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
        let BackendConstants { eta, t0_s, source, .. } = backend.constants();
        let p = ParamCount::of(spec);
        let emb = p.group(ParamGroup::Embeddings) as f64;
        let head = p.group(ParamGroup::LmHead) as f64;
        let blocks_total = (p.total as f64 - emb - head).max(1.0);
        let blocks_active = (p.active as f64 - emb - head).max(0.0);
        let active_share = blocks_active / blocks_total;
        let routed_total = p.group(ParamGroup::Experts) as f64;
        let (experts, top_k) =
            spec.layers.iter().find(|l| l.mlp.is_moe()).map_or((0, 0), |l| (l.mlp.experts, l.mlp.top_k));
        let routed_share = routed_total / blocks_total;
        let n_layers = spec.num_layers().max(1);

        // ---- weights, by where they live --------------------------------------------------
        let (gpu_block, cpu_block, fixed_gpu, fixed_cpu, how) = if w.runtime == Runtime::LlamaCpp {
            match crate::estimate::llamacpp::placement(spec, w) {
                Ok(place) => {
                    let ngl = w.llama_cpp.n_gpu_layers.unwrap_or(n_layers + 1).min(n_layers + 1);
                    let start = (n_layers + 1).saturating_sub(ngl);
                    let (mut g, mut c) = (0.0, 0.0);
                    for (i, bytes) in place.layers.iter().enumerate() {
                        if (i as u64) >= start {
                            g += *bytes as f64;
                        } else {
                            c += *bytes as f64;
                        }
                    }
                    let row = place.input as f64 / spec.vocab_size.max(1) as f64;
                    // The one embedding row read per token is negligible next to a block; it is counted
                    // with the head so that a model wholly on the GPU reads nothing from CPU RAM.
                    let (fg, fc) =
                        if ngl >= 1 { (place.output as f64 + row, 0.0) } else { (0.0, place.output as f64 + row) };
                    let cpu_layers = start.min(n_layers);
                    (
                        g,
                        c,
                        fg,
                        fc,
                        format!(
                            "llama.cpp -ngl {ngl}: {} of {n_layers} blocks on the GPU ({:.2} GB), {cpu_layers} in CPU RAM ({:.2} GB); output head {:.2} GB; {}",
                            n_layers - cpu_layers,
                            g / 1e9,
                            c / 1e9,
                            place.output as f64 / 1e9,
                            place.how
                        ),
                    )
                }
                Err(_) => dense_split(spec, b, &p, dev, w),
            }
        } else {
            dense_split(spec, b, &p, dev, w)
        };

        // ---- KV cache at the average context ---------------------------------------------
        let ctx_avg = w.prompt.saturating_add(w.new_tokens / 2).max(1);
        let latent = backend != Backend::TorchEager;
        let policy = KvPolicy { honor_window: true, latent, expanded_heads: false };
        let kv16 = KvCache::of(spec, 1, ctx_avg, DType::Fp16, policy).bytes as f64;
        let kv_elem_bytes = kv_bytes_per_element(w, spec);
        let kv = kv16 / 2.0 * kv_elem_bytes;
        let cpu_share = if (gpu_block + cpu_block) > 0.0 { cpu_block / (gpu_block + cpu_block) } else { 0.0 };

        // ---- bandwidths ---------------------------------------------------------------------
        let bw = dev.gpu.bandwidth_gb_s as f64 * 1e9;
        let (ram, ram_why) = dev.ram_bandwidth();
        let unified = dev.gpu.class == "apple" || dev.gpu.memory_type.starts_with("LPDDR");
        let cpu_bw = if unified { bw * eta } else { ram * 1e9 * CPU_ETA };

        let per_token = gpu_block * active_share + cpu_block * active_share + fixed_gpu + fixed_cpu;
        basis.push(Basis::new(
            "weight_bytes_per_token",
            per_token,
            "B",
            format!(
                "{how}; read per token = blocks × active share {active_share:.3}{} + head and one embedding row",
                if experts > 0 {
                    format!(" (MoE: {top_k} of {experts} routed experts; a batch of B reads E·(1 − (1 − k/E)^B))")
                } else {
                    String::new()
                }
            ),
            "weights as in the memory estimate; MoE active parameters from the model spec",
        ));
        basis.push(Basis::new(
            "kv_bytes_per_sequence",
            kv,
            "B",
            format!(
                "KV cache of one sequence at the average decode context prompt + new/2 = {ctx_avg} tokens (sliding-window layers capped at their window){}",
                if kv_elem_bytes == 2.0 { String::new() } else { format!(", {kv_elem_bytes:.3} B per element") }
            ),
            "every decode step reads the whole cache of each sequence",
        ));
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
        if cpu_block + fixed_cpu > 0.0 {
            basis.push(Basis::new(
                "ram_bandwidth",
                if unified { dev.gpu.bandwidth_gb_s as f64 } else { ram },
                "GB/s",
                if unified {
                    "unified memory: CPU-resident weights read at the GPU's bandwidth".to_string()
                } else {
                    ram_why
                },
                "--ram-bandwidth",
            ));
            if !unified {
                basis.push(Basis::new(
                    "eta_cpu",
                    CPU_ETA,
                    "1",
                    "share of peak DDR bandwidth a CPU decode reaches",
                    CPU_ETA_SOURCE,
                ));
            }
        }
        let flops = super::prefill::effective_flops(dev, backend, w).map(|(f, _)| f * dev.count.max(1) as f64);
        Decode {
            gpu_block_bytes: gpu_block,
            cpu_block_bytes: cpu_block,
            fixed_gpu_bytes: fixed_gpu,
            fixed_cpu_bytes: fixed_cpu,
            active_share,
            routed_share,
            experts,
            top_k,
            kv_gpu: kv * (1.0 - cpu_share),
            kv_cpu: kv * cpu_share,
            gpu_bw: bw * eta,
            cpu_bw,
            t0: t0_s,
            flops_per_token: 2.0 * p.active as f64,
            flops,
            cpu_weight_bytes: cpu_block + fixed_cpu,
        }
    }

    /// Share of block weights a batch of `batch` reads in one step.
    fn read_share(&self, batch: u64) -> f64 {
        if self.experts == 0 || self.top_k == 0 || self.top_k >= self.experts {
            return self.active_share;
        }
        let k_over_e = self.top_k as f64 / self.experts as f64;
        let touched = 1.0 - (1.0 - k_over_e).powf(batch as f64);
        (self.active_share - self.routed_share * k_over_e + self.routed_share * touched).min(1.0)
    }

    /// Seconds per decode step for `batch` sequences.
    #[must_use]
    pub fn step_s(&self, batch: u64) -> f64 {
        let share = self.read_share(batch);
        let b = batch as f64;
        let mem = (self.gpu_block_bytes * share + self.fixed_gpu_bytes + b * self.kv_gpu) / self.gpu_bw
            + (self.cpu_block_bytes * share + self.fixed_cpu_bytes + b * self.kv_cpu) / self.cpu_bw;
        let compute = self.flops.map_or(0.0, |f| self.flops_per_token * b / f);
        mem.max(compute) + self.t0
    }

    /// Tokens/s of `batch` sequences together (`None` when no time can be given).
    #[must_use]
    pub fn tokens_per_s(&self, batch: u64) -> Option<f64> {
        let t = self.step_s(batch);
        (t.is_finite() && t > 0.0).then(|| batch as f64 / t)
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
) -> (f64, f64, f64, f64, String) {
    let per_gpu = (b.component("weights") + b.component("base_weights")) as f64;
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
    (blocks, 0.0, fixed, 0.0, how)
}

/// Bytes per cached K/V element: the asked KV dtype (llama.cpp: its cache type).
fn kv_bytes_per_element(w: &Workload, spec: &ModelSpec) -> f64 {
    if w.runtime == Runtime::LlamaCpp {
        if let Ok(t) = crate::estimate::llamacpp::kv_cache_type(w) {
            return t.bytes as f64 / t.block.max(1) as f64;
        }
    }
    w.kv_dtype.or(w.dtype).or(spec.torch_dtype).map_or(2.0, |d| d.bytes() as f64)
}
