//! The JSON reports (`vramfit estimate --json`, `vramfit fit --json`, CLI.md) as
//! `#[derive(Serialize)]` structs, built once in the core for the CLI, the page and the Python
//! package. Every report prints through [`serde_json::Value`], whose keys are sorted, so the
//! order of the fields here does not change a byte of the output.

use crate::catalog::GpuSpec;
use crate::estimate::speed::Speed;
use crate::estimate::{Breakdown, Task, Workload};
use crate::fit;
use crate::request::{GpuVerdict, ModelReport, RamVerdict};
use serde::Serialize;
use serde_json::Value;

/// A report as a JSON value.
///
/// # Panics
/// Never: every report is plain data (strings, numbers, maps with string keys).
#[must_use]
pub fn value<T: Serialize>(report: &T) -> Value {
    serde_json::to_value(report).expect("reports serialize")
}

/// Signed byte counts as JSON numbers: saturated to 64 bits (estimates saturate at u64::MAX
/// for absurd inputs, and serde_json has no 128-bit numbers).
pub(crate) fn sat(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// The `ram` object of the JSON report (present only with `--ram`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RamJson {
    /// `--ram`.
    pub ram_bytes: u64,
    /// Peak CPU RAM of the workload.
    pub needed_bytes: u64,
    /// It fits.
    pub fits: bool,
    /// RAM minus needed, saturated to 64 bits.
    pub headroom_bytes: i64,
}

impl From<&RamVerdict> for RamJson {
    fn from(r: &RamVerdict) -> Self {
        RamJson {
            ram_bytes: r.ram_bytes,
            needed_bytes: r.needed_bytes,
            fits: r.fits,
            headroom_bytes: sat(r.headroom_bytes),
        }
    }
}

/// The GPUs of a report: `gpu` in `estimate --json` and `fit --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuJson<'a> {
    /// As given (`4xA100-80GB`).
    pub label: &'a str,
    /// How many.
    pub count: u64,
    /// Usable memory per GPU.
    pub usable_bytes: u64,
    /// The headroom policy's reserve (`fit --json` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserve_bytes: Option<u64>,
    /// What the GPUs can run (`fit --json` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<&'a fit::Capabilities>,
}

impl<'a> GpuJson<'a> {
    pub(crate) fn of(gpu: &'a GpuSpec) -> Self {
        GpuJson {
            label: &gpu.label,
            count: gpu.count,
            usable_bytes: gpu.usable_bytes,
            reserve_bytes: None,
            capabilities: None,
        }
    }
}

/// Ollama's own estimate, with the layers it would offload to the GPU of the verdict.
#[derive(Debug, Serialize)]
pub struct OllamaJson<'a> {
    /// Ollama's estimate.
    #[serde(flatten)]
    pub estimate: &'a crate::estimate::ollama::OllamaEstimate,
    /// What it offloads to the GPU asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offload: Option<crate::estimate::ollama::OllamaOffload>,
}

/// One GPU of `estimate --gpu A --gpu B`: its verdict, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CompareJson<'a> {
    /// The verdict.
    Judged {
        /// The GPU as given.
        gpu: &'a str,
        /// How many.
        count: u64,
        /// Usable memory per GPU.
        usable_bytes: u64,
        /// The most-loaded GPU's peak.
        per_gpu_bytes: u64,
        /// It fits (a serving engine: it starts).
        fits: bool,
        /// Fits the raw memory, with less than the reserve free.
        tight: bool,
        /// Usable minus needed.
        headroom_bytes: i64,
    },
    /// No verdict.
    Failed {
        /// The GPU as given.
        gpu: &'a str,
        /// Why.
        error: &'a str,
    },
}

impl<'a> CompareJson<'a> {
    /// The entry of the GPU given as `label`.
    #[must_use]
    pub fn new(label: &'a str, verdict: std::result::Result<&GpuVerdict, &'a str>) -> Self {
        match verdict {
            Ok(x) => CompareJson::Judged {
                gpu: label,
                count: x.gpu.count,
                usable_bytes: x.gpu.usable_bytes,
                per_gpu_bytes: x.headroom.per_gpu_bytes,
                fits: x.fits(),
                tight: x.tight(),
                headroom_bytes: i64::try_from(x.headroom.headroom_bytes).unwrap_or(i64::MIN),
            },
            Err(error) => CompareJson::Failed { gpu: label, error },
        }
    }
}

/// The estimate object as `vramfit estimate --json` prints it (CLI.md), the page and the
/// Python package return it. Printed through [`serde_json::Value`], whose keys are sorted.
#[derive(Debug, Serialize)]
pub struct EstimateJson<'a> {
    /// The model's display name.
    pub model: &'a str,
    /// How it was read (`catalog`, a path, a Hub address).
    pub origin: &'a str,
    /// The resolved workload.
    pub workload: &'a Workload,
    /// The device level.
    pub total_bytes: u64,
    /// The three levels.
    pub levels: &'a crate::Levels,
    /// Every component.
    pub components: &'a [crate::Component],
    /// The phase of the peak.
    pub peak_phase: &'a crate::Phase,
    /// Peak CPU RAM.
    pub host_bytes: u64,
    /// How the model was read, then the estimate's notes.
    pub notes: Vec<&'a String>,
    /// Bytes received to describe the model.
    pub bytes_transferred: u64,
    /// llama.cpp's buffers per device.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub devices: &'a [crate::estimate::breakdown::DeviceBuffers],
    /// Ollama's own estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ollama: Option<OllamaJson<'a>>,
    /// A serving engine's start-up report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving: Option<&'a crate::estimate::serving::ServingReport>,
    /// The GPUs judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuJson<'a>>,
    /// The verdict (a serving engine: whether it starts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fits: Option<bool>,
    /// Usable minus needed per GPU, saturated to 64 bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom_bytes: Option<i64>,
    /// The headroom policy's reserve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserve_bytes: Option<u64>,
    /// The most-loaded GPU's peak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_gpu_bytes: Option<u64>,
    /// Speed on the GPUs judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<&'a Speed>,
    /// CPU RAM judged (`--ram`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram: Option<RamJson>,
    /// Other GPUs compared (`--gpu A --gpu B`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<CompareJson<'a>>,
}

impl<'a> EstimateJson<'a> {
    /// The report of `b` for `w`, judged by `verdict`, with its speed.
    #[must_use]
    pub fn new(
        model: &ModelReport<'a>,
        w: &'a Workload,
        b: &'a Breakdown,
        verdict: Option<&'a GpuVerdict>,
        speed: Option<&'a Speed>,
    ) -> Self {
        EstimateJson {
            model: model.name,
            origin: model.origin,
            workload: w,
            total_bytes: b.total_bytes(),
            levels: &b.levels,
            components: &b.components,
            peak_phase: &b.peak_phase,
            host_bytes: b.host_bytes,
            notes: model.notes.iter().chain(&b.notes).collect(),
            bytes_transferred: model.bytes_transferred,
            devices: &b.devices,
            ollama: b
                .ollama
                .as_ref()
                .map(|o| OllamaJson { estimate: o, offload: verdict.map(|v| o.offload(v.gpu.usable_bytes)) }),
            serving: b.serving.as_ref(),
            gpu: verdict.map(|v| GpuJson::of(&v.gpu)),
            fits: verdict.map(GpuVerdict::fits),
            headroom_bytes: verdict.map(|v| sat(v.headroom.headroom_bytes)),
            reserve_bytes: verdict.map(|v| v.headroom.reserve_bytes),
            per_gpu_bytes: verdict.map(|v| v.headroom.per_gpu_bytes),
            speed,
            ram: None,
            compare: vec![],
        }
    }

    /// As a JSON value (keys sorted, as every report prints).
    #[must_use]
    pub fn value(&self) -> Value {
        value(self)
    }
}

/// The headroom verdict as `fit --json` prints it in `as_asked`, each plan and each option
/// not chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VerdictJson {
    /// Fits with the reserve free.
    pub fits: bool,
    /// Fits the raw memory, with less than the reserve free.
    pub tight: bool,
    /// The most-loaded GPU's peak.
    pub per_gpu_bytes: u64,
    /// Usable minus needed, saturated to 64 bits.
    pub headroom_bytes: i64,
    /// The headroom policy's reserve.
    pub reserve_bytes: u64,
}

impl From<&fit::Verdict> for VerdictJson {
    fn from(v: &fit::Verdict) -> Self {
        VerdictJson {
            fits: v.fits,
            tight: v.tight(),
            per_gpu_bytes: v.per_gpu_bytes,
            headroom_bytes: sat(v.headroom_bytes),
            reserve_bytes: v.reserve_bytes,
        }
    }
}

/// How far a workload can grow (`limits`, and each plan's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LimitsJson {
    /// Largest batch that fits.
    pub max_batch: Option<u64>,
    /// The context that batch was judged at.
    pub max_batch_context: Option<u64>,
    /// Sequences decoded together (`generate` only; else `null`).
    pub max_concurrent_sequences: Option<u64>,
    /// Longest context that fits.
    pub max_context: Option<u64>,
    /// The batch that context was judged at.
    pub max_context_batch: u64,
    /// The model's position limit.
    pub model_max_context: Option<u64>,
    /// The context is limited by the model, not memory.
    pub context_limited_by_model: bool,
}

impl LimitsJson {
    fn new(w: &Workload, l: &fit::Limits) -> Self {
        LimitsJson {
            max_batch: l.max_batch,
            max_batch_context: l.batch_context,
            max_concurrent_sequences: if w.task == Task::Generate { l.max_batch } else { None },
            max_context: l.max_context,
            max_context_batch: l.context_batch,
            model_max_context: l.model_max_context,
            context_limited_by_model: l.context_limited_by_model,
        }
    }
}

/// `as_asked` in `fit --json`.
#[derive(Debug, Serialize)]
pub struct AsAskedJson<'a> {
    /// The verdict.
    #[serde(flatten)]
    pub verdict: VerdictJson,
    /// The workload as asked (after the GPU's starting point).
    pub workload: &'a Workload,
    /// The phase of the peak.
    pub peak_phase: &'a crate::Phase,
    /// Every component.
    pub components: &'a [crate::Component],
    /// The estimate's notes.
    pub notes: &'a [String],
}

/// A plan's stretch: how far it could grow with one more change.
#[derive(Debug, Serialize)]
pub struct StretchJson<'a> {
    /// The flags that make it.
    pub flags: String,
    /// The changes.
    pub changes: &'a [fit::Change],
    /// Its limits.
    pub limits: LimitsJson,
}

/// The severity of a plan's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SeverityJson {
    /// How much of the run it changes.
    pub scope: u32,
    /// How much quality it costs.
    pub quality: u32,
    /// How much speed it costs.
    pub speed: u32,
}

/// One ranked plan of `fit --json`.
#[derive(Debug, Serialize)]
pub struct PlanJson<'a> {
    /// Its verdict.
    #[serde(flatten)]
    pub verdict: VerdictJson,
    /// 1 = best.
    pub rank: usize,
    /// The flags that make it.
    pub flags: String,
    /// The changes.
    pub changes: &'a [fit::Change],
    /// What it costs, in words.
    pub cost: String,
    /// The cost's parts.
    pub severity: SeverityJson,
    /// The phase of its peak.
    pub peak_phase: &'a crate::Phase,
    /// Its estimated speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_estimate: Option<&'a fit::PlanSpeed>,
    /// How far it can grow (`null`: not searched).
    pub limits: Option<LimitsJson>,
    /// A stretch beyond it (`null`: none).
    pub stretch: Option<StretchJson<'a>>,
    /// The workload it runs.
    pub workload: &'a Workload,
}

/// An option considered and not chosen.
#[derive(Debug, Serialize)]
pub struct NotChosenJson<'a> {
    /// Its verdict.
    #[serde(flatten)]
    pub verdict: VerdictJson,
    /// The flag.
    pub flag: &'a str,
    /// Why not.
    pub why: &'a str,
}

/// A catalog GPU that fits the workload as asked.
#[derive(Debug, Serialize)]
pub struct GpuThatFitsJson<'a> {
    /// Its catalog name.
    pub name: &'a str,
    /// Usable memory.
    pub usable_bytes: u64,
    /// Usable minus needed.
    pub headroom_bytes: i64,
}

/// `limits` of `fit --json`: how far the workload as asked can grow, and on how many GPUs.
#[derive(Debug, Serialize)]
pub struct FitLimitsJson<'a> {
    /// How far it can grow.
    #[serde(flatten)]
    pub limits: LimitsJson,
    /// Fewest GPUs of this kind that fit it.
    pub min_gpus: Option<u64>,
    /// A lower bound on that, when more than one is needed.
    pub min_gpus_lower_bound: Option<u64>,
    /// Multi-GPU strategies are not searched here.
    pub multi_gpu_modelled: bool,
    /// Other catalog GPUs that fit it.
    pub gpus_that_fit: Vec<GpuThatFitsJson<'a>>,
}

/// The fit object as `vramfit fit --json` prints it (CLI.md).
#[derive(Debug, Serialize)]
pub struct FitJson<'a> {
    /// The model's display name.
    pub model: &'a str,
    /// How it was read.
    pub origin: &'a str,
    /// The GPUs, their reserve and capabilities.
    pub gpu: GpuJson<'a>,
    /// The workload as asked.
    pub as_asked: AsAskedJson<'a>,
    /// Ranked plans.
    pub plans: Vec<PlanJson<'a>>,
    /// Limits of the workload as asked.
    pub limits: FitLimitsJson<'a>,
    /// Options not chosen.
    pub not_chosen: Vec<NotChosenJson<'a>>,
    /// Notes.
    pub notes: &'a [String],
    /// The numbers are for one GPU holding the whole workload.
    pub multi_gpu_not_modelled: bool,
    /// Estimates the search ran.
    pub estimates: usize,
    /// The search stopped early.
    pub truncated: bool,
}

impl<'a> FitJson<'a> {
    /// The report of `r` for the model `m`.
    #[must_use]
    pub fn new(m: &ModelReport<'a>, r: &'a fit::FitReport) -> Self {
        let a = &r.as_asked;
        let plans = r
            .plans
            .iter()
            .enumerate()
            .map(|(i, p)| PlanJson {
                verdict: VerdictJson::from(&p.verdict),
                rank: i + 1,
                flags: p.flags(),
                changes: &p.changes,
                cost: p.cost_words(),
                severity: SeverityJson { scope: p.scope, quality: p.quality, speed: p.speed },
                peak_phase: &p.peak_phase,
                speed_estimate: p.speed_estimate.as_ref(),
                limits: p.limits.as_ref().map(|l| LimitsJson::new(&p.workload, l)),
                stretch: p.stretch.as_ref().map(|s| StretchJson {
                    flags: s.flags(),
                    changes: &s.changes,
                    limits: LimitsJson::new(&s.workload, &s.limits),
                }),
                workload: &p.workload,
            })
            .collect();
        FitJson {
            model: m.name,
            origin: m.origin,
            gpu: GpuJson {
                reserve_bytes: Some(a.verdict.reserve_bytes),
                capabilities: Some(&r.capabilities),
                ..GpuJson::of(&r.gpu)
            },
            as_asked: AsAskedJson {
                verdict: VerdictJson::from(&a.verdict),
                workload: &a.workload,
                peak_phase: &a.breakdown.peak_phase,
                components: &a.breakdown.components,
                notes: &a.breakdown.notes,
            },
            plans,
            limits: FitLimitsJson {
                limits: LimitsJson::new(&a.workload, &r.limits),
                min_gpus: r.gpus.min_gpus,
                min_gpus_lower_bound: r.gpus.min_gpus_lower_bound,
                multi_gpu_modelled: false,
                gpus_that_fit: r
                    .gpus
                    .gpus_that_fit
                    .iter()
                    .map(|g| GpuThatFitsJson {
                        name: &g.name,
                        usable_bytes: g.usable_bytes,
                        headroom_bytes: sat(g.verdict.headroom_bytes),
                    })
                    .collect(),
            },
            not_chosen: r
                .not_chosen
                .iter()
                .map(|n| NotChosenJson { verdict: VerdictJson::from(&n.verdict), flag: &n.flag, why: &n.why })
                .collect(),
            notes: &r.notes,
            multi_gpu_not_modelled: r.multi_gpu_not_modelled,
            estimates: r.estimates,
            truncated: r.truncated,
        }
    }
}

/// What a serving engine takes of one GPU (its budget plus graphs outside it) and what it
/// leaves free.
fn serving_bytes(r: &crate::estimate::serving::ServingReport) -> (u64, i64) {
    let total = r.device_total_bytes.unwrap_or(0);
    let free = r.free_bytes.unwrap_or(0);
    (u64::try_from(i128::from(total) - i128::from(free)).unwrap_or(0), free)
}

/// A serving engine's run in `fit --json`: as asked, or a plan.
#[derive(Debug, Serialize)]
pub struct ServingRunJson<'a> {
    /// 1 = best (plans only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// It serves.
    pub fits: bool,
    /// It starts (as asked only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts: Option<Option<bool>>,
    /// What the engine takes of one GPU.
    pub per_gpu_bytes: u64,
    /// What it leaves free.
    pub headroom_bytes: i64,
    /// The flags that make it (plans only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// The changes (plans only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<&'a [crate::estimate::serving::plans::ServingChange]>,
    /// What it costs (plans only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// The engine's verdict, in its words.
    pub verdict: Option<String>,
    /// The engine's report.
    pub serving: &'a crate::estimate::serving::ServingReport,
}

/// `limits` of a serving engine's `fit --json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServingLimitsJson {
    /// Requests served together.
    pub max_batch: Option<u64>,
    /// The same.
    pub max_concurrent_sequences: Option<u64>,
    /// Longest context that starts.
    pub max_context: Option<u64>,
    /// The same, as the engine names it.
    pub max_model_len: Option<u64>,
    /// Longest context with `concurrency` requests of it at once.
    pub max_model_len_at_concurrency: Option<u64>,
    /// The concurrency that was judged at.
    pub concurrency: u64,
    /// The least memory fraction that starts.
    pub gpu_memory_utilization_to_start: Option<f64>,
}

/// A serving engine's fit object in `vramfit fit --json`'s shape.
#[derive(Debug, Serialize)]
pub struct ServingFitJson<'a> {
    /// The model's display name.
    pub model: &'a str,
    /// How it was read.
    pub origin: &'a str,
    /// The GPUs.
    pub gpu: GpuJson<'a>,
    /// As asked.
    pub as_asked: ServingRunJson<'a>,
    /// Plans that make it serve.
    pub plans: Vec<ServingRunJson<'a>>,
    /// Limits.
    pub limits: ServingLimitsJson,
    /// Notes.
    pub notes: &'a [String],
}

impl<'a> ServingFitJson<'a> {
    /// The report of `f` on `gpu` for the model `m`.
    #[must_use]
    pub fn new(m: &ModelReport<'a>, gpu: &'a GpuSpec, f: &'a crate::estimate::serving::plans::ServingFit) -> Self {
        let (taken, free) = serving_bytes(&f.as_asked);
        let plans = f
            .plans
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (taken, free) = serving_bytes(&p.report);
                ServingRunJson {
                    rank: Some(i + 1),
                    fits: true,
                    starts: None,
                    per_gpu_bytes: taken,
                    headroom_bytes: free,
                    flags: Some(p.changes.iter().map(|c| c.flag.as_str()).collect::<Vec<_>>().join(" ")),
                    changes: Some(&p.changes),
                    cost: Some(p.changes.iter().map(|c| c.cost.as_str()).collect::<Vec<_>>().join(" · ")),
                    verdict: p.report.verdict(),
                    serving: &p.report,
                }
            })
            .collect();
        ServingFitJson {
            model: m.name,
            origin: m.origin,
            gpu: GpuJson::of(gpu),
            as_asked: ServingRunJson {
                rank: None,
                fits: f.serves,
                starts: Some(f.as_asked.starts),
                per_gpu_bytes: taken,
                headroom_bytes: free,
                flags: None,
                changes: None,
                cost: None,
                verdict: f.as_asked.verdict(),
                serving: &f.as_asked,
            },
            plans,
            limits: ServingLimitsJson {
                max_batch: f.limits.max_concurrency,
                max_concurrent_sequences: f.limits.max_concurrency,
                max_context: f.limits.max_model_len,
                max_model_len: f.limits.max_model_len,
                max_model_len_at_concurrency: f.limits.max_model_len_at_concurrency,
                concurrency: f.limits.concurrency,
                gpu_memory_utilization_to_start: f.limits.gpu_memory_utilization_to_start,
            },
            notes: &f.notes,
        }
    }
}
