//! Optimizer state and the temporaries of its step.

use super::setup::Optimizer;
use crate::estimate::breakdown::thousands;
use crate::estimate::term::{Formula, Term};

/// A trainable tensor: `rows × cols`, `count` copies, stored with `bytes` per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trainable {
    /// Rows (output features; 1 for vectors).
    pub rows: u64,
    /// Columns (input features; the length for vectors).
    pub cols: u64,
    /// Copies.
    pub count: u64,
    /// Bytes per element of the parameter (and of its gradient).
    pub bytes: u64,
}

impl Trainable {
    fn numel(&self) -> u64 {
        self.rows.saturating_mul(self.cols)
    }
    fn total(&self) -> u64 {
        self.numel().saturating_mul(self.count)
    }
}

/// Optimizer memory for a set of trainable tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptimizerMemory {
    /// Persistent state on the GPU.
    pub state: u64,
    /// State kept in CUDA unified memory (paged optimizers): evictable to CPU RAM.
    pub paged_state: u64,
    /// Temporaries alive during the step.
    pub step_temp: u64,
    /// Formula with numbers.
    pub formula: String,
    /// Formula of the temporaries.
    pub temp_formula: String,
}

/// bitsandbytes keeps 32-bit state for tensors smaller than this (`min_8bit_size`).
const MIN_8BIT_SIZE: u64 = 4096;
/// Elements per fp32 absmax of bitsandbytes' blockwise 8-bit optimizers.
const BLOCK_8BIT: u64 = 256;

fn eight_bit(t: &Trainable, states: u64) -> u64 {
    let n = t.numel();
    let per = if n >= MIN_8BIT_SIZE { n + n.div_ceil(BLOCK_8BIT) * 4 } else { n * 4 };
    per.saturating_mul(states).saturating_mul(t.count)
}

/// Adam's two moments in the parameters' dtype.
fn adam_states(same_dtype: u64) -> Formula {
    Formula::of(Term::of(&[("states", 2), ("trainable param bytes", same_dtype)]))
        .lead("exp_avg + exp_avg_sq in the parameters' dtype")
}

/// State and step temporaries of `opt` over `params`.
#[must_use]
pub fn optimizer_memory(opt: Optimizer, params: &[Trainable]) -> OptimizerMemory {
    let n: u64 = params.iter().map(Trainable::total).sum();
    let same_dtype: u64 = params.iter().map(|t| t.total().saturating_mul(t.bytes)).sum();
    let largest = params.iter().map(Trainable::numel).max().unwrap_or(0);
    let (state, paged, temp, formula, temp_formula) = match opt {
        Optimizer::Sgd => (0, 0, 0, "plain SGD keeps no state".to_string(), String::new()),
        Optimizer::SgdMomentum => {
            let f = Formula::of(Term::of(&[("trainable param bytes", same_dtype)])).lead("momentum buffer");
            (f.bytes(), 0, 0, f.text(), String::new())
        }
        Optimizer::Adamw | Optimizer::AdamwFused => {
            let temp = if opt == Optimizer::Adamw { same_dtype } else { 0 };
            let f = adam_states(same_dtype);
            (
                f.bytes(),
                0,
                temp,
                f.text(),
                if temp > 0 {
                    format!("foreach step: torch._foreach_sqrt(exp_avg_sq) copies one state = {}", thousands(temp))
                } else {
                    String::new()
                },
            )
        }
        Optimizer::AdamwLoop => {
            let temp = params.iter().map(|t| t.numel().saturating_mul(t.bytes)).max().unwrap_or(0);
            let f = adam_states(same_dtype);
            (
                f.bytes(),
                0,
                temp,
                f.text(),
                format!("per-parameter loop: exp_avg_sq.sqrt() of the largest tensor = {}", thousands(temp)),
            )
        }
        Optimizer::Adamw8bit | Optimizer::PagedAdamw8bit => {
            let s: u64 = params.iter().map(|t| eight_bit(t, 2)).sum();
            let what = format!(
                "2 uint8 states + fp32 absmax per {BLOCK_8BIT} elements (tensors under {MIN_8BIT_SIZE} elements keep fp32)"
            );
            let f = Formula::of(Term::of(&[("blockwise state bytes", s)]));
            if opt == Optimizer::PagedAdamw8bit {
                let f = f.lead(format!("paged (unified memory, evictable): {what}"));
                (0, f.bytes(), 0, f.text(), String::new())
            } else {
                let f = f.lead(what);
                (f.bytes(), 0, 0, f.text(), String::new())
            }
        }
        Optimizer::PagedAdamw => {
            let f = Formula::of(Term::of(&[("states", 2), ("fp32 bytes", 4), ("trainable params", n)]))
                .lead("fp32 exp_avg + exp_avg_sq in unified memory (evictable to CPU)");
            (0, f.bytes(), 0, f.text(), String::new())
        }
        Optimizer::Adafactor => {
            let s: u64 = params
                .iter()
                .map(|t| if t.rows > 1 && t.cols > 1 { (t.rows + t.cols) * 4 * t.count } else { t.total() * 4 })
                .sum();
            // transformers' Adafactor.step, one parameter at a time: the fp32 update (grad² + eps,
            // then scaled) and the reconstructed second moment, plus fp32 copies of the gradient
            // and the parameter when they are 16-bit.
            let per =
                params.iter().map(|t| t.numel().saturating_mul(8 + if t.bytes < 4 { 8 } else { 0 })).max().unwrap_or(0);
            let f = Formula::of(Term::of(&[("factored state bytes", s)]))
                .lead("factored second moment: (rows + cols) × 4 B per matrix, n × 4 B per vector");
            (
                f.bytes(),
                0,
                per,
                f.text(),
                format!("per-parameter loop: fp32 update and reconstructed second moment (8 B), plus fp32 grad and param copies for 16-bit tensors (8 B), of the largest tensor = {}", thousands(per)),
            )
        }
        Optimizer::Lion => {
            let f = Formula::of(Term::of(&[("trainable param bytes", same_dtype)])).lead("one momentum buffer");
            let temp = Formula::of(Term::of(&[("largest tensor", largest), ("fp32", 4)]))
                .lead("the update of the largest tensor");
            (f.bytes(), 0, temp.bytes(), f.text(), temp.text())
        }
        Optimizer::Lion8bit => {
            let s: u64 = params.iter().map(|t| eight_bit(t, 1)).sum();
            let f = Formula::of(Term::of(&[("blockwise state bytes", s)]))
                .lead(format!("uint8 momentum + fp32 absmax per {BLOCK_8BIT}"));
            (f.bytes(), 0, 0, f.text(), String::new())
        }
    };
    OptimizerMemory { state, paged_state: paged, step_temp: temp, formula, temp_formula }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adamw_bytes_per_param() {
        let p = [Trainable { rows: 4096, cols: 4096, count: 1, bytes: 2 }];
        let m = optimizer_memory(Optimizer::Adamw, &p);
        assert_eq!(m.state, 4 * 4096 * 4096);
        assert_eq!(m.step_temp, 2 * 4096 * 4096);
        assert_eq!(optimizer_memory(Optimizer::AdamwFused, &p).step_temp, 0);
        let e = optimizer_memory(Optimizer::Adamw8bit, &p);
        assert_eq!(e.state, 2 * (4096 * 4096 + 4096 * 4096 / 256 * 4));
        let a = optimizer_memory(Optimizer::Adafactor, &p);
        assert_eq!(a.state, (4096 + 4096) * 4);
        assert_eq!(a.step_temp, 4096 * 4096 * 16);
        assert_eq!(optimizer_memory(Optimizer::PagedAdamw, &p).state, 0);
    }
}
