//! Activations autograd saves for backward, per layer and per token, from the architecture:
//! what each op keeps (inputs of linears whose weight trains, attention's saved tensors per
//! implementation, activation-function inputs, norm inputs, dropout masks), and what a frozen
//! base still needs so gradients can flow to adapters below.

use super::peft::{role, Role, Targets};
use crate::estimate::workload::AttnImpl;
use crate::model::{Layer, NormKind};

/// How the layer runs in training.
#[derive(Debug, Clone)]
pub struct SaveContext<'a> {
    /// Bytes of the residual stream (the embedding dtype: fp32 under mixed precision).
    pub resid: u64,
    /// Compute dtype bytes (matmul outputs).
    pub compute: u64,
    /// Matmuls autocast (each linear casts its input: one copy per linear).
    pub autocast: bool,
    /// Bytes of the adapter weights (PEFT keeps fp32 adapters on a bf16 base).
    pub adapter: u64,
    /// Base weights train (full fine-tuning).
    pub full: bool,
    /// Norm weights train.
    pub norms_train: bool,
    /// Frozen quantized linears (bitsandbytes 4-bit) save their input for backward.
    pub quant_saves_input: bool,
    /// LoRA dropout is active (> 0).
    pub lora_dropout: bool,
    /// DoRA (PEFT `use_dora=True`): each adapted linear's output is rescaled by the trainable
    /// magnitude, which keeps the base and LoRA outputs for backward.
    pub dora: bool,
    /// Bytes per element of the copy of each adapted weight that DoRA's dropout path keeps for
    /// backward (0: the weight it multiplies by is the parameter itself, no copy).
    pub dora_weight_copy: u64,
    /// IA3 (PEFT): bytes of the learned scaling vectors' dtype (0: not IA3).
    pub ia3: u64,
    /// litgpt adapter v2: every linear is `AdapterV2Linear`, whose output
    /// `adapter_scale * (linear(x) + adapter_bias)` keeps the biased output for the scale's
    /// gradient.
    pub scaled_outputs: bool,
    /// LoRA targets.
    pub targets: &'a Targets,
    /// Attention implementation.
    pub attn: AttnImpl,
    /// K/V are expanded to every query head before attention (GQA `repeat_kv`).
    pub expand_kv: bool,
    /// Attention-probability dropout active.
    pub attn_dropout: bool,
    /// Residual dropout active.
    pub hidden_dropout: bool,
    /// torch.compile's partitioner recomputes elementwise ops (norm internals, activations).
    pub compile: bool,
    /// Attention scores are soft-capped (Gemma 2): tanh keeps its output for backward.
    pub attn_softcap: bool,
    /// LayerNorm upcasts to fp32 under autocast.
    pub ln_fp32: bool,
    /// The MLP activation as the runtime runs it (transformers' `gelu_new` in tensor ops;
    /// litgpt and torchtune call fused kernels).
    pub hf_activations: bool,
    /// How eager attention computes its softmax (fp32 upcast or the scores' dtype).
    pub softmax: crate::model::EagerSoftmax,
    /// Rotary positions (q and k are rebuilt before attention).
    pub rotary: bool,
    /// Batch of one sequence (lets `matmul` fold a broadcast K/V head instead of copying it).
    pub single_sequence: bool,
    /// The model's RMSNorm multiplies by its weight in fp32 (Gemma).
    pub norm_weight_fp32: bool,
    /// litgpt's fused `qkv` linear: one LoRA dropout serves q, k and v (`LoRAQKVLinear`), and
    /// the value handed to attention is a view of the fused output, so SDPA keeps all of it.
    pub fused_qkv: bool,
}

/// Saved bytes of one layer: per token, plus per token × sequence (attention scores).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerSaved {
    /// Named parts, bytes per token.
    pub parts: Vec<(&'static str, u64)>,
    /// Bytes per token per key position (eager attention), multiplied by the sequence.
    pub per_token_per_key: u64,
    /// Of `parts`, the bytes per token that belong to the MLP half of the layer (its core,
    /// its linears' saved inputs): backward releases them before it reaches the attention.
    pub mlp_side: u64,
    /// Bytes per layer that do not scale with the tokens (copies of weights saved for backward).
    pub per_layer: u64,
}

impl LayerSaved {
    fn add(&mut self, name: &'static str, bytes: u64) {
        if bytes == 0 {
            return;
        }
        if let Some(p) = self.parts.iter_mut().find(|(n, _)| *n == name) {
            p.1 += bytes;
        } else {
            self.parts.push((name, bytes));
        }
    }
    fn add_mlp(&mut self, name: &'static str, bytes: u64) {
        self.add(name, bytes);
        self.mlp_side += bytes;
    }
    /// Bytes per token including attention scores at `seq` keys.
    #[must_use]
    pub fn per_token(&self, seq: u64) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |a, (_, b)| a.saturating_add(*b))
            .saturating_add(self.per_token_per_key.saturating_mul(seq))
    }
    /// "name bytes + name bytes ..." for explanations.
    #[must_use]
    pub fn describe(&self, seq: u64) -> String {
        let mut s: Vec<String> = self.parts.iter().map(|(n, b)| format!("{n} {b}")).collect();
        if self.per_token_per_key > 0 {
            s.push(format!("scores {}×{seq}", self.per_token_per_key));
        }
        s.join(" + ")
    }
    /// Bytes of the layer over `tokens` tokens at `seq` keys.
    #[must_use]
    pub fn bytes(&self, tokens: u64, seq: u64) -> u64 {
        tokens.saturating_mul(self.per_token(seq)).saturating_add(self.per_layer)
    }
}

/// Which input tensor a linear reads.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Input {
    AttnNorm,
    AttnOut,
    MlpNorm,
    MlpHidden,
    Other,
}

/// Saved bytes per token of `layer`.
#[must_use]
pub fn layer_saved(layer: &Layer, h: u64, ctx: &SaveContext<'_>) -> LayerSaved {
    let mut s = LayerSaved::default();
    save_norms(&mut s, layer, h, ctx);
    save_linear_inputs(&mut s, layer, ctx);
    save_attention(&mut s, layer, ctx);
    save_mlp(&mut s, layer, h, ctx);
    save_ia3(&mut s, layer, ctx);
    s
}

/// PEFT IA3 (peft 0.21.2 tuners/ia3/layer.py `Linear.forward`): on keys and values the base
/// output is multiplied by the vector (`result * ia3_scaling`), which keeps that output for
/// the vector's gradient; on the feed-forward module (`down_proj`) its input is cast to the
/// vector's dtype first (`x.to(dtype)`, fp32 under `autocast_adapter_dtype`) and the product
/// keeps that cast input. The same modules as the trainable count: K/V and the MLP input.
fn save_ia3(s: &mut LayerSaved, layer: &Layer, ctx: &SaveContext<'_>) {
    if ctx.ia3 == 0 {
        return;
    }
    s.add("ia3 inputs", layer.attention.kv_width() * ctx.compute);
    s.add_mlp("ia3 inputs", layer.mlp.intermediate.max(layer.mlp.shared_intermediate) * ctx.ia3);
}

/// Norm inputs (and outputs where the weight trains), over the hidden size and per head.
fn save_norms(s: &mut LayerSaved, layer: &Layer, h: u64, ctx: &SaveContext<'_>) {
    let c = ctx.compute;
    let a = &layer.attention;
    let norms = layer.norms.iter().filter(|n| n.dim == h).count() as u64;
    // Norms over the hidden size (attention, MLP; Gemma's extra post-norms).
    let rms = layer.norms.iter().any(|n| n.kind == NormKind::RmsNorm);
    let norm_in = if ctx.compile {
        ctx.resid
    } else if rms {
        // HF/torchtune/litgpt RMSNorm: x.float() saved by pow/mul, plus the normalized value
        // saved by the weight multiply when the weight trains (fp32 in Gemma's norms).
        4 + if !ctx.norms_train {
            0
        } else if ctx.norm_weight_fp32 {
            4
        } else {
            ctx.resid
        }
    } else if ctx.ln_fp32 {
        4
    } else {
        ctx.resid
    };
    s.add("norms", norms * h * norm_in);
    // Per-head q/k norms (Qwen3, Gemma 3, OLMo): over every query head and every K/V head.
    let qk_elems: u64 = layer
        .norms
        .iter()
        .filter(|n| n.dim != h)
        .map(|n| n.dim * if n.name.starts_with('k') { a.kv_heads() } else { a.heads })
        .sum();
    let qk_per_elem = if ctx.compile {
        c
    } else if !ctx.norms_train {
        4
    } else if ctx.norm_weight_fp32 {
        8
    } else {
        4 + c
    };
    s.add("norms", qk_elems * qk_per_elem);
}

/// The inputs the linears (and their adapters) keep for backward; a tensor several linears
/// read is kept once.
fn save_linear_inputs(s: &mut LayerSaved, layer: &Layer, ctx: &SaveContext<'_>) {
    let c = ctx.compute;
    let m = &layer.mlp;
    let mut shared: Vec<Input> = Vec::new();
    let mut fused_lora_counted = false;
    let n_experts_routed = if m.is_moe() { m.top_k } else { 1 };
    for l in &layer.linears {
        let r = role(l);
        let input = match r {
            Role::Q | Role::K | Role::V | Role::Qkv => Input::AttnNorm,
            Role::O => Input::AttnOut,
            Role::Gate | Role::Up | Role::GateUp | Role::Router => Input::MlpNorm,
            Role::Down => Input::MlpHidden,
            _ => Input::Other,
        };
        let input_dtype = match input {
            Input::AttnNorm | Input::MlpNorm => ctx.resid,
            _ => c,
        };
        // Expert linears see only their routed tokens: top_k of every token in total.
        let per_token_in = if l.copies > 1 { l.in_features * n_experts_routed } else { l.in_features };
        let adapted = ctx.targets.adapted_out(l, layer) > 0;
        let weight_trains = ctx.full;
        let needs_base_input = weight_trains || (ctx.quant_saves_input && !ctx.full);
        let mlp_input = matches!(input, Input::MlpNorm | Input::MlpHidden);
        let add = |s: &mut LayerSaved, name: &'static str, bytes: u64| {
            if mlp_input {
                s.add_mlp(name, bytes);
            } else {
                s.add(name, bytes);
            }
        };
        if needs_base_input {
            if ctx.autocast && input_dtype != c {
                // autocast casts the input once per linear call, and that copy is saved.
                add(s, "linear inputs", per_token_in * c);
            } else if !shared.contains(&input) || l.copies > 1 {
                shared.push(input);
                add(s, "linear inputs", per_token_in * input_dtype);
            }
        }
        if ctx.scaled_outputs {
            // litgpt adapter_v2.py AdapterV2Linear.forward (0.5.13, lines 57-58).
            let per_token_out = l.out_features * if l.copies > 1 { n_experts_routed } else { 1 };
            add(s, "adapter_v2 outputs", per_token_out * c);
        }
        let fused_part = ctx.fused_qkv && matches!(r, Role::Q | Role::K | Role::V | Role::Qkv);
        if adapted && !ctx.full && fused_part && fused_lora_counted {
            // litgpt: the q/k/v parts share one LoRA input (counted with the first part).
        } else if adapted && !ctx.full {
            fused_lora_counted |= fused_part;
            let lora_dtype = if ctx.autocast { c } else { ctx.adapter };
            let own_copy = ctx.lora_dropout || ctx.autocast || lora_dtype != input_dtype;
            if ctx.lora_dropout {
                // dropout output (saved by lora_A) + its mask.
                add(s, "lora inputs", per_token_in * (lora_dtype + 1));
            } else if own_copy {
                add(s, "lora inputs", per_token_in * lora_dtype);
            } else if !shared.contains(&input) {
                shared.push(input);
                add(s, "lora inputs", per_token_in * input_dtype);
            }
            if ctx.dora {
                // PEFT DoraLinearLayer.forward (peft 0.21.2, tuners/lora/dora.py:153-165):
                // result = (m/‖W+ΔW‖ - 1) * base_result + (m/‖W+ΔW‖) * lora_result * scaling,
                // with the norm detached: each product with the trainable magnitude keeps its
                // other factor. base_result is the base layer's output (compute dtype), or
                // F.linear in the adapter's dtype when dropout is active; lora_result is
                // lora_B's output in the adapter's dtype.
                let per_token_out = ctx.targets.adapted_out(l, layer) * n_experts_routed.min(l.copies.max(1));
                let base_out = if ctx.lora_dropout { lora_dtype } else { c };
                add(s, "dora outputs", per_token_out * (base_out + lora_dtype));
                if ctx.lora_dropout {
                    // With dropout the base output is recomputed from the dropped-out input
                    // (variants.py:245-246): F.linear(x, W.to(x.dtype)) (dora.py:142, 163),
                    // x in the adapter's dtype, cast again to the compute dtype under
                    // autocast. The weight does not train, so F.linear keeps only the weight
                    // for grad_input: a copy of the whole module's weight.
                    s.per_layer = s.per_layer.saturating_add(l.weight_numel().saturating_mul(ctx.dora_weight_copy));
                }
            }
        }
    }
}

/// What the attention kernel keeps: q, k, v and its output, or the probabilities.
fn save_attention(s: &mut LayerSaved, layer: &Layer, ctx: &SaveContext<'_>) {
    let c = ctx.compute;
    let a = &layer.attention;
    let kv_saved =
        if ctx.expand_kv && a.kv_heads() < a.heads { a.heads * (a.head_dim + a.v_head_dim) } else { a.kv_width() };
    match ctx.attn {
        AttnImpl::Sdpa | AttnImpl::Flash => {
            // q, k, v, output and the fp32 logsumexp.
            s.add("attention", (a.q_width() + kv_saved + a.heads * a.v_head_dim) * c + a.heads * 4);
            // One fused qkv projection (litgpt always; Phi-3/4, Falcon, GPT-NeoX in
            // transformers) with rotary positions: q and k become new tensors, v stays a view
            // of the fused output, which SDPA's saved v keeps alive whole: its q and k parts
            // on top (unless K/V are copied out to every head first).
            let fused = ctx.fused_qkv || layer.linears.iter().any(|l| role(l) == Role::Qkv);
            if ctx.rotary && fused && (a.kv_heads() == a.heads || !ctx.expand_kv) {
                s.add("attention", (a.q_width() + a.kv_heads() * a.head_dim) * c);
            }
        }
        AttnImpl::Math => {
            // PyTorch's math kernel (`_scaled_dot_product_attention_math`) works in fp32: it
            // keeps the scaled fp32 query, the scaled keys and the values (repeated to every
            // query head under `enable_gqa`; a single broadcast head, as Falcon-7B passes it,
            // is copied to every head by the batched matmul unless a batch of one lets
            // `matmul` fold it into a plain mm), plus the fp32 probabilities (kept by softmax
            // and by the second matmul).
            let kv = if a.kv_heads() == 1 && ctx.single_sequence {
                a.kv_width()
            } else {
                a.heads * (a.head_dim + a.v_head_dim)
            };
            s.add("attention", (a.q_width() + kv) * 4);
            s.per_token_per_key = a.heads * 4;
        }
        AttnImpl::Eager => {
            s.add("attention", (a.q_width() + kv_saved) * c);
            // fp32 softmax output + the probabilities matmul(·, v) keeps (dropout: mask too).
            s.add("attention", 0);
            let keys_per_token = a.heads;
            // softmax saves its fp32 output; the probabilities matmul(·, v) keeps are a cast
            // copy in 16-bit compute (the same tensor in fp32); dropout adds its mask and output.
            let per_key = ctx.softmax.saved_bytes(c)
                + if ctx.attn_dropout { 1 + c } else { 0 }
                + if ctx.attn_softcap { c } else { 0 };
            s.per_token_per_key = keys_per_token * per_key;
            // The transposed output is copied contiguous for o_proj.
            if ctx.full || layer.linears.iter().any(|l| role(l) == Role::O && ctx.targets.adapted_out(l, layer) > 0) {
                s.add("attention", a.heads * a.v_head_dim * c);
            }
        }
    }
}

/// The MLP's intermediates (per token; experts per routed token) and dropout masks.
fn save_mlp(s: &mut LayerSaved, layer: &Layer, h: u64, ctx: &SaveContext<'_>) {
    let c = ctx.compute;
    let m = &layer.mlp;
    let i = m.intermediate;
    let routed = if m.is_moe() { m.top_k } else { 1 };
    let act = if ctx.hf_activations { m.act } else { m.act.fused() };
    let act_saved = if ctx.compile { 1 } else { act.saved_intermediates() };
    let mlp_elems = if m.gated {
        // act input (gate), act output and up, saved by act and by the product.
        if ctx.compile {
            2 * i
        } else {
            (2 + act_saved) * i
        }
    } else {
        // A GELU kernel saves its input; written out in tensor ops, every op's operands.
        act_saved * i
    };
    s.add_mlp("mlp", mlp_elems * routed * c + m.shared_intermediate * if m.gated { 3 } else { 1 } * c);
    if m.is_moe() {
        // Router softmax (fp32), gathered expert inputs and the weighted outputs.
        s.add_mlp("mlp", m.experts * 4 + 2 * routed * h * c);
    }
    if ctx.hidden_dropout {
        s.add("dropout masks", 2 * h);
    }
}

/// Bytes per token a layer's backward needs transiently, as (MLP backward, attention
/// backward): gradients of the residual stream and of the MLP intermediates, and of the
/// attention probabilities and scores.
#[must_use]
pub fn backward_working_set(
    layer: &Layer,
    h: u64,
    resid: u64,
    compute: u64,
    attn: AttnImpl,
    keys: u64,
    softmax: crate::model::EagerSoftmax,
) -> (u64, u64) {
    let m = &layer.mlp;
    let i = m.intermediate.max(m.shared_intermediate) * if m.is_moe() { m.top_k.max(1) } else { 1 };
    let mlp = 2 * h * resid + 3 * i * compute;
    // Eager attention's backward materializes the gradient of the probabilities (compute
    // dtype) and of the scores (fp32 softmax backward) for every head and key.
    let scores = match attn {
        AttnImpl::Eager => layer.attention.heads * keys * softmax.backward_bytes(compute),
        AttnImpl::Math => layer.attention.heads * keys * 8,
        _ => 0,
    };
    (mlp, scores + 2 * h * resid)
}
