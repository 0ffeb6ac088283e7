//! Named choices: every enumerated flag value (a task, a runtime, an optimizer ...) is one row
//! of its enum's table, and that row gives the value's names (the first is the one printed),
//! its help, and whether errors and help list it. Parsing, the printed name, the list in
//! "use a, b or c", the page's option lists (the wasm module's `options()`), clap's possible
//! values (behind the `clap` feature) and JSON deserialization all read the same table.

use crate::error::{Error, Result};

/// One value of a choice.
#[derive(Debug, Clone, Copy)]
pub struct Entry<T: 'static> {
    /// The value.
    pub value: T,
    /// Spellings accepted (compared after the choice's [`Choice::fold`]); the first is the
    /// canonical name, the one printed.
    pub names: &'static [&'static str],
    /// What it is, in a few words (help, the page's label).
    pub help: &'static str,
    /// Listed in help, errors and the page; `false` for values accepted but not offered (an
    /// internal fallback, a spelling kept for old case files).
    pub listed: bool,
}

impl<T> Entry<T> {
    /// A listed value.
    pub const fn new(value: T, names: &'static [&'static str], help: &'static str) -> Self {
        Entry { value, names, help, listed: true }
    }

    /// A value accepted but not listed.
    pub const fn unlisted(value: T, names: &'static [&'static str], help: &'static str) -> Self {
        Entry { value, names, help, listed: false }
    }

    /// The canonical name.
    pub fn name(&self) -> &'static str {
        self.names[0]
    }
}

/// An enumerated flag value, described by its table.
pub trait Choice: Copy + PartialEq + Sized + 'static {
    /// The flag that takes it (`--task`), named by errors.
    const FLAG: &'static str;

    /// Every value, in the order help and errors list them.
    fn entries() -> impl Iterator<Item = Entry<Self>> + Clone;

    /// The spelling compared with the table's names (lower case unless said otherwise).
    fn fold(s: &str) -> String {
        s.to_ascii_lowercase()
    }

    /// What follows `FLAG: ` when `s` is none of the names.
    fn unknown(s: &str) -> String;

    /// The listed canonical names as "a, b or c".
    fn listed() -> String {
        let names: Vec<&str> = Self::entries().filter(|e| e.listed).map(|e| e.name()).collect();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }

    /// The value `s` names.
    ///
    /// # Errors
    /// A spelling no row has: [`Choice::unknown`], naming [`Choice::FLAG`].
    fn parse_choice(s: &str) -> Result<Self> {
        let key = Self::fold(s);
        Self::entries()
            .find(|e| e.names.iter().any(|n| Self::fold(n) == key))
            .map(|e| e.value)
            .ok_or_else(|| Error::workload(Self::FLAG, Self::unknown(s)))
    }

    /// The row of this value, if the table has one.
    fn entry(self) -> Option<Entry<Self>> {
        Self::entries().find(|e| e.value == self)
    }

    /// The canonical name of this value, if the table has one.
    fn canonical(self) -> Option<&'static str> {
        self.entry().map(|e| e.name())
    }
}

/// A listed value as the page offers it (the wasm module's `options()`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    /// The canonical name, the value sent back.
    pub value: &'static str,
    /// Its label ([`Entry::help`]).
    pub label: &'static str,
    /// Other spellings accepted.
    pub aliases: &'static [&'static str],
}

/// The listed values of `T`, in table order.
#[must_use]
pub fn listing<T: Choice>() -> Vec<Listed> {
    T::entries()
        .filter(|e| e.listed)
        .map(|e| Listed { value: e.name(), label: e.help, aliases: &e.names[1..] })
        .collect()
}

/// Serde for request fields that hold a choice: written as its canonical name, read by
/// [`Choice::parse_choice`] (any accepted spelling).
pub mod serde_name {
    use super::Choice;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write the canonical name.
    ///
    /// # Errors
    /// A value outside the table (none is built by parsing).
    pub fn serialize<T: Choice, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        match v.canonical() {
            Some(n) => s.serialize_str(n),
            None => Err(serde::ser::Error::custom(format!("{}: a value without a name", T::FLAG))),
        }
    }

    /// Read any accepted spelling.
    ///
    /// # Errors
    /// Not a string, or not a name of the table.
    pub fn deserialize<'de, T: Choice, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        T::parse_choice(&s).map_err(serde::de::Error::custom)
    }
}

/// [`serde_name`] for an optional choice (`null` = not given).
pub mod serde_opt_name {
    use super::Choice;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write the canonical name, or `null`.
    ///
    /// # Errors
    /// As [`super::serde_name::serialize`].
    pub fn serialize<T: Choice, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(v) => super::serde_name::serialize(v, s),
        }
    }

    /// Read `null` or any accepted spelling.
    ///
    /// # Errors
    /// As [`super::serde_name::deserialize`].
    pub fn deserialize<'de, T: Choice, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        Option::<String>::deserialize(d)?.map(|s| T::parse_choice(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

/// clap's possible values and parser for a choice (the CLI enables the `clap` feature).
#[cfg(feature = "clap")]
pub mod clap_support {
    use super::Choice;
    use clap::builder::{PossibleValue, TypedValueParser};

    /// clap's possible values of `T`: canonical names with their help, other spellings as
    /// aliases, unlisted rows hidden.
    pub fn possible_values<T: Choice>() -> Vec<PossibleValue> {
        T::entries()
            .map(|e| PossibleValue::new(e.name()).help(e.help).aliases(e.names[1..].iter().copied()).hide(!e.listed))
            .collect()
    }

    /// The parser clap uses for a choice: the table's [`Choice::parse_choice`], so a bad value is
    /// the core's one-line error (the CLI prints the error this parser returns, not clap's
    /// multi-line one).
    #[derive(Debug, Clone, Copy)]
    pub struct ChoiceParser<T>(std::marker::PhantomData<T>);

    impl<T> Default for ChoiceParser<T> {
        fn default() -> Self {
            ChoiceParser(std::marker::PhantomData)
        }
    }

    impl<T: Choice + Send + Sync> TypedValueParser for ChoiceParser<T> {
        type Value = T;

        fn parse_ref(
            &self,
            cmd: &clap::Command,
            arg: Option<&clap::Arg>,
            value: &std::ffi::OsStr,
        ) -> Result<T, clap::Error> {
            let text = value.to_string_lossy();
            T::parse_choice(&text).map_err(|e| {
                let mut err = clap::Error::new(clap::error::ErrorKind::ValueValidation).with_cmd(cmd);
                if let Some(arg) = arg {
                    err.insert(
                        clap::error::ContextKind::InvalidArg,
                        clap::error::ContextValue::String(arg.to_string()),
                    );
                }
                err.insert(clap::error::ContextKind::InvalidValue, clap::error::ContextValue::String(text.into()));
                err.insert(clap::error::ContextKind::Custom, clap::error::ContextValue::String(e.to_string()));
                err
            })
        }

        fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
            Some(Box::new(possible_values::<T>().into_iter()))
        }
    }
}

/// Implements `clap::ValueEnum` (behind the `clap` feature), `FromStr` and `Display` (the
/// canonical name) for a [`Choice`].
#[macro_export]
#[doc(hidden)]
macro_rules! choice_traits {
    ($($t:ty),* $(,)?) => {$(
        #[cfg(feature = "clap")]
        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                static VARIANTS: std::sync::OnceLock<Vec<$t>> = std::sync::OnceLock::new();
                VARIANTS.get_or_init(|| <$t as $crate::choice::Choice>::entries().map(|e| e.value).collect())
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                let e = $crate::choice::Choice::entry(*self)?;
                Some(
                    clap::builder::PossibleValue::new(e.names[0])
                        .help(e.help)
                        .aliases(e.names[1..].iter().copied())
                        .hide(!e.listed),
                )
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match $crate::choice::Choice::canonical(*self) {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{self:?}"),
                }
            }
        }
        impl std::str::FromStr for $t {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                <$t as $crate::choice::Choice>::parse_choice(s)
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::training::setup::{Method, Optimizer, Precision};
    use crate::estimate::{AttnImpl, Runtime, Task};
    use crate::DType;

    /// No two rows of a table share a spelling (after folding), and every canonical name parses
    /// back to its own value.
    fn table_is_consistent<T: Choice + std::fmt::Debug>() {
        let mut seen = std::collections::HashSet::new();
        for e in T::entries() {
            for n in e.names {
                assert!(seen.insert(T::fold(n)), "{} spells {n:?} twice", T::FLAG);
            }
            assert_eq!(T::parse_choice(e.name()).unwrap(), e.value, "{}", T::FLAG);
            assert_eq!(e.value.canonical(), Some(e.name()));
        }
    }

    #[test]
    fn every_table_is_consistent() {
        table_is_consistent::<Task>();
        table_is_consistent::<AttnImpl>();
        table_is_consistent::<Runtime>();
        table_is_consistent::<DType>();
        table_is_consistent::<Precision>();
        table_is_consistent::<Optimizer>();
        table_is_consistent::<Method>();
    }

    #[test]
    fn errors_list_the_listed_names() {
        let e = Task::parse_choice("bogus").unwrap_err().to_string();
        assert_eq!(e, "--task: unknown task \"bogus\"; use load, prefill, generate, train, merge or serve");
        // `math` is accepted (old case files) but not offered.
        let e = AttnImpl::parse_choice("x").unwrap_err().to_string();
        assert_eq!(e, "--attn: unknown attention \"x\"; use eager, sdpa or flash");
        assert_eq!(AttnImpl::parse_choice("MATH").unwrap(), AttnImpl::Math);
    }
}
