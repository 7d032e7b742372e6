//! Relying-party API keys (issue 13, finding 7): each has a name and a relying-party scope,
//! the one `rp` it may create logins and enrolments for; the operator makes, lists and
//! revokes them with `tessera-server keys` (straight on the store: holding the database is
//! what makes someone the operator, no API key can manage keys). The store keeps only each
//! key's SHA-256; the secret is shown once, when it is made.
//!
//! A key without a scope may act for every relying party: the first start's bootstrap key
//! (the operator's own, used by `admin` and scripts) and every key made before scopes
//! existed, which therefore keep working unchanged.

use tessera_core::push::tessera;

use crate::store::sha256_hex;
use crate::store::{Store, StoreError};

/// Why an API key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The name is empty, too long or has control characters.
    #[error("key names are 1-64 characters without control characters")]
    BadName,
    /// The relying party is empty, too long or has control characters.
    #[error("relying-party names are 1-256 characters without control characters")]
    BadRp,
    /// An unrevoked key already has the name.
    #[error("an API key named {0:?} exists already (revoke it first, or pick another name)")]
    NameTaken(String),
    /// The random generator failed.
    #[error("the random generator failed")]
    Random,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn clean(text: &str, max: usize) -> bool {
    !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

/// Makes an API key named `name` for relying party `rp` (`None`: every relying party) and
/// returns its secret, which is stored only as a hash.
pub fn create(store: &Store, name: &str, rp: Option<&str>, now: u64) -> Result<String, KeyError> {
    if !clean(name, 64) {
        return Err(KeyError::BadName);
    }
    if rp.is_some_and(|rp| !clean(rp, 256)) {
        return Err(KeyError::BadRp);
    }
    let key = format!("tsk_{}", tessera::random_hex(20).map_err(|_| KeyError::Random)?);
    if !store.add_api_key(&hash(&key), name, rp, now)? {
        return Err(KeyError::NameTaken(name.to_owned()));
    }
    Ok(key)
}

/// The stored form of a key's secret.
pub(crate) fn hash(key: &str) -> String {
    sha256_hex(key.trim().as_bytes())
}

/// Checks that a key scoped to `scope` may act for relying party `asked` (the login's `rp`
/// or the enrolment's issuer; `None`: the server's default). Returns the relying party to
/// use: a scoped key's own when none is asked for.
pub(crate) fn scoped(scope: Option<&str>, asked: Option<String>) -> Result<Option<String>, String> {
    match (scope, asked) {
        (None, asked) => Ok(asked),
        (Some(own), None) => Ok(Some(own.to_owned())),
        (Some(own), Some(asked)) if asked == own => Ok(Some(asked)),
        (Some(own), Some(_)) => Err(format!("this API key may act only for relying party {own:?}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_scoped_key_acts_only_for_its_relying_party() {
        assert_eq!(scoped(Some("payroll"), None).unwrap().as_deref(), Some("payroll"));
        assert_eq!(scoped(Some("payroll"), Some("payroll".into())).unwrap().unwrap(), "payroll");
        assert!(scoped(Some("payroll"), Some("crm".into())).is_err());
        assert_eq!(scoped(None, Some("crm".into())).unwrap().unwrap(), "crm");
        assert_eq!(scoped(None, None).unwrap(), None);
    }

    #[test]
    fn key_names_are_unique_among_unrevoked_keys() {
        let store = Store::open(std::path::Path::new(":memory:")).unwrap();
        let key = create(&store, "payroll", Some("payroll"), 100).unwrap();
        assert!(key.starts_with("tsk_"));
        assert!(matches!(create(&store, "payroll", None, 101), Err(KeyError::NameTaken(_))));
        assert!(matches!(create(&store, "", None, 101), Err(KeyError::BadName)));
        assert!(matches!(create(&store, "x", Some("a\nb"), 101), Err(KeyError::BadRp)));
        assert_eq!(store.revoke_api_key("payroll", 102).unwrap(), 1);
        create(&store, "payroll", Some("payroll"), 103).unwrap();
        let listed = store.api_keys().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].revoked, Some(102));
        assert_eq!(listed[1].rp.as_deref(), Some("payroll"));
        assert_eq!(store.api_key(&hash(&key)).unwrap().unwrap().revoked, Some(102));
    }
}
