//! Catalog integrity: every entry well formed, sourced, reachable by each of its names.

use vramfit_core::catalog::{self, find_gpu, find_model, GpuSpec};

#[test]
fn gpu_catalog_is_well_formed() {
    let gpus = catalog::gpus();
    assert!(gpus.len() >= 40, "{} GPUs", gpus.len());
    for g in gpus {
        assert!(!g.source.trim().is_empty(), "{} has no source", g.name);
        assert!(
            g.usable_bytes > 0 && g.usable_bytes <= g.memory_bytes,
            "{}: usable {} > memory {}",
            g.name,
            g.usable_bytes,
            g.memory_bytes
        );
        assert!(g.usable_bytes >= g.memory_bytes / 2, "{}: usable below half of memory", g.name);
        assert!(g.bandwidth_gb_s > 0, "{}", g.name);
        assert!(["nvidia", "amd", "apple", "intel"].contains(&g.vendor.as_str()), "{}", g.name);
        assert!(["datacenter", "workstation", "consumer", "apple"].contains(&g.class.as_str()), "{}", g.name);
        if g.vendor == "nvidia" {
            let cc: f64 = g
                .compute_capability
                .as_deref()
                .unwrap_or_else(|| panic!("{} lacks compute capability", g.name))
                .parse()
                .unwrap();
            assert_eq!(g.bf16, cc >= 8.0, "{}: bf16 flag vs CC {cc}", g.name);
            assert_eq!(g.flash_attention, cc >= 8.0, "{}: FlashAttention-2 flag vs CC {cc}", g.name);
            assert_eq!(g.fp8, cc >= 8.9, "{}: fp8 flag vs CC {cc}", g.name);
        }
        for spelling in std::iter::once(&g.name).chain(&g.aliases) {
            assert_eq!(find_gpu(spelling).unwrap().name, g.name, "{spelling:?} resolves elsewhere");
        }
    }
}

#[test]
fn gpu_catalog_has_the_cards_people_ask_about() {
    for name in [
        "T4",
        "V100-16GB",
        "V100-32GB",
        "A10",
        "A10G",
        "L4",
        "L40S",
        "A100-40GB",
        "A100-80GB",
        "H100-PCIe",
        "H100-SXM",
        "H100-NVL",
        "H200",
        "B200",
        "MI250X",
        "MI300X",
        "RTX-A6000",
        "RTX-6000-Ada",
        "RTX-2080-Ti",
        "RTX-3060-12GB",
        "RTX-3080",
        "RTX-3090",
        "RTX-4060-Ti-16GB",
        "RTX-4070",
        "RTX-4080",
        "RTX-4090",
        "RTX-5090",
    ] {
        assert!(find_gpu(name).is_ok(), "{name} missing");
    }
    assert!(catalog::gpus().iter().any(|g| g.vendor == "apple"));
    // The 16 GB T4 has 15 GiB usable (ECC on): the number the original question turns on.
    assert_eq!(find_gpu("T4").unwrap().usable_bytes, 15_360 << 20);
}

#[test]
fn model_catalog_is_well_formed() {
    let models = catalog::models();
    assert!(models.len() >= 40, "{} models", models.len());
    let mut used = std::collections::HashSet::new();
    for m in models {
        assert!(!m.source.trim().is_empty(), "{} has no source", m.name);
        let spec = m.spec().unwrap_or_else(|e| panic!("{}: {e}", m.name));
        // Multimodal wrappers are read through their text_config's model_type.
        let family = match m.family.as_str() {
            "gemma3" => "gemma3_text",
            "qwen3_5" => "qwen3_5_text",
            "qwen3_5_moe" => "qwen3_5_moe_text",
            f => f,
        };
        assert_eq!(spec.model_type, family, "{}", m.name);
        used.insert(m.config.clone());
        for spelling in [&m.name, &m.hf_id].into_iter().chain(&m.aliases) {
            assert_eq!(find_model(spelling).unwrap().name, m.name, "{spelling:?} resolves elsewhere");
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/configs");
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(used.contains(&f), "data/configs/{f} is not used by any catalog entry");
    }
}

#[test]
fn model_catalog_has_what_the_question_names() {
    for name in [
        "llama-7b",
        "llama-13b",
        "llama-33b",
        "llama-65b",
        "llama-2-7b",
        "llama-2-13b",
        "llama-2-70b",
        "meta-llama/Llama-2-7b-hf",
        "llama-3.1-8b",
        "llama-3.3-70b",
        "mistral-7b-v0.1",
        "mixtral-8x7b",
        "mixtral-8x22b",
        "qwen2.5-0.5b",
        "qwen2.5-72b",
        "qwen3-30b-a3b",
        "gemma-2-9b",
        "gemma-3-27b",
        "phi-3-mini-4k",
        "phi-4",
        "falcon-7b",
        "falcon-40b",
        "deepseek-v3",
        "gpt2",
        "octocoder",
        "starcoder",
    ] {
        assert!(find_model(name).is_ok(), "{name} missing");
    }
}

#[test]
fn unknown_names_suggest() {
    let e = find_model("llama2-7").unwrap_err().to_string();
    assert!(e.contains("did you mean") && e.contains("llama-2-7b"), "{e}");
    let e = find_gpu("rtx 4900").unwrap_err().to_string();
    assert!(e.contains("RTX-4090"), "{e}");
    // The two OPT sizes differ by a dot only.
    assert_eq!(find_model("opt-1.3b").unwrap().name, "opt-1.3b");
    assert_eq!(find_model("opt-13b").unwrap().name, "opt-13b");
}

#[test]
fn gpu_specs() {
    let g = GpuSpec::parse("8xH100-SXM").unwrap();
    assert_eq!((g.count, g.label.as_str()), (8, "8×H100-SXM"));
}

/// Issue 17: every GPU carries its compute and link figures with their source, in sane ranges,
/// and the devices people run models on at home are in the catalog.
#[test]
fn gpu_catalog_has_speed_figures() {
    for g in catalog::gpus() {
        let src = g.perf_source.as_deref().unwrap_or_else(|| panic!("{} has no perf_source", g.name));
        assert!(!src.trim().is_empty(), "{}", g.name);
        let fp32 = g.fp32_tflops.unwrap_or_else(|| panic!("{} lacks fp32_tflops", g.name));
        assert!(fp32.is_finite() && fp32 > 0.5 && fp32 < 500.0, "{}: fp32 {fp32}", g.name);
        for (what, v) in [
            ("fp16", g.fp16_tflops),
            ("bf16", g.bf16_tflops),
            ("fp8", g.fp8_tflops),
            ("int8", g.int8_tops),
            ("pcie", g.pcie_gb_s),
            ("nvlink", g.nvlink_gb_s),
        ] {
            if let Some(v) = v {
                assert!(v.is_finite() && v > 0.0 && v < 10_000.0, "{}: {what} {v}", g.name);
            }
        }
        // Matrix units are never slower than the vector fp32 path (Pascal has no fp16 figure).
        if let Some(f16) = g.fp16_tflops {
            assert!(f16 >= fp32 * 0.99, "{}: fp16 {f16} below fp32 {fp32}", g.name);
        }
        assert_eq!(g.bf16_tflops.is_some(), g.bf16, "{}: bf16 figure vs bf16 flag", g.name);
        if g.fp8 {
            assert!(g.fp8_tflops.is_some(), "{} has fp8 but no fp8 figure", g.name);
        }
        assert_eq!(g.pcie_gb_s.is_none(), g.memory_type.starts_with("LPDDR"), "{}: PCIe vs unified memory", g.name);
    }
    for name in [
        "RTX-2060",
        "RTX-2070",
        "RTX-2080",
        "RTX-3050-8GB",
        "RTX-3070-Ti",
        "RTX-5060-Ti-16GB",
        "RX-6800",
        "RX-6900-XT",
        "RX-7800-XT",
        "RX-7900-XT",
        "RX-9070",
        "Arc-B580",
        "M1-8GB",
        "M1-Pro-32GB",
        "M2-24GB",
        "M2-Ultra-128GB",
        "M3-Pro-18GB",
        "M3-Max-36GB",
        "M3-Ultra-96GB",
        "M4-32GB",
        "M4-Pro-24GB",
        "M4-Max-36GB",
        "Strix-Halo-128GB",
        "DGX-Spark",
        "P40",
    ] {
        assert!(find_gpu(name).is_ok(), "{name} missing");
    }
}
