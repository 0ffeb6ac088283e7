//! A Hub repository of GGUF files (bartowski/…-GGUF, unsloth/…-GGUF), without I/O: the Hub
//! tree API's listing grouped into models (split files `-00001-of-00003.gguf` as one), the
//! next Range to ask for while reading a header, and the parts' headers joined into one model.
//!
//! The CLI (`vramfit-io`, over HTTP) and the web page (the browser's `fetch`) both read a
//! repository with these steps, so they ask for the same bytes and describe the same models.
//!
//! Reading asks for what the parser says it still needs plus a quarter of what it already
//! has (at least 64 KiB): a few round trips for a header of megabytes of vocabulary, and never
//! more than about 1.25× the header (not the 2× of doubling).

use super::gguf::{self, GgufFile};
use super::{FormatError, Parsed};
use crate::model::ModelSpec;

/// Least bytes asked per request.
pub const MIN_READ: u64 = 64 << 10;
/// Largest tree listing read.
pub const TREE_LIMIT: u64 = 16 << 20;

/// One model of a listing: a `.gguf` file, or the parts of a split one, with their sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedModel {
    /// The file name, or the first part's name for a split model.
    pub name: String,
    /// Every part (path in the repo, bytes as the Hub lists them), in order.
    pub parts: Vec<(String, u64)>,
}

impl ListedModel {
    /// Bytes of all parts.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.parts.iter().fold(0u64, |a, p| a.saturating_add(p.1))
    }
}

/// An entry of the tree listing.
#[derive(serde::Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(serde::Deserialize)]
struct Lfs {
    size: u64,
}

/// The GGUF models of a Hub tree listing (`api/models/{repo}/tree/{rev}?recursive=true`), in
/// the listing's order; sizes are the LFS sizes where given.
///
/// # Errors
/// The body is not the tree API's JSON array of entries.
pub fn listing(body: &[u8]) -> Result<Vec<ListedModel>, serde_json::Error> {
    let entries: Vec<TreeEntry> = serde_json::from_slice(body)?;
    let ggufs: Vec<(String, u64)> = entries
        .into_iter()
        .filter(|e| e.kind == "file" && e.path.to_ascii_lowercase().ends_with(".gguf"))
        .map(|e| {
            let size = e.lfs.map_or(e.size, |l| l.size);
            (e.path, size)
        })
        .collect();
    Ok(group(&ggufs))
}

/// `name-00002-of-00003.gguf` → (`name`, 2, 3).
#[must_use]
pub fn split_part(name: &str) -> Option<(&str, u32, u32)> {
    let stem = name.strip_suffix(".gguf")?;
    let (rest, of) = stem.rsplit_once("-of-")?;
    let (base, part) = rest.rsplit_once('-')?;
    let digits = |s: &str| s.len() == 5 && s.chars().all(|c| c.is_ascii_digit());
    if !digits(part) || !digits(of) {
        return None;
    }
    Some((base, part.parse().ok()?, of.parse().ok()?))
}

/// The `.gguf` files of a listing grouped into models.
fn group(entries: &[(String, u64)]) -> Vec<ListedModel> {
    let mut out: Vec<ListedModel> = Vec::new();
    for (path, size) in entries {
        let same = |m: &&mut ListedModel| {
            split_part(path).zip(split_part(&m.name)).is_some_and(|((a, _, _), (b, _, _))| a == b)
        };
        match out.iter_mut().find(|m| same(m)) {
            Some(m) => m.parts.push((path.clone(), *size)),
            None => out.push(ListedModel { name: path.clone(), parts: vec![(path.clone(), *size)] }),
        }
    }
    for m in &mut out {
        m.parts.sort_by_key(|(p, _)| split_part(p).map_or(0, |(_, i, _)| i));
        if let Some(first) = m.parts.first() {
            m.name.clone_from(&first.0);
        }
    }
    out
}

/// What to do next with the first bytes of a file of `size` bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The header is complete.
    Done(GgufFile),
    /// Ask for bytes `start..=end` of the file and call again with them appended.
    Ask {
        /// First byte (the bytes held so far).
        start: u64,
        /// Last byte, inclusive (as an HTTP Range says it).
        end: u64,
        /// Bytes in all the parser said it needs (for the error when fewer come).
        need: u64,
    },
}

/// The next step of reading a GGUF header from its first bytes `buf`.
///
/// # Errors
/// The header is malformed or past the parser's limits, or the file ends before it does.
pub fn next_step(buf: &[u8], size: u64) -> Result<Step, FormatError> {
    let need = match gguf::parse_header(buf)? {
        Parsed::Done(f) => return Ok(Step::Done(f)),
        Parsed::NeedBytes(n) => n,
    };
    let have = buf.len() as u64;
    // The parser refuses headers past its limit, so reading beyond it is never useful.
    let room = size.min(gguf::MAX_HEADER_BYTES).saturating_sub(have);
    let want = need.saturating_sub(have).max(have / 4).max(MIN_READ).min(room);
    if want == 0 {
        return Err(FormatError::Truncated { format: "gguf", needed: need, available: have });
    }
    Ok(Step::Ask { start: have, end: have + want - 1, need })
}

/// A model of the repository, read.
#[derive(Debug, Clone)]
pub struct RepoModel {
    /// The file name, or the first part's name for a split model.
    pub name: String,
    /// Every part, in order (one for an unsplit file).
    pub parts: Vec<String>,
    /// Bytes of all parts, as the Hub lists them.
    pub bytes: u64,
    /// Bytes of the headers (key/values and tensor infos) of the parts read.
    pub header_bytes: u64,
    /// The model the headers describe (exact tensor bytes as its checkpoint), or why not.
    pub spec: Result<ModelSpec, String>,
    /// `general.file_type` (`Q4_K_M`) when the header names it.
    pub file_type: Option<String>,
}

/// A listed model from the headers of its parts, in order (the first part holds the
/// key/values; the others add tensors). `error`: why a part could not be read (the parts
/// before it still count in `header_bytes`). `source` names the model in errors
/// (`org/name@main/file.gguf`).
#[must_use]
pub fn model_of_parts(listed: &ListedModel, headers: Vec<GgufFile>, error: Option<String>, source: &str) -> RepoModel {
    let header_bytes = headers.iter().fold(0u64, |a, h| a.saturating_add(h.header_bytes));
    let mut merged: Option<GgufFile> = None;
    for h in headers {
        match &mut merged {
            None => merged = Some(h),
            Some(m) => m.tensors.extend(h.tensors),
        }
    }
    let file_type = merged.as_ref().and_then(GgufFile::file_type).map(str::to_string);
    let spec = match (error, merged) {
        (Some(e), _) => Err(e),
        (None, Some(f)) => crate::config::spec_from_gguf(&f, source).map_err(|e| e.to_string()),
        (None, None) => Err("no parts".into()),
    };
    RepoModel {
        name: listed.name.clone(),
        parts: listed.parts.iter().map(|p| p.0.clone()).collect(),
        bytes: listed.bytes(),
        header_bytes,
        spec,
        file_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::gguf::GgufWriter;

    #[test]
    fn split_names_group_into_one_model() {
        assert_eq!(split_part("Q8_0/m-Q8_0-00002-of-00003.gguf"), Some(("Q8_0/m-Q8_0", 2, 3)));
        assert_eq!(split_part("m-Q4_K_M.gguf"), None);
        assert_eq!(split_part("m-1-of-3.gguf"), None);
        let g =
            group(&[("a-00002-of-00002.gguf".into(), 5), ("b.gguf".into(), 7), ("a-00001-of-00002.gguf".into(), 3)]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "a-00001-of-00002.gguf");
        assert_eq!(g[0].bytes(), 8);
    }

    #[test]
    fn the_listing_keeps_gguf_files_with_their_lfs_sizes() {
        let body = br#"[{"type":"directory","path":"F32","size":0},
            {"type":"file","path":"README.md","size":12},
            {"type":"file","path":"m-Q4_K_M.gguf","size":134,"lfs":{"size":4000000000,"oid":"x"}},
            {"type":"file","path":"F32/m-00001-of-00002.GGUF","size":9}]"#;
        let l = listing(body).unwrap();
        assert_eq!(
            l.iter().map(|m| (m.name.as_str(), m.bytes())).collect::<Vec<_>>(),
            [("m-Q4_K_M.gguf", 4_000_000_000), ("F32/m-00001-of-00002.GGUF", 9)]
        );
        assert!(listing(b"{\"error\":\"Repository not found\"}").is_err());
    }

    /// Reading a header step by step asks for 64 KiB first, then what the parser needs plus a
    /// quarter of what is held, and stops at the header: never more than 1.25× it plus 64 KiB.
    #[test]
    fn steps_read_a_header_in_few_growing_ranges() {
        let tokens: Vec<String> = (0..40_000).map(|i| format!("token-{i}")).collect();
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let file = GgufWriter::new()
            .string("general.architecture", "llama")
            .strings("tokenizer.ggml.tokens", &tokens)
            .tensor("token_embd.weight", &[64, 40_000], "Q8_0")
            .build();
        let size = file.len() as u64 + 1_000_000;
        let mut buf: Vec<u8> = Vec::new();
        let mut asks = Vec::new();
        let header = loop {
            match next_step(&buf, size).unwrap() {
                Step::Done(f) => break f,
                Step::Ask { start, end, need } => {
                    assert_eq!(start, buf.len() as u64);
                    assert!(end + 1 >= need.min(size) && end - start + 1 >= MIN_READ);
                    asks.push(end - start + 1);
                    let stop = usize::try_from(end + 1).unwrap().min(file.len());
                    buf.extend_from_slice(&file[buf.len()..stop]);
                }
            }
        };
        assert_eq!(asks[0], MIN_READ);
        assert!(asks.len() >= 3 && asks.len() <= 12, "{asks:?}");
        assert!(
            (buf.len() as u64) <= header.header_bytes * 5 / 4 + MIN_READ,
            "{} for {}",
            buf.len(),
            header.header_bytes
        );
        // A file that ends inside its header: the error says so.
        let cut = &file[..1000];
        assert!(matches!(next_step(cut, 1000), Err(FormatError::Truncated { available: 1000, .. })));
    }

    #[test]
    fn parts_join_into_one_model_and_errors_are_kept() {
        let part = |first: bool, blocks: std::ops::Range<u64>| {
            let mut w = GgufWriter::new().string("general.architecture", "llama");
            if first {
                w = w
                    .u32("general.file_type", 7)
                    .u32("llama.block_count", 2)
                    .u32("llama.embedding_length", 64)
                    .u32("llama.feed_forward_length", 128)
                    .u32("llama.attention.head_count", 4)
                    .u32("llama.context_length", 512)
                    .strings("tokenizer.ggml.tokens", &["a", "b", "c", "d"])
                    .tensor("token_embd.weight", &[64, 4], "F16");
            }
            for i in blocks {
                for n in ["attn_q", "attn_k", "attn_v", "attn_output"] {
                    w = w.tensor(&format!("blk.{i}.{n}.weight"), &[64, 64], "Q8_0");
                }
            }
            let Parsed::Done(f) = gguf::parse_header(&w.build()).unwrap() else { panic!("header") };
            f
        };
        let listed = ListedModel {
            name: "m-00001-of-00002.gguf".into(),
            parts: vec![("m-00001-of-00002.gguf".into(), 100), ("m-00002-of-00002.gguf".into(), 50)],
        };
        let (a, b) = (part(true, 0..1), part(false, 1..2));
        let headers = a.header_bytes + b.header_bytes;
        let m = model_of_parts(&listed, vec![a.clone(), b], None, "org/m-GGUF@main/m.gguf");
        assert_eq!((m.bytes, m.header_bytes, m.file_type.as_deref()), (150, headers, Some("Q8_0")));
        assert_eq!(m.spec.unwrap().checkpoint.unwrap().layer_bytes.len(), 2);
        let broken = model_of_parts(&listed, vec![a.clone()], Some("part 2: HTTP 500".into()), "x");
        assert_eq!((broken.spec.unwrap_err().as_str(), broken.header_bytes), ("part 2: HTTP 500", a.header_bytes));
    }
}
