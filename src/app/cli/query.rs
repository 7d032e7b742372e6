//! QUERY: a case-insensitive substring of the issuer or the account name (or an exact id).

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
            e.issuer.to_lowercase().contains(&needle) || e.account.to_lowercase().contains(&needle)
        })
        .map(|(i, _)| i)
        .collect()
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
                .map(|&i| format!("  {}  ({})", label(&entries[i]), entries[i].id))
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

/// Returns "Issuer (account)" or whichever part is present.
pub fn label(entry: &Entry) -> String {
    match (entry.issuer.is_empty(), entry.account.is_empty()) {
        (false, false) => format!("{} ({})", entry.issuer, entry.account),
        (false, true) => entry.issuer.clone(),
        (true, false) => entry.account.clone(),
        (true, true) => "(unnamed)".to_owned(),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        text.chars().take(60).collect::<String>() + "…"
    } else {
        text.to_owned()
    }
}
