//! Hybrid models (recurrent Mamba-2 / Gated DeltaNet layers beside attention) under the
//! serving engines: the start-up estimate is refused rather than sized as if every layer
//! attended, while vLLM's page layout for them — the part that does not depend on the
//! profile run — is modelled here ([`VllmHybridPool`]) and checked against public logs.
//!
//! vLLM's hybrid KV cache manager gives each recurrent layer one page per request holding its
//! conv and SSM state (`vllm/v1/kv_cache_interface.py` `MambaSpec`), raises the attention
//! block size until an attention page is at least a Mamba page and pads the Mamba page to it
//! (`vllm/model_executor/models/config.py` `HybridAttentionMambaModelConfig`), then groups
//! layers of equal page size over one block pool; with prefix caching (`mamba_cache_mode
//! align`) each Mamba layer keeps two pages per request (`MambaSpec.max_memory_usage_bytes`:
//! 1 page, 2 with `align`, one per block of the context with `all`, plus speculative blocks).
//! What is still missing for a whole estimate is the memory left for that pool (weights,
//! profile run, CUDA graphs) of a hybrid checkpoint: the one public family of cases
//! (Qwen3.6-35B-A3B NVFP4) needs the modelopt mixed FP8/NVFP4 format, not read yet. SGLang
//! keeps a separate Mamba state pool (`MambaPool`) sized by `--max-mamba-cache-size`.

use super::cdiv;
use crate::error::{Error, Result};
use crate::model::{ModelSpec, Recurrent};

/// The smallest attention block vLLM uses and the unit it rounds a hybrid's block size to
/// (`kernel_block_alignment_size` 16 for FlashAttention / Triton).
pub const VLLM_BLOCK_ALIGNMENT: u64 = 16;

/// One recurrent layer's state on one tensor-parallel rank for one request, vLLM's
/// `MambaSpec.page_size_bytes`: the convolution state `(conv_kernel - 1) × conv_channels / tp`
/// in `conv_bytes`, the SSM / delta state `inner / tp × state` in `ssm_bytes` (heads are split
/// over the ranks; `mamba_utils.py` `MambaStateShapeCalculator`).
#[must_use]
pub fn vllm_mamba_page(r: &Recurrent, tp: u64, conv_bytes: u64, ssm_bytes: u64) -> u64 {
    let tp = tp.max(1);
    let conv = r.conv_kernel.saturating_sub(1) * (r.conv_channels() / tp) * conv_bytes;
    conv + (r.inner / tp) * r.state * ssm_bytes
}

/// vLLM's block layout of a hybrid model's KV pool (one pipeline stage, one rank).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VllmHybridPool {
    /// Tokens per attention block, raised until an attention page holds a Mamba page
    /// ("Setting attention block size to N tokens").
    pub block_size: u64,
    /// Bytes of one page of one layer (the Mamba page padded up to the attention page).
    pub page_bytes: u64,
    /// Layers per group (the smaller of the attention and recurrent layer counts).
    pub group_size: u64,
    /// Blocks of the shared pool: `kv_bytes // (page × group_size)`.
    pub blocks: u64,
    /// Blocks one request of `max_model_len` tokens holds over all groups.
    pub blocks_per_request: u64,
    /// "Maximum concurrency for L tokens per request".
    pub concurrency: f64,
    /// "GPU KV cache size: N tokens" (0.21+: `int(concurrency × max_model_len)`).
    pub tokens: u64,
}

impl VllmHybridPool {
    /// The layout for `attention_layers` layers of `attention_token_bytes` per token each and
    /// `mamba_layers` layers of `mamba_page` bytes, `kv_bytes` of KV memory and requests of
    /// `max_model_len` tokens; `mamba_pages_per_request` is 1 (no prefix caching), 2 (`align`).
    #[must_use]
    pub fn of(
        attention_layers: u64,
        attention_token_bytes: u64,
        mamba_layers: u64,
        mamba_page: u64,
        kv_bytes: u64,
        max_model_len: u64,
        mamba_pages_per_request: u64,
    ) -> Self {
        let unit = VLLM_BLOCK_ALIGNMENT * attention_token_bytes.max(1);
        let block_size = VLLM_BLOCK_ALIGNMENT * cdiv(mamba_page, unit).max(1);
        let page_bytes = (block_size * attention_token_bytes).max(mamba_page);
        let group_size = attention_layers.min(mamba_layers).max(1);
        let blocks = kv_bytes.checked_div(page_bytes * group_size).unwrap_or(0);
        let blocks_per_request = cdiv(attention_layers, group_size) * cdiv(max_model_len, block_size)
            + cdiv(mamba_layers, group_size) * mamba_pages_per_request;
        let per_request = blocks_per_request.max(1);
        VllmHybridPool {
            block_size,
            page_bytes,
            group_size,
            blocks,
            blocks_per_request,
            concurrency: blocks as f64 / per_request as f64,
            tokens: u64::try_from(u128::from(blocks) * u128::from(max_model_len) / u128::from(per_request))
                .unwrap_or(u64::MAX),
        }
    }
}

/// Refuse a model with recurrent layers under a serving engine, naming what does model it.
///
/// # Errors
/// The model has recurrent layers.
pub fn check(spec: &ModelSpec, engine: &str) -> Result<()> {
    let recurrent = spec.recurrent_layers().count();
    if recurrent == 0 {
        return Ok(());
    }
    Err(Error::workload(
        "--runtime",
        format!(
            "{} has {recurrent} recurrent (Mamba-2 / Gated DeltaNet) layers; {engine}'s hybrid KV cache layout for them is not modelled yet: use --runtime llama.cpp or transformers",
            spec.model_type
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qwen36(name: &str) -> Recurrent {
        *crate::catalog::find_model(name).unwrap().spec().unwrap().recurrent_layers().next().unwrap().1
    }

    /// Block sizes vLLM logs ("Setting attention block size to N tokens to ensure that
    /// attention page size is >= mamba page size"), bf16 KV and conv state, fp32 SSM state
    /// (the Qwen3.5/3.6 configs' `mamba_ssm_dtype`): Qwen3.6-35B-A3B at TP 4 sets 528 (vLLM
    /// issue on `vllm:cache_config_info`: "Setting attention block size to 528 tokens"); by
    /// hand its Mamba page is 3 · 8192/4 · 2 + 8 · 128 · 128 · 4 = 536,576 B and its attention
    /// token 2 · max(1, 2/4) · 256 · 2 = 1,024 B, so 16 · ⌈536,576 / 16,384⌉ = 528.
    /// Qwen3.6-27B at TP 1 sets 784 (GPUStack's hybrid-model guide): 3 · 10,240 · 2 + 48 · 128
    /// · 128 · 4 = 3,207,168 B over 4 · 256 · 2 · 2 = 4,096 B a token: 16 · 49 = 784.
    #[test]
    fn vllm_block_sizes_match_the_logs() {
        let moe = qwen36("qwen3.6-35b-a3b");
        let page = vllm_mamba_page(&moe, 4, 2, 4);
        assert_eq!(page, 536_576);
        assert_eq!(VllmHybridPool::of(10, 1024, 30, page, 1 << 30, 4096, 1).block_size, 528);
        let dense = Recurrent { heads: 48, inner: 6144, ..moe };
        let page = vllm_mamba_page(&dense, 1, 2, 4);
        assert_eq!(page, 3_207_168);
        let pool = VllmHybridPool::of(16, 4096, 48, page, 1 << 30, 4096, 1);
        assert_eq!((pool.block_size, pool.page_bytes), (784, 3_211_264));
    }

    /// noonghunna/club-3090 #612 (vLLM 0.24.0, Qwen3.6-35B-A3B, one GPU, fp8 KV cache,
    /// `--enable-prefix-caching`, max_model_len 131,072): "Available KV cache memory: 5.98
    /// GiB", "GPU KV cache size: 567,978 tokens", "Maximum concurrency for 131,072 tokens per
    /// request: 4.33x". By hand: a Mamba page of 3 · 8192 · 2 + 32 · 128 · 128 · 4 =
    /// 2,146,304 B over a 1,024 B attention token gives blocks of 2,096 tokens and pages of
    /// 2,146,304 B; groups of 10 (10 attention, 30 Gated DeltaNet layers): 299 blocks of
    /// 21,463,040 B; a request holds ⌈131,072 / 2,096⌉ = 63 attention blocks and 2 per Mamba
    /// group (`align`), 69 in all: 299 / 69 = 4.33, × 131,072 = 567,978 tokens.
    #[test]
    fn vllm_hybrid_pool_reproduces_the_club_3090_log() {
        let r = qwen36("qwen3.6-35b-a3b");
        let page = vllm_mamba_page(&r, 1, 2, 4);
        assert_eq!(page, 2_146_304);
        let kv = 6_420_976_108; // 5.98 GiB as printed
        let pool = VllmHybridPool::of(10, 2 * 2 * 256, 30, page, kv, 131_072, 2);
        assert_eq!((pool.block_size, pool.page_bytes, pool.group_size), (2096, 2_146_304, 10));
        assert_eq!((pool.blocks, pool.blocks_per_request), (299, 69));
        assert_eq!(format!("{:.2}", pool.concurrency), "4.33");
        assert_eq!(pool.tokens, 567_978);
    }

    #[test]
    fn a_hybrid_model_is_refused_and_an_attention_model_passes() {
        let hybrid = crate::catalog::find_model("qwen3.6-35b-a3b").unwrap().spec().unwrap();
        let e = check(&hybrid, "vLLM").unwrap_err().to_string();
        assert!(e.contains("--runtime") && e.contains("30 recurrent"), "{e}");
        let llama = crate::catalog::find_model("llama-2-7b").unwrap().spec().unwrap();
        assert!(check(&llama, "vLLM").is_ok());
    }
}
