//! Weight formats: plain dtypes and quantization schemes, with the real bytes each stores
//! (packed weights plus scales, zeros, absmax and indices).

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::model::Linear;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::OnceLock;

/// A quantization scheme applied to linear-layer weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Quant {
    /// bitsandbytes LLM.int8(): int8 weights, one fp32 scale per output row (`SCB`).
    BnbInt8,
    /// bitsandbytes 4-bit (NF4 or FP4), blockwise absmax, optionally double-quantized.
    Bnb4 {
        /// NF4 (true) or FP4 (false).
        nf4: bool,
        /// Absmax quantized to 8 bits with a second-level fp32 absmax per 256 blocks.
        double_quant: bool,
        /// Elements per absmax block (bitsandbytes default 64).
        blocksize: u64,
    },
    /// GPTQ (AutoGPTQ / optimum layout: qweight, qzeros int32; scales fp16; g_idx int32).
    Gptq {
        /// Bits per weight.
        bits: u64,
        /// Input features per group (`-1`/0 = one group per column).
        group_size: u64,
    },
    /// AWQ (qweight, qzeros int32; scales fp16; no g_idx).
    Awq {
        /// Bits per weight.
        bits: u64,
        /// Input features per group.
        group_size: u64,
    },
    /// fp8 weights (E4M3) with fp32 scales: per tensor, or per `block`×`block` tile
    /// (DeepSeek-V3's `weight_block_size`).
    Fp8 {
        /// Tile edge for block scales; `None` = one scale per tensor.
        block: Option<u64>,
    },
    /// A compressed-tensors checkpoint (llm-compressor: W4A16, W8A16, W8A8 int8, FP8, NVFP4),
    /// read from its `config_groups` weights: `num_bits`-bit integers or floats with scales of
    /// the layer's grouping, as `compressed_tensors` 0.10.2 lays them out.
    CompressedTensors(CompressedTensors),
    /// A llama.cpp GGUF scheme (`Q4_K_M`, `Q8_0`...).
    Gguf {
        /// Scheme name as llama-quantize spells it.
        scheme: String,
    },
}

/// How a compressed-tensors layer groups its weights under one scale
/// (`compressed_tensors.quantization.QuantizationStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CtStrategy {
    /// One scale for the whole tensor.
    Tensor,
    /// One scale per output channel.
    Channel,
    /// One scale per output channel and `n` input features.
    Group(u64),
    /// FP4's groups of `n` with fp8 scales plus one fp32 global scale per tensor.
    TensorGroup(u64),
    /// One scale per `n`×`n` tile.
    Block(u64),
}

/// A compressed-tensors weight scheme (one `config_groups` entry's `weights`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CompressedTensors {
    /// `num_bits`.
    pub bits: u64,
    /// `type`: `float` (fp8, fp4) rather than `int`.
    pub float: bool,
    /// `strategy` with its `group_size` / `block_structure`.
    pub strategy: CtStrategy,
    /// `symmetric`: without it a zero point per scale is stored too.
    pub symmetric: bool,
    /// `actorder: group`: an int32 group index per input feature (`weight_g_idx`).
    pub g_idx: bool,
}

impl CompressedTensors {
    /// Bytes of one `out × in` weight as the checkpoint stores it (compressed_tensors 0.10.2):
    /// integers below 8 bits packed into int32 words (`pack_quantized.py:53-86`,
    /// `weight_packed` + `weight_shape`), fp4 packed two to a byte (`nvfp4_quantized.py`),
    /// 8-bit values one byte each (`naive_quantized.py:57-71`); scales in the model's 16-bit
    /// dtype, fp8 for fp4 plus an fp32 global scale, shaped by the strategy
    /// (`quantization/lifecycle/initialize.py:156-205`); zero points when asymmetric.
    #[must_use]
    pub fn weight_bytes(&self, in_features: u64, out_features: u64) -> u64 {
        let n = in_features.saturating_mul(out_features);
        let packed_int = !self.float && self.bits < 8;
        let values = if packed_int {
            let per_word = (32 / self.bits.max(1)).max(1);
            out_features.saturating_mul(in_features.div_ceil(per_word)).saturating_mul(4) + 8
        } else {
            n.saturating_mul(self.bits).div_ceil(8)
        };
        let scales = match self.strategy {
            CtStrategy::Tensor => 1,
            CtStrategy::Channel => out_features,
            CtStrategy::Group(g) | CtStrategy::TensorGroup(g) => {
                out_features.saturating_mul(in_features.div_ceil(g.max(1)))
            }
            CtStrategy::Block(b) => out_features.div_ceil(b.max(1)).saturating_mul(in_features.div_ceil(b.max(1))),
        };
        let fp4 = self.float && self.bits == 4;
        let scale_bytes = if fp4 { scales + 4 } else { scales.saturating_mul(2) };
        let zero_points = if self.symmetric {
            0
        } else if packed_int {
            scales.saturating_mul(self.bits).div_ceil(32).saturating_mul(4)
        } else {
            scales
        };
        let g_idx = if self.g_idx { in_features.saturating_mul(4) } else { 0 };
        values + scale_bytes + zero_points + g_idx
    }

    /// `w4a16 int g128`, `w8 float channel`.
    #[must_use]
    pub fn label(&self) -> String {
        let s = match self.strategy {
            CtStrategy::Tensor => "tensor".to_string(),
            CtStrategy::Channel => "channel".to_string(),
            CtStrategy::Group(g) | CtStrategy::TensorGroup(g) => format!("g{g}"),
            CtStrategy::Block(b) => format!("block {b}"),
        };
        format!("compressed-tensors {}{} {s}", if self.float { "fp" } else { "int" }, self.bits)
    }

    /// The scheme of a `quantization_config` with `quant_method: compressed-tensors`: the
    /// `config_groups` entry whose targets include every `Linear` (else the first). `None`
    /// when there are no weight groups.
    fn from_config(v: &Value) -> Option<Self> {
        let groups = v.get("config_groups")?.as_object()?;
        let targets_linear = |g: &Value| {
            g.get("targets").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x.as_str() == Some("Linear")))
        };
        let group = groups.values().find(|g| targets_linear(g)).or_else(|| groups.values().next())?;
        let w = group.get("weights").filter(|w| w.is_object())?;
        let num = |k: &str| w.get(k).and_then(Value::as_u64);
        let bits = num("num_bits").filter(|&b| (1..=16).contains(&b))?;
        let float = w.get("type").and_then(Value::as_str) == Some("float");
        let size = num("group_size").filter(|&g| g > 0);
        let block = w
            .get("block_structure")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_u64)
            .filter(|&b| b > 0);
        let strategy = match (w.get("strategy").and_then(Value::as_str), size, block) {
            (Some("tensor_group"), Some(g), _) => CtStrategy::TensorGroup(g),
            (Some("group"), Some(g), _) => CtStrategy::Group(g),
            (Some("block"), _, Some(b)) => CtStrategy::Block(b),
            (Some("tensor"), _, _) => CtStrategy::Tensor,
            (_, Some(g), _) => CtStrategy::Group(g),
            _ => CtStrategy::Channel,
        };
        Some(CompressedTensors {
            bits,
            float,
            strategy,
            symmetric: w.get("symmetric").and_then(Value::as_bool).unwrap_or(true),
            g_idx: w.get("actorder").and_then(Value::as_str) == Some("group"),
        })
    }
}

/// A quantization as configured: the scheme plus modules it leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuantConfig {
    /// The scheme.
    pub quant: Quant,
}

impl QuantConfig {
    /// Parse a CLI spelling: `int8`, `nf4`, `nf4-dq`, `fp4`, `fp4-dq`, `gptq-4bit`,
    /// `gptq-8bit`, `awq-4bit`, `fp8`, or a GGUF scheme (`q4_k_m`, `q8_0`...).
    ///
    /// # Errors
    /// An unknown spelling (the message lists the known ones).
    pub fn parse(s: &str, group_size: Option<u64>) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        let gs = group_size.unwrap_or(128);
        let quant = match t.as_str() {
            "int8" | "bnb-int8" | "llm.int8" | "8bit" => Quant::BnbInt8,
            "nf4" | "bnb-nf4" => bnb4(true, false, group_size),
            "nf4-dq" | "bnb-nf4-dq" => bnb4(true, true, group_size),
            "fp4" | "bnb-fp4" => bnb4(false, false, group_size),
            "fp4-dq" | "bnb-fp4-dq" => bnb4(false, true, group_size),
            "gptq" | "gptq-4bit" | "gptq-int4" => Quant::Gptq { bits: 4, group_size: gs },
            "gptq-8bit" | "gptq-int8" => Quant::Gptq { bits: 8, group_size: gs },
            "gptq-3bit" => Quant::Gptq { bits: 3, group_size: gs },
            "gptq-2bit" => Quant::Gptq { bits: 2, group_size: gs },
            "awq" | "awq-4bit" => Quant::Awq { bits: 4, group_size: gs },
            "fp8" | "fp8-e4m3" => Quant::Fp8 { block: None },
            other => {
                let upper = other.replace('-', "_").to_ascii_uppercase();
                if gguf_scheme(&upper).is_some() {
                    Quant::Gguf { scheme: upper }
                } else {
                    return Err(Error::workload(
                        "--quant",
                        format!(
                            "unknown quantization {s:?}; use int8, nf4, nf4-dq, fp4, fp4-dq, gptq-4bit, gptq-8bit, awq-4bit, fp8, or a GGUF scheme ({})",
                            gguf_schemes().iter().map(|s| s.name.to_ascii_lowercase()).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
        };
        if let Quant::Gptq { group_size: 0, .. } | Quant::Awq { group_size: 0, .. } = quant {
            return Err(Error::workload("--group-size", "must be positive"));
        }
        Ok(QuantConfig { quant })
    }

    /// Read a config.json `quantization_config` object.
    ///
    /// # Errors
    /// A method vramfit does not know.
    pub fn from_config(v: &Value) -> Result<Self> {
        let method = v.get("quant_method").and_then(Value::as_str).unwrap_or("");
        let num = |k: &str| v.get(k).and_then(Value::as_i64);
        let group = |d: i64| -> u64 {
            match num("group_size").or_else(|| num("q_group_size")).unwrap_or(d) {
                g if g <= 0 => 0,
                g => g as u64,
            }
        };
        if method == "compressed-tensors" {
            if let Some(c) = CompressedTensors::from_config(v) {
                return Ok(QuantConfig { quant: Quant::CompressedTensors(c) });
            }
        }
        let quant = match method {
            "gptq" => Quant::Gptq { bits: num("bits").unwrap_or(4).clamp(2, 8) as u64, group_size: group(128) },
            "awq" => Quant::Awq {
                bits: num("bits").or_else(|| num("w_bit")).unwrap_or(4).clamp(2, 8) as u64,
                group_size: group(128),
            },
            "bitsandbytes" | "bitsandbytes_4bit" | "bitsandbytes_8bit" => {
                let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
                if b("load_in_4bit") || method == "bitsandbytes_4bit" {
                    let nf4 = v.get("bnb_4bit_quant_type").and_then(Value::as_str) != Some("fp4");
                    bnb4(nf4, b("bnb_4bit_use_double_quant"), None)
                } else {
                    Quant::BnbInt8
                }
            }
            "fp8" | "fbgemm_fp8" | "compressed-tensors" => {
                let block = v
                    .get("weight_block_size")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(Value::as_u64)
                    .filter(|&b| b > 0 && b <= 1 << 16);
                Quant::Fp8 { block }
            }
            // gpt-oss: MXFP4 routed experts, the rest unquantized.
            "mxfp4" => Quant::Gguf { scheme: "MXFP4_MOE".into() },
            other => {
                return Err(Error::config(
                    "quantization_config.quant_method",
                    format!("{other:?} is not supported (gptq, awq, bitsandbytes, fp8, mxfp4 are)"),
                ))
            }
        };
        Ok(QuantConfig { quant })
    }

    /// A short label (`nf4-dq`, `gptq-4bit g128`, `Q4_K_M`).
    #[must_use]
    pub fn label(&self) -> String {
        match &self.quant {
            Quant::BnbInt8 => "int8".into(),
            Quant::Bnb4 { nf4, double_quant, .. } => {
                format!("{}{}", if *nf4 { "nf4" } else { "fp4" }, if *double_quant { "-dq" } else { "" })
            }
            Quant::Gptq { bits, group_size } => format!("gptq-{bits}bit g{group_size}"),
            Quant::Awq { bits, group_size } => format!("awq-{bits}bit g{group_size}"),
            Quant::Fp8 { .. } => "fp8".into(),
            Quant::CompressedTensors(c) => c.label(),
            Quant::Gguf { scheme } => scheme.clone(),
        }
    }

    /// Whether bitsandbytes kernels do it (CUDA-centric; quantizes at load time).
    #[must_use]
    pub fn is_bitsandbytes(&self) -> bool {
        matches!(self.quant, Quant::BnbInt8 | Quant::Bnb4 { .. })
    }

    /// Bytes one linear layer's weight occupies in memory (bias excluded), for all copies.
    /// `layer`/`n_layers` place it for GGUF schemes that vary by depth.
    #[must_use]
    pub fn weight_bytes(&self, l: &Linear, layer: Option<(u64, u64)>) -> u64 {
        let n = l.in_features.saturating_mul(l.out_features);
        let per_copy = match &self.quant {
            Quant::BnbInt8 => n + l.out_features * 4,
            Quant::Bnb4 { double_quant, blocksize, .. } => {
                let blocks = n.div_ceil(*blocksize);
                let absmax = if *double_quant {
                    // uint8 absmax per block + fp32 absmax per 256 blocks + fp32 offset.
                    blocks + blocks.div_ceil(256) * 4 + 4
                } else {
                    blocks * 4
                };
                n.div_ceil(2) + absmax
            }
            Quant::Gptq { bits, group_size } => {
                let groups = groups(l.in_features, *group_size);
                (n * bits).div_ceil(8)
                    + (groups * l.out_features * bits).div_ceil(8)
                    + groups * l.out_features * 2
                    + l.in_features * 4
            }
            Quant::Awq { bits, group_size } => {
                let groups = groups(l.in_features, *group_size);
                (n * bits).div_ceil(8) + (groups * l.out_features * bits).div_ceil(8) + groups * l.out_features * 2
            }
            Quant::Fp8 { block } => {
                n + match block {
                    Some(b) => l.in_features.div_ceil(*b) * l.out_features.div_ceil(*b) * 4,
                    None => 4,
                }
            }
            Quant::CompressedTensors(c) => c.weight_bytes(l.in_features, l.out_features),
            Quant::Gguf { scheme } => {
                let ty = gguf_scheme(scheme).map_or("F16", |s| match (&s.experts, l.group) {
                    (Some(t), crate::model::ParamGroup::Experts) => t.as_str(),
                    _ => s.type_for(&l.name, layer),
                });
                gguf_bytes(ty, n)
            }
        };
        per_copy.saturating_mul(l.copies)
    }
}

fn groups(in_features: u64, group_size: u64) -> u64 {
    if group_size == 0 {
        1
    } else {
        in_features.div_ceil(group_size)
    }
}

fn bnb4(nf4: bool, double_quant: bool, blocksize: Option<u64>) -> Quant {
    Quant::Bnb4 { nf4, double_quant, blocksize: blocksize.filter(|&b| b > 0).unwrap_or(64) }
}

/// One GGML tensor type.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct GgmlType {
    /// Name (`Q4_K`).
    pub name: String,
    /// `ggml_type` enum value.
    pub id: u32,
    /// Elements per block.
    pub block: u64,
    /// Bytes per block.
    pub bytes: u64,
}

/// A llama-quantize file type as a mix of tensor types.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct GgufScheme {
    /// Name (`Q4_K_M`).
    pub name: String,
    /// Type of most tensors.
    pub default: String,
    /// Type of `output.weight`.
    pub output: String,
    /// Type of attn_v / ffn_down in the layers that get more bits.
    #[serde(default)]
    pub more_bits: Option<String>,
    /// Every attn_v gets `more_bits`, not only the chosen layers.
    #[serde(default)]
    pub all_attn_v: bool,
    /// Type of the routed experts' tensors, when the scheme gives them their own.
    #[serde(default)]
    pub experts: Option<String>,
}

impl GgufScheme {
    /// The tensor type this scheme gives a linear named `name` in `layer` of `n`.
    #[must_use]
    pub fn type_for(&self, name: &str, layer: Option<(u64, u64)>) -> &str {
        if name == "lm_head" || name == "embed_out" {
            return &self.output;
        }
        if let (Some(more), Some((i, n))) = (&self.more_bits, layer) {
            let is_v = name.ends_with("v_proj");
            let is_down =
                name.ends_with("down_proj") || name == "w2" || name.ends_with("dense_4h_to_h") || name == "fc2";
            if (is_v && self.all_attn_v) || ((is_v || is_down) && use_more_bits(i, n)) {
                return more;
            }
        }
        &self.default
    }
}

/// llama.cpp's `use_more_bits(i_layer, n_layers)`.
fn use_more_bits(i: u64, n: u64) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

#[derive(Deserialize)]
struct GgufData {
    #[serde(rename = "type")]
    types: Vec<GgmlType>,
    scheme: Vec<GgufScheme>,
}

fn gguf_data() -> &'static GgufData {
    static DATA: OnceLock<GgufData> = OnceLock::new();
    DATA.get_or_init(|| {
        serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/gguf_types.json")))
            .expect("gguf_types.toml is checked by tests")
    })
}

/// All GGML tensor types vramfit knows.
#[must_use]
pub fn ggml_types() -> &'static [GgmlType] {
    &gguf_data().types
}

/// All GGUF file schemes vramfit knows.
#[must_use]
pub fn gguf_schemes() -> &'static [GgufScheme] {
    &gguf_data().scheme
}

/// Look up a GGUF scheme by name (case-insensitive).
#[must_use]
pub fn gguf_scheme(name: &str) -> Option<&'static GgufScheme> {
    gguf_schemes().iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Look up a GGML type by name or id.
#[must_use]
pub fn ggml_type(name: &str) -> Option<&'static GgmlType> {
    ggml_types().iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

/// Bytes of `n` elements stored as GGML type `ty` (whole blocks).
#[must_use]
pub fn gguf_bytes(ty: &str, n: u64) -> u64 {
    let t = ggml_type(ty).unwrap_or_else(|| ggml_type("F16").expect("F16 is in the table"));
    n.div_ceil(t.block).saturating_mul(t.bytes)
}

/// Bytes per element of a dense dtype (for unquantized tensors).
#[must_use]
pub fn dense_bytes(dtype: DType, n: u64) -> u64 {
    n.saturating_mul(dtype.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParamGroup;

    fn lin(i: u64, o: u64) -> Linear {
        Linear::new("q_proj", ParamGroup::AttentionQ, i, o, false)
    }

    #[test]
    fn nf4_is_half_byte_plus_absmax() {
        let q = QuantConfig::parse("nf4", None).unwrap();
        // 4096*4096 = 16,777,216 elements: 8,388,608 packed bytes + 262,144 blocks * 4 B.
        assert_eq!(q.weight_bytes(&lin(4096, 4096), None), 8_388_608 + 262_144 * 4);
        let dq = QuantConfig::parse("nf4-dq", None).unwrap();
        assert_eq!(dq.weight_bytes(&lin(4096, 4096), None), 8_388_608 + 262_144 + 1024 * 4 + 4);
    }

    #[test]
    fn int8_has_row_scales() {
        let q = QuantConfig::parse("int8", None).unwrap();
        assert_eq!(q.weight_bytes(&lin(4096, 11008), None), 4096 * 11008 + 11008 * 4);
    }

    #[test]
    fn gptq_layout() {
        let q = QuantConfig::parse("gptq-4bit", Some(128)).unwrap();
        // qweight 4096*4096/2, qzeros 32 groups * 4096 / 2, scales 32*4096*2, g_idx 4096*4
        assert_eq!(q.weight_bytes(&lin(4096, 4096), None), 8_388_608 + 65_536 + 262_144 + 16_384);
    }

    /// A `quantization_config` as llm-compressor writes it for a compressed_tensors preset
    /// (`compressed_tensors/quantization/quant_scheme.py`, 0.10.2), the shape of the Hub's
    /// RedHatAI `*-quantized.w4a16`, `*-quantized.w8a8` and `*-FP8-dynamic` configs: one
    /// group targeting `Linear`, `ignore: ["lm_head"]`.
    fn ct_config(format: &str, weights: serde_json::Value) -> Value {
        serde_json::json!({
            "quant_method": "compressed-tensors",
            "format": format,
            "quantization_status": "compressed",
            "ignore": ["lm_head"],
            "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": null, "weights": weights}}
        })
    }

    #[test]
    fn compressed_tensors_w4a16_is_int4_packed_with_group_scales() {
        // W4A16 preset (quant_scheme.py:166-176): int, 4 bits, group 128, symmetric.
        let v = ct_config(
            "pack-quantized",
            serde_json::json!({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128, "symmetric": true, "dynamic": false, "actorder": null}),
        );
        let q = QuantConfig::from_config(&v).unwrap();
        assert_eq!(q.label(), "compressed-tensors int4 g128");
        // weight_packed int32 [4096, 4096/8] + weight_shape 2 × int32 + bf16 scales [4096, 32].
        assert_eq!(q.weight_bytes(&lin(4096, 4096), None), 4096 * 512 * 4 + 8 + 4096 * 32 * 2);
        // About a quarter of fp8's bytes, not fp8's.
        let fp8 = QuantConfig::parse("fp8", None).unwrap().weight_bytes(&lin(4096, 4096), None);
        assert!(q.weight_bytes(&lin(4096, 4096), None) * 3 < fp8 * 2);
        // Asymmetric (W4A16_ASYM, :178-188) adds packed int32 zero points; actorder group a g_idx.
        let asym = ct_config(
            "pack-quantized",
            serde_json::json!({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128, "symmetric": false, "actorder": "group"}),
        );
        let a = QuantConfig::from_config(&asym).unwrap();
        assert_eq!(
            a.weight_bytes(&lin(4096, 4096), None),
            4096 * 512 * 4 + 8 + 4096 * 32 * 2 + 4096 * 32 * 4 / 8 + 4096 * 4
        );
    }

    #[test]
    fn compressed_tensors_w8a8_int8_is_one_byte_with_channel_scales() {
        // INT8_W8A8 preset (quant_scheme.py:136-153): int, 8 bits, channel; int8 stored unpacked.
        let v = ct_config(
            "int-quantized",
            serde_json::json!({"num_bits": 8, "type": "int", "strategy": "channel", "group_size": null, "symmetric": true, "dynamic": false}),
        );
        let q = QuantConfig::from_config(&v).unwrap();
        assert_eq!(q.label(), "compressed-tensors int8 channel");
        assert_eq!(q.weight_bytes(&lin(4096, 11008), None), 4096 * 11008 + 11008 * 2);
    }

    #[test]
    fn compressed_tensors_fp8_and_nvfp4() {
        // FP8_DYNAMIC (quant_scheme.py:228-244): float, 8 bits, channel.
        let v = ct_config(
            "float-quantized",
            serde_json::json!({"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": true, "dynamic": false}),
        );
        let q = QuantConfig::from_config(&v).unwrap();
        assert_eq!(q.label(), "compressed-tensors fp8 channel");
        assert_eq!(q.weight_bytes(&lin(4096, 4096), None), 4096 * 4096 + 4096 * 2);
        // FP8 (:210-226): per tensor.
        let t = ct_config("float-quantized", serde_json::json!({"num_bits": 8, "type": "float", "strategy": "tensor"}));
        assert_eq!(QuantConfig::from_config(&t).unwrap().weight_bytes(&lin(4096, 4096), None), 4096 * 4096 + 2);
        // Block-wise fp8 (a 128 × 128 block_structure): one scale per tile.
        let b = ct_config(
            "float-quantized",
            serde_json::json!({"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]}),
        );
        assert_eq!(
            QuantConfig::from_config(&b).unwrap().weight_bytes(&lin(4096, 4096), None),
            4096 * 4096 + 32 * 32 * 2
        );
        // NVFP4A16 (:104-113): fp4 two per byte, fp8 scales per 16, an fp32 global scale.
        let f = ct_config(
            "nvfp4-pack-quantized",
            serde_json::json!({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "symmetric": true}),
        );
        let q = QuantConfig::from_config(&f).unwrap();
        assert_eq!(q.weight_bytes(&lin(4096, 4096), None), 4096 * 4096 / 2 + 4096 * 256 + 4);
    }

    #[test]
    fn compressed_tensors_without_groups_stays_fp8() {
        // Older configs that only carry a block size are read as before.
        let v = serde_json::json!({"quant_method": "compressed-tensors", "weight_block_size": [128, 128]});
        assert_eq!(QuantConfig::from_config(&v).unwrap().quant, Quant::Fp8 { block: Some(128) });
        // Mixed precision: the group that targets every Linear is the one read.
        let m = serde_json::json!({"quant_method": "compressed-tensors", "config_groups": {
            "group_0": {"targets": ["re:.*experts.*"], "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 32}},
            "group_1": {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "float", "strategy": "channel"}}
        }});
        assert_eq!(QuantConfig::from_config(&m).unwrap().label(), "compressed-tensors fp8 channel");
    }

    #[test]
    fn gguf_blocks() {
        assert_eq!(gguf_bytes("Q4_0", 64), 36);
        assert_eq!(gguf_bytes("Q4_K", 256), 144);
        assert_eq!(gguf_bytes("Q8_0", 32), 34);
        let q = QuantConfig::parse("q4_k_m", None).unwrap();
        assert_eq!(q.label(), "Q4_K_M");
        let head = Linear::new("lm_head", ParamGroup::LmHead, 256, 4, false);
        assert_eq!(q.weight_bytes(&head, None), 4 * 210);
    }

    #[test]
    fn gguf_table_is_consistent() {
        let mut ids = std::collections::HashSet::new();
        for t in ggml_types() {
            assert!(t.block > 0 && t.bytes > 0, "{}", t.name);
            assert!(ids.insert(t.id), "duplicate id {}", t.id);
        }
        for s in gguf_schemes() {
            for ty in [Some(&s.default), Some(&s.output), s.more_bits.as_ref()].into_iter().flatten() {
                assert!(ggml_type(ty).is_some(), "scheme {} names unknown type {ty}", s.name);
            }
        }
    }

    #[test]
    fn unknown_quant_names_flag() {
        let e = QuantConfig::parse("int3", None).unwrap_err();
        assert!(e.to_string().starts_with("--quant"), "{e}");
    }

    #[test]
    fn config_json_quantization() {
        let v: Value =
            serde_json::from_str(r#"{"quant_method":"gptq","bits":4,"group_size":128,"desc_act":false}"#).unwrap();
        assert_eq!(QuantConfig::from_config(&v).unwrap().quant, Quant::Gptq { bits: 4, group_size: 128 });
        let v: Value = serde_json::from_str(r#"{"quant_method":"fp8","weight_block_size":[128,128]}"#).unwrap();
        assert_eq!(QuantConfig::from_config(&v).unwrap().quant, Quant::Fp8 { block: Some(128) });
    }
}
