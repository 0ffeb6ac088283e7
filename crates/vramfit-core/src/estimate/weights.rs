//! Weight bytes: every parameter tensor in the dtype or quantization it is stored in.

use super::breakdown::thousands;
use super::term::{Formula, Term};
use crate::dtype::DType;
use crate::model::{Linear, ModelSpec, ParamCount};
use crate::quant::QuantConfig;

/// How a model's weights are laid out in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightBytes {
    /// All weight bytes.
    pub total: u64,
    /// Bytes of quantized linear weights (payload plus scales), 0 when unquantized.
    pub quantized: u64,
    /// Parameters stored quantized.
    pub quantized_params: u64,
    /// Parameters stored in the dense dtype.
    pub dense_params: u64,
    /// Elements of the largest quantized linear (load-time quantization works on one at a time).
    pub largest_quantized: u64,
    /// Elements of the largest linear weight overall.
    pub largest_linear: u64,
    /// Bytes the caching allocator loses to rounding these tensors (see
    /// [`super::overhead::rounding_waste`]).
    pub rounding_waste: u64,
    /// Formula with numbers.
    pub formula: String,
}

/// Which linears a runtime quantizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantScope {
    /// The output head is quantized too (litgpt's bitsandbytes precision, GGUF).
    pub head: bool,
}

/// Bytes of `spec`'s weights with dense tensors in `dtype` and linears in `quant`.
#[must_use]
pub fn weight_bytes(spec: &ModelSpec, dtype: DType, quant: Option<&QuantConfig>, scope: QuantScope) -> WeightBytes {
    let params = ParamCount::of(spec);
    let n_layers = spec.num_layers();
    let mut quantized = 0u64;
    let mut quantized_params = 0u64;
    let mut largest_quantized = 0u64;
    let mut largest_linear = 0u64;
    let mut rounding_waste = 0u64;
    let mut visit = |l: &Linear, layer: Option<(u64, u64)>, quantizable: bool| {
        let per_copy = l.in_features.saturating_mul(l.out_features);
        largest_linear = largest_linear.max(per_copy);
        rounding_waste += super::overhead::rounding_waste(per_copy.saturating_mul(dtype.bytes())) * l.copies;
        if let (Some(q), true) = (quant, quantizable) {
            quantized = quantized.saturating_add(q.weight_bytes(l, layer));
            quantized_params = quantized_params.saturating_add(l.weight_numel());
            largest_quantized = largest_quantized.max(per_copy);
        }
    };
    for l in &spec.embedding_linears {
        visit(l, None, false);
    }
    for (i, layer) in spec.encoder_layers.iter().chain(&spec.layers).enumerate() {
        for l in &layer.linears {
            visit(l, Some((i as u64, n_layers)), true);
        }
    }
    for l in &spec.extra {
        // A vision tower stays in the dense dtype (quantization configs leave it out).
        visit(l, None, l.group != crate::model::ParamGroup::VisionTower);
    }
    if let (Some(head), false) = (&spec.lm_head, spec.tied_embeddings) {
        visit(head, None, scope.head);
    }
    for t in &spec.embeddings {
        rounding_waste += super::overhead::rounding_waste(t.numel.saturating_mul(dtype.bytes()));
    }
    let dense_params = params.total.saturating_sub(quantized_params);
    let dense = Term::of(&[("params", dense_params), ("bytes", dtype.bytes())]);
    let formula = match quant {
        None => Formula::of(dense),
        Some(q) => Formula::sum(vec![Term::of(&[("quantized linear bytes", quantized)]), dense]).lead(format!(
            "{} linear params quantized as {} (payload with scales/absmax/zeros, {:.3} B/param) + the other params",
            thousands(quantized_params),
            q.label(),
            if quantized_params > 0 { quantized as f64 / quantized_params as f64 } else { 0.0 },
        )),
    }
    .tail(format!(" ({dtype})"));
    let total = formula.bytes();
    let formula = formula.text();
    WeightBytes {
        total,
        quantized,
        quantized_params,
        dense_params,
        largest_quantized,
        largest_linear,
        rounding_waste,
        formula,
    }
}
