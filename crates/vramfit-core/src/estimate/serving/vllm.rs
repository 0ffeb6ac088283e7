//! vLLM's start-up, release by release: what counts against `gpu_memory_utilization`, how the
//! profile run is sized, how pages are counted and what the log prints.
//!
//! Sources (PyPI sdists; file:line in that release):
//! - 0.6.3 `vllm/worker/worker.py:228-245`: `peak_memory = init_gpu_memory - free_gpu_memory`
//!   after the profile run (memory_get_info, no `empty_cache` before it); `num_gpu_blocks =
//!   (total × utilization − peak) // cache_block_size`.
//! - 0.6.4 `vllm/worker/worker.py:201-217`: `peak = allocated_bytes.all.peak` (weights
//!   included) `+ non_torch` where `non_torch = (total − free) − torch allocated`, i.e. also the
//!   CUDA context and every other process: utilization is a cap on the whole device.
//! - 0.6.4 `vllm/config.py:1103-1118`: `max_num_batched_tokens = max(max_model_len, 2048)`
//!   unless chunked prefill (then 512); `vllm/engine/arg_utils.py:1000-1012`: chunked prefill
//!   is on by default when `max_model_len > 32K`.
//! - 0.6.5–0.8 V0 `vllm/worker/worker.py` + `vllm/utils.py::memory_profiling`: `kv = total ×
//!   utilization − (weights + activation peak + non-torch increase since the baseline)`, so
//!   utilization caps this instance only; chunked prefill's default budget became 2048.
//! - 0.8.5 V1 `vllm/v1/worker/gpu_worker.py:177-210`: the 0.6.4 formula again (global cap).
//!   `vllm/engine/arg_utils.py:1596-1607`: `vllm serve` defaults to 8192 batched tokens on GPUs
//!   of 70 GiB or more, 2048 otherwise.
//! - Other processes' memory (`--other-processes-memory`): counted in the budget only where
//!   `non_torch` is read off the whole device (0.6.4, V1 0.8); from V1 0.9.1 `init_device`
//!   refuses to start when the free memory is below `utilization × total` (0.10.1.1
//!   `vllm/v1/worker/gpu_worker.py:173-186`, 0.19.0 `vllm/v1/worker/utils.py:404-421`
//!   `request_memory`; absent from 0.8.5's `gpu_worker.py:120-135`; 0.9.1 is where public
//!   reports of the error start: vllm#20305, llm-compressor#1560).
//! - 0.19.0 `vllm/v1/worker/gpu_worker.py:366-420`: `available = requested_memory −
//!   (non_torch_increase + torch_peak_increase + weights) − cudagraph_estimate_if_enabled`
//!   (`VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS`, `vllm/envs.py:1654`, default 0 in 0.19,
//!   default 1 from 0.20/0.21 with utilization 0.92: `shared/research/vllm-memory-model.md` §1).
//! - 0.19.0 `vllm/v1/worker/gpu_model_runner.py:5782-5789`: the profile run is
//!   `_dummy_run(max_num_tokens)` then `_dummy_sampler_run` on `min(max_num_seqs,
//!   max_num_batched_tokens)` rows while the hidden states are still held;
//!   `vllm/v1/sample/sampler.py` turns the model-dtype logits into fp32, softmax makes fp32
//!   probabilities and `random_sample` an fp32 exponential draw of the same shape
//!   (`ops/topk_topp_sampler.py:325`); the Triton top-k/top-p keeps a `[SMs, vocab]` fp32
//!   buffer (`ops/topk_topp_triton.py:1003-1008`).
//! - 0.19.0 `vllm/v1/kv_cache_interface.py:29-113` page sizes; `vllm/v1/core/kv_cache_utils.py`
//!   `_check_enough_kv_cache_memory:619-653` (the error text), `get_max_concurrency_for_kv_cache_config:802`,
//!   `_report_kv_cache_config:1287-1325` (`tokens = num_blocks // groups × block_size`).

use super::{
    cdiv, forward_peak, gib, largest_true, layer_token_bytes, rank_weights, serving_dtype, stage_layers, weight_quant,
    Device, EngineVersion, Fraction, LayerKind, RankFigures, ServingReport, GIB,
};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::estimate::workload::Workload;
use crate::model::ModelSpec;
use crate::quant::QuantConfig;

/// vLLM as a serving engine.
pub static ENGINE: super::ServingEngine = super::ServingEngine {
    name: "vllm",
    report,
    source: SRC_BUDGET,
    max_model_len_flag: "--max-model-len",
    tensor_parallel_flag: "--tensor-parallel-size",
    seqs_and_graphs_in_budget: true,
    own_memory_at_start: |_, _, _| CONTEXT_BYTES,
};

/// Source line of the budget components.
pub const SRC_BUDGET: &str = "vLLM vllm/v1/worker/gpu_worker.py determine_available_memory (0.19.0:366-420); vllm/worker/worker.py determine_num_available_blocks (0.6.3:228-245, 0.6.4:201-217); vllm/v1/core/kv_cache_utils.py (0.19.0)";

/// The release vramfit uses without `--runtime-version`: the newest one whose accounting was
/// checked against public start-up logs (the llm-d-planner v0.19.0 sweep).
pub const CURRENT: EngineVersion = EngineVersion::new(0, 19, 0);

/// What counts against `gpu_memory_utilization × total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounting {
    /// ≤ 0.6.3: the drop in free memory across load and profile (allocator cache included).
    FreeMemoryDrop,
    /// 0.6.4 and V1 0.8: torch's allocated peak plus everything else on the device (the CUDA
    /// context, other processes): a cap on the whole device.
    WholeDevice,
    /// 0.6.5+ V0, V1 0.9+: weights + activation peak + non-torch growth of this instance.
    ThisInstance,
}

/// The behaviour of one vLLM release line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The version asked for (or [`CURRENT`]).
    pub version: EngineVersion,
    /// The V1 engine (default from 0.8.0 unless `-v0`).
    pub v1: bool,
    /// What the budget subtracts.
    pub accounting: Accounting,
    /// Default `gpu_memory_utilization`: 0.9, 0.92 from 0.20.
    pub default_utilization: Fraction,
    /// CUDA graphs estimated and subtracted before the cache is sized (0.20+).
    pub graphs_counted: bool,
    /// Sliding-window layers keep only their window (the hybrid KV cache manager, 0.9.2+);
    /// before, every layer is sized as full attention.
    pub hybrid_groups: bool,
    /// Chunked prefill's default token budget in V0 (512 up to 0.6.4, 2048 after).
    pub v0_chunked_budget: u64,
    /// The logged token count is `int(concurrency × max_model_len)` (0.21+).
    pub tokens_from_concurrency: bool,
    /// The Triton top-k/top-p sampler and its per-SM buffer (0.19+).
    pub triton_sampler: bool,
    /// `init_device` refuses to start when the free memory is below `utilization × total`
    /// (V1 0.9.1+).
    pub checks_free_at_start: bool,
}

impl Profile {
    /// The profile of `version` (`None` = [`CURRENT`]).
    #[must_use]
    pub fn of(version: Option<EngineVersion>) -> Self {
        let v = version.unwrap_or(CURRENT);
        let at_least = |minor: u32, patch: u32| (v.major, v.minor, v.patch) >= (0, minor, patch) || v.major >= 1;
        let v1 = at_least(8, 0) && (!v.v0 || at_least(11, 0));
        let accounting = if !at_least(6, 4) {
            Accounting::FreeMemoryDrop
        } else if !at_least(6, 5) || (v1 && !at_least(9, 0)) {
            Accounting::WholeDevice
        } else {
            Accounting::ThisInstance
        };
        let graphs_counted = at_least(20, 0);
        Profile {
            version: v,
            v1,
            accounting,
            default_utilization: Fraction(if graphs_counted { 920_000 } else { 900_000 }),
            graphs_counted,
            hybrid_groups: v1 && at_least(9, 2),
            v0_chunked_budget: if at_least(6, 5) { 2048 } else { 512 },
            tokens_from_concurrency: at_least(21, 0),
            triton_sampler: at_least(19, 0),
            checks_free_at_start: v1 && at_least(9, 1),
        }
    }

    /// How the report names this release's accounting.
    #[must_use]
    pub fn label(&self) -> String {
        let line = match (self.v1, self.accounting) {
            (false, Accounting::FreeMemoryDrop) => "V0, free-memory drop",
            (false, Accounting::WholeDevice) => "V0, utilization caps the whole device",
            (false, Accounting::ThisInstance) => "V0, utilization caps this instance",
            (true, Accounting::WholeDevice) => "V1, utilization caps the whole device",
            (true, _) if self.graphs_counted => "V1, CUDA graphs budgeted",
            (true, _) => "V1, utilization caps this instance",
        };
        format!("{} ({line})", self.version)
    }
}

/// The settings after the engine's defaults are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    utilization: Fraction,
    max_model_len: u64,
    max_num_seqs: u64,
    batched_tokens: u64,
    block_size: u64,
    tp: u64,
    pp: u64,
    kv_bytes: u64,
    dtype: DType,
    /// Bytes other processes hold on each GPU.
    others: u64,
}

fn settings(
    spec: &ModelSpec,
    w: &Workload,
    p: &Profile,
    max_model_len: u64,
    utilization: Option<Fraction>,
) -> Settings {
    let o = &w.serving;
    let large_gpu = o.device.as_ref().is_some_and(|d| {
        d.total_bytes >= 70 * GIB
            && !(p.version.minor >= 10 && d.name.as_deref().is_some_and(|n| n.to_ascii_lowercase().contains("a100")))
    });
    let max_num_seqs = o.max_num_seqs.unwrap_or(if p.v1 && large_gpu { 1024 } else { 256 });
    let batched_tokens = o.max_num_batched_tokens.unwrap_or(if p.v1 {
        if large_gpu {
            8192
        } else {
            2048
        }
    } else if max_model_len > 32_768 {
        // V0 turns chunked prefill on for long contexts (arg_utils.py, 0.6.4:1000-1012).
        p.v0_chunked_budget
    } else {
        max_model_len.max(2048)
    });
    let dtype = serving_dtype(spec, w);
    let kv_bytes = w.kv_dtype.map_or(dtype.bytes(), DType::bytes);
    Settings {
        utilization: utilization.or(o.gpu_memory_utilization).unwrap_or(p.default_utilization),
        max_model_len,
        max_num_seqs,
        batched_tokens,
        block_size: o.block_size.unwrap_or(16),
        tp: w.parallel.tp.max(1),
        pp: w.parallel.pp.max(1),
        kv_bytes,
        dtype,
        others: o.other_processes_bytes.unwrap_or(0),
    }
}

/// The layers of a stage as KV groups: (kind, layer count, bytes per token per layer).
fn stage_kv(spec: &ModelSpec, stage: (u64, u64), s: &Settings, p: &Profile) -> Vec<(LayerKind, u64)> {
    let mut full = Vec::new();
    let mut sliding: Vec<(u64, u64)> = Vec::new();
    for l in &spec.layers[stage.0 as usize..stage.1 as usize] {
        let b = layer_token_bytes(&l.attention, s.tp, s.kv_bytes);
        match l.attention.window {
            Some(win) if p.hybrid_groups => sliding.push((win, b)),
            _ => full.push(b),
        }
    }
    let mut out: Vec<(LayerKind, u64)> = full.into_iter().map(|b| (LayerKind::Full, b)).collect();
    out.extend(sliding.into_iter().map(|(win, b)| (LayerKind::Sliding(win), b)));
    out
}

/// Blocks, tokens and concurrency of a KV budget on one stage.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pages {
    blocks: u64,
    tokens: u64,
    concurrency: f64,
    per_token: u64,
    /// KV bytes one request of max_model_len needs (`max_memory_usage_bytes`).
    needed: u64,
}

fn pages(layers: &[(LayerKind, u64)], kv: u64, s: &Settings, p: &Profile) -> Pages {
    let per_token: u64 = layers.iter().map(|l| l.1).sum();
    let bs = s.block_size;
    let pages_per_request = |kind: LayerKind| match kind {
        LayerKind::Full => cdiv(s.max_model_len, bs),
        // SlidingWindowSpec.max_memory_usage_bytes (kv_cache_interface.py, 0.19.0:113)
        LayerKind::Sliding(win) => cdiv((win.saturating_sub(1) + s.batched_tokens).min(s.max_model_len), bs) + 1,
    };
    let needed: u64 = layers.iter().map(|&(k, b)| pages_per_request(k) * bs * b).sum();
    let n_sliding = layers.iter().filter(|l| matches!(l.0, LayerKind::Sliding(_))).count() as u64;
    let n_full = layers.len() as u64 - n_sliding;
    if !p.v1 || n_sliding == 0 || n_full == 0 {
        // One group (V0's cache engine, or a uniform model): blocks = budget // (page × layers).
        let block_bytes = per_token * bs;
        let blocks = kv.checked_div(block_bytes).unwrap_or(0);
        let tokens = blocks * bs;
        let concurrency = if p.v1 && p.version.minor >= 9 {
            let per_req: u64 = if layers.is_empty() {
                1
            } else {
                layers.iter().map(|&(k, _)| pages_per_request(k)).max().unwrap_or(1)
            };
            blocks as f64 / per_req.max(1) as f64
        } else {
            tokens as f64 / s.max_model_len.max(1) as f64
        };
        return Pages { blocks, tokens, concurrency, per_token, needed };
    }
    // The hybrid manager: layers of each kind split into groups of S (the smaller count), every
    // group drawing on one pool; a block is one page in each of the S layer slots
    // (kv_cache_utils.py get_num_blocks / _get_kv_cache_groups_uniform_page_size).
    let s_size = n_full.min(n_sliding).max(1);
    let groups = cdiv(n_full, s_size) + cdiv(n_sliding, s_size);
    let page = layers.iter().map(|l| l.1).max().unwrap_or(0) * bs;
    let blocks = kv.checked_div(page * s_size).unwrap_or(0);
    let tokens = blocks / groups.max(1) * bs;
    let full_pages = cdiv(n_full, s_size) * pages_per_request(LayerKind::Full);
    let win = layers.iter().find_map(|l| if let LayerKind::Sliding(w) = l.0 { Some(w) } else { None }).unwrap_or(0);
    let sliding_pages = cdiv(n_sliding, s_size) * pages_per_request(LayerKind::Sliding(win));
    let concurrency = blocks as f64 / (full_pages + sliding_pages).max(1) as f64;
    Pages { blocks, tokens, concurrency, per_token, needed }
}

/// Non-torch memory counted against the budget: what the public logs print.
/// - ThisInstance (0.6.5+ V0, 0.9+ V1): cuBLAS/attention workspaces grown since the baseline,
///   0.25 GiB at TP1 (llm-d-planner v0.19.0 H100 logs; 0.06–0.25 GiB in V0 logs), plus the
///   NCCL and custom all-reduce buffers V1 allocates in the profile run when TP > 1
///   (`_dummy_run(..., is_profile=True)` "pre-allocate communication buffers"): 2.07–2.17 GiB
///   in total at TP2/TP4 in the same logs.
/// - WholeDevice (0.6.4, V1 0.8): the CUDA context too: 0.35 GiB on an RTX 3090 (#10517).
/// - FreeMemoryDrop (≤ 0.6.3): growth since `init_device`, as ThisInstance.
///
/// Only WholeDevice counts other processes' memory (`(total − free) − torch allocated`,
/// worker.py 0.6.4:203-212, v1/worker/gpu_worker.py 0.8.5:200-207); they are added by the
/// caller.
fn non_torch(p: &Profile, tp: u64) -> (u64, &'static str) {
    let base = match p.accounting {
        Accounting::WholeDevice => CONTEXT_BYTES,
        _ => GIB / 4,
    };
    if p.v1 && tp > 1 {
        (base + 185 * GIB / 100, "workspaces + NCCL/custom all-reduce buffers (TP > 1), from public logs")
    } else if p.accounting == Accounting::WholeDevice {
        (base, "CUDA context + workspaces (counted from the device's used memory), from public logs")
    } else {
        (base, "cuBLAS/attention workspaces grown since the baseline, from public logs")
    }
}

/// The CUDA context and workspaces of this process: 0.35 GiB, what vLLM 0.6.4 printed as
/// non-torch memory on an RTX 3090 (#10517).
const CONTEXT_BYTES: u64 = 35 * GIB / 100;

/// Other processes' memory as this release counts it in the budget.
fn others_counted(p: &Profile, s: &Settings) -> u64 {
    if p.accounting == Accounting::WholeDevice {
        s.others
    } else {
        0
    }
}

/// The profile run's peak above the weights on one stage.
fn activation(spec: &ModelSpec, s: &Settings, p: &Profile, last_stage: bool, device: Option<&Device>) -> (u64, String) {
    let c = s.dtype.bytes();
    let h = spec.hidden_size;
    let vocab = spec.vocab_size;
    let fwd = forward_peak(spec, s.batched_tokens, s.dtype, s.tp);
    let hidden_live = s.batched_tokens * h * c;
    if !p.v1 {
        // V0: max_num_seqs sequences totalling max_num_batched_tokens, logits of the last token
        // of each in fp32 once the MLP temporaries are gone.
        let logits = if last_stage { hidden_live + s.max_num_seqs * vocab * 4 } else { 0 };
        let a = fwd.max(logits);
        return (
            a,
            format!(
                "max(forward over {} tokens = {} × (3·{h} + 3·intermediate/{}) × {c} B, hidden + {} × {vocab} fp32 logits) = {} GiB",
                s.batched_tokens,
                s.batched_tokens,
                s.tp,
                s.max_num_seqs,
                gib(a)
            ),
        );
    }
    if !last_stage {
        // The stage hands its hidden states and residual to the next one
        // (`IntermediateTensors`), allocated on top of the forward's working set.
        let a = fwd + 2 * hidden_live;
        return (
            a,
            format!(
                "forward over {} tokens = {} GiB + hidden states and residual sent to the next stage 2 × {} × {h} × {c} B (no sampler on this stage) = {} GiB",
                s.batched_tokens,
                gib(fwd),
                s.batched_tokens,
                gib(a)
            ),
        );
    }
    let rows = s.max_num_seqs.min(s.batched_tokens);
    let sms = device.and_then(|d| d.sms).unwrap_or(128);
    let buffer = if p.triton_sampler && rows >= 8 {
        let programs = sms.min(rows);
        programs.next_power_of_two().min(sms) * vocab * 4
    } else {
        0
    };
    let sampler = hidden_live + rows * h * c + rows * vocab * (c + 12) + buffer;
    let a = fwd.max(sampler);
    (
        a,
        format!(
            "max(forward over {} tokens = {} GiB, sampler = hidden {} × {h} × {c} + {rows} rows × {vocab} vocab × ({c} logits + 4 fp32 + 4 probs + 4 draw) + Triton buffer {} B = {} GiB)",
            s.batched_tokens,
            gib(fwd),
            s.batched_tokens,
            buffer,
            gib(sampler)
        ),
    )
}

/// CUDA graph memory, an empirical fit to the v0.19.0 H100 logs (llm-d-planner sweep: 0.65–1.07
/// GiB for dense models with 51 piecewise + 51 full captures): 0.39 GiB of pool plus, per
/// layer on the rank, (0.00625 + 0.01 / TP) GiB for every 51 captured sizes. V0 captures
/// decode-only graphs for `[1, 2, 4, 8, 16, ...]` up to `max_num_seqs` (0.13 GiB for a
/// 28-layer model with 35 graphs in the mellea #416 log).
fn cuda_graphs(s: &Settings, p: &Profile, layers: u64, eager: bool) -> u64 {
    if eager {
        return 0;
    }
    if !p.v1 {
        let graphs = 3 + s.max_num_seqs.div_ceil(8).min(32);
        return (0.13 * GIB as f64 * (graphs as f64 / 35.0) * (layers as f64 / 28.0)) as u64;
    }
    let max_capture = (s.max_num_seqs * 2).min(512).min(s.batched_tokens).max(1);
    let sizes = capture_sizes(max_capture);
    let per_layer = (0.00625 + 0.01 / s.tp as f64) * (sizes as f64 / 51.0);
    ((0.39 + per_layer * layers as f64) * GIB as f64) as u64
}

fn cuda_graph_formula(s: &Settings, p: &Profile, layers: u64, eager: bool) -> String {
    if eager {
        return "--enforce-eager: no graphs".into();
    }
    if !p.v1 {
        let graphs = 3 + s.max_num_seqs.div_ceil(8).min(32);
        return format!(
            "V0 decode graphs: 0.13 GiB × ({graphs} graphs / 35) × ({layers} layers / 28) (mellea #416 log)"
        );
    }
    let max_capture = (s.max_num_seqs * 2).min(512).min(s.batched_tokens).max(1);
    format!(
        "0.39 GiB + {layers} layers × (0.00625 + 0.01 / TP {}) GiB × ({} capture sizes up to {max_capture} / 51) (fit to the v0.19.0 H100 logs)",
        s.tp,
        capture_sizes(max_capture)
    )
}

/// Number of CUDA graph capture sizes: `[1, 2, 4] + range(8, 256, 8) + range(256, max + 1, 16)`.
fn capture_sizes(max: u64) -> u64 {
    let small = [1u64, 2, 4].iter().filter(|&&x| x <= max).count() as u64;
    let mid = (8..256).step_by(8).filter(|&x| x <= max).count() as u64;
    let big = if max >= 256 { (max - 256) / 16 + 1 } else { 0 };
    small + mid + big
}

/// One stage's start-up at `max_model_len` and `utilization`.
#[derive(Debug, Clone)]
struct Stage {
    figures: RankFigures,
    pages: Pages,
    graphs: u64,
    formula_act: String,
}

fn run_stages(spec: &ModelSpec, w: &Workload, p: &Profile, quant: Option<&QuantConfig>, s: &Settings) -> Vec<Stage> {
    let device = w.serving.device.as_ref();
    let total = device.map(|d| d.total_bytes);
    let stages = stage_layers(spec.num_layers(), s.pp);
    let n = stages.len();
    stages
        .iter()
        .enumerate()
        .map(|(i, &range)| {
            let backend = super::mxfp4::Backend::of(p.version, device.and_then(|d| d.compute_capability));
            let weights = super::mxfp4::stage_weights(spec, s.dtype, quant, range, s.pp, s.tp, backend)
                .unwrap_or_else(|| rank_weights(spec, s.dtype, quant, range, s.pp, s.tp))
                .saturating_sub(w.serving.cpu_offload_bytes.unwrap_or(0));
            let (act, formula_act) = activation(spec, s, p, i + 1 == n, device);
            let nt = non_torch(p, s.tp).0 + others_counted(p, s);
            let layers = range.1 - range.0;
            let graphs = cuda_graphs(s, p, layers, w.serving.enforce_eager);
            let budget = i128::from(total.map_or(0, |t| s.utilization.of(t)));
            let used = i128::from(weights + act + nt) + if p.graphs_counted { i128::from(graphs) } else { 0 };
            let kv = match w.serving.kv_cache_memory {
                Some(b) => i128::from(b),
                None => budget - used,
            };
            let kv_bytes = u64::try_from(kv.max(0)).unwrap_or(u64::MAX);
            let kinds = stage_kv(spec, range, s, p);
            let pages = pages(&kinds, kv_bytes, s, p);
            Stage {
                figures: RankFigures {
                    stage: i as u64,
                    layers,
                    weights_bytes: weights,
                    activation_peak_bytes: act,
                    non_torch_bytes: nt,
                    kv_cache_bytes: kv_bytes,
                    kv_deficit_bytes: u64::try_from((-kv).max(0)).unwrap_or(u64::MAX),
                    kv_bytes_per_token: pages.per_token,
                },
                pages,
                graphs,
                formula_act,
            }
        })
        .collect()
}

/// Whether the engine starts, and its error text when not.
fn verdict(p: &Profile, s: &Settings, st: &[Stage], total: Option<u64>) -> (bool, Option<String>) {
    if let (true, Some(total)) = (p.checks_free_at_start, total) {
        // `request_memory` (v1/worker/utils.py 0.19.0:404-421): the free memory after this
        // process's CUDA context is created, against ceil(total × utilization).
        let free = total.saturating_sub(CONTEXT_BYTES + s.others);
        let requested = (total as f64 * s.utilization.get()).ceil() as u64;
        if free < requested {
            return (false, Some(format!(
                "Free memory on device cuda:0 ({:.2}/{:.2} GiB) on startup is less than desired GPU memory utilization ({}, {:.2} GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
                free as f64 / GIB as f64,
                total as f64 / GIB as f64,
                s.utilization.get(),
                requested as f64 / GIB as f64
            )));
        }
    }
    for stage in st {
        if stage.figures.kv_deficit_bytes > 0 || stage.figures.kv_cache_bytes == 0 {
            return (false, Some(
                "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.".into(),
            ));
        }
    }
    let tokens = st.iter().map(|x| x.pages.tokens).min().unwrap_or(0);
    if !p.v1 {
        if s.max_model_len > tokens {
            return (false, Some(format!(
                "The model's max seq len ({}) is larger than the maximum number of tokens that can be stored in KV cache ({tokens}). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
                s.max_model_len
            )));
        }
        return (true, None);
    }
    for stage in st {
        let available = stage.figures.kv_cache_bytes;
        if stage.pages.needed > available {
            let est = largest_true(1, s.max_model_len, |len| {
                let s2 = Settings { max_model_len: len, ..*s };
                let kinds_needed: u64 = needed_at(stage, &s2, p);
                kinds_needed <= available
            });
            let est_msg = est.map_or(String::new(), |e| {
                format!("Based on the available memory, the estimated maximum model length is {e}. ")
            });
            return (false, Some(format!(
                "To serve at least one request with the models's max seq len ({}), ({} GiB KV cache is needed, which is larger than the available KV cache memory ({} GiB). {est_msg}Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
                s.max_model_len,
                gib(stage.pages.needed),
                gib(available)
            )));
        }
    }
    (true, None)
}

/// KV bytes one request of `s.max_model_len` needs on a stage (per-token bytes by layer kind).
fn needed_at(stage: &Stage, s: &Settings, _p: &Profile) -> u64 {
    // Every layer counted as full attention: a sliding layer needs no more than a full one, so
    // this bounds the estimated length from below (vLLM's own search is over the same sum).
    cdiv(s.max_model_len, s.block_size) * s.block_size * stage.pages.per_token
}

/// Flags vLLM refuses whatever the model: a zero length or block, more stages than layers.
fn check_flags(spec: &ModelSpec, w: &Workload, max_model_len: u64) -> Result<()> {
    if max_model_len == 0 {
        return Err(Error::workload("--max-model-len", "must be at least 1 token"));
    }
    if w.serving.block_size == Some(0) {
        return Err(Error::workload("--block-size", "must be at least 1 token"));
    }
    let layers = spec.num_layers();
    if w.parallel.pp > layers.max(1) {
        return Err(Error::workload(
            "--pipeline-parallel-size",
            format!("more stages than the model's {layers} layers"),
        ));
    }
    Ok(())
}

/// V0 without chunked prefill refuses a batch budget below `max_model_len`.
fn check_batched_tokens(p: &Profile, w: &Workload, s: &Settings, max_model_len: u64) -> Result<()> {
    if s.max_model_len > s.batched_tokens
        && w.serving.max_num_batched_tokens.is_some()
        && !p.v1
        && max_model_len <= 32_768
    {
        return Err(Error::workload(
            "--max-num-batched-tokens",
            format!(
                "vLLM V0 without chunked prefill needs max_num_batched_tokens ({}) ≥ max_model_len ({})",
                s.batched_tokens, s.max_model_len
            ),
        ));
    }
    Ok(())
}

/// What would start: the same workload re-run at another `max_model_len` or utilization.
struct StartSearch<'a> {
    spec: &'a ModelSpec,
    w: &'a Workload,
    p: &'a Profile,
    quant: Option<&'a QuantConfig>,
    total: Option<u64>,
    model_max: u64,
}

impl StartSearch<'_> {
    fn starts_with(&self, len: u64, util: Option<Fraction>) -> bool {
        let s2 = settings(self.spec, self.w, self.p, len, util);
        let st2 = run_stages(self.spec, self.w, self.p, self.quant, &s2);
        verdict(self.p, &s2, &st2, self.total).0
    }

    /// The largest `max_model_len` that starts.
    fn largest_max_model_len(&self) -> Option<u64> {
        let model_max = self.model_max;
        if !self.p.v1 && self.w.serving.max_num_batched_tokens.is_none() {
            // V0 sizes the profile run by max_model_len up to 32K, then chunked prefill takes
            // over with a fixed budget: two monotone stretches.
            let short = largest_true(1, model_max.min(32_768), |l| self.starts_with(l, None));
            let long =
                if model_max > 32_768 { largest_true(32_769, model_max, |l| self.starts_with(l, None)) } else { None };
            long.or(short)
        } else {
            largest_true(1, model_max, |l| self.starts_with(l, None))
        }
    }

    /// The `gpu_memory_utilization` that would start at `max_model_len`.
    fn utilization_to_start(&self, s: &Settings, max_model_len: u64) -> Option<f64> {
        // Up to the free memory at start-up (V1 0.9.1+ refuses a utilization above it), the
        // cache grows with the utilization and starting is monotone: find the largest
        // utilization (in hundredths) that still fails.
        let cap = match (self.p.checks_free_at_start, self.total) {
            (true, Some(t)) if t > 0 => {
                let free = u128::from(t.saturating_sub(CONTEXT_BYTES + s.others));
                u64::try_from(free * 100 / u128::from(t)).unwrap_or(100).min(100)
            }
            _ => 100,
        };
        match largest_true(1, cap, |h| !self.starts_with(max_model_len, Some(Fraction(h as u32 * 10_000)))) {
            _ if cap == 0 => None,
            None => Some(0.01),
            Some(h) if h >= cap => None,
            Some(h) => Some((h + 1) as f64 / 100.0),
        }
    }
}

/// The weights line: the parameter groups, and MXFP4 experts as the release's kernel keeps them.
fn weights_formula(
    spec: &ModelSpec,
    w: &Workload,
    p: &Profile,
    s: &Settings,
    quant: Option<&QuantConfig>,
    f: &RankFigures,
) -> String {
    let formula = super::weights_formula(spec, s.dtype, quant, s.tp, s.pp, f.layers);
    if super::mxfp4::is_mxfp4(quant) {
        let backend =
            super::mxfp4::Backend::of(p.version, w.serving.device.as_ref().and_then(|d| d.compute_capability));
        format!(
            "{formula}; MXFP4 experts as vLLM's {} MoE kernel keeps them (expert dims padded, scales and biases converted: estimate::serving::mxfp4) = {} GiB in all",
            backend.name(),
            gib(f.weights_bytes)
        )
    } else {
        formula
    }
}

/// The non-torch line, with other processes' memory where the release reads it off the device.
fn non_torch_formula(p: &Profile, s: &Settings, f: &RankFigures) -> String {
    match others_counted(p, s) {
        0 => format!("{} = {} GiB", non_torch(p, s.tp).1, gib(f.non_torch_bytes)),
        o => format!(
            "{} + other processes {} GiB (--other-processes-memory; this release reads non-torch memory off the whole device) = {} GiB",
            non_torch(p, s.tp).1,
            gib(o),
            gib(f.non_torch_bytes)
        ),
    }
}

/// vLLM's start-up report for a workload.
///
/// # Errors
/// Settings vLLM would reject, or a model it cannot serve.
pub fn report(spec: &ModelSpec, w: &Workload) -> Result<ServingReport> {
    let p = Profile::of(w.serving.version);
    let quant = weight_quant(spec, w)?;
    let model_max = spec.max_positions.unwrap_or(2048);
    let max_model_len = w.serving.max_model_len.unwrap_or(model_max);
    check_flags(spec, w, max_model_len)?;
    let s = settings(spec, w, &p, max_model_len, None);
    check_batched_tokens(&p, w, &s, max_model_len)?;
    let st = run_stages(spec, w, &p, quant.as_ref(), &s);
    // The most-loaded stage: the one with the fewest blocks (every worker takes the minimum).
    let worst = st.iter().min_by_key(|x| (x.pages.tokens, std::cmp::Reverse(x.figures.weights_bytes))).cloned();
    let Some(worst) = worst else {
        return Err(Error::workload("--pipeline-parallel-size", "the model has no layers to serve"));
    };
    let has_device = w.serving.device.is_some() || w.serving.kv_cache_memory.is_some();
    let total = w.serving.device.as_ref().map(|d| d.total_bytes);
    let (starts, error) = if has_device { verdict(&p, &s, &st, total) } else { (true, None) };
    let min_blocks = st.iter().map(|x| x.pages.blocks).min().unwrap_or(0);
    let mut tokens = st.iter().map(|x| x.pages.tokens).min().unwrap_or(0);
    let concurrency = st.iter().map(|x| x.pages.concurrency).fold(f64::INFINITY, f64::min);
    if p.tokens_from_concurrency {
        tokens = (concurrency * s.max_model_len as f64) as u64;
    }
    let search = StartSearch { spec, w, p: &p, quant: quant.as_ref(), total, model_max };
    let largest = has_device.then(|| search.largest_max_model_len());
    let util_to_start = if has_device && !starts && w.serving.kv_cache_memory.is_none() {
        search.utilization_to_start(&s, max_model_len)
    } else {
        None
    };
    let f = &worst.figures;
    Ok(ServingReport {
        engine: "vllm".into(),
        version: p.label(),
        weights_bytes: f.weights_bytes,
        activation_peak_bytes: f.activation_peak_bytes,
        non_torch_bytes: f.non_torch_bytes,
        cuda_graph_bytes: worst.graphs,
        cuda_graph_counted: p.graphs_counted,
        kv_cache_bytes: has_device.then_some(f.kv_cache_bytes),
        kv_tokens: has_device.then_some(tokens),
        gpu_blocks: has_device.then_some(min_blocks),
        block_size: s.block_size,
        kv_bytes_per_token: f.kv_bytes_per_token,
        max_model_len: s.max_model_len,
        max_num_seqs: s.max_num_seqs,
        max_num_batched_tokens: s.batched_tokens,
        gpu_memory_utilization: s.utilization.get(),
        max_concurrency: has_device.then_some(concurrency),
        starts: has_device.then_some(starts),
        error,
        device_total_bytes: total,
        free_bytes: total.map(|t| {
            let free = i128::from(t)
                - i128::from(s.utilization.of(t))
                - if p.graphs_counted { 0 } else { i128::from(worst.graphs) };
            i64::try_from(free).unwrap_or(i64::MIN)
        }),
        largest_max_model_len: largest.flatten(),
        gpu_memory_utilization_to_start: util_to_start,
        activation_formula: worst.formula_act.clone(),
        weights_formula: weights_formula(spec, w, &p, &s, quant.as_ref(), f),
        non_torch_formula: non_torch_formula(&p, &s, f),
        cuda_graph_formula: cuda_graph_formula(&s, &p, f.layers, w.serving.enforce_eager),
        ranks: st.iter().map(|x| x.figures.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &str) -> Profile {
        Profile::of(EngineVersion::parse(v).unwrap())
    }

    #[test]
    fn each_release_line_has_its_accounting() {
        assert_eq!(p("0.6.3").accounting, Accounting::FreeMemoryDrop);
        assert_eq!(p("0.6.4.post1").accounting, Accounting::WholeDevice);
        let v0 = p("0.7.3");
        assert!(!v0.v1 && v0.accounting == Accounting::ThisInstance && v0.v0_chunked_budget == 2048);
        assert_eq!(p("0.6.4").v0_chunked_budget, 512);
        let v1_08 = p("0.8.5");
        assert!(v1_08.v1 && v1_08.accounting == Accounting::WholeDevice && !v1_08.hybrid_groups);
        let v0_08 = p("0.8.5-v0");
        assert!(!v0_08.v1 && v0_08.accounting == Accounting::ThisInstance);
        assert!(p("0.9.2").hybrid_groups && !p("0.9.1").hybrid_groups);
        let current = Profile::of(None);
        assert_eq!(current.version, CURRENT);
        assert!(current.v1 && current.triton_sampler && !current.graphs_counted);
        assert!((current.default_utilization.get() - 0.9).abs() < 1e-12);
        let v20 = p("0.20.0");
        assert!(
            v20.graphs_counted && (v20.default_utilization.get() - 0.92).abs() < 1e-12 && !v20.tokens_from_concurrency
        );
        assert!(p("0.21.0").tokens_from_concurrency);
    }

    #[test]
    fn capture_sizes_follow_the_0_12_rule() {
        // [1, 2, 4] + range(8, 256, 8) + range(256, 513, 16): 3 + 31 + 17 = 51.
        assert_eq!(capture_sizes(512), 51);
        assert_eq!(capture_sizes(16), 5);
        assert_eq!(capture_sizes(1), 1);
    }

    #[test]
    fn v1_sliding_window_groups_count_pages_per_request() {
        // Two full and two sliding (window 128) layers of 1 KiB/token: groups of 2, 2 groups.
        let s = Settings {
            utilization: Fraction(900_000),
            max_model_len: 8192,
            max_num_seqs: 256,
            batched_tokens: 2048,
            block_size: 16,
            tp: 1,
            pp: 1,
            kv_bytes: 2,
            dtype: DType::Bf16,
            others: 0,
        };
        let layers = [
            (LayerKind::Full, 1024),
            (LayerKind::Full, 1024),
            (LayerKind::Sliding(128), 1024),
            (LayerKind::Sliding(128), 1024),
        ];
        let pages = pages(&layers, 1 << 30, &s, &p("0.19.0"));
        // blocks = 1 GiB / (16 × 1024 × 2 slots) = 32768; tokens = blocks / 2 groups × 16.
        assert_eq!(pages.blocks, 32_768);
        assert_eq!(pages.tokens, 32_768 / 2 * 16);
        // A request: 512 pages of the full group + cdiv(127 + 2048, 16) + 1 = 137 of the sliding one.
        assert!((pages.concurrency - 32_768.0 / (512.0 + 137.0)).abs() < 1e-9);
    }
}
