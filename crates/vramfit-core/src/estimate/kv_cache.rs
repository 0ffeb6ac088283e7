//! The key/value cache: keys and values of every past token, per layer.

use super::term::{Formula, Term};
use crate::dtype::DType;
use crate::model::{KvLayout, ModelSpec};

/// How a runtime stores the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvPolicy {
    /// Sliding-window layers keep only `window` tokens (hybrid/sliding caches).
    pub honor_window: bool,
    /// MLA layers store the compressed latent (serving engines) rather than full K/V
    /// (Hugging Face transformers decompresses before caching).
    pub latent: bool,
    /// K/V are stored repeated for every query head (transformers' Falcon with grouped K/V:
    /// `_split_heads` broadcasts them and the reshape copies them before the cache update).
    pub expanded_heads: bool,
}

/// The KV cache of a model for a batch and a token count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvCache {
    /// Total bytes.
    pub bytes: u64,
    /// Bytes of the largest single layer (K and V).
    pub largest_layer: u64,
    /// Formula with numbers.
    pub formula: String,
}

impl KvCache {
    /// Size of the cache holding `tokens` tokens for `batch` sequences in `dtype`.
    ///
    /// The bytes and the formula come from one [`Formula`]: one term per group of layers
    /// that cache the same width for the same tokens (every layer, or the full-attention and
    /// the sliding-window layers apart), so the text sums the layers as the bytes do.
    #[must_use]
    pub fn of(spec: &ModelSpec, batch: u64, tokens: u64, dtype: DType, policy: KvPolicy) -> Self {
        let mut groups: Vec<(Shape, u64)> = Vec::new();
        let mut largest_layer = 0u64;
        let mut windowed = 0u64;
        // Recurrent and MLP-only blocks keep no keys and values (their state is
        // `super::recurrent_state`).
        let attending = spec.layers.iter().filter(|l| l.mixer.is_attention()).count();
        for layer in spec.layers.iter().filter(|l| l.mixer.is_attention()) {
            let a = &layer.attention;
            let t = match (a.window, policy.honor_window) {
                (Some(w), true) => {
                    windowed += 1;
                    tokens.min(w)
                }
                _ => tokens,
            };
            let width = match (a.kv, policy.latent) {
                (KvLayout::Latent { kv_lora_rank, rope_dim, .. }, true) => Width::Latent { kv_lora_rank, rope_dim },
                (KvLayout::Heads { k_dim, v_dim, .. }, _) if policy.expanded_heads => {
                    Width::Heads { kv_heads: a.heads, k_dim, v_dim }
                }
                (KvLayout::Heads { kv_heads, k_dim, v_dim }, _) => Width::Heads { kv_heads, k_dim, v_dim },
                (KvLayout::Latent { heads, k_dim, v_dim, .. }, _) => Width::Heads { kv_heads: heads, k_dim, v_dim },
            };
            let shape = Shape { width, tokens: t };
            largest_layer = largest_layer.max(shape.term(batch, dtype).bytes());
            match groups.iter_mut().find(|(g, _)| *g == shape) {
                Some((_, n)) => *n += 1,
                None => groups.push((shape, 1)),
            }
        }
        if groups.is_empty() {
            let formula = if spec.layers.is_empty() {
                "no decoder layers"
            } else {
                "no attention layers: every block is recurrent or MLP-only"
            };
            return KvCache { bytes: 0, largest_layer: 0, formula: formula.to_string() };
        }
        let latent = groups.iter().any(|(g, _)| matches!(g.width, Width::Latent { .. }));
        let mut formula =
            Formula::sum(groups.iter().map(|(g, n)| Term::of(&[("layers", *n)]).then(&g.term(batch, dtype))).collect())
                .tail(if latent { " (MLA latent)".to_string() } else { format!(" ({dtype})") });
        if groups.len() > 1 {
            formula = formula.tail("; summed over the layers that cache different widths or tokens");
        }
        if policy.expanded_heads {
            formula = formula.tail("; K/V stored repeated for every query head (transformers Falcon)");
        }
        if windowed > 0 {
            formula = formula.tail(format!("; {windowed} sliding-window layers keep at most their window"));
        }
        if attending < spec.layers.len() {
            formula = formula.tail(format!(
                "; the other {} blocks attend to nothing (recurrent or MLP-only: no K/V)",
                spec.layers.len() - attending
            ));
        }
        KvCache { bytes: formula.bytes(), largest_layer, formula: formula.text() }
    }
}

/// What one layer caches per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    /// Keys and values per KV head.
    Heads { kv_heads: u64, k_dim: u64, v_dim: u64 },
    /// MLA's compressed latent and shared rope key.
    Latent { kv_lora_rank: u64, rope_dim: u64 },
}

/// One layer's cache: its width and the tokens it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    width: Width,
    tokens: u64,
}

impl Shape {
    /// One layer's bytes as a product.
    fn term(self, batch: u64, dtype: DType) -> Term {
        let t = match self.width {
            Width::Heads { kv_heads, k_dim, v_dim } if k_dim == v_dim => {
                Term::of(&[("2", 2), ("kv_heads", kv_heads), ("head_dim", k_dim)])
            }
            Width::Heads { kv_heads, k_dim, v_dim } => {
                Term::of(&[("kv_heads", kv_heads)]).times_sum(&[("k_dim", k_dim), ("v_dim", v_dim)])
            }
            Width::Latent { kv_lora_rank, rope_dim } => {
                Term::default().times_sum(&[("kv_lora_rank", kv_lora_rank), ("rope_dim", rope_dim)])
            }
        };
        t.times("tokens", self.tokens).times("batch", batch).times("bytes", dtype.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;

    #[test]
    fn llama2_7b_kv_per_token_is_half_a_mib() {
        let spec = parse_config(
            r#"{"model_type":"llama","hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,
                "num_attention_heads":32,"vocab_size":32000}"#,
        )
        .unwrap();
        let kv = KvCache::of(
            &spec,
            1,
            1,
            DType::Fp16,
            KvPolicy { honor_window: true, latent: false, expanded_heads: false },
        );
        assert_eq!(kv.bytes, 2 * 32 * 4096 * 2);
        assert_eq!(
            kv.formula,
            "layers × 2 × kv_heads × head_dim × tokens × batch × bytes = 32 × 2 × 32 × 128 × 1 × 1 × 2 (fp16)"
        );
    }

    #[test]
    fn layers_that_keep_different_tokens_are_summed_in_the_text() {
        // Gemma 2: sliding-window and full layers alternate; a window-honouring cache keeps
        // 4096 tokens in half of the layers, all 8192 in the others.
        let spec = parse_config(
            r#"{"model_type":"gemma2","hidden_size":2304,"intermediate_size":9216,"num_hidden_layers":26,
                "num_attention_heads":8,"num_key_value_heads":4,"head_dim":256,"vocab_size":256000,
                "sliding_window":4096}"#,
        )
        .unwrap();
        let policy = KvPolicy { honor_window: true, latent: false, expanded_heads: false };
        let kv = KvCache::of(&spec, 2, 8192, DType::Bf16, policy);
        assert_eq!(kv.bytes, 13 * 2 * 4 * 256 * (4096 + 8192) * 2 * 2);
        assert!(kv.formula.contains(" + layers × "), "{}", kv.formula);
        assert_eq!(crate::estimate::term::evaluate(&kv.formula), Some(kv.bytes), "{}", kv.formula);
        let all = KvCache::of(&spec, 2, 8192, DType::Bf16, KvPolicy { honor_window: false, ..policy });
        assert_eq!(crate::estimate::term::evaluate(&all.formula), Some(all.bytes));
        assert_eq!(all.bytes, 26 * 2 * 4 * 256 * 8192 * 2 * 2);
    }
}
