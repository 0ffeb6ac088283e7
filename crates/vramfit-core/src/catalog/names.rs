//! Name matching shared by the catalogs: case, spaces, dashes, underscores and dots ignored;
//! "did you mean" by edit distance.

/// Normalize a name for matching: lowercase, without ` `, `-`, `_`, `.`.
#[must_use]
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance (bounded inputs: catalog names and what a person typed).
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(128).collect();
    let b: Vec<char> = b.chars().take(128).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + usize::from(ca != cb));
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
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
                    if !q.is_empty() && (n.contains(&q) || q.contains(&n)) {
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
    scored.sort();
    let limit = (q.len() / 2).max(3);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("Llama-2_7B.hf"), "llama27bhf");
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
