//! Property tests: monotonicity of estimates, and no panic on any config or workload.

use crate::util::spec;
use proptest::prelude::*;
use vramfit_core::estimate::parallel::{Parallel, Strategy as Layout};
use vramfit_core::estimate::training::setup::{Method, TrainingSetup};
use vramfit_core::estimate::{AttnImpl, Runtime};
use vramfit_core::{config::parse_config, estimate, DType, Task, Workload};

const MODELS: &[&str] = &[
    "llama-2-7b",
    "mistral-7b-v0.1",
    "gemma-2-2b",
    "mixtral-8x7b",
    "falcon-7b",
    "gpt2",
    "deepseek-v2-lite",
    "qwen3-0.6b",
];

fn attn() -> impl Strategy<Value = AttnImpl> {
    prop_oneof![Just(AttnImpl::Eager), Just(AttnImpl::Sdpa), Just(AttnImpl::Flash)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// More tokens or a larger batch never need less memory, at any level.
    #[test]
    fn more_tokens_never_need_less(
        m in 0..MODELS.len(),
        batch in 1u64..16, extra_batch in 0u64..8,
        prompt in 1u64..8192, extra_prompt in 0u64..4096,
        new in 0u64..2048, extra_new in 0u64..2048,
        attn in attn(),
        litgpt in any::<bool>(),
    ) {
        let s = spec(MODELS[m]);
        let runtime = if litgpt { Runtime::Litgpt } else { Runtime::Transformers };
        let small = Workload { batch, prompt, new_tokens: new, attn, runtime, dtype: Some(DType::Bf16), ..Workload::default() };
        let big = Workload { batch: batch + extra_batch, prompt: prompt + extra_prompt, new_tokens: new + extra_new, ..small.clone() };
        let a = estimate(&s, &small).unwrap();
        let b = estimate(&s, &big).unwrap();
        prop_assert!(a.levels.allocated <= b.levels.allocated, "allocated {} > {}", a.levels.allocated, b.levels.allocated);
        prop_assert!(a.levels.device <= b.levels.device);
    }

    /// For every runtime and parallel layout, a larger batch or a longer prompt never needs
    /// less memory (the audit found a longer prompt giving up to 57 % less under tp >= 2).
    #[test]
    fn more_batch_or_prompt_never_needs_less_under_any_layout(
        m in 0..MODELS.len(),
        runtime in prop::sample::select(vec![Runtime::Transformers, Runtime::Litgpt, Runtime::Torchtune, Runtime::Vllm, Runtime::LlamaCpp]),
        tp_log in 0u32..7, dp in prop::sample::select(vec![1u64, 2, 4]),
        sequential in any::<bool>(),
        generate in any::<bool>(),
        batch in prop_oneof![1u64..64, 64u64..4096], prompt in prop_oneof![1u64..70, 70u64..2048], new in 1u64..256,
        longer_prompt in any::<bool>(),
    ) {
        let s = spec(MODELS[m]);
        let tp = 1u64 << tp_log;
        let parallel = Parallel {
            gpus_per_node: tp * dp,
            tp,
            strategy: if sequential { Layout::Sequential } else { Layout::None },
            ..Parallel::default()
        };
        let task = if generate { Task::Generate } else { Task::Prefill };
        let small = Workload { task, batch, prompt, new_tokens: new, runtime, parallel, ..Workload::default() };
        let big = if longer_prompt {
            Workload { prompt: prompt * 2, ..small.clone() }
        } else {
            Workload { batch: batch * 2, ..small.clone() }
        };
        let (Ok(a), Ok(b)) = (estimate(&s, &small), estimate(&s, &big)) else { return Ok(()) };
        prop_assert!(a.levels.allocated <= b.levels.allocated, "allocated {} > {}", a.levels.allocated, b.levels.allocated);
        prop_assert!(a.levels.reserved <= b.levels.reserved, "reserved {} > {}", a.levels.reserved, b.levels.reserved);
        prop_assert!(
            a.total_bytes() <= b.total_bytes(),
            "{} {runtime:?} tp {tp} dp {dp} seq {sequential} {task:?} b {batch} p {prompt}: {} > {} ({} vs {})",
            MODELS[m], a.total_bytes(), b.total_bytes(), a.peak_phase, b.peak_phase
        );
    }

    /// Any JSON object with plausible keys either parses or is refused; never a panic, and a
    /// parsed model always estimates (or refuses) any workload.
    #[test]
    fn random_configs_never_panic(
        family in prop::sample::select(vec!["llama", "mistral", "mixtral", "qwen2", "qwen3_moe", "gemma2", "gemma3_text", "phi3", "phi", "falcon", "gpt2", "gpt_bigcode", "gpt_neox", "bloom", "opt", "deepseek_v3", "t5", "bert", "mamba"]),
        vals in prop::collection::vec(prop_oneof![Just(0u64), 1u64..64, Just(u64::MAX), Just(1u64 << 40), 1u64..100_000], 12),
        flags in prop::collection::vec(any::<bool>(), 4),
        batch in 0u64..(1 << 22), prompt in 0u64..(1 << 25), new in 0u64..(1 << 25),
    ) {
        let text = format!(
            r#"{{"model_type":"{family}","hidden_size":{},"intermediate_size":{},"num_hidden_layers":{},"num_attention_heads":{},
               "num_key_value_heads":{},"vocab_size":{},"head_dim":{},"num_local_experts":{},"num_experts_per_tok":{},
               "sliding_window":{},"n_embd":{},"n_layer":{},"n_head":{},"n_positions":{},"ffn_dim":{},"max_position_embeddings":{},
               "kv_lora_rank":{},"qk_rope_head_dim":{},"qk_nope_head_dim":{},"v_head_dim":{},"n_routed_experts":{},
               "d_model":{},"d_kv":{},"d_ff":{},"num_layers":{},"num_heads":{},
               "tie_word_embeddings":{},"multi_query":{},"new_decoder_architecture":{},"parallel_attn":{}}}"#,
            vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8], vals[9], vals[0], vals[2], vals[3], vals[10],
            vals[1], vals[10], vals[11], vals[6] % 128, vals[6], vals[6], vals[7], vals[0], vals[6], vals[1], vals[2], vals[3],
            flags[0], flags[1], flags[2], flags[3]
        );
        if let Ok(s) = parse_config(&text) {
            for task in [Task::Load, Task::Prefill, Task::Generate, Task::Train] {
                let _ = estimate(&s, &Workload { task, batch, prompt, new_tokens: new, ..Workload::default() });
            }
        }
    }

    /// Arbitrary text is never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = parse_config(&text);
    }

    /// Newcomer D10, issue item 8: any batch and length the flags accept, on any task, method
    /// and runtime, gives a number below 2^64 or an error naming the flag to shrink; never a
    /// panic (tests run in a debug build, where overflow panics) and never a pinned total.
    #[test]
    fn huge_workloads_are_errors_not_overflows(
        m in 0..MODELS.len(),
        batch in prop_oneof![Just(1u64 << 20), 1u64..=(1 << 20), 1u64..64],
        tokens in prop_oneof![Just(1u64 << 24), 1u64..=(1 << 24), 1u64..4096],
        task in prop::sample::select(vec![Task::Prefill, Task::Generate, Task::Train]),
        method in prop::sample::select(vec![Method::Full, Method::Lora, Method::Qlora, Method::PrefixTuning, Method::PromptTuning]),
        attn in attn(),
        runtime in prop::sample::select(vec![Runtime::Transformers, Runtime::Litgpt, Runtime::Torchtune]),
        grad_ckpt in any::<bool>(), zero3 in any::<bool>(),
    ) {
        let s = spec(MODELS[m]);
        let parallel = if zero3 {
            Parallel { gpus_per_node: 8, strategy: Layout::Zero(3), ..Parallel::default() }
        } else {
            Parallel::default()
        };
        let w = Workload {
            task, batch, prompt: tokens, new_tokens: tokens / 2, attn, runtime, parallel,
            training: TrainingSetup { seq: tokens, method, grad_ckpt, virtual_tokens: tokens / 4, grad_accum: batch, ..TrainingSetup::default() },
            ..Workload::default()
        };
        match estimate(&s, &w) {
            Ok(b) => {
                prop_assert!(b.levels.device < u64::MAX && b.host_bytes < u64::MAX);
                prop_assert!(b.components.iter().all(|c| c.bytes < u64::MAX));
            }
            Err(e) => {
                // The flag to shrink (or, past 2^53 bytes, the limit naming the flags).
                let e = e.to_string();
                prop_assert!(e.starts_with("--") || e.contains("lower --batch"), "{}", e);
            }
        }
    }
}

/// A training sequence of 2^62 tokens is an error naming the flag, not an overflow in the
/// magnitude check that runs before the estimators (it panicked in debug builds).
#[test]
fn a_sequence_of_2_pow_62_tokens_is_an_error() {
    use vramfit_core::{estimate, Task, Workload};
    let spec = crate::util::spec("llama-7b");
    let mut w = Workload { task: Task::Train, ..Workload::default() };
    w.training.seq = 1 << 62;
    assert!(estimate(&spec, &w).unwrap_err().to_string().starts_with("--"));
}
