//! Serving-engine cases (`task: serve`): the `engine` object of `shared/validation/README.md`
//! ("Serving engines") and the workload it describes. A case measures one printed figure
//! (weights, KV tokens, concurrency, a llama.cpp buffer ...), scored on its own.

use super::case::Case;
use crate::dtype::DType;
use crate::estimate::parallel::Parallel;
use crate::estimate::serving::{Device, EngineVersion, Fraction, ServingOptions};
use crate::estimate::{Runtime, RuntimeVersion, Task, Workload};
use crate::quant::QuantConfig;
use serde::{Deserialize, Serialize};

/// `engine` of a serving case (every field may be null).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CaseEngine {
    /// As printed (`0.6.4`, a build number).
    #[serde(default)]
    pub version: Option<String>,
    /// How the version was told when not printed (`0.6.4.x (...)`).
    #[serde(default)]
    pub version_inferred: Option<String>,
    /// vLLM.
    #[serde(default)]
    pub gpu_memory_utilization: Option<f64>,
    /// SGLang.
    #[serde(default)]
    pub mem_fraction_static: Option<f64>,
    /// Context length.
    #[serde(default)]
    pub max_model_len: Option<u64>,
    /// Scheduled requests.
    #[serde(default)]
    pub max_num_seqs: Option<u64>,
    /// Tokens per step.
    #[serde(default)]
    pub max_num_batched_tokens: Option<u64>,
    /// No CUDA graphs.
    #[serde(default)]
    pub enforce_eager: Option<bool>,
    /// Tokens per page.
    #[serde(default)]
    pub block_size: Option<u64>,
    /// `auto`, `fp8`...
    #[serde(default)]
    pub kv_cache_dtype: Option<String>,
    /// Quantization method.
    #[serde(default)]
    pub quantization: Option<String>,
    /// TP.
    #[serde(default)]
    pub tensor_parallel_size: Option<u64>,
    /// PP.
    #[serde(default)]
    pub pipeline_parallel_size: Option<u64>,
    /// The device total the log printed.
    #[serde(default)]
    pub gpu_total_bytes: Option<u64>,
    /// The free memory the log printed at start-up, before the weights (SGLang "Load weight
    /// begin. avail mem=X GB"): what the total and the engine's own memory leave is other
    /// processes' memory.
    #[serde(default)]
    pub gpu_free_bytes: Option<u64>,
    /// llama.cpp: context.
    #[serde(default)]
    pub n_ctx: Option<u64>,
    /// llama.cpp: micro-batch.
    #[serde(default)]
    pub n_ubatch: Option<u64>,
    /// llama.cpp: logical batch.
    #[serde(default)]
    pub n_batch: Option<u64>,
    /// llama.cpp: flash attention.
    #[serde(default)]
    pub flash_attn: Option<bool>,
    /// llama.cpp: K cache type.
    #[serde(default)]
    pub type_k: Option<String>,
    /// llama.cpp: V cache type.
    #[serde(default)]
    pub type_v: Option<String>,
    /// llama.cpp: `-ngl` as passed.
    #[serde(default)]
    pub n_gpu_layers: Option<i64>,
    /// llama.cpp: sequences.
    #[serde(default)]
    pub n_seq_max: Option<u64>,
    /// llama.cpp: the GGUF file type (`Q4_K_M`).
    #[serde(default)]
    pub file_type: Option<String>,
    /// llama.cpp: row split etc.
    #[serde(default)]
    pub split_mode: Option<String>,
    /// llama.cpp: tensor split.
    #[serde(default)]
    pub tensor_split: Option<serde_json::Value>,
}

impl CaseEngine {
    /// The engine version: the printed one, else the first version in `version_inferred`.
    #[must_use]
    pub fn version(&self) -> Option<EngineVersion> {
        if let Some(v) = self.version.as_deref().and_then(|v| EngineVersion::parse(v).ok().flatten()) {
            return Some(v);
        }
        let inferred = self.version_inferred.as_deref()?;
        let start = inferred.find(|c: char| c.is_ascii_digit())?;
        let token: String = inferred[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let mut v = EngineVersion::parse(token.trim_end_matches('.')).ok().flatten()?;
        v.v0 = inferred.contains(" V0") && v.minor >= 8;
        Some(v)
    }
}

/// The workload of a serving case.
///
/// # Errors
/// Why the case cannot be estimated (as text).
pub(super) fn serving_workload(case: &Case) -> std::result::Result<Workload, String> {
    let e = case.engine.clone().unwrap_or_default();
    let runtime = match case.runtime.as_str() {
        "vllm" => Runtime::Vllm,
        "sglang" => Runtime::Sglang,
        "llama.cpp" | "ollama" => return llamacpp_workload(case, &e),
        other => return Err(format!("serving runtime {other:?} is not modelled")),
    };
    if case.measured.metric.starts_with("ollama_") {
        return Err("Ollama's own predicted figures are not modelled".into());
    }
    let tp = e.tensor_parallel_size.unwrap_or(1).max(1);
    let pp = e.pipeline_parallel_size.unwrap_or(1).max(1);
    let gpus = case.parallel.as_ref().and_then(|p| p.gpus).unwrap_or(1);
    if gpus > tp * pp && e.tensor_parallel_size.is_none() && e.pipeline_parallel_size.is_none() {
        return Err(format!("how the {gpus} GPUs split into tensor and pipeline parallel is not printed"));
    }
    let gpu_name = case.gpu.as_deref();
    if gpu_name.is_some_and(|g| g.contains('+')) {
        return Err("mixed GPUs per pipeline stage are not modelled".into());
    }
    let device = match (e.gpu_total_bytes, gpu_name) {
        (Some(t), name) => Some(Device::of_total(t, name)),
        (None, Some(name)) => crate::catalog::GpuSpec::parse(name).ok().map(|g| Device::of(&g)),
        (None, None) => None,
    };
    if device.is_none()
        && !case.measured.metric.ends_with("_weights")
        && !case.measured.metric.ends_with("activation_peak")
    {
        return Err(format!("GPU {:?} is not in the catalog and the log printed no total", case.gpu));
    }
    // The case keeps each engine's fraction under the engine's own flag name.
    let fraction = match crate::estimate::profile::row(runtime).memory_fraction_flag {
        "--mem-fraction-static" => e.mem_fraction_static.or(e.gpu_memory_utilization),
        _ => e.gpu_memory_utilization,
    };
    let dtype = DType::parse(&case.weights.dtype).map_err(|e| e.to_string())?;
    let kv_dtype = match e.kv_cache_dtype.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") => None,
        Some(k) if k.starts_with("fp8") => Some(DType::Fp8),
        Some(k) => Some(DType::parse(k).map_err(|e| e.to_string())?),
    };
    let quantization = match e.quantization.as_deref() {
        Some("mxfp4" | "modelopt" | "compressed-tensors") => None, // read from the checkpoint
        q => q.map(str::to_string),
    };
    let serving = ServingOptions {
        version: e.version(),
        gpu_memory_utilization: fraction
            .map(|f| Fraction::new(f, "gpu_memory_utilization"))
            .transpose()
            .map_err(|e| e.to_string())?,
        max_model_len: e.max_model_len,
        max_num_seqs: e.max_num_seqs,
        max_num_batched_tokens: e.max_num_batched_tokens,
        enforce_eager: e.enforce_eager.unwrap_or(false),
        block_size: e.block_size,
        quantization,
        kv_cache_memory: None,
        cpu_offload_bytes: None,
        other_processes_bytes: None,
        device,
    };
    let mut w = Workload {
        task: Task::Serve,
        dtype: Some(dtype),
        kv_dtype,
        runtime,
        parallel: Parallel { gpus_per_node: tp * pp, tp, pp, ..Parallel::default() },
        serving,
        ..Workload::default()
    };
    // The free memory the log printed at start-up states what other processes held.
    if let (Some(free), Some(device)) = (e.gpu_free_bytes, w.serving.device.as_ref()) {
        let engine = crate::estimate::serving::engine_of(&w).map_err(|e| e.to_string())?;
        w.serving.other_processes_bytes =
            Some(engine.other_processes_from_free(device, free, tp, pp)).filter(|&b| b > 0);
    }
    Ok(w)
}

/// A llama.cpp / Ollama case as a llama.cpp workload: the GGUF file type as the weights'
/// scheme, `n_ctx` as the preallocated cache, `-ngl` and the cache types as given.
fn llamacpp_workload(case: &Case, e: &CaseEngine) -> std::result::Result<Workload, String> {
    use crate::estimate::profile::{llamacpp as build, ollama};
    let quant = match e.file_type.as_deref() {
        Some(ft) => Some(QuantConfig::parse(&ft.to_ascii_lowercase(), None).map_err(|e| format!("file type: {e}"))?),
        // weights.dtype is nominal for a GGUF file (the format's README): without the file
        // type the weights' bytes are unknown, and scoring them as the nominal dtype would be
        // a guess. The buffers that do not hold weights (KV, compute) are still scored.
        None if case.measured.metric.ends_with("_model_buffer") => {
            return Err(
                "the GGUF file type is not printed (engine.file_type null): the weights' bytes are unknown".into()
            )
        }
        None => None,
    };
    let n_ctx = e.n_ctx.ok_or("n_ctx not printed")?;
    let n_seq = e.n_seq_max.unwrap_or(1).max(1);
    let told = e.version.as_deref().into_iter().chain(e.version_inferred.as_deref()).collect::<Vec<_>>().join(" ");
    // An Ollama runner is llama.cpp at the build its release vendors; its own printed
    // estimate is Ollama's (num_ctx per sequence).
    let ollama_version = (case.runtime == "ollama").then(|| {
        let t = told.to_ascii_lowercase();
        let at = t.find("0.").unwrap_or(t.len());
        let v: String = t[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        RuntimeVersion::parse(v.trim_end_matches('.')).ok()
    });
    let (runtime, runtime_version, kv_prealloc) = match ollama_version {
        Some(v) if case.measured.metric.starts_with("ollama_") => (Runtime::Ollama, v, n_ctx / n_seq),
        Some(v) => (Runtime::LlamaCpp, v.map(|v| RuntimeVersion::new(ollama::llama_cpp_build(v), 0)), n_ctx),
        None => (Runtime::LlamaCpp, build::build_from_text(&told).map(|b| RuntimeVersion::new(b, 0)), n_ctx),
    };
    let upper = |t: Option<&str>| t.map(str::to_ascii_uppercase);
    let ngl = e.n_gpu_layers.map(|n| u64::try_from(n).unwrap_or(u64::MAX));
    Ok(Workload {
        task: Task::Generate,
        batch: n_seq,
        prompt: n_ctx.max(1),
        new_tokens: 0,
        dtype: None,
        quant,
        runtime,
        runtime_version,
        kv_prealloc: Some(kv_prealloc.max(1)),
        llama_cpp: crate::estimate::LlamaCppOptions {
            n_gpu_layers: ngl,
            cache_type: upper(e.type_k.as_deref()),
            cache_type_v: upper(e.type_v.as_deref()),
            n_ubatch: e.n_ubatch,
            n_batch: e.n_batch,
            n_seq_max: Some(n_seq),
            flash_attn: e.flash_attn,
            ..crate::estimate::LlamaCppOptions::default()
        },
        ..Workload::default()
    })
}
