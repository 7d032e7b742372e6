//! Finding accounts by what a user types: a case-insensitive substring of the issuer or the
//! account name, or an account's exact id. One rule for every front end: `tessera code
//! QUERY`, the other commands that take a QUERY, and the quick path of the `tessera` binary
//! (which must find exactly what the full command line would); the desktop app's search
//! matches names by the same [`Query::names`] (ids are not something one types there).

use super::Entry;

/// Returns the indices of entries whose issuer or account contains `query` (case-insensitive),
/// in vault order; an entry whose id equals `query` is the only match.
pub fn matching(entries: &[Entry], query: &str) -> Vec<usize> {
    if let Some(i) = entries.iter().position(|e| e.id == query) {
        return vec![i];
    }
    let query = Query::new(query);
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| query.names(&e.issuer, &e.account))
        .map(|(i, _)| i)
        .collect()
}

/// A query prepared for testing many accounts one at a time: by the app's search, and by the
/// vault before the accounts are built when only the matching ones are wanted.
pub struct Query<'q> {
    text: &'q str,
    needle: String,
}

impl<'q> Query<'q> {
    /// Prepares `text` (lower-cased once here, not per account).
    pub fn new(text: &'q str) -> Self {
        Self { text, needle: text.to_lowercase() }
    }

    /// Whether the issuer or the account name contains the query, case-insensitively (an
    /// empty query is in every name).
    pub fn names(&self, issuer: &str, account: &str) -> bool {
        self.names_in(issuer.as_bytes(), account.as_bytes())
    }

    /// [`Query::names`] for names given as UTF-8 bytes (a name that is not UTF-8 matches
    /// nothing).
    fn names_in(&self, issuer: &[u8], account: &[u8]) -> bool {
        contains_folded(issuer, &self.needle) || contains_folded(account, &self.needle)
    }

    /// Whether [`matching`] may return this account, given as UTF-8 bytes: its id is the
    /// query or its names contain it (an id match, where there is one, is then the only match).
    pub(super) fn admits(&self, id: &[u8], issuer: &[u8], account: &[u8]) -> bool {
        id == self.text.as_bytes() || self.names_in(issuer, account)
    }
}

/// `haystack.to_lowercase().contains(needle)` for an already lower-cased needle, without
/// allocating when both are ASCII (the common case, and `tessera code` scans every account).
/// Takes UTF-8 bytes; a haystack that is not UTF-8 contains nothing.
fn contains_folded(haystack: &[u8], needle: &str) -> bool {
    if !(haystack.is_ascii() && needle.is_ascii()) {
        return std::str::from_utf8(haystack)
            .is_ok_and(|haystack| haystack.to_lowercase().contains(needle));
    }
    let (hay, needle) = (haystack, needle.as_bytes());
    let Some((&first, _)) = needle.split_first() else { return true };
    let Some(last_start) = hay.len().checked_sub(needle.len()) else { return false };
    // Compare a whole window only where its first byte matches (memchr finds those a word at
    // a time): most bytes of most names fail that test.
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), &hay[..=last_start])
        .any(|i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::{contains_folded, matching};
    use crate::otp::{OtpParams, Secret};
    use crate::vault::Entry;

    fn entry(issuer: &str, account: &str) -> Entry {
        let secret = Secret::from_bytes(vec![7; 20]).expect("non-empty");
        Entry::new(issuer.into(), account.into(), OtpParams::totp(secret), 1_700_000_000)
    }

    #[test]
    fn folded_matching_agrees_with_lowercasing() {
        for (hay, needle) in [
            ("GitHub", "hub"),
            ("GitHub", "github"),
            ("GitHub", ""),
            ("", "a"),
            ("Ab", "abc"),
            ("ab", "ab"),
            ("aAb", "ab"),
            ("abAbD", "abd"),
            ("user12@example.com", "example.con"),
            ("ÄRGER GmbH", "ärger"),
            ("Straße", "ss"),
            ("İstanbul", "i̇st"),
        ] {
            let expected = hay.to_lowercase().contains(needle);
            assert_eq!(contains_folded(hay.as_bytes(), needle), expected, "{hay:?} / {needle:?}");
        }
    }

    #[test]
    fn issuer_or_account_in_any_case_and_an_id_alone() {
        let entries = vec![
            entry("Zoë Bank", "alice@example.com"),
            entry("Coöperatie", "alice@example.com"),
            entry("GitHub", "bob"),
        ];
        assert_eq!(matching(&entries, "ZOË"), [0]);
        assert_eq!(matching(&entries, "ALICE@"), [0, 1]);
        assert_eq!(matching(&entries, "hub"), [2]);
        assert_eq!(matching(&entries, "nothing"), Vec::<usize>::new());
        // An id matches that entry only, even when it is also a substring of others.
        let mut entries = entries;
        entries[1].id = "bob".into();
        assert_eq!(matching(&entries, "bob"), [1]);
    }
}
