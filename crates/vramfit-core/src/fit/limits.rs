//! Limits: the largest batch, the longest context and the most concurrent sequences that fit
//! a GPU, the fewest GPUs of a kind, and the catalog GPUs that fit.
//!
//! Every search is a search on the estimator: exponential steps up from the smallest value,
//! then bisection between the last value that fits and the first that does not. The answer is
//! exact (it fits and one more does not) in about 2·log₂(answer) estimates.

use super::capability::check_on;
use super::headroom::Verdict;
use crate::catalog::{gpus, Gpu};
use crate::estimate::workload::{MAX_BATCH, MAX_TOKENS};
use crate::estimate::{estimate, Task, Workload};
use crate::model::ModelSpec;
use serde::Serialize;

/// The largest `x` in `[min, max]` with `fits(x)`, or `None` when `fits(min)` is false.
///
/// Whatever `fits` is, a returned `x` satisfies `fits(x)` and either `x == max` or
/// `!fits(x + 1)`: the search keeps one value that fits and one that does not, and stops
/// when they are adjacent.
pub fn largest_fitting(min: u64, max: u64, mut fits: impl FnMut(u64) -> bool) -> Option<u64> {
    if max < min || !fits(min) {
        return None;
    }
    Some(largest_fitting_from(min, max, min, fits))
}

/// [`largest_fitting`] when `fits(min)` is known, starting from a guess: exponential steps up
/// from the guess when it fits, down when it does not, then bisection. A good guess (memory
/// is nearly linear in batch and context) needs a handful of estimates.
pub fn largest_fitting_from(min: u64, max: u64, guess: u64, mut fits: impl FnMut(u64) -> bool) -> u64 {
    let g = guess.clamp(min, max);
    let mut step = 1u64;
    let (mut lo, mut hi) = if g == min || fits(g) {
        let mut lo = g;
        loop {
            if lo == max {
                return max;
            }
            let probe = lo.saturating_add(step).min(max);
            if fits(probe) {
                lo = probe;
                step = step.saturating_mul(2);
            } else {
                break (lo, probe);
            }
        }
    } else {
        let mut hi = g;
        loop {
            let probe = hi.saturating_sub(step).max(min);
            if probe == min || fits(probe) {
                break (probe, hi);
            }
            hi = probe;
            step = step.saturating_mul(2);
        }
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The largest `x` in `[min, max]` with `bytes(x) <= room` (`None` from `bytes` counts as
/// too big), or `None` when `min` is too big already.
///
/// Memory is nearly linear in batch and context, piecewise (the peak moves from one phase to
/// another as they grow), so the search steers by straight lines: it extrapolates from the
/// last two values that fit to find one that does not, then interpolates between the
/// largest value that fits and the smallest that does not, falling back to bisection when a
/// step shrinks the bracket by less than half. On one linear piece it needs about four
/// estimates; it never needs more than about twice what bisection does. Like
/// [`largest_fitting`], the answer fits and one more does not (or it is `max`), whatever
/// `bytes` is.
pub fn largest_by_secant(
    min: u64,
    max: u64,
    second: u64,
    room: u64,
    mut bytes: impl FnMut(u64) -> Option<u64>,
) -> Option<u64> {
    if max < min {
        return None;
    }
    let fits = |b: Option<u64>| b.is_some_and(|b| b <= room);
    let (mut lo, mut y_lo) = (min, bytes(min).filter(|&b| b <= room)?);
    let mut x = second.clamp(min, max);
    if x == lo {
        x = lo.saturating_add(1).min(max);
    }
    let mut steps = 0u32;
    // Grow until a value does not fit.
    let (mut hi, mut y_hi) = loop {
        if lo == max {
            return Some(max);
        }
        let y = bytes(x);
        if !fits(y) {
            break (x, y);
        }
        let (px, py) = (lo, y_lo);
        lo = x;
        y_lo = y.unwrap_or(0);
        if lo == max {
            return Some(max);
        }
        steps += 1;
        x = if y_lo > py && steps <= 6 {
            let per_unit = (y_lo - py) as f64 / (lo - px) as f64;
            let extra = (room - y_lo) as f64 / per_unit;
            if extra.is_finite() && extra < (max - lo) as f64 {
                lo.saturating_add(extra as u64)
            } else {
                max
            }
        } else {
            lo.saturating_mul(4)
        };
        x = x.clamp(lo + 1, max);
    };
    // Narrow the bracket: lo fits, hi does not.
    let mut bisect = false;
    while hi - lo > 1 {
        let width = hi - lo;
        let mid = match (bisect, y_hi) {
            (false, Some(yh)) if yh > y_lo => {
                let t = (room - y_lo) as f64 / (yh - y_lo) as f64;
                lo.saturating_add((t * width as f64) as u64)
            }
            _ => lo + width / 2,
        }
        .clamp(lo + 1, hi - 1);
        let y = bytes(mid);
        if fits(y) {
            lo = mid;
            y_lo = y.unwrap_or(0);
        } else {
            hi = mid;
            y_hi = y;
        }
        bisect = !bisect && (hi - lo) * 2 > width;
    }
    Some(lo)
}

/// Tokens per sequence that "context" means for a task: prompt + new tokens when generating,
/// the prompt for prefill, the sample length for training; `None` for load and merge.
#[must_use]
pub fn context_of(w: &Workload) -> Option<u64> {
    match w.task {
        Task::Generate => Some(w.prompt.saturating_add(w.new_tokens)),
        Task::Prefill => Some(w.prompt),
        Task::Train => Some(w.training.seq),
        Task::Load | Task::Merge | Task::Serve => None,
    }
}

/// The shortest context the task allows (generation keeps its new tokens: one prompt token
/// more than them).
#[must_use]
pub fn min_context(w: &Workload) -> u64 {
    match w.task {
        Task::Generate => w.new_tokens.saturating_add(1),
        _ => 1,
    }
}

/// The workload at another context (see [`context_of`]); generation keeps its new tokens
/// and shortens or lengthens the prompt.
#[must_use]
pub fn with_context(w: &Workload, context: u64) -> Workload {
    let mut out = w.clone();
    match w.task {
        Task::Generate => out.prompt = context.saturating_sub(w.new_tokens).max(1),
        Task::Prefill => out.prompt = context,
        Task::Train => out.training.seq = context,
        Task::Load | Task::Merge | Task::Serve => {}
    }
    out
}

/// The workload at another batch size.
#[must_use]
pub fn with_batch(w: &Workload, batch: u64) -> Workload {
    Workload { batch, ..w.clone() }
}

/// How far a workload can grow on one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// The largest batch at `batch_context` tokens; for serving, the most concurrent
    /// sequences. `None`: not even one fits, or the task has no batch.
    pub max_batch: Option<u64>,
    /// The context `max_batch` is measured at.
    pub batch_context: Option<u64>,
    /// The longest context at `context_batch` sequences (see [`context_of`]).
    pub max_context: Option<u64>,
    /// The batch `max_context` is measured at.
    pub context_batch: u64,
    /// The model's position limit (`max_position_embeddings`), when the config states it.
    pub model_max_context: Option<u64>,
    /// `max_context` stopped at the model's position limit, not at memory.
    pub context_limited_by_model: bool,
}

/// Counts estimates and judges them against one GPU.
pub(crate) struct Judge<'a> {
    pub spec: &'a ModelSpec,
    pub usable_bytes: u64,
    pub estimates: usize,
}

impl Judge<'_> {
    /// The device peak, or `None` when the estimator refuses the workload.
    pub fn bytes(&mut self, w: &Workload) -> Option<u64> {
        self.estimates += 1;
        estimate(self.spec, w).ok().map(|b| b.total_bytes())
    }

    /// Fits under the headroom policy (a refused workload does not fit).
    pub fn fits(&mut self, w: &Workload) -> bool {
        self.bytes(w).is_some_and(|b| Verdict::new(b, self.usable_bytes).fits)
    }

    /// The largest `x` in `[min, max]` for which `at(x)` fits (see [`largest_by_secant`]).
    pub fn largest(&mut self, min: u64, max: u64, second: u64, at: impl Fn(u64) -> Workload) -> Option<u64> {
        let room = self.usable_bytes.saturating_sub(super::headroom::reserve_bytes(self.usable_bytes));
        largest_by_secant(min, max, second, room, |x| self.bytes(&at(x)))
    }

    /// The limits of `w` on this GPU.
    pub fn limits(&mut self, w: &Workload) -> Limits {
        let context = context_of(w);
        let model_max = if w.task == Task::Load || w.task == Task::Merge { None } else { self.spec.context_limit() };
        let max_batch = match w.task {
            Task::Load | Task::Merge => None,
            _ => self.largest(1, MAX_BATCH, w.batch.max(2), |b| with_batch(w, b)),
        };
        let (max_context, by_model) = match context {
            Some(asked) => {
                // Never beyond the model's position limit, even when more was asked.
                let cap = model_max.unwrap_or(MAX_TOKENS).min(MAX_TOKENS);
                let min = min_context(w);
                let second = asked.max(min.saturating_mul(2)).min(cap);
                let found = if min > cap { None } else { self.largest(min, cap, second, |c| with_context(w, c)) };
                (found, found.is_some() && found == model_max)
            }
            None => (None, false),
        };
        Limits {
            max_batch,
            batch_context: context,
            max_context,
            context_batch: w.batch,
            model_max_context: model_max,
            context_limited_by_model: by_model,
        }
    }
}

/// A catalog GPU that fits a workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuFit {
    /// Catalog name.
    pub name: String,
    /// Usable memory.
    pub usable_bytes: u64,
    /// The verdict on it.
    pub verdict: Verdict,
}

/// The smallest catalog GPUs (by usable memory; the catalog has no prices) that fit a
/// workload needing `per_gpu_bytes`, at most `max` of them. Only NVIDIA GPUs are listed:
/// the estimator models the CUDA context and caching allocator. A GPU that cannot run the
/// workload's settings (bf16 on a T4) is skipped.
#[must_use]
pub fn gpus_that_fit(spec: &ModelSpec, w: &Workload, per_gpu_bytes: u64, max: usize) -> Vec<GpuFit> {
    let mut fit: Vec<&Gpu> = gpus()
        .iter()
        .filter(|g| g.vendor == "nvidia")
        .filter(|g| Verdict::new(per_gpu_bytes, g.usable_bytes).fits)
        .filter(|g| check_on(spec, w, g).is_ok())
        .collect();
    fit.sort_by_key(|g| (g.usable_bytes, std::cmp::Reverse(g.bandwidth_gb_s)));
    fit.into_iter()
        .take(max)
        .map(|g| GpuFit {
            name: g.name.clone(),
            usable_bytes: g.usable_bytes,
            verdict: Verdict::new(per_gpu_bytes, g.usable_bytes),
        })
        .collect()
}

/// A lower bound on the GPUs of `usable_bytes` each that `total_bytes` needs if everything
/// were split evenly with nothing replicated and no communication buffers. Real sharding
/// strategies need more; vramfit does not model them yet.
#[must_use]
pub fn min_gpus_lower_bound(total_bytes: u64, usable_bytes: u64) -> Option<u64> {
    // A GPU no larger than the reserve holds nothing: no count of them is a bound.
    let room = usable_bytes.saturating_sub(super::headroom::reserve_bytes(usable_bytes));
    (room > 0).then(|| total_bytes.div_ceil(room).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_boundary_exactly() {
        for limit in [0u64, 1, 2, 3, 7, 8, 9, 1000, 65_537] {
            let got = largest_fitting(1, 1 << 20, |x| x <= limit);
            assert_eq!(got, (limit >= 1).then_some(limit), "limit {limit}");
        }
        assert_eq!(largest_fitting(1, 10, |_| true), Some(10));
        assert_eq!(largest_fitting(5, 4, |_| true), None);
        assert_eq!(largest_fitting(u64::MAX - 3, u64::MAX, |_| true), Some(u64::MAX));
    }

    #[test]
    fn exact_from_any_guess() {
        for limit in [1u64, 2, 3, 50, 99, 100, 101, 4096] {
            for guess in [0u64, 1, 2, 50, 100, 5000, u64::MAX] {
                let got = largest_fitting_from(1, 1 << 20, guess, |x| x <= limit);
                assert_eq!(got, limit, "limit {limit}, guess {guess}");
            }
        }
        let mut n = 0;
        let got = largest_fitting_from(1, 1 << 24, 99_990, |x| {
            n += 1;
            x <= 100_000
        });
        assert_eq!(got, 100_000);
        assert!(n <= 10, "{n} probes from a close guess");
    }

    #[test]
    fn secant_is_exact_and_quick() {
        type Bytes<'a> = Box<dyn Fn(u64) -> Option<u64> + 'a>;
        let room = 1_000_000u64;
        let cases: Vec<(&str, Bytes<'_>)> = vec![
            ("linear", Box::new(|x| Some(500_000 + 37 * x))),
            ("flat then linear", Box::new(|x| Some(900_000u64.max(10 * x)))),
            ("convex pieces", Box::new(|x| Some((400_000 + 10 * x).max(100_000 + 40 * x)))),
            ("quadratic", Box::new(|x| Some(300_000 + x * x / 3))),
            ("errors past a point", Box::new(|x| (x < 5_000).then_some(x))),
            ("never fits", Box::new(|_| Some(room + 1))),
            ("always fits", Box::new(|_| Some(1))),
            ("noisy", Box::new(|x| Some(600_000 + 40 * x + (x * 7919) % 1000))),
        ];
        for (name, f) in &cases {
            for second in [1u64, 2, 512, 1 << 20] {
                let mut n = 0;
                let got = largest_by_secant(1, 1 << 20, second, room, |x| {
                    n += 1;
                    f(x)
                });
                let fits = |x: u64| f(x).is_some_and(|b| b <= room);
                match got {
                    None => assert!(!fits(1), "{name}"),
                    Some(x) => {
                        assert!(fits(x), "{name}: {x} does not fit");
                        assert!(x == 1 << 20 || !fits(x + 1), "{name}: {x} + 1 fits");
                    }
                }
                assert!(n <= 60, "{name} from {second}: {n} estimates");
                if *name == "linear" {
                    assert!(n <= 8, "{name} from {second}: {n} estimates");
                }
            }
        }
    }

    #[test]
    fn few_probes() {
        let mut n = 0;
        let got = largest_fitting(1, 1 << 24, |x| {
            n += 1;
            x <= 100_000
        });
        assert_eq!(got, Some(100_000));
        assert!(n <= 2 * 17 + 2, "{n} probes");
    }

    #[test]
    fn lower_bound_of_gpus() {
        assert_eq!(min_gpus_lower_bound(0, 80 << 30), Some(1));
        assert_eq!(min_gpus_lower_bound(1 << 30, 1_000_000), None);
        assert_eq!(min_gpus_lower_bound(200 << 30, 80 << 30), Some(3));
    }
}
