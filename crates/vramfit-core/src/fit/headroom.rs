//! The headroom policy: how much memory must stay free for a workload to count as fitting.
//!
//! An estimate is a prediction, and the real peak moves with things vramfit cannot see: the
//! driver's context size, allocator fragmentation after a long run, a second process on the
//! GPU, the desktop on a consumer card. The validation cases put the estimator's median error
//! near 1 % and its 90th percentile near 2.5 %, so a plan that leaves less than that free
//! fails in practice as often as not. vramfit therefore keeps a reserve of 5 % of the usable
//! memory, and never less than 512 MiB (on small cards 5 % is smaller than the CUDA context's
//! variation between drivers): a workload *fits* when its device peak plus the reserve is at
//! most the usable memory. A workload that fits the raw memory but not the reserve is *tight*.

use serde::Serialize;

/// Share of the usable memory kept free, in percent.
pub const RESERVE_PERCENT: u64 = 5;
/// The least memory kept free: 512 MiB.
pub const RESERVE_MIN_BYTES: u64 = 512 << 20;

/// Bytes kept free on a GPU with `usable_bytes` of usable memory.
#[must_use]
pub fn reserve_bytes(usable_bytes: u64) -> u64 {
    // Multiplied before dividing (in u128): 5 % of a T4's 16,106,127,360 bytes is 805,306,368,
    // not the 805,306,365 that dividing first gave (newcomer D35).
    let share = u128::from(usable_bytes) * u128::from(RESERVE_PERCENT) / 100;
    u64::try_from(share).unwrap_or(u64::MAX).max(RESERVE_MIN_BYTES).min(usable_bytes)
}

/// Whether a per-GPU peak fits a GPU under the headroom policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The peak plus the reserve is at most the usable memory.
    pub fits: bool,
    /// The device peak per GPU.
    pub per_gpu_bytes: u64,
    /// Usable memory per GPU.
    pub usable_bytes: u64,
    /// Memory the policy keeps free.
    pub reserve_bytes: u64,
    /// Usable memory minus the peak (negative: short by that much).
    pub headroom_bytes: i128,
}

impl Verdict {
    /// Judge a peak of `per_gpu_bytes` on a GPU with `usable_bytes`.
    #[must_use]
    pub fn new(per_gpu_bytes: u64, usable_bytes: u64) -> Self {
        let reserve = reserve_bytes(usable_bytes);
        let headroom = i128::from(usable_bytes) - i128::from(per_gpu_bytes);
        Verdict {
            fits: headroom >= i128::from(reserve),
            per_gpu_bytes,
            usable_bytes,
            reserve_bytes: reserve,
            headroom_bytes: headroom,
        }
    }

    /// Fits the raw memory but leaves less than the reserve free.
    #[must_use]
    pub fn tight(&self) -> bool {
        !self.fits && self.headroom_bytes >= 0
    }

    /// One word for reports: `fits`, `tight` or `does not fit`.
    #[must_use]
    pub fn word(&self) -> &'static str {
        if self.fits {
            "fits"
        } else if self.tight() {
            "tight"
        } else {
            "does not fit"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_is_five_percent_or_half_a_gib() {
        let t4 = 15 << 30;
        assert_eq!(reserve_bytes(t4), 805_306_368); // exactly 5 % of 15 GiB
        assert_eq!(reserve_bytes(16_106_127_360), 805_306_368);
        assert_eq!(reserve_bytes(8 << 30), 512 << 20);
        assert_eq!(reserve_bytes(100 << 20), 100 << 20);
    }

    #[test]
    fn verdicts() {
        let usable = 16u64 << 30;
        assert!(Verdict::new(10 << 30, usable).fits);
        let tight = Verdict::new(usable - (100 << 20), usable);
        assert!(!tight.fits && tight.tight());
        assert_eq!(tight.word(), "tight");
        let over = Verdict::new(usable + 1, usable);
        assert_eq!((over.fits, over.tight(), over.headroom_bytes), (false, false, -1));
    }
}
