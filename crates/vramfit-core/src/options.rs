//! Flag values with no type elsewhere in the core, each a [`Choice`] table: how FSDP shards,
//! where ZeRO/FSDP offload goes, llama.cpp's split mode and flash-attention switch, and a
//! serving engine's KV cache dtype. The request ([`crate::request::WorkloadRequest`]) holds
//! them typed; resolving turns them into the estimators' settings.

use crate::choice::{Choice, Entry};
use crate::estimate::parallel::{Offload, Strategy};

/// `--fsdp`: PyTorch FSDP's sharding strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsdpMode {
    /// `FULL_SHARD`: parameters, gradients and optimizer states sharded.
    Full,
    /// `SHARD_GRAD_OP`: gradients and optimizer states sharded, parameters kept whole.
    GradOp,
    /// `HYBRID_SHARD`: full sharding within a node, replicas across nodes.
    Hybrid,
}

impl FsdpMode {
    /// The parallel strategy it is.
    #[must_use]
    pub fn strategy(self) -> Strategy {
        match self {
            FsdpMode::Full => Strategy::FsdpFull,
            FsdpMode::GradOp => Strategy::FsdpGradOp,
            FsdpMode::Hybrid => Strategy::FsdpHybrid,
        }
    }
}

impl Choice for FsdpMode {
    const FLAG: &'static str = "--fsdp";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        FSDP_MODES.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!("unknown FSDP mode {s:?}; use {}", Self::listed())
    }
}

const FSDP_MODES: &[Entry<FsdpMode>] = &[
    Entry::new(FsdpMode::Full, &["full", "full-shard", "full_shard"], "full shard"),
    Entry::new(FsdpMode::GradOp, &["grad-op", "shard-grad-op", "shard_grad_op"], "shard grad-op"),
    Entry::new(FsdpMode::Hybrid, &["hybrid", "hybrid-shard", "hybrid_shard"], "hybrid shard"),
];

/// `--offload`: where ZeRO / FSDP put the optimizer state.
impl Choice for Offload {
    const FLAG: &'static str = "--offload";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        OFFLOADS.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!("unknown offload target {s:?}; use {}", Self::listed())
    }
}

const OFFLOADS: &[Entry<Offload>] =
    &[Entry::new(Offload::Cpu, &["cpu"], "to CPU RAM"), Entry::new(Offload::Nvme, &["nvme"], "to NVMe")];

/// `--split-mode`: how llama.cpp spreads a model over several GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitMode {
    /// Whole layers per GPU.
    Layer,
    /// Rows of each weight matrix across GPUs.
    Row,
    /// One GPU (`--main-gpu`) holds everything.
    None,
}

impl Choice for SplitMode {
    const FLAG: &'static str = "--split-mode";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        SPLIT_MODES.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!("{:?} is not {}", s.to_ascii_lowercase(), Self::listed())
    }
}

const SPLIT_MODES: &[Entry<SplitMode>] = &[
    Entry::new(SplitMode::Layer, &["layer"], "whole layers per GPU"),
    Entry::new(SplitMode::Row, &["row"], "rows of each matrix across GPUs"),
    Entry::new(SplitMode::None, &["none"], "one GPU holds everything"),
];

/// `--flash-attn`: llama.cpp's flash-attention switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashAttn {
    /// Flash attention on.
    On,
    /// Off.
    Off,
    /// The build's default.
    Auto,
}

impl FlashAttn {
    /// Whether it forces flash attention on or off (`None`: the build decides).
    #[must_use]
    pub fn forced(self) -> Option<bool> {
        match self {
            FlashAttn::On => Some(true),
            FlashAttn::Off => Some(false),
            FlashAttn::Auto => None,
        }
    }
}

impl Choice for FlashAttn {
    const FLAG: &'static str = "--flash-attn";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        FLASH_ATTN.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!("{:?} is not {}", s.to_ascii_lowercase(), Self::listed())
    }
}

const FLASH_ATTN: &[Entry<FlashAttn>] = &[
    Entry::new(FlashAttn::On, &["on", "1", "true"], "flash attention on"),
    Entry::new(FlashAttn::Off, &["off", "0", "false"], "flash attention off"),
    Entry::new(FlashAttn::Auto, &["auto"], "the build's default"),
];

/// `--kv-cache-dtype`: a serving engine's KV cache dtype (vLLM's and SGLang's spellings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvCacheDtype {
    /// The model's dtype.
    Auto,
    /// fp8 (the engine's default fp8 format).
    Fp8,
    /// fp8, E4M3.
    Fp8E4m3,
    /// fp8, E5M2.
    Fp8E5m2,
    /// bfloat16.
    Bfloat16,
    /// float16.
    Float16,
    /// float32.
    Float32,
}

impl KvCacheDtype {
    /// The `--kv-dtype` it means (`None`: the model's).
    #[must_use]
    pub fn kv_dtype(self) -> Option<&'static str> {
        match self {
            KvCacheDtype::Auto => None,
            KvCacheDtype::Fp8 | KvCacheDtype::Fp8E4m3 | KvCacheDtype::Fp8E5m2 => Some("fp8"),
            KvCacheDtype::Bfloat16 => Some("bf16"),
            KvCacheDtype::Float16 => Some("fp16"),
            KvCacheDtype::Float32 => Some("fp32"),
        }
    }
}

impl Choice for KvCacheDtype {
    const FLAG: &'static str = "--kv-cache-dtype";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        KV_CACHE_DTYPES.iter().copied()
    }
    fn fold(s: &str) -> String {
        s.trim().to_ascii_lowercase()
    }
    fn unknown(s: &str) -> String {
        format!("unknown KV cache dtype {:?}; use {}", Self::fold(s), Self::listed())
    }
}

const KV_CACHE_DTYPES: &[Entry<KvCacheDtype>] = &[
    Entry::new(KvCacheDtype::Auto, &["auto"], "auto (the model's)"),
    Entry::new(KvCacheDtype::Fp8, &["fp8", "fp8_inc", "fp8_ds_mla"], "fp8"),
    Entry::new(KvCacheDtype::Fp8E4m3, &["fp8_e4m3"], "fp8_e4m3"),
    Entry::new(KvCacheDtype::Fp8E5m2, &["fp8_e5m2"], "fp8_e5m2"),
    Entry::new(KvCacheDtype::Bfloat16, &["bfloat16", "bf16"], "bfloat16"),
    Entry::new(KvCacheDtype::Float16, &["float16", "half", "fp16"], "float16"),
    Entry::unlisted(KvCacheDtype::Float32, &["float32", "fp32", "float"], "float32"),
];

crate::choice_traits!(FsdpMode, Offload, SplitMode, FlashAttn, KvCacheDtype);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_wording() {
        let e = |r: crate::Result<()>| r.unwrap_err().to_string();
        assert_eq!(
            e(FsdpMode::parse_choice("x").map(|_| ())),
            "--fsdp: unknown FSDP mode \"x\"; use full, grad-op or hybrid"
        );
        assert_eq!(
            e(Offload::parse_choice("x").map(|_| ())),
            "--offload: unknown offload target \"x\"; use cpu or nvme"
        );
        assert_eq!(e(SplitMode::parse_choice("X").map(|_| ())), "--split-mode: \"x\" is not layer, row or none");
        assert_eq!(e(FlashAttn::parse_choice("Y").map(|_| ())), "--flash-attn: \"y\" is not on, off or auto");
        assert_eq!(
            e(KvCacheDtype::parse_choice(" X ").map(|_| ())),
            "--kv-cache-dtype: unknown KV cache dtype \"x\"; use auto, fp8, fp8_e4m3, fp8_e5m2, bfloat16 or float16"
        );
        assert_eq!(KvCacheDtype::parse_choice("FP8_DS_MLA").unwrap().kv_dtype(), Some("fp8"));
        assert_eq!(FsdpMode::parse_choice("SHARD_GRAD_OP").unwrap().strategy(), Strategy::FsdpGradOp);
    }
}
