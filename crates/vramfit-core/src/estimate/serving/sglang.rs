//! SGLang's KV pool: after the weights are loaded, SGLang keeps `(1 − mem_fraction_static)` of
//! the memory that was free at start-up for activations and CUDA graphs and turns everything
//! else into a token pool.
//!
//! The pool formula is the same in every release read (PyPI sdists 0.4.3.post2, 0.4.7, 0.4.9,
//! 0.5.6): `model_runner.py` `profile_max_num_token` (0.4.3.post2:548-573, 0.4.9:928-963,
//! 0.5.6:1367-1447) with `total_gpu_memory` from `init_torch_distributed` (0.4.3.post2:270-284,
//! 0.4.9:547-574); what changed is the default fraction ([`FractionDefault`]).
//!
//! Sources (PyPI sdist sglang 0.5.6):
//! - `sglang/srt/model_executor/model_runner.py:1367-1447` `profile_max_num_token`:
//!   `cell_size = kv_heads(attn_tp) × head_dim × layers × 2 × kv_dtype bytes` (MLA:
//!   `(kv_lora_rank + qk_rope_head_dim) × layers × bytes`); `rest_memory = available_after_load
//!   − total_gpu_memory × (1 − mem_fraction_static)` where `total_gpu_memory` is the free memory
//!   measured when torch.distributed was initialized (`:702`, before the weights);
//!   `max_total_num_tokens = rest_memory × 2^30 // cell_size`.
//! - `model_runner.py:1713-1752`: rounded down to `page_size`; "Not enough memory. Please try
//!   to increase --mem-fraction-static." when it is not positive.
//! - `sglang/srt/server_args.py:724-862` `_handle_gpu_memory_settings`: the default
//!   `chunked_prefill_size`, `cuda_graph_max_bs` by GPU memory, and `mem_fraction_static =
//!   (gpu_mem − reserved_mem) / gpu_mem` with `reserved_mem = 512 + max(chunked_prefill, 2048) ×
//!   1.5 + cuda_graph_max_bs × 2 + tp × pp / 8 × 1024` MB (at least 10 GiB above 60 GiB).

use super::EngineVersion;
use super::{
    cdiv, gib, layer_token_bytes, rank_weights, serving_dtype, stage_layers, weight_quant, Fraction, RankFigures,
    ServingReport, GIB,
};
use crate::error::{Error, Result};
use crate::estimate::workload::Workload;
use crate::model::ModelSpec;

/// SGLang as a serving engine.
pub static ENGINE: super::ServingEngine = super::ServingEngine {
    name: "sglang",
    report,
    source: SRC_POOL,
    max_model_len_flag: "--context-length",
    tensor_parallel_flag: "--tp-size",
    seqs_and_graphs_in_budget: false,
    own_memory_at_start: before_free,
};

/// Source of the pool components.
pub const SRC_POOL: &str =
    "SGLang sglang/srt/model_executor/model_runner.py profile_max_num_token (0.4.3.post2:548-573, 0.4.9:928-963, 0.5.6:1367-1447); server_args.py default mem_fraction_static (0.4.3.post2:195-205, 0.4.9:280-319, 0.5.6:724-862)";

/// Memory in use before the weights when SGLang measures "free" at start-up: the CUDA context.
/// The 0.35 GiB vLLM 0.6.4 printed as non-torch memory on an RTX 3090 (#10517), used here for
/// the same CUDA context; SGLang's own single-GPU logs agree (an H100 with 79.19 GiB had 78.81
/// GiB free when SGLang measured: docs.sglang.ai/start/send_request.html, 2025-01-23).
const CONTEXT_BYTES: u64 = 35 * GIB / 100;

/// What `init_torch_distributed` takes on each rank of an NVLink-joined node (NCCL
/// communicators and the custom all-reduce's buffers): "Init torch distributed ends. mem
/// usage=1.77–2.01 GB" (GiB: SGLang divides by 2^30) on every rank of a TP8 H200 log
/// (sgl-project/sglang#11716); the largest is used.
const DISTRIBUTED_INIT_NVLINK_BYTES: u64 = 201 * GIB / 100;

/// The same on GPUs joined only by PCIe, where SGLang disables its custom all-reduce beyond two
/// GPUs and only NCCL's communicators remain: "Init torch distributed ends. mem usage=0.13 GB"
/// on each rank of 4 × L4 (didier-durand/llms-in-clouds docs/sglang.md; sglang#4127).
const DISTRIBUTED_INIT_PCIE_BYTES: u64 = 13 * GIB / 100;

/// Memory in use before SGLang measures the free memory its fraction applies to: the engine's
/// own (CUDA context, distributed init) and what other processes hold on the GPU
/// (`--other-processes-memory`): `total_gpu_memory` is `torch.cuda.mem_get_info()`'s free
/// memory (utils.py `get_available_gpu_memory`, 0.4.2:172-189, called by
/// `init_torch_distributed`, model_runner.py 0.4.2:260-262), the same figure the log prints as
/// "Load weight begin. avail mem=X GB" (model_runner.py 0.4.2:276-279).
#[must_use]
pub fn in_use_at_start(tp: u64, pp: u64, nvlink: bool, other_processes: u64) -> u64 {
    before_free(tp, pp, nvlink) + other_processes
}

/// The engine's own memory in use before SGLang measures free memory.
fn before_free(tp: u64, pp: u64, nvlink: bool) -> u64 {
    let distributed = match (tp * pp > 1, nvlink) {
        (false, _) => 0,
        (true, true) => DISTRIBUTED_INIT_NVLINK_BYTES,
        (true, false) => DISTRIBUTED_INIT_PCIE_BYTES,
    };
    CONTEXT_BYTES + distributed
}

/// How a release picks `mem_fraction_static` when it is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FractionDefault {
    /// By the number of GPUs of the model (`tp × pp`): 0.88, 0.87 (2), 0.85 (4), 0.81 (8),
    /// 0.79 (16+) (server_args.py 0.4.3.post2:195-205; 0.4.7:252-267 for cards up to 80 GiB).
    ByParallelSize,
    /// Reserve `(2.8 + tp·pp/10)` GiB below 35 GiB cards, `(9.5 + tp·pp/2)` GiB up to 90 GiB,
    /// `(12 + tp·pp/2)` GiB up to 160 GiB, 32 GiB above (server_args.py 0.4.9:280-319, after
    /// sgl-project/sglang#7054 "Simplify the heuristics for setting --mem-fraction-static").
    ReservedByGpuSize,
    /// Reserve for chunked prefill and CUDA graphs (server_args.py 0.5.6:724-862).
    ReservedForChunkAndGraphs,
}

impl FractionDefault {
    /// The rule of a release (`None` = the current one). The boundaries are the releases read:
    /// 0.4.7 still sizes by GPU count, 0.4.9 by GPU size, 0.5.6 by chunk and graphs; 0.4.8 and
    /// the 0.5.0–0.5.5 releases in between are assigned to the later rule.
    #[must_use]
    pub fn of(version: Option<EngineVersion>) -> Self {
        match version {
            Some(v) if v < EngineVersion::new(0, 4, 8) => FractionDefault::ByParallelSize,
            Some(v) if v < EngineVersion::new(0, 5, 0) => FractionDefault::ReservedByGpuSize,
            _ => FractionDefault::ReservedForChunkAndGraphs,
        }
    }

    /// The default fraction and `chunked_prefill_size` for a GPU of `gpu_mb` MiB.
    #[must_use]
    pub fn fraction(self, gpu_mb: f64, tp: u64, pp: u64) -> (f64, u64) {
        let parallel = (tp * pp) as f64;
        let small_chunk = if gpu_mb < 35.0 * 1024.0 { 2048 } else { 8192 };
        match self {
            FractionDefault::ByParallelSize => {
                let f = match tp * pp {
                    16.. => 0.79,
                    8..=15 => 0.81,
                    4..=7 => 0.85,
                    2..=3 => 0.87,
                    _ => 0.88,
                };
                (f, small_chunk)
            }
            FractionDefault::ReservedByGpuSize => {
                let reserved_gib = if gpu_mb < 35.0 * 1024.0 {
                    2.8 + parallel / 10.0
                } else if gpu_mb < 90.0 * 1024.0 {
                    9.5 + parallel / 2.0
                } else if gpu_mb < 160.0 * 1024.0 {
                    12.0 + parallel / 2.0
                } else {
                    32.0
                };
                let reserved = reserved_gib * 1024.0;
                (((gpu_mb - reserved) / gpu_mb * 1000.0).round() / 1000.0, small_chunk)
            }
            FractionDefault::ReservedForChunkAndGraphs => default_fraction(gpu_mb, tp, pp),
        }
    }
}

/// SGLang's default `mem_fraction_static` and `chunked_prefill_size` for a GPU of `gpu_mb`
/// MiB (server_args.py 0.5.6:724-862, CUDA branches, no speculative decoding or DP attention).
#[must_use]
pub fn default_fraction(gpu_mb: f64, tp: u64, pp: u64) -> (f64, u64) {
    let (chunked, graph_bs) = if gpu_mb < 20.0 * 1024.0 {
        (2048, 8)
    } else if gpu_mb < 35.0 * 1024.0 {
        (2048, if tp < 4 { 24 } else { 80 })
    } else if gpu_mb < 60.0 * 1024.0 {
        (4096, if tp < 4 { 32 } else { 160 })
    } else if gpu_mb < 160.0 * 1024.0 {
        (8192, if tp < 4 { 256 } else { 512 })
    } else {
        (16384, 512)
    };
    let mut reserved =
        512.0 + (chunked.max(2048) as f64) * 1.5 + f64::from(graph_bs) * 2.0 + (tp * pp) as f64 / 8.0 * 1024.0;
    if gpu_mb > 60.0 * 1024.0 {
        reserved = reserved.max(10.0 * 1024.0);
    }
    (((gpu_mb - reserved) / gpu_mb * 1000.0).round() / 1000.0, chunked)
}

/// SGLang's start-up report.
///
/// # Errors
/// A fraction or length SGLang would reject.
pub fn report(spec: &ModelSpec, w: &Workload) -> Result<ServingReport> {
    let o = &w.serving;
    let dtype = serving_dtype(spec, w);
    let quant = weight_quant(spec, w)?;
    let tp = w.parallel.tp.max(1);
    let pp = w.parallel.pp.max(1);
    let kv_bytes = w.kv_dtype.map_or(dtype.bytes(), crate::dtype::DType::bytes);
    let context_len = o.max_model_len.unwrap_or(spec.max_positions.unwrap_or(2048));
    if context_len == 0 {
        return Err(Error::workload("--context-length", "must be at least 1 token"));
    }
    let page = o.block_size.unwrap_or(1).max(1);
    let total = o.device.as_ref().map(|d| d.total_bytes);
    let nvlink = o.device.as_ref().is_some_and(|d| d.nvlink);
    let others = o.other_processes_bytes.unwrap_or(0);
    let in_use = in_use_at_start(tp, pp, nvlink, others);
    let rule = FractionDefault::of(o.version);
    let (default_f, default_chunk) = rule.fraction(total.map_or(81_559.0, |t| t as f64 / (1u64 << 20) as f64), tp, pp);
    let fraction = o.gpu_memory_utilization.map_or(default_f, Fraction::get);
    let chunked = o.max_num_batched_tokens.unwrap_or(default_chunk);
    let stages = stage_layers(spec.num_layers(), pp);
    let mut ranks = Vec::new();
    let mut min_tokens = u64::MAX;
    for (i, &range) in stages.iter().enumerate() {
        let weights = rank_weights(spec, dtype, quant.as_ref(), range, pp, tp);
        let cell: u64 = spec.layers[range.0 as usize..range.1 as usize]
            .iter()
            .map(|l| layer_token_bytes(&l.attention, tp, kv_bytes))
            .sum();
        let (rest, tokens) = match total {
            Some(t) => {
                let free_init = t.saturating_sub(in_use) as f64;
                let rest = free_init - weights as f64 - free_init * (1.0 - fraction);
                let tokens = if rest > 0.0 && cell > 0 { (rest / cell as f64) as u64 / page * page } else { 0 };
                (rest, tokens)
            }
            None => (0.0, 0),
        };
        min_tokens = min_tokens.min(tokens);
        ranks.push(RankFigures {
            stage: i as u64,
            layers: range.1 - range.0,
            weights_bytes: weights,
            activation_peak_bytes: 0,
            non_torch_bytes: in_use,
            kv_cache_bytes: rest.max(0.0) as u64,
            kv_deficit_bytes: (-rest).max(0.0) as u64,
            kv_bytes_per_token: cell,
        });
    }
    let worst = ranks
        .iter()
        .min_by_key(|r| r.kv_cache_bytes.checked_div(r.kv_bytes_per_token).unwrap_or(u64::MAX))
        .cloned()
        .ok_or_else(|| Error::workload("--pp", "the model has no layers to serve"))?;
    let has_device = total.is_some();
    let starts = min_tokens > 0;
    let error = (has_device && !starts).then(|| {
        format!("Not enough memory. Please try to increase --mem-fraction-static. Current value: self.server_args.mem_fraction_static={fraction}")
    });
    let reserved = total.map(|t| t.saturating_sub(in_use) as f64 * (1.0 - fraction));
    Ok(ServingReport {
        engine: "sglang".into(),
        version: format!(
            "{} (mem_fraction_static of the memory free after torch.distributed starts; default fraction {})",
            o.version.map_or("0.5.6".to_string(), |v| v.to_string()),
            match rule {
                FractionDefault::ByParallelSize => "by GPU count",
                FractionDefault::ReservedByGpuSize => "by GPU size",
                FractionDefault::ReservedForChunkAndGraphs => "by chunked prefill and CUDA graphs",
            }
        ),
        weights_bytes: worst.weights_bytes,
        activation_peak_bytes: 0,
        non_torch_bytes: in_use,
        cuda_graph_bytes: 0,
        cuda_graph_counted: false,
        kv_cache_bytes: has_device.then_some(worst.kv_cache_bytes),
        kv_tokens: has_device.then_some(min_tokens),
        gpu_blocks: has_device.then_some(min_tokens / page),
        block_size: page,
        kv_bytes_per_token: worst.kv_bytes_per_token,
        max_model_len: context_len,
        max_num_seqs: o.max_num_seqs.unwrap_or(0),
        max_num_batched_tokens: chunked,
        gpu_memory_utilization: fraction,
        max_concurrency: has_device.then(|| min_tokens as f64 / context_len as f64),
        starts: has_device.then_some(starts),
        error,
        device_total_bytes: total,
        free_bytes: reserved.map(|r| r as i64),
        // A request can be as long as the pool, up to the model's own limit.
        largest_max_model_len: has_device
            .then_some(min_tokens.min(spec.max_positions.unwrap_or(u64::MAX)))
            .filter(|&t| t > 0),
        gpu_memory_utilization_to_start: None,
        weights_formula: super::weights_formula(spec, dtype, quant.as_ref(), tp, pp, worst.layers),
        non_torch_formula: format!(
            "in use before SGLang measures free memory: CUDA context 0.35 GiB (as vLLM 0.6.4 printed on an RTX 3090, #10517){}{} = {} GiB",
            match (tp * pp > 1, nvlink) {
                (false, _) => "",
                (true, true) => " + NCCL and custom all-reduce init 2.01 GiB per rank on NVLink (sglang#11716)",
                (true, false) => " + NCCL init 0.13 GiB per rank on PCIe, no custom all-reduce (llms-in-clouds, sglang#4127)",
            },
            if others > 0 { format!(" + other processes {} GiB (--other-processes-memory)", gib(others)) } else { String::new() },
            gib(in_use)
        ),
        cuda_graph_formula: "not budgeted separately".into(),
        activation_formula: format!(
            "not budgeted separately: activations and CUDA graphs live in the {} GiB that (1 − mem_fraction_static) keeps free; chunked_prefill_size {chunked}, {} pages of {page}",
            reserved.map_or("?".into(), |r| gib(r as u64)),
            cdiv(context_len, page)
        ),
        ranks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fraction_by_release() {
        let v = |m, p| Some(EngineVersion::new(0, m, p));
        // 0.4.3.post2 server_args.py:195-205: by GPU count, whatever the card.
        assert_eq!(FractionDefault::of(v(4, 3)), FractionDefault::ByParallelSize);
        assert_eq!(FractionDefault::ByParallelSize.fraction(23_034.0, 4, 1).0, 0.85);
        assert_eq!(FractionDefault::ByParallelSize.fraction(81_559.0, 1, 1).0, 0.88);
        assert_eq!(FractionDefault::ByParallelSize.fraction(81_559.0, 8, 1).0, 0.81);
        // 0.4.9 server_args.py:280-319: an H100 (81,559 MiB) at TP1 reserves 10 GiB:
        // (81559 − 10240) / 81559 = 0.874.
        assert_eq!(FractionDefault::of(v(4, 9)), FractionDefault::ReservedByGpuSize);
        let (f, _) = FractionDefault::ReservedByGpuSize.fraction(81_559.0, 1, 1);
        assert!((f - 0.874).abs() < 1e-9, "{f}");
        // The current rule is 0.5.6's.
        assert_eq!(FractionDefault::of(None), FractionDefault::ReservedForChunkAndGraphs);
        assert_eq!(
            FractionDefault::ReservedForChunkAndGraphs.fraction(81_559.0, 1, 1),
            default_fraction(81_559.0, 1, 1)
        );
    }

    #[test]
    fn distributed_init_follows_the_interconnect() {
        assert_eq!(before_free(1, 1, true), CONTEXT_BYTES);
        assert_eq!(before_free(4, 1, false) - CONTEXT_BYTES, DISTRIBUTED_INIT_PCIE_BYTES);
        assert_eq!(before_free(4, 1, true) - CONTEXT_BYTES, DISTRIBUTED_INIT_NVLINK_BYTES);
    }

    #[test]
    fn default_fraction_follows_server_args() {
        // H100 80 GB (81,559 MiB), TP1: reserved = max(512 + 8192×1.5 + 256×2 + 128, 10240)
        // = 13,440 MB → (81559 − 13440) / 81559 = 0.835.
        let (f, chunk) = default_fraction(81_559.0, 1, 1);
        assert_eq!(chunk, 8192);
        assert!((f - 0.835).abs() < 1e-9, "{f}");
        // A 24 GB card: 512 + 2048×1.5 + 24×2 + 128 = 3,760 MB of 24,576 → 0.847.
        let (f, chunk) = default_fraction(24_576.0, 1, 1);
        assert_eq!(chunk, 2048);
        assert!((f - 0.847).abs() < 1e-9, "{f}");
    }
}
