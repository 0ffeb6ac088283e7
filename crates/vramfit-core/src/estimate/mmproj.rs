//! The multimodal projector llama.cpp loads with `--mmproj` (tools/mtmd, `clip.cpp`): its
//! vision encoder's dimensions, read from the projector GGUF's `clip.vision.*` keys and tensor
//! names, or from a Hugging Face config.json's `vision_config`; its warm-up compute buffers
//! are in [`graph`].
//!
//! Sources (ggml-org/llama.cpp, `tools/mtmd/clip.cpp` and `clip-impl.h` at 0024aa74, 2026):
//! `clip_model_loader::load_hparams` (`clip.vision.embedding_length`, `.attention.head_count`,
//! `.feed_forward_length`, `.block_count`, `.projection_dim`, `.image_size`, `.patch_size`,
//! `.spatial_merge_size`, `.n_wa_pattern`, `.projector.scale_factor`, `clip.projector_type`;
//! Qwen2-VL, Qwen2.5-VL and Qwen3-VL default `n_merge` 2 and `set_warmup_n_tokens(46*46)`;
//! Gemma 3 `n_merge` 4 and LLaVA's `mlp` the warm-up at `image_size`), `load_tensors` (tensor names
//! `v.blk.N.attn_qkv`, `ffn_gate`, `v.pre_ln`, `v.post_ln`, `v.patch_embd.weight(.1)`,
//! `v.patch_embd.bias`, `v.position_embd.weight`, `v.deepstack.N.*`, `mm.0`,
//! `mm.input_projection.weight`, `v.class_embd`). Other projector types (pixtral, idefics3,
//! minicpmv, internvl, ...) are refused by name: their graphs are not modelled.

pub mod graph;

use crate::formats::gguf::GgufFile;

/// The projector families whose warm-up graph vramfit builds (`clip_image_build_graph`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectorKind {
    /// `qwen2vl_merger` (Qwen2-VL): layer norms, no window attention.
    Qwen2Vl,
    /// `qwen2.5vl_merger` (Qwen2.5-VL): RMS norms, window attention every `n_wa_pattern`.
    Qwen25Vl,
    /// `qwen3vl_merger` (Qwen3-VL, Qwen3.5/3.6 vision): fused QKV, patch bias, learned
    /// position embeddings resized to the image, optional deepstack layers.
    Qwen3Vl,
    /// `gemma3` (SigLIP encoder, average pooling by `n_merge`, a projection to the text width).
    Gemma3,
    /// `mlp` (LLaVA 1.5/1.6 style: a CLIP encoder with a class token, the penultimate layer's
    /// patches through a two-layer MLP).
    LlavaMlp,
}

impl ProjectorKind {
    /// The name `clip.projector_type` gives it.
    #[must_use]
    pub fn gguf_name(self) -> &'static str {
        match self {
            ProjectorKind::Qwen2Vl => "qwen2vl_merger",
            ProjectorKind::Qwen25Vl => "qwen2.5vl_merger",
            ProjectorKind::Qwen3Vl => "qwen3vl_merger",
            ProjectorKind::Gemma3 => "gemma3",
            ProjectorKind::LlavaMlp => "mlp",
        }
    }
    fn from_gguf_name(s: &str) -> Option<Self> {
        match s {
            "qwen2vl_merger" => Some(ProjectorKind::Qwen2Vl),
            // clip.cpp maps the legacy omni name to Qwen2.5-VL for the vision modality
            "qwen2.5vl_merger" | "qwen2.5o" => Some(ProjectorKind::Qwen25Vl),
            "qwen3vl_merger" => Some(ProjectorKind::Qwen3Vl),
            "gemma3" => Some(ProjectorKind::Gemma3),
            "mlp" => Some(ProjectorKind::LlavaMlp),
            _ => None,
        }
    }
}

/// A vision projector's shape: what its warm-up graph needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClipProjector {
    /// The graph builder `clip.cpp` picks.
    pub kind: ProjectorKind,
    /// `n_embd`: the encoder's width.
    pub n_embd: u64,
    /// `n_head`.
    pub n_head: u64,
    /// `n_ff`: the encoder's MLP width.
    pub n_ff: u64,
    /// `n_layer`.
    pub n_layer: u64,
    /// `image_size` (the native square side).
    pub image_size: u64,
    /// `patch_size`.
    pub patch_size: u64,
    /// `n_merge`: patches merged per side (Qwen) or pooled per side (Gemma 3).
    pub n_merge: u64,
    /// `projection_dim`: the text model's width the embeddings are projected to.
    pub projection_dim: u64,
    /// `n_wa_pattern`: every n-th layer attends fully, the others by windows (Qwen2.5-VL).
    pub n_wa_pattern: u64,
    /// The MLP has a gate (`ffn_gate` tensors: SwiGLU).
    pub gated_ffn: bool,
    /// The layer norms have biases (`ln1.bias`).
    pub norm_bias: bool,
    /// The attention projections have biases.
    pub attn_bias: bool,
    /// The MLP projections have biases.
    pub ffn_bias: bool,
    /// A norm before the first layer (`v.pre_ln`).
    pub pre_ln: bool,
    /// A norm after the last layer (`v.post_ln`), and whether it has a bias.
    pub post_ln: bool,
    /// Bytes per element of the patch embedding kernel (its `im2col` is of that type).
    pub patch_elem_bytes: u64,
    /// Patches per side of the learned position embedding table (0: none).
    pub pos_per_side: u64,
    /// The merger's hidden width (`mm.0.weight` rows; 4·n_embd in the Qwen mergers).
    pub merger_hidden: u64,
    /// Qwen3-VL deepstack layers (their indices).
    pub deepstack: Vec<u64>,
    /// Gemma 3 `mm.input_projection.weight` bytes per element (its transpose is copied in
    /// the compute buffer).
    pub input_proj_elem_bytes: u64,
    /// A class token joins the patches (`v.class_embd`, CLIP): n_patches + 1 positions.
    pub class_embd: bool,
}

/// Why a projector's warm-up graph is not modelled: printed, never replaced by a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotModelled(pub String);

impl std::fmt::Display for NotModelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn key_u64(f: &GgufFile, k: &str) -> Option<u64> {
    f.get(k).and_then(crate::formats::gguf::GgufValue::as_u64)
}

impl ClipProjector {
    /// The vision projector a `--mmproj` GGUF describes.
    ///
    /// # Errors
    /// A projector type whose graph is not modelled, or a file without the vision keys.
    pub fn from_gguf(f: &GgufFile) -> Result<Self, NotModelled> {
        let name = f
            .get("clip.projector_type")
            .or_else(|| f.get("clip.vision.projector_type"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| NotModelled("no clip.projector_type key (not a clip/mtmd projector file)".into()))?;
        let kind = ProjectorKind::from_gguf_name(name).ok_or_else(|| {
            NotModelled(format!(
                "projector type {name:?}: its warm-up graph is not modelled (modelled: qwen2vl_merger, qwen2.5vl_merger, qwen3vl_merger, gemma3, mlp)"
            ))
        })?;
        let need = |k: &str| key_u64(f, k).ok_or_else(|| NotModelled(format!("the projector file lacks {k}")));
        let n_embd = need("clip.vision.embedding_length")?;
        let n_head = need("clip.vision.attention.head_count")?;
        let n_layer = need("clip.vision.block_count")?;
        let tensor = |n: &str| f.tensors.iter().find(|t| t.name == n);
        let has = |n: &str| tensor(n).is_some();
        let n_ff = key_u64(f, "clip.vision.feed_forward_length")
            .or_else(|| tensor("v.blk.0.ffn_up.weight").and_then(|t| t.dims.get(1).copied()))
            .unwrap_or(0);
        let projection_dim = key_u64(f, "clip.vision.projection_dim").unwrap_or(0);
        if kind == ProjectorKind::LlavaMlp && f.get("clip.vision.feature_layer").is_some() {
            return Err(NotModelled(
                "projector \"mlp\" with explicit vision feature layers (granite's stacked embeddings): not modelled"
                    .into(),
            ));
        }
        let default_merge = match kind {
            ProjectorKind::Gemma3 => 4,
            ProjectorKind::LlavaMlp => 1,
            _ => 2,
        };
        let merge_key = if kind == ProjectorKind::Gemma3 {
            "clip.vision.projector.scale_factor"
        } else {
            "clip.vision.spatial_merge_size"
        };
        let pos = tensor("v.position_embd.weight").and_then(|t| t.dims.get(1).copied()).unwrap_or(0);
        let mut deepstack: Vec<u64> = f
            .tensors
            .iter()
            .filter_map(|t| t.name.strip_prefix("v.deepstack.")?.strip_suffix(".fc1.weight")?.parse().ok())
            .collect();
        deepstack.sort_unstable();
        deepstack.dedup();
        let p = ClipProjector {
            kind,
            n_embd,
            n_head,
            n_ff,
            n_layer,
            image_size: need("clip.vision.image_size")?,
            patch_size: need("clip.vision.patch_size")?,
            n_merge: if kind == ProjectorKind::LlavaMlp { 1 } else { key_u64(f, merge_key).unwrap_or(default_merge) },
            projection_dim,
            n_wa_pattern: key_u64(f, "clip.vision.n_wa_pattern").unwrap_or(0),
            gated_ffn: has("v.blk.0.ffn_gate.weight"),
            norm_bias: has("v.blk.0.ln1.bias"),
            attn_bias: has("v.blk.0.attn_qkv.bias") || has("v.blk.0.attn_q.bias"),
            ffn_bias: has("v.blk.0.ffn_up.bias"),
            pre_ln: has("v.pre_ln.weight"),
            post_ln: has("v.post_ln.weight"),
            patch_elem_bytes: tensor("v.patch_embd.weight").map_or(2, |t| elem_bytes(&t.ggml_type.name)),
            pos_per_side: (pos as f64).sqrt().round() as u64,
            merger_hidden: tensor("mm.0.weight").and_then(|t| t.dims.get(1).copied()).unwrap_or(4 * n_embd),
            deepstack,
            input_proj_elem_bytes: tensor("mm.input_projection.weight").map_or(2, |t| elem_bytes(&t.ggml_type.name)),
            class_embd: has("v.class_embd"),
        };
        p.check()?;
        Ok(p)
    }

    pub(crate) fn check(&self) -> Result<(), NotModelled> {
        let bad = |what: &str| Err(NotModelled(format!("projector {}: {what}", self.kind.gguf_name())));
        if self.n_embd == 0 || self.n_head == 0 || self.n_layer == 0 || self.patch_size == 0 || self.n_merge == 0 {
            return bad("a zero width, head count, layer count, patch size or merge size");
        }
        if self.n_embd % self.n_head != 0 {
            return bad("the width is not a multiple of the head count");
        }
        if self.n_ff == 0 || self.projection_dim == 0 {
            return bad("no feed-forward width or projection width");
        }
        let beyond = self.n_embd > 1 << 16
            || self.n_ff > 1 << 18
            || self.n_head > 1024
            || self.n_layer > 1024
            || self.image_size > 1 << 14
            || self.patch_size > 64
            || self.n_merge > 16
            || self.merger_hidden > 1 << 20
            || self.projection_dim > 1 << 20;
        // with these bounds every buffer size below fits u64 (the scores n_pos²·n_head·4 <
        // 2^(2·22+10+2))
        if beyond || (self.warmup_side() / self.patch_size).pow(2) > 1 << 22 {
            return bad("dimensions beyond any released vision encoder");
        }
        Ok(())
    }

    /// Bytes of the projector's tensors as `convert_hf_to_gguf.py --mmproj --outtype f16`
    /// writes them, for a projector known from its config.json alone: matrices and patch
    /// kernels 2 B per element, 1-D tensors (biases, norms) and the learned position table 4 B
    /// (unsloth's mmproj files: Qwen2.5-VL-7B 1291.40 MiB printed, this formula 1291.40;
    /// Qwen3.6-27B 887.99 printed, 884.62 here, its patch kernels being F32).
    #[must_use]
    pub fn weight_bytes(&self) -> u64 {
        let (e, f) = (self.n_embd, self.n_ff);
        let one = |yes: bool, n: u64| if yes { n } else { 0 };
        let norm = e + one(self.norm_bias, e);
        let per_layer_2d = 4 * e * e + f * e * if self.gated_ffn { 3 } else { 2 };
        let per_layer_1d =
            one(self.attn_bias, 4 * e) + one(self.ffn_bias, f * if self.gated_ffn { 2 } else { 1 } + e) + 2 * norm;
        let kernels = if matches!(self.kind, ProjectorKind::Gemma3 | ProjectorKind::LlavaMlp) { 1 } else { 2 };
        let patch = kernels * 3 * self.patch_size * self.patch_size * e;
        let patch_bias = one(matches!(self.kind, ProjectorKind::Qwen3Vl | ProjectorKind::Gemma3), e);
        let pos = self.pos_per_side * self.pos_per_side * e;
        let post = one(self.post_ln, norm);
        let (h, proj) = (self.merger_hidden, self.projection_dim);
        let (head_2d, head_1d) = match self.kind {
            ProjectorKind::Gemma3 => (e * proj, e),
            ProjectorKind::LlavaMlp => (e * h + h * proj, h + proj),
            _ => (h * h + h * proj, h + proj),
        };
        let deep = self.deepstack.len() as u64;
        let (deep_2d, deep_1d) = (deep * (h * h + h * proj), deep * (2 * h + h + proj));
        let two = self.n_layer * per_layer_2d + patch + head_2d + deep_2d;
        let four = self.n_layer * per_layer_1d + patch_bias + pos + post + head_1d + deep_1d;
        two.saturating_mul(2).saturating_add(four.saturating_mul(4))
    }

    /// The square image side `warmup` reserves with: Qwen mergers `46·patch·n_merge`
    /// (`set_warmup_n_tokens(46*46)`), Gemma 3 and LLaVA their `image_size`.
    #[must_use]
    pub fn warmup_side(&self) -> u64 {
        match self.kind {
            ProjectorKind::Qwen2Vl | ProjectorKind::Qwen25Vl | ProjectorKind::Qwen3Vl => {
                46 * self.patch_size * self.n_merge
            }
            ProjectorKind::Gemma3 | ProjectorKind::LlavaMlp => self.image_size,
        }
    }
}

/// Bytes per element of a float GGML type (quantized kernels are converted by im2col's caller
/// to their own type; 2 is the F16/BF16 case).
fn elem_bytes(ty: &str) -> u64 {
    match ty {
        "F32" => 4,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::gguf::{parse_header, GgufWriter};
    use crate::formats::Parsed;

    /// The keys and layer-0 tensors of unsloth's Qwen3.6-27B mmproj (the log's load_hparams).
    pub(crate) fn qwen36_mmproj() -> Vec<u8> {
        let mut w = GgufWriter::new()
            .string("general.architecture", "clip")
            .string("clip.projector_type", "qwen3vl_merger")
            .u32("clip.vision.embedding_length", 1152)
            .u32("clip.vision.attention.head_count", 16)
            .u32("clip.vision.feed_forward_length", 4304)
            .u32("clip.vision.block_count", 27)
            .u32("clip.vision.projection_dim", 5120)
            .u32("clip.vision.image_size", 768)
            .u32("clip.vision.patch_size", 16)
            .u32("clip.vision.spatial_merge_size", 2)
            .tensor("v.patch_embd.weight", &[16, 16, 3, 1152], "F16")
            .tensor("v.patch_embd.weight.1", &[16, 16, 3, 1152], "F16")
            .tensor("v.patch_embd.bias", &[1152], "F32")
            .tensor("v.position_embd.weight", &[1152, 2304], "F32")
            .tensor("v.post_ln.weight", &[4608], "F32")
            .tensor("v.post_ln.bias", &[4608], "F32")
            .tensor("mm.0.weight", &[4608, 4608], "BF16")
            .tensor("mm.2.weight", &[4608, 5120], "BF16");
        for t in ["attn_qkv", "attn_out", "ffn_up", "ffn_down", "ln1", "ln2"] {
            w = w.tensor(&format!("v.blk.0.{t}.weight"), &[1152, 1152], "BF16");
            w = w.tensor(&format!("v.blk.0.{t}.bias"), &[1152], "F32");
        }
        w.build()
    }

    #[test]
    fn a_qwen3vl_projector_file_gives_the_logs_hparams() {
        let bytes = qwen36_mmproj();
        let Ok(Parsed::Done(f)) = parse_header(&bytes) else { panic!("a complete header") };
        let p = ClipProjector::from_gguf(&f).unwrap();
        assert_eq!((p.kind, p.n_embd, p.n_head, p.n_ff, p.n_layer), (ProjectorKind::Qwen3Vl, 1152, 16, 4304, 27));
        assert_eq!((p.patch_size, p.n_merge, p.pos_per_side, p.merger_hidden), (16, 2, 48, 4608));
        assert!(p.norm_bias && p.attn_bias && p.ffn_bias && !p.gated_ffn && !p.pre_ln && p.post_ln);
        // the log: "warmup: warmup with image size = 1472 x 1472"
        assert_eq!(p.warmup_side(), 1472);
    }

    #[test]
    fn deepstack_layers_are_read_from_the_tensor_names() {
        let mut w = GgufWriter::new()
            .string("clip.projector_type", "qwen3vl_merger")
            .u32("clip.vision.embedding_length", 1152)
            .u32("clip.vision.attention.head_count", 16)
            .u32("clip.vision.feed_forward_length", 4304)
            .u32("clip.vision.block_count", 27)
            .u32("clip.vision.projection_dim", 4096)
            .u32("clip.vision.image_size", 768)
            .u32("clip.vision.patch_size", 16);
        for il in [24, 8, 16] {
            w = w.tensor(&format!("v.deepstack.{il}.fc1.weight"), &[8, 8], "F16");
            w = w.tensor(&format!("v.deepstack.{il}.fc2.weight"), &[8, 8], "F16");
        }
        let bytes = w.build();
        let Ok(Parsed::Done(f)) = parse_header(&bytes) else { panic!("a complete header") };
        assert_eq!(ClipProjector::from_gguf(&f).unwrap().deepstack, vec![8, 16, 24]);
    }

    #[test]
    fn absurd_dimensions_are_refused_not_overflowed() {
        for (k, v) in [
            ("clip.vision.spatial_merge_size", u32::MAX),
            ("clip.vision.patch_size", 1 << 20),
            ("clip.vision.embedding_length", u32::MAX),
            ("clip.vision.attention.head_count", 0),
            ("clip.vision.block_count", 1 << 30),
        ] {
            let only = GgufWriter::new()
                .string("clip.projector_type", "qwen2.5vl_merger")
                .u32("clip.vision.embedding_length", if k.ends_with("embedding_length") { v } else { 1280 })
                .u32("clip.vision.attention.head_count", if k.ends_with("head_count") { v } else { 16 })
                .u32("clip.vision.feed_forward_length", 3420)
                .u32("clip.vision.block_count", if k.ends_with("block_count") { v } else { 32 })
                .u32("clip.vision.projection_dim", 3584)
                .u32("clip.vision.image_size", 560)
                .u32("clip.vision.patch_size", if k.ends_with("patch_size") { v } else { 14 })
                .u32("clip.vision.spatial_merge_size", if k.ends_with("merge_size") { v } else { 2 })
                .build();
            let Ok(Parsed::Done(f)) = parse_header(&only) else { panic!("a complete header") };
            assert!(ClipProjector::from_gguf(&f).is_err(), "{k} = {v}");
        }
    }

    #[test]
    fn projector_types_without_a_graph_are_refused_by_name() {
        let bytes = GgufWriter::new().string("clip.projector_type", "ldp").build();
        let Ok(Parsed::Done(f)) = parse_header(&bytes) else { panic!("a complete header") };
        let e = ClipProjector::from_gguf(&f).unwrap_err();
        assert!(e.0.contains("\"ldp\"") && e.0.contains("not modelled"), "{e}");
    }

    #[test]
    fn a_qwen25vl_config_gives_its_window_pattern() {
        // Qwen/Qwen2.5-VL-7B-Instruct config.json (vision_config)
        let p = ClipProjector::from_config_json(
            r#"{"model_type": "qwen2_5_vl", "hidden_size": 3584, "vision_config": {"depth": 32,
                "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
                "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
                "tokens_per_second": 2, "temporal_patch_size": 2}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.kind, p.n_wa_pattern, p.projection_dim, p.warmup_side()),
            (ProjectorKind::Qwen25Vl, 8, 3584, 1288)
        );
        assert!(p.gated_ffn && !p.norm_bias);
        // the log's "load_hparams: model size: 1291.40 MiB" of unsloth's mmproj-BF16.gguf
        let mib = p.weight_bytes() as f64 / 1024.0 / 1024.0;
        assert!((mib - 1291.40).abs() < 0.005, "{mib}");
    }
}
