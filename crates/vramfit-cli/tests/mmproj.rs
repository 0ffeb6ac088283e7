//! `--mmproj FILE`: the projector's weights and its warm-up compute buffers (GPU and host)
//! as components of their own.

use vramfit_core::formats::gguf::GgufWriter;

/// The keys and tensor names of unsloth's Qwen3.6-27B `mmproj-BF16.gguf` that shape its
/// graph (the log's load_hparams: qwen3vl_merger, 1152/16/4304, 27 layers, projection 5120,
/// image 768, patch 16, merge 2); the tensors are small stand-ins, only their names count.
fn qwen36_mmproj() -> Vec<u8> {
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
        .tensor("v.patch_embd.weight", &[16, 16, 3, 8], "F16")
        .tensor("v.position_embd.weight", &[8, 2304], "F32")
        .tensor("v.post_ln.weight", &[8], "F32")
        .tensor("mm.0.weight", &[4608, 4608], "F32");
    for t in ["attn_qkv", "attn_out", "ffn_up", "ffn_down", "ln1", "ln2"] {
        w = w.tensor(&format!("v.blk.0.{t}.weight"), &[8, 8], "F32");
        w = w.tensor(&format!("v.blk.0.{t}.bias"), &[8], "F32");
    }
    w.build()
}

fn component(v: &serde_json::Value, name: &str) -> Option<u64> {
    v["components"].as_array()?.iter().find(|c| c["name"] == name)?["bytes"].as_u64()
}

#[test]
fn the_projectors_compute_buffers_are_components_of_their_own() {
    let tiny =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf");
    let dir = std::env::temp_dir().join(format!("vramfit-mmproj-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mmproj-BF16.gguf");
    std::fs::write(&path, qwen36_mmproj()).unwrap();
    let args = |fa: &'static str| {
        vec!["estimate", tiny.to_str().unwrap(), "--runtime", "llama.cpp", "--flash-attn", fa, "--json", "--mmproj"]
    };
    let mut a = args("on");
    a.push(path.to_str().unwrap());
    let on = crate::json(&a);
    // llama-server's log for this projector: CUDA0 248.10 MiB, CPU 24.93 MiB
    let gpu = component(&on, "mmproj_compute_buffer").unwrap() as f64 / 1024.0 / 1024.0;
    assert!((gpu - 248.10).abs() < 0.005, "{gpu}");
    assert_eq!(component(&on, "host_mmproj_compute_buffer"), Some(1472 * 1472 * 3 * 4 + 8464 * 4 * 4));
    let notes = on["notes"].to_string();
    assert!(notes.contains("qwen3vl_merger warm-up image 1472x1472") && notes.contains("823 nodes"), "{notes}");
    // without flash attention the [8464, 8464, 16] scores are materialised
    let mut a = args("off");
    a.push(path.to_str().unwrap());
    let off = crate::json(&a);
    assert_eq!(component(&off, "mmproj_compute_buffer"), Some(4_884_066_560));
    // a projector type whose graph is not modelled (MobileVLM's ldp): weights counted, no compute figure, said so
    let llava = dir.join("mmproj-llava.gguf");
    std::fs::write(
        &llava,
        GgufWriter::new().string("clip.projector_type", "ldp").tensor("mm.0.weight", &[8, 8], "F32").build(),
    )
    .unwrap();
    let mut a = args("on");
    a.push(llava.to_str().unwrap());
    let other = crate::json(&a);
    assert_eq!(component(&other, "mmproj_compute_buffer"), None);
    assert!(
        other["notes"].to_string().contains("its compute buffer is not counted: projector type \\\"ldp\\\""),
        "{}",
        other["notes"]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_config_json_stands_for_a_projector_not_downloaded() {
    let tiny =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf");
    let config = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../validation/serving/configs/Qwen__Qwen2.5-VL-7B-Instruct.vision.json");
    let v = crate::json(&[
        "estimate",
        tiny.to_str().unwrap(),
        "--runtime",
        "llama.cpp",
        "--flash-attn",
        "on",
        "--json",
        "--mmproj",
        config.to_str().unwrap(),
    ]);
    // unsloth's mmproj-BF16.gguf of this model: "model size: 1291.40 MiB", and on ROCm0
    // "compute buffer size = 704.79 MiB", "CPU compute buffer size = 292.41 MiB"
    let mib = |name: &str| component(&v, name).unwrap() as f64 / 1024.0 / 1024.0;
    for (name, want) in
        [("mmproj_weights", 1291.40), ("mmproj_compute_buffer", 704.79), ("host_mmproj_compute_buffer", 292.41)]
    {
        assert!((mib(name) - want).abs() < 0.005, "{name} {}", mib(name));
    }
    // a config without a vision tower names the flag
    let text_only = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../validation/serving/configs/Qwen__Qwen3-4B.json");
    let e = crate::stderr_of(&["estimate", tiny.to_str().unwrap(), "--mmproj", text_only.to_str().unwrap()]);
    assert!(e.contains("--mmproj") && e.contains("vision_config"), "{e}");
}

#[test]
fn the_projector_goes_to_the_first_gpu_whatever_ngl_and_main_gpu_say() {
    // clip.cpp's clip_ctx takes the first GPU device, and llama-server passes
    // --no-mmproj-offload (not -ngl) as its use_gpu
    let tiny =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vramfit-io/tests/data/tiny-llama-q8_0.gguf");
    let config = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../validation/serving/configs/Qwen__Qwen2.5-VL-7B-Instruct.vision.json");
    let (tiny, config) = (tiny.to_str().unwrap(), config.to_str().unwrap());
    let device_other = |extra: &[&str]| -> Vec<(String, u64)> {
        let mut a = vec!["estimate", tiny, "--runtime", "llama.cpp", "--json", "--mmproj", config];
        a.extend_from_slice(extra);
        let v = crate::json(&a);
        v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["device"].as_str().unwrap().to_string(), d["other_bytes"].as_u64().unwrap()))
            .collect()
    };
    let cpu_only_blocks = device_other(&["--ngl", "0"]);
    let two = device_other(&["--gpus", "2", "--main-gpu", "1", "--split-mode", "none"]);
    // the projector's weights and compute buffer (well over 1 GiB) sit on CUDA0 in both
    for devices in [&cpu_only_blocks, &two] {
        let cuda0 = devices.iter().find(|(d, _)| d == "CUDA0").unwrap().1;
        assert!(cuda0 > 1 << 30, "{devices:?}");
    }
    let cuda1 = two.iter().find(|(d, _)| d == "CUDA1").unwrap().1;
    assert!(cuda1 < 1 << 30, "{two:?}");
}
