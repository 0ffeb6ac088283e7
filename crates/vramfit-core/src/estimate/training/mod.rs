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

use self::optimizer::{optimizer_memory, Trainable};
use self::peft::{trainable_params, Role, Targets};
use self::saved::{backward_working_set, layer_saved, SaveContext};
use self::setup::{Method, Optimizer, Precision};
use super::breakdown::{prod, thousands, Breakdown, Component};
use super::overhead;
use super::profile::{DefaultPrecision, LossCode, NoSyncUnits};
use super::weights::{weight_bytes, QuantScope};
use super::workload::{AttnImpl, Workload};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::model::{ModelSpec, ParamCount};
use crate::quant::{Quant, QuantConfig};

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
                "no --precision: {}, the Trainer's default (no --bf16/--fp16: the model trains as loaded, no autocast); --precision bf16 for mixed precision",
                precision.name()
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
#[allow(clippy::too_many_lines)]
pub fn estimate_training(spec: &ModelSpec, w: &Workload) -> Result<Breakdown> {
    let profile = w.profile();
    let Some(tp) = profile.training else {
        return Err(Error::workload(
            "--runtime",
            format!("{} does not train; use transformers, torchtune or litgpt", profile.name()),
        ));
    };
    let hf = profile.inference.transformers.is_some();
    if !spec.encoder_layers.is_empty() && !spec.layers.is_empty() {
        return Err(Error::workload(
            "--task",
            format!("training encoder-decoder models ({}) is not modelled yet", spec.model_type),
        ));
    }
    let t = &w.training;
    if t.seq == 0 || t.seq > super::workload::MAX_TOKENS {
        return Err(Error::workload("--seq", format!("must be between 1 and {}", super::workload::MAX_TOKENS)));
    }
    if t.grad_accum == 0 || t.grad_accum > 1 << 20 {
        return Err(Error::workload("--grad-accum", "must be between 1 and 1048576"));
    }
    if t.method.is_lora() && (t.lora_rank == 0 || t.lora_rank > 1 << 16) {
        return Err(Error::workload("--lora-rank", "must be between 1 and 65536"));
    }
    let res = resolve(spec, w)?;
    let mut notes = res.notes.clone();
    let method = t.method;
    let full = method == Method::Full;
    let quant: Option<QuantConfig> = match (method, &w.quant) {
        (Method::Qlora, None) => Some(QuantConfig::parse("nf4", None)?),
        (_, q) => q.clone(),
    };
    if full && quant.is_some() {
        return Err(Error::workload(
            "--quant",
            "quantized weights cannot be fully fine-tuned; use --method qlora or lora",
        ));
    }
    let c = res.precision.compute().bytes();
    let autocast = matches!(res.precision, Precision::Mixed(_));
    // Prompt tuning prepends its virtual tokens to every sequence (PEFT concatenates them to
    // inputs_embeds and pads the labels with -100), so the whole model and the loss run on
    // seq + virtual tokens. Prefix tuning instead hands each layer virtual keys and values.
    let seq = match method {
        Method::PromptTuning => t.seq.saturating_add(t.virtual_tokens),
        _ => t.seq,
    };
    let prefix = if method == Method::PrefixTuning { t.virtual_tokens } else { 0 };
    let keys = seq.saturating_add(prefix);
    let tokens = prod(&[w.batch, seq]);
    let h = spec.hidden_size;
    // Logits: the vocabulary at every position, or a classifier's labels (at the last
    // position only for sequence classification).
    let v = spec.logit_width();
    let loss_tokens = prod(&[w.batch, spec.logit_positions(seq)]);
    let layers: Vec<&crate::model::Layer> = spec.encoder_layers.iter().chain(&spec.layers).collect();
    let n_layers = layers.len() as u64;

    // ---- weights ------------------------------------------------------------------------
    let dense_dtype = if res.kbit_fp32 { DType::Fp32 } else { res.base };
    let wb = weight_bytes(spec, dense_dtype, quant.as_ref(), QuantScope { head: profile.inference.quantized_head });
    let mut weights = vec![Component::new(
        "weights",
        wb.total,
        format!(
            "{}{}",
            wb.formula,
            if res.kbit_fp32 { " (prepare_model_for_kbit_training upcasts non-quantized params to fp32)" } else { "" }
        ),
        "exact parameter count per tensor × storage bytes",
    )];
    let trainable = trainable_params(spec, t, &res.targets, tp.fused_qkv);
    let train_dtype = if full { res.base } else { res.adapter };
    let tb = train_dtype.bytes();
    if !full {
        weights.push(Component::new(
            "adapter_weights",
            trainable * tb,
            format!("{} trainable {} params × {tb} B ({train_dtype})", thousands(trainable), method.name()),
            "PEFT tuners / litgpt lora.py / torchtune LoRALinear",
        ));
    }

    // ---- optimizer and gradients ------------------------------------------------------------
    let trainables = trainable_tensors(spec, t, &res, tb);
    let opt = optimizer_memory(res.optimizer, &trainables);
    let grads = trainable * tb;
    let largest_trainable = trainables.iter().map(|x| x.rows * x.cols * x.bytes).max().unwrap_or(0);
    let states = Component::new(
        "optimizer_state",
        opt.state,
        opt.formula.clone(),
        "torch/optim/adamw.py, bitsandbytes optim, transformers Adafactor",
    );
    let grads_c = if t.optimizer_in_backward {
        Component::new(
            "gradients",
            largest_trainable,
            format!(
                "optimizer step runs in backward: one parameter's gradient at a time (largest = {})",
                thousands(largest_trainable)
            ),
            "torchtune optimizer_in_bwd (register_post_accumulate_grad_hook)",
        )
    } else {
        Component::new(
            "gradients",
            grads,
            format!("trainable params × {tb} B = {} × {tb}", thousands(trainable)),
            "autograd .grad buffers (param dtype)",
        )
    };
    if opt.paged_state > 0 {
        notes.push(format!("paged optimizer state ({:.2} GiB) lives in unified memory and is evicted to CPU RAM under pressure: not counted on the GPU", opt.paged_state as f64 / f64::from(1u32 << 30)));
    }

    // ---- autocast weight copies ----------------------------------------------------------
    let head_numel = spec.lm_head.as_ref().map_or(0, crate::model::Linear::weight_numel);
    // A tied head is a linear too: F.linear casts the shared fp32 weight like any other.
    let tied_head = if spec.tied_embeddings { head_numel } else { 0 };
    let linear_params: u64 = spec.all_linears().map(crate::model::Linear::weight_numel).sum::<u64>() + tied_head;
    let quantized_params = wb.quantized_params;
    // litgpt runs the head in 128-token chunks; under autocast a frozen head's weight is cast
    // (not cached: it does not require grad) once per chunk, and each copy is saved for
    // backward.
    let head_chunk = tp.head_chunk.unwrap_or(0);
    let head_chunk_casts = match (&spec.lm_head, head_chunk, autocast, full) {
        (Some(head), chunk, true, false) if chunk > 0 && !spec.tied_embeddings => {
            seq.div_ceil(chunk).saturating_sub(1) * head.weight_numel()
        }
        _ => 0,
    };
    let autocast_copies = if autocast && dense_dtype.bytes() > c && head_chunk_casts > 0 {
        let n = linear_params - quantized_params.min(linear_params) + head_chunk_casts;
        Component::new(
            "autocast_weight_copies",
            n * c,
            format!("linear weights cast to {c}-byte copies kept for backward, the head once per {head_chunk}-token chunk ({} chunks) = {} × {c}", seq.div_ceil(head_chunk), thousands(n)),
            "torch autocast + litgpt GPT.forward(lm_head_chunk_size=128)",
        )
    } else if autocast && dense_dtype.bytes() > c && t.grad_ckpt {
        // Casts of frozen weights are not cached (they do not require grad), and the cache of
        // trained ones is cleared when the autocast region exits before backward; checkpointed
        // layers do not save them, so only the layer being recomputed holds its copies.
        let per_layer = if quant.is_some() {
            0
        } else {
            layers
                .iter()
                .map(|l| l.linears.iter().map(crate::model::Linear::weight_numel).sum::<u64>())
                .max()
                .unwrap_or(0)
        };
        // The head runs outside the checkpointed layers: its cast is saved for backward.
        let head = if quant.is_some() && profile.inference.quantized_head { 0 } else { head_numel };
        Component::new(
            "autocast_weight_copies",
            (per_layer + head) * c,
            format!(
                "frozen weights under checkpointing: one layer's {c}-byte casts during its recomputation ({}) + the head's, saved for backward ({}) = {} × {c}",
                thousands(per_layer),
                thousands(head),
                thousands(per_layer + head)
            ),
            "torch autocast (casts of frozen weights are not cached) + torch.utils.checkpoint",
        )
    } else if autocast && dense_dtype.bytes() > c {
        Component::new(
            "autocast_weight_copies",
            (linear_params - quantized_params.min(linear_params)) * c,
            format!(
                "{} linear weights cast to {}-byte copies, kept for backward = {} × {c}",
                thousands(linear_params - quantized_params.min(linear_params)),
                c,
                thousands(linear_params - quantized_params.min(linear_params))
            ),
            "torch autocast (weight cast cache; casts saved by F.linear for grad_input)",
        )
    } else {
        Component::new(
            "autocast_weight_copies",
            0,
            "no autocast copies (weights already in the compute dtype)",
            "torch autocast",
        )
    };

    // ---- activations ------------------------------------------------------------------------
    let resid = if full {
        res.base.bytes()
    } else if res.kbit_fp32 {
        4
    } else {
        res.base.bytes().min(4)
    };
    let resid = if autocast && !full && !res.kbit_fp32 { res.base.bytes() } else { resid };
    // transformers' Falcon: 40B/180B copy K/V to every head before attention; 7B's single
    // K/V head is broadcast inside eager attention's matmuls, which materialize the copies.
    let hf_falcon_expands =
        hf && (spec.hf_falcon_copies_kv() || (w.attn == AttnImpl::Eager && spec.hf_falcon_broadcast_kv()));
    // A prefix makes the keys longer than the queries, so transformers builds a mask, and
    // with a mask SDPA cannot take GQA natively: K/V are repeated to every query head.
    // transformers' eager attention always repeats grouped K/V to every head (`repeat_kv`;
    // only SDPA takes `enable_gqa`), and the matmuls keep the repeated copies.
    let expand_kv =
        tp.always_repeats_kv || prefix > 0 || hf_falcon_expands || (tp.eager_repeats_kv && w.attn == AttnImpl::Eager);
    let attn = if w.attn == AttnImpl::Sdpa
        && ((profile.inference.sdpa_math_for_fp32_gqa && c == 4 && spec.gqa_unmasked(seq) && prefix == 0)
            || (hf && spec.hf_falcon_broadcast_kv()))
    {
        notes.push("SDPA falls back to its math kernel here: the attention probabilities are saved".into());
        AttnImpl::Math
    } else {
        w.attn
    };
    let ctx = SaveContext {
        resid,
        compute: c,
        autocast,
        adapter: if autocast { c } else { res.adapter.bytes() },
        full,
        norms_train: full || method == Method::AdapterV2,
        quant_saves_input: quant.as_ref().is_some_and(QuantConfig::is_bitsandbytes),
        lora_dropout: res.lora_dropout && method.is_lora(),
        targets: &res.targets,
        attn,
        expand_kv,
        attn_dropout: tp.dropout && spec.dropout.attention > 0 && attn == AttnImpl::Eager,
        hidden_dropout: tp.dropout && spec.dropout.hidden > 0,
        compile: t.compile,
        attn_softcap: spec.softcap.attention,
        ln_fp32: autocast,
        fused_qkv: tp.fused_qkv,
        rotary: tp.forces_rotary || matches!(spec.positions, crate::model::Positions::Rotary { .. }),
        single_sequence: w.batch == 1,
        hf_activations: hf,
        softmax: spec.eager_softmax,
        norm_weight_fp32: spec.norm_weight_fp32 && tp.norm_weight_fp32,
    };
    // Only FlashAttention restricts a sliding-window layer's keys; eager and math attention
    // compute every score and mask the ones outside the window.
    let seq_keys = |l: &crate::model::Layer| match (attn, l.attention.window) {
        (AttnImpl::Flash, Some(win)) => keys.min(win),
        _ => keys,
    };
    // Layers whose inputs need gradients (litgpt adapters start at layer 2; everything else
    // trains something at or below layer 0).
    let first_grad_layer =
        if matches!(method, Method::Adapter | Method::AdapterV2) { peft::ADAPTER_START_LAYER.min(n_layers) } else { 0 };
    let mut saved_total = 0u64;
    let mut busiest = 0u64;
    let mut busiest_desc = String::new();
    let mut bwd_ws = 0u64;
    for (i, layer) in layers.iter().enumerate() {
        if (i as u64) < first_grad_layer {
            continue;
        }
        let s = layer_saved(layer, h, &ctx);
        let per_token = s.per_token(seq_keys(layer));
        let bytes = prod(&[tokens, per_token]);
        saved_total = saved_total.saturating_add(bytes);
        if bytes > busiest {
            busiest = bytes;
            busiest_desc = format!("{} = {} B/token", s.describe(seq_keys(layer)), thousands(per_token));
        }
        // The MLP is differentiated first; by the time attention's backward builds its
        // gradients, the MLP half's saved tensors are gone.
        let (mlp_ws, attn_ws) = backward_working_set(layer, h, resid, c, attn, seq_keys(layer), spec.eager_softmax);
        bwd_ws = bwd_ws.max(prod(&[tokens, mlp_ws.max(attn_ws.saturating_sub(s.mlp_side))]));
    }
    // Final norm and the head's input.
    let head_trains = full || res.targets.roles.contains(&Role::Head);
    let head_saved = prod(&[tokens, h, if ctx.compile { resid } else { 4 } + if head_trains { c } else { 0 }]);
    let ckpt_inputs = prod(&[tokens, h, resid, n_layers - first_grad_layer]);
    let (act_bytes, act_formula, act_src) = if t.grad_ckpt {
        (
            ckpt_inputs.saturating_add(head_saved),
            format!(
                "checkpointed: layer inputs tokens × h × {resid} B × {} layers = {} × {h} × {resid} × {}; recomputed layer in backward: {busiest_desc}",
                n_layers - first_grad_layer,
                thousands(tokens),
                n_layers - first_grad_layer
            ),
            "torch.utils.checkpoint per decoder layer (transformers gradient_checkpointing_enable, torchtune/litgpt ac)",
        )
    } else {
        (
            saved_total.saturating_add(head_saved),
            format!("saved for backward, per layer per token: {busiest_desc}; × {} tokens × {} layers + final norm/head inputs", thousands(tokens), n_layers - first_grad_layer),
            "autograd saved tensors per op (Korthikanti et al. 2022 §4, counted for this implementation)",
        )
    };
    // Prefix tuning: the prompt encoder's output (adapter dtype) becomes a cache whose
    // per-layer K/V are concatenated with the sequence's own (the cache keeps the
    // concatenation), and the repeated prefix K/V are saved by attention too.
    let (act_bytes, act_formula) = if prefix > 0 {
        let mut extra = 0u64;
        for layer in &layers {
            let a = &layer.attention;
            let expanded = a.heads * (a.head_dim + a.v_head_dim);
            extra = extra
                .saturating_add(prod(&[w.batch, prefix, a.kv_width(), res.adapter.bytes()]))
                .saturating_add(prod(&[w.batch, keys, a.kv_width(), c]))
                .saturating_add(prod(&[w.batch, prefix, expanded, c]));
        }
        (
            act_bytes.saturating_add(extra),
            format!("{act_formula}; prefix tuning: {prefix} virtual tokens' K/V per layer (encoder output, the cache's concatenated K/V over {keys} keys, repeated prefix K/V) = {} B", thousands(extra)),
        )
    } else {
        (act_bytes, act_formula)
    };
    let (act_gpu, act_host) = if t.activation_offload {
        // Offloading streams each layer's saved tensors to CPU; about two layers' worth are in
        // flight on the GPU (torchtune OffloadActivations, one stream).
        let unit = if t.grad_ckpt { prod(&[tokens, h, resid]) } else { busiest };
        let kept = unit.saturating_mul(2).min(act_bytes);
        (kept, act_bytes - kept)
    } else {
        (act_bytes, 0)
    };
    let activations = Component::new(
        "activations",
        act_gpu,
        if t.activation_offload {
            format!("{act_formula}; offloaded to CPU except ~2 layers in flight ({} B on host)", thousands(act_host))
        } else {
            act_formula
        },
        act_src,
    );
    let recompute = Component::new(
        "recomputed_layer",
        if t.grad_ckpt { busiest } else { 0 },
        format!("one layer's saved tensors rebuilt during backward: {busiest_desc}"),
        "torch.utils.checkpoint recomputation",
    );

    // ---- loss ------------------------------------------------------------------------------
    let (loss_fwd, loss_bwd, loss_desc) = if spec.lm_head.is_some() {
        let (f, b, d) = loss_terms(tp.loss, res.chunked_ce, t.compile, c, loss_tokens, v);
        if spec.softcap.logits && !res.chunked_ce {
            // cap · tanh(logits / cap): the tanh output is kept for backward, next to the copy.
            let extra = prod(&[loss_tokens, v, c]);
            (f + extra, b + extra, format!("{d}; soft-capped logits keep their tanh output ({c} B)"))
        } else {
            (f, b, d)
        }
    } else {
        (0, 0, "no language-model head: a classification head's loss is negligible".to_string())
    };
    let loss_fwd_c = Component::new(
        "logits_and_loss",
        loss_fwd,
        format!("forward: {loss_desc}"),
        "transformers loss_utils.ForCausalLMLoss / litgpt chunked_cross_entropy / torchtune CEWithChunkedOutputLoss",
    );
    let loss_bwd_c = Component::new(
        "logits_and_loss",
        loss_bwd,
        format!("backward start: {loss_desc}"),
        "log_softmax backward: saved output + incoming and outgoing gradients",
    );
    let bwd_ws_c = Component::new("backward_working_set", bwd_ws, "gradients of the residual stream (2·h) and of the MLP intermediates (3·I) for the layer being differentiated, × tokens", "autograd engine, one layer at a time");
    let dequant = match quant.as_ref().map(|q| &q.quant) {
        Some(Quant::Bnb4 { .. } | Quant::BnbInt8) => Component::new(
            "dequantization_temporaries",
            wb.largest_quantized * c,
            format!(
                "largest quantized linear dequantized to {c} B for each forward and backward matmul = {} × {c}",
                thousands(wb.largest_quantized)
            ),
            "bitsandbytes MatMul4Bit (dequantize_4bit per call)",
        ),
        _ => Component::new("dequantization_temporaries", 0, "no quantized weights", ""),
    };
    let step_temp = Component::new(
        "optimizer_step_temporaries",
        if t.optimizer_in_backward { 0 } else { opt.step_temp },
        opt.temp_formula.clone(),
        "torch/optim/adamw.py _multi_tensor_adamw; transformers Adafactor.step",
    );

    // ---- phases -------------------------------------------------------------------------------
    let accum_grads = t.grad_accum > 1 && !t.optimizer_in_backward;
    let mut base = weights.clone();
    base.push(states.clone());
    if accum_grads {
        base.push(grads_c.clone());
    }
    let mut fwd = base.clone();
    fwd.extend([autocast_copies.clone(), activations.clone(), loss_fwd_c, dequant.clone()]);
    // Backward first differentiates the loss (its temporaries are freed before the layers
    // start), then the layers from the top: one layer's gradients (and, checkpointed, its
    // recomputed activations) at a time.
    let mut bwd_loss = base.clone();
    bwd_loss.extend([autocast_copies.clone(), activations.clone(), loss_bwd_c, dequant.clone()]);
    let mut bwd = base.clone();
    bwd.extend([autocast_copies.clone(), activations.clone(), bwd_ws_c.clone(), recompute.clone(), dequant.clone()]);
    // The head's weight gradient exists from the loss onwards, while every layer's
    // activations are still alive: in .grad, or, for a tied embedding, in autograd's input
    // buffer until the embedding's own gradient arrives at the very end (so even an optimizer
    // step in backward cannot free it early). A chunked head adds each chunk's full-size
    // weight gradient into that buffer: two copies for a moment during the loss.
    if full && !accum_grads && head_numel > 0 && (!t.optimizer_in_backward || spec.tied_embeddings) {
        let g = prod(&[head_numel, tb]);
        bwd.push(Component::new(
            "head_gradient",
            g,
            format!(
                "the head's weight gradient V × h × {tb} B = {} × {tb}, held through the layers' backward",
                thousands(head_numel)
            ),
            "autograd AccumulateGrad / InputBuffer (tied weights accumulate both uses before the hook)",
        ));
    }
    if full && res.chunked_ce && head_numel > 0 {
        let copies = if accum_grads { 1 } else { 2 };
        bwd_loss.push(Component::new(
            "head_gradient",
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
            "embedding_gradient",
            prod(&[spec.vocab_size, h, tb, 2]),
            format!(
                "the tied head's gradient and the dense embedding gradient, V × h × {tb} B each, summed out of place into .grad = 2 × {} × {h} × {tb}",
                thousands(spec.vocab_size)
            ),
            "aten embedding_dense_backward + autograd InputBuffer accumulation",
        )
    } else {
        Component::new("embedding_gradient", 0, "", "")
    };
    let mut bwd_end = weights.clone();
    bwd_end.push(tied_grad);
    bwd_end.extend([states.clone(), grads_c.clone(), bwd_ws_c, dequant, recompute]);
    if t.grad_ckpt {
        bwd_end.push(Component::new(
            "activations",
            prod(&[tokens, h, resid]),
            "the first layer's checkpointed input",
            "torch.utils.checkpoint",
        ));
    } else if !t.activation_offload {
        // The first layer's saved tensors are the last to be freed.
        bwd_end.push(Component::new(
            "activations",
            busiest,
            format!("the first layer's saved tensors, freed last: {busiest_desc}"),
            "autograd saved tensors",
        ));
    }
    let mut step = weights;
    step.extend([states, grads_c, step_temp]);
    let mut phases = [
        ("forward", fwd),
        ("backward (loss)", bwd_loss),
        ("backward (layers)", bwd),
        ("end of backward", bwd_end),
        ("optimizer step", step),
    ];
    let par = &w.parallel;
    if !par.is_single() {
        let shape = training_shape(spec, par, full, autocast && full, c, trainable, seq, w.batch, quant.as_ref());
        for (name, cs) in &mut phases {
            *cs = super::parallel::shard_training_phase(cs, par, &shape, name);
        }
        // FSDP under gradient accumulation: Fabric's `no_backward_sync` and Accelerate's
        // `accumulate` enter FSDP's `no_sync()`, which keeps gradients unsharded, each flat
        // parameter's full gradient on every rank, until the synchronizing micro-batch. A flat
        // parameter has a gradient as soon as one of its parameters trains: litgpt wraps each
        // Block with its frozen weights and adapters together (all block parameters), a full
        // fine-tune all parameters; the Trainer wraps PEFT adapters in units of their own.
        if par.strategy.is_fsdp() && accum_grads && tp.no_sync != NoSyncUnits::None {
            let counts = ParamCount::of(spec);
            let block_params = counts
                .total
                .saturating_sub(counts.group(crate::model::ParamGroup::Embeddings))
                .saturating_sub(counts.group(crate::model::ParamGroup::LmHead));
            let (n, what) = if full {
                (counts.total, "every parameter")
            } else if tp.no_sync == NoSyncUnits::BlocksWithAdapters {
                (
                    block_params.saturating_add(trainable),
                    "every Block parameter (frozen weights share flat parameters with the adapters)",
                )
            } else {
                (trainable, "the adapters (wrapped in units of their own)")
            };
            let mp = par.tp.max(1) * par.pp.max(1);
            let bytes = prod(&[n, tb]) / mp;
            for (name, cs) in &mut phases {
                if *name == "optimizer step" {
                    continue;
                }
                cs.retain(|c| c.name != "gradients");
                cs.push(Component::new(
                    "gradients",
                    bytes,
                    format!(
                        "unsharded under no_sync while micro-batches accumulate: {what} = {} × {tb} B",
                        thousands(n)
                    ),
                    "torch FSDP no_sync() (Fabric no_backward_sync, Accelerate accumulate)",
                ));
            }
            notes.push("FSDP with gradient accumulation: gradients stay unsharded between synchronizing micro-batches (no_sync)".into());
        }
        notes.push(format!(
            "{}: per-GPU peak of the most-loaded rank; CPU RAM shown per rank (× {} per node)",
            super::parallel::describe(par),
            par.gpus_per_node
        ));
    }
    let sum = |cs: &Vec<Component>| cs.iter().fold(0u64, |a, c| a.saturating_add(c.bytes));
    let (phase, components) = phases.into_iter().max_by_key(|(_, cs)| sum(cs)).expect("five phases");
    let mut components: Vec<Component> = components.into_iter().filter(|c| c.bytes > 0).collect();
    // Gradients and the two Adam states have the weights' shapes: the same rounding each.
    let large = wb.rounding_waste * if full { 4 } else { 1 };
    let transient: u64 = components
        .iter()
        .filter(|c| {
            matches!(c.name.as_str(), "activations" | "logits_and_loss" | "backward_working_set" | "recomputed_layer")
        })
        .fold(0u64, |a, c| a.saturating_add(c.bytes));
    // Activations are freed and re-allocated every step in varying sizes: the allocator keeps
    // their blocks cached and splits them imperfectly.
    components.push(overhead::allocator(large, 64, transient / 20, "5 % fragmentation of the per-step transients"));
    components.push(overhead::cuda_context(profile.lazy_cuda_loading));
    if act_host > 0 {
        components.push(
            Component::new(
                "offloaded_activations",
                act_host,
                "saved activations streamed to pinned CPU memory",
                "torchtune training.OffloadActivations",
            )
            .at(super::breakdown::Level::Host),
        );
    }
    if opt.paged_state > 0 {
        components.push(
            Component::new(
                "paged_optimizer_state",
                opt.paged_state,
                opt.formula.clone(),
                "bitsandbytes paged optimizers (cudaMallocManaged)",
            )
            .at(super::breakdown::Level::Host),
        );
    }
    Ok(Breakdown::from_components(components, phase, notes))
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

/// Bytes of the logits and cross-entropy at the end of forward and the start of backward.
fn loss_terms(code: LossCode, chunked: bool, compiled: bool, c: u64, tokens: u64, v: u64) -> (u64, u64, String) {
    let tv = prod(&[tokens, v]);
    match (code, chunked) {
        // torchtune before 0.3: the model returns fp32 logits, the recipe shifts them with a
        // contiguous copy and keeps them (no `del logits`) through backward.
        (LossCode::TorchtuneFp32Logits, false) => (
            tv * 8,
            tv * 16,
            format!("torchtune < 0.3: fp32 logits (4 B) and their shifted copy (4 B); backward: logits + log-softmax output + two fp32 gradients (16 B) = {} × {v}", thousands(tokens)),
        ),
        (LossCode::Torchtune | LossCode::TorchtuneFp32Logits, true) if compiled => (
            tv * c + tv / 8 * 8,
            tv * c + tv / 8 * 12,
            format!("compiled chunked loss: logits ({c} B) kept, log-softmax recomputed one chunk (1/8) at a time in fp32 = {} × {v}", thousands(tokens)),
        ),
        // Lightning Fabric's precision plugins convert the module's outputs to the default dtype
        // (`convert_output` → fp32), so the chunked logits and the loss are fp32 whatever the
        // model's dtype.
        (LossCode::Litgpt, true) => (
            tv * 8,
            tv * 8 + tv / 8 * 4,
            format!("litgpt: chunked logits converted to fp32 by Fabric (4 B) + fp32 log-softmax output (4 B) per token × vocab = {} × {v} × 8", thousands(tokens)),
        ),
        (_, true) => (
            tv * (c + 4),
            tv * 4 + tv / 8 * 8,
            format!("chunked: logits ({c} B) + fp32 log-softmax output (4 B), chunk gradients = {} × {v}", thousands(tokens)),
        ),
        (_, false) => (
            tv * (c + 8),
            tv * 12,
            format!("logits ({c} B) upcast to fp32 (4 B) + log-softmax output (4 B); backward: output + two fp32 gradients (12 B) = {} × {v}", thousands(tokens)),
        ),
    }
}

/// The trainable tensors (for optimizer state shapes).
fn trainable_tensors(spec: &ModelSpec, t: &setup::TrainingSetup, res: &Resolved, bytes: u64) -> Vec<Trainable> {
    let mut out = vec![];
    let r = t.lora_rank;
    match t.method {
        Method::Full => {
            for l in spec.all_linears() {
                out.push(Trainable { rows: l.out_features, cols: l.in_features, count: l.copies, bytes });
                if l.bias {
                    out.push(Trainable { rows: 1, cols: l.out_features, count: l.copies, bytes });
                }
            }
            for e in &spec.embeddings {
                out.push(Trainable {
                    rows: spec.hidden_size,
                    cols: e.numel / spec.hidden_size.max(1),
                    count: 1,
                    bytes,
                });
            }
            for n in &spec.final_norms {
                out.push(Trainable { rows: 1, cols: n.numel(), count: 1, bytes });
            }
            for layer in spec.encoder_layers.iter().chain(&spec.layers) {
                for n in &layer.norms {
                    out.push(Trainable { rows: 1, cols: n.numel(), count: 1, bytes });
                }
                for o in &layer.others {
                    out.push(Trainable { rows: 1, cols: o.numel, count: 1, bytes });
                }
            }
        }
        Method::Lora | Method::Qlora | Method::Dora => {
            for layer in spec.encoder_layers.iter().chain(&spec.layers) {
                for l in &layer.linears {
                    let o = res.targets.adapted_out(l, layer);
                    if o > 0 {
                        out.push(Trainable { rows: r, cols: l.in_features, count: l.copies, bytes });
                        out.push(Trainable { rows: o, cols: r, count: l.copies, bytes });
                    }
                }
            }
            if let (Some(hd), true) = (&spec.lm_head, res.targets.roles.contains(&Role::Head)) {
                out.push(Trainable { rows: r, cols: hd.in_features, count: 1, bytes });
                out.push(Trainable { rows: hd.out_features, cols: r, count: 1, bytes });
            }
        }
        _ => {
            let n = trainable_params(spec, t, &res.targets, false);
            out.push(Trainable { rows: 1, cols: n, count: 1, bytes });
        }
    }
    out
}
