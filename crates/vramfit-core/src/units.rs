//! Arithmetic and number formatting every layer uses (the bottom of the module graph: it
//! imports nothing from the crate, so the model, the formats and the estimators can all use it
//! without an import running back up).

/// Saturating product: estimates never overflow, whatever the input.
#[must_use]
pub fn prod(xs: &[u64]) -> u64 {
    xs.iter().fold(1u64, |a, &x| a.saturating_mul(x))
}

/// Group digits: 1234567 → "1,234,567".
#[must_use]
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `x` rounded up to a multiple of `a` (saturating).
#[must_use]
pub fn align_up(x: u64, a: u64) -> u64 {
    if a <= 1 {
        return x;
    }
    x.div_ceil(a).saturating_mul(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_groups_and_aligns() {
        assert_eq!(prod(&[u64::MAX, 2]), u64::MAX);
        assert_eq!(thousands(6_738_415_616), "6,738,415,616");
        assert_eq!(thousands(12), "12");
        assert_eq!(align_up(33, 32), 64);
        assert_eq!(align_up(u64::MAX, 32), u64::MAX);
        assert_eq!(align_up(7, 0), 7);
    }
}
