//! What every front end says about an account: its label and the one "same account" rule.
//!
//! Vault entries ([`crate::vault::Entry`]), parsed links ([`crate::uri::OtpUri`]) and imported
//! accounts ([`crate::transfer::ImportedAccount`]) all carry an issuer, an account name and a
//! secret. [`Account`] gives them one label ("Issuer (account)") and one identity rule, so the
//! CLI, the GUI, the importers and [`crate::intake`] cannot drift apart: before this module the
//! label was written seven times and the duplicate check four. Each type implements the
//! trait beside its own definition, so this module depends on nothing but [`crate::otp`].

use crate::otp::Secret;

/// Returns "Issuer (account)", or whichever of the two is present, or "(unnamed)".
pub fn label(issuer: &str, account: &str) -> String {
    match (issuer.is_empty(), account.is_empty()) {
        (false, false) => format!("{issuer} ({account})"),
        (false, true) => issuer.to_owned(),
        (true, false) => account.to_owned(),
        (true, true) => "(unnamed)".to_owned(),
    }
}

/// An account as the user knows it: a service, a login name at it, and a secret key.
pub trait Account {
    /// The service ("GitHub"); may be empty.
    fn issuer(&self) -> &str;
    /// The login name at the service ("alice@example.com"); may be empty.
    fn account_name(&self) -> &str;
    /// The key codes are computed from.
    fn secret(&self) -> &Secret;

    /// Returns "Issuer (account)", or whichever of the two is present, for lists and messages.
    fn label(&self) -> String {
        label(self.issuer(), self.account_name())
    }

    /// Returns true if `other` is the same account: same secret, issuer and account name.
    ///
    /// Kind, digits and the rest are deliberately ignored: the same key for the same login is
    /// one account even if another app stored it with other display settings. The secrets are
    /// compared in constant time.
    fn is_same_account(&self, other: &dyn Account) -> bool {
        self.issuer() == other.issuer()
            && self.account_name() == other.account_name()
            && self.secret().ct_eq(other.secret())
    }
}

/// An account's identity for finding duplicates among many at once (a hash set): a SHA-256 of
/// the secret (never the secret itself, so a set of them holds no key material), the issuer and
/// the account name. Two accounts have equal identities exactly when
/// [`Account::is_same_account`] holds.
pub type Identity = (Vec<u8>, String, String);

/// Returns the [`Identity`] of the account with this secret, issuer and account name.
pub fn identity(secret: &Secret, issuer: &str, account: &str) -> Identity {
    let hash = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    (hash.as_ref().to_vec(), issuer.to_owned(), account.to_owned())
}

/// Implements [`Account`] for a type with `issuer`, `account` and `otp` fields, beside the
/// type's own definition (so this module depends on none of them).
macro_rules! impl_account {
    ($type:ty) => {
        impl $crate::account::Account for $type {
            fn issuer(&self) -> &str {
                &self.issuer
            }
            fn account_name(&self) -> &str {
                &self.account
            }
            fn secret(&self) -> &$crate::otp::Secret {
                &self.otp.secret
            }
        }
    };
}
pub(crate) use impl_account;

/// Returns the first of `existing` that is the same account as `account`.
pub fn find_same<'a, T: Account>(existing: &'a [T], account: &dyn Account) -> Option<&'a T> {
    existing.iter().find(|e| e.is_same_account(account))
}

#[cfg(test)]
#[cfg(feature = "vault")]
mod tests {
    use super::*;
    use crate::otp::{OtpKind, OtpParams};
    use crate::uri::OtpUri;
    use crate::vault::Entry;

    fn otp(key: &[u8], digits: u8) -> OtpParams {
        let secret = Secret::from_bytes(key.to_vec()).unwrap();
        OtpParams::new(OtpKind::Totp, secret, crate::otp::Algorithm::Sha1, digits, 30, 0).unwrap()
    }

    #[test]
    fn label_names_issuer_and_account_or_whichever_is_present() {
        assert_eq!(label("Zoë Bank", "me@example.com"), "Zoë Bank (me@example.com)");
        assert_eq!(label("Zoë Bank", ""), "Zoë Bank");
        assert_eq!(label("", "me@example.com"), "me@example.com");
        assert_eq!(label("", ""), "(unnamed)");
    }

    #[test]
    fn same_secret_issuer_and_name_is_the_same_account_whatever_the_digits() {
        let entry = Entry::new("Visma".into(), "me".into(), otp(b"0123456789", 6), 0);
        let link = OtpUri {
            issuer: "Visma".into(),
            account: "me".into(),
            otp: otp(b"0123456789", 8),
            extra: Vec::new(),
        };
        assert!(entry.is_same_account(&link));
        assert!(find_same(std::slice::from_ref(&entry), &link).is_some());
    }

    #[test]
    fn identities_are_equal_exactly_for_the_same_account() {
        let a = Entry::new("Visma".into(), "me".into(), otp(b"0123456789", 6), 0);
        let same = Entry::new("Visma".into(), "me".into(), otp(b"0123456789", 8), 0);
        let other = Entry::new("Visma".into(), "me".into(), otp(b"9876543210", 6), 0);
        let id = |e: &Entry| identity(e.secret(), e.issuer(), e.account_name());
        assert_eq!(id(&a), id(&same));
        assert_ne!(id(&a), id(&other));
    }

    #[test]
    fn another_secret_issuer_or_name_is_another_account() {
        let entry = Entry::new("Visma".into(), "me".into(), otp(b"0123456789", 6), 0);
        let other_key = Entry::new("Visma".into(), "me".into(), otp(b"9876543210", 6), 0);
        let other_issuer = Entry::new("Nmbrs".into(), "me".into(), otp(b"0123456789", 6), 0);
        let other_name = Entry::new("Visma".into(), "you".into(), otp(b"0123456789", 6), 0);
        for other in [&other_key, &other_issuer, &other_name] {
            assert!(!entry.is_same_account(other), "{}", other.label());
        }
    }
}
