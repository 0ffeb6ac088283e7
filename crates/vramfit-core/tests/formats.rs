//! Property tests of the header parsers: no panic on any bytes, every prefix of a valid file
//! asks for more, and what the writers wrote reads back with the sizes put in.

use proptest::prelude::*;
use vramfit_core::formats::gguf::{self, GgufWriter};
use vramfit_core::formats::safetensors::{self, build_file, SafetensorsDtype};
use vramfit_core::formats::Parsed;
use vramfit_core::ComponentKind;

fn a_gguf() -> Vec<u8> {
    GgufWriter::new()
        .string("general.architecture", "llama")
        .u32("llama.block_count", 1)
        .f32("llama.rope.freq_base", 10000.0)
        .strings("tokenizer.ggml.tokens", &["a", "b", "c"])
        .i32s("llama.attention.head_count_kv", &[2, 2])
        .tensor("token_embd.weight", &[32, 3], "Q8_0")
        .tensor("blk.0.attn_q.weight", &[256, 2], "Q4_K")
        .build()
}

fn a_safetensors() -> Vec<u8> {
    build_file(
        &[
            ("w", SafetensorsDtype::BF16, &[3, 5]),
            ("q.qweight", SafetensorsDtype::I32, &[2, 4]),
            ("s", SafetensorsDtype::F8E4M3, &[9]),
        ],
        &[("format", "pt")],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes: an error, a request for more, or a header; never a panic.
    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = safetensors::parse_header(&bytes);
        let _ = gguf::parse_header(&bytes);
        let mut g = b"GGUF\x03\0\0\0".to_vec();
        g.extend_from_slice(&bytes);
        let _ = gguf::parse_header(&g);
    }

    /// Valid files with bytes flipped: never a panic, and a NeedBytes answer always asks for
    /// more than it was given, within the format's limit.
    #[test]
    fn mutated_files_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), which in any::<bool>()) {
        let mut f = if which { a_gguf() } else { a_safetensors() };
        for (i, b) in &flips {
            let at = i.index(f.len());
            f[at] = *b;
        }
        if which {
            if let Ok(Parsed::NeedBytes(n)) = gguf::parse_header(&f) {
                prop_assert!(n > f.len() as u64 && n <= gguf::MAX_HEADER_BYTES);
            }
        } else if let Ok(Parsed::NeedBytes(n)) = safetensors::parse_header(&f) {
            prop_assert!(n > f.len() as u64 && n <= 8 + safetensors::MAX_HEADER_BYTES);
        }
    }

    /// Any prefix of a valid file asks for more bytes, never claims a different header.
    #[test]
    fn prefixes_ask_for_more(cut in any::<prop::sample::Index>(), which in any::<bool>()) {
        let f = if which { a_gguf() } else { a_safetensors() };
        let whole = if which {
            match gguf::parse_header(&f).unwrap() { Parsed::Done(h) => h.header_bytes, Parsed::NeedBytes(_) => unreachable!() }
        } else {
            match safetensors::parse_header(&f).unwrap() { Parsed::Done(h) => 8 + h.header_len, Parsed::NeedBytes(_) => unreachable!() }
        };
        let n = cut.index(whole as usize);
        let r = if which { gguf::parse_header(&f[..n]).map(|p| matches!(p, Parsed::NeedBytes(k) if k > n as u64)) }
                else { safetensors::parse_header(&f[..n]).map(|p| matches!(p, Parsed::NeedBytes(k) if k > n as u64)) };
        prop_assert_eq!(r, Ok(true));
    }

    /// Safetensors written with random shapes and dtypes read back with their exact bytes.
    #[test]
    fn safetensors_round_trip(shapes in prop::collection::vec((prop::sample::select(SafetensorsDtype::ALL.to_vec()), prop::collection::vec(0u64..20, 0..4)), 0..12)) {
        let named: Vec<(String, SafetensorsDtype, Vec<u64>)> = shapes
            .iter()
            .enumerate()
            .map(|(i, ((d, _), s))| (format!("t{i}"), *d, s.clone()))
            .collect();
        let specs: Vec<(&str, SafetensorsDtype, &[u64])> = named.iter().map(|(n, d, s)| (n.as_str(), *d, s.as_slice())).collect();
        let file = build_file(&specs, &[]);
        let Parsed::Done(h) = safetensors::parse_header(&file).unwrap() else { panic!("incomplete") };
        prop_assert_eq!(h.file_bytes(), file.len() as u64);
        let want: u64 = named.iter().map(|(_, d, s)| (s.iter().product::<u64>() * d.bits()).div_ceil(8)).sum();
        prop_assert_eq!(h.data_bytes, want);
    }

    /// GGUF written with random tensors: per-tensor bytes (padded) add up to the data section.
    #[test]
    fn gguf_round_trip(tensors in prop::collection::vec((prop::sample::select(vec!["F32", "F16", "BF16", "Q4_0", "Q8_0", "Q4_K", "Q6_K", "IQ4_XS", "TQ2_0", "MXFP4"]), 1u64..4, 1u64..5), 0..10), align_pow in 0u32..8) {
        let mut w = GgufWriter::new().u32("general.alignment", 1 << align_pow);
        for (i, (ty, blocks, rows)) in tensors.iter().enumerate() {
            let block = vramfit_core::quant::ggml_type(ty).unwrap().block;
            w = w.tensor(&format!("t{i}"), &[block * blocks, *rows], ty);
        }
        let file = w.build();
        let Parsed::Done(f) = gguf::parse_header(&file).unwrap() else { panic!("incomplete") };
        prop_assert_eq!(f.padded_tensor_bytes(), file.len() as u64 - f.data_offset);
    }
}

/// Estimates use the stored bytes when the model is loaded as stored, and say why not
/// otherwise.
#[test]
fn weights_come_from_the_checkpoint_when_loaded_as_stored() {
    use vramfit_core::config::parse_config;
    use vramfit_core::model::CheckpointInfo;
    use vramfit_core::{estimate, DType, Task, Workload};
    let config = |extra: &str| {
        parse_config(&format!(
            r#"{{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,
                "num_attention_heads":4,"vocab_size":100,"torch_dtype":"bfloat16"{extra}}}"#
        ))
        .unwrap()
    };
    let header = |d: SafetensorsDtype| {
        let f = build_file(
            &[
                ("model.layers.0.mlp.up_proj.weight", d, &[128, 64]),
                ("model.norm.weight", SafetensorsDtype::BF16, &[64]),
            ],
            &[],
        );
        match safetensors::parse_header(&f).unwrap() {
            Parsed::Done(h) => h,
            Parsed::NeedBytes(_) => unreachable!(),
        }
    };
    let load = Workload { task: Task::Load, ..Workload::default() };
    // fp8 weights with a quantization_config: the stored bytes, exactly.
    let mut spec = config(r#","quantization_config":{"quant_method":"fp8"}"#);
    spec.checkpoint = Some(CheckpointInfo::from_safetensors(&[header(SafetensorsDtype::F8E4M3)], "mem"));
    let b = estimate(&spec, &load).unwrap();
    assert_eq!(b.component(ComponentKind::Weights), 128 * 64 + 64 * 2);
    assert!(b.components[0].formula.contains("exact"));
    // F32 tensors in a bf16 model: loaded as bf16, from the parameter count, with a note.
    let mut spec = config("");
    spec.checkpoint = Some(CheckpointInfo::from_safetensors(&[header(SafetensorsDtype::F32)], "mem"));
    let b = estimate(&spec, &load).unwrap();
    assert!(b.notes.iter().any(|n| n.contains("stores fp32")), "{:?}", b.notes);
    // --dtype asked for: the parameter count.
    let mut spec = config("");
    spec.checkpoint = Some(CheckpointInfo::from_safetensors(&[header(SafetensorsDtype::BF16)], "mem"));
    let exact = estimate(&spec, &load).unwrap();
    assert_eq!(exact.component(ComponentKind::Weights), (128 * 64 + 64) * 2);
    let asked = estimate(&spec, &Workload { dtype: Some(DType::Fp32), ..load.clone() }).unwrap();
    assert!(asked.component(ComponentKind::Weights) > exact.component(ComponentKind::Weights) * 2);
}
