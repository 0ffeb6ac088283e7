//! SVG, written by hand (no plotting dependency): `sweep --svg`, a stacked bar chart with one
//! bar per point; `estimate --svg`, the three levels of one estimate as stacked bars. One
//! color per component, the GPU's usable memory as a dashed line.

use super::{axis_label, chart::nice_scale, describe, gib, stack, EstimateReport, SweepReport};
use std::fmt::Write;
use vramfit_core::Level;

const COLORS: [&str; 14] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#86bcb6", "#d37295", "#8cd17d", "#499894",
];
const GIB: f64 = 1_073_741_824.0;
const W: f64 = 820.0;
const H: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 600.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 400.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One legend entry at (x, y): the k-th colour's swatch and its label.
fn legend_item(s: &mut String, x: f64, y: f64, k: usize, label: &str) {
    let _ = writeln!(
        s,
        r#"<rect x="{}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
        num(x),
        num(y),
        COLORS[k % COLORS.len()],
        num(x + 18.0),
        num(y + 10.0),
        esc(label)
    );
}

fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

pub fn sweep(r: &SweepReport<'_>) -> String {
    let series = stack(r.points);
    let label = axis_label(r.axis, r.workload);
    let max = super::sweep_max(r);
    let (scale, step) = nice_scale(max as f64 / GIB);
    let y = |bytes: f64| BOTTOM - bytes / GIB / scale * (BOTTOM - TOP);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}: peak device memory by {label}</text>"#,
        esc(&r.model.name)
    );
    if r.points.iter().any(|p| p.outcome.is_ok()) {
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="44" fill="#555555">base workload: {}</text>"##,
            esc(&describe(r.workload, r.model))
        );
    }
    // Grid and y axis.
    let mut t = 0.0;
    while t <= scale + 1e-9 {
        let yy = num(y(t * GIB));
        let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{yy}" x2="{RIGHT}" y2="{yy}" stroke="#e0e0e0"/>"##);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{} GiB</text>"#,
            num(LEFT - 6.0),
            num(y(t * GIB) + 4.0),
            num(t)
        );
        t += step;
    }
    let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#333333"/>"##);
    // Bars.
    let n = r.points.len().max(1) as f64;
    let slot = (RIGHT - LEFT) / n;
    let bar = slot * 0.7;
    for (i, p) in r.points.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let cx = num(LEFT + slot * (i as f64 + 0.5));
        let _ = writeln!(s, r#"<text x="{cx}" y="{}" text-anchor="middle">{}</text>"#, num(BOTTOM + 16.0), p.value);
        let Ok(b) = &p.outcome else {
            let _ = writeln!(
                s,
                r##"<text x="{cx}" y="{}" text-anchor="middle" fill="#999999">n/a</text>"##,
                num(BOTTOM - 6.0)
            );
            continue;
        };
        let mut cum = 0u64;
        for (k, (name, bytes)) in series.iter().enumerate() {
            let v = bytes[i];
            if v == 0 {
                continue;
            }
            let top = y((cum + v) as f64);
            let h = y(cum as f64) - top;
            cum += v;
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} GiB</title></rect>"#,
                num(x),
                num(top),
                num(bar),
                num(h),
                COLORS[k % COLORS.len()],
                esc(name.name()),
                gib(v)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{cx}" y="{}" text-anchor="middle" font-size="10">{}</text>"#,
            num(y(b.total_bytes() as f64) - 4.0),
            gib(b.total_bytes())
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{label}</text>"#,
        num(f64::midpoint(LEFT, RIGHT)),
        num(BOTTOM + 36.0)
    );
    // GPU line.
    if let Some(g) = r.gpu {
        let yy = num(y(g.usable_bytes as f64));
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy}" x2="{RIGHT}" y2="{yy}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>"##
        );
    }
    // Legend, top of the stack first.
    let lx = RIGHT + 24.0;
    for (row, (k, (name, _))) in series.iter().enumerate().rev().enumerate() {
        let ly = TOP + 18.0 * row as f64;
        legend_item(&mut s, lx, ly, k, name.name());
    }
    if let Some(g) = r.gpu {
        let ly = TOP + 18.0 * series.len() as f64 + 8.0;
        let _ = writeln!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/><text x="{}" y="{}">{} usable: {} GiB</text>"##,
            num(lx),
            num(ly + 6.0),
            num(lx + 12.0),
            num(ly + 6.0),
            num(lx + 18.0),
            num(ly + 10.0),
            esc(&g.label),
            gib(g.usable_bytes)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Height of one level's bar in the estimate chart, and the space between bars.
const LEVEL_BAR: f64 = 28.0;
const LEVEL_GAP: f64 = 14.0;
/// Where the estimate chart's bars start (after the level names) and end.
const LEVEL_LEFT: f64 = 90.0;
const LEVEL_RIGHT: f64 = 790.0;

/// The three levels of an estimate as horizontal stacked bars: allocated (the allocated
/// components), reserved (those and the allocator's), device (all of them); CPU RAM is left
/// out. With a GPU, its usable memory is a dashed line.
pub fn estimate(r: &EstimateReport<'_>) -> String {
    let b = r.breakdown;
    let gpu_parts: Vec<_> = b.components.iter().filter(|c| c.level != Level::Host && c.bytes > 0).collect();
    let levels = [Level::Allocated, Level::Reserved, Level::Device];
    let usable = r.verdict.map(|v| v.gpu.usable_bytes);
    let max = b.levels.device.max(usable.unwrap_or(0));
    let (scale, step) = nice_scale(max as f64 / GIB);
    let x = |bytes: f64| LEVEL_LEFT + bytes / GIB / scale * (LEVEL_RIGHT - LEVEL_LEFT);
    let top = 64.0;
    let axis_y = top + 3.0 * (LEVEL_BAR + LEVEL_GAP);
    let legend_top = axis_y + 40.0;
    let height = legend_top + 18.0 * gpu_parts.len().div_ceil(3) as f64 + 12.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#,
        h = num(height)
    );
    let _ = writeln!(s, r##"<rect width="{W}" height="{}" fill="#ffffff"/>"##, num(height));
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="16" font-weight="bold">{}: peak memory, {}</text>"#,
        esc(&r.model.name),
        esc(b.peak_phase.name())
    );
    let _ = writeln!(s, r##"<text x="10" y="42" fill="#555555">{}</text>"##, esc(&describe(r.workload, r.model)));
    // Grid and x axis.
    let mut t = 0.0;
    while t <= scale + 1e-9 {
        let xx = num(x(t * GIB));
        let _ = writeln!(
            s,
            r##"<line x1="{xx}" y1="{}" x2="{xx}" y2="{}" stroke="#e0e0e0"/>"##,
            num(top - 6.0),
            num(axis_y)
        );
        let _ = writeln!(s, r#"<text x="{xx}" y="{}" text-anchor="middle">{} GiB</text>"#, num(axis_y + 16.0), num(t));
        t += step;
    }
    for (row, level) in levels.iter().enumerate() {
        let y = top + row as f64 * (LEVEL_BAR + LEVEL_GAP);
        let name = match level {
            Level::Allocated => "allocated",
            Level::Reserved => "reserved",
            _ => "device",
        };
        let _ = writeln!(s, r#"<text x="10" y="{}">{name}</text>"#, num(y + LEVEL_BAR / 2.0 + 4.0));
        let mut cum = 0u64;
        for (k, c) in gpu_parts.iter().enumerate() {
            if c.level > *level {
                continue;
            }
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{LEVEL_BAR}" fill="{}"><title>{}: {} GiB ({})</title></rect>"#,
                num(x(cum as f64)),
                num(y),
                num(x((cum + c.bytes) as f64) - x(cum as f64)),
                COLORS[k % COLORS.len()],
                esc(&c.label()),
                gib(c.bytes),
                name
            );
            cum = cum.saturating_add(c.bytes);
        }
        let total = b.levels.get(*level);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="10">{} GiB</text>"#,
            num(x(cum as f64).min(LEVEL_RIGHT - 40.0) + 4.0),
            num(y - 3.0),
            gib(total)
        );
    }
    if let (Some(v), Some(usable)) = (r.verdict, usable) {
        let xx = num(x(usable as f64));
        let _ = writeln!(
            s,
            r##"<line x1="{xx}" y1="{}" x2="{xx}" y2="{}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"><title>{} usable: {} GiB</title></line>"##,
            num(top - 10.0),
            num(axis_y),
            esc(&v.gpu.label),
            gib(usable)
        );
        let _ = writeln!(
            s,
            r##"<text x="{xx}" y="{}" text-anchor="end" fill="#d62728">{} usable: {} GiB</text>"##,
            num(top - 12.0),
            esc(&v.gpu.label),
            gib(usable)
        );
    }
    // Legend, in stacking order, three per row.
    for (k, c) in gpu_parts.iter().enumerate() {
        let lx = 10.0 + 270.0 * (k % 3) as f64;
        let ly = legend_top + 18.0 * (k / 3) as f64;
        legend_item(&mut s, lx, ly, k, &format!("{} ({} GiB)", c.label(), gib(c.bytes)));
    }
    s.push_str("</svg>\n");
    s
}
