//! The validation case format, read exactly as `shared/validation/README.md` defines it.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::estimate::{AttnImpl, Level, Runtime, RuntimeVersion, Task, Workload};
use crate::quant::QuantConfig;
use serde::{Deserialize, Serialize};

/// One measured case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Case {
    /// Unique id.
    pub id: String,
    /// Where it was published.
    #[serde(default)]
    pub source: String,
    /// A/B/C.
    #[serde(default)]
    pub grade: Option<String>,
    /// The model.
    pub model: CaseModel,
    /// Software that ran it.
    pub runtime: String,
    /// load / prefill / generate / train.
    pub task: String,
    /// Weight dtype and quantization.
    pub weights: CaseWeights,
    /// Inference settings.
    #[serde(default)]
    pub inference: Option<Inference>,
    /// Training settings.
    #[serde(default)]
    pub training: Option<Training>,
    /// Parallelism.
    #[serde(default)]
    pub parallel: Option<Parallel>,
    /// GPU name.
    #[serde(default)]
    pub gpu: Option<String>,
    /// The measurement.
    pub measured: Measured,
    /// Caveats.
    #[serde(default)]
    pub notes: String,
    /// Why the case cannot be reproduced, when it cannot.
    #[serde(default)]
    pub skip_reason: Option<String>,
}

/// `model` of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CaseModel {
    /// Display name.
    pub name: String,
    /// Hugging Face id.
    #[serde(default)]
    pub hf_id: Option<String>,
    /// config.json path relative to the cases file's directory.
    pub config_file: String,
    /// Published parameter count (approximate).
    #[serde(default)]
    pub params: Option<f64>,
}

/// `weights` of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CaseWeights {
    /// float32 / float16 / bfloat16.
    pub dtype: String,
    /// Quantization name or null.
    #[serde(default)]
    pub quant: Option<String>,
    /// Bits.
    #[serde(default)]
    pub bits: Option<u64>,
    /// Group size.
    #[serde(default)]
    pub group_size: Option<i64>,
}

/// `inference` of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Inference {
    /// Batch.
    pub batch_size: Option<u64>,
    /// Prompt tokens.
    pub prompt_tokens: Option<u64>,
    /// New tokens.
    pub new_tokens: Option<u64>,
    /// KV dtype.
    #[serde(default)]
    pub kv_cache_dtype: Option<String>,
    /// eager / sdpa / flash.
    #[serde(default)]
    pub attention: Option<String>,
    /// Tokens of KV cache allocated up front.
    #[serde(default)]
    pub kv_prealloc_tokens: Option<u64>,
}

/// `training` of a case (read now, estimated by the training estimator).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Training {
    /// Method.
    pub method: String,
    /// Per-device batch.
    pub batch_size: Option<u64>,
    /// Sequence length.
    pub seq_len: Option<u64>,
    /// Other fields, kept as they are.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// `parallel` of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Parallel {
    /// GPUs.
    pub gpus: Option<u64>,
    /// Strategy.
    pub strategy: Option<String>,
    /// CPU offload.
    #[serde(default)]
    pub cpu_offload: Option<bool>,
}

/// `measured` of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Measured {
    /// Bytes.
    pub bytes: f64,
    /// Metric name.
    pub metric: String,
    /// Per device.
    #[serde(default)]
    pub per_device: Option<bool>,
}

/// What a case's metric compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricLevel {
    /// One of the three levels.
    Level(Level),
    /// Allocated plus memory outside PyTorch (CUDA context), without allocator caching.
    AllocatedPlusContext,
}

impl Case {
    /// The level the case measured.
    #[must_use]
    pub fn metric_level(&self) -> MetricLevel {
        match self.measured.metric.as_str() {
            "max_memory_allocated" | "active_peak" => MetricLevel::Level(Level::Allocated),
            "allocated_plus_context" => MetricLevel::AllocatedPlusContext,
            "nvml_used" => MetricLevel::Level(Level::Device),
            // "max_memory_reserved" and "unknown" (most unlabeled peaks are the allocator's
            // reserved figure, between allocated and device).
            _ => MetricLevel::Level(Level::Reserved),
        }
    }

    /// The workload the case ran, or why it cannot be estimated yet (`Err(reason)`).
    ///
    /// # Errors
    /// A reason to skip the case.
    pub fn workload(&self) -> std::result::Result<Workload, String> {
        if let Some(r) = &self.skip_reason {
            return Err(format!("case says: {r}"));
        }
        let task = Task::parse(&self.task).map_err(|e| e.to_string())?;
        if let Some(p) = &self.parallel {
            let multi = p.gpus.unwrap_or(1) > 1 || p.strategy.as_deref().is_some_and(|s| s != "none");
            if multi {
                return Err(format!(
                    "multi-GPU ({} × {}) strategies are not modelled yet",
                    p.gpus.unwrap_or(1),
                    p.strategy.as_deref().unwrap_or("?")
                ));
            }
        }
        let runtime = match self.runtime.as_str() {
            "deepspeed" | "other" => return Err(format!("runtime {:?} is not modelled yet", self.runtime)),
            r => Runtime::parse(r).map_err(|e| e.to_string())?,
        };
        if task == Task::Train {
            return Err("training estimates are not modelled yet".into());
        }
        let inf = self.inference.as_ref().ok_or("inference settings missing")?;
        let prompt = inf.prompt_tokens.ok_or("prompt_tokens not published")?;
        let dtype = DType::parse(&self.weights.dtype).map_err(|e| e.to_string())?;
        let quant = self.quant().map_err(|e| e.to_string())?;
        let text = format!("{} {}", self.source, self.notes).to_ascii_lowercase();
        let autocast =
            if dtype == DType::Fp32 && quant.is_none() && (text.contains("autocast") || text.contains("-mixed")) {
                Some(if text.contains("bf16") {
                    DType::Bf16
                } else {
                    DType::Fp16
                })
            } else {
                None
            };
        let version = matches!(runtime, Runtime::Transformers)
            .then(|| transformers_version(&self.source, &self.notes))
            .flatten();
        let kv_dtype = inf
            .kv_cache_dtype
            .as_deref()
            .map(DType::parse)
            .transpose()
            .map_err(|e| e.to_string())?;
        let attn = inf
            .attention
            .as_deref()
            .map(AttnImpl::parse)
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(Workload {
            task,
            batch: inf.batch_size.unwrap_or(1),
            prompt,
            new_tokens: inf.new_tokens.unwrap_or(if task == Task::Prefill { 1 } else { 0 }),
            dtype: Some(dtype),
            autocast,
            quant,
            kv_dtype,
            attn: attn.unwrap_or(AttnImpl::Sdpa),
            runtime,
            runtime_version: version,
            kv_prealloc: inf.kv_prealloc_tokens,
            ..Workload::default()
        })
    }

    fn quant(&self) -> Result<Option<QuantConfig>> {
        let Some(q) = self.weights.quant.as_deref() else {
            return Ok(None);
        };
        let gs = self.weights.group_size.and_then(|g| u64::try_from(g).ok());
        let name = match q {
            "gptq" => format!("gptq-{}bit", self.weights.bits.unwrap_or(4)),
            "torchao-nf4" => "nf4".to_string(),
            other => other.to_string(),
        };
        // bitsandbytes' 4-bit block size is its own (64), not a GPTQ group.
        let gs = if name.contains("nf4") || name.contains("fp4") {
            None
        } else {
            gs
        };
        QuantConfig::parse(&name, gs).map(Some).map_err(|e| Error::Case {
            id: self.id.clone(),
            reason: e.to_string(),
        })
    }
}

/// The transformers version a case ran, from an explicit version in its text or, failing
/// that, the release current at the date it gives.
#[must_use]
pub fn transformers_version(source: &str, notes: &str) -> Option<RuntimeVersion> {
    for text in [source, notes] {
        let lower = text.to_ascii_lowercase();
        let mut rest = lower.as_str();
        while let Some(i) = rest.find("transformers") {
            let after = rest[i + "transformers".len()..].trim_start_matches([' ', '=', 'v', '>', '<', '~']);
            let ver: String = after.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            if ver.starts_with("4.") || ver.starts_with("5.") {
                if let Ok(v) = RuntimeVersion::parse(&ver) {
                    return Some(v);
                }
            }
            rest = &rest[i + 1..];
        }
    }
    for text in [source, notes] {
        if let Some((y, m)) = find_date(text) {
            return Some(RuntimeVersion::transformers_at(y, m));
        }
    }
    None
}

/// First `Mon YYYY` / `Month YYYY` or `YYYY-MM` date in a text.
fn find_date(text: &str) -> Option<(u32, u32)> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        if let Some(m) = MONTHS.iter().position(|m| pair[0].starts_with(m)) {
            if let Ok(y) = pair[1].parse::<u32>() {
                if (2018..=2030).contains(&y) {
                    return Some((y, m as u32 + 1));
                }
            }
        }
    }
    for w in &words {
        let parts: Vec<&str> = w.split('-').collect();
        if parts.len() >= 2 {
            if let (Ok(y), Ok(m)) = (parts[0].parse::<u32>(), parts[1].parse::<u32>()) {
                if (2018..=2030).contains(&y) && (1..=12).contains(&m) && parts[0].len() == 4 {
                    return Some((y, m));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_text() {
        assert_eq!(
            transformers_version("x transformers==4.36.2 y", ""),
            Some(RuntimeVersion::new(4, 36))
        );
        assert_eq!(
            transformers_version(
                "optimum benchmark",
                "framework=transformers generate (optimum benchmark_gptq.py, Aug 2023)"
            ),
            Some(RuntimeVersion::new(4, 32))
        );
        assert_eq!(
            transformers_version("numbers added 2023-07-25", ""),
            Some(RuntimeVersion::new(4, 31))
        );
        assert_eq!(transformers_version("no date", "nothing"), None);
    }
}
