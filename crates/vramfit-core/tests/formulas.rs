//! The formula text of the main components evaluates to their bytes: the numbers after ` = `
//! are read back as sums of products and must give exactly the bytes reported, on every
//! catalog model and a spread of inference and training workloads (one GPU, so no share is
//! applied after the formula).

use crate::util::spec;
use vramfit_core::estimate::term::evaluate;
use vramfit_core::estimate::training::setup::{Method, Optimizer, Precision, TrainingSetup};
use vramfit_core::estimate::AttnImpl;
use vramfit_core::quant::QuantConfig;
use vramfit_core::{catalog, estimate, Breakdown, ComponentKind, DType, Task, Workload};

/// Components whose formula is built with its bytes; the activations only where a mixture of
/// experts dominates (the other working-set formulas are not built from terms yet).
fn checked(c: &vramfit_core::Component) -> bool {
    match c.kind {
        ComponentKind::KvCache | ComponentKind::Logits | ComponentKind::Gradients | ComponentKind::OptimizerState => {
            true
        }
        // The checkpoint's stored bytes are a sum over its tensors, not a product.
        ComponentKind::Weights => !c.formula.starts_with("exact tensor bytes"),
        ComponentKind::Activations => c.formula.contains("router probabilities"),
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
    for name in ["llama-2-7b", "gpt2", "mixtral-8x7b", "qwen3-1.7b"] {
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
            let w = Workload { task: Task::Train, batch: 2, training: t, ..Workload::default() };
            let b = estimate(&s, &w).unwrap_or_else(|e| panic!("{name} {opt:?}: {e}"));
            check(&format!("{name} {opt:?}"), &b);
            seen.extend(b.components.iter().filter(|c| checked(c)).map(|c| c.kind));
        }
    }
    for k in [ComponentKind::Weights, ComponentKind::Gradients, ComponentKind::OptimizerState] {
        assert!(seen.contains(&k), "no {k} formula was checked");
    }
}
