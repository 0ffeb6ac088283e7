//! Command-line flags ("low" arguments: exactly what was typed) and their resolution into a
//! core [`Workload`] ("high" arguments).

use clap::{Args, Parser, Subcommand};
use vramfit_core::estimate::{llamacpp, AttnImpl, LlamaCppOptions, Runtime, RuntimeVersion, Task, Workload};
use vramfit_core::quant::QuantConfig;
use vramfit_core::{DType, Error};

/// How much GPU memory running or fine-tuning an LLM takes, and whether it fits.
#[derive(Debug, Parser)]
#[command(name = "vramfit", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Estimate peak memory of a workload, as a breakdown of named components.
    Estimate(EstimateArgs),
    /// Show what a model is made of: parameters per component, stored dtype, sizes.
    Inspect(InspectArgs),
    /// List the built-in models.
    Models(ListArgs),
    /// List the built-in GPUs.
    Gpus(ListArgs),
    /// Score the estimator against measured cases (shared/validation format).
    Validate(ValidateArgs),
}

/// `vramfit estimate`.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// Catalog name or alias (llama-7b, meta-llama/Llama-2-7b-hf), a local directory,
    /// config.json, .safetensors or .gguf file, or a Hugging Face repo id (org/name[@revision]).
    pub model: String,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    /// GPU(s) for a fits / does-not-fit verdict: T4, A100-80GB, 4xA100-80GB, 24GiB, 16GB.
    #[arg(long)]
    pub gpu: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub markdown: bool,
    /// Show each component's formula with the numbers put in, and its source.
    #[arg(long)]
    pub explain: bool,
}

/// Workload flags shared by commands that estimate.
#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// load | prefill | generate | train | merge.
    #[arg(long, default_value = "generate")]
    pub task: String,
    /// Weights and compute dtype: fp32 | fp16 | bf16 | fp8 [default: the checkpoint's dtype].
    #[arg(long)]
    pub dtype: Option<String>,
    /// Weight quantization: int8 | nf4 | nf4-dq | fp4 | fp4-dq | gptq-4bit | gptq-8bit |
    /// awq-4bit | fp8 | a GGUF scheme (q4_k_m, q8_0, ...) [default: none].
    #[arg(long)]
    pub quant: Option<String>,
    /// Group size for GPTQ/AWQ (block size for bitsandbytes 4-bit) [default: 128; bnb 64].
    #[arg(long)]
    pub group_size: Option<u64>,
    /// Sequences processed together.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub batch: u64,
    /// Prompt tokens per sequence.
    #[arg(long, default_value_t = 512, allow_negative_numbers = true)]
    pub prompt: u64,
    /// New tokens generated per sequence.
    #[arg(long = "new", default_value_t = 256, allow_negative_numbers = true)]
    pub new_tokens: u64,
    /// KV cache dtype: fp32 | fp16 | bf16 | fp8; with --runtime llama.cpp also its cache
    /// types f16 | q8_0 | q4_0 | q4_1 | iq4_nl | q5_0 | q5_1 [default: compute dtype; f16].
    #[arg(long)]
    pub kv_dtype: Option<String>,
    /// Attention implementation: eager | sdpa | flash.
    #[arg(long, default_value = "sdpa")]
    pub attn: String,
    /// Software: transformers | litgpt | torchtune | vllm | llama.cpp [default: llama.cpp for
    /// a .gguf file, else transformers].
    #[arg(long)]
    pub runtime: Option<String>,
    /// Runtime version where behaviour changed (transformers 4.31 kept every prompt logit in
    /// fp32 and rebuilt the KV cache tuple each step) [default: current].
    #[arg(long)]
    pub runtime_version: Option<String>,
    /// Precision policy: mixed-bf16 / mixed-fp16 keep fp32 weights and autocast matmuls.
    #[arg(long)]
    pub precision: Option<String>,
    /// Tokens of KV cache allocated up front (litgpt max_seq_length, static caches,
    /// llama.cpp --ctx-size) [default: prompt + new for litgpt/torchtune, batch × (prompt +
    /// new) for llama.cpp; growing for transformers].
    #[arg(long, visible_alias = "ctx-size")]
    pub kv_prealloc: Option<u64>,
    /// llama.cpp -ngl: blocks offloaded to the GPU, the output layer counting as one more; the
    /// rest stays in CPU RAM [default: all].
    #[arg(long, visible_alias = "n-gpu-layers")]
    pub ngl: Option<u64>,
    /// llama.cpp --ubatch-size: tokens per compute micro-batch [default: 512].
    #[arg(long)]
    pub ubatch_size: Option<u64>,
}

/// Where a Hub model is read from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Hub revision (branch, tag or commit) for a repo id; same as MODEL@REVISION
    /// [default: main].
    #[arg(long)]
    pub revision: Option<String>,
}

/// `vramfit inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Catalog name or alias, a local directory, config.json, .safetensors or .gguf file,
    /// or a Hugging Face repo id (org/name[@revision]).
    pub model: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `vramfit models` / `vramfit gpus`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `vramfit validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A cases file in the shared/validation format.
    pub cases: std::path::PathBuf,
    /// Print JSON.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print Markdown.
    #[arg(long)]
    pub markdown: bool,
}

impl WorkloadArgs {
    /// Resolve flags into a checked workload; `model` picks the default runtime.
    pub fn resolve(&self, model: &str) -> Result<Workload, Error> {
        let task = Task::parse(&self.task)?;
        let dtype = self.dtype.as_deref().map(DType::parse).transpose()?;
        let quant = self
            .quant
            .as_deref()
            .map(|q| QuantConfig::parse(q, self.group_size))
            .transpose()?;
        let attn = AttnImpl::parse(&self.attn)?;
        let runtime = match self.runtime.as_deref() {
            Some(r) => Runtime::parse(r)?,
            None if model.to_ascii_lowercase().ends_with(".gguf") => Runtime::LlamaCpp,
            None => Runtime::Transformers,
        };
        let mut llama_cpp = LlamaCppOptions {
            n_gpu_layers: self.ngl,
            cache_type: None,
            n_ubatch: self.ubatch_size,
        };
        let kv_dtype = match self.kv_dtype.as_deref() {
            None => None,
            Some(s) => {
                let ggml = s.trim().to_ascii_uppercase();
                let is_cache_type = llamacpp::KV_CACHE_TYPES.contains(&ggml.as_str());
                match DType::parse(s) {
                    Ok(d) if !(runtime == Runtime::LlamaCpp && is_cache_type) => Some(d),
                    _ if runtime == Runtime::LlamaCpp && is_cache_type => {
                        llama_cpp.cache_type = Some(ggml);
                        None
                    }
                    _ if is_cache_type => {
                        return Err(Error::workload(
                            "--kv-dtype",
                            format!("{s} is a llama.cpp cache type: add --runtime llama.cpp, or use fp16, bf16 or fp8"),
                        ))
                    }
                    _ => {
                        return Err(Error::workload(
                            "--kv-dtype",
                            format!("unknown dtype {s:?} (use fp32, fp16, bf16 or fp8; q8_0, q4_0 ... with --runtime llama.cpp)"),
                        ))
                    }
                }
            }
        };
        if runtime != Runtime::LlamaCpp && (self.ngl.is_some() || self.ubatch_size.is_some()) {
            return Err(Error::workload(
                if self.ngl.is_some() { "--ngl" } else { "--ubatch-size" },
                "is a llama.cpp setting: add --runtime llama.cpp",
            ));
        }
        let runtime_version = self.runtime_version.as_deref().map(RuntimeVersion::parse).transpose()?;
        let (dtype, autocast) = match self.precision.as_deref() {
            None => (dtype, None),
            Some(p) => match p.to_ascii_lowercase().as_str() {
                "mixed-bf16" | "bf16-mixed" => (Some(DType::Fp32), Some(DType::Bf16)),
                "mixed-fp16" | "16-mixed" | "fp16-mixed" => (Some(DType::Fp32), Some(DType::Fp16)),
                "fp32" | "32-true" => (Some(DType::Fp32), None),
                "pure-bf16" | "bf16-true" => (Some(DType::Bf16), None),
                "pure-fp16" | "16-true" => (Some(DType::Fp16), None),
                _ => {
                    return Err(Error::workload(
                        "--precision",
                        format!("unknown precision {p:?}; use fp32, mixed-fp16, mixed-bf16, pure-bf16 or pure-fp16"),
                    ))
                }
            },
        };
        if self.precision.is_some()
            && self.dtype.is_some()
            && dtype != self.dtype.as_deref().map(DType::parse).transpose()?
        {
            return Err(Error::workload("--dtype", "contradicts --precision; give one of them"));
        }
        let w = Workload {
            task,
            batch: self.batch,
            prompt: self.prompt,
            new_tokens: self.new_tokens,
            dtype,
            autocast,
            quant,
            kv_dtype,
            attn,
            runtime,
            runtime_version,
            kv_prealloc: self.kv_prealloc,
            llama_cpp,
        };
        w.check()?;
        Ok(w)
    }
}
