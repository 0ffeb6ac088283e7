//! `vramfit inspect`.

use crate::args::InspectArgs;
use crate::render;
use std::io::Write;

pub fn run(a: &InspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let model = super::source::resolve(&a.model, &a.source)?;
    if a.json {
        render::json::inspect(&model, out)
    } else {
        render::table::inspect(&model, out)
    }
}
