//! The validation golden file: `vramfit validate --json` on every case file of the repository
//! and, when this checkout sits beside it, of `../shared/validation`, frozen in
//! `tests/golden/validate.tsv` (one line per case: file, id, estimate, skip reason, and a
//! digest of the case's whole JSON row). Shared files absent here are recorded as absent, so
//! the test fails rather than passes silently when the shared cases go missing after being
//! recorded. Re-record with `VRAMFIT_BLESS=1 cargo test -p vramfit-cli --test tests golden`
//! in a commit of its own that says which cases moved and why.

use super::vramfit;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Case files, relative to the repository root.
const FILES: &[&str] = &[
    "validation/oracle/cases.json",
    "../shared/validation/cases.json",
    "../shared/validation/serving/vllm_cases.json",
    "../shared/validation/serving/llamacpp_cases.json",
    "validation/serving/sglang_cases.json",
    "validation/serving/llamacpp_repro_cases.json",
    "validation/serving/llamacpp_cases_mmproj.json",
];

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn table(root: &Path) -> String {
    let mut out = String::new();
    for file in FILES {
        let path = root.join(file);
        if !path.exists() {
            writeln!(out, "{file}\tabsent").unwrap();
            continue;
        }
        let o = vramfit(&["validate", path.to_str().unwrap(), "--json"]);
        if !o.status.success() {
            let e = String::from_utf8_lossy(&o.stderr).replace(root.to_str().unwrap(), "<root>");
            writeln!(out, "{file}\terror: {}", e.trim()).unwrap();
            continue;
        }
        let v: Value = serde_json::from_slice(&o.stdout).expect("validate --json is JSON");
        for c in v["cases"].as_array().expect("cases") {
            let estimate = ["estimate_bytes", "estimate_tokens", "estimate_value"]
                .iter()
                .map(|k| &c[*k])
                .find(|x| !x.is_null())
                .unwrap_or(&Value::Null);
            let skipped = c["skipped"].as_str().unwrap_or("-");
            writeln!(
                out,
                "{file}\t{}\t{estimate}\t{skipped}\t{:016x}",
                c["id"].as_str().unwrap_or("?"),
                fnv1a(c.to_string().as_bytes())
            )
            .unwrap();
        }
    }
    out
}

#[test]
fn validation_is_unchanged() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/validate.tsv");
    let now = table(&root);
    if std::env::var_os("VRAMFIT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let before = std::fs::read_to_string(&path).expect("tests/golden/validate.tsv: record it with VRAMFIT_BLESS=1");
    // A shared file recorded but absent from this checkout fails the test, unless
    // VRAMFIT_NO_SHARED=1 says the checkout runs without `../shared` on purpose.
    let absent: Vec<&str> =
        now.lines().filter(|l| l.ends_with("\tabsent")).filter_map(|l| l.split('\t').next()).collect();
    for f in &absent {
        assert!(
            std::env::var_os("VRAMFIT_NO_SHARED").is_some(),
            "{f} is missing: put the shared directory beside this checkout, or set VRAMFIT_NO_SHARED=1 to run without its cases"
        );
        eprintln!("SKIPPED (VRAMFIT_NO_SHARED): {f} is not beside this checkout; its cases were not compared");
    }
    let keep = |l: &&str| !absent.iter().any(|f| l.starts_with(&format!("{f}\t")));
    let before: Vec<&str> = before.lines().filter(keep).collect();
    let now: Vec<&str> = now.lines().filter(keep).collect();
    let moved: Vec<String> =
        before.iter().zip(&now).filter(|(a, b)| a != b).take(20).map(|(a, b)| format!("\n- {a}\n+ {b}")).collect();
    assert!(
        moved.is_empty() && before.len() == now.len(),
        "validation moved ({} lines before, {} now; VRAMFIT_BLESS=1 re-records, in its own commit saying why):{}",
        before.len(),
        now.len(),
        moved.concat()
    );
}
