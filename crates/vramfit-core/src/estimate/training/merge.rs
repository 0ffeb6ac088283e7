//! Merging a LoRA adapter into its base model and saving the result: the CPU RAM it takes
//! (the original thread's last question), and GPU memory when the merge runs on a GPU.

use super::peft::Targets;
use super::setup::TrainingSetup;
use crate::dtype::DType;
use crate::error::Result;
use crate::estimate::breakdown::{prod, thousands, Breakdown, Component, Level};
use crate::estimate::component::ComponentKind;
use crate::estimate::phase::Phase;
use crate::estimate::weights::{weight_bytes, QuantScope};
use crate::model::ModelSpec;

/// transformers' default `max_shard_size` for `save_pretrained` ("5GB").
pub const DEFAULT_SHARD_BYTES: u64 = 5_000_000_000;

/// Memory to load the base in `dtype`, merge the adapter, and save shards.
///
/// # Errors
/// Unknown LoRA targets.
pub fn estimate_merge(
    spec: &ModelSpec,
    dtype: DType,
    t: &TrainingSetup,
    on_gpu: bool,
    backend: crate::estimate::backend::Backend,
) -> Result<Breakdown> {
    let targets = Targets::parse(if t.lora_targets.is_empty() { &[] } else { &t.lora_targets })?;
    let targets = if targets.roles.is_empty() && !targets.all_linear {
        Targets::parse(&["q_proj".into(), "v_proj".into()])?
    } else {
        targets
    };
    let wb = weight_bytes(spec, dtype, None, QuantScope { head: false });
    // The largest adapted weight: W += (B @ A) · scale builds the delta in full.
    let mut largest = 0u64;
    let mut adapter = 0u64;
    for layer in spec.encoder_layers.iter().chain(&spec.layers) {
        for l in &layer.linears {
            let out = targets.adapted_out(l, layer);
            if out > 0 {
                largest = largest.max(l.in_features * out);
                adapter += (t.lora_rank * (l.in_features + out)) * l.copies;
            }
        }
    }
    // PEFT computes the delta in fp32 on CPU for half-precision weights.
    let delta_bytes = if on_gpu { dtype.bytes() } else { 4 };
    let delta = prod(&[largest, delta_bytes]);
    let shard = wb.total.min(DEFAULT_SHARD_BYTES);
    let where_weights = if on_gpu { Level::Allocated } else { Level::Host };
    let mut components = vec![
        Component::new(ComponentKind::BaseWeights, wb.total, wb.formula.clone(), "from_pretrained(torch_dtype=…) of the base model").at(where_weights),
        Component::new(ComponentKind::AdapterWeights, adapter * 4, format!("{} LoRA params × 4 B (fp32 adapter file)", thousands(adapter)), "PEFT PeftModel.from_pretrained").at(where_weights),
        Component::new(ComponentKind::MergeDelta, delta, format!("(B @ A) · scale of the largest adapted weight, {delta_bytes} B per element = {} × {delta_bytes}", thousands(largest)), "PEFT LoraLayer.get_delta_weight / merge").at(where_weights),
        Component::new(
            ComponentKind::SaveShardBuffer,
            shard,
            format!("one safetensors shard serialized in memory before it is written: min(weights, max_shard_size 5 GB) = {}", thousands(shard)),
            "transformers save_pretrained(max_shard_size=\"5GB\") + safetensors serialize",
        )
        .at(Level::Host),
    ];
    if on_gpu {
        components.push(
            Component::new(
                ComponentKind::ShardStaging,
                shard,
                "the shard's tensors copied to CPU before serialization",
                "transformers save_pretrained (tensors moved to CPU per shard)",
            )
            .at(Level::Host),
        );
        components.push(backend.context(true));
    }
    Ok(Breakdown::from_components(
        components,
        Phase::SavePretrained,
        vec![format!(
            "merge on {}: peak CPU RAM {:.2} GB",
            if on_gpu { "GPU" } else { "CPU" },
            components_host(wb.total, adapter * 4, delta, shard, on_gpu) as f64 / 1e9
        )],
    ))
}

fn components_host(weights: u64, adapter: u64, delta: u64, shard: u64, on_gpu: bool) -> u64 {
    if on_gpu {
        2 * shard
    } else {
        weights + adapter + delta + shard
    }
}
