//! Training estimates: the original thread's claims, and the invariants the issue names.

use crate::util::{spec, GIB};
use proptest::prelude::*;
use vramfit_core::estimate::training::setup::{Method, Optimizer, Precision, TrainingSetup};
use vramfit_core::estimate::{AttnImpl, Runtime};
use vramfit_core::{estimate, Breakdown, DType, Task, Workload};
use vramfit_core::{ComponentKind, Phase};

fn train(t: TrainingSetup) -> Workload {
    Workload { task: Task::Train, batch: 1, training: t, ..Workload::default() }
}

fn full(precision: Precision, optimizer: Optimizer) -> TrainingSetup {
    TrainingSetup { precision: Some(precision), optimizer: Some(optimizer), seq: 512, ..TrainingSetup::default() }
}

fn run(name: &str, w: &Workload) -> Breakdown {
    estimate(&spec(name), w).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const LLAMA_7B: f64 = 6_738_415_616.0;

#[test]
fn full_finetune_mixed_adamw_is_20_bytes_per_param() {
    // fp32 weights 4 + fp32 grads 4 + exp_avg/exp_avg_sq 8 + foreach sqrt temporary 4 (the
    // oracle in shared/validation/ORACLE.md measured 20 B/param): far above "8 bytes/param".
    let b = run("llama-7b", &train(full(Precision::Mixed(DType::Bf16), Optimizer::Adamw)));
    assert_eq!(b.peak_phase, Phase::OptimizerStep);
    assert_eq!(b.levels.allocated, 20 * 6_738_415_616);
    let fused = run("llama-7b", &train(full(Precision::Mixed(DType::Bf16), Optimizer::AdamwFused)));
    assert!((fused.levels.allocated as f64 / LLAMA_7B - 16.0).abs() < 0.1);
}

#[test]
fn cheaper_optimizers_are_cheaper() {
    let adamw = run("llama-7b", &train(full(Precision::Pure(DType::Bf16), Optimizer::Adamw))).levels.allocated;
    let eight = run("llama-7b", &train(full(Precision::Pure(DType::Bf16), Optimizer::Adamw8bit))).levels.allocated;
    let adafactor = run("llama-7b", &train(full(Precision::Pure(DType::Bf16), Optimizer::Adafactor))).levels.allocated;
    let sgd = run("llama-7b", &train(full(Precision::Pure(DType::Bf16), Optimizer::Sgd))).levels.allocated;
    assert!(eight < adamw && adafactor < adamw && sgd < adafactor, "{adamw} {eight} {adafactor} {sgd}");
    // pure bf16 foreach AdamW: 2 + 2 + 4 + 2 = 10 B/param at the step.
    assert!((adamw as f64 / LLAMA_7B - 10.0).abs() < 0.2, "{}", adamw as f64 / LLAMA_7B);
}

#[test]
fn lora_and_qlora_of_7b_on_a_t4() {
    let t4 = vramfit_core::catalog::find_gpu("T4").unwrap().usable_bytes;
    let qlora = TrainingSetup { method: Method::Qlora, grad_ckpt: true, seq: 1024, ..TrainingSetup::default() };
    let w = Workload { task: Task::Train, batch: 4, dtype: Some(DType::Fp16), training: qlora, ..Workload::default() };
    assert!(run("llama-7b", &w).total_bytes() < t4);
    let lora = TrainingSetup { method: Method::Lora, grad_ckpt: true, seq: 1024, ..TrainingSetup::default() };
    let w = Workload { task: Task::Train, batch: 8, dtype: Some(DType::Fp16), training: lora, ..Workload::default() };
    assert!(run("llama-7b", &w).total_bytes() > t4, "fp16 LoRA at batch 8 × 1024 should not fit a T4");
}

#[test]
fn activations_grow_linearly_with_batch() {
    let at = |b: u64| {
        let w = Workload {
            task: Task::Train,
            batch: b,
            dtype: Some(DType::Bf16),
            training: TrainingSetup { method: Method::Lora, seq: 1024, ..TrainingSetup::default() },
            ..Workload::default()
        };
        run("llama-2-7b", &w).component(ComponentKind::Activations)
    };
    let (a1, a2, a3) = (at(1), at(2), at(3));
    assert_eq!(a2 - a1, a3 - a2);
    assert!((a2 - a1) as f64 > 2.0 * GIB, "{}", (a2 - a1) as f64 / GIB);
}

fn peft(method: Method, seq: u64, virtual_tokens: u64) -> Workload {
    let t = TrainingSetup { method, seq, virtual_tokens, ..TrainingSetup::default() };
    Workload { task: Task::Train, batch: 4, dtype: Some(DType::Bf16), training: t, ..Workload::default() }
}

#[test]
fn prompt_tuning_runs_the_model_over_its_virtual_tokens() {
    // PEFT prepends the virtual tokens to inputs_embeds: 512 + 200 tokens cost what 612 + 100 do.
    let acts = |seq, v| run("llama-3.2-3b", &peft(Method::PromptTuning, seq, v)).component(ComponentKind::Activations);
    assert_eq!(acts(512, 200), acts(612, 100));
    assert!(acts(512, 200) > acts(512, 20));
}

#[test]
fn prefix_tuning_lengthens_the_keys() {
    let at = |v| run("llama-3.2-3b", &peft(Method::PrefixTuning, 512, v));
    let (short, long) = (at(20), at(200));
    assert!(long.component(ComponentKind::Activations) > short.component(ComponentKind::Activations));
    // The prefix adds keys, not queries: the loss is over the same 512 tokens.
    assert_eq!(long.component(ComponentKind::LogitsAndLoss), short.component(ComponentKind::LogitsAndLoss));
}

#[test]
fn litgpt_fuses_qkv_and_fabric_returns_fp32_logits() {
    let lora = |runtime, targets: &[&str]| {
        let t = TrainingSetup {
            method: Method::Lora,
            seq: 1024,
            lora_targets: targets.iter().map(|t| (*t).to_string()).collect(),
            ..TrainingSetup::default()
        };
        let w = Workload { task: Task::Train, runtime, dtype: Some(DType::Bf16), training: t, ..Workload::default() };
        run("phi-2", &w)
    };
    // One LoRA dropout on the fused qkv input serves the query and the value adapters.
    let q = lora(Runtime::Litgpt, &["q_proj"]);
    let qv = lora(Runtime::Litgpt, &["q_proj", "v_proj"]);
    assert_eq!(q.component(ComponentKind::Activations), qv.component(ComponentKind::Activations));
    let hf = |t: &[&str]| lora(Runtime::Transformers, t).component(ComponentKind::Activations);
    assert!(hf(&["q_proj", "v_proj"]) > hf(&["q_proj"]));
    // Fabric's precision plugin converts the chunked bf16 logits to fp32, and the loss runs on
    // them: 4 B logits + 4 B log-softmax per token and vocabulary entry at backward start.
    let vocab = spec("phi-2").vocab_size;
    assert!(
        qv.component(ComponentKind::LogitsAndLoss) >= 1024 * vocab * 8,
        "{}",
        qv.component(ComponentKind::LogitsAndLoss)
    );
}

#[test]
fn a_tied_head_gradient_outlives_an_optimizer_step_in_backward() {
    // The tied embedding's gradient is accumulated over both uses before the step hook fires:
    // the head's share is held from the loss to the end of backward.
    let t = TrainingSetup {
        precision: Some(Precision::Pure(DType::Bf16)),
        optimizer: Some(Optimizer::Adamw),
        optimizer_in_backward: true,
        chunked_ce: Some(true),
        seq: 1024,
        ..TrainingSetup::default()
    };
    let b = run("llama-3.2-3b", &Workload { runtime: Runtime::Torchtune, ..train(t) });
    let s = spec("llama-3.2-3b");
    assert!(s.tied_embeddings);
    assert!(b.component(ComponentKind::HeadGradient) >= s.vocab_size * s.hidden_size * 2, "{:#?}", b.components);
}

#[test]
fn thirteen_b_full_finetune_does_not_fit_an_a100_80gb() {
    let b = run("llama-2-13b", &train(full(Precision::Mixed(DType::Bf16), Optimizer::Adamw)));
    assert!(b.total_bytes() > vramfit_core::catalog::find_gpu("A100-80GB").unwrap().usable_bytes);
}

#[test]
fn merge_takes_cpu_ram() {
    let w = Workload { task: Task::Merge, dtype: Some(DType::Fp16), ..Workload::default() };
    let b = run("llama-2-7b", &w);
    assert_eq!(b.levels.device, 0);
    assert!(b.host_bytes > 13_000_000_000 && b.host_bytes < 20_000_000_000, "{}", b.host_bytes);
}

#[test]
fn bad_training_settings_name_the_flag() {
    let s = spec("llama-2-7b");
    let bad = |t: TrainingSetup| estimate(&s, &train(t)).unwrap_err().to_string();
    assert!(bad(TrainingSetup { seq: 0, ..TrainingSetup::default() }).starts_with("--seq"));
    assert!(bad(TrainingSetup { grad_accum: 0, ..TrainingSetup::default() }).starts_with("--grad-accum"));
    assert!(bad(TrainingSetup { method: Method::Lora, lora_rank: 0, ..TrainingSetup::default() })
        .starts_with("--lora-rank"));
    assert!(bad(TrainingSetup { method: Method::Lora, lora_targets: vec!["wat".into()], ..TrainingSetup::default() })
        .starts_with("--lora-targets"));
}

/// PEFT DoRA with LoRA dropout recomputes each adapted module's base output as
/// `F.linear(dropout(x), W.to(x.dtype))` (peft 0.21.2 tuners/lora/dora.py:142, 163): the frozen
/// weight is copied into the adapter's dtype (again into the compute dtype under autocast) and
/// that copy is saved for grad_input. The copies do not grow with the batch: the activations'
/// intercept over the batch (everything else is linear in it) is the adapted weights × the
/// copy's bytes. Traced by the oracle's `-dora-...-do-` cases.
#[test]
fn dora_with_dropout_keeps_a_copy_of_each_adapted_weight() {
    let model = "qwen2.5-0.5b";
    let adapted: u64 =
        spec(model).layers.iter().flat_map(|l| &l.linears).map(vramfit_core::model::Linear::weight_numel).sum();
    let intercept = |precision: Precision, dropout: u32| {
        let act = |batch: u64| {
            let t = TrainingSetup {
                method: Method::Dora,
                precision: Some(precision),
                optimizer: Some(Optimizer::Adamw),
                lora_rank: 16,
                lora_targets: vec!["all-linear".into()],
                lora_dropout: Some(dropout),
                seq: 256,
                ..TrainingSetup::default()
            };
            let b = run(model, &Workload { batch, ..train(t) });
            let a: u64 = b.components.iter().filter(|c| c.kind.name() == "activations").map(|c| c.bytes).sum();
            i128::from(a)
        };
        2 * act(1) - act(2)
    };
    // pure bf16: bf16 base, fp32 adapters (PEFT autocast_adapter_dtype): fp32 copies.
    assert_eq!(intercept(Precision::Pure(DType::Bf16), 50), i128::from(adapted * 4));
    // Under bf16 autocast the fp32 copy (or an fp32 base itself) is cast to bf16, and saved.
    assert_eq!(intercept(Precision::Mixed(DType::Bf16), 50), i128::from(adapted * 2));
    // fp32 everywhere: the saved weight is the parameter, no copy.
    assert_eq!(intercept(Precision::Fp32, 50), 0);
    // No dropout: DoRA reuses the base layer's output, no second F.linear.
    assert_eq!(intercept(Precision::Pure(DType::Bf16), 0), 0);
}

fn torchtune_qlora(version: (u32, u32), batch: u64, compile: bool) -> Breakdown {
    let t = TrainingSetup { method: Method::Qlora, grad_ckpt: true, compile, seq: 512, ..TrainingSetup::default() };
    let w = Workload {
        runtime: Runtime::Torchtune,
        runtime_version: Some(vramfit_core::estimate::RuntimeVersion::new(version.0, version.1)),
        batch,
        ..train(t)
    };
    run("llama-2-7b", &w)
}

fn component(b: &Breakdown, name: &str) -> u64 {
    b.components.iter().filter(|c| c.kind.name() == name).map(|c| c.bytes).sum()
}

/// torchtune's QLoRA recipe builds the model on the GPU and quantizes each base weight in
/// `LoRALinear.__init__` (torchao `to_nf4`); at a small batch the step needs less than
/// construction, whose peak is the last large linear's quantization: torchao 0.1 (torchtune
/// 0.1) compares every element with the 16 codes at once (68 B per element with the bf16
/// source, traced on CPU tensors), torchao 0.3.1 (torchtune 0.2 on) in 2^20-element chunks.
#[test]
fn torchtune_qlora_peaks_while_quantizing_at_construction() {
    let mlp = 11_008 * 4096; // Llama-2-7B's largest linear
    let old = torchtune_qlora((0, 1), 1, false);
    assert_eq!(old.peak_phase.name(), "model initialisation");
    assert_eq!(component(&old, "quantization_transient"), 68 * mlp);
    // No optimizer state, gradients or activations exist yet.
    assert_eq!(component(&old, "optimizer_state") + component(&old, "activations"), 0);
    // Chunked, construction needs 5 B per element + 64 MiB: less than the step.
    assert_ne!(torchtune_qlora((0, 2), 1, false).peak_phase.name(), "model initialisation");
    // A large batch: the step is the peak again.
    assert_ne!(torchtune_qlora((0, 1), 8, false).peak_phase.name(), "model initialisation");
    // transformers + PEFT loads bitsandbytes weights quantized from the checkpoint: no such phase.
    let t = TrainingSetup { method: Method::Qlora, grad_ckpt: true, seq: 512, ..TrainingSetup::default() };
    assert_ne!(run("llama-2-7b", &train(t)).peak_phase.name(), "model initialisation");
}

/// QLoRA's default storage follows the runtime's 4-bit code: torchao's NF4Tensor always
/// double-quantizes its block scales (torchtune), bitsandbytes keeps fp32 absmax unless
/// `bnb_4bit_use_double_quant` (transformers + PEFT).
#[test]
fn qlora_default_storage_follows_the_runtime() {
    let weights = |runtime: Runtime, quant: Option<&str>| {
        let t = TrainingSetup { method: Method::Qlora, seq: 512, ..TrainingSetup::default() };
        let quant = quant.map(|q| vramfit_core::quant::QuantConfig::parse(q, None).unwrap());
        component(&run("llama-2-7b", &Workload { runtime, quant, ..train(t) }), "weights")
    };
    assert_eq!(weights(Runtime::Torchtune, None), weights(Runtime::Torchtune, Some("nf4-dq")));
    assert_eq!(weights(Runtime::Transformers, None), weights(Runtime::Transformers, Some("nf4")));
}

/// torchao's `NF4Tensor.get_original_weight` dequantizes through two int64 code tensors, two
/// bf16 lookups, two scaled halves and their stack: 14 B per element of the linear (traced,
/// torchao 0.3.1), where bitsandbytes writes the 2-byte weight only; compiled, the
/// dequantization is one fused kernel.
#[test]
fn torchao_nf4_dequantizes_through_int64_codes() {
    let mlp = 11_008 * 4096;
    assert_eq!(component(&torchtune_qlora((0, 2), 8, false), "dequantization_temporaries"), 14 * mlp);
    assert_eq!(component(&torchtune_qlora((0, 2), 8, true), "dequantization_temporaries"), 2 * mlp);
}

/// PEFT IA3 keeps, per token and layer, the K and V base outputs its vectors scale (compute
/// dtype) and the MLP input cast to the vectors' fp32 (peft tuners/ia3/layer.py); traced by
/// the oracle's `-ia3-` cases.
#[test]
fn ia3_keeps_the_scaled_outputs_and_the_cast_mlp_input() {
    let t = TrainingSetup {
        method: Method::Ia3,
        precision: Some(Precision::Pure(DType::Bf16)),
        seq: 512,
        ..TrainingSetup::default()
    };
    let b = run("llama-2-7b", &train(t));
    let act = b.components.iter().find(|c| c.kind.name() == "activations").expect("activations");
    // K and V: 2 × 4096 × 2 B; down_proj's input: 11008 × 4 B.
    assert!(act.formula.contains(&format!("ia3 inputs {}", 2 * 4096 * 2 + 11_008 * 4)), "{}", act.formula);
}

/// litgpt adapter v2 makes every linear an `AdapterV2Linear`, whose
/// `adapter_scale * (linear(x) + adapter_bias)` keeps the biased output for the scale's
/// gradient (litgpt 0.5.13 adapter_v2.py:57-58), the head's included; its scales, biases and
/// norms train in every block, so every block saves for backward (v1 starts at layer 2).
#[test]
fn adapter_v2_keeps_every_linears_output() {
    let t = TrainingSetup {
        method: Method::AdapterV2,
        precision: Some(Precision::Pure(DType::Bf16)),
        seq: 512,
        ..TrainingSetup::default()
    };
    let w = Workload { runtime: Runtime::Litgpt, ..train(t) };
    let b = run("llama-2-7b", &w);
    let act = b.components.iter().find(|c| c.kind.name() == "activations").expect("activations");
    // q, k, v, o 4 × 4096 + gate, up 2 × 11008 + down 4096 outputs, × 2 B.
    assert!(
        act.formula.contains(&format!("adapter_v2 outputs {}", (4 * 4096 + 2 * 11_008 + 4096) * 2)),
        "{}",
        act.formula
    );
    assert!(act.formula.contains("× 32 layers"), "{}", act.formula);
}

const MODELS: &[&str] =
    &["llama-2-7b", "mistral-7b-v0.1", "gemma-2-2b", "phi-2", "gpt2", "qwen2.5-0.5b", "falcon-7b", "mixtral-8x7b"];

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Full),
        Just(Method::Lora),
        Just(Method::Qlora),
        Just(Method::Ia3),
        Just(Method::PromptTuning),
        Just(Method::PrefixTuning),
        Just(Method::Adapter)
    ]
}

fn runtime() -> impl Strategy<Value = Runtime> {
    prop_oneof![Just(Runtime::Transformers), Just(Runtime::Litgpt), Just(Runtime::Torchtune)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// More batch or sequence never needs less memory.
    #[test]
    fn more_batch_or_seq_never_less(m in 0..MODELS.len(), method in method(), rt in runtime(), ckpt in any::<bool>(),
                                    b in 1u64..8, db in 0u64..4, s in 16u64..2048, ds in 0u64..1024, eager in any::<bool>()) {
        let spec = spec(MODELS[m]);
        let t = TrainingSetup { method, grad_ckpt: ckpt, seq: s, ..TrainingSetup::default() };
        let attn = if eager { AttnImpl::Eager } else { AttnImpl::Sdpa };
        let small = Workload { task: Task::Train, batch: b, runtime: rt, attn, dtype: Some(DType::Bf16), training: t.clone(), ..Workload::default() };
        let big = Workload { batch: b + db, training: TrainingSetup { seq: s + ds, ..t }, ..small.clone() };
        let a = estimate(&spec, &small).unwrap();
        let z = estimate(&spec, &big).unwrap();
        prop_assert!(a.levels.allocated <= z.levels.allocated);
    }

    /// Checkpointing never needs more activation memory than keeping everything.
    #[test]
    fn checkpointing_never_needs_more(m in 0..MODELS.len(), method in method(), rt in runtime(), b in 1u64..8, s in 16u64..4096) {
        let spec = spec(MODELS[m]);
        let w = |ckpt: bool| Workload { task: Task::Train, batch: b, runtime: rt, dtype: Some(DType::Bf16),
            training: TrainingSetup { method, grad_ckpt: ckpt, seq: s, ..TrainingSetup::default() }, ..Workload::default() };
        let on = estimate(&spec, &w(true)).unwrap();
        let off = estimate(&spec, &w(false)).unwrap();
        let in_pass = |b: &Breakdown| matches!(b.peak_phase, Phase::Forward | Phase::BackwardLoss | Phase::BackwardLayers);
        if in_pass(&on) && in_pass(&off) {
            prop_assert!(on.component(ComponentKind::Activations) <= off.component(ComponentKind::Activations));
        }
        // At the very end of backward a checkpointed run still holds the first layer's input
        // next to its recomputed tensors: one hidden-state tensor more, never more than that.
        let boundary = b * s * spec.hidden_size * 4;
        prop_assert!(on.levels.allocated <= off.levels.allocated + boundary, "{} > {}", on.levels.allocated, off.levels.allocated);
    }

    /// LoRA never needs more than full fine-tuning of the same model.
    #[test]
    fn lora_never_more_than_full(m in 0..MODELS.len(), rt in runtime(), b in 1u64..8, s in 16u64..4096, ckpt in any::<bool>(), rank in 1u64..128) {
        let spec = spec(MODELS[m]);
        let w = |method: Method| Workload { task: Task::Train, batch: b, runtime: rt, dtype: Some(DType::Bf16),
            training: TrainingSetup { method, lora_rank: rank, grad_ckpt: ckpt, seq: s, precision: Some(Precision::Pure(DType::Bf16)), ..TrainingSetup::default() }, ..Workload::default() };
        let lora = estimate(&spec, &w(Method::Lora)).unwrap();
        let full = estimate(&spec, &w(Method::Full)).unwrap();
        prop_assert!(lora.levels.allocated <= full.levels.allocated, "lora {} > full {}", lora.levels.allocated, full.levels.allocated);
    }
}

mod multi_gpu {
    use super::*;
    use vramfit_core::estimate::parallel::{Offload, Parallel, Strategy};

    fn thirteen_b(strategy: Strategy, offload: Option<Offload>) -> Breakdown {
        let t = TrainingSetup {
            precision: Some(Precision::Mixed(DType::Bf16)),
            optimizer: Some(Optimizer::Adamw),
            grad_ckpt: true,
            seq: 512,
            ..TrainingSetup::default()
        };
        let parallel =
            Parallel { gpus_per_node: 4, strategy, offload, offload_params: offload.is_some(), ..Parallel::default() };
        run("llama-2-13b", &Workload { task: Task::Train, batch: 1, training: t, parallel, ..Workload::default() })
    }

    /// FSDP's no_sync keeps unsharded gradients while micro-batches accumulate: litgpt's
    /// Block-wrapped LoRA pays a full gradient for every Block parameter on each GPU.
    #[test]
    fn fsdp_accumulation_keeps_gradients_unsharded() {
        let lora = |grad_accum| {
            let t = TrainingSetup {
                method: Method::Lora,
                precision: Some(Precision::Pure(DType::Bf16)),
                grad_ckpt: true,
                grad_accum,
                seq: 1024,
                ..TrainingSetup::default()
            };
            let parallel = Parallel { gpus_per_node: 2, strategy: Strategy::FsdpFull, ..Parallel::default() };
            let w =
                Workload { task: Task::Train, runtime: Runtime::Litgpt, training: t, parallel, ..Workload::default() };
            run("llama-2-7b", &w)
        };
        let (synced, accumulating) = (lora(1), lora(8));
        assert!(
            synced.component(ComponentKind::Gradients) < 100_000_000,
            "{}",
            synced.component(ComponentKind::Gradients)
        );
        // 32 blocks of 202,383,360 parameters in bf16.
        assert!(
            accumulating.component(ComponentKind::Gradients) >= 32 * 202_383_360 * 2,
            "{}",
            accumulating.component(ComponentKind::Gradients)
        );
    }

    /// "13B fine-tune OOMs on 4×A100": DDP replicates 20 bytes per parameter on every GPU;
    /// ZeRO-3 and FSDP shard it so that 4 × 80 GB fit; offload makes 4 × 40 GB fit.
    #[test]
    fn thirteen_b_on_four_a100s() {
        let a40 = vramfit_core::catalog::find_gpu("A100-40GB").unwrap().usable_bytes;
        let a80 = vramfit_core::catalog::find_gpu("A100-80GB").unwrap().usable_bytes;
        let ddp = thirteen_b(Strategy::Ddp, None);
        assert!(ddp.total_bytes() > 2 * a80);
        assert!(ddp.component(ComponentKind::GradientBuckets) > 0);
        let z2 = thirteen_b(Strategy::Zero(2), None).total_bytes();
        let z3 = thirteen_b(Strategy::Zero(3), None).total_bytes();
        let fsdp = thirteen_b(Strategy::FsdpFull, None).total_bytes();
        assert!(z3 < z2 && z2 < ddp.total_bytes());
        assert!(z3 < a80 && fsdp < a80 && z3 > a40 && fsdp > a40);
        let off = thirteen_b(Strategy::Zero(3), Some(Offload::Cpu));
        assert!(off.total_bytes() < a40);
        // The offloaded fp32 master, Adam states and 16-bit shards are in CPU RAM.
        assert!(off.host_bytes > 13_015_864_320 * 12 / 4, "{}", off.host_bytes);
    }

    #[test]
    fn tensor_parallel_inference_splits_weights_and_cache() {
        let one =
            run("llama-2-70b", &Workload { task: Task::Prefill, dtype: Some(DType::Fp16), ..Workload::default() });
        let tp = Workload {
            task: Task::Prefill,
            dtype: Some(DType::Fp16),
            parallel: Parallel { gpus_per_node: 8, tp: 8, ..Parallel::default() },
            ..Workload::default()
        };
        let eight = run("llama-2-70b", &tp);
        assert_eq!(eight.component(ComponentKind::Weights), one.component(ComponentKind::Weights).div_ceil(8));
        // 8 KV heads over 8 GPUs: one head each.
        assert_eq!(eight.component(ComponentKind::KvCache), one.component(ComponentKind::KvCache).div_ceil(8));
    }
}
