//! Every bound vramfit puts on what it reads and computes, in one table, each with the reason
//! for its number. The inputs are untrusted (a config.json, a checkpoint header or a Hub index
//! from anyone); a limit keeps a small hostile input from costing much memory, time or
//! network, and stays far enough above every real model that no real model meets it.
//!
//! A limit that is hit is an error naming it ([`crate::Error::Limit`]), one line:
//! `config.json num_decoder_layers: 16777216 exceeds the limit on layers (16384)`.

use crate::error::{Error, Result};
use serde::Serialize;

/// One limit: what it bounds, the largest accepted value and why that number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// What is bounded, as an error names it (`layers`, `shards`...).
    pub name: &'static str,
    /// The largest accepted value.
    pub max: u64,
    /// The unit of `max`.
    pub unit: &'static str,
    /// Why this number.
    pub reason: &'static str,
}

impl Limit {
    /// `value` when it is at most [`Limit::max`], else [`Error::Limit`] naming `what`.
    ///
    /// # Errors
    /// `value` above the limit.
    pub fn check(&'static self, what: &str, value: u64) -> Result<u64> {
        self.check_with(|| what.to_string(), value)
    }

    /// As [`Limit::check`], naming the value with `what()` only when it is above the limit.
    ///
    /// # Errors
    /// `value` above the limit.
    pub fn check_with(&'static self, what: impl FnOnce() -> String, value: u64) -> Result<u64> {
        if value > self.max {
            return Err(self.exceeded(&what(), value));
        }
        Ok(value)
    }

    /// The error for `what` reaching `value` (a value computed to be above the limit, or
    /// `u64::MAX` for an overflow).
    #[must_use]
    pub fn exceeded(&'static self, what: &str, value: u64) -> Error {
        Error::Limit { what: what.to_string(), value, limit: self }
    }
}

/// Decoder or encoder blocks in one stack.
pub const LAYERS: Limit = Limit {
    name: "layers",
    max: 1 << 14,
    unit: "blocks",
    reason: "the deepest public models have under 200 blocks (Llama-3.1-405B 126, PaLM 118); \
             each block is a few hundred bytes of description, so 16,384 stays under a few MB",
};

/// Routed experts per MoE layer.
pub const EXPERTS: Limit = Limit {
    name: "experts",
    max: 1 << 14,
    unit: "experts",
    reason: "the largest public MoE models route over 384 experts (Kimi K2) or 256 (DeepSeek-V3); \
             experts multiply every expert weight, so the bound keeps products inside 64 bits",
};

/// A width, head count, head size or vocabulary.
pub const DIMENSION: Limit = Limit {
    name: "dimensions",
    max: 1 << 24,
    unit: "elements",
    reason: "real widths are below 2^15 and vocabularies below 2^18 (Gemma 3: 262,208); \
             16,777,216 keeps the product of two dimensions and an expert count inside 64 bits",
};

/// The width of one projection (`heads × head_dim`, fused q/k/v, experts × ...).
pub const PROJECTION: Limit = Limit {
    name: "projection width",
    max: 1 << 24,
    unit: "features",
    reason: "a product of two bounded dimensions (heads × head_dim) can reach 2^48; the widest \
             real projection is under 2^18 (an lm_head over a 262k vocabulary)",
};

/// Entries of a per-layer list in config.json (`layer_types`, `mlp_only_layers`).
pub const LIST_ENTRIES: Limit = Limit {
    name: "list entries",
    max: 1 << 16,
    unit: "entries",
    reason: "a per-layer list has one entry per block (at most 16,384 blocks); four times that \
             leaves room for duplicates",
};

/// JSON values (numbers, strings, arrays, objects...) in one config.json.
pub const JSON_VALUES: Limit = Limit {
    name: "JSON values",
    max: 1 << 20,
    unit: "values",
    reason: "real configs have hundreds of values (a few tens of thousands with id2label maps); \
             a parsed value costs about 32 bytes plus its container, so a million stays under \
             ~100 MB whatever the file holds",
};

/// Nesting of arrays and objects in config.json.
pub const JSON_NESTING: Limit = Limit {
    name: "JSON nesting",
    max: 32,
    unit: "levels",
    reason: "real configs nest 3 or 4 levels (a text_config holding a rope_scaling object); \
             every level is recursion in the parser",
};

/// Wrapped `text_config` levels (a multimodal config around a text config).
pub const TEXT_CONFIG_NESTING: Limit = Limit {
    name: "text_config nesting",
    max: 1,
    unit: "levels",
    reason: "a multimodal config wraps one text config; a text config inside a text config \
             describes no real model",
};

/// Bytes of a config.json or a safetensors index file.
pub const CONFIG_BYTES: Limit = Limit {
    name: "config bytes",
    max: 16 << 20,
    unit: "bytes",
    reason: "config.json files are kilobytes (under 1 MB even with 21k-class id2label maps) and \
             the largest safetensors indexes (DeepSeek-V3, 91k tensors) about 9 MB",
};

/// Shards named by one safetensors index.
pub const SHARDS: Limit = Limit {
    name: "shards",
    max: 1024,
    unit: "files",
    reason: "the most-sharded public checkpoints have a few hundred files (Llama-3.1-405B 191, \
             DeepSeek-V3 163); each shard costs one or two requests, so 1,024 (5x the largest) \
             bounds the network work a hostile index can ask for",
};

/// Checkpoint header bytes read for one model (all shards together).
pub const MODEL_HEADER_BYTES: Limit = Limit {
    name: "header bytes per model",
    max: 128 << 20,
    unit: "bytes",
    reason: "the largest real header sets are around 10 MB (DeepSeek-V3: 163 shards of ~60 KB); \
             a parsed header costs up to ~5x its bytes, so 128 MiB stays under 1 GB",
};

/// Tensors in one model's checkpoint (all shards together).
pub const MODEL_TENSORS: Limit = Limit {
    name: "tensors per model",
    max: 1 << 20,
    unit: "tensors",
    reason: "DeepSeek-V3 with its fp8 scales has about 91,000 tensors; 1,048,576 is 10x that",
};

/// Parameters of one model.
pub const PARAMETERS: Limit = Limit {
    name: "parameters",
    max: 1 << 46,
    unit: "parameters",
    reason: "the largest public models have about 2^41 parameters (2 T); 2^46 (70 T) in fp32 \
             with optimizer states is still below 2^53 bytes",
};

/// Bytes of any estimate or component.
pub const ESTIMATE_BYTES: Limit = Limit {
    name: "estimate bytes",
    max: 1 << 53,
    unit: "bytes",
    reason: "2^53 is the largest integer JSON consumers in JavaScript (and the web page) \
             represent exactly; 8 PiB is also far beyond any machine",
};

/// Seconds one HTTP request may take in all (connect, redirects, headers, body).
pub const REQUEST_SECONDS: Limit = Limit {
    name: "seconds per request",
    max: 120,
    unit: "seconds",
    reason: "the largest body read is a 100 MB safetensors header or a 16 MiB index; at \
             1 MB/s that is under two minutes, and a server dripping bytes is cut off there",
};

/// The whole table, in the order above (for documentation and tests).
pub const TABLE: &[&Limit] = &[
    &LAYERS,
    &EXPERTS,
    &DIMENSION,
    &PROJECTION,
    &LIST_ENTRIES,
    &JSON_VALUES,
    &JSON_NESTING,
    &TEXT_CONFIG_NESTING,
    &CONFIG_BYTES,
    &SHARDS,
    &MODEL_HEADER_BYTES,
    &MODEL_TENSORS,
    &PARAMETERS,
    &ESTIMATE_BYTES,
    &REQUEST_SECONDS,
];

/// Count the values of a JSON text and its deepest nesting without building anything, so a
/// hostile config.json is refused before serde_json allocates a tree for it.
///
/// # Errors
/// More values than [`JSON_VALUES`] or deeper than [`JSON_NESTING`].
pub fn check_json_shape(what: &str, text: &str) -> Result<()> {
    let mut values = 0u64;
    let mut depth = 0u64;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_scalar = false;
    for b in text.bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        let starts_value = match b {
            b'"' => {
                in_string = true;
                in_scalar = false;
                true
            }
            b'{' | b'[' => {
                depth += 1;
                JSON_NESTING.check(what, depth)?;
                in_scalar = false;
                true
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                in_scalar = false;
                false
            }
            b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => {
                in_scalar = false;
                false
            }
            _ => !std::mem::replace(&mut in_scalar, true),
        };
        if starts_value {
            values += 1;
            JSON_VALUES.check(what, values)?;
        }
    }
    Ok(())
}

/// `a × b`, or [`Error::Limit`] on `limit` naming `what` when the product overflows or
/// exceeds it.
///
/// # Errors
/// The product is above `limit`.
pub fn product(limit: &'static Limit, what: &str, factors: &[u64]) -> Result<u64> {
    let mut p = 1u64;
    for &f in factors {
        p = p.checked_mul(f).ok_or_else(|| limit.exceeded(what, u64::MAX))?;
    }
    limit.check(what, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_has_a_reason_and_a_distinct_name() {
        let mut names = std::collections::HashSet::new();
        for l in TABLE {
            assert!(l.reason.len() > 40, "{}", l.name);
            assert!(l.max > 0 && names.insert(l.name), "{}", l.name);
        }
    }

    #[test]
    fn errors_name_the_limit_on_one_line() {
        let e = LAYERS.check("config.json num_decoder_layers", 1 << 24).unwrap_err().to_string();
        assert_eq!(e, "config.json num_decoder_layers: 16777216 exceeds the limit on layers (16384)");
        assert!(!e.contains('\n'));
        let e = product(&PROJECTION, "q_proj", &[1 << 40, 1 << 40]).unwrap_err().to_string();
        assert!(e.contains("overflows") && e.contains("projection width"), "{e}");
    }

    #[test]
    fn json_shape_counts_values_and_depth() {
        assert!(check_json_shape("x", r#"{"a": [1, 2, "x,y[{"], "b": {"c": true}}"#).is_ok());
        let deep = "[".repeat(33);
        assert!(check_json_shape("x", &deep).unwrap_err().to_string().contains("JSON nesting"));
        let many = format!("[{}0]", "0,".repeat(1 << 20));
        assert!(check_json_shape("x", &many).unwrap_err().to_string().contains("JSON values"));
        let fine = format!("[{}0]", "0,".repeat((1 << 20) - 2));
        assert!(check_json_shape("x", &fine).is_ok());
    }
}
