//! Inference estimates: the original question's answers and the invariants.

use crate::util::{run, spec, GIB};
use vramfit_core::catalog::find_gpu;
use vramfit_core::estimate::{AttnImpl, Runtime, RuntimeVersion};
use vramfit_core::quant::QuantConfig;
use vramfit_core::ComponentKind;
use vramfit_core::{estimate, DType, Task, Workload};

fn load(dtype: DType) -> Workload {
    Workload { task: Task::Load, dtype: Some(dtype), ..Workload::default() }
}

#[test]
fn llama_7b_fp32_is_27_gb_and_does_not_fit_a_t4() {
    let b = run("llama-7b", &load(DType::Fp32));
    assert_eq!(b.component(ComponentKind::Weights), 6_738_415_616 * 4);
    let t4 = find_gpu("T4").unwrap().usable_bytes;
    assert!(b.total_bytes() > t4);
    assert!((26.9e9..27.0e9).contains(&(b.component(ComponentKind::Weights) as f64)));
}

#[test]
fn llama_7b_fp16_fits_a_t4_with_headroom() {
    let b = run("llama-7b", &Workload { dtype: Some(DType::Fp16), ..Workload::default() });
    let t4 = find_gpu("T4").unwrap().usable_bytes;
    let headroom = t4 as f64 - b.total_bytes() as f64;
    assert!(headroom > 0.5 * GIB && headroom < 2.5 * GIB, "headroom {:.2} GiB", headroom / GIB);
}

#[test]
fn quantized_weights_carry_their_overheads() {
    let nf4 = run(
        "llama-7b",
        &Workload { task: Task::Load, quant: Some(QuantConfig::parse("nf4", None).unwrap()), ..load(DType::Fp16) },
    );
    let dq = run(
        "llama-7b",
        &Workload { task: Task::Load, quant: Some(QuantConfig::parse("nf4-dq", None).unwrap()), ..load(DType::Fp16) },
    );
    let int8 = run(
        "llama-7b",
        &Workload { task: Task::Load, quant: Some(QuantConfig::parse("int8", None).unwrap()), ..load(DType::Fp16) },
    );
    let w = |b: &vramfit_core::Breakdown| b.component(ComponentKind::Weights) as f64;
    // 4-bit: linears at 0.5625 B/param (absmax fp32 per 64), embeddings and head in fp16.
    let linears = 32.0 * 202_375_168.0;
    let rest = 6_738_415_616.0 - linears;
    assert!((w(&nf4) - (linears * 0.5625 + rest * 2.0)).abs() < 1e6);
    assert!(w(&dq) < w(&nf4));
    assert!((w(&int8) - (linears + rest * 2.0)).abs() / w(&int8) < 0.01);
}

#[test]
fn llama_13b_fp32_and_fp16() {
    let fp32 = run("llama-13b", &load(DType::Fp32));
    let fp16 = run("llama-13b", &load(DType::Fp16));
    assert_eq!(fp32.component(ComponentKind::Weights), 13_015_864_320 * 4);
    assert_eq!(fp16.component(ComponentKind::Weights), 13_015_864_320 * 2);
    // 13B in fp16 does not fit a 24 GB card; 26 GB of weights.
    assert!(fp16.total_bytes() > find_gpu("RTX-4090").unwrap().usable_bytes);
}

#[test]
fn rtx_3060_runs_7b_in_8bit_not_in_fp16() {
    let gpu = find_gpu("RTX-3060-12GB").unwrap().usable_bytes;
    let fp16 = run("llama-2-7b", &Workload { dtype: Some(DType::Fp16), ..Workload::default() });
    let int8 = run(
        "llama-2-7b",
        &Workload {
            dtype: Some(DType::Fp16),
            quant: Some(QuantConfig::parse("int8", None).unwrap()),
            ..Workload::default()
        },
    );
    assert!(fp16.total_bytes() > gpu);
    assert!(int8.total_bytes() < gpu);
}

#[test]
fn transformers_falcon_caches_kv_for_every_query_head() {
    // Falcon-40B: 60 layers, 128 query heads of 64, 8 K/V groups. transformers broadcasts the
    // groups to all heads before its cache stores them: 60 × 2 × 128 × 64 × 2 B per token;
    // a runtime that keeps groups (llama.cpp) stores 8.
    let w = |runtime| Workload {
        task: Task::Prefill,
        prompt: 1000,
        dtype: Some(DType::Bf16),
        runtime,
        ..Workload::default()
    };
    assert_eq!(
        run("falcon-40b", &w(Runtime::Transformers)).component(ComponentKind::KvCache),
        60 * 2 * 128 * 64 * 2 * 1000
    );
    let s = spec("falcon-40b");
    let grouped = vramfit_core::estimate::kv_cache::KvCache::of(
        &s,
        1,
        1000,
        DType::Bf16,
        vramfit_core::estimate::kv_cache::KvPolicy { honor_window: true, latent: false, expanded_heads: false },
    );
    assert_eq!(grouped.bytes, 60 * 2 * 8 * 64 * 2 * 1000);
}

#[test]
fn gpt2_runs_gelu_new_and_a_native_softmax() {
    use vramfit_core::model::{Activation, EagerSoftmax};
    let s = spec("gpt2");
    assert_eq!(s.layers[0].mlp.act, Activation::GeluNew);
    assert_eq!(s.eager_softmax, EagerSoftmax::Native);
    assert_eq!(spec("llama-2-7b").eager_softmax, EagerSoftmax::Fp32);
    // gelu_new written out in tensor ops holds four intermediate-sized tensors at its peak
    // (x, 0.5·x, x³, 0.044715·x³), a fused GELU two: the MLP's prefill working set doubles.
    let prefill =
        Workload { task: Task::Prefill, batch: 16, prompt: 256, dtype: Some(DType::Bf16), ..Workload::default() };
    let acts = run("gpt2", &prefill).component(ComponentKind::Activations);
    assert!(acts >= 4 * 16 * 256 * 3072 * 2, "{acts}");
}

#[test]
fn transformers_5_runs_all_experts_at_once() {
    // Mixtral, 16 × 2048 prompt tokens, top-2: transformers 5 gathers every routed token and
    // runs the stacked experts together (h + 4·I per routed token); 4.x looped over experts.
    let w = |v| Workload {
        task: Task::Prefill,
        batch: 16,
        prompt: 2048,
        dtype: Some(DType::Fp16),
        runtime_version: Some(v),
        ..Workload::default()
    };
    let grouped = run("mixtral-8x7b", &w(RuntimeVersion::new(5, 0))).component(ComponentKind::Activations);
    let looped = run("mixtral-8x7b", &w(RuntimeVersion::new(4, 57))).component(ComponentKind::Activations);
    assert!(grouped >= 16 * 2048 * 2 * (4096 + 4 * 14336) * 2, "{grouped}");
    assert!(looped < grouped, "{looped} {grouped}");
}

#[test]
fn kv_cache_is_exact() {
    // Llama-3-8B: 32 layers × 2 × 8 KV heads × 128 × 2 B = 131,072 B per token.
    let b = run(
        "llama-3-8b",
        &Workload { task: Task::Prefill, prompt: 1000, dtype: Some(DType::Bf16), ..Workload::default() },
    );
    assert_eq!(b.component(ComponentKind::KvCache), 131_072 * 1000);
    let fp8 = run(
        "llama-3-8b",
        &Workload {
            task: Task::Prefill,
            prompt: 1000,
            dtype: Some(DType::Bf16),
            kv_dtype: Some(DType::Fp8),
            ..Workload::default()
        },
    );
    assert_eq!(fp8.component(ComponentKind::KvCache), 65_536 * 1000);
}

#[test]
fn gemma_sliding_layers_and_the_cache() {
    let s = spec("gemma-2-9b");
    let short =
        estimate(&s, &Workload { task: Task::Prefill, prompt: 4096, dtype: Some(DType::Bf16), ..Workload::default() })
            .unwrap();
    let long =
        estimate(&s, &Workload { task: Task::Prefill, prompt: 8192, dtype: Some(DType::Bf16), ..Workload::default() })
            .unwrap();
    // transformers keeps the whole prompt in every layer's cache after prefill.
    let ratio = long.component(ComponentKind::KvCache) as f64 / short.component(ComponentKind::KvCache) as f64;
    assert!((ratio - 2.0).abs() < 1e-9, "{ratio}");
    // A preallocated cache (litgpt, static caches) is sized to the window in local layers:
    // doubling the context doubles only the global half.
    let pre = |n: u64| {
        let w = Workload {
            task: Task::Prefill,
            prompt: n,
            kv_prealloc: Some(n),
            dtype: Some(DType::Bf16),
            runtime: vramfit_core::estimate::Runtime::Litgpt,
            ..Workload::default()
        };
        estimate(&s, &w).unwrap().component(ComponentKind::KvCache) as f64
    };
    assert!((pre(8192) / pre(4096) - 1.5).abs() < 1e-9);
}

#[test]
fn eager_attention_materializes_scores() {
    let base = Workload { task: Task::Prefill, prompt: 4096, dtype: Some(DType::Fp16), ..Workload::default() };
    let sdpa = run("llama-2-7b", &base);
    let eager = run("llama-2-7b", &Workload { attn: AttnImpl::Eager, ..base.clone() });
    // 32 heads × 4096² × (2 + 4 + 2) B = 4 GiB of scores and softmax in one layer, in place
    // of SDPA's busiest part (the MLP, 0.25 GiB).
    let diff = eager.levels.allocated - sdpa.levels.allocated;
    assert!(diff as f64 > 3.75 * GIB, "{}", diff as f64 / GIB);
}

#[test]
fn old_transformers_keeps_two_caches_and_all_logits() {
    let w = Workload {
        batch: 8,
        prompt: 512,
        new_tokens: 512,
        dtype: Some(DType::Fp16),
        attn: AttnImpl::Eager,
        ..Workload::default()
    };
    let new = run("llama-2-13b", &w);
    let old = run("llama-2-13b", &Workload { runtime_version: Some(RuntimeVersion::new(4, 31)), ..w });
    assert!(old.component(ComponentKind::KvCachePrevious) > 6_000_000_000);
    assert!(old.levels.allocated > new.levels.allocated + 6_000_000_000);
}

#[test]
fn litgpt_preallocates_the_cache() {
    let w = Workload {
        runtime: Runtime::Litgpt,
        kv_prealloc: Some(2048),
        prompt: 10,
        new_tokens: 10,
        dtype: Some(DType::Bf16),
        ..Workload::default()
    };
    let b = run("llama-2-7b", &w);
    assert_eq!(b.component(ComponentKind::KvCache), 2 * 32 * 4096 * 2048 * 2);
}

#[test]
fn encoder_models_only_load() {
    let s = spec("bert-base-uncased");
    assert!(estimate(&s, &load(DType::Fp32)).is_ok());
    let e = estimate(&s, &Workload::default()).unwrap_err().to_string();
    assert!(e.starts_with("--task"), "{e}");
}

#[test]
fn unmodelled_runtimes_and_tasks_say_so() {
    let s = spec("llama-2-7b");
    // vLLM serves (tests/serving.rs); it does not train.
    let e = estimate(&s, &Workload { task: Task::Train, runtime: Runtime::Vllm, ..Workload::default() }).unwrap_err();
    assert!(e.to_string().contains("--runtime"), "{e}");
    let e =
        estimate(&s, &Workload { task: Task::Train, runtime: Runtime::LlamaCpp, ..Workload::default() }).unwrap_err();
    assert!(e.to_string().contains("--runtime"), "{e}");
    let t5 = spec("t5-base");
    let e = estimate(&t5, &Workload { task: Task::Train, ..Workload::default() }).unwrap_err();
    assert!(e.to_string().contains("not modelled yet"), "{e}");
}

#[test]
fn levels_are_ordered_and_components_sum() {
    for name in
        ["llama-2-7b", "mixtral-8x7b", "deepseek-v2-lite", "falcon-40b", "gpt2", "phi-2", "qwen3-0.6b", "gemma-3-4b"]
    {
        let b = run(name, &Workload::default());
        assert!(b.levels.allocated <= b.levels.reserved && b.levels.reserved <= b.levels.device, "{name}");
        let sum: u64 = b.components.iter().map(|c| c.bytes).sum();
        assert_eq!(sum, b.levels.device, "{name}");
        for c in &b.components {
            assert!(!c.formula.is_empty() && !c.source.is_empty(), "{name}: {} lacks formula/source", c.label());
        }
    }
}

/// The seed's "in the Meta FAIR version we can adjust the max batch size to make it work on a
/// single T4": the reference code allocates every layer's cache for max_batch_size ×
/// max_seq_len at build (llama model.py `cache_k = torch.zeros((max_batch_size, max_seq_len,
/// n_heads, head_dim))`), 32 × 512 in its example, whatever batch is then run.
#[test]
fn meta_reference_preallocates_its_cache_for_max_batch_size() {
    let reference =
        |slots: Option<u64>| Workload { runtime: Runtime::MetaReference, cache_batch: slots, ..Workload::default() };
    let t4 = find_gpu("T4").unwrap().usable_bytes;
    let example = run("llama-7b", &reference(None));
    // 32 layers × (K and V) × 32 sequences × 512 tokens × 4096 × 2 B (fp16).
    assert_eq!(example.component(ComponentKind::KvCache), 32 * 2 * 32 * 512 * 4096 * 2);
    assert_eq!(example.component(ComponentKind::Weights), 6_738_415_616 * 2);
    assert!(example.total_bytes() > t4, "the example's 32 × 512 cache does not fit a T4");
    let one = run("llama-7b", &reference(Some(1)));
    assert_eq!(one.component(ComponentKind::KvCache), 32 * 2 * 512 * 4096 * 2);
    assert!(one.total_bytes() < t4, "max_batch_size 1 fits a T4");
    // The batch actually run does not change the cache.
    let two = run("llama-7b", &Workload { batch: 2, ..reference(Some(4)) });
    assert_eq!(two.component(ComponentKind::KvCache), 4 * 32 * 2 * 512 * 4096 * 2);
}

#[test]
fn meta_reference_refuses_what_its_code_asserts() {
    let spec = spec("llama-7b");
    let w = Workload { runtime: Runtime::MetaReference, cache_batch: Some(1), batch: 2, ..Workload::default() };
    assert!(estimate(&spec, &w).unwrap_err().to_string().starts_with("--max-batch-size"));
    let w = Workload { runtime: Runtime::MetaReference, prompt: 600, ..Workload::default() };
    assert!(estimate(&spec, &w).unwrap_err().to_string().starts_with("--max-seq-len"));
    // Generation stops at max_seq_len: a longer request is capped, with a note.
    let b = run(
        "llama-7b",
        &Workload { runtime: Runtime::MetaReference, prompt: 500, new_tokens: 100, ..Workload::default() },
    );
    assert!(b.notes.iter().any(|n| n.contains("generation stops at max_seq_len 512: 12 of the 100")), "{:?}", b.notes);
}

/// LLaMA 1's reference code computes logits for the last position only; Llama 2's for every
/// position; both in fp32.
#[test]
fn meta_reference_logits_by_version() {
    let w = |v: u32| Workload {
        runtime: Runtime::MetaReference,
        runtime_version: Some(RuntimeVersion::new(v, 0)),
        task: Task::Prefill,
        cache_batch: Some(1),
        ..Workload::default()
    };
    let spec = spec("llama-7b");
    let logits = |v: u32| {
        let b = estimate(&spec, &w(v)).unwrap();
        b.components.iter().find(|c| c.kind == ComponentKind::Logits).map_or(0, |c| c.bytes)
    };
    // v2: 512 rows × 32000 × (2 + 4) B + final hidden 512 × 4096 × 2 + sampling copy 32000 × 4:
    // larger than the busiest layer, so it is the prefill peak's transient.
    assert_eq!(logits(2), 512 * 32_000 * 6 + 512 * 4096 * 2 + 32_000 * 4);
    // v1's one row of logits is smaller than the busiest layer's working set, which is the
    // transient counted instead.
    assert_eq!(logits(1), 0);
    let total = |v: u32| estimate(&spec, &w(v)).unwrap().total_bytes();
    assert!(total(2) > total(1));
}

/// The audit's case: under tensor parallelism the prefill peak was picked (activations or
/// logits) before the activations were divided over GPUs, so 6 prompt tokens needed half the
/// memory of 3.
#[test]
fn tp_prefill_peak_is_picked_after_the_split() {
    use vramfit_core::estimate::parallel::Parallel;
    let s = crate::util::spec("phi-4");
    let at = |prompt| {
        // 40 divides phi-4's 40 heads (and is a multiple of its 10 KV heads), as vLLM requires.
        let parallel = Parallel { gpus_per_node: 40, tp: 40, ..Parallel::default() };
        let w = Workload { task: Task::Prefill, batch: 2780, prompt, parallel, ..Workload::default() };
        vramfit_core::estimate(&s, &w).unwrap()
    };
    let (short, long) = (at(3), at(6));
    assert!(short.total_bytes() <= long.total_bytes(), "{} > {}", short.total_bytes(), long.total_bytes());
    // Under tp 40 the logits (whole on each GPU) outweigh the split activations at 6 tokens.
    assert!(long.component(ComponentKind::Logits) > 0, "{:?}", long.components);
}

/// Autocast caches a cast copy of the weights each GPU computes with: split over GPUs as the
/// weights are (they were whole on every GPU).
#[test]
fn autocast_copies_split_with_the_weights() {
    use vramfit_core::estimate::parallel::{Parallel, Strategy};
    let s = crate::util::spec("llama-2-7b");
    let at = |parallel| {
        let w = Workload {
            task: Task::Generate,
            dtype: Some(DType::Fp32),
            autocast: Some(DType::Bf16),
            parallel,
            ..Workload::default()
        };
        vramfit_core::estimate(&s, &w).unwrap()
    };
    let one = at(Parallel::default());
    for p in [
        Parallel { gpus_per_node: 2, tp: 2, ..Parallel::default() },
        Parallel { gpus_per_node: 2, strategy: Strategy::Sequential, ..Parallel::default() },
    ] {
        let two = at(p);
        let (w1, w2) = (one.component(ComponentKind::Weights), two.component(ComponentKind::Weights));
        let (a1, a2) =
            (one.component(ComponentKind::AutocastWeightCopies), two.component(ComponentKind::AutocastWeightCopies));
        assert!(a1 > 0 && a2 < a1 * 6 / 10, "{a2} of {a1}");
        // The same share as the weights' (to a part in a thousand).
        assert!((a2 as f64 / a1 as f64 - w2 as f64 / w1 as f64).abs() < 2e-3, "{a2}/{a1} vs {w2}/{w1}");
    }
}
