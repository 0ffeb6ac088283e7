//! Renderers: one file per output format over the same report values.

pub mod json;
pub mod markdown;
pub mod table;

use vramfit_core::{Breakdown, Workload};
use vramfit_io::ResolvedModel;

/// Everything an estimate report shows.
pub struct EstimateReport<'a> {
    pub model: &'a ResolvedModel,
    pub workload: &'a Workload,
    pub breakdown: &'a Breakdown,
    pub verdict: Option<&'a Verdict>,
}

/// Whether the estimate fits the GPUs asked about (decided in the core, as on the web page).
pub use vramfit_core::request::Verdict;

/// Bytes as GiB with two decimals.
pub fn gib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / f64::from(1u32 << 30))
}

/// Bytes as GB with two decimals.
pub fn gb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e9)
}

/// Signed bytes as "x.xx GiB (y.yy GB)".
pub fn signed_both(bytes: i128) -> String {
    let sign = if bytes < 0 { "-" } else { "" };
    let b = u64::try_from(bytes.unsigned_abs()).unwrap_or(u64::MAX);
    format!("{sign}{} GiB ({sign}{} GB)", gib(b), gb(b))
}

/// One-line description of a workload.
pub fn describe(w: &Workload, b: &Breakdown, model: &ResolvedModel) -> String {
    use vramfit_core::Task;
    let mut parts = vec![w.task.name().to_string()];
    let t = &w.training;
    match w.task {
        Task::Load => {}
        Task::Train => {
            parts.push(format!("{} · batch {} × seq {}", t.method.name(), w.batch, t.seq));
            if t.method.is_lora() {
                parts.push(format!("rank {}", t.lora_rank));
            }
            if t.grad_ckpt {
                parts.push("gradient checkpointing".into());
            }
        }
        Task::Merge => {
            parts.push(format!("LoRA rank {} merged on {}", t.lora_rank, if w.merge_on_gpu { "GPU" } else { "CPU" }))
        }
        Task::Generate => parts.push(format!("batch {} · prompt {} + {} new tokens", w.batch, w.prompt, w.new_tokens)),
        Task::Prefill => parts.push(format!("batch {} · prompt {} tokens", w.batch, w.prompt)),
    }
    let dtype = w.dtype.or(model.spec.torch_dtype).map_or_else(|| "fp16".to_string(), |d| d.name().to_string());
    let gguf = model
        .spec
        .checkpoint
        .as_ref()
        .filter(|c| c.format == vramfit_core::model::CheckpointFormat::Gguf && w.dtype.is_none());
    let file_type = gguf.and_then(|c| c.metadata.iter().find(|(k, _)| k == "general.file_type"));
    parts.push(match (&w.quant, w.autocast) {
        (Some(q), _) => format!("{} weights ({dtype} rest)", q.label()),
        (None, None) if gguf.is_some() => {
            format!("{} GGUF weights as stored", file_type.map_or("mixed", |(_, v)| v.as_str()))
        }
        (None, Some(a)) => format!("fp32 weights, {a} autocast"),
        (None, None) => format!("{dtype} weights"),
    });
    if !matches!(w.task, Task::Load | Task::Merge) {
        parts.push(format!("{} attention", w.attn.name()));
    }
    parts.push(match w.runtime_version {
        Some(v) => format!("{} {v}", w.runtime.name()),
        None => w.runtime.name().to_string(),
    });
    let _ = b;
    parts.join(" · ")
}

/// What each level is, as people measure it.
pub fn level_label(l: vramfit_core::Level) -> &'static str {
    match l {
        vramfit_core::Level::Allocated => "allocated (torch max_memory_allocated)",
        vramfit_core::Level::Reserved => "reserved  (torch max_memory_reserved)",
        vramfit_core::Level::Device => "device    (nvidia-smi: what must fit)",
        vramfit_core::Level::Host => "cpu ram",
    }
}
