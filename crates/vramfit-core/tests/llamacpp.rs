//! llama.cpp placement worked by hand from `src/llama-model.cpp` `load_tensors` and
//! `common/arg.cpp` (`--n-cpu-moe`, `--override-tensor`): routed experts kept in host memory,
//! layers split over GPUs. Every expected figure is computed here from the model's
//! dimensions, not read from the estimator.
//!
//! The patterns, as ggml-org/llama.cpp de93b991 `common/common.h` ("MoE utils") writes them:
//! `LLM_FFN_EXPS_REGEX = "\\.ffn_(up|down|gate)_(ch|)exps"`; `--cpu-moe` is that pattern on
//! the CPU buffer type (`llm_ffn_exps_cpu_override`), `--n-cpu-moe N` one override per block
//! `i < N` of `llm_ffn_exps_block_regex(i) = "blk\\.%d" + LLM_FFN_EXPS_REGEX` (so `blk.1.`
//! does not match `blk.11.`); the loader takes the first override whose pattern is found in
//! the tensor's name (`std::regex_search`) and places the tensor in that buffer type instead
//! of its layer's device.

use vramfit_core::catalog::find_model;
use vramfit_core::estimate::{estimate, Breakdown, LlamaCppOptions, Runtime, Workload};
use vramfit_core::model::ModelSpec;
use vramfit_core::quant::QuantConfig;

fn spec(name: &str) -> ModelSpec {
    find_model(name).unwrap().spec().unwrap()
}

fn run(spec: &ModelSpec, opts: LlamaCppOptions, gpus: u64) -> Breakdown {
    let mut w = Workload {
        runtime: Runtime::LlamaCpp,
        prompt: 4096,
        new_tokens: 0,
        kv_prealloc: Some(4096),
        quant: Some(QuantConfig::parse("q8_0", None).unwrap()),
        llama_cpp: opts,
        ..Workload::default()
    };
    w.parallel.gpus_per_node = gpus;
    estimate(spec, &w).unwrap()
}

fn device<'a>(b: &'a Breakdown, name: &str) -> &'a vramfit_core::estimate::DeviceBuffers {
    b.devices.iter().find(|d| d.device == name).unwrap()
}

/// Q8_0 stores 32 elements in 34 bytes.
fn q8_0(elements: u64) -> u64 {
    elements / 32 * 34
}

#[test]
fn mixtral_n_cpu_moe_keeps_the_first_blocks_experts_on_the_host() {
    let s = spec("mixtral-8x7b");
    // Per block: gate, up and down of 8 experts, 4096 × 14336 each.
    let experts = q8_0(3 * 4096 * 14336 * 8);
    let all = run(&s, LlamaCppOptions::default(), 1);
    let moe10 = run(&s, LlamaCppOptions { n_cpu_moe: Some(10), ..Default::default() }, 1);
    assert_eq!(device(&all, "CUDA0").model_bytes - device(&moe10, "CUDA0").model_bytes, 10 * experts);
    // The same blocks by pattern (common/arg.cpp builds --n-cpu-moe from this pattern).
    let ot = LlamaCppOptions {
        override_tensor: vec![r"blk\.[0-9]\.ffn_(up|down|gate)_exps=CPU".into()],
        ..Default::default()
    };
    assert_eq!(device(&run(&s, ot, 1), "CUDA0").model_bytes, device(&moe10, "CUDA0").model_bytes);
    // KV cache and compute buffer stay where the blocks are.
    assert_eq!(device(&all, "CUDA0").kv_bytes, device(&moe10, "CUDA0").kv_bytes);
    assert_eq!(device(&all, "CUDA0").compute_bytes, device(&moe10, "CUDA0").compute_bytes);
    // The host's mapped span now reaches blk.9: token_embd and blocks 0..9 whole.
    assert!(device(&moe10, "CPU").model_bytes > device(&all, "CPU").model_bytes + 10 * experts);
}

#[test]
fn qwen3_moe_all_experts_on_the_host_leave_attention_and_routers_on_the_gpu() {
    let s = spec("qwen3-30b-a3b");
    // 48 blocks of 128 experts, gate/up/down 2048 × 768.
    let experts = q8_0(3 * 2048 * 768 * 128);
    let all = run(&s, LlamaCppOptions::default(), 1);
    let exps = run(&s, LlamaCppOptions { override_tensor: vec!["exps=CPU".into()], ..Default::default() }, 1);
    assert_eq!(device(&all, "CUDA0").model_bytes - device(&exps, "CUDA0").model_bytes, 48 * experts);
    let moe48 = run(&s, LlamaCppOptions { n_cpu_moe: Some(48), ..Default::default() }, 1);
    assert_eq!(device(&moe48, "CUDA0").model_bytes, device(&exps, "CUDA0").model_bytes);
    // What stays: per block q (2048→4096), k and v (2048→512), o (4096→2048), the router
    // (2048→128) in Q8_0, norms in F32; plus the output head. Under 2 GB, as people report.
    assert!(device(&exps, "CUDA0").model_bytes < 2_000_000_000);
    // Experts to a second GPU instead: the first GPU keeps the same as with exps=CPU.
    let two = LlamaCppOptions {
        override_tensor: vec![r"blk\.(4[0-7])\.ffn_.*_exps=CUDA1".into(), "exps=CPU".into()],
        split_mode: Some("none".into()),
        ..Default::default()
    };
    let two = run(&s, two, 2);
    assert_eq!(device(&two, "CUDA1").model_bytes, 8 * experts);
    assert_eq!(device(&two, "CUDA0").model_bytes, device(&exps, "CUDA0").model_bytes);
}

#[test]
fn layer_split_gives_each_gpu_its_share_of_layers() {
    let s = spec("llama-2-7b");
    let b = run(&s, LlamaCppOptions::default(), 2);
    // 33 layers (32 blocks + output) at splits [0.5, 1]: blocks with il/33 < 0.5 (0..16) on
    // CUDA0, 17..31 and the output layer on CUDA1. K and V: 2 × 4096 × 2 B × 4096 cells.
    let kv_block = 2 * 4096 * 2 * 4096;
    assert_eq!(device(&b, "CUDA0").kv_bytes, 17 * kv_block);
    assert_eq!(device(&b, "CUDA1").kv_bytes, 15 * kv_block);
    // --tensor-split 3,1: il/33 < 0.75 (0..24) on CUDA0.
    let ts = LlamaCppOptions { tensor_split: vec![750_000, 250_000], ..Default::default() };
    let b = run(&s, ts, 2);
    assert_eq!(device(&b, "CUDA0").kv_bytes, 25 * kv_block);
    // --split-mode row: KV and compute on the main GPU, matrices shared.
    let row = run(&s, LlamaCppOptions { split_mode: Some("row".into()), main_gpu: Some(1), ..Default::default() }, 2);
    assert_eq!(device(&row, "CUDA1").kv_bytes, 32 * kv_block);
    assert_eq!(device(&row, "CUDA0").kv_bytes, 0);
    assert_eq!(device(&row, "CUDA0").compute_bytes, 0);
}

#[test]
fn old_builds_count_repeating_blocks_for_ngl() {
    let s = spec("llama-2-7b");
    let kv_block = 2 * 4096 * 2 * 4096;
    let ngl = |build: &str| {
        let mut w = Workload {
            runtime: Runtime::LlamaCpp,
            kv_prealloc: Some(4096),
            runtime_version: Some(vramfit_core::estimate::RuntimeVersion::parse(build).unwrap()),
            quant: Some(QuantConfig::parse("q4_k_m", None).unwrap()),
            llama_cpp: LlamaCppOptions { n_gpu_layers: Some(20), ..Default::default() },
            ..Workload::default()
        };
        w.parallel.gpus_per_node = 1;
        estimate(&s, &w).unwrap()
    };
    // b2600: 20 repeating blocks on the GPU, the output layer on the CPU.
    assert_eq!(device(&ngl("b2600"), "CUDA0").kv_bytes, 20 * kv_block);
    // b7500: the output layer is one of the 20.
    assert_eq!(device(&ngl("b7500"), "CUDA0").kv_bytes, 19 * kv_block);
}

#[test]
fn separate_k_and_v_cache_types() {
    let s = spec("llama-2-7b");
    let o =
        LlamaCppOptions { cache_type: Some("Q8_0".into()), cache_type_v: Some("Q4_0".into()), ..Default::default() };
    let b = run(&s, o, 1);
    // K: 4096 elements in Q8_0 (34 B / 32), V: Q4_0 (18 B / 32), 4096 cells, 32 blocks.
    assert_eq!(device(&b, "CUDA0").kv_bytes, 32 * (4096 / 32 * 34 + 4096 / 32 * 18) * 4096);
}

#[test]
fn context_padding_follows_flash_attention_in_older_builds() {
    let s = spec("llama-2-7b");
    let kv = |build: &str, flash: bool| {
        let w = Workload {
            runtime: Runtime::LlamaCpp,
            kv_prealloc: Some(4000),
            runtime_version: Some(vramfit_core::estimate::RuntimeVersion::parse(build).unwrap()),
            quant: Some(QuantConfig::parse("q4_k_m", None).unwrap()),
            llama_cpp: LlamaCppOptions { flash_attn: Some(flash), ..Default::default() },
            ..Workload::default()
        };
        device(&estimate(&s, &w).unwrap(), "CUDA0").kv_bytes
    };
    // 32 blocks × K and V of 4096 f16 elements per cell.
    let per_cell = 32 * 2 * 4096 * 2;
    // llama_kv_cache::get_padding: 32 without flash attention, 256 with it.
    assert_eq!(kv("b4000", false), 4000 * per_cell);
    assert_eq!(kv("b4000", true), 4096 * per_cell);
    assert_eq!(kv("b7800", false), 4096 * per_cell);
}

/// A rank-16 F16 adapter on q and v of every block of Llama-2-7B (as convert_lora_to_gguf.py
/// writes it: `blk.N.attn_q.weight.lora_a` `[4096, 16]`, `.lora_b` `[16, 4096]`, ...).
fn lora_gguf(ffn: bool) -> vramfit_core::estimate::LoraAdapter {
    use vramfit_core::formats::gguf::{parse_header, GgufWriter};
    let mut w = GgufWriter::new().string("general.architecture", "llama").string("general.type", "adapter");
    for i in 0..32 {
        let mut targets = vec![("attn_q", 4096u64, 4096u64), ("attn_v", 4096, 4096)];
        if ffn {
            targets.push(("ffn_up", 4096, 11008));
        }
        for (t, inp, out) in targets {
            w = w.tensor(&format!("blk.{i}.{t}.weight.lora_a"), &[inp, 16], "F16").tensor(
                &format!("blk.{i}.{t}.weight.lora_b"),
                &[16, out],
                "F16",
            );
        }
    }
    let bytes = w.build();
    let vramfit_core::formats::Parsed::Done(f) = parse_header(&bytes).unwrap() else { panic!("header") };
    vramfit_core::estimate::LoraAdapter::from_gguf(&f)
}

#[test]
fn lora_adapter_tensors_sit_with_the_blocks_they_adapt() {
    // src/llama-adapter.cpp llama_adapter_lora_init_impl: each lora_a/lora_b goes to the
    // buffer type of the tensor it adapts. Per block: (4096·16 + 16·4096) · 2 B for q and v.
    let per_block = 2 * (4096 * 16 + 16 * 4096) * 2;
    let adapter = lora_gguf(false);
    assert_eq!(adapter.bytes(), 32 * per_block);
    let s = spec("llama-2-7b");
    let run_at = |build: &str, lora: Option<vramfit_core::estimate::LoraAdapter>| {
        let mut w = Workload {
            runtime: Runtime::LlamaCpp,
            kv_prealloc: Some(4096),
            runtime_version: Some(vramfit_core::estimate::RuntimeVersion::parse(build).unwrap()),
            quant: Some(QuantConfig::parse("q4_k_m", None).unwrap()),
            // flash attention: no n_kv-wide scores, so the FFN is the graph's widest phase
            llama_cpp: LlamaCppOptions { n_gpu_layers: Some(20), lora, flash_attn: Some(true), ..Default::default() },
            ..Workload::default()
        };
        w.parallel.gpus_per_node = 1;
        estimate(&s, &w).unwrap()
    };
    let base = run_at("b4000", None);
    let with = run_at("b4000", Some(adapter.clone()));
    // b4000: -ngl 20 puts blocks 12..31 on the GPU (the output layer stays on the CPU).
    let gpu = |b: &Breakdown| device(b, "CUDA0").other_bytes;
    let host = |b: &Breakdown| device(b, "CPU").other_bytes;
    assert_eq!(gpu(&with) - gpu(&base), 20 * per_block);
    assert_eq!(host(&with) - host(&base), 12 * per_block);
    assert_eq!(device(&with, "CUDA0").compute_bytes, device(&base, "CUDA0").compute_bytes);
    // An adapted FFN on a build before the GLU op: b·(a·x) (n_ff wide) is live beside gate
    // and up while it is added into up's result: one more 11008 × 512 × 4 B.
    let ffn = run_at("b4000", Some(lora_gguf(true)));
    assert_eq!(device(&ffn, "CUDA0").compute_bytes - device(&base, "CUDA0").compute_bytes, 11008 * 512 * 4);
    // Before PR #8332 (~b3400) --lora merged the adapter into the weights at load.
    let old = run_at("b3000", Some(adapter));
    assert_eq!(gpu(&old), gpu(&run_at("b3000", None)));
}
