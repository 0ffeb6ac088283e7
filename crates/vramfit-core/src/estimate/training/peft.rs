//! Parameter-efficient methods: which linear layers carry adapters, and how many parameters
//! are trained.

use super::setup::{Method, TrainingSetup};
use crate::error::{Error, Result};
use crate::model::{Layer, Linear, ModelSpec, ParamGroup};

/// What a linear layer does, whatever its name in a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Query projection.
    Q,
    /// Key projection.
    K,
    /// Value projection.
    V,
    /// Fused q/k/v.
    Qkv,
    /// Attention output.
    O,
    /// MLP gate.
    Gate,
    /// MLP up (or the first matrix of a plain MLP).
    Up,
    /// Fused gate and up.
    GateUp,
    /// MLP down (the second matrix of a plain MLP).
    Down,
    /// MoE router.
    Router,
    /// Output head.
    Head,
    /// Anything else (MLA's low-rank factors, poolers).
    Other,
}

/// The role of a linear layer from its name and group.
#[must_use]
pub fn role(l: &Linear) -> Role {
    let n = l.name.rsplit('.').next().unwrap_or(&l.name);
    match (l.group, n) {
        (ParamGroup::LmHead, _) => Role::Head,
        (ParamGroup::Router, _) => Role::Router,
        (ParamGroup::AttentionO, _) => Role::O,
        (ParamGroup::AttentionQkv, "query_key_value" | "c_attn" | "qkv_proj" | "Wqkv") => Role::Qkv,
        (_, "q_proj" | "query" | "q") => Role::Q,
        (_, "k_proj" | "key" | "k") => Role::K,
        (_, "v_proj" | "value" | "v") => Role::V,
        (_, "gate_proj" | "w1" | "wi_0") => Role::Gate,
        (_, "up_proj" | "w3" | "wi_1" | "dense_h_to_4h" | "fc1" | "c_fc" | "wi") => Role::Up,
        (_, "gate_up_proj") => Role::GateUp,
        (_, "down_proj" | "w2" | "dense_4h_to_h" | "fc2" | "c_proj" | "wo") => Role::Down,
        (ParamGroup::Mlp, "dense") => {
            if l.out_features > l.in_features {
                Role::Up
            } else {
                Role::Down
            }
        }
        _ => Role::Other,
    }
}

/// Roles named by a target list (Hugging Face and torchtune module names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets {
    /// Named roles.
    pub roles: Vec<Role>,
    /// `all-linear`: every linear in the blocks (not the head).
    pub all_linear: bool,
}

impl Targets {
    /// Parse target module names.
    ///
    /// # Errors
    /// A name vramfit cannot map to a module.
    pub fn parse(names: &[String]) -> Result<Self> {
        let mut t = Targets::default();
        for raw in names {
            let n = raw.trim();
            let r = match n {
                "all-linear" | "all_linear" => {
                    t.all_linear = true;
                    continue;
                }
                // GPT-2 names both its attention output and its MLP output `c_proj`; PEFT
                // matches the suffix, so both are adapted.
                "c_proj" => {
                    for r in [Role::O, Role::Down] {
                        if !t.roles.contains(&r) {
                            t.roles.push(r);
                        }
                    }
                    continue;
                }
                "q_proj" | "q" | "query" | "wq" => Role::Q,
                "k_proj" | "k" | "key" | "wk" => Role::K,
                "v_proj" | "v" | "value" | "wv" => Role::V,
                "qkv_proj" | "query_key_value" | "c_attn" | "Wqkv" | "qkv" => Role::Qkv,
                "o_proj" | "output_proj" | "out_proj" | "dense" | "o" | "wo_attn" | "attn.c_proj" => Role::O,
                "gate_proj" | "w1" | "wi_0" => Role::Gate,
                "up_proj" | "w3" | "wi_1" | "fc1" | "c_fc" | "dense_h_to_4h" | "wi" => Role::Up,
                "gate_up_proj" => Role::GateUp,
                "down_proj" | "w2" | "fc2" | "dense_4h_to_h" | "mlp.c_proj" | "wo" => Role::Down,
                "lm_head" | "output" => Role::Head,
                other => {
                    return Err(Error::workload(
                        "--lora-targets",
                        format!("unknown target module {other:?}; use names like q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj,lm_head or all-linear"),
                    ))
                }
            };
            if !t.roles.contains(&r) {
                t.roles.push(r);
            }
        }
        Ok(t)
    }

    /// Output features of `l` that carry an adapter (0 = none). A fused q/k/v or gate/up
    /// module adapted for some of its parts (litgpt's `lora_query`/`lora_value`) adapts only
    /// those rows.
    #[must_use]
    pub fn adapted_out(&self, l: &Linear, layer: &Layer) -> u64 {
        let r = role(l);
        if r == Role::Head {
            return if self.roles.contains(&Role::Head) { l.out_features } else { 0 };
        }
        if self.all_linear && r != Role::Router {
            return l.out_features;
        }
        if self.roles.contains(&r) {
            return l.out_features;
        }
        let a = &layer.attention;
        match r {
            Role::Qkv => {
                let kv_half = a.kv_width() / 2;
                let mut out = 0;
                if self.roles.contains(&Role::Q) {
                    out += a.q_width();
                }
                if self.roles.contains(&Role::K) {
                    out += kv_half;
                }
                if self.roles.contains(&Role::V) {
                    out += kv_half;
                }
                out.min(l.out_features)
            }
            Role::GateUp => {
                let half = l.out_features / 2;
                u64::from(self.roles.contains(&Role::Gate)) * half + u64::from(self.roles.contains(&Role::Up)) * half
            }
            Role::Q | Role::K | Role::V if self.roles.contains(&Role::Qkv) => l.out_features,
            _ => 0,
        }
    }

    /// The parts of a fused module that are adapted (litgpt keeps one A matrix per part).
    #[must_use]
    pub fn fused_parts(&self, l: &Linear) -> u64 {
        match role(l) {
            Role::Qkv if !self.roles.contains(&Role::Qkv) && !self.all_linear => {
                [Role::Q, Role::K, Role::V].iter().filter(|r| self.roles.contains(r)).count() as u64
            }
            _ => 1,
        }
    }
}

/// The runtime's default targets.
#[must_use]
pub fn default_targets() -> Vec<String> {
    // litgpt's lora defaults are query and value (lora_query, lora_value); PEFT picks q_proj and
    // v_proj for Llama-family models; torchtune's recipes name q_proj and v_proj.
    vec!["q_proj".into(), "v_proj".into()]
}

/// Trainable parameters of the method (full fine-tuning: every parameter).
#[must_use]
///
/// `fused_qkv`: the runtime's q/k/v is one linear whose adapted parts each get their own A
/// matrix (litgpt `LoRAQKVLinear`).
pub fn trainable_params(spec: &ModelSpec, t: &TrainingSetup, targets: &Targets, fused_qkv: bool) -> u64 {
    let r = t.lora_rank;
    let mut n = 0u64;
    match t.method {
        Method::Full => return crate::model::ParamCount::of(spec).total,
        Method::Lora | Method::Qlora | Method::Dora => {
            for layer in spec.encoder_layers.iter().chain(&spec.layers) {
                for l in &layer.linears {
                    let out = targets.adapted_out(l, layer);
                    if out == 0 {
                        continue;
                    }
                    let parts = if fused_qkv { targets.fused_parts(l) } else { 1 };
                    n = n.saturating_add((r * parts * l.in_features + r * out) * l.copies);
                    if t.method == Method::Dora {
                        n = n.saturating_add(l.out_features * l.copies);
                    }
                }
            }
            if let (Some(h), true) = (&spec.lm_head, targets.roles.contains(&Role::Head)) {
                n = n.saturating_add(r * (h.in_features + h.out_features));
            }
        }
        Method::Ia3 => {
            for layer in &spec.layers {
                let a = &layer.attention;
                n = n
                    .saturating_add(a.kv_width())
                    .saturating_add(layer.mlp.intermediate.max(layer.mlp.shared_intermediate));
            }
        }
        Method::PromptTuning => n = t.virtual_tokens * spec.hidden_size,
        Method::PrefixTuning => {
            for layer in &spec.layers {
                n = n.saturating_add(t.virtual_tokens * layer.attention.kv_width());
            }
        }
        Method::Adapter | Method::AdapterV2 => {
            for layer in spec.layers.iter().skip(ADAPTER_START_LAYER as usize) {
                n = n.saturating_add(ADAPTER_PROMPT_LENGTH * spec.hidden_size + layer.attention.heads);
            }
            if t.method == Method::AdapterV2 {
                // litgpt adapter_v2.py adapter_filter: every AdapterV2Linear's adapter_scale and
                // adapter_bias (all blocks and the head) and every norm (norm_1, norm_2, ln_f).
                for layer in &spec.layers {
                    for l in &layer.linears {
                        n = n.saturating_add(2 * l.out_features * l.copies);
                    }
                    n = n.saturating_add(layer.norms.iter().map(crate::model::Norm::numel).sum::<u64>());
                }
                n = n.saturating_add(spec.lm_head.as_ref().map_or(0, |h| 2 * h.out_features));
                n = n.saturating_add(spec.final_norms.iter().map(crate::model::Norm::numel).sum::<u64>());
            }
        }
    }
    n
}

/// litgpt adapter defaults (`adapter_start_layer`, `adapter_prompt_length` in litgpt/adapter.py).
pub const ADAPTER_START_LAYER: u64 = 2;
/// Prompt length of the litgpt adapter.
pub const ADAPTER_PROMPT_LENGTH: u64 = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;

    #[test]
    fn fused_qkv_partial_targets() {
        let spec = parse_config(
            r#"{"model_type":"phi3","hidden_size":3072,"intermediate_size":8192,"num_hidden_layers":1,"num_attention_heads":32,"num_key_value_heads":32,"vocab_size":100}"#,
        )
        .unwrap();
        let layer = &spec.layers[0];
        let qkv = &layer.linears[0];
        let t = Targets::parse(&["q_proj".into(), "v_proj".into()]).unwrap();
        assert_eq!(t.adapted_out(qkv, layer), 2 * 3072);
        let all = Targets::parse(&["all-linear".into()]).unwrap();
        assert_eq!(all.adapted_out(qkv, layer), 3 * 3072);
        assert!(Targets::parse(&["nonsense".into()]).is_err());
    }
}
