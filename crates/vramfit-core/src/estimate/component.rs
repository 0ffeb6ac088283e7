//! [`ComponentKind`]: what a part of an estimate is. Every estimator names its components
//! with these kinds, and the code that splits them over GPUs (`parallel`, `inference`) or
//! prices the allocator matches them exhaustively, so a new kind must be placed everywhere
//! it matters. The JSON name of each kind is its snake_case name ([`ComponentKind::name`]).

use serde::{Serialize, Serializer};

/// What a component of an estimate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentKind {
    /// The model's parameters as loaded (or this rank's share).
    Weights,
    /// fp32 master weights a sharding engine keeps beside its 16-bit module.
    MasterWeights,
    /// Trained adapter (LoRA, DoRA, prefix) parameters.
    AdapterWeights,
    /// The frozen base a merge reads.
    BaseWeights,
    /// The delta a LoRA merge adds to one weight.
    MergeDelta,
    /// The state-dict shard `save_pretrained` holds while writing.
    SaveShardBuffer,
    /// The host staging of a saved shard.
    ShardStaging,
    /// llama.cpp: a LoRA adapter loaded on the GPU.
    LoraWeights,
    /// llama.cpp: the multimodal projector on the GPU.
    MmprojWeights,
    /// llama.cpp: the model buffer in host memory.
    HostWeights,
    /// llama.cpp: a LoRA adapter in host memory.
    HostLoraWeights,
    /// llama.cpp: the multimodal projector in host memory.
    HostMmprojWeights,
    /// Autocast's cached 16-bit copies of the weights.
    AutocastWeightCopies,
    /// Registered buffers that are not parameters (rotary caches, causal-mask buffers).
    Buffers,
    /// Units all-gathered by FSDP / ZeRO-3 while they compute.
    GatheredParameters,
    /// Keys and values of every cached token.
    KvCache,
    /// The previous step's cache tuple while the new one is built.
    KvCachePrevious,
    /// One layer's old K/V while `torch.cat` builds the grown copy.
    KvCacheGrowth,
    /// llama.cpp: the KV cache of layers kept in host memory.
    HostKvCache,
    /// The recurrent layers' conv and SSM / delta states (hybrid models: Mamba-2, Gated
    /// DeltaNet), a fixed size per sequence.
    RecurrentState,
    /// llama.cpp: the recurrent state of layers kept in host memory.
    HostRecurrentState,
    /// Activations: a layer's working set (inference) or the saved tensors (training).
    Activations,
    /// The attention mask the runtime builds.
    Mask,
    /// The head's logits (inference).
    Logits,
    /// The head's logits and the loss's temporaries (training).
    LogitsAndLoss,
    /// A serving engine's profiled activation peak.
    ActivationPeak,
    /// The gradients of one layer being differentiated.
    BackwardWorkingSet,
    /// A checkpointed layer's recomputed activations.
    RecomputedLayer,
    /// Saved activations streamed to host memory.
    OffloadedActivations,
    /// Gradients of the trained parameters.
    Gradients,
    /// The head's weight gradient, held through the layers' backward.
    HeadGradient,
    /// A tied embedding's two gradients while they are summed.
    EmbeddingGradient,
    /// Gradient communication buckets (DDP, DeepSpeed).
    GradientBuckets,
    /// The optimizer's state (moments, master copies).
    OptimizerState,
    /// A paged optimizer's state in managed (host) memory.
    PagedOptimizerState,
    /// The optimizer step's temporaries.
    OptimizerStepTemporaries,
    /// Quantized weights dequantized for a matmul (training).
    DequantizationTemporaries,
    /// Temporaries while a layer is quantized at load.
    QuantizationTransient,
    /// bitsandbytes int8 matmul buffers.
    Int8MatmulWorkspace,
    /// GPTQ/AWQ dequantization scratch.
    DequantScratch,
    /// llama.cpp: the graph allocator's compute buffer on the GPU.
    ComputeBuffer,
    /// llama.cpp: the compute buffer in host memory.
    HostComputeBuffer,
    /// llama.cpp: the multimodal projector's warm-up compute buffer on its GPU.
    MmprojComputeBuffer,
    /// llama.cpp: the projector's compute buffer in host memory (its graph's inputs).
    HostMmprojComputeBuffer,
    /// llama.cpp: the logits output buffer in host memory.
    OutputBuffer,
    /// A serving engine's captured CUDA graphs.
    CudaGraphs,
    /// Memory a serving engine's process holds outside PyTorch (NCCL, cuBLAS workspaces).
    NonTorch,
    /// The caching allocator's overhead (rounding, cached blocks).
    Allocator,
    /// The CUDA context and kernels.
    CudaContext,
    /// The ROCm (HIP) context and kernels.
    RocmContext,
    /// The Metal device's resident overhead.
    MetalContext,
    /// The Intel XPU (Level Zero) context.
    XpuContext,
}

impl ComponentKind {
    /// Every kind, in declaration order.
    pub const ALL: [ComponentKind; 52] = [
        ComponentKind::Weights,
        ComponentKind::MasterWeights,
        ComponentKind::AdapterWeights,
        ComponentKind::BaseWeights,
        ComponentKind::MergeDelta,
        ComponentKind::SaveShardBuffer,
        ComponentKind::ShardStaging,
        ComponentKind::LoraWeights,
        ComponentKind::MmprojWeights,
        ComponentKind::HostWeights,
        ComponentKind::HostLoraWeights,
        ComponentKind::HostMmprojWeights,
        ComponentKind::AutocastWeightCopies,
        ComponentKind::Buffers,
        ComponentKind::GatheredParameters,
        ComponentKind::KvCache,
        ComponentKind::KvCachePrevious,
        ComponentKind::KvCacheGrowth,
        ComponentKind::HostKvCache,
        ComponentKind::RecurrentState,
        ComponentKind::HostRecurrentState,
        ComponentKind::Activations,
        ComponentKind::Mask,
        ComponentKind::Logits,
        ComponentKind::LogitsAndLoss,
        ComponentKind::ActivationPeak,
        ComponentKind::BackwardWorkingSet,
        ComponentKind::RecomputedLayer,
        ComponentKind::OffloadedActivations,
        ComponentKind::Gradients,
        ComponentKind::HeadGradient,
        ComponentKind::EmbeddingGradient,
        ComponentKind::GradientBuckets,
        ComponentKind::OptimizerState,
        ComponentKind::PagedOptimizerState,
        ComponentKind::OptimizerStepTemporaries,
        ComponentKind::DequantizationTemporaries,
        ComponentKind::QuantizationTransient,
        ComponentKind::Int8MatmulWorkspace,
        ComponentKind::DequantScratch,
        ComponentKind::ComputeBuffer,
        ComponentKind::HostComputeBuffer,
        ComponentKind::MmprojComputeBuffer,
        ComponentKind::HostMmprojComputeBuffer,
        ComponentKind::OutputBuffer,
        ComponentKind::CudaGraphs,
        ComponentKind::NonTorch,
        ComponentKind::Allocator,
        ComponentKind::CudaContext,
        ComponentKind::RocmContext,
        ComponentKind::MetalContext,
        ComponentKind::XpuContext,
    ];

    /// The name reports and JSON use (`weights`, `kv_cache`...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ComponentKind::Weights => "weights",
            ComponentKind::MasterWeights => "master_weights",
            ComponentKind::AdapterWeights => "adapter_weights",
            ComponentKind::BaseWeights => "base_weights",
            ComponentKind::MergeDelta => "merge_delta",
            ComponentKind::SaveShardBuffer => "save_shard_buffer",
            ComponentKind::ShardStaging => "shard_staging",
            ComponentKind::LoraWeights => "lora_weights",
            ComponentKind::MmprojWeights => "mmproj_weights",
            ComponentKind::HostWeights => "host_weights",
            ComponentKind::HostLoraWeights => "host_lora_weights",
            ComponentKind::HostMmprojWeights => "host_mmproj_weights",
            ComponentKind::AutocastWeightCopies => "autocast_weight_copies",
            ComponentKind::Buffers => "buffers",
            ComponentKind::GatheredParameters => "gathered_parameters",
            ComponentKind::KvCache => "kv_cache",
            ComponentKind::KvCachePrevious => "kv_cache_previous",
            ComponentKind::KvCacheGrowth => "kv_cache_growth",
            ComponentKind::HostKvCache => "host_kv_cache",
            ComponentKind::RecurrentState => "recurrent_state",
            ComponentKind::HostRecurrentState => "host_recurrent_state",
            ComponentKind::Activations => "activations",
            ComponentKind::Mask => "mask",
            ComponentKind::Logits => "logits",
            ComponentKind::LogitsAndLoss => "logits_and_loss",
            ComponentKind::ActivationPeak => "activation_peak",
            ComponentKind::BackwardWorkingSet => "backward_working_set",
            ComponentKind::RecomputedLayer => "recomputed_layer",
            ComponentKind::OffloadedActivations => "offloaded_activations",
            ComponentKind::Gradients => "gradients",
            ComponentKind::HeadGradient => "head_gradient",
            ComponentKind::EmbeddingGradient => "embedding_gradient",
            ComponentKind::GradientBuckets => "gradient_buckets",
            ComponentKind::OptimizerState => "optimizer_state",
            ComponentKind::PagedOptimizerState => "paged_optimizer_state",
            ComponentKind::OptimizerStepTemporaries => "optimizer_step_temporaries",
            ComponentKind::DequantizationTemporaries => "dequantization_temporaries",
            ComponentKind::QuantizationTransient => "quantization_transient",
            ComponentKind::Int8MatmulWorkspace => "int8_matmul_workspace",
            ComponentKind::DequantScratch => "dequant_scratch",
            ComponentKind::ComputeBuffer => "compute_buffer",
            ComponentKind::HostComputeBuffer => "host_compute_buffer",
            ComponentKind::MmprojComputeBuffer => "mmproj_compute_buffer",
            ComponentKind::HostMmprojComputeBuffer => "host_mmproj_compute_buffer",
            ComponentKind::OutputBuffer => "output_buffer",
            ComponentKind::CudaGraphs => "cuda_graphs",
            ComponentKind::NonTorch => "non_torch",
            ComponentKind::Allocator => "allocator",
            ComponentKind::CudaContext => "cuda_context",
            ComponentKind::RocmContext => "rocm_context",
            ComponentKind::MetalContext => "metal_context",
            ComponentKind::XpuContext => "xpu_context",
        }
    }
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for ComponentKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_serialized_as_named() {
        let mut seen = std::collections::BTreeSet::new();
        for k in ComponentKind::ALL {
            let n = k.name();
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{n}");
            assert!(seen.insert(n), "{n} twice");
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(n));
        }
    }

    /// [`ComponentKind::ALL`] lists the kinds in declaration order, each once. The match is
    /// exhaustive: a new kind does not compile here until it is numbered beside `ALL`.
    #[test]
    fn all_lists_every_kind_once() {
        use ComponentKind as K;
        let position = |k: ComponentKind| match k {
            K::Weights => 0,
            K::MasterWeights => 1,
            K::AdapterWeights => 2,
            K::BaseWeights => 3,
            K::MergeDelta => 4,
            K::SaveShardBuffer => 5,
            K::ShardStaging => 6,
            K::LoraWeights => 7,
            K::MmprojWeights => 8,
            K::HostWeights => 9,
            K::HostLoraWeights => 10,
            K::HostMmprojWeights => 11,
            K::AutocastWeightCopies => 12,
            K::Buffers => 13,
            K::GatheredParameters => 14,
            K::KvCache => 15,
            K::KvCachePrevious => 16,
            K::KvCacheGrowth => 17,
            K::HostKvCache => 18,
            K::RecurrentState => 19,
            K::HostRecurrentState => 20,
            K::Activations => 21,
            K::Mask => 22,
            K::Logits => 23,
            K::LogitsAndLoss => 24,
            K::ActivationPeak => 25,
            K::BackwardWorkingSet => 26,
            K::RecomputedLayer => 27,
            K::OffloadedActivations => 28,
            K::Gradients => 29,
            K::HeadGradient => 30,
            K::EmbeddingGradient => 31,
            K::GradientBuckets => 32,
            K::OptimizerState => 33,
            K::PagedOptimizerState => 34,
            K::OptimizerStepTemporaries => 35,
            K::DequantizationTemporaries => 36,
            K::QuantizationTransient => 37,
            K::Int8MatmulWorkspace => 38,
            K::DequantScratch => 39,
            K::ComputeBuffer => 40,
            K::HostComputeBuffer => 41,
            K::MmprojComputeBuffer => 42,
            K::HostMmprojComputeBuffer => 43,
            K::OutputBuffer => 44,
            K::CudaGraphs => 45,
            K::NonTorch => 46,
            K::Allocator => 47,
            K::CudaContext => 48,
            K::RocmContext => 49,
            K::MetalContext => 50,
            K::XpuContext => 51,
        };
        for (i, k) in ComponentKind::ALL.into_iter().enumerate() {
            assert_eq!(position(k), i, "{k}");
        }
        assert_eq!(ComponentKind::ALL.len(), 52);
    }
}
