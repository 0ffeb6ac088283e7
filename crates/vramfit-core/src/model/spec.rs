//! [`ModelSpec`]: what the estimators trust. Family quirks are resolved when a config is
//! converted (see `crate::config`), never here.

use super::params::ParamGroup;
use super::Mixer;
use crate::choice::Choice;
use crate::dtype::DType;
use crate::quant::QuantConfig;
use serde::Serialize;

/// A parameter tensor that is not a linear layer (embedding tables, norms, buffers that are
/// parameters, the router bias...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tensor {
    /// Hugging Face module path suffix, e.g. `embed_tokens`.
    pub name: String,
    /// Component it is reported under.
    pub group: ParamGroup,
    /// Number of elements.
    pub numel: u64,
}

/// A linear layer (`nn.Linear`, GPT-2's `Conv1D`) by its Hugging Face module name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Linear {
    /// Module name as PEFT targets it (`q_proj`, `query_key_value`, `c_attn`, `w1`...).
    pub name: String,
    /// Component it is reported under.
    pub group: ParamGroup,
    /// Input features.
    pub in_features: u64,
    /// Output features.
    pub out_features: u64,
    /// Whether it has a bias vector.
    pub bias: bool,
    /// Identical copies (routed experts: one per expert); 1 otherwise.
    pub copies: u64,
}

impl Linear {
    /// A linear layer with one copy.
    #[must_use]
    pub fn new(name: &str, group: ParamGroup, in_features: u64, out_features: u64, bias: bool) -> Self {
        Linear { name: name.to_string(), group, in_features, out_features, bias, copies: 1 }
    }

    /// The same layer repeated `n` times (experts).
    #[must_use]
    pub fn times(mut self, n: u64) -> Self {
        self.copies = n;
        self
    }

    /// Elements of the weight matrices (all copies). Saturates at `u64::MAX`; a spec from
    /// [`crate::config`] has passed [`ModelSpec::check_limits`], so it never does.
    #[must_use]
    pub fn weight_numel(&self) -> u64 {
        self.checked_weight_numel().unwrap_or(u64::MAX)
    }

    /// Elements of the weight matrices, `None` on overflow.
    #[must_use]
    pub fn checked_weight_numel(&self) -> Option<u64> {
        self.in_features.checked_mul(self.out_features)?.checked_mul(self.copies)
    }

    /// Elements of the bias vectors (all copies).
    #[must_use]
    pub fn bias_numel(&self) -> u64 {
        if self.bias {
            self.out_features.saturating_mul(self.copies)
        } else {
            0
        }
    }
}

/// Which normalization a norm layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// RMSNorm (weight only; Hugging Face computes it in fp32).
    RmsNorm,
    /// LayerNorm with weight and bias.
    LayerNorm,
    /// LayerNorm without bias.
    LayerNormNoBias,
}

/// A normalization layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Norm {
    /// Module name.
    pub name: String,
    /// Kind.
    pub kind: NormKind,
    /// Normalized dimension.
    pub dim: u64,
}

impl Norm {
    /// A norm over `dim` features.
    #[must_use]
    pub fn new(name: &str, kind: NormKind, dim: u64) -> Self {
        Norm { name: name.to_string(), kind, dim }
    }
    /// Parameters: weight, plus bias for LayerNorm.
    #[must_use]
    pub fn numel(&self) -> u64 {
        match self.kind {
            NormKind::RmsNorm | NormKind::LayerNormNoBias => self.dim,
            NormKind::LayerNorm => self.dim.saturating_mul(2),
        }
    }
    /// Parameters that are biases.
    #[must_use]
    pub fn bias_numel(&self) -> u64 {
        match self.kind {
            NormKind::LayerNorm => self.dim,
            _ => 0,
        }
    }
}

/// What the key/value cache of one layer stores per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KvLayout {
    /// Keys and values per KV head (MHA, GQA, MQA).
    Heads {
        /// KV heads.
        kv_heads: u64,
        /// Key head dimension.
        k_dim: u64,
        /// Value head dimension.
        v_dim: u64,
    },
    /// Multi-head latent attention (DeepSeek): a compressed latent plus the shared rope key.
    /// Hugging Face transformers caches the decompressed keys and values instead; serving
    /// engines cache the latent.
    Latent {
        /// `kv_lora_rank`.
        kv_lora_rank: u64,
        /// `qk_rope_head_dim`.
        rope_dim: u64,
        /// Heads after decompression (for runtimes that cache full K/V).
        heads: u64,
        /// Key head dimension after decompression (`qk_nope + qk_rope`).
        k_dim: u64,
        /// Value head dimension.
        v_dim: u64,
    },
}

/// Attention geometry of a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attention {
    /// Query heads.
    pub heads: u64,
    /// Query/key head dimension.
    pub head_dim: u64,
    /// Value head dimension (equals `head_dim` except for MLA).
    pub v_head_dim: u64,
    /// KV cache layout.
    pub kv: KvLayout,
    /// Sliding window in tokens, when this layer attends locally.
    pub window: Option<u64>,
    /// Per-head norm on q and k (Qwen3, Gemma 3): saved tensors in training.
    pub qk_norm: bool,
    /// Whether this layer is cross-attention (encoder-decoder decoders have both).
    pub cross: bool,
}

impl Attention {
    /// KV heads as the runtime sees them when it caches decompressed keys and values.
    #[must_use]
    pub fn kv_heads(&self) -> u64 {
        match self.kv {
            KvLayout::Heads { kv_heads, .. } => kv_heads,
            KvLayout::Latent { heads, .. } => heads,
        }
    }
    /// Width of q (heads × head_dim).
    #[must_use]
    pub fn q_width(&self) -> u64 {
        self.heads.saturating_mul(self.head_dim)
    }
    /// Width of k plus v for one token, as runtimes that cache decompressed K/V store them.
    #[must_use]
    pub fn kv_width(&self) -> u64 {
        match self.kv {
            KvLayout::Heads { kv_heads, k_dim, v_dim } => kv_heads.saturating_mul(k_dim.saturating_add(v_dim)),
            KvLayout::Latent { heads, k_dim, v_dim, .. } => heads.saturating_mul(k_dim.saturating_add(v_dim)),
        }
    }
}

/// The activation function of the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// SiLU / swish.
    Silu,
    /// GELU (exact or tanh approximation) as one fused kernel (`F.gelu`).
    Gelu,
    /// ReLU.
    Relu,
    /// The GELU tanh approximation written out in tensor ops, as transformers'
    /// `NewGELUActivation` (`gelu_new`: GPT-2, Phi) does:
    /// `0.5 * x * (1 + tanh(sqrt(2/π) * (x + 0.044715 * x³)))`.
    GeluNew,
    /// transformers' `FastGELUActivation` (`gelu_fast`), also written out in tensor ops.
    GeluFast,
}

impl Activation {
    /// Intermediate-sized tensors autograd keeps inside the activation in transformers'
    /// implementation. A fused kernel keeps its input (1); `gelu_new` keeps the input (for
    /// `pow`), the tanh output and both factors of the final product (4); `gelu_fast` keeps
    /// the operands of its three tensor products and the tanh output (7).
    #[must_use]
    pub fn saved_intermediates(self) -> u64 {
        match self {
            Activation::GeluNew => 4,
            Activation::GeluFast => 7,
            _ => 1,
        }
    }

    /// Intermediate-sized tensors alive at once while computing it without autograd, input
    /// and output included: 2 for a kernel; `gelu_new` holds x, 0.5·x (evaluated first), x³
    /// and 0.044715·x³ at once (4); `gelu_fast` x, 0.5·x, 0.797·x, 0.044715·x and its product
    /// with x (5).
    #[must_use]
    pub fn working_intermediates(self) -> u64 {
        match self {
            Activation::GeluNew => 4,
            Activation::GeluFast => 5,
            _ => 2,
        }
    }

    /// The same activation as a fused kernel (runtimes with their own implementation: litgpt's
    /// `F.gelu(approximate="tanh")`, torchtune).
    #[must_use]
    pub fn fused(self) -> Activation {
        match self {
            Activation::GeluNew | Activation::GeluFast => Activation::Gelu,
            a => a,
        }
    }
}

/// MLP geometry of a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mlp {
    /// Gated (SwiGLU/GeGLU: gate × up) or plain (fc → act → fc).
    pub gated: bool,
    /// Activation.
    pub act: Activation,
    /// Intermediate width of one dense MLP or one expert.
    pub intermediate: u64,
    /// Routed experts (0 for a dense MLP).
    pub experts: u64,
    /// Experts each token is routed to.
    pub top_k: u64,
    /// Intermediate width of the always-on shared expert(s), 0 if none.
    pub shared_intermediate: u64,
}

impl Mlp {
    /// A dense MLP.
    #[must_use]
    pub fn dense(gated: bool, act: Activation, intermediate: u64) -> Self {
        Mlp { gated, act, intermediate, experts: 0, top_k: 0, shared_intermediate: 0 }
    }
    /// Whether this is a mixture of experts.
    #[must_use]
    pub fn is_moe(&self) -> bool {
        self.experts > 0
    }
}

/// One transformer block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// Every linear layer of the block.
    pub linears: Vec<Linear>,
    /// Norms of the block.
    pub norms: Vec<Norm>,
    /// Other parameters (relative position bias, router correction bias...).
    pub others: Vec<Tensor>,
    /// Self-attention.
    pub attention: Attention,
    /// Cross-attention (encoder-decoder decoders).
    pub cross_attention: Option<Attention>,
    /// MLP.
    pub mlp: Mlp,
    /// Attention and MLP read the same input (GPT-J / Falcon / NeoX parallel residual).
    pub parallel_residual: bool,
    /// What mixes tokens: attention (with a KV cache), a recurrent layer (a state per
    /// sequence) or nothing. Attention unless a hybrid family's converter says otherwise.
    #[serde(skip_serializing_if = "Mixer::is_attention")]
    pub mixer: Mixer,
}

/// How positions enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Positions {
    /// Rotary embeddings on `dims` of each head.
    Rotary {
        /// Rotated dimensions per head.
        dims: u64,
    },
    /// A learned absolute position table (counted in embeddings).
    Learned,
    /// ALiBi biases.
    Alibi,
    /// T5 relative position buckets.
    Relative,
}

/// The head a model class puts on the blocks: `*ForCausalLM` predicts the vocabulary at every
/// position; `*ForSequenceClassification` scores `num_labels` classes from the last token
/// (`score`: hidden × labels, no bias); `*ForTokenClassification` scores them at every
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Head {
    /// The language-model head (vocabulary logits).
    #[default]
    CausalLm,
    /// A classifier over the last token's hidden state.
    SequenceClassification {
        /// Classes (`num_labels`).
        labels: u64,
    },
    /// A classifier at every position.
    TokenClassification {
        /// Classes (`num_labels`).
        labels: u64,
    },
}

impl Head {
    /// Parse `--head causal-lm|sequence-classification|token-classification` (`labels` from
    /// the config, else 2).
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str, labels: u64) -> crate::Result<Self> {
        Ok(Self::parse_choice(s)?.with_labels(labels))
    }

    /// The same head with `labels` classes (a causal LM has none).
    #[must_use]
    pub fn with_labels(self, labels: u64) -> Self {
        match self {
            Head::CausalLm => Head::CausalLm,
            Head::SequenceClassification { .. } => Head::SequenceClassification { labels },
            Head::TokenClassification { .. } => Head::TokenClassification { labels },
        }
    }

    /// Name as the CLI spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Head::CausalLm => "causal-lm",
            Head::SequenceClassification { .. } => "sequence-classification",
            Head::TokenClassification { .. } => "token-classification",
        }
    }

    /// Classes of a classification head.
    #[must_use]
    pub fn labels(self) -> Option<u64> {
        match self {
            Head::CausalLm => None,
            Head::SequenceClassification { labels } | Head::TokenClassification { labels } => Some(labels),
        }
    }
}

/// `--head`: the table's heads carry no classes (`labels` 0); [`Head::parse`] sets them.
impl crate::choice::Choice for Head {
    const FLAG: &'static str = "--head";
    fn entries() -> impl Iterator<Item = crate::choice::Entry<Self>> + Clone {
        HEADS.iter().copied()
    }
    fn fold(s: &str) -> String {
        s.to_ascii_lowercase().replace('_', "-")
    }
    fn unknown(s: &str) -> String {
        format!("unknown head {s:?}; use {}", Self::listed())
    }
}

/// `--head`: every head, its spellings and help.
const HEADS: &[crate::choice::Entry<Head>] = &[
    crate::choice::Entry::new(Head::CausalLm, &["causal-lm", "lm", "causallm"], "next-token logits"),
    crate::choice::Entry::new(
        Head::SequenceClassification { labels: 0 },
        &["sequence-classification", "seq-cls", "classification"],
        "one classifier per sequence",
    ),
    crate::choice::Entry::new(
        Head::TokenClassification { labels: 0 },
        &["token-classification", "token-cls"],
        "a classifier at every position",
    ),
];

/// A model as the estimators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSpec {
    /// `model_type` from config.json (normalized: `RefinedWeb` → `falcon`).
    pub model_type: String,
    /// Model width.
    pub hidden_size: u64,
    /// Vocabulary rows of the embedding table.
    pub vocab_size: u64,
    /// Embedding tables and their norms.
    pub embeddings: Vec<Tensor>,
    /// Embedding-side linears (OPT's project_in/out).
    pub embedding_linears: Vec<Linear>,
    /// Encoder blocks (T5, BERT); empty for decoder-only models.
    pub encoder_layers: Vec<Layer>,
    /// Decoder blocks (the only blocks of decoder-only models).
    pub layers: Vec<Layer>,
    /// Final norms (one per stack).
    pub final_norms: Vec<Norm>,
    /// Output head; `None` for encoders without one.
    pub lm_head: Option<Linear>,
    /// The head reuses the input embedding matrix (no parameters of its own).
    pub tied_embeddings: bool,
    /// Extra heads (BERT pooler).
    pub extra: Vec<Linear>,
    /// Position scheme.
    pub positions: Positions,
    /// `max_position_embeddings` (or `n_positions`), when the config states it.
    pub max_positions: Option<u64>,
    /// The longest context the model addresses, when known: `max_positions`, extended by
    /// `rope_scaling` (factor × `original_max_position_embeddings`) where the config has it.
    pub position_limit: Option<u64>,
    /// The output head the model class puts on the blocks (`architectures` in config.json).
    pub head: Head,
    /// The dtype the checkpoint is published in (`torch_dtype`).
    pub torch_dtype: Option<DType>,
    /// Quantization the checkpoint carries (`quantization_config`).
    pub quantization: Option<QuantConfig>,
    /// Generates with a KV cache (decoders); false for encoder-only models.
    pub is_decoder: bool,
    /// Exact tensor sizes read from the checkpoint's headers, when a checkpoint was read.
    pub checkpoint: Option<super::CheckpointInfo>,
    /// Logit soft-capping (Gemma 2): `cap · tanh(x / cap)` on attention scores and on the
    /// output logits, each keeping its tanh output for backward.
    pub softcap: Softcap,
    /// Dropout probabilities active in training (per mille).
    pub dropout: Dropout,
    /// How transformers' eager attention computes the softmax.
    pub eager_softmax: EagerSoftmax,
    /// RMSNorm multiplies by its weight in fp32 and casts afterwards (Gemma's
    /// `output * (1.0 + weight.float())`), so a trained weight keeps the fp32 normalized
    /// value; Llama-style norms cast first and keep it in the input dtype.
    pub norm_weight_fp32: bool,
    /// How the runtimes' code for this family behaves where it differs from the common
    /// layout (set by the family's converter; the estimators never test `model_type`).
    pub quirks: FamilyQuirks,
}

/// What a family's code in the runtimes does differently, in memory terms. Each flag is set
/// by the family's converter in `config/`, citing the code it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FamilyQuirks {
    /// transformers 4.31–4.45 upcast this family's logits to fp32 inside `forward`
    /// (`logits = logits.float()` in modeling_llama.py and the files copied from it).
    pub hf_logits_upcast: bool,
    /// transformers before 4.38 cached rotary cos/sin for `max_position_embeddings` in fp32
    /// in every attention layer (`LlamaRotaryEmbedding` per layer).
    pub hf_rotary_cache_per_layer: bool,
    /// transformers registers one `max_positions²` bool causal-mask buffer for the model
    /// (modeling_gpt_bigcode.py `register_buffer("bias")`).
    pub hf_causal_mask_buffer: bool,
    /// transformers' Falcon attention: a single K/V head is passed to SDPA broadcast (which
    /// forces the math kernel), grouped K/V heads are copied to every query head.
    pub hf_falcon_attention: bool,
    /// llama.cpp sizes sliding-window layers' cache to the window (its iSWA cache; Gemma 2/3).
    pub llamacpp_iswa: bool,
    /// The GGUF architecture is `llama` (convert_hf_to_gguf.py writes Llama, Mistral and
    /// Mixtral as `llama`), which Ollama's `GraphSize` has a formula for.
    pub gguf_arch_llama: bool,
}

/// How transformers' eager attention computes its softmax, which decides what the score
/// matrices cost (per query head, query and key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EagerSoftmax {
    /// `softmax(scores, dtype=float32).to(dtype)` (Llama, Mistral, Qwen, Gemma, Phi, NeoX,
    /// Bloom, OPT...): fp32 probabilities plus their cast.
    #[default]
    Fp32,
    /// `softmax(scores)` in the scores' dtype (GPT-2 without `reorder_and_upcast_attn`).
    Native,
    /// `softmax(scores + mask, dtype=hidden dtype)` with the scores still referenced and the
    /// previous layer's probabilities still returned (Falcon).
    NativeMasked,
}

impl EagerSoftmax {
    /// Bytes per score alive at once in a forward without autograd, in compute dtype
    /// `dtype`: scores, their masked/upcast versions and the probabilities. On CUDA,
    /// `softmax(x, dtype=float32)` reads fp16 directly (`_softmax(half_to_float=True)`), but
    /// copies bf16 to fp32 first, so a bf16 softmax holds the masked scores, that copy and the
    /// fp32 output at once (aten/src/ATen/native/SoftMax.cpp, `softmax`).
    #[must_use]
    pub fn working_bytes(self, dtype: crate::dtype::DType) -> u64 {
        let c = dtype.bytes();
        match self {
            EagerSoftmax::Fp32 if dtype == crate::dtype::DType::Bf16 => c + 4 + 4,
            EagerSoftmax::Fp32 => c + 4 + if c < 4 { c } else { 0 },
            EagerSoftmax::Native => 2 * c,
            // scores, scores + mask and the probabilities, plus the previous layer's
            // probabilities: Falcon's attention returns them and the model keeps the layer's
            // output tuple until the next layer returns.
            EagerSoftmax::NativeMasked => 4 * c,
        }
    }

    /// Bytes per score autograd keeps (softmax's output and the probabilities `@ v` reads).
    #[must_use]
    pub fn saved_bytes(self, c: u64) -> u64 {
        match self {
            EagerSoftmax::Fp32 => 4 + if c < 4 { c } else { 0 },
            EagerSoftmax::Native | EagerSoftmax::NativeMasked => c,
        }
    }

    /// Bytes per score of softmax's backward: the probabilities' gradient and the scores'.
    #[must_use]
    pub fn backward_bytes(self, c: u64) -> u64 {
        match self {
            EagerSoftmax::Fp32 => c + 4,
            EagerSoftmax::Native | EagerSoftmax::NativeMasked => 2 * c,
        }
    }
}

/// Where a model soft-caps logits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Softcap {
    /// `attn_logit_softcapping`.
    pub attention: bool,
    /// `final_logit_softcapping`.
    pub logits: bool,
}

/// Dropout a model applies in training mode, in per mille (0.1 = 100). Each dropout saves a
/// one-byte mask per element for backward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Dropout {
    /// On attention probabilities (`attn_pdrop`, `attention_dropout`).
    pub attention: u32,
    /// On the residual branches (`resid_pdrop`, `hidden_dropout`).
    pub hidden: u32,
}

impl ModelSpec {
    /// transformers' Falcon passes its single shared K/V head to SDPA broadcast (stride-0
    /// expanded) rather than repeated: neither flash nor memory-efficient attention accepts
    /// that, so PyTorch runs the math kernel.
    #[must_use]
    pub fn hf_falcon_broadcast_kv(&self) -> bool {
        self.quirks.hf_falcon_attention && self.first_attention().is_some_and(|a| a.kv_heads() == 1 && a.heads > 1)
    }

    /// transformers' Falcon with several K/V groups (40B/180B, `new_decoder_architecture`):
    /// the keys and values are broadcast to every query head and copied before the cache
    /// stores them.
    #[must_use]
    pub fn hf_falcon_copies_kv(&self) -> bool {
        self.quirks.hf_falcon_attention
            && self.first_attention().is_some_and(|a| a.kv_heads() > 1 && a.kv_heads() < a.heads)
    }

    /// Grouped-query (or multi-query) attention passed to SDPA without a mask: no sliding
    /// window shorter than the sequence (a window needs a mask, and masked GQA goes through
    /// repeat_kv).
    #[must_use]
    pub fn gqa_unmasked(&self, tokens: u64) -> bool {
        self.first_attention().is_some_and(|a| a.kv_heads() < a.heads)
            && self.layers.iter().all(|l| l.attention.window.is_none_or(|win| win >= tokens))
    }

    /// The model with `head` on its blocks: a classification head replaces the vocabulary
    /// projection with `score` (hidden × labels, untied), as transformers'
    /// `*ForSequenceClassification` / `*ForTokenClassification` build it.
    #[must_use]
    pub fn with_head(mut self, head: Head) -> Self {
        match (head.labels(), self.is_decoder) {
            (Some(labels), true) => {
                self.lm_head = Some(Linear::new("score", super::ParamGroup::LmHead, self.hidden_size, labels, false));
                self.tied_embeddings = false;
            }
            // Back to a language model from a classifier's config: the vocabulary projection.
            (None, true) if self.head != Head::CausalLm => {
                self.lm_head =
                    Some(Linear::new("lm_head", super::ParamGroup::LmHead, self.hidden_size, self.vocab_size, false));
            }
            _ => {}
        }
        self.head = head;
        self
    }

    /// Width of the output logits: the vocabulary, or the classes of a classification head.
    #[must_use]
    pub fn logit_width(&self) -> u64 {
        self.head.labels().unwrap_or(self.vocab_size)
    }

    /// Positions that produce logits per sequence of `tokens`: one for a sequence classifier.
    #[must_use]
    pub fn logit_positions(&self, tokens: u64) -> u64 {
        match self.head {
            Head::SequenceClassification { .. } => tokens.min(1),
            _ => tokens,
        }
    }

    /// The longest context the model addresses ([`ModelSpec::position_limit`], else
    /// `max_positions`), when the config says.
    #[must_use]
    pub fn context_limit(&self) -> Option<u64> {
        self.position_limit.or(self.max_positions)
    }

    /// All linear layers of the model, including the head when untied.
    pub fn all_linears(&self) -> impl Iterator<Item = &Linear> {
        self.embedding_linears
            .iter()
            .chain(self.encoder_layers.iter().flat_map(|l| l.linears.iter()))
            .chain(self.layers.iter().flat_map(|l| l.linears.iter()))
            .chain(self.extra.iter())
            .chain(self.lm_head.iter().filter(|_| !self.tied_embeddings))
    }

    /// Check the spec against [`crate::limits`]: block counts, every projection's width and
    /// copies, the attention geometry, and the parameter count computed with checked
    /// arithmetic. Every spec [`crate::config`] returns has passed it, so the estimators'
    /// products of these numbers stay inside 64 bits.
    ///
    /// # Errors
    /// [`crate::Error::Limit`] naming the first value beyond its limit.
    pub fn check_limits(&self) -> crate::Result<()> {
        use crate::limits::{DIMENSION, EXPERTS, LAYERS, PROJECTION};
        LAYERS.check("decoder blocks", self.layers.len() as u64)?;
        LAYERS.check("encoder blocks", self.encoder_layers.len() as u64)?;
        DIMENSION.check("hidden_size", self.hidden_size)?;
        DIMENSION.check("vocab_size", self.vocab_size)?;
        for l in self.all_linears().chain(self.lm_head.iter()) {
            // The name is formatted only for the error: this runs for every linear of every
            // model read, on the start-up path of each estimate.
            PROJECTION.check_with(|| format!("{} in_features", l.name), l.in_features)?;
            PROJECTION.check_with(|| format!("{} out_features", l.name), l.out_features)?;
            EXPERTS.check_with(|| format!("{} copies", l.name), l.copies)?;
        }
        for layer in self.encoder_layers.iter().chain(&self.layers) {
            for a in std::iter::once(&layer.attention).chain(layer.cross_attention.as_ref()) {
                PROJECTION.check("attention heads × head_dim", a.heads.saturating_mul(a.head_dim))?;
                PROJECTION.check("attention K/V width", a.kv_width())?;
            }
            EXPERTS.check("experts", layer.mlp.experts)?;
            PROJECTION.check("MLP intermediate width", layer.mlp.intermediate)?;
            PROJECTION.check("shared expert width", layer.mlp.shared_intermediate)?;
        }
        super::ParamCount::try_of(self)?;
        Ok(())
    }

    /// Number of decoder blocks.
    #[must_use]
    pub fn num_layers(&self) -> u64 {
        self.layers.len() as u64
    }

    /// The first attending decoder layer's attention (representative geometry; a hybrid's
    /// first block may be recurrent), else the first block's.
    #[must_use]
    pub fn first_attention(&self) -> Option<&Attention> {
        self.layers.iter().find(|l| l.mixer.is_attention()).or(self.layers.first()).map(|l| &l.attention)
    }

    /// Blocks with a recurrent state instead of a KV cache.
    pub fn recurrent_layers(&self) -> impl Iterator<Item = (usize, &super::Recurrent)> {
        self.layers.iter().enumerate().filter_map(|(i, l)| l.mixer.recurrent().map(|r| (i, r)))
    }
}

#[cfg(test)]
mod tests {
    use super::{Activation, EagerSoftmax};
    use crate::dtype::DType;

    #[test]
    fn eager_softmax_bytes_per_score() {
        // fp16 is read directly by CUDA's half_to_float softmax: scores, fp32 output, cast.
        assert_eq!(EagerSoftmax::Fp32.working_bytes(DType::Fp16), 2 + 4 + 2);
        // bf16 is copied to fp32 first: scores, the fp32 copy and the fp32 output.
        assert_eq!(EagerSoftmax::Fp32.working_bytes(DType::Bf16), 2 + 4 + 4);
        assert_eq!(EagerSoftmax::Fp32.working_bytes(DType::Fp32), 4 + 4);
        assert_eq!(EagerSoftmax::Native.working_bytes(DType::Bf16), 4);
        assert_eq!(EagerSoftmax::NativeMasked.working_bytes(DType::Fp16), 8);
        // Saved for backward: fp32 probabilities and their cast, or the probabilities only.
        assert_eq!(EagerSoftmax::Fp32.saved_bytes(2), 6);
        assert_eq!(EagerSoftmax::Native.saved_bytes(2), 2);
        assert_eq!(EagerSoftmax::Fp32.backward_bytes(2), 6);
        assert_eq!(EagerSoftmax::Native.backward_bytes(2), 4);
    }

    #[test]
    fn composed_gelus_keep_more_than_a_kernel() {
        assert_eq!(Activation::Gelu.saved_intermediates(), 1);
        assert_eq!(Activation::GeluNew.saved_intermediates(), 4);
        assert_eq!(Activation::GeluFast.saved_intermediates(), 7);
        assert_eq!(Activation::GeluNew.fused(), Activation::Gelu);
        assert_eq!(Activation::Silu.working_intermediates(), 2);
        assert_eq!(Activation::GeluNew.working_intermediates(), 4);
    }
}
