//! Activations of an inference forward pass (no autograd): the tensors alive inside the
//! busiest layer. Nothing is kept across layers except the residual stream, so the peak is
//! one layer's working set.

use super::breakdown::prod;
use super::term::{Formula, Term};
use super::workload::AttnImpl;
use crate::model::{Layer, ModelSpec, NormKind};

/// Inputs of one forward pass.
#[derive(Debug, Clone, Copy)]
pub struct ForwardShape {
    /// Sequences.
    pub batch: u64,
    /// Query tokens in this pass (prompt length in prefill, 1 in decode).
    pub query: u64,
    /// Key tokens attended to (cache + query).
    pub keys: u64,
    /// Compute dtype bytes.
    pub compute_bytes: u64,
    /// Compute dtype.
    pub compute: crate::dtype::DType,
    /// Attention implementation.
    pub attn: AttnImpl,
    /// K/V are expanded to all query heads before attention (`repeat_kv` in transformers'
    /// eager and SDPA paths; flash kernels take grouped heads as they are).
    pub repeat_kv: bool,
    /// The runtime runs the config's activation as transformers writes it (`gelu_new` in
    /// tensor ops), not as a fused kernel.
    pub hf_activations: bool,
    /// Experts run together over all routed tokens (transformers 5 `_grouped_mm`).
    pub grouped_experts: bool,
}

/// The working set of the busiest layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerWorkingSet {
    /// Bytes.
    pub bytes: u64,
    /// Which part dominates (`attention scores`, `MLP`...).
    pub dominant: &'static str,
    /// Formula with numbers.
    pub formula: String,
}

/// Working set of a forward pass: the residual stream plus the largest layer's temporaries.
#[must_use]
pub fn forward_working_set(spec: &ModelSpec, s: ForwardShape) -> LayerWorkingSet {
    // The first largest layer wins; only its formula is written (this runs on every estimate
    // and thousands of times in a fit search).
    let mut best: Option<(&Layer, LayerParts)> = None;
    for layer in &spec.layers {
        let parts = layer_parts(spec, layer, s);
        if parts.bytes > best.as_ref().map_or(0, |(_, p)| p.bytes) {
            best = Some((layer, parts));
        }
    }
    match best {
        Some((layer, p)) => LayerWorkingSet {
            bytes: p.bytes,
            dominant: p.dominant,
            formula: describe(spec, layer, s, p.dominant, &p.att, &p.mlp),
        },
        None => LayerWorkingSet { bytes: 0, dominant: "none", formula: String::new() },
    }
}

/// One layer's working set before its formula is written.
struct LayerParts {
    bytes: u64,
    dominant: &'static str,
    att: AttentionPart,
    mlp: MlpPart,
}

fn layer_parts(spec: &ModelSpec, layer: &Layer, s: ForwardShape) -> LayerParts {
    let (b, q, c) = (s.batch, s.query, s.compute_bytes);
    let h = spec.hidden_size;
    let tokens = b.saturating_mul(q);
    // Residual stream in and out of the layer, plus the normed input the projections read.
    let resid = prod(&[3, tokens, h, c]);
    // RMSNorm upcasts to fp32 (x.float(), x², x·rsqrt): two fp32 copies live at once.
    let norm = if layer.norms.iter().any(|n| n.kind == NormKind::RmsNorm) && c < 4 {
        prod(&[tokens, h, 8])
    } else {
        prod(&[tokens, h, c])
    };
    let att = attention_part(layer, s, spec.eager_softmax);
    let mlp = mlp_part(spec, layer, s);
    let (dominant, body) = if att.bytes >= mlp.bytes && att.bytes >= norm {
        (if att.scores > att.proj { "attention scores" } else { "attention" }, att.bytes)
    } else if mlp.bytes >= norm {
        ("MLP", mlp.bytes)
    } else {
        ("norm", norm)
    };
    LayerParts { bytes: resid.saturating_add(body), dominant, att, mlp }
}

/// The attention half of a layer's working set.
struct AttentionPart {
    /// Projections' outputs and temporaries.
    proj: u64,
    /// K/V repeated to every query head.
    repeat: u64,
    /// Score matrices (eager and math attention).
    scores: u64,
    /// The largest moment of the attention.
    bytes: u64,
}

fn attention_part(layer: &Layer, s: ForwardShape, softmax: crate::model::EagerSoftmax) -> AttentionPart {
    if layer.mixer == crate::model::Mixer::None {
        return AttentionPart { proj: 0, repeat: 0, scores: 0, bytes: 0 };
    }
    let (b, q, t, c) = (s.batch, s.query, s.keys, s.compute_bytes);
    let a = &layer.attention;
    let tokens = b.saturating_mul(q);
    let q_w = a.q_width();
    let kv_w = a.kv_width();
    // q, k, v projections; rotary makes two more q-sized temporaries; attention output.
    let proj = prod(&[tokens, q_w.saturating_mul(4).saturating_add(kv_w), c]);
    // A recurrent block scores no cached keys (its chunked scan's scratch is not modelled:
    // the projections stand for it); an MLP-only block has no mixer at all.
    let attends = layer.mixer.is_attention();
    let repeat = if attends && s.repeat_kv && s.attn != AttnImpl::Flash && a.kv_heads() < a.heads {
        prod(&[b, a.heads, t, a.head_dim + a.v_head_dim, c])
    } else {
        0
    };
    // Eager and math attention compute every score and mask those outside a sliding window.
    let scores = match if attends { s.attn } else { AttnImpl::Flash } {
        // Scores, the softmax's input copy and output (see EagerSoftmax). Without autograd
        // Gemma 2's soft-capping (/ cap, tanh, · cap) rebinds one tensor at a time: no more.
        AttnImpl::Eager => prod(&[b, a.heads, q, t, softmax.working_bytes(s.compute)]),
        // SDPA's math kernel computes in fp32 (16-bit inputs are upcast): scores and
        // probabilities.
        AttnImpl::Math => prod(&[b, a.heads, q, t, 8]),
        _ => 0,
    };
    // The score matrices exist after the projections' temporaries are gone: while they are
    // computed, only the rotated queries (the keys and values sit in the cache) and any
    // repeated K/V are alive beside them.
    let bytes = if scores > 0 {
        proj.max(prod(&[tokens, q_w, c]).saturating_add(repeat).saturating_add(scores))
    } else {
        proj.saturating_add(repeat)
    };
    AttentionPart { proj, repeat, scores, bytes }
}

/// The MLP half of a layer's working set.
struct MlpPart {
    /// Intermediates (and what the layer still holds from attention).
    bytes: u64,
    /// Intermediate-sized tensors alive at once (dense MLPs).
    factor: u64,
    act: crate::model::Activation,
    /// Eager attention's probabilities, held through the MLP.
    kept_probs: u64,
    /// A mixture of experts' terms (experts, shared expert, router, embedding output),
    /// empty for a dense MLP.
    moe: Formula,
}

fn mlp_part(spec: &ModelSpec, layer: &Layer, s: ForwardShape) -> MlpPart {
    let (b, q, t, c) = (s.batch, s.query, s.keys, s.compute_bytes);
    let h = spec.hidden_size;
    let tokens = b.saturating_mul(q);
    let m = &layer.mlp;
    let act = if s.hf_activations { m.act } else { m.act.fused() };
    // A fused gate_up projection (Phi-3) returns one 2·I tensor whose halves stay alive as
    // views while the activation and the product are computed: one I more than separate ones.
    let fused_gate_up =
        layer.linears.iter().any(|l| super::training::peft::role(l) == super::training::peft::Role::GateUp);
    let mlp_factor = act.working_intermediates() + u64::from(m.gated) + u64::from(m.gated && fused_gate_up);
    // Beside the experts: the shared expert, the fp32 router probabilities and the
    // embedding output.
    let beside_experts = || {
        let shared = (m.shared_intermediate > 0).then(|| {
            Term::of(&[("batch", b), ("tokens", q), ("shared intermediate", m.shared_intermediate), ("3", 3)])
                .times("compute bytes", c)
        });
        shared.into_iter().chain([
            Term::of(&[("batch", b), ("tokens", q), ("experts", m.experts), ("fp32", 4)]),
            Term::of(&[("batch", b), ("tokens", q), ("hidden", h), ("compute bytes", c)]),
        ])
    };
    let moe = Formula::sum(if m.is_moe() && s.grouped_experts {
        // Every routed token at once: its gathered input (h), the stacked gate/up output
        // (2·I), the activation and the product (I each).
        let routed = Term::of(&[("batch", b), ("tokens", q), ("top_k", m.top_k)])
            .times_sum(&[("hidden", h), ("4 × intermediate", m.intermediate.saturating_mul(4))])
            .times("compute bytes", c);
        std::iter::once(routed).chain(beside_experts()).collect()
    } else if m.is_moe() {
        // Experts run one at a time over the tokens routed to them (balanced: tokens·k/E,
        // allowing 2× imbalance).
        let per_expert = tokens.saturating_mul(m.top_k).saturating_mul(2).div_ceil(m.experts.max(1)).min(tokens);
        let expert = Term::of(&[
            ("tokens per expert", per_expert),
            ("intermediate", m.intermediate),
            ("3", 3),
            ("compute bytes", c),
        ]);
        std::iter::once(expert).chain(beside_experts()).collect()
    } else {
        Vec::new()
    });
    let mlp = if m.is_moe() {
        moe.bytes()
    } else {
        // transformers' model forward keeps the embedding output (`inputs_embeds`) referenced
        // through every layer: beside the residual in and out and the normed input, a fourth
        // hidden-sized tensor while the MLP runs.
        prod(&[tokens, m.intermediate, mlp_factor, c]).saturating_add(if s.hf_activations {
            prod(&[tokens, h, c])
        } else {
            0
        })
    };
    // transformers' decoder layers unpack `hidden_states, _ = self.self_attn(...)`: with eager
    // attention `_` holds the probabilities (compute dtype) until the layer returns, through
    // the MLP.
    let kept_probs = if s.attn == AttnImpl::Eager && s.hf_activations && layer.mixer.is_attention() {
        prod(&[b, layer.attention.heads, q, t, c])
    } else {
        0
    };
    MlpPart { bytes: mlp.saturating_add(kept_probs), factor: mlp_factor, act, kept_probs, moe }
}

/// The formula of the dominant part, with its numbers: the same factors as the bytes of
/// [`layer_parts`], so the numbers read back to the working set.
fn describe(
    spec: &ModelSpec,
    layer: &Layer,
    s: ForwardShape,
    dominant: &str,
    att: &AttentionPart,
    mlp: &MlpPart,
) -> String {
    let (b, q, keys, c) = (s.batch, s.query, s.keys, s.compute_bytes);
    let h = spec.hidden_size;
    let a = &layer.attention;
    let m = &layer.mlp;
    let resid = Formula::of(Term::of(&[("3", 3), ("batch", b), ("tokens", q), ("hidden", h), ("compute bytes", c)]));
    let probs = || Term::of(&[("batch", b), ("heads", a.heads), ("tokens", q), ("keys", keys), ("compute bytes", c)]);
    let (formula, what) = match dominant {
        "MLP" if m.is_moe() => {
            let mut f = resid.plus_all(&mlp.moe);
            if mlp.kept_probs > 0 {
                f = f.plus(probs());
            }
            let what = format!(
                "{}{}, fp32 router probabilities, the embedding output{}",
                if s.grouped_experts {
                    "all experts at once over the routed tokens (gathered input, gate/up, act, product)"
                } else {
                    "one expert at a time over its routed tokens (2× the balanced share: gate, up, product)"
                },
                if m.shared_intermediate > 0 { ", the shared expert" } else { "" },
                if mlp.kept_probs > 0 { ", the eager attention probabilities the layer still holds" } else { "" }
            );
            (f, what)
        }
        "MLP" => {
            let mut f = resid.plus(Term::of(&[
                ("batch", b),
                ("tokens", q),
                ("intermediate", m.intermediate),
                ("tensors", mlp.factor),
                ("compute bytes", c),
            ]));
            if s.hf_activations {
                f = f.plus(Term::of(&[("batch", b), ("tokens", q), ("hidden", h), ("compute bytes", c)]));
            }
            if mlp.kept_probs > 0 {
                f = f.plus(probs());
            }
            let what = format!(
                "{} intermediate-sized tensors of the MLP ({}){}{}",
                mlp.factor,
                match (m.gated, mlp.act) {
                    (true, _) => "gate/act, up, product",
                    (false, crate::model::Activation::GeluNew) =>
                        "fc, x·0.5, x³, 0.044715·x³ of gelu_new in tensor ops",
                    (false, crate::model::Activation::GeluFast) => "fc and four products of gelu_fast in tensor ops",
                    (false, _) => "fc, act",
                },
                if s.hf_activations { ", the embedding output the model keeps" } else { "" },
                if mlp.kept_probs > 0 { ", the eager attention probabilities the layer still holds" } else { "" }
            );
            (f, what)
        }
        "attention scores" | "attention" => attention_formula(resid, a, s, att, spec.eager_softmax),
        _ => {
            let fp32 = layer.norms.iter().any(|n| n.kind == NormKind::RmsNorm) && c < 4;
            let norm = Term::of(&[("batch", b), ("tokens", q), ("hidden", h)]);
            if fp32 {
                (resid.plus(norm.times("fp32 copies", 8)), "RMSNorm's two fp32 copies".to_string())
            } else {
                (resid.plus(norm.times("compute bytes", c)), "the norm's output".to_string())
            }
        }
    };
    formula.lead(format!("residual in and out and the normed input + {what}")).text()
}

/// The attention's moment: its projections (q, k, v, rotary temporaries, output) with any
/// repeated K/V, or, where scores are materialized and outweigh them, the rotated queries,
/// repeated K/V and the scores (the larger of the two moments, as [`attention_part`] counts).
fn attention_formula(
    resid: Formula,
    a: &crate::model::Attention,
    s: ForwardShape,
    att: &AttentionPart,
    softmax: crate::model::EagerSoftmax,
) -> (Formula, String) {
    let (b, q, keys, c) = (s.batch, s.query, s.keys, s.compute_bytes);
    let repeat = Term::of(&[("batch", b), ("heads", a.heads), ("keys", keys)])
        .times_sum(&[("head_dim", a.head_dim), ("v_head_dim", a.v_head_dim)])
        .times("compute bytes", c);
    let proj = Term::of(&[("batch", b), ("tokens", q)])
        .times_sum(&[("4 × q_width", a.q_width().saturating_mul(4)), ("kv_width", a.kv_width())])
        .times("compute bytes", c);
    let queries = Term::of(&[("batch", b), ("tokens", q), ("q_width", a.q_width()), ("compute bytes", c)]);
    let with_repeat = |f: Formula| if att.repeat > 0 { f.plus(repeat.clone()) } else { f };
    let repeat_what = if att.repeat > 0 { ", K/V repeated to every head (repeat_kv)" } else { "" };
    if att.scores == 0 {
        return (
            with_repeat(resid.plus(proj)),
            format!("q, k, v, rotary temporaries and output of the attention{repeat_what}"),
        );
    }
    let (per, scores_what) = match s.attn {
        AttnImpl::Math => (8, "SDPA math: fp32 scores and probabilities".to_string()),
        _ => (
            softmax.working_bytes(s.compute),
            match softmax {
                crate::model::EagerSoftmax::Fp32 => "eager scores, fp32 probabilities and their cast",
                crate::model::EagerSoftmax::Native => "eager scores and probabilities in the compute dtype",
                crate::model::EagerSoftmax::NativeMasked => {
                    "eager scores, masked scores and probabilities in the compute dtype"
                }
            }
            .to_string(),
        ),
    };
    let scores = Term::of(&[("batch", b), ("heads", a.heads), ("tokens", q), ("keys", keys), ("bytes per score", per)]);
    let at_scores = with_repeat(resid.clone().plus(queries)).plus(scores);
    if at_scores.bytes() >= resid.clone().plus(proj.clone()).bytes() {
        (at_scores, format!("the rotated queries (K/V are in the cache){repeat_what}, {scores_what}"))
    } else {
        (
            resid.plus(proj),
            "q, k, v, rotary temporaries and output of the attention (larger than its scores' moment)".to_string(),
        )
    }
}
