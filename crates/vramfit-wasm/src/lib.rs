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

fn parse<'a, T: Deserialize<'a>>(input: &'a str) -> Result<T, String> {
    serde_json::from_str(input).map_err(|e| format!("request: {e}"))
}

/// What this build offers: its version and whether the fit solver (ranked plans) is in.
#[must_use]
pub fn info() -> String {
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "fit": true,
    }))
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
                    "fits": verdict.as_ref().map(|x| x.fits),
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

    /// [`super::info`].
    #[no_mangle]
    pub extern "C" fn vf_info() -> usize {
        answer(|_| super::info())
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
}
