//! Helpers: temporary folders, a tiny Llama checkpoint, Hub settings for the fake Hub.

use std::path::PathBuf;
use std::time::Duration;
use vramfit_core::formats::safetensors::{build_file, SafetensorsDtype};
use vramfit_io::HubConfig;

pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vramfit-io-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub const CONFIG: &str = r#"{"model_type":"llama","hidden_size":256,"intermediate_size":1024,"num_hidden_layers":4,
  "num_attention_heads":4,"vocab_size":1000,"torch_dtype":"bfloat16","tie_word_embeddings":false}"#;

/// Exact bytes of [`shards`]: 4,708,608 parameters in BF16.
pub const WEIGHT_BYTES: u64 = 4_708_608 * 2;

type Shape = Vec<u64>;

fn layer(i: u64) -> Vec<(String, Shape)> {
    let p = format!("model.layers.{i}");
    let mut v = vec![];
    for n in ["q_proj", "k_proj", "v_proj", "o_proj"] {
        v.push((format!("{p}.self_attn.{n}.weight"), vec![256, 256]));
    }
    v.push((format!("{p}.mlp.gate_proj.weight"), vec![1024, 256]));
    v.push((format!("{p}.mlp.up_proj.weight"), vec![1024, 256]));
    v.push((format!("{p}.mlp.down_proj.weight"), vec![256, 1024]));
    v.push((format!("{p}.input_layernorm.weight"), vec![256]));
    v.push((format!("{p}.post_attention_layernorm.weight"), vec![256]));
    v
}

fn file(tensors: &[(String, Shape)]) -> Vec<u8> {
    let t: Vec<(&str, SafetensorsDtype, &[u64])> =
        tensors.iter().map(|(n, s)| (n.as_str(), SafetensorsDtype::BF16, s.as_slice())).collect();
    build_file(&t, &[("format", "pt")])
}

/// Three shards (each 2–4 MB) and their index, as (file name, bytes).
pub fn shards() -> Vec<(String, Vec<u8>)> {
    let mut s1 = vec![("model.embed_tokens.weight".to_string(), vec![1000, 256])];
    s1.extend(layer(0));
    let mut s2 = layer(1);
    s2.extend(layer(2));
    let mut s3 = layer(3);
    s3.push(("model.norm.weight".into(), vec![256]));
    s3.push(("lm_head.weight".into(), vec![1000, 256]));
    let parts = [s1, s2, s3];
    let mut map = serde_json::Map::new();
    let mut out = vec![];
    for (i, p) in parts.iter().enumerate() {
        let name = format!("model-0000{}-of-00003.safetensors", i + 1);
        for (t, _) in p {
            map.insert(t.clone(), name.clone().into());
        }
        out.push((name, file(p)));
    }
    let index = serde_json::json!({"metadata": {"total_size": WEIGHT_BYTES}, "weight_map": map});
    out.push(("model.safetensors.index.json".into(), index.to_string().into_bytes()));
    out.push(("config.json".into(), CONFIG.as_bytes().to_vec()));
    out
}

/// Settings for a fake Hub at `endpoint`, caching under `home`.
pub fn hub_config(endpoint: &str, home: &std::path::Path) -> HubConfig {
    HubConfig {
        endpoint: endpoint.to_string(),
        token: Some("secret-token".into()),
        token_source: "HF_TOKEN".into(),
        hf_home: home.to_path_buf(),
        hub_cache: home.join("hub"),
        offline: false,
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(700),
        timeout: None,
        retries: 2,
        backoff: Duration::from_millis(10),
    }
}

/// A Llama of `n` layers in `n` shards (one layer each; embeddings in the first, the head in
/// the last), with its index and config.json, as (file name, bytes).
pub fn many_shards(n: u64) -> Vec<(String, Vec<u8>)> {
    let mut map = serde_json::Map::new();
    let mut out = vec![];
    for i in 0..n {
        let name = format!("model-{:05}-of-{n:05}.safetensors", i + 1);
        let mut t = layer(i);
        if i == 0 {
            t.push(("model.embed_tokens.weight".to_string(), vec![1000, 256]));
        }
        if i + 1 == n {
            t.push(("model.norm.weight".into(), vec![256]));
            t.push(("lm_head.weight".into(), vec![1000, 256]));
        }
        for (tensor, _) in &t {
            map.insert(tensor.clone(), name.clone().into());
        }
        out.push((name, file(&t)));
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    out.push(("model.safetensors.index.json".into(), index.to_string().into_bytes()));
    out.push((
        "config.json".into(),
        CONFIG.replace("\"num_hidden_layers\":4", &format!("\"num_hidden_layers\":{n}")).into_bytes(),
    ));
    out
}
