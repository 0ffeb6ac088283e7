//! Sweeps: one workload estimated over a range of batch sizes or sequence lengths, for
//! charts and tables.

use super::limits::{context_of, min_context, with_context};
use crate::choice::{Choice, Entry};
use crate::error::{Error, Result};
use crate::estimate::workload::{MAX_BATCH, MAX_TOKENS};
use crate::estimate::{estimate, Breakdown, Task, Workload};
use crate::model::ModelSpec;
use serde::Serialize;

/// What a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepAxis {
    /// `--batch`.
    Batch,
    /// Tokens per sequence as typed: `--seq` when training, `--prompt` otherwise.
    Seq,
    /// Tokens per sequence in all: prompt + new tokens when generating (the new tokens stay,
    /// the prompt changes), the prompt for prefill, `--seq` when training.
    Context,
}

impl Choice for SweepAxis {
    const FLAG: &'static str = "--over";
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone {
        SWEEP_AXES.iter().copied()
    }
    fn unknown(s: &str) -> String {
        format!("unknown axis {s:?}; use {}", Self::listed())
    }
}

/// `--over`: every axis, its spellings and help.
const SWEEP_AXES: &[Entry<SweepAxis>] = &[
    Entry::new(SweepAxis::Batch, &["batch"], "sequences processed together"),
    Entry::new(SweepAxis::Seq, &["seq", "sequence", "prompt"], "--seq when training, --prompt otherwise"),
    Entry::new(SweepAxis::Context, &["context", "ctx"], "prompt + new tokens (--seq when training)"),
];

crate::choice_traits!(SweepAxis);

/// Most points a sweep estimates.
pub const MAX_POINTS: usize = 64;

impl SweepAxis {
    /// Parse `batch|seq|context`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_choice(s)
    }

    /// Name as the CLI spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.canonical().expect("every axis has a row")
    }

    /// The axis's value in `w`.
    #[must_use]
    pub fn value(self, w: &Workload) -> Option<u64> {
        match (self, w.task) {
            (_, Task::Load | Task::Merge) => None,
            (SweepAxis::Batch, _) => Some(w.batch),
            (SweepAxis::Seq, Task::Train) => Some(w.training.seq),
            (SweepAxis::Seq, _) => Some(w.prompt),
            (SweepAxis::Context, _) => context_of(w),
        }
    }

    /// `w` with the axis set to `v`.
    ///
    /// # Errors
    /// The task has no such axis (load, merge), or `v` is out of range.
    pub fn apply(self, w: &Workload, v: u64) -> Result<Workload> {
        if matches!(w.task, Task::Load | Task::Merge) {
            return Err(Error::workload("--task", format!("a {} has no batch or sequence to sweep", w.task.name())));
        }
        let mut out = w.clone();
        match (self, w.task) {
            (SweepAxis::Batch, _) => out.batch = v,
            (SweepAxis::Seq, Task::Train) => out.training.seq = v,
            (SweepAxis::Seq, _) => out.prompt = v,
            (SweepAxis::Context, _) => {
                if v < min_context(w) {
                    return Err(Error::workload(
                        "--values",
                        format!("context {v} leaves no prompt token beside {} new tokens", w.new_tokens),
                    ));
                }
                out = with_context(w, v);
            }
        }
        Ok(out)
    }

    /// The values swept when none are given: powers of two from 1 (batch) or 128 tokens.
    /// With `until_bytes`, doubling goes on until the first value needing more than that
    /// (capped at [`MAX_POINTS`]); without, 8 values. Token values stop at the model's
    /// position limit.
    pub fn default_values(
        self,
        spec: &ModelSpec,
        w: &Workload,
        mut bytes_at: impl FnMut(u64) -> Option<u64>,
        until_bytes: Option<u64>,
    ) -> Vec<u64> {
        let (first, cap) = if self == SweepAxis::Batch {
            (1, MAX_BATCH)
        } else {
            let min = min_context(w);
            let first = if self == SweepAxis::Context { min.next_power_of_two().max(128) } else { 128 };
            (first, spec.context_limit().unwrap_or(MAX_TOKENS).clamp(first, MAX_TOKENS))
        };
        let mut out = vec![];
        let mut v = first;
        loop {
            out.push(v);
            let enough = match until_bytes {
                Some(limit) => bytes_at(v).is_none_or(|b| b > limit) || out.len() >= MAX_POINTS,
                None => out.len() >= 8,
            };
            if enough || v >= cap {
                break;
            }
            v = v.saturating_mul(2).min(cap);
        }
        out
    }
}

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepPoint {
    /// The axis value.
    pub value: u64,
    /// Its estimate, or why there is none.
    pub outcome: Result<Breakdown>,
}

/// Estimate `w` at each value of `axis` (at most [`MAX_POINTS`]).
#[must_use]
pub fn sweep(spec: &ModelSpec, w: &Workload, axis: SweepAxis, values: &[u64]) -> Vec<SweepPoint> {
    values
        .iter()
        .take(MAX_POINTS)
        .map(|&value| SweepPoint { value, outcome: axis.apply(w, value).and_then(|x| estimate(spec, &x)) })
        .collect()
}

/// Component kinds on the GPU across a sweep, in order of first appearance (for stacking and
/// legends).
#[must_use]
pub fn component_names(points: &[SweepPoint]) -> Vec<crate::ComponentKind> {
    let mut names: Vec<crate::ComponentKind> = vec![];
    for p in points {
        if let Ok(b) = &p.outcome {
            for c in &b.components {
                if c.level != crate::Level::Host && !names.contains(&c.kind) {
                    names.push(c.kind);
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find_model;

    #[test]
    fn sweeps_batch_and_context() {
        let spec = find_model("llama-7b").unwrap().spec().unwrap();
        let w = Workload::default();
        let points = sweep(&spec, &w, SweepAxis::Batch, &[1, 2, 4]);
        let totals: Vec<u64> = points.iter().map(|p| p.outcome.as_ref().unwrap().total_bytes()).collect();
        assert!(totals[0] < totals[1] && totals[1] < totals[2]);
        let ctx = sweep(&spec, &w, SweepAxis::Context, &[100, 1024]);
        assert!(ctx[0].outcome.is_err(), "100 tokens leave no prompt beside 256 new ones");
        assert_eq!(SweepAxis::Context.apply(&w, 1024).unwrap().prompt, 768);
        assert!(component_names(&points).contains(&crate::ComponentKind::KvCache));
        let vals = SweepAxis::Seq.default_values(&spec, &w, |_| None, None);
        assert_eq!(vals, vec![128, 256, 512, 1024, 2048]);
        assert_eq!(SweepAxis::Batch.default_values(&spec, &w, |_| None, None).len(), 8);
        assert!(SweepAxis::parse("width").is_err());
        let load = Workload { task: Task::Load, ..Workload::default() };
        assert!(SweepAxis::Batch.apply(&load, 2).is_err());
    }
}
