//! Exact parameter counts per component.

use super::spec::ModelSpec;
use crate::limits::PARAMETERS;
use serde::Serialize;

/// The component a parameter is reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamGroup {
    /// Token, position and token-type embedding tables.
    Embeddings,
    /// Query projection (or MLA's q_a/q_b).
    AttentionQ,
    /// Key projection.
    AttentionK,
    /// Value projection.
    AttentionV,
    /// Fused q/k/v projection (`c_attn`, `query_key_value`, `qkv_proj`), or MLA's kv_a/kv_b.
    AttentionQkv,
    /// Attention output projection.
    AttentionO,
    /// Dense MLP weights.
    Mlp,
    /// MoE router.
    Router,
    /// Routed experts.
    Experts,
    /// Shared (always-on) experts.
    SharedExperts,
    /// Norm weights (their biases go to `Biases`).
    Norms,
    /// Every bias vector.
    Biases,
    /// Output head.
    LmHead,
    /// Anything else (relative position bias, pooler).
    Other,
    /// A multimodal model's vision encoder and its projector into the language model, where
    /// the checkpoint holds them (not quantized with the language model).
    VisionTower,
}

impl ParamGroup {
    /// Name used in reports and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ParamGroup::Embeddings => "embeddings",
            ParamGroup::AttentionQ => "attention.q",
            ParamGroup::AttentionK => "attention.k",
            ParamGroup::AttentionV => "attention.v",
            ParamGroup::AttentionQkv => "attention.qkv",
            ParamGroup::AttentionO => "attention.o",
            ParamGroup::Mlp => "mlp",
            ParamGroup::Router => "router",
            ParamGroup::Experts => "experts",
            ParamGroup::SharedExperts => "shared_experts",
            ParamGroup::Norms => "norms",
            ParamGroup::Biases => "biases",
            ParamGroup::LmHead => "lm_head",
            ParamGroup::Other => "other",
            ParamGroup::VisionTower => "vision_tower",
        }
    }
}

/// Parameter counts of a model, by component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamCount {
    /// Total parameters (a tied head counted once).
    pub total: u64,
    /// Per component, in a fixed order; components with zero parameters are omitted.
    pub by_group: Vec<(ParamGroup, u64)>,
    /// Parameters in linear-layer weights (what weight quantization applies to), head included
    /// when untied.
    pub linear_weights: u64,
    /// Parameters active per token (MoE: top-k routed experts + shared), for compute.
    pub active: u64,
}

impl ParamCount {
    /// Count the parameters of `spec`. Saturates where a count overflows; specs from
    /// [`crate::config`] are checked with [`ParamCount::try_of`] and never do.
    #[must_use]
    pub fn of(spec: &ModelSpec) -> Self {
        Self::count(spec).unwrap_or_else(|_| ParamCount {
            total: u64::MAX,
            by_group: vec![],
            linear_weights: u64::MAX,
            active: u64::MAX,
        })
    }

    /// Count the parameters of `spec` with checked arithmetic.
    ///
    /// # Errors
    /// [`crate::Error::Limit`] on [`crate::limits::PARAMETERS`] when a count overflows or the
    /// total is beyond it.
    pub fn try_of(spec: &ModelSpec) -> crate::Result<Self> {
        let p = Self::count(spec)?;
        PARAMETERS.check("parameter count", p.total)?;
        Ok(p)
    }

    fn count(spec: &ModelSpec) -> crate::Result<Self> {
        let overflow = |what: &str| PARAMETERS.exceeded(what, u64::MAX);
        let add_to = |a: u64, b: u64, what: &str| a.checked_add(b).ok_or_else(|| overflow(what));
        let mut groups = std::collections::BTreeMap::<ParamGroup, u64>::default();
        let mut add = |g: ParamGroup, n: u64| -> crate::Result<()> {
            if n > 0 {
                let e = groups.entry(g).or_insert(0);
                *e = add_to(*e, n, g.name())?;
            }
            Ok(())
        };
        for t in &spec.embeddings {
            add(t.group, t.numel)?;
        }
        let mut inactive = 0u64;
        let mut linear_weights = 0u64;
        for l in spec.all_linears() {
            let w = l.checked_weight_numel().ok_or_else(|| overflow(&l.name))?;
            let b = if l.bias { l.out_features.checked_mul(l.copies).ok_or_else(|| overflow(&l.name))? } else { 0 };
            add(l.group, w)?;
            add(ParamGroup::Biases, b)?;
            linear_weights = add_to(linear_weights, w, "linear weights")?;
        }
        for layer in spec.encoder_layers.iter().chain(&spec.layers) {
            for n in &layer.norms {
                add(ParamGroup::Norms, n.numel() - n.bias_numel())?;
                add(ParamGroup::Biases, n.bias_numel())?;
            }
            for t in &layer.others {
                add(t.group, t.numel)?;
            }
            if layer.mlp.is_moe() && layer.mlp.experts > layer.mlp.top_k {
                let mut per_expert = 0u64;
                for l in layer.linears.iter().filter(|l| l.group == ParamGroup::Experts) {
                    let w = l.checked_weight_numel().ok_or_else(|| overflow(&l.name))?;
                    per_expert = add_to(per_expert, add_to(w, l.bias_numel(), &l.name)? / l.copies.max(1), "experts")?;
                }
                let idle =
                    per_expert.checked_mul(layer.mlp.experts - layer.mlp.top_k).ok_or_else(|| overflow("experts"))?;
                inactive = add_to(inactive, idle, "inactive experts")?;
            }
        }
        for n in &spec.final_norms {
            add(ParamGroup::Norms, n.numel() - n.bias_numel())?;
            add(ParamGroup::Biases, n.bias_numel())?;
        }
        let mut total = 0u64;
        for n in groups.values() {
            total = add_to(total, *n, "parameter count")?;
        }
        Ok(ParamCount {
            total,
            by_group: groups.into_iter().collect(),
            linear_weights,
            active: total.saturating_sub(inactive),
        })
    }

    /// Parameters of one component (0 when absent).
    #[must_use]
    pub fn group(&self, g: ParamGroup) -> u64 {
        self.by_group.iter().find(|(k, _)| *k == g).map_or(0, |(_, n)| *n)
    }
}
