//! A PEFT adapter directory (`adapter_config.json` beside `adapter_model.safetensors`, as
//! `PeftModel.save_pretrained` writes it): its base model, method, rank, alpha and targets
//! (newcomer D36). Keys as PEFT's `LoraConfig` / `PromptTuningConfig` name them (peft 0.13,
//! `peft/tuners/lora/config.py`).

use crate::IoError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What an adapter_config.json says.
#[derive(Debug, Clone, PartialEq)]
pub struct PeftAdapter {
    /// The file read.
    pub config: PathBuf,
    /// `base_model_name_or_path`: a Hub id or a path.
    pub base: String,
    /// `peft_type` (`LORA`, `IA3`, `PROMPT_TUNING`, ...).
    pub peft_type: String,
    /// `r`.
    pub rank: Option<u64>,
    /// `lora_alpha`.
    pub alpha: Option<f64>,
    /// `target_modules` (a list, or one pattern such as `all-linear`).
    pub targets: Vec<String>,
    /// `use_dora`.
    pub use_dora: bool,
    /// `num_virtual_tokens` (prompt and prefix tuning).
    pub virtual_tokens: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Targets {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Wire {
    base_model_name_or_path: Option<String>,
    peft_type: Option<String>,
    r: Option<u64>,
    lora_alpha: Option<f64>,
    target_modules: Option<Targets>,
    #[serde(default)]
    use_dora: bool,
    num_virtual_tokens: Option<u64>,
}

impl PeftAdapter {
    /// The `--method` this adapter was trained with, when vramfit models it.
    #[must_use]
    pub fn method(&self) -> Option<&'static str> {
        match self.peft_type.to_ascii_uppercase().as_str() {
            "LORA" if self.use_dora => Some("dora"),
            "LORA" => Some("lora"),
            "IA3" => Some("ia3"),
            "PROMPT_TUNING" => Some("prompt-tuning"),
            "PREFIX_TUNING" => Some("prefix-tuning"),
            _ => None,
        }
    }

    /// One line saying what was read.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("PEFT {} adapter ({})", self.peft_type, self.config.display())];
        if let Some(r) = self.rank {
            parts.push(format!("r={r}"));
        }
        if let Some(a) = self.alpha {
            parts.push(format!("alpha={a}"));
        }
        if !self.targets.is_empty() {
            parts.push(format!("targets {}", self.targets.join(",")));
        }
        if let Some(v) = self.virtual_tokens {
            parts.push(format!("{v} virtual tokens"));
        }
        format!("{} on base model {}", parts.join(", "), self.base)
    }
}

/// The adapter at `path` (a directory holding adapter_config.json and no config.json, or the
/// adapter_config.json file itself); `None` when `path` is not one.
///
/// # Errors
/// The file is unreadable, not JSON, or names no base model.
pub fn read_adapter(path: &Path) -> Result<Option<PeftAdapter>, IoError> {
    let config = if path.is_dir() && !path.join("config.json").is_file() {
        path.join("adapter_config.json")
    } else if path.file_name().is_some_and(|f| f == "adapter_config.json") {
        path.to_path_buf()
    } else {
        return Ok(None);
    };
    if !config.is_file() {
        return Ok(None);
    }
    let text = crate::read_text(&config)?;
    let bad = |reason: String| IoError::Local { path: config.clone(), reason };
    let w: Wire = serde_json::from_str(&text).map_err(|e| bad(format!("not a PEFT adapter_config.json: {e}")))?;
    let base = w.base_model_name_or_path.filter(|b| !b.trim().is_empty()).ok_or_else(|| {
        bad("has no base_model_name_or_path: pass the base model as MODEL and the adapter's settings as --method, --lora-rank and --lora-targets".into())
    })?;
    let targets = match w.target_modules {
        None => vec![],
        Some(Targets::One(s)) => vec![s],
        Some(Targets::Many(v)) => v,
    };
    Ok(Some(PeftAdapter {
        config,
        base,
        peft_type: w.peft_type.unwrap_or_else(|| "LORA".into()),
        rank: w.r,
        alpha: w.lora_alpha,
        targets,
        use_dora: w.use_dora,
        virtual_tokens: w.num_virtual_tokens,
    }))
}
