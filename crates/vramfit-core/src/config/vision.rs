//! The vision projector of a Hugging Face config.json (its `vision_config`), as
//! `convert_hf_to_gguf.py --mmproj` would write it in F16 (the patch kernel F16): what
//! llama.cpp's `clip.cpp` reads from an mmproj GGUF's `clip.vision.*` keys, for a projector
//! that was not downloaded. The families whose projector graph is modelled are named here,
//! with the other config readers, not in the estimators.

use crate::estimate::mmproj::{ClipProjector, NotModelled, ProjectorKind};
use serde_json::Value;

impl ClipProjector {
    /// The projector of a config.json with a `vision_config`.
    ///
    /// # Errors
    /// No `vision_config`, missing dimensions, or a model type whose projector graph is not
    /// modelled.
    pub fn from_config_json(text: &str) -> Result<Self, NotModelled> {
        let v: Value = serde_json::from_str(text).map_err(|e| NotModelled(format!("config.json is not JSON: {e}")))?;
        let vc = v.get("vision_config").ok_or_else(|| NotModelled("config.json has no vision_config".into()))?;
        let model_type = v.get("model_type").and_then(|m| m.as_str()).unwrap_or("");
        let text_hidden = v
            .get("text_config")
            .and_then(|t| t.get("hidden_size"))
            .and_then(Value::as_u64)
            .or_else(|| v.get("hidden_size").and_then(Value::as_u64));
        let kind = match model_type {
            "qwen2_vl" => ProjectorKind::Qwen2Vl,
            "qwen2_5_vl" => ProjectorKind::Qwen25Vl,
            "qwen3_vl" | "qwen3_vl_moe" | "qwen3_5" | "qwen3_5_moe" => ProjectorKind::Qwen3Vl,
            "gemma3" => ProjectorKind::Gemma3,
            other => {
                return Err(NotModelled(format!(
                    "model type {other:?}: its projector's warm-up graph is not modelled (modelled: qwen2_vl, qwen2_5_vl, qwen3_vl, qwen3_5, gemma3)"
                )));
            }
        };
        let vision = Vision { v: &v, vc, text_hidden };
        let p = match kind {
            ProjectorKind::Qwen2Vl => vision.qwen2_vl()?,
            ProjectorKind::Qwen25Vl | ProjectorKind::Qwen3Vl => vision.qwen25_or_3_vl(kind)?,
            ProjectorKind::LlavaMlp => {
                return Err(NotModelled("a LLaVA projector from config.json: give its mmproj GGUF".into()));
            }
            ProjectorKind::Gemma3 => vision.gemma3()?,
        };
        p.check()?;
        Ok(p)
    }
}

/// A config.json and its `vision_config`.
struct Vision<'a> {
    v: &'a Value,
    vc: &'a Value,
    /// The language model's width (the projector's output).
    text_hidden: Option<u64>,
}

impl Vision<'_> {
    fn u(&self, k: &str) -> Option<u64> {
        self.vc.get(k).and_then(Value::as_u64)
    }

    fn need(&self, k: &str) -> Result<u64, NotModelled> {
        self.u(k).ok_or_else(|| NotModelled(format!("vision_config lacks {k}")))
    }

    fn list(&self, k: &str) -> Vec<u64> {
        self.vc
            .get(k)
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    }

    /// Qwen2-VL: LayerNorm blocks, a plain MLP, a 560² reservation.
    fn qwen2_vl(&self) -> Result<ClipProjector, NotModelled> {
        let kind = ProjectorKind::Qwen2Vl;
        let n_embd = self.need("embed_dim")?;
        Ok(ClipProjector {
            kind,
            n_embd,
            n_head: self.need("num_heads")?,
            n_ff: n_embd * self.u("mlp_ratio").unwrap_or(4),
            n_layer: self.need("depth")?,
            image_size: 560,
            patch_size: self.u("patch_size").unwrap_or(14),
            n_merge: self.u("spatial_merge_size").unwrap_or(2),
            projection_dim: self.u("hidden_size").or(self.text_hidden).unwrap_or(0),
            n_wa_pattern: 0,
            gated_ffn: false,
            norm_bias: true,
            attn_bias: true,
            ffn_bias: true,
            pre_ln: false,
            post_ln: true,
            patch_elem_bytes: 2,
            pos_per_side: 0,
            merger_hidden: 4 * n_embd,
            deepstack: Vec::new(),
            input_proj_elem_bytes: 2,
            class_embd: false,
        })
    }

    /// Qwen2.5-VL (windowed attention, gated MLP, 560²) and Qwen3-VL / 3.5 / 3.6 (learned
    /// positions, deepstack layers, 768²).
    fn qwen25_or_3_vl(&self, kind: ProjectorKind) -> Result<ClipProjector, NotModelled> {
        let n_embd = self.need("hidden_size")?;
        let qwen3 = kind == ProjectorKind::Qwen3Vl;
        let full = self.list("fullatt_block_indexes");
        let n_wa_pattern = match full.as_slice() {
            [first, second, ..] if second > first => second - first,
            [first] => first + 1,
            _ => 0,
        };
        let deepstack = self.list("deepstack_visual_indexes");
        let pos = self.u("num_position_embeddings").unwrap_or(0);
        Ok(ClipProjector {
            kind,
            n_embd,
            n_head: self.need("num_heads")?,
            n_ff: self.need("intermediate_size")?,
            n_layer: self.need("depth")?,
            image_size: if qwen3 { 768 } else { 560 },
            patch_size: self.u("patch_size").unwrap_or(14),
            n_merge: self.u("spatial_merge_size").unwrap_or(2),
            projection_dim: self.u("out_hidden_size").or(self.text_hidden).unwrap_or(0),
            n_wa_pattern,
            gated_ffn: !qwen3,
            norm_bias: qwen3,
            attn_bias: true,
            ffn_bias: true,
            pre_ln: false,
            post_ln: true,
            patch_elem_bytes: 2,
            pos_per_side: (pos as f64).sqrt().round() as u64,
            merger_hidden: 4 * n_embd,
            deepstack,
            input_proj_elem_bytes: 2,
            class_embd: false,
        })
    }

    /// Gemma 3 (SigLIP): `image_size` reserved, pooled to `mm_tokens_per_image`.
    fn gemma3(&self) -> Result<ClipProjector, NotModelled> {
        let kind = ProjectorKind::Gemma3;
        let n_embd = self.need("hidden_size")?;
        let image_size = self.u("image_size").unwrap_or(896);
        let patch_size = self.u("patch_size").unwrap_or(14);
        let tokens = self.v.get("mm_tokens_per_image").and_then(Value::as_u64).unwrap_or(256);
        let per_side = image_size / patch_size.max(1);
        let out_side = (tokens as f64).sqrt().round() as u64;
        Ok(ClipProjector {
            kind,
            n_embd,
            n_head: self.need("num_attention_heads")?,
            n_ff: self.need("intermediate_size")?,
            n_layer: self.need("num_hidden_layers")?,
            image_size,
            patch_size,
            n_merge: per_side.checked_div(out_side).unwrap_or(4),
            projection_dim: self.text_hidden.unwrap_or(0),
            n_wa_pattern: 0,
            gated_ffn: false,
            norm_bias: true,
            attn_bias: true,
            ffn_bias: true,
            pre_ln: false,
            post_ln: true,
            patch_elem_bytes: 2,
            pos_per_side: per_side,
            merger_hidden: 0,
            deepstack: Vec::new(),
            input_proj_elem_bytes: 2,
            class_embd: false,
        })
    }
}
