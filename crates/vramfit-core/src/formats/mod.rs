//! Sans-IO parsers for checkpoint headers: bytes in, and out either "need N bytes in all" or
//! the parsed header. The caller (a file reader, an HTTP client with Range requests) fetches
//! what is asked for and calls again with the longer buffer; the parsers never read, never
//! allocate from a count they have not bounded, and never panic.
//!
//! - [`safetensors`]: the 8-byte length, then the JSON header (dtypes, shapes, offsets,
//!   `__metadata__`).
//! - [`gguf`]: GGUF v2/v3 metadata key/values and tensor infos, with the exact bytes of every
//!   tensor from the GGML block table (`data/gguf_types.toml`).
//! - [`gguf_repo`]: a Hub repository of GGUF files: its listing grouped into models, the next
//!   Range to read of each header, split parts joined.

pub mod gguf;
pub mod gguf_repo;
pub mod safetensors;

use thiserror::Error;

/// What a parser says about the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The header is complete.
    Done(T),
    /// At least this many bytes in all (from the start of the file) are needed to go on.
    NeedBytes(u64),
}

/// A header that cannot be read. Messages are lowercase and say what was wrong with the input.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FormatError {
    /// The header declares (or would need) more bytes than any real header has.
    #[error("{format} header of {declared} bytes is larger than the {limit}-byte limit")]
    HeaderTooLarge {
        /// `safetensors` or `gguf`.
        format: &'static str,
        /// Bytes declared or needed.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// The input ends before the header does.
    #[error("{format} file is truncated: the header needs {needed} bytes, only {available} are there")]
    Truncated {
        /// `safetensors` or `gguf`.
        format: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The file does not start with the format's magic bytes.
    #[error("not a GGUF file (magic {found:?}, expected \"GGUF\")")]
    BadMagic {
        /// The first four bytes, lossily as text.
        found: String,
    },
    /// A GGUF version this parser does not read.
    #[error("GGUF version {0} is not supported (2 and 3 are)")]
    UnsupportedVersion(u32),
    /// A count (tensors, key/values, array items, dimensions) beyond its limit.
    #[error("{what} count {count} exceeds the limit of {limit}")]
    CountTooLarge {
        /// What is counted.
        what: &'static str,
        /// The declared count.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// A value beyond one of the limits in [`crate::limits`].
    #[error("{what}: {value} exceeds the limit on {} ({})", .limit.name, .limit.max)]
    Limit {
        /// What reached it.
        what: String,
        /// The value found.
        value: u64,
        /// The limit.
        limit: &'static crate::limits::Limit,
    },
    /// The safetensors JSON header is malformed.
    #[error("invalid JSON in safetensors header: {0}")]
    InvalidJson(String),
    /// A string is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which string.
        what: String,
    },
    /// A tensor entry is impossible (dtype, shape, offsets, alignment).
    #[error("tensor {name:?}: {reason}")]
    InvalidTensor {
        /// Tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A metadata value has an impossible type or value.
    #[error("metadata {key:?}: {reason}")]
    InvalidMetadata {
        /// Key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl FormatError {
    pub(crate) fn tensor(name: &str, reason: impl Into<String>) -> Self {
        FormatError::InvalidTensor { name: name.to_string(), reason: reason.into() }
    }
}

/// Which component a tensor of a checkpoint belongs to, from its name (Hugging Face module
/// paths and llama.cpp's GGUF tensor names). Used to report bytes per component.
#[must_use]
pub fn group_of_tensor(name: &str) -> crate::model::ParamGroup {
    use crate::model::ParamGroup as G;
    let n = name.to_ascii_lowercase();
    let has = |s: &str| n.contains(s);
    if has("lm_head") || n.starts_with("output.") || has("embed_out") {
        return G::LmHead;
    }
    if has("embed") || has("wte") || has("wpe") || n.starts_with("token_embd") || has("word_embeddings") {
        return G::Embeddings;
    }
    if has("norm") || has("ln_") || has(".ln") {
        return G::Norms;
    }
    if has("shared_expert") || has("_shexp") {
        return G::SharedExperts;
    }
    if has("experts") || has("_exps") || has("block_sparse_moe.w") {
        return G::Experts;
    }
    if has("gate_inp") || has("mlp.gate.") || has("router") || has("block_sparse_moe.gate") {
        return G::Router;
    }
    if has("qkv") || has("query_key_value") || has("c_attn") {
        return G::AttentionQkv;
    }
    if has("q_proj") || has("attn_q.") || has("attn_q_") || has(".wq") {
        return G::AttentionQ;
    }
    if has("k_proj") || has("attn_k.") || has("attn_k_") || has(".wk") {
        return G::AttentionK;
    }
    if has("v_proj") || has("attn_v.") || has("attn_v_") || has(".wv") {
        return G::AttentionV;
    }
    if has("o_proj") || has("attn_output") || has("attn.c_proj") || has("attention.dense") || has(".wo") {
        return G::AttentionO;
    }
    if has("mlp") || has("ffn") || has("feed_forward") || has("dense_h_to_4h") || has("dense_4h_to_h") {
        return G::Mlp;
    }
    G::Other
}

/// The decoder block a tensor belongs to (`model.layers.12.…`, `blk.12.…`, `h.12.…`), if
/// any. Indices beyond [`MAX_LAYER_INDEX`] are not layers (hostile names cannot make a
/// caller allocate per index).
#[must_use]
pub fn layer_of_tensor(name: &str) -> Option<u64> {
    let mut parts = name.split('.');
    let mut prev = parts.next()?;
    for p in parts {
        if matches!(prev, "layers" | "blk" | "h" | "layer" | "blocks" | "block") {
            if let Ok(i) = p.parse::<u64>() {
                return (i < MAX_LAYER_INDEX).then_some(i);
            }
        }
        prev = p;
    }
    None
}

/// Largest block index [`layer_of_tensor`] accepts.
pub const MAX_LAYER_INDEX: u64 = 1 << 14;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParamGroup;

    #[test]
    fn tensor_names_map_to_components() {
        assert_eq!(group_of_tensor("model.embed_tokens.weight"), ParamGroup::Embeddings);
        assert_eq!(group_of_tensor("token_embd.weight"), ParamGroup::Embeddings);
        assert_eq!(group_of_tensor("model.layers.0.self_attn.q_proj.qweight"), ParamGroup::AttentionQ);
        assert_eq!(group_of_tensor("blk.3.attn_v.weight"), ParamGroup::AttentionV);
        assert_eq!(group_of_tensor("blk.3.ffn_down_exps.weight"), ParamGroup::Experts);
        assert_eq!(group_of_tensor("blk.3.attn_norm.weight"), ParamGroup::Norms);
        assert_eq!(group_of_tensor("output.weight"), ParamGroup::LmHead);
        assert_eq!(group_of_tensor("lm_head.weight"), ParamGroup::LmHead);
        assert_eq!(group_of_tensor("model.layers.1.mlp.down_proj.weight"), ParamGroup::Mlp);
        assert_eq!(layer_of_tensor("model.layers.12.mlp.up_proj.weight"), Some(12));
        assert_eq!(layer_of_tensor("blk.0.attn_q.weight"), Some(0));
        assert_eq!(layer_of_tensor("blk.99999999999.attn_q.weight"), None);
        assert_eq!(layer_of_tensor("token_embd.weight"), None);
    }
}
