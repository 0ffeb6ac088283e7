//! Command-line flags ("low" arguments: exactly what was typed) and their resolution into a
//! core [`Workload`] ("high" arguments).

use clap::{Args, Parser, Subcommand};
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
    /// What to vary: batch | seq (--seq when training, --prompt otherwise) | context (prompt +
    /// new tokens; --seq when training).
    #[arg(long)]
    pub over: String,
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

/// Workload flags shared by commands that estimate.
#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// load | prefill | generate | train | merge | serve (the default with --runtime vllm|sglang).
    #[arg(long, default_value = "generate")]
    pub task: String,
    /// Weights and compute dtype: fp32 | fp16 | bf16 | fp8 (also float16, bfloat16) [default:
    /// the runtime's: the checkpoint's under transformers 5.x, fp32 under 4.x].
    #[arg(long, visible_alias = "torch-dtype")]
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
    /// Software: transformers | litgpt | torchtune | vllm | sglang | llama.cpp | ollama | meta-reference [default: llama.cpp for
    /// a .gguf file, else transformers].
    #[arg(long)]
    pub runtime: Option<String>,
    /// Runtime version where behaviour changed (transformers 4.31 kept every prompt logit in
    /// fp32 and rebuilt the KV cache tuple each step; vLLM 0.6.3, 0.6.4, 0.7.3, 0.8.5,
    /// 0.8.5-v0, 0.19.0, 0.21.0 budget the KV cache differently) [default: current; vLLM 0.19].
    #[arg(long)]
    pub runtime_version: Option<String>,
    /// Precision policy: fp32; bf16 / fp16 (= mixed-bf16 / mixed-fp16, as HF --bf16 and
    /// Lightning "bf16": fp32 weights, autocast matmuls); pure-bf16 / pure-fp16 (= bf16-true /
    /// 16-true: everything half) [default: the runtime's: transformers trains the model as
    /// loaded, fp32 under 4.x, the checkpoint's dtype under 5.x; litgpt/torchtune pure]
    #[arg(long)]
    pub precision: Option<String>,
    /// Tokens of KV cache allocated up front (litgpt max_seq_length, static caches,
    /// llama.cpp --ctx-size, the reference code's --max-seq-len) [default: prompt + new for
    /// litgpt/torchtune, batch × (prompt + new) for llama.cpp, 512 for meta-reference; growing
    /// for transformers].
    #[arg(long, visible_aliases = ["ctx-size", "max-seq-len"])]
    pub kv_prealloc: Option<u64>,
    /// Sequences the KV cache is built for at load (meta-reference `Llama.build(max_batch_size=)`;
    /// --batch must not exceed it) [default: 32 for meta-reference].
    #[arg(long)]
    pub max_batch_size: Option<u64>,
    /// Training: tokens per sample.
    #[arg(long, default_value_t = 512, allow_negative_numbers = true)]
    pub seq: u64,
    /// Training: full | lora | qlora | dora | ia3 | prompt-tuning | prefix-tuning | adapter |
    /// adapter-v2.
    #[arg(long, default_value = "full")]
    pub method: String,
    /// Training: adamw | adamw-fused | adamw-8bit | paged-adamw | paged-adamw-8bit |
    /// adafactor | sgd | sgd-momentum | lion | lion-8bit [default: the runtime's: adamw
    /// (foreach) for transformers and litgpt, adamw-fused for torchtune].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Training: gradient checkpointing.
    #[arg(long)]
    pub grad_ckpt: bool,
    /// Training: micro-batches per optimizer step (gradients persist between them).
    #[arg(long, default_value_t = 1)]
    pub grad_accum: u64,
    /// Training: LoRA rank.
    #[arg(long, default_value_t = 8)]
    pub lora_rank: u64,
    /// Training: LoRA target modules, comma-separated (q_proj,v_proj) or all-linear
    /// [default: q_proj,v_proj].
    #[arg(long, value_delimiter = ',')]
    pub lora_targets: Vec<String>,
    /// Training: LoRA dropout probability [default: 0; litgpt 0.05].
    #[arg(long)]
    pub lora_dropout: Option<f64>,
    /// Training: cross-entropy in chunks (logits never upcast whole) [default: litgpt yes,
    /// others no].
    #[arg(long)]
    pub chunked_ce: bool,
    /// Training: run the optimizer step inside backward, freeing each gradient (torchtune).
    #[arg(long)]
    pub optimizer_in_backward: bool,
    /// Training: offload saved activations to CPU RAM (torchtune).
    #[arg(long)]
    pub activation_offload: bool,
    /// Training: torch.compile (fewer saved activations).
    #[arg(long)]
    pub compile: bool,
    /// Training: virtual tokens of prompt/prefix tuning.
    #[arg(long, default_value_t = 20)]
    pub virtual_tokens: u64,
    /// Merge: run the merge on the GPU instead of in CPU RAM.
    #[arg(long)]
    pub merge_on_gpu: bool,
    /// GPUs per node [default: the count in --gpu 4xA100-80GB, else 1].
    #[arg(long)]
    pub gpus: Option<u64>,
    /// Nodes.
    #[arg(long, default_value_t = 1)]
    pub nodes: u64,
    /// DeepSpeed ZeRO stage 0|1|2|3 (0 = plain data parallel, DDP).
    #[arg(long)]
    pub zero: Option<u8>,
    /// PyTorch FSDP sharding: full | grad-op | hybrid.
    #[arg(long)]
    pub fsdp: Option<String>,
    /// Tensor-parallel degree (vLLM --tensor-parallel-size, SGLang --tp-size).
    #[arg(long, default_value_t = 1, visible_aliases = ["tensor-parallel-size", "tp-size"])]
    pub tp: u64,
    /// Pipeline-parallel degree (vLLM --pipeline-parallel-size, SGLang --pp-size).
    #[arg(long, default_value_t = 1, visible_aliases = ["pipeline-parallel-size", "pp-size"])]
    pub pp: u64,
    /// Expert-parallel degree (MoE).
    #[arg(long, default_value_t = 1)]
    pub ep: u64,
    /// Megatron sequence parallelism with --tp.
    #[arg(long)]
    pub sequence_parallel: bool,
    /// Offload optimizer state (ZeRO / FSDP): cpu | nvme.
    #[arg(long)]
    pub offload: Option<String>,
    /// Offload parameters too (ZeRO-3 offload_param, FSDP CPUOffload).
    #[arg(long)]
    pub offload_params: bool,
    /// Inference across GPUs: split layers sequentially (accelerate device_map="auto")
    /// rather than tensor parallel.
    #[arg(long)]
    pub device_map: bool,
    /// llama.cpp -ngl: blocks offloaded to the GPU, the output layer counting as one more; the
    /// rest stays in CPU RAM [default: all].
    #[arg(long, visible_alias = "n-gpu-layers")]
    pub ngl: Option<u64>,
    /// llama.cpp --ubatch-size: tokens per compute micro-batch [default: 512].
    #[arg(long, visible_alias = "ub")]
    pub ubatch_size: Option<u64>,
    /// llama.cpp --batch-size (n_batch): the logical batch; the compute graph has
    /// min(n_batch, n_ubatch) tokens [default: 2048; 512 for builds before the micro-batch].
    #[arg(long)]
    pub batch_size: Option<u64>,
    /// llama.cpp --cache-type-k: K cache type (f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0,
    /// q5_1) [default: f16, or --kv-dtype].
    #[arg(long)]
    pub cache_type_k: Option<String>,
    /// llama.cpp --cache-type-v: V cache type (a quantized V cache needs flash attention)
    /// [default: the K cache's].
    #[arg(long)]
    pub cache_type_v: Option<String>,
    /// llama.cpp --parallel (n_seq_max; Ollama's OLLAMA_NUM_PARALLEL): sequences sharing the
    /// context [default: --batch].
    #[arg(long, visible_alias = "np")]
    pub parallel: Option<u64>,
    /// llama.cpp --n-cpu-moe N: keep the routed experts of the first N blocks in CPU RAM
    /// [default: none].
    #[arg(long)]
    pub n_cpu_moe: Option<u64>,
    /// llama.cpp --override-tensor PATTERN=DEVICE (-ot), e.g. exps=CPU or
    /// 'blk\.(1[0-9])\.ffn_.*_exps=CUDA1'; repeatable, first match wins [default: none].
    #[arg(long, visible_alias = "ot")]
    pub override_tensor: Vec<String>,
    /// llama.cpp --split-mode layer|row|none over the --gpus GPUs [default: layer].
    #[arg(long, visible_alias = "sm")]
    pub split_mode: Option<String>,
    /// llama.cpp --tensor-split A,B,...: each GPU's share of the layers (or rows)
    /// [default: equal shares].
    #[arg(long, visible_alias = "ts")]
    pub tensor_split: Option<String>,
    /// llama.cpp --main-gpu: the GPU holding everything with --split-mode none, and the KV
    /// cache and compute with row [default: 0].
    #[arg(long, visible_alias = "mg")]
    pub main_gpu: Option<u64>,
    /// llama.cpp --flash-attn on|off|auto [default: auto: on from build ~6250, off before;
    /// --attn eager/flash also decide it].
    #[arg(long, visible_alias = "fa")]
    pub flash_attn: Option<String>,
    /// llama.cpp --mmproj FILE: a multimodal projector GGUF whose weights load on the GPU,
    /// with its image warm-up's compute buffers (GPU and host); a config.json (FILE.json)
    /// stands for the projector its vision_config describes [default: none].
    #[arg(long)]
    pub mmproj: Option<std::path::PathBuf>,
    /// Apple GPUs: macOS's `sudo sysctl iogpu.wired_limit_mb=N` raises (or lowers) the Metal
    /// working set, the GPU's usable memory, to N MiB [default: the catalog's
    /// recommendedMaxWorkingSetSize, about 2/3 of unified memory up to 36 GB and 3/4 above].
    #[arg(long, value_name = "MB")]
    pub wired_limit_mb: Option<u64>,
    /// llama.cpp --lora FILE: a LoRA adapter GGUF whose tensors load beside the blocks they
    /// adapt (one LoRA buffer per device) [default: none].
    #[arg(long)]
    pub lora: Option<std::path::PathBuf>,
    /// Output head: causal-lm, sequence-classification or token-classification (a classifier
    /// scores config.json's num_labels, else 2) [default: what config.json's architectures
    /// names, e.g. LlamaForSequenceClassification].
    #[arg(long)]
    pub head: Option<String>,
    /// vLLM/SGLang: fraction of the device the engine takes (SGLang --mem-fraction-static)
    /// [default: vLLM 0.9, 0.92 from 0.20; SGLang by GPU size].
    #[arg(long, visible_alias = "mem-fraction-static")]
    pub gpu_memory_utilization: Option<f64>,
    /// vLLM/SGLang: context length served (SGLang --context-length) [default: the model's
    /// max_position_embeddings].
    #[arg(long, visible_alias = "context-length")]
    pub max_model_len: Option<u64>,
    /// vLLM/SGLang: requests scheduled together (SGLang --max-running-requests) [default: vLLM
    /// 256, 1024 in V1 on GPUs of 70 GiB or more].
    #[arg(long, visible_alias = "max-running-requests")]
    pub max_num_seqs: Option<u64>,
    /// vLLM/SGLang: tokens per scheduler step, which sizes the profile run (SGLang
    /// --chunked-prefill-size) [default: by version and GPU].
    #[arg(long, visible_alias = "chunked-prefill-size")]
    pub max_num_batched_tokens: Option<u64>,
    /// vLLM: no CUDA graphs.
    #[arg(long)]
    pub enforce_eager: bool,
    /// vLLM/SGLang KV cache dtype: auto | fp8 | fp8_e4m3 | fp8_e5m2 | bfloat16 [default: auto].
    #[arg(long)]
    pub kv_cache_dtype: Option<String>,
    /// vLLM/SGLang: tokens per KV page (SGLang --page-size) [default: vLLM 16, SGLang 1].
    #[arg(long, visible_alias = "page-size")]
    pub block_size: Option<u64>,
    /// vLLM/SGLang weight quantization method: fp8 | awq | gptq | bitsandbytes [default: the
    /// checkpoint's quantization_config].
    #[arg(long)]
    pub quantization: Option<String>,
    /// vLLM: GB of weights kept in CPU memory.
    #[arg(long)]
    pub cpu_offload_gb: Option<f64>,
    /// vLLM 0.11+: KV cache size (bytes, or 8GiB), skipping the profile.
    #[arg(long)]
    pub kv_cache_memory: Option<String>,
    /// vLLM/SGLang: memory other processes (a desktop, another engine) hold on each GPU when
    /// the engine starts, as nvidia-smi shows it (bytes, or 1.2GiB); counted where the release
    /// counts it [default: none].
    #[arg(long)]
    pub other_processes_memory: Option<String>,
    /// CPU RAM bandwidth in GB/s, for the speed of weights kept in CPU RAM (llama.cpp layers
    /// on the CPU, optimizer offload) [default: 83.2 for desktops (2 × DDR5-5200), 204.8 for
    /// data-center hosts (8 × DDR4-3200); unified memory reads at the GPU's bandwidth].
    #[arg(long, value_name = "GB/s")]
    pub ram_bandwidth: Option<f64>,
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
        if self.method == "full" {
            if let Some(m) = a.method() {
                self.method = m.to_string();
            }
        }
        if self.lora_rank == 8 {
            if let Some(r) = a.rank {
                self.lora_rank = r;
            }
        }
        if self.lora_targets.is_empty() {
            self.lora_targets.clone_from(&a.targets);
        }
        if self.virtual_tokens == 20 {
            if let Some(v) = a.virtual_tokens {
                self.virtual_tokens = v;
            }
        }
    }

    /// The flags as a core request: the same settings the web page sends, resolved by the
    /// same code.
    pub fn request(&self) -> WorkloadRequest {
        WorkloadRequest {
            task: self.task.clone(),
            dtype: self.dtype.clone(),
            quant: self.quant.clone(),
            group_size: self.group_size,
            batch: self.batch,
            prompt: self.prompt,
            new_tokens: self.new_tokens,
            kv_dtype: self.kv_dtype.clone(),
            attn: self.attn.clone(),
            runtime: self.runtime.clone(),
            runtime_version: self.runtime_version.clone(),
            precision: self.precision.clone(),
            kv_prealloc: self.kv_prealloc,
            max_batch_size: self.max_batch_size,
            seq: self.seq,
            method: self.method.clone(),
            optimizer: self.optimizer.clone(),
            grad_ckpt: self.grad_ckpt,
            grad_accum: self.grad_accum,
            lora_rank: self.lora_rank,
            lora_targets: self.lora_targets.clone(),
            lora_dropout: self.lora_dropout,
            chunked_ce: self.chunked_ce,
            optimizer_in_backward: self.optimizer_in_backward,
            activation_offload: self.activation_offload,
            compile: self.compile,
            virtual_tokens: self.virtual_tokens,
            merge_on_gpu: self.merge_on_gpu,
            gpus: self.gpus,
            nodes: self.nodes,
            zero: self.zero,
            fsdp: self.fsdp.clone(),
            tp: self.tp,
            pp: self.pp,
            ep: self.ep,
            sequence_parallel: self.sequence_parallel,
            offload: self.offload.clone(),
            offload_params: self.offload_params,
            device_map: self.device_map,
            ngl: self.ngl,
            ubatch_size: self.ubatch_size,
            batch_size: self.batch_size,
            cache_type_k: self.cache_type_k.clone(),
            cache_type_v: self.cache_type_v.clone(),
            parallel: self.parallel,
            n_cpu_moe: self.n_cpu_moe,
            override_tensor: self.override_tensor.clone(),
            split_mode: self.split_mode.clone(),
            tensor_split: self.tensor_split.clone(),
            main_gpu: self.main_gpu,
            flash_attn: self.flash_attn.clone(),
            head: self.head.clone(),
            gpu_memory_utilization: self.gpu_memory_utilization,
            max_model_len: self.max_model_len,
            max_num_seqs: self.max_num_seqs,
            max_num_batched_tokens: self.max_num_batched_tokens,
            enforce_eager: self.enforce_eager,
            kv_cache_dtype: self.kv_cache_dtype.clone(),
            block_size: self.block_size,
            quantization: self.quantization.clone(),
            cpu_offload_gb: self.cpu_offload_gb,
            kv_cache_memory: self.kv_cache_memory.clone(),
            other_processes_memory: self.other_processes_memory.clone(),
            ram_bandwidth: self.ram_bandwidth,
            wired_limit_mb: self.wired_limit_mb,
        }
    }

    /// A `--gpu` value with `--wired-limit-mb` applied (as the core's request applies it).
    pub fn gpu(&self, s: &str) -> Result<vramfit_core::catalog::GpuSpec, Error> {
        WorkloadRequest { wired_limit_mb: self.wired_limit_mb, ..WorkloadRequest::default() }.gpu(s)
    }

    /// Resolve flags into a checked workload; `model` picks the default runtime and
    /// `gpu_count` is the count in `--gpu NxNAME`.
    pub fn resolve(&self, model: &str, gpu_count: Option<u64>) -> Result<Workload, Error> {
        let mut w = self.request().resolve(model, gpu_count)?;
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

    /// The web page sends only what differs from [`WorkloadRequest::default`]; the CLI's
    /// defaults must be the same values, or the page and the CLI would disagree.
    #[test]
    fn flag_defaults_are_the_core_request_defaults() {
        let Cli { command: Command::Estimate(a) } = Cli::parse_from(["vramfit", "estimate", "llama-7b"]) else {
            panic!("estimate parses as estimate");
        };
        assert_eq!(a.workload.request(), WorkloadRequest::default());
    }
}
