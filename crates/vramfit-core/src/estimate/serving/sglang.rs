//! SGLang's KV pool: after the weights are loaded, SGLang keeps `(1 − mem_fraction_static)` of
//! the memory that was free at start-up for activations and CUDA graphs and turns everything
//! else into a token pool.
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

use super::{
    cdiv, gib, layer_token_bytes, rank_weights, serving_dtype, stage_layers, weight_quant, Fraction, RankFigures,
    ServingReport, GIB,
};
use crate::error::{Error, Result};
use crate::estimate::workload::Workload;
use crate::model::ModelSpec;

/// Source of the pool components.
pub const SRC_POOL: &str =
    "SGLang sglang/srt/model_executor/model_runner.py profile_max_num_token (0.5.6:1367-1447); server_args.py _handle_gpu_memory_settings (0.5.6:724-862)";

/// Memory in use before the weights when SGLang measures "free" at start-up: the CUDA context
/// and NCCL communicators. The 0.35 GiB vLLM 0.6.4 printed as non-torch memory on an RTX 3090
/// (#10517), used here for the same CUDA context.
const CONTEXT_BYTES: u64 = 35 * GIB / 100;

/// What `init_torch_distributed` takes on each rank when there are several (NCCL
/// communicators): "Init torch distributed ends. mem usage=1.77–2.01 GB" (GiB: SGLang divides
/// by 2^30) on every rank of a TP8 H200 log (sgl-project/sglang#11716); the largest is used.
const DISTRIBUTED_INIT_BYTES: u64 = 201 * GIB / 100;

/// Memory in use before SGLang measures the free memory its fraction applies to.
fn before_free(tp: u64, pp: u64) -> u64 {
    CONTEXT_BYTES + if tp * pp > 1 { DISTRIBUTED_INIT_BYTES } else { 0 }
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
    let (default_f, default_chunk) =
        default_fraction(total.map_or(81_559.0, |t| t as f64 / (1u64 << 20) as f64), tp, pp);
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
                let free_init = t.saturating_sub(before_free(tp, pp)) as f64;
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
            non_torch_bytes: before_free(tp, pp),
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
    let reserved = total.map(|t| t.saturating_sub(before_free(tp, pp)) as f64 * (1.0 - fraction));
    Ok(ServingReport {
        engine: "sglang".into(),
        version: "0.5.6 (mem_fraction_static of the free memory at start-up)".into(),
        weights_bytes: worst.weights_bytes,
        activation_peak_bytes: 0,
        non_torch_bytes: before_free(tp, pp),
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
            "in use before SGLang measures free memory: CUDA context 0.35 GiB (as vLLM 0.6.4 printed on an RTX 3090, #10517){} = {} GiB",
            if tp * pp > 1 { " + NCCL init 2.01 GiB per rank (sglang#11716)" } else { "" },
            gib(before_free(tp, pp))
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
