//! A GGUF repository on the fake Hub: twelve files (nine quantizations and one model split in
//! three parts), listed by the tree API and read header-first with Range requests.

use crate::server::FakeHub;
use crate::util::{hub_config, tmp};
use vramfit_core::catalog::GpuSpec;
use vramfit_core::estimate::{LlamaCppOptions, Runtime, Workload};
use vramfit_core::fit::gguf_files::file_fit;
use vramfit_core::formats::gguf::GgufWriter;
use vramfit_core::formats::Parsed;
use vramfit_io::{read_gguf_repo, HubClient, RepoId};

const REPO: &str = "org/Tiny-7B-GGUF";
const LAYERS: u64 = 32;

/// A Llama-2-7B-shaped header (32,000-token vocabulary) whose tensors are `ty`, holding blocks
/// `blocks` (and token_embd / output when asked), and the file's full size.
fn header(
    ty: &str,
    ftype: u32,
    blocks: std::ops::Range<u64>,
    first: bool,
    last: bool,
    split: Option<(u32, u32)>,
) -> (Vec<u8>, u64) {
    let tokens: Vec<String> = (0..32_000).map(|i| format!("tok{i}")).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let mut w = GgufWriter::new().string("general.architecture", "llama");
    if first {
        w = w
            .u32("general.file_type", ftype)
            .u32("llama.block_count", LAYERS as u32)
            .u32("llama.embedding_length", 4096)
            .u32("llama.feed_forward_length", 11008)
            .u32("llama.attention.head_count", 32)
            .u32("llama.attention.head_count_kv", 32)
            .u32("llama.context_length", 4096)
            .strings("tokenizer.ggml.tokens", &tokens);
    }
    if let Some((no, of)) = split {
        w = w.u32("split.no", no).u32("split.count", of);
    }
    if first {
        w = w.tensor("token_embd.weight", &[4096, 32_000], ty);
    }
    for i in blocks {
        for (n, dims) in [
            ("attn_q", [4096, 4096]),
            ("attn_k", [4096, 4096]),
            ("attn_v", [4096, 4096]),
            ("attn_output", [4096, 4096]),
            ("ffn_gate", [4096, 11008]),
            ("ffn_up", [4096, 11008]),
            ("ffn_down", [11008, 4096]),
        ] {
            w = w.tensor(&format!("blk.{i}.{n}.weight"), &dims, ty);
        }
        w = w.tensor(&format!("blk.{i}.attn_norm.weight"), &[4096], "F32");
        w = w.tensor(&format!("blk.{i}.ffn_norm.weight"), &[4096], "F32");
    }
    if last {
        w = w.tensor("output_norm.weight", &[4096], "F32").tensor("output.weight", &[4096, 32_000], ty);
    }
    let bytes = w.build();
    let Parsed::Done(f) = vramfit_core::formats::gguf::parse_header(&bytes).unwrap() else { panic!("header") };
    // Serve the header only; list the size the whole file would have.
    (bytes[..usize::try_from(f.data_offset).unwrap().min(bytes.len())].to_vec(), f.data_end())
}

#[test]
fn twelve_files_three_split_read_with_range_requests() {
    let singles = [
        ("Q2_K", 10u32),
        ("Q3_K", 12),
        ("Q4_0", 2),
        ("Q4_K", 15),
        ("Q5_K", 17),
        ("Q6_K", 18),
        ("Q8_0", 7),
        ("F16", 1),
        ("IQ4_XS", 30),
    ];
    let mut files = Vec::new();
    let mut sizes = Vec::new();
    for (ty, ft) in singles {
        let name = format!("Tiny-7B-{ty}.gguf");
        let (b, size) = header(ty, ft, 0..LAYERS, true, true, None);
        sizes.push((name.clone(), size));
        files.push((name, b));
    }
    for (no, range) in [(1u32, 0..11u64), (2, 11..22), (3, 22..LAYERS)] {
        let name = format!("F32/Tiny-7B-F32-{no:05}-of-00003.gguf");
        let (b, size) = header("F32", 0, range, no == 1, no == 3, Some((no - 1, 3)));
        sizes.push((name.clone(), size));
        files.push((name, b));
    }
    files.push(("README.md".into(), b"# Tiny".to_vec()));
    let served_headers: u64 = files
        .iter()
        .filter(|f| std::path::Path::new(&f.0).extension().is_some_and(|e| e == "gguf"))
        .map(|f| f.1.len() as u64)
        .sum();
    let hub = FakeHub::start_sized(REPO, files, sizes.clone(), None, None);
    let home = tmp("gguf-repo");
    let client = HubClient::new(hub_config(&hub.hub.url(), &home)).unwrap();
    let repo = read_gguf_repo(&client, &RepoId::parse(REPO, None).unwrap()).unwrap();

    // Ten models: nine files and one split in three parts, sizes as listed.
    assert_eq!(repo.files.len(), 10);
    let split = repo.files.iter().find(|f| f.parts.len() == 3).unwrap();
    assert_eq!(split.bytes, sizes[9..].iter().map(|s| s.1).sum::<u64>());
    let split_spec = split.spec.as_ref().unwrap();
    assert_eq!(split_spec.num_layers(), LAYERS);
    assert_eq!(split_spec.checkpoint.as_ref().unwrap().layer_bytes.len(), LAYERS as usize);
    for f in &repo.files {
        let spec = f.spec.as_ref().unwrap();
        // The headers' tensors add up to the listed file (data section = file - header).
        let ck = spec.checkpoint.as_ref().unwrap();
        assert!(
            ck.bytes <= f.bytes && ck.bytes + f.header_bytes + 4096 * f.parts.len() as u64 >= f.bytes,
            "{}",
            f.name
        );
    }
    // Headers only: what was read stays under twice the headers (the listing included).
    let headers: u64 = repo.files.iter().map(|f| f.header_bytes).sum();
    assert!(headers > 1_000_000 && headers <= served_headers);
    assert!(repo.bytes_transferred < 2 * headers, "{} B read for {} B of headers", repo.bytes_transferred, headers);

    // The table on an 8 GiB GPU at 4096 tokens.
    let gpu = GpuSpec::parse("8GiB").unwrap();
    let w = Workload {
        runtime: Runtime::LlamaCpp,
        kv_prealloc: Some(4096),
        llama_cpp: LlamaCppOptions::default(),
        ..Workload::default()
    };
    let mut rows: Vec<(u64, vramfit_core::fit::gguf_files::FileFit)> = repo
        .files
        .iter()
        .map(|f| (f.bytes, file_fit(f.spec.as_ref().unwrap(), &w, gpu.usable_bytes).unwrap()))
        .collect();
    rows.sort_by_key(|r| r.0);
    // Smaller files fit first: once one does not fit fully, no larger one does.
    let first_miss = rows.iter().position(|r| !r.1.fits_fully).unwrap();
    assert!(first_miss >= 2, "Q2_K and Q3_K fit 8 GiB with a 2 GiB cache");
    assert!(rows[first_miss..].iter().all(|r| !r.1.fits_fully));
    // Offloaded layers shrink as files grow, and a smaller KV cache type rescues the first miss.
    let layers: Vec<u64> = rows[first_miss..].iter().map(|r| r.1.layers_offloaded.unwrap()).collect();
    assert!(layers.windows(2).all(|p| p[0] >= p[1]) && layers[0] < LAYERS + 1 && *layers.last().unwrap() < layers[0]);
    assert!(rows[first_miss].1.kv_type_to_fit.is_some());
    // The longest context that fits fully: at least the asked 4096 for those that fit, less for the others.
    assert!(rows[..first_miss].iter().all(|r| r.1.max_context_full.unwrap() >= 4096));
    assert!(rows[first_miss..].iter().all(|r| r.1.max_context_full.is_none_or(|c| c < 4096)));
}
