//! [`Term`] and [`Formula`]: a component's bytes and its formula text built from the same
//! named factors, so the text `--explain` prints cannot disagree with the number.
//!
//! A [`Term`] is a product of named factors (`layers × 2 × kv_heads × head_dim × tokens ×
//! batch × bytes`); a [`Formula`] is a sum of terms with an optional lead (what is counted)
//! and tail (a note after the numbers). Its text is `lead: symbols = values tail`, and its
//! bytes are the sum of the terms' products, so evaluating the values side gives the bytes.

use crate::units::thousands;

/// One factor of a product: a named value, or a parenthesized sum of named values
/// (`(k_dim + v_dim)`). Names are static, so building a term allocates nothing but its list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Factor {
    One(&'static str, u64),
    Sum(Vec<(&'static str, u64)>),
}

impl Factor {
    fn value(&self) -> Option<u64> {
        match self {
            Factor::One(_, v) => Some(*v),
            Factor::Sum(parts) => parts.iter().try_fold(0u64, |a, (_, v)| a.checked_add(*v)),
        }
    }

    fn symbol(&self) -> String {
        match self {
            Factor::One(s, _) => (*s).to_string(),
            Factor::Sum(parts) => format!("({})", parts.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(" + ")),
        }
    }

    fn shown(&self) -> String {
        match self {
            Factor::One(_, v) => thousands(*v),
            Factor::Sum(parts) => {
                format!("({})", parts.iter().map(|(_, v)| thousands(*v)).collect::<Vec<_>>().join(" + "))
            }
        }
    }
}

/// A product of named factors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Term {
    factors: Vec<Factor>,
}

impl Term {
    /// The product of `factors`, each `(symbol, value)`.
    #[must_use]
    pub fn of(factors: &[(&'static str, u64)]) -> Self {
        Term { factors: factors.iter().map(|&(s, v)| Factor::One(s, v)).collect() }
    }

    /// This term times one more factor.
    #[must_use]
    pub fn times(mut self, symbol: &'static str, value: u64) -> Self {
        self.factors.push(Factor::One(symbol, value));
        self
    }

    /// This term times every factor of `other`.
    #[must_use]
    pub fn then(mut self, other: &Term) -> Self {
        self.factors.extend(other.factors.iter().cloned());
        self
    }

    /// This term times a factor that is a sum of parts, `(a + b)`, each `(symbol, value)`.
    #[must_use]
    pub fn times_sum(mut self, parts: &[(&'static str, u64)]) -> Self {
        self.factors.push(Factor::Sum(parts.to_vec()));
        self
    }

    /// The product, `None` when it overflows.
    #[must_use]
    pub fn checked_bytes(&self) -> Option<u64> {
        self.factors.iter().try_fold(1u64, |a, f| a.checked_mul(f.value()?))
    }

    /// The product, saturating (estimates never overflow, whatever the input).
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.checked_bytes().unwrap_or(u64::MAX)
    }

    fn symbols(&self) -> String {
        self.factors.iter().map(Factor::symbol).collect::<Vec<_>>().join(" × ")
    }

    fn values(&self) -> String {
        self.factors.iter().map(Factor::shown).collect::<Vec<_>>().join(" × ")
    }
}

/// A sum of [`Term`]s, with what it counts and a note after its numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Formula {
    terms: Vec<Term>,
    lead: String,
    tail: String,
}

impl Formula {
    /// One term.
    #[must_use]
    pub fn of(term: Term) -> Self {
        Formula { terms: vec![term], ..Formula::default() }
    }

    /// The sum of `terms`.
    #[must_use]
    pub fn sum(terms: Vec<Term>) -> Self {
        Formula { terms, ..Formula::default() }
    }

    /// This formula plus one more term.
    #[must_use]
    pub fn plus(mut self, term: Term) -> Self {
        self.terms.push(term);
        self
    }

    /// This formula plus every term of `other`.
    #[must_use]
    pub fn plus_all(mut self, other: &Formula) -> Self {
        self.terms.extend(other.terms.iter().cloned());
        self
    }

    /// What the formula counts, printed before the symbols (`exp_avg + exp_avg_sq`).
    #[must_use]
    pub fn lead(mut self, text: impl Into<String>) -> Self {
        self.lead = text.into();
        self
    }

    /// A note printed after the numbers (` (fp16)`, `; 4 sliding-window layers…`).
    #[must_use]
    pub fn tail(mut self, text: impl AsRef<str>) -> Self {
        self.tail.push_str(text.as_ref());
        self
    }

    /// The sum of the terms, `None` when it overflows.
    #[must_use]
    pub fn checked_bytes(&self) -> Option<u64> {
        self.terms.iter().try_fold(0u64, |a, t| a.checked_add(t.checked_bytes()?))
    }

    /// The sum of the terms, saturating.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.checked_bytes().unwrap_or(u64::MAX)
    }

    /// `lead: symbols = values tail`, from the same factors as [`Formula::bytes`].
    #[must_use]
    pub fn text(&self) -> String {
        let join = |f: fn(&Term) -> String| self.terms.iter().map(f).collect::<Vec<_>>().join(" + ");
        let lead = if self.lead.is_empty() { String::new() } else { format!("{}: ", self.lead) };
        format!("{lead}{} = {}{}", join(Term::symbols), join(Term::values), self.tail)
    }
}

/// The value of the numbers side of a formula text: the text after its first ` = `, read as
/// sums (` + `) of products (` × `) of numbers (`1,234`) and parenthesized sums, up to the
/// first thing that is not part of the expression (a note such as ` (fp16)`). `None` when
/// the text has no ` = ` or no number follows it.
#[must_use]
pub fn evaluate(text: &str) -> Option<u64> {
    let (_, rhs) = text.split_once(" = ")?;
    let mut p = Reader { s: rhs, at: 0 };
    p.sum()
}

/// A reader of the expression grammar [`evaluate`] accepts.
struct Reader<'a> {
    s: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.s[self.at..]
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn sum(&mut self) -> Option<u64> {
        let mut v = self.product()?;
        while self.eat(" + ") {
            v = v.checked_add(self.product()?)?;
        }
        Some(v)
    }

    fn product(&mut self) -> Option<u64> {
        let mut v = self.atom()?;
        while self.eat(" × ") {
            v = v.checked_mul(self.atom()?)?;
        }
        Some(v)
    }

    fn atom(&mut self) -> Option<u64> {
        if self.eat("(") {
            let v = self.sum()?;
            return self.eat(")").then_some(v);
        }
        let digits: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .collect::<String>()
            .trim_end_matches(',')
            .to_string();
        if digits.is_empty() {
            return None;
        }
        self.at += digits.len();
        digits.replace(',', "").parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kv_cache_term_reads_as_its_product() {
        let f = Formula::of(Term::of(&[
            ("layers", 32),
            ("2", 2),
            ("kv_heads", 8),
            ("head_dim", 128),
            ("tokens", 4096),
            ("batch", 1),
            ("bytes", 2),
        ]))
        .tail(" (fp16)");
        assert_eq!(f.bytes(), 32 * 2 * 8 * 128 * 4096 * 2);
        assert_eq!(
            f.text(),
            "layers × 2 × kv_heads × head_dim × tokens × batch × bytes = 32 × 2 × 8 × 128 × 4,096 × 1 × 2 (fp16)"
        );
        assert_eq!(evaluate(&f.text()), Some(f.bytes()));
    }

    #[test]
    fn sums_leads_and_parenthesized_factors() {
        let f = Formula::of(Term::of(&[("layers", 2)]).times_sum(&[("k_dim", 192), ("v_dim", 128)]))
            .plus(Term::of(&[("extra", 1_000)]))
            .lead("keys and values");
        assert_eq!(f.text(), "keys and values: layers × (k_dim + v_dim) + extra = 2 × (192 + 128) + 1,000");
        assert_eq!(f.bytes(), 2 * 320 + 1000);
        assert_eq!(evaluate(&f.text()), Some(f.bytes()));
        assert_eq!(evaluate("no numbers"), None);
        assert_eq!(evaluate("a = b"), None);
    }

    #[test]
    fn overflow_saturates_and_checks() {
        let t = Term::of(&[("a", u64::MAX), ("b", 2)]);
        assert_eq!(t.checked_bytes(), None);
        assert_eq!(t.bytes(), u64::MAX);
        assert_eq!(Formula::sum(vec![Term::of(&[("a", u64::MAX)]), Term::of(&[("b", 1)])]).bytes(), u64::MAX);
    }

    proptest! {
        /// Whatever the factors, the text's numbers evaluate to the bytes.
        #[test]
        fn text_evaluates_to_the_bytes(
            terms in prop::collection::vec(prop::collection::vec(0u64..5_000_000, 1..6), 1..4),
            grouped in 0u64..100_000,
        ) {
            const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
            let mut f = Formula::default();
            for (i, factors) in terms.iter().enumerate() {
                let mut t = Term::default();
                for (name, v) in NAMES.iter().zip(factors) {
                    t = t.times(name, *v);
                }
                if i == 0 {
                    t = t.times_sum(&[("g", grouped), ("h", 3)]);
                }
                f = f.plus(t);
            }
            let f = f.tail(" (bf16); a note (with 12 numbers)");
            if let Some(b) = f.checked_bytes() {
                prop_assert_eq!(evaluate(&f.text()), Some(b));
            } else {
                prop_assert_eq!(f.bytes(), u64::MAX);
            }
        }
    }
}
