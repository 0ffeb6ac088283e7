//! The fit solver: the original question, plans that respect the GPU, minimal plans, exact
//! limits, and no panic on any input.

use crate::util::spec;
use proptest::prelude::*;
use vramfit_core::catalog::GpuSpec;
use vramfit_core::estimate::training::setup::{Method, TrainingSetup};
use vramfit_core::estimate::workload::{MAX_BATCH, MAX_TOKENS};
use vramfit_core::estimate::RuntimeVersion;
use vramfit_core::fit::{self, fit, FitOptions, FitReport, LeverKind, Plan, Verdict};
use vramfit_core::{estimate, DType, ModelSpec, Task, Workload};

fn run(model: &str, w: &Workload, gpu: &str) -> FitReport {
    fit(&spec(model), w, &GpuSpec::parse(gpu).unwrap(), FitOptions::default()).unwrap()
}

/// transformers 4.x: `from_pretrained` without `torch_dtype` loads fp32 (the original
/// question's trap).
fn transformers_4() -> Workload {
    Workload { runtime_version: Some(RuntimeVersion::new(4, 46)), ..Workload::default() }
}

fn train() -> Workload {
    Workload { task: Task::Train, ..Workload::default() }
}

fn has(p: &Plan, flag: &str) -> bool {
    p.changes.iter().any(|c| c.flag.contains(flag))
}

fn fits(s: &ModelSpec, w: &Workload, usable: u64) -> bool {
    estimate(s, w).is_ok_and(|b| Verdict::new(b.total_bytes(), usable).fits)
}

#[test]
fn llama_7b_on_a_t4_inference() {
    let r = run("llama-7b", &transformers_4(), "T4");
    // Without --dtype, transformers 4.x loads fp32: 27 GB of weights, no fit.
    assert!(r.as_asked.breakdown.notes.iter().any(|n| n.contains("fp32, what transformers 4.46")));
    assert!(!r.as_asked.verdict.fits);
    // Best plan: fp16, with headroom and the max context at batch 1.
    let best = &r.plans[0];
    assert_eq!(best.flags(), "--dtype fp16");
    assert!(best.verdict.fits && best.verdict.headroom_bytes > 1 << 30);
    let limits = best.limits.unwrap();
    assert_eq!(limits.context_batch, 1);
    assert!(limits.max_context.unwrap() >= 768);
    // 8-bit and 4-bit alternatives, with more headroom.
    for q in ["--quant int8", "--quant nf4"] {
        let p = r.plans.iter().find(|p| p.flags() == q).unwrap_or_else(|| panic!("no {q} plan"));
        assert!(p.verdict.headroom_bytes > best.verdict.headroom_bytes);
    }
    // GPTQ/AWQ need another checkpoint: mentioned, not chosen.
    assert!(r.not_chosen.iter().any(|n| n.flag.contains("gptq")));
    assert!(r.plans.iter().all(|p| !has(p, "gptq") && !has(p, "awq")));
}

#[test]
fn llama_7b_on_a_t4_training() {
    let r = run("llama-7b", &train(), "T4");
    assert!(!r.as_asked.verdict.fits, "full fine-tuning of 7B does not fit a T4");
    let lora = r.plans.iter().find(|p| p.workload.training.method == Method::Lora).expect("a LoRA plan");
    let qlora = r.plans.iter().find(|p| p.workload.training.method == Method::Qlora).expect("a QLoRA plan");
    for p in [lora, qlora] {
        let l = p.limits.unwrap();
        assert!(l.max_batch.unwrap() >= 1 && l.max_context.unwrap() >= 512, "{}: {l:?}", p.flags());
    }
    // Every full fine-tuning plan on a T4 would need fp32 master weights: none fits.
    assert!(r.plans.iter().all(|p| p.workload.training.method != Method::Full));
}

#[test]
fn multi_gpu_layouts_are_estimated_and_sharding_is_a_lever() {
    use vramfit_core::estimate::parallel::{Parallel, Strategy};
    // A workload laid out on one of the four GPUs says so.
    let r = run("llama-2-13b", &train(), "4xA100-80GB");
    assert!(r.multi_gpu_not_modelled);
    assert!(r.notes.iter().any(|n| n.contains("one of the 4 GPUs")));
    // Laid out with DDP over four GPUs: does not fit, and sharding plans do.
    let ddp =
        Workload { parallel: Parallel { gpus_per_node: 4, strategy: Strategy::Ddp, ..Parallel::default() }, ..train() };
    let r = run("llama-2-13b", &ddp, "4xA100-80GB");
    assert!(!r.multi_gpu_not_modelled && !r.as_asked.verdict.fits);
    assert_eq!(
        r.as_asked.verdict.per_gpu_bytes,
        estimate(&spec("llama-2-13b"), &r.as_asked.workload).unwrap().total_bytes()
    );
    let sharded = r.plans.iter().filter(|p| p.workload.parallel.strategy != Strategy::Ddp).count();
    assert!(sharded > 0 && r.plans.iter().all(|p| p.verdict.fits));
}

#[test]
fn plans_respect_the_gpu() {
    for gpu in ["T4", "V100-16GB"] {
        let r = fit(
            &spec("llama-3.2-3b"),
            &transformers_4(),
            &GpuSpec::parse(gpu).unwrap(),
            FitOptions { all: true, ..FitOptions::default() },
        )
        .unwrap();
        for p in &r.plans {
            let w = &p.workload;
            assert_ne!(w.dtype, Some(DType::Bf16), "{gpu}: {}", p.flags());
            assert_ne!(w.kv_dtype, Some(DType::Fp8), "{gpu}: {}", p.flags());
            assert!(!has(p, "flash") && !has(p, "fp8"), "{gpu}: {}", p.flags());
        }
        assert!(r.plans.iter().any(|p| p.flags().contains("--dtype fp16")), "{gpu}: bf16 checkpoint runs in fp16");
    }
    let r = fit(
        &spec("llama-3.2-3b"),
        &transformers_4(),
        &GpuSpec::parse("H100-SXM").unwrap(),
        FitOptions { all: true, ..FitOptions::default() },
    )
    .unwrap();
    assert!(r.plans.iter().any(|p| has(p, "--kv-dtype fp8")), "H100 has fp8");
    assert!(r.plans.iter().any(|p| has(p, "--attn flash")), "H100 runs FlashAttention-2");
    assert!(r.plans.iter().any(|p| p.flags() == "--dtype bf16"), "bf16 checkpoint stays bf16");
    // Training on a T4 starts from fp16 mixed precision, never bf16.
    let r = run("llama-3.1-8b", &train(), "T4");
    assert!(r.plans.iter().all(|p| p.workload.training.precision.is_none_or(|p| p.compute() != DType::Bf16)));
}

#[test]
fn asking_for_what_the_gpu_cannot_run_is_an_error() {
    let t4 = GpuSpec::parse("T4").unwrap();
    let e = fit(
        &spec("llama-7b"),
        &Workload { dtype: Some(DType::Bf16), ..Workload::default() },
        &t4,
        FitOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--dtype") && e.contains("bf16"), "{e}");
}

#[test]
fn plans_are_minimal_and_ranked() {
    for (model, w, gpu) in [
        ("llama-7b", transformers_4(), "T4"),
        ("llama-7b", train(), "T4"),
        ("llama-2-13b", train(), "A100-80GB"),
        ("mistral-7b-v0.1", Workload { batch: 64, prompt: 4096, ..Workload::default() }, "RTX-4090"),
    ] {
        let s = spec(model);
        let r = run(model, &w, gpu);
        let usable = r.gpu.usable_bytes;
        assert!(!r.plans.is_empty(), "{model} on {gpu}");
        for p in &r.plans {
            assert!(p.verdict.fits, "{}", p.flags());
            assert!(fits(&s, &p.workload, usable), "a plan's workload fits when estimated again");
            let scoped = p.changes.iter().any(|c| matches!(c.lever, LeverKind::Batch | LeverKind::Context));
            let levers: Vec<_> =
                p.changes.iter().filter(|c| !matches!(c.lever, LeverKind::Batch | LeverKind::Context)).collect();
            // Without any one of its levers (at the asked size), the plan does not fit.
            for skip in 0..levers.len() {
                let mut x = r.as_asked.workload.clone();
                for (i, c) in levers.iter().enumerate() {
                    if i != skip {
                        c.apply(&mut x);
                    }
                }
                assert!(!fits(&s, &x, usable), "{model}: {} is not minimal (without {})", p.flags(), levers[skip].flag);
            }
            if scoped {
                let mut x = r.as_asked.workload.clone();
                for c in &levers {
                    c.apply(&mut x);
                }
                assert!(!fits(&s, &x, usable), "{model}: {} cuts the size without need", p.flags());
            }
        }
        let keys: Vec<_> = r.plans.iter().map(|p| (p.scope, p.quality, p.speed, p.verdict.per_gpu_bytes)).collect();
        assert!(keys.windows(2).all(|k| k[0] <= k[1]), "{model}: ranked {keys:?}");
    }
}

#[test]
fn a_fitting_workload_has_no_plans_unless_all() {
    let w = Workload { dtype: Some(DType::Fp16), ..Workload::default() };
    let r = run("llama-7b", &w, "T4");
    assert!(r.as_asked.verdict.fits && r.plans.is_empty());
    assert_eq!(r.gpus.min_gpus, Some(1));
    let all =
        fit(&spec("llama-7b"), &w, &GpuSpec::parse("T4").unwrap(), FitOptions { all: true, ..FitOptions::default() })
            .unwrap();
    assert!(all.plans.iter().any(|p| p.flags() == "--quant nf4"));
    assert!(all.plans.iter().all(|p| p.changes.len() == 1), "alternatives to a fitting workload are single changes");
}

#[test]
fn gpus_that_fit_are_the_smallest_that_do() {
    let r = run("llama-7b", &transformers_4(), "T4");
    let need = r.as_asked.verdict.per_gpu_bytes;
    let list = &r.gpus.gpus_that_fit;
    assert!(!list.is_empty() && list.len() <= 5);
    assert!(list.iter().all(|g| g.verdict.fits && g.usable_bytes > need));
    assert!(list.windows(2).all(|g| g[0].usable_bytes <= g[1].usable_bytes));
    let smallest_fitting = vramfit_core::catalog::gpus()
        .iter()
        .filter(|g| g.vendor == "nvidia" && Verdict::new(need, g.usable_bytes).fits)
        .map(|g| g.usable_bytes)
        .min()
        .unwrap();
    assert_eq!(list[0].usable_bytes, smallest_fitting);
    assert_eq!(r.gpus.min_gpus_lower_bound, Some(2));
}

#[test]
fn the_search_is_bounded() {
    for (model, w) in [("deepseek-v3", train()), ("llama-3.1-70b", Workload { batch: 256, ..Workload::default() })] {
        let r = run(model, &w, "T4");
        assert!(r.estimates <= fit::MAX_ESTIMATES + 200, "{model}: {} estimates", r.estimates);
    }
}

const MODELS: &[&str] = &["llama-7b", "mistral-7b-v0.1", "gemma-2-2b", "qwen3-0.6b", "gpt2", "mixtral-8x7b"];
const GPUS: &[&str] = &["T4", "RTX-3060-12GB", "RTX-4090", "A100-80GB", "H100-SXM", "8GiB", "2xL4"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The limits are exact: the largest batch and context fit, one more does not.
    #[test]
    fn limits_are_exact(
        m in 0..MODELS.len(), g in 0..GPUS.len(),
        task in prop::sample::select(vec![Task::Prefill, Task::Generate, Task::Train]),
        prompt in 1u64..4096, new in 0u64..1024, seq in 1u64..4096,
        quant in prop::sample::select(vec!["", "int8", "nf4"]),
        method in prop::sample::select(vec![Method::Lora, Method::Qlora]),
    ) {
        let s = spec(MODELS[m]);
        let gpu = GpuSpec::parse(GPUS[g]).unwrap();
        let quant = (!quant.is_empty() && task != Task::Train).then(|| vramfit_core::quant::QuantConfig::parse(quant, None).unwrap());
        let w = Workload {
            task, prompt, new_tokens: new, quant, dtype: Some(DType::Fp16),
            training: TrainingSetup { seq, method, grad_ckpt: true, ..TrainingSetup::default() },
            ..Workload::default()
        };
        let r = fit(&s, &w, &gpu, FitOptions::default()).unwrap();
        let usable = gpu.usable_bytes;
        let l = r.limits;
        if let (Some(b), Some(ctx)) = (l.max_batch, l.batch_context) {
            let at = fit::with_context(&r.as_asked.workload, ctx);
            prop_assert!(fits(&s, &fit::with_batch(&at, b), usable));
            prop_assert!(b == MAX_BATCH || !fits(&s, &fit::with_batch(&at, b + 1), usable), "batch {} + 1 fits", b);
        }
        if let Some(c) = l.max_context {
            let at = fit::with_batch(&r.as_asked.workload, l.context_batch);
            prop_assert!(fits(&s, &fit::with_context(&at, c), usable));
            // Never past the model's position limit, even when more was asked.
            let cap = l.model_max_context.unwrap_or(MAX_TOKENS).min(MAX_TOKENS);
            prop_assert!(c == cap || !fits(&s, &fit::with_context(&at, c + 1), usable), "context {} + 1 fits", c);
            prop_assert_eq!(l.context_limited_by_model, Some(c) == l.model_max_context);
        }
    }

    /// Any workload on any GPU: a report or an error, never a panic; plans always fit.
    #[test]
    fn fit_never_panics(
        m in 0..MODELS.len(), g in 0..GPUS.len(),
        task in prop::sample::select(vec![Task::Load, Task::Prefill, Task::Generate, Task::Train, Task::Merge]),
        batch in prop_oneof![1u64..64, Just(MAX_BATCH), Just(0u64)],
        prompt in prop_oneof![0u64..100_000, Just(MAX_TOKENS)],
        dtype in prop::sample::select(vec![None, Some(DType::Fp32), Some(DType::Fp16), Some(DType::Bf16), Some(DType::Fp8)]),
        method in prop::sample::select(vec![Method::Full, Method::Lora, Method::Qlora, Method::Ia3]),
        all in any::<bool>(),
    ) {
        let s = spec(MODELS[m]);
        let gpu = GpuSpec::parse(GPUS[g]).unwrap();
        let w = Workload { task, batch, prompt, dtype, training: TrainingSetup { method, ..TrainingSetup::default() }, ..Workload::default() };
        if let Ok(r) = fit(&s, &w, &gpu, FitOptions { all, ..FitOptions::default() }) {
            for p in &r.plans {
                prop_assert!(p.verdict.fits);
            }
        }
    }

    /// Web D1, issue item 9: when a plan that truncates the samples is offered and the asked
    /// length fits with the speed-only levers (micro-batch 1, gradient checkpointing, chunked
    /// loss), a plan keeping the asked length is offered too, and ranks above every truncating
    /// one.
    #[test]
    fn a_truncating_plan_never_hides_one_that_keeps_the_length(
        m in 0..MODELS.len(), g in 0..GPUS.len(),
        batch in prop::sample::select(vec![1u64, 2, 4, 8, 16]),
        seq in prop::sample::select(vec![256u64, 512, 1024, 2048, 4096]),
        method in prop::sample::select(vec![Method::Full, Method::Lora, Method::Qlora]),
    ) {
        let s = spec(MODELS[m]);
        let gpu = GpuSpec::parse(GPUS[g]).unwrap();
        let w = Workload {
            task: Task::Train, batch,
            training: TrainingSetup { seq, method, ..TrainingSetup::default() },
            ..Workload::default()
        };
        let Ok(r) = fit(&s, &w, &gpu, FitOptions::default()) else { return Ok(()) };
        prop_assume!(!r.truncated);
        let truncates = |p: &Plan| p.changes.iter().any(|c| c.lever == LeverKind::Context);
        let Some(first_cut) = r.plans.iter().position(truncates) else { return Ok(()) };
        let mut keep = r.plans[first_cut].workload.clone();
        keep.training.seq = r.as_asked.workload.training.seq;
        keep.training.grad_ckpt = true;
        if s.lm_head.is_some() {
            keep.training.chunked_ce = Some(true);
        }
        if fits(&s, &keep, r.gpu.usable_bytes) {
            let first_keep = r.plans.iter().position(|p| !truncates(p));
            prop_assert!(
                first_keep.is_some_and(|k| k < first_cut),
                "{} at {} tokens fits, but the plans are {:?}",
                MODELS[m], seq, r.plans.iter().map(Plan::flags).collect::<Vec<_>>()
            );
        }
    }
}

/// Issue 17: a model that fits only with layers in CPU RAM gets an -ngl plan priced in
/// tokens/s, and the report says how much faster the next card up would run it.
#[test]
fn partial_offload_is_priced_against_the_next_card_up() {
    let spec = spec("qwen3-30b-a3b");
    let w = Workload {
        runtime: vramfit_core::estimate::Runtime::LlamaCpp,
        quant: Some(vramfit_core::quant::QuantConfig::parse("q4_k_m", None).unwrap()),
        ..Workload::default()
    };
    let gpu = GpuSpec::parse("RTX-3060-12GB").unwrap();
    let r = fit(&spec, &w, &gpu, FitOptions::default()).unwrap();
    let plan = r.plans.iter().find(|p| p.flags().starts_with("--ngl ")).expect("an -ngl plan");
    let slow = plan.speed_estimate.unwrap().decode_tokens_per_s.unwrap();
    assert!(slow > 1.0, "{slow}");
    // The MoE keeps every block on the GPU and only routed experts in CPU RAM: a token reads
    // 8 of 128 experts there, so this beats moving whole blocks.
    let moe = r.plans.iter().find(|p| p.flags().starts_with("--n-cpu-moe ")).expect("an experts-on-CPU plan");
    let moe_rate = moe.speed_estimate.unwrap().decode_tokens_per_s.unwrap();
    assert!(moe.verdict.fits && moe_rate > slow, "{moe_rate} vs {slow}");
    let note = r.notes.iter().find(|n| n.starts_with("partial offload")).expect("the cliff note");
    assert!(note.contains("--n-cpu-moe") && note.contains("RTX-3090") && note.contains("faster"), "{note}");
    // The plan with all layers in CPU RAM but one would be slower still: more -ngl is faster.
    let sorted = fit(&spec, &w, &gpu, FitOptions { prefer_speed: true, ..FitOptions::default() }).unwrap();
    let rates: Vec<f64> = sorted.plans.iter().map(|p| p.speed_estimate.map_or(0.0, |s| s.rate())).collect();
    assert!(rates.windows(2).all(|x| x[0] >= x[1]), "{rates:?}");
}
