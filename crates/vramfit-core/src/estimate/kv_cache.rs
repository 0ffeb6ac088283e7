//! The key/value cache: keys and values of every past token, per layer.

use super::breakdown::{prod, thousands};
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
    #[must_use]
    pub fn of(spec: &ModelSpec, batch: u64, tokens: u64, dtype: DType, policy: KvPolicy) -> Self {
        let mut bytes = 0u64;
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
            let per_token = match (a.kv, policy.latent) {
                (KvLayout::Latent { kv_lora_rank, rope_dim, .. }, true) => kv_lora_rank + rope_dim,
                (KvLayout::Heads { k_dim, v_dim, .. }, _) if policy.expanded_heads => a.heads * (k_dim + v_dim),
                _ => a.kv_width(),
            };
            let l = prod(&[per_token, t, batch, dtype.bytes()]);
            largest_layer = largest_layer.max(l);
            bytes = bytes.saturating_add(l);
        }
        let first = spec.layers.iter().find(|l| l.mixer.is_attention()).map(|l| &l.attention);
        let formula = match (first.map(|a| a.kv), policy.latent) {
            (Some(KvLayout::Latent { kv_lora_rank, rope_dim, .. }), true) => format!(
                "layers × (kv_lora_rank + rope_dim) × tokens × batch × bytes = {} × ({kv_lora_rank} + {rope_dim}) × {} × {batch} × {} (MLA latent)",
                attending,
                thousands(tokens),
                dtype.bytes()
            ),
            (Some(kv), _) => {
                let heads = first.map_or(0, |a| a.heads);
                let (kvh, kd, vd) = match kv {
                    KvLayout::Heads { k_dim, v_dim, .. } if policy.expanded_heads => (heads, k_dim, v_dim),
                    KvLayout::Heads { kv_heads, k_dim, v_dim } => (kv_heads, k_dim, v_dim),
                    KvLayout::Latent { heads, k_dim, v_dim, .. } => (heads, k_dim, v_dim),
                };
                let dims = if kd == vd {
                    format!("2 × {kvh} × {kd}")
                } else {
                    format!("{kvh} × ({kd} + {vd})")
                };
                let mut s = format!(
                    "layers × 2 × kv_heads × head_dim × tokens × batch × bytes = {} × {dims} × {} × {batch} × {} ({dtype})",
                    attending,
                    thousands(tokens),
                    dtype.bytes()
                );
                if policy.expanded_heads {
                    s.push_str("; K/V stored repeated for every query head (transformers Falcon)");
                }
                if windowed > 0 {
                    s.push_str(&format!("; {windowed} sliding-window layers keep at most their window"));
                }
                if attending < spec.layers.len() {
                    s.push_str(&format!(
                        "; the other {} blocks attend to nothing (recurrent or MLP-only: no K/V)",
                        spec.layers.len() - attending
                    ));
                }
                s
            }
            (None, _) if spec.layers.is_empty() => "no decoder layers".to_string(),
            (None, _) => "no attention layers: every block is recurrent or MLP-only".to_string(),
        };
        KvCache { bytes, largest_layer, formula }
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
    }
}
