//! `vramfit fit`: the verdict as asked, ranked plans that fit, and the limits; for a Hub
//! repository of GGUF files (a repo id ending in `-GGUF`), one row per file.

use crate::args::FitArgs;
use crate::render;
use std::io::Write;
use vramfit_core::catalog::GpuSpec;
use vramfit_core::fit::gguf_files::{self, FileFit};
use vramfit_core::fit::{fit, FitOptions};
use vramfit_io::{HubClient, HubConfig, RepoId};

pub fn run(a: &FitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let gpu = a.workload.gpu(&a.gpu)?;
    if let Some(repo) = gguf_repo(&a.model) {
        return gguf_table(a, &repo, &gpu, out);
    }
    let workload = a.workload.resolve(&a.model, Some(gpu.count))?;
    let model = vramfit_io::resolve_model(&a.model)?;
    if workload.runtime.is_serving_engine() {
        let f = vramfit_core::estimate::serving::plans::fit(&model.spec, &workload, &gpu)?;
        return if a.json {
            let m = vramfit_core::request::ModelReport {
                name: &model.name,
                origin: &model.origin,
                notes: &model.notes,
                bytes_transferred: model.bytes_transferred,
            };
            render::json::emit(&vramfit_core::request::serving_fit_value(&m, &gpu, &f), out)
        } else {
            render::table::serving_fit(&model, &gpu, &f, out)
        };
    }
    let mut report = fit(
        &model.spec,
        &workload,
        &gpu,
        FitOptions { all: a.all, prefer_speed: a.prefer == "speed", ram_bandwidth: a.workload.request.ram_bandwidth },
    )?;
    report.notes.extend(vramfit_core::ignored_flags::notes(&a.workload.request, &workload, Some(gpu.count)));
    if a.json {
        render::json::fit(&model, &report, out)
    } else {
        render::table::fit(&model, &report, a.all, out)
    }
}

/// A Hub repo id whose name ends in `-GGUF` (bartowski/…-GGUF, unsloth/…-GGUF), not a local path.
fn gguf_repo(model: &str) -> Option<RepoId> {
    if std::path::Path::new(model).exists() {
        return None;
    }
    let repo = RepoId::parse(model, None)?;
    repo.repo.to_ascii_lowercase().ends_with("gguf").then_some(repo)
}

/// Every GGUF file of the repo against the GPU.
fn gguf_table(a: &FitArgs, repo: &RepoId, gpu: &GpuSpec, out: &mut dyn Write) -> anyhow::Result<()> {
    let workload = gguf_files::repo_workload(&a.workload.request, &repo.repo, gpu)?;
    let client = HubClient::new(HubConfig::from_env())?;
    let listing = vramfit_io::read_gguf_repo(&client, repo)?;
    let rows: Vec<(&vramfit_io::GgufModelFile, Result<FileFit, String>)> =
        listing.files.iter().map(|f| (f, gguf_files::judge(f, &workload, gpu))).collect();
    let headers: u64 = listing.files.iter().map(|f| f.header_bytes).sum();
    let ctx = workload.kv_prealloc;
    if a.json {
        let transfer = gguf_files::Transfer { bytes: listing.bytes_transferred, requests: listing.requests };
        let v = gguf_files::table_value(&listing.repo, gpu, &workload, &rows, transfer);
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} on {} at --ctx-size {} (llama.cpp, every layer on the GPU unless said)\n",
        listing.repo,
        gpu.label,
        ctx.map_or_else(|| "default".to_string(), |c| c.to_string())
    )?;
    writeln!(out, "{:<56} {:>9}  {:<28} {:>9}  KV type to fit", "file", "GiB", "verdict", "max ctx")?;
    for (f, fit) in &rows {
        let name = if f.parts.len() > 1 { format!("{} ({} parts)", f.name, f.parts.len()) } else { f.name.clone() };
        let gib = f.bytes as f64 / f64::from(1u32 << 30);
        match fit {
            Err(e) => writeln!(out, "{name:<56} {gib:>9.2}  cannot estimate: {e}")?,
            Ok(r) => {
                let verdict = match (r.fits_fully, r.layers_offloaded) {
                    (true, _) => "fits fully".to_string(),
                    (false, Some(0)) => "does not fit (no layer)".to_string(),
                    (false, Some(n)) => format!("-ngl {n} of {} fits", r.layers_total),
                    (false, None) => "does not fit".to_string(),
                };
                let max_ctx = r.max_context_full.map_or_else(|| "-".to_string(), |c| c.to_string());
                let kv =
                    r.kv_type_to_fit.clone().unwrap_or_else(|| if r.fits_fully { "-".into() } else { "none".into() });
                writeln!(out, "{name:<56} {gib:>9.2}  {verdict:<28} {max_ctx:>9}  {kv}")?;
            }
        }
    }
    writeln!(
        out,
        "\nread {} B from the Hub in {} range requests for {} B of headers",
        listing.bytes_transferred, listing.requests, headers
    )?;
    Ok(())
}
