//! Embeds every built-in model config (data/configs/*.json) so the core stays free of file I/O.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("data/configs");
    println!("cargo:rerun-if-changed=data/configs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// Built-in config.json files: (file name, contents).\npub(crate) static CONFIGS: &[(&str, &str)] = &[\n",
    );
    for n in &names {
        let path = dir.join(n);
        writeln!(out, "    ({n:?}, include_str!({:?})),", path.display().to_string()).expect("write to string");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets it")).join("configs.rs");
    std::fs::write(dest, out).expect("write generated configs.rs");
}
