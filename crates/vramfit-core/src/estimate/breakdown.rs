//! [`Breakdown`]: an estimate as named components, each with its bytes, its formula with the
//! numbers put in, and where the formula comes from.

use std::borrow::Cow;

use serde::{Serialize, Serializer};

use super::component::ComponentKind;
use super::phase::Phase;
use super::term::Formula;

/// The three levels people measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Live tensors: `torch.cuda.max_memory_allocated()`.
    Allocated,
    /// What the caching allocator holds: `torch.cuda.max_memory_reserved()`.
    Reserved,
    /// What the device shows in use: nvidia-smi / NVML.
    Device,
    /// CPU RAM (offloaded state, adapter merges); not part of the GPU levels.
    Host,
}

/// One named part of an estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// What it is (`weights`, `kv_cache`, `activations`...).
    pub kind: ComponentKind,
    /// Moved to host memory by an offload (reported as `<kind> (offloaded)`).
    pub offloaded: bool,
    /// Bytes.
    pub bytes: u64,
    /// The formula with the numbers put in.
    pub formula: String,
    /// Where the formula comes from (paper, framework source file).
    pub source: String,
    /// The lowest level this component belongs to (an allocated component counts in all three).
    pub level: Level,
    /// The device whose buffer this is, as the runtime's log names it (`CUDA0`, `CPU`,
    /// `CUDA_Host`); `None` where the runtime does not say.
    pub device: Option<String>,
}

impl Component {
    /// A component at the allocated level.
    #[must_use]
    pub fn new(kind: ComponentKind, bytes: u64, formula: impl Into<String>, source: &str) -> Self {
        Component {
            kind,
            offloaded: false,
            bytes,
            formula: formula.into(),
            source: source.to_string(),
            level: Level::Allocated,
            device: None,
        }
    }

    /// A component whose bytes and formula text come from one [`Formula`].
    #[must_use]
    pub fn of(kind: ComponentKind, formula: &Formula, source: &str) -> Self {
        Component::new(kind, formula.bytes(), formula.text(), source)
    }

    /// The same component on a named device.
    #[must_use]
    pub fn on(mut self, device: &str) -> Self {
        self.device = Some(device.to_string());
        self
    }

    /// The same component at another level.
    #[must_use]
    pub fn at(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// The name reports show: the kind's, marked when offloaded.
    #[must_use]
    pub fn label(&self) -> Cow<'static, str> {
        if self.offloaded {
            Cow::Owned(format!("{} (offloaded)", self.kind.name()))
        } else {
            Cow::Borrowed(self.kind.name())
        }
    }
}

impl Serialize for Component {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The JSON shape (field order as it always was).
        #[derive(Serialize)]
        struct Wire<'a> {
            name: Cow<'static, str>,
            bytes: u64,
            formula: &'a str,
            source: &'a str,
            level: Level,
            #[serde(skip_serializing_if = "Option::is_none")]
            device: Option<&'a str>,
        }
        Wire {
            name: self.label(),
            bytes: self.bytes,
            formula: &self.formula,
            source: &self.source,
            level: self.level,
            device: self.device.as_deref(),
        }
        .serialize(s)
    }
}

/// Totals of the three levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Levels {
    /// Live tensors at the peak.
    pub allocated: u64,
    /// Allocator reserved at the peak.
    pub reserved: u64,
    /// Device memory in use at the peak (what must fit).
    pub device: u64,
}

impl Levels {
    /// The value at `level`.
    #[must_use]
    pub fn get(&self, level: Level) -> u64 {
        match level {
            Level::Allocated => self.allocated,
            Level::Reserved => self.reserved,
            Level::Device | Level::Host => self.device,
        }
    }
}

/// An estimate: the components at the peak moment and their totals per level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// Components at the peak, allocated-level ones first.
    pub components: Vec<Component>,
    /// The moment of the peak (`load`, `prefill`, `decode`, `optimizer step`...).
    pub peak_phase: Phase,
    /// Totals.
    pub levels: Levels,
    /// Bytes outside the GPU (CPU RAM), when the workload needs them (offload, merge).
    pub host_bytes: u64,
    /// Notes about assumptions made (defaults filled in, behaviours chosen by version).
    pub notes: Vec<String>,
    /// A serving engine's start-up figures (`--task serve`), as its log prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving: Option<super::serving::ServingReport>,
    /// Every device's buffers where the runtime keeps buffers on several (llama.cpp: each
    /// GPU, then host memory); empty otherwise. The components are the busiest GPU's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceBuffers>,
    /// Ollama's own printed estimate (`--runtime ollama`), beside what llama.cpp allocates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ollama: Option<super::ollama::OllamaEstimate>,
}

/// One device's buffers, as a runtime that places buffers per device prints them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceBuffers {
    /// The device (`CUDA0`, `CUDA1`, `CPU`).
    pub device: String,
    /// Model weights (llama.cpp "model buffer").
    pub model_bytes: u64,
    /// KV cache ("KV buffer").
    pub kv_bytes: u64,
    /// Recurrent state of hybrid models' recurrent layers ("RS buffer"); omitted when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub recurrent_bytes: u64,
    /// Compute buffer (graph allocator reserve); for the host, with the output buffer.
    pub compute_bytes: u64,
    /// Everything else held there (the CUDA context on a GPU).
    pub other_bytes: u64,
    /// The sum.
    pub total_bytes: u64,
}

impl Breakdown {
    /// Build from components; totals are derived, never stored separately.
    #[must_use]
    pub fn from_components(components: Vec<Component>, peak_phase: Phase, notes: Vec<String>) -> Self {
        let sum = |max: Level| -> u64 {
            components.iter().filter(|c| c.level <= max).fold(0u64, |a, c| a.saturating_add(c.bytes))
        };
        let levels =
            Levels { allocated: sum(Level::Allocated), reserved: sum(Level::Reserved), device: sum(Level::Device) };
        let host_bytes =
            components.iter().filter(|c| c.level == Level::Host).fold(0u64, |a, c| a.saturating_add(c.bytes));
        Breakdown {
            components,
            peak_phase,
            levels,
            host_bytes,
            notes,
            devices: Vec::new(),
            ollama: None,
            serving: None,
        }
    }

    /// What must fit on the device.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.levels.device
    }

    /// Bytes of the components of `kind` that were not offloaded (0 if absent).
    #[must_use]
    pub fn component(&self, kind: ComponentKind) -> u64 {
        self.components.iter().filter(|c| c.kind == kind && !c.offloaded).fold(0u64, |a, c| a.saturating_add(c.bytes))
    }
}

// The estimators' arithmetic, from the bottom module (kept importable from here).
pub use crate::units::{prod, thousands};

/// For `skip_serializing_if`: a zero field is left out.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_accumulate() {
        let b = Breakdown::from_components(
            vec![
                Component::new(ComponentKind::Weights, 10, "", ""),
                Component::new(ComponentKind::Allocator, 5, "", "").at(Level::Reserved),
                Component::new(ComponentKind::CudaContext, 1, "", "").at(Level::Device),
            ],
            Phase::Load,
            vec![],
        );
        assert_eq!(b.levels, Levels { allocated: 10, reserved: 15, device: 16 });
        assert_eq!(b.total_bytes(), 16);
    }
}
