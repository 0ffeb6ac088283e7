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

/// Whether a query of `len` normalized characters, a prefix of `spelling` normalized, ends
/// where a word or a number of `spelling` ends: "llama3" in `llama-3-8b` does, in `llama-30b`
/// it does not (it cuts the 30).
fn prefix_ends_a_token(spelling: &str, len: usize) -> bool {
    let sep = |c: char| matches!(c, ' ' | '-' | '_' | '.');
    let mut chars = spelling.chars();
    let mut seen = 0;
    let mut last = None;
    while seen < len {
        match chars.next() {
            None => return true,
            Some(c) if sep(c) => {}
            Some(c) => {
                seen += c.to_lowercase().count();
                last = Some(c);
            }
        }
    }
    match (last, chars.next()) {
        (_, None) => true,
        (_, Some(c)) if sep(c) => true,
        (Some(l), Some(c)) => !(l.is_ascii_digit() && c.is_ascii_digit() || l.is_alphabetic() && c.is_alphabetic()),
        (None, Some(_)) => false,
    }
}

/// Up to three catalog names closest to `query` (by any of their spellings).
pub(crate) fn suggest<'a>(query: &str, candidates: impl Iterator<Item = (&'a str, Vec<&'a str>)>) -> Vec<String> {
    let q = normalize(query);
    let mut scored: Vec<((usize, bool), &str)> = candidates
        .map(|(name, spellings)| {
            let d = spellings
                .iter()
                .map(|s| {
                    let n = normalize(s);
                    let d = distance(&q, &n);
                    // A name that starts with what was typed ("llama3" → llama-3-8b) beats
                    // one that only contains it (codellama-34b); among those, one where the
                    // typed text ends a word or number (llama-3-8b) beats one where it cuts
                    // a number short (llama-30b).
                    if !q.is_empty() && n.starts_with(&q) {
                        (0, !prefix_ends_a_token(s, q.chars().count()))
                    } else if !q.is_empty() && (n.contains(&q) || q.contains(&n)) {
                        (d.min(1), true)
                    } else {
                        (d, true)
                    }
                })
                .min()
                .unwrap_or((usize::MAX, true));
            (d, name)
        })
        .collect();
    // Stable: equally close names keep the catalog's order (its families, smallest first).
    scored.sort_by_key(|(d, _)| *d);
    // At most half the query (3 for short ones), and never the whole of it: "foo" is three
    // edits from "t5" and "" is two, which makes neither a suggestion (newcomer D25).
    let limit = (q.len() / 2).max(3).min(q.len().saturating_sub(1));
    scored.into_iter().filter(|(d, _)| d.0 <= limit).take(3).map(|(_, n)| n.to_string()).collect()
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
        // The catalog's llama-30b (LLaMA 1) starts with "llama3" too, but cuts its 30 short.
        let c = [
            ("llama-30b", vec!["llama-30b"]),
            ("codellama-34b", vec!["codellama-34b"]),
            ("llama-3-8b", vec!["llama-3-8b"]),
            ("llama-3-70b", vec!["llama-3-70b"]),
        ];
        let s = suggest("llama3", c.iter().map(|(n, v)| (*n, v.clone())));
        assert_eq!(s, ["llama-3-8b", "llama-3-70b", "llama-30b"]);
        assert!(prefix_ends_a_token("Llama-3-8B", 6) && !prefix_ends_a_token("llama-30b", 6));
        assert!(
            prefix_ends_a_token("qwen2.5-7b", 5) && prefix_ends_a_token("rtx4090", 3) && prefix_ends_a_token("x", 5)
        );
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
