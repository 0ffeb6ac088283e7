//! IBM Granite 3.x dense (`granite`): the Llama layout. transformers `modeling_granite.py`
//! scales values with `embedding_multiplier`, `residual_multiplier`, `attention_multiplier`
//! and `logits_scaling`; each is a multiplication by a scalar that saves nothing for backward,
//! so memory is Llama's for the same shapes.

use super::llama::{self, LlamaWire};
use crate::error::Result;
use crate::model::{FamilyQuirks, ModelSpec};

pub(crate) fn convert(w: LlamaWire) -> Result<ModelSpec> {
    let mut spec = llama::convert("llama", w)?;
    spec.model_type = "granite".into();
    // Added in transformers 4.45 (rotary caches no longer per layer). Its forward then divided
    // the logits by logits_scaling and upcast them only to compute a loss, so there is no
    // inference upcast to model.
    spec.quirks = FamilyQuirks::default();
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use crate::model::ParamCount;

    /// ibm-granite/granite-3.0-8b-instruct config.json (tied embeddings, GQA 32/8).
    #[test]
    fn granite_3_8b() {
        let spec = crate::config::parse_config(
            r#"{"model_type":"granite","hidden_size":4096,"intermediate_size":12800,"num_hidden_layers":40,
                "num_attention_heads":32,"num_key_value_heads":8,"vocab_size":49155,"tie_word_embeddings":true,
                "attention_bias":false,"mlp_bias":false,"embedding_multiplier":12.0,"logits_scaling":16.0,
                "residual_multiplier":0.22,"attention_multiplier":0.0078125,"torch_dtype":"bfloat16"}"#,
        )
        .unwrap();
        // Per layer: q and o 2 × 4096², k and v 2 × 4096 × 1024, MLP 3 × 4096 × 12800, two
        // norms; one tied 49155 × 4096 embedding; final norm.
        let per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 12800 + 2 * 4096;
        assert_eq!(ParamCount::of(&spec).total, 40 * per_layer + 49_155 * 4096 + 4096);
        assert_eq!(ParamCount::of(&spec).total, 8_170_848_256);
        assert!(spec.tied_embeddings);
    }
}
