//! `vramfit validate`: every case estimated on the level it measured, or skipped with a reason.

use crate::args::ValidateArgs;
use crate::render;
use std::io::Write;
use vramfit_core::validate::{score_case, summarize, CaseResult};

pub fn run(a: &ValidateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let file = vramfit_io::read_cases(&a.cases)?;
    let results: Vec<CaseResult> = file
        .cases
        .iter()
        .map(|case| {
            let outcome = case.workload().and_then(|w| {
                let spec = file.spec(case).map_err(|e| e.to_string())?;
                vramfit_core::estimate(&spec, &w).map_err(|e| e.to_string())
            });
            score_case(case, outcome.as_ref().map_err(Clone::clone))
        })
        .collect();
    let summary = summarize(&results);
    if a.json {
        render::json::validate(&results, &summary, out)
    } else if a.markdown {
        render::markdown::validate(&results, &summary, out)
    } else {
        render::table::validate(&results, &summary, out)
    }
}
