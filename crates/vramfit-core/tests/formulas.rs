//! The formula text of the main components evaluates to their bytes: the numbers after ` = `
//! are read back as sums of products and must give exactly the bytes reported, on every
//! catalog model and a spread of inference and training workloads (one GPU, so no share is
//! applied after the formula).

use crate::util::spec;
use vramfit_core::estimate::term::evaluate;
use vramfit_core::estimate::training::setup::{Method, Optimizer, Precision, TrainingSetup};
use vramfit_core::estimate::{AttnImpl, Runtime};
use vramfit_core::quant::QuantConfig;
use vramfit_core::{catalog, estimate, Breakdown, ComponentKind, DType, Task, Workload};

/// Components whose formula is built with its bytes, or written as one product whose numbers
/// must read back to the bytes.
fn checked(c: &vramfit_core::Component) -> bool {
    match c.kind {
        ComponentKind::KvCache
        | ComponentKind::Logits
        | ComponentKind::LogitsAndLoss
        | ComponentKind::Gradients
        | ComponentKind::OptimizerState
        | ComponentKind::AdapterWeights
        | ComponentKind::OptimizerStepTemporaries
        | ComponentKind::PagedOptimizerState
        | ComponentKind::AutocastWeightCopies
        | ComponentKind::HeadGradient
        | ComponentKind::EmbeddingGradient
        | ComponentKind::DequantizationTemporaries
        | ComponentKind::DequantScratch
        | ComponentKind::QuantizationTransient
        | ComponentKind::KvCachePrevious => true,
        // The checkpoint's stored bytes are a sum over its tensors, not a product.
        ComponentKind::Weights => !c.formula.starts_with("exact tensor bytes"),
        // Inference's working set of the busiest layer (training's saved activations are
        // sums over the layers, not built from terms yet).
        ComponentKind::Activations => c.formula.contains("working set of the busiest layer"),
        _ => false,
    }
}

fn check(what: &str, b: &Breakdown) -> usize {
    let mut n = 0;
    for c in b.components.iter().filter(|c| checked(c)) {
        assert_eq!(
            evaluate(&c.formula),
            Some(c.bytes),
            "{what}: {} = {} B but its formula reads {}",
            c.label(),
            c.bytes,
            c.formula
        );
        n += 1;
    }
    n
}

#[test]
fn inference_formulas_evaluate_to_their_bytes() {
    let mut seen = std::collections::BTreeSet::new();
    let mut count = 0;
    for m in catalog::models() {
        let s = spec(&m.name);
        let workloads = [
            Workload { task: Task::Generate, batch: 3, prompt: 1000, new_tokens: 100, ..Workload::default() },
            Workload { task: Task::Prefill, batch: 2, prompt: 4096, attn: AttnImpl::Eager, ..Workload::default() },
            Workload { task: Task::Prefill, batch: 4, prompt: 2048, dtype: Some(DType::Fp32), ..Workload::default() },
            Workload { task: Task::Generate, batch: 64, prompt: 16, new_tokens: 4, ..Workload::default() },
            Workload {
                task: Task::Generate,
                prompt: 300,
                new_tokens: 20,
                quant: Some(QuantConfig::parse("nf4", None).unwrap()),
                ..Workload::default()
            },
        ];
        for w in workloads {
            if let Ok(b) = estimate(&s, &w) {
                count += check(&m.name, &b);
                seen.extend(b.components.iter().filter(|c| checked(c)).map(|c| c.kind));
            }
        }
    }
    assert!(count > 200, "only {count} formulas checked");
    for k in [ComponentKind::KvCache, ComponentKind::Logits, ComponentKind::Weights, ComponentKind::Activations] {
        assert!(seen.contains(&k), "no {k} formula was checked");
    }
}

#[test]
fn training_formulas_evaluate_to_their_bytes() {
    use Optimizer as O;
    let optimizers = [
        O::SgdMomentum,
        O::Adamw,
        O::AdamwFused,
        O::AdamwLoop,
        O::Adamw8bit,
        O::PagedAdamw,
        O::PagedAdamw8bit,
        O::Adafactor,
        O::Lion,
        O::Lion8bit,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for name in ["llama-2-7b", "gpt2", "mixtral-8x7b", "qwen3-1.7b", "gemma-2-2b"] {
        let s = spec(name);
        for (i, opt) in optimizers.into_iter().enumerate() {
            let method = if i % 2 == 0 { Method::Full } else { Method::Lora };
            let t = TrainingSetup {
                method,
                precision: Some(Precision::Mixed(DType::Bf16)),
                optimizer: Some(opt),
                optimizer_in_backward: i == 4,
                seq: 512,
                ..TrainingSetup::default()
            };
            // Every runtime's loss, chunked or not, compiled or not.
            for (runtime, chunked, compile) in [
                (Runtime::Transformers, false, false),
                (Runtime::Transformers, true, false),
                (Runtime::Litgpt, true, false),
                (Runtime::Torchtune, true, true),
                (Runtime::Torchtune, false, false),
            ] {
                let t = TrainingSetup { chunked_ce: Some(chunked), compile, ..t.clone() };
                let w = Workload { task: Task::Train, batch: 2, training: t, runtime, ..Workload::default() };
                let what = format!("{name} {opt:?} {runtime:?} chunked {chunked}");
                let b = estimate(&s, &w).unwrap_or_else(|e| panic!("{what}: {e}"));
                check(&what, &b);
                seen.extend(b.components.iter().filter(|c| checked(c)).map(|c| c.kind));
            }
        }
    }
    for k in
        [ComponentKind::Weights, ComponentKind::Gradients, ComponentKind::OptimizerState, ComponentKind::LogitsAndLoss]
    {
        assert!(seen.contains(&k), "no {k} formula was checked");
    }
}
