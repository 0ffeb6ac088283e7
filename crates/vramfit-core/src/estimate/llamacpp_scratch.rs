//! The compute buffer of llama.cpp builds from before the backend scheduler (before about
//! b1833, January 2024): one measure allocator placed the whole graph — every layer, on the
//! GPU or not, and the output — for `n_batch` tokens over a worst-case cache of `n_ctx`
//! cells; CUDA allocated a "VRAM scratch buffer" of that size and the host a buffer
//! (`buf_alloc`) of the same size. Its size is where ggml-alloc's best-fit free list ends up
//! (`estimate::ggml_alloc`), which with Mixtral's 28 MiB expert tensors and 8 MiB holes is
//! well above the largest set of tensors alive at once.
//!
//! Sources (ggerganov/llama.cpp `llama.cpp` at 1182cf4d, January 2024, whose graph for these
//! models is the December 2023 one): `llm_build_context::build_llama` (RMS norm × weight,
//! Q/K/V projections, RoPE on a reshaped view, the K/V stores expanded before the attention,
//! `llm_build_kqv`: KQ `[n_kv, n_tokens, n_head]`, softmax with the mask, KQV, a contiguous
//! copy of its permutation, the output projection, the residual add), `llm_build_ffn` (up,
//! gate, SiLU, their product, down) and the MoE branch (router logits, softmax, `top_k`,
//! weights from `get_rows`, normalised by their sum; per selected slot `ggml_mul_mat_id` up
//! and gate, SiLU, product, down, times its weight, added to the running sum); the worst
//! case also rotates the whole K cache (`llm_build_k_shift`, in place) and the inputs
//! (`inp_tokens`, `inp_pos`, `KQ_mask` f32 `[n_kv, n_tokens]`, `K_shift`) were allocated by
//! the build callback before the graph; `llama_new_context_with_model` printed the measured
//! size plus `tensor_alignment` (32).

use super::ggml_alloc::Graph;
use crate::model::ModelSpec;

/// `tensor_alignment` of the llama.cpp context then.
const ALIGNMENT: u64 = 32;

/// The scratch buffer for `t` tokens over `n_kv` cache cells (f32 activations).
pub(crate) fn pre_scheduler_scratch(spec: &ModelSpec, t: u64, n_kv: u64) -> u64 {
    let f = 4u64;
    let h = spec.hidden_size;
    let mut g = Graph::default();
    let tokens = g.input(t * 4);
    let pos = g.input(t * 4);
    let mask = g.input(n_kv * t * f);
    let shift = g.input(n_kv * 4);
    let caches: Vec<(usize, usize)> = spec.layers.iter().map(|_| (g.external(), g.external())).collect();
    let tok_embd = g.external();
    let mut inp = g.op(h * t * f, &[tok_embd, tokens]);
    // worst case: the whole K cache rotated in place (views of the cache, nothing placed)
    for &(k, _) in &caches {
        let kv = g.view(k, &[k]);
        let r = g.view(k, &[kv, shift]);
        g.expand(r);
    }
    for (il, layer) in spec.layers.iter().enumerate() {
        let a = &layer.attention;
        let (k_cache, v_cache) = caches[il];
        let w = g.external();
        let norm = g.op_inplace(h * t * f, &[inp]);
        let cur = g.op_inplace(h * t * f, &[norm, w]);
        let q_bytes = a.q_width() * t * f;
        let k_bytes = a.kv_heads() * a.head_dim * t * f;
        let v_bytes = a.kv_heads() * a.v_head_dim * t * f;
        let (wq, wk, wv) = (g.external(), g.external(), g.external());
        let q = g.op(q_bytes, &[wq, cur]);
        let k = g.op(k_bytes, &[wk, cur]);
        let v = g.op(v_bytes, &[wv, cur]);
        let q_view = g.view(q, &[q]);
        let q_rope = g.op_inplace(q_bytes, &[q_view, pos]);
        let k_view = g.view(k, &[k]);
        let k_rope = g.op_inplace(k_bytes, &[k_view, pos]);
        let k_dst = g.view(k_cache, &[k_cache]);
        let k_store = g.view(k_cache, &[k_rope, k_dst]);
        g.expand(k_store);
        let v_2d = g.view(v, &[v]);
        let v_t = g.view(v, &[v_2d]);
        let v_dst = g.view(v_cache, &[v_cache]);
        let v_store = g.view(v_cache, &[v_t, v_dst]);
        g.expand(v_store);
        let q_perm = g.view(q_rope, &[q_rope]);
        let k_all = g.view(k_cache, &[k_cache]);
        let scores = a.heads * n_kv * t * f;
        let kq = g.op(scores, &[k_all, q_perm]);
        let soft = g.op_inplace(scores, &[kq, mask]);
        let v_all = g.view(v_cache, &[v_cache]);
        let kqv = g.op(a.heads * a.v_head_dim * t * f, &[v_all, soft]);
        let merged = g.view(kqv, &[kqv]);
        let cont = g.op(a.heads * a.v_head_dim * t * f, &[merged]);
        g.expand(cont);
        let wo = g.external();
        let attn_out = g.op(h * t * f, &[wo, cont]);
        let ffn_inp = g.op_inplace(h * t * f, &[attn_out, inp]);
        let w = g.external();
        let norm = g.op_inplace(h * t * f, &[ffn_inp]);
        let cur = g.op_inplace(h * t * f, &[norm, w]);
        let m = &layer.mlp;
        let wide = m.intermediate * t * f;
        let ffn_out = if m.is_moe() {
            let router = g.external();
            let logits = g.op(m.experts * t * f, &[router, cur]);
            let probs = g.op_inplace(m.experts * t * f, &[logits]);
            let sorted = g.op(m.experts * t * 4, &[probs]);
            let selected = g.view(sorted, &[sorted]);
            let probs_3d = g.view(probs, &[probs]);
            let picked = g.op(m.top_k * t * f, &[probs_3d, selected]);
            let weights = g.view(picked, &[picked]);
            let sum = g.op(t * f, &[weights]);
            let normed = g.op_inplace(m.top_k * t * f, &[weights, sum]);
            let mut total: Option<usize> = None;
            for _ in 0..m.top_k {
                let (up_w, gate_w, down_w) = (g.external(), g.external(), g.external());
                let up = g.op(wide, &[selected, cur, up_w]);
                let gate = g.op(wide, &[selected, cur, gate_w]);
                let act = g.op_inplace(wide, &[gate]);
                let prod = g.op_inplace(wide, &[up, act]);
                let down = g.op(h * t * f, &[selected, prod, down_w]);
                let slot_weight = g.view(normed, &[normed]);
                let weighted = g.op_inplace(h * t * f, &[down, slot_weight]);
                total = Some(match total {
                    None => weighted,
                    Some(sum) => g.op_inplace(h * t * f, &[sum, weighted]),
                });
            }
            total.unwrap_or(cur)
        } else {
            let (up_w, gate_w, down_w) = (g.external(), g.external(), g.external());
            let up = g.op(wide, &[up_w, cur]);
            let hidden = if m.gated {
                let gate = g.op(wide, &[gate_w, cur]);
                let act = g.op_inplace(wide, &[gate]);
                g.op_inplace(wide, &[act, up])
            } else {
                g.op_inplace(wide, &[up])
            };
            g.op(h * t * f, &[down_w, hidden])
        };
        inp = g.op_inplace(h * t * f, &[ffn_out, ffn_inp]);
    }
    let w = g.external();
    let norm = g.op_inplace(h * t * f, &[inp]);
    let cur = g.op_inplace(h * t * f, &[norm, w]);
    let out_w = g.external();
    let logits = g.op(spec.vocab_size * t * f, &[out_w, cur]);
    g.expand(logits);
    g.measure(ALIGNMENT) + ALIGNMENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixtral_scratch_at_512_tokens_is_the_december_2023_logs_figure() {
        // llama.cpp issue #4381 (comment of 2023-12-13): Mixtral-8x7B-Instruct Q8_0, -c 512
        // (-b 512 by default then): "VRAM scratch buffer: 114.54 MiB". The largest set of
        // tensors alive at once is about 81 MiB (two 28 MiB expert tensors, norm, residual,
        // running sum); the rest is the best-fit allocator's fragmentation.
        // mistralai/Mixtral-8x7B-v0.1 config.json (the keys that shape the graph)
        let spec = crate::config::parse_config(
            r#"{"model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336,
                "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000,
                "max_position_embeddings": 32768, "tie_word_embeddings": false,
                "hidden_act": "silu", "torch_dtype": "bfloat16"}"#,
        )
        .unwrap();
        let bytes = pre_scheduler_scratch(&spec, 512, 512);
        assert_eq!(bytes, 120_094_752);
        let mib = bytes as f64 / 1024.0 / 1024.0;
        assert!((mib - 114.54).abs() < 0.01, "{mib}");
    }

    #[test]
    fn dense_7b_scratch_at_2048_cells_is_the_2023_logs_figure() {
        // Two more logs of that era, n_ctx 2048 and the then-default n_batch 512, both print
        // "VRAM scratch buffer: 156.00 MiB": a Llama-2-7B perplexity run (GitHub file index
        // id 39753939457: "kv self = 1024.00 MiB", 32 K/V heads) and Mistral-7B-Instruct-v0.2
        // under Ollama 0.1.1x (file index id 30977339092: "kv self = 256.00 MB", 8 K/V heads).
        let llama2 = crate::config::parse_config(
            r#"{"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
                "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                "vocab_size": 32000}"#,
        )
        .unwrap();
        let mistral = crate::config::parse_config(
            r#"{"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
                "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                "vocab_size": 32000}"#,
        )
        .unwrap();
        for spec in [llama2, mistral] {
            let mib = pre_scheduler_scratch(&spec, 512, 2048) as f64 / 1024.0 / 1024.0;
            // KQ (32 × 2048 × 512 × 4 = 128 MiB) dominates; the rest is what the free list
            // could not fit into earlier holes.
            assert!((mib - 156.00).abs() < 0.005, "{} {mib}", spec.model_type);
        }
    }
}
