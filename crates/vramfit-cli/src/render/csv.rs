//! CSV (`sweep --csv`): one row per point, one column per component, bytes.

use super::{axis_label, stack, SweepReport};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn sweep(r: &SweepReport<'_>) -> String {
    let series = stack(r.points);
    let mut header: Vec<String> = vec![axis_label(r.axis, r.workload).to_string()];
    header.extend(series.iter().map(|(name, _)| field(name.name())));
    header.extend(
        ["allocated_bytes", "reserved_bytes", "device_bytes", "host_bytes", "peak_phase", "fits", "error"]
            .map(String::from),
    );
    let mut out = header.join(",");
    out.push('\n');
    for (i, p) in r.points.iter().enumerate() {
        let mut row = vec![p.value.to_string()];
        match &p.outcome {
            Ok(b) => {
                row.extend(series.iter().map(|(_, bytes)| bytes[i].to_string()));
                row.extend([
                    b.levels.allocated.to_string(),
                    b.levels.reserved.to_string(),
                    b.levels.device.to_string(),
                    b.host_bytes.to_string(),
                    field(b.peak_phase.name()),
                    r.gpu.map_or(String::new(), |g| {
                        vramfit_core::fit::Verdict::new(b.total_bytes(), g.usable_bytes).fits.to_string()
                    }),
                    String::new(),
                ]);
            }
            Err(e) => {
                row.extend(series.iter().map(|_| String::new()));
                row.extend(std::iter::repeat_n(String::new(), 6));
                row.push(field(&e.to_string()));
            }
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
