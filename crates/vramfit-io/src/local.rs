//! Local checkpoints: a directory (config.json with safetensors shards, an index, or one
//! .gguf file), a .safetensors file beside its config.json, a .gguf file, a config.json file.

use crate::hub::{HubConfig, HubModel};
use crate::{headers, read_config, IoError, ResolvedModel};
use std::path::{Path, PathBuf};
use vramfit_core::formats::safetensors::{self, SafetensorsHeader};
use vramfit_core::model::CheckpointInfo;
use vramfit_core::ModelSpec;

fn local_err(path: &Path, reason: impl Into<String>) -> IoError {
    IoError::Local { path: path.to_path_buf(), reason: reason.into() }
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, IoError> {
    let rd = std::fs::read_dir(dir).map_err(|source| IoError::Read { path: dir.to_path_buf(), source })?;
    let mut v: Vec<PathBuf> =
        rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file() && has_ext(p, ext)).collect();
    v.sort();
    Ok(v)
}

/// Attach safetensors headers to a spec read from config.json.
fn with_safetensors(mut spec: ModelSpec, headers: &[SafetensorsHeader], source: &str) -> ModelSpec {
    let info = CheckpointInfo::from_safetensors(headers, source);
    if spec.torch_dtype.is_none() {
        spec.torch_dtype = info.main_float_dtype();
    }
    spec.checkpoint = Some(info);
    spec
}

fn resolved(name: &str, spec: ModelSpec, origin: String, bytes_read: u64, notes: Vec<String>) -> ResolvedModel {
    ResolvedModel { name: name.to_string(), spec, origin, catalog: None, bytes_transferred: 0, bytes_read, notes }
}

/// Read a GGUF file into a spec with its exact tensor sizes.
fn gguf(name: &str, path: &Path) -> Result<ResolvedModel, IoError> {
    let (file, read) = headers::gguf_file(path)?;
    let origin = path.display().to_string();
    let spec = vramfit_core::config::spec_from_gguf(&file, &origin)
        .map_err(|source| IoError::Core { context: origin.clone(), source })?;
    Ok(resolved(name, spec, origin, read, vec![]))
}

/// Read the safetensors checkpoint in `dir` (an index, or every .safetensors file).
fn safetensors_dir(dir: &Path, notes: &mut Vec<String>) -> Result<(Vec<SafetensorsHeader>, u64), IoError> {
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if index.is_file() {
        let idx = safetensors::parse_index(&crate::read_text(&index)?)
            .map_err(|error| IoError::Format { source_name: index.display().to_string(), error })?;
        idx.shards.iter().map(|s| dir.join(s)).collect()
    } else {
        files_with(dir, "safetensors")?
    };
    if files.is_empty() {
        notes.push("no safetensors files beside config.json: weights from parameter counts".into());
    }
    if files.len() as u64 > vramfit_core::limits::SHARDS.max {
        let source = vramfit_core::limits::SHARDS.exceeded("safetensors files", files.len() as u64);
        return Err(IoError::Core { context: dir.display().to_string(), source });
    }
    let missing = missing_shards(dir, &files);
    if !missing.is_empty() {
        return Err(local_err(
            dir,
            format!(
                "the checkpoint is incomplete: {} shard{} missing ({}); download them, or pass config.json alone for weights from parameter counts",
                missing.len(),
                if missing.len() == 1 { " is" } else { "s are" },
                missing.join(", ")
            ),
        ));
    }
    let mut out: Vec<SafetensorsHeader> = Vec::with_capacity(files.len());
    let (mut read, mut tensors) = (0u64, 0u64);
    let mut seen = std::collections::HashSet::new();
    for f in &files {
        let (h, n) = headers::safetensors_file(f)?;
        read += n;
        tensors += h.tensors.len() as u64;
        // The same per-model bounds as a Hub checkpoint.
        let core = |source| IoError::Core { context: f.display().to_string(), source };
        vramfit_core::limits::MODEL_HEADER_BYTES.check("checkpoint headers", read).map_err(core)?;
        vramfit_core::limits::MODEL_TENSORS.check("checkpoint tensors", tensors).map_err(core)?;
        // A second copy of the same tensors (model.safetensors beside consolidated.safetensors)
        // is not loaded twice: count it once.
        if !h.tensors.is_empty() && h.tensors.iter().all(|t| seen.contains(&t.name)) {
            notes.push(format!(
                "{} holds tensors already read from another file (a second copy): counted once",
                f.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            ));
            continue;
        }
        seen.extend(h.tensors.iter().map(|t| t.name.clone()));
        out.push(h);
    }
    Ok((out, read))
}

/// Whether the tensors hold (about) the parameters config.json describes; if they hold under
/// 90 %, a note says so and the weights come from the config's parameter count. Quantized
/// checkpoints pack several parameters per element and are not compared.
fn matches_config(spec: &ModelSpec, headers: &[SafetensorsHeader], notes: &mut Vec<String>) -> bool {
    if spec.quantization.is_some() {
        return true;
    }
    let elements: u64 = headers.iter().flat_map(|h| &h.tensors).fold(0u64, |a, t| a.saturating_add(t.numel));
    let params = vramfit_core::ParamCount::of(spec).total;
    if elements.saturating_mul(10) >= params.saturating_mul(9) {
        return true;
    }
    notes.push(format!(
        "the safetensors files hold {elements} elements but config.json describes {params} parameters: weights computed from the config, not from these files"
    ));
    false
}

/// Shards a sharded checkpoint names (the index, or `model-00001-of-00004.safetensors`
/// file names) that are not in `dir`.
fn missing_shards(dir: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut missing: Vec<String> = files
        .iter()
        .filter(|f| !f.is_file())
        .filter_map(|f| f.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    // Without an index: `prefix-0000i-of-0000n.safetensors` names the count it belongs to.
    for f in files.iter().filter(|f| f.is_file()) {
        let Some(name) = f.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        let Some(stem) = name.strip_suffix(".safetensors") else { continue };
        let Some((head, total)) = stem.rsplit_once("-of-") else { continue };
        let Some((prefix, _)) = head.rsplit_once('-') else { continue };
        let Ok(n) = total.parse::<u32>() else { continue };
        for i in 1..=n.min(10_000) {
            let shard = format!("{prefix}-{i:0w$}-of-{total}.safetensors", w = total.len());
            if !dir.join(&shard).is_file() && !missing.contains(&shard) {
                missing.push(shard);
            }
        }
    }
    missing
}

/// Read a model from a local path.
pub(crate) fn read_path(name: &str, path: &Path) -> Result<ResolvedModel, IoError> {
    if path.is_dir() {
        let config = path.join("config.json");
        if !config.is_file() {
            let ggufs = files_with(path, "gguf")?;
            return match ggufs.as_slice() {
                [one] => gguf(name, one),
                [] => Err(local_err(path, "no config.json or .gguf file here")),
                many => Err(local_err(
                    path,
                    format!(
                        "no config.json and {} .gguf files: pass one of them ({})",
                        many.len(),
                        many.iter()
                            .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            };
        }
        let spec = read_config(&config)?;
        let mut notes = vec![];
        let (headers, read) = safetensors_dir(path, &mut notes)?;
        let origin = path.display().to_string();
        let spec = if headers.is_empty() || !matches_config(&spec, &headers, &mut notes) {
            spec
        } else {
            with_safetensors(spec, &headers, &origin)
        };
        return Ok(resolved(name, spec, origin, read, notes));
    }
    if has_ext(path, "gguf") {
        return gguf(name, path);
    }
    if has_ext(path, "safetensors") {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let config = dir.join("config.json");
        if !config.is_file() {
            return Err(local_err(
                path,
                format!("no config.json beside it in {}: the architecture comes from config.json", dir.display()),
            ));
        }
        let spec = read_config(&config)?;
        let (h, read) = headers::safetensors_file(path)?;
        let origin = path.display().to_string();
        let spec = with_safetensors(spec, &[h], &origin);
        let mut notes = vec![];
        if dir.join("model.safetensors.index.json").is_file() {
            notes.push(format!(
                "{} is one shard of a sharded checkpoint: pass the directory for all weights",
                path.display()
            ));
        }
        return Ok(resolved(name, spec, origin, read, notes));
    }
    let spec = read_config(path)?;
    Ok(resolved(name, spec, path.display().to_string(), 0, vec![]))
}

/// A model read from the Hub (or its cache).
pub(crate) fn from_hub(name: &str, m: HubModel, cfg: &HubConfig) -> Result<ResolvedModel, IoError> {
    let what = format!("{} config.json", m.repo.display());
    let spec =
        vramfit_core::config::parse_config(&m.config).map_err(|source| IoError::Core { context: what, source })?;
    let origin = format!("{}/{}/tree/{}", cfg.endpoint_shown(), m.repo.repo, m.commit);
    let headers: Vec<SafetensorsHeader> = m.shards.iter().map(|(_, h)| h.clone()).collect();
    let spec = if headers.is_empty() { spec } else { with_safetensors(spec, &headers, &origin) };
    let mut notes = m.notes;
    notes.push(format!(
        "read {} over {} HTTP requests ({} files from the cache); commit {}",
        if m.bytes_transferred == 0 { "nothing".to_string() } else { format!("{} bytes", m.bytes_transferred) },
        m.requests,
        m.cache_hits,
        m.commit
    ));
    Ok(ResolvedModel {
        name: name.to_string(),
        spec,
        origin,
        catalog: None,
        bytes_transferred: m.bytes_transferred,
        bytes_read: 0,
        notes,
    })
}
