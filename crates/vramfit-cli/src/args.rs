//! Command-line flags ("low" arguments: exactly what was typed) and their resolution into a
//! core [`Workload`] ("high" arguments).

use clap::{Args, Parser, Subcommand};
use vramfit_core::choice::clap_support::ChoiceParser;
use vramfit_core::estimate::training::setup::Method;
use vramfit_core::fit::sweep::SweepAxis;
use vramfit_core::request::WorkloadRequest;
use vramfit_core::{Error, Workload};

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
    #[command(
        after_help = "Examples:\n  vramfit estimate llama-7b --gpu T4\n  vramfit estimate llama-7b --gpu T4 --runtime-version 4.46   # 4.x loads fp32\n  vramfit estimate llama-7b --task train --method qlora --grad-ckpt --gpu T4\n  vramfit estimate llama-2-7b --task merge --ram 32GB\n  vramfit estimate ./my-model/ --json"
    )]
    Estimate(EstimateArgs),
    /// Whether a workload fits a GPU, and if not, ranked plans of changes that make it fit.
    ///
    /// Without --dtype, inference starts where estimate does: the checkpoint's dtype under
    /// transformers 5.x, fp32 under --runtime-version 4.x (from_pretrained without
    /// torch_dtype). A workload fits when 5 % of the GPU's usable memory (at least 512 MiB)
    /// stays free.
    #[command(
        after_help = "Examples:\n  vramfit fit llama-7b --gpu T4 --runtime-version 4.46\n  vramfit fit llama-7b --gpu T4 --task train\n  vramfit fit llama-7b --gpu A100-80GB --all --json"
    )]
    Fit(FitArgs),
    /// Estimate a workload over a range of batch sizes or lengths, as a chart, SVG, CSV or JSON.
    #[command(
        after_help = "Examples:\n  vramfit sweep llama-7b --over batch --gpu T4\n  vramfit sweep llama-7b --over seq --task train --method qlora --svg chart.svg"
    )]
    Sweep(SweepArgs),
    /// Show what a model is made of: parameters per component, stored dtype, sizes.
    Inspect(InspectArgs),
    /// List the built-in models.
    Models(ListArgs),
    /// List the built-in GPUs.
    Gpus(ListArgs),
    /// Score the estimator against measured cases (shared/validation format).
    Validate(ValidateArgs),
    /// Print a shell completion script: vramfit completions bash > /etc/bash_completion.d/vramfit
    Completions(CompletionsArgs),
}

/// `vramfit completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
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
    /// Give it several times (or comma-separated) to compare GPUs: the report is for the
    /// first, with a verdict per GPU after it.
    #[arg(long, value_delimiter = ',', action = clap::ArgAction::Append)]
    pub gpu: Vec<String>,
    /// CPU RAM for a verdict on host memory (a merge in CPU RAM, offloaded layers or
    /// states): 32GB, 64GiB [default: not judged].
    #[arg(long)]
    pub ram: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub markdown: bool,
    /// Show each component's formula with the numbers put in, and its source.
    #[arg(long)]
    pub explain: bool,
    /// Also write the three levels as stacked bars of the components (SVG) to this file.
    #[arg(long)]
    pub svg: Option<std::path::PathBuf>,
}

/// `vramfit fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// Catalog name or alias (llama-7b, meta-llama/Llama-2-7b-hf), a directory with
    /// config.json, or a config.json file.
    pub model: String,
    /// GPU(s) to fit: T4, A100-80GB, 4xA100-80GB, 24GiB, 16GB.
    #[arg(long)]
    pub gpu: String,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Order plans by cost (quality, then scope, speed, memory) or by estimated speed
    /// (decode tokens/s, or trained tokens/s).
    #[arg(long, default_value = "cost", value_parser = ["cost", "speed"])]
    pub prefer: String,
    /// List every plan, also when the workload fits as asked (alternatives that buy headroom).
    #[arg(long)]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `vramfit sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Catalog name or alias, a directory with config.json, or a config.json file.
    pub model: String,
    /// What to vary.
    #[arg(long, value_parser = ChoiceParser::<SweepAxis>::default())]
    pub over: SweepAxis,
    /// The values, comma-separated [default: powers of two from 1 (batch) or 128 tokens; with
    /// --gpu, until past the GPU's memory].
    #[arg(long, value_delimiter = ',')]
    pub values: Vec<u64>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// GPU whose usable memory is drawn as a line: T4, A100-80GB, 24GiB.
    #[arg(long)]
    pub gpu: Option<String>,
    /// Write the chart as SVG to this file.
    #[arg(long)]
    pub svg: Option<std::path::PathBuf>,
    /// Write the points as CSV (bytes) to this file.
    #[arg(long)]
    pub csv: Option<std::path::PathBuf>,
    /// Print JSON instead of the chart.
    #[arg(long)]
    pub json: bool,
    /// Colors in the terminal chart: auto (when stdout is a terminal and NO_COLOR is unset) |
    /// always | never.
    #[arg(long, default_value = "auto")]
    pub color: String,
}

/// Workload flags shared by commands that estimate: the core's request (its flags, help and
/// defaults are the core's [`WorkloadRequest`], the same settings the page and the Python
/// package send), and the flags that name files this command reads.
#[derive(Debug, Args)]
pub struct WorkloadArgs {
    #[command(flatten)]
    pub request: WorkloadRequest,
    /// llama.cpp --mmproj FILE: a multimodal projector GGUF whose weights load on the GPU,
    /// with its image warm-up's compute buffers (GPU and host); a config.json (FILE.json)
    /// stands for the projector its vision_config describes [default: none].
    #[arg(long)]
    pub mmproj: Option<std::path::PathBuf>,
    /// llama.cpp --lora FILE: a LoRA adapter GGUF whose tensors load beside the blocks they
    /// adapt (one LoRA buffer per device) [default: none].
    #[arg(long)]
    pub lora: Option<std::path::PathBuf>,
}

/// Where a Hub model is read from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Hub revision (branch, tag or commit) for a repo id; same as MODEL@REVISION
    /// [default: main].
    #[arg(long)]
    pub revision: Option<String>,
    /// Deadline in seconds for reading the model from the Hub, all requests and retries
    /// together [default: none; each request has its own 120 s bound, and
    /// HF_HUB_DOWNLOAD_TIMEOUT bounds each read].
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 86400")),
    }
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
    /// Only the cases whose id contains this text (repeatable).
    #[arg(long = "case", value_name = "ID")]
    pub cases_matching: Vec<String>,
    /// Also print each selected case's breakdown with its formulas (as `estimate --explain`).
    #[arg(long, conflicts_with_all = ["json", "markdown"])]
    pub explain: bool,
}

impl WorkloadArgs {
    /// Take a PEFT adapter's method, rank, targets and virtual tokens where the flags were
    /// left at their defaults (newcomer D36); the flags the user gave win.
    pub fn adopt_adapter(&mut self, a: &vramfit_io::PeftAdapter) {
        let d = WorkloadRequest::default();
        let r = &mut self.request;
        if r.method == d.method {
            if let Some(m) = a.method().and_then(|m| Method::parse(m).ok()) {
                r.method = m;
            }
        }
        if r.lora_rank == d.lora_rank {
            if let Some(rank) = a.rank {
                r.lora_rank = rank;
            }
        }
        if r.lora_targets.is_empty() {
            r.lora_targets.clone_from(&a.targets);
        }
        if r.virtual_tokens == d.virtual_tokens {
            if let Some(v) = a.virtual_tokens {
                r.virtual_tokens = v;
            }
        }
    }

    /// A `--gpu` value with `--wired-limit-mb` applied (as the core's request applies it).
    pub fn gpu(&self, s: &str) -> Result<vramfit_core::catalog::GpuSpec, Error> {
        self.request.gpu(s)
    }

    /// Resolve flags into a checked workload; `model` picks the default runtime and
    /// `gpu_count` is the count in `--gpu NxNAME`.
    pub fn resolve(&self, model: &str, gpu_count: Option<u64>) -> Result<Workload, Error> {
        let mut w = self.request.resolve(model, gpu_count)?;
        if let Some(path) = &self.mmproj {
            if w.profile().inference.llamacpp.is_none() {
                return Err(Error::workload("--mmproj", "is a llama.cpp setting: add --runtime llama.cpp"));
            }
            let (bytes, projector) = vramfit_io::gguf_mmproj(path)
                .map_err(|e| Error::workload("--mmproj", format!("{}: {e}", path.display())))?;
            w.llama_cpp.mmproj_bytes = Some(bytes);
            w.llama_cpp.mmproj_projector = Some(projector);
        }
        if let Some(path) = &self.lora {
            if w.profile().inference.llamacpp.is_none() {
                return Err(Error::workload("--lora", "is a llama.cpp setting: add --runtime llama.cpp"));
            }
            let adapter = vramfit_io::gguf_lora_adapter(path)
                .map_err(|e| Error::workload("--lora", format!("{}: {e}", path.display())))?;
            w.llama_cpp.lora = Some(adapter);
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags' defaults are [`WorkloadRequest::default`] (clap reads them from it), so the
    /// page, which sends only what differs from it, and the CLI cannot disagree.
    #[test]
    fn flag_defaults_are_the_core_request_defaults() {
        let Cli { command: Command::Estimate(a) } = Cli::parse_from(["vramfit", "estimate", "llama-7b"]) else {
            panic!("estimate parses as estimate");
        };
        assert_eq!(a.workload.request, WorkloadRequest::default());
    }
}
