//! Embeds the built-in data so the core stays free of file I/O: every model config
//! (data/configs/*.json), and the TOML catalogs (models, GPUs, GGUF types) converted to JSON
//! here, at build time, so that a run parses compact JSON instead of TOML (the catalogs were
//! most of an estimate's process time).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("data/configs");
    println!("cargo:rerun-if-changed=data/configs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| Path::new(n).extension().is_some_and(|e| e.eq_ignore_ascii_case("json")))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// Built-in config.json files: (file name, contents).\npub(crate) static CONFIGS: &[(&str, &str)] = &[\n",
    );
    for n in &names {
        let path = dir.join(n);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        writeln!(out, "    ({n:?}, {:?}),", without_layout(&text)).expect("write to string");
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets it");
    let dest = Path::new(&out_dir).join("configs.rs");
    std::fs::write(dest, out).expect("write generated configs.rs");
    for name in ["models", "gpus", "gguf_types"] {
        let src =
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join(format!("data/{name}.toml"));
        println!("cargo:rerun-if-changed={}", src.display());
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        // The model and GPU catalogs as one entry per row (looked up by name, parsed row by
        // row); the GGUF type table as one JSON document.
        if let Some((table, keys)) = match name {
            "models" => Some(("model", &["name", "hf_id"][..])),
            "gpus" => Some(("gpu", &["name"][..])),
            _ => None,
        } {
            write_entries(&value, table, keys, &Path::new(&out_dir).join(format!("{name}_entries.rs")));
        } else {
            let json = serde_json::to_string(&value).expect("TOML values are JSON values");
            std::fs::write(Path::new(&out_dir).join(format!("{name}.json")), json).expect("write catalog JSON");
        }
    }
}

/// One `CatalogEntry` per catalog table: the names it answers to (the `keys`, then its
/// aliases) as string literals, and its own JSON. A lookup by name then parses one entry, not
/// the whole catalog (the catalogs were most of an estimate's start-up).
fn write_entries(value: &toml::Value, table: &str, keys: &[&str], dest: &Path) {
    let rows = value.get(table).and_then(toml::Value::as_array).map_or(&[][..], Vec::as_slice);
    let mut out = String::from("&[\n");
    for row in rows {
        let mut names: Vec<&str> = keys.iter().filter_map(|k| row.get(*k).and_then(toml::Value::as_str)).collect();
        if let Some(aliases) = row.get("aliases").and_then(toml::Value::as_array) {
            names.extend(aliases.iter().filter_map(toml::Value::as_str));
        }
        let json = serde_json::to_string(row).expect("TOML values are JSON values");
        writeln!(out, "    CatalogEntry {{ names: &{names:?}, json: {json:?} }},").expect("write to string");
    }
    out.push(']');
    std::fs::write(dest, out).expect("write catalog entries");
}

/// A JSON text without the whitespace between its tokens (strings kept byte for byte, keys in
/// their order): the configs are embedded for parsing, and their indentation was 12 KB of the
/// page's module.
fn without_layout(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}
