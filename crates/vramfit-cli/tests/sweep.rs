//! `vramfit sweep`: the terminal chart, SVG, CSV and JSON, snapshot-tested.

use super::{json, stderr_of, vramfit};
use serde_json::Value;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vramfit-sweep-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ARGS: [&str; 10] =
    ["sweep", "llama-7b", "--over", "batch", "--values", "1,2,4,8,16", "--dtype", "fp16", "--gpu", "T4"];

#[test]
fn text_chart_snapshot() {
    let out = vramfit(&ARGS);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colors when stdout is not a terminal");
    insta::assert_snapshot!(text);
}

#[test]
fn colors_when_asked() {
    let mut args = ARGS.to_vec();
    args.extend(["--color", "always"]);
    let text = String::from_utf8(vramfit(&args).stdout).unwrap();
    assert!(text.contains("\x1b[34m"), "{text}");
}

#[test]
fn svg_snapshot() {
    let dir = scratch("svg");
    let path = dir.join("chart.svg");
    let mut args = ARGS.to_vec();
    args.extend(["--svg", path.to_str().unwrap()]);
    let out = vramfit(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    insta::assert_snapshot!(svg);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn csv_has_a_row_per_point_and_a_column_per_component() {
    let dir = scratch("csv");
    let path = dir.join("points.csv");
    let out = vramfit(&[
        "sweep",
        "llama-7b",
        "--over",
        "seq",
        "--task",
        "train",
        "--method",
        "qlora",
        "--values",
        "256,512,1024",
        "--csv",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[0].starts_with("seq,weights,") && lines[0].ends_with("device_bytes,host_bytes,peak_phase,fits,error")
    );
    let cols = lines[0].split(',').count();
    assert!(lines[1..].iter().all(|l| l.split(',').count() == cols), "{csv}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sweep_json_points() {
    let v = json(&["sweep", "llama-7b", "--over", "context", "--values", "100,1024,2048", "--gpu", "T4", "--json"]);
    assert_eq!(v["over"], "context");
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    assert!(points[0]["error"].as_str().unwrap().contains("new tokens"), "100 tokens leave no prompt");
    assert!(points[1]["total_bytes"].as_u64().unwrap() < points[2]["total_bytes"].as_u64().unwrap());
    assert!(points[1].get("fits").is_some() && points[1]["components"].as_array().unwrap().len() > 3);
    assert_eq!(v["gpu"]["label"], "T4");
    // Without --values and with --gpu, doubling goes until past the GPU.
    let v = json(&["sweep", "llama-7b", "--over", "batch", "--dtype", "fp16", "--gpu", "T4", "--json"]);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.last().unwrap()["fits"], Value::Bool(false));
    assert!(points[..points.len() - 1]
        .iter()
        .all(|p| p["total_bytes"].as_u64().unwrap() <= v["gpu"]["usable_bytes"].as_u64().unwrap()));
}

#[test]
fn bad_sweep_input_exits_2() {
    assert!(stderr_of(&["sweep", "llama-7b", "--over", "width"]).contains("--over"));
    assert!(stderr_of(&["sweep", "llama-7b", "--over", "batch", "--task", "load"]).contains("--task"));
    assert!(stderr_of(&["sweep", "llama-7b", "--over", "batch", "--values", "0,1"]).contains("--values"));
    assert!(stderr_of(&["sweep", "llama-7b", "--over", "batch", "--color", "pink"]).contains("--color"));
    assert!(stderr_of(&["sweep", "llama-7b", "--over", "batch", "--svg", "/nonexistent/dir/x.svg"]).contains("--svg"));
}

/// A sweep on a GPU starts where `estimate` and `fit` start on it (the core's `fit::on_gpu`):
/// each point is the estimate of that setting on that GPU. A vLLM sweep on an A100 used to
/// leave the engine's device out and report a 35 GB peak where `estimate` says 77.7 GB (the
/// engine takes its `gpu_memory_utilization` share of the card); bf16 on a T4 starts from fp16.
#[test]
fn each_point_is_the_estimate_on_that_gpu() {
    for (base, over, flag, values) in [
        (&["llama-3.1-8b", "--runtime", "vllm", "--gpu", "A100-80GB"][..], "prompt", "--prompt", ["4096", "8192"]),
        (&["llama-3.1-8b", "--gpu", "T4"][..], "batch", "--batch", ["1", "2"]),
    ] {
        let list = values.join(",");
        let mut args = vec!["sweep"];
        args.extend(base);
        args.extend(["--over", over, "--values", &list, "--json"]);
        let sweep = json(&args);
        for (i, v) in values.iter().enumerate() {
            let mut e = vec!["estimate"];
            e.extend(base);
            e.extend([flag, v, "--json"]);
            let est = json(&e);
            assert_eq!(sweep["points"][i]["total_bytes"], est["total_bytes"], "{args:?} at {v}");
            assert_eq!(sweep["workload"]["dtype"], est["workload"]["dtype"], "{args:?}");
        }
    }
}
