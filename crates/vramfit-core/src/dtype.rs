//! Element types of tensors and their sizes.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

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
        match self {
            DType::Fp32 => "fp32",
            DType::Fp16 => "fp16",
            DType::Bf16 => "bf16",
            DType::Fp8 => "fp8",
            DType::Int8 => "int8",
        }
    }

    /// Parses the spellings found in config.json (`torch_dtype`), PyTorch and the CLI.
    ///
    /// # Errors
    /// An unknown spelling.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix("torch.").unwrap_or(&t);
        Ok(match t {
            "fp32" | "float32" | "float" | "f32" => DType::Fp32,
            "fp16" | "float16" | "half" | "f16" => DType::Fp16,
            "bf16" | "bfloat16" => DType::Bf16,
            "fp8" | "float8" | "float8_e4m3fn" | "float8_e5m2" | "f8_e4m3" | "f8_e5m2" | "e4m3" => DType::Fp8,
            "int8" | "i8" => DType::Int8,
            _ => return Err(Error::workload("--dtype", format!("unknown dtype {s:?} (use fp32, fp16, bf16 or fp8)"))),
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
