//! The vramfit core for the web page (`web/`), compiled to `wasm32-unknown-unknown`.
//!
//! The interface is JSON text in, JSON text out, so the page needs no generated bindings (a
//! dozen lines of JavaScript in `web/vramfit.js`): the page asks for an input buffer with
//! [`ffi::vf_input`], writes the request's UTF-8 bytes into it, calls one of the `vf_*`
//! functions, which returns the length of its answer, and reads the answer at
//! [`ffi::vf_output`]. Every answer is `{"ok": ...}` or `{"error": "message"}`; nothing panics
//! on bad input.
//!
//! The functions below are the same operations as plain Rust, tested natively.

#![deny(missing_docs)]

use serde::Deserialize;
use serde_json::{json, Value};
use vramfit_core::catalog;
use vramfit_core::fit::gguf_files;
use vramfit_core::formats::gguf_repo::{self, ListedModel, RepoModel, Step};
use vramfit_core::formats::{gguf, Parsed};
use vramfit_core::request::EstimateRequest;
use vramfit_core::ParamCount;

/// `{"ok": value}`.
fn ok(v: Value) -> String {
    json!({ "ok": v }).to_string()
}

/// `{"error": message}`.
fn err(e: impl std::fmt::Display) -> String {
    json!({ "error": e.to_string() }).to_string()
}

fn parse<T: serde::de::DeserializeOwned>(input: &str) -> Result<T, String> {
    vramfit_core::request::parse_json(input)
}

/// What this build offers: its version and whether the fit solver (ranked plans) is in.
#[must_use]
pub fn info() -> String {
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "fit": true,
    }))
}

/// The request's options: the workload defaults (keyed by flag name) and each enumerated
/// flag's values with their labels, from the core's tables (`vramfit_core::request::options`);
/// the page builds its selects from this instead of repeating the lists.
#[must_use]
pub fn options() -> String {
    match serde_json::to_value(vramfit_core::request::options()) {
        Ok(v) => ok(v),
        Err(e) => err(e),
    }
}

/// The model catalog: name, Hugging Face id, aliases, family, published parameter count,
/// checkpoint dtype. Configs are not parsed here (the page lists the catalog before its first
/// estimate, and parsing all of them would delay it); [`model`] describes one model fully.
#[must_use]
pub fn models() -> String {
    let list: Vec<Value> = catalog::models()
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "hf_id": m.hf_id,
                "aliases": m.aliases,
                "family": m.family,
                "published_params": m.params,
                "checkpoint_dtype": m.checkpoint_dtype,
            })
        })
        .collect();
    ok(Value::Array(list))
}

/// The GPU catalog, every field as `vramfit gpus --json` prints it.
#[must_use]
pub fn gpus() -> String {
    match serde_json::to_value(catalog::gpus()) {
        Ok(v) => ok(v),
        Err(e) => err(e),
    }
}

/// A GPU spec as `--gpu` takes it (`{"gpu": "2xT4"}`): the catalog entry, count, usable bytes.
#[must_use]
pub fn gpu(input: &str) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct GpuRequest {
        gpu: String,
    }
    let run = || -> Result<Value, String> {
        let r: GpuRequest = parse(input)?;
        let spec = catalog::GpuSpec::parse(&r.gpu).map_err(|e| e.to_string())?;
        serde_json::to_value(spec).map_err(|e| e.to_string())
    };
    run().map_or_else(err, ok)
}

/// What a request's model is (for a pasted or fetched config.json): name, origin, family,
/// parameters, dtype, quantization, context length.
#[must_use]
pub fn model(input: &str) -> String {
    let run = || -> Result<Value, String> {
        let r: EstimateRequest = parse(input)?;
        let m = r.model().map_err(|e| e.to_string())?;
        let p = ParamCount::of(&m.spec);
        Ok(json!({
            "name": m.name,
            "origin": m.origin,
            "model_type": m.spec.model_type,
            "params": p.total,
            "active_params": p.active,
            "torch_dtype": m.spec.torch_dtype,
            "quantization": m.spec.quantization.as_ref().map(vramfit_core::quant::QuantConfig::label),
            "layers": m.spec.num_layers(),
            "hidden_size": m.spec.hidden_size,
            "max_positions": m.spec.max_positions,
        }))
    };
    run().map_or_else(err, ok)
}

/// Estimate: an [`EstimateRequest`] in, the object `vramfit estimate --json` prints out.
#[must_use]
pub fn estimate(input: &str) -> String {
    let run = || -> Result<Value, String> {
        let r: EstimateRequest = parse(input)?;
        r.run().map_err(|e| e.to_string())
    };
    run().map_or_else(err, ok)
}

/// A sweep: the same request estimated over a range of one setting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepRequest {
    request: EstimateRequest,
    /// `batch`, `seq` (training tokens per sample), `prompt` or `new`.
    over: String,
    values: Vec<u64>,
}

/// Largest number of points in one sweep.
const MAX_SWEEP_POINTS: usize = 64;

/// Sweep: `{"request": EstimateRequest, "over": "batch"|"seq"|"prompt"|"new", "values": [..]}`
/// in; per value the three levels and the verdict, or the error that value gives.
#[must_use]
pub fn sweep(input: &str) -> String {
    let run = || -> Result<Value, String> {
        let s: SweepRequest = parse(input)?;
        if s.values.len() > MAX_SWEEP_POINTS {
            return Err(format!("sweep: at most {MAX_SWEEP_POINTS} values"));
        }
        let model = s.request.model().map_err(|e| e.to_string())?;
        let mut points = Vec::with_capacity(s.values.len());
        for &v in &s.values {
            let mut r = s.request.clone();
            match s.over.as_str() {
                "batch" => r.workload.batch = v,
                "seq" => r.workload.seq = v,
                "prompt" => r.workload.prompt = v,
                "new" => r.workload.new_tokens = v,
                o => return Err(format!("sweep: unknown setting {o:?}; use batch, seq, prompt or new")),
            }
            points.push(match r.estimate_on(&model) {
                Ok((_, b, verdict)) => json!({
                    "value": v,
                    "allocated": b.levels.allocated,
                    "reserved": b.levels.reserved,
                    "device": b.levels.device,
                    "peak_phase": b.peak_phase,
                    "fits": verdict.as_ref().map(vramfit_core::request::GpuVerdict::fits),
                }),
                Err(e) => json!({ "value": v, "error": e.to_string() }),
            });
        }
        Ok(json!({ "over": s.over, "points": points }))
    };
    run().map_or_else(err, ok)
}

/// Fit: an [`EstimateRequest`] (with its GPU) in, the object `vramfit fit --json` prints out:
/// the verdict as asked, ranked plans that make it fit, the limits of batch and context.
#[must_use]
pub fn fit(input: &str) -> String {
    let run = || -> Result<Value, String> {
        let r: EstimateRequest = parse(input)?;
        r.fit().map_err(|e| e.to_string())
    };
    run().map_or_else(err, ok)
}

// ---- Which GGUF file of a Hub repository fits -------------------------------------------
//
// The page fetches the Hub's tree listing and Range-reads each header itself (only when the
// user asks); these functions do everything else with the core's own steps, so the page asks
// for the bytes `vramfit fit ORG/NAME-GGUF` asks for and shows the table it prints.
// Header bytes come in binary: the request's JSON, one NUL byte, then the bytes.

/// `JSON NUL bytes` → (the JSON text, the bytes).
fn framed(input: &[u8]) -> Result<(&str, &[u8]), String> {
    let at = input.iter().position(|&b| b == 0).ok_or("request: no NUL byte after the JSON")?;
    let text = std::str::from_utf8(&input[..at]).map_err(|e| format!("request is not UTF-8: {e}"))?;
    Ok((text, &input[at + 1..]))
}

/// The GGUF models of a Hub tree listing (the listing's JSON text in): each model's name, its
/// parts with their sizes, and its bytes; split files are one model.
#[must_use]
pub fn gguf_listing(input: &str) -> String {
    match gguf_repo::listing(input.as_bytes()) {
        Ok(models) => ok(Value::Array(
            models
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "parts": m.parts.iter().map(|(p, n)| json!({ "path": p, "size": n })).collect::<Vec<_>>(),
                        "bytes": m.bytes(),
                    })
                })
                .collect(),
        )),
        Err(e) => err(format!("not the Hub's tree listing: {e}")),
    }
}

/// The next step of reading a header: `{"size": file bytes}` NUL the first bytes read so far
/// in; `{"done": {"header_bytes": n}}` or `{"ask": {"start", "end", "need"}}` (an inclusive
/// byte range) out.
#[must_use]
pub fn gguf_step(input: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StepRequest {
        size: u64,
    }
    let run = || -> Result<Value, String> {
        let (text, bytes) = framed(input)?;
        let r: StepRequest = parse(text)?;
        match gguf_repo::next_step(bytes, r.size).map_err(|e| e.to_string())? {
            Step::Done(f) => Ok(json!({ "done": { "header_bytes": f.header_bytes } })),
            Step::Ask { start, end, need } => Ok(json!({ "ask": { "start": start, "end": end, "need": need } })),
        }
    };
    run().map_or_else(err, ok)
}

thread_local! {
    /// Models read by [`gguf_model`], by handle, until [`gguf_clear`].
    static GGUF_MODELS: std::cell::RefCell<Vec<RepoModel>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A model of the repository from its parts' headers: `{"repo": "org/name@rev", "name",
/// "parts": [{"path", "size"}], "lengths": [header bytes of each part read], "error": why a
/// part could not be read or null}` NUL the headers one after the other in. Kept for
/// [`gguf_table`]; out: `{"handle", "header_bytes", "file_type", "error"}`.
#[must_use]
pub fn gguf_model(input: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Part {
        path: String,
        size: u64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ModelRequest {
        repo: String,
        name: String,
        parts: Vec<Part>,
        lengths: Vec<u64>,
        #[serde(default)]
        error: Option<String>,
    }
    let run = || -> Result<Value, String> {
        let (text, mut bytes) = framed(input)?;
        let r: ModelRequest = parse(text)?;
        if r.lengths.len() > r.parts.len() {
            return Err("request: more headers than parts".into());
        }
        let mut headers = Vec::with_capacity(r.lengths.len());
        for (n, part) in r.lengths.iter().zip(&r.parts) {
            let n = usize::try_from(*n).ok().filter(|&n| n <= bytes.len()).ok_or("request: lengths past the bytes")?;
            let (head, rest) = bytes.split_at(n);
            bytes = rest;
            match gguf::parse_header(head).map_err(|e| format!("{}: {e}", part.path))? {
                Parsed::Done(f) => headers.push(f),
                Parsed::NeedBytes(_) => return Err(format!("{}: the header is incomplete", part.path)),
            }
        }
        let listed = ListedModel { name: r.name, parts: r.parts.into_iter().map(|p| (p.path, p.size)).collect() };
        let source = format!("{}/{}", r.repo, listed.name);
        let m = gguf_repo::model_of_parts(&listed, headers, r.error, &source);
        let answer = json!({
            "header_bytes": m.header_bytes,
            "file_type": m.file_type,
            "error": m.spec.as_ref().err(),
        });
        let handle = GGUF_MODELS.with(|all| {
            let mut all = all.borrow_mut();
            all.push(m);
            all.len() - 1
        });
        let mut answer = answer;
        answer["handle"] = json!(handle);
        Ok(answer)
    };
    run().map_or_else(err, ok)
}

/// Forget every model [`gguf_model`] kept (a new repository is read).
#[must_use]
pub fn gguf_clear() -> String {
    GGUF_MODELS.with(|all| all.borrow_mut().clear());
    ok(Value::Null)
}

/// The table: `{"request": EstimateRequest (its GPU and workload; model = the repo id),
/// "repo": "org/name@rev", "handles": [..], "bytes_transferred", "requests"}` in; the object
/// `vramfit fit ORG/NAME-GGUF --json` prints out.
#[must_use]
pub fn gguf_table(input: &str) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TableRequest {
        request: EstimateRequest,
        repo: String,
        handles: Vec<usize>,
        bytes_transferred: u64,
        requests: u64,
    }
    let run = || -> Result<Value, String> {
        let t: TableRequest = parse(input)?;
        let Some(gpu) = t.request.gpu.as_deref() else {
            return Err("--gpu: the table needs a GPU: add one (T4, 2xA100-80GB, 24GiB)".into());
        };
        let gpu = catalog::GpuSpec::parse(gpu).map_err(|e| e.to_string())?;
        let w = gguf_files::repo_workload(&t.request.workload, &t.request.model, &gpu).map_err(|e| e.to_string())?;
        GGUF_MODELS.with(|all| {
            let all = all.borrow();
            let models = t
                .handles
                .iter()
                .map(|&i| all.get(i).ok_or_else(|| "the repository's headers are gone: read it again".to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let rows: Vec<_> = models.into_iter().map(|m| (m, gguf_files::judge(m, &w, &gpu))).collect();
            let transfer = gguf_files::Transfer { bytes: t.bytes_transferred, requests: t.requests };
            Ok(gguf_files::table_value(&t.repo, &gpu, &w, &rows, transfer))
        })
    };
    run().map_or_else(err, ok)
}

/// The exports the page calls (wasm32 only in practice; they build everywhere).
///
/// `#[no_mangle]` is what the `unsafe_code` lint objects to here; these functions contain no
/// unsafe block: they hand out pointers into buffers that Rust owns, and JavaScript copies
/// bytes in and out through the module's memory.
#[allow(unsafe_code)]
pub mod ffi {
    use std::cell::RefCell;

    thread_local! {
        static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// A zeroed input buffer of `len` bytes for the next call; returns where it starts.
    #[no_mangle]
    pub extern "C" fn vf_input(len: usize) -> *mut u8 {
        INPUT.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            b.resize(len, 0);
            b.as_mut_ptr()
        })
    }

    /// Where the last answer starts (its length is what the call returned).
    #[no_mangle]
    pub extern "C" fn vf_output() -> *const u8 {
        OUTPUT.with(|b| b.borrow().as_ptr())
    }

    fn answer(f: impl FnOnce(&str) -> String) -> usize {
        let input = INPUT.with(|b| std::mem::take(&mut *b.borrow_mut()));
        let out = match std::str::from_utf8(&input) {
            Ok(s) => f(s),
            Err(e) => super::err(format!("request is not UTF-8: {e}")),
        };
        OUTPUT.with(|b| {
            let mut b = b.borrow_mut();
            *b = out.into_bytes();
            b.len()
        })
    }

    fn answer_bytes(f: impl FnOnce(&[u8]) -> String) -> usize {
        let input = INPUT.with(|b| std::mem::take(&mut *b.borrow_mut()));
        let out = f(&input);
        OUTPUT.with(|b| {
            let mut b = b.borrow_mut();
            *b = out.into_bytes();
            b.len()
        })
    }

    /// [`super::info`].
    #[no_mangle]
    pub extern "C" fn vf_info() -> usize {
        answer(|_| super::info())
    }
    /// [`super::options`].
    #[no_mangle]
    pub extern "C" fn vf_options() -> usize {
        answer(|_| super::options())
    }
    /// [`super::models`].
    #[no_mangle]
    pub extern "C" fn vf_models() -> usize {
        answer(|_| super::models())
    }
    /// [`super::gpus`].
    #[no_mangle]
    pub extern "C" fn vf_gpus() -> usize {
        answer(|_| super::gpus())
    }
    /// [`super::gpu`].
    #[no_mangle]
    pub extern "C" fn vf_gpu() -> usize {
        answer(super::gpu)
    }
    /// [`super::model`].
    #[no_mangle]
    pub extern "C" fn vf_model() -> usize {
        answer(super::model)
    }
    /// [`super::estimate`].
    #[no_mangle]
    pub extern "C" fn vf_estimate() -> usize {
        answer(super::estimate)
    }
    /// [`super::sweep`].
    #[no_mangle]
    pub extern "C" fn vf_sweep() -> usize {
        answer(super::sweep)
    }
    /// [`super::fit`].
    #[no_mangle]
    pub extern "C" fn vf_fit() -> usize {
        answer(super::fit)
    }
    /// [`super::gguf_listing`].
    #[no_mangle]
    pub extern "C" fn vf_gguf_listing() -> usize {
        answer(super::gguf_listing)
    }
    /// [`super::gguf_step`] (binary input).
    #[no_mangle]
    pub extern "C" fn vf_gguf_step() -> usize {
        answer_bytes(super::gguf_step)
    }
    /// [`super::gguf_model`] (binary input).
    #[no_mangle]
    pub extern "C" fn vf_gguf_model() -> usize {
        answer_bytes(super::gguf_model)
    }
    /// [`super::gguf_clear`].
    #[no_mangle]
    pub extern "C" fn vf_gguf_clear() -> usize {
        answer(|_| super::gguf_clear())
    }
    /// [`super::gguf_table`].
    #[no_mangle]
    pub extern "C" fn vf_gguf_table() -> usize {
        answer(super::gguf_table)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// What JavaScript does: a buffer, the request's bytes in it, a call, the answer out.
        fn call(f: extern "C" fn() -> usize, request: &str) -> String {
            assert!(!vf_input(request.len()).is_null());
            INPUT.with(|b| b.borrow_mut().copy_from_slice(request.as_bytes()));
            let n = f();
            assert!(!vf_output().is_null());
            OUTPUT.with(|b| String::from_utf8(b.borrow()[..n].to_vec()).unwrap())
        }

        #[test]
        fn round_trips() {
            let a = call(vf_estimate, r#"{"model":"llama-7b","gpu":"T4"}"#);
            assert!(a.starts_with(r#"{"ok":{"#), "{a}");
            assert!(call(vf_models, "").contains("llama-7b"));
            assert!(call(vf_estimate, "\u{0}").starts_with(r#"{"error""#));
            INPUT.with(|b| *b.borrow_mut() = vec![0xff, 0xfe]);
            let n = vf_estimate();
            let e = OUTPUT.with(|b| String::from_utf8(b.borrow()[..n].to_vec()).unwrap());
            assert!(e.contains("not UTF-8"), "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    /// The page's option lists are the core's tables: every value offered is accepted by an
    /// estimate, and the defaults are the request's.
    #[test]
    fn options_are_the_core_tables() {
        let o = parsed(&options())["ok"].clone();
        assert_eq!(o["defaults"]["task"], "generate");
        assert_eq!(o["defaults"]["batch"], 1);
        assert_eq!(o["lora_methods"], json!(["lora", "qlora", "dora"]));
        let fields = o["fields"].as_object().unwrap();
        for flag in ["task", "dtype", "attn", "runtime", "precision", "method", "optimizer", "fsdp", "offload"] {
            let choices = fields[flag]["choices"].as_array().unwrap();
            assert!(!choices.is_empty(), "{flag}");
            for c in choices {
                assert!(c["label"].as_str().is_some_and(|l| !l.is_empty()), "{flag}: {c}");
                let req = json!({"model": "llama-7b", "workload": {flag: c["value"]}}).to_string();
                let answer = parsed(&estimate(&req));
                let error = answer["error"].as_str().unwrap_or("");
                assert!(!error.contains("unknown"), "{flag} {}: {error}", c["value"]);
            }
        }
        let runtimes: Vec<&str> =
            fields["runtime"]["choices"].as_array().unwrap().iter().map(|c| c["value"].as_str().unwrap()).collect();
        assert!(runtimes.contains(&"llama.cpp") && runtimes.contains(&"meta-reference"), "{runtimes:?}");
        // `math` is accepted (old case files) but not offered.
        assert!(!fields["attn"]["choices"].as_array().unwrap().iter().any(|c| c["value"] == "math"));
    }

    #[test]
    fn catalogs_list() {
        let m = parsed(&models());
        let models = m["ok"].as_array().unwrap();
        assert!(models.iter().any(|x| x["name"] == "llama-7b" && x["hf_id"] == "huggyllama/llama-7b"));
        let d = parsed(&model(r#"{"model":"llama-7b"}"#));
        assert_eq!(d["ok"]["params"], json!(6_738_415_616u64));
        assert_eq!(d["ok"]["max_positions"], json!(2048));
        let g = parsed(&gpus());
        assert!(g["ok"].as_array().unwrap().iter().any(|x| x["name"] == "T4"));
        assert_eq!(parsed(&info())["ok"]["fit"], json!(true));
        assert_eq!(parsed(&gpu(r#"{"gpu":"2xtesla t4"}"#))["ok"]["gpu"]["name"], json!("T4"));
        assert_eq!(parsed(&gpu(r#"{"gpu":"24GiB"}"#))["ok"]["usable_bytes"], json!(24u64 << 30));
        assert!(parsed(&gpu(r#"{"gpu":"A100"}"#))["error"].as_str().unwrap().contains("did you mean"));
    }

    #[test]
    fn estimate_is_the_core_request() {
        let input = r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp16"}}"#;
        let a = parsed(&estimate(input));
        let b = serde_json::from_str::<EstimateRequest>(input).unwrap().run().unwrap();
        assert_eq!(a["ok"], b);
        assert_eq!(a["ok"]["fits"], json!(true));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for input in ["", "{", "[]", r#"{"model":"llama-7b","workload":{"batch":-1}}"#, r#"{"model":"x"}"#] {
            assert!(parsed(&estimate(input))["error"].is_string(), "{input}");
            assert!(parsed(&model(input))["error"].is_string(), "{input}");
        }
        let e = parsed(&estimate(r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"bf16"}}"#));
        assert!(e["error"].as_str().unwrap().starts_with("--dtype"), "{e}");
    }

    #[test]
    fn fit_is_the_core_request() {
        let input = r#"{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp32"}}"#;
        let a = parsed(&fit(input));
        let b = serde_json::from_str::<EstimateRequest>(input).unwrap().fit().unwrap();
        assert_eq!(a["ok"], b);
        assert!(!a["ok"]["plans"].as_array().unwrap().is_empty());
        assert!(parsed(&fit(r#"{"model":"llama-7b"}"#))["error"].as_str().unwrap().starts_with("--gpu"));
    }

    #[test]
    fn sweeps_grow_with_batch() {
        let s = parsed(&sweep(
            r#"{"request":{"model":"llama-7b","gpu":"T4","workload":{"dtype":"fp16"}},"over":"batch","values":[1,8,64,0]}"#,
        ));
        let p = s["ok"]["points"].as_array().unwrap();
        assert!(p[0]["device"].as_u64() < p[1]["device"].as_u64());
        assert!(p[1]["device"].as_u64() < p[2]["device"].as_u64());
        assert!(p[3]["error"].as_str().unwrap().starts_with("--batch"));
        assert!(parsed(&sweep(r#"{"request":{"model":"llama-7b"},"over":"heads","values":[1]}"#))["error"].is_string());
    }

    /// The page's path through a GGUF repo: listing, header steps, models, table; the table
    /// is the one the core builds from the same headers (what the CLI prints).
    #[test]
    fn a_gguf_repo_table_from_listing_and_header_steps() {
        use vramfit_core::formats::gguf::GgufWriter;
        let header = |ty: &str| {
            let tokens: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
            let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let mut w = GgufWriter::new()
                .string("general.architecture", "llama")
                .u32("llama.block_count", 4)
                .u32("llama.embedding_length", 512)
                .u32("llama.feed_forward_length", 1024)
                .u32("llama.attention.head_count", 8)
                .u32("llama.context_length", 4096)
                .strings("tokenizer.ggml.tokens", &tokens)
                .tensor("token_embd.weight", &[512, 20_000], ty);
            for i in 0..4 {
                for n in ["attn_q", "attn_k", "attn_v", "attn_output"] {
                    w = w.tensor(&format!("blk.{i}.{n}.weight"), &[512, 512], ty);
                }
            }
            w.build()
        };
        let files = [("m-Q8_0.gguf", header("Q8_0")), ("m-F16.gguf", header("F16"))];
        let tree = json!(files
            .iter()
            .map(|(n, b)| json!({"type": "file", "path": n, "size": b.len() + 1000, "lfs": {"size": b.len() + 1000}}))
            .collect::<Vec<_>>())
        .to_string();
        let listed = parsed(&gguf_listing(&tree))["ok"].clone();
        assert_eq!(listed.as_array().unwrap().len(), 2);
        let frame = |head: Value, bytes: &[u8]| [head.to_string().as_bytes(), &[0], bytes].concat();
        let mut handles = Vec::new();
        let mut requests = 0;
        for (m, (_, file)) in listed.as_array().unwrap().iter().zip(&files) {
            let size = m["bytes"].as_u64().unwrap();
            let mut buf = Vec::new();
            let n = loop {
                let step = parsed(&gguf_step(&frame(json!({ "size": size }), &buf)))["ok"].clone();
                if let Some(n) = step["done"]["header_bytes"].as_u64() {
                    break n;
                }
                requests += 1;
                let end = usize::try_from(step["ask"]["end"].as_u64().unwrap() + 1).unwrap().min(file.len());
                buf.extend_from_slice(&file[buf.len()..end]);
            };
            let r = json!({"repo": "org/m-GGUF@main", "name": m["name"], "parts": m["parts"], "lengths": [buf.len()]});
            let a = parsed(&gguf_model(&frame(r, &buf)))["ok"].clone();
            assert_eq!((a["header_bytes"].as_u64(), a["file_type"].is_null()), (Some(n), true), "{a}");
            handles.push(a["handle"].clone());
        }
        assert!(requests >= 4, "{requests} requests for two 200 kB headers");
        let req = json!({"request": {"model": "org/m-GGUF", "gpu": "4GiB", "workload": {"kv-prealloc": 2048}},
            "repo": "org/m-GGUF@main", "handles": handles, "bytes_transferred": 5, "requests": requests});
        let table = parsed(&gguf_table(&req.to_string()))["ok"].clone();
        // The same table from the core directly.
        let gpu = catalog::GpuSpec::parse("4GiB").unwrap();
        let wr: vramfit_core::request::WorkloadRequest = serde_json::from_value(json!({"kv-prealloc": 2048})).unwrap();
        let w = gguf_files::repo_workload(&wr, "org/m-GGUF", &gpu).unwrap();
        let models: Vec<RepoModel> = files
            .iter()
            .map(|(n, b)| {
                let Parsed::Done(f) = gguf::parse_header(b).unwrap() else { panic!() };
                let l = ListedModel { name: (*n).to_string(), parts: vec![((*n).to_string(), b.len() as u64 + 1000)] };
                gguf_repo::model_of_parts(&l, vec![f], None, "x")
            })
            .collect();
        let rows: Vec<_> = models.iter().map(|m| (m, gguf_files::judge(m, &w, &gpu))).collect();
        let direct =
            gguf_files::table_value("org/m-GGUF@main", &gpu, &w, &rows, gguf_files::Transfer { bytes: 5, requests });
        assert_eq!(table, direct);
        assert_eq!(table["files"][0]["fit"]["fits_fully"], json!(true), "{table}");
        assert_eq!(table["files"][1]["fit"]["layers_total"], json!(5), "{table}");
        // Bad input is an error, not a panic; a cleared store asks to read again.
        assert!(parsed(&gguf_step(b"{\"size\":5}"))["error"].is_string());
        assert!(parsed(&gguf_step(&frame(json!({"size": 4}), b"GGUF")))["error"]
            .as_str()
            .unwrap()
            .contains("truncated"));
        assert!(parsed(&gguf_model(&frame(json!({"repo":"r","name":"n","parts":[],"lengths":[3]}), b"abc")))["error"]
            .is_string());
        assert!(parsed(&gguf_listing("{}"))["error"].as_str().unwrap().contains("tree listing"));
        let _ = gguf_clear();
        assert!(parsed(&gguf_table(&req.to_string()))["error"].as_str().unwrap().contains("read it again"));
    }
}
