//! What mixes tokens in a block: attention (which keeps keys and values per token), a
//! recurrent layer (Mamba-2, Gated DeltaNet: a fixed-size state per sequence), or nothing
//! (Nemotron-H's MLP-only blocks).
//!
//! A recurrent layer's state has two parts, as every runtime that runs these models keeps them:
//! - the **convolution state**: the last inputs of the short causal convolution over
//!   `conv_channels = inner + 2 · groups · state` channels;
//! - the **SSM / delta state**: `inner × state` elements (Mamba-2: `heads × head_dim ×
//!   d_state`; Gated DeltaNet: `value heads × v_head_dim × k_head_dim`).
//!
//! llama.cpp (`src/llama-hparams.cpp` `n_embd_r` = `(d_conv - 1) · (d_inner + 2 · n_group ·
//! d_state)`, `n_embd_s` = `d_state · d_inner`), transformers (`cache_utils.py`
//! `LinearAttentionLayer`: conv `[batch, conv_dim, conv_kernel]`, recurrent `[batch, heads,
//! head_k_dim, head_v_dim]`) and vLLM (`mamba_utils.py` state shapes) agree on these factors;
//! they differ in how many convolution columns they keep and in the dtypes.

use serde::Serialize;

/// Which recurrence a layer runs (for descriptions; the sizes are in [`Recurrent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurrentKind {
    /// Mamba-2 selective state space (Granite 4 hybrids, Nemotron-H).
    Mamba2,
    /// Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5/3.6).
    GatedDeltaNet,
}

impl RecurrentKind {
    /// Name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RecurrentKind::Mamba2 => "Mamba-2",
            RecurrentKind::GatedDeltaNet => "Gated DeltaNet",
        }
    }
}

/// The state a recurrent layer keeps per sequence, by its dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recurrent {
    /// The recurrence.
    pub kind: RecurrentKind,
    /// Width of the state's value side: Mamba-2 `d_inner` (= heads × head_dim), Gated DeltaNet
    /// `value heads × v_head_dim` (llama.cpp's `ssm.inner_size`).
    pub inner: u64,
    /// State per channel: Mamba-2 `d_state`, Gated DeltaNet `k_head_dim` (`ssm.state_size`).
    pub state: u64,
    /// Groups sharing B and C (Mamba-2 `n_groups`; Gated DeltaNet key heads) (`ssm.group_count`).
    pub groups: u64,
    /// Heads of the recurrence (Mamba-2 heads; Gated DeltaNet value heads) (`ssm.time_step_rank`).
    pub heads: u64,
    /// Width of the causal convolution's kernel (`ssm.conv_kernel`).
    pub conv_kernel: u64,
}

impl Recurrent {
    /// Channels of the causal convolution: `inner + 2 · groups · state` (x, B and C for
    /// Mamba-2; v, k and q for Gated DeltaNet).
    #[must_use]
    pub fn conv_channels(&self) -> u64 {
        self.inner.saturating_add(self.groups.saturating_mul(self.state).saturating_mul(2))
    }

    /// Elements of the SSM / delta state of one sequence: `inner × state`.
    #[must_use]
    pub fn state_elements(&self) -> u64 {
        self.inner.saturating_mul(self.state)
    }

    /// Elements of the convolution state of one sequence keeping `columns` past inputs per
    /// channel.
    #[must_use]
    pub fn conv_elements(&self, columns: u64) -> u64 {
        self.conv_channels().saturating_mul(columns)
    }
}

/// The token mixer of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mixer {
    /// Self-attention with a KV cache (the layer's `attention`).
    #[default]
    Attention,
    /// A recurrent layer: a fixed-size state per sequence, no KV cache. The layer's
    /// `attention` then describes the recurrence's heads for the activation estimates only.
    Recurrent(Recurrent),
    /// No token mixer (an MLP-only block): neither KV cache nor state.
    None,
}

impl Mixer {
    /// Whether the block attends (and so keeps a KV cache).
    #[must_use]
    pub fn is_attention(&self) -> bool {
        matches!(self, Mixer::Attention)
    }

    /// The recurrent state, for a recurrent block.
    #[must_use]
    pub fn recurrent(&self) -> Option<&Recurrent> {
        match self {
            Mixer::Recurrent(r) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen3.5-27B's linear-attention layer (48 value heads, 16 key heads, heads of 128, kernel
    /// 4): llama.cpp keeps 3 columns, so R = 3 · (6144 + 2·16·128) = 30,720 and S = 128 · 6144
    /// = 786,432 f32 elements: 3,268,608 B per layer per sequence, the figure one public log's
    /// RS buffers divide into (48 layers split 29/19 over two GPUs).
    #[test]
    fn gated_deltanet_state_by_hand() {
        let r = Recurrent {
            kind: RecurrentKind::GatedDeltaNet,
            inner: 48 * 128,
            state: 128,
            groups: 16,
            heads: 48,
            conv_kernel: 4,
        };
        assert_eq!(r.conv_channels(), 10_240);
        assert_eq!(r.conv_elements(r.conv_kernel - 1), 30_720);
        assert_eq!(r.state_elements(), 786_432);
        assert_eq!((r.conv_elements(3) + r.state_elements()) * 4, 3_268_608);
    }

    /// Mamba-2 of Granite 4.0-H-Tiny (hidden 1536, expand 2, 48 heads of 64, d_state 128, one
    /// group, kernel 4): conv 3072 + 2·128 = 3,328 channels; state 3072 · 128 = 393,216.
    #[test]
    fn mamba2_state_by_hand() {
        let r =
            Recurrent { kind: RecurrentKind::Mamba2, inner: 3072, state: 128, groups: 1, heads: 48, conv_kernel: 4 };
        assert_eq!(r.conv_channels(), 3328);
        assert_eq!(r.state_elements(), 393_216);
        assert!(Mixer::Recurrent(r).recurrent().is_some() && !Mixer::Recurrent(r).is_attention());
        assert!(Mixer::default().is_attention() && !Mixer::None.is_attention());
    }
}
