//! The safetensors header: an 8-byte little-endian length `n`, then `n` bytes of JSON mapping
//! tensor names to `{"dtype", "shape", "data_offsets"}`, plus an optional `__metadata__`
//! object of strings. Layout as specified by huggingface/safetensors (`safetensors/src/
//! tensor.rs`: `Metadata`, `Dtype`, `validate`).

use super::{FormatError, Parsed};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest JSON header accepted, as the reference implementation's `MAX_HEADER_SIZE`
/// (100 MB); real headers are kilobytes to a few megabytes.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Largest tensor rank accepted.
pub const MAX_RANK: usize = 16;

/// A safetensors element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SafetensorsDtype {
    /// Boolean (1 byte).
    #[serde(rename = "BOOL")]
    Bool,
    /// Unsigned byte (bitsandbytes packs 4-bit weights and 8-bit absmax in it).
    U8,
    /// Signed byte.
    I8,
    /// fp8 E5M2.
    #[serde(rename = "F8_E5M2")]
    F8E5M2,
    /// fp8 E4M3 (FN).
    #[serde(rename = "F8_E4M3")]
    F8E4M3,
    /// fp8 E8M0 (MX scales).
    #[serde(rename = "F8_E8M0")]
    F8E8M0,
    /// 16-bit signed integer.
    I16,
    /// 16-bit unsigned integer.
    U16,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// 32-bit signed integer (GPTQ/AWQ pack eight 4-bit weights in one).
    I32,
    /// 32-bit unsigned integer.
    U32,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// 64-bit unsigned integer.
    U64,
    /// 4-bit float (E2M1), two per byte.
    F4,
    /// 6-bit float E2M3.
    #[serde(rename = "F6_E2M3")]
    F6E2M3,
    /// 6-bit float E3M2.
    #[serde(rename = "F6_E3M2")]
    F6E3M2,
}

impl SafetensorsDtype {
    /// Every dtype with its spelling in the header.
    pub const ALL: &'static [(SafetensorsDtype, &'static str)] = &[
        (Self::Bool, "BOOL"),
        (Self::U8, "U8"),
        (Self::I8, "I8"),
        (Self::F8E5M2, "F8_E5M2"),
        (Self::F8E4M3, "F8_E4M3"),
        (Self::F8E8M0, "F8_E8M0"),
        (Self::I16, "I16"),
        (Self::U16, "U16"),
        (Self::F16, "F16"),
        (Self::BF16, "BF16"),
        (Self::I32, "I32"),
        (Self::U32, "U32"),
        (Self::F32, "F32"),
        (Self::F64, "F64"),
        (Self::I64, "I64"),
        (Self::U64, "U64"),
        (Self::F4, "F4"),
        (Self::F6E2M3, "F6_E2M3"),
        (Self::F6E3M2, "F6_E3M2"),
    ];

    /// The spelling in the header.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(d, _)| *d == self).map_or("?", |(_, n)| n)
    }

    /// Parse the header's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(d, _)| *d)
    }

    /// Bits per element.
    #[must_use]
    pub fn bits(self) -> u64 {
        match self {
            Self::F4 => 4,
            Self::F6E2M3 | Self::F6E3M2 => 6,
            Self::Bool | Self::U8 | Self::I8 | Self::F8E5M2 | Self::F8E4M3 | Self::F8E8M0 => 8,
            Self::I16 | Self::U16 | Self::F16 | Self::BF16 => 16,
            Self::I32 | Self::U32 | Self::F32 => 32,
            Self::F64 | Self::I64 | Self::U64 => 64,
        }
    }

    /// The floating-point dtype vramfit computes with, for float element types.
    #[must_use]
    pub fn as_dtype(self) -> Option<crate::DType> {
        use crate::DType;
        match self {
            Self::F32 => Some(DType::Fp32),
            Self::F16 => Some(DType::Fp16),
            Self::BF16 => Some(DType::Bf16),
            Self::F8E4M3 | Self::F8E5M2 => Some(DType::Fp8),
            _ => None,
        }
    }
}

/// One tensor of a safetensors file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorEntry {
    /// Name (`model.layers.0.self_attn.q_proj.weight`).
    pub name: String,
    /// Element type.
    pub dtype: SafetensorsDtype,
    /// Shape.
    pub shape: Vec<u64>,
    /// Number of elements (product of the shape).
    pub numel: u64,
    /// Bytes stored (`data_offsets[1] - data_offsets[0]`, checked against the shape).
    pub bytes: u64,
    /// Byte range in the data section.
    pub data_offsets: (u64, u64),
}

/// A parsed safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetensorsHeader {
    /// Length of the JSON header (the first 8 bytes).
    pub header_len: u64,
    /// Tensors, ordered by their offset in the data section.
    pub tensors: Vec<TensorEntry>,
    /// `__metadata__` (string to string), in key order.
    pub metadata: Vec<(String, String)>,
    /// Bytes of the data section (end of the last tensor).
    pub data_bytes: u64,
}

impl SafetensorsHeader {
    /// Bytes of the file: 8 + header + data.
    #[must_use]
    pub fn file_bytes(&self) -> u64 {
        8u64.saturating_add(self.header_len).saturating_add(self.data_bytes)
    }
}

/// Parse a safetensors header from the start of a file.
///
/// Returns [`Parsed::NeedBytes`] with the total needed (8, then `8 + n`) until `buf` holds
/// the whole header; bytes after the header are ignored.
///
/// # Errors
/// A declared length above [`MAX_HEADER_BYTES`], malformed JSON (including nesting deeper
/// than serde_json's recursion limit), unknown dtypes, shapes whose product overflows, and
/// offsets that do not match the shapes or overlap.
pub fn parse_header(buf: &[u8]) -> Result<Parsed<SafetensorsHeader>, FormatError> {
    let Some(len_bytes) = buf.get(..8) else {
        return Ok(Parsed::NeedBytes(8));
    };
    let mut le = [0u8; 8];
    le.copy_from_slice(len_bytes);
    let n = u64::from_le_bytes(le);
    if n > MAX_HEADER_BYTES {
        return Err(FormatError::HeaderTooLarge { format: "safetensors", declared: n, limit: MAX_HEADER_BYTES });
    }
    let end = 8 + n; // n ≤ 100 MB: no overflow
    let Some(json) = usize::try_from(end).ok().and_then(|e| buf.get(8..e)) else {
        return Ok(Parsed::NeedBytes(end));
    };
    let raw: RawHeader = serde_json::from_slice(json).map_err(|e| FormatError::InvalidJson(e.to_string()))?;
    let mut tensors = Vec::with_capacity(raw.tensors.len());
    for (name, t) in raw.tensors {
        let dtype = SafetensorsDtype::parse(&t.dtype)
            .ok_or_else(|| FormatError::tensor(&name, format!("unknown dtype {:?}", t.dtype)))?;
        if t.shape.len() > MAX_RANK {
            return Err(FormatError::tensor(&name, format!("rank {} exceeds {MAX_RANK}", t.shape.len())));
        }
        let numel = t
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| FormatError::tensor(&name, "shape product overflows 64 bits"))?;
        let bits = numel
            .checked_mul(dtype.bits())
            .ok_or_else(|| FormatError::tensor(&name, "size in bits overflows 64 bits"))?;
        let bytes = bits.div_ceil(8);
        let (begin, finish) = t.data_offsets;
        if finish < begin || finish - begin != bytes {
            return Err(FormatError::tensor(
                &name,
                format!(
                    "data_offsets [{begin}, {finish}] hold {} bytes but shape {:?} of {} needs {bytes}",
                    finish.saturating_sub(begin),
                    t.shape,
                    dtype.name()
                ),
            ));
        }
        tensors.push(TensorEntry { name, dtype, shape: t.shape, numel, bytes, data_offsets: (begin, finish) });
    }
    tensors.sort_by(|a, b| a.data_offsets.cmp(&b.data_offsets).then_with(|| a.name.cmp(&b.name)));
    let mut at = 0u64;
    for t in &tensors {
        if t.data_offsets.0 != at {
            return Err(FormatError::tensor(
                &t.name,
                format!(
                    "starts at byte {} of the data section, expected {at} (tensors must be contiguous, without overlap)",
                    t.data_offsets.0
                ),
            ));
        }
        at = t.data_offsets.1;
    }
    Ok(Parsed::Done(SafetensorsHeader { header_len: n, tensors, metadata: raw.metadata, data_bytes: at }))
}

/// The JSON header as read, before checks.
struct RawHeader {
    tensors: Vec<(String, RawTensor)>,
    metadata: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct RawTensor {
    dtype: String,
    #[serde(deserialize_with = "bounded_shape")]
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// A shape of at most [`MAX_RANK`] dimensions, refused at the first one beyond: a hostile
/// header's 49-million-entry shape was allocated whole before its rank was checked.
fn bounded_shape<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_RANK} dimensions")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
            let mut dims = Vec::new();
            while let Some(d) = seq.next_element::<u64>()? {
                if dims.len() == MAX_RANK {
                    return Err(de::Error::custom(format!("rank exceeds {MAX_RANK}")));
                }
                dims.push(d);
            }
            Ok(dims)
        }
    }
    d.deserialize_seq(V)
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of tensors")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
                let mut tensors = Vec::new();
                let mut metadata = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "__metadata__" {
                        if metadata.is_some() {
                            return Err(de::Error::custom("duplicate __metadata__"));
                        }
                        let m: Option<std::collections::BTreeMap<String, String>> = map.next_value()?;
                        metadata = Some(m.unwrap_or_default().into_iter().collect());
                    } else {
                        let t: RawTensor = map.next_value()?;
                        tensors.push((key, t));
                    }
                }
                let mut names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
                names.sort_unstable();
                if let Some(&[name, _]) = names.windows(2).find(|w| w[0] == w[1]) {
                    return Err(de::Error::custom(format!("duplicate tensor {name:?}")));
                }
                Ok(RawHeader { tensors, metadata: metadata.unwrap_or_default() })
            }
        }
        d.deserialize_map(V)
    }
}

/// A `model.safetensors.index.json`: which shard holds each tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIndex {
    /// Shard file names, in first-seen order without repeats.
    pub shards: Vec<String>,
    /// `metadata.total_size`, when present (bytes of all tensors).
    pub total_size: Option<u64>,
    /// Number of tensors listed.
    pub tensors: u64,
}

/// Parse `model.safetensors.index.json`.
///
/// # Errors
/// Not JSON, no `weight_map`, or a shard name that is not a plain file name ending in
/// `.safetensors` (an index must not send a reader to another directory or host).
pub fn parse_index(text: &str) -> Result<ShardIndex, FormatError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default)]
        metadata: Option<WireMeta>,
        weight_map: std::collections::BTreeMap<String, String>,
    }
    #[derive(Deserialize)]
    struct WireMeta {
        #[serde(default)]
        total_size: Option<serde_json::Value>,
    }
    let w: Wire = serde_json::from_str(text).map_err(|e| FormatError::InvalidJson(format!("index: {e}")))?;
    let mut shards: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in w.weight_map.values() {
        let ok = file.ends_with(".safetensors")
            && !file.contains("..")
            && !file.starts_with('/')
            && !file.contains('\\')
            && !file.contains(':')
            && !file.contains('?')
            && !file.contains('#');
        if !ok {
            return Err(FormatError::InvalidJson(format!(
                "index: shard {file:?} is not a .safetensors file name in the repository"
            )));
        }
        if seen.insert(file.as_str()) {
            shards.push(file.clone());
            let limit = &crate::limits::SHARDS;
            if shards.len() as u64 > limit.max {
                return Err(FormatError::Limit { what: "index".into(), value: shards.len() as u64, limit });
            }
        }
    }
    let total_size =
        w.metadata.and_then(|m| m.total_size).and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)));
    Ok(ShardIndex { shards, total_size, tensors: w.weight_map.len() as u64 })
}

/// Build a safetensors file (header and zero-filled data) from `(name, dtype, shape)`;
/// for tests, examples and fuzz seeds.
///
/// # Panics
/// Never for shapes whose byte size fits in memory; the caller picks small shapes.
#[must_use]
pub fn build_file(tensors: &[(&str, SafetensorsDtype, &[u64])], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut obj = serde_json::Map::new();
    if !metadata.is_empty() {
        let m: serde_json::Map<String, serde_json::Value> =
            metadata.iter().map(|(k, v)| ((*k).to_string(), (*v).into())).collect();
        obj.insert("__metadata__".into(), m.into());
    }
    let mut at = 0u64;
    for (name, dtype, shape) in tensors {
        let numel: u64 = shape.iter().product();
        let bytes = (numel * dtype.bits()).div_ceil(8);
        obj.insert(
            (*name).to_string(),
            serde_json::json!({"dtype": dtype.name(), "shape": shape, "data_offsets": [at, at + bytes]}),
        );
        at += bytes;
    }
    let mut json = serde_json::to_vec(&obj).unwrap_or_default();
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.resize(out.len() + usize::try_from(at).unwrap_or(0), 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> SafetensorsHeader {
        match parse_header(buf).unwrap() {
            Parsed::Done(h) => h,
            Parsed::NeedBytes(n) => panic!("needs {n}"),
        }
    }

    #[test]
    fn asks_for_the_length_then_the_header() {
        let file = build_file(
            &[("a", SafetensorsDtype::BF16, &[4, 8]), ("b", SafetensorsDtype::F8E4M3, &[16])],
            &[("format", "pt")],
        );
        assert_eq!(parse_header(&file[..3]).unwrap(), Parsed::NeedBytes(8));
        let n = u64::from_le_bytes(file[..8].try_into().unwrap());
        assert_eq!(parse_header(&file[..8]).unwrap(), Parsed::NeedBytes(8 + n));
        let h = done(&file[..8 + n as usize]);
        assert_eq!(h.tensors.len(), 2);
        assert_eq!(h.data_bytes, 64 + 16);
        assert_eq!(h.file_bytes(), file.len() as u64);
        assert_eq!(h.metadata, vec![("format".to_string(), "pt".to_string())]);
    }

    #[test]
    fn packed_and_sub_byte_dtypes() {
        let file = build_file(
            &[
                ("q.qweight", SafetensorsDtype::I32, &[512, 4096]),
                ("w.weight", SafetensorsDtype::U8, &[1024, 1]),
                ("f4", SafetensorsDtype::F4, &[10]),
                ("f6", SafetensorsDtype::F6E2M3, &[4]),
            ],
            &[],
        );
        let h = done(&file);
        let bytes: Vec<u64> = h.tensors.iter().map(|t| t.bytes).collect();
        assert_eq!(bytes, vec![512 * 4096 * 4, 1024, 5, 3]);
    }

    #[test]
    fn hostile_headers_are_typed_errors() {
        let mut huge = 100_000_000_000u64.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(parse_header(&huge), Err(FormatError::HeaderTooLarge { .. })));
        let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let mut buf = (nested.len() as u64).to_le_bytes().to_vec();
        buf.extend_from_slice(nested.as_bytes());
        assert!(matches!(parse_header(&buf), Err(FormatError::InvalidJson(_))));
        let json = r#"{"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}"#;
        let mut buf = (json.len() as u64).to_le_bytes().to_vec();
        buf.extend_from_slice(json.as_bytes());
        let e = parse_header(&buf).unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
        let json = r#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#;
        let mut buf = (json.len() as u64).to_le_bytes().to_vec();
        buf.extend_from_slice(json.as_bytes());
        assert!(parse_header(&buf).unwrap_err().to_string().contains("needs 8"));
        let json = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#;
        let mut buf = (json.len() as u64).to_le_bytes().to_vec();
        buf.extend_from_slice(json.as_bytes());
        assert!(parse_header(&buf).unwrap_err().to_string().contains("contiguous"));
        let json = r#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#;
        let mut buf = (json.len() as u64).to_le_bytes().to_vec();
        buf.extend_from_slice(json.as_bytes());
        assert!(parse_header(&buf).unwrap_err().to_string().contains("unknown dtype"));
    }

    #[test]
    fn index_lists_shards_once_and_refuses_paths() {
        let idx = parse_index(
            r#"{"metadata":{"total_size":1234},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}"#,
        )
        .unwrap();
        assert_eq!(idx.shards.len(), 2);
        assert_eq!(idx.total_size, Some(1234));
        assert_eq!(idx.tensors, 3);
        assert!(parse_index(r#"{"weight_map":{"a":"../../etc/passwd.safetensors"}}"#).is_err());
        assert!(parse_index(r#"{"weight_map":{"a":"https://evil/x.safetensors"}}"#).is_err());
    }
}
