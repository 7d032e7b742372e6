//! QUERY: a case-insensitive substring of the issuer or the account name (or an exact id); the
//! rule is the core's (`tessera_core::vault::query`), the messages are the command line's.

use tessera_core::account::Account;
use tessera_core::vault::Entry;
pub use tessera_core::vault::query::matching;

use super::CliError;

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
