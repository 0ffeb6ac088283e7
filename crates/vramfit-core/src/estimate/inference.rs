//! Inference memory (`load`, `prefill`, `generate`): weights, KV cache, the forward pass's
//! working set, logits, and what the runtime adds. The peak is the largest of the phases
//! (load, end of prefill, last decode step); the breakdown lists that phase's components.

use super::activations::{forward_working_set, ForwardShape};
use super::breakdown::{prod, thousands, Breakdown, Component};
use super::component::ComponentKind;
use super::kv_cache::{KvCache, KvPolicy};
use super::overhead;
use super::phase::Phase;
use super::profile::{Bnb4Load, CacheSlots, Engine, InferenceProfile, KvAllocation, MaskPolicy, TpWeights};
use super::recurrent_state::{ConvColumns, RecurrentState, StateLayout};
use super::runtime::TransformersBehaviour;
use super::term::{Formula, Term};
use super::weights::{weight_bytes, QuantScope, WeightBytes};
use super::workload::{AttnImpl, Task, Workload};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::model::{CheckpointFormat, CheckpointInfo, ModelSpec, Positions};
use crate::quant::{Quant, QuantConfig};

const HF_SRC: &str = "transformers modeling_llama.py / generation/utils.py";

/// The compute dtype of weights loaded as `weights`: the autocast dtype, else bf16 for fp8
/// and int8 weights (quantized models compute in the dense dtype), else the weights'.
fn compute_dtype(w: &Workload, weights: DType) -> DType {
    w.autocast.unwrap_or(match weights {
        DType::Fp8 | DType::Int8 => DType::Bf16,
        d => d,
    })
}

/// Estimate an inference workload.
///
/// # Errors
/// Runtimes or model kinds not modelled yet.
pub fn estimate_inference(spec: &ModelSpec, w: &Workload) -> Result<Breakdown> {
    let profile = w.profile();
    match profile.engine {
        Engine::Torch => {}
        Engine::LlamaCpp => return super::llamacpp::estimate_llamacpp(spec, w),
        Engine::Serving(_) => return super::serving::estimate_serving(spec, w),
        Engine::Unmodelled(why) => return Err(Error::workload("--runtime", why)),
    }
    check_model_can_run(spec, w)?;
    let p = profile.inference;
    let mut notes = Vec::new();
    let fixed;
    let w = if p.cache_slots.is_some() || p.dtype.is_some() || p.attention.is_some() {
        fixed = runtime_settings(w, &p, &mut notes)?;
        &fixed
    } else {
        w
    };
    let run = Run::new(spec, w, p, &mut notes);
    let base = run.every_phase(&mut notes);
    let mut phases: Vec<(Phase, Vec<Component>)> = vec![(Phase::Load, run.load(&base))];
    if w.task != Task::Load {
        phases.extend(run.prefill(&base));
        if w.task == Task::Generate && w.new_tokens > 1 {
            phases.push((Phase::Decode, run.last_decode_step(&base)));
        }
    }
    let par = &w.parallel;
    if par.gpus() > 1 || par.tp > 1 {
        for (_, cs) in &mut phases {
            *cs = shard_inference(spec, cs, par, p.tp_weights);
        }
        notes.push(format!("{}: per-GPU memory of the most-loaded GPU", super::parallel::describe(par)));
    }
    let (phase, mut components) = run.peak(phases);
    components.push(w.backend.context(profile.lazy_cuda_loading));
    if w.batch > 1 && matches!(spec.positions, Positions::Alibi) {
        notes.push("ALiBi bias tensors (batch × heads × tokens) are small and folded into activations".into());
    }
    Ok(Breakdown::from_components(components, phase, notes))
}

/// Heads that do not generate and encoders run only the tasks modelled for them.
fn check_model_can_run(spec: &ModelSpec, w: &Workload) -> Result<()> {
    if spec.head != crate::model::Head::CausalLm && w.task == Task::Generate {
        return Err(Error::workload(
            "--task",
            format!(
                "a {} head does not generate text: use --task prefill (one forward), train or load (or --head causal-lm)",
                spec.head.name()
            ),
        ));
    }
    if !spec.is_decoder && w.task != Task::Load {
        return Err(Error::workload(
            "--task",
            if spec.encoder_layers.is_empty() || spec.layers.is_empty() {
                format!("{} is an encoder model: only --task load and train are modelled for it", spec.model_type)
            } else {
                format!("{} is an encoder-decoder model: only --task load is modelled for it", spec.model_type)
            },
        ));
    }
    Ok(())
}

/// The facts of one inference run that every phase reads.
struct Run<'a> {
    spec: &'a ModelSpec,
    w: &'a Workload,
    p: InferenceProfile,
    hf: Option<TransformersBehaviour>,
    wdtype: DType,
    cdtype: DType,
    quant: Option<&'a QuantConfig>,
    wb: WeightBytes,
    /// The cache is allocated up front.
    static_cache: bool,
    attn: AttnImpl,
    kv_dtype: DType,
    policy: KvPolicy,
    /// Tokens in the cache at the last decode step.
    final_tokens: u64,
    /// Tokens a preallocated cache holds.
    prealloc_tokens: u64,
    /// Sequences the cache holds (fixed slots may exceed the batch run).
    cache_batch: u64,
}

impl<'a> Run<'a> {
    fn new(spec: &'a ModelSpec, w: &'a Workload, p: InferenceProfile, notes: &mut Vec<String>) -> Self {
        let (wdtype, dtype_note) = super::defaults::load_dtype(spec, w);
        let cdtype = compute_dtype(w, wdtype);
        let quant = w.quant.as_ref().or(spec.quantization.as_ref());
        let static_cache = p.kv_allocation == KvAllocation::Preallocated || w.kv_prealloc.is_some();
        let hf = p.transformers;
        let attn = attention(spec, w, &p, cdtype, notes);
        // What loading without --dtype resolved to (autocast states its own dtype).
        if let (None, Some(note)) = (w.autocast, dtype_note) {
            notes.push(note);
        }
        let wb = weight_bytes(
            spec,
            wdtype,
            quant,
            QuantScope { head: p.quantized_head || matches!(quant.map(|q| &q.quant), Some(Quant::Gguf { .. })) },
        );
        let kv_dtype = w.kv_dtype.unwrap_or(if w.autocast.is_some() && p.kv_in_weight_dtype_under_autocast {
            wdtype
        } else {
            cdtype
        });
        let policy = KvPolicy {
            // transformers' cache keeps the whole prompt for sliding-window layers after
            // prefill (the GPU-free oracle on Gemma 3 shows every layer holding all 8192
            // prompt tokens); preallocated caches are sized to the window.
            honor_window: static_cache,
            latent: false,
            expanded_heads: hf.is_some() && spec.hf_falcon_copies_kv(),
        };
        // generate(max_new_tokens = n) runs the prompt then n - 1 decode steps: the last token
        // is sampled, never fed back.
        let final_tokens = match w.task {
            Task::Generate => w.prompt.saturating_add(w.new_tokens.saturating_sub(1)),
            _ => w.prompt,
        };
        Self {
            spec,
            w,
            p,
            hf,
            wdtype,
            cdtype,
            quant,
            wb,
            static_cache,
            attn,
            kv_dtype,
            policy,
            final_tokens,
            prealloc_tokens: w.kv_prealloc.unwrap_or(w.prompt.saturating_add(w.new_tokens)).max(final_tokens),
            cache_batch: w.cache_batch.unwrap_or(w.batch),
        }
    }

    /// Weights, autocast copies and buffers: alive in every phase.
    fn every_phase(&self, notes: &mut Vec<String>) -> Vec<Component> {
        let (spec, w, wb) = (self.spec, self.w, &self.wb);
        let mut base = vec![match exact_checkpoint(spec, w, self.wdtype, notes) {
            Some(ck) => Component::new(
                ComponentKind::Weights,
                ck.bytes,
                format!(
                    "exact tensor bytes stored in the checkpoint, as loaded without --dtype/--quant: {}",
                    ck.describe()
                ),
                &format!("{} headers read from {}", ck.format.name(), ck.source),
            ),
            None => Component::new(
                ComponentKind::Weights,
                wb.total,
                wb.formula.clone(),
                "exact parameter count per tensor × storage bytes (vramfit model spec)",
            ),
        }];
        if let Some(ac) = w.autocast {
            let copies = prod(&[linear_params(spec), ac.bytes()]);
            base.push(Component::new(
                ComponentKind::AutocastWeightCopies,
                copies,
                format!("linear params × {} B: autocast caches a {ac} copy of every weight for the whole forward/generate = {} × {}", ac.bytes(), thousands(linear_params(spec)), ac.bytes()),
                "torch/csrc/autograd autocast weight cache (cached casts of leaf tensors that require grad)",
            ));
        }
        if let Some(buf) = buffers(spec, w, self.hf.is_some()) {
            base.push(buf);
        }
        base
    }

    /// Loading: the weights and what quantizing them at load holds for a moment.
    fn load(&self, base: &[Component]) -> Vec<Component> {
        let mut load = base.to_vec();
        if let Some(t) = self.quant.and_then(|q| quant_load_transient(q, &self.wb, self.p.bnb4_load)) {
            load.push(t);
        }
        load
    }

    /// One layer's working set for `query` new tokens against `keys` cached ones.
    fn working_set(&self, query: u64, keys: u64) -> super::activations::LayerWorkingSet {
        forward_working_set(
            self.spec,
            ForwardShape {
                batch: self.w.batch,
                query,
                keys,
                compute_bytes: self.cdtype.bytes(),
                compute: self.cdtype,
                attn: self.attn,
                repeat_kv: self.p.repeats_kv,
                hf_activations: self.hf.is_some(),
                grouped_experts: self.hf.is_some_and(|b| b.grouped_experts),
            },
        )
    }

    /// The end of prefill, at two moments: with the logits, and with the busiest layer.
    fn prefill(&self, base: &[Component]) -> [(Phase, Vec<Component>); 2] {
        let (spec, w, c) = (self.spec, self.w, self.cdtype.bytes());
        let prompt = w.prompt;
        let kv_prefill_tokens = if self.static_cache { self.prealloc_tokens } else { prompt };
        let kv = KvCache::of(spec, self.cache_batch, kv_prefill_tokens, self.kv_dtype, self.policy);
        let mut pre = base.to_vec();
        pre.push(kv_component(&kv, self.static_cache, kv_prefill_tokens));
        pre.extend(self.recurrent_state());
        let ws = self.working_set(prompt, kv_prefill_tokens);
        let mask = causal_mask(spec, w, self.p.mask, self.hf, self.attn, prompt, c, self.prealloc_tokens);
        let logits = prefill_logits(spec, w, &self.p, c);
        let workspace = quant_forward_workspace(self.quant, &self.wb, w.batch.saturating_mul(prompt), spec);
        // The busiest layer and the logits are not alive together: two moments of the
        // prefill, one with the layer's working set, one with the logits. The peak is picked
        // after the split over GPUs, which divides the activations by the tensor-parallel
        // degree and not the logits.
        let mut at_logits = pre.clone();
        at_logits.push(logits);
        at_logits.extend(workspace.clone());
        pre.push(Component::new(
            ComponentKind::Activations,
            ws.bytes,
            format!("prefill working set of the busiest layer ({}): {}", ws.dominant, ws.formula),
            "transformers/litgpt decoder layer forward (tensors alive at once)",
        ));
        if let Some(m) = mask {
            pre.push(m);
        }
        pre.extend(workspace);
        // The busiest layer's moment last: on a tie the busiest layer is reported, as before.
        [(Phase::Prefill, at_logits), (Phase::Prefill, pre)]
    }

    /// The recurrent layers' state of every sequence the cache holds (hybrid models): the
    /// convolution state keeps the whole kernel in the compute dtype, the SSM / delta state
    /// is fp32 (transformers `cache_utils.py` `LinearAttentionLayer`; the Gated DeltaNet and
    /// Mamba-2 torch kernels compute the final state in fp32).
    fn recurrent_state(&self) -> Option<Component> {
        let layout = StateLayout { conv_columns: ConvColumns::Kernel, conv_bytes: self.cdtype.bytes(), state_bytes: 4 };
        let rs = RecurrentState::of(self.spec, self.cache_batch, layout)?;
        Some(Component::new(
            ComponentKind::RecurrentState,
            rs.bytes,
            rs.formula,
            "transformers cache_utils.py LinearAttentionLayer (conv_states [batch, conv_dim, conv_kernel], recurrent_states [batch, heads, k_dim, v_dim]); modeling_qwen3_next.py / modeling_granitemoehybrid.py (fp32 final states)",
        ))
    }

    /// The last decode step: the grown cache, one token's working set and its logits.
    fn last_decode_step(&self, base: &[Component]) -> Vec<Component> {
        let (spec, w, c) = (self.spec, self.w, self.cdtype.bytes());
        let t = self.final_tokens;
        let kv_tokens = if self.static_cache { self.prealloc_tokens } else { t };
        let kv = KvCache::of(spec, self.cache_batch, kv_tokens, self.kv_dtype, self.policy);
        let mut dec = base.to_vec();
        dec.push(kv_component(&kv, self.static_cache, kv_tokens));
        dec.extend(self.recurrent_state());
        if !self.static_cache {
            let old = KvCache::of(spec, w.batch, t - 1, self.kv_dtype, self.policy);
            if self.hf.is_some_and(|b| b.tuple_cache) {
                dec.push(Component::new(
                    ComponentKind::KvCachePrevious,
                    old.bytes,
                    format!(
                        "previous step's cache tuple ({} tokens) alive until the forward returns: {}",
                        thousands(t - 1),
                        old.formula
                    ),
                    "transformers < 4.36: past_key_values tuples rebuilt with torch.cat each step (modeling_llama.py)",
                ));
            } else {
                let layer_old = old.largest_layer;
                dec.push(Component::new(
                    ComponentKind::KvCacheGrowth,
                    layer_old,
                    format!("one layer's old K/V while torch.cat builds the grown copy = {}", thousands(layer_old)),
                    "transformers cache_utils.py DynamicCache.update (torch.cat per layer)",
                ));
            }
        }
        let ws = self.working_set(1, kv_tokens);
        dec.push(Component::new(
            ComponentKind::Activations,
            ws.bytes,
            format!("decode working set of the busiest layer ({}): {}", ws.dominant, ws.formula),
            "transformers/litgpt decoder layer forward",
        ));
        let logits = Term::of(&[("batch", w.batch), ("vocab", spec.logit_width())])
            .times_sum(&[("compute bytes", c), ("fp32 copy", 4)]);
        dec.push(Component::of(
            ComponentKind::Logits,
            &Formula::of(logits).lead("last-position logits and their fp32 copy for sampling"),
            HF_SRC,
        ));
        dec
    }

    /// The phase with the most live tensors, with the allocator's overhead.
    ///
    /// The caching allocator never gives memory back, so the reserved level at the end is the
    /// largest any moment reserved: when another moment (a decode step's superseded cache
    /// block) reserved more than the allocated peak's tensors plus overhead, those cached
    /// blocks are still held. Picking on the tensors and then adding only the peak moment's
    /// overhead would let a larger workload report less device memory.
    fn peak(&self, phases: Vec<(Phase, Vec<Component>)>) -> (Phase, Vec<Component>) {
        let growing = self.hf.is_some() && !self.static_cache;
        let with_overhead = |phase: Phase, mut components: Vec<Component>| {
            let transient_tensors =
                components.iter().filter(|c| overhead::allocation(c.kind) != overhead::Allocation::PerTensor).count()
                    as u64
                    * 4;
            let fragmentation = if growing && phase == Phase::Decode {
                // A growing cache allocates a slightly larger block per layer every step; the
                // freed ones are cached and mostly unusable for the next, larger request.
                components.iter().find(|c| c.kind == ComponentKind::KvCacheGrowth).map_or(0, |c| c.bytes)
            } else {
                0
            };
            components.push(overhead::allocator(
                self.wb.rounding_waste,
                transient_tensors,
                fragmentation,
                "one layer's superseded cache block",
            ));
            components
        };
        let sum = |cs: &Vec<Component>| cs.iter().fold(0u64, |a, c| a.saturating_add(c.bytes));
        let phases: Vec<(Phase, u64, Vec<Component>)> = phases
            .into_iter()
            .map(|(phase, cs)| {
                let live = sum(&cs);
                let cs = with_overhead(phase, cs);
                (phase, live, cs)
            })
            .collect();
        let (reserved_phase, reserved_max) = phases
            .iter()
            .map(|(p, _, cs)| (*p, sum(cs)))
            .max_by_key(|(_, r)| *r)
            .expect("the load phase is always present");
        let (phase, _, mut components) =
            phases.into_iter().max_by_key(|(_, live, _)| *live).expect("the load phase is always present");
        let short = reserved_max.saturating_sub(sum(&components));
        if short > 0 {
            if let Some(a) = components.iter_mut().find(|c| c.kind == ComponentKind::Allocator) {
                a.bytes = a.bytes.saturating_add(short);
                a.formula = format!(
                    "{} + blocks still cached from the {reserved_phase} moment ({})",
                    a.formula,
                    thousands(short)
                );
            }
        }
        (phase, components)
    }
}

/// The attention the runtime actually runs (notes when it differs from the one asked for).
fn attention(spec: &ModelSpec, w: &Workload, p: &InferenceProfile, cdtype: DType, notes: &mut Vec<String>) -> AttnImpl {
    let hf = p.transformers;
    let asked = p.attention.unwrap_or(w.attn);
    if hf.is_some_and(|b| b.eager_only) && asked == AttnImpl::Sdpa {
        notes.push(format!(
            "transformers {} had no SDPA path for most models: attention runs eager",
            w.runtime_version.map_or("<4.36".into(), |v| v.to_string())
        ));
        AttnImpl::Eager
    } else if asked == AttnImpl::Sdpa
        && ((p.sdpa_math_for_fp32_gqa && cdtype.bytes() == 4 && spec.gqa_unmasked(w.prompt + w.new_tokens))
            || (hf.is_some() && spec.hf_falcon_broadcast_kv()))
    {
        notes.push("SDPA falls back to its math kernel here (fp32 grouped-query attention, or Falcon's broadcast single K/V head): scores materialized".into());
        AttnImpl::Math
    } else {
        asked
    }
}

/// The checkpoint whose stored bytes are the weights in memory: safetensors read from headers,
/// loaded as stored (no `--dtype`, `--quant` or autocast asked for, and stored floats in the
/// dtype the runtime loads).
fn exact_checkpoint<'a>(
    spec: &'a ModelSpec,
    w: &Workload,
    wdtype: DType,
    notes: &mut Vec<String>,
) -> Option<&'a CheckpointInfo> {
    let ck = spec.checkpoint.as_ref()?;
    if ck.format == CheckpointFormat::Gguf {
        notes.push(format!(
            "{} dequantizes GGUF tensors at load: weights are parameters × {wdtype} (use --runtime llama.cpp to run the file as stored)",
            w.runtime.name()
        ));
        return None;
    }
    if w.dtype.is_some() || w.quant.is_some() || w.autocast.is_some() {
        notes.push("--dtype/--quant/--precision given: weights computed from parameter counts, not the checkpoint's stored bytes".into());
        return None;
    }
    match ck.main_float_dtype() {
        // A quantized checkpoint (quantization_config) is loaded as stored, whatever its
        // floats (fp8 weights with bf16 norms, int4 with fp16 scales).
        Some(stored) if stored != wdtype && spec.quantization.is_none() => {
            notes.push(format!(
                "the checkpoint stores {stored} tensors but loads as {wdtype}: weights computed from parameter counts"
            ));
            None
        }
        _ => Some(ck),
    }
}

fn linear_params(spec: &ModelSpec) -> u64 {
    spec.all_linears().map(crate::model::Linear::weight_numel).fold(0, u64::saturating_add)
}

fn kv_component(kv: &KvCache, prealloc: bool, tokens: u64) -> Component {
    Component::new(
        ComponentKind::KvCache,
        kv.bytes,
        format!(
            "{}{}",
            kv.formula,
            if prealloc { format!(" (allocated up front for {} tokens)", thousands(tokens)) } else { String::new() }
        ),
        "keys and values per layer, per token (Pope et al. 2022, 'Efficiently Scaling Transformer Inference')",
    )
}

/// Buffers that are not parameters: rotary caches, causal-mask buffers.
fn buffers(spec: &ModelSpec, w: &Workload, hf: bool) -> Option<Component> {
    if !hf {
        return None;
    }
    if spec.quirks.hf_causal_mask_buffer {
        // GPTBigCode registers one max_positions² bool causal mask for the model.
        let n = spec.max_positions.unwrap_or(0);
        return Some(Component::new(
            ComponentKind::Buffers,
            n.saturating_mul(n),
            format!("causal mask buffer max_positions² × 1 B (bool) = {}²", thousands(n)),
            "transformers modeling_gpt_bigcode.py (register_buffer 'bias')",
        ));
    }
    if spec.quirks.hf_rotary_cache_per_layer
        && w.runtime_version.is_some_and(|v| v < super::runtime::RuntimeVersion::new(4, 38))
    {
        // Llama-family attention layers cached cos/sin for max_position_embeddings in fp32 in
        // every layer before transformers 4.38.
        let a = spec.first_attention()?;
        let n = spec.max_positions.unwrap_or(2048);
        let bytes = prod(&[2, spec.num_layers(), n, a.head_dim, 4]);
        return Some(Component::new(
            ComponentKind::Buffers,
            bytes,
            format!(
                "per-layer rotary cos/sin caches: 2 × layers × max_positions × head_dim × 4 B = 2 × {} × {} × {} × 4",
                spec.num_layers(),
                n,
                a.head_dim
            ),
            "transformers < 4.38 LlamaRotaryEmbedding (cos_cached/sin_cached per layer)",
        ));
    }
    None
}

/// The mask the runtime builds for prefill: transformers' 4-D mask for eager attention (and
/// every path before 4.36), litgpt's mask cache, or the reference code's square float mask.
#[allow(clippy::too_many_arguments)]
fn causal_mask(
    spec: &ModelSpec,
    w: &Workload,
    policy: MaskPolicy,
    hf: Option<TransformersBehaviour>,
    attn: AttnImpl,
    prompt: u64,
    c: u64,
    prealloc: u64,
) -> Option<Component> {
    match policy {
        MaskPolicy::None => None,
        MaskPolicy::Cache => {
            let n = prealloc;
            Some(Component::new(
                ComponentKind::Mask,
                n.saturating_mul(n),
                format!("mask cache max_seq_length² × 1 B = {}²", thousands(n)),
                "litgpt model.py build_mask_cache",
            ))
        }
        MaskPolicy::Square => Some(Component::new(
            ComponentKind::Mask,
            prod(&[prompt, prompt, c]),
            format!("1 × 1 × s × s causal mask in the compute dtype = {}² × {c}", thousands(prompt)),
            "llama model.py Transformer.forward (torch.full((1, 1, seqlen, seqlen), -inf))",
        )),
        MaskPolicy::Transformers => {
            let b = hf?;
            if attn != AttnImpl::Eager && !b.eager_only {
                return None;
            }
            // Before 4.36 the expanded padding mask and the causal mask were combined: two
            // copies. Models mixing sliding-window and full layers (Gemma 2/3) get one mask
            // per layer type.
            let mixed = spec.layers.iter().any(|l| l.attention.window.is_some())
                && spec.layers.iter().any(|l| l.attention.window.is_none());
            let copies = if b.eager_only || mixed { 2 } else { 1 };
            let bytes = prod(&[copies, w.batch, prompt, prompt, c]);
            Some(Component::new(
                ComponentKind::Mask,
                bytes,
                format!(
                    "{copies} × b × 1 × s × t × c 4-D additive mask = {copies}·{}·{}·{}·{c}",
                    w.batch,
                    thousands(prompt),
                    thousands(prompt)
                ),
                "transformers modeling_attn_mask_utils.py / _prepare_decoder_attention_mask",
            ))
        }
    }
}

/// Logits at the end of prefill.
fn prefill_logits(spec: &ModelSpec, w: &Workload, p: &InferenceProfile, c: u64) -> Component {
    let v = spec.logit_width();
    let h = spec.hidden_size;
    let hf = p.transformers;
    // A token classifier scores every position; a sequence classifier pools the last.
    let all_positions = (p.logits_all_positions || hf.is_some_and(|b| b.full_prefill_logits))
        && !matches!(spec.head, crate::model::Head::SequenceClassification { .. })
        || matches!(spec.head, crate::model::Head::TokenClassification { .. });
    let rows = if all_positions { w.batch.saturating_mul(w.prompt) } else { w.batch };
    let upcast = p.logits_fp32 || (hf.is_some_and(|b| b.upcast_logits) && spec.quirks.hf_logits_upcast);
    let mut per = vec![("compute bytes", c)];
    if upcast {
        per.push(("fp32 upcast", 4));
    }
    if spec.softcap.logits {
        per.push(("soft-capped copy", c));
    }
    let logits = Term::of(&[(if all_positions { "batch × prompt" } else { "batch" }, rows), ("vocab", v)]);
    let logits = if per.len() > 1 { logits.times_sum(&per) } else { logits.times("compute bytes", c) };
    // Final hidden states stay alive while the head runs; generate then copies the last row
    // in fp32 for sampling.
    let formula = Formula::sum(vec![
        logits,
        Term::of(&[("batch", w.batch), ("prompt", w.prompt), ("hidden", h), ("compute bytes", c)]),
        Term::of(&[("batch", w.batch), ("vocab", v), ("fp32", 4)]),
    ])
    .lead(format!(
        "logits at {}, the final hidden states, the fp32 sampling copy",
        if all_positions { "every prompt position" } else { "the last position only" }
    ));
    Component::of(
        ComponentKind::Logits,
        &formula,
        match (p.mask, all_positions) {
            (MaskPolicy::Square, true) => "llama model.py (Llama 2): self.output(h).float()",
            (MaskPolicy::Square, false) => "llama model.py (LLaMA 1): self.output(h[:, -1, :]).float()",
            (_, true) => "transformers < 4.45 computes logits for all positions; litgpt GPT.forward",
            (_, false) => "transformers >= 4.45 generate passes logits_to_keep=1",
        },
    )
}

/// The settings a runtime fixes whatever is asked (its dtype and attention), with a note for
/// each asked setting it overrides, and its cache slots.
fn runtime_settings(w: &Workload, p: &InferenceProfile, notes: &mut Vec<String>) -> Result<Workload> {
    let mut out = w.clone();
    if let Some(d) = p.dtype {
        if let Some(asked) = w.dtype.filter(|a| *a != d) {
            notes.push(format!("{} runs in {d}: --dtype {asked} is ignored", w.runtime.name()));
        }
        out.dtype = Some(d);
    }
    if let Some(a) = p.attention {
        if w.attn != a {
            notes.push(format!("{} computes attention {} only: --attn is ignored", w.runtime.name(), a.name()));
        }
        out.attn = a;
    }
    match p.cache_slots {
        Some(slots) => cache_slots(out, slots, notes),
        None => Ok(out),
    }
}

/// A cache built for fixed slots (the reference code's `max_batch_size` × `max_seq_len`):
/// refuse what the code asserts against, stop generation at the cache's length, and size the
/// cache by its slots rather than by the batch run.
fn cache_slots(mut out: Workload, slots: CacheSlots, notes: &mut Vec<String>) -> Result<Workload> {
    let batch_slots = out.cache_batch.unwrap_or(slots.batch);
    let seq = out.kv_prealloc.unwrap_or(slots.seq);
    if batch_slots == 0 || batch_slots > super::workload::MAX_BATCH {
        return Err(Error::workload(
            "--max-batch-size",
            format!("must be between 1 and {}", super::workload::MAX_BATCH),
        ));
    }
    if out.batch > batch_slots {
        return Err(Error::workload(
            "--max-batch-size",
            format!("the cache holds {batch_slots} sequences and the batch is {} (generation.py asserts bsz <= max_batch_size); raise --max-batch-size or lower --batch", out.batch),
        ));
    }
    if out.prompt > seq {
        return Err(Error::workload(
            "--max-seq-len",
            format!(
                "the prompt ({}) is longer than max_seq_len ({seq}) (generation.py asserts it); raise --max-seq-len",
                out.prompt
            ),
        ));
    }
    let room = seq - out.prompt;
    if out.task == Task::Generate && out.new_tokens > room {
        notes.push(format!(
            "generation stops at max_seq_len {seq}: {room} of the {} new tokens are generated (raise --max-seq-len for more)",
            out.new_tokens
        ));
        out.new_tokens = room;
    }
    out.kv_prealloc = Some(seq);
    out.cache_batch = Some(batch_slots);
    notes.push(format!(
        "KV cache allocated at build for max_batch_size {batch_slots} × max_seq_len {seq} (Llama.build), whatever batch is run"
    ));
    Ok(out)
}

/// Temporaries while a bitsandbytes layer is quantized on the GPU at load time.
fn quant_load_transient(q: &QuantConfig, wb: &WeightBytes, bnb4: Bnb4Load) -> Option<Component> {
    let n = wb.largest_quantized;
    let (per, why, src) = match (&q.quant, bnb4) {
        (Quant::Bnb4 { .. }, Bnb4Load::HalfCopy) => {
            (4, "the 16-bit source and its .half() copy", "bitsandbytes Params4bit.cuda / litgpt BitsandbytesPrecision")
        }
        (Quant::Bnb4 { .. }, Bnb4Load::OnDevice) => {
            (2, "the 16-bit source on the GPU", "bitsandbytes Params4bit.cuda (quantize_4bit on device)")
        }
        (Quant::BnbInt8, _) => {
            (4, "fp16 source + int8 row- and column-major copies", "bitsandbytes Int8Params.cuda (double_quant)")
        }
        _ => return None,
    };
    Some(Component::new(
        ComponentKind::QuantizationTransient,
        prod(&[n, per]),
        format!("largest quantized linear × {per} B ({why}) = {} × {per}", thousands(n)),
        src,
    ))
}

/// Extra buffers quantized matmuls use during a forward.
fn quant_forward_workspace(
    q: Option<&QuantConfig>,
    wb: &WeightBytes,
    tokens: u64,
    spec: &ModelSpec,
) -> Option<Component> {
    let q = q?;
    match q.quant {
        Quant::BnbInt8 => {
            let i = spec.layers.iter().map(|l| l.mlp.intermediate.max(l.mlp.shared_intermediate)).max().unwrap_or(0);
            let h = spec.hidden_size;
            let bytes = prod(&[tokens, 2 * h + 4 * i]);
            Some(Component::new(
                ComponentKind::Int8MatmulWorkspace,
                bytes,
                format!("tokens × (2·h int8 copies + 4·I int32 accumulator) = {} × (2·{h} + 4·{i})", thousands(tokens)),
                "bitsandbytes MatMul8bitLt (double_quant, igemmlt)",
            ))
        }
        Quant::Gptq { .. } | Quant::Awq { .. } => {
            let bytes = prod(&[wb.largest_quantized, 2]);
            Some(Component::new(
                ComponentKind::DequantScratch,
                bytes,
                format!(
                    "largest quantized linear dequantized to fp16 for large inputs = {} × 2",
                    thousands(wb.largest_quantized)
                ),
                "AutoGPTQ exllama temp_dq buffer / AWQ dequantize kernels",
            ))
        }
        _ => None,
    }
}

/// Split an inference phase over GPUs: tensor parallelism (attention heads and MLP columns
/// split; KV heads split, or replicated when there are fewer KV heads than GPUs) or a
/// sequential layer split (each GPU holds a contiguous block of layers and their cache; the
/// first also holds the embeddings, the last the head).
fn shard_inference(
    spec: &ModelSpec,
    cs: &[Component],
    p: &super::parallel::Parallel,
    tp_weights: TpWeights,
) -> Vec<Component> {
    use super::parallel::{scaled, Share, Strategy};
    let params = crate::model::ParamCount::of(spec);
    let layer_params: u64 =
        spec.layers.iter().map(|l| l.linears.iter().map(|x| x.weight_numel() + x.bias_numel()).sum::<u64>()).sum();
    let per_mille = |n: u64| n.saturating_mul(1000) / params.total.max(1);
    let layers_pm = per_mille(layer_params);
    // A pipeline without tensor parallelism splits layers into stages, like device_map.
    let tensor = p.tp > 1 || (p.strategy != Strategy::Sequential && p.pp == 1);
    let g = if tensor { p.tp.max(p.gpus()) } else { p.gpus() };
    let kv_heads = spec.first_attention().map_or(1, crate::model::Attention::kv_heads).max(1);
    let mut out = Vec::new();
    for c in cs {
        use ComponentKind as K;
        let share = match (c.kind, tensor) {
            // litgpt's tensor parallelism shards the blocks' linears only; embeddings and head
            // stay whole on every GPU (litgpt/generate/tp.py). vLLM splits the vocabulary too.
            // Autocast caches a cast copy of each weight a GPU computes with: its share of them.
            (K::Weights | K::AutocastWeightCopies, true) if tp_weights == TpWeights::BlocksOnly => {
                Share { num: layers_pm + (1000 - layers_pm) * g, den: 1000 * g }
            }
            (K::Weights | K::AutocastWeightCopies, true) => Share::one_in(g),
            (K::Weights | K::AutocastWeightCopies, false) => {
                // Most-loaded GPU: its block of layers plus the larger of embeddings and head.
                let end = per_mille(params.total - layer_params);
                Share { num: layers_pm + end * g, den: 1000 * g }
            }
            (K::KvCache | K::KvCacheGrowth | K::KvCachePrevious, true) => {
                Share { num: kv_heads.div_ceil(g).max(1), den: kv_heads }
            }
            (K::KvCache | K::KvCacheGrowth | K::KvCachePrevious, false) => Share::one_in(g),
            (K::Activations | K::Mask, true) => Share::one_in(g),
            // A layer split runs one stage at a time: each GPU's working set is a layer's.
            (K::Activations | K::Mask, false) => Share::ALL,
            // Heads split under tensor parallelism, blocks under a layer split.
            (K::RecurrentState, _) => Share::one_in(g),
            // Not split today: every GPU holds them whole.
            (K::Buffers | K::Logits | K::QuantizationTransient | K::Int8MatmulWorkspace | K::DequantScratch, _) => {
                Share::ALL
            }
            // Not part of a transformers inference phase (training's, other runtimes', or
            // added after the split).
            (
                K::MasterWeights
                | K::AdapterWeights
                | K::BaseWeights
                | K::MergeDelta
                | K::SaveShardBuffer
                | K::ShardStaging
                | K::LoraWeights
                | K::MmprojWeights
                | K::HostWeights
                | K::HostLoraWeights
                | K::HostMmprojWeights
                | K::GatheredParameters
                | K::HostKvCache
                | K::HostRecurrentState
                | K::LogitsAndLoss
                | K::ActivationPeak
                | K::BackwardWorkingSet
                | K::RecomputedLayer
                | K::OffloadedActivations
                | K::Gradients
                | K::HeadGradient
                | K::EmbeddingGradient
                | K::GradientBuckets
                | K::OptimizerState
                | K::PagedOptimizerState
                | K::OptimizerStepTemporaries
                | K::DequantizationTemporaries
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
                | K::XpuContext,
                _,
            ) => Share::ALL,
        };
        let how = match (tensor, p.pp > 1) {
            (true, true) => "tensor × pipeline parallel",
            (true, false) => "tensor parallel",
            (false, true) => "pipeline stages (layer split)",
            (false, false) => "sequential layer split",
        };
        out.push(scaled(c, share, how));
    }
    out
}
