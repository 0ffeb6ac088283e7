//! The dtype the weights are loaded in when no `--dtype` is given: one resolution, used by
//! estimate, fit, sweep and the page, following the runtime and its version, with a note
//! naming the default that was applied.
//!
//! - transformers 4.x `from_pretrained` without `torch_dtype` loads fp32
//!   (`torch_dtype=None` falls back to `torch.get_default_dtype()`: `modeling_utils.py`,
//!   transformers 4.46.0, `PreTrainedModel.from_pretrained`).
//! - transformers 5.x defaults to `dtype="auto"`: the config's `dtype`/`torch_dtype`, else the
//!   dtype of the checkpoint's first floating-point tensor (`_get_dtype` in
//!   `modeling_utils.py`, transformers 5.0.0). Without `--runtime-version` vramfit models the
//!   current release, 5.x.
//! - A quantized load (bitsandbytes, GPTQ, AWQ) without `torch_dtype` keeps the rest in fp16
//!   (the quantizers' `update_torch_dtype` sets `torch.float16`, 4.46.0 and 5.0.0).
//! - Other runtimes (litgpt, torchtune, llama.cpp) load the checkpoint's dtype.

use super::profile::Engine;
use super::workload::Workload;
use crate::dtype::DType;
use crate::model::ModelSpec;

/// Models whose config names no dtype and whose published checkpoints are fp32 (GPT-2, BERT,
/// T5, BLOOM-560m): what transformers 5.x reads from the weights when the config is silent.
const NO_CONFIG_DTYPE: DType = DType::Fp32;

/// The weights' dtype for `w` on `spec`, and the note that names the default when one was
/// applied (`None` when `--dtype` was given).
#[must_use]
pub fn load_dtype(spec: &ModelSpec, w: &Workload) -> (DType, Option<String>) {
    let profile = w.profile();
    // A runtime that runs in one dtype whatever is asked (the reference code's fp16).
    if let Some(d) = profile.inference.dtype.or(w.dtype) {
        return (d, None);
    }
    let quantized = w.quant.is_some() || spec.quantization.is_some();
    let stored = spec.torch_dtype;
    if quantized || profile.engine == Engine::LlamaCpp {
        let d = stored.unwrap_or(DType::Fp16);
        let why = if quantized {
            "the quantizer's default for the unquantized parts"
        } else {
            "llama.cpp runs the file's own tensors"
        };
        return (d, stored.is_none().then(|| format!("no --dtype and no torch_dtype: {d} ({why})")));
    }
    if profile.loads_fp32_by_default {
        let v = w.runtime_version.map_or_else(String::new, |v| format!(" {v}"));
        let hint = match stored {
            Some(DType::Fp32) | None => String::new(),
            Some(d) => format!("; the checkpoint is {d}: pass --dtype {d} (torch_dtype=\"auto\") to load it as stored"),
        };
        return (
            DType::Fp32,
            Some(format!("no --dtype: fp32, what transformers{v} from_pretrained loads without torch_dtype{hint}")),
        );
    }
    let runtime = if profile.inference.transformers.is_some() {
        "transformers 5.x from_pretrained(dtype=\"auto\")".to_string()
    } else {
        profile.name().to_string()
    };
    match stored {
        Some(d) => (d, Some(format!("no --dtype: the checkpoint's {d}, as {runtime} loads it"))),
        None => (
            NO_CONFIG_DTYPE,
            Some(format!(
                "no --dtype and the config names no torch_dtype: {NO_CONFIG_DTYPE}, the dtype of this family's published checkpoints, which {runtime} reads from the weights (set --dtype if yours differ)"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::estimate::RuntimeVersion;

    fn spec(name: &str) -> ModelSpec {
        catalog::find_model(name).unwrap().spec().unwrap()
    }

    #[test]
    fn transformers_versions() {
        let llama = spec("llama-7b");
        let w = Workload::default();
        assert_eq!(load_dtype(&llama, &w).0, DType::Fp16);
        let old = Workload { runtime_version: Some(RuntimeVersion::new(4, 46)), ..Workload::default() };
        let (d, note) = load_dtype(&llama, &old);
        assert_eq!(d, DType::Fp32);
        assert!(note.unwrap().contains("transformers 4.46"));
        let asked = Workload { dtype: Some(DType::Bf16), ..old };
        assert_eq!(load_dtype(&llama, &asked), (DType::Bf16, None));
    }

    #[test]
    fn a_config_without_torch_dtype_is_fp32() {
        let gpt2 = spec("gpt2");
        assert_eq!(gpt2.torch_dtype, None);
        let (d, note) = load_dtype(&gpt2, &Workload::default());
        assert_eq!(d, DType::Fp32);
        assert!(note.unwrap().contains("no torch_dtype"));
    }
}
