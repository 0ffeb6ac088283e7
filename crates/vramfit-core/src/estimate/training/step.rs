//! One training step's components: each builder turns the step's facts into named
//! components (bytes, formula, source); `super::estimate_training` arranges them in phases.

use super::optimizer::{optimizer_memory, OptimizerMemory, Trainable};
use super::peft::{self, trainable_params, Role};
use super::saved::{backward_working_set, layer_saved, SaveContext};
use super::setup::{self, Method, Precision};
use super::{resolve, Resolved};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::estimate::breakdown::{prod, thousands, Component};
use crate::estimate::component::ComponentKind;
use crate::estimate::profile::{LossCode, Nf4Code, RuntimeProfile, TrainingProfile};
use crate::estimate::term::{Formula, Term};
use crate::estimate::weights::{weight_bytes, QuantScope, WeightBytes};
use crate::estimate::workload::{AttnImpl, Workload};
use crate::model::{Layer, Linear, ModelSpec};
use crate::quant::{Quant, QuantConfig};

/// The facts of one training step that every component reads.
pub(super) struct Step<'a> {
    pub spec: &'a ModelSpec,
    pub w: &'a Workload,
    pub profile: RuntimeProfile,
    pub tp: TrainingProfile,
    pub res: Resolved,
    pub quant: Option<QuantConfig>,
    /// Full fine-tuning (every parameter trains).
    pub full: bool,
    /// Bytes of the compute dtype.
    pub c: u64,
    pub autocast: bool,
    /// Tokens per sequence, virtual prompt tokens included.
    pub seq: u64,
    /// Prefix tuning's virtual keys per layer.
    pub prefix: u64,
    /// Keys each query attends to (sequence + prefix).
    pub keys: u64,
    /// batch × seq.
    pub tokens: u64,
    /// Encoder then decoder layers.
    pub layers: Vec<&'a Layer>,
    /// Dtype of the weights that are not quantized.
    pub dense_dtype: DType,
    /// Bytes per trained parameter (and per gradient).
    pub tb: u64,
    /// Trained parameters.
    pub trainable: u64,
    /// The runtime is transformers.
    pub hf: bool,
}

/// The gradients, the optimizer's state and its step's temporaries.
pub(super) struct OptimizerParts {
    pub memory: OptimizerMemory,
    pub states: Component,
    pub gradients: Component,
    pub step_temporaries: Component,
}

/// Saved activations and what backward adds to them.
pub(super) struct ActivationParts {
    /// Saved for backward (on the GPU).
    pub activations: Component,
    /// One checkpointed layer rebuilt during backward.
    pub recompute: Component,
    /// Gradients of the layer being differentiated.
    pub backward_working_set: Component,
    /// The largest layer's saved bytes and how they were counted.
    pub busiest: u64,
    pub busiest_desc: String,
    /// Bytes of the residual stream's elements.
    pub resid: u64,
    /// Bytes streamed to CPU RAM (activation offloading).
    pub host: u64,
}

impl<'a> Step<'a> {
    /// Check the workload and gather the step's facts.
    ///
    /// # Errors
    /// A runtime that does not train, an encoder-decoder model, out-of-range lengths, ranks
    /// or accumulation, quantized weights under full fine-tuning.
    pub fn new(spec: &'a ModelSpec, w: &'a Workload) -> Result<Self> {
        let profile = w.profile();
        let Some(tp) = profile.training else {
            return Err(Error::workload(
                "--runtime",
                format!("{} does not train; use transformers, torchtune or litgpt", profile.name()),
            ));
        };
        if !spec.encoder_layers.is_empty() && !spec.layers.is_empty() {
            return Err(Error::workload(
                "--task",
                format!("training encoder-decoder models ({}) is not modelled yet", spec.model_type),
            ));
        }
        let t = &w.training;
        let max = crate::estimate::workload::MAX_TOKENS;
        if t.seq == 0 || t.seq > max {
            return Err(Error::workload("--seq", format!("must be between 1 and {max}")));
        }
        if t.grad_accum == 0 || t.grad_accum > 1 << 20 {
            return Err(Error::workload("--grad-accum", "must be between 1 and 1048576"));
        }
        if t.method.is_lora() && (t.lora_rank == 0 || t.lora_rank > 1 << 16) {
            return Err(Error::workload("--lora-rank", "must be between 1 and 65536"));
        }
        let res = resolve(spec, w)?;
        let method = t.method;
        let full = method == Method::Full;
        let quant: Option<QuantConfig> = match (method, &w.quant) {
            // torchao's NF4Tensor always quantizes its block scales (int8 per 64 elements, a
            // bf16 factor per 256 scales: nf4tensor.py double_quantize_scalers); bitsandbytes
            // leaves them fp32 unless asked (BitsAndBytesConfig bnb_4bit_use_double_quant).
            (Method::Qlora, None) => Some(QuantConfig::parse(
                if matches!(tp.nf4, Nf4Code::Torchao { .. }) { "nf4-dq" } else { "nf4" },
                None,
            )?),
            (_, q) => q.clone(),
        };
        if full && quant.is_some() {
            return Err(Error::workload(
                "--quant",
                "quantized weights cannot be fully fine-tuned; use --method qlora or lora",
            ));
        }
        // Prompt tuning prepends its virtual tokens to every sequence (PEFT concatenates them
        // to inputs_embeds and pads the labels with -100), so the whole model and the loss run
        // on seq + virtual tokens. Prefix tuning instead hands each layer virtual keys and
        // values.
        let seq = match method {
            Method::PromptTuning => t.seq.saturating_add(t.virtual_tokens),
            _ => t.seq,
        };
        let prefix = if method == Method::PrefixTuning { t.virtual_tokens } else { 0 };
        let trainable = trainable_params(spec, t, &res.targets, tp.fused_qkv);
        let train_dtype = if full { res.base } else { res.adapter };
        Ok(Self {
            spec,
            w,
            profile,
            tp,
            quant,
            full,
            c: res.precision.compute().bytes(),
            autocast: matches!(res.precision, Precision::Mixed(_)),
            seq,
            prefix,
            keys: seq.saturating_add(prefix),
            tokens: prod(&[w.batch, seq]),
            layers: spec.encoder_layers.iter().chain(&spec.layers).collect(),
            dense_dtype: if res.kbit_fp32 { DType::Fp32 } else { res.base },
            tb: train_dtype.bytes(),
            trainable,
            hf: profile.inference.transformers.is_some(),
            res,
        })
    }

    fn setup(&self) -> &setup::TrainingSetup {
        &self.w.training
    }

    fn n_layers(&self) -> u64 {
        self.layers.len() as u64
    }

    /// The weights as stored for this step.
    pub fn weight_bytes(&self) -> WeightBytes {
        weight_bytes(
            self.spec,
            self.dense_dtype,
            self.quant.as_ref(),
            QuantScope { head: self.profile.inference.quantized_head },
        )
    }

    /// The base weights, and the adapters' when they are separate.
    pub fn weights(&self, wb: &WeightBytes) -> Vec<Component> {
        let mut weights = vec![Component::new(
            ComponentKind::Weights,
            wb.total,
            format!(
                "{}{}",
                wb.formula,
                if self.res.kbit_fp32 {
                    " (prepare_model_for_kbit_training upcasts non-quantized params to fp32)"
                } else {
                    ""
                }
            ),
            "exact parameter count per tensor × storage bytes",
        )];
        if !self.full {
            let (tb, train_dtype) = (self.tb, self.res.adapter);
            let adapters = Formula::of(Term::of(&[("trainable params", self.trainable), ("bytes", tb)]))
                .lead(format!("{} adapter parameters", self.setup().method.name()))
                .tail(format!(" ({train_dtype})"));
            weights.push(Component::of(
                ComponentKind::AdapterWeights,
                &adapters,
                "PEFT tuners / litgpt lora.py / torchtune LoRALinear",
            ));
        }
        weights
    }

    /// Gradients, optimizer state and the step's temporaries; notes paged state.
    pub fn optimizer(&self, notes: &mut Vec<String>) -> OptimizerParts {
        let (t, tb) = (self.setup(), self.tb);
        let trainables = trainable_tensors(self.spec, t, &self.res, tb);
        let memory = optimizer_memory(self.res.optimizer, &trainables);
        let largest_trainable = trainables.iter().map(|x| x.rows * x.cols * x.bytes).max().unwrap_or(0);
        let states = Component::new(
            ComponentKind::OptimizerState,
            memory.state,
            memory.formula.clone(),
            "torch/optim/adamw.py, bitsandbytes optim, transformers Adafactor",
        );
        let gradients = if t.optimizer_in_backward {
            Component::of(
                ComponentKind::Gradients,
                &Formula::of(Term::of(&[("largest trainable tensor bytes", largest_trainable)]))
                    .lead("optimizer step runs in backward: one parameter's gradient at a time"),
                "torchtune optimizer_in_bwd (register_post_accumulate_grad_hook)",
            )
        } else {
            Component::of(
                ComponentKind::Gradients,
                &Formula::of(Term::of(&[("trainable params", self.trainable), ("bytes", tb)])),
                "autograd .grad buffers (param dtype)",
            )
        };
        if memory.paged_state > 0 {
            notes.push(format!("paged optimizer state ({:.2} GiB) lives in unified memory and is evicted to CPU RAM under pressure: not counted on the GPU", memory.paged_state as f64 / f64::from(1u32 << 30)));
        }
        let step_temporaries = Component::new(
            ComponentKind::OptimizerStepTemporaries,
            if t.optimizer_in_backward { 0 } else { memory.step_temp },
            memory.temp_formula.clone(),
            "torch/optim/adamw.py _multi_tensor_adamw; transformers Adafactor.step",
        );
        OptimizerParts { memory, states, gradients, step_temporaries }
    }

    /// Elements of the head's weight (0 without a head).
    pub fn head_numel(&self) -> u64 {
        self.spec.lm_head.as_ref().map_or(0, Linear::weight_numel)
    }

    /// Copies of the weights autocast makes in the compute dtype.
    pub fn autocast_copies(&self, wb: &WeightBytes) -> Component {
        let (spec, c) = (self.spec, self.c);
        let recast = self.autocast && self.dense_dtype.bytes() > c;
        let head_numel = self.head_numel();
        // A tied head is a linear too: F.linear casts the shared fp32 weight like any other.
        let tied_head = if spec.tied_embeddings { head_numel } else { 0 };
        let linear_params: u64 = spec.all_linears().map(Linear::weight_numel).sum::<u64>() + tied_head;
        let dense_linears = linear_params - wb.quantized_params.min(linear_params);
        // litgpt runs the head in 128-token chunks; under autocast a frozen head's weight is
        // cast (not cached: it does not require grad) once per chunk, and each copy is saved
        // for backward.
        let head_chunk = self.tp.head_chunk.unwrap_or(0);
        let head_chunk_casts = match (&spec.lm_head, head_chunk, self.autocast, self.full) {
            (Some(head), chunk, true, false) if chunk > 0 && !spec.tied_embeddings => {
                self.seq.div_ceil(chunk).saturating_sub(1) * head.weight_numel()
            }
            _ => 0,
        };
        if recast && head_chunk_casts > 0 {
            let n = dense_linears + head_chunk_casts;
            Component::new(
                ComponentKind::AutocastWeightCopies,
                n * c,
                format!("linear weights cast to {c}-byte copies kept for backward, the head once per {head_chunk}-token chunk ({} chunks) = {} × {c}", self.seq.div_ceil(head_chunk), thousands(n)),
                "torch autocast + litgpt GPT.forward(lm_head_chunk_size=128)",
            )
        } else if recast && self.setup().grad_ckpt {
            // Casts of frozen weights are not cached (they do not require grad), and the cache
            // of trained ones is cleared when the autocast region exits before backward;
            // checkpointed layers do not save them, so only the layer being recomputed holds
            // its copies.
            let per_layer = if self.quant.is_some() {
                0
            } else {
                self.layers.iter().map(|l| l.linears.iter().map(Linear::weight_numel).sum::<u64>()).max().unwrap_or(0)
            };
            // The head runs outside the checkpointed layers: its cast is saved for backward.
            let head = if self.quant.is_some() && self.profile.inference.quantized_head { 0 } else { head_numel };
            Component::new(
                ComponentKind::AutocastWeightCopies,
                (per_layer + head) * c,
                format!(
                    "frozen weights under checkpointing: one layer's {c}-byte casts during its recomputation ({}) + the head's, saved for backward ({}) = {} × {c}",
                    thousands(per_layer),
                    thousands(head),
                    thousands(per_layer + head)
                ),
                "torch autocast (casts of frozen weights are not cached) + torch.utils.checkpoint",
            )
        } else if recast {
            Component::new(
                ComponentKind::AutocastWeightCopies,
                dense_linears * c,
                format!(
                    "{} linear weights cast to {}-byte copies, kept for backward = {} × {c}",
                    thousands(dense_linears),
                    c,
                    thousands(dense_linears)
                ),
                "torch autocast (weight cast cache; casts saved by F.linear for grad_input)",
            )
        } else {
            Component::new(
                ComponentKind::AutocastWeightCopies,
                0,
                "no autocast copies (weights already in the compute dtype)",
                "torch autocast",
            )
        }
    }

    /// Bytes of the residual stream's elements.
    fn resid(&self) -> u64 {
        let base = self.res.base.bytes();
        if self.full || (self.autocast && !self.res.kbit_fp32) {
            base
        } else if self.res.kbit_fp32 {
            4
        } else {
            base.min(4)
        }
    }

    /// How each layer runs in training (notes SDPA's fallback to its math kernel).
    fn save_context(&self, notes: &mut Vec<String>) -> SaveContext<'_> {
        let (spec, w, tp, c) = (self.spec, self.w, &self.tp, self.c);
        let t = self.setup();
        let method = t.method;
        // transformers' Falcon: 40B/180B copy K/V to every head before attention; 7B's single
        // K/V head is broadcast inside eager attention's matmuls, which materialize the copies.
        let hf_falcon_expands =
            self.hf && (spec.hf_falcon_copies_kv() || (w.attn == AttnImpl::Eager && spec.hf_falcon_broadcast_kv()));
        // A prefix makes the keys longer than the queries, so transformers builds a mask, and
        // with a mask SDPA cannot take GQA natively: K/V are repeated to every query head.
        // transformers' eager attention always repeats grouped K/V to every head
        // (`repeat_kv`; only SDPA takes `enable_gqa`), and the matmuls keep the repeated copies.
        let expand_kv = tp.always_repeats_kv
            || self.prefix > 0
            || hf_falcon_expands
            || (tp.eager_repeats_kv && w.attn == AttnImpl::Eager);
        let attn = if w.attn == AttnImpl::Sdpa
            && ((self.profile.inference.sdpa_math_for_fp32_gqa
                && c == 4
                && spec.gqa_unmasked(self.seq)
                && self.prefix == 0)
                || (self.hf && spec.hf_falcon_broadcast_kv()))
        {
            notes.push("SDPA falls back to its math kernel here: the attention probabilities are saved".into());
            AttnImpl::Math
        } else {
            w.attn
        };
        SaveContext {
            resid: self.resid(),
            compute: c,
            autocast: self.autocast,
            adapter: if self.autocast { c } else { self.res.adapter.bytes() },
            full: self.full,
            norms_train: self.full || method == Method::AdapterV2,
            quant_saves_input: self.quant.as_ref().is_some_and(QuantConfig::is_bitsandbytes),
            lora_dropout: self.res.lora_dropout && method.is_lora(),
            dora: method == Method::Dora,
            dora_weight_copy: self.dora_weight_copy(),
            ia3: if method == Method::Ia3 { self.res.adapter.bytes() } else { 0 },
            scaled_outputs: method == Method::AdapterV2,
            targets: &self.res.targets,
            attn,
            expand_kv,
            attn_dropout: tp.dropout && spec.dropout.attention > 0 && attn == AttnImpl::Eager,
            hidden_dropout: tp.dropout && spec.dropout.hidden > 0,
            compile: t.compile,
            attn_softcap: spec.softcap.attention,
            ln_fp32: self.autocast,
            fused_qkv: tp.fused_qkv,
            rotary: tp.forces_rotary || matches!(spec.positions, crate::model::Positions::Rotary { .. }),
            single_sequence: w.batch == 1,
            hf_activations: self.hf,
            softmax: spec.eager_softmax,
            norm_weight_fp32: spec.norm_weight_fp32 && self.tp.norm_weight_fp32,
        }
    }

    /// Bytes per element of the weight copy DoRA's dropout path saves (PEFT 0.21.2
    /// dora.py:142, 163: `F.linear(x, W.to(x.dtype))`, x in the adapter's dtype): none when
    /// the weight is already in that dtype and no autocast recasts it; a quantized weight is
    /// always dequantized into a new tensor. PEFT's code path only: torchtune's `DoRALinear`
    /// reuses its base output.
    fn dora_weight_copy(&self) -> u64 {
        let (base, adapter, compute) = (self.dense_dtype, self.res.adapter, self.res.precision.compute());
        let differs = if self.autocast { base != adapter || adapter != compute } else { base != adapter };
        let copied = self.hf && (self.quant.is_some() || differs);
        match (copied, self.autocast) {
            (false, _) => 0,
            (true, true) => self.c,
            (true, false) => adapter.bytes(),
        }
    }

    /// Layers whose inputs need gradients start here (litgpt's adapter v1 starts at layer 2;
    /// everything else trains something at or below layer 0: adapter v2's linear scales and
    /// norms train in every block).
    fn first_grad_layer(&self) -> u64 {
        if self.setup().method == Method::Adapter {
            peft::ADAPTER_START_LAYER.min(self.n_layers())
        } else {
            0
        }
    }

    /// Saved activations, the recomputed layer and backward's working set; notes SDPA's
    /// fallback.
    pub fn activations(&self, notes: &mut Vec<String>) -> ActivationParts {
        let (t, h, tokens) = (self.setup(), self.spec.hidden_size, self.tokens);
        let ctx = self.save_context(notes);
        let resid = ctx.resid;
        let walk = self.walk_layers(&ctx);
        let first_grad_layer = self.first_grad_layer();
        let layers_saving = self.n_layers() - first_grad_layer;
        let busiest_desc = &walk.busiest_desc;
        // Final norm and the head's input.
        let head_trains = self.full || self.res.targets.roles.contains(&Role::Head);
        let head_saved = prod(&[tokens, h, if ctx.compile { resid } else { 4 } + if head_trains { self.c } else { 0 }]);
        // litgpt adapter v2's head is an AdapterV2Linear too: each chunk's biased logits are
        // kept for the scale's gradient, V per token in the compute dtype.
        let head_saved = if ctx.scaled_outputs {
            head_saved.saturating_add(prod(&[tokens, self.head_numel() / h.max(1), self.c]))
        } else {
            head_saved
        };
        let ckpt_inputs = prod(&[tokens, h, resid, layers_saving]);
        let (act_bytes, act_formula, act_src) = if t.grad_ckpt {
            (
                ckpt_inputs.saturating_add(head_saved),
                format!(
                    "checkpointed: layer inputs tokens × h × {resid} B × {layers_saving} layers = {} × {h} × {resid} × {layers_saving}; recomputed layer in backward: {busiest_desc}",
                    thousands(tokens),
                ),
                "torch.utils.checkpoint per decoder layer (transformers gradient_checkpointing_enable, torchtune/litgpt ac)",
            )
        } else {
            (
                walk.saved_total.saturating_add(head_saved),
                format!("saved for backward, per layer per token: {busiest_desc}; × {} tokens × {layers_saving} layers + final norm/head inputs", thousands(tokens)),
                "autograd saved tensors per op (Korthikanti et al. 2022 §4, counted for this implementation)",
            )
        };
        let (act_bytes, act_formula) = self.with_prefix(act_bytes, act_formula);
        let (act_gpu, host) = if t.activation_offload {
            // Offloading streams each layer's saved tensors to CPU; about two layers' worth are
            // in flight on the GPU (torchtune OffloadActivations, one stream).
            let unit = if t.grad_ckpt { prod(&[tokens, h, resid]) } else { walk.busiest };
            let kept = unit.saturating_mul(2).min(act_bytes);
            (kept, act_bytes - kept)
        } else {
            (act_bytes, 0)
        };
        let activations = Component::new(
            ComponentKind::Activations,
            act_gpu,
            if t.activation_offload {
                format!("{act_formula}; offloaded to CPU except ~2 layers in flight ({} B on host)", thousands(host))
            } else {
                act_formula
            },
            act_src,
        );
        let recompute = Component::new(
            ComponentKind::RecomputedLayer,
            if t.grad_ckpt { walk.busiest } else { 0 },
            format!("one layer's saved tensors rebuilt during backward: {busiest_desc}"),
            "torch.utils.checkpoint recomputation",
        );
        let backward_working_set = Component::new(ComponentKind::BackwardWorkingSet, walk.backward_working_set, "gradients of the residual stream (2·h) and of the MLP intermediates (3·I) for the layer being differentiated, × tokens", "autograd engine, one layer at a time");
        ActivationParts {
            activations,
            recompute,
            backward_working_set,
            busiest: walk.busiest,
            busiest_desc: walk.busiest_desc,
            resid,
            host,
        }
    }

    /// Every layer's saved bytes, the busiest layer, and backward's largest working set.
    fn walk_layers(&self, ctx: &SaveContext<'_>) -> LayerWalk {
        let (h, tokens, attn) = (self.spec.hidden_size, self.tokens, ctx.attn);
        // Only FlashAttention restricts a sliding-window layer's keys; eager and math attention
        // compute every score and mask the ones outside the window.
        let seq_keys = |l: &Layer| match (attn, l.attention.window) {
            (AttnImpl::Flash, Some(win)) => self.keys.min(win),
            _ => self.keys,
        };
        let mut walk = LayerWalk::default();
        let first_grad_layer = self.first_grad_layer();
        for (i, layer) in self.layers.iter().enumerate() {
            if (i as u64) < first_grad_layer {
                continue;
            }
            let s = layer_saved(layer, h, ctx);
            let per_token = s.per_token(seq_keys(layer));
            let bytes = s.bytes(tokens, seq_keys(layer));
            walk.saved_total = walk.saved_total.saturating_add(bytes);
            if bytes > walk.busiest {
                walk.busiest = bytes;
                walk.busiest_desc = format!("{} = {} B/token", s.describe(seq_keys(layer)), thousands(per_token));
                if s.per_layer > 0 {
                    walk.busiest_desc +=
                        &format!(" + DoRA's weight copies {} B per layer (dropout path)", thousands(s.per_layer));
                }
            }
            // The MLP is differentiated first; by the time attention's backward builds its
            // gradients, the MLP half's saved tensors are gone.
            let (mlp_ws, attn_ws) =
                backward_working_set(layer, h, ctx.resid, self.c, attn, seq_keys(layer), self.spec.eager_softmax);
            walk.backward_working_set =
                walk.backward_working_set.max(prod(&[tokens, mlp_ws.max(attn_ws.saturating_sub(s.mlp_side))]));
        }
        walk
    }

    /// Prefix tuning: the prompt encoder's output (adapter dtype) becomes a cache whose
    /// per-layer K/V are concatenated with the sequence's own (the cache keeps the
    /// concatenation), and the repeated prefix K/V are saved by attention too.
    fn with_prefix(&self, bytes: u64, formula: String) -> (u64, String) {
        let (prefix, keys, batch, c) = (self.prefix, self.keys, self.w.batch, self.c);
        if prefix == 0 {
            return (bytes, formula);
        }
        let mut extra = 0u64;
        for layer in &self.layers {
            let a = &layer.attention;
            let expanded = a.heads * (a.head_dim + a.v_head_dim);
            extra = extra
                .saturating_add(prod(&[batch, prefix, a.kv_width(), self.res.adapter.bytes()]))
                .saturating_add(prod(&[batch, keys, a.kv_width(), c]))
                .saturating_add(prod(&[batch, prefix, expanded, c]));
        }
        (
            bytes.saturating_add(extra),
            format!("{formula}; prefix tuning: {prefix} virtual tokens' K/V per layer (encoder output, the cache's concatenated K/V over {keys} keys, repeated prefix K/V) = {} B", thousands(extra)),
        )
    }

    /// The logits and the loss at the end of forward and at the start of backward.
    pub fn loss(&self) -> (Component, Component) {
        let (spec, c) = (self.spec, self.c);
        let fwd_src = "transformers loss_utils.ForCausalLMLoss / litgpt chunked_cross_entropy / torchtune CEWithChunkedOutputLoss";
        let bwd_src = "log_softmax backward: saved output + incoming and outgoing gradients";
        if spec.lm_head.is_none() {
            let none = "no language-model head: a classification head's loss is negligible";
            return (
                Component::new(ComponentKind::LogitsAndLoss, 0, format!("forward: {none}"), fwd_src),
                Component::new(ComponentKind::LogitsAndLoss, 0, format!("backward start: {none}"), bwd_src),
            );
        }
        // Logits: the vocabulary at every position, or a classifier's labels (at the last
        // position only for sequence classification).
        let v = spec.logit_width();
        let loss_tokens = prod(&[self.w.batch, spec.logit_positions(self.seq)]);
        let (mut fwd, mut bwd) = loss_terms(self.tp.loss, self.res.chunked_ce, self.setup().compile, c, loss_tokens, v);
        if spec.softcap.logits && !self.res.chunked_ce {
            // cap · tanh(logits / cap): the tanh output is kept for backward, next to the copy.
            let tanh = Term::of(&[("tokens", loss_tokens), ("vocab", v), ("tanh output", c)]);
            fwd = fwd.plus(tanh.clone()).tail("; soft-capped logits keep their tanh output");
            bwd = bwd.plus(tanh).tail("; soft-capped logits keep their tanh output");
        }
        (
            Component::of(ComponentKind::LogitsAndLoss, &fwd, fwd_src),
            Component::of(ComponentKind::LogitsAndLoss, &bwd, bwd_src),
        )
    }

    /// bitsandbytes dequantizes the largest quantized linear for each matmul.
    pub fn dequantization(&self, wb: &WeightBytes) -> Component {
        let c = self.c;
        let n = wb.largest_quantized;
        match (self.quant.as_ref().map(|q| &q.quant), self.tp.nf4) {
            // Eager only: torch.compile traces NF4Tensor (a traceable wrapper subclass) and
            // fuses the dequantization into one kernel writing the bf16 weight (counted below).
            (Some(Quant::Bnb4 { .. }), Nf4Code::Torchao { .. }) if !self.setup().compile => Component::new(
                ComponentKind::DequantizationTemporaries,
                prod(&[n, 14]),
                format!(
                    "largest NF4 linear dequantized for each forward and backward matmul: two int64 code tensors (N/2 × 8 B each), their two bf16 lookups, the two scaled halves (N/2 × 2 B each) and their stack (N × 2 B) = 14 B × {}",
                    thousands(n)
                ),
                "torchao dtypes/nf4tensor.py NF4Tensor.get_original_weight (0.1 and 0.3.1 alike), LinearNF4 forward/backward",
            ),
            (Some(Quant::Bnb4 { .. } | Quant::BnbInt8), nf4) => Component::new(
                ComponentKind::DequantizationTemporaries,
                n * c,
                format!(
                    "largest quantized linear dequantized to {c} B for each forward and backward matmul = {} × {c}",
                    thousands(n)
                ),
                if nf4 == Nf4Code::Bitsandbytes {
                    "bitsandbytes MatMul4Bit (dequantize_4bit per call)"
                } else {
                    "torchao NF4Tensor under torch.compile (dequantization fused into one kernel)"
                },
            ),
            _ => Component::new(ComponentKind::DequantizationTemporaries, 0, "no quantized weights", ""),
        }
    }

    /// torchtune QLoRA on one GPU builds the model on the GPU (`with self._device:
    /// config.instantiate(cfg_model)`, recipes 0.1 to 0.6), and each `LoRALinear` makes its
    /// base weight in bf16 there and quantizes it in `__init__` (`to_nf4(linear.weight)`).
    /// Construction peaks while the last large linear is quantized, with every weight before it
    /// built (the head and the final norm come after the layers). The checkpoint is loaded
    /// afterwards from CPU tensors, quantized on the CPU (`NF4Tensor.copy_`). `None` where
    /// nothing is quantized at construction on this GPU.
    pub fn initialisation(&self, wb: &WeightBytes) -> Option<Vec<Component>> {
        let Nf4Code::Torchao { chunked_quantize } = self.tp.nf4 else { return None };
        if self.setup().method != Method::Qlora || !self.w.parallel.is_single() || wb.largest_quantized == 0 {
            return None;
        }
        let n = wb.largest_quantized;
        let head = if self.spec.tied_embeddings || self.profile.inference.quantized_head {
            0
        } else {
            self.head_numel() * self.dense_dtype.bytes()
        };
        let built = wb.total.saturating_sub(head);
        let (transient, formula) = if chunked_quantize {
            (
                prod(&[n, 5]).saturating_add(64 << 20),
                format!("the bf16 source (2 B), the scaled blocks (2 B) and the uint8 codes (1 B) per element of the largest linear, 5 B × {}, + one 2^20-element chunk's differences to the 16 codes and their abs (2 × 16 × 2 B × 2^20 = 64 MiB)", thousands(n)),
            )
        } else {
            (
                prod(&[n, 68]),
                format!("the bf16 source (2 B), the scaled blocks (2 B), and every element's differences to the 16 codes and their abs at once (2 × 16 × 2 B) = 68 B × {}", thousands(n)),
            )
        };
        let adapters = self.trainable * self.tb;
        Some(vec![
            Component::new(
                ComponentKind::Weights,
                built,
                format!("every weight built before the last large linear: {} B as stored, less the head built after the layers ({} B)", thousands(wb.total), thousands(head)),
                "torchtune LoRALinear(quantize_base=True).__init__ (to_nf4), model built on the GPU",
            ),
            Component::new(
                ComponentKind::AdapterWeights,
                adapters,
                format!("{} trainable params × {} B", thousands(self.trainable), self.tb),
                "torchtune LoRALinear",
            ),
            Component::new(
                ComponentKind::QuantizationTransient,
                transient,
                formula,
                if chunked_quantize {
                    "torchao 0.3.1 dtypes/nf4tensor.py NF4Tensor.convert_to_norm_float_weight (CHUNK_SIZE = 1024**2)"
                } else {
                    "torchao 0.1 dtypes/nf4tensor.py NF4Tensor.convert_to_norm_float_weight / quantize_tensor_nearest (traced on CPU tensors: 68 B per element)"
                },
            ),
        ])
    }
}

/// What walking the layers found.
#[derive(Default)]
struct LayerWalk {
    saved_total: u64,
    busiest: u64,
    busiest_desc: String,
    backward_working_set: u64,
}

/// Bytes of the logits and cross-entropy at the end of forward and the start of backward.
fn loss_terms(code: LossCode, chunked: bool, compiled: bool, c: u64, tokens: u64, v: u64) -> (Formula, Formula) {
    let tv = || Term::of(&[("tokens", tokens), ("vocab", v)]);
    // One of the eight chunks the loss is computed in.
    let chunk =
        |bytes: &'static str, per: u64| Term::of(&[("tokens × vocab / 8", prod(&[tokens, v]) / 8), (bytes, per)]);
    match (code, chunked) {
        // torchtune before 0.3: the model returns fp32 logits, the recipe shifts them with a
        // contiguous copy and keeps them (no `del logits`) through backward.
        (LossCode::TorchtuneFp32Logits, false) => (
            Formula::of(tv().times_sum(&[("fp32 logits", 4), ("shifted copy", 4)]))
                .lead("forward, torchtune < 0.3: fp32 logits and their shifted copy"),
            Formula::of(tv().times_sum(&[("fp32 logits", 4), ("log-softmax output", 4), ("two fp32 gradients", 8)]))
                .lead("backward start, torchtune < 0.3: logits, log-softmax output and two fp32 gradients"),
        ),
        (LossCode::Torchtune | LossCode::TorchtuneFp32Logits, true) if compiled => (
            Formula::sum(vec![tv().times("compute bytes", c), chunk("fp32 log-softmax", 8)]).lead(
                "forward, compiled chunked loss: logits kept, log-softmax recomputed one chunk (1/8) at a time in fp32",
            ),
            Formula::sum(vec![tv().times("compute bytes", c), chunk("fp32 log-softmax and gradient", 12)])
                .lead("backward start, compiled chunked loss: logits kept, one chunk's fp32 log-softmax and gradient"),
        ),
        // Lightning Fabric's precision plugins convert the module's outputs to the default dtype
        // (`convert_output` → fp32), so the chunked logits and the loss are fp32 whatever the
        // model's dtype.
        (LossCode::Litgpt, true) => (
            Formula::of(tv().times_sum(&[("fp32 logits", 4), ("fp32 log-softmax", 4)]))
                .lead("forward, litgpt: chunked logits converted to fp32 by Fabric and the fp32 log-softmax output"),
            Formula::sum(vec![
                tv().times_sum(&[("fp32 logits", 4), ("fp32 log-softmax", 4)]),
                chunk("fp32 gradient", 4),
            ])
            .lead("backward start, litgpt: the same and one chunk's fp32 gradient"),
        ),
        (_, true) => (
            Formula::of(tv().times_sum(&[("compute bytes", c), ("fp32 log-softmax", 4)]))
                .lead("forward, chunked: logits and the fp32 log-softmax output"),
            Formula::sum(vec![tv().times("fp32 log-softmax", 4), chunk("chunk gradients", 8)])
                .lead("backward start, chunked: the fp32 log-softmax output and one chunk's gradients"),
        ),
        (_, false) => (
            Formula::of(tv().times_sum(&[("compute bytes", c), ("fp32 upcast", 4), ("log-softmax output", 4)]))
                .lead("forward: logits upcast to fp32 and the log-softmax output"),
            Formula::of(tv().times_sum(&[("log-softmax output", 4), ("two fp32 gradients", 8)]))
                .lead("backward start: the log-softmax output and two fp32 gradients"),
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
