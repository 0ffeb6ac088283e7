//! `vramfit validate`: every case estimated on the level it measured, or skipped with a reason.

use crate::args::ValidateArgs;
use crate::render;
use std::io::Write;
use vramfit_core::validate::{score_case, summarize, CaseResult};

pub fn run(a: &ValidateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let file = vramfit_io::read_cases(&a.cases)?;
    let selected = |id: &str| a.cases_matching.is_empty() || a.cases_matching.iter().any(|m| id.contains(m.as_str()));
    let mut results: Vec<CaseResult> = Vec::new();
    for case in file.cases.iter().filter(|c| selected(&c.id)) {
        // Speed cases measure a speed metric; serving cases also carry `measured.value` (a
        // concurrency) and are scored as serving figures below.
        if vramfit_core::validate::SPEED_METRICS.contains(&case.measured.metric.as_str()) {
            let estimated = vramfit_core::validate::speed_workload(case).and_then(|w| {
                let spec = file.spec(case).map_err(|e| e.to_string())?;
                let b = vramfit_core::estimate(&spec, &w).map_err(|e| e.to_string())?;
                Ok((spec, w, b))
            });
            results.push(vramfit_core::validate::score_speed_case(
                case,
                estimated.as_ref().map(|(s, w, b)| (s, w, b)).map_err(Clone::clone),
            ));
            continue;
        }
        // A projector's compute buffer depends on the projector alone: scored from the
        // config's vision_config, without the text model.
        if case.measured.metric == vramfit_core::validate::MMPROJ_METRIC {
            let base = format!("{}/", file.base.display());
            let text = vramfit_io::read_text(&file.base.join(&case.model.config_file))
                .map_err(|e| e.to_string().replace(&base, ""));
            results.push(vramfit_core::validate::score_mmproj_case(case, text.as_deref().map_err(Clone::clone)));
            continue;
        }
        let estimated = case.workload().and_then(|w| {
            // Config paths are said relative to the cases file, so reports do not depend on
            // where the checkout sits.
            let base = format!("{}/", file.base.display());
            let spec = file.spec(case).map_err(|e| e.to_string().replace(&base, ""))?;
            let b = vramfit_core::estimate(&spec, &w).map_err(|e| e.to_string())?;
            Ok((spec, w, b))
        });
        if a.explain {
            let measured = match (case.measured.bytes, case.measured.tokens, case.measured.value) {
                (Some(b), _, _) => format!("{b} B"),
                (None, Some(t), _) => format!("{t} tokens"),
                (None, None, Some(v)) => format!("{v}"),
                _ => "nothing".into(),
            };
            writeln!(out, "== {} (measured {measured}, {})", case.id, case.measured.metric)?;
            match &estimated {
                Ok((spec, w, b)) => {
                    let model = vramfit_io::ResolvedModel {
                        name: case.model.name.clone(),
                        spec: spec.clone(),
                        origin: case.model.config_file.clone(),
                        catalog: None,
                        bytes_transferred: 0,
                        bytes_read: 0,
                        notes: Vec::new(),
                    };
                    let report = render::EstimateReport {
                        model: &model,
                        workload: w,
                        breakdown: b,
                        verdict: None,
                        speed: None,
                        compare: &[],
                        ram: None,
                    };
                    render::table::estimate(&report, true, out)?;
                }
                Err(e) => writeln!(out, "skipped: {e}")?,
            }
            writeln!(out)?;
        }
        results.push(score_case(case, estimated.as_ref().map(|(_, _, b)| b).map_err(Clone::clone)));
    }
    if results.is_empty() {
        anyhow::bail!("no case id contains {:?} (--case)", a.cases_matching);
    }
    let summary = summarize(&results);
    if a.json {
        render::json::validate(&results, &summary, out)
    } else if a.markdown {
        render::markdown::validate(&results, &summary, out)
    } else {
        render::table::validate(&results, &summary, out)
    }
}
