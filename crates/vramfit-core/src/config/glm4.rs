//! GLM-4 (`glm4`, GLM-4-9B/32B-0414): Llama's projections with biases on q, k and v only
//! (transformers `modeling_glm4.py` `Glm4Attention`: `o_proj` has `bias=False`), a fused
//! `gate_up_proj` (`Glm4MLP`: h → 2·intermediate, no bias), four RMSNorms per block
//! (`input_layernorm`, `post_self_attn_layernorm`, `post_attention_layernorm`,
//! `post_mlp_layernorm`) and half-rotary positions (`partial_rotary_factor`). llama.cpp reads it
//! as GGUF `glm4` (`src/llama-model.cpp` `LLM_ARCH_GLM4`: `attn_norm`, q/k/v (or fused
//! `attn_qkv`) with biases, `attn_output`, `post_attention_norm`, `ffn_norm`, a fused `ffn_up`
//! of 2·n_ff, `ffn_down`, `post_ffw_norm`).

use super::llama::{self, LlamaWire};
use crate::error::Result;
use crate::model::{Linear, ModelSpec, Norm, NormKind, ParamGroup};

pub(crate) fn convert(w: LlamaWire) -> Result<ModelSpec> {
    let mut spec = llama::convert("llama", w)?;
    spec.model_type = "glm4".into();
    let h = spec.hidden_size;
    for layer in &mut spec.layers {
        let ff = layer.mlp.intermediate;
        for l in &mut layer.linears {
            if l.name == "o_proj" {
                l.bias = false;
            }
        }
        layer.linears.retain(|l| !matches!(l.name.as_str(), "gate_proj" | "up_proj"));
        let at = layer.linears.iter().position(|l| l.name == "down_proj").unwrap_or(layer.linears.len());
        layer.linears.insert(at, Linear::new("gate_up_proj", ParamGroup::Mlp, h, 2 * ff, false));
        layer.norms = ["input_layernorm", "post_self_attn_layernorm", "post_attention_layernorm", "post_mlp_layernorm"]
            .iter()
            .map(|n| Norm::new(n, NormKind::RmsNorm, h))
            .collect();
    }
    spec.quirks.gguf_arch_llama = false;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use crate::model::ParamCount;

    /// THUDM/GLM-4-9B-0414 config.json: GQA 32/2 with head_dim 128, q/k/v biases, untied
    /// 151552-token vocabulary: 9,400,279,040 parameters ("9.4B").
    #[test]
    fn glm4_9b_0414() {
        let spec = crate::config::parse_config(
            r#"{"architectures":["Glm4ForCausalLM"],"attention_bias":true,"head_dim":128,"hidden_act":"silu",
                "hidden_size":4096,"intermediate_size":13696,"max_position_embeddings":32768,
                "model_type":"glm4","num_attention_heads":32,"num_hidden_layers":40,"num_key_value_heads":2,
                "partial_rotary_factor":0.5,"rms_norm_eps":1e-05,"tie_word_embeddings":false,
                "torch_dtype":"bfloat16","vocab_size":151552}"#,
        )
        .unwrap();
        // Per block: q and o 2 × 4096², k and v 2 × 4096 × 256, q/k/v biases 4096 + 2 × 256,
        // gate_up 4096 × 27392, down 13696 × 4096, four norms; embeddings and head.
        let per_layer = 2 * 4096 * 4096 + 2 * 4096 * 256 + 4096 + 512 + 3 * 4096 * 13696 + 4 * 4096;
        assert_eq!(ParamCount::of(&spec).total, 40 * per_layer + 2 * 151_552 * 4096 + 4096);
        assert_eq!(ParamCount::of(&spec).total, 9_400_279_040);
        let l0 = &spec.layers[0];
        assert!(l0.linears.iter().any(|l| l.name == "o_proj" && !l.bias));
        assert_eq!(l0.attention.kv_heads(), 2);
    }
}
