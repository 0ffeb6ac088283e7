//! Name matching shared by the catalogs: case, spaces, dashes, underscores and dots ignored;
//! "did you mean" by edit distance.

/// Normalize a name for matching: lowercase, without ` `, `-`, `_`, `.`.
#[must_use]
pub fn normalize(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, ' ' | '-' | '_' | '.')).flat_map(char::to_lowercase).collect()
}

/// Edit distance with adjacent transpositions (optimal string alignment): "4900" is one
/// typo away from "4090". Inputs are bounded to 128 characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(128).collect();
    let b: Vec<char> = b.chars().take(128).collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1).min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// Up to three catalog names closest to `query` (by any of their spellings).
pub(crate) fn suggest<'a>(query: &str, candidates: impl Iterator<Item = (&'a str, Vec<&'a str>)>) -> Vec<String> {
    let q = normalize(query);
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|(name, spellings)| {
            let d = spellings
                .iter()
                .map(|s| {
                    let n = normalize(s);
                    let d = distance(&q, &n);
                    // A name that starts with what was typed ("llama3" → llama-3-8b) beats
                    // one that only contains it (codellama-34b).
                    if !q.is_empty() && n.starts_with(&q) {
                        0
                    } else if !q.is_empty() && (n.contains(&q) || q.contains(&n)) {
                        d.min(1)
                    } else {
                        d
                    }
                })
                .min()
                .unwrap_or(usize::MAX);
            (d, name)
        })
        .collect();
    // Stable: equally close names keep the catalog's order (its families, smallest first).
    scored.sort_by_key(|(d, _)| *d);
    // At most half the query (3 for short ones), and never the whole of it: "foo" is three
    // edits from "t5" and "" is two, which makes neither a suggestion (newcomer D25).
    let limit = (q.len() / 2).max(3).min(q.len().saturating_sub(1));
    scored.into_iter().filter(|(d, _)| *d <= limit).take(3).map(|(_, n)| n.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("Llama-2_7B.hf"), "llama27bhf");
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("rtx4900", "rtx4090"), 1);
    }

    /// Web D27: "llama3" suggested codellama-34b first.
    #[test]
    fn names_that_start_with_the_query_come_first() {
        let c = [
            ("codellama-34b", vec!["codellama-34b"]),
            ("llama-3-8b", vec!["llama-3-8b"]),
            ("llama-3-70b", vec!["llama-3-70b"]),
        ];
        let s = suggest("llama3", c.iter().map(|(n, v)| (*n, v.clone())));
        assert_eq!(s[..2], ["llama-3-8b", "llama-3-70b"]);
    }

    /// Newcomer D25: "foo" and "" were offered t5-base; a suggestion shares something with
    /// what was typed.
    #[test]
    fn nothing_in_common_is_no_suggestion() {
        let c = [("t5-base", vec!["t5-base", "t5"]), ("gpt2", vec!["gpt2", "gpt-2"])];
        for q in ["foo", "", "zz"] {
            assert!(suggest(q, c.iter().map(|(n, v)| (*n, v.clone()))).is_empty(), "{q:?}");
        }
        assert_eq!(suggest("gtp2", c.iter().map(|(n, v)| (*n, v.clone())))[0], "gpt2");
    }
}
