//! The recurrent state of hybrid models (Mamba-2, Gated DeltaNet layers): per recurrent layer
//! and per sequence, a convolution state and an SSM / delta state of fixed size. It does not
//! grow with the context, only with the sequences held — what a KV cache would be for these
//! layers. The factors are [`crate::model::Recurrent`]'s; the runtimes differ in the
//! convolution columns they keep and in the dtypes:
//!
//! - llama.cpp (`src/llama-memory-recurrent.cpp`: per layer `cache_r_l` of `n_embd_r()` and
//!   `cache_s_l` of `n_embd_s()` elements × `mem_size · (1 + n_rs_seq)` rows;
//!   `src/llama-model.cpp` `create_memory`: both f32, `mem_size = max(1, n_seq_max)`): the
//!   convolution keeps `d_conv - 1` columns.
//! - transformers (`cache_utils.py` `LinearAttentionLayer.lazy_initialization`: conv states
//!   `[batch, conv_dim, conv_kernel]` in the hidden states' dtype; recurrent states
//!   `zeros_like` the kernel's final state, which `torch_chunk_gated_delta_rule` and the
//!   Mamba-2 torch scan compute in fp32): the convolution keeps `conv_kernel` columns.

use super::breakdown::prod;
use super::term::{Formula, Term};
use crate::model::{ModelSpec, Recurrent};

/// How a runtime stores each recurrent layer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLayout {
    /// Past inputs the convolution state keeps per channel (`d_conv - 1` in llama.cpp and
    /// vLLM; the whole kernel in transformers).
    pub conv_columns: ConvColumns,
    /// Bytes per element of the convolution state.
    pub conv_bytes: u64,
    /// Bytes per element of the SSM / delta state.
    pub state_bytes: u64,
}

/// Columns of the convolution state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvColumns {
    /// `conv_kernel - 1`: the oldest input is shifted out before it is stored.
    KernelMinusOne,
    /// `conv_kernel`.
    Kernel,
}

impl StateLayout {
    /// Columns kept for a kernel of `kernel`.
    #[must_use]
    pub fn columns(&self, kernel: u64) -> u64 {
        match self.conv_columns {
            ConvColumns::KernelMinusOne => kernel.saturating_sub(1),
            ConvColumns::Kernel => kernel,
        }
    }

    /// Bytes of one layer's convolution state for one sequence.
    #[must_use]
    pub fn conv_layer_bytes(&self, r: &Recurrent) -> u64 {
        prod(&[r.conv_elements(self.columns(r.conv_kernel)), self.conv_bytes])
    }

    /// Bytes of one layer's SSM / delta state for one sequence.
    #[must_use]
    pub fn state_layer_bytes(&self, r: &Recurrent) -> u64 {
        prod(&[r.state_elements(), self.state_bytes])
    }

    /// Bytes of one layer's whole state for one sequence.
    #[must_use]
    pub fn layer_bytes(&self, r: &Recurrent) -> u64 {
        self.conv_layer_bytes(r).saturating_add(self.state_layer_bytes(r))
    }
}

/// The recurrent state of a model for some sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurrentState {
    /// Total bytes.
    pub bytes: u64,
    /// Recurrent layers.
    pub layers: u64,
    /// Formula with numbers.
    pub formula: String,
}

impl RecurrentState {
    /// The state `spec`'s recurrent layers keep for `sequences` sequences under `layout`;
    /// `None` for a model without recurrent layers. Bytes and formula come from one
    /// [`Formula`]: per group of layers with the same dims, a convolution term and a state
    /// term.
    #[must_use]
    pub fn of(spec: &ModelSpec, sequences: u64, layout: StateLayout) -> Option<Self> {
        let mut groups: Vec<(Recurrent, u64)> = Vec::new();
        for (_, r) in spec.recurrent_layers() {
            match groups.iter_mut().find(|(g, _)| g == r) {
                Some((_, n)) => *n += 1,
                None => groups.push((*r, 1)),
            }
        }
        let (first, _) = *groups.first()?;
        let layers = groups.iter().map(|(_, n)| n).sum();
        let f = groups
            .iter()
            .fold(Formula::default(), |f, (r, n)| f.plus_all(&formula(r, *n, sequences, layout)))
            .tail(format!(" ({}; does not grow with the context)", first.kind.name()));
        Some(RecurrentState { bytes: f.bytes(), layers, formula: f.text() })
    }
}

/// `layers` recurrent layers' state for `sequences` sequences: the convolution term
/// `layers × seqs × cols × (inner + 2·groups·state) × bytes` plus the SSM / delta term
/// `layers × seqs × inner × state × bytes`.
#[must_use]
pub fn formula(r: &Recurrent, layers: u64, sequences: u64, layout: StateLayout) -> Formula {
    let base = Term::of(&[("layers", layers), ("seqs", sequences)]);
    let conv = base
        .clone()
        .times("conv_cols", layout.columns(r.conv_kernel))
        .times_sum(&[("inner", r.inner), ("2·groups·state", 2 * r.groups * r.state)])
        .times("bytes", layout.conv_bytes);
    let state = base.times("inner", r.inner).times("state", r.state).times("bytes", layout.state_bytes);
    Formula::sum(vec![conv, state])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecurrentKind;

    fn qwen35_27b_layer() -> Recurrent {
        Recurrent { kind: RecurrentKind::GatedDeltaNet, inner: 6144, state: 128, groups: 16, heads: 48, conv_kernel: 4 }
    }

    /// llama.cpp, f32, three columns: 3,268,608 B per layer per sequence (see
    /// `model::mixer`), so 48 layers × 4 sequences = 627,572,736 B = 598.5 MiB, the recurrent
    /// state the lmstudio-bug-tracker #1862 log prints for Qwen3.6-27B with 4 sequences.
    #[test]
    fn llamacpp_layout_of_a_gated_deltanet_layer() {
        let l = StateLayout { conv_columns: ConvColumns::KernelMinusOne, conv_bytes: 4, state_bytes: 4 };
        assert_eq!(l.conv_layer_bytes(&qwen35_27b_layer()), 3 * 10_240 * 4);
        assert_eq!(l.state_layer_bytes(&qwen35_27b_layer()), 128 * 6144 * 4);
        assert_eq!(l.layer_bytes(&qwen35_27b_layer()) * 48 * 4, 627_572_736);
        assert_eq!(627_572_736.0 / 1_048_576.0, 598.5);
    }

    /// ggml-org/llama.cpp PR #23792 (a Qwen3.5/3.6-27B GGUF with its MTP block, 65 layers, 3
    /// sequences): `llama_memory_recurrent: size = 448.88 MiB (3 cells, 65 layers, 3 seqs 0
    /// rs_seq), R (f32): 16.88 MiB, S (f32): 432.00 MiB` — the 48 recurrent layers' R and S
    /// (the MTP block and the attention layers are skipped by the filter).
    #[test]
    fn llamacpp_r_and_s_of_a_three_sequence_log() {
        let l = StateLayout { conv_columns: ConvColumns::KernelMinusOne, conv_bytes: 4, state_bytes: 4 };
        let r = qwen35_27b_layer();
        assert_eq!(48 * 3 * l.conv_layer_bytes(&r), 17_694_720); // 16.875 MiB
        assert_eq!(48 * 3 * l.state_layer_bytes(&r), 432 << 20);
    }

    /// The formula text evaluates to the bytes (both come from the same terms).
    #[test]
    fn the_formula_evaluates_to_the_bytes() {
        let spec = crate::catalog::find_model("qwen3.6-35b-a3b").unwrap().spec().unwrap();
        let l = StateLayout { conv_columns: ConvColumns::Kernel, conv_bytes: 2, state_bytes: 4 };
        let rs = RecurrentState::of(&spec, 3, l).unwrap();
        assert_eq!(rs.layers, 30);
        assert_eq!(rs.bytes, 30 * 3 * (4 * 8192 * 2 + 4096 * 128 * 4));
        assert_eq!(crate::estimate::term::evaluate(&rs.formula), Some(rs.bytes));
    }

    /// transformers keeps the whole kernel in bf16 and the state in fp32.
    #[test]
    fn transformers_layout_keeps_the_kernel() {
        let l = StateLayout { conv_columns: ConvColumns::Kernel, conv_bytes: 2, state_bytes: 4 };
        assert_eq!(l.layer_bytes(&qwen35_27b_layer()), 4 * 10_240 * 2 + 786_432 * 4);
    }
}
