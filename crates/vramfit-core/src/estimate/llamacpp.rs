//! llama.cpp: everything is allocated when the context is created, so the peak is the sum of
//! the model buffers, the KV cache for the whole (padded) context, and the compute buffer
//! the graph allocator reserves for the worst micro-batch. `-ngl` splits blocks between the
//! GPU and host memory; the token embeddings always stay on the host.
//!
//! Sources (ggml-org/llama.cpp):
//! - `src/llama-model.cpp` `load_tensors`: `i_gpu_start = max(n_layer + 1 - n_gpu_layers, 0)`;
//!   blocks from `i_gpu_start` on, and the output layer (index `n_layer`) when
//!   `n_gpu_layers ≥ 1`, go to the GPU; "there is very little benefit to offloading the input
//!   layer, so always keep it on the CPU"; a model without `output.weight` duplicates
//!   `token_embd` onto the output layer's device.
//! - `src/llama-context.cpp`: `cparams.n_ctx = GGML_PAD(cparams.n_ctx, 256)`; `n_batch =
//!   min(n_ctx, n_batch)`, `n_ubatch = min(n_batch, n_ubatch)` (defaults 2048 and 512);
//!   `graph_reserve` builds the graph for `n_ubatch` tokens, all of them outputs.
//! - `src/llama-kv-cache.cpp`: per layer, K `[n_embd_k_gqa, kv_size]` and V
//!   `[n_embd_v_gqa, kv_size]` of `type_k`/`type_v` (`ggml_row_size`), on the layer's device
//!   (`offload_kqv`); `src/llama-kv-cache-iswa.cpp`: sliding-window layers get
//!   `min(n_ctx, GGML_PAD(n_swa·n_seq + n_ubatch, 256))` cells unless `--swa-full`.
//! - `src/llama-context.cpp` (`llama_context` constructor): a quantized V cache needs flash
//!   attention.
//! - `src/llama-graph.cpp` `build_attn_mha` / `build_ffn` / `build_moe_ffn` for what the
//!   compute buffer holds; `ggml/src/ggml-alloc.c` frees each tensor after its last use.

use super::breakdown::{prod, thousands, Breakdown, Component};
use super::overhead;
use super::workload::{AttnImpl, Task, Workload};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::model::{CheckpointFormat, KvLayout, ModelSpec};
use crate::quant::{ggml_type, GgmlType, Quant};
use crate::units::align_up;

const SRC_LOAD: &str =
    "llama.cpp src/llama-model.cpp load_tensors (i_gpu_start = n_layer + 1 − n_gpu_layers; input layer on the CPU)";
const SRC_KV: &str =
    "llama.cpp src/llama-kv-cache.cpp (K, V per layer: ggml_row_size(type, n_embd_gqa) × kv_size); src/llama-context.cpp (n_ctx padded to 256)";
const SRC_COMPUTE: &str = "llama.cpp src/llama-context.cpp graph_reserve (n_ubatch tokens, all outputs), src/llama-graph.cpp build_attn_mha/build_ffn, ggml/src/ggml-alloc.c (tensors freed after last use)";

/// KV cache types llama.cpp accepts (`common/arg.cpp` `kv_cache_types`).
pub const KV_CACHE_TYPES: &[&str] = &["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "IQ4_NL", "Q5_0", "Q5_1"];

/// Default `--ubatch-size`.
pub const DEFAULT_UBATCH: u64 = 512;
/// Default `--batch-size`.
pub const DEFAULT_BATCH: u64 = 2048;
/// Context padding (`GGML_PAD(n_ctx, 256)`).
pub const CTX_PAD: u64 = 256;

/// The KV cache type of a workload under llama.cpp.
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
    if !KV_CACHE_TYPES.contains(&name.as_str()) {
        return Err(Error::workload(
            "--kv-dtype",
            format!("{name:?} is not a llama.cpp cache type; use {}", KV_CACHE_TYPES.join(", ").to_ascii_lowercase()),
        ));
    }
    ggml_type(&name).ok_or_else(|| Error::workload("--kv-dtype", format!("{name} is missing from the GGML type table")))
}

/// How a block's or the model's tensors are stored for llama.cpp.
struct Placement {
    /// Bytes of each block's tensors.
    layers: Vec<u64>,
    /// Token embeddings (always on the host).
    input: u64,
    /// Output head (or the duplicated embeddings) plus the final norm.
    output: u64,
    /// How these were obtained.
    how: String,
}

fn placement(spec: &ModelSpec, w: &Workload) -> Result<Placement> {
    let override_weights = w.dtype.is_some() || w.quant.is_some();
    if let (Some(ck), false) = (&spec.checkpoint, override_weights) {
        if ck.format == CheckpointFormat::Gguf {
            let mut layers = ck.layer_bytes.clone();
            layers.resize(spec.layers.len().max(layers.len()), 0);
            let output = ck.output_bytes.saturating_add(if ck.has_output_head { 0 } else { ck.input_bytes });
            return Ok(Placement {
                layers,
                input: ck.input_bytes,
                output,
                how: format!("exact GGUF tensor bytes ({})", ck.describe()),
            });
        }
    }
    // From the spec: linears in the GGUF scheme (or dense dtype), norms and biases in F32 as
    // convert_hf_to_gguf.py writes them.
    let quant = w.quant.as_ref().or(spec.quantization.as_ref());
    let scheme = match quant.map(|q| &q.quant) {
        None => None,
        Some(Quant::Gguf { .. }) => quant,
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
    let n = spec.num_layers();
    let linear_bytes = |l: &crate::model::Linear, at: Option<(u64, u64)>| match scheme {
        Some(q) => q.weight_bytes(l, at),
        None => l.weight_numel().saturating_mul(dense),
    };
    let layers = spec
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let lin = layer
                .linears
                .iter()
                .map(|l| linear_bytes(l, Some((i as u64, n))).saturating_add(l.bias_numel().saturating_mul(4)))
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
        .collect();
    let embed_numel = spec.embeddings.iter().map(|t| t.numel).fold(0u64, u64::saturating_add);
    let embed_type = scheme
        .and_then(|q| match &q.quant {
            Quant::Gguf { scheme } => crate::quant::gguf_scheme(scheme).map(|s| s.default.as_str()),
            _ => None,
        })
        .unwrap_or(if dense == 4 { "F32" } else { "F16" });
    let input = crate::quant::gguf_bytes(embed_type, embed_numel);
    let norms =
        spec.final_norms.iter().map(crate::model::Norm::numel).fold(0u64, u64::saturating_add).saturating_mul(4);
    let head = match (&spec.lm_head, spec.tied_embeddings) {
        (Some(h), false) => linear_bytes(h, None),
        _ => input,
    };
    Ok(Placement {
        layers,
        input,
        output: head.saturating_add(norms),
        how: match scheme {
            Some(q) => format!("{} scheme applied to the model's tensors", q.label()),
            None => format!("parameters × {dense} B ({dtype})"),
        },
    })
}

/// Estimate llama.cpp's memory for `w` on `spec`.
///
/// # Errors
/// Encoder models, cache types llama.cpp lacks, a quantized V cache without flash
/// attention, cache rows that are not whole blocks of the cache type.
#[allow(clippy::too_many_lines)]
pub fn estimate_llamacpp(spec: &ModelSpec, w: &Workload) -> Result<Breakdown> {
    if !spec.is_decoder {
        return Err(Error::workload(
            "--runtime",
            format!("llama.cpp runs decoder models; {} is an encoder", spec.model_type),
        ));
    }
    let kv_type = kv_cache_type(w)?;
    let flash = !matches!(w.attn, AttnImpl::Eager | AttnImpl::Math);
    if kv_type.block > 1 && !flash {
        return Err(Error::workload(
            "--attn",
            format!(
                "llama.cpp quantizes the V cache ({}) only with flash attention; use --attn flash or an f16 cache",
                kv_type.name
            ),
        ));
    }
    let place = placement(spec, w)?;
    let n_layer = spec.num_layers();
    let ngl = w.llama_cpp.n_gpu_layers.unwrap_or(n_layer + 1).min(n_layer + 1);
    let i_gpu_start = (n_layer + 1).saturating_sub(ngl);
    let on_gpu = |il: u64| il >= i_gpu_start;
    let output_on_gpu = ngl >= 1;
    let gpu_layers = (0..n_layer).filter(|&i| on_gpu(i)).count() as u64;
    let mut notes = Vec::new();
    let mut host: Vec<(String, u64)> = Vec::new();

    // ---- model buffers ------------------------------------------------------------------
    let (mut gpu_weights, mut cpu_weights) = (0u64, place.input);
    for (i, b) in place.layers.iter().enumerate() {
        if on_gpu(i as u64) {
            gpu_weights = gpu_weights.saturating_add(*b);
        } else {
            cpu_weights = cpu_weights.saturating_add(*b);
        }
    }
    if output_on_gpu {
        gpu_weights = gpu_weights.saturating_add(place.output);
    } else {
        cpu_weights = cpu_weights.saturating_add(place.output);
    }
    host.push(("model (token_embd and blocks kept on the CPU, mmapped)".into(), cpu_weights));
    let mut components = vec![Component::new(
        "weights",
        gpu_weights,
        format!(
            "-ngl {ngl}: {gpu_layers} of {n_layer} blocks{} on the GPU, token_embd ({} B) on the CPU; {}",
            if output_on_gpu { " + output layer" } else { "" },
            thousands(place.input),
            place.how
        ),
        SRC_LOAD,
    )];
    if w.task == Task::Load {
        components.push(cuda_context());
        let mut b = Breakdown::from_components(components, "load", notes);
        b.host_bytes = cpu_weights;
        return Ok(b);
    }

    // ---- KV cache -------------------------------------------------------------------------
    let asked = w.kv_prealloc.unwrap_or_else(|| w.batch.saturating_mul(w.prompt.saturating_add(w.new_tokens))).max(1);
    let n_ctx = align_up(asked, CTX_PAD);
    let n_batch = n_ctx.min(DEFAULT_BATCH);
    let n_ubatch = n_batch.min(w.llama_cpp.n_ubatch.unwrap_or(DEFAULT_UBATCH).max(1));
    let honor_swa = spec.quirks.llamacpp_iswa;
    let (mut kv_gpu, mut kv_cpu, mut swa_layers) = (0u64, 0u64, 0u64);
    let row = |elements: u64| -> Result<u64> {
        if elements % kv_type.block != 0 {
            return Err(Error::workload(
                "--kv-dtype",
                format!(
                    "{} needs K/V rows that are multiples of {} elements; this model's are {elements}",
                    kv_type.name, kv_type.block
                ),
            ));
        }
        Ok(elements / kv_type.block * kv_type.bytes)
    };
    for (i, layer) in spec.layers.iter().enumerate() {
        let a = &layer.attention;
        let (k, v) = match a.kv {
            KvLayout::Heads { kv_heads, k_dim, v_dim } => (kv_heads * k_dim, kv_heads * v_dim),
            // llama.cpp caches MLA's compressed latent and rope key as K; V is a view of it.
            KvLayout::Latent { kv_lora_rank, rope_dim, .. } => (kv_lora_rank + rope_dim, 0),
        };
        let cells = match (a.window, honor_swa) {
            (Some(win), true) => {
                swa_layers += 1;
                n_ctx.min(align_up(win.saturating_mul(w.batch).saturating_add(n_ubatch), CTX_PAD))
            }
            _ => n_ctx,
        };
        let bytes = row(k)?.saturating_add(row(v)?).saturating_mul(cells);
        if on_gpu(i as u64) {
            kv_gpu = kv_gpu.saturating_add(bytes);
        } else {
            kv_cpu = kv_cpu.saturating_add(bytes);
        }
    }
    let first = spec.first_attention();
    let kv_w = first.map_or(0, |a| a.kv_width());
    components.push(Component::new(
        "kv_cache",
        kv_gpu,
        format!(
            "{gpu_layers} GPU layers × (K + V rows of {} elements in {}: {} B per {} elements) × n_ctx {} (asked {}, padded to 256){}",
            kv_w,
            kv_type.name,
            kv_type.bytes,
            kv_type.block,
            thousands(n_ctx),
            thousands(asked),
            if swa_layers > 0 {
                format!("; {swa_layers} sliding-window layers keep min(n_ctx, pad(window·n_seq + n_ubatch, 256)) cells")
            } else {
                String::new()
            }
        ),
        SRC_KV,
    ));
    if kv_cpu > 0 {
        host.push(("KV cache of the CPU layers".into(), kv_cpu));
    }

    // ---- compute buffer -------------------------------------------------------------------
    let t = n_ubatch;
    let h = spec.hidden_size;
    let heads = first.map_or(0, |a| a.heads);
    let q_w = first.map_or(0, super::super::model::Attention::q_width);
    let ff = spec
        .layers
        .iter()
        .map(|l| {
            let routed =
                if l.mlp.is_moe() { l.mlp.top_k.saturating_mul(l.mlp.intermediate) } else { l.mlp.intermediate };
            routed.saturating_add(l.mlp.shared_intermediate)
        })
        .max()
        .unwrap_or(0);
    let scores = if flash { 0 } else { prod(&[heads, n_ctx, t, 4]) };
    let attn = scores.saturating_add(prod(&[2 * q_w + kv_w, t, 4]));
    let ffn = prod(&[3, ff, t, 4]);
    let logits = prod(&[spec.vocab_size, t, 4]);
    let resid = prod(&[4, h, t, 4]);
    let gpu_compute = attn.max(ffn).max(if output_on_gpu { logits } else { 0 }).saturating_add(resid);
    components.push(Component::new(
        "compute_buffer",
        gpu_compute,
        format!(
            "max(attention {}, FFN 3·n_ff·t·4 = {}, logits V·t·4 = {}) + residual stream 4·h·t·4 = {}, with t = n_ubatch {t}{} (approximate graph-allocator peak)",
            if flash {
                format!("without scores (flash attention) = (2·q + kv)·t·4 = {}", thousands(attn))
            } else {
                format!("scores heads·n_ctx·t·4 = {heads}·{}·{t}·4 + q/k/v/out = {}", thousands(n_ctx), thousands(attn))
            },
            thousands(ffn),
            thousands(if output_on_gpu { logits } else { 0 }),
            thousands(resid),
            if flash { ", flash attention" } else { ", no flash attention" }
        ),
        SRC_COMPUTE,
    ));
    let cpu_layers = n_layer - gpu_layers;
    let mut host_compute = prod(&[h, t, 4]);
    if cpu_layers > 0 {
        host_compute = host_compute.saturating_add(attn.max(ffn).saturating_add(resid));
    }
    if !output_on_gpu {
        host_compute = host_compute.saturating_add(logits);
    }
    host.push(("host compute buffer (input embeddings, CPU layers)".into(), host_compute));
    host.push((
        "output buffer (logits of one position per sequence, f32)".into(),
        prod(&[spec.vocab_size, w.batch, 4]),
    ));
    components.push(cuda_context());

    let host_bytes = host.iter().fold(0u64, |a, (_, b)| a.saturating_add(*b));
    notes.push(format!(
        "host memory (CPU RAM): {} B = {}",
        thousands(host_bytes),
        host.iter().map(|(n, b)| format!("{n} {}", thousands(*b))).collect::<Vec<_>>().join(" + ")
    ));
    if cpu_layers > 0 {
        notes.push(format!(
            "{cpu_layers} blocks run on the CPU (-ngl {ngl} of {}): slower, but their weights and KV cache use host memory",
            n_layer + 1
        ));
    }
    notes.push(
        "llama.cpp allocates every buffer when the context is created: the peak does not depend on the phase".into(),
    );
    let mut b = Breakdown::from_components(components, "context creation (all buffers reserved)", notes);
    b.host_bytes = host_bytes;
    Ok(b)
}

fn cuda_context() -> Component {
    let mut c = overhead::cuda_context(true);
    c.formula =
        "CUDA context and ggml-cuda kernels with lazy module loading (512 MiB) + cuBLAS workspace (32 MiB)".into();
    c.source = "ggml/src/ggml-cuda/ggml-cuda.cu (one context and cuBLAS handle per device); PyTorch-free but the same CUDA runtime costs".into();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find_model;
    use crate::quant::QuantConfig;

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
        assert_eq!(b.component("kv_cache"), 32 * 2 * 4096 * 2 * 1024);
        let q8 = Workload {
            llama_cpp: super::super::LlamaCppOptions { cache_type: Some("q8_0".into()), ..Default::default() },
            prompt: 1001,
            ..w()
        };
        let b = estimate_llamacpp(&llama7b(), &q8).unwrap();
        // 1025 tokens pad to 1280; q8_0 stores 32 elements in 34 bytes.
        assert_eq!(b.component("kv_cache"), 32 * 2 * (4096 / 32 * 34) * 1280);
    }

    #[test]
    fn ngl_moves_blocks_to_the_host() {
        let all = estimate_llamacpp(&llama7b(), &w()).unwrap();
        let half = Workload {
            llama_cpp: super::super::LlamaCppOptions { n_gpu_layers: Some(17), ..Default::default() },
            ..w()
        };
        let half = estimate_llamacpp(&llama7b(), &half).unwrap();
        assert!(half.component("weights") < all.component("weights") * 6 / 10);
        assert_eq!(half.component("kv_cache"), all.component("kv_cache") / 2);
        assert!(half.host_bytes > all.host_bytes + all.component("weights") / 3);
        let none = Workload {
            llama_cpp: super::super::LlamaCppOptions { n_gpu_layers: Some(0), ..Default::default() },
            ..w()
        };
        assert_eq!(estimate_llamacpp(&llama7b(), &none).unwrap().component("weights"), 0);
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
