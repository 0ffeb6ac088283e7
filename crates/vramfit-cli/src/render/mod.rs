//! Renderers: one file per output format over the same report values.

pub mod chart;
pub mod csv;
pub mod json;
pub mod markdown;
pub mod svg;
pub mod table;

use vramfit_core::catalog::GpuSpec;
use vramfit_core::{Breakdown, Workload};
use vramfit_io::ResolvedModel;

/// Everything an estimate report shows.
pub struct EstimateReport<'a> {
    pub model: &'a ResolvedModel,
    pub workload: &'a Workload,
    pub breakdown: &'a Breakdown,
    pub verdict: Option<&'a GpuVerdict>,
    /// `--ram`: CPU RAM judged.
    pub ram: Option<&'a vramfit_core::request::RamVerdict>,
    pub speed: Option<&'a vramfit_core::estimate::speed::Speed>,
    /// Every GPU compared (`--gpu` given more than once), the first included; empty otherwise.
    pub compare: &'a [Compared],
}

/// One GPU of a comparison: its verdict, or the one-line reason it cannot run the workload.
pub struct Compared {
    pub label: String,
    pub verdict: Result<GpuVerdict, String>,
}

/// A sweep and what it was run on.
pub struct SweepReport<'a> {
    pub model: &'a ResolvedModel,
    pub workload: &'a Workload,
    pub axis: vramfit_core::fit::sweep::SweepAxis,
    pub points: &'a [vramfit_core::fit::sweep::SweepPoint],
    pub gpu: Option<&'a GpuSpec>,
}

/// One stacked series per component: its name and bytes at each point (0 where absent or
/// where the point has no estimate). Host-memory components are left out.
pub fn stack(points: &[vramfit_core::fit::sweep::SweepPoint]) -> Vec<(vramfit_core::ComponentKind, Vec<u64>)> {
    vramfit_core::fit::sweep::component_names(points)
        .into_iter()
        .map(|name| {
            let bytes = points
                .iter()
                .map(|p| {
                    p.outcome.as_ref().map_or(0, |b| {
                        b.components
                            .iter()
                            .filter(|c| c.kind == name && c.level != vramfit_core::Level::Host)
                            .map(|c| c.bytes)
                            .sum()
                    })
                })
                .collect();
            (name, bytes)
        })
        .collect()
}

/// The top of a sweep chart's scale: the largest estimate, or the GPU's usable bytes when
/// that is more (the GPU line stays on the chart).
pub fn sweep_max(r: &SweepReport<'_>) -> u64 {
    let max_total =
        r.points.iter().filter_map(|p| p.outcome.as_ref().ok()).map(Breakdown::total_bytes).max().unwrap_or(0);
    max_total.max(r.gpu.map_or(0, |g| g.usable_bytes))
}

/// The label of a sweep axis value (`batch 4`, `seq 2048`).
pub fn axis_label(axis: vramfit_core::fit::sweep::SweepAxis, w: &Workload) -> &'static str {
    use vramfit_core::fit::sweep::SweepAxis;
    match (axis, w.task) {
        (SweepAxis::Batch, _) => "batch",
        (SweepAxis::Seq | SweepAxis::Context, vramfit_core::Task::Train) => "seq",
        (SweepAxis::Seq, _) => "prompt",
        (SweepAxis::Context, _) => "context",
    }
}

/// Whether the estimate fits the GPUs asked about, under the core's headroom policy
/// (`vramfit_core::fit::reserve_bytes`: 5 % of usable memory, at least 512 MiB, kept free);
/// decided in the core, as on the web page.
pub use vramfit_core::request::GpuVerdict;

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
pub fn describe(w: &Workload, model: &ResolvedModel) -> String {
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
            parts.push(format!("LoRA rank {} merged on {}", t.lora_rank, if w.merge_on_gpu { "GPU" } else { "CPU" }));
        }
        Task::Generate => parts.push(format!("batch {} · prompt {} + {} new tokens", w.batch, w.prompt, w.new_tokens)),
        Task::Prefill => parts.push(format!("batch {} · prompt {} tokens", w.batch, w.prompt)),
        Task::Serve => {}
    }
    let dtype = vramfit_core::estimate::defaults::load_dtype(&model.spec, w).0.name().to_string();
    let gguf = model.spec.checkpoint.as_ref().filter(|c| {
        c.format == vramfit_core::model::CheckpointFormat::Gguf
            && w.dtype.is_none()
            && w.runtime == vramfit_core::estimate::Runtime::LlamaCpp
    });
    let file_type = gguf.and_then(|c| c.metadata.iter().find(|(k, _)| k == "general.file_type"));
    // Training shows the precision policy (what holds the weights, gradients and states).
    let precision = (w.task == Task::Train)
        .then(|| vramfit_core::estimate::training::resolve(&model.spec, w).ok())
        .flatten()
        .map(|r| r.precision.name());
    parts.push(match (&w.quant, w.autocast) {
        (Some(q), _) if precision.is_some() => {
            format!("{} weights · {} precision", q.label(), precision.unwrap_or_default())
        }
        _ if precision.is_some() => format!("{} precision", precision.unwrap_or_default()),
        (Some(q), _) => format!("{} weights ({dtype} rest)", q.label()),
        (None, None) if gguf.is_some() => {
            format!("{} GGUF weights as stored", file_type.map_or("mixed", |(_, v)| v.as_str()))
        }
        (None, Some(a)) => format!("fp32 weights, {a} autocast"),
        (None, None) => format!("{dtype} weights"),
    });
    if !matches!(w.task, Task::Load | Task::Merge | Task::Serve) {
        parts.push(format!("{} attention", w.attn.name()));
    }
    parts.push(match (w.runtime_version, w.serving.version) {
        (Some(v), _) => format!("{} {v}", w.runtime.name()),
        (None, Some(v)) => format!("{} {v}", w.runtime.name()),
        (None, None) => w.runtime.name().to_string(),
    });
    parts.join(" · ")
}

/// What each level is, as people measure it on the GPU's stack (`rocm-smi` on ROCm, the
/// Metal working set on Apple; newcomer D22).
pub fn level_label(l: vramfit_core::Level, backend: vramfit_core::estimate::backend::Backend) -> String {
    match l {
        vramfit_core::Level::Allocated => "allocated (torch max_memory_allocated)".into(),
        vramfit_core::Level::Reserved => "reserved  (torch max_memory_reserved)".into(),
        vramfit_core::Level::Device => format!("device    ({}: what must fit)", backend.device_reading()),
        vramfit_core::Level::Host => "cpu ram".into(),
    }
}
