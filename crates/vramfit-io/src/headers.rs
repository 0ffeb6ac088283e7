//! Drivers for the core's sans-IO header parsers: ask the parser what it needs, fetch that
//! range (from a file, or over HTTP), feed it back. Nothing here reads past what a parser
//! asked for (GGUF reads grow geometrically to keep the round trips few).

use crate::IoError;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use vramfit_core::formats::gguf::{self, GgufFile};
use vramfit_core::formats::safetensors::{self, SafetensorsHeader};
use vramfit_core::formats::{FormatError, Parsed};

/// Something byte ranges can be read from.
pub(crate) trait RangeSource {
    /// Bytes `[start, start + len)`; fewer only at the end of the source.
    fn read_range(&mut self, start: u64, len: u64) -> Result<Vec<u8>, IoError>;
    /// Total length, when known.
    fn len(&self) -> Option<u64>;
    /// What to call it in errors.
    fn name(&self) -> String;
}

/// A local file.
pub(crate) struct FileSource {
    file: File,
    len: u64,
    path: String,
    /// Bytes read so far.
    pub read: u64,
}

impl FileSource {
    pub(crate) fn open(path: &Path) -> Result<Self, IoError> {
        let err = |source| IoError::Read { path: path.to_path_buf(), source };
        crate::refuse_pipe(path)?;
        let file = File::open(path).map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        Ok(FileSource { file, len, path: path.display().to_string(), read: 0 })
    }
}

impl RangeSource for FileSource {
    fn read_range(&mut self, start: u64, len: u64) -> Result<Vec<u8>, IoError> {
        let err = |source| IoError::Read { path: self.path.clone().into(), source };
        self.file.seek(SeekFrom::Start(start)).map_err(err)?;
        let want = len.min(self.len.saturating_sub(start));
        let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        (&mut self.file).take(want).read_to_end(&mut buf).map_err(err)?;
        self.read += buf.len() as u64;
        Ok(buf)
    }
    fn len(&self) -> Option<u64> {
        Some(self.len)
    }
    fn name(&self) -> String {
        self.path.clone()
    }
}

fn format_err(src: &dyn RangeSource, error: FormatError) -> IoError {
    IoError::Format { source_name: src.name(), error }
}

fn truncated(src: &dyn RangeSource, format: &'static str, needed: u64, available: u64) -> IoError {
    format_err(src, FormatError::Truncated { format, needed, available })
}

/// Read a safetensors header: 8 bytes, then exactly the JSON header.
pub(crate) fn read_safetensors(src: &mut dyn RangeSource) -> Result<(SafetensorsHeader, Vec<u8>), IoError> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match safetensors::parse_header(&buf).map_err(|e| format_err(src, e))? {
            Parsed::Done(h) => {
                if let Some(len) = src.len() {
                    if h.file_bytes() > len {
                        return Err(truncated(src, "safetensors", h.file_bytes(), len));
                    }
                }
                return Ok((h, buf));
            }
            Parsed::NeedBytes(n) => {
                if let Some(len) = src.len() {
                    if n > len {
                        return Err(truncated(src, "safetensors", n, len));
                    }
                }
                let have = buf.len() as u64;
                let more = src.read_range(have, n - have)?;
                if (more.len() as u64) < n - have {
                    return Err(truncated(src, "safetensors", n, have + more.len() as u64));
                }
                buf.extend_from_slice(&more);
            }
        }
    }
}

/// First GGUF read: enough for most headers without a vocabulary.
const GGUF_FIRST_READ: u64 = 1 << 20;

/// Read a GGUF header, doubling the bytes read until the parser has what it needs.
pub(crate) fn read_gguf(src: &mut dyn RangeSource) -> Result<GgufFile, IoError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut want = GGUF_FIRST_READ;
    loop {
        let have = buf.len() as u64;
        let target = want.min(src.len().unwrap_or(u64::MAX)).min(gguf::MAX_HEADER_BYTES);
        if target > have {
            let more = src.read_range(have, target - have)?;
            buf.extend_from_slice(&more);
        }
        match gguf::parse_header(&buf).map_err(|e| format_err(src, e))? {
            Parsed::Done(f) => {
                if let Some(len) = src.len() {
                    if f.data_end() > len {
                        return Err(truncated(src, "gguf", f.data_end(), len));
                    }
                }
                return Ok(f);
            }
            Parsed::NeedBytes(n) => {
                let got = buf.len() as u64;
                if got < target || src.len().is_some_and(|l| n > l) {
                    return Err(truncated(src, "gguf", n, got));
                }
                want = n.max(got.saturating_mul(2));
            }
        }
    }
}

/// Read a local safetensors file's header.
pub(crate) fn safetensors_file(path: &Path) -> Result<(SafetensorsHeader, u64), IoError> {
    let mut src = FileSource::open(path)?;
    let (h, _) = read_safetensors(&mut src)?;
    Ok((h, src.read))
}

/// Read a local GGUF file's header.
pub(crate) fn gguf_file(path: &Path) -> Result<(GgufFile, u64), IoError> {
    let mut src = FileSource::open(path)?;
    let f = read_gguf(&mut src)?;
    Ok((f, src.read))
}
