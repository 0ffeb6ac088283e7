//! Local checkpoints: GGUF and safetensors files made by the PyPI packages (tests/data) and
//! by the tests, directories with shards, and broken files.

use crate::util::{shards, tmp, WEIGHT_BYTES};
use std::path::PathBuf;
use vramfit_core::formats::gguf::{self, GgufWriter};
use vramfit_core::formats::safetensors::{self, SafetensorsDtype};
use vramfit_core::formats::Parsed;
use vramfit_io::resolve_model;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

#[test]
fn gguf_from_gguf_py_tensor_bytes_fill_the_data_section() {
    let path = data("tiny-llama-q8_0.gguf");
    let bytes = std::fs::read(&path).unwrap();
    let Parsed::Done(f) = gguf::parse_header(&bytes).unwrap() else { panic!("incomplete") };
    assert_eq!(f.tensors.len(), 21);
    // gguf-py 0.19 reports these tensors as 83,968 bytes in all.
    assert_eq!(f.tensor_bytes(), 83_968);
    assert_eq!(f.padded_tensor_bytes(), bytes.len() as u64 - f.data_offset);
    assert_eq!(f.data_end(), bytes.len() as u64);
    let m = resolve_model(path.to_str().unwrap()).unwrap();
    assert_eq!(m.spec.model_type, "llama");
    assert_eq!(m.spec.num_layers(), 2);
    assert!(!m.spec.tied_embeddings);
    let ck = m.spec.checkpoint.unwrap();
    assert_eq!(ck.bytes, 83_968);
    assert!(ck.metadata.iter().any(|(k, v)| k == "general.file_type" && v == "Q8_0"));
}

#[test]
fn gguf_with_padding_between_tensors() {
    // Sizes that are not multiples of the alignment: the data section holds each tensor
    // padded, and the per-tensor bytes plus padding add up to it exactly.
    let bytes = GgufWriter::new()
        .string("general.architecture", "llama")
        .u32("general.alignment", 64)
        .tensor("a", &[7], "F32")
        .tensor("b", &[32, 3], "Q4_0")
        .tensor("c", &[256], "Q6_K")
        .tensor("d", &[5, 3], "F16")
        .build();
    let dir = tmp("gguf-pad");
    let path = dir.join("pad.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let Parsed::Done(f) = gguf::parse_header(&bytes).unwrap() else { panic!() };
    let exact: Vec<u64> = f.tensors.iter().map(|t| t.bytes).collect();
    assert_eq!(exact, vec![28, 54, 210, 30]);
    assert_eq!(f.padded_tensor_bytes(), 64 * 4 + 192);
    assert_eq!(f.padded_tensor_bytes(), bytes.len() as u64 - f.data_offset);
    // A truncated copy is refused with the sizes.
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let e = resolve_model(path.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn safetensors_from_the_pypi_package() {
    let bytes = std::fs::read(data("tiny.safetensors")).unwrap();
    let Parsed::Done(h) = safetensors::parse_header(&bytes).unwrap() else { panic!() };
    let got: Vec<(&str, SafetensorsDtype, u64)> =
        h.tensors.iter().map(|t| (t.name.as_str(), t.dtype, t.bytes)).collect();
    assert_eq!(
        got,
        // In data order: safetensors 0.8 writes larger element types first.
        vec![
            ("q.qweight", SafetensorsDtype::I32, 64),
            ("a", SafetensorsDtype::F16, 64),
            ("b", SafetensorsDtype::U8, 3)
        ]
    );
    assert_eq!(h.metadata, vec![("format".to_string(), "pt".to_string())]);
    assert_eq!(h.file_bytes(), bytes.len() as u64);
}

#[test]
fn directory_with_sharded_safetensors() {
    let dir = tmp("sharded-dir");
    for (name, bytes) in shards() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let m = resolve_model(dir.to_str().unwrap()).unwrap();
    let ck = m.spec.checkpoint.as_ref().unwrap();
    assert_eq!((ck.files, ck.bytes), (3, WEIGHT_BYTES));
    assert!(m.bytes_read < 100_000, "read {} bytes for headers", m.bytes_read);
    // One shard alone, beside its config.json: its own tensors, and a note.
    let one = dir.join("model-00002-of-00003.safetensors");
    let m = resolve_model(one.to_str().unwrap()).unwrap();
    assert!(m.spec.checkpoint.unwrap().bytes < WEIGHT_BYTES);
    assert!(m.notes.iter().any(|n| n.contains("one shard")));
    // Without config.json the architecture is unknown: a clear error.
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let e = resolve_model(one.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("no config.json"), "{e}");
    let e = resolve_model("./does/not/exist.gguf").unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
}
