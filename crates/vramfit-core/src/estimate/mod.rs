//! Estimators: a model spec and a workload in, a [`Breakdown`] out.

pub mod activations;
pub mod backend;
pub mod breakdown;
pub mod component;
pub mod defaults;
mod ggml_alloc;
pub mod inference;
pub mod kv_cache;
pub mod llamacpp;
mod llamacpp_scratch;
pub mod mmproj;
pub mod ollama;
pub mod overhead;
pub mod parallel;
pub mod phase;
pub mod profile;
pub mod recurrent_state;
pub mod runtime;
pub mod serving;
pub mod speed;
pub mod term;
pub mod training;
pub mod weights;
pub mod workload;

pub use breakdown::{Breakdown, Component, DeviceBuffers, Level, Levels};
pub use component::ComponentKind;
pub use phase::Phase;
pub use profile::RuntimeProfile;
pub use runtime::{Runtime, RuntimeVersion};
pub use workload::{AttnImpl, LlamaCppOptions, LoraAdapter, Task, Workload};

use crate::error::Result;
use crate::model::ModelSpec;

/// Estimate the peak memory of `workload` on `spec`.
///
/// # Errors
/// An impossible workload, or one vramfit does not model yet (the message says which).
pub fn estimate(spec: &ModelSpec, workload: &Workload) -> Result<Breakdown> {
    // `--head` replaces the head config.json's `architectures` names.
    let with_head;
    let spec = match workload.head {
        Some(h) if h != spec.head => {
            let labels = crate::config::labels_of(spec);
            let h = match h {
                crate::model::Head::SequenceClassification { labels: 0 } => {
                    crate::model::Head::SequenceClassification { labels }
                }
                crate::model::Head::TokenClassification { labels: 0 } => {
                    crate::model::Head::TokenClassification { labels }
                }
                h => h,
            };
            with_head = spec.clone().with_head(h);
            &with_head
        }
        _ => spec,
    };
    workload.check()?;
    workload.parallel.check_model(spec)?;
    check_group_size(spec, workload)?;
    check_magnitude(spec, workload)?;
    if let (Some(asked), Some(stored)) = (&workload.quant, &spec.quantization) {
        if asked != stored {
            return Err(crate::error::Error::workload(
                "--quant",
                format!("the checkpoint is already quantized ({}); drop --quant to use it as stored", stored.label()),
            ));
        }
    }
    let mut b = match workload.task {
        Task::Load | Task::Prefill | Task::Generate => inference::estimate_inference(spec, workload)?,
        Task::Train => training::estimate_training(spec, workload)?,
        Task::Serve => serving::estimate_serving(spec, workload)?,
        Task::Merge => {
            let (dtype, note) = defaults::load_dtype(spec, workload);
            let mut b = training::merge::estimate_merge(
                spec,
                dtype,
                &workload.training,
                workload.merge_on_gpu,
                workload.backend,
            )?;
            b.notes.extend(note);
            b
        }
    };
    b.notes.extend(beyond_position_limit(spec, workload));
    if let Some(labels) = spec.head.labels() {
        b.notes.push(format!(
            "{} head{}: score = hidden × {labels} labels, no vocabulary logits (--head causal-lm for the language model)",
            spec.head.name(),
            if workload.head.is_some() { " (--head)" } else { " (config.json architectures)" }
        ));
    }
    // Beyond 2^53 bytes a total is no longer exact in JavaScript (the web page, JSON
    // consumers), and a saturated total is no number at all: both are errors.
    let largest = b.total_bytes().max(b.host_bytes);
    crate::limits::ESTIMATE_BYTES.check("the estimate's bytes (lower --batch, --prompt, --seq or --new)", largest)?;
    Ok(b)
}

/// Largest product of workload and model sizes the estimators multiply out (2^58 B, 256 PiB):
/// every term is such a product times a small constant, so below this bound none overflows
/// 64 bits.
const MAX_PRODUCT: u128 = 1 << 58;

/// The flag to shrink when an estimate is too large to compute.
fn too_large(w: &Workload) -> crate::error::Error {
    let (flag, tokens) = match w.task {
        Task::Train => ("--seq", w.training.seq),
        Task::Generate => ("--prompt", w.prompt.saturating_add(w.new_tokens)),
        _ => ("--prompt", w.prompt),
    };
    let flag = if w.batch > tokens { "--batch" } else { flag };
    crate::error::Error::workload(
        flag,
        format!(
            "the estimate bytes would pass 2^58 (256 PiB) at batch {} × {tokens} tokens, beyond what vramfit computes: reduce {flag}{}",
            w.batch,
            if flag == "--batch" { "" } else { " or --batch" }
        ),
    )
}

/// Refuse workloads whose sizes multiply past [`MAX_PRODUCT`] (logits, attention scores,
/// activations over every layer), before any estimator runs: an overflow is an error naming
/// the flag, never a wrapped or pinned number.
/// An AWQ group holds whole input features: AutoAWQ's `WQLinear_GEMM` asserts
/// `in_features % group_size == 0` (newcomer D17: `--group-size 7`). GPTQ is not refused:
/// AutoGPTQ's QuantLinear keeps ceil(in_features / group_size) groups (`scales` of that many
/// rows), which `quant.rs` counts the same way.
fn check_group_size(spec: &ModelSpec, w: &Workload) -> Result<()> {
    let Some(g) = w.quant.as_ref().and_then(|q| match q.quant {
        crate::quant::Quant::Awq { group_size, .. } => Some(group_size),
        _ => None,
    }) else {
        return Ok(());
    };
    if g == 0 {
        return Ok(());
    }
    let bad = spec.encoder_layers.iter().chain(&spec.layers).flat_map(|l| &l.linears).find(|l| l.in_features % g != 0);
    match bad {
        Some(l) => Err(crate::error::Error::workload(
            "--group-size",
            format!(
                "{g} does not divide {}'s {} input features (AutoAWQ's WQLinear_GEMM needs whole groups); use 32, 64 or 128",
                l.name, l.in_features
            ),
        )),
        None => Ok(()),
    }
}

fn check_magnitude(spec: &ModelSpec, w: &Workload) -> Result<()> {
    let t = &w.training;
    let ctx = u128::from(match w.task {
        Task::Load | Task::Merge => 0,
        Task::Prefill => w.prompt,
        Task::Generate => w.prompt.saturating_add(w.new_tokens),
        Task::Train => t.seq.saturating_add(t.virtual_tokens),
        Task::Serve => w.serving.max_model_len.unwrap_or(0),
    })
    .max(u128::from(w.kv_prealloc.unwrap_or(0)));
    let b = u128::from(w.batch);
    let layers = u128::from(spec.num_layers().max(spec.encoder_layers.len() as u64).max(1));
    let heads = u128::from(spec.first_attention().map_or(1, |a| a.heads.max(a.kv_heads())));
    let width = spec
        .encoder_layers
        .iter()
        .chain(&spec.layers)
        .flat_map(|l| l.linears.iter().map(|x| x.out_features.max(x.in_features)))
        .max()
        .unwrap_or(0)
        .max(spec.hidden_size);
    // u128 products of u64 factors saturate too (a --seq of 2^62 from Python is still 4 factors).
    let mul = |xs: &[u128]| xs.iter().fold(1u128, |a, &x| a.saturating_mul(x));
    let tokens = mul(&[b, ctx]);
    let products = [
        mul(&[tokens, u128::from(spec.vocab_size.max(1)), 16]),
        mul(&[tokens, ctx, heads, layers, 8]),
        mul(&[tokens, u128::from(width), layers, 64]),
    ];
    if products.iter().any(|&p| p > MAX_PRODUCT) {
        return Err(too_large(w));
    }
    Ok(())
}

/// Prefix of the note that warns of a context beyond the model's position limit (the CLI
/// repeats the warning beside the verdict).
pub const POSITION_LIMIT_WARNING: &str = "warning: beyond the model's position limit";

/// The warning when the workload's context is longer than the model addresses
/// (`max_position_embeddings`, extended by `rope_scaling`): learned position tables have no
/// row for it, rotary models were never trained that far.
fn beyond_position_limit(spec: &ModelSpec, w: &Workload) -> Option<String> {
    let (context, flag) = match w.task {
        // Serving engines check max_model_len against the model themselves (their own error).
        Task::Load | Task::Merge | Task::Serve => return None,
        Task::Prefill => (w.prompt, "--prompt"),
        Task::Generate => (w.prompt.saturating_add(w.new_tokens), "--prompt + --new"),
        Task::Train => (w.training.seq, "--seq"),
    };
    let limit = spec.context_limit()?;
    (context > limit).then(|| {
        let scaled = match (spec.position_limit, spec.max_positions) {
            (Some(l), Some(m)) if l > m => format!(" ({m} positions extended by rope_scaling)"),
            _ => " (max_position_embeddings)".into(),
        };
        format!(
            "{POSITION_LIMIT_WARNING}: {flag} = {context} tokens, the model addresses {limit}{scaled}; the memory is estimated, but the model cannot run this context as configured"
        )
    })
}
