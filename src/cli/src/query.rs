//! QUERY: a case-insensitive substring of the issuer or the account name (or an exact id).

use tessera_core::account::Account;
use tessera_core::vault::Entry;

use super::CliError;

/// Returns the indices of entries whose issuer or account contains `query` (case-insensitive),
/// or whose id equals it.
pub fn matching(entries: &[Entry], query: &str) -> Vec<usize> {
    if let Some(i) = entries.iter().position(|e| e.id == query) {
        return vec![i];
    }
    let needle = query.to_lowercase();
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            contains_folded(&e.issuer, &needle) || contains_folded(&e.account, &needle)
        })
        .map(|(i, _)| i)
        .collect()
}

/// `haystack.to_lowercase().contains(needle)` for an already lower-cased needle, without
/// allocating when both are ASCII (the common case, and `tessera code` scans every account).
fn contains_folded(haystack: &str, needle: &str) -> bool {
    if !(haystack.is_ascii() && needle.is_ascii()) {
        return haystack.to_lowercase().contains(needle);
    }
    let (hay, needle) = (haystack.as_bytes(), needle.as_bytes());
    needle.is_empty() || hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Returns the single entry matching `query`, or an error naming none or all candidates.
pub fn one(entries: &[Entry], query: &str) -> Result<usize, CliError> {
    let found = matching(entries, query);
    match found.as_slice() {
        [] => Err(CliError::new(format!("no account matches {:?}", shorten(query)))
            .hint("`tessera list` shows every account")),
        [only] => Ok(*only),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|&i| format!("  {}  ({})", entries[i].label(), entries[i].id))
                .collect();
            Err(CliError::new(format!(
                "{:?} matches {} accounts:\n{}",
                shorten(query),
                many.len(),
                names.join("\n")
            ))
            .hint("use a longer query or the account's id"))
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        text.chars().take(60).collect::<String>() + "…"
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::contains_folded;

    #[test]
    fn folded_matching_agrees_with_lowercasing() {
        for (hay, needle) in [
            ("GitHub", "hub"),
            ("GitHub", "github"),
            ("GitHub", ""),
            ("", "a"),
            ("Ab", "abc"),
            ("ÄRGER GmbH", "ärger"),
            ("Straße", "ss"),
            ("İstanbul", "i̇st"),
        ] {
            let expected = hay.to_lowercase().contains(needle);
            assert_eq!(contains_folded(hay, needle), expected, "{hay:?} / {needle:?}");
        }
    }
}
