//! Requests as people type them: the workload settings as strings and numbers, named like the
//! command-line flags, resolved into a checked [`Workload`]; the fits verdict; the estimate
//! report as the CLI's `--json` prints it.
//!
//! The CLI and the web page both go through this module, so they cannot disagree: the CLI
//! copies its parsed flags into a [`WorkloadRequest`], the page sends the same settings as JSON
//! (keys are the flag names without `--`: `{"task": "train", "lora-rank": 16}`).

use crate::catalog::{self, GpuSpec};
#[cfg(feature = "clap")]
use crate::choice::clap_support::ChoiceParser;
use crate::choice::Choice;
use crate::estimate::parallel::{Offload, Parallel, Strategy};
use crate::estimate::profile::Engine;
use crate::estimate::serving::{EngineVersion, Fraction, ServingOptions};
use crate::estimate::speed::{Speed, SpeedDevice};
use crate::estimate::training::setup::{Method, Optimizer, Precision, TrainingSetup};
use crate::estimate::{
    llamacpp, AttnImpl, Breakdown, LlamaCppOptions, Runtime, RuntimeProfile, RuntimeVersion, Task, Workload,
};
use crate::fit;
use crate::model::Head;
use crate::model::ModelSpec;
use crate::options::{FlashAttn, FsdpMode, KvCacheDtype, SplitMode};
use crate::quant::QuantConfig;
use crate::reports::{EstimateJson, RamJson};
use crate::{DType, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The workload settings, one field per command-line flag: the CLI's flags (it derives them
/// from this struct under the `clap` feature, help included) and the page's and the Python
/// package's JSON, with the defaults written once, in [`WorkloadRequest::default`].
///
/// Enumerated values are typed, each read by its [`crate::choice::Choice`] table; numbers and
/// open-ended values (quantization schemes, llama.cpp cache types, versions) stay as given
/// until [`WorkloadRequest::resolve`]. In JSON the keys are the flag names: `new` for `--new`,
/// `lora-rank` for `--lora-rank`, and so on, and an enumerated value is any of its spellings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkloadRequest {
    /// What runs (serve is the default, and the only task, with --runtime vllm|sglang).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().task, value_parser = ChoiceParser::<Task>::default()))]
    #[serde(with = "crate::choice::serde_name")]
    pub task: Task,
    /// Weights and compute dtype (PyTorch spellings too: float16, bfloat16) [default: the
    /// runtime's: the checkpoint's under transformers 5.x, fp32 under 4.x].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "torch-dtype", value_parser = ChoiceParser::<DType>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub dtype: Option<DType>,
    /// Weight quantization: int8 | nf4 | nf4-dq | fp4 | fp4-dq | gptq-4bit | gptq-8bit |
    /// awq-4bit | fp8 | a GGUF scheme (q4_k_m, q8_0, ...) [default: none].
    #[cfg_attr(feature = "clap", arg(long))]
    pub quant: Option<String>,
    /// Group size for GPTQ/AWQ (block size for bitsandbytes 4-bit) [default: 128; bnb 64].
    #[cfg_attr(feature = "clap", arg(long))]
    pub group_size: Option<u64>,
    /// Sequences processed together.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().batch, allow_negative_numbers = true))]
    pub batch: u64,
    /// Prompt tokens per sequence.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().prompt, allow_negative_numbers = true))]
    pub prompt: u64,
    /// New tokens generated per sequence.
    #[cfg_attr(feature = "clap", arg(long = "new", default_value_t = WorkloadRequest::default().new_tokens, allow_negative_numbers = true))]
    #[serde(rename = "new")]
    pub new_tokens: u64,
    /// KV cache dtype: fp32 | fp16 | bf16 | fp8; with --runtime llama.cpp also its cache
    /// types f16 | q8_0 | q4_0 | q4_1 | iq4_nl | q5_0 | q5_1 [default: compute dtype; f16].
    #[cfg_attr(feature = "clap", arg(long))]
    pub kv_dtype: Option<String>,
    /// Attention implementation.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().attn, value_parser = ChoiceParser::<AttnImpl>::default()))]
    #[serde(with = "crate::choice::serde_name")]
    pub attn: AttnImpl,
    /// Software that runs it [default: llama.cpp for a .gguf file, else transformers].
    #[cfg_attr(feature = "clap", arg(long, value_parser = ChoiceParser::<Runtime>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub runtime: Option<Runtime>,
    /// Runtime version where behaviour changed (transformers 4.31 kept every prompt logit in
    /// fp32 and rebuilt the KV cache tuple each step; vLLM 0.6.3, 0.6.4, 0.7.3, 0.8.5,
    /// 0.8.5-v0, 0.19.0, 0.21.0 budget the KV cache differently) [default: current; vLLM 0.19].
    #[cfg_attr(feature = "clap", arg(long))]
    pub runtime_version: Option<String>,
    /// Precision policy: bf16 and fp16 mean mixed-bf16 / mixed-fp16 (as HF --bf16 and
    /// Lightning "bf16": fp32 weights, autocast matmuls); bf16-true / 16-true mean pure
    /// (everything half) [default: the runtime's: transformers trains the model as
    /// loaded, fp32 under 4.x, the checkpoint's dtype under 5.x; litgpt/torchtune pure]
    #[cfg_attr(feature = "clap", arg(long, value_parser = ChoiceParser::<Precision>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub precision: Option<Precision>,
    /// Tokens of KV cache allocated up front (litgpt max_seq_length, static caches,
    /// llama.cpp --ctx-size, the reference code's --max-seq-len) [default: prompt + new for
    /// litgpt/torchtune, batch × (prompt + new) for llama.cpp, 512 for meta-reference; growing
    /// for transformers].
    #[cfg_attr(feature = "clap", arg(long, visible_aliases = ["ctx-size", "max-seq-len"]))]
    pub kv_prealloc: Option<u64>,
    /// Sequences the KV cache is built for at load (meta-reference `Llama.build(max_batch_size=)`;
    /// --batch must not exceed it) [default: 32 for meta-reference].
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_batch_size: Option<u64>,
    /// Training: tokens per sample.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().seq, allow_negative_numbers = true))]
    pub seq: u64,
    /// Training: what is trained.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().method, value_parser = ChoiceParser::<Method>::default()))]
    #[serde(with = "crate::choice::serde_name")]
    pub method: Method,
    /// Training: the optimizer [default: the runtime's: adamw (foreach) for transformers and
    /// litgpt, adamw-fused for torchtune].
    #[cfg_attr(feature = "clap", arg(long, value_parser = ChoiceParser::<Optimizer>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub optimizer: Option<Optimizer>,
    /// Training: gradient checkpointing.
    #[cfg_attr(feature = "clap", arg(long))]
    pub grad_ckpt: bool,
    /// Training: micro-batches per optimizer step (gradients persist between them).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().grad_accum))]
    pub grad_accum: u64,
    /// Training: LoRA rank.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().lora_rank))]
    pub lora_rank: u64,
    /// Training: LoRA target modules, comma-separated (q_proj,v_proj) or all-linear
    /// [default: q_proj,v_proj].
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub lora_targets: Vec<String>,
    /// Training: LoRA dropout probability [default: 0; litgpt 0.05].
    #[cfg_attr(feature = "clap", arg(long))]
    pub lora_dropout: Option<f64>,
    /// Training: cross-entropy in chunks (logits never upcast whole) [default: litgpt yes,
    /// others no].
    #[cfg_attr(feature = "clap", arg(long))]
    pub chunked_ce: bool,
    /// Training: run the optimizer step inside backward, freeing each gradient (torchtune).
    #[cfg_attr(feature = "clap", arg(long))]
    pub optimizer_in_backward: bool,
    /// Training: offload saved activations to CPU RAM (torchtune).
    #[cfg_attr(feature = "clap", arg(long))]
    pub activation_offload: bool,
    /// Training: torch.compile (fewer saved activations).
    #[cfg_attr(feature = "clap", arg(long))]
    pub compile: bool,
    /// Training: virtual tokens of prompt/prefix tuning.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().virtual_tokens))]
    pub virtual_tokens: u64,
    /// Merge: run the merge on the GPU instead of in CPU RAM.
    #[cfg_attr(feature = "clap", arg(long))]
    pub merge_on_gpu: bool,
    /// GPUs per node [default: the count in --gpu 4xA100-80GB, else 1].
    #[cfg_attr(feature = "clap", arg(long))]
    pub gpus: Option<u64>,
    /// Nodes.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().nodes))]
    pub nodes: u64,
    /// DeepSpeed ZeRO stage 0|1|2|3 (0 = plain data parallel, DDP).
    #[cfg_attr(feature = "clap", arg(long))]
    pub zero: Option<u8>,
    /// PyTorch FSDP sharding strategy.
    #[cfg_attr(feature = "clap", arg(long, value_parser = ChoiceParser::<FsdpMode>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub fsdp: Option<FsdpMode>,
    /// Tensor-parallel degree (vLLM --tensor-parallel-size, SGLang --tp-size).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().tp, visible_aliases = ["tensor-parallel-size", "tp-size"]))]
    #[serde(alias = "tensor-parallel-size", alias = "tp-size")]
    pub tp: u64,
    /// Pipeline-parallel degree (vLLM --pipeline-parallel-size, SGLang --pp-size).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().pp, visible_aliases = ["pipeline-parallel-size", "pp-size"]))]
    #[serde(alias = "pipeline-parallel-size", alias = "pp-size")]
    pub pp: u64,
    /// Expert-parallel degree (MoE).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = WorkloadRequest::default().ep))]
    pub ep: u64,
    /// Megatron sequence parallelism with --tp.
    #[cfg_attr(feature = "clap", arg(long))]
    pub sequence_parallel: bool,
    /// Offload optimizer state (ZeRO / FSDP).
    #[cfg_attr(feature = "clap", arg(long, value_parser = ChoiceParser::<Offload>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub offload: Option<Offload>,
    /// Offload parameters too (ZeRO-3 offload_param, FSDP CPUOffload).
    #[cfg_attr(feature = "clap", arg(long))]
    pub offload_params: bool,
    /// Inference across GPUs: split layers sequentially (accelerate device_map="auto")
    /// rather than tensor parallel.
    #[cfg_attr(feature = "clap", arg(long))]
    pub device_map: bool,
    /// llama.cpp -ngl: blocks offloaded to the GPU, the output layer counting as one more; the
    /// rest stays in CPU RAM [default: all].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "n-gpu-layers"))]
    pub ngl: Option<u64>,
    /// llama.cpp --ubatch-size: tokens per compute micro-batch [default: 512].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "ub"))]
    pub ubatch_size: Option<u64>,
    /// llama.cpp --batch-size (n_batch): the logical batch; the compute graph has
    /// min(n_batch, n_ubatch) tokens [default: 2048; 512 for builds before the micro-batch].
    #[cfg_attr(feature = "clap", arg(long))]
    pub batch_size: Option<u64>,
    /// llama.cpp --cache-type-k: K cache type (f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0,
    /// q5_1) [default: f16, or --kv-dtype].
    #[cfg_attr(feature = "clap", arg(long))]
    pub cache_type_k: Option<String>,
    /// llama.cpp --cache-type-v: V cache type (a quantized V cache needs flash attention)
    /// [default: the K cache's].
    #[cfg_attr(feature = "clap", arg(long))]
    pub cache_type_v: Option<String>,
    /// llama.cpp --parallel (n_seq_max; Ollama's OLLAMA_NUM_PARALLEL): sequences sharing the
    /// context [default: --batch].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "np"))]
    pub parallel: Option<u64>,
    /// llama.cpp --n-cpu-moe N: keep the routed experts of the first N blocks in CPU RAM
    /// [default: none].
    #[cfg_attr(feature = "clap", arg(long))]
    pub n_cpu_moe: Option<u64>,
    /// llama.cpp --override-tensor PATTERN=DEVICE (-ot), e.g. exps=CPU or
    /// 'blk\.(1[0-9])\.ffn_.*_exps=CUDA1'; repeatable, first match wins [default: none].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "ot"))]
    pub override_tensor: Vec<String>,
    /// llama.cpp --split-mode over the --gpus GPUs [default: layer].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "sm", value_parser = ChoiceParser::<SplitMode>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub split_mode: Option<SplitMode>,
    /// llama.cpp --tensor-split A,B,...: each GPU's share of the layers (or rows)
    /// [default: equal shares].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "ts"))]
    pub tensor_split: Option<String>,
    /// llama.cpp --main-gpu: the GPU holding everything with --split-mode none, and the KV
    /// cache and compute with row [default: 0].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "mg"))]
    pub main_gpu: Option<u64>,
    /// llama.cpp --flash-attn [default: auto: on from build ~6250, off before;
    /// --attn eager/flash also decide it].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "fa", value_parser = ChoiceParser::<FlashAttn>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub flash_attn: Option<FlashAttn>,
    /// Output head (a classifier scores config.json's num_labels, else 2) [default: what config.json's architectures
    /// names, e.g. LlamaForSequenceClassification].
    #[cfg_attr(feature = "clap", arg(long, value_parser = ChoiceParser::<Head>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub head: Option<Head>,
    /// vLLM/SGLang: fraction of the device the engine takes (SGLang --mem-fraction-static)
    /// [default: vLLM 0.9, 0.92 from 0.20; SGLang by GPU size].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "mem-fraction-static"))]
    #[serde(alias = "mem-fraction-static")]
    pub gpu_memory_utilization: Option<f64>,
    /// vLLM/SGLang: context length served (SGLang --context-length) [default: the model's
    /// max_position_embeddings].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "context-length"))]
    #[serde(alias = "context-length")]
    pub max_model_len: Option<u64>,
    /// vLLM/SGLang: requests scheduled together (SGLang --max-running-requests) [default: vLLM
    /// 256, 1024 in V1 on GPUs of 70 GiB or more].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "max-running-requests"))]
    #[serde(alias = "max-running-requests")]
    pub max_num_seqs: Option<u64>,
    /// vLLM/SGLang: tokens per scheduler step, which sizes the profile run (SGLang
    /// --chunked-prefill-size) [default: by version and GPU].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "chunked-prefill-size"))]
    #[serde(alias = "chunked-prefill-size")]
    pub max_num_batched_tokens: Option<u64>,
    /// vLLM: no CUDA graphs.
    #[cfg_attr(feature = "clap", arg(long))]
    pub enforce_eager: bool,
    /// vLLM/SGLang KV cache dtype [default: auto].
    #[cfg_attr(feature = "clap", arg(long, value_parser = ChoiceParser::<KvCacheDtype>::default()))]
    #[serde(with = "crate::choice::serde_opt_name")]
    pub kv_cache_dtype: Option<KvCacheDtype>,
    /// vLLM/SGLang: tokens per KV page (SGLang --page-size) [default: vLLM 16, SGLang 1].
    #[cfg_attr(feature = "clap", arg(long, visible_alias = "page-size"))]
    pub block_size: Option<u64>,
    /// vLLM/SGLang weight quantization method: fp8 | awq | gptq | bitsandbytes [default: the
    /// checkpoint's quantization_config].
    #[cfg_attr(feature = "clap", arg(long))]
    pub quantization: Option<String>,
    /// vLLM: GB of weights kept in CPU memory.
    #[cfg_attr(feature = "clap", arg(long))]
    pub cpu_offload_gb: Option<f64>,
    /// vLLM 0.11+: KV cache size (bytes, or 8GiB), skipping the profile.
    #[cfg_attr(feature = "clap", arg(long))]
    pub kv_cache_memory: Option<String>,
    /// vLLM/SGLang: memory other processes (a desktop, another engine) hold on each GPU when
    /// the engine starts, as nvidia-smi shows it (bytes, or 1.2GiB); counted where the release
    /// counts it [default: none].
    #[cfg_attr(feature = "clap", arg(long))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_processes_memory: Option<String>,
    /// CPU RAM bandwidth in GB/s, for the speed of weights kept in CPU RAM (llama.cpp layers
    /// on the CPU, optimizer offload) [default: 83.2 for desktops (2 × DDR5-5200), 204.8 for
    /// data-center hosts (8 × DDR4-3200); unified memory reads at the GPU's bandwidth].
    #[cfg_attr(feature = "clap", arg(long, value_name = "GB/s"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram_bandwidth: Option<f64>,
    /// Apple GPUs: macOS's `sudo sysctl iogpu.wired_limit_mb=N` raises (or lowers) the Metal
    /// working set, the GPU's usable memory, to N MiB [default: the catalog's
    /// recommendedMaxWorkingSetSize, about 2/3 of unified memory up to 36 GB and 3/4 above].
    #[cfg_attr(feature = "clap", arg(long, value_name = "MB"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wired_limit_mb: Option<u64>,
}

impl Default for WorkloadRequest {
    /// The workload's own defaults ([`Workload::default`], its training setup and parallel
    /// layout): a flag not given leaves the value the estimators assume.
    fn default() -> Self {
        let w = Workload::default();
        let (t, p) = (&w.training, &w.parallel);
        WorkloadRequest {
            task: w.task,
            dtype: None,
            quant: None,
            group_size: None,
            batch: w.batch,
            prompt: w.prompt,
            new_tokens: w.new_tokens,
            kv_dtype: None,
            attn: w.attn,
            runtime: None,
            runtime_version: None,
            precision: None,
            kv_prealloc: None,
            max_batch_size: None,
            seq: t.seq,
            method: t.method,
            optimizer: None,
            grad_ckpt: false,
            grad_accum: t.grad_accum,
            lora_rank: t.lora_rank,
            lora_targets: vec![],
            lora_dropout: None,
            chunked_ce: false,
            optimizer_in_backward: false,
            activation_offload: false,
            compile: false,
            virtual_tokens: t.virtual_tokens,
            merge_on_gpu: false,
            gpus: None,
            nodes: p.nodes,
            zero: None,
            fsdp: None,
            tp: p.tp,
            pp: p.pp,
            ep: p.ep,
            sequence_parallel: false,
            offload: None,
            offload_params: false,
            device_map: false,
            ngl: None,
            ubatch_size: None,
            batch_size: None,
            cache_type_k: None,
            cache_type_v: None,
            parallel: None,
            n_cpu_moe: None,
            override_tensor: Vec::new(),
            split_mode: None,
            tensor_split: None,
            main_gpu: None,
            flash_attn: None,
            head: None,
            gpu_memory_utilization: None,
            max_model_len: None,
            max_num_seqs: None,
            max_num_batched_tokens: None,
            enforce_eager: false,
            kv_cache_dtype: None,
            block_size: None,
            quantization: None,
            cpu_offload_gb: None,
            kv_cache_memory: None,
            other_processes_memory: None,
            ram_bandwidth: None,
            wired_limit_mb: None,
        }
    }
}

/// An enumerated flag as a form offers it: its listed values and, for a flag that may be left
/// unset, what leaving it unset means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldOptions {
    /// The listed values, in table order.
    pub choices: Vec<crate::choice::Listed>,
    /// The label of "not given" (`None`: the flag always has a value, or its first listed
    /// value is what not giving it means).
    pub unset: Option<&'static str>,
}

impl FieldOptions {
    fn of<T: Choice>(unset: Option<&'static str>) -> Self {
        FieldOptions { choices: crate::choice::listing::<T>(), unset }
    }
}

/// What a form needs to ask for a request (the wasm module's `options()`, the page's selects):
/// the defaults and every enumerated flag's values with their labels, from the same tables the
/// CLI and JSON parse with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestOptions {
    /// [`WorkloadRequest::default`], keyed by flag name.
    pub defaults: WorkloadRequest,
    /// Each enumerated flag (by name without `--`) and its values.
    pub fields: std::collections::BTreeMap<&'static str, FieldOptions>,
    /// The methods that read `--lora-rank` and `--lora-targets`.
    pub lora_methods: Vec<&'static str>,
}

/// The options of every enumerated workload flag.
#[must_use]
pub fn options() -> RequestOptions {
    let fields = [
        ("task", FieldOptions::of::<Task>(None)),
        ("dtype", FieldOptions::of::<DType>(Some("checkpoint's"))),
        ("attn", FieldOptions::of::<AttnImpl>(None)),
        ("runtime", FieldOptions::of::<Runtime>(None)),
        ("precision", FieldOptions::of::<Precision>(Some("default"))),
        ("method", FieldOptions::of::<Method>(None)),
        ("optimizer", FieldOptions::of::<Optimizer>(Some("default"))),
        ("fsdp", FieldOptions::of::<FsdpMode>(Some("no"))),
        ("offload", FieldOptions::of::<Offload>(Some("no"))),
        ("split-mode", FieldOptions::of::<SplitMode>(Some("default (layer)"))),
        ("flash-attn", FieldOptions::of::<FlashAttn>(None)),
        ("head", FieldOptions::of::<Head>(Some("what config.json names"))),
        ("kv-cache-dtype", FieldOptions::of::<KvCacheDtype>(None)),
    ];
    RequestOptions {
        defaults: WorkloadRequest::default(),
        fields: fields.into_iter().collect(),
        lora_methods: Method::entries().filter(|e| e.value.is_lora()).map(|e| e.name()).collect(),
    }
}

impl WorkloadRequest {
    /// A `--gpu` value with `--wired-limit-mb` applied.
    ///
    /// # Errors
    /// An unknown GPU, or a wired limit on a GPU that is not Apple's.
    pub fn gpu(&self, s: &str) -> Result<GpuSpec> {
        let g = GpuSpec::parse(s.trim())?;
        match self.wired_limit_mb {
            Some(mb) => g.with_wired_limit_mb(mb),
            None => Ok(g),
        }
    }

    /// The request's `--gpu` parsed ([`WorkloadRequest::gpu`]); a wired limit without a GPU is
    /// refused as the CLI refuses it.
    ///
    /// # Errors
    /// As [`WorkloadRequest::gpu`], or `--wired-limit-mb` without `--gpu`.
    pub fn gpu_of(&self, gpu: Option<&str>) -> Result<Option<GpuSpec>> {
        if gpu.is_none() && self.wired_limit_mb.is_some() {
            return Err(Error::workload(
                "--wired-limit-mb",
                "sets an Apple GPU's working set: add --gpu M2-Max-96GB (or another Apple GPU)",
            ));
        }
        gpu.map(|g| self.gpu(g)).transpose()
    }

    /// The first llama.cpp-only flag given, if any.
    fn llama_cpp_flag_given(&self) -> Option<&'static str> {
        [
            (self.ngl.is_some(), "--ngl"),
            (self.ubatch_size.is_some(), "--ubatch-size"),
            (self.batch_size.is_some(), "--batch-size"),
            (self.cache_type_k.is_some(), "--cache-type-k"),
            (self.cache_type_v.is_some(), "--cache-type-v"),
            (self.parallel.is_some(), "--parallel"),
            (self.n_cpu_moe.is_some(), "--n-cpu-moe"),
            (!self.override_tensor.is_empty(), "--override-tensor"),
            (self.split_mode.is_some(), "--split-mode"),
            (self.tensor_split.is_some(), "--tensor-split"),
            (self.main_gpu.is_some(), "--main-gpu"),
            (self.flash_attn.is_some(), "--flash-attn"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// The llama.cpp settings, checked.
    ///
    /// # Errors
    /// A bad value, naming its flag.
    fn llama_cpp_options(&self) -> Result<LlamaCppOptions> {
        let upper = |s: &Option<String>| s.as_deref().map(|t| t.trim().to_ascii_uppercase());
        for (flag, t) in [("--cache-type-k", upper(&self.cache_type_k)), ("--cache-type-v", upper(&self.cache_type_v))]
        {
            if let Some(t) = t {
                if !llamacpp::KV_CACHE_TYPES.contains(&t.as_str()) {
                    return Err(Error::workload(
                        flag,
                        format!(
                            "{t:?} is not a llama.cpp cache type; use {}",
                            llamacpp::KV_CACHE_TYPES.join(", ").to_ascii_lowercase()
                        ),
                    ));
                }
            }
        }
        let split_mode = self.split_mode.and_then(SplitMode::canonical).map(str::to_string);
        let tensor_split = match self.tensor_split.as_deref() {
            None => Vec::new(),
            Some(t) => {
                let parts: Vec<f64> = t
                    .split([',', '/'])
                    .map(|p| p.trim().parse::<f64>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| {
                        Error::workload("--tensor-split", format!("{t:?} is not a list of numbers like 3,1"))
                    })?;
                let sum: f64 = parts.iter().sum();
                if parts.iter().any(|p| !p.is_finite() || *p < 0.0) || sum <= 0.0 || parts.len() > 64 {
                    return Err(Error::workload(
                        "--tensor-split",
                        "shares must be non-negative numbers with a positive sum",
                    ));
                }
                parts.iter().map(|p| (p / sum * 1e6).round() as u64).collect()
            }
        };
        let flash_attn = self.flash_attn.and_then(FlashAttn::forced);
        if self.batch_size == Some(0) || self.ubatch_size == Some(0) || self.parallel == Some(0) {
            let flag = if self.batch_size == Some(0) {
                "--batch-size"
            } else if self.ubatch_size == Some(0) {
                "--ubatch-size"
            } else {
                "--parallel"
            };
            return Err(Error::workload(flag, "must be at least 1"));
        }
        Ok(LlamaCppOptions {
            n_gpu_layers: self.ngl,
            cache_type: upper(&self.cache_type_k),
            cache_type_v: upper(&self.cache_type_v),
            n_ubatch: self.ubatch_size,
            n_batch: self.batch_size,
            n_seq_max: self.parallel,
            n_cpu_moe: self.n_cpu_moe,
            override_tensor: self.override_tensor.clone(),
            split_mode,
            tensor_split,
            main_gpu: self.main_gpu,
            flash_attn,
            mmproj_bytes: None,
            mmproj_projector: None,
            lora: None,
        })
    }

    /// The parallel layout from the settings and the GPU count of `--gpu NxNAME`.
    ///
    /// # Errors
    /// Contradictory or unknown strategy settings (the error names the flag).
    pub fn parallel(&self, task: Task, gpu_count: Option<u64>) -> Result<Parallel> {
        let gpus = self.gpus.or(gpu_count).unwrap_or(1);
        let strategy = match (self.zero, self.fsdp) {
            (Some(_), Some(_)) => return Err(Error::workload("--fsdp", "give --zero or --fsdp, not both")),
            (Some(0), None) => Strategy::Ddp,
            (Some(z), None) => Strategy::Zero(z),
            (None, Some(f)) => f.strategy(),
            (None, None) if gpus.saturating_mul(self.nodes) > 1 && self.tp == 1 && self.pp == 1 => match task {
                Task::Train => Strategy::Ddp,
                _ => Strategy::Sequential,
            },
            (None, None) if self.device_map => Strategy::Sequential,
            (None, None) => Strategy::None,
        };
        let offload: Option<Offload> = self.offload;
        let p = Parallel {
            gpus_per_node: gpus,
            nodes: self.nodes,
            strategy,
            tp: self.tp,
            pp: self.pp,
            ep: self.ep,
            sequence_parallel: self.sequence_parallel,
            offload,
            offload_params: self.offload_params,
        };
        p.check()?;
        Ok(p)
    }

    fn training(&self) -> Result<TrainingSetup> {
        if let Some(p) = self.lora_dropout {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::workload("--lora-dropout", "must be in [0, 1)"));
            }
        }
        Ok(TrainingSetup {
            seq: self.seq,
            precision: self.precision,
            optimizer: self.optimizer,
            method: self.method,
            lora_rank: self.lora_rank,
            lora_targets: self.lora_targets.clone(),
            lora_dropout: self.lora_dropout.map(|p| (p * 1000.0).round() as u32),
            virtual_tokens: self.virtual_tokens,
            grad_ckpt: self.grad_ckpt,
            grad_accum: self.grad_accum,
            chunked_ce: self.chunked_ce.then_some(true),
            optimizer_in_backward: self.optimizer_in_backward,
            activation_offload: self.activation_offload,
            compile: self.compile,
        })
    }

    /// Resolve the settings into a checked workload: `model` is the MODEL argument as typed
    /// (a `.gguf` file picks the llama.cpp runtime), `gpu_count` the count of `--gpu NxNAME`.
    ///
    /// # Errors
    /// An unknown value or an impossible combination; the error names the flag that fixes it.
    pub fn resolve(&self, model: &str, gpu_count: Option<u64>) -> Result<Workload> {
        let mut task = self.task;
        if let Some(bw) = self.ram_bandwidth {
            if !(bw.is_finite() && bw > 0.0 && bw <= 100_000.0) {
                return Err(Error::workload("--ram-bandwidth", "must be a bandwidth in GB/s between 0 and 100000"));
            }
        }
        let dtype = self.dtype;
        let quant = self.quant.as_deref().map(|q| QuantConfig::parse(q, self.group_size)).transpose()?;
        let attn = self.attn;
        let runtime = match self.runtime {
            Some(r) => r,
            None if model.to_ascii_lowercase().ends_with(".gguf") => Runtime::LlamaCpp,
            None => Runtime::Transformers,
        };
        if runtime.is_serving_engine() && task == Task::Generate {
            // `--task serve` is the default (and the only task) of a serving engine.
            task = Task::Serve;
        }
        if task == Task::Serve && !runtime.is_serving_engine() {
            return Err(Error::workload(
                "--task",
                "serve is modelled for the serving engines: add --runtime vllm or --runtime sglang",
            ));
        }
        if runtime.is_serving_engine() && task != Task::Serve {
            return Err(Error::workload("--task", format!("{} runs --task serve only", runtime.name())));
        }
        let serving = self.serving(runtime)?;
        let ggml_runtime = RuntimeProfile::of(runtime, None).engine == Engine::LlamaCpp;
        let mut llama_cpp = self.llama_cpp_options()?;
        let kv_dtype = match self.kv_dtype.as_deref().or(self.kv_cache_dtype.and_then(KvCacheDtype::kv_dtype)) {
            None => None,
            Some(s) => {
                let ggml = s.trim().to_ascii_uppercase();
                let is_cache_type = llamacpp::KV_CACHE_TYPES.contains(&ggml.as_str());
                match DType::parse(s) {
                    Ok(d) if !(ggml_runtime && is_cache_type) => Some(d),
                    _ if ggml_runtime && is_cache_type => {
                        llama_cpp.cache_type.get_or_insert(ggml);
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
        if self.max_batch_size.is_some() && RuntimeProfile::of(runtime, None).inference.cache_slots.is_none() {
            return Err(Error::workload(
                "--max-batch-size",
                "sizes a cache built at load (--runtime meta-reference); for other runtimes use --batch",
            ));
        }
        if !ggml_runtime {
            if let Some(flag) = self.llama_cpp_flag_given() {
                return Err(Error::workload(flag, "is a llama.cpp setting: add --runtime llama.cpp"));
            }
        }
        let runtime_version = if runtime.is_serving_engine() {
            None
        } else {
            self.runtime_version.as_deref().map(RuntimeVersion::parse).transpose()?
        };
        let training = self.training()?;
        // One spelling list for every task (`Precision::parse`): inference reads the precision
        // as the weights' dtype and the autocast dtype.
        let (dtype, autocast) = match (task, training.precision) {
            (_, None) | (Task::Train | Task::Merge, Some(_)) => (dtype, None),
            (_, Some(Precision::Fp32)) => (Some(DType::Fp32), None),
            (_, Some(Precision::Mixed(d))) => (Some(DType::Fp32), Some(d)),
            (_, Some(Precision::Pure(d))) => (Some(d), None),
        };
        if !matches!(task, Task::Train | Task::Merge)
            && self.precision.is_some()
            && self.dtype.is_some()
            && dtype != self.dtype
        {
            return Err(Error::workload("--dtype", "contradicts --precision; give one of them"));
        }
        let head = self.head;
        let w = Workload {
            head,
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
            cache_batch: self.max_batch_size,
            merge_on_gpu: self.merge_on_gpu,
            // A serving engine runs one GPU per tensor × pipeline rank.
            parallel: self.parallel(
                task,
                if runtime.is_serving_engine() && gpu_count.unwrap_or(1) <= 1 {
                    Some(self.tp.max(1).saturating_mul(self.pp.max(1)))
                } else {
                    gpu_count
                },
            )?,
            training,
            llama_cpp,
            serving,
            backend: crate::estimate::backend::Backend::Cuda,
        };
        w.check()?;
        Ok(w)
    }
}

impl WorkloadRequest {
    /// The serving-engine settings; refused on other runtimes, naming the flag.
    fn serving(&self, runtime: Runtime) -> Result<ServingOptions> {
        let flag = crate::estimate::profile::row(runtime).memory_fraction_flag;
        let o = ServingOptions {
            version: if runtime.is_serving_engine() {
                self.runtime_version.as_deref().map(EngineVersion::parse).transpose()?.flatten()
            } else {
                None
            },
            gpu_memory_utilization: self.gpu_memory_utilization.map(|u| Fraction::new(u, flag)).transpose()?,
            max_model_len: self.max_model_len,
            max_num_seqs: self.max_num_seqs,
            max_num_batched_tokens: self.max_num_batched_tokens,
            enforce_eager: self.enforce_eager,
            block_size: self.block_size,
            quantization: self.quantization.clone(),
            kv_cache_memory: self
                .kv_cache_memory
                .as_deref()
                .map(|m| parse_bytes(m, "--kv-cache-memory"))
                .transpose()?,
            cpu_offload_bytes: match self.cpu_offload_gb {
                None => None,
                Some(g) if (0.0..1e6).contains(&g) => Some((g * 1e9) as u64),
                Some(_) => return Err(Error::workload("--cpu-offload-gb", "must be a number of GB between 0 and 1e6")),
            },
            other_processes_bytes: self
                .other_processes_memory
                .as_deref()
                .map(|m| parse_bytes(m, "--other-processes-memory"))
                .transpose()?,
            device: None,
        };
        if !runtime.is_serving_engine() {
            if let Some(f) = o.any_engine_flag() {
                return Err(Error::workload(f, "is a serving-engine setting: add --runtime vllm or --runtime sglang"));
            }
            if self.kv_cache_dtype.is_some() {
                return Err(Error::workload(
                    "--kv-cache-dtype",
                    "is a serving-engine setting: add --runtime vllm (or use --kv-dtype)",
                ));
            }
        }
        for (flag, v) in [
            ("--max-model-len", o.max_model_len),
            ("--max-num-seqs", o.max_num_seqs),
            ("--max-num-batched-tokens", o.max_num_batched_tokens),
            ("--block-size", o.block_size),
        ] {
            if let Some(v) = v {
                if v == 0 || v > crate::estimate::workload::MAX_TOKENS {
                    return Err(Error::workload(
                        flag,
                        format!("must be between 1 and {}", crate::estimate::workload::MAX_TOKENS),
                    ));
                }
            }
        }
        Ok(o)
    }
}

/// A byte count as typed: `8589934592`, `8GiB`, `8G` (GiB), `8GB`.
fn parse_bytes(s: &str, flag: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let x: f64 = num.parse().map_err(|_| Error::workload(flag, format!("{s:?} is not a size like 8GiB")))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        _ => return Err(Error::workload(flag, format!("{s:?}: unknown unit; use GiB, MiB, GB"))),
    };
    let b = x * mult;
    if !(b.is_finite() && b > 0.0 && b < 1e15) {
        return Err(Error::workload(flag, "must be a positive size below 1 PB"));
    }
    Ok(b as u64)
}

/// An estimate judged on the GPUs asked about: the one headroom [`fit::Verdict`] (the same
/// type `fit` ranks plans with), and a serving engine's own verdict, whether it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuVerdict {
    /// The GPUs.
    pub gpu: GpuSpec,
    /// The device peak of the most-loaded GPU against one GPU's usable memory, under the
    /// headroom policy of [`crate::fit::reserve_bytes`] (5 % of usable memory, at least
    /// 512 MiB, kept free).
    pub headroom: fit::Verdict,
    /// A serving engine's verdict (`None`: not a serving engine, or it cannot say).
    pub starts: Option<bool>,
}

impl GpuVerdict {
    /// The verdict for `b` on `gpu`.
    #[must_use]
    pub fn new(gpu: GpuSpec, b: &Breakdown) -> Self {
        // Estimates are for the most-loaded rank, so the device total is what one GPU holds.
        let headroom = fit::Verdict::new(b.total_bytes(), gpu.usable_bytes);
        GpuVerdict { gpu, headroom, starts: b.serving.as_ref().and_then(|s| s.starts) }
    }

    /// Whether it fits: a serving engine's verdict is its own (whether it starts), any other
    /// workload's is the headroom verdict.
    #[must_use]
    pub fn fits(&self) -> bool {
        self.starts.unwrap_or(self.headroom.fits)
    }

    /// Fits the raw memory, but with less than the reserve free.
    #[must_use]
    pub fn tight(&self) -> bool {
        self.headroom.tight()
    }
}

/// A workload judged against the machine's CPU RAM (`--ram`): what it keeps in host memory
/// (a merge in CPU RAM, offloaded layers or optimizer states).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamVerdict {
    /// `--ram`.
    pub ram_bytes: u64,
    /// Peak CPU RAM of the workload.
    pub needed_bytes: u64,
    /// `needed_bytes` fits `ram_bytes`.
    pub fits: bool,
    /// RAM minus needed (negative when it does not fit).
    pub headroom_bytes: i128,
}

impl RamVerdict {
    /// `b`'s CPU RAM against `ram_bytes`.
    #[must_use]
    pub fn new(ram_bytes: u64, b: &Breakdown) -> Self {
        let needed_bytes = b.host_bytes;
        RamVerdict {
            ram_bytes,
            needed_bytes,
            fits: needed_bytes <= ram_bytes,
            headroom_bytes: i128::from(ram_bytes) - i128::from(needed_bytes),
        }
    }
}

/// Parse `--ram`: a size such as `32GB` or `64GiB`.
///
/// # Errors
/// Not a positive size (the error names `--ram`).
pub fn parse_ram(s: &str) -> Result<u64> {
    match GpuSpec::parse(s) {
        Ok(g) if g.gpu.is_none() && g.count == 1 => Ok(g.usable_bytes),
        _ => Err(Error::workload("--ram", format!("{s:?} is not a memory size; give one such as 32GB or 64GiB"))),
    }
}

/// Whether `--gpu` judges `w`: a merge in CPU RAM does not use the GPU (it is judged against
/// `--ram`); `--merge-on-gpu` merges on the GPU.
#[must_use]
pub fn gpu_judges(w: &Workload) -> bool {
    w.task != Task::Merge || w.merge_on_gpu
}

/// The note for a GPU that was given but does not judge the workload.
#[must_use]
pub fn gpu_not_judged_note(w: &Workload, ram: Option<u64>) -> Option<String> {
    (!gpu_judges(w)).then(|| {
        format!(
            "--gpu is not judged: the merge runs in CPU RAM and uses no GPU (--merge-on-gpu merges on it){}",
            if ram.is_some() { "" } else { "; give --ram (32GB) to judge the CPU RAM" }
        )
    })
}

/// The `ram` object of the JSON report (`null` without `--ram`).
#[must_use]
pub fn ram_value(r: Option<&RamVerdict>) -> Value {
    r.map_or(Value::Null, |r| json!(RamJson::from(r)))
}

/// The estimate object exactly as `vramfit estimate --json` prints it: `model` names the
/// model and says how it was read (its notes come before the estimate's).
#[must_use]
pub fn estimate_value(
    model: &ModelReport<'_>,
    w: &Workload,
    b: &Breakdown,
    verdict: Option<&GpuVerdict>,
    speed: Option<&Speed>,
) -> Value {
    EstimateJson::new(model, w, b, verdict, speed).value()
}

/// The speed of an estimate on the GPUs of its verdict (a catalog GPU is needed: a bare size
/// has no bandwidth), with `--ram-bandwidth` when given.
#[must_use]
pub fn speed_of(
    spec: &ModelSpec,
    w: &Workload,
    b: &Breakdown,
    verdict: Option<&GpuVerdict>,
    ram_bandwidth: Option<f64>,
) -> Option<Speed> {
    let v = verdict?;
    let gpu = v.gpu.gpu.as_ref()?;
    let dev = SpeedDevice { gpu, count: v.gpu.count, ram_bandwidth_gb_s: ram_bandwidth, backend: None };
    crate::estimate::speed::estimate_speed(spec, w, b, &dev)
}

/// What an estimate report says about its model.
#[derive(Debug, Clone, Copy)]
pub struct ModelReport<'a> {
    /// Display name.
    pub name: &'a str,
    /// `catalog`, a path, a Hub address.
    pub origin: &'a str,
    /// Things to say about how the model was read.
    pub notes: &'a [String],
    /// Bytes received over the network to describe it.
    pub bytes_transferred: u64,
}

/// The fit object exactly as `vramfit fit --json` prints it: CLI.md's `as_asked`, `plans`,
/// `limits`, and more.
#[must_use]
pub fn fit_value(m: &ModelReport<'_>, r: &fit::FitReport) -> Value {
    crate::reports::value(&crate::reports::FitJson::new(m, r))
}

/// The fit object of a serving engine in `vramfit fit --json`'s shape: `as_asked`, `plans`,
/// `limits` (largest `max_model_len`, concurrency), each with the engine's report.
#[must_use]
pub fn serving_fit_value(m: &ModelReport<'_>, gpu: &GpuSpec, f: &crate::estimate::serving::plans::ServingFit) -> Value {
    crate::reports::value(&crate::reports::ServingFitJson::new(m, gpu, f))
}

/// Read a request (or any part of one) from JSON text, as the page and the Python package
/// send it. A value an enumerated flag's table refuses is that flag's one-line error, as the
/// CLI prints it (`--task: unknown task "x"; use ...`); anything else is `request: ` and
/// serde's message, with its position.
///
/// # Errors
/// Not JSON, or not the request's shape.
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
    serde_json::from_str(text).map_err(|e| json_error_line(&e))
}

/// [`parse_json`]'s message for a serde error.
#[must_use]
pub fn json_error_line(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if e.is_data() && msg.starts_with("--") {
        // A table's own error: the flag says where; serde's position would only repeat it.
        let end = if e.line() > 0 { msg.rfind(" at line ").unwrap_or(msg.len()) } else { msg.len() };
        return msg[..end].to_string();
    }
    format!("request: {msg}")
}

/// A whole estimate request, as the web page sends it: the model (a catalog name, or a
/// config.json text with a display name), the GPUs, and the workload settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// Catalog name or alias; with `config`, only the name shown in the report.
    pub model: String,
    /// A config.json text (pasted, or fetched from the Hub by the page).
    #[serde(default)]
    pub config: Option<String>,
    /// Where `config` came from, shown as the report's `origin` [default: `config.json`].
    #[serde(default)]
    pub origin: Option<String>,
    /// Bytes the page fetched to get `config` (reported as `bytes_transferred`).
    #[serde(default)]
    pub bytes_transferred: u64,
    /// `--gpu`: `T4`, `4xA100-80GB`, `24GiB`.
    #[serde(default)]
    pub gpu: Option<String>,
    /// `--ram`: CPU RAM to judge host memory against (`32GB`).
    #[serde(default)]
    pub ram: Option<String>,
    /// The workload settings.
    #[serde(default)]
    pub workload: WorkloadRequest,
}

/// A model named by a request, resolved without I/O.
#[derive(Debug, Clone)]
pub struct RequestedModel {
    /// Display name (the catalog's canonical name for catalog models).
    pub name: String,
    /// `catalog`, or where the config came from.
    pub origin: String,
    /// The model description.
    pub spec: ModelSpec,
}

impl EstimateRequest {
    /// The model: parsed from `config` when given, else looked up in the catalog.
    ///
    /// # Errors
    /// An unknown catalog name (with suggestions) or an invalid config.
    pub fn model(&self) -> Result<RequestedModel> {
        if let Some(text) = &self.config {
            Ok(RequestedModel {
                name: self.model.clone(),
                origin: self.origin.clone().unwrap_or_else(|| "config.json".into()),
                spec: crate::config::parse_config(text)?,
            })
        } else {
            let m = catalog::find_model(&self.model)?;
            Ok(RequestedModel { name: m.name.clone(), origin: "catalog".into(), spec: m.spec()? })
        }
    }

    /// Run the request the way `vramfit estimate --json` runs its flags, and return the same
    /// object.
    ///
    /// # Errors
    /// As the CLI: a bad GPU, workload or model, or settings the GPU cannot run.
    pub fn run(&self) -> Result<Value> {
        // The GPU and the workload are checked before the model is read, as the CLI does, so
        // the same input fails with the same message.
        let gpu = self.workload.gpu_of(self.gpu.as_deref())?;
        self.workload.resolve(&self.model, gpu.as_ref().map(|g| g.count))?;
        let model = self.model()?;
        self.run_on(&model)
    }

    /// [`EstimateRequest::run`] on a model already resolved (sweeps resolve it once).
    ///
    /// # Errors
    /// As [`EstimateRequest::run`].
    pub fn run_on(&self, model: &RequestedModel) -> Result<Value> {
        let (workload, breakdown, verdict) = self.estimate_on(model)?;
        let report = ModelReport {
            name: &model.name,
            origin: &model.origin,
            notes: &[],
            bytes_transferred: self.bytes_transferred,
        };
        let speed = speed_of(&model.spec, &workload, &breakdown, verdict.as_ref(), self.workload.ram_bandwidth);
        let mut report = EstimateJson::new(&report, &workload, &breakdown, verdict.as_ref(), speed.as_ref());
        if let Some(r) = self.ram.as_deref().map(parse_ram).transpose()? {
            report.ram = Some(RamJson::from(&RamVerdict::new(r, &breakdown)));
        }
        Ok(report.value())
    }

    /// Run the request the way `vramfit fit --json` runs its flags (the GPU is required), and
    /// return the same object: the verdict as asked, ranked plans, limits.
    ///
    /// # Errors
    /// As the CLI: no or a bad GPU, a bad workload or model.
    pub fn fit(&self) -> Result<Value> {
        let Some(gpu) = self.gpu.as_deref() else {
            return Err(Error::workload("--gpu", "fit needs GPUs: add one (T4, 2xA100-80GB, 24GiB)"));
        };
        let gpu = self.workload.gpu(gpu)?;
        let workload = self.workload.resolve(&self.model, Some(gpu.count))?;
        let model = self.model()?;
        if workload.runtime.is_serving_engine() {
            let f = crate::estimate::serving::plans::fit(&model.spec, &workload, &gpu)?;
            let m = ModelReport {
                name: &model.name,
                origin: &model.origin,
                notes: &[],
                bytes_transferred: self.bytes_transferred,
            };
            return Ok(serving_fit_value(&m, &gpu, &f));
        }
        let report = fit::fit(
            &model.spec,
            &workload,
            &gpu,
            fit::FitOptions { all: false, prefer_speed: false, ram_bandwidth: self.workload.ram_bandwidth },
        )?;
        let m = ModelReport {
            name: &model.name,
            origin: &model.origin,
            notes: &[],
            bytes_transferred: self.bytes_transferred,
        };
        Ok(fit_value(&m, &report))
    }

    /// The typed pieces of [`EstimateRequest::run_on`]: workload, breakdown and verdict.
    ///
    /// # Errors
    /// As [`EstimateRequest::run`].
    pub fn estimate_on(&self, model: &RequestedModel) -> Result<(Workload, Breakdown, Option<GpuVerdict>)> {
        // Same order as the CLI, so the same input fails with the same message.
        let gpu = self.workload.gpu_of(self.gpu.as_deref())?;
        let mut workload = self.workload.resolve(&self.model, gpu.as_ref().map(|g| g.count))?;
        let mut resolved = vec![];
        if let Some(g) = &gpu {
            (workload, resolved) = crate::fit::on_gpu(&model.spec, &workload, g)?;
        }
        let ram = self.ram.as_deref().map(parse_ram).transpose()?;
        let mut breakdown = crate::estimate(&model.spec, &workload)?;
        breakdown.notes.extend(resolved);
        breakdown.notes.extend(crate::ignored_flags::notes(&self.workload, &workload, gpu.as_ref().map(|g| g.count)));
        if gpu.is_some() {
            breakdown.notes.extend(gpu_not_judged_note(&workload, ram));
        }
        let verdict = gpu.filter(|_| gpu_judges(&workload)).map(|g| GpuVerdict::new(g, &breakdown));
        Ok((workload, breakdown, verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> EstimateRequest {
        serde_json::from_str(json).unwrap()
    }

    /// The page and Python take `--wired-limit-mb` as the CLI does: an Apple GPU's working set
    /// follows it; without a GPU, or on a GPU that is not Apple's, it is refused naming the flag.
    #[test]
    fn the_wired_limit_sets_an_apple_gpus_working_set() {
        let usable = |json: &str| {
            let v = req(json).run().unwrap();
            v["gpu"]["usable_bytes"].as_u64().unwrap_or_else(|| panic!("{v}"))
        };
        let plain = usable(r#"{"model":"llama-7b","gpu":"M2-Max-96GB"}"#);
        let raised = usable(r#"{"model":"llama-7b","gpu":"M2-Max-96GB","workload":{"wired-limit-mb":90112}}"#);
        assert_eq!((plain, raised), (72 << 30, 88 << 30));
        for bad in [
            r#"{"model":"llama-7b","workload":{"wired-limit-mb":90112}}"#,
            r#"{"model":"llama-7b","gpu":"T4","workload":{"wired-limit-mb":9000}}"#,
        ] {
            let e = req(bad).run().unwrap_err().to_string();
            assert!(e.starts_with("--wired-limit-mb"), "{e}");
        }
    }

    #[test]
    fn keys_are_flag_names() {
        let r: WorkloadRequest =
            serde_json::from_str(r#"{"task":"train","new":7,"lora-rank":16,"grad-ckpt":true}"#).unwrap();
        assert_eq!((r.task, r.new_tokens, r.lora_rank, r.grad_ckpt), (Task::Train, 7, 16, true));
        assert_eq!(r.batch, 1);
        assert!(serde_json::from_str::<WorkloadRequest>(r#"{"lora_rank":16}"#).is_err());
    }

    #[test]
    fn enumerated_values_are_read_by_their_tables() {
        // Any spelling the CLI accepts; written back as the canonical name.
        let r: WorkloadRequest = serde_json::from_str(
            r#"{"task":"fine-tune","runtime":"llama_cpp","optimizer":"adamw_torch_fused","precision":"bf16-true","fsdp":"FULL_SHARD"}"#,
        )
        .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            (&v["task"], &v["runtime"], &v["optimizer"], &v["precision"], &v["fsdp"]),
            (&json!("train"), &json!("llama.cpp"), &json!("adamw-fused"), &json!("pure-bf16"), &json!("full"))
        );
        // A bad value is the flag's own error.
        let e = parse_json::<WorkloadRequest>(r#"{"method":"lorax"}"#).unwrap_err();
        assert!(e.starts_with("--method: unknown method \"lorax\"; use full, lora"), "{e}");
        assert!(e.ends_with("or adapter-v2"), "{e}");
        assert!(parse_json::<WorkloadRequest>(r#"{"batch":"x"}"#).unwrap_err().starts_with("request: invalid type"));
        assert_eq!(serde_json::from_value::<WorkloadRequest>(v).unwrap(), r);
    }

    #[test]
    fn the_original_question() {
        let fp32 = req(r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp32"}}"#).run().unwrap();
        assert_eq!(fp32["fits"], json!(false));
        let fp16 = req(r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp16"}}"#).run().unwrap();
        assert_eq!(fp16["fits"], json!(true));
        assert_eq!(fp16["total_bytes"], fp16["levels"]["device"]);
        assert_eq!(fp16["origin"], json!("catalog"));
    }

    #[test]
    fn errors_name_the_flag() {
        let e = req(r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"bf16"}}"#).run().unwrap_err();
        assert!(e.to_string().starts_with("--dtype"), "{e}");
        let e = req(r#"{"model":"llama-7b","workload":{"batch":0}}"#).run().unwrap_err();
        assert!(e.to_string().starts_with("--batch"), "{e}");
        let e = req(r#"{"model":"llama-7b","gpu":"Nonsense"}"#).run().unwrap_err();
        assert!(e.to_string().starts_with("--gpu"), "{e}");
        assert!(req(r#"{"model":"no-such-model"}"#).run().is_err());
    }

    #[test]
    fn fit_ranks_plans_for_what_does_not_fit() {
        let v = req(r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp32"}}"#).fit().unwrap();
        assert_eq!(v["as_asked"]["fits"], json!(false));
        let plans = v["plans"].as_array().unwrap();
        assert!(!plans.is_empty());
        assert!(plans.iter().all(|p| p["fits"] == json!(true)));
        assert!(req(r#"{"model":"llama-7b"}"#).fit().unwrap_err().to_string().starts_with("--gpu"));
    }

    #[test]
    fn a_pasted_config_is_the_catalog_model() {
        let m = catalog::find_model("llama-7b").unwrap();
        let pasted = EstimateRequest {
            model: "my-llama".into(),
            config: Some(m.config_text().unwrap().to_string()),
            origin: None,
            bytes_transferred: 0,
            gpu: None,
            ram: None,
            workload: WorkloadRequest::default(),
        };
        let a = pasted.run().unwrap();
        let b = req(r#"{"model":"llama-7b"}"#).run().unwrap();
        assert_eq!(a["model"], json!("my-llama"));
        assert_eq!(a["origin"], json!("config.json"));
        assert_eq!(a["levels"], b["levels"]);
        assert!(EstimateRequest { config: Some("{".into()), ..pasted }.run().is_err());
    }
}
