//! `vramfit models` and `vramfit gpus`.

use crate::args::ListArgs;
use crate::render;
use std::io::Write;

pub fn models(a: &ListArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if a.json {
        render::json::models(out)
    } else {
        render::table::models(out)
    }
}

pub fn gpus(a: &ListArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if a.json {
        render::json::gpus(out)
    } else {
        render::table::gpus(out)
    }
}
