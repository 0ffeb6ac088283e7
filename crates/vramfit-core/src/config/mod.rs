//! Reading Hugging Face `config.json`: one wire struct per family mirrors the file (optional
//! keys, serde aliases), then converts into the normalized [`ModelSpec`]. Family quirks live in
//! those conversions and nowhere else.

mod bert;
mod bloom;
mod cohere;
mod deepseek;
mod falcon;
pub mod families;
mod gguf;
mod glm4;
mod gpt2;
mod gpt_neox;
mod gpt_oss;
mod granite;
mod granitemoehybrid;
mod llama;
mod mistral3;
mod nemotron_h;
mod olmo2;
mod opt;
mod phi;
mod qwen3_next;
mod t5;
mod vision;

pub use gguf::{spec_from_gguf, SUPPORTED_GGUF_ARCHITECTURES};

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::limits::{self, Limit};
use crate::model::ModelSpec;
use crate::quant::QuantConfig;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest value accepted for a width, vocabulary or count ([`limits::DIMENSION`]).
pub(crate) const MAX_DIM: u64 = limits::DIMENSION.max;

/// Parse a config.json text into a model description.
///
/// # Errors
/// Malformed JSON, an unsupported `model_type`, a missing or impossible key.
pub fn parse_config(text: &str) -> Result<ModelSpec> {
    limits::CONFIG_BYTES.check("config.json size", text.len() as u64)?;
    limits::check_json_shape("config.json", text)?;
    let value: Value = serde_json::from_str(text).map_err(|e| Error::ConfigSyntax(e.to_string()))?;
    from_value(&value)
}

/// Convert an already-parsed config.json object.
///
/// # Errors
/// As [`parse_config`].
pub fn from_value(value: &Value) -> Result<ModelSpec> {
    let spec = convert(value, 0)?;
    spec.check_limits()?;
    Ok(spec)
}

/// [`from_value`] for a config `nesting` text_config levels down.
fn convert(value: &Value, nesting: u64) -> Result<ModelSpec> {
    let obj = value.as_object().ok_or_else(|| Error::ConfigSyntax("expected a JSON object".into()))?;
    let model_type = match obj.get("model_type").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => infer_model_type(value)
            .ok_or_else(|| Error::MissingKey { family: "any".into(), key: "model_type".into() })?,
    };
    // Multimodal wrappers whose language model is a supported text config (the vision tower
    // is not counted: llama.cpp keeps it in a separate --mmproj file).
    let text_type = match model_type.as_str() {
        "gemma3" => Some("gemma3_text"),
        "qwen2_vl" | "qwen2_5_vl" => Some("qwen2"),
        "qwen3_5" => Some("qwen3_5_text"),
        "qwen3_5_moe" => Some("qwen3_5_moe_text"),
        _ => None,
    };
    if let Some(text_type) = text_type {
        if let Some(text) = obj.get("text_config") {
            limits::TEXT_CONFIG_NESTING.check("config.json text_config", nesting + 1)?;
            let mut text = text.clone();
            if let Some(t) = text.as_object_mut() {
                if model_type == "gemma3" {
                    t.entry("model_type").or_insert_with(|| text_type.into());
                } else {
                    t.insert("model_type".into(), text_type.into());
                }
                for key in ["torch_dtype", "quantization_config", "tie_word_embeddings"] {
                    if let Some(v) = obj.get(key) {
                        t.entry(key).or_insert_with(|| v.clone());
                    }
                }
            }
            return convert(&text, nesting + 1);
        }
    }
    let Some(family) = families::family(&model_type) else {
        return Err(Error::UnsupportedModelType {
            found: model_type,
            supported: families::supported_model_types().join(", "),
        });
    };
    let mut spec = (family.convert)(&model_type, value)?;
    check_dtype_name(obj)?;
    spec.torch_dtype = dtype_of(obj);
    spec.position_limit = position_limit(obj, spec.max_positions);
    let mut spec = spec.with_head(head_of(obj));
    spec.dropout = dropout_of(obj, family.dropout);
    if let Some(q) = obj.get("quantization_config") {
        if !q.is_null() {
            spec.quantization = Some(QuantConfig::from_config(q)?);
        }
    }
    Ok(spec)
}

/// The head `architectures` names (`LlamaForSequenceClassification`), with `num_labels` (or
/// the size of `id2label`, else transformers' default 2).
fn head_of(obj: &serde_json::Map<String, Value>) -> crate::model::Head {
    let labels = obj
        .get("num_labels")
        .and_then(Value::as_u64)
        .or_else(|| obj.get("id2label").and_then(Value::as_object).map(|m| m.len() as u64))
        .filter(|n| (1..=1 << 20).contains(n))
        .unwrap_or(2);
    let arch = obj.get("architectures").and_then(Value::as_array).and_then(|a| a.first()).and_then(Value::as_str);
    match arch {
        Some(a) if a.ends_with("ForSequenceClassification") => crate::model::Head::SequenceClassification { labels },
        Some(a) if a.ends_with("ForTokenClassification") => crate::model::Head::TokenClassification { labels },
        _ => crate::model::Head::CausalLm,
    }
}

/// Labels a `--head` override gets: the config's `num_labels`, else 2.
#[must_use]
pub fn labels_of(spec: &crate::model::ModelSpec) -> u64 {
    spec.head.labels().unwrap_or(2)
}

/// The model's position limit: `max_position_embeddings`, or with `rope_scaling` (linear,
/// dynamic NTK, YaRN, LongRoPE, Llama 3) `factor` × `original_max_position_embeddings` when
/// that is larger (transformers modeling_rope_utils.py: the scaled frequencies cover the
/// original length × factor).
fn position_limit(obj: &serde_json::Map<String, Value>, max_positions: Option<u64>) -> Option<u64> {
    let scaling = obj.get("rope_scaling").and_then(Value::as_object);
    let factor = scaling.and_then(|r| r.get("factor")).and_then(Value::as_f64).filter(|f| f.is_finite() && *f > 1.0);
    let original = scaling
        .and_then(|r| r.get("original_max_position_embeddings"))
        .and_then(Value::as_u64)
        .or(obj.get("original_max_position_embeddings").and_then(Value::as_u64))
        .or(max_positions);
    match (factor, original) {
        (Some(f), Some(o)) => {
            let scaled = (o as f64 * f).min(crate::estimate::workload::MAX_TOKENS as f64) as u64;
            Some(max_positions.map_or(scaled, |m| m.max(scaled)))
        }
        _ => max_positions,
    }
}

fn infer_model_type(value: &Value) -> Option<String> {
    let arch = value.get("architectures")?.as_array()?.first()?.as_str()?;
    let t = match arch {
        "RWForCausalLM" | "FalconForCausalLM" => "falcon",
        "LlamaForCausalLM" => "llama",
        "GPT2LMHeadModel" => "gpt2",
        _ => return None,
    };
    Some(t.to_string())
}

/// Training-mode dropout from the keys each family uses, with the config classes' defaults.
fn dropout_of(obj: &serde_json::Map<String, Value>, defaults: (f64, f64)) -> crate::model::Dropout {
    let first = |keys: &[&str]| keys.iter().find_map(|k| obj.get(*k).and_then(Value::as_f64));
    let (attn_default, hidden_default) = defaults;
    let per_mille = |p: f64| (p.clamp(0.0, 1.0) * 1000.0).round() as u32;
    crate::model::Dropout {
        attention: per_mille(
            first(&["attn_pdrop", "attention_dropout", "attention_probs_dropout_prob"]).unwrap_or(attn_default),
        ),
        hidden: per_mille(
            first(&["resid_pdrop", "hidden_dropout", "hidden_dropout_prob", "dropout", "dropout_rate"])
                .unwrap_or(hidden_default),
        ),
    }
}

/// A `torch_dtype` torch does not have (`"float128"`) is refused, as transformers'
/// `getattr(torch, torch_dtype)` refuses it (newcomer D17: it was read as no dtype at all).
/// Names torch has but vramfit does not model (`float64`, `int32`) stay unread, as before.
fn check_dtype_name(obj: &serde_json::Map<String, Value>) -> Result<()> {
    const TORCH: [&str; 22] = [
        "auto",
        "float32",
        "float",
        "float64",
        "double",
        "float16",
        "half",
        "bfloat16",
        "float8_e4m3fn",
        "float8_e5m2",
        "float8_e4m3fnuz",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
        "int8",
        "uint8",
        "int16",
        "int32",
        "int64",
        "bool",
        "complex64",
        "complex128",
        "float4_e2m1fn_x2",
    ];
    for key in ["torch_dtype", "dtype"] {
        if let Some(s) = obj.get(key).and_then(Value::as_str) {
            let t = s.trim().to_ascii_lowercase();
            let t = t.strip_prefix("torch.").unwrap_or(&t);
            if DType::parse(t).is_err() && !TORCH.contains(&t) {
                return Err(Error::config(
                    key,
                    format!("{s:?} is not a torch dtype (float32, float16, bfloat16, ...)"),
                ));
            }
        }
    }
    Ok(())
}

fn dtype_of(obj: &serde_json::Map<String, Value>) -> Option<DType> {
    ["torch_dtype", "dtype"]
        .iter()
        .filter_map(|k| obj.get(*k).and_then(Value::as_str))
        .find_map(|s| DType::parse(s).ok())
}

/// The family's wire struct from config.json, with duplicate spellings of one key (Gemma 2
/// writes both `hidden_act` and `hidden_activation`; newer NeoX configs both `rotary_pct` and
/// `partial_rotary_factor`) reduced to the first present in `key_aliases`. The tree is read
/// in place, never copied.
fn wire<T: DeserializeOwned>(value: &Value, family: &str, key_aliases: &[&[&str]]) -> Result<T> {
    let err = |e: serde_json::Error| Error::ConfigSyntax(format!("{family}: {e}"));
    let Some(obj) = value.as_object() else {
        return T::deserialize(value).map_err(err);
    };
    let dropped = |key: &str| {
        key_aliases.iter().any(|group| {
            group.iter().position(|k| *k == key).is_some_and(|at| group[..at].iter().any(|k| obj.contains_key(*k)))
        })
    };
    let entries = obj.iter().filter(|(k, _)| !dropped(k)).map(|(k, v)| (k.as_str(), v));
    let map = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(entries);
    T::deserialize(map).map_err(err)
}

/// A required dimension: present, non-zero, and within [`limits::DIMENSION`].
pub(crate) fn need(family: &str, key: &str, v: Option<u64>) -> Result<u64> {
    need_within(family, key, v, &limits::DIMENSION)
}

/// A required layer count: present, non-zero, within [`limits::LAYERS`].
pub(crate) fn need_count(family: &str, key: &str, v: Option<u64>) -> Result<u64> {
    need_within(family, key, v, &limits::LAYERS)
}

/// A required value: present, non-zero, within `limit`.
pub(crate) fn need_within(family: &str, key: &str, v: Option<u64>, limit: &'static Limit) -> Result<u64> {
    let v = v.ok_or_else(|| Error::MissingKey { family: family.to_string(), key: key.to_string() })?;
    check(key, v, limit)
}

/// Bounds-check an optional dimension.
pub(crate) fn opt_dim(key: &str, v: Option<u64>) -> Result<Option<u64>> {
    opt_within(key, v, &limits::DIMENSION)
}

/// Bounds-check an optional value against `limit`.
pub(crate) fn opt_within(key: &str, v: Option<u64>, limit: &'static Limit) -> Result<Option<u64>> {
    v.map(|v| check(key, v, limit)).transpose()
}

/// An optional per-layer list: at most [`limits::LIST_ENTRIES`] entries.
pub(crate) fn check_list<T>(key: &str, v: Option<&Vec<T>>) -> Result<()> {
    if let Some(v) = v {
        limits::LIST_ENTRIES.check(&format!("config.json {key}"), v.len() as u64)?;
    }
    Ok(())
}

fn check(key: &str, v: u64, limit: &'static Limit) -> Result<u64> {
    if v == 0 {
        return Err(Error::config(key, "must be positive"));
    }
    limit.check(&format!("config.json {key}"), v)
}

/// `num_key_value_heads` (default: `heads`, multi-head attention), which must divide the query
/// heads (grouped-query attention shares each K/V head among a whole number of them).
pub(crate) fn kv_heads(v: Option<u64>, heads: u64) -> Result<u64> {
    let kv_heads = opt_dim("num_key_value_heads", v)?.unwrap_or(heads);
    if heads % kv_heads != 0 {
        return Err(Error::config(
            "num_key_value_heads",
            format!("{kv_heads} does not divide num_attention_heads {heads}"),
        ));
    }
    Ok(kv_heads)
}

/// `a / b` that must divide exactly (head_dim from hidden and heads).
pub(crate) fn exact_div(key: &str, a: u64, b: u64) -> Result<u64> {
    if b == 0 || a % b != 0 {
        return Err(Error::config(key, format!("{a} is not divisible by {b}; set head_dim explicitly")));
    }
    check(key, a / b, &limits::DIMENSION)
}

/// Parse `hidden_act` / `hidden_activation` / `activation_function`.
pub(crate) fn activation(s: Option<&str>, default: crate::model::Activation) -> crate::model::Activation {
    use crate::model::Activation;
    match s.map(str::to_ascii_lowercase).as_deref() {
        Some("silu" | "swish" | "swiglu") => Activation::Silu,
        Some("relu" | "relu2" | "gated-relu") => Activation::Relu,
        Some("gelu_new") => Activation::GeluNew,
        Some("gelu_fast") => Activation::GeluFast,
        Some(g) if g.contains("gelu") => Activation::Gelu,
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_type_lists_supported() {
        let e = parse_config(r#"{"model_type": "mamba"}"#).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("mamba") && msg.contains("llama") && msg.contains("falcon"), "{msg}");
    }

    /// Newcomer D17: a torch_dtype torch does not have is refused; one it has but vramfit does
    /// not model is left unread.
    #[test]
    fn a_torch_dtype_torch_lacks_is_refused() {
        let cfg = |d: &str| {
            format!(
                r#"{{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                "num_attention_heads": 4, "vocab_size": 100, "torch_dtype": "{d}"}}"#
            )
        };
        let e = parse_config(&cfg("float128")).unwrap_err().to_string();
        assert!(e.contains("torch_dtype") && e.contains("not a torch dtype"), "{e}");
        assert_eq!(parse_config(&cfg("float64")).unwrap().torch_dtype, None);
        assert_eq!(parse_config(&cfg("bfloat16")).unwrap().torch_dtype, Some(DType::Bf16));
    }

    #[test]
    fn missing_key_is_named() {
        let e = parse_config(r#"{"model_type": "llama", "hidden_size": 64}"#).unwrap_err();
        assert!(e.to_string().contains("num_hidden_layers") || e.to_string().contains("intermediate_size"), "{e}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_config("[1,2]").is_err());
        assert!(parse_config("{").is_err());
        assert!(parse_config(r#"{"model_type": "llama", "hidden_size": "big"}"#).is_err());
    }

    #[test]
    fn huge_values_are_refused() {
        let e = parse_config(
            r#"{"model_type":"llama","hidden_size":1099511627776,"intermediate_size":10,"num_hidden_layers":2,"num_attention_heads":2,"vocab_size":10}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("hidden_size"), "{e}");
    }
}
