//! Mistral 3 (`mistral3`, Mistral-Small-3.1/3.2 `Mistral3ForConditionalGeneration`): a Mistral
//! language model (`text_config`) and a Pixtral vision encoder (`vision_config`) joined by a
//! patch-merging projector. The vision tower is its own parameter group (`vision_tower`):
//! transformers `modeling_pixtral.py` `PixtralVisionModel` (`patch_conv` Conv2d(channels,
//! hidden, patch, patch, bias=False), `ln_pre` RMSNorm, per layer `attention.{q,k,v,o}_proj`
//! hidden × hidden without bias, `feed_forward.{gate,up,down}_proj` hidden ↔ intermediate
//! without bias, `attention_norm` and `ffn_norm` RMSNorm) and `modeling_mistral3.py`
//! `Mistral3MultiModalProjector` (`norm` RMSNorm, `patch_merger.merging_layer` (hidden ×
//! spatial_merge_size²) → hidden without bias, `linear_1` hidden → text hidden and `linear_2`
//! text hidden → text hidden, biased when `multimodal_projector_bias`). vLLM loads the same
//! modules (`model_executor/models/mistral3.py`, `pixtral.py` `PixtralHFVisionModel`, 0.19.0)
//! and shards them over TP like the language model. The tower's norm weights (2 per layer,
//! a few thousand values) are left out.

use super::{families, need, need_within};
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{Linear, ModelSpec, ParamGroup};
use serde_json::Value;

pub(crate) fn convert(v: &Value) -> Result<ModelSpec> {
    let f = "mistral3";
    let mut text = v
        .get("text_config")
        .cloned()
        .ok_or_else(|| Error::MissingKey { family: f.into(), key: "text_config".into() })?;
    let Some(t) = text.as_object_mut() else {
        return Err(Error::config("text_config", "expected a JSON object"));
    };
    let text_type = t.entry("model_type").or_insert_with(|| "mistral".into()).as_str().unwrap_or("mistral").to_string();
    if text_type != "mistral" {
        return Err(Error::config("text_config.model_type", format!("{text_type:?}: mistral3 wraps a mistral model")));
    }
    if let Some(tie) = v.get("tie_word_embeddings") {
        t.entry("tie_word_embeddings").or_insert_with(|| tie.clone());
    }
    let lm = families::family("mistral").ok_or_else(|| Error::config("model_type", "mistral is not a family"))?;
    let mut spec = (lm.convert)("mistral", &text)?;
    spec.model_type = f.into();
    if let Some(vision) = v.get("vision_config").filter(|c| c.is_object()) {
        let dim = |key: &str| need_within(f, key, vision.get(key).and_then(Value::as_u64), &limits::DIMENSION);
        let hidden = dim("hidden_size")?;
        let intermediate = dim("intermediate_size")?;
        let layers = need_within(
            f,
            "num_hidden_layers",
            vision.get("num_hidden_layers").and_then(Value::as_u64),
            &limits::LAYERS,
        )?;
        let patch = dim("patch_size")?;
        let channels = vision.get("num_channels").and_then(Value::as_u64).unwrap_or(3).clamp(1, 16);
        let merge = v.get("spatial_merge_size").and_then(Value::as_u64).unwrap_or(2).clamp(1, 64);
        let text_hidden = need(f, "text_config.hidden_size", Some(spec.hidden_size))?;
        let bias = v.get("multimodal_projector_bias").and_then(Value::as_bool).unwrap_or(false);
        let tower = |name: &str, i: u64, o: u64| Linear::new(name, ParamGroup::VisionTower, i, o, false);
        spec.extra.push(tower("vision_tower.patch_conv", channels * patch * patch, hidden));
        for name in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            spec.extra.push(tower(&format!("vision_tower.attention.{name}"), hidden, hidden).times(layers));
        }
        spec.extra.push(tower("vision_tower.feed_forward.gate_up_proj", hidden, 2 * intermediate).times(layers));
        spec.extra.push(tower("vision_tower.feed_forward.down_proj", intermediate, hidden).times(layers));
        spec.extra.push(tower("multi_modal_projector.patch_merger", hidden * merge * merge, hidden));
        spec.extra.push(Linear::new(
            "multi_modal_projector.linear_1",
            ParamGroup::VisionTower,
            hidden,
            text_hidden,
            bias,
        ));
        spec.extra.push(Linear::new(
            "multi_modal_projector.linear_2",
            ParamGroup::VisionTower,
            text_hidden,
            text_hidden,
            bias,
        ));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use crate::model::{ParamCount, ParamGroup};

    /// Mistral-Small-3.1-24B-Instruct-2503's config (../shared/validation/serving/configs):
    /// the language model as Mistral, plus a Pixtral tower of 24 layers of width 1024.
    #[test]
    fn mistral_small_3_1_counts_its_vision_tower() {
        let text = r#"{"architectures":["Mistral3ForConditionalGeneration"],"model_type":"mistral3",
            "multimodal_projector_bias":false,"spatial_merge_size":2,"dtype":"bfloat16",
            "text_config":{"head_dim":128,"hidden_act":"silu","hidden_size":5120,"intermediate_size":32768,
              "max_position_embeddings":131072,"model_type":"mistral","num_attention_heads":32,
              "num_hidden_layers":40,"num_key_value_heads":8,"rms_norm_eps":1e-05,"vocab_size":131072},
            "vision_config":{"head_dim":64,"hidden_size":1024,"intermediate_size":4096,"model_type":"pixtral",
              "num_attention_heads":16,"num_channels":3,"num_hidden_layers":24,"patch_size":14}}"#;
        let spec = crate::config::parse_config(text).unwrap();
        assert_eq!(spec.model_type, "mistral3");
        assert_eq!(spec.num_layers(), 40);
        let p = ParamCount::of(&spec);
        let vision = p.by_group.iter().find(|g| g.0 == ParamGroup::VisionTower).map(|g| g.1).unwrap();
        // patch conv 3·14·14·1024 + 24 × (4·1024² + 3·1024·4096) + merger 4096·1024
        // + linear_1 1024·5120 + linear_2 5120².
        let expected = 588 * 1024 + 24 * (4 * 1024 * 1024 + 3 * 1024 * 4096) + 4096 * 1024 + 1024 * 5120 + 5120 * 5120;
        assert_eq!(vision, expected);
        // The language model is Mistral's: vision tower aside, the text config alone.
        let lm = crate::config::parse_config(
            &serde_json::to_string(&serde_json::from_str::<serde_json::Value>(text).unwrap()["text_config"]).unwrap(),
        )
        .unwrap();
        assert_eq!(p.total - vision, ParamCount::of(&lm).total);
    }
}
