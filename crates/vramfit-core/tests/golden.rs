//! The golden grid: every number the core produces on a wide, seeded grid of workloads,
//! frozen in `tests/golden/grid.tsv`.
//!
//! Each line is one request (an `estimate` or a `fit`, through the same request module the CLI
//! and the page use), the settings that differ from the defaults, the headline number (device
//! bytes, or the error's one line), and a 64-bit FNV-1a digest of the whole JSON report, so a
//! change anywhere in any component, formula text, note, plan or limit shows up as a changed
//! line. A restructuring must leave this file byte-identical; a deliberate change of a number
//! regenerates it in its own commit that says which lines moved and why:
//!
//! ```sh
//! VRAMFIT_BLESS=1 cargo test -p vramfit-core --test golden
//! ```
//!
//! A change of formula text alone moves digests but no number: dump the reports before and
//! after (`VRAMFIT_GOLDEN_DUMP`) and `scripts/only-formulas-moved.py` shows that the headline
//! bytes and every report with its formula strings blanked are unchanged.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use vramfit_core::catalog;
use vramfit_core::request::{EstimateRequest, WorkloadRequest};
use vramfit_core::Task;

/// Estimates and fits in the grid (each at least 2,000).
const ESTIMATES: usize = 2400;
const FITS: usize = 2000;
const SEED: u64 = 0x005e_ed0f_9a1d;

/// splitmix64: a small seeded generator, so the grid is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

// Reads as the request field it fills.
#[allow(clippy::unnecessary_wraps)]
fn some<T: std::str::FromStr>(s: &str) -> Option<T>
where
    T::Err: std::fmt::Debug,
{
    Some(s.parse().expect("a name the request accepts"))
}

/// The catalog models when the grid was recorded, in catalog order. Frozen so that adding a
/// catalog model does not reshuffle every line; models added later are appended to
/// [`LATER_MODELS`] and covered by lines after the original grid.
const GRID_MODELS: &[&str] = &[
    "llama-7b",
    "llama-13b",
    "llama-30b",
    "llama-65b",
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
    "llama-3-8b",
    "llama-3-70b",
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.1-405b",
    "llama-3.2-1b",
    "llama-3.2-3b",
    "llama-3.3-70b",
    "codellama-7b",
    "codellama-34b",
    "tinyllama-1.1b",
    "smollm2-1.7b",
    "mistral-7b-v0.1",
    "mistral-7b-v0.3",
    "mistral-nemo-12b",
    "mixtral-8x7b",
    "mixtral-8x22b",
    "qwen2.5-0.5b",
    "qwen2.5-1.5b",
    "qwen2.5-3b",
    "qwen2.5-7b",
    "qwen2.5-14b",
    "qwen2.5-32b",
    "qwen2.5-72b",
    "qwen3-0.6b",
    "qwen3-1.7b",
    "qwen3-8b",
    "qwen3-32b",
    "qwen3-4b",
    "qwen3-14b",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "gemma-2b",
    "gemma-7b",
    "gemma-2-2b",
    "gemma-2-9b",
    "gemma-2-27b",
    "gemma-3-1b",
    "gemma-3-4b",
    "gemma-3-12b",
    "gemma-3-27b",
    "phi-2",
    "phi-3-mini-4k",
    "phi-3-medium-4k",
    "phi-3.5-mini",
    "phi-4",
    "falcon-7b",
    "falcon-40b",
    "falcon-180b",
    "deepseek-v3",
    "deepseek-v2-lite",
    "gpt2",
    "gpt2-medium",
    "gpt2-large",
    "gpt2-xl",
    "gpt-neox-20b",
    "pythia-1.4b",
    "pythia-6.9b",
    "starcoder",
    "starcoderbase",
    "octocoder",
    "bloom-560m",
    "bloomz-7b1",
    "opt-125m",
    "opt-1.3b",
    "opt-6.7b",
    "opt-13b",
    "opt-30b",
    "t5-base",
    "flan-t5-xl",
    "bert-base-uncased",
    "bert-large-uncased",
];
/// Catalog models added after the grid was recorded (each adds lines at the end).
const LATER_MODELS: &[&str] = &["qwen3-next-80b-a3b", "qwen3.6-35b-a3b", "qwen3.5-397b-a17b"];

const GPUS: &[&str] = &[
    "T4",
    "A100-80GB",
    "A100-40GB",
    "H100-SXM",
    "RTX-4090",
    "RTX-3060-12GB",
    "V100-16GB",
    "L4",
    "24GiB",
    "16GB",
    "2xA100-80GB",
    "4xA100-80GB",
    "8xH100-SXM",
    "2xRTX-4090",
    "4xT4",
];

/// One random workload: the task first, then the settings that task reads, so most requests
/// are valid and every lever is reached.
fn workload(r: &mut Rng) -> WorkloadRequest {
    let mut w = WorkloadRequest::default();
    let task = r.pick(&["generate", "generate", "prefill", "load", "train", "train", "train", "merge"]);
    w.task = task.parse().unwrap();
    w.batch = r.pick(&[1, 1, 2, 4, 8, 16, 64]);
    w.attn = r.pick(&["sdpa", "sdpa", "eager", "flash"]).parse().unwrap();
    if r.chance(40) {
        w.dtype = r.pick(&[some("fp32"), some("fp16"), some("bf16"), some("fp8")]);
    }
    match task {
        "train" => {
            w.seq = r.pick(&[128, 512, 1024, 2048, 4096]);
            w.method = r
                .pick(&[
                    "full",
                    "full",
                    "lora",
                    "lora",
                    "qlora",
                    "dora",
                    "ia3",
                    "prompt-tuning",
                    "prefix-tuning",
                    "adapter",
                    "adapter-v2",
                ])
                .parse()
                .unwrap();
            w.runtime = r.pick(&[None, None, some("transformers"), some("torchtune"), some("litgpt")]);
            if r.chance(40) {
                w.precision = r.pick(&[
                    some("fp32"),
                    some("mixed-fp16"),
                    some("mixed-bf16"),
                    some("pure-bf16"),
                    some("pure-fp16"),
                ]);
            }
            if r.chance(50) {
                w.optimizer = r.pick(&[
                    some("adamw"),
                    some("adamw-fused"),
                    some("adamw-8bit"),
                    some("paged-adamw"),
                    some("paged-adamw-8bit"),
                    some("adafactor"),
                    some("sgd"),
                    some("sgd-momentum"),
                    some("lion"),
                    some("lion-8bit"),
                ]);
            }
            w.grad_ckpt = r.chance(40);
            w.grad_accum = r.pick(&[1, 1, 4]);
            w.lora_rank = r.pick(&[8, 16, 64]);
            if r.chance(30) {
                w.lora_targets = vec!["all-linear".into()];
            }
            w.chunked_ce = r.chance(20);
            w.optimizer_in_backward = r.chance(10);
            w.activation_offload = r.chance(10);
            w.compile = r.chance(10);
            if r.chance(35) {
                w.gpus = Some(r.pick(&[2, 4, 8]));
                match r.below(6) {
                    0 => w.zero = Some(r.pick(&[0, 1, 2, 3])),
                    1 => w.fsdp = r.pick(&[some("full"), some("grad-op"), some("hybrid")]),
                    2 => w.tp = r.pick(&[2, 4]),
                    3 => w.pp = r.pick(&[2, 4]),
                    4 => {
                        w.zero = Some(3);
                        w.offload = some("cpu");
                        w.offload_params = r.chance(50);
                    }
                    _ => w.ep = 2,
                }
            }
        }
        "merge" => w.merge_on_gpu = r.chance(30),
        _ => {
            w.prompt = r.pick(&[16, 128, 512, 2048, 8192]);
            w.new_tokens = r.pick(&[0, 1, 64, 256, 1024]);
            if r.chance(30) {
                w.quant = r.pick(&[
                    some("int8"),
                    some("nf4"),
                    some("nf4-dq"),
                    some("fp4"),
                    some("gptq-4bit"),
                    some("awq-4bit"),
                    some("fp8"),
                ]);
            }
            if r.chance(20) {
                w.kv_dtype = r.pick(&[some("fp16"), some("fp8"), some("fp32")]);
            }
            match r.below(10) {
                0 => {
                    w.runtime = some("litgpt");
                    w.kv_prealloc = r.pick(&[None, Some(4096)]);
                }
                1 | 2 => {
                    w.runtime = some("llama.cpp");
                    w.quant = r.pick(&[None, some("q4_k_m"), some("q8_0"), some("q5_k_m"), some("q4_0")]);
                    w.kv_dtype = r.pick(&[None, some("q8_0"), some("q4_0")]);
                    w.ngl = r.pick(&[None, Some(0), Some(10), Some(20)]);
                    w.ubatch_size = r.pick(&[None, Some(128)]);
                    w.kv_prealloc = r.pick(&[None, Some(8192)]);
                }
                3 => w.runtime_version = r.pick(&[some("4.31"), some("4.36"), some("4.44"), some("4.48")]),
                4 => {
                    w.gpus = Some(r.pick(&[2, 4, 8]));
                    if r.chance(50) {
                        w.tp = r.pick(&[2, 4, 8]);
                    } else {
                        w.device_map = true;
                    }
                }
                _ => {}
            }
        }
    }
    w
}

/// The settings that differ from the defaults, as `key=value` in the JSON's key order.
fn settings(w: &WorkloadRequest) -> String {
    let got = serde_json::to_value(w).unwrap();
    let base = serde_json::to_value(WorkloadRequest::default()).unwrap();
    let (Value::Object(got), Value::Object(base)) = (got, base) else { unreachable!() };
    let mut out = Vec::new();
    for (k, v) in &got {
        if base.get(k) != Some(v) {
            out.push(format!("{k}={}", v.to_string().trim_matches('"')));
        }
    }
    out.join(" ")
}

/// FNV-1a, 64 bits: stable across platforms and Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// With `VRAMFIT_GOLDEN_DUMP=FILE`, every request's whole JSON (or error) is appended to FILE,
/// one line each in grid order, so a re-record can be compared key by key with the code
/// before it (the grid itself keeps only digests).
fn dump(result: &vramfit_core::Result<Value>) {
    use std::io::Write as _;
    if let Some(path) = std::env::var_os("VRAMFIT_GOLDEN_DUMP") {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("dump file");
        let line = match result {
            Ok(v) => v.to_string(),
            Err(e) => format!("error: {e}"),
        };
        writeln!(f, "{line}").expect("dump write");
    }
}

fn outcome(result: vramfit_core::Result<Value>, headline: impl Fn(&Value) -> String) -> String {
    dump(&result);
    match result {
        Ok(v) => format!("{}\t{:016x}", headline(&v), fnv1a(v.to_string().as_bytes())),
        Err(e) => format!("error: {e}\t-"),
    }
}

/// One grid line: `label`, the request kind, model, GPU, the settings that differ from the
/// defaults, the headline and the digest of the whole JSON.
fn line(label: &str, fit: bool, model: &str, gpu: Option<String>, w: WorkloadRequest) -> String {
    let settings = settings(&w);
    let req = EstimateRequest {
        model: model.into(),
        config: None,
        origin: None,
        bytes_transferred: 0,
        gpu: gpu.clone(),
        ram: None,
        workload: w,
    };
    let result = if fit {
        outcome(req.fit(), |v| {
            let plans = v["plans"].as_array().map_or(0, Vec::len);
            format!("{} plans={plans}", v["as_asked"]["per_gpu_bytes"])
        })
    } else {
        outcome(req.run(), |v| v["levels"]["device"].to_string())
    };
    let kind = if fit { "fit" } else { "estimate" };
    format!("{label}\t{kind}\t{model}\t{}\t{settings}\t{result}\n", gpu.as_deref().unwrap_or("-"))
}

fn grid() -> String {
    let mut r = Rng(SEED);
    let mut out = String::new();
    for i in 0..ESTIMATES + FITS {
        let fit = i >= ESTIMATES;
        let model = r.pick(GRID_MODELS);
        let gpu = if fit || r.chance(70) { Some(r.pick(GPUS).to_string()) } else { None };
        let w = workload(&mut r);
        out.push_str(&line(&i.to_string(), fit, model, gpu, w));
    }
    // Later models: the same generator, seeded by the model's name, 20 estimates and 10 fits.
    for model in LATER_MODELS {
        let mut r = Rng(SEED ^ fnv1a(model.as_bytes()));
        for j in 0..30 {
            let gpu = Some(r.pick(GPUS).to_string());
            let w = workload(&mut r);
            out.push_str(&line(&format!("{model}#{j}"), j >= 20, model, gpu, w));
        }
    }
    // Runtimes added after the grid was recorded: lines of their own, seeded by the runtime's
    // name, with the settings that runtime reads (appended, so the lines above never move).
    for runtime in LATER_RUNTIMES {
        let mut r = Rng(SEED ^ fnv1a(runtime.as_bytes()));
        for j in 0..60 {
            let model = r.pick(GRID_MODELS);
            let gpu = Some(r.pick(GPUS).to_string());
            let w = runtime_workload(runtime, &mut r);
            out.push_str(&line(&format!("{runtime}#{j}"), j >= 48, model, gpu, w));
        }
    }
    out
}

/// Runtimes added after the grid was recorded (each adds 60 lines at the end).
const LATER_RUNTIMES: &[&str] = &["meta-reference", "vllm", "sglang", "ollama"];

/// A workload for one of [`LATER_RUNTIMES`], drawing the settings that runtime reads.
fn runtime_workload(runtime: &str, r: &mut Rng) -> WorkloadRequest {
    let mut w = WorkloadRequest { runtime: some(runtime), ..WorkloadRequest::default() };
    w.batch = r.pick(&[1, 1, 2, 8]);
    match runtime {
        "meta-reference" => {
            w.task = r.pick(&["generate", "prefill"]).parse().unwrap();
            w.prompt = r.pick(&[16, 128, 500]);
            w.max_batch_size = r.pick(&[None, Some(1), Some(8)]);
            w.kv_prealloc = r.pick(&[None, Some(2048)]);
            w.runtime_version = r.pick(&[None, some("1"), some("2")]);
        }
        "vllm" | "sglang" => {
            w.task = Task::Serve;
            w.max_model_len = r.pick(&[None, Some(2048), Some(8192), Some(32768)]);
            w.gpu_memory_utilization = r.pick(&[None, Some(0.8), Some(0.95)]);
            if runtime == "vllm" {
                w.runtime_version = r.pick(&[None, some("0.6.4"), some("0.8.5"), some("0.19"), some("0.21")]);
                w.enforce_eager = r.chance(20);
            }
            if r.chance(30) {
                w.kv_cache_dtype = some("fp8");
            }
            if r.chance(25) {
                w.gpus = Some(2);
                w.tp = 2;
            }
        }
        _ => {
            w.quant = r.pick(&[some("q4_k_m"), some("q8_0")]);
            w.prompt = r.pick(&[128, 512, 4096]);
        }
    }
    w
}

/// Every catalog model is on the grid.
fn covers_the_catalog() {
    for m in catalog::models() {
        assert!(
            GRID_MODELS.contains(&m.name.as_str()) || LATER_MODELS.contains(&m.name.as_str()),
            "{} is not on the golden grid: add it to LATER_MODELS and re-record",
            m.name
        );
    }
}

#[test]
fn the_grid_is_unchanged() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/grid.tsv");
    covers_the_catalog();
    let now = grid();
    covers_the_workloads(&now);
    if std::env::var_os("VRAMFIT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let before = std::fs::read_to_string(&path).expect("tests/golden/grid.tsv: record it with VRAMFIT_BLESS=1");
    let moved: Vec<(&str, &str)> = before.lines().zip(now.lines()).filter(|(a, b)| a != b).collect();
    let shown: String = moved.iter().take(20).fold(String::new(), |mut s, (a, b)| {
        let _ = write!(s, "\n- {a}\n+ {b}");
        s
    });
    assert!(
        moved.is_empty() && before.lines().count() == now.lines().count(),
        "{} of {} grid lines moved (VRAMFIT_BLESS=1 re-records, in its own commit saying why):{shown}",
        moved.len(),
        now.lines().count()
    );
}

/// The grid reaches what it is meant to: most requests succeed, every task and runtime is
/// estimated somewhere, and fits produce plans.
fn covers_the_workloads(g: &str) {
    let lines: Vec<&str> = g.lines().collect();
    let errors = lines.iter().filter(|l| l.contains("\terror: ")).count();
    assert!(errors * 3 < lines.len(), "{errors} of {} requests fail: the grid is mostly invalid", lines.len());
    for needle in [
        "task=train",
        "task=merge",
        "task=load",
        "task=prefill",
        "runtime=llama.cpp",
        "runtime=litgpt",
        "runtime=torchtune",
        "runtime=meta-reference",
        "runtime=vllm",
        "runtime=sglang",
        "runtime=ollama",
        "zero=3",
        "fsdp=full",
        "tp=4",
        "method=qlora",
    ] {
        let ok = lines.iter().filter(|l| l.contains(needle) && !l.contains("\terror: ")).count();
        assert!(ok >= 5, "only {ok} successful requests with {needle}");
    }
    let with_plans = lines.iter().filter(|l| l.contains("\tfit\t") && !l.contains("plans=0")).count();
    assert!(with_plans >= 100, "only {with_plans} fits with plans");
}
