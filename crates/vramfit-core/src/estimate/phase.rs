//! [`Phase`]: the moment of a run whose live tensors an estimate reports (its peak).

use serde::{Serialize, Serializer};

/// A moment of a run: inference's load, prefill and decode, a training step's five moments,
/// and the moments of runtimes that allocate once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// The weights loaded (and quantized), nothing run yet.
    Load,
    /// The end of prefill (the busiest layer, or the logits).
    Prefill,
    /// The last decode step.
    Decode,
    /// Training: the end of the forward pass.
    Forward,
    /// Training: backward through the loss.
    BackwardLoss,
    /// Training: backward through the layers.
    BackwardLayers,
    /// Training: the end of backward, every gradient present.
    EndOfBackward,
    /// Training: the optimizer step.
    OptimizerStep,
    /// Training: the model being built before the first step (torchtune QLoRA quantizes each
    /// weight there).
    ModelInitialisation,
    /// A LoRA merge writing the merged model (`save_pretrained`).
    SavePretrained,
    /// A serving engine after its start-up profiling.
    Serving,
    /// llama.cpp: every buffer reserved when the context is created.
    ContextCreation,
}

impl Phase {
    /// The name reports and JSON use (`prefill`, `optimizer step`...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Load => "load",
            Phase::Prefill => "prefill",
            Phase::Decode => "decode",
            Phase::Forward => "forward",
            Phase::BackwardLoss => "backward (loss)",
            Phase::BackwardLayers => "backward (layers)",
            Phase::EndOfBackward => "end of backward",
            Phase::OptimizerStep => "optimizer step",
            Phase::ModelInitialisation => "model initialisation",
            Phase::SavePretrained => "save_pretrained",
            Phase::Serving => "serving (after start-up)",
            Phase::ContextCreation => "context creation (all buffers reserved)",
        }
    }

    /// Training: a moment inside the forward or backward pass (units gathered, gradients
    /// reduced), as opposed to the optimizer step; false outside training.
    #[must_use]
    pub const fn in_pass(self) -> bool {
        match self {
            Phase::Forward | Phase::BackwardLoss | Phase::BackwardLayers | Phase::EndOfBackward => true,
            Phase::OptimizerStep
            | Phase::ModelInitialisation
            | Phase::Load
            | Phase::Prefill
            | Phase::Decode
            | Phase::SavePretrained
            | Phase::Serving
            | Phase::ContextCreation => false,
        }
    }

    /// Training: a moment of the backward pass (gradients being produced).
    #[must_use]
    pub const fn in_backward(self) -> bool {
        match self {
            Phase::BackwardLoss | Phase::BackwardLayers | Phase::EndOfBackward => true,
            Phase::Forward
            | Phase::OptimizerStep
            | Phase::ModelInitialisation
            | Phase::Load
            | Phase::Prefill
            | Phase::Decode
            | Phase::SavePretrained
            | Phase::Serving
            | Phase::ContextCreation => false,
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_moments_are_in_order_and_named_as_before() {
        let training =
            [Phase::Forward, Phase::BackwardLoss, Phase::BackwardLayers, Phase::EndOfBackward, Phase::OptimizerStep];
        let names: Vec<&str> = training.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["forward", "backward (loss)", "backward (layers)", "end of backward", "optimizer step"]);
        assert!(training[..4].iter().all(|p| p.in_pass()) && !Phase::OptimizerStep.in_pass());
        assert!(!Phase::Forward.in_backward() && Phase::EndOfBackward.in_backward());
        assert_eq!(serde_json::to_value(Phase::Serving).unwrap(), serde_json::json!("serving (after start-up)"));
    }
}
