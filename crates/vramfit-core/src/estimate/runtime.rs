//! Runtime profiles: where the software that runs the model keeps different tensors alive.
//! Each behaviour is named, with the version or source file it comes from.

use crate::choice::{Choice, Entry};
use crate::error::{Error, Result};
use serde::Serialize;
use std::fmt;

/// The software running the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// Hugging Face transformers (`generate`, `Trainer`), with PEFT for adapters.
    Transformers,
    /// Lightning AI litgpt (lit-gpt).
    Litgpt,
    /// PyTorch torchtune recipes.
    Torchtune,
    /// vLLM (serving; paged KV cache): `estimate::serving::vllm`.
    Vllm,
    /// SGLang (serving; token pool): `estimate::serving::sglang`.
    Sglang,
    /// llama.cpp.
    LlamaCpp,
    /// Meta's reference LLaMA code (`Llama.build` / `generate`).
    MetaReference,
    /// Ollama: llama.cpp's buffers behind Ollama's own defaults and its own estimate.
    Ollama,
}

impl Runtime {
    /// Parse the CLI spelling (any name in [`super::profile::RUNTIMES`]).
    ///
    /// # Errors
    /// An unknown runtime.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }
    /// Name as the CLI spells it: the first of its row's names in [`super::profile::RUNTIMES`].
    #[must_use]
    pub fn name(self) -> &'static str {
        super::profile::row(self).names[0]
    }
}

/// `--runtime`: the rows of [`super::profile::RUNTIMES`], their names and what each is.
impl Choice for Runtime {
    const FLAG: &'static str = "--runtime";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        super::profile::RUNTIMES.iter().map(|r| Entry::new(r.runtime, r.names, r.about))
    }
    fn fold(s: &str) -> String {
        s.to_ascii_lowercase().replace('_', "-")
    }
    fn unknown(s: &str) -> String {
        format!("unknown runtime {s:?}; use {}", Self::listed())
    }
}

crate::choice_traits!(Runtime);

impl Runtime {
    /// Serving engines: they budget memory at start-up (`--task serve`).
    #[must_use]
    pub fn is_serving_engine(self) -> bool {
        matches!(super::profile::RuntimeProfile::of(self, None).engine, super::profile::Engine::Serving(_))
    }
}

/// A `major.minor` version of the runtime (transformers versions, for now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuntimeVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl RuntimeVersion {
    /// A version.
    #[must_use]
    pub const fn new(major: u32, minor: u32) -> Self {
        RuntimeVersion { major, minor }
    }

    /// Parse `4.31`, `4.31.0`, `v4.36.2`.
    ///
    /// # Errors
    /// Not a version.
    pub fn parse(s: &str) -> Result<Self> {
        // `b4000` is a llama.cpp build number (major 4000).
        let t = s.trim().trim_start_matches('v').trim_start_matches('b');
        let mut it = t.split('.');
        let major = it.next().and_then(|m| m.parse().ok());
        // A bare major (`2`, the reference code's release) is `2.0`.
        let minor = match it.next() {
            None => Some(0),
            Some(m) => m.parse().ok(),
        };
        match (major, minor) {
            (Some(major), Some(minor)) => Ok(RuntimeVersion { major, minor }),
            _ => Err(Error::workload("--runtime-version", format!("{s:?} is not a version like 4.36"))),
        }
    }

    /// The transformers release current in a given year and month (for measurements that
    /// give a date but not a version). From the release history on PyPI.
    #[must_use]
    pub fn transformers_at(year: u32, month: u32) -> Self {
        // (year, month of release, minor) for 4.x releases that changed memory behaviour and
        // the ones around them.
        const RELEASES: &[(u32, u32, u32)] = &[
            (2023, 1, 26),
            (2023, 3, 27),
            (2023, 4, 28),
            (2023, 6, 30),
            (2023, 7, 31),
            (2023, 8, 32),
            (2023, 9, 33),
            (2023, 10, 34),
            (2023, 11, 35),
            (2023, 12, 36),
            (2024, 1, 37),
            (2024, 3, 39),
            (2024, 4, 40),
            (2024, 5, 41),
            (2024, 6, 42),
            (2024, 8, 44),
            (2024, 9, 45),
            (2024, 10, 46),
            (2024, 12, 47),
            (2025, 1, 48),
            (2025, 3, 50),
            (2025, 5, 52),
            (2025, 7, 54),
            (2025, 9, 56),
        ];
        let key = year * 12 + month;
        let mut minor = 25;
        for &(y, m, v) in RELEASES {
            if y * 12 + m <= key {
                minor = v;
            }
        }
        if key > 2025 * 12 + 9 {
            minor = 57;
        }
        RuntimeVersion { major: 4, minor }
    }
}

impl RuntimeVersion {
    /// The torchtune release current at a date: 0.1 (April 2024), 0.2 (July), 0.3
    /// (September), 0.4 (November), 0.5 (January 2025), 0.6 (April 2025).
    #[must_use]
    pub fn torchtune_at(year: u32, month: u32) -> Self {
        let key = year * 12 + month;
        let minor = [(2024, 7, 2), (2024, 9, 3), (2024, 11, 4), (2025, 1, 5), (2025, 4, 6)]
            .iter()
            .rfind(|(y, m, _)| y * 12 + m <= key)
            .map_or(1, |(_, _, v)| *v);
        RuntimeVersion { major: 0, minor }
    }
}

impl fmt::Display for RuntimeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Behaviours of transformers that change memory, by version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformersBehaviour {
    /// Before 4.36 the KV cache is a tuple of tensors rebuilt by `torch.cat` every step while
    /// the caller still holds the previous tuple: old and new caches coexist at the end of
    /// each forward. From 4.36, `DynamicCache` replaces one layer at a time.
    pub tuple_cache: bool,
    /// Before 4.45, causal-LM forwards compute logits for every prompt position during
    /// prefill; from 4.45, `generate` passes `num_logits_to_keep=1`.
    pub full_prefill_logits: bool,
    /// Llama-family forwards upcast logits to fp32 (`logits.float()`) from 4.31 up to 4.45;
    /// from 4.46 logits keep the model dtype and `generate` upcasts only the last position.
    pub upcast_logits: bool,
    /// Before 4.36 there was no SDPA path for Llama: attention was eager.
    pub eager_only: bool,
    /// From 5.0 a mixture-of-experts layer is one module holding every expert's weights
    /// stacked, run with `torch._grouped_mm` over all routed tokens at once (before, a Python
    /// loop ran one expert at a time on its own tokens).
    pub grouped_experts: bool,
}

impl TransformersBehaviour {
    /// Behaviour of `version` (`None` = current).
    #[must_use]
    pub fn of(version: Option<RuntimeVersion>) -> Self {
        let v = version.unwrap_or(RuntimeVersion::new(5, 24));
        let before = |minor: u32| v < RuntimeVersion::new(4, minor);
        TransformersBehaviour {
            tuple_cache: before(36),
            full_prefill_logits: before(45),
            upcast_logits: !before(31) && before(46),
            eager_only: before(36),
            grouped_experts: v >= RuntimeVersion::new(5, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(RuntimeVersion::parse("v4.36.2").unwrap(), RuntimeVersion::new(4, 36));
        assert!(RuntimeVersion::parse("four").is_err());
        assert_eq!(RuntimeVersion::transformers_at(2023, 8), RuntimeVersion::new(4, 32));
        let old = TransformersBehaviour::of(Some(RuntimeVersion::new(4, 31)));
        assert!(old.tuple_cache && old.full_prefill_logits && old.upcast_logits);
        let new = TransformersBehaviour::of(None);
        assert!(!new.tuple_cache && !new.full_prefill_logits && !new.upcast_logits);
    }
}
