//! Serving engines (vLLM, SGLang): they do not grow memory with the requests; at start-up they
//! load the weights, run one profiling forward pass, and hand whatever is left of a fraction of
//! the device to a paged KV cache. The questions people ask are the engine's: will it start,
//! how many tokens of KV cache will it get, how many requests of `max_model_len` fit at once.
//!
//! One file per engine ([`vllm`], [`sglang`]); what they share lives here: the settings
//! ([`ServingOptions`], the engines' own flag names), the device as the engine sees it, the
//! per-rank pieces (weights, the forward pass of the profile run, KV pages per layer), and
//! the report ([`ServingReport`]) printed next to the engine's own log lines.

pub mod hybrid;
pub mod mxfp4;
pub mod plans;
pub mod sglang;
pub mod vllm;

use super::breakdown::{Breakdown, Component, Level};
use super::component::ComponentKind;
use super::phase::Phase;
use super::profile::Engine;
use super::weights::{weight_bytes, QuantScope};
use super::workload::Workload;
use crate::catalog::GpuSpec;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::model::{KvLayout, ModelSpec, Positions};
use crate::quant::QuantConfig;
use serde::{Serialize, Serializer};

/// 2^30.
pub const GIB: u64 = 1 << 30;

/// A fraction in [0, 1], kept in millionths so that workloads stay comparable with `==`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Fraction(u32);

impl Fraction {
    /// From a float in (0, 1].
    ///
    /// # Errors
    /// Outside (0, 1] or not a number (the error names `flag`).
    pub fn new(x: f64, flag: &str) -> Result<Self> {
        if !(x > 0.0 && x <= 1.0) {
            return Err(Error::workload(flag, format!("must be in (0, 1], got {x}")));
        }
        Ok(Fraction((x * 1e6).round() as u32))
    }
    /// The value.
    #[must_use]
    pub fn get(self) -> f64 {
        f64::from(self.0) / 1e6
    }
    /// `bytes × fraction`, as the engines compute it (float product, truncated).
    #[must_use]
    pub fn of(self, bytes: u64) -> u64 {
        (bytes as f64 * self.get()) as u64
    }
}

impl Serialize for Fraction {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_f64(self.get())
    }
}

/// A serving engine's version as people type it: `0.6.4`, `0.6.4.post1`, `0.8.5`, `0.8.5-v0`
/// (the V0 engine, `VLLM_USE_V1=0`), `0.15.2rc1.dev93+g11a4c9d30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EngineVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch (0 when absent).
    pub patch: u32,
    /// vLLM's V0 engine asked for explicitly (`VLLM_USE_V1=0`, 0.8–0.10).
    pub v0: bool,
}

impl EngineVersion {
    /// A version.
    #[must_use]
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        EngineVersion { major, minor, patch, v0: false }
    }

    /// Parse a version string; `None` for `current`/`latest`.
    ///
    /// # Errors
    /// Not a version (the error names `--runtime-version`).
    pub fn parse(s: &str) -> Result<Option<Self>> {
        let t = s.trim().to_ascii_lowercase();
        if matches!(t.as_str(), "current" | "latest" | "") {
            return Ok(None);
        }
        let v0 = t.ends_with("v0") && (t.contains("-v0") || t.contains("+v0") || t.contains(" v0"));
        let core = t.trim_start_matches('v');
        let mut nums = core.split(['.', '-', '+', ' ']).map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let major = nums.next().flatten();
        let minor = nums.next().flatten();
        let patch = nums.next().flatten().unwrap_or(0);
        match (major, minor) {
            (Some(major), Some(minor)) => Ok(Some(EngineVersion { major, minor, patch, v0 })),
            _ => Err(Error::workload(
                "--runtime-version",
                format!("{s:?} is not an engine version like 0.6.4, 0.8.5-v0 or 0.19.0"),
            )),
        }
    }
}

impl std::fmt::Display for EngineVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}{}", self.major, self.minor, self.patch, if self.v0 { " (V0)" } else { "" })
    }
}

/// The device as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// `torch.cuda.mem_get_info()[1]`: the total the engine multiplies by its fraction.
    pub total_bytes: u64,
    /// Where the total comes from.
    pub total_source: String,
    /// Streaming multiprocessors (vLLM 0.19's Triton top-k/top-p keeps one row of the
    /// vocabulary per SM); `None` = unknown (128 assumed).
    pub sms: Option<u64>,
    /// Catalog name, when the GPU was named.
    pub name: Option<String>,
    /// The GPUs are joined by NVLink (the catalog lists a GPU-to-GPU link of at least
    /// [`NVLINK_GB_S`]): the engines' custom all-reduce and NCCL keep buffers on every GPU.
    #[serde(skip)]
    pub nvlink: bool,
    /// CUDA compute capability from the catalog (`(9, 0)` for an H100): which kernels the
    /// engine picks (MXFP4 experts, [`mxfp4::Backend`]).
    #[serde(skip)]
    pub compute_capability: Option<(u32, u32)>,
}

/// The GPU-to-GPU bandwidth from which the catalog's link counts as an NVLink fabric (A100,
/// H100, H200: 600–900 GB/s) rather than a two-card bridge (RTX 3090: 112.5 GB/s).
pub const NVLINK_GB_S: f64 = 300.0;

/// The catalog GPU's CUDA compute capability (`"9.0"` → `(9, 0)`).
fn capability_of(gpu: Option<&crate::catalog::Gpu>) -> Option<(u32, u32)> {
    let (major, minor) = gpu?.compute_capability.as_deref()?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Whether the catalog GPU `name` is joined to its peers by NVLink.
fn nvlink_of(gpu: Option<&crate::catalog::Gpu>) -> bool {
    gpu.and_then(|g| g.nvlink_gb_s).is_some_and(|b| b >= NVLINK_GB_S)
}

/// Totals that `torch.cuda.mem_get_info()` reported in public start-up logs, which are a little
/// below nvidia-smi's total (the catalog's usable bytes), and SM counts from the vendors'
/// datasheets. Other GPUs fall back to the catalog's usable bytes.
const DEVICE_TOTALS: &[(&str, Option<u64>, u64)] = &[
    // "total_gpu_memory (79.19GiB)" in the llm-d-planner v0.19.0 H100 logs (85,029,615,043 B).
    ("H100-SXM", Some(85_029_615_043), 132),
    ("H100-PCIe", Some(85_029_615_043), 114),
    // "total_gpu_memory=23.58GiB" (vLLM issue #10517, RTX 3090).
    ("RTX-3090", Some(25_318_832_210), 82),
    ("RTX-3090-Ti", None, 84),
    // "39.38 GiB" (A100-SXM4-40GB, vLLM issue logs quoted in vllm-memory-model.md §7).
    ("A100-40GB", Some(42_284_285_952), 108),
    ("A100-80GB", None, 108),
    ("A100-80GB-PCIe", None, 108),
    // "GPU 0 has a total capacty of 23.64 GiB" (a PyTorch OOM on an RTX 4090,
    // 3DTopia/Phidias-Diffusion#8): nvidia-smi's 24,564 MiB less what the driver keeps.
    ("RTX-4090", Some(25_383_256_719), 128),
    ("RTX-5090", None, 170),
    // "GPU 0 has a total capacity of 22.03 GiB" (torch's cudaMemGetInfo total in a PyTorch OOM
    // on an L4, ArcInstitute/evo2#190): nvidia-smi's 23,034 MiB less what the driver keeps.
    ("L4", Some(23_654_532_383), 58),
    ("L40S", None, 142),
    ("A10G", None, 80),
    ("T4", None, 40),
    ("H200", None, 132),
];

impl Device {
    /// The device of a `--gpu` spec.
    #[must_use]
    pub fn of(gpu: &GpuSpec) -> Self {
        let name = gpu.gpu.as_ref().map(|g| g.name.clone());
        let known = name.as_deref().and_then(|n| DEVICE_TOTALS.iter().find(|(k, _, _)| k.eq_ignore_ascii_case(n)));
        match known {
            Some((_, Some(total), sms)) => Device {
                total_bytes: *total,
                total_source: "torch.cuda.mem_get_info total seen in public vLLM logs on this GPU".into(),
                sms: Some(*sms),
                name,
                nvlink: nvlink_of(gpu.gpu.as_ref()),
                compute_capability: capability_of(gpu.gpu.as_ref()),
            },
            _ => Device {
                total_bytes: gpu.usable_bytes,
                total_source: "the GPU's usable bytes (nvidia-smi total; torch reports slightly less)".into(),
                sms: known.map(|k| k.2),
                name,
                nvlink: nvlink_of(gpu.gpu.as_ref()),
                compute_capability: capability_of(gpu.gpu.as_ref()),
            },
        }
    }

    /// A device of `total_bytes` (a log's printed total).
    #[must_use]
    pub fn of_total(total_bytes: u64, name: Option<&str>) -> Self {
        let sms = name.and_then(|n| {
            let n = n.to_ascii_lowercase();
            DEVICE_TOTALS.iter().find(|(k, _, _)| n.starts_with(&k.to_ascii_lowercase())).map(|k| k.2)
        });
        let gpu = name.and_then(|n| crate::catalog::GpuSpec::parse(n).ok());
        Device {
            total_bytes,
            total_source: "as the engine's log printed it".into(),
            sms,
            nvlink: gpu.as_ref().is_some_and(|g| nvlink_of(g.gpu.as_ref())),
            compute_capability: gpu.as_ref().and_then(|g| capability_of(g.gpu.as_ref())),
            name: name.map(str::to_string),
        }
    }
}

/// Settings only serving engines have, with their own flag names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServingOptions {
    /// `--runtime-version` as an engine version; `None` = the current profile.
    pub version: Option<EngineVersion>,
    /// `--gpu-memory-utilization` (vLLM) / `--mem-fraction-static` (SGLang).
    pub gpu_memory_utilization: Option<Fraction>,
    /// `--max-model-len` / `--context-length`; `None` = the model's `max_position_embeddings`.
    pub max_model_len: Option<u64>,
    /// `--max-num-seqs` / `--max-running-requests`.
    pub max_num_seqs: Option<u64>,
    /// `--max-num-batched-tokens` / `--chunked-prefill-size`.
    pub max_num_batched_tokens: Option<u64>,
    /// `--enforce-eager`: no CUDA graphs.
    pub enforce_eager: bool,
    /// `--block-size` (tokens per KV page).
    pub block_size: Option<u64>,
    /// `--quantization` as typed (awq, gptq, fp8, bitsandbytes, compressed-tensors, mxfp4...).
    pub quantization: Option<String>,
    /// `--kv-cache-memory`: KV cache bytes, skipping the profile (vLLM 0.11+).
    pub kv_cache_memory: Option<u64>,
    /// `--cpu-offload-gb` as bytes: weights kept in CPU memory and streamed in.
    pub cpu_offload_bytes: Option<u64>,
    /// `--other-processes-memory`: bytes other processes (a desktop, another engine) hold on
    /// each GPU when the engine starts; counted where the release counts them
    /// ([`vllm::Accounting`], [`sglang`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_processes_bytes: Option<u64>,
    /// The device as the engine sees it (set from `--gpu`).
    pub device: Option<Device>,
}

impl ServingOptions {
    /// Nothing set (workloads of other runtimes serialize without it).
    #[must_use]
    pub fn is_unset(&self) -> bool {
        *self == ServingOptions::default()
    }

    /// Whether any engine-only setting was given (for refusing them on other runtimes).
    #[must_use]
    pub fn any_engine_flag(&self) -> Option<&'static str> {
        if self.gpu_memory_utilization.is_some() {
            Some("--gpu-memory-utilization")
        } else if self.max_model_len.is_some() {
            Some("--max-model-len")
        } else if self.max_num_seqs.is_some() {
            Some("--max-num-seqs")
        } else if self.max_num_batched_tokens.is_some() {
            Some("--max-num-batched-tokens")
        } else if self.enforce_eager {
            Some("--enforce-eager")
        } else if self.block_size.is_some() {
            Some("--block-size")
        } else if self.quantization.is_some() {
            Some("--quantization")
        } else if self.kv_cache_memory.is_some() {
            Some("--kv-cache-memory")
        } else if self.cpu_offload_bytes.is_some() {
            Some("--cpu-offload-gb")
        } else if self.other_processes_bytes.is_some() {
            Some("--other-processes-memory")
        } else {
            None
        }
    }
}

/// What one GPU of one pipeline stage holds (tensor-parallel ranks of a stage are alike).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankFigures {
    /// Pipeline stage.
    pub stage: u64,
    /// Decoder layers on this stage.
    pub layers: u64,
    /// "Model loading took X GiB".
    pub weights_bytes: u64,
    /// "PyTorch activation peak memory takes X GiB" / "torch peak memory increase".
    pub activation_peak_bytes: u64,
    /// "non_torch_memory takes X GiB".
    pub non_torch_bytes: u64,
    /// "Available KV cache memory" (negative when the engine refuses: saturated at 0 here,
    /// the deficit is in `kv_deficit_bytes`).
    pub kv_cache_bytes: u64,
    /// How far below zero the KV budget fell.
    pub kv_deficit_bytes: u64,
    /// KV bytes one token takes on this rank, over all its layers.
    pub kv_bytes_per_token: u64,
}

/// The start-up figures of a serving engine, as its log prints them, per GPU of the
/// most-loaded rank (the one whose blocks set everyone's count).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingReport {
    /// `vllm` / `sglang`.
    pub engine: String,
    /// The release whose accounting was used, and which accounting it is.
    pub version: String,
    /// Weights on the GPU.
    pub weights_bytes: u64,
    /// Peak of the profile run above the weights.
    pub activation_peak_bytes: u64,
    /// Memory outside PyTorch counted against the budget.
    pub non_torch_bytes: u64,
    /// CUDA graph memory (captured after the KV cache is allocated; counted before it only
    /// where `cuda_graph_counted`).
    pub cuda_graph_bytes: u64,
    /// Whether this release subtracts the CUDA graphs before sizing the cache.
    pub cuda_graph_counted: bool,
    /// The KV budget (`None` without a GPU).
    pub kv_cache_bytes: Option<u64>,
    /// "GPU KV cache size: N tokens" / "# GPU blocks × block_size".
    pub kv_tokens: Option<u64>,
    /// "# GPU blocks" / `num_blocks`.
    pub gpu_blocks: Option<u64>,
    /// Tokens per page.
    pub block_size: u64,
    /// KV bytes one token takes on the most-loaded rank.
    pub kv_bytes_per_token: u64,
    /// The context length served.
    pub max_model_len: u64,
    /// Requests scheduled together.
    pub max_num_seqs: u64,
    /// Tokens per scheduler step (and per profile run).
    pub max_num_batched_tokens: u64,
    /// The fraction of the device the engine takes.
    pub gpu_memory_utilization: f64,
    /// "Maximum concurrency for L tokens per request: X".
    pub max_concurrency: Option<f64>,
    /// Whether the engine starts (`None` without a GPU).
    pub starts: Option<bool>,
    /// The engine's own error text when it refuses.
    pub error: Option<String>,
    /// The device total the fraction applies to.
    pub device_total_bytes: Option<u64>,
    /// Memory the engine does not take (1 − utilization), minus the CUDA graphs where they
    /// are captured there.
    pub free_bytes: Option<i64>,
    /// The largest `max_model_len` that starts with the other settings as given.
    pub largest_max_model_len: Option<u64>,
    /// The smallest `gpu_memory_utilization` (in hundredths) that starts, when the asked one
    /// does not, or `None` when none does.
    pub gpu_memory_utilization_to_start: Option<f64>,
    /// The profile run's peak with its numbers put in.
    pub activation_formula: String,
    /// The weights with their numbers put in.
    pub weights_formula: String,
    /// Non-torch memory: what it is and where the figure comes from.
    pub non_torch_formula: String,
    /// The CUDA graph pool's formula.
    pub cuda_graph_formula: String,
    /// Every pipeline stage.
    pub ranks: Vec<RankFigures>,
}

impl ServingReport {
    /// The verdict in the engine's language: "starts; 31,232 KV tokens; 1.56 requests of
    /// 20,000 tokens at once", or the engine's own error; `None` without a device.
    #[must_use]
    pub fn verdict(&self) -> Option<String> {
        use super::breakdown::thousands;
        let starts = self.starts?;
        if !starts {
            return Some(format!("does not start: {}", self.error.as_deref().unwrap_or("no memory for the KV cache")));
        }
        Some(format!(
            "starts; {} KV tokens; {:.2} requests of {} tokens at once",
            thousands(self.kv_tokens.unwrap_or(0)),
            self.max_concurrency.unwrap_or(0.0),
            thousands(self.max_model_len)
        ))
    }

    /// What would make a refusal start, or how far the settings can grow.
    #[must_use]
    pub fn advice(&self) -> Vec<String> {
        use super::breakdown::thousands;
        let mut out = Vec::new();
        if let Some(l) = self.largest_max_model_len {
            if l != self.max_model_len || self.starts == Some(true) {
                out.push(format!("largest --max-model-len that starts: {}", thousands(l)));
            }
        }
        if let Some(u) = self.gpu_memory_utilization_to_start {
            if self.error.as_deref().is_some_and(|e| e.starts_with("Free memory on device")) {
                // vLLM 0.9.1+ refuses a utilization above the free memory's share.
                out.push(format!(
                    "starts with --gpu-memory-utilization {u:.2} or more, up to the free memory's share of the device"
                ));
            } else {
                out.push(format!("starts with --gpu-memory-utilization {u:.2} or more"));
            }
        }
        if self.starts == Some(false)
            && self.largest_max_model_len.is_none()
            && self.gpu_memory_utilization_to_start.is_none()
        {
            out.push("no max_model_len or utilization starts: use more GPUs (--tensor-parallel-size), quantized weights or a larger GPU".into());
        }
        out
    }
}

// `f64` fields are finite by construction.
impl Eq for ServingReport {}
impl Eq for RankFigures {}

/// A serving engine as its runtime profile names it: its start-up estimator, the source of
/// its accounting, and its own spelling of the flags vramfit's plans suggest.
pub struct ServingEngine {
    /// `vllm` / `sglang`.
    pub name: &'static str,
    /// The start-up report of this engine.
    pub report: fn(&ModelSpec, &Workload) -> Result<ServingReport>,
    /// Where the accounting comes from (the components' source).
    pub source: &'static str,
    /// The engine's flag for the context length served.
    pub max_model_len_flag: &'static str,
    /// The engine's flag for tensor parallelism.
    pub tensor_parallel_flag: &'static str,
    /// Whether `--max-num-seqs` and `--enforce-eager` change the KV budget (vLLM profiles the
    /// sampler over `max_num_seqs` rows and, from 0.20, budgets CUDA graphs; SGLang's pool
    /// is what `mem_fraction_static` leaves, whatever they are).
    pub seqs_and_graphs_in_budget: bool,
    /// What the engine itself holds on a GPU (CUDA context, distributed init) when it measures
    /// the free memory at start-up, by TP, PP and NVLink: the free memory a log prints there,
    /// taken from the device total, leaves what other processes held.
    pub own_memory_at_start: fn(u64, u64, bool) -> u64,
}

impl ServingEngine {
    /// Other processes' memory on a GPU whose log printed `free` bytes at start-up: the total
    /// less the engine's own memory and the free memory (0 when the engine's own is smaller
    /// than modelled).
    #[must_use]
    pub fn other_processes_from_free(&self, device: &Device, free: u64, tp: u64, pp: u64) -> u64 {
        device.total_bytes.saturating_sub((self.own_memory_at_start)(tp, pp, device.nvlink)).saturating_sub(free)
    }
}

impl std::fmt::Debug for ServingEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingEngine").field("name", &self.name).finish_non_exhaustive()
    }
}

// Engines are told apart by name (function pointers do not compare reliably).
impl PartialEq for ServingEngine {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for ServingEngine {}

/// The serving engine of the workload's runtime profile.
///
/// # Errors
/// The runtime is not a serving engine.
pub fn engine_of(w: &Workload) -> Result<&'static ServingEngine> {
    match w.profile().engine {
        Engine::Serving(e) => Ok(e),
        _ => Err(Error::workload("--runtime", format!("{} is not a serving engine", w.runtime.name()))),
    }
}

/// Estimate a serving engine's start-up.
///
/// # Errors
/// Settings the engine would reject before loading, or a model it cannot serve.
pub fn estimate_serving(spec: &ModelSpec, w: &Workload) -> Result<Breakdown> {
    if !spec.is_decoder {
        return Err(Error::workload(
            "--runtime",
            format!("{} is an encoder model; serving engines run decoders", spec.model_type),
        ));
    }
    let engine = engine_of(w)?;
    hybrid::check(spec, w.runtime.name())?;
    let report = (engine.report)(spec, w)?;
    Ok(breakdown(&report, engine.source))
}

/// The engine's start-up report of `w` (its KV pool, scheduler limits and verdict).
///
/// # Errors
/// Settings the engine would reject before loading.
pub fn report(spec: &ModelSpec, w: &Workload) -> Result<ServingReport> {
    let engine = engine_of(w)?;
    hybrid::check(spec, w.runtime.name())?;
    (engine.report)(spec, w)
}

/// The report as components: what the engine holds once it has started.
fn breakdown(r: &ServingReport, src: &'static str) -> Breakdown {
    let mut components = vec![
        Component::new(ComponentKind::Weights, r.weights_bytes, r.weights_formula.clone(), src),
        Component::new(
            ComponentKind::ActivationPeak,
            r.activation_peak_bytes,
            format!("{}; freed before the KV cache is allocated, but subtracted from the budget", r.activation_formula),
            src,
        ),
        Component::new(ComponentKind::NonTorch, r.non_torch_bytes, r.non_torch_formula.clone(), src).at(Level::Device),
    ];
    let mut notes = Vec::new();
    if let (Some(kv), Some(_)) = (r.kv_cache_bytes, r.device_total_bytes) {
        components.push(Component::new(
            ComponentKind::KvCache,
            kv,
            format!(
                "{} blocks × {} tokens × {} B/token (what is left of {:.2} × the device)",
                r.gpu_blocks.unwrap_or(0),
                r.block_size,
                r.kv_bytes_per_token,
                r.gpu_memory_utilization
            ),
            src,
        ));
    } else {
        components.push(Component::new(
            ComponentKind::KvCache,
            r.kv_bytes_per_token.saturating_mul(r.max_model_len),
            format!(
                "the least the engine needs to start: one request of max_model_len = {} tokens × {} B/token (the engine takes {:.2} × the device and gives the rest to the cache: add --gpu)",
                r.max_model_len, r.kv_bytes_per_token, r.gpu_memory_utilization
            ),
            src,
        ));
        notes.push("no --gpu: the KV cache shown is the minimum for one max_model_len request; with a GPU the engine fills its whole budget".into());
    }
    components.push(
        Component::new(
            ComponentKind::CudaGraphs,
            r.cuda_graph_bytes,
            format!(
                "{}; {}",
                r.cuda_graph_formula,
                if r.cuda_graph_counted {
                    "estimated and subtracted before the KV cache is sized"
                } else {
                    "captured after the KV cache is allocated, from the memory the engine does not budget"
                }
            ),
            src,
        )
        .at(Level::Device),
    );
    if let Some(e) = &r.error {
        notes.push(format!("the engine refuses to start: {e}"));
    }
    let mut b = Breakdown::from_components(components, Phase::Serving, notes);
    b.serving = Some(r.clone());
    b
}

// ---- shared pieces ----------------------------------------------------------------------

/// The dtype the engine runs in (`--dtype auto` = the checkpoint's, fp32 checkpoints served in
/// bf16 as vLLM's `_get_and_verify_dtype` does, fp16 when the config names none).
#[must_use]
pub fn serving_dtype(spec: &ModelSpec, w: &Workload) -> DType {
    match w.dtype.or(spec.torch_dtype) {
        Some(DType::Fp32) if w.dtype.is_none() => DType::Bf16,
        Some(DType::Fp8 | DType::Int8) | None => DType::Bf16,
        Some(d) => d,
    }
}

/// The weight quantization the engine applies: the checkpoint's own, else `--quantization`
/// (fp8 quantizes a 16-bit checkpoint at load time; awq/gptq/bitsandbytes need a checkpoint
/// that says so, but are accepted on a dense config as their 4-bit layout).
///
/// # Errors
/// A method vramfit does not model for a checkpoint that does not describe it.
pub fn weight_quant(spec: &ModelSpec, w: &Workload) -> Result<Option<QuantConfig>> {
    if let Some(q) = &spec.quantization {
        return Ok(Some(q.clone()));
    }
    if let Some(q) = &w.quant {
        return Ok(Some(q.clone()));
    }
    let Some(m) = w.serving.quantization.as_deref() else { return Ok(None) };
    let name = match m.to_ascii_lowercase().as_str() {
        "fp8" | "fbgemm_fp8" | "ptpc_fp8" => "fp8",
        "awq" | "awq_marlin" => "awq-4bit",
        "gptq" | "gptq_marlin" => "gptq-4bit",
        "bitsandbytes" => "nf4",
        "none" | "auto" => return Ok(None),
        other => {
            return Err(Error::workload(
                "--quantization",
                format!("{other} is read from the checkpoint's quantization_config, which this config does not have; use fp8, awq, gptq or bitsandbytes"),
            ))
        }
    };
    QuantConfig::parse(name, None).map(Some)
}

/// Decoder layers of each pipeline stage, as vLLM's `get_pp_indices` splits them: equal
/// parts, the remainder going to the stages before the last.
#[must_use]
pub fn stage_layers(layers: u64, pp: u64) -> Vec<(u64, u64)> {
    let pp = pp.max(1);
    let mut parts = vec![layers / pp; pp as usize];
    let rem = (layers % pp) as usize;
    for i in 2..rem + 2 {
        let n = parts.len();
        if i <= n {
            parts[n - i] += 1;
        } else {
            parts[0] += 1;
        }
    }
    let mut start = 0;
    parts
        .into_iter()
        .map(|n| {
            let r = (start, start + n);
            start += n;
            r
        })
        .collect()
}

/// Weight bytes one GPU of a stage holds: the stage's layers (the first stage the embedding,
/// the last the final norm and the head), linear layers split over `tp`, norms replicated;
/// plus the rotary cos/sin cache (`max_position × rotary_dim` in the model dtype, one per
/// distinct rope config: vLLM `model_executor/layers/rotary_embedding` `_compute_cos_sin_cache`).
#[must_use]
pub fn rank_weights(
    spec: &ModelSpec,
    dtype: DType,
    quant: Option<&QuantConfig>,
    stage: (u64, u64),
    pp: u64,
    tp: u64,
) -> u64 {
    let (start, end) = stage;
    let first = start == 0;
    let last = end >= spec.num_layers();
    let mut sub = spec.clone();
    sub.layers = spec.layers[start as usize..end as usize].to_vec();
    if !first {
        sub.embeddings.clear();
        sub.embedding_linears.clear();
    }
    if !last {
        sub.lm_head = None;
        sub.final_norms.clear();
    } else if pp > 1 && !first && spec.tied_embeddings {
        // The last stage holds the tied head as its own copy of the embedding.
        sub.tied_embeddings = false;
    }
    if pp > 1 && !first && sub.lm_head.is_none() {
        sub.extra.clear();
    }
    let total = weight_bytes(&sub, dtype, quant, QuantScope { head: false }).total;
    let norms: u64 = sub
        .layers
        .iter()
        .flat_map(|l| l.norms.iter())
        .chain(sub.final_norms.iter())
        .map(|n| n.numel().saturating_mul(dtype.bytes()))
        .sum();
    let sharded = total.saturating_sub(norms) / tp.max(1);
    sharded.saturating_add(norms).saturating_add(rope_cache(spec, dtype))
}

/// The weights formula of a stage with `layers` layers, numbers put in.
#[must_use]
pub fn weights_formula(
    spec: &ModelSpec,
    dtype: DType,
    quant: Option<&QuantConfig>,
    tp: u64,
    pp: u64,
    layers: u64,
) -> String {
    format!(
        "{layers} of {} layers{} in {}{}, linear layers and embeddings / TP {tp}, norms replicated, + rotary cos/sin cache {} × {} B",
        spec.num_layers(),
        if pp > 1 { format!(" (pipeline stage of {pp})") } else { String::new() },
        dtype,
        quant.map_or(String::new(), |q| format!(", linears as {}", q.label())),
        spec.max_positions.unwrap_or(0),
        match spec.positions {
            Positions::Rotary { dims } => dims * dtype.bytes(),
            _ => 0,
        }
    )
}

/// vLLM's rotary cos/sin cache: `[max_position, rotary_dim]` in the model dtype.
#[must_use]
pub fn rope_cache(spec: &ModelSpec, dtype: DType) -> u64 {
    match spec.positions {
        Positions::Rotary { dims } => {
            spec.max_positions.unwrap_or(0).saturating_mul(dims).saturating_mul(dtype.bytes())
        }
        _ => 0,
    }
}

/// The working set of one forward pass over `tokens` tokens on a rank: the hidden states
/// (input, residual, normed: 3 × hidden) plus the MLP's: a dense MLP's gate/up output and its
/// activated half (3 × intermediate / tp); a mixture-of-experts layer's `fused_moe` caches,
/// one buffer of `top_k × max(2 × moe_intermediate / tp, hidden)` shared by the gate/up and
/// down outputs plus `top_k × moe_intermediate / tp` for the activated half (vLLM
/// `model_executor/layers/fused_moe/fused_moe.py`, 0.8.5:1295-1302, 0.19.0:1725-1737), and a
/// shared expert's dense MLP. In the compute dtype. The attention projections are narrower
/// than the MLP's in every family modelled, so the MLP sets the peak.
#[must_use]
pub fn forward_peak(spec: &ModelSpec, tokens: u64, dtype: DType, tp: u64) -> u64 {
    let tp = tp.max(1);
    let h = spec.hidden_size;
    let mlp = spec
        .layers
        .iter()
        .map(|l| {
            if l.mlp.is_moe() {
                let i = l.mlp.intermediate / tp;
                let experts = l.mlp.top_k.max(1).saturating_mul((2 * i).max(h) + i);
                experts.saturating_add(3 * l.mlp.shared_intermediate / tp)
            } else {
                3 * l.mlp.intermediate / tp
            }
        })
        .max()
        .unwrap_or(0);
    let per_token = (3 * h).saturating_add(mlp);
    tokens.saturating_mul(per_token).saturating_mul(dtype.bytes())
}

/// How one attention layer's KV pages grow with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// Every token.
    Full,
    /// A sliding window of this many tokens.
    Sliding(u64),
}

/// KV bytes per token of one layer on one TP rank: K and V of `max(1, kv_heads / tp)` heads
/// (heads are replicated when TP exceeds them), or the MLA latent (`kv_lora_rank + rope`,
/// replicated on every rank), in `kv_bytes` per element.
#[must_use]
pub fn layer_token_bytes(a: &crate::model::Attention, tp: u64, kv_bytes: u64) -> u64 {
    match a.kv {
        KvLayout::Latent { kv_lora_rank, rope_dim, .. } => (kv_lora_rank + rope_dim) * kv_bytes,
        KvLayout::Heads { kv_heads, k_dim, v_dim } => (kv_heads / tp.max(1)).max(1) * (k_dim + v_dim) * kv_bytes,
    }
}

/// Binary search for the largest `x` in `[lo, hi]` with `ok(x)`, assuming `ok` is monotone
/// (true up to some point); `None` when even `lo` fails.
pub fn largest_true(lo: u64, hi: u64, mut ok: impl FnMut(u64) -> bool) -> Option<u64> {
    if lo > hi || !ok(lo) {
        return None;
    }
    let (mut good, mut bad) = (lo, hi.saturating_add(1));
    if ok(hi) {
        return Some(hi);
    }
    bad = bad.min(hi);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if ok(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Some(good)
}

/// `a / b` rounded up.
#[must_use]
pub fn cdiv(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        a.div_ceil(b)
    }
}

/// GiB with two decimals, as the engines print them.
#[must_use]
pub fn gib(b: u64) -> String {
    format!("{:.2}", b as f64 / GIB as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_typed() {
        assert_eq!(EngineVersion::parse("0.6.4.post1").unwrap(), Some(EngineVersion::new(0, 6, 4)));
        assert_eq!(EngineVersion::parse("v0.19.0").unwrap(), Some(EngineVersion::new(0, 19, 0)));
        let v0 = EngineVersion::parse("0.8.5-v0").unwrap().unwrap();
        assert!(v0.v0 && v0.minor == 8 && v0.patch == 5);
        assert_eq!(EngineVersion::parse("0.15.2rc1.dev93+g11a4c9d30").unwrap(), Some(EngineVersion::new(0, 15, 2)));
        assert_eq!(EngineVersion::parse("current").unwrap(), None);
        assert!(EngineVersion::parse("new").unwrap_err().to_string().starts_with("--runtime-version"));
    }

    #[test]
    fn pipeline_stages_split_like_get_pp_indices() {
        assert_eq!(stage_layers(32, 2), vec![(0, 16), (16, 32)]);
        // 27 layers over 2 stages: the remainder goes to the stage before the last.
        assert_eq!(stage_layers(27, 2), vec![(0, 14), (14, 27)]);
        assert_eq!(stage_layers(10, 4), vec![(0, 2), (2, 5), (5, 8), (8, 10)]);
    }

    #[test]
    fn fractions_and_search() {
        assert!(Fraction::new(0.0, "--gpu-memory-utilization").is_err());
        assert!(Fraction::new(1.5, "--gpu-memory-utilization").is_err());
        assert_eq!(Fraction::new(0.9, "x").unwrap().of(1000), 900);
        assert_eq!(largest_true(1, 100, |x| x <= 37), Some(37));
        assert_eq!(largest_true(1, 100, |_| true), Some(100));
        assert_eq!(largest_true(1, 100, |_| false), None);
    }
}
