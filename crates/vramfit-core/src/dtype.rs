//! Element types of tensors and their sizes.

use crate::choice::{Choice, Entry};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A floating-point (or integer) element type as PyTorch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float.
    Fp32,
    /// IEEE half.
    Fp16,
    /// bfloat16.
    Bf16,
    /// 8-bit float (E4M3 or E5M2).
    Fp8,
    /// 8-bit integer.
    Int8,
}

impl DType {
    /// Bytes per element.
    #[must_use]
    pub fn bytes(self) -> u64 {
        match self {
            DType::Fp32 => 4,
            DType::Fp16 | DType::Bf16 => 2,
            DType::Fp8 | DType::Int8 => 1,
        }
    }

    /// The short name used on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.canonical().expect("every dtype has a row")
    }

    /// Parses the spellings found in config.json (`torch_dtype`), PyTorch and the CLI.
    ///
    /// # Errors
    /// An unknown spelling.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }
}

impl Choice for DType {
    const FLAG: &'static str = "--dtype";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        DTYPES.iter().copied()
    }
    fn fold(s: &str) -> String {
        let t = s.trim().to_ascii_lowercase();
        t.strip_prefix("torch.").map_or(t.clone(), str::to_string)
    }
    fn unknown(s: &str) -> String {
        format!("unknown dtype {s:?} (use {})", Self::listed())
    }
}

/// `--dtype`: every dtype, its spellings (config.json, PyTorch, safetensors) and help.
const DTYPES: &[Entry<DType>] = &[
    Entry::new(DType::Fp32, &["fp32", "float32", "float", "f32"], "fp32 (4 bytes)"),
    Entry::new(DType::Fp16, &["fp16", "float16", "half", "f16"], "fp16 (2 bytes)"),
    Entry::new(DType::Bf16, &["bf16", "bfloat16"], "bf16 (2 bytes)"),
    Entry::new(
        DType::Fp8,
        &["fp8", "float8", "float8_e4m3fn", "float8_e5m2", "f8_e4m3", "f8_e5m2", "e4m3"],
        "fp8 (1 byte)",
    ),
    Entry::unlisted(DType::Int8, &["int8", "i8"], "int8 (1 byte)"),
];

crate::choice_traits!(DType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_torch_spellings() {
        assert_eq!(DType::parse("torch.bfloat16").unwrap(), DType::Bf16);
        assert_eq!(DType::parse("float16").unwrap(), DType::Fp16);
        assert_eq!(DType::parse("FP32").unwrap(), DType::Fp32);
        assert!(DType::parse("fp7").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(DType::Fp32.bytes(), 4);
        assert_eq!(DType::Bf16.bytes(), 2);
        assert_eq!(DType::Fp8.bytes(), 1);
    }
}
