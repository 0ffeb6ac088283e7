//! GGUF v2/v3 headers: magic `GGUF`, version, tensor count, key/value count, the key/values,
//! the tensor infos, then (aligned to `general.alignment`, default 32) the data section.
//! Layout per ggml's `docs/gguf.md` and `ggml/src/gguf.cpp` (`gguf_init_from_file_impl`),
//! whose checks this parser repeats: at most 4 dimensions, the first a multiple of the type's
//! block size, offsets aligned, no two tensors overlapping.

use super::{FormatError, Parsed};
use crate::quant::{ggml_types, GgmlType};
use serde::Serialize;

/// Largest header (key/values plus tensor infos) accepted. Real ones are up to a few tens of
/// megabytes (vocabularies of 256k tokens with merges).
pub const MAX_HEADER_BYTES: u64 = 256 << 20;
/// Largest tensor count accepted (the largest MoE files have a few thousand).
pub const MAX_TENSORS: u64 = 1 << 20;
/// Largest key/value count accepted.
pub const MAX_KEY_VALUES: u64 = 1 << 20;
/// Longest key or tensor name accepted (ggml's own limit for names is 64 bytes).
pub const MAX_NAME_BYTES: u64 = 1 << 16;
/// Dimensions of a tensor (`GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;
/// Array items kept in memory over the whole file (longer arrays keep their length only).
pub const MAX_KEPT_ITEMS: usize = 1 << 16;
/// Deepest nesting of arrays accepted.
const MAX_NESTING: u32 = 4;
/// Arrays longer than this keep only their length.
const MAX_KEPT_PER_ARRAY: u64 = 1 << 13;

/// A metadata value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GgufValue {
    /// Unsigned integer (u8, u16, u32, u64).
    Uint(u64),
    /// Signed integer (i8, i16, i32, i64).
    Int(i64),
    /// Float (f32, f64).
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// UTF-8 string (invalid sequences replaced).
    String(String),
    /// An array: its item type, its length, and its items when short and not strings.
    Array {
        /// GGUF type id of the items.
        item_type: u32,
        /// Number of items.
        len: u64,
        /// The items, when kept (numbers and booleans of arrays up to 8192 items).
        items: Vec<GgufValue>,
    },
}

impl GgufValue {
    /// An integer value (unsigned, or signed and non-negative).
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::Uint(v) => Some(v),
            GgufValue::Int(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    /// A number as f64.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::Uint(v) => Some(v as f64),
            GgufValue::Int(v) => Some(v as f64),
            GgufValue::Float(v) => Some(v),
            _ => None,
        }
    }
    /// A string value.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }
    /// The length of an array value.
    #[must_use]
    pub fn array_len(&self) -> Option<u64> {
        match self {
            GgufValue::Array { len, .. } => Some(*len),
            _ => None,
        }
    }
}

/// One tensor info.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GgufTensor {
    /// Name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions, innermost first (ggml's `ne`).
    pub dims: Vec<u64>,
    /// The GGML type.
    pub ggml_type: &'static GgmlType,
    /// Offset in the data section.
    pub offset: u64,
    /// Elements.
    pub numel: u64,
    /// Exact bytes: elements / block size × bytes per block.
    pub bytes: u64,
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GgufFile {
    /// Format version (2 or 3).
    pub version: u32,
    /// Data alignment (`general.alignment`, default 32).
    pub alignment: u64,
    /// Key/values in file order.
    pub metadata: Vec<(String, GgufValue)>,
    /// Tensor infos in file order.
    pub tensors: Vec<GgufTensor>,
    /// Bytes of the header (to the end of the tensor infos).
    pub header_bytes: u64,
    /// Where the data section starts (the header padded to the alignment).
    pub data_offset: u64,
}

impl GgufFile {
    /// A metadata value by key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `general.architecture`.
    #[must_use]
    pub fn architecture(&self) -> Option<&str> {
        self.get("general.architecture").and_then(GgufValue::as_str)
    }

    /// Exact bytes of all tensors.
    #[must_use]
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors.iter().fold(0u64, |a, t| a.saturating_add(t.bytes))
    }

    /// Bytes of all tensors each padded to the alignment: the size of the data section of a
    /// file written by llama.cpp or gguf-py (each pads after every tensor).
    #[must_use]
    pub fn padded_tensor_bytes(&self) -> u64 {
        self.tensors.iter().fold(0u64, |a, t| a.saturating_add(align_up(t.bytes, self.alignment)))
    }

    /// The end of the data section as the offsets place it.
    #[must_use]
    pub fn data_end(&self) -> u64 {
        let end =
            self.tensors.iter().map(|t| t.offset.saturating_add(align_up(t.bytes, self.alignment))).max().unwrap_or(0);
        self.data_offset.saturating_add(end)
    }

    /// The file type `general.file_type` names (`Q4_K_M`), when known.
    #[must_use]
    pub fn file_type(&self) -> Option<&'static str> {
        let id = self.get("general.file_type")?.as_u64()?;
        FILE_TYPES.iter().find(|(i, _)| u64::from(*i) == id).map(|(_, n)| *n)
    }
}

/// `llama_ftype` values (llama.cpp `include/llama.h`) and the names llama-quantize gives them.
pub const FILE_TYPES: &[(u32, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (7, "Q8_0"),
    (8, "Q5_0"),
    (9, "Q5_1"),
    (10, "Q2_K"),
    (11, "Q3_K_S"),
    (12, "Q3_K_M"),
    (13, "Q3_K_L"),
    (14, "Q4_K_S"),
    (15, "Q4_K_M"),
    (16, "Q5_K_S"),
    (17, "Q5_K_M"),
    (18, "Q6_K"),
    (19, "IQ2_XXS"),
    (20, "IQ2_XS"),
    (21, "Q2_K_S"),
    (22, "IQ3_XS"),
    (23, "IQ3_XXS"),
    (24, "IQ1_S"),
    (25, "IQ4_NL"),
    (26, "IQ3_S"),
    (27, "IQ3_M"),
    (28, "IQ2_S"),
    (29, "IQ2_M"),
    (30, "IQ4_XS"),
    (31, "IQ1_M"),
    (32, "BF16"),
    (36, "TQ1_0"),
    (37, "TQ2_0"),
    (38, "MXFP4_MOE"),
];

pub use crate::units::align_up;

enum Halt {
    Need(u64),
    Bad(FormatError),
}

impl From<FormatError> for Halt {
    fn from(e: FormatError) -> Self {
        Halt::Bad(e)
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: u64,
    kept: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], Halt> {
        let end = self.pos.saturating_add(n);
        if end > MAX_HEADER_BYTES {
            return Err(Halt::Bad(FormatError::HeaderTooLarge {
                format: "gguf",
                declared: end,
                limit: MAX_HEADER_BYTES,
            }));
        }
        // end ≤ 256 MiB: fits usize on every target we build for.
        let (start, stop) = (self.pos as usize, end as usize);
        match self.buf.get(start..stop) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(Halt::Need(end)),
        }
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Halt> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N as u64)?);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, Halt> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, Halt> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn string(&mut self, what: &str, limit: u64) -> Result<String, Halt> {
        let len = self.u64()?;
        if len > limit {
            return Err(Halt::Bad(FormatError::InvalidMetadata {
                key: what.to_string(),
                reason: format!("string length {len} exceeds the limit of {limit}"),
            }));
        }
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
    fn skip_string(&mut self) -> Result<(), Halt> {
        let len = self.u64()?;
        self.take(len)?;
        Ok(())
    }
}

/// Bytes of a scalar GGUF value type, `None` for strings and arrays.
fn scalar_size(t: u32) -> Option<u64> {
    Some(match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

fn scalar(c: &mut Cursor<'_>, t: u32) -> Result<GgufValue, Halt> {
    Ok(match t {
        0 => GgufValue::Uint(u64::from(c.array::<1>()?[0])),
        1 => GgufValue::Int(i64::from(i8::from_le_bytes(c.array()?))),
        2 => GgufValue::Uint(u64::from(u16::from_le_bytes(c.array()?))),
        3 => GgufValue::Int(i64::from(i16::from_le_bytes(c.array()?))),
        4 => GgufValue::Uint(u64::from(c.u32()?)),
        5 => GgufValue::Int(i64::from(i32::from_le_bytes(c.array()?))),
        6 => GgufValue::Float(f64::from(f32::from_le_bytes(c.array()?))),
        7 => GgufValue::Bool(c.array::<1>()?[0] != 0),
        10 => GgufValue::Uint(c.u64()?),
        11 => GgufValue::Int(i64::from_le_bytes(c.array()?)),
        12 => GgufValue::Float(f64::from_le_bytes(c.array()?)),
        _ => unreachable_type(t)?,
    })
}

fn unreachable_type(t: u32) -> Result<GgufValue, Halt> {
    Err(Halt::Bad(FormatError::InvalidMetadata {
        key: String::new(),
        reason: format!("value type {t} is not a scalar"),
    }))
}

fn value(c: &mut Cursor<'_>, key: &str, t: u32, depth: u32) -> Result<GgufValue, Halt> {
    let bad = |reason: String| Halt::Bad(FormatError::InvalidMetadata { key: key.to_string(), reason });
    match t {
        8 => Ok(GgufValue::String(c.string(key, MAX_HEADER_BYTES)?)),
        9 => {
            if depth >= MAX_NESTING {
                return Err(bad(format!("arrays nested deeper than {MAX_NESTING}")));
            }
            let item_type = c.u32()?;
            let len = c.u64()?;
            let mut items = Vec::new();
            if let Some(size) = scalar_size(item_type) {
                let keep = len <= MAX_KEPT_PER_ARRAY && c.kept.saturating_add(len as usize) <= MAX_KEPT_ITEMS;
                if keep {
                    items.reserve(len as usize);
                    for _ in 0..len {
                        items.push(scalar(c, item_type)?);
                    }
                    c.kept += len as usize;
                } else {
                    let bytes = len.saturating_mul(size);
                    c.take(bytes)?;
                }
            } else if item_type == 8 {
                // Each item is at least its 8-byte length: the loop ends within the input.
                for _ in 0..len {
                    c.skip_string()?;
                }
            } else if item_type == 9 {
                for _ in 0..len {
                    value(c, key, 9, depth + 1)?;
                }
            } else {
                return Err(bad(format!("unknown array item type {item_type}")));
            }
            Ok(GgufValue::Array { item_type, len, items })
        }
        t if scalar_size(t).is_some() => scalar(c, t),
        other => Err(bad(format!("unknown value type {other}"))),
    }
}

/// Parse a GGUF header from the start of a file.
///
/// Returns [`Parsed::NeedBytes`] with a lower bound of the total bytes needed until `buf`
/// holds the key/values and all tensor infos; callers should fetch at least that much (a
/// file reader can read double each time).
///
/// # Errors
/// Wrong magic, unsupported version, counts or lengths past the limits of this module,
/// unknown value or tensor types, impossible shapes, misaligned or overlapping tensors.
pub fn parse_header(buf: &[u8]) -> Result<Parsed<GgufFile>, FormatError> {
    let mut c = Cursor { buf, pos: 0, kept: 0 };
    match parse(&mut c) {
        Ok(f) => Ok(Parsed::Done(f)),
        Err(Halt::Need(n)) => Ok(Parsed::NeedBytes(n)),
        Err(Halt::Bad(e)) => Err(e),
    }
}

fn parse(c: &mut Cursor<'_>) -> Result<GgufFile, Halt> {
    let magic = c.array::<4>()?;
    if &magic != b"GGUF" {
        return Err(FormatError::BadMagic { found: String::from_utf8_lossy(&magic).into_owned() }.into());
    }
    let version = c.u32()?;
    if !(2..=3).contains(&version) {
        return Err(FormatError::UnsupportedVersion(version).into());
    }
    let n_tensors = c.u64()?;
    if n_tensors > MAX_TENSORS {
        return Err(FormatError::CountTooLarge { what: "tensor", count: n_tensors, limit: MAX_TENSORS }.into());
    }
    let n_kv = c.u64()?;
    if n_kv > MAX_KEY_VALUES {
        return Err(FormatError::CountTooLarge { what: "key/value", count: n_kv, limit: MAX_KEY_VALUES }.into());
    }
    let mut metadata = Vec::with_capacity(n_kv.min(256) as usize);
    // A set, not a scan of the keys so far: a scan is quadratic in n_kv (2^20 keys in a
    // 22 MB file took hours).
    let mut keys = std::collections::HashSet::with_capacity(n_kv.min(256) as usize);
    for _ in 0..n_kv {
        let key = c.string("key", MAX_NAME_BYTES)?;
        let t = c.u32()?;
        let v = value(c, &key, t, 0)?;
        if !keys.insert(key.clone()) {
            return Err(FormatError::InvalidMetadata { key, reason: "duplicate key".into() }.into());
        }
        metadata.push((key, v));
    }
    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => 32,
        Some((k, v)) => match v {
            GgufValue::Uint(a) if *a > 0 && a.is_power_of_two() && *a <= 1 << 20 => *a,
            other => {
                return Err(FormatError::InvalidMetadata {
                    key: k.clone(),
                    reason: format!("{other:?} is not a power of two up to 1 MiB"),
                }
                .into())
            }
        },
    };
    let mut tensors = Vec::with_capacity(n_tensors.min(4096) as usize);
    let mut names = std::collections::HashSet::new();
    for _ in 0..n_tensors {
        let name = c.string("tensor name", MAX_NAME_BYTES)?;
        let n_dims = c.u32()?;
        if n_dims > MAX_DIMS {
            return Err(FormatError::tensor(&name, format!("{n_dims} dimensions (at most {MAX_DIMS})")).into());
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64()?);
        }
        let type_id = c.u32()?;
        let offset = c.u64()?;
        let ggml_type = ggml_types()
            .iter()
            .find(|t| t.id == type_id)
            .ok_or_else(|| FormatError::tensor(&name, format!("unknown ggml type id {type_id}")))?;
        let numel = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| i64::try_from(n).is_ok())
            .ok_or_else(|| FormatError::tensor(&name, format!("dimensions {dims:?} overflow 63 bits")))?;
        let row = dims.first().copied().unwrap_or(1);
        if row % ggml_type.block != 0 {
            return Err(FormatError::tensor(
                &name,
                format!(
                    "first dimension {row} is not a multiple of {}'s block size {}",
                    ggml_type.name, ggml_type.block
                ),
            )
            .into());
        }
        let bytes = (numel / ggml_type.block)
            .checked_mul(ggml_type.bytes)
            .ok_or_else(|| FormatError::tensor(&name, "byte size overflows 64 bits"))?;
        if offset % alignment != 0 {
            return Err(FormatError::tensor(
                &name,
                format!("offset {offset} is not a multiple of the alignment {alignment}"),
            )
            .into());
        }
        if !names.insert(name.clone()) {
            return Err(FormatError::tensor(&name, "duplicate tensor name").into());
        }
        tensors.push(GgufTensor { name, dims, ggml_type, offset, numel, bytes });
    }
    let header_bytes = c.pos;
    let mut order: Vec<&GgufTensor> = tensors.iter().collect();
    order.sort_by_key(|t| t.offset);
    for w in order.windows(2) {
        if !matches!(w[0].offset.checked_add(w[0].bytes), Some(end) if end <= w[1].offset) {
            return Err(FormatError::tensor(
                &w[1].name,
                format!("data at offset {} overlaps tensor {:?}", w[1].offset, w[0].name),
            )
            .into());
        }
    }
    if let Some(last) = order.last() {
        if last.offset.checked_add(last.bytes).is_none() {
            return Err(FormatError::tensor(&last.name, "data range overflows 64 bits").into());
        }
    }
    Ok(GgufFile { version, alignment, metadata, tensors, header_bytes, data_offset: align_up(header_bytes, alignment) })
}

/// A small GGUF writer (the layout gguf-py's `GGUFWriter` produces: key/values, tensor infos,
/// padding to the alignment, each tensor's zero-filled data padded to the alignment). For
/// tests, examples and fuzz seeds.
#[derive(Debug, Default, Clone)]
pub struct GgufWriter {
    kv: Vec<u8>,
    n_kv: u64,
    tensors: Vec<(String, Vec<u64>, u32, u64)>,
    alignment: u64,
}

impl GgufWriter {
    /// An empty file (alignment 32).
    #[must_use]
    pub fn new() -> Self {
        GgufWriter { alignment: 32, ..GgufWriter::default() }
    }
    fn key(&mut self, k: &str, t: u32) {
        self.kv.extend_from_slice(&(k.len() as u64).to_le_bytes());
        self.kv.extend_from_slice(k.as_bytes());
        self.kv.extend_from_slice(&t.to_le_bytes());
        self.n_kv += 1;
    }
    /// A u32 value.
    #[must_use]
    pub fn u32(mut self, k: &str, v: u32) -> Self {
        self.key(k, 4);
        self.kv.extend_from_slice(&v.to_le_bytes());
        if k == "general.alignment" {
            self.alignment = u64::from(v).max(1);
        }
        self
    }
    /// An f32 value.
    #[must_use]
    pub fn f32(mut self, k: &str, v: f32) -> Self {
        self.key(k, 6);
        self.kv.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// A string value.
    #[must_use]
    pub fn string(mut self, k: &str, v: &str) -> Self {
        self.key(k, 8);
        self.kv.extend_from_slice(&(v.len() as u64).to_le_bytes());
        self.kv.extend_from_slice(v.as_bytes());
        self
    }
    /// An array of strings.
    #[must_use]
    pub fn strings(mut self, k: &str, v: &[&str]) -> Self {
        self.key(k, 9);
        self.kv.extend_from_slice(&8u32.to_le_bytes());
        self.kv.extend_from_slice(&(v.len() as u64).to_le_bytes());
        for s in v {
            self.kv.extend_from_slice(&(s.len() as u64).to_le_bytes());
            self.kv.extend_from_slice(s.as_bytes());
        }
        self
    }
    /// An array of i32.
    #[must_use]
    pub fn i32s(mut self, k: &str, v: &[i32]) -> Self {
        self.key(k, 9);
        self.kv.extend_from_slice(&5u32.to_le_bytes());
        self.kv.extend_from_slice(&(v.len() as u64).to_le_bytes());
        for x in v {
            self.kv.extend_from_slice(&x.to_le_bytes());
        }
        self
    }
    /// A tensor of GGML type `ty` (by name, e.g. `Q4_K`) with dimensions `dims` (innermost
    /// first). Unknown type names are written as F32.
    #[must_use]
    pub fn tensor(mut self, name: &str, dims: &[u64], ty: &str) -> Self {
        let t = crate::quant::ggml_type(ty).or_else(|| crate::quant::ggml_type("F32"));
        let numel = dims.iter().fold(1u64, |a, &d| a.saturating_mul(d));
        let (id, bytes) = t.map_or((0, 4), |t| (t.id, (numel / t.block).saturating_mul(t.bytes)));
        self.tensors.push((name.to_string(), dims.to_vec(), id, bytes));
        self
    }
    /// The file's bytes (the data section is left out when it would exceed 256 MiB).
    #[must_use]
    pub fn build(&self) -> Vec<u8> {
        let a = self.alignment.max(1);
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kv);
        let mut offset = 0u64;
        for (name, dims, id, bytes) in &self.tensors {
            out.extend_from_slice(&(name.len() as u64).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = offset.saturating_add(align_up(*bytes, a));
        }
        // Zero-filled data, unless it would be absurdly large (hostile test headers).
        let end = align_up(out.len() as u64, a).saturating_add(offset);
        if end <= 1 << 28 {
            out.resize(end as usize, 0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<u8> {
        GgufWriter::new()
            .string("general.architecture", "llama")
            .u32("llama.block_count", 2)
            .strings("tokenizer.ggml.tokens", &["<s>", "a", "b"])
            .tensor("token_embd.weight", &[256, 3], "Q4_K")
            .tensor("blk.0.attn_q.weight", &[64, 64], "Q8_0")
            .tensor("output_norm.weight", &[7], "F32")
            .build()
    }

    #[test]
    fn reads_what_the_writer_wrote() {
        let file = tiny();
        let Parsed::Done(f) = parse_header(&file).unwrap() else { panic!("incomplete") };
        assert_eq!(f.architecture(), Some("llama"));
        assert_eq!(f.get("tokenizer.ggml.tokens").and_then(GgufValue::array_len), Some(3));
        let bytes: Vec<u64> = f.tensors.iter().map(|t| t.bytes).collect();
        assert_eq!(bytes, vec![3 * 144, 64 * 2 * 34, 28]);
        assert_eq!(f.padded_tensor_bytes(), file.len() as u64 - f.data_offset);
        assert_eq!(f.data_end(), file.len() as u64);
    }

    #[test]
    fn every_prefix_asks_for_more() {
        let file = tiny();
        let Parsed::Done(f) = parse_header(&file).unwrap() else { panic!() };
        for n in 0..f.header_bytes as usize {
            match parse_header(&file[..n]).unwrap() {
                Parsed::NeedBytes(k) => assert!(k > n as u64, "prefix {n} asked for {k}"),
                Parsed::Done(_) => panic!("prefix {n} parsed"),
            }
        }
    }

    #[test]
    fn hostile_counts_are_refused_before_allocating() {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&(1u64 << 60).to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
        assert!(matches!(parse_header(&f), Err(FormatError::CountTooLarge { .. })));
        // A string whose length runs past any plausible header.
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&3u64.to_le_bytes());
        f.extend_from_slice(b"key");
        f.extend_from_slice(&8u32.to_le_bytes());
        f.extend_from_slice(&(u64::MAX - 2).to_le_bytes());
        assert!(parse_header(&f).unwrap_err().to_string().contains("string length"));
        // ...and one that is plausible but runs past the end: more bytes are needed.
        let n = f.len();
        f[n - 8..].copy_from_slice(&1000u64.to_le_bytes());
        assert_eq!(parse_header(&f).unwrap(), Parsed::NeedBytes(n as u64 + 1000));
        // An array of 2^62 u64s.
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(b"k");
        f.extend_from_slice(&9u32.to_le_bytes());
        f.extend_from_slice(&10u32.to_le_bytes());
        f.extend_from_slice(&(1u64 << 62).to_le_bytes());
        assert!(matches!(parse_header(&f), Err(FormatError::HeaderTooLarge { .. })));
        assert!(matches!(parse_header(b"GGML\x03\0\0\0"), Err(FormatError::BadMagic { .. })));
        assert!(matches!(parse_header(b"GGUF\x01\0\0\0"), Err(FormatError::UnsupportedVersion(1))));
    }

    #[test]
    fn impossible_tensors_are_refused() {
        let bad_block = GgufWriter::new().tensor("t", &[100], "Q4_0").build();
        assert!(parse_header(&bad_block).unwrap_err().to_string().contains("block size"));
        let overflow = GgufWriter::new().tensor("t", &[1 << 40, 1 << 40], "F32").build();
        assert!(parse_header(&overflow).unwrap_err().to_string().contains("overflow"));
        let five = GgufWriter::new().tensor("t", &[1, 1, 1, 1, 1], "F32").build();
        assert!(parse_header(&five).unwrap_err().to_string().contains("dimensions"));
    }
}
