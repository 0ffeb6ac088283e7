//! The validation case format, read exactly as `shared/validation/README.md` defines it.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::estimate::parallel::{Offload, Parallel as Layout, Strategy};
use crate::estimate::training::setup::{Method, Optimizer, Precision, TrainingSetup};
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
    /// A serving engine's settings (`task: serve`).
    #[serde(default)]
    pub engine: Option<super::engine::CaseEngine>,
    /// The measurement.
    pub measured: Measured,
    /// Caveats.
    #[serde(default)]
    pub notes: String,
    /// Why the case cannot be reproduced, when it cannot.
    #[serde(default)]
    pub skip_reason: Option<String>,
    /// Speed cases: what the speed model needs beyond the workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<SpeedSetup>,
}

/// `speed` of a speed case (`validation/speed/cases.json`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedSetup {
    /// The backend whose constants apply when the runtime and GPU do not say it (`mlx`).
    #[serde(default)]
    pub backend: Option<String>,
    /// The software and build that measured it (`llama.cpp b1618`, `mlx-lm 0.19`).
    #[serde(default)]
    pub build: Option<String>,
    /// CPU RAM bandwidth of the host, GB/s (partial offload).
    #[serde(default)]
    pub ram_bandwidth_gb_s: Option<f64>,
    /// llama.cpp `-ngl`.
    #[serde(default)]
    pub n_gpu_layers: Option<u64>,
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

/// `training` of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Training {
    /// full, lora, qlora, ia3, prompt-tuning, prefix-tuning, adapter, adapter-v2, other.
    pub method: String,
    /// Per-device batch.
    #[serde(default)]
    pub batch_size: Option<u64>,
    /// Sequence length.
    #[serde(default)]
    pub seq_len: Option<u64>,
    /// The sequence length is a maximum (padded or variable lengths).
    #[serde(default)]
    pub seq_len_is_max: Option<bool>,
    /// Gradient accumulation steps.
    #[serde(default)]
    pub grad_accum: Option<u64>,
    /// Precision policy.
    #[serde(default)]
    pub precision: Option<String>,
    /// Optimizer.
    #[serde(default)]
    pub optimizer: Option<String>,
    /// Optimizer step fused into backward.
    #[serde(default)]
    pub optimizer_in_backward: Option<bool>,
    /// Gradient checkpointing.
    #[serde(default)]
    pub grad_checkpointing: Option<bool>,
    /// Activation offloading.
    #[serde(default)]
    pub activation_offload: Option<bool>,
    /// Chunked cross-entropy.
    #[serde(default)]
    pub chunked_ce: Option<bool>,
    /// torch.compile.
    #[serde(default)]
    pub compile: Option<bool>,
    /// LoRA settings.
    #[serde(default)]
    pub lora: Option<CaseLora>,
}

/// `training.lora` of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CaseLora {
    /// Rank.
    pub rank: u64,
    /// Alpha.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Target module names.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Dropout.
    #[serde(default)]
    pub dropout: Option<f64>,
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
    /// Bytes (a memory figure); serving cases may measure tokens or a value instead.
    #[serde(default)]
    pub bytes: Option<f64>,
    /// A count of tokens (serving: KV cache tokens).
    #[serde(default)]
    pub tokens: Option<f64>,
    /// A ratio (serving: maximum concurrency).
    #[serde(default)]
    pub value: Option<f64>,
    /// The device a serving engine's buffer line names (`CUDA0`, `CPU`).
    #[serde(default)]
    pub device: Option<String>,
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
            // "unknown": the level the case's own notes name as the likely source
            // ("metric (source): likely nvidia-smi ..."), else the allocator's reserved figure
            // (between allocated and device), which most unlabeled peaks are.
            "unknown" => MetricLevel::Level(self.likely_level().unwrap_or(Level::Reserved)),
            _ => MetricLevel::Level(Level::Reserved),
        }
    }

    /// For a case whose metric is `unknown`: the level its notes say the number likely is.
    fn likely_level(&self) -> Option<Level> {
        let notes = self.notes.to_ascii_lowercase();
        let at = notes.find("metric (source):")?;
        let said = notes[at..].split(" | ").next().unwrap_or_default();
        if said.contains("nvidia-smi") || said.contains("nvml") {
            Some(Level::Device)
        } else if said.contains("max_memory_allocated") {
            Some(Level::Allocated)
        } else if said.contains("max_memory_reserved") {
            Some(Level::Reserved)
        } else {
            None
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
        if task == Task::Serve {
            return super::engine::serving_workload(self);
        }
        let parallel = self.parallel_layout(task)?;
        let runtime = match self.runtime.as_str() {
            // DeepSpeed runs the transformers model; the strategy says what it shards.
            "deepspeed" => Runtime::Transformers,
            "other" => return Err(format!("runtime {:?} is not modelled yet", self.runtime)),
            r => Runtime::parse(r).map_err(|e| e.to_string())?,
        };
        let dtype = DType::parse(&self.weights.dtype).map_err(|e| e.to_string())?;
        let quant = self.quant().map_err(|e| e.to_string())?;
        let version = case_version(runtime, &self.source, &self.notes);
        if task == Task::Train {
            let tr = self.training.as_ref().ok_or("training settings missing")?;
            let training = training_setup(tr, runtime, &self.notes)?;
            // The format keeps `attention` under `inference`; training cases that name it only
            // in their notes ("attn_implementation=eager") are read from there.
            let noted = {
                let n = self.notes.to_ascii_lowercase();
                if n.contains("attn_implementation=eager") || n.contains("eager attention") {
                    Some("eager")
                } else if n.contains("attn_implementation=sdpa") {
                    Some("sdpa")
                } else {
                    None
                }
            };
            let attn = self
                .inference
                .as_ref()
                .and_then(|i| i.attention.as_deref())
                .or(noted)
                .map(AttnImpl::parse)
                .transpose()
                .map_err(|e| e.to_string())?;
            return Ok(Workload {
                task,
                parallel,
                batch: tr.batch_size.ok_or("batch_size not published")?,
                dtype: Some(dtype),
                quant,
                attn: attn.unwrap_or(
                    if crate::estimate::profile::RuntimeProfile::of(runtime, version)
                        .inference
                        .transformers
                        .is_some_and(|b| b.eager_only)
                    {
                        AttnImpl::Eager
                    } else {
                        AttnImpl::Sdpa
                    },
                ),
                runtime,
                runtime_version: version,
                training,
                ..Workload::default()
            });
        }
        if task == Task::Load && self.inference.is_none() {
            return Ok(Workload {
                task,
                dtype: Some(dtype),
                quant,
                runtime,
                runtime_version: version,
                ..Workload::default()
            });
        }
        let inf = self.inference.as_ref().ok_or("inference settings missing")?;
        let prompt = inf.prompt_tokens.ok_or("prompt_tokens not published")?;
        let text = format!("{} {}", self.source, self.notes).to_ascii_lowercase();
        let autocast =
            if dtype == DType::Fp32 && quant.is_none() && (text.contains("autocast") || text.contains("-mixed")) {
                Some(if text.contains("bf16") { DType::Bf16 } else { DType::Fp16 })
            } else {
                None
            };
        let kv_dtype = inf.kv_cache_dtype.as_deref().map(DType::parse).transpose().map_err(|e| e.to_string())?;
        let attn = inf.attention.as_deref().map(AttnImpl::parse).transpose().map_err(|e| e.to_string())?;
        Ok(Workload {
            task,
            batch: inf.batch_size.unwrap_or(1),
            prompt,
            new_tokens: inf.new_tokens.unwrap_or(u64::from(task == Task::Prefill)),
            dtype: Some(dtype),
            autocast,
            quant,
            kv_dtype,
            attn: attn.unwrap_or(AttnImpl::Sdpa),
            runtime,
            runtime_version: version,
            kv_prealloc: inf.kv_prealloc_tokens,
            parallel,
            ..Workload::default()
        })
    }

    /// The case's GPUs and strategy as a vramfit layout.
    fn parallel_layout(&self, task: Task) -> std::result::Result<Layout, String> {
        let Some(p) = &self.parallel else { return Ok(Layout::default()) };
        let gpus = p.gpus.unwrap_or(1).max(1);
        let offload = p.cpu_offload.unwrap_or(false);
        let base = Layout { gpus_per_node: gpus, ..Layout::default() };
        let layout = match p.strategy.as_deref().unwrap_or("none") {
            "none" if gpus == 1 => Layout::default(),
            "none" | "ddp" => {
                Layout { strategy: if task == Task::Train { Strategy::Ddp } else { Strategy::Sequential }, ..base }
            }
            "tensor" => Layout { tp: gpus, ..base },
            "pipeline-naive" => Layout { strategy: Strategy::Sequential, ..base },
            "fsdp-full" => Layout {
                strategy: Strategy::FsdpFull,
                offload: offload.then_some(Offload::Cpu),
                offload_params: offload,
                ..base
            },
            "fsdp-grad-op" => Layout { strategy: Strategy::FsdpGradOp, ..base },
            "zero2" => Layout { strategy: Strategy::Zero(2), offload: offload.then_some(Offload::Cpu), ..base },
            "zero3" => Layout {
                strategy: Strategy::Zero(3),
                offload: offload.then_some(Offload::Cpu),
                offload_params: offload,
                ..base
            },
            // The PEFT DeepSpeed examples offload both optimizer state and parameters.
            "zero3-offload" => {
                Layout { strategy: Strategy::Zero(3), offload: Some(Offload::Cpu), offload_params: true, ..base }
            }
            other => return Err(format!("parallel strategy {other:?} is not modelled")),
        };
        layout.check().map_err(|e| e.to_string())?;
        Ok(layout)
    }

    fn quant(&self) -> Result<Option<QuantConfig>> {
        let Some(q) = self.weights.quant.as_deref() else {
            return Ok(None);
        };
        let gs = self.weights.group_size.and_then(|g| u64::try_from(g).ok());
        let name = match q {
            "gptq" => format!("gptq-{}bit", self.weights.bits.unwrap_or(4)),
            // torchao's NF4Tensor: 64-element blocks with int8 scalers per 256 blocks, i.e.
            // bitsandbytes' double-quantized layout.
            "torchao-nf4" => "nf4-dq".to_string(),
            other => other.to_string(),
        };
        // bitsandbytes' 4-bit block size is its own (64), not a GPTQ group.
        let gs = if name.contains("nf4") || name.contains("fp4") { None } else { gs };
        QuantConfig::parse(&name, gs).map(Some).map_err(|e| Error::Case { id: self.id.clone(), reason: e.to_string() })
    }
}

/// Training settings of a case, with unpublished ones left to the runtime's defaults where
/// they barely matter and refused where they decide the answer.
fn training_setup(tr: &Training, runtime: Runtime, notes: &str) -> std::result::Result<TrainingSetup, String> {
    let method = match tr.method.as_str() {
        "other" => return Err("method \"other\" (LoHa, VeRA, ...) is not modelled".into()),
        m => Method::parse(m).map_err(|e| e.to_string())?,
    };
    let optimizer = match tr.optimizer.as_deref() {
        None if method == Method::Full => {
            return Err("optimizer not published: a full fine-tune's state size depends on it".into())
        }
        None => None,
        // The AdamW family as the runtime implements it (foreach, fused or a loop by version).
        Some("adam" | "adamw") => None,
        Some("other") => return Err("optimizer \"other\" is not modelled".into()),
        // The format's "sgd" covers momentum too; cases say which in their notes.
        Some("sgd") if notes.contains("momentum=0.") && !notes.contains("momentum=0.0,") => {
            Some(Optimizer::SgdMomentum)
        }
        Some(o) => Some(Optimizer::parse(o).map_err(|e| e.to_string())?),
    };
    let lora = tr.lora.as_ref();
    Ok(TrainingSetup {
        seq: tr.seq_len.ok_or("seq_len not published")?,
        precision: tr.precision.as_deref().map(Precision::parse).transpose().map_err(|e| e.to_string())?,
        optimizer,
        method,
        lora_rank: lora.map_or(8, |l| l.rank),
        lora_targets: lora.map(|l| l.targets.clone()).unwrap_or_default(),
        lora_dropout: lora.and_then(|l| l.dropout).map(|d| (d.clamp(0.0, 1.0) * 1000.0).round() as u32),
        grad_ckpt: tr.grad_checkpointing.unwrap_or(
            crate::estimate::profile::RuntimeProfile::of(runtime, None).training.is_some_and(|t| t.recipes_checkpoint),
        ),
        grad_accum: tr.grad_accum.unwrap_or(1).max(1),
        chunked_ce: tr.chunked_ce,
        optimizer_in_backward: tr.optimizer_in_backward.unwrap_or(false),
        activation_offload: tr.activation_offload.unwrap_or(false),
        compile: tr.compile.unwrap_or(false),
        virtual_tokens: virtual_tokens(notes).unwrap_or(TrainingSetup::default().virtual_tokens),
    })
}

/// The format has no field for prompt/prefix tuning's virtual tokens; cases state them in
/// their notes as PEFT's config key (`"num_virtual_tokens": 200`).
fn virtual_tokens(notes: &str) -> Option<u64> {
    let at = notes.find("num_virtual_tokens")? + "num_virtual_tokens".len();
    let rest = notes[at..].trim_start_matches(['"', '\\', ':', '=', ' ']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&n| n > 0 && n <= 1 << 20)
}

/// The version of a dated runtime (its `RUNTIMES` row has `release_at`) a case ran: the one
/// its text names after the runtime's name, or failing that the release current at the date
/// it gives.
fn case_version(runtime: Runtime, source: &str, notes: &str) -> Option<RuntimeVersion> {
    let at = crate::estimate::profile::row(runtime).release_at?;
    named_version(runtime.name(), source, notes).or_else(|| dated_version(source, notes, at))
}

/// The version a case's text gives after the runtime's name (`transformers==4.36.2`,
/// `transformers v4.46`): a 1.x or later release, as a `0.` after a name is rarely its version.
fn named_version(name: &str, source: &str, notes: &str) -> Option<RuntimeVersion> {
    for text in [source, notes] {
        let lower = text.to_ascii_lowercase();
        let mut rest = lower.as_str();
        while let Some(i) = rest.find(name) {
            let after = rest[i + name.len()..].trim_start_matches([' ', '=', 'v', '>', '<', '~', '/']);
            let ver: String = after.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            if let Ok(v) = RuntimeVersion::parse(&ver) {
                if v.major >= 1 && ver.contains('.') {
                    return Some(v);
                }
            }
            rest = &rest[i + 1..];
        }
    }
    None
}

/// A runtime version from the first date in a case's source or notes.
fn dated_version(source: &str, notes: &str, at: fn(u32, u32) -> RuntimeVersion) -> Option<RuntimeVersion> {
    [source, notes].iter().find_map(|t| find_date(t)).map(|(y, m)| at(y, m))
}

/// First `Mon YYYY` / `Month YYYY` or `YYYY-MM` date in a text.
fn find_date(text: &str) -> Option<(u32, u32)> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_ascii_alphanumeric() && c != '-').filter(|w| !w.is_empty()).collect();
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
    const MINIMAL: &str = r#"{"id": "X", "model": {"name": "m", "config_file": "c.json"}, "runtime": "transformers",
        "task": "load", "weights": {"dtype": "bfloat16"}, "measured": {"bytes": 1e9, "metric": "unknown"}}"#;

    #[test]
    fn an_unknown_metric_takes_the_level_the_notes_name() {
        let case = |notes: &str| {
            let mut c: Case = serde_json::from_str(MINIMAL).unwrap();
            c.measured.metric = "unknown".into();
            c.notes = notes.into();
            c.metric_level()
        };
        assert_eq!(case("x | metric (source): not stated (likely nvidia-smi)"), MetricLevel::Level(Level::Device));
        assert_eq!(case("metric (source): torch.cuda.max_memory_allocated"), MetricLevel::Level(Level::Allocated));
        assert_eq!(
            case("metric (source): torchtune stats | nvidia-smi elsewhere"),
            MetricLevel::Level(Level::Reserved)
        );
        assert_eq!(case(""), MetricLevel::Level(Level::Reserved));
    }

    #[test]
    fn virtual_tokens_come_from_the_notes() {
        let notes = r#"lora={\"peft_type\": \"PROMPT_TUNING\", \"num_virtual_tokens\": 200}; x"#;
        assert_eq!(super::virtual_tokens(notes), Some(200));
        assert_eq!(super::virtual_tokens(r#"{"num_virtual_tokens": 30}"#), Some(30));
        assert_eq!(super::virtual_tokens("num_virtual_tokens=16"), Some(16));
        assert_eq!(super::virtual_tokens("no such key"), None);
        assert_eq!(super::virtual_tokens("num_virtual_tokens: 99999999999999999999999"), None);
    }
    use super::*;

    #[test]
    fn versions_from_text() {
        assert_eq!(
            case_version(Runtime::Transformers, "x transformers==4.36.2 y", ""),
            Some(RuntimeVersion::new(4, 36))
        );
        assert_eq!(
            case_version(
                Runtime::Transformers,
                "optimum benchmark",
                "framework=transformers generate (optimum benchmark_gptq.py, Aug 2023)"
            ),
            Some(RuntimeVersion::new(4, 32))
        );
        assert_eq!(
            case_version(Runtime::Transformers, "numbers added 2023-07-25", ""),
            Some(RuntimeVersion::new(4, 31))
        );
        assert_eq!(case_version(Runtime::Transformers, "no date", "nothing"), None);
    }
}
