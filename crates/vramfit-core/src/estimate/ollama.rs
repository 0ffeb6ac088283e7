//! Ollama's own estimate: what it prints before loading a model (`msg="offload to cuda"` with
//! `memory.required.full`, `memory.required.kv`, `memory.graph.full` ...) and uses to pick how
//! many layers to offload. It is a prediction made from the GGUF's tensor sizes and its own
//! formulas, not what llama.cpp then allocates (that is the llama.cpp estimate beside it).
//!
//! Sources (github.com/ollama/ollama, `llm/memory.go` `estimateGPULayers` and `fs/ggml/ggml.go`
//! `GraphSize`, as of releases 0.5-0.12, before the November 2025 switch to measured layouts):
//! - KV per layer: `context × (head_dim_k + head_dim_v) × heads_kv × bytes per element` (f16 2,
//!   q8_0 1, q4_0 0.5), with `context = num_ctx × num_parallel` and no padding.
//! - `llama` architecture graphs: full offload `max(4·b·(1 + 4·h + ctx·(1 + heads)), 4·b·(h +
//!   vocab))`; partial `4·b·h + max(4·b·(1 + h + max(ctx, h)) + h²·9/16 + 4·ctx·(b·heads +
//!   head_dim·heads_kv), 4·b·(h + vocab) + h·vocab·105/128)`; with merged experts
//!   (`ffn_gate_exps`) partial is `max(3·|ffn_gate_exps| + 4·b·(2·ff + heads_kv + h + ctx +
//!   head_dim·heads_kv), 4·(ctx·b·heads + ctx·head_dim·heads_kv + b·1024 + head_dim·heads_kv·b))`.
//!   Other architectures without a case: `gqa × kv_total / 6` for both.
//! - Required (one GPU, everything offloaded): the CUDA minimum memory (457 MiB) + one layer
//!   as a buffer (`blk.0` and its KV) + every block with its KV + the output layer
//!   (`output_norm` and `output`, or `token_embd` when there is no `output`) + the graph.

use super::breakdown::thousands;
use crate::model::ModelSpec;
use serde::Serialize;

/// Ollama's printed estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OllamaEstimate {
    /// `memory.required.full`: everything offloaded to one GPU.
    pub required_full_bytes: u64,
    /// `memory.required.kv`.
    pub kv_bytes: u64,
    /// `memory.graph.full`.
    pub graph_full_bytes: u64,
    /// `memory.graph.partial`.
    pub graph_partial_bytes: u64,
    /// `memory.weights.total` (blocks and output layer).
    pub weights_total_bytes: u64,
    /// `layers.model`: blocks + the output layer.
    pub layers_model: u64,
    /// Which graph formula applied.
    pub graph_formula: String,
    /// Context Ollama sized everything for (`num_ctx × num_parallel`).
    pub context: u64,
    /// Each block with its KV, as the offload loop adds them (not printed).
    #[serde(skip)]
    pub layer_sizes: Vec<u64>,
    /// The output layer (`memoryLayerOutput`).
    #[serde(skip)]
    pub output_bytes: u64,
    /// The CUDA minimum memory it adds.
    #[serde(skip)]
    pub minimum_memory: u64,
}

/// How many layers Ollama offloads to one GPU with `free` bytes free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OllamaOffload {
    /// `layers.offload` (blocks, plus the output layer when it fits after them).
    pub layers: u64,
    /// `layers.model`.
    pub layers_model: u64,
    /// `memory.required.partial`: what it plans to put on the GPU.
    pub required_partial_bytes: u64,
    /// Every layer went to the GPU (the full graph is reserved, else the partial one).
    pub fully_loaded: bool,
}

impl OllamaEstimate {
    /// `estimateGPULayers` on one GPU with `free` bytes free (no `OLLAMA_GPU_OVERHEAD`, no
    /// `num_gpu` asked): the minimum memory and one layer as a buffer first, then blocks from
    /// the last while `free > used + max(graph) + layer`, then the output layer.
    #[must_use]
    pub fn offload(&self, free: u64) -> OllamaOffload {
        let graph = self.graph_full_bytes.max(self.graph_partial_bytes);
        let first = self.layer_sizes.first().copied().unwrap_or(0);
        let n = self.layer_sizes.len() as u64;
        if free < graph + self.minimum_memory + 2 * first {
            return OllamaOffload { layers: 0, layers_model: n + 1, required_partial_bytes: 0, fully_loaded: false };
        }
        let mut used = self.minimum_memory + first;
        let mut layers = 0u64;
        for size in self.layer_sizes.iter().rev() {
            if free > used + graph + size {
                used += size;
                layers += 1;
            } else {
                break;
            }
        }
        let mut fully = layers == n;
        if fully && free > used + graph + self.output_bytes {
            used += self.output_bytes;
            layers += 1;
        } else {
            fully = false;
        }
        used += if fully { self.graph_full_bytes } else { self.graph_partial_bytes };
        OllamaOffload { layers, layers_model: n + 1, required_partial_bytes: used, fully_loaded: fully }
    }
}

/// The inputs Ollama reads from the GGUF.
pub struct OllamaInputs<'a> {
    /// Bytes of each block's tensors.
    pub layers: &'a [u64],
    /// Bytes of one block's `ffn_gate_exps` (0 for dense models).
    pub gate_exps: u64,
    /// `output_norm` + `output` (or `token_embd` when the output is tied).
    pub output: u64,
    /// `num_ctx × num_parallel`.
    pub context: u64,
    /// `min(num_ctx, num_batch)`.
    pub batch: u64,
    /// K/V cache type as Ollama names it (`f16`, `q8_0`, `q4_0`).
    pub cache_type: &'a str,
    /// CUDA minimum memory.
    pub minimum_memory: u64,
}

/// Ollama's estimate for `spec`.
#[must_use]
pub fn printed_estimate(spec: &ModelSpec, i: &OllamaInputs<'_>) -> OllamaEstimate {
    let first = spec.first_attention();
    let heads = first.map_or(1, |a| a.heads).max(1);
    let (heads_kv, head_k, head_v) = match first.map(|a| a.kv) {
        Some(crate::model::KvLayout::Heads { kv_heads, k_dim, v_dim }) => (kv_heads.max(1), k_dim, v_dim),
        // MLA: Ollama's formula with the latent as one head.
        Some(crate::model::KvLayout::Latent { kv_lora_rank, rope_dim, .. }) => (1, kv_lora_rank + rope_dim, 0),
        None => (1, 0, 0),
    };
    let per_element_x2 = match i.cache_type {
        "q8_0" => 2,
        "q4_0" => 1,
        "f32" => 8,
        _ => 4,
    };
    let kv_layer = i.context * (head_k + head_v) * heads_kv * per_element_x2 / 2;
    let n = spec.num_layers().max(1);
    let kv_total = kv_layer * n;
    let (h, b, ctx, vocab) = (spec.hidden_size, i.batch, i.context, spec.vocab_size);
    let head_dim = head_k.max(1);
    let llama_like = spec.quirks.gguf_arch_llama;
    let (full, partial, formula) = if llama_like {
        let full = (4 * b * (1 + 4 * h + ctx * (1 + heads))).max(4 * b * (h + vocab));
        let partial = if i.gate_exps > 0 {
            let ff = spec.layers.first().map_or(0, |l| l.mlp.intermediate);
            (3 * i.gate_exps + 4 * b * (2 * ff + heads_kv + h + ctx + head_dim * heads_kv))
                .max(4 * (ctx * b * heads + ctx * head_dim * heads_kv + b * 1024 + head_dim * heads_kv * b))
        } else {
            4 * b * h
                + (4 * b * (1 + h + ctx.max(h)) + h * h * 9 / 16 + 4 * ctx * (b * heads + head_dim * heads_kv))
                    .max(4 * b * (h + vocab) + h * vocab * 105 / 128)
        };
        (full, partial, "llama: max(4·b·(1 + 4·h + ctx·(1 + heads)), 4·b·(h + vocab))")
    } else {
        let g = heads / heads_kv * kv_total / 6;
        (g, g, "no case for this architecture: gqa × kv / 6")
    };
    let weights: u64 = i.layers.iter().sum();
    let blk0 = i.layers.first().copied().unwrap_or(0);
    let required = i.minimum_memory + blk0 + kv_layer + weights + kv_total + i.output + full;
    OllamaEstimate {
        required_full_bytes: required,
        kv_bytes: kv_total,
        graph_full_bytes: full,
        graph_partial_bytes: partial,
        weights_total_bytes: weights + i.output,
        layers_model: n + 1,
        graph_formula: formula.to_string(),
        context: ctx,
        layer_sizes: i.layers.iter().map(|b| b + kv_layer).collect(),
        output_bytes: i.output,
        minimum_memory: i.minimum_memory,
    }
}

impl OllamaEstimate {
    /// The figure an Ollama log prints for a validation metric (`ollama_required_full`,
    /// `ollama_kv`, `ollama_graph`: the full-offload graph, as printed beside a full load).
    #[must_use]
    pub fn log_figure(&self, metric: &str) -> Option<u64> {
        match metric {
            "ollama_required_full" => Some(self.required_full_bytes),
            "ollama_kv" => Some(self.kv_bytes),
            "ollama_graph" | "ollama_graph_full" => Some(self.graph_full_bytes),
            "ollama_graph_partial" => Some(self.graph_partial_bytes),
            "ollama_weights_total" => Some(self.weights_total_bytes),
            _ => None,
        }
    }

    /// One line for the notes.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "Ollama's own estimate (llm/memory.go; a prediction, not an allocation): memory.required.full {} B = minimum 457 MiB + one layer buffer + blocks and KV + output + graph; kv {} B (context {}); graph full {} B, partial {} B ({}); weights total {} B; layers.model {}",
            thousands(self.required_full_bytes),
            thousands(self.kv_bytes),
            thousands(self.context),
            thousands(self.graph_full_bytes),
            thousands(self.graph_partial_bytes),
            self.graph_formula,
            thousands(self.weights_total_bytes),
            self.layers_model
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> OllamaEstimate {
        OllamaEstimate {
            required_full_bytes: 0,
            kv_bytes: 0,
            graph_full_bytes: 100,
            graph_partial_bytes: 150,
            weights_total_bytes: 0,
            layers_model: 5,
            graph_formula: String::new(),
            context: 0,
            layer_sizes: vec![10; 4],
            output_bytes: 20,
            minimum_memory: 50,
        }
    }

    #[test]
    fn offload_follows_the_estimate_loop() {
        // Everything: 50 + 10 (buffer) + 4 × 10 + 20 + graph full 100 = 220; the loop needs
        // free > used + max(graph) + next at each step.
        let all = est().offload(1000);
        assert_eq!((all.layers, all.fully_loaded, all.required_partial_bytes), (5, true, 220));
        // 50 + 10 + 150 = 210 used before blocks: 230 free takes one block (210 + 10 < 230)
        // and stops at the second (220 + 10 = 230 is not below 230).
        let some = est().offload(230);
        assert_eq!((some.layers, some.fully_loaded), (1, false));
        assert_eq!(some.required_partial_bytes, 50 + 10 + 10 + 150);
        assert_eq!(est().offload(100).layers, 0);
    }

    #[test]
    fn log_figures_by_metric() {
        let e = est();
        assert_eq!(e.log_figure("ollama_graph"), Some(100));
        assert_eq!(e.log_figure("ollama_graph_partial"), Some(150));
        assert_eq!(e.log_figure("vllm_weights"), None);
    }
}
