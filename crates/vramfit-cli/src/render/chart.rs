//! The terminal chart of a sweep: one horizontal stacked bar per point, one color (or, when
//! stdout is not a terminal, one character) per component, and the GPU's usable memory as a
//! vertical line.

use super::{axis_label, describe, gib, stack, SweepReport};
use std::io::Write;

/// Columns of the bar area.
const WIDTH: usize = 56;
/// One character per component when colors are off.
const CHARS: [char; 14] = ['#', '=', '+', '%', '*', 'o', '~', ':', '@', '&', 'x', '^', '-', '.'];
/// One ANSI foreground color per component when colors are on.
const COLORS: [u8; 14] = [34, 32, 33, 35, 36, 31, 94, 92, 93, 95, 96, 91, 90, 37];
const GIB: f64 = 1_073_741_824.0;

/// A round axis maximum (in GiB) at or above `max_gib`, and its tick step.
pub fn nice_scale(max_gib: f64) -> (f64, f64) {
    let max_gib = if max_gib.is_finite() && max_gib > 0.0 { max_gib } else { 1.0 };
    let magnitude = 10f64.powf(max_gib.log10().floor() - 1.0);
    let step = [1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| max_gib / s <= 6.0)
        .unwrap_or(100.0 * magnitude);
    ((max_gib / step).ceil().max(1.0) * step, step)
}

fn column(bytes: u64, scale_gib: f64) -> usize {
    let c = (bytes as f64 / GIB / scale_gib * WIDTH as f64).round();
    if c.is_finite() && c > 0.0 {
        (c as usize).min(WIDTH)
    } else {
        0
    }
}

fn paint(out: &mut String, k: usize, n: usize, color: bool) {
    if n == 0 {
        return;
    }
    if color {
        out.push_str(&format!("\x1b[{}m{}\x1b[0m", COLORS[k % COLORS.len()], "█".repeat(n)));
    } else {
        out.extend(std::iter::repeat_n(CHARS[k % CHARS.len()], n));
    }
}

fn fmt_tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

pub fn sweep(r: &SweepReport<'_>, color: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let series = stack(r.points);
    let label = axis_label(r.axis, r.workload);
    writeln!(out, "{} ({}): peak device memory by {label}", r.model.name, r.model.origin)?;
    if r.points.iter().any(|p| p.outcome.is_ok()) {
        writeln!(out, "base workload: {}", describe(r.workload, r.model))?;
    }
    writeln!(out)?;
    let max = super::sweep_max(r);
    let (scale, step) = nice_scale(max as f64 / GIB);
    let label_w = r.points.iter().map(|p| p.value.to_string().len()).max().unwrap_or(1).max(label.len());

    // Tick labels above the bars.
    let mut ticks = vec![' '; WIDTH + 8];
    let mut t = 0.0;
    let mut next_free = 0;
    while t <= scale + 1e-9 {
        let col = (t / scale * WIDTH as f64).round() as usize;
        let text = fmt_tick(t);
        if col >= next_free && col + text.len() <= ticks.len() {
            for (i, ch) in text.chars().enumerate() {
                ticks[col + i] = ch;
            }
            next_free = col + text.len() + 1;
        }
        t += step;
    }
    let ticks: String = ticks.into_iter().collect();
    writeln!(out, "{label:>label_w$}  {} GiB", ticks.trim_end())?;

    let gpu_col = r.gpu.map(|g| column(g.usable_bytes, scale));
    for (i, p) in r.points.iter().enumerate() {
        let mut line = String::new();
        let b = match &p.outcome {
            Ok(b) => b,
            Err(e) => {
                writeln!(out, "{:>label_w$}  error: {e}", p.value)?;
                continue;
            }
        };
        let mut cells: Vec<Option<usize>> = vec![None; WIDTH + 1];
        let mut cum = 0u64;
        for (k, (_, bytes)) in series.iter().enumerate() {
            let start = column(cum, scale);
            cum = cum.saturating_add(bytes[i]);
            let end = column(cum, scale);
            for cell in &mut cells[start..end] {
                *cell = Some(k);
            }
        }
        // Run-length paint so colored output stays short.
        let mut col = 0;
        while col <= WIDTH {
            if gpu_col == Some(col) {
                if color {
                    line.push_str("\x1b[1;97m│\x1b[0m");
                } else {
                    line.push('|');
                }
                col += 1;
                continue;
            }
            let k = cells[col];
            let mut run = 1;
            while col + run <= WIDTH && cells[col + run] == k && gpu_col != Some(col + run) {
                run += 1;
            }
            match k {
                Some(k) => paint(&mut line, k, run, color),
                None => line.push_str(&" ".repeat(run)),
            }
            col += run;
        }
        let verdict = r.gpu.map_or(String::new(), |g| {
            format!("  {}", vramfit_core::fit::Verdict::new(b.total_bytes(), g.usable_bytes).word())
        });
        writeln!(out, "{:>label_w$}  {line} {:>7} GiB{verdict}", p.value, gib(b.total_bytes()))?;
    }
    writeln!(out)?;
    let mut legend: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let mut key = String::new();
            paint(&mut key, k, if color { 2 } else { 1 }, color);
            format!("{key} {name}")
        })
        .collect();
    if let Some(g) = r.gpu {
        let mark = if color { "\x1b[1;97m│\x1b[0m" } else { "|" };
        legend.push(format!(
            "{mark} {}: {} GiB usable (fits = {} GiB kept free)",
            g.label,
            gib(g.usable_bytes),
            gib(vramfit_core::fit::reserve_bytes(g.usable_bytes))
        ));
    }
    let mut row = String::new();
    let mut visible = 0;
    for item in legend {
        let len = strip_ansi(&item).chars().count();
        if visible > 0 && visible + len + 3 > 96 {
            writeln!(out, "{}", row.trim_end())?;
            row.clear();
            visible = 0;
        }
        row.push_str(&item);
        row.push_str("   ");
        visible += len + 3;
    }
    if !row.is_empty() {
        writeln!(out, "{}", row.trim_end())?;
    }
    Ok(())
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_scales() {
        assert_eq!(nice_scale(13.5), (15.0, 2.5));
        assert_eq!(nice_scale(15.0), (15.0, 2.5));
        assert_eq!(nice_scale(80.0), (80.0, 20.0));
        assert_eq!(nice_scale(0.0), (1.0, 0.2));
        assert_eq!(strip_ansi("\x1b[34m██\x1b[0m x"), "██ x");
    }
}
