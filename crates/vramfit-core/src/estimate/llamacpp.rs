//! llama.cpp: everything is allocated when the context is created, so the peak is the sum of
//! the model buffers, the KV cache for the whole (padded) context, and the compute buffer
//! the graph allocator reserves for the worst micro-batch, on every device that holds layers
//! (each GPU, and host memory for the rest). Which build runs decides what `-ngl` means and
//! what the graph keeps alive (`profile::llamacpp::LlamaCppBehaviour`).
//!
//! Sources (ggml-org/llama.cpp):
//! - `src/llama-model.cpp` `load_tensors`: `i_gpu_start = max(n_layer + 1 − n_gpu_layers, 0)`
//!   in newer builds (the output layer, index `n_layer`, is one of the `-ngl` layers), and
//!   `max(n_layer − n_gpu_layers, 0)` before (output on the GPU only when `n_gpu_layers >
//!   n_layer`); with `--split-mode layer` a layer goes to GPU `upper_bound(splits, (il −
//!   i_gpu_start) / act_gpu_layers)` of the cumulative, normalised `--tensor-split`; `row`
//!   splits each block's matrices over the GPUs by the same shares and keeps the rest on
//!   `--main-gpu`; `none` keeps everything on `--main-gpu`. "there is very little benefit to
//!   offloading the input layer, so always keep it on the CPU"; a model without
//!   `output.weight` duplicates `token_embd` onto the output layer's device.
//! - `common/arg.cpp`: `--override-tensor PATTERN=BUFFER` (first matching regular expression
//!   wins), `--n-cpu-moe N` (the pattern `blk\.(0..N-1)\.ffn_(up|down|gate)_exps` on the CPU).
//! - `src/llama-context.cpp`: `n_ctx = GGML_PAD(n_ctx, 256)`; `n_batch = min(n_ctx,
//!   n_batch)`, `n_ubatch = min(n_batch, n_ubatch)`; the reserved graph has `n_ubatch` tokens
//!   and, in newer builds, `min(n_ubatch, n_outputs_max)` outputs.
//! - `src/llama-kv-cache.cpp`: per layer, K `[n_embd_k_gqa, kv_size]` of `type_k` and V
//!   `[n_embd_v_gqa, kv_size]` of `type_v`, on the layer's device; `src/llama-kv-cache-iswa.cpp`:
//!   sliding-window layers get `min(n_ctx, GGML_PAD(n_swa·n_seq + n_ubatch, 256))` cells.
//! - `src/llama-graph.cpp` `build_attn_mha` / `build_ffn` / `build_moe_ffn` for the compute
//!   buffer's tensors; `ggml/src/ggml-alloc.c` frees each tensor after its last use and runs
//!   `ggml_op_can_inplace` ops (ADD, MUL, UNARY, ROPE, RMS_NORM, SOFT_MAX) in their input's
//!   memory, so the buffer is the largest set of tensors live at one node.

mod compute;
mod report;

use super::breakdown::{prod, thousands, Breakdown};
use super::mmproj;
use super::phase::Phase;
use super::profile::llamacpp::LlamaCppBehaviour;
use super::profile::ollama::OllamaDefaults;
use super::recurrent_state::{ConvColumns, StateLayout};
use super::workload::{AttnImpl, LlamaCppOptions, Task, Workload};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::model::{CheckpointFormat, CheckpointInfo, KvLayout, Linear, ModelSpec, ParamGroup};
use crate::quant::{ggml_type, GgmlType, Quant, QuantConfig};
use crate::units::align_up;

const SRC_LOAD: &str = "llama.cpp src/llama-model.cpp load_tensors (i_gpu_start, act_gpu_layers, tensor_split; input layer on the CPU); common/arg.cpp --override-tensor, --n-cpu-moe";
const SRC_KV: &str =
    "llama.cpp src/llama-kv-cache.cpp (K, V per layer: ggml_row_size(type_k/type_v, n_embd_gqa) × kv_size); src/llama-context.cpp (n_ctx padded to 256)";
const SRC_COMPUTE: &str = "llama.cpp src/llama-context.cpp graph_reserve (n_ubatch tokens), src/llama-graph.cpp build_attn_mha/build_ffn/build_moe_ffn, ggml/src/ggml-alloc.c (tensors freed after last use; in-place ops)";

const SRC_RS: &str = "llama.cpp src/llama-memory-recurrent.cpp (per recurrent layer R [n_embd_r, mem_size] and S [n_embd_s, mem_size], f32, on the layer's device; \"RS buffer size\"), src/llama-memory-hybrid.cpp (KV for the attention layers only), src/llama-hparams.cpp n_embd_r/n_embd_s (ggml-org/llama.cpp 0054ee8c)";
const SRC_LORA: &str = "llama.cpp src/llama-adapter.cpp llama_adapter_lora_init_impl (adapter tensors in the adapted tensor's buffer type; \"LoRA buffer size\"), src/llama-graph.cpp build_lora_mm";

/// KV cache types llama.cpp accepts (`common/arg.cpp` `kv_cache_types`).
pub const KV_CACHE_TYPES: &[&str] = &["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "IQ4_NL", "Q5_0", "Q5_1"];

/// Default `--ubatch-size`.
pub const DEFAULT_UBATCH: u64 = 512;
/// Default `--batch-size` (builds with a micro-batch).
pub const DEFAULT_BATCH: u64 = 2048;
/// Context padding (`GGML_PAD(n_ctx, 256)`).
pub const CTX_PAD: u64 = 256;
/// `GGML_KQ_MASK_PAD`: the mask's token dimension is padded to this.
const KQ_MASK_PAD: u64 = 32;
/// `LLAMA_SCHED_MAX_COPIES`: with several GPUs and every layer offloaded (pipeline
/// parallelism) the scheduler keeps this many copies of each split's inputs.
const SCHED_COPIES: u64 = 4;

fn cache_type(name: &str, flag: &str) -> Result<&'static GgmlType> {
    let name = name.to_ascii_uppercase();
    if !KV_CACHE_TYPES.contains(&name.as_str()) {
        return Err(Error::workload(
            flag,
            format!("{name:?} is not a llama.cpp cache type; use {}", KV_CACHE_TYPES.join(", ").to_ascii_lowercase()),
        ));
    }
    ggml_type(&name).ok_or_else(|| Error::workload(flag, format!("{name} is missing from the GGML type table")))
}

/// The K cache type of a workload under llama.cpp (`--cache-type-k`, or `--kv-dtype`).
///
/// # Errors
/// A type llama.cpp does not offer for its cache.
pub fn kv_cache_type(w: &Workload) -> Result<&'static GgmlType> {
    let name = match (&w.llama_cpp.cache_type, w.kv_dtype) {
        (Some(t), _) => t.to_ascii_uppercase(),
        (None, None | Some(DType::Fp16)) => "F16".into(),
        (None, Some(DType::Bf16)) => "BF16".into(),
        (None, Some(DType::Fp32)) => "F32".into(),
        (None, Some(d)) => {
            return Err(Error::workload(
                "--kv-dtype",
                format!("llama.cpp has no {d} KV cache; use {}", KV_CACHE_TYPES.join(", ").to_ascii_lowercase()),
            ))
        }
    };
    cache_type(&name, "--kv-dtype")
}

/// The V cache type (`--cache-type-v`, else the K cache's).
///
/// # Errors
/// A type llama.cpp does not offer for its cache.
pub fn v_cache_type(w: &Workload) -> Result<&'static GgmlType> {
    match &w.llama_cpp.cache_type_v {
        Some(t) => cache_type(t, "--cache-type-v"),
        None => kv_cache_type(w),
    }
}

/// A device holding buffers: a GPU by index, or host memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dev {
    Gpu(usize),
    Cpu,
}

impl Dev {
    fn name(self) -> String {
        match self {
            Dev::Gpu(i) => format!("CUDA{i}"),
            Dev::Cpu => "CPU".into(),
        }
    }
}

/// How a block's or the model's tensors are stored for llama.cpp.
pub(crate) struct Placement {
    /// Bytes of each block's tensors.
    pub(crate) layers: Vec<u64>,
    /// Of those, the routed experts' (`ffn_{gate,up,down}_exps`), by block.
    experts: Vec<u64>,
    /// Of those, the dense FFN's (`ffn_{gate,up,down}`), by block (estimated for checkpoints).
    ffn: Vec<u64>,
    /// Token embeddings (always on the host).
    pub(crate) input: u64,
    /// Output head (or the duplicated embeddings) plus the final norm.
    pub(crate) output: u64,
    /// How these were obtained.
    pub(crate) how: String,
    /// What each block's tensors take beyond their bytes in a CUDA buffer (row padding of
    /// quantized rows, 128-byte alignment); zero where unknown (GGUF headers).
    cuda_extra: Vec<u64>,
    /// The same for the output layer.
    output_cuda_extra: u64,
}

/// `MATRIX_ROW_PADDING` (ggml/src/ggml-cuda/common.cuh): CUDA's buffer type allocates a
/// quantized tensor with one more partial row, `ggml_row_size(type, 512 − ne0 % 512)`, when
/// its rows (`ne0`, the input width) are not a multiple of 512
/// (`ggml_backend_cuda_buffer_type_get_alloc_size`), and `ggml_backend_alloc_ctx_tensors`
/// pads every tensor to the buffer's alignment (128 bytes for CUDA).
const CUDA_ROW_PADDING: u64 = 512;
const CUDA_ALIGNMENT: u64 = 128;

/// Extra bytes one linear stored as `ty` (`bytes` as stored, one tensor for all its copies)
/// takes in a CUDA buffer.
fn cuda_extra_bytes(ty: &GgmlType, in_features: u64, bytes: u64) -> u64 {
    let pad = if ty.block > 1 && in_features % CUDA_ROW_PADDING != 0 {
        (CUDA_ROW_PADDING - in_features % CUDA_ROW_PADDING).saturating_mul(ty.bytes) / ty.block
    } else {
        0
    };
    align_up(bytes.saturating_add(pad), CUDA_ALIGNMENT).saturating_sub(bytes)
}

/// Bytes of each block's linears of one group, from the spec (`scheme` as `placement` uses it).
fn group_bytes(spec: &ModelSpec, bytes_of: &dyn Fn(&Linear, u64) -> u64, group: ParamGroup) -> Vec<u64> {
    spec.layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            layer
                .linears
                .iter()
                .filter(|l| l.group == group)
                .map(|l| bytes_of(l, i as u64))
                .fold(0u64, u64::saturating_add)
        })
        .collect()
}

/// How `w` stores `spec`'s tensors for llama.cpp: exact from a GGUF file's headers, else from
/// the spec in the GGUF scheme or dense dtype.
pub(crate) fn placement(spec: &ModelSpec, w: &Workload) -> Result<Placement> {
    let storage = Storage::of(spec, w)?;
    let n = spec.num_layers();
    let by_layer = |l: &Linear, i: u64| storage.linear_bytes(l, Some((i, n)));
    let spec_experts = group_bytes(spec, &by_layer, ParamGroup::Experts);
    let spec_ffn = group_bytes(spec, &by_layer, ParamGroup::Mlp);
    let layers = block_bytes(spec, &by_layer);
    if let (Some(ck), false) = (&spec.checkpoint, storage.override_weights) {
        if ck.format == CheckpointFormat::Gguf {
            return Ok(gguf_header_placement(ck, &spec_ffn, &layers));
        }
    }
    Ok(storage.spec_placement(spec, layers, spec_experts, spec_ffn))
}

/// Bytes of each block's tensors from the spec: linears as stored, biases, norms and other
/// small tensors in F32 (as convert_hf_to_gguf.py writes them).
fn block_bytes(spec: &ModelSpec, by_layer: &dyn Fn(&Linear, u64) -> u64) -> Vec<u64> {
    spec.layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let lin = layer
                .linears
                .iter()
                .map(|l| by_layer(l, i as u64).saturating_add(l.bias_numel().saturating_mul(4)))
                .fold(0u64, u64::saturating_add);
            let small = layer
                .norms
                .iter()
                .map(crate::model::Norm::numel)
                .chain(layer.others.iter().map(|t| t.numel))
                .fold(0u64, u64::saturating_add)
                .saturating_mul(4);
            lin.saturating_add(small)
        })
        .collect()
}

/// The exact tensor bytes a GGUF file's headers give, block by block; the dense FFN's share
/// of each block is the spec's (`spec_ffn` of `spec_layers`), since headers give block totals.
fn gguf_header_placement(ck: &CheckpointInfo, spec_ffn: &[u64], spec_layers: &[u64]) -> Placement {
    let mut exact = ck.layer_bytes.clone();
    exact.resize(spec_layers.len().max(exact.len()), 0);
    let mut experts = ck.layer_expert_bytes.clone();
    experts.resize(exact.len(), 0);
    // The dense FFN's share of a block, from the spec (headers give the block total).
    let ffn = exact
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (f, t) = (spec_ffn.get(i).copied().unwrap_or(0), spec_layers.get(i).copied().unwrap_or(0));
            if t == 0 {
                0
            } else {
                (u128::from(*b) * u128::from(f) / u128::from(t)) as u64
            }
        })
        .collect();
    let output = ck.output_bytes.saturating_add(if ck.has_output_head { 0 } else { ck.input_bytes });
    Placement {
        layers: exact,
        experts,
        ffn,
        input: ck.input_bytes,
        output,
        how: format!("exact GGUF tensor bytes ({})", ck.describe()),
        cuda_extra: Vec::new(),
        output_cuda_extra: 0,
    }
}

/// How llama.cpp stores the model's linears: a GGUF scheme, or dense parameters of a dtype.
struct Storage<'a> {
    /// The GGUF scheme (`--quant`, or the checkpoint's), if any.
    scheme: Option<&'a QuantConfig>,
    dtype: DType,
    /// Bytes per parameter when there is no scheme.
    dense: u64,
    /// `--dtype` or `--quant` replaces what the checkpoint stores.
    override_weights: bool,
}

impl<'a> Storage<'a> {
    fn of(spec: &'a ModelSpec, w: &'a Workload) -> Result<Self> {
        let override_weights = w.dtype.is_some() || w.quant.is_some();
        let quant = w.quant.as_ref().or(spec.quantization.as_ref());
        let scheme = match quant.map(|q| &q.quant) {
            None => None,
            Some(Quant::Gguf { .. }) => quant,
            Some(_)
                if !override_weights
                    && spec.checkpoint.as_ref().is_some_and(|c| c.format == CheckpointFormat::Gguf) =>
            {
                None
            }
            Some(_) => {
                return Err(Error::workload(
                    "--quant",
                    "llama.cpp runs GGUF schemes (q4_k_m, q8_0, ...), not bitsandbytes/GPTQ/AWQ/fp8",
                ))
            }
        };
        let dtype = w.dtype.or(spec.torch_dtype).unwrap_or(DType::Fp16);
        let dense = match dtype {
            DType::Fp32 => 4,
            DType::Fp16 | DType::Bf16 => 2,
            DType::Fp8 | DType::Int8 => {
                return Err(Error::workload(
                    "--dtype",
                    "llama.cpp stores fp32, fp16 or bf16 (or a GGUF scheme via --quant)",
                ))
            }
        };
        Ok(Storage { scheme, dtype, dense, override_weights })
    }

    /// Bytes of one linear (`at`: its block and the block count, for per-layer scheme types).
    fn linear_bytes(&self, l: &Linear, at: Option<(u64, u64)>) -> u64 {
        match self.scheme {
            Some(q) => q.weight_bytes(l, at),
            None => l.weight_numel().saturating_mul(self.dense),
        }
    }

    /// The type each linear is stored as, for CUDA's row padding.
    fn stored_type(&self, l: &Linear, at: Option<(u64, u64)>) -> Option<&'static GgmlType> {
        match self.scheme.map(|q| &q.quant) {
            Some(Quant::Gguf { scheme: name }) => {
                let s = crate::quant::gguf_scheme(name)?;
                let ty = match (&s.experts, l.group) {
                    (Some(t), ParamGroup::Experts) => t.as_str(),
                    _ => s.type_for(&l.name, at),
                };
                ggml_type(ty)
            }
            _ => None,
        }
    }

    /// What one linear takes beyond its bytes in a CUDA buffer.
    fn cuda_extra(&self, l: &Linear, at: Option<(u64, u64)>) -> u64 {
        self.stored_type(l, at).map_or(0, |ty| cuda_extra_bytes(ty, l.in_features, self.linear_bytes(l, at)))
    }

    /// The placement from the spec: linears in the GGUF scheme (or dense dtype), norms and
    /// biases in F32 as convert_hf_to_gguf.py writes them.
    fn spec_placement(&self, spec: &ModelSpec, layers: Vec<u64>, experts: Vec<u64>, ffn: Vec<u64>) -> Placement {
        let n = spec.num_layers();
        let embed_numel = spec.embeddings.iter().map(|t| t.numel).fold(0u64, u64::saturating_add);
        // llama-quant.cpp llama_tensor_get_type: without `output.weight` the token embeddings are
        // the output tensor and get its type (Q6_K in the K-quant schemes).
        let tied = spec.tied_embeddings || spec.lm_head.is_none();
        let embed_type = self
            .scheme
            .and_then(|q| match &q.quant {
                Quant::Gguf { scheme } => {
                    crate::quant::gguf_scheme(scheme).map(|s| if tied { s.output.as_str() } else { s.default.as_str() })
                }
                _ => None,
            })
            .unwrap_or(if self.dense == 4 { "F32" } else { "F16" });
        let input = crate::quant::gguf_bytes(embed_type, embed_numel);
        let norms =
            spec.final_norms.iter().map(crate::model::Norm::numel).fold(0u64, u64::saturating_add).saturating_mul(4);
        let head = match (&spec.lm_head, spec.tied_embeddings) {
            (Some(h), false) => self.linear_bytes(h, None),
            _ => input,
        };
        let cuda_extra: Vec<u64> = spec
            .layers
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                layer.linears.iter().map(|l| self.cuda_extra(l, Some((i as u64, n)))).fold(0u64, u64::saturating_add)
            })
            .collect();
        let output_cuda_extra = match (&spec.lm_head, spec.tied_embeddings) {
            (Some(h), false) => self.cuda_extra(h, None),
            // the token embeddings' copy, rows of hidden_size
            _ => ggml_type(embed_type).map_or(0, |ty| cuda_extra_bytes(ty, spec.hidden_size, input)),
        };
        Placement {
            cuda_extra,
            output_cuda_extra,
            layers,
            experts,
            ffn,
            input,
            output: head.saturating_add(norms),
            how: match self.scheme {
                Some(q) => format!("{} scheme applied to the model's tensors", q.label()),
                None => format!("parameters × {} B ({})", self.dense, self.dtype),
            },
        }
    }
}

/// Where decode reads each block's weights from: the GPU(s) or CPU RAM, after `-ngl` (with the
/// build's meaning of it), `--n-cpu-moe` and `-ot` rules, as [`estimate_llamacpp`] places them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Residency {
    /// Bytes on the GPU(s): the dense part of the blocks (attention, norms, shared experts,
    /// dense FFN) and the routed experts.
    pub(crate) gpu_dense: f64,
    pub(crate) gpu_experts: f64,
    /// Bytes in CPU RAM, the same two parts.
    pub(crate) cpu_dense: f64,
    pub(crate) cpu_experts: f64,
    /// Blocks wholly on the GPU(s).
    pub(crate) gpu_blocks: u64,
    /// Routed-expert bytes moved to CPU RAM by `--n-cpu-moe` / `-ot` from blocks on the GPU.
    pub(crate) moved_experts: f64,
    /// The output head is on a GPU.
    pub(crate) output_on_gpu: bool,
    /// `-ngl` as asked (or all layers).
    pub(crate) ngl: u64,
    /// The build's `-ngl` meaning, for the basis.
    pub(crate) ngl_counts_output: bool,
    /// Token embedding bytes (in CPU RAM; decode reads one row of them per token).
    pub(crate) input: u64,
    /// Output head bytes (with the final norm).
    pub(crate) output: u64,
    /// How the byte counts were obtained.
    pub(crate) how: String,
}

/// The [`Residency`] of `w`'s weights.
pub(crate) fn residency(spec: &ModelSpec, w: &Workload) -> Result<Residency> {
    let place = placement(spec, w)?;
    let b = w.profile().inference.llamacpp.unwrap_or_else(|| LlamaCppBehaviour::of(w.runtime_version));
    let o = &w.llama_cpp;
    let n_layer = spec.num_layers();
    let gpus = usize::try_from(w.parallel.gpus_per_node.max(1)).unwrap_or(1).max(o.tensor_split.len()).max(1);
    let ngl = o.n_gpu_layers.unwrap_or(n_layer + 1).min(n_layer + 1);
    let start = b.first_gpu_layer(n_layer, ngl);
    let on_gpu = |il: u64| ngl > 0 && il >= start && il - start < ngl;
    let rules = overrides(w, gpus)?;
    let n_cpu_moe = o.n_cpu_moe.unwrap_or(0);
    let mut r = Residency {
        gpu_dense: 0.0,
        gpu_experts: 0.0,
        cpu_dense: 0.0,
        cpu_experts: 0.0,
        gpu_blocks: 0,
        moved_experts: 0.0,
        output_on_gpu: on_gpu(n_layer),
        ngl,
        ngl_counts_output: b.ngl_counts_output,
        input: place.input,
        output: place.output,
        how: place.how.clone(),
    };
    for (i, &bytes) in place.layers.iter().enumerate() {
        let home_gpu = on_gpu(i as u64);
        let experts = place.experts.get(i).copied().unwrap_or(0);
        let ffn = place.ffn.get(i).copied().unwrap_or(0);
        let (mut dense_gpu, mut dense_cpu, mut exp_gpu, mut exp_cpu) = (0u64, 0u64, 0u64, 0u64);
        let mut rest = bytes;
        for (kind, total) in [("_exps", experts), ("", ffn)] {
            for (j, proj) in ["gate", "up", "down"].iter().enumerate() {
                if total == 0 {
                    continue;
                }
                let share = total / 3 + u64::from(j == 2) * (total % 3);
                rest = rest.saturating_sub(share);
                let name = format!("blk.{i}.ffn_{proj}{kind}.weight");
                let mut gpu = home_gpu && !(kind == "_exps" && (i as u64) < n_cpu_moe);
                if let Some(rule) = rules.iter().find(|r| r.pattern.is_match(&name)) {
                    gpu = rule.dev != Dev::Cpu;
                }
                match (kind == "_exps", gpu) {
                    (true, true) => exp_gpu += share,
                    (true, false) => exp_cpu += share,
                    (false, true) => dense_gpu += share,
                    (false, false) => dense_cpu += share,
                }
                if kind == "_exps" && home_gpu && !gpu {
                    r.moved_experts += share as f64;
                }
            }
        }
        if home_gpu {
            dense_gpu += rest;
            r.gpu_blocks += 1;
        } else {
            dense_cpu += rest;
        }
        r.gpu_dense += dense_gpu as f64;
        r.cpu_dense += dense_cpu as f64;
        r.gpu_experts += exp_gpu as f64;
        r.cpu_experts += exp_cpu as f64;
    }
    Ok(r)
}

/// `--split-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitMode {
    Layer,
    Row,
    None,
}

/// One `-ot PATTERN=DEVICE` rule.
struct Override {
    pattern: regex_lite::Regex,
    text: String,
    dev: Dev,
}

fn overrides(w: &Workload, gpus: usize) -> Result<Vec<Override>> {
    let mut out = Vec::new();
    for rule in &w.llama_cpp.override_tensor {
        for part in rule.split(',').filter(|p| !p.trim().is_empty()) {
            let (pat, dev) = part.rsplit_once('=').ok_or_else(|| {
                Error::workload("--override-tensor", format!("{part:?} is not PATTERN=DEVICE (exps=CPU)"))
            })?;
            let d = dev.trim().to_ascii_uppercase();
            let dev = if d == "CPU" || d == "CUDA_HOST" {
                Dev::Cpu
            } else if let Some(i) = d.strip_prefix("CUDA").and_then(|n| n.parse::<usize>().ok()) {
                if i >= gpus {
                    return Err(Error::workload(
                        "--override-tensor",
                        format!("{dev} is not one of the {gpus} GPUs (CUDA0..CUDA{})", gpus.saturating_sub(1)),
                    ));
                }
                Dev::Gpu(i)
            } else {
                return Err(Error::workload(
                    "--override-tensor",
                    format!("unknown buffer type {dev:?}; use CPU or CUDA0, CUDA1, ..."),
                ));
            };
            let pattern = regex_lite::Regex::new(pat).map_err(|e| {
                Error::workload("--override-tensor", format!("{pat:?} is not a regular expression: {e}"))
            })?;
            out.push(Override { pattern, text: part.to_string(), dev });
        }
    }
    Ok(out)
}

/// Per-device sums.
#[derive(Debug, Clone, Copy, Default)]
struct Bufs {
    model: u64,
    kv: u64,
    compute: u64,
    /// The multimodal projector's weights (`--mmproj`, clip's own buffer).
    mmproj: u64,
    /// The projector's warm-up compute buffer (`alloc_compute_meta`, its own scheduler).
    mmproj_compute: u64,
    /// A LoRA adapter's tensors (`--lora`, the "LoRA buffer").
    lora: u64,
    /// Recurrent layers' conv and SSM states (the "RS buffer" of `llama_memory_recurrent`).
    rs: u64,
}

/// Each device's buffers.
type DeviceMap = std::collections::BTreeMap<Dev, Bufs>;

fn put(bufs: &mut DeviceMap, d: Dev, f: &dyn Fn(&mut Bufs)) {
    f(bufs.entry(d).or_default());
}

/// What the workload asks of llama.cpp and what the build does with it, resolved once.
struct Settings<'a> {
    b: LlamaCppBehaviour,
    /// Ollama's defaults, when Ollama drives this llama.cpp.
    ollama: Option<OllamaDefaults>,
    o: &'a LlamaCppOptions,
    k_type: &'static GgmlType,
    v_type: &'static GgmlType,
    flash: bool,
}

impl<'a> Settings<'a> {
    /// The settings of `w`, with a note where Ollama overrides the asked cache type.
    fn of(spec: &ModelSpec, w: &'a Workload, notes: &mut Vec<String>) -> Result<Self> {
        if !spec.is_decoder {
            return Err(Error::workload(
                "--runtime",
                format!("llama.cpp runs decoder models; {} is an encoder", spec.model_type),
            ));
        }
        let profile = w.profile();
        let b = profile.inference.llamacpp.unwrap_or_else(|| LlamaCppBehaviour::of(w.runtime_version));
        let ollama = profile.inference.ollama;
        let o = &w.llama_cpp;
        let mut k_type = kv_cache_type(w)?;
        let mut v_type = v_cache_type(w)?;
        let flash = o.flash_attn.unwrap_or(match w.attn {
            AttnImpl::Flash => true,
            AttnImpl::Eager | AttnImpl::Math => false,
            AttnImpl::Sdpa => b.flash_by_default,
        });
        if ollama.is_some() && !flash && (k_type.block > 1 || v_type.block > 1) {
            // llm/memory.go: OLLAMA_KV_CACHE_TYPE is used only with flash attention.
            notes.push(format!(
                "Ollama ignores the {}/{} KV cache type without flash attention (OLLAMA_FLASH_ATTENTION=1): f16",
                k_type.name, v_type.name
            ));
            k_type = cache_type("F16", "--cache-type-k")?;
            v_type = k_type;
        }
        if v_type.block > 1 && !flash {
            return Err(Error::workload(
                "--attn",
                format!(
                    "llama.cpp quantizes the V cache ({}) only with flash attention; use --attn flash or an f16 cache",
                    v_type.name
                ),
            ));
        }
        Ok(Settings { b, ollama, o, k_type, v_type, flash })
    }
}

/// The devices and the device of each layer (`load_tensors`: `i_gpu_start`,
/// `act_gpu_layers`, the cumulative `--tensor-split`, `--split-mode`, `--main-gpu`).
struct Layout {
    gpus: usize,
    mode: SplitMode,
    main: usize,
    /// `--tensor-split` shares, one per GPU, and their sum.
    shares: Vec<f64>,
    sum: f64,
    /// `-ngl` as asked (or every layer and the output).
    ngl: u64,
    n_layer: u64,
    layer_dev: Vec<Dev>,
    /// The output layer's device (layer index `n_layer`).
    output_dev: Dev,
}

impl Layout {
    fn of(w: &Workload, b: &LlamaCppBehaviour, n_layer: u64) -> Result<Self> {
        let o = &w.llama_cpp;
        let gpus = usize::try_from(w.parallel.gpus_per_node.max(1)).unwrap_or(1).max(o.tensor_split.len()).max(1);
        let mode = match o.split_mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("layer") => SplitMode::Layer,
            Some("row") => SplitMode::Row,
            Some("none") => SplitMode::None,
            Some(other) => {
                return Err(Error::workload("--split-mode", format!("{other:?} is not layer, row or none")));
            }
        };
        let main = usize::try_from(o.main_gpu.unwrap_or(0)).unwrap_or(usize::MAX);
        if main >= gpus {
            return Err(Error::workload("--main-gpu", format!("GPU {main} is not one of the {gpus} GPUs")));
        }
        let shares: Vec<f64> = if o.tensor_split.is_empty() || o.tensor_split.iter().all(|&s| s == 0) {
            vec![1.0; gpus]
        } else {
            let mut v: Vec<f64> = o.tensor_split.iter().map(|&s| s as f64).collect();
            v.resize(gpus, 0.0);
            v
        };
        let sum: f64 = shares.iter().sum();
        let splits: Vec<f64> = shares
            .iter()
            .scan(0.0, |acc, s| {
                *acc += s;
                Some(*acc / sum)
            })
            .collect();
        let ngl = o.n_gpu_layers.unwrap_or(n_layer + 1).min(n_layer + 1);
        let act = ngl.min(n_layer + 1);
        let i_gpu_start = b.first_gpu_layer(n_layer, ngl);
        // Index n_layer is the output layer.
        let dev_of = |il: u64| -> Dev {
            if il < i_gpu_start || il - i_gpu_start >= act || act == 0 {
                return Dev::Cpu;
            }
            match mode {
                SplitMode::Layer => {
                    let x = (il - i_gpu_start) as f64 / act as f64;
                    Dev::Gpu(splits.iter().position(|&s| s > x).unwrap_or(gpus - 1).min(gpus - 1))
                }
                SplitMode::Row | SplitMode::None => Dev::Gpu(main),
            }
        };
        let layer_dev: Vec<Dev> = (0..n_layer).map(dev_of).collect();
        let output_dev = dev_of(n_layer);
        Ok(Layout { gpus, mode, main, shares, sum, ngl, n_layer, layer_dev, output_dev })
    }

    /// The device of block `i` (host memory past the model's blocks).
    fn dev(&self, i: usize) -> Dev {
        self.layer_dev.get(i).copied().unwrap_or(Dev::Cpu)
    }

    /// Blocks on a GPU.
    fn gpu_layers(&self) -> u64 {
        self.layer_dev.iter().filter(|d| matches!(d, Dev::Gpu(_))).count() as u64
    }
}

/// What placing the model's tensors leaves for the notes and the host's mapped span.
struct ModelBuffers<'r> {
    /// Expert (or FFN) bytes `--n-cpu-moe` / `-ot` moved to host memory.
    moved_experts: u64,
    /// The last block with a tensor in host memory.
    last_host_layer: Option<usize>,
    /// `-ot` rules that matched no tensor.
    unmatched: Vec<&'r str>,
}

/// The model buffer of each device: token embeddings on the host, each block on its device
/// but for the expert / FFN tensors `--n-cpu-moe` and `-ot` move (split by rows over the GPUs
/// with `--split-mode row`), the output layer on its device.
fn model_buffers<'r>(
    place: &Placement,
    layout: &Layout,
    rules: &'r [Override],
    n_cpu_moe: u64,
    bufs: &mut DeviceMap,
) -> ModelBuffers<'r> {
    put(bufs, Dev::Cpu, &|x| x.model = x.model.saturating_add(place.input));
    let mut m = ModelBuffers {
        moved_experts: 0,
        last_host_layer: None,
        unmatched: rules.iter().map(|r| r.text.as_str()).collect(),
    };
    for (i, &bytes) in place.layers.iter().enumerate() {
        let home = layout.dev(i);
        let experts = place.experts.get(i).copied().unwrap_or(0);
        let ffn = place.ffn.get(i).copied().unwrap_or(0);
        let mut rest = bytes;
        // Thirds of the expert and dense-FFN tensors by name: gate, up, down.
        let mut parts: Vec<(String, u64, Dev)> = Vec::new();
        for (kind, total) in [("_exps", experts), ("", ffn)] {
            if total == 0 {
                continue;
            }
            for (j, proj) in ["gate", "up", "down"].iter().enumerate() {
                let share = total / 3 + u64::from(j == 2) * (total % 3);
                let name = format!("blk.{i}.ffn_{proj}{kind}.weight");
                let mut dev = home;
                if kind == "_exps" && (i as u64) < n_cpu_moe {
                    dev = Dev::Cpu;
                }
                if let Some(r) = rules.iter().find(|r| r.pattern.is_match(&name)) {
                    dev = r.dev;
                    m.unmatched.retain(|u| *u != r.text);
                }
                parts.push((name, share, dev));
            }
        }
        if home == Dev::Cpu || parts.iter().any(|p| p.2 == Dev::Cpu) {
            m.last_host_layer = Some(i);
        }
        for (_, share, dev) in &parts {
            if *dev != home {
                rest = rest.saturating_sub(*share);
                put(bufs, *dev, &|x| x.model = x.model.saturating_add(*share));
                if *dev == Dev::Cpu {
                    m.moved_experts = m.moved_experts.saturating_add(*share);
                }
            }
        }
        match (layout.mode, home) {
            (SplitMode::Row, Dev::Gpu(_)) => {
                // The block's matrices split by rows over every GPU by the shares.
                for (g, s) in layout.shares.iter().enumerate() {
                    let part = (rest as f64 * s / layout.sum) as u64;
                    put(bufs, Dev::Gpu(g), &|x| x.model = x.model.saturating_add(part));
                }
            }
            (_, Dev::Gpu(_)) => {
                let extra = place.cuda_extra.get(i).copied().unwrap_or(0);
                put(bufs, home, &|x| x.model = x.model.saturating_add(rest).saturating_add(extra));
            }
            _ => put(bufs, home, &|x| x.model = x.model.saturating_add(rest)),
        }
    }
    let output_dev = layout.output_dev;
    let output_extra = if matches!(output_dev, Dev::Gpu(_)) { place.output_cuda_extra } else { 0 };
    put(bufs, output_dev, &|x| x.model = x.model.saturating_add(place.output).saturating_add(output_extra));
    m
}

/// The `--mmproj` projector's and the `--lora` adapter's buffers.
fn adapter_buffers(s: &Settings, layout: &Layout, bufs: &mut DeviceMap, notes: &mut Vec<String>) {
    let (o, b) = (s.o, &s.b);
    if let Some(mm) = o.mmproj_bytes {
        // tools/mtmd clip.cpp clip_ctx: the projector loads on the first GPU device
        // (ggml_backend_init_by_type(GPU): CUDA0, whatever --main-gpu says) unless
        // --no-mmproj-offload; llama-server passes mmproj_use_gpu, not -ngl (tools/server
        // load_model: mparams.use_gpu = params_base.mmproj_use_gpu).
        let d = if layout.gpus > 0 { Dev::Gpu(0) } else { Dev::Cpu };
        put(bufs, d, &|x| x.mmproj = x.mmproj.saturating_add(mm));
        let buffers = o.mmproj_projector.as_ref().map(|r| {
            r.clone().and_then(|p| {
                mmproj::graph::warmup_buffers(&p, s.flash, d != Dev::Cpu).map(|c| (p, c)).map_err(|e| e.to_string())
            })
        });
        match buffers {
            Some(Ok((p, c))) => {
                put(bufs, d, &|x| x.mmproj_compute = x.mmproj_compute.saturating_add(c.device));
                put(bufs, Dev::Cpu, &|x| x.mmproj_compute = x.mmproj_compute.saturating_add(c.host));
                notes.push(format!(
                    "--mmproj: {} B of projector weights on {}; {} warm-up image {}x{} ({} patches, {} nodes, flash attention {}): compute buffer {} B on {}{}",
                    thousands(mm),
                    d.name(),
                    p.kind.gguf_name(),
                    c.side,
                    c.side,
                    thousands(c.patches),
                    c.nodes,
                    if s.flash { "on" } else { "off" },
                    thousands(if d == Dev::Cpu { c.host } else { c.device }),
                    d.name(),
                    if d == Dev::Cpu {
                        String::new()
                    } else {
                        format!(" and {} B on the host (the graph's inputs)", thousands(c.host))
                    }
                ));
                if p.kind == mmproj::ProjectorKind::LlavaMlp {
                    notes.push(
                        "--mmproj: the mlp (LLaVA) graph is read from clip.cpp's llava builder; no public log checks its buffer yet (the Qwen and Gemma 3 projectors' reproduce fifteen)"
                            .into(),
                    );
                }
            }
            Some(Err(why)) => notes.push(format!(
                "--mmproj: {} B of projector weights on {}; its compute buffer is not counted: {why}",
                thousands(mm),
                d.name()
            )),
            None => notes.push(format!(
                "--mmproj: {} B of projector weights on {}; the vision encoder's own compute buffer (per image) is not counted",
                thousands(mm),
                d.name()
            )),
        }
    }
    let lora = o.lora.as_ref().filter(|_| b.lora_buffers);
    if o.lora.is_some() && lora.is_none() {
        notes.push(format!(
            "--lora: build b{} merges the adapter into the model's weights at load (no LoRA buffer)",
            b.build
        ));
    }
    if let Some(lora) = lora {
        // src/llama-adapter.cpp llama_adapter_lora_init_impl: each lora_a/lora_b tensor goes
        // to the buffer type of the model tensor it adapts (the block's device); tensors
        // outside the blocks are counted with the output layer.
        for (i, &bytes) in lora.block_bytes.iter().enumerate() {
            put(bufs, layout.dev(i), &|x| x.lora = x.lora.saturating_add(bytes));
        }
        put(bufs, layout.output_dev, &|x| x.lora = x.lora.saturating_add(lora.other_bytes));
        if lora.block_bytes.len() as u64 > layout.n_layer {
            notes.push(format!(
                "--lora: the adapter has tensors for {} blocks, the model {}",
                lora.block_bytes.len(),
                layout.n_layer
            ));
        }
    }
}

/// The host's buffer maps the file from its first to its last host tensor
/// (llama-model-loader get_mapping_range; file order: token_embd, blk.0 .. blk.N-1,
/// output): the log prints that span, GPU tensors inside it included.
fn host_mapped_span(
    place: &Placement,
    output_dev: Dev,
    last_host_layer: Option<usize>,
    bufs: &mut DeviceMap,
    notes: &mut Vec<String>,
) {
    let resident = bufs.get(&Dev::Cpu).map_or(0, |x| x.model);
    let span_end = if output_dev == Dev::Cpu { Some(place.layers.len()) } else { last_host_layer.map(|i| i + 1) };
    if let Some(end) = span_end {
        let span = place.layers[..end]
            .iter()
            .fold(place.input, |a, b| a.saturating_add(*b))
            .saturating_add(if output_dev == Dev::Cpu { place.output } else { 0 });
        if span > resident {
            notes.push(format!(
                "the host's mapped model buffer spans {} B of the file; {} B of it are host tensors (the rest is read once for the GPUs)",
                thousands(span),
                thousands(resident)
            ));
            put(bufs, Dev::Cpu, &|x| x.model = span);
        }
    }
}

/// The context llama.cpp creates (`llama-context.cpp`): sequences, cells and batches.
struct Context {
    /// Sequences (`--parallel` / `n_seq_max`).
    n_seq: u64,
    /// Cells asked for, and the padding applied.
    asked: u64,
    pad: u64,
    n_ctx: u64,
    /// Tokens of the reserved graph (`n_ubatch`, or `n_batch` in builds without it).
    t: u64,
}

impl Context {
    fn of(w: &Workload, s: &Settings) -> Self {
        let (o, b) = (s.o, &s.b);
        let n_seq = o.n_seq_max.unwrap_or(s.ollama.map_or(w.batch, |d| d.num_parallel)).max(1);
        // Ollama's num_ctx is per sequence; its runner gets num_ctx × num_parallel.
        let asked = match s.ollama {
            Some(d) => w.kv_prealloc.unwrap_or_else(|| d.num_ctx_for(None)).saturating_mul(n_seq),
            None => w.kv_prealloc.unwrap_or_else(|| w.batch.saturating_mul(w.prompt.saturating_add(w.new_tokens))),
        }
        .max(1);
        let pad = if s.flash || b.ctx_pad_256 { CTX_PAD } else { 32 };
        let n_ctx = align_up(asked, pad);
        let n_batch = n_ctx.min(o.n_batch.unwrap_or(b.default_batch).max(1));
        let t = if b.has_ubatch { n_batch.min(o.n_ubatch.unwrap_or(DEFAULT_UBATCH).max(1)) } else { n_batch };
        Context { n_seq, asked, pad, n_ctx, t }
    }

    /// Rows of each recurrent layer's state: `mem_size = max(1, n_seq_max)` (`create_memory`),
    /// × `1 + n_rs_seq`, where `n_rs_seq` is 0 unless speculative decoding with a draft
    /// head asks for rollback snapshots (not modelled).
    fn rs_rows(&self) -> u64 {
        self.n_seq.max(1)
    }

    /// Cells of a sliding-window layer's cache: `min(n_ctx, GGML_PAD(n_swa·n_seq + n_ubatch, 256))`.
    fn swa_cells(&self, window: u64) -> u64 {
        self.n_ctx.min(align_up(window.saturating_mul(self.n_seq).saturating_add(self.t), CTX_PAD))
    }
}

/// How llama.cpp stores a recurrent layer's state: `create_memory` passes `GGML_TYPE_F32`
/// for both R (conv) and S (SSM) and `n_embd_r()` keeps `d_conv - 1` columns
/// (`src/llama-model.cpp`, `src/llama-hparams.cpp`, ggml-org/llama.cpp 0054ee8c).
const RS_LAYOUT: StateLayout = StateLayout { conv_columns: ConvColumns::KernelMinusOne, conv_bytes: 4, state_bytes: 4 };

/// The KV cache of each attending block and the recurrent state of each recurrent block on
/// its device; returns the number of sliding-window layers.
fn kv_buffers(spec: &ModelSpec, s: &Settings, layout: &Layout, ctx: &Context, bufs: &mut DeviceMap) -> Result<u64> {
    let honor_swa = spec.quirks.llamacpp_iswa;
    let mut swa_layers = 0u64;
    let row = |ty: &GgmlType, elements: u64, flag: &str| -> Result<u64> {
        if elements % ty.block != 0 {
            return Err(Error::workload(
                flag,
                format!(
                    "{} needs K/V rows that are multiples of {} elements; this model's are {elements}",
                    ty.name, ty.block
                ),
            ));
        }
        Ok(elements / ty.block * ty.bytes)
    };
    for (i, layer) in spec.layers.iter().enumerate() {
        if let Some(r) = layer.mixer.recurrent() {
            // llama_memory_hybrid: the recurrent layers get a state, not K/V.
            let bytes = prod(&[RS_LAYOUT.layer_bytes(r), ctx.rs_rows()]);
            put(bufs, layout.dev(i), &|x| x.rs = x.rs.saturating_add(bytes));
            continue;
        }
        if !layer.mixer.is_attention() {
            continue;
        }
        let a = &layer.attention;
        let (k, v) = match a.kv {
            KvLayout::Heads { kv_heads, k_dim, v_dim } => (kv_heads * k_dim, kv_heads * v_dim),
            // llama.cpp caches MLA's compressed latent and rope key as K; V is a view of it.
            KvLayout::Latent { kv_lora_rank, rope_dim, .. } => (kv_lora_rank + rope_dim, 0),
        };
        let cells = match (a.window, honor_swa) {
            (Some(win), true) => {
                swa_layers += 1;
                ctx.swa_cells(win)
            }
            _ => ctx.n_ctx,
        };
        let bytes = row(s.k_type, k, "--cache-type-k")?
            .saturating_add(row(s.v_type, v, "--cache-type-v")?)
            .saturating_mul(cells);
        put(bufs, layout.dev(i), &|x| x.kv = x.kv.saturating_add(bytes));
    }
    Ok(swa_layers)
}

/// The build's behaviours this estimate used, as one note.
fn behaviour_note(b: &LlamaCppBehaviour) -> String {
    format!(
        "llama.cpp build {} behaviours: -ngl {}; {}; FFN {}; logits of the reserved graph {}",
        b.build,
        if b.ngl_counts_output {
            "counts the output layer"
        } else {
            "counts repeating blocks, output layer only above n_layer"
        },
        if b.has_ubatch { "micro-batch -ub" } else { "no micro-batch (the graph has n_batch tokens)" },
        if b.glu_op { "GLU op (gate, up, product live)" } else { "activation and product in place" },
        if b.outputs_max {
            "min(n_ubatch, n_outputs_max = n_seq_max) rows (llama-server)"
        } else {
            "one row per micro-batch token"
        },
    )
}

/// Estimate llama.cpp's memory for `w` on `spec`.
///
/// # Errors
/// Encoder models, cache types llama.cpp lacks, a quantized V cache without flash
/// attention, cache rows that are not whole blocks of the cache type, bad split or override
/// settings.
pub fn estimate_llamacpp(spec: &ModelSpec, w: &Workload) -> Result<Breakdown> {
    let mut notes = Vec::new();
    let s = Settings::of(spec, w, &mut notes)?;
    let place = placement(spec, w)?;
    let n_layer = spec.num_layers();
    let layout = Layout::of(w, &s.b, n_layer)?;
    let rules = overrides(w, layout.gpus)?;
    let mut bufs = DeviceMap::new();
    let model = model_buffers(&place, &layout, &rules, s.o.n_cpu_moe.unwrap_or(0), &mut bufs);
    adapter_buffers(&s, &layout, &mut bufs, &mut notes);
    host_mapped_span(&place, layout.output_dev, model.last_host_layer, &mut bufs, &mut notes);
    for u in model.unmatched {
        notes.push(format!(
            "-ot {u}: matches no expert or FFN tensor of this model (attention tensors are not moved by patterns here)"
        ));
    }
    if w.task == Task::Load {
        return Ok(report::assemble(&bufs, &layout, &place, None, notes, Phase::Load));
    }
    let ctx = Context::of(w, &s);
    let swa_layers = kv_buffers(spec, &s, &layout, &ctx, &mut bufs)?;
    let (compute_notes, out_rows) = compute::compute_buffers(spec, &s, &layout, &ctx, swa_layers, &mut bufs);
    let graph = report::GraphSummary {
        pad: ctx.pad,
        t: ctx.t,
        n_ctx: ctx.n_ctx,
        asked: ctx.asked,
        swa_layers,
        flash: s.flash,
        out_rows,
        k: s.k_type.name.clone(),
        v: s.v_type.name.clone(),
        compute: compute_notes,
        n_seq: ctx.n_seq,
        vocab: spec.vocab_size,
        recurrent: spec.recurrent_layers().next().map(|(_, r)| *r),
        recurrent_layers: spec.recurrent_layers().count() as u64,
    };
    let cpu_layers = n_layer - layout.gpu_layers();
    if cpu_layers > 0 {
        notes.push(format!(
            "{cpu_layers} blocks run on the CPU: slower, but their weights and KV cache use host memory"
        ));
    }
    if model.moved_experts > 0 {
        notes.push(format!(
            "{} B of expert weights kept in host memory (--n-cpu-moe / -ot); with op offload (default) prompt batches copy them to the GPU per micro-batch (not counted)",
            thousands(model.moved_experts)
        ));
    }
    notes.push(behaviour_note(&s.b));
    let printed = s.ollama.map(|d| {
        let per_seq = ctx.asked / ctx.n_seq;
        super::ollama::printed_estimate(
            spec,
            &super::ollama::OllamaInputs {
                layers: &place.layers,
                gate_exps: place.experts.first().copied().unwrap_or(0) / 3,
                output: place.output,
                context: ctx.asked,
                batch: per_seq.min(d.num_batch),
                cache_type: &s.k_type.name.to_ascii_lowercase(),
                minimum_memory: d.minimum_memory,
            },
        )
    });
    if let Some(p) = &printed {
        notes.push(p.describe());
    }
    let mut out = report::assemble(&bufs, &layout, &place, Some(graph), notes, Phase::ContextCreation);
    out.ollama = printed;
    Ok(out)
}

/// The figure a llama.cpp log line prints, from an estimate: `metric` is
/// `llamacpp_model_buffer`, `llamacpp_kv_buffer` or `llamacpp_compute_buffer`, `device` as the
/// line names it (`CUDA0`, `CUDA1`, `CPU`, `CPU_Mapped`, `CUDA_Host`). Host buffers read the
/// host row (`CUDA_Host` compute excludes the output buffer, which has a line of its own).
#[must_use]
pub fn log_figure(b: &Breakdown, metric: &str, device: &str) -> Option<u64> {
    let host = matches!(device, "CPU" | "CPU_Mapped" | "CUDA_Host" | "Metal_Mapped");
    let row = b.devices.iter().find(|d| if host { d.device == "CPU" } else { d.device == device })?;
    match metric {
        "llamacpp_model_buffer" => Some(row.model_bytes),
        "llamacpp_kv_buffer" => Some(row.kv_bytes),
        "llamacpp_compute_buffer" => Some(row.compute_bytes),
        "llamacpp_rs_buffer" => Some(row.recurrent_bytes),
        _ => None,
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find_model;
    use crate::quant::QuantConfig;
    use crate::ComponentKind;

    fn llama7b() -> ModelSpec {
        find_model("llama-2-7b").unwrap().spec().unwrap()
    }

    fn w() -> Workload {
        Workload {
            runtime: super::super::Runtime::LlamaCpp,
            prompt: 1000,
            new_tokens: 24,
            quant: Some(QuantConfig::parse("q4_k_m", None).unwrap()),
            ..Workload::default()
        }
    }

    #[test]
    fn kv_cache_pads_the_context_and_uses_block_sizes() {
        let b = estimate_llamacpp(&llama7b(), &w()).unwrap();
        // 1024 tokens: 32 layers × 2 × 4096 × 2 B × 1024.
        assert_eq!(b.component(ComponentKind::KvCache), 32 * 2 * 4096 * 2 * 1024);
        let q8 = Workload {
            llama_cpp: super::super::LlamaCppOptions { cache_type: Some("q8_0".into()), ..Default::default() },
            prompt: 1001,
            ..w()
        };
        let b = estimate_llamacpp(&llama7b(), &q8).unwrap();
        // 1025 tokens pad to 1280; q8_0 stores 32 elements in 34 bytes.
        assert_eq!(b.component(ComponentKind::KvCache), 32 * 2 * (4096 / 32 * 34) * 1280);
    }

    #[test]
    fn ngl_moves_blocks_to_the_host() {
        let all = estimate_llamacpp(&llama7b(), &w()).unwrap();
        let half = Workload {
            llama_cpp: super::super::LlamaCppOptions { n_gpu_layers: Some(17), ..Default::default() },
            ..w()
        };
        let half = estimate_llamacpp(&llama7b(), &half).unwrap();
        assert!(half.component(ComponentKind::Weights) < all.component(ComponentKind::Weights) * 6 / 10);
        assert_eq!(half.component(ComponentKind::KvCache), all.component(ComponentKind::KvCache) / 2);
        assert!(half.host_bytes > all.host_bytes + all.component(ComponentKind::Weights) / 3);
        let none = Workload {
            llama_cpp: super::super::LlamaCppOptions { n_gpu_layers: Some(0), ..Default::default() },
            ..w()
        };
        assert_eq!(estimate_llamacpp(&llama7b(), &none).unwrap().component(ComponentKind::Weights), 0);
    }

    #[test]
    fn cuda_pads_quantized_rows_to_512_and_tensors_to_128_bytes() {
        let q4k = ggml_type("Q4_K").unwrap();
        // Llama-2's ffn_down: rows of 11008 (256 past a multiple of 512): one more 256-wide
        // Q4_K row part (144 B), then 25,362,432 + 144 rounded up to 128 = +256.
        let bytes = 11008 / 256 * 144 * 4096;
        assert_eq!(cuda_extra_bytes(q4k, 11008, bytes), 256);
        // Rows that are a multiple of 512 take nothing extra.
        assert_eq!(cuda_extra_bytes(q4k, 4096, 4096 / 256 * 144 * 4096), 0);
        // F16 is not padded by rows, only aligned.
        assert_eq!(cuda_extra_bytes(ggml_type("F16").unwrap(), 11008, 100), 28);
    }

    #[test]
    fn log_figures_by_device() {
        let b = estimate_llamacpp(&llama7b(), &w()).unwrap();
        assert_eq!(log_figure(&b, "llamacpp_kv_buffer", "CUDA0"), Some(b.component(ComponentKind::KvCache)));
        assert_eq!(
            log_figure(&b, "llamacpp_model_buffer", "CPU_Mapped"),
            Some(b.component(ComponentKind::HostWeights))
        );
        assert_eq!(
            log_figure(&b, "llamacpp_compute_buffer", "CUDA_Host"),
            Some(b.component(ComponentKind::HostComputeBuffer))
        );
        assert_eq!(log_figure(&b, "llamacpp_kv_buffer", "CUDA1"), None);
    }

    #[test]
    fn quantized_v_cache_needs_flash_attention() {
        let bad = Workload {
            attn: AttnImpl::Eager,
            llama_cpp: super::super::LlamaCppOptions { cache_type: Some("q4_0".into()), ..Default::default() },
            ..w()
        };
        assert!(estimate_llamacpp(&llama7b(), &bad).unwrap_err().to_string().contains("--attn"));
        let fp8 = Workload { kv_dtype: Some(DType::Fp8), ..w() };
        assert!(estimate_llamacpp(&llama7b(), &fp8).unwrap_err().to_string().contains("--kv-dtype"));
    }
}
