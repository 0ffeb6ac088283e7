//! A model spec from a GGUF header: llama.cpp's hyperparameter keys (`{arch}.block_count`,
//! `{arch}.embedding_length`, ...; see llama.cpp `src/llama-arch.cpp` `LLM_KV_NAMES` and
//! `src/llama-model.cpp` `load_hparams`) are translated into the config.json keys of the
//! matching Hugging Face family, and the family's own conversion does the rest. The exact
//! tensor bytes travel with the spec as its [`CheckpointInfo`].

use crate::error::{Error, Result};
use crate::formats::gguf::{GgufFile, GgufValue};
use crate::model::{CheckpointInfo, ModelSpec};
use serde_json::{json, Map, Value};

/// GGUF architectures vramfit reads (`general.architecture`).
pub const SUPPORTED_GGUF_ARCHITECTURES: &[&str] = &[
    "llama",
    "qwen2",
    "qwen2moe",
    "qwen3",
    "qwen3moe",
    "gemma",
    "gemma2",
    "gemma3",
    "phi3",
    "falcon",
    "command-r",
    "glm4",
    "gpt-oss",
    "qwen3next",
    "qwen35",
    "qwen35moe",
    "granitehybrid",
    "nemotron_h",
    "nemotron_h_moe",
];

/// Build a model spec from a parsed GGUF header; `source` names the file or URL.
///
/// # Errors
/// An architecture outside [`SUPPORTED_GGUF_ARCHITECTURES`], a missing hyperparameter (named
/// by its GGUF key), or values the family conversion refuses.
pub fn spec_from_gguf(file: &GgufFile, source: &str) -> Result<ModelSpec> {
    let arch = file
        .architecture()
        .ok_or_else(|| Error::MissingKey { family: "gguf".into(), key: "general.architecture".into() })?;
    let key = |k: &str| format!("{arch}.{k}");
    let get = |k: &str| file.get(&key(k));
    // Per-layer arrays (head_count_kv, feed_forward_length of some files) give their largest
    // item: every layer is then described with it.
    let num = |k: &str| -> Option<u64> {
        match get(k)? {
            GgufValue::Array { items, .. } => items.iter().filter_map(GgufValue::as_u64).max(),
            v => v.as_u64(),
        }
    };
    let need = |k: &str| -> Result<u64> {
        num(k).ok_or_else(|| Error::MissingKey { family: format!("gguf {arch}"), key: key(k) })
    };
    let has_tensor = |name: &str| file.tensors.iter().any(|t| t.name == name);
    let experts = num("expert_count").unwrap_or(0);
    let model_type = match arch {
        "llama" if experts > 0 => "mixtral",
        "llama" => "llama",
        "qwen2" => "qwen2",
        "qwen2moe" => "qwen2_moe",
        "qwen3" => "qwen3",
        "qwen3moe" => "qwen3_moe",
        "gemma" => "gemma",
        "gemma2" => "gemma2",
        "gemma3" => "gemma3_text",
        "phi3" => "phi3",
        "falcon" => "falcon",
        "command-r" => "cohere",
        "glm4" => "glm4",
        "gpt-oss" => "gpt_oss",
        "qwen3next" => "qwen3_next",
        "qwen35" => "qwen3_5_text",
        "qwen35moe" => "qwen3_5_moe_text",
        "granitehybrid" => "granitemoehybrid",
        "nemotron_h" | "nemotron_h_moe" => "nemotron_h",
        other => {
            return Err(Error::UnsupportedModelType {
                found: format!("{other} (GGUF general.architecture)"),
                supported: SUPPORTED_GGUF_ARCHITECTURES.join(", "),
            })
        }
    };
    let hidden = need("embedding_length")?;
    let heads = need("attention.head_count")?;
    let vocab = num("vocab_size")
        .or_else(|| file.get("tokenizer.ggml.tokens").and_then(GgufValue::array_len))
        .ok_or_else(|| Error::MissingKey { family: format!("gguf {arch}"), key: "tokenizer.ggml.tokens".into() })?;
    let mut c = Map::new();
    c.insert("model_type".into(), json!(model_type));
    c.insert("hidden_size".into(), json!(hidden));
    c.insert("num_hidden_layers".into(), json!(need("block_count")?));
    c.insert("num_attention_heads".into(), json!(heads));
    c.insert("vocab_size".into(), json!(vocab));
    c.insert("tie_word_embeddings".into(), json!(!has_tensor("output.weight")));
    if let Some(ff) = num("feed_forward_length") {
        c.insert("intermediate_size".into(), json!(ff));
        c.insert("ffn_hidden_size".into(), json!(ff));
    }
    if let Some(kv) = num("attention.head_count_kv") {
        c.insert("num_key_value_heads".into(), json!(kv));
    }
    if let Some(ctx) = num("context_length") {
        c.insert("max_position_embeddings".into(), json!(ctx));
    }
    if let Some(kd) = num("attention.key_length") {
        if heads > 0 && kd != hidden / heads {
            c.insert("head_dim".into(), json!(kd));
        }
    }
    if let Some(w) = num("attention.sliding_window") {
        c.insert("sliding_window".into(), json!(w));
    }
    if let (Some(rot), Some(kd)) =
        (num("rope.dimension_count"), num("attention.key_length").or(Some(hidden / heads.max(1))))
    {
        if kd > 0 && rot < kd {
            c.insert("partial_rotary_factor".into(), json!(rot as f64 / kd as f64));
        }
    }
    if experts > 0 {
        c.insert("num_local_experts".into(), json!(experts));
        c.insert("num_experts_per_tok".into(), json!(need("expert_used_count")?));
        if let Some(e) = num("expert_feed_forward_length") {
            c.insert("moe_intermediate_size".into(), json!(e));
        }
        if let Some(s) = num("expert_shared_feed_forward_length") {
            c.insert("shared_expert_intermediate_size".into(), json!(s));
        }
    }
    if matches!(model_type, "llama" | "glm4" | "gpt_oss")
        && (has_tensor("blk.0.attn_q.bias") || has_tensor("blk.0.attn_qkv.bias"))
    {
        c.insert("attention_bias".into(), json!(true));
    }
    if model_type == "cohere" {
        c.insert("use_qk_norm".into(), json!(has_tensor("blk.0.attn_q_norm.weight")));
    }
    if model_type == "gpt_oss" {
        // src/llama-model.cpp LLM_ARCH_OPENAI_MOE: hparams.set_swa_pattern(2), the even
        // layers slide; the experts' width is the GGUF's expert_feed_forward_length.
        let n = need("block_count")?;
        let types: Vec<&str> =
            (0..n).map(|i| if i % 2 == 0 { "sliding_attention" } else { "full_attention" }).collect();
        c.insert("layer_types".into(), json!(types));
        if let Some(e) = num("expert_feed_forward_length") {
            c.insert("intermediate_size".into(), json!(e));
        }
        c.insert("experts_per_token".into(), json!(need("expert_used_count")?));
    }
    if matches!(model_type, "qwen3_next" | "qwen3_5_text" | "qwen3_5_moe_text" | "granitemoehybrid" | "nemotron_h") {
        recurrent_keys(&mut c, model_type, &need, &num, &|k| get(k).cloned())?;
    }
    if model_type == "falcon" {
        let kv = num("attention.head_count_kv").unwrap_or(1);
        c.insert("new_decoder_architecture".into(), json!(has_tensor("blk.0.attn_norm_2.weight")));
        c.insert("multi_query".into(), json!(kv == 1));
        c.insert("num_kv_heads".into(), json!(kv));
        c.remove("num_key_value_heads");
        c.insert("parallel_attn".into(), json!(true));
    }
    let mut spec = super::from_value(&Value::Object(c)).map_err(|e| match e {
        Error::MissingKey { key, .. } => {
            Error::MissingKey { family: format!("gguf {arch}"), key: format!("{arch}.* (for {key})") }
        }
        other => other,
    })?;
    let info = CheckpointInfo::from_gguf(file, source);
    // Norms are F32 in every GGUF; they say nothing about the dtype of the weights.
    spec.torch_dtype = info.main_float_dtype().filter(|d| *d != crate::DType::Fp32 || info.by_dtype.len() == 1);
    spec.checkpoint = Some(info);
    Ok(spec)
}

/// The `ssm.*` keys of hybrid architectures as their config.json keys (llama.cpp
/// `src/llama-model.cpp` `load_hparams`: `ssm.conv_kernel` = d_conv, `ssm.inner_size` =
/// d_inner, `ssm.state_size` = d_state, `ssm.group_count` = n_group, `ssm.time_step_rank` =
/// dt_rank). Qwen3-Next / Qwen3.5 (`convert_hf_to_gguf.py` `Qwen3NextModel`): d_inner is the
/// value width (value heads × v_head_dim), d_state the key head width, n_group the key heads,
/// dt_rank the value heads; block i attends when `(i + 1) % full_attention_interval == 0`
/// (default 4), and a trailing multi-token-prediction block (`nextn_predict_layers`) is not a
/// trunk block. Granite hybrids: d_inner = `mamba_expand` · hidden, dt_rank the Mamba heads;
/// block i is Mamba where its `attention.head_count_kv` entry is 0 (`recurrent_layer_arr[i] =
/// n_head_kv(i) == 0`).
fn recurrent_keys(
    c: &mut Map<String, Value>,
    model_type: &str,
    need: &dyn Fn(&str) -> Result<u64>,
    num: &dyn Fn(&str) -> Option<u64>,
    raw: &dyn Fn(&str) -> Option<GgufValue>,
) -> Result<()> {
    let kernel = need("ssm.conv_kernel")?;
    let inner = need("ssm.inner_size")?;
    let state = need("ssm.state_size")?;
    let groups = need("ssm.group_count")?;
    let heads = need("ssm.time_step_rank")?;
    let blocks = need("block_count")?;
    if model_type == "granitemoehybrid" {
        let hidden = need("embedding_length")?;
        c.insert("mamba_d_conv".into(), json!(kernel));
        c.insert("mamba_d_state".into(), json!(state));
        c.insert("mamba_n_groups".into(), json!(groups));
        c.insert("mamba_n_heads".into(), json!(heads));
        c.insert("mamba_expand".into(), json!(inner / hidden.max(1)));
        c.insert("mamba_d_head".into(), json!(inner / heads.max(1)));
        c.insert("mamba_conv_bias".into(), json!(true));
        let kv: Vec<u64> = match raw("attention.head_count_kv") {
            Some(GgufValue::Array { items, .. }) => items.iter().filter_map(GgufValue::as_u64).collect(),
            _ => Vec::new(),
        };
        if kv.len() as u64 == blocks {
            let types: Vec<&str> = kv.iter().map(|&n| if n == 0 { "mamba" } else { "attention" }).collect();
            c.insert("layer_types".into(), json!(types));
        }
        let ff = num("feed_forward_length");
        let expert_ff = num("expert_feed_forward_length").or(ff);
        let shared = num("expert_shared_feed_forward_length").or(ff);
        c.remove("ffn_hidden_size");
        if let Some(e) = expert_ff {
            c.insert("intermediate_size".into(), json!(e));
        }
        if let Some(sh) = shared {
            c.insert("shared_intermediate_size".into(), json!(sh));
        }
        return Ok(());
    }
    if let Some(kd) = num("attention.key_length") {
        c.insert("head_dim".into(), json!(kd));
    }
    let per_block = |k: &str| -> Vec<u64> {
        match raw(k) {
            Some(GgufValue::Array { items, .. }) => items.iter().filter_map(GgufValue::as_u64).collect(),
            Some(v) => v.as_u64().map_or_else(Vec::new, |n| vec![n; usize::try_from(blocks).unwrap_or(0)]),
            None => Vec::new(),
        }
    };
    if model_type == "nemotron_h" {
        return nemotron_h_keys(c, blocks, (kernel, inner, state, groups, heads), num, &per_block);
    }
    let nextn = num("nextn_predict_layers").unwrap_or(0);
    if nextn >= blocks {
        return Err(Error::config("nextn_predict_layers", format!("{nextn} is not below block_count {blocks}")));
    }
    c.insert("num_hidden_layers".into(), json!(blocks - nextn));
    c.insert("linear_conv_kernel_dim".into(), json!(kernel));
    c.insert("linear_key_head_dim".into(), json!(state));
    c.insert("linear_num_key_heads".into(), json!(groups));
    c.insert("linear_num_value_heads".into(), json!(heads));
    c.insert("linear_value_head_dim".into(), json!(inner / heads.max(1)));
    c.insert("full_attention_interval".into(), json!(num("full_attention_interval").unwrap_or(4)));
    if model_type == "qwen3_next" || model_type == "qwen3_5_moe_text" {
        c.insert("num_experts".into(), json!(need("expert_count")?));
    }
    Ok(())
}

/// Nemotron-H (`nemotron_h`, `nemotron_h_moe`; llama.cpp `llama_model_nemotron_h`): one mixer
/// per block, told apart by the per-block `attention.head_count_kv` and `feed_forward_length`
/// arrays — attention where the KV heads are not 0, an MLP (an MoE when the file has experts)
/// where the FFN width is not 0, Mamba-2 where both are 0 (`is_recr_impl[i] = n_head_kv(i) ==
/// 0 && n_ff(i) == 0`); d_inner = Mamba heads (dt_rank) × head dim. A trailing NextN block
/// (`nextn_predict_layers`) is not a trunk block.
fn nemotron_h_keys(
    c: &mut Map<String, Value>,
    blocks: u64,
    (kernel, inner, state, groups, heads): (u64, u64, u64, u64, u64),
    num: &dyn Fn(&str) -> Option<u64>,
    per_block: &dyn Fn(&str) -> Vec<u64>,
) -> Result<()> {
    let kv = per_block("attention.head_count_kv");
    let ff = per_block("feed_forward_length");
    let trunk = blocks.saturating_sub(num("nextn_predict_layers").unwrap_or(0));
    if trunk == 0 || (kv.len() as u64) < trunk || (ff.len() as u64) < trunk {
        return Err(Error::config(
            "attention.head_count_kv",
            format!("needs one entry per block (head_count_kv and feed_forward_length) for {trunk} blocks"),
        ));
    }
    let moe = num("expert_count").unwrap_or(0) > 0;
    let pattern: String = (0..trunk as usize)
        .map(|i| match (kv[i], ff[i]) {
            (k, _) if k > 0 => '*',
            (_, f) if f > 0 => {
                if moe {
                    'E'
                } else {
                    '-'
                }
            }
            _ => 'M',
        })
        .collect();
    c.insert("hybrid_override_pattern".into(), json!(pattern));
    c.insert("conv_kernel".into(), json!(kernel));
    c.insert("ssm_state_size".into(), json!(state));
    c.insert("n_groups".into(), json!(groups));
    c.insert("mamba_num_heads".into(), json!(heads));
    c.insert("mamba_head_dim".into(), json!(inner / heads.max(1)));
    if let Some(kd) = num("attention.key_length") {
        c.insert("head_dim".into(), json!(kd));
    }
    if moe {
        c.insert("n_routed_experts".into(), json!(num("expert_count")));
        if let Some(sh) = num("expert_shared_feed_forward_length") {
            c.insert("moe_shared_expert_intermediate_size".into(), json!(sh));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::gguf::{parse_header, GgufWriter};
    use crate::formats::Parsed;

    #[test]
    fn llama_gguf_becomes_a_llama_spec() {
        let mut w = GgufWriter::new()
            .string("general.architecture", "llama")
            .u32("llama.block_count", 2)
            .u32("llama.embedding_length", 64)
            .u32("llama.feed_forward_length", 128)
            .u32("llama.attention.head_count", 4)
            .u32("llama.attention.head_count_kv", 2)
            .u32("llama.context_length", 2048)
            .strings("tokenizer.ggml.tokens", &["a"; 32])
            .tensor("token_embd.weight", &[64, 32], "Q8_0");
        for i in 0..2 {
            for (n, dims) in [
                ("attn_q", [64, 64]),
                ("attn_k", [64, 32]),
                ("attn_v", [64, 32]),
                ("attn_output", [64, 64]),
                ("ffn_gate", [64, 128]),
                ("ffn_up", [64, 128]),
                ("ffn_down", [128, 64]),
            ] {
                w = w.tensor(&format!("blk.{i}.{n}.weight"), &dims, "Q4_0");
            }
        }
        let bytes = w.build();
        let Parsed::Done(f) = parse_header(&bytes).unwrap() else { panic!() };
        let spec = spec_from_gguf(&f, "test.gguf").unwrap();
        assert_eq!(spec.model_type, "llama");
        assert_eq!(spec.num_layers(), 2);
        assert!(spec.tied_embeddings);
        assert_eq!(spec.first_attention().unwrap().kv_heads(), 2);
        let ck = spec.checkpoint.unwrap();
        assert_eq!(ck.bytes, f.tensor_bytes());
        assert_eq!(ck.layer_bytes.len(), 2);
        assert_eq!(ck.input_bytes, 64 * 32 / 32 * 34);
    }

    /// The hyperparameters of ggml-org/gpt-oss-20b-GGUF (convert_hf_to_gguf.py `GptOssModel`
    /// writes openai/gpt-oss-20b's config as these keys; the tensors here are a sample).
    #[test]
    fn gpt_oss_gguf_reads_experts_sinks_and_alternating_windows() {
        let bytes = GgufWriter::new()
            .string("general.architecture", "gpt-oss")
            .u32("gpt-oss.block_count", 24)
            .u32("gpt-oss.context_length", 131_072)
            .u32("gpt-oss.embedding_length", 2880)
            .u32("gpt-oss.feed_forward_length", 2880)
            .u32("gpt-oss.attention.head_count", 64)
            .u32("gpt-oss.attention.head_count_kv", 8)
            .u32("gpt-oss.attention.key_length", 64)
            .u32("gpt-oss.attention.value_length", 64)
            .u32("gpt-oss.attention.sliding_window", 128)
            .u32("gpt-oss.expert_count", 32)
            .u32("gpt-oss.expert_used_count", 4)
            .u32("gpt-oss.expert_feed_forward_length", 2880)
            .u32("gpt-oss.vocab_size", 201_088)
            .tensor("token_embd.weight", &[2880, 201_088], "Q8_0")
            .tensor("blk.0.attn_q.weight", &[2880, 4096], "Q8_0")
            .tensor("blk.0.attn_q.bias", &[4096], "F32")
            .tensor("blk.0.attn_sinks.weight", &[64], "F32")
            .tensor("blk.0.ffn_up_exps.weight", &[2880, 2880, 32], "MXFP4")
            .tensor("output.weight", &[2880, 201_088], "Q8_0")
            .build();
        let Parsed::Done(f) = parse_header(&bytes).unwrap() else { panic!() };
        let spec = spec_from_gguf(&f, "gpt-oss-20b-mxfp4.gguf").unwrap();
        assert_eq!(spec.model_type, "gpt_oss");
        assert_eq!(spec.layers.len(), 24);
        let (l0, l1) = (&spec.layers[0], &spec.layers[1]);
        assert_eq!((l0.attention.window, l1.attention.window), (Some(128), None));
        assert_eq!((l0.mlp.experts, l0.mlp.top_k, l0.mlp.intermediate), (32, 4, 2880));
        assert_eq!((l0.attention.head_dim, l0.attention.kv_heads()), (64, 8));
        assert!(l0.others.iter().any(|t| t.name == "sinks" && t.numel == 64));
        assert!(l0.linears.iter().any(|l| l.name == "o_proj" && l.bias));
        assert!(spec.quirks.llamacpp_iswa && !spec.tied_embeddings);
        // MXFP4 blocks: 2880 × 2880 × 32 weights at 17 bytes per 32.
        assert!(spec.checkpoint.unwrap().bytes >= 2880 * 2880 * 32 / 32 * 17);
    }

    /// Command R+ (GGUF `command-r` with `attn_q_norm`) and GLM-4 (GGUF `glm4`, q/k/v biases).
    #[test]
    fn command_r_and_glm4_ggufs_map_to_their_families() {
        let arch = |name: &str, extra: &[(&str, &[u64])]| {
            let mut w = GgufWriter::new()
                .string("general.architecture", name)
                .u32(&format!("{name}.block_count"), 2)
                .u32(&format!("{name}.embedding_length"), 256)
                .u32(&format!("{name}.feed_forward_length"), 512)
                .u32(&format!("{name}.attention.head_count"), 4)
                .u32(&format!("{name}.attention.head_count_kv"), 2)
                .strings("tokenizer.ggml.tokens", &["a"; 32])
                .tensor("token_embd.weight", &[256, 32], "F16");
            for (t, dims) in extra {
                w = w.tensor(t, dims, "F32");
            }
            let bytes = w.build();
            let Parsed::Done(f) = parse_header(&bytes).unwrap() else { panic!() };
            spec_from_gguf(&f, "x.gguf").unwrap()
        };
        let r = arch("command-r", &[("blk.0.attn_q_norm.weight", &[64, 4])]);
        assert_eq!(r.model_type, "cohere");
        assert!(r.tied_embeddings && r.layers[0].attention.qk_norm && r.layers[0].parallel_residual);
        let g = arch("glm4", &[("blk.0.attn_q.bias", &[256])]);
        assert_eq!(g.model_type, "glm4");
        let l = &g.layers[0];
        assert!(l.linears.iter().any(|l| l.name == "q_proj" && l.bias));
        assert!(l.linears.iter().any(|l| l.name == "o_proj" && !l.bias));
        assert_eq!(l.norms.len(), 4);
    }

    /// The hyperparameters convert_hf_to_gguf.py writes for Qwen3.5-27B (`qwen35`: 64 blocks,
    /// 16 key heads and 48 value heads of 128 in the linear layers, ssm.inner_size 6144) and
    /// for a Granite 4.0-H hybrid (`granitehybrid`: per-block head_count_kv, 0 for Mamba).
    #[test]
    fn hybrid_ggufs_read_their_recurrent_layers() {
        let bytes = GgufWriter::new()
            .string("general.architecture", "qwen35")
            .u32("qwen35.block_count", 64)
            .u32("qwen35.context_length", 262_144)
            .u32("qwen35.embedding_length", 5120)
            .u32("qwen35.feed_forward_length", 17_408)
            .u32("qwen35.attention.head_count", 24)
            .u32("qwen35.attention.head_count_kv", 4)
            .u32("qwen35.attention.key_length", 256)
            .u32("qwen35.attention.value_length", 256)
            .u32("qwen35.rope.dimension_count", 64)
            .u32("qwen35.ssm.conv_kernel", 4)
            .u32("qwen35.ssm.inner_size", 6144)
            .u32("qwen35.ssm.state_size", 128)
            .u32("qwen35.ssm.group_count", 16)
            .u32("qwen35.ssm.time_step_rank", 48)
            .u32("qwen35.full_attention_interval", 4)
            .u32("qwen35.vocab_size", 248_320)
            .tensor("token_embd.weight", &[5120, 248_320], "Q8_0")
            .tensor("output.weight", &[5120, 248_320], "Q8_0")
            .build();
        let Parsed::Done(f) = parse_header(&bytes).unwrap() else { panic!() };
        let spec = spec_from_gguf(&f, "Qwen3.5-27B-Q8_0.gguf").unwrap();
        assert_eq!(spec.model_type, "qwen3_5_text");
        assert_eq!(spec.recurrent_layers().count(), 48);
        assert!(spec.layers[3].mixer.is_attention() && !spec.layers[2].mixer.is_attention());
        let r = spec.layers[0].mixer.recurrent().unwrap();
        assert_eq!((r.inner, r.state, r.groups, r.heads, r.conv_kernel), (6144, 128, 16, 48, 4));
        assert_eq!(spec.first_attention().unwrap().head_dim, 256);
        assert_eq!(spec.positions, crate::model::Positions::Rotary { dims: 64 });

        let kv: Vec<i32> = (0..4).map(|i| if i == 1 { 4 } else { 0 }).collect();
        let bytes = GgufWriter::new()
            .string("general.architecture", "granitehybrid")
            .u32("granitehybrid.block_count", 4)
            .u32("granitehybrid.embedding_length", 128)
            .u32("granitehybrid.feed_forward_length", 256)
            .u32("granitehybrid.attention.head_count", 8)
            .i32s("granitehybrid.attention.head_count_kv", &kv)
            .u32("granitehybrid.ssm.conv_kernel", 4)
            .u32("granitehybrid.ssm.inner_size", 256)
            .u32("granitehybrid.ssm.state_size", 64)
            .u32("granitehybrid.ssm.group_count", 1)
            .u32("granitehybrid.ssm.time_step_rank", 8)
            .strings("tokenizer.ggml.tokens", &["a"; 32])
            .tensor("token_embd.weight", &[128, 32], "F16")
            .build();
        let Parsed::Done(f) = parse_header(&bytes).unwrap() else { panic!() };
        let g = spec_from_gguf(&f, "granite-4.0-h.gguf").unwrap();
        assert_eq!(g.model_type, "granitemoehybrid");
        let types: Vec<bool> = g.layers.iter().map(|l| l.mixer.is_attention()).collect();
        assert_eq!(types, [false, true, false, false]);
        let r = g.layers[0].mixer.recurrent().unwrap();
        assert_eq!((r.inner, r.state, r.groups, r.heads), (256, 64, 1, 8));
        assert_eq!(g.layers[0].mlp.intermediate, 256);
    }

    /// A Nemotron-H GGUF (`nemotron_h`, pattern `M-*M`): per-block head_count_kv and
    /// feed_forward_length arrays tell the mixers apart.
    #[test]
    fn nemotron_h_gguf_reads_its_block_pattern() {
        let bytes = GgufWriter::new()
            .string("general.architecture", "nemotron_h")
            .u32("nemotron_h.block_count", 4)
            .u32("nemotron_h.embedding_length", 64)
            .i32s("nemotron_h.feed_forward_length", &[0, 128, 0, 0])
            .i32s("nemotron_h.attention.head_count", &[0, 0, 4, 0])
            .i32s("nemotron_h.attention.head_count_kv", &[0, 0, 2, 0])
            .u32("nemotron_h.attention.key_length", 16)
            .u32("nemotron_h.ssm.conv_kernel", 4)
            .u32("nemotron_h.ssm.inner_size", 128)
            .u32("nemotron_h.ssm.state_size", 16)
            .u32("nemotron_h.ssm.group_count", 2)
            .u32("nemotron_h.ssm.time_step_rank", 4)
            .strings("tokenizer.ggml.tokens", &["a"; 32])
            .tensor("token_embd.weight", &[64, 32], "F16")
            .build();
        let Parsed::Done(f) = parse_header(&bytes).unwrap() else { panic!() };
        let spec = spec_from_gguf(&f, "nemotron-h.gguf").unwrap();
        assert_eq!(spec.model_type, "nemotron_h");
        let mixers: Vec<_> = spec.layers.iter().map(|l| l.mixer).collect();
        assert!(matches!(mixers[0], crate::model::Mixer::Recurrent(_)));
        assert_eq!((mixers[1], mixers[2]), (crate::model::Mixer::None, crate::model::Mixer::Attention));
        assert_eq!(spec.layers[1].mlp.intermediate, 128);
        assert_eq!((spec.layers[2].attention.heads, spec.layers[2].attention.kv_heads()), (4, 2));
        let r = spec.layers[3].mixer.recurrent().unwrap();
        assert_eq!((r.inner, r.state, r.groups, r.heads, r.conv_kernel), (128, 16, 2, 4, 4));
    }

    #[test]
    fn unknown_architectures_and_missing_keys_are_named() {
        let f = GgufWriter::new().string("general.architecture", "mamba").build();
        let Parsed::Done(f) = parse_header(&f).unwrap() else { panic!() };
        assert!(spec_from_gguf(&f, "x").unwrap_err().to_string().contains("mamba"));
        let f = GgufWriter::new().string("general.architecture", "llama").build();
        let Parsed::Done(f) = parse_header(&f).unwrap() else { panic!() };
        assert!(spec_from_gguf(&f, "x").unwrap_err().to_string().contains("llama.embedding_length"));
    }
}
