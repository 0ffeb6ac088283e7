//! [`CheckpointInfo`]: what the checkpoint's own headers say about its tensors. When present,
//! the weights of an estimate are these exact bytes rather than parameters × dtype.

use super::params::ParamGroup;
use crate::dtype::DType;
use crate::formats::gguf::GgufFile;
use crate::formats::safetensors::SafetensorsHeader;
use crate::formats::{group_of_tensor, layer_of_tensor};
use serde::Serialize;
use std::collections::BTreeMap;

/// The file format the tensors were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointFormat {
    /// Hugging Face safetensors (one file or shards with an index).
    Safetensors,
    /// llama.cpp GGUF.
    Gguf,
}

impl CheckpointFormat {
    /// Name as reports spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            CheckpointFormat::Safetensors => "safetensors",
            CheckpointFormat::Gguf => "gguf",
        }
    }
}

/// Tensors and bytes of one stored element type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DtypeBytes {
    /// Stored type as the format spells it (`BF16`, `I32`, `Q4_K`).
    pub dtype: String,
    /// Tensors of this type.
    pub tensors: u64,
    /// Elements stored (packed integers count as stored, not as weights they encode).
    pub elements: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Bytes of one component (by tensor name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupBytes {
    /// Component.
    pub group: ParamGroup,
    /// Tensors.
    pub tensors: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Exact tensor sizes of a checkpoint, from its headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointInfo {
    /// File format.
    pub format: CheckpointFormat,
    /// Files read (shards).
    pub files: u64,
    /// Tensors.
    pub tensors: u64,
    /// Elements stored.
    pub elements: u64,
    /// Exact bytes of all tensors.
    pub bytes: u64,
    /// Per stored type, largest first.
    pub by_dtype: Vec<DtypeBytes>,
    /// Per component, in component order.
    pub by_group: Vec<GroupBytes>,
    /// Bytes of the tensors of each decoder block (`blk.N` / `layers.N`), by block index.
    pub layer_bytes: Vec<u64>,
    /// Of `layer_bytes`, the routed experts' tensors (`blk.N.ffn_*_exps`, `experts.N`), by
    /// block index (empty for dense models): what `--n-cpu-moe` / `-ot exps=CPU` keep on the host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layer_expert_bytes: Vec<u64>,
    /// Bytes of the token embedding tables (`token_embd`, `embed_tokens`, `wte`).
    pub input_bytes: u64,
    /// Bytes of the output head and final norm (`output.weight`, `lm_head`, `output_norm`).
    pub output_bytes: u64,
    /// Whether the checkpoint has its own output head tensor (not tied to the embeddings).
    pub has_output_head: bool,
    /// Bytes of the largest tensor.
    pub largest_tensor: u64,
    /// Format metadata worth showing (`__metadata__`, GGUF `general.*` names).
    pub metadata: Vec<(String, String)>,
    /// Where the headers were read from (a path or a URL).
    pub source: String,
}

/// A tensor as the summary sees it.
struct Item<'a> {
    name: &'a str,
    dtype: &'a str,
    elements: u64,
    bytes: u64,
}

impl CheckpointInfo {
    fn summarize<'a>(
        format: CheckpointFormat,
        files: u64,
        items: impl Iterator<Item = Item<'a>>,
        metadata: Vec<(String, String)>,
        source: &str,
    ) -> Self {
        let mut by_dtype: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
        let mut by_group: BTreeMap<ParamGroup, (u64, u64)> = BTreeMap::new();
        let mut layer_bytes: Vec<u64> = Vec::new();
        let mut layer_expert_bytes: Vec<u64> = Vec::new();
        let (mut tensors, mut elements, mut bytes, mut largest) = (0u64, 0u64, 0u64, 0u64);
        let (mut input_bytes, mut output_bytes, mut has_output_head) = (0u64, 0u64, false);
        for it in items {
            tensors += 1;
            elements = elements.saturating_add(it.elements);
            bytes = bytes.saturating_add(it.bytes);
            largest = largest.max(it.bytes);
            let d = by_dtype.entry(it.dtype).or_default();
            d.0 += 1;
            d.1 = d.1.saturating_add(it.elements);
            d.2 = d.2.saturating_add(it.bytes);
            let group = group_of_tensor(it.name);
            let g = by_group.entry(group).or_default();
            g.0 += 1;
            g.1 = g.1.saturating_add(it.bytes);
            if let Some(i) = layer_of_tensor(it.name) {
                // i < MAX_LAYER_INDEX (16,384): the vector stays small whatever the names say.
                let i = i as usize;
                if layer_bytes.len() <= i {
                    layer_bytes.resize(i + 1, 0);
                }
                layer_bytes[i] = layer_bytes[i].saturating_add(it.bytes);
                if group == ParamGroup::Experts {
                    if layer_expert_bytes.len() <= i {
                        layer_expert_bytes.resize(i + 1, 0);
                    }
                    layer_expert_bytes[i] = layer_expert_bytes[i].saturating_add(it.bytes);
                }
            } else if group == ParamGroup::Embeddings {
                input_bytes = input_bytes.saturating_add(it.bytes);
            } else {
                if group == ParamGroup::LmHead {
                    has_output_head = true;
                }
                output_bytes = output_bytes.saturating_add(it.bytes);
            }
        }
        let mut by_dtype: Vec<DtypeBytes> = by_dtype
            .into_iter()
            .map(|(d, (t, e, b))| DtypeBytes { dtype: d.to_string(), tensors: t, elements: e, bytes: b })
            .collect();
        by_dtype.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.dtype.cmp(&b.dtype)));
        CheckpointInfo {
            format,
            files,
            tensors,
            elements,
            bytes,
            by_dtype,
            by_group: by_group
                .into_iter()
                .map(|(group, (tensors, bytes))| GroupBytes { group, tensors, bytes })
                .collect(),
            layer_bytes,
            layer_expert_bytes,
            input_bytes,
            output_bytes,
            has_output_head,
            largest_tensor: largest,
            metadata,
            source: source.to_string(),
        }
    }

    /// Summarize the headers of a safetensors checkpoint (all its shards).
    #[must_use]
    pub fn from_safetensors(shards: &[SafetensorsHeader], source: &str) -> Self {
        let mut metadata: Vec<(String, String)> = Vec::new();
        for h in shards {
            for kv in &h.metadata {
                if !metadata.contains(kv) && metadata.len() < 32 {
                    metadata.push(kv.clone());
                }
            }
        }
        Self::summarize(
            CheckpointFormat::Safetensors,
            shards.len() as u64,
            shards.iter().flat_map(|h| {
                h.tensors.iter().map(|t| Item {
                    name: &t.name,
                    dtype: t.dtype.name(),
                    elements: t.numel,
                    bytes: t.bytes,
                })
            }),
            metadata,
            source,
        )
    }

    /// Summarize a GGUF header.
    #[must_use]
    pub fn from_gguf(file: &GgufFile, source: &str) -> Self {
        let mut metadata = Vec::new();
        for key in ["general.name", "general.architecture", "general.size_label"] {
            if let Some(v) = file.get(key).and_then(|v| v.as_str()) {
                metadata.push((key.to_string(), v.to_string()));
            }
        }
        if let Some(ft) = file.file_type() {
            metadata.push(("general.file_type".into(), ft.to_string()));
        }
        Self::summarize(
            CheckpointFormat::Gguf,
            1,
            file.tensors.iter().map(|t| Item {
                name: &t.name,
                dtype: &t.ggml_type.name,
                elements: t.numel,
                bytes: t.bytes,
            }),
            metadata,
            source,
        )
    }

    /// The floating-point dtype holding the most bytes (what unquantized tensors are stored
    /// in), if any.
    #[must_use]
    pub fn main_float_dtype(&self) -> Option<DType> {
        self.by_dtype.iter().find_map(|d| match d.dtype.as_str() {
            "F32" => Some(DType::Fp32),
            "F16" => Some(DType::Fp16),
            "BF16" => Some(DType::Bf16),
            "F8_E4M3" | "F8_E5M2" => Some(DType::Fp8),
            _ => None,
        })
    }

    /// One line: `2 safetensors files, 291 tensors: BF16 13.5 GB`.
    #[must_use]
    pub fn describe(&self) -> String {
        let types: Vec<String> =
            self.by_dtype.iter().take(6).map(|d| format!("{} {}", d.dtype, crate::units::thousands(d.bytes))).collect();
        format!(
            "{} {} file{}, {} tensors ({} B{})",
            self.files,
            self.format.name(),
            if self.files == 1 { "" } else { "s" },
            self.tensors,
            types.join(" + "),
            if self.by_dtype.len() > 6 { " + …" } else { "" }
        )
    }
}
