//! Cases that measure a `--mmproj` projector's warm-up compute buffer
//! (`alloc_compute_meta: <device> compute buffer size = X MiB`): the figure depends on the
//! projector alone, so it is scored from the case's config.json `vision_config` without the
//! text model (whose architecture may not be modelled: Qwen3.5/3.6 are hybrid).

use super::case::Case;
use super::score::{score_case, CaseResult};
use crate::estimate::mmproj::{graph::warmup_buffers, ClipProjector};

/// The metric: the projector's compute buffer on the device the line names (`CUDA0`,
/// `ROCm0`: the GPU's; `CPU`: the host's, which without a GPU holds the whole graph).
pub const MMPROJ_METRIC: &str = "llamacpp_mmproj_compute_buffer";

/// The figure a case's log line prints, from its config.json text: flash attention as the
/// engine says (`auto`/null: on, as clip's warm-up tries it first), on a GPU unless the case
/// ran on none (`parallel.gpus` 0).
///
/// # Errors
/// No modelled projector in the config.
pub fn mmproj_figure(case: &Case, config_json: &str) -> Result<u64, String> {
    let p = ClipProjector::from_config_json(config_json).map_err(|e| e.to_string())?;
    let flash = case.engine.as_ref().and_then(|e| e.flash_attn).unwrap_or(true);
    let on_gpu = case.parallel.as_ref().and_then(|p| p.gpus) != Some(0);
    let b = warmup_buffers(&p, flash, on_gpu).map_err(|e| e.to_string())?;
    let host = matches!(case.measured.device.as_deref(), Some("CPU" | "CPU_Mapped" | "CUDA_Host"));
    Ok(if host { b.host } else { b.device })
}

/// Score a projector case from its config text (or the reason it cannot be read).
#[must_use]
pub fn score_mmproj_case(case: &Case, config_json: Result<&str, String>) -> CaseResult {
    let mut r = score_case(case, Err(String::new()));
    r.skipped = None;
    let measured = case.measured.bytes.filter(|b| b.is_finite() && *b > 0.0);
    match (config_json.and_then(|text| mmproj_figure(case, text)), measured) {
        (Err(why), _) => r.skipped = Some(why),
        (Ok(_), None) => r.skipped = Some("the measured figure is missing or not positive".into()),
        (Ok(est), Some(m)) => {
            r.estimate_bytes = Some(est);
            r.error = Some(est as f64 / m - 1.0);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(device: &str, gpus: u64, flash: bool, mib: f64) -> Case {
        serde_json::from_value(serde_json::json!({
            "id": "t", "source": "s", "grade": "A",
            "model": {"name": "m", "hf_id": null, "config_file": "c.json", "params": null},
            "runtime": "llama.cpp", "task": "serve",
            "engine": {"n_ctx": 4096, "flash_attn": flash},
            "weights": {"dtype": "bfloat16", "quant": null, "bits": null, "group_size": null},
            "inference": null, "training": null,
            "parallel": {"gpus": gpus, "strategy": "none", "cpu_offload": null},
            "gpu": null,
            "measured": {"bytes": mib * 1_048_576.0, "tokens": null, "value": null,
                         "metric": MMPROJ_METRIC, "per_device": true, "device": device},
            "notes": ""
        }))
        .unwrap()
    }

    const QWEN25VL_7B: &str = r#"{"model_type": "qwen2_5_vl", "hidden_size": 3584, "vision_config": {
        "depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
        "num_heads": 16, "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
        "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31]}}"#;

    #[test]
    fn the_gpu_and_the_host_line_are_scored_from_the_vision_config() {
        let gpu = score_mmproj_case(&case("ROCm0", 1, true, 704.79), Ok(QWEN25VL_7B));
        let host = score_mmproj_case(&case("CPU", 1, true, 292.41), Ok(QWEN25VL_7B));
        for r in [&gpu, &host] {
            assert!(r.skipped.is_none() && r.error.unwrap().abs() < 1e-5, "{r:?}");
        }
    }

    #[test]
    fn a_config_without_a_modelled_projector_is_skipped_with_the_reason() {
        let r = score_mmproj_case(&case("CUDA0", 1, true, 100.0), Ok(r#"{"model_type": "llava"}"#));
        assert!(r.skipped.unwrap().contains("vision_config"));
        let r = score_mmproj_case(&case("CUDA0", 1, true, 100.0), Err("no such file".into()));
        assert_eq!(r.skipped.as_deref(), Some("no such file"));
    }
}
