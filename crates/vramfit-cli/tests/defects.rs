//! The defects found when vramfit was tried as a new user (issue 13; `../shared/qa/newcomer.md`
//! D-numbers and `../shared/qa/web.md` W-numbers): each test failed before its fix.

use super::{json, vramfit};
use serde_json::Value;

fn notes(v: &Value) -> String {
    v["notes"].as_array().map(|n| n.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n")).unwrap_or_default()
}

fn component(v: &Value, name: &str) -> u64 {
    v["components"].as_array().unwrap().iter().find(|c| c["name"] == name).map_or(0, |c| c["bytes"].as_u64().unwrap())
}

fn header(args: &[&str]) -> String {
    let out = vramfit(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().nth(1).unwrap_or_default().to_string()
}

/// D12, issue item 3: the README's question gets one answer from estimate and fit, for the
/// current transformers and for 4.x, whose from_pretrained loads fp32 without torch_dtype.
#[test]
fn estimate_and_fit_resolve_the_same_defaults() {
    for version in [None, Some("4.46")] {
        let mut e = vec!["estimate", "llama-7b", "--gpu", "T4", "--json"];
        let mut f = vec!["fit", "llama-7b", "--gpu", "T4", "--json"];
        if let Some(v) = version {
            e.extend(["--runtime-version", v]);
            f.extend(["--runtime-version", v]);
        }
        let e = json(&e);
        let f = json(&f);
        assert_eq!(e["fits"], f["as_asked"]["fits"], "{version:?}");
        assert_eq!(e["per_gpu_bytes"], f["as_asked"]["per_gpu_bytes"], "{version:?}");
        let n = notes(&e);
        match version {
            None => {
                assert_eq!(e["fits"], Value::Bool(true));
                assert!(n.contains("the checkpoint's fp16"), "{n}");
            }
            Some(v) => {
                assert_eq!(e["fits"], Value::Bool(false));
                assert!(n.contains(&format!("fp32, what transformers {v} from_pretrained loads")), "{n}");
            }
        }
    }
}

/// D5: GPT-2's config has no torch_dtype and its checkpoints are fp32; say what was assumed.
#[test]
fn a_config_without_torch_dtype_loads_fp32_with_a_note() {
    let v = json(&["estimate", "gpt2", "--json"]);
    assert_eq!(component(&v, "weights"), 124_439_808 * 4);
    assert!(notes(&v).contains("config names no torch_dtype"), "{}", notes(&v));
    assert!(header(&["estimate", "gpt2"]).contains("fp32 weights"));
}

/// D6: the Trainer's default (no --bf16/--fp16) trains the model as loaded: fp32 for a model
/// loaded in fp32, and the note says so.
#[test]
fn the_trainers_default_precision_is_the_loaded_dtype() {
    let default = json(&["estimate", "gpt2", "--task", "train", "--batch", "8", "--seq", "1024", "--json"]);
    let fp32 = json(&[
        "estimate",
        "gpt2",
        "--task",
        "train",
        "--batch",
        "8",
        "--seq",
        "1024",
        "--precision",
        "fp32",
        "--json",
    ]);
    assert_eq!(default["total_bytes"], fp32["total_bytes"]);
    assert!(notes(&default).contains("no --precision: fp32, the Trainer's default"), "{}", notes(&default));
}

/// D2, D16: `bf16` / `fp16` mean mixed precision (HF --bf16, Lightning "bf16"); pure half is
/// `pure-bf16` / `bf16-true`; the training header names the policy.
#[test]
fn precision_names_mean_what_hf_and_lightning_mean() {
    let total =
        |p: &str| json(&["estimate", "llama-7b", "--task", "train", "--precision", p, "--json"])["total_bytes"].clone();
    assert_eq!(total("bf16"), total("mixed-bf16"));
    assert_eq!(total("fp16"), total("mixed-fp16"));
    assert_eq!(total("bf16-true"), total("pure-bf16"));
    assert_ne!(total("bf16"), total("pure-bf16"));
    for (p, shown) in
        [("bf16", "mixed-bf16 precision"), ("pure-bf16", "pure-bf16 precision"), ("fp32", "fp32 precision")]
    {
        let h = header(&["estimate", "llama-7b", "--task", "train", "--precision", p]);
        assert!(h.contains(shown), "{p}: {h}");
    }
}

/// D4 (web D2), issue item 1: ZeRO-3 and FSDP full shard a mixed-precision full fine-tune;
/// no unsharded autocast copy of the model stays on each GPU, so the per-GPU number falls as
/// GPUs are added (DeepSpeed's estimate_zero3_model_states_mem_needs: 18 B/param / N + the
/// largest layer).
#[test]
fn sharded_training_keeps_no_whole_model_autocast_copy() {
    for engine in [["--zero", "3"], ["--fsdp", "full"]] {
        let mut last = u64::MAX;
        for n in ["4", "8", "16"] {
            let gpu = format!("{n}xA100-80GB");
            let mut args =
                vec!["estimate", "llama-2-13b", "--task", "train", "--precision", "mixed-bf16", "--gpu", &gpu];
            args.extend(engine);
            args.push("--json");
            let v = json(&args);
            assert_eq!(component(&v, "autocast_weight_copies"), 0, "{engine:?} {n}");
            let per_gpu = v["per_gpu_bytes"].as_u64().unwrap();
            assert!(per_gpu < last, "{engine:?}: {n} GPUs need {per_gpu}, fewer GPUs {last}");
            last = per_gpu;
        }
    }
    // DeepSpeed's reference at 16 GPUs: 18 B/param / N = 16-bit parameters (2) + fp32 master
    // (4) + fp32 gradients (4) + Adam states (8). At the backward peak the gradient partition
    // is not yet full, so the other 14 B/param / N are what stays.
    let v = json(&[
        "estimate",
        "llama-2-13b",
        "--task",
        "train",
        "--precision",
        "mixed-bf16",
        "--gpu",
        "16xA100-80GB",
        "--zero",
        "3",
        "--json",
    ]);
    let states: u64 = ["weights", "master_weights", "optimizer_state"].iter().map(|c| component(&v, c)).sum();
    let reference = 13_015_864_320u64 * 14 / 16;
    assert!(states.abs_diff(reference) < reference / 20, "model states {states} vs DeepSpeed {reference}");
}

/// Web D1, issue item 9: QLoRA batch 8 × 2048 on a T4 is first offered a plan that keeps the
/// 2048-token samples (gradient checkpointing and a smaller micro-batch), not truncation.
#[test]
fn fit_offers_the_plan_that_keeps_the_sequence_length_first() {
    let v = json(&[
        "fit", "llama-7b", "--gpu", "T4", "--task", "train", "--method", "qlora", "--batch", "8", "--seq", "2048",
        "--json",
    ]);
    let plans = v["plans"].as_array().unwrap();
    let first = plans[0]["flags"].as_str().unwrap();
    assert!(!first.contains("--seq") && first.contains("--grad-ckpt"), "{first}");
    assert_eq!(plans[0]["workload"]["training"]["seq"], 2048);
}

/// Newcomer D18, web D3, issue item 7: a context past the model's position limit is warned
/// about beside the verdict, fit caps its limits at the limit, and rope_scaling extends it.
#[test]
fn contexts_beyond_the_position_limit_are_warned_and_capped() {
    let v = json(&["estimate", "gpt2", "--gpu", "T4", "--prompt", "4096", "--json"]);
    assert!(notes(&v).contains("beyond the model's position limit") && notes(&v).contains("1024"), "{}", notes(&v));
    let out = vramfit(&["estimate", "gpt2", "--gpu", "T4", "--prompt", "4096"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let verdict = text.lines().find(|l| l.starts_with("T4:")).expect("a verdict line");
    assert!(verdict.contains("beyond the model's position limit"), "{text}");
    let inside = json(&["estimate", "gpt2", "--gpu", "T4", "--prompt", "512", "--json"]);
    assert!(!notes(&inside).contains("position limit"));
    let f = json(&["fit", "llama-7b", "--prompt", "4000", "--gpu", "A100-80GB", "--dtype", "fp16", "--json"]);
    assert_eq!(f["limits"]["max_context"], 2048);
    assert!(notes(&f["as_asked"]).contains("beyond the model's position limit"));
    let t = json(&["estimate", "llama-7b", "--task", "train", "--seq", "8192", "--json"]);
    assert!(notes(&t).contains("--seq = 8192"), "{}", notes(&t));
}

/// Issue item 7: rope_scaling (YaRN factor 4 over 32,768 positions) extends the limit.
#[test]
fn rope_scaling_extends_the_position_limit() {
    let dir = std::env::temp_dir().join(format!("vramfit-rope-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = r#"{"model_type":"qwen2","hidden_size":1024,"intermediate_size":2816,"num_hidden_layers":2,
        "num_attention_heads":16,"num_key_value_heads":16,"vocab_size":1000,"max_position_embeddings":32768,
        "torch_dtype":"bfloat16","rope_scaling":{"type":"yarn","factor":4.0,"original_max_position_embeddings":32768}}"#;
    let path = dir.join("config.json");
    std::fs::write(&path, config).unwrap();
    let p = path.to_str().unwrap();
    let within = json(&["estimate", p, "--prompt", "100000", "--new", "1", "--json"]);
    assert!(!notes(&within).contains("position limit"), "{}", notes(&within));
    let beyond = json(&["estimate", p, "--prompt", "140000", "--new", "1", "--json"]);
    assert!(notes(&beyond).contains("131072 (32768 positions extended by rope_scaling)"), "{}", notes(&beyond));
    std::fs::remove_dir_all(&dir).ok();
}

/// Newcomer D7 D8 D9, web D4, issue item 6: layouts the engines refuse are refused with exit 2
/// and the rule; a pipeline split is not called tensor parallel.
#[test]
fn impossible_parallel_layouts_are_refused_with_the_rule() {
    for (args, flag, rule) in [
        (&["llama-7b", "--tp", "3", "--gpus", "3"][..], "--tp", "32 attention heads"),
        (&["gpt2", "--tp", "4096", "--gpus", "4096"][..], "--tp", "12 attention heads"),
        (&["deepseek-v3", "--tp", "3", "--gpus", "3"][..], "--tp", "128 attention heads"),
        (&["llama-7b", "--pp", "64", "--gpus", "64"][..], "--pp", "32 layers"),
        (&["llama-7b", "--ep", "2", "--gpus", "2"][..], "--ep", "no experts"),
        (&["mixtral-8x7b", "--ep", "3", "--gpus", "3"][..], "--ep", "8 experts"),
        (&["mixtral-8x7b", "--ep", "1000", "--gpus", "1000"][..], "--ep", "8 experts"),
    ] {
        let mut a = vec!["estimate"];
        a.extend(args);
        let e = super::stderr_of(&a);
        assert!(
            e.starts_with(&format!("error: {flag}:")) && e.contains(rule) && e.lines().count() == 1,
            "{args:?}: {e}"
        );
    }
    let out = vramfit(&["estimate", "llama-7b", "--pp", "2", "--gpus", "2", "--explain"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("tensor parallel") && text.contains("pipeline stages"), "{text}");
    assert!(json(&["estimate", "llama-2-70b", "--tp", "8", "--gpus", "8", "--json"])["total_bytes"].as_u64().is_some());
}

/// Newcomer D19, issue item 11: a merge in CPU RAM gets no GPU verdict; --ram judges it, and
/// --merge-on-gpu merges on (and is judged against) the GPU.
#[test]
fn a_cpu_merge_is_judged_against_ram_not_the_gpu() {
    let v = json(&["estimate", "llama-7b", "--task", "merge", "--gpu", "T4", "--json"]);
    assert!(v.get("fits").is_none(), "{v}");
    assert!(notes(&v).contains("--gpu is not judged"), "{}", notes(&v));
    let v = json(&["estimate", "llama-7b", "--task", "merge", "--gpu", "T4", "--ram", "16GB", "--json"]);
    assert_eq!(v["ram"]["fits"], Value::Bool(false));
    assert_eq!(v["ram"]["needed_bytes"], v["host_bytes"]);
    let v = json(&["estimate", "llama-7b", "--task", "merge", "--ram", "64GB", "--json"]);
    assert_eq!(v["ram"]["fits"], Value::Bool(true));
    let v = json(&["estimate", "llama-7b", "--task", "merge", "--merge-on-gpu", "--gpu", "T4", "--json"]);
    assert!(v["fits"].is_boolean());
    let e = super::stderr_of(&["estimate", "llama-7b", "--task", "merge", "--ram", "lots"]);
    assert!(e.starts_with("error: --ram:"), "{e}");
}

/// Newcomer D23, web D5, issue item 10: a GGUF quantization under transformers (which
/// dequantizes GGUF at load) is refused with a pointer to --runtime llama.cpp.
#[test]
fn a_gguf_scheme_under_transformers_is_refused() {
    let e = super::stderr_of(&["estimate", "llama-7b", "--quant", "q4_k_m"]);
    assert!(e.starts_with("error: --quant:") && e.contains("--runtime llama.cpp"), "{e}");
    let ok = json(&["estimate", "llama-7b", "--quant", "q4_k_m", "--runtime", "llama.cpp", "--json"]);
    assert!(ok["total_bytes"].as_u64().unwrap() < 6_000_000_000);
}

/// Newcomer D10, issue item 8: an estimate too large for 64 bits is an error naming the flag,
/// in the debug build too (no overflow panic), and no total is pinned at 16 EiB.
#[test]
fn overflowing_workloads_are_errors_naming_the_flag() {
    for args in [
        &["estimate", "llama-7b", "--task", "train", "--seq", "16777216", "--batch", "1048576"][..],
        &["estimate", "llama-3.1-405b", "--task", "train", "--batch", "1", "--seq", "16777216", "--attn", "eager"][..],
        &["estimate", "llama-7b", "--prompt", "16777216", "--batch", "1048576", "--new", "16777216"][..],
        &["fit", "llama-7b", "--gpu", "T4", "--task", "train", "--seq", "16777216", "--batch", "1048576"][..],
    ] {
        let e = super::stderr_of(args);
        assert!(
            (e.starts_with("error: --seq:") || e.starts_with("error: --prompt:") || e.starts_with("error: --batch:"))
                && e.contains("2^58"),
            "{args:?}: {e}"
        );
    }
}

/// Newcomer D3, issue item 4: `LlamaForSequenceClassification` (the original question's
/// class) has a score head of hidden × num_labels and no vocabulary logits; --head overrides
/// what config.json's architectures names.
#[test]
fn a_sequence_classifier_has_its_own_head() {
    let dir = std::env::temp_dir().join(format!("vramfit-seqcls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let catalog = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vramfit-core/data/configs/meta-llama__Llama-2-7b-hf.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(catalog).unwrap()).unwrap();
    config["architectures"] = serde_json::json!(["LlamaForSequenceClassification"]);
    config["num_labels"] = serde_json::json!(2);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let p = dir.to_str().unwrap();
    let train = |model: &str, extra: &[&str]| {
        let mut a = vec!["estimate", model, "--task", "train", "--method", "lora", "--json"];
        a.extend(extra);
        json(&a)
    };
    let cls = train(p, &[]);
    let lm = train("llama-2-7b", &[]);
    // The 32000 × 4096 head becomes 2 × 4096 (fp16).
    assert_eq!(component(&lm, "weights") - component(&cls, "weights"), (32_000 - 2) * 4096 * 2);
    assert_eq!(component(&cls, "logits_and_loss"), 0, "a classifier has no vocabulary logits");
    assert!(notes(&cls).contains("sequence-classification head"), "{}", notes(&cls));
    assert_eq!(train("llama-2-7b", &["--head", "sequence-classification"])["total_bytes"], cls["total_bytes"]);
    assert_eq!(train(p, &["--head", "causal-lm"])["total_bytes"], lm["total_bytes"]);
    let e = super::stderr_of(&["estimate", p]);
    assert!(e.starts_with("error: --task:") && e.contains("does not generate"), "{e}");
    let e = super::stderr_of(&["estimate", "llama-2-7b", "--head", "regression"]);
    assert!(e.starts_with("error: --head:"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Newcomer D28: clap's own errors are one line too (CLI.md), and under --json every error is
/// a JSON object with the flag to fix.
#[test]
fn errors_are_one_line_and_json_under_json() {
    for args in [
        &["estimate"][..],
        &["estimate", "llama-7b", "--bogus"][..],
        &["estimate", "llama-7b", "--json", "--markdown"][..],
    ] {
        let e = super::stderr_of(args);
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
    }
    let e = super::stderr_of(&["estimate", "llama-7b", "--batch", "0", "--json"]);
    let v: Value = serde_json::from_str(e.trim()).unwrap();
    assert_eq!(v["flag"], "--batch");
    assert!(v["error"].as_str().unwrap().starts_with("--batch:"));
}

/// Newcomer D20: a sweep whose every point fails exits 2 with the reason.
#[test]
fn a_sweep_with_no_point_exits_2() {
    let e = super::stderr_of(&["sweep", "t5-base", "--over", "batch"]);
    assert!(e.starts_with("error: --task:") && e.contains("every point"), "{e}");
    assert!(vramfit(&["sweep", "llama-7b", "--over", "batch", "--values", "1,2"]).status.success());
}

/// Newcomer D26: a GPU smaller than the reserve gives no GPU count (it printed the byte count
/// as one).
#[test]
fn a_gpu_smaller_than_the_reserve_has_no_gpu_count() {
    let v = json(&["fit", "llama-7b", "--gpu", "1MB", "--json"]);
    assert!(v["limits"]["min_gpus_lower_bound"].is_null(), "{}", v["limits"]);
}

/// Newcomer D21, D30, D32: encoder-decoder models are called so; --torch-dtype is --dtype; a
/// verdict that does not fit says the shortfall, as fit does.
#[test]
fn small_wording_fixes() {
    let e = super::stderr_of(&["estimate", "t5-base"]);
    assert!(e.contains("encoder-decoder"), "{e}");
    let e = super::stderr_of(&["estimate", "bert-base-uncased"]);
    assert!(e.contains("load and train"), "{e}");
    assert_eq!(
        json(&["estimate", "llama-7b", "--torch-dtype", "float32", "--json"])["total_bytes"],
        json(&["estimate", "llama-7b", "--dtype", "fp32", "--json"])["total_bytes"]
    );
    let out = vramfit(&["estimate", "llama-7b", "--gpu", "T4", "--dtype", "fp32"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("DOES NOT FIT (short by 11.45 GiB"), "{text}");
}

/// Newcomer D15: a value that is too large is told the upper bound, not "at least 1".
#[test]
fn range_errors_give_the_bound_that_was_crossed() {
    let e = super::stderr_of(&["estimate", "llama-7b", "--task", "train", "--grad-accum", "1048577"]);
    assert!(e.contains("between 1 and 1048576"), "{e}");
    let e = super::stderr_of(&["estimate", "llama-7b", "--nodes", "500000"]);
    assert!(e.contains("between 1 and 100000"), "{e}");
    let e = super::stderr_of(&["estimate", "llama-7b", "--tp", "4294967296"]);
    assert!(e.starts_with("error: --tp:") && e.contains("between 1 and 4096"), "{e}");
    // The count in --gpu NxNAME is refused under --gpu, with the same bound as --gpus.
    let e = super::stderr_of(&["estimate", "llama-7b", "--gpu", "100000xA100-80GB"]);
    assert!(e.starts_with("error: --gpu:") && e.contains("between 1 and 4096 per node"), "{e}");
    // A flag given by an alias is named as typed (llama.cpp's --ctx-size is --kv-prealloc).
    let e = super::stderr_of(&["estimate", "llama-7b", "--runtime", "llama.cpp", "--ctx-size", "100000000"]);
    assert!(e.starts_with("error: --ctx-size: must be at most"), "{e}");
}

/// Newcomer D16, D34: tensor parallelism is not described as a single GPU; a local path is
/// printed once.
#[test]
fn layout_notes_and_origins_say_it_once() {
    let v = json(&["estimate", "llama-2-70b", "--gpu", "8xA100-40GB", "--tp", "8", "--json"]);
    let n = notes(&v);
    assert!(n.contains("8 GPUs · TP 8") && !n.contains("single GPU"), "{n}");
    let dir = std::env::temp_dir().join(format!("vramfit-origin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let catalog = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vramfit-core/data/configs/meta-llama__Llama-2-7b-hf.json");
    std::fs::copy(catalog, dir.join("config.json")).unwrap();
    let p = dir.to_str().unwrap();
    let out = String::from_utf8(vramfit(&["estimate", p]).stdout).unwrap();
    assert_eq!(out.lines().next().unwrap().matches(p).count(), 1, "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Newcomer D29, D30: shell completions, and examples in the help of estimate, fit and sweep.
#[test]
fn completions_and_examples_in_help() {
    for shell in ["bash", "zsh", "fish"] {
        let out = vramfit(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("vramfit") && text.contains("runtime-version"), "{shell}");
    }
    for cmd in ["estimate", "fit", "sweep"] {
        let help = String::from_utf8(vramfit(&[cmd, "--help"]).stdout).unwrap();
        assert!(help.contains("Examples:") && help.contains(&format!("vramfit {cmd} ")), "{cmd}: {help}");
    }
}

fn notes_of(args: &[&str]) -> Vec<String> {
    let mut a = args.to_vec();
    a.push("--json");
    json(&a)["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// Newcomer D17: a flag that changes nothing under the workload that runs is named in a note
/// that says why; a value that cannot mean anything is an error naming the flag.
#[test]
fn contradictory_flags_are_noted_or_refused() {
    let has = |args: &[&str], want: &str| {
        let notes = notes_of(args);
        assert!(notes.iter().any(|n| n.starts_with(want)), "{args:?}: no note starting {want:?} in {notes:?}");
    };
    has(&["estimate", "llama-7b", "--task", "train", "--lora-rank", "16"], "--lora-rank: ignored: --method full");
    has(
        &["estimate", "llama-7b", "--task", "generate", "--grad-ckpt", "--optimizer", "sgd"],
        "--grad-ckpt, --optimizer are training settings",
    );
    has(
        &["estimate", "llama-7b", "--task", "train", "--device-map", "--gpus", "2"],
        "--device-map: training on several GPUs is estimated as DDP",
    );
    has(&["estimate", "llama-7b", "--sequence-parallel"], "--sequence-parallel: no effect without --tp");
    has(&["estimate", "llama-7b", "--gpu", "4xA100-80GB", "--gpus", "2"], "--gpus 2 overrides the 4 in --gpu");
    has(
        &["estimate", "llama-7b", "--task", "train", "--precision", "fp32", "--dtype", "fp16"],
        "--dtype fp16: a full fine-tune under --precision fp32 keeps its weights in fp32",
    );
    has(
        &["fit", "llama-7b", "--gpu", "T4", "--task", "train", "--method", "qlora", "--virtual-tokens", "50"],
        "--virtual-tokens: ignored: --method qlora",
    );
    // Nothing is said when nothing was ignored.
    assert!(notes_of(&["estimate", "llama-7b", "--task", "train", "--method", "lora", "--lora-rank", "16"])
        .iter()
        .all(|n| !n.contains("ignored")));
    // An AWQ group must hold whole input features; GPTQ keeps a partial last group.
    assert!(vramfit(&["estimate", "llama-7b", "--quant", "gptq-4bit", "--group-size", "7"]).status.success());
    // Values that cannot mean anything.
    for (args, want) in [
        (
            &["estimate", "llama-7b", "--quant", "awq-4bit", "--group-size", "7"][..],
            "error: --group-size: 7 does not divide",
        ),
        (
            &["estimate", "llama-7b", "--kv-prealloc", "0", "--runtime", "litgpt"][..],
            "error: --kv-prealloc: must be at least 1",
        ),
        (
            &["estimate", "llama-7b", "--ctx-size", "0", "--runtime", "llama.cpp"][..],
            "error: --ctx-size: must be at least 1",
        ),
        (
            &["estimate", "gpt2", "--task", "train", "--method", "prompt-tuning", "--virtual-tokens", "0"][..],
            "error: --virtual-tokens: must be between 1 and",
        ),
        (
            &["estimate", "gpt2", "--task", "train", "--method", "prompt-tuning", "--virtual-tokens", "99999999999"][..],
            "error: --virtual-tokens: must be between 1 and",
        ),
    ] {
        let e = super::stderr_of(args);
        assert!(e.starts_with(want), "{args:?}: {e}");
    }
}

/// Newcomer D13: a network error prints its URL once, says what to try, and a Hub id one
/// revision or `-hf` away from a catalog alias names the catalog entry.
#[test]
fn hub_errors_say_what_to_try_and_name_the_catalog_entry() {
    let home = crate::io_util::tmp("d13-home");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vramfit"))
            .args(args)
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_TOKEN")
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env("HF_HOME", &home)
            .env("HF_HUB_DOWNLOAD_TIMEOUT", "2")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    for (id, catalog) in
        [("Qwen/Qwen3-8B@main", Some("qwen3-8b")), ("meta-llama/Llama-2-7b", Some("llama-2-7b")), ("foo/bar", None)]
    {
        let e = run(&["estimate", id]);
        assert_eq!(e.lines().count(), 1, "{e}");
        let url = e.split_whitespace().find(|w| w.starts_with("http://")).unwrap().trim_end_matches(':');
        assert_eq!(e.matches(url).count(), 1, "URL printed more than once: {e}");
        assert!(e.contains("HF_HUB_OFFLINE=1") && e.contains("HF_ENDPOINT") && e.contains("local directory"), "{e}");
        match catalog {
            Some(c) => assert!(e.contains(&format!("did you mean {c} from the built-in catalog")), "{e}"),
            None => assert!(!e.contains("did you mean"), "{e}"),
        }
    }
}

/// Newcomer D25: no suggestion that has nothing in common with what was typed; sizes that are
/// not quite sizes say what is wrong.
#[test]
fn suggestions_are_related_to_what_was_typed() {
    for m in ["foo", ""] {
        let e = super::stderr_of(&["estimate", m]);
        assert!(!e.contains("did you mean") && e.contains("`vramfit models` lists them"), "{m:?}: {e}");
    }
    for (gpu, want) in [
        ("24", "\"24\" has no unit: write 24GB or 24GiB"),
        ("4x", "no GPU after the count"),
        ("-5GB", "memory size must be positive"),
        ("99999999999999999999GB", "too large"),
    ] {
        let e = super::stderr_of(&["estimate", "llama-7b", &format!("--gpu={gpu}")]);
        assert!(e.starts_with("error: --gpu:") && e.contains(want) && !e.contains("did you mean"), "{gpu}: {e}");
    }
}

/// Newcomer D35: the reserve is 5 % of the usable bytes exactly (it divided before multiplying
/// and came out 3 bytes short on a T4).
#[test]
fn the_reserve_is_five_percent_exactly() {
    let v = json(&["fit", "llama-7b", "--gpu", "T4", "--json"]);
    assert_eq!(v["gpu"]["usable_bytes"], 16_106_127_360u64);
    assert_eq!(v["gpu"]["reserve_bytes"], 805_306_368u64);
    assert_eq!(v["as_asked"]["reserve_bytes"], 805_306_368u64);
}

/// Newcomer D36: a PEFT adapter directory is read for its base model, method, rank and
/// targets; flags the user gives still win.
#[test]
fn a_peft_adapter_directory_is_read_for_its_base_and_settings() {
    let dir = crate::io_util::tmp("d36-adapter");
    std::fs::write(
        dir.join("adapter_config.json"),
        r#"{"base_model_name_or_path": "meta-llama/Llama-2-7b-hf", "peft_type": "LORA", "r": 16, "lora_alpha": 32,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "task_type": "CAUSAL_LM"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("adapter_model.safetensors"), b"").unwrap();
    let d = dir.to_str().unwrap();
    let from_dir = json(&["estimate", d, "--task", "train", "--json"]);
    // The same workload spelled out by hand, at a LoRA rank.
    let by_hand = |rank: &str| {
        json(&[
            "estimate",
            "llama-2-7b",
            "--task",
            "train",
            "--method",
            "lora",
            "--lora-rank",
            rank,
            "--lora-targets",
            "q_proj,k_proj,v_proj,o_proj",
            "--json",
        ])
    };
    assert_eq!(from_dir["total_bytes"], by_hand("16")["total_bytes"]);
    let notes = from_dir["notes"].to_string();
    assert!(
        notes.contains("PEFT LORA adapter") && notes.contains("r=16") && notes.contains("meta-llama/Llama-2-7b-hf"),
        "{notes}"
    );
    // A flag given on the command line wins over the adapter's value.
    let rank_64 = json(&["estimate", d, "--task", "train", "--lora-rank", "64", "--json"]);

    assert_eq!(rank_64["total_bytes"], by_hand("64")["total_bytes"]);
    // No base model: one line saying what to pass instead.
    let bare = crate::io_util::tmp("d36-bare");
    std::fs::write(bare.join("adapter_config.json"), r#"{"peft_type": "LORA", "r": 8}"#).unwrap();
    let e = super::stderr_of(&["estimate", bare.to_str().unwrap()]);
    assert!(e.contains("no base_model_name_or_path") && e.lines().count() == 1, "{e}");
    // An adapter whose base is itself is refused, not followed forever.
    let selfish = crate::io_util::tmp("d36-self");
    let s = selfish.to_str().unwrap();
    std::fs::write(selfish.join("adapter_config.json"), format!(r#"{{"base_model_name_or_path": "{s}"}}"#)).unwrap();
    let e = super::stderr_of(&["estimate", s]);
    assert!(e.contains("is another adapter"), "{e}");
}

/// Newcomer D24: the README's examples run from a fresh clone. Each `vramfit ...` line of its
/// code blocks runs from the checkout and exits 0, except those that need what a clone does
/// not hold, which must say so: a file of the user's (`./my-model/`), the network (a Hub id at
/// a revision, a GGUF repo) or the shared folder beside the checkout (`../shared`).
#[test]
fn the_readme_examples_run_from_a_clone() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let out_dir = crate::io_util::tmp("readme");
    let mut ran = 0;
    let mut lines = readme.lines().peekable();
    let mut in_code = false;
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let Some(cmd) = line.strip_prefix("vramfit ").filter(|_| in_code) else { continue };
        let (cmd, comment) = cmd.split_once(" #").unwrap_or((cmd, ""));
        let mut cmd = cmd.trim().to_string();
        // A trailing backslash continues on the next line.
        while cmd.ends_with('\\') {
            cmd.pop();
            let next = lines.next().unwrap();
            let (more, _) = next.split_once(" #").unwrap_or((next, ""));
            cmd.push(' ');
            cmd.push_str(more.trim());
        }
        if cmd.contains("../shared") {
            assert!(comment.contains("shared folder"), "README example needs ../shared without saying so: {line}");
            continue;
        }
        let args: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        let needs_file = args.iter().any(|a| a.starts_with("./"));
        let needs_hub = args.iter().any(|a| a.contains('@') || a.to_ascii_lowercase().ends_with("-gguf"));
        if needs_file || needs_hub || cmd.contains(';') || cmd.contains('>') {
            continue;
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vramfit"))
            .args(&args)
            .current_dir(&out_dir)
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", out_dir.join("home"))
            .output()
            .unwrap();
        let args_in_root: Vec<String> = args
            .iter()
            .map(|a| if a.starts_with("validation/") { root.join(a).display().to_string() } else { a.clone() })
            .collect();
        let out = if out.status.success() {
            out
        } else {
            std::process::Command::new(env!("CARGO_BIN_EXE_vramfit"))
                .args(&args_in_root)
                .current_dir(&out_dir)
                .env("HF_HUB_OFFLINE", "1")
                .env("HF_HOME", out_dir.join("home"))
                .output()
                .unwrap()
        };
        assert!(
            out.status.success(),
            "README example fails offline from a clone: vramfit {cmd}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran > 30, "only {ran} README examples found");
}

/// Newcomer D22 and the issue's "Devices that are not CUDA": an Apple GPU gets no CUDA
/// context and its working set (raised with --wired-limit-mb, as iogpu.wired_limit_mb does);
/// an AMD GPU a ROCm context; plans on Metal leave out bitsandbytes and CPU offload.
#[test]
fn devices_that_are_not_cuda_are_modelled_by_their_stack() {
    let names = |v: &Value| -> Vec<String> {
        v["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
    };
    let cuda = json(&["estimate", "llama-7b", "--gpu", "A100-80GB", "--json"]);
    let metal = json(&["estimate", "llama-7b", "--gpu", "M2-Max-96GB", "--json"]);
    let rocm = json(&["estimate", "llama-7b", "--gpu", "MI300X", "--json"]);
    assert!(names(&cuda).contains(&"cuda_context".to_string()));
    assert!(!names(&metal).contains(&"cuda_context".to_string()), "{:?}", names(&metal));
    assert!(names(&rocm).contains(&"rocm_context".to_string()), "{:?}", names(&rocm));
    let total = |v: &Value| v["total_bytes"].as_u64().unwrap();
    assert_eq!(total(&cuda) - total(&metal), (512 + 32) << 20, "Metal drops exactly the CUDA context");
    assert_eq!(total(&cuda), total(&rocm));
    let table = String::from_utf8(vramfit(&["estimate", "llama-7b", "--gpu", "M2-Max-96GB"]).stdout).unwrap();
    assert!(table.contains("device    (Metal working set: what must fit)") && !table.contains("nvidia-smi"), "{table}");
    // The working set follows iogpu.wired_limit_mb.
    let raised = json(&["estimate", "llama-7b", "--gpu", "M2-Max-96GB", "--wired-limit-mb", "90112", "--json"]);
    assert_eq!(raised["headroom_bytes"].as_i64().unwrap() - metal["headroom_bytes"].as_i64().unwrap(), 16 << 30);
    let e = super::stderr_of(&["estimate", "llama-7b", "--gpu", "T4", "--wired-limit-mb", "9000"]);
    assert!(e.starts_with("error: --wired-limit-mb:"), "{e}");
    // Plans on an M1 never use bitsandbytes (int8, nf4, QLoRA, 8-bit optimizers) or CPU offload.
    for task in ["generate", "train"] {
        let fit = json(&["fit", "llama-3.2-1b", "--gpu", "M1-16GB", "--task", task, "--all", "--json"]);
        let plans: Vec<String> = fit["plans"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| [p["flags"].to_string(), p["stretch"]["flags"].to_string()])
            .collect();
        let plans = plans.join(" ");
        for bnb in ["int8", "nf4", "qlora", "8bit", "paged", "--offload", "--zero"] {
            assert!(!plans.contains(bnb), "{task}: a {bnb} plan on Metal: {plans}");
        }
    }
    for (args, flag) in [
        (&["--quant", "nf4"][..], "--quant"),
        (&["--task", "train", "--method", "qlora"][..], "--method"),
        (&["--task", "train", "--optimizer", "adamw-8bit"][..], "--optimizer"),
    ] {
        let mut a = vec!["estimate", "llama-7b", "--gpu", "M2-Max-96GB"];
        a.extend_from_slice(args);
        let e = super::stderr_of(&a);
        assert!(e.starts_with(&format!("error: {flag}:")) && e.contains("Metal"), "{e}");
    }
}
