//! The plan search: which sets of changes make a workload fit, best first.
//!
//! Each lever is an axis with a few choices (weights: fp16, int8, nf4...; gradient
//! checkpointing: on). A configuration picks at most one choice per axis; the product of
//! the axes is small by construction (at most a few hundred configurations), and they are
//! tried in order of how many levers they pull. A configuration is skipped when one with a
//! subset of its levers already fits: plans are *minimal*, every change in a plan is needed.
//! A configuration that does not fit at the asked batch and context is given the largest
//! batch, then the longest context, that make it fit (binary searches), unless a subset of
//! its levers already got such a cut.
//!
//! Ranking: plans that do what was asked come before ones that cut the context (scope), then
//! by the least quality loss, then speed, then memory. Severities are small integers per
//! change (see `lever.rs`), summed over a plan's changes.

use super::capability::Capabilities;
use super::headroom::Verdict;
use super::lever::{self, Change, CostKind, LeverKind};
use super::limits::{
    context_of, gpus_that_fit, largest_fitting, min_context, min_gpus_lower_bound, GpuFit, Judge, Limits,
};
use super::limits::{with_batch, with_context};
use crate::catalog::GpuSpec;
use crate::dtype::DType;
use crate::error::Result;
use crate::estimate::training::setup::{Method, Optimizer, Precision};
use crate::estimate::training::{self};
use crate::estimate::{defaults, estimate, AttnImpl, Breakdown, Task, Workload};
use crate::model::ModelSpec;
use serde::Serialize;

/// Most estimates one search may run (configurations and cuts); limits of plans beyond it
/// are left out and the report says the search was truncated.
pub const MAX_ESTIMATES: usize = 20_000;

/// What to search.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FitOptions {
    /// Search plans even when the workload fits as asked (alternatives that buy headroom).
    pub all: bool,
    /// Rank plans by their estimated speed (`--prefer speed`) rather than by cost severities.
    pub prefer_speed: bool,
    /// CPU RAM bandwidth, GB/s, for pricing plans with weights in CPU RAM (`--ram-bandwidth`).
    pub ram_bandwidth: Option<f64>,
}

/// A plan's estimated speed (a catalog GPU is needed to price it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlanSpeed {
    /// Decode tokens/s of one sequence (inference).
    pub decode_tokens_per_s: Option<f64>,
    /// Decode tokens/s of the plan's batch (inference).
    pub decode_tokens_per_s_batch: Option<f64>,
    /// Seconds per optimizer step (training).
    pub step_s: Option<f64>,
    /// Trained tokens/s (training).
    pub train_tokens_per_s: Option<f64>,
}

// Speeds are finite (estimates refuse non-finite times), so equality is total.
impl Eq for PlanSpeed {}

impl PlanSpeed {
    /// Higher is faster: tokens/s of the batch, or trained tokens/s.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.decode_tokens_per_s_batch.or(self.train_tokens_per_s).unwrap_or(0.0)
    }
}

/// Price `w` on `gpu`.
fn price(spec: &ModelSpec, w: &Workload, gpu: &GpuSpec, ram: Option<f64>) -> Option<PlanSpeed> {
    let g = gpu.gpu.as_ref()?;
    let b = estimate(spec, w).ok()?;
    let dev = crate::estimate::speed::SpeedDevice { gpu: g, count: gpu.count, ram_bandwidth_gb_s: ram, backend: None };
    let s = crate::estimate::speed::estimate_speed(spec, w, &b, &dev)?;
    Some(PlanSpeed {
        decode_tokens_per_s: s.decode_tokens_per_s,
        decode_tokens_per_s_batch: s.decode_tokens_per_s_batch,
        step_s: s.step_s,
        train_tokens_per_s: s.train_tokens_per_s,
    })
}

/// A workload with its estimate and verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The workload (defaults resolved as the search starts from them).
    pub workload: Workload,
    /// Its estimate.
    pub breakdown: Breakdown,
    /// On one GPU of the spec.
    pub verdict: Verdict,
}

/// A set of changes that makes the workload fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The changes, in lever order.
    pub changes: Vec<Change>,
    /// The workload with the changes made.
    pub workload: Workload,
    /// Its verdict (always fitting).
    pub verdict: Verdict,
    /// The moment of its peak.
    pub peak_phase: crate::Phase,
    /// How far it can grow; `None` when the search budget ran out first.
    pub limits: Option<Limits>,
    /// For training plans: the limits with the speed-only levers the plan does not pull
    /// (gradient checkpointing, chunked cross-entropy...) pulled as well.
    pub stretch: Option<Stretch>,
    /// Summed quality severities.
    pub quality: u32,
    /// Summed scope severities.
    pub scope: u32,
    /// Summed speed severities.
    pub speed: u32,
    /// Its estimated speed on the asked GPU.
    pub speed_estimate: Option<PlanSpeed>,
}

impl Plan {
    /// The command-line flags that make the plan.
    #[must_use]
    pub fn flags(&self) -> String {
        self.changes.iter().map(|c| c.flag.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// Its costs in words, worst kind first (`quality: ...; speed: ...`).
    #[must_use]
    pub fn cost_words(&self) -> String {
        let groups = self.costs_by_kind();
        if groups.is_empty() {
            return "none".into();
        }
        groups.iter().map(|(k, words)| format!("{}: {}", k.name(), words.join("; "))).collect::<Vec<_>>().join(" · ")
    }

    /// Its costs grouped by kind, worst kind first: (kind, words).
    #[must_use]
    pub fn costs_by_kind(&self) -> Vec<(CostKind, Vec<&str>)> {
        let mut out: Vec<(CostKind, Vec<&str>)> = vec![];
        let mut costs: Vec<&lever::Cost> = self.changes.iter().flat_map(|c| &c.costs).collect();
        costs.sort_by_key(|c| (c.kind, std::cmp::Reverse(c.severity)));
        for c in costs {
            match out.last_mut() {
                Some((k, words)) if *k == c.kind => words.push(&c.words),
                _ => out.push((c.kind, vec![&c.words])),
            }
        }
        out
    }

    fn rank_key(&self) -> (u32, u32, u32, u64) {
        (self.scope, self.quality, self.speed, self.verdict.per_gpu_bytes)
    }
}

/// A plan with more speed-only levers pulled, and how far that lets it grow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stretch {
    /// The added changes.
    pub changes: Vec<Change>,
    /// The plan's workload with them.
    pub workload: Workload,
    /// Its limits.
    pub limits: Limits,
}

impl Stretch {
    /// The flags of the added changes.
    #[must_use]
    pub fn flags(&self) -> String {
        self.changes.iter().map(|c| c.flag.as_str()).collect::<Vec<_>>().join(" ")
    }
}

/// An option that was considered and not chosen, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotChosen {
    /// The flags it would take.
    pub flag: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why it is not a plan.
    pub why: String,
}

/// The answers about GPUs rather than settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuLimits {
    /// GPUs of the asked kind the workload needs, as asked: `Some(1)` when it fits on one;
    /// `None` when more than one would be needed (multi-GPU strategies are not modelled).
    pub min_gpus: Option<u64>,
    /// With more than one needed: a lower bound, if everything split evenly with nothing
    /// replicated and no communication buffers.
    pub min_gpus_lower_bound: Option<u64>,
    /// The smallest catalog GPUs that fit the workload as asked.
    pub gpus_that_fit: Vec<GpuFit>,
}

/// Everything `vramfit fit` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FitReport {
    /// The GPUs asked about.
    pub gpu: GpuSpec,
    /// What they can run.
    pub capabilities: Capabilities,
    /// The workload as asked.
    pub as_asked: Assessment,
    /// How far the workload as asked can grow.
    pub limits: Limits,
    /// Fewest GPUs, and other GPUs that fit.
    pub gpus: GpuLimits,
    /// Plans that fit, best first.
    pub plans: Vec<Plan>,
    /// Options considered and not chosen (pre-quantized checkpoints).
    pub not_chosen: Vec<NotChosen>,
    /// Assumptions and limitations the reader must know.
    pub notes: Vec<String>,
    /// More than one GPU was asked about and multi-GPU strategies are not modelled: every
    /// number is for one GPU holding the whole workload.
    pub multi_gpu_not_modelled: bool,
    /// Estimates the search ran.
    pub estimates: usize,
    /// The search stopped at [`MAX_ESTIMATES`].
    pub truncated: bool,
    /// Plans are ordered by estimated speed (`--prefer speed`).
    pub prefer_speed: bool,
}

/// The workload the search starts from: the one asked, with defaults resolved the way the
/// runtime would on this GPU. Returns it with notes saying what was resolved.
///
/// - No `--dtype`: the dtype [`defaults::load_dtype`] gives, as `estimate` does (fp32 under
///   `--runtime-version 4.x`, the checkpoint's under 5.x).
/// - A bf16 checkpoint on a GPU without bf16 runs in fp16; training there uses fp16 mixed
///   precision.
#[must_use]
pub fn starting_point(spec: &ModelSpec, w: &Workload, caps: Capabilities) -> (Workload, Vec<String>) {
    let mut start = w.clone();
    let mut notes = vec![];
    // The runtime's defaults are the estimate's own (`estimate::defaults`): fit starts where
    // estimate does, and says so in the estimate's notes.
    let checkpoint = spec.torch_dtype;
    if w.dtype.is_none() && w.autocast.is_none() && !caps.bf16 && defaults::load_dtype(spec, w).0 == DType::Bf16 {
        start.dtype = Some(DType::Fp16);
        notes.push(format!(
            "the checkpoint is {} and this GPU has no bf16: starting from fp16",
            checkpoint.map_or("bf16".into(), |d| d.to_string())
        ));
    }
    if w.task == Task::Train && w.training.precision.is_none() {
        if let Ok(res) = training::resolve(spec, &start) {
            if res.precision.compute() == DType::Bf16 && !caps.bf16 {
                let p = match (res.precision, w.training.method) {
                    (Precision::Pure(_), m) if m != Method::Full => Precision::Pure(DType::Fp16),
                    _ => Precision::Mixed(DType::Fp16),
                };
                start.training.precision = Some(p);
                notes.push(format!("this GPU has no bf16: training with {} precision", p.name()));
            }
        }
    }
    (start, notes)
}

/// One lever: its choices (the as-asked setting is implicit).
struct Axis {
    choices: Vec<Change>,
    /// Only meaningful when full fine-tuning stays (optimizer, precision).
    full_only: bool,
}

fn axes(spec: &ModelSpec, start: &Workload, caps: Capabilities, explicit_fp32: bool) -> (Vec<Axis>, Option<usize>) {
    let mut axes = vec![];
    let checkpoint = spec.torch_dtype;
    let half = caps.half_for(checkpoint);
    let dtype = defaults::load_dtype(spec, start).0;
    let inference = matches!(start.task, Task::Load | Task::Prefill | Task::Generate);
    let bnb = |q: &str| start.quant.as_ref().map(crate::quant::QuantConfig::label).as_deref() == Some(q);
    if inference {
        let mut weights = vec![];
        if start.quant.is_none() && spec.quantization.is_none() {
            let wide = dtype == DType::Fp32 || start.autocast.is_some();
            if wide {
                weights.push(lever::half_weights(half, checkpoint));
            }
            let dense = wide.then_some(half);
            if caps.fp8 && dtype != DType::Fp8 {
                weights.extend(lever::quantize("fp8", dense, explicit_fp32));
            }
            for q in ["int8", "nf4", "nf4-dq"] {
                weights.extend(lever::quantize(q, dense, explicit_fp32));
            }
        } else if bnb("int8") {
            weights.extend(["nf4", "nf4-dq"].iter().filter_map(|q| lever::quantize(q, None, false)));
        } else if bnb("nf4") {
            weights.extend(lever::quantize("nf4-dq", None, false));
        }
        axes.push(Axis { choices: weights, full_only: false });
        if start.task != Task::Load && caps.fp8 && start.kv_dtype != Some(DType::Fp8) {
            axes.push(Axis { choices: vec![lever::kv_fp8()], full_only: false });
        }
    }
    // Several GPUs: shard the training state, or split an inference model by tensor parallelism.
    let par = start.parallel;
    if par.gpus_per_node > 1 && par.nodes == 1 && par.tp == 1 && par.pp == 1 {
        use crate::estimate::parallel::Strategy;
        let choices: Vec<Change> = if start.task == Task::Train
            && matches!(par.strategy, Strategy::Ddp | Strategy::None | Strategy::Zero(0..=2))
        {
            [
                (Strategy::Zero(2), false),
                (Strategy::Zero(3), false),
                (Strategy::FsdpFull, false),
                (Strategy::Zero(3), true),
            ]
            .into_iter()
            .filter(|&(s, _)| s != par.strategy)
            .filter_map(|(s, o)| lever::parallel(par, s, o))
            .collect()
        } else if inference && par.strategy == Strategy::Sequential {
            lever::parallel(par, Strategy::None, false).into_iter().collect()
        } else {
            vec![]
        };
        if !choices.is_empty() {
            axes.push(Axis { choices, full_only: false });
        }
    }
    if start.task == Task::Train {
        let t = &start.training;
        let rank = t.lora_rank;
        let prequantized = spec.quantization.is_some() || start.quant.is_some();
        let methods = match t.method {
            Method::Full if prequantized => vec![lever::method(Method::Lora, rank)],
            Method::Full => vec![lever::method(Method::Lora, rank), lever::method(Method::Qlora, rank)],
            Method::Lora | Method::Dora if !prequantized => vec![lever::method(Method::Qlora, rank)],
            _ => vec![],
        };
        axes.push(Axis { choices: methods, full_only: false });
        if let Ok(res) = training::resolve(spec, start) {
            if t.method == Method::Full {
                let mut precisions = vec![];
                if res.precision == Precision::Fp32 {
                    precisions.push(lever::precision(Precision::Mixed(half)));
                }
                if caps.bf16 && res.precision != Precision::Pure(DType::Bf16) {
                    precisions.push(lever::precision(Precision::Pure(DType::Bf16)));
                }
                axes.push(Axis { choices: precisions, full_only: true });
                let current = res.optimizer;
                let optimizers: Vec<Change> =
                    [Optimizer::AdamwFused, Optimizer::Adamw8bit, Optimizer::PagedAdamw8bit, Optimizer::Adafactor]
                        .into_iter()
                        .filter(|&o| o != current && current != Optimizer::Sgd)
                        .filter(|&o| {
                            o != Optimizer::AdamwFused || matches!(current, Optimizer::Adamw | Optimizer::AdamwLoop)
                        })
                        .map(lever::optimizer)
                        .collect();
                axes.push(Axis { choices: optimizers, full_only: true });
            }
            if !t.grad_ckpt {
                axes.push(Axis { choices: vec![lever::grad_ckpt()], full_only: false });
            }
            if !res.chunked_ce && spec.lm_head.is_some() {
                axes.push(Axis { choices: vec![lever::chunked_ce()], full_only: false });
            }
        }
        if start.profile().training.is_some_and(|t| t.memory_recipes) {
            if !t.optimizer_in_backward && t.grad_accum == 1 {
                axes.push(Axis { choices: vec![lever::optimizer_in_backward()], full_only: false });
            }
            if !t.activation_offload {
                axes.push(Axis { choices: vec![lever::activation_offload()], full_only: false });
            }
        }
    }
    if !matches!(start.task, Task::Load | Task::Merge) {
        let mut attn = vec![];
        if matches!(start.attn, AttnImpl::Eager | AttnImpl::Math) {
            attn.push(lever::attention(AttnImpl::Sdpa));
        }
        if caps.flash_attention && start.attn != AttnImpl::Flash {
            attn.push(lever::attention(AttnImpl::Flash));
        }
        axes.push(Axis { choices: attn, full_only: false });
    }
    axes.retain(|a| !a.choices.is_empty());
    let method_axis = axes.iter().position(|a| a.choices.iter().any(|c| c.lever == LeverKind::Method));
    (axes, method_axis)
}

type Config = Vec<u8>;

/// `a`'s levers are a subset of `b`'s (same choice wherever `a` pulls one).
fn subset(a: &Config, b: &Config) -> bool {
    a.iter().zip(b).all(|(&x, &y)| x == 0 || x == y)
}

fn configs(axes: &[Axis], method_axis: Option<usize>) -> Vec<Config> {
    let radix: Vec<usize> = axes.iter().map(|a| a.choices.len() + 1).collect();
    let total: usize = radix.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut cfg = vec![0u8; axes.len()];
    for _ in 0..total {
        let full_stays = method_axis.is_none_or(|m| cfg[m] == 0);
        if full_stays || axes.iter().zip(&cfg).all(|(a, &c)| c == 0 || !a.full_only) {
            out.push(cfg.clone());
        }
        for (digit, r) in cfg.iter_mut().zip(&radix) {
            *digit += 1;
            if usize::from(*digit) < *r {
                break;
            }
            *digit = 0;
        }
    }
    out.sort_by_key(|c| (c.iter().filter(|&&x| x > 0).count(), c.clone()));
    out
}

fn plan_from(changes: Vec<Change>, workload: Workload, b: &Breakdown, usable: u64) -> Plan {
    let sum = |kind: CostKind| -> u32 {
        changes.iter().flat_map(|c| &c.costs).filter(|c| c.kind == kind).map(|c| u32::from(c.severity)).sum()
    };
    Plan {
        quality: sum(CostKind::Quality),
        scope: sum(CostKind::Scope),
        speed: sum(CostKind::Speed),
        verdict: Verdict::new(b.total_bytes(), usable),
        peak_phase: b.peak_phase,
        limits: None,
        stretch: None,
        speed_estimate: None,
        changes,
        workload,
    }
}

/// The largest batch, then the longest context, that make `w` fit; the changes that make them.
fn cut(judge: &mut Judge<'_>, start: &Workload, w: &Workload) -> Option<(Vec<Change>, Workload)> {
    let training = w.task == Task::Train;
    let asked = context_of(w)?;
    let effective = start.batch.saturating_mul(start.training.grad_accum);
    let accumulate = training && !w.training.optimizer_in_backward;
    let at_batch = |b: u64| -> Workload {
        let mut x = with_batch(w, b);
        if accumulate {
            x.training.grad_accum = effective.div_ceil(b).max(1);
        }
        x
    };
    if start.batch > 1 {
        if let Some(b) = judge.largest(1, start.batch - 1, start.batch - 1, at_batch) {
            let x = at_batch(b);
            let change = lever::batch(start.batch, b, x.training.grad_accum, training, accumulate);
            return Some((vec![change], x));
        }
    }
    let one = at_batch(1);
    let c = judge.largest(min_context(w), asked.checked_sub(1)?, asked - 1, |c| with_context(&one, c))?;
    let x = with_context(&one, c);
    let mut changes = vec![];
    if start.batch > 1 {
        changes.push(lever::batch(start.batch, 1, x.training.grad_accum, training, accumulate));
    }
    changes.push(if training {
        lever::seq(w.training.seq, c)
    } else {
        lever::prompt(w.prompt, x.prompt, w.new_tokens)
    });
    Some((changes, x))
}

/// Levers that cost only speed and can always be added to a training plan.
const STRETCH_LEVERS: [LeverKind; 3] =
    [LeverKind::GradientCheckpointing, LeverKind::ChunkedCrossEntropy, LeverKind::ActivationOffload];

fn stretch(judge: &mut Judge<'_>, axes: &[Axis], p: &Plan) -> Option<Stretch> {
    if p.workload.task != Task::Train {
        return None;
    }
    let changes: Vec<Change> = axes
        .iter()
        .flat_map(|a| &a.choices)
        .filter(|c| STRETCH_LEVERS.contains(&c.lever) && !p.changes.iter().any(|pc| pc.lever == c.lever))
        .cloned()
        .collect();
    if changes.is_empty() {
        return None;
    }
    let mut workload = p.workload.clone();
    for c in &changes {
        c.apply(&mut workload);
    }
    if !judge.fits(&workload) {
        return None;
    }
    let limits = judge.limits(&workload);
    Some(Stretch { changes, workload, limits })
}

/// Pre-quantized formats: possible only with another checkpoint, so mentioned, not chosen.
fn prequantized(judge: &mut Judge<'_>, spec: &ModelSpec, start: &Workload, usable: u64) -> Vec<NotChosen> {
    if !matches!(start.task, Task::Load | Task::Prefill | Task::Generate)
        || start.quant.is_some()
        || spec.quantization.is_some()
    {
        return vec![];
    }
    let mut out = vec![];
    for q in ["gptq-4bit", "awq-4bit"] {
        let Ok(config) = crate::quant::QuantConfig::parse(q, None) else { continue };
        let mut w = start.clone();
        w.quant = Some(config);
        if w.dtype == Some(DType::Fp32) {
            w.dtype = Some(DType::Fp16);
        }
        w.autocast = None;
        if let Some(bytes) = judge.bytes(&w) {
            out.push(NotChosen {
                flag: format!("--quant {q}"),
                verdict: Verdict::new(bytes, usable),
                why: format!(
                    "needs a pre-quantized {} checkpoint (a different download), so it is not chosen",
                    q.split('-').next().unwrap_or(q).to_uppercase()
                ),
            });
        }
    }
    out
}

/// Decide whether `workload` fits one GPU of `gpu` (with the headroom policy), and search
/// ranked plans that fit when it does not (or always, with [`FitOptions::all`]).
///
/// # Errors
/// The workload is invalid, asks for what the GPU cannot run, or cannot be estimated.
pub fn fit(spec: &ModelSpec, workload: &Workload, gpu: &GpuSpec, options: FitOptions) -> Result<FitReport> {
    workload.check()?;
    let caps = Capabilities::of(gpu);
    let usable = gpu.usable_bytes;
    // Where estimate starts on this GPU too: its stack, a serving engine's device, the
    // capability check, the GPU's defaults.
    let (start, mut notes) = super::on_gpu(spec, workload, gpu)?;
    if !start.backend.runs_bitsandbytes() {
        notes.push(format!(
            "{} runs Metal: plans with bitsandbytes (int8, nf4, QLoRA, 8-bit optimizers) or CPU offload are left out (no Metal kernels; unified memory); quantized inference on a Mac runs GGUF under llama.cpp (--runtime llama.cpp --quant q4_k_m)",
            gpu.label
        ));
    }
    let breakdown = estimate(spec, &start)?;
    let verdict = Verdict::new(breakdown.total_bytes(), usable);
    let mut judge = Judge { spec, usable_bytes: usable, estimates: 1 };
    let multi = gpu.count > 1 && start.parallel.gpus() == 1;
    if multi {
        notes.push(format!(
            "--gpus 1: every number here is for one of the {} GPUs holding the whole workload",
            gpu.count
        ));
    }
    if !caps.known {
        notes.push(format!(
            "{} is a bare memory size: bf16 and FlashAttention-2 are assumed available, fp8 is not",
            gpu.label
        ));
    }
    if matches!(start.task, Task::Merge) {
        notes.push("merging has no levers modelled: only the verdict is given".into());
    }

    let explicit_fp32 = workload.dtype == Some(DType::Fp32);
    let mut plans: Vec<Plan> = vec![];
    let mut truncated = false;
    if (!verdict.fits || options.all) && start.task != Task::Merge {
        let (axes, method_axis) = axes(spec, &start, caps, explicit_fp32);
        let mut fitting: Vec<Config> = vec![];
        let mut cut_at: Vec<(Config, bool)> = vec![];
        for cfg in configs(&axes, method_axis) {
            let empty = cfg.iter().all(|&c| c == 0);
            if empty && verdict.fits {
                continue;
            }
            if fitting.iter().any(|f| subset(f, &cfg)) {
                continue;
            }
            if judge.estimates >= MAX_ESTIMATES {
                truncated = true;
                break;
            }
            let changes: Vec<Change> = axes
                .iter()
                .zip(&cfg)
                .filter(|(_, &c)| c > 0)
                .map(|(a, &c)| a.choices[usize::from(c) - 1].clone())
                .collect();
            let mut w = start.clone();
            for c in &changes {
                c.apply(&mut w);
            }
            // Only plans this GPU's stack runs (no bitsandbytes or CPU offload on Metal).
            if gpu.gpu.as_ref().is_some_and(|g| super::capability::check_on(spec, &w, g).is_err()) {
                continue;
            }
            judge.estimates += 1;
            let Ok(b) = estimate(spec, &w) else { continue };
            if Verdict::new(b.total_bytes(), usable).fits {
                if !empty {
                    plans.push(plan_from(changes, w, &b, usable));
                    fitting.push(cfg);
                }
                continue;
            }
            // A cut that keeps the asked sizes (a smaller micro-batch, the same update) covers
            // every superset; one that truncates the context does not: a superset (gradient
            // checkpointing, say) may keep the asked length, and such a plan must be offered.
            let truncated_below = cut_at.iter().any(|(f, truncates)| *truncates && subset(f, &cfg));
            if cut_at.iter().any(|(f, truncates)| !truncates && subset(f, &cfg)) {
                continue;
            }
            if let Some((more, x)) = cut(&mut judge, &start, &w) {
                let truncates = more.iter().any(|c| c.lever == LeverKind::Context);
                if truncates && truncated_below {
                    continue;
                }
                if let Ok(bx) = estimate(spec, &x) {
                    let mut all = changes;
                    all.extend(more);
                    plans.push(plan_from(all, x, &bx, usable));
                    cut_at.push((cfg, truncates));
                }
            }
        }
        if !verdict.fits && start.profile().engine == crate::estimate::profile::Engine::LlamaCpp {
            // llama.cpp keeps what does not fit in CPU RAM: the most blocks that fit on the GPU.
            let n_layer = spec.num_layers();
            let with = |n: u64| {
                let mut w = start.clone();
                w.llama_cpp.n_gpu_layers = Some(n);
                w
            };
            let fits = |n: u64| estimate(spec, &with(n)).is_ok_and(|b| Verdict::new(b.total_bytes(), usable).fits);
            if let Some(n) = largest_fitting(0, n_layer, fits) {
                if let Ok(b) = estimate(spec, &with(n)) {
                    let behaviour = start.profile().inference.llamacpp;
                    let first = behaviour.map_or(n_layer.saturating_sub(n), |bh| bh.first_gpu_layer(n_layer, n));
                    plans.push(plan_from(vec![super::lever::gpu_layers(n, n_layer, first)], with(n), &b, usable));
                }
            }
            // A MoE model can keep every block on the GPU and only the routed experts of the
            // first blocks in CPU RAM (`--n-cpu-moe`): the fewest such blocks that fit.
            if spec.layers.iter().any(|l| l.mlp.is_moe()) {
                let with_moe = |n: u64| {
                    let mut w = start.clone();
                    w.llama_cpp.n_cpu_moe = Some(n);
                    w
                };
                let fits_moe = |on_gpu: u64| {
                    estimate(spec, &with_moe(n_layer - on_gpu))
                        .is_ok_and(|b| Verdict::new(b.total_bytes(), usable).fits)
                };
                if let Some(on_gpu) = largest_fitting(0, n_layer, fits_moe) {
                    let n = n_layer - on_gpu;
                    if let Ok(b) = estimate(spec, &with_moe(n)) {
                        plans.push(plan_from(vec![super::lever::cpu_experts(n, n_layer)], with_moe(n), &b, usable));
                    }
                }
            }
        }
        if verdict.fits {
            // Alternatives to a workload that fits are only worth listing if they buy room.
            plans.retain(|p| p.verdict.per_gpu_bytes < verdict.per_gpu_bytes);
        }
        for p in &mut plans {
            p.speed_estimate = price(spec, &p.workload, gpu, options.ram_bandwidth);
        }
        plans.sort_by_key(Plan::rank_key);
        if options.prefer_speed {
            plans.sort_by(|a, b| {
                let r = |p: &Plan| p.speed_estimate.map_or(0.0, |s| s.rate());
                r(b).total_cmp(&r(a))
            });
        }
        for p in &mut plans {
            if judge.estimates >= MAX_ESTIMATES {
                truncated = true;
                break;
            }
            p.limits = Some(judge.limits(&p.workload));
            p.stretch = stretch(&mut judge, &axes, p);
        }
    }
    if truncated {
        notes.push(format!("the search stopped after {MAX_ESTIMATES} estimates: some plans or limits are missing"));
    }
    let limits = judge.limits(&start);
    let gpus = GpuLimits {
        min_gpus: verdict.fits.then_some(1),
        min_gpus_lower_bound: (!verdict.fits).then(|| min_gpus_lower_bound(verdict.per_gpu_bytes, usable)).flatten(),
        gpus_that_fit: gpus_that_fit(spec, &start, verdict.per_gpu_bytes, 5),
    };
    if let Some(note) = offload_cliff(spec, &start, gpu, &plans, verdict.per_gpu_bytes, options.ram_bandwidth) {
        notes.push(note);
    }
    let not_chosen = prequantized(&mut judge, spec, &start, usable);
    Ok(FitReport {
        gpu: gpu.clone(),
        capabilities: caps,
        as_asked: Assessment { workload: start, breakdown, verdict },
        limits,
        gpus,
        plans,
        not_chosen,
        notes,
        multi_gpu_not_modelled: multi,
        prefer_speed: options.prefer_speed,
        estimates: judge.estimates,
        truncated,
    })
}

/// With weights in CPU RAM, how much faster the next catalog GPU up (same vendor and class,
/// the smallest that holds the workload as asked) would run it.
fn offload_cliff(
    spec: &ModelSpec,
    start: &Workload,
    gpu: &GpuSpec,
    plans: &[Plan],
    needed: u64,
    ram: Option<f64>,
) -> Option<String> {
    let asked = gpu.gpu.as_ref()?;
    // The fastest plan that keeps weights in CPU RAM (`-ngl` or `--n-cpu-moe`).
    let offloads = |p: &&Plan| {
        p.changes
            .iter()
            .any(|c| matches!(c.lever, super::lever::LeverKind::GpuLayers | super::lever::LeverKind::CpuExperts))
    };
    let rate = |p: &Plan| p.speed_estimate.and_then(|s| s.decode_tokens_per_s).unwrap_or(0.0);
    let plan = plans.iter().filter(offloads).max_by(|a, b| rate(a).total_cmp(&rate(b)))?;
    let slow = plan.speed_estimate?.decode_tokens_per_s?;
    let next = crate::catalog::gpus()
        .iter()
        .filter(|g| g.vendor == asked.vendor && g.class == asked.class && g.name != asked.name)
        .filter(|g| Verdict::new(needed, g.usable_bytes).fits)
        .min_by_key(|g| (g.usable_bytes, std::cmp::Reverse(g.bandwidth_gb_s)))?;
    let spec_next =
        GpuSpec { gpu: Some(next.clone()), count: 1, usable_bytes: next.usable_bytes, label: next.name.clone() };
    let fast = price(spec, start, &spec_next, ram)?.decode_tokens_per_s?;
    Some(format!(
        "partial offload: {} runs at about {slow:.1} tokens/s; on one {} ({} GB, the smallest {} card that holds it whole) about {fast:.1} tokens/s, {:.1}× faster",
        plan.flags(),
        next.name,
        next.memory_bytes >> 30,
        asked.class,
        fast / slow
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets() {
        assert!(subset(&vec![0, 0], &vec![1, 2]));
        assert!(subset(&vec![1, 0], &vec![1, 2]));
        assert!(!subset(&vec![2, 0], &vec![1, 2]));
        assert!(subset(&vec![1, 2], &vec![1, 2]));
    }
}
