//! `vramfit fit`: the original question answered, JSON as CLI.md fixes it, honest about
//! multi-GPU, bad input exits 2.

use super::{json, stderr_of, vramfit};
use serde_json::Value;

fn stdout(args: &[&str]) -> String {
    let out = vramfit(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_original_question_inference() {
    // The seed question ran transformers 4.x, which loads fp32 without torch_dtype.
    let out = stdout(&["fit", "llama-7b", "--gpu", "T4", "--runtime-version", "4.46"]);
    insta::assert_snapshot!(out);
}

#[test]
fn the_original_question_training() {
    let out = stdout(&["fit", "llama-7b", "--gpu", "T4", "--task", "train"]);
    insta::assert_snapshot!(out);
}

#[test]
fn fit_json_has_the_documented_fields() {
    let v = json(&["fit", "llama-7b", "--gpu", "T4", "--runtime-version", "4.46", "--json"]);
    assert_eq!(v["as_asked"]["fits"], Value::Bool(false));
    assert!(v["as_asked"]["per_gpu_bytes"].as_u64().unwrap() > 27_000_000_000);
    let plans = v["plans"].as_array().unwrap();
    assert!(plans.len() >= 3);
    for p in plans {
        for key in ["fits", "per_gpu_bytes", "headroom_bytes", "changes", "cost", "limits", "flags"] {
            assert!(p.get(key).is_some(), "plan lacks {key}: {p}");
        }
        assert_eq!(p["fits"], Value::Bool(true));
        for c in p["changes"].as_array().unwrap() {
            for key in ["lever", "flag", "description", "costs"] {
                assert!(c.get(key).is_some(), "change lacks {key}: {c}");
            }
        }
    }
    assert_eq!(plans[0]["flags"], "--dtype fp16");
    assert_eq!(plans[0]["limits"]["max_context_batch"], 1);
    assert!(plans[0]["limits"]["max_context"].as_u64().unwrap() >= 768);
    let limits = &v["limits"];
    for key in ["max_batch", "max_context", "max_concurrent_sequences", "min_gpus", "gpus_that_fit"] {
        assert!(limits.get(key).is_some(), "limits lack {key}");
    }
    assert!(!limits["gpus_that_fit"].as_array().unwrap().is_empty());
}

#[test]
fn training_plans_are_lora_and_qlora() {
    let v = json(&["fit", "llama-7b", "--gpu", "T4", "--task", "train", "--json"]);
    assert_eq!(v["as_asked"]["fits"], Value::Bool(false));
    let flags: Vec<&str> = v["plans"].as_array().unwrap().iter().map(|p| p["flags"].as_str().unwrap()).collect();
    assert!(flags.iter().any(|f| f.contains("--method lora")), "{flags:?}");
    assert!(flags.iter().any(|f| f.contains("--method qlora")), "{flags:?}");
    for p in v["plans"].as_array().unwrap() {
        assert!(p["limits"]["max_batch"].as_u64().unwrap() >= 1);
        assert!(p["limits"]["max_context"].as_u64().is_some());
    }
}

/// "13B fine-tune OOMs on 4×A100": DDP (the default with several GPUs) does not fit; sharding
/// plans do, and say what they cost.
#[test]
fn thirteen_b_on_four_a100s_gets_sharding_plans() {
    let out = stdout(&["fit", "llama-2-13b", "--gpu", "4xA100-80GB", "--task", "train"]);
    assert!(out.contains("DDP") && out.contains("DOES NOT FIT"), "{out}");
    let v = json(&["fit", "llama-2-13b", "--gpu", "4xA100-80GB", "--task", "train", "--json"]);
    assert_eq!(v["as_asked"]["fits"], Value::Bool(false));
    let flags: Vec<&str> = v["plans"].as_array().unwrap().iter().map(|p| p["flags"].as_str().unwrap()).collect();
    assert!(flags.iter().any(|f| f.contains("--fsdp full") || f.contains("--zero 3")), "{flags:?}");
    // Full fine-tuning with sharding ranks before switching to adapters.
    assert!(!flags[0].contains("--method"), "{flags:?}");
    assert_eq!(v["multi_gpu_not_modelled"], Value::Bool(false));
}

#[test]
fn a_fitting_workload_says_so_and_all_lists_alternatives() {
    let out = stdout(&["fit", "llama-7b", "--gpu", "A100-80GB", "--dtype", "fp16"]);
    assert!(out.contains("FITS") && out.contains("--all"), "{out}");
    let v = json(&["fit", "llama-7b", "--gpu", "A100-80GB", "--dtype", "fp16", "--all", "--json"]);
    assert_eq!(v["as_asked"]["fits"], Value::Bool(true));
    assert!(!v["plans"].as_array().unwrap().is_empty());
}

#[test]
fn bad_fit_input_exits_2() {
    assert!(stderr_of(&["fit", "llama-7b", "--gpu", "T5"]).contains("--gpu"));
    assert!(stderr_of(&["fit", "llama-7b"]).contains("--gpu"));
    assert!(stderr_of(&["fit", "llama-7b", "--gpu", "T4", "--dtype", "bf16"]).contains("bf16"));
    assert!(stderr_of(&["fit", "llama-7b", "--gpu", "T4", "--attn", "flash"]).contains("--attn"));
    assert!(stderr_of(&["fit", "llama-7b", "--gpu", "T4", "--batch", "0"]).contains("--batch"));
}
