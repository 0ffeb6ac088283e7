//! Several GPUs: how data parallelism (DDP, ZeRO 1–3, FSDP), tensor, pipeline and expert
//! parallelism split what one GPU would hold, what they add (gradient buckets, gathered
//! layers), and what offload moves to CPU RAM. Estimates are for the most-loaded rank.

use super::breakdown::{thousands, Component, Level};
use super::component::ComponentKind;
use super::phase::Phase;
use crate::error::{Error, Result};
use serde::Serialize;

/// How the GPUs share the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One GPU.
    None,
    /// PyTorch DistributedDataParallel: everything replicated, gradients also copied into
    /// all-reduce buckets.
    Ddp,
    /// DeepSpeed ZeRO stage 1/2/3.
    Zero(u8),
    /// PyTorch FSDP: full shard (ZeRO-3-like).
    FsdpFull,
    /// PyTorch FSDP SHARD_GRAD_OP (ZeRO-2-like: parameters stay gathered between forward and
    /// backward).
    FsdpGradOp,
    /// PyTorch FSDP HYBRID_SHARD: full shard within a node, replicated across nodes.
    FsdpHybrid,
    /// Layers split across GPUs, run one after another (accelerate `device_map="auto"`,
    /// litgpt `generate/sequentially.py`, naive pipeline).
    Sequential,
}

impl Strategy {
    /// PyTorch FSDP in any sharding mode.
    #[must_use]
    pub fn is_fsdp(self) -> bool {
        matches!(self, Strategy::FsdpFull | Strategy::FsdpGradOp | Strategy::FsdpHybrid)
    }
}

/// Where offloaded state goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Offload {
    /// Pinned CPU RAM.
    Cpu,
    /// NVMe (DeepSpeed ZeRO-Infinity): CPU RAM keeps only buffers.
    Nvme,
}

/// The parallel layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Parallel {
    /// GPUs per node.
    pub gpus_per_node: u64,
    /// Nodes.
    pub nodes: u64,
    /// Data-parallel strategy (or sequential layer split).
    pub strategy: Strategy,
    /// Tensor-parallel degree.
    pub tp: u64,
    /// Pipeline-parallel degree.
    pub pp: u64,
    /// Expert-parallel degree.
    pub ep: u64,
    /// Sequence parallelism with tensor parallelism (Megatron).
    pub sequence_parallel: bool,
    /// Offload of optimizer state (and, for ZeRO-3/FSDP, parameters).
    pub offload: Option<Offload>,
    /// Parameters are offloaded too (ZeRO-3 `offload_param`, FSDP `CPUOffload(offload_params)`).
    pub offload_params: bool,
}

impl Default for Parallel {
    fn default() -> Self {
        Parallel {
            gpus_per_node: 1,
            nodes: 1,
            strategy: Strategy::None,
            tp: 1,
            pp: 1,
            ep: 1,
            sequence_parallel: false,
            offload: None,
            offload_params: false,
        }
    }
}

impl Parallel {
    /// All GPUs.
    #[must_use]
    pub fn gpus(&self) -> u64 {
        self.gpus_per_node.saturating_mul(self.nodes)
    }

    /// Data-parallel degree: GPUs / (tensor × pipeline).
    #[must_use]
    pub fn dp(&self) -> u64 {
        (self.gpus() / (self.tp * self.pp).max(1)).max(1)
    }

    /// GPUs a sharded state is split over (a node for hybrid sharding).
    #[must_use]
    pub fn shard_group(&self) -> u64 {
        match self.strategy {
            Strategy::FsdpHybrid => (self.gpus_per_node / (self.tp * self.pp).max(1)).max(1),
            _ => self.dp(),
        }
    }

    /// Whether anything is split or replicated at all.
    #[must_use]
    pub fn is_single(&self) -> bool {
        self.gpus() == 1 && self.strategy == Strategy::None
    }

    /// Check the layout against the model, as the engines do: vLLM and Megatron require the
    /// attention heads to divide by the tensor-parallel degree (and the KV heads to divide by
    /// it, or it by them: vLLM replicates KV heads), a pipeline stage holds at least one
    /// layer, and expert parallelism needs experts that divide by its degree.
    ///
    /// # Errors
    /// A degree the model cannot be split by; the message names the flag and the rule.
    pub fn check_model(&self, spec: &crate::model::ModelSpec) -> Result<()> {
        let divisors = |n: u64| -> String {
            let d: Vec<String> = (1..=n.min(64)).filter(|d| n % d == 0).map(|d| d.to_string()).collect();
            d.join(", ")
        };
        if self.tp > 1 {
            if let Some(a) = spec.first_attention() {
                let kv = a.kv_heads().max(1);
                if a.heads % self.tp != 0 {
                    return Err(Error::workload(
                        "--tp",
                        format!(
                            "{} does not divide the model's {} attention heads (vLLM and Megatron require heads divisible by the tensor-parallel degree); use one of {}",
                            self.tp,
                            a.heads,
                            divisors(a.heads)
                        ),
                    ));
                }
                if kv % self.tp != 0 && self.tp % kv != 0 {
                    return Err(Error::workload(
                        "--tp",
                        format!(
                            "{} and the model's {kv} KV heads do not divide one another (vLLM splits KV heads, or replicates them when the degree is a multiple)",
                            self.tp
                        ),
                    ));
                }
            }
        }
        let layers = spec.num_layers().max(spec.encoder_layers.len() as u64);
        if self.pp > 1 && self.pp > layers {
            return Err(Error::workload(
                "--pp",
                format!("{} pipeline stages for {layers} layers: each stage needs at least one layer", self.pp),
            ));
        }
        if self.ep > 1 {
            let experts = spec.encoder_layers.iter().chain(&spec.layers).map(|l| l.mlp.experts).max().unwrap_or(0);
            if experts == 0 {
                return Err(Error::workload(
                    "--ep",
                    "the model has no experts (dense MLP): expert parallelism needs a mixture-of-experts model",
                ));
            }
            if experts % self.ep != 0 {
                return Err(Error::workload(
                    "--ep",
                    format!(
                        "{} does not divide the model's {experts} experts; use one of {}",
                        self.ep,
                        divisors(experts)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Check the layout.
    ///
    /// # Errors
    /// Degrees that do not divide the GPUs, zero counts.
    pub fn check(&self) -> Result<()> {
        if self.gpus_per_node == 0 || self.gpus_per_node > 4096 {
            return Err(Error::workload("--gpus", "must be between 1 and 4096 per node"));
        }
        if self.nodes == 0 || self.nodes > 100_000 {
            return Err(Error::workload("--nodes", "must be between 1 and 100000"));
        }
        for (flag, d) in [("--tp", self.tp), ("--pp", self.pp), ("--ep", self.ep)] {
            if d == 0 || d > 4096 {
                return Err(Error::workload(flag, "must be between 1 and 4096"));
            }
        }
        if self.gpus() % (self.tp * self.pp) != 0 {
            return Err(Error::workload(
                "--tp",
                format!("tensor × pipeline degree {} does not divide {} GPUs", self.tp * self.pp, self.gpus()),
            ));
        }
        if self.offload.is_some()
            && !matches!(self.strategy, Strategy::Zero(_) | Strategy::FsdpFull | Strategy::FsdpHybrid)
        {
            return Err(Error::workload("--offload", "offload needs --zero 1|2|3 or --fsdp full|hybrid"));
        }
        if let Strategy::Zero(z) = self.strategy {
            if z > 3 {
                return Err(Error::workload("--zero", "stage must be 0, 1, 2 or 3"));
            }
        }
        Ok(())
    }
}

/// DeepSpeed's `estimate_zero2_model_states_mem_needs` (deepspeed/runtime/zero/
/// stage_1_and_2.py), reproduced: (CPU bytes, GPU bytes) for parameters, gradients and
/// optimizer states of `total_params` under ZeRO-2 with mixed precision and Adam.
#[must_use]
pub fn deepspeed_zero2_model_states(
    total_params: u64,
    gpus_per_node: u64,
    nodes: u64,
    cpu_offload: bool,
    additional_buffer_factor: f64,
) -> (u64, u64) {
    let total_gpus = (nodes * gpus_per_node).max(1) as f64;
    let p = total_params as f64;
    let (cpu, gpu) = if cpu_offload {
        (p * (4.0 * total_gpus).max(16.0) * additional_buffer_factor, 2.0 * p)
    } else {
        (p * 4.0 * gpus_per_node as f64 * additional_buffer_factor, 4.0 * p + (16.0 * p / total_gpus).trunc())
    };
    (cpu as u64, gpu as u64)
}

/// DeepSpeed's `estimate_zero3_model_states_mem_needs` (deepspeed/runtime/zero/stage3.py),
/// reproduced: (CPU bytes, GPU bytes, largest layer bytes).
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn deepspeed_zero3_model_states(
    total_params: u64,
    largest_layer_params: u64,
    gpus_per_node: u64,
    nodes: u64,
    cpu_offload: bool,
    cpu_offload_params: bool,
    zero_init: bool,
    additional_buffer_factor: f64,
) -> (u64, u64, u64) {
    let total_gpus = (nodes * gpus_per_node).max(1) as f64;
    let gpus_factor = 1.0 / nodes.max(1) as f64;
    let p = total_params as f64;
    let largest = 4 * largest_layer_params;
    let g = gpus_per_node as f64;
    let (cpu, gpu) = if cpu_offload {
        if cpu_offload_params {
            let cpu = if zero_init { p * 18.0 * gpus_factor } else { p * (4.0 * g).max(18.0 * gpus_factor) };
            (cpu * additional_buffer_factor, largest as f64)
        } else {
            let cpu = if zero_init { p * 16.0 * gpus_factor } else { p * (4.0 * g).max(16.0 * gpus_factor) };
            (cpu * additional_buffer_factor, largest as f64 + (2.0 * p / total_gpus).trunc())
        }
    } else {
        let cpu = if zero_init { largest_layer_params as f64 * 4.0 * g } else { p * 4.0 * g };
        (cpu * additional_buffer_factor, largest as f64 + (18.0 * p / total_gpus).trunc())
    };
    (cpu as u64, gpu as u64, largest)
}

/// Activation bytes per layer of a GPT-style transformer from Korthikanti et al. 2022,
/// "Reducing Activation Recomputation in Large Transformer Models", Table 2 (16-bit
/// activations, dropout masks included): `s·b·h·(34 + 5·a·s/h)` without parallelism;
/// `s·b·h·(10 + 24/t + 5·a·s/(h·t))` with tensor parallelism `t`; `s·b·h/t·(34 + 5·a·s/h)`
/// with tensor and sequence parallelism.
#[must_use]
pub fn korthikanti_layer_activations(s: u64, b: u64, h: u64, a: u64, t: u64, sequence_parallel: bool) -> f64 {
    let (s, b, h, a, t) = (s as f64, b as f64, h as f64, a as f64, t.max(1) as f64);
    let sbh = s * b * h;
    if sequence_parallel {
        sbh / t * (34.0 + 5.0 * a * s / h)
    } else {
        sbh * (10.0 + 24.0 / t + 5.0 * a * s / (h * t))
    }
}

/// A fraction applied to a component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    /// Numerator.
    pub num: u64,
    /// Denominator.
    pub den: u64,
}

impl Share {
    /// The whole thing.
    pub const ALL: Share = Share { num: 1, den: 1 };
    /// One part in `n`.
    #[must_use]
    pub fn one_in(n: u64) -> Self {
        Share { num: 1, den: n.max(1) }
    }
    /// Apply to a byte count (rounding up: the most-loaded rank holds the remainder).
    #[must_use]
    pub fn of(self, bytes: u64) -> u64 {
        let v = (u128::from(bytes) * u128::from(self.num)).div_ceil(u128::from(self.den.max(1)));
        u64::try_from(v).unwrap_or(u64::MAX)
    }
    /// Compose.
    #[must_use]
    pub fn then(self, o: Share) -> Self {
        Share { num: self.num * o.num, den: self.den * o.den }
    }
}

/// Scale a component, recording the share in its formula.
#[must_use]
pub fn scaled(c: &Component, share: Share, why: &str) -> Component {
    if share.num == share.den {
        return c.clone();
    }
    let mut out = c.clone();
    out.bytes = share.of(c.bytes);
    out.formula = format!("{} ({why}: × {}/{})", c.formula, share.num, share.den);
    out
}

/// A component on the host instead of the GPU.
#[must_use]
pub fn to_host(c: &Component, why: &str) -> Component {
    let mut out = c.clone();
    out.level = Level::Host;
    out.offloaded = true;
    out.formula = format!("{} — {why}", c.formula);
    out
}

/// Describe the layout in words.
#[must_use]
pub fn describe(p: &Parallel) -> String {
    let s = match p.strategy {
        Strategy::None => "single GPU".to_string(),
        Strategy::Ddp => "DDP".to_string(),
        Strategy::Zero(z) => format!("DeepSpeed ZeRO-{z}"),
        Strategy::FsdpFull => "FSDP full shard".to_string(),
        Strategy::FsdpGradOp => "FSDP shard-grad-op".to_string(),
        Strategy::FsdpHybrid => "FSDP hybrid shard".to_string(),
        Strategy::Sequential => "layers split sequentially".to_string(),
    };
    let mut parts = vec![format!("{} GPU{}", p.gpus(), if p.gpus() == 1 { "" } else { "s" })];
    // Tensor or pipeline parallelism alone is its own description, not a "single GPU".
    if !(p.strategy == Strategy::None && (p.tp > 1 || p.pp > 1)) {
        parts.push(s);
    }
    if p.tp > 1 {
        parts.push(format!("TP {}{}", p.tp, if p.sequence_parallel { " + SP" } else { "" }));
    }
    if p.pp > 1 {
        parts.push(format!("PP {}", p.pp));
    }
    if p.ep > 1 {
        parts.push(format!("EP {}", p.ep));
    }
    if let Some(o) = p.offload {
        parts.push(format!(
            "offload {}{}",
            if o == Offload::Cpu { "cpu" } else { "nvme" },
            if p.offload_params { " (params too)" } else { "" }
        ));
    }
    parts.join(" · ")
}

/// Bytes formatted for formulas.
#[must_use]
pub fn b(n: u64) -> String {
    thousands(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deepspeed_estimators_match_their_published_outputs() {
        // estimate_zero3_model_states_mem_needs_all_live(t5-small, 1 node, 1 GPU) as printed
        // in https://blog.csdn.net/u012327567/article/details/132278598 ("60M total params,
        // 16M largest layer params"): t5-small has 60,506,624 parameters and its largest
        // module is the shared 32128 × 512 embedding.
        let gib = |b: u64| format!("{:.2}", b as f64 / f64::from(1u32 << 30));
        let t5_small = crate::config::parse_config(
            r#"{"model_type":"t5","d_model":512,"d_kv":64,"d_ff":2048,"num_layers":6,"num_heads":8,"vocab_size":32128}"#,
        )
        .unwrap();
        let total = crate::model::ParamCount::of(&t5_small).total;
        assert_eq!(total, 60_506_624);
        let largest = 32_128 * 512;
        let rows = [
            ((true, true, true), ("1.52", "0.06")),
            ((true, true, false), ("1.52", "0.06")),
            ((true, false, true), ("1.35", "0.17")),
            ((true, false, false), ("1.35", "0.17")),
            ((false, false, true), ("0.09", "1.08")),
            ((false, false, false), ("0.34", "1.08")),
        ];
        for ((opt, param, init), (cpu_gb, gpu_gb)) in rows {
            let (cpu, gpu, _) = deepspeed_zero3_model_states(total, largest, 1, 1, opt, param, init, 1.5);
            assert_eq!((gib(cpu).as_str(), gib(gpu).as_str()), (cpu_gb, gpu_gb), "{opt} {param} {init}");
        }
        // ZeRO-2, 8 GPUs, no offload: 4P + 16P/8 = 6P bytes; with offload 2P on the GPU.
        let (cpu, gpu) = deepspeed_zero2_model_states(1_000_000_000, 8, 1, false, 1.5);
        assert_eq!((cpu, gpu), (48_000_000_000, 6_000_000_000));
        let (cpu, gpu) = deepspeed_zero2_model_states(1_000_000_000, 8, 1, true, 1.5);
        assert_eq!((cpu, gpu), (48_000_000_000, 2_000_000_000));
    }

    #[test]
    fn korthikanti_table_2() {
        // GPT-3 175B: s = 2048, b = 1, h = 12288, a = 96.
        let none = korthikanti_layer_activations(2048, 1, 12288, 96, 1, false);
        assert!((none - 2048.0 * 12288.0 * (34.0 + 5.0 * 96.0 * 2048.0 / 12288.0)).abs() < 1.0);
        let tp8 = korthikanti_layer_activations(2048, 1, 12288, 96, 8, false);
        let tp8_sp = korthikanti_layer_activations(2048, 1, 12288, 96, 8, true);
        assert!(tp8_sp < tp8 && tp8 < none);
        assert!((tp8_sp * 8.0 - none).abs() < 1.0);
    }

    #[test]
    fn vocabulary_gradients_split_over_tensor_parallel_ranks_only() {
        let shape = TrainingShape {
            full: true,
            mixed: false,
            compute: 2,
            params: 1000,
            trainable: 1000,
            layer_unit_bytes: 10,
            embed_unit_bytes: 10,
            expert_per_mille: 0,
            tp_activation_per_mille: 1000,
        };
        let cs = [
            Component::new(ComponentKind::HeadGradient, 4000, "V × h × 2", ""),
            Component::new(ComponentKind::EmbeddingGradient, 8000, "2 × V × h × 2", ""),
        ];
        let bytes = |p: &Parallel| -> Vec<u64> {
            shard_training_phase(&cs, p, &shape, Phase::BackwardLayers).iter().map(|c| c.bytes).collect()
        };
        let tp = Parallel { gpus_per_node: 4, tp: 4, ..Parallel::default() };
        assert_eq!(bytes(&tp), [1000, 2000]);
        // FSDP's root unit (embeddings and head) keeps them whole until the end of backward.
        let fsdp = Parallel { gpus_per_node: 4, strategy: Strategy::FsdpFull, ..Parallel::default() };
        assert_eq!(bytes(&fsdp), [4000, 8000]);
    }

    #[test]
    fn layouts_are_checked() {
        let p = Parallel { gpus_per_node: 4, tp: 3, ..Parallel::default() };
        assert!(p.check().unwrap_err().to_string().starts_with("--tp"));
        let p =
            Parallel { gpus_per_node: 4, strategy: Strategy::Ddp, offload: Some(Offload::Cpu), ..Parallel::default() };
        assert!(p.check().is_err());
        let p = Parallel { gpus_per_node: 8, nodes: 2, strategy: Strategy::FsdpHybrid, ..Parallel::default() };
        assert_eq!((p.dp(), p.shard_group()), (16, 8));
    }
}

/// What the training estimator knows that sharding needs.
#[derive(Debug, Clone, Copy)]
pub struct TrainingShape {
    /// Every parameter trains (full fine-tuning).
    pub full: bool,
    /// fp32 master weights with a 16-bit compute copy (mixed precision).
    pub mixed: bool,
    /// Compute dtype bytes.
    pub compute: u64,
    /// All parameters.
    pub params: u64,
    /// Trainable parameters.
    pub trainable: u64,
    /// Bytes of the largest decoder layer as stored (quantized layers are gathered quantized)
    /// in the compute dtype otherwise.
    pub layer_unit_bytes: u64,
    /// Bytes of the embedding table gathered in the compute dtype.
    pub embed_unit_bytes: u64,
    /// Fraction of parameters in routed experts, per mille.
    pub expert_per_mille: u64,
    /// Activation share under tensor parallelism (Korthikanti et al. 2022), per mille.
    pub tp_activation_per_mille: u64,
}

/// DeepSpeed's default `reduce_bucket_size` (elements) for ZeRO-2 gradient reduction.
pub const ZERO_REDUCE_BUCKET: u64 = 500_000_000;

/// Split one phase's components for the most-loaded rank of layout `p`.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn shard_training_phase(cs: &[Component], p: &Parallel, s: &TrainingShape, phase: Phase) -> Vec<Component> {
    let mp = Share::one_in(p.tp * p.pp);
    // Routed experts are also split across expert-parallel ranks.
    let ep = if p.ep > 1 && s.expert_per_mille > 0 {
        let keep = 1000 - s.expert_per_mille + s.expert_per_mille.div_ceil(p.ep);
        Share { num: keep, den: 1000 }
    } else {
        Share::ALL
    };
    let model = mp.then(ep);
    let dp = Share::one_in(p.shard_group());
    let act = Share { num: s.tp_activation_per_mille, den: 1000 };
    let deepspeed = matches!(p.strategy, Strategy::Zero(_));
    let zero = if let Strategy::Zero(z) = p.strategy { z } else { 0 };
    let fsdp = p.strategy.is_fsdp();
    let shard_params = zero == 3 || matches!(p.strategy, Strategy::FsdpFull | Strategy::FsdpHybrid);
    let shard_grads = zero >= 2 || fsdp;
    let shard_states = zero >= 1 || fsdp;
    let offload = p.offload.is_some();
    let in_pass = phase.in_pass();
    let mut out = Vec::new();
    for c in cs {
        use ComponentKind as K;
        match c.kind {
            K::Weights => {
                let c = scaled(c, model, "tensor/pipeline/expert split");
                if s.full && s.mixed && (deepspeed || fsdp) {
                    // fp32 master weights live with the (sharded) optimizer; the model holds
                    // 16-bit weights (DeepSpeed) or gathers 16-bit units (FSDP).
                    let master = Component { kind: K::MasterWeights, ..c.clone() };
                    let master = scaled(&master, dp, "fp32 master partition");
                    let half_bytes = c.bytes / 4 * s.compute;
                    if shard_params || fsdp {
                        // FSDP keeps only the sharded fp32 parameters; ZeRO-3 shards the 16-bit ones.
                        if deepspeed {
                            let w = Component::new(
                                ComponentKind::Weights,
                                Share::one_in(p.shard_group()).of(half_bytes),
                                format!("16-bit parameters partitioned over {} ranks", p.shard_group()),
                                "DeepSpeed ZeRO-3 (stage3.py)",
                            );
                            out.push(if offload && p.offload_params { to_host(&w, "offload_param") } else { w });
                        }
                    } else {
                        out.push(Component::new(
                            ComponentKind::Weights,
                            half_bytes,
                            "16-bit model parameters, replicated",
                            "DeepSpeed ZeRO-1/2 (bf16/fp16 module + fp32 partition)",
                        ));
                    }
                    if offload {
                        out.push(to_host(&master, "optimizer offload keeps the fp32 master on CPU"));
                    } else {
                        out.push(master);
                    }
                } else if shard_params {
                    let sh = scaled(&c, dp, "parameters sharded");
                    if offload && p.offload_params {
                        out.push(to_host(&sh, "parameter offload"));
                    } else {
                        out.push(sh);
                    }
                } else {
                    out.push(c);
                }
                if shard_params && in_pass {
                    // The unit being computed and the prefetched next (in backward also the
                    // unit's unsharded gradient); the embedding table is gathered on its own.
                    let units = if matches!(phase, Phase::BackwardLoss | Phase::BackwardLayers) { 3 } else { 2 };
                    let layers = units * s.layer_unit_bytes / (p.tp * p.pp);
                    let bytes = layers.max(s.embed_unit_bytes / (p.tp * p.pp));
                    out.push(Component::new(
                        ComponentKind::GatheredParameters,
                        bytes,
                        format!(
                            "all-gathered units: max({units} × largest layer {} B (computing, prefetched{}), embeddings {} B)",
                            b(s.layer_unit_bytes),
                            if units == 3 { ", its unsharded gradient" } else { "" },
                            b(s.embed_unit_bytes)
                        ),
                        if deepspeed { "DeepSpeed ZeRO-3 parameter gathering (stage3_prefetch_bucket_size)" } else { "FSDP all-gather per wrapped unit (backward_prefetch)" },
                    ));
                }
                if p.strategy == Strategy::FsdpGradOp && in_pass {
                    out.push(Component::new(
                        ComponentKind::GatheredParameters,
                        model.of(s.params * s.compute),
                        "SHARD_GRAD_OP keeps every unit gathered from forward to the end of backward",
                        "PyTorch FSDP ShardingStrategy.SHARD_GRAD_OP",
                    ));
                }
            }
            K::AdapterWeights if shard_params => {
                out.push(scaled(c, model.then(dp), "adapters sharded with the parameters"));
            }
            // Mixed-precision full fine-tuning under a sharding engine keeps no autocast copy of
            // the model: DeepSpeed bf16/fp16 runs a 16-bit module (ZeRO-3 gathers its 16-bit
            // partitions one layer at a time; `estimate_zero3_model_states_mem_needs` counts
            // 18 B/param / N + the largest layer, no model-sized cast), and FSDP's
            // MixedPrecision(param_dtype) casts each gathered unit, not the model (both counted
            // in weights / gathered_parameters). Autocast finds the weights already 16-bit.
            K::AutocastWeightCopies if s.full && s.mixed && (deepspeed || fsdp) => out.push(Component::new(
                ComponentKind::AutocastWeightCopies,
                0,
                if deepspeed {
                    "none: DeepSpeed bf16/fp16 keeps the module's parameters in 16 bits (ZeRO-3: gathered per layer), nothing to cast"
                } else {
                    "none: FSDP MixedPrecision(param_dtype) casts each gathered unit (gathered_parameters), not the model"
                },
                if deepspeed {
                    "DeepSpeed runtime/engine.py (bf16/fp16 module), zero/stage3.py estimate_zero3_model_states_mem_needs"
                } else {
                    "PyTorch FSDP MixedPrecision(param_dtype) (torch/distributed/fsdp/api.py)"
                },
            )),
            K::AdapterWeights | K::AutocastWeightCopies | K::DequantizationTemporaries => {
                out.push(scaled(c, model, "tensor/pipeline split"));
            }
            K::Gradients => {
                let c = scaled(c, model, "tensor/pipeline/expert split");
                if shard_grads {
                    let sh = scaled(&c, dp, "gradients reduce-scattered to their shard");
                    if deepspeed && offload {
                        out.push(to_host(&sh, "ZeRO-Offload keeps fp32 gradient partitions on CPU"));
                    } else {
                        out.push(sh);
                    }
                    // DeepSpeed reduces gradients through a bucket on the GPU (ZeRO-2, and any
                    // stage whose partitions go to CPU).
                    if (deepspeed && offload) || (zero == 2 && in_pass) {
                        out.push(Component::new(
                            ComponentKind::GradientBuckets,
                            ZERO_REDUCE_BUCKET.min(s.trainable) * s.compute,
                            format!(
                                "reduce bucket of min(reduce_bucket_size 5e8, trainable) elements × {} B",
                                s.compute
                            ),
                            "DeepSpeed zero_optimization.reduce_bucket_size",
                        ));
                    }
                } else {
                    if p.strategy == Strategy::Ddp && phase.in_backward() {
                        out.push(Component::new(
                            ComponentKind::GradientBuckets,
                            c.bytes,
                            "DDP copies every gradient into all-reduce buckets (gradient_as_bucket_view=False)",
                            "torch/nn/parallel/distributed.py (Reducer buckets, bucket_cap_mb=25 each)",
                        ));
                    }
                    out.push(c);
                }
            }
            // DeepSpeed steps with its own fused Adam (GPU) or DeepSpeedCPUAdam: no foreach copy.
            K::OptimizerStepTemporaries if deepspeed => {}
            K::OptimizerState | K::OptimizerStepTemporaries => {
                let c = scaled(c, model, "tensor/pipeline/expert split");
                let c = if shard_states { scaled(&c, dp, "optimizer state partitioned") } else { c };
                if offload {
                    out.push(to_host(&c, "optimizer offload: the step runs on CPU"));
                } else {
                    out.push(c);
                }
            }
            K::Activations | K::RecomputedLayer | K::BackwardWorkingSet | K::LogitsAndLoss => {
                out.push(scaled(c, act, "tensor parallel (Korthikanti et al. 2022)"));
            }
            // The head's weight gradient and a tied embedding's two gradients have the shape of
            // the vocabulary matrix, which tensor parallelism splits by rows (Megatron's
            // VocabParallelEmbedding / column-parallel output layer): one part in `tp`. A
            // pipeline keeps the whole matrix on its first or last stage, and data-parallel
            // sharding leaves them whole: they belong to the root unit (embeddings, final
            // norm, head), which FSDP reduce-scatters only when the embedding's gradient
            // arrives at the end of backward.
            K::HeadGradient | K::EmbeddingGradient => {
                out.push(scaled(c, Share::one_in(p.tp), "vocabulary split over tensor-parallel ranks"));
            }
            // Not part of a training step's phases (added after sharding, or other runtimes').
            K::MasterWeights
            | K::BaseWeights
            | K::MergeDelta
            | K::SaveShardBuffer
            | K::ShardStaging
            | K::LoraWeights
            | K::MmprojWeights
            | K::HostWeights
            | K::HostLoraWeights
            | K::HostMmprojWeights
            | K::Buffers
            | K::GatheredParameters
            | K::KvCache
            | K::KvCachePrevious
            | K::KvCacheGrowth
            | K::HostKvCache
            | K::RecurrentState
            | K::HostRecurrentState
            | K::Mask
            | K::Logits
            | K::ActivationPeak
            | K::OffloadedActivations
            | K::GradientBuckets
            | K::PagedOptimizerState
            | K::QuantizationTransient
            | K::Int8MatmulWorkspace
            | K::DequantScratch
            | K::ComputeBuffer
            | K::HostComputeBuffer
            | K::MmprojComputeBuffer
            | K::HostMmprojComputeBuffer
            | K::OutputBuffer
            | K::CudaGraphs
            | K::NonTorch
            | K::Allocator
            | K::CudaContext
            | K::RocmContext
            | K::MetalContext
            | K::XpuContext => out.push(c.clone()),
        }
    }
    out
}
