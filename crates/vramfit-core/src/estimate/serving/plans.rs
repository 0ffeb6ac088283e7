//! `vramfit fit --runtime vllm|sglang`: how far a serving engine's settings can go on a GPU
//! (the longest `max_model_len` that starts, at one request and at the wanted concurrency; the
//! most concurrent requests at the asked length; the utilization that would start) and ranked
//! plans over the engine's own levers when it does not start or cannot hold the wanted
//! concurrency: a shorter `max_model_len`, an fp8 KV cache, a higher
//! `gpu_memory_utilization`, fewer `max_num_seqs`, `--enforce-eager`, fp8 weights, tensor
//! parallelism.

use super::{estimate_serving, largest_true, Device, Fraction, ServingReport};
use crate::catalog::GpuSpec;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::estimate::workload::Workload;
use crate::model::ModelSpec;
use serde::Serialize;

/// One change of a plan, as the flag that makes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingChange {
    /// The flag with its value (`--max-model-len 45040`).
    pub flag: String,
    /// What it costs.
    pub cost: String,
    /// 0 = free, higher = worse (scope, quality, speed or hardware, summed for ranking).
    pub severity: u32,
}

/// A set of changes that starts and serves the wanted concurrency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingPlan {
    /// The changes.
    pub changes: Vec<ServingChange>,
    /// The engine's report with them.
    pub report: ServingReport,
    /// Summed severity.
    pub severity: u32,
}

/// How far the settings go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingLimits {
    /// The longest `max_model_len` that starts (one request of it fits).
    pub max_model_len: Option<u64>,
    /// The longest `max_model_len` at which `concurrency` requests of that length fit.
    pub max_model_len_at_concurrency: Option<u64>,
    /// The concurrency those limits are for (`--batch`).
    pub concurrency: u64,
    /// Whole requests of the asked `max_model_len` that fit at once.
    pub max_concurrency: Option<u64>,
    /// The smallest utilization that starts, when the asked one does not.
    pub gpu_memory_utilization_to_start: Option<f64>,
}

/// The answer of `fit` for a serving engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingFit {
    /// The settings as asked.
    pub as_asked: ServingReport,
    /// Whether they serve the wanted concurrency.
    pub serves: bool,
    /// How far they go.
    pub limits: ServingLimits,
    /// Plans that serve, best first.
    pub plans: Vec<ServingPlan>,
    /// What the reader must know.
    pub notes: Vec<String>,
}

fn report(spec: &ModelSpec, w: &Workload) -> Result<ServingReport> {
    estimate_serving(spec, w)?.serving.ok_or_else(|| Error::workload("--runtime", "no serving report"))
}

/// Whether a report serves `concurrency` requests of its `max_model_len`.
fn serves(r: &ServingReport, concurrency: u64) -> bool {
    r.starts == Some(true) && r.max_concurrency.unwrap_or(0.0) + 1e-9 >= concurrency as f64
}

/// Fit a serving workload on `gpu` (one GPU per TP × PP rank; `--batch` is the wanted
/// concurrency).
///
/// # Errors
/// As [`estimate_serving`].
pub fn fit(spec: &ModelSpec, w: &Workload, gpu: &GpuSpec) -> Result<ServingFit> {
    let mut w = w.clone();
    w.serving.device = Some(Device::of(gpu));
    let concurrency = w.batch.max(1);
    let asked = report(spec, &w)?;
    let model_max = spec.max_positions.unwrap_or(asked.max_model_len).max(asked.max_model_len);
    let at_len = |len: u64| {
        let mut x = w.clone();
        x.serving.max_model_len = Some(len);
        report(spec, &x).ok()
    };
    // vLLM V0 sizes its profile run by max_model_len up to 32K and turns chunked prefill on
    // above: starting is monotone within each stretch, not across them.
    let ok_at = |len: u64| at_len(len).is_some_and(|r| serves(&r, concurrency));
    let long = if model_max > 32_768 { largest_true(32_769, model_max, ok_at) } else { None };
    let max_len_conc = long.or_else(|| largest_true(1, model_max.min(32_768), ok_at));
    let limits = ServingLimits {
        max_model_len: asked.largest_max_model_len,
        max_model_len_at_concurrency: max_len_conc,
        concurrency,
        max_concurrency: (asked.starts == Some(true)).then(|| asked.max_concurrency.unwrap_or(0.0).floor() as u64),
        gpu_memory_utilization_to_start: asked.gpu_memory_utilization_to_start,
    };
    let ok = serves(&asked, concurrency);
    let mut notes = vec![format!(
        "--batch {concurrency} is the number of requests of max_model_len = {} wanted at once",
        asked.max_model_len
    )];
    if gpu.count > 1 && w.parallel.tp * w.parallel.pp == 1 {
        notes.push(format!("{} GPUs given but --tensor-parallel-size 1: one engine on one GPU", gpu.count));
    }
    let mut plans = Vec::new();
    if !ok {
        // The lengths worth offering: the longest below the asked one, and (vLLM V0) a longer
        // one where chunked prefill shrinks the profile run.
        let asked_len = asked.max_model_len;
        let shorter = largest_true(1, asked_len.min(if asked_len > 32_768 { asked_len } else { 32_768 }), ok_at)
            .filter(|&l| l < asked_len);
        let longer = long.filter(|&l| l > asked_len);
        plans = search(spec, &w, gpu, concurrency, &[shorter, longer], asked.gpu_memory_utilization);
    }
    Ok(ServingFit { as_asked: asked, serves: ok, limits, plans, notes })
}

/// One lever: its change, or `None` when it does not apply.
type Lever = Box<dyn Fn(&mut Workload) -> Option<ServingChange>>;

fn levers(spec: &ModelSpec, w: &Workload, gpu: &GpuSpec, lengths: &[Option<u64>], asked_util: f64) -> Vec<Lever> {
    let mut out: Vec<Lever> = Vec::new();
    // Each engine's own flag names (vramfit accepts both spellings).
    let engine = super::engine_of(w).unwrap_or(&super::vllm::ENGINE);
    let util_flag = crate::estimate::profile::row(w.runtime).memory_fraction_flag;
    let (len_flag, tp_flag) = (engine.max_model_len_flag, engine.tensor_parallel_flag);
    let asked_len = w.serving.max_model_len.unwrap_or(spec.max_positions.unwrap_or(0));
    for len in lengths.iter().flatten().copied() {
        let (cost, severity) = if len < asked_len {
            ("scope: shorter requests".to_string(), 3)
        } else {
            ("none: above 32,768 tokens vLLM V0 turns chunked prefill on and profiles a fixed token budget instead of max_model_len".to_string(), 1)
        };
        out.push(Box::new(move |x: &mut Workload| {
            x.serving.max_model_len = Some(len);
            Some(ServingChange { flag: format!("{len_flag} {len}"), cost: cost.clone(), severity })
        }));
    }
    if w.kv_dtype != Some(DType::Fp8) {
        out.push(Box::new(|x: &mut Workload| {
            x.kv_dtype = Some(DType::Fp8);
            Some(ServingChange {
                flag: "--kv-cache-dtype fp8".into(),
                cost: "quality: keys and values rounded to 8 bits".into(),
                severity: 2,
            })
        }));
    }
    for u in [0.95, 0.98] {
        let asked = asked_util;
        if u > asked + 1e-9 {
            out.push(Box::new(move |x: &mut Workload| {
                x.serving.gpu_memory_utilization = Fraction::new(u, "--gpu-memory-utilization").ok();
                Some(ServingChange {
                    flag: format!("{util_flag} {u}"),
                    cost: "risk: less left for CUDA graphs, the sampler and other processes".into(),
                    severity: if u > 0.96 { 3 } else { 1 },
                })
            }));
        }
    }
    // Only where they change the budget (not SGLang's pool: they act on its reserved share).
    if engine.seqs_and_graphs_in_budget && w.serving.max_num_seqs.is_none_or(|s| s > 64) {
        out.push(Box::new(|x: &mut Workload| {
            x.serving.max_num_seqs = Some(64);
            Some(ServingChange {
                flag: "--max-num-seqs 64".into(),
                cost: "speed: fewer requests decoded per step (and a smaller sampler profile)".into(),
                severity: 1,
            })
        }));
    }
    if engine.seqs_and_graphs_in_budget && !w.serving.enforce_eager {
        out.push(Box::new(|x: &mut Workload| {
            x.serving.enforce_eager = true;
            Some(ServingChange {
                flag: "--enforce-eager".into(),
                cost: "speed: no CUDA graphs (slower decoding)".into(),
                severity: 2,
            })
        }));
    }
    let fp8_gpu = gpu.gpu.as_ref().is_some_and(|g| g.fp8);
    if spec.quantization.is_none() && w.serving.quantization.is_none() && fp8_gpu {
        out.push(Box::new(|x: &mut Workload| {
            x.serving.quantization = Some("fp8".into());
            Some(ServingChange {
                flag: "--quantization fp8".into(),
                cost: "quality: weights quantized to fp8 at load".into(),
                severity: 2,
            })
        }));
    }
    for tp in [2u64, 4, 8] {
        if tp > w.parallel.tp {
            out.push(Box::new(move |x: &mut Workload| {
                x.parallel.tp = tp;
                x.parallel.gpus_per_node = tp * x.parallel.pp.max(1);
                Some(ServingChange {
                    flag: format!("{tp_flag} {tp}"),
                    cost: format!("hardware: {tp} GPUs"),
                    severity: 2 + u32::try_from(tp / 2).unwrap_or(4),
                })
            }));
        }
    }
    out
}

/// Single levers, then pairs; plans that serve, cheapest first, none that contains another.
fn search(
    spec: &ModelSpec,
    w: &Workload,
    gpu: &GpuSpec,
    concurrency: u64,
    lengths: &[Option<u64>],
    asked_util: f64,
) -> Vec<ServingPlan> {
    let levers = levers(spec, w, gpu, lengths, asked_util);
    let mut found: Vec<(Vec<usize>, ServingPlan)> = Vec::new();
    let mut combos: Vec<Vec<usize>> = (0..levers.len()).map(|i| vec![i]).collect();
    for i in 0..levers.len() {
        for j in i + 1..levers.len() {
            combos.push(vec![i, j]);
        }
    }
    for combo in combos {
        if found.iter().any(|(f, _)| f.iter().all(|i| combo.contains(i))) {
            continue;
        }
        let mut x = w.clone();
        let mut changes = Vec::new();
        for &i in &combo {
            if let Some(c) = levers[i](&mut x) {
                changes.push(c);
            }
        }
        // Two settings of the same flag are not a plan.
        let flags: Vec<&str> = changes.iter().map(|c| c.flag.split(' ').next().unwrap_or("")).collect();
        if flags.iter().enumerate().any(|(k, f)| flags[..k].contains(f)) {
            continue;
        }
        if let Ok(r) = report(spec, &x) {
            if serves(&r, concurrency) {
                let severity = changes.iter().map(|c| c.severity).sum();
                found.push((combo, ServingPlan { changes, report: r, severity }));
            }
        }
    }
    let mut plans: Vec<ServingPlan> = found.into_iter().map(|(_, p)| p).collect();
    plans.sort_by(|a, b| {
        a.severity.cmp(&b.severity).then(b.report.kv_tokens.unwrap_or(0).cmp(&a.report.kv_tokens.unwrap_or(0)))
    });
    plans.truncate(8);
    plans
}
