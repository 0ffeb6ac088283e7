//! gpt-oss (`gpt_oss`): Llama-style attention with biases on q, k, v and o, a learned
//! attention sink per head (`GptOssAttention.sinks`, `[num_attention_heads]`), sliding and full
//! attention alternating (`layer_types`, `sliding_window` 128), and a routed MoE with biases
//! (transformers `modeling_gpt_oss.py` `GptOssTopKRouter`: `weight [E, h]` and `bias [E]`;
//! `GptOssExperts`: `gate_up_proj [E, h, 2·ff]` + `gate_up_proj_bias [E, 2·ff]`, `down_proj
//! [E, ff, h]` + `down_proj_bias [E, h]`), `experts_per_token` of `num_local_experts`. OpenAI
//! ships the experts in MXFP4 (`quantization_config.quant_method = "mxfp4"`, read as the
//! `MXFP4_MOE` scheme). llama.cpp reads it as GGUF `gpt-oss` (`src/llama-model.cpp`
//! `LLM_ARCH_OPENAI_MOE`: `attn_sinks`, `ffn_{gate,up,down}_exps` in MXFP4 with `_exps.bias`,
//! an iSWA cache with every other layer sliding, `hparams.set_swa_pattern(2)`).

use super::llama::{self, LlamaWire};
use super::{need, need_within};
use crate::error::Result;
use crate::limits;
use crate::model::{Linear, Mlp, ModelSpec, ParamGroup, Tensor};
use serde_json::Value;

pub(crate) fn convert(v: &Value, w: LlamaWire) -> Result<ModelSpec> {
    let f = "gpt_oss";
    let experts =
        need_within(f, "num_local_experts", v.get("num_local_experts").and_then(Value::as_u64), &limits::EXPERTS)?;
    let top_k = v.get("experts_per_token").or_else(|| v.get("num_experts_per_tok")).and_then(Value::as_u64);
    let top_k = need_within(f, "experts_per_token", top_k, &limits::EXPERTS)?;
    let ff = need(f, "intermediate_size", v.get("intermediate_size").and_then(Value::as_u64))?;
    let mut spec = llama::convert("llama", w)?;
    spec.model_type = f.into();
    let h = spec.hidden_size;
    for layer in &mut spec.layers {
        let act = layer.mlp.act;
        layer.linears.retain(|l| l.group != ParamGroup::Mlp);
        layer.linears.push(Linear::new("router", ParamGroup::Router, h, experts, true));
        layer.linears.push(Linear::new("experts.gate_up_proj", ParamGroup::Experts, h, 2 * ff, true).times(experts));
        layer.linears.push(Linear::new("experts.down_proj", ParamGroup::Experts, ff, h, true).times(experts));
        layer.mlp =
            Mlp { gated: true, act, intermediate: ff, experts, top_k: top_k.min(experts), shared_intermediate: 0 };
        layer.others.push(Tensor { name: "sinks".into(), group: ParamGroup::Other, numel: layer.attention.heads });
    }
    spec.quirks.llamacpp_iswa = true;
    spec.quirks.gguf_arch_llama = false;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use crate::model::ParamCount;
    use crate::quant::Quant;

    /// openai/gpt-oss-20b config.json (verbatim in ai-dynamo/aiconfigurator @ 095f58a5,
    /// `openai--gpt-oss-20b_config.json`; ../shared/validation/serving/configs): 20,914,757,184
    /// parameters, the count OpenAI's model card gives (20.9B).
    #[test]
    fn gpt_oss_20b() {
        let spec = crate::config::parse_config(
            r#"{"architectures":["GptOssForCausalLM"],"attention_bias":true,"experts_per_token":4,
                "head_dim":64,"hidden_act":"silu","hidden_size":2880,"intermediate_size":2880,
                "layer_types":["sliding_attention","full_attention","sliding_attention","full_attention",
                  "sliding_attention","full_attention","sliding_attention","full_attention",
                  "sliding_attention","full_attention","sliding_attention","full_attention",
                  "sliding_attention","full_attention","sliding_attention","full_attention",
                  "sliding_attention","full_attention","sliding_attention","full_attention",
                  "sliding_attention","full_attention","sliding_attention","full_attention"],
                "max_position_embeddings":131072,"model_type":"gpt_oss","num_attention_heads":64,
                "num_experts_per_tok":4,"num_hidden_layers":24,"num_key_value_heads":8,"num_local_experts":32,
                "quantization_config":{"modules_to_not_convert":["model.layers.*.self_attn",
                  "model.layers.*.mlp.router","model.embed_tokens","lm_head"],"quant_method":"mxfp4"},
                "rms_norm_eps":1e-05,"sliding_window":128,"tie_word_embeddings":false,
                "torch_dtype":"bfloat16","vocab_size":201088}"#,
        )
        .unwrap();
        // Per block: q 2880→4096 and o 4096→2880, k and v 2880→512, all with biases; 64 sinks;
        // two norms; router 2880→32 + bias; 32 experts of gate_up 2880→5760 and down
        // 2880→2880, with biases. Embeddings and head 2 × 201088 × 2880; final norm.
        let attn = 2 * 2880 * 4096 + 2 * 2880 * 512 + 4096 + 512 + 512 + 2880;
        let experts = 32 * (2880 * 5760 + 5760 + 2880 * 2880 + 2880);
        let per_layer = attn + 64 + 2 * 2880 + 2880 * 32 + 32 + experts;
        assert_eq!(ParamCount::of(&spec).total, 24 * per_layer + 2 * 201_088 * 2880 + 2880);
        assert_eq!(ParamCount::of(&spec).total, 20_914_757_184);
        assert_eq!(spec.layers.iter().filter(|l| l.attention.window == Some(128)).count(), 12);
        let q = spec.quantization.as_ref().unwrap();
        assert_eq!(q.quant, Quant::Gguf { scheme: "MXFP4_MOE".into() });
        // MXFP4 experts: 17 bytes per 32 weights; the router stays BF16.
        let l0 = &spec.layers[0];
        let gate_up = l0.linears.iter().find(|l| l.name == "experts.gate_up_proj").unwrap();
        assert_eq!(q.weight_bytes(gate_up, None), 32 * (2880 * 5760 / 32 * 17));
        let router = l0.linears.iter().find(|l| l.name == "router").unwrap();
        assert_eq!(q.weight_bytes(router, None), 2880 * 32 * 2);
    }
}
