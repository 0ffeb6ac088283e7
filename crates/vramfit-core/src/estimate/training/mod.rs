//! Training and fine-tuning memory. The peak is the largest of four moments of a steady-state
//! step (optimizer states exist from the first step on):
//!
//! - end of forward: weights, optimizer state, (accumulated gradients), autocast weight
//!   copies, every saved activation, and the loss's logits;
//! - start of backward: the same with the loss's gradients in place of its forward temporaries;
//! - end of backward: all gradients, activations freed;
//! - optimizer step: gradients, states and the step's temporaries.

pub mod merge;
pub mod optimizer;
pub mod peft;
pub mod saved;
pub mod setup;
mod step;

use self::peft::Targets;
use self::setup::{Method, Optimizer, Precision};
use self::step::{ActivationParts, OptimizerParts, Step};
use super::breakdown::{prod, thousands, Breakdown, Component};
use super::component::ComponentKind;
use super::overhead;
use super::phase::Phase;
use super::profile::{DefaultPrecision, NoSyncUnits};
use super::weights::WeightBytes;
use super::workload::Workload;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::model::{ModelSpec, ParamCount};
use crate::quant::QuantConfig;

/// The settings after the runtime's defaults are applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Precision policy.
    pub precision: Precision,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Dtype of the frozen or trained base weights.
    pub base: DType,
    /// Dtype of adapter weights.
    pub adapter: DType,
    /// Chunked cross-entropy.
    pub chunked_ce: bool,
    /// LoRA targets.
    pub targets: Targets,
    /// LoRA dropout active.
    pub lora_dropout: bool,
    /// Non-quantized parameters upcast to fp32 (PEFT `prepare_model_for_kbit_training`).
    pub kbit_fp32: bool,
    /// Notes on defaults applied.
    pub notes: Vec<String>,
}

/// Apply the runtime's defaults.
///
/// # Errors
/// Unknown LoRA targets.
pub fn resolve(spec: &ModelSpec, w: &Workload) -> Result<Resolved> {
    let profile = w.profile();
    let Some(tp) = profile.training else {
        return Err(Error::workload(
            "--runtime",
            format!("{} does not train; use transformers, torchtune or litgpt", profile.name()),
        ));
    };
    let t = &w.training;
    let (model_dtype, dtype_note) = super::defaults::load_dtype(spec, w);
    let half = if model_dtype == DType::Fp32 { DType::Bf16 } else { model_dtype };
    let mut notes = vec![];
    let precision = t.precision.unwrap_or(match tp.default_precision {
        DefaultPrecision::Mixed => Precision::Mixed(half),
        DefaultPrecision::Pure => Precision::Pure(half),
        DefaultPrecision::AsLoaded if model_dtype == DType::Fp32 => Precision::Fp32,
        DefaultPrecision::AsLoaded => Precision::Pure(half),
    });
    notes.extend(dtype_note);
    if t.precision.is_none() {
        notes.push(match tp.default_precision {
            DefaultPrecision::AsLoaded => format!(
                "no --precision: {}, the Trainer's default (no --bf16/--fp16: the model trains as loaded, no autocast); --precision {} for mixed precision",
                precision.name(),
                // fp16 where the model loads in fp16 (or a GPU without bf16 made it so).
                if half == DType::Fp16 { "fp16" } else { "bf16" }
            ),
            _ => format!("no --precision: {} ({} default)", precision.name(), profile.name()),
        });
    }
    let optimizer = t.optimizer.unwrap_or(tp.default_optimizer);
    if t.optimizer.is_none() {
        notes.push(format!("optimizer {} ({} default)", optimizer.name(), profile.name()));
    }
    let base = match (precision, t.method) {
        (Precision::Fp32, _) => DType::Fp32,
        // Mixed-precision full fine-tuning keeps fp32 master weights.
        (Precision::Mixed(_), Method::Full) => DType::Fp32,
        // Adapters on a frozen base: the base stays as loaded.
        (Precision::Mixed(_), _) => w.dtype.unwrap_or(model_dtype),
        (Precision::Pure(d), _) => d,
    };
    let adapter = match precision {
        _ if tp.adapters_fp32 => DType::Fp32,
        Precision::Fp32 | Precision::Mixed(_) => DType::Fp32,
        Precision::Pure(d) => d,
    };
    let chunked_ce = t.chunked_ce.unwrap_or(tp.chunked_ce);
    let targets = Targets::parse(if t.lora_targets.is_empty() { &[] } else { &t.lora_targets })?;
    let targets = if targets.roles.is_empty() && !targets.all_linear && t.method.is_lora() {
        Targets::parse(&peft::default_targets())?
    } else {
        targets
    };
    let lora_dropout = t.lora_dropout.unwrap_or(tp.lora_dropout_per_mille) > 0;
    let kbit_fp32 = t.method == Method::Qlora && tp.kbit_upcast;
    Ok(Resolved { precision, optimizer, base, adapter, chunked_ce, targets, lora_dropout, kbit_fp32, notes })
}

/// Estimate a training step.
///
/// # Errors
/// Settings vramfit does not model yet, or contradictory ones.
pub fn estimate_training(spec: &ModelSpec, w: &Workload) -> Result<Breakdown> {
    let step = Step::new(spec, w)?;
    let mut notes = step.res.notes.clone();
    let wb = step.weight_bytes();
    let weights = step.weights(&wb);
    let optimizer = step.optimizer(&mut notes);
    let autocast_copies = step.autocast_copies(&wb);
    let activations = step.activations(&mut notes);
    let loss = step.loss();
    let dequant = step.dequantization(&wb);
    let mut phases = phases(&step, weights, &optimizer, autocast_copies, &activations, loss, dequant).to_vec();
    if let Some(init) = step.initialisation(&wb) {
        phases.push((Phase::ModelInitialisation, init));
    }
    shard_phases(&step, &mut phases, &mut notes);
    Ok(peak(&step, phases, &wb, &optimizer, activations.host, notes))
}

/// A moment of the step and the components alive then.
type Moment = (Phase, Vec<Component>);

/// The five moments of a steady-state step.
fn phases(
    step: &Step<'_>,
    weights: Vec<Component>,
    opt: &OptimizerParts,
    autocast_copies: Component,
    act: &ActivationParts,
    (loss_fwd, loss_bwd): (Component, Component),
    dequant: Component,
) -> [Moment; 5] {
    let (spec, t, full, tb, h) = (step.spec, &step.w.training, step.full, step.tb, step.spec.hidden_size);
    let head_numel = step.head_numel();
    let accum_grads = t.grad_accum > 1 && !t.optimizer_in_backward;
    let mut base = weights.clone();
    base.push(opt.states.clone());
    if accum_grads {
        base.push(opt.gradients.clone());
    }
    let mut fwd = base.clone();
    fwd.extend([autocast_copies.clone(), act.activations.clone(), loss_fwd, dequant.clone()]);
    // Backward first differentiates the loss (its temporaries are freed before the layers
    // start), then the layers from the top: one layer's gradients (and, checkpointed, its
    // recomputed activations) at a time.
    let mut bwd_loss = base.clone();
    bwd_loss.extend([autocast_copies.clone(), act.activations.clone(), loss_bwd, dequant.clone()]);
    let mut bwd = base;
    bwd.extend([
        autocast_copies,
        act.activations.clone(),
        act.backward_working_set.clone(),
        act.recompute.clone(),
        dequant.clone(),
    ]);
    // The head's weight gradient exists from the loss onwards, while every layer's
    // activations are still alive: in .grad, or, for a tied embedding, in autograd's input
    // buffer until the embedding's own gradient arrives at the very end (so even an optimizer
    // step in backward cannot free it early). A chunked head adds each chunk's full-size
    // weight gradient into that buffer: two copies for a moment during the loss.
    if full && !accum_grads && head_numel > 0 && (!t.optimizer_in_backward || spec.tied_embeddings) {
        let g = prod(&[head_numel, tb]);
        bwd.push(Component::new(
            ComponentKind::HeadGradient,
            g,
            format!(
                "the head's weight gradient V × h × {tb} B = {} × {tb}, held through the layers' backward",
                thousands(head_numel)
            ),
            "autograd AccumulateGrad / InputBuffer (tied weights accumulate both uses before the hook)",
        ));
    }
    if full && step.res.chunked_ce && head_numel > 0 {
        let copies = if accum_grads { 1 } else { 2 };
        bwd_loss.push(Component::new(
            ComponentKind::HeadGradient,
            prod(&[head_numel, tb, copies]),
            format!("chunked head: the accumulated weight gradient plus the next chunk's, {copies} × V × h × {tb} B = {copies} × {} × {tb}", thousands(head_numel)),
            "autograd InputBuffer accumulation over the head's chunks",
        ));
    }
    // A tied embedding receives two gradients: the head's, then the embedding lookup's dense
    // gradient, materialized in full before it is accumulated into the same .grad (or into
    // the input buffer that the optimizer-in-backward hook reads).
    let tied_grad = if full && spec.tied_embeddings {
        // autograd adds the two out of place (InputBuffer), so the head's share, the dense
        // embedding gradient and their sum (the new .grad, counted with the gradients) are
        // alive together.
        Component::new(
            ComponentKind::EmbeddingGradient,
            prod(&[spec.vocab_size, h, tb, 2]),
            format!(
                "the tied head's gradient and the dense embedding gradient, V × h × {tb} B each, summed out of place into .grad = 2 × {} × {h} × {tb}",
                thousands(spec.vocab_size)
            ),
            "aten embedding_dense_backward + autograd InputBuffer accumulation",
        )
    } else {
        Component::new(ComponentKind::EmbeddingGradient, 0, "", "")
    };
    let mut bwd_end = weights.clone();
    bwd_end.push(tied_grad);
    bwd_end.extend([
        opt.states.clone(),
        opt.gradients.clone(),
        act.backward_working_set.clone(),
        dequant,
        act.recompute.clone(),
    ]);
    if t.grad_ckpt {
        bwd_end.push(Component::new(
            ComponentKind::Activations,
            prod(&[step.tokens, h, act.resid]),
            "the first layer's checkpointed input",
            "torch.utils.checkpoint",
        ));
    } else if !t.activation_offload {
        // The first layer's saved tensors are the last to be freed.
        bwd_end.push(Component::new(
            ComponentKind::Activations,
            act.busiest,
            format!("the first layer's saved tensors, freed last: {}", act.busiest_desc),
            "autograd saved tensors",
        ));
    }
    let mut opt_step = weights;
    opt_step.extend([opt.states.clone(), opt.gradients.clone(), opt.step_temporaries.clone()]);
    [
        (Phase::Forward, fwd),
        (Phase::BackwardLoss, bwd_loss),
        (Phase::BackwardLayers, bwd),
        (Phase::EndOfBackward, bwd_end),
        (Phase::OptimizerStep, opt_step),
    ]
}

/// Each phase on the most-loaded rank of a parallel layout.
fn shard_phases(step: &Step<'_>, phases: &mut [Moment], notes: &mut Vec<String>) {
    let (spec, w, t) = (step.spec, step.w, &step.w.training);
    let par = &w.parallel;
    if par.is_single() {
        return;
    }
    let shape = training_shape(
        spec,
        par,
        step.full,
        step.autocast && step.full,
        step.c,
        step.trainable,
        step.seq,
        w.batch,
        step.quant.as_ref(),
    );
    for (phase, cs) in phases.iter_mut() {
        *cs = super::parallel::shard_training_phase(cs, par, &shape, *phase);
    }
    let accum_grads = t.grad_accum > 1 && !t.optimizer_in_backward;
    if par.strategy.is_fsdp() && accum_grads && step.tp.no_sync != NoSyncUnits::None {
        unsharded_gradients(step, phases);
        notes.push(
            "FSDP with gradient accumulation: gradients stay unsharded between synchronizing micro-batches (no_sync)"
                .into(),
        );
    }
    notes.push(format!(
        "{}: per-GPU peak of the most-loaded rank; CPU RAM shown per rank (× {} per node)",
        super::parallel::describe(par),
        par.gpus_per_node
    ));
}

/// FSDP under gradient accumulation: Fabric's `no_backward_sync` and Accelerate's
/// `accumulate` enter FSDP's `no_sync()`, which keeps gradients unsharded, each flat
/// parameter's full gradient on every rank, until the synchronizing micro-batch. A flat
/// parameter has a gradient as soon as one of its parameters trains: litgpt wraps each Block
/// with its frozen weights and adapters together (all block parameters), a full fine-tune all
/// parameters; the Trainer wraps PEFT adapters in units of their own.
fn unsharded_gradients(step: &Step<'_>, phases: &mut [Moment]) {
    let (par, tb, trainable) = (&step.w.parallel, step.tb, step.trainable);
    let counts = ParamCount::of(step.spec);
    let block_params = counts
        .total
        .saturating_sub(counts.group(crate::model::ParamGroup::Embeddings))
        .saturating_sub(counts.group(crate::model::ParamGroup::LmHead));
    let (n, what) = if step.full {
        (counts.total, "every parameter")
    } else if step.tp.no_sync == NoSyncUnits::BlocksWithAdapters {
        (
            block_params.saturating_add(trainable),
            "every Block parameter (frozen weights share flat parameters with the adapters)",
        )
    } else {
        (trainable, "the adapters (wrapped in units of their own)")
    };
    let mp = par.tp.max(1) * par.pp.max(1);
    let bytes = prod(&[n, tb]) / mp;
    for (phase, cs) in phases.iter_mut() {
        if *phase == Phase::OptimizerStep {
            continue;
        }
        cs.retain(|c| c.kind != ComponentKind::Gradients || c.offloaded);
        cs.push(Component::new(
            ComponentKind::Gradients,
            bytes,
            format!("unsharded under no_sync while micro-batches accumulate: {what} = {} × {tb} B", thousands(n)),
            "torch FSDP no_sync() (Fabric no_backward_sync, Accelerate accumulate)",
        ));
    }
}

/// The largest phase, with the allocator's and CUDA's overheads and what lives on the host.
fn peak(
    step: &Step<'_>,
    phases: Vec<Moment>,
    wb: &WeightBytes,
    opt: &OptimizerParts,
    act_host: u64,
    notes: Vec<String>,
) -> Breakdown {
    let sum = |cs: &Vec<Component>| cs.iter().fold(0u64, |a, c| a.saturating_add(c.bytes));
    let (phase, components) = phases.into_iter().max_by_key(|(_, cs)| sum(cs)).expect("five phases or more");
    let mut components: Vec<Component> = components.into_iter().filter(|c| c.bytes > 0).collect();
    // Gradients and the two Adam states have the weights' shapes: the same rounding each.
    let large = wb.rounding_waste * if step.full { 4 } else { 1 };
    let transient: u64 = components
        .iter()
        .filter(|c| overhead::allocation(c.kind) == overhead::Allocation::PerStep)
        .fold(0u64, |a, c| a.saturating_add(c.bytes));
    // Activations are freed and re-allocated every step in varying sizes: the allocator keeps
    // their blocks cached and splits them imperfectly.
    components.push(overhead::allocator(large, 64, transient / 20, "5 % fragmentation of the per-step transients"));
    components.push(step.w.backend.context(step.profile.lazy_cuda_loading));
    if act_host > 0 {
        components.push(
            Component::new(
                ComponentKind::OffloadedActivations,
                act_host,
                "saved activations streamed to pinned CPU memory",
                "torchtune training.OffloadActivations",
            )
            .at(super::breakdown::Level::Host),
        );
    }
    if opt.memory.paged_state > 0 {
        components.push(
            Component::new(
                ComponentKind::PagedOptimizerState,
                opt.memory.paged_state,
                opt.memory.formula.clone(),
                "bitsandbytes paged optimizers (cudaMallocManaged)",
            )
            .at(super::breakdown::Level::Host),
        );
    }
    Breakdown::from_components(components, phase, notes)
}

/// What sharding needs to know about the model and step.
#[allow(clippy::too_many_arguments)]
fn training_shape(
    spec: &ModelSpec,
    par: &super::parallel::Parallel,
    full: bool,
    mixed_full: bool,
    c: u64,
    trainable: u64,
    seq: u64,
    batch: u64,
    quant: Option<&QuantConfig>,
) -> super::parallel::TrainingShape {
    let params = ParamCount::of(spec);
    let n_layers = spec.num_layers();
    let layer_unit_bytes = spec
        .encoder_layers
        .iter()
        .chain(&spec.layers)
        .enumerate()
        .map(|(i, l)| {
            let linears: u64 = l
                .linears
                .iter()
                .map(|x| match quant {
                    Some(q) => q.weight_bytes(x, Some((i as u64, n_layers))) + x.bias_numel() * c,
                    None => (x.weight_numel() + x.bias_numel()) * c,
                })
                .sum();
            linears + l.norms.iter().map(crate::model::Norm::numel).sum::<u64>() * c
        })
        .max()
        .unwrap_or(0);
    let embed_unit_bytes = spec.embeddings.iter().map(|e| e.numel).max().unwrap_or(0) * c;
    let experts = params.group(crate::model::ParamGroup::Experts);
    let a = spec.first_attention().map_or(1, |a| a.heads);
    let h = spec.hidden_size;
    let base = super::parallel::korthikanti_layer_activations(seq, batch, h, a, 1, false);
    let split = super::parallel::korthikanti_layer_activations(seq, batch, h, a, par.tp, par.sequence_parallel);
    super::parallel::TrainingShape {
        full,
        mixed: mixed_full,
        compute: c,
        params: params.total,
        trainable,
        layer_unit_bytes,
        embed_unit_bytes,
        expert_per_mille: experts.saturating_mul(1000) / params.total.max(1),
        tp_activation_per_mille: if base > 0.0 { ((split / base) * 1000.0).ceil() as u64 } else { 1000 },
    }
}
