//! Hybrid models (recurrent Mamba-2 / Gated DeltaNet layers beside attention) under the
//! serving engines: not modelled yet, so refused rather than estimated as if every layer
//! attended.
//!
//! vLLM's hybrid KV cache manager gives each recurrent layer one page per request holding its
//! conv and SSM state (`vllm/v1/kv_cache_interface.py` `MambaSpec`), raises the attention
//! block size until an attention page is at least a Mamba page and pads the Mamba page to it
//! (`vllm/model_executor/models/config.py` `HybridAttentionMambaModelConfig`), then groups
//! layers of equal page size over one block pool; with prefix caching the Mamba layers keep
//! more than one page per request. Reproducing its block count needs that whole layout and a
//! public log to check it against; the one public family of cases (Qwen3.6-35B-A3B NVFP4)
//! also needs the modelopt mixed FP8/NVFP4 checkpoint format. SGLang keeps a separate Mamba
//! state pool (`MambaPool`) sized by `--max-mamba-cache-size`.

use crate::error::{Error, Result};
use crate::model::ModelSpec;

/// Refuse a model with recurrent layers under a serving engine, naming what does model it.
///
/// # Errors
/// The model has recurrent layers.
pub(super) fn check(spec: &ModelSpec, engine: &str) -> Result<()> {
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

    #[test]
    fn a_hybrid_model_is_refused_and_an_attention_model_passes() {
        let hybrid = crate::catalog::find_model("qwen3.6-35b-a3b").unwrap().spec().unwrap();
        let e = check(&hybrid, "vLLM").unwrap_err().to_string();
        assert!(e.contains("--runtime") && e.contains("30 recurrent"), "{e}");
        let llama = crate::catalog::find_model("llama-2-7b").unwrap().spec().unwrap();
        assert!(check(&llama, "vLLM").is_ok());
    }
}
