//! Meta's reference LLaMA code (github.com/meta-llama/llama, formerly facebookresearch/llama):
//! `Llama.build(ckpt_dir, tokenizer_path, max_seq_len, max_batch_size)` then `generate`.
//!
//! Version 1 is the original LLaMA release (commit 57b0eb6, March 2023); version 2 the
//! Llama 2 code (commit 689c7f2, the repository's last). Both, at build time:
//! - set the default tensor type to `torch.cuda.HalfTensor` (v1 example.py:56, v2
//!   generation.py:118): weights, cache and activations in fp16;
//! - allocate every layer's `cache_k`/`cache_v` as `torch.zeros((max_batch_size, max_seq_len,
//!   n_local_(kv_)heads, head_dim))` in `Attention.__init__` (v1 model.py:112-116, v2
//!   model.py:236): the whole cache exists from load on, whatever batch is run;
//! - run eager attention with the softmax in fp32 (`F.softmax(scores.float())`, v1
//!   model.py:144) and a float causal mask of seqlen × (start_pos + seqlen) for the prompt
//!   (v1 model.py:229-232, v2 model.py:474-489);
//! - refuse a batch above `max_batch_size` and a prompt above `max_seq_len`, and stop
//!   generating at `max_seq_len` (v2 generation.py:160-165).
//!
//! The example scripts build with `max_seq_len=512, max_batch_size=32` (v1 example.py:71-72).
//! v1 computes logits for the last position only (model.py:237, `h[:, -1, :]`); v2 for every
//! position (model.py:494); both return them `.float()`.

use super::{CacheSlots, Engine, InferenceProfile, KvAllocation, MaskPolicy, RuntimeProfile, TORCH_INFERENCE};
use crate::estimate::runtime::{Runtime, RuntimeVersion};
use crate::estimate::workload::AttnImpl;

/// The reference code at `version` (1 = LLaMA, 2 = Llama 2; `None` = the last, 2).
pub(super) fn profile(version: Option<RuntimeVersion>) -> RuntimeProfile {
    let llama1 = version.is_some_and(|v| v.major < 2);
    RuntimeProfile {
        runtime: Runtime::MetaReference,
        version,
        engine: Engine::Torch,
        inference: InferenceProfile {
            kv_allocation: KvAllocation::Preallocated,
            cache_slots: Some(CacheSlots { batch: 32, seq: 512 }),
            // Llama 2's repeat_kv copies grouped K/V to every head (model.py:164).
            repeats_kv: true,
            attention: Some(AttnImpl::Eager),
            mask: MaskPolicy::Square,
            logits_all_positions: !llama1,
            logits_fp32: true,
            dtype: Some(crate::DType::Fp16),
            ..TORCH_INFERENCE
        },
        training: None,
        loads_fp32_by_default: false,
        lazy_cuda_loading: true,
    }
}
