//! The account being added by hand ("Account secret key"): the form's fields as typed, the
//! check that says what is wrong with each, and the pre-filled form a scan hands over.

use tessera_core::account::Account;
use tessera_core::otp::{Algorithm, OtpKind, OtpParams, Secret, SecretError};
use tessera_core::uri::OtpUri;
use tessera_core::vault::Entry;
use zeroize::Zeroizing;

/// Why a number field is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberProblem {
    /// Not a whole number.
    NotANumber,
    /// Outside the allowed range.
    OutOfRange,
}

/// The add form's fields, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Account name.
    pub name: String,
    /// Issuer.
    pub issuer: String,
    /// The account secret key, as pasted (spaces, lower case and missing padding are fine).
    pub secret: Zeroizing<String>,
    /// Counter-based (HOTP) rather than time-based.
    pub counter_based: bool,
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// Digits per code.
    pub digits: String,
    /// Period in seconds (time-based).
    pub period: String,
    /// Counter (counter-based).
    pub counter: String,
    /// Show the advanced fields (anything but the common SHA-1, 6 digits, 30 s).
    pub advanced: bool,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            name: String::new(),
            issuer: String::new(),
            secret: Zeroizing::default(),
            counter_based: false,
            algorithm: Algorithm::Sha1,
            digits: "6".into(),
            period: "30".into(),
            counter: "0".into(),
            advanced: false,
        }
    }
}

/// What the check found.
#[derive(Debug)]
pub struct Check {
    /// The account name is empty.
    pub name_missing: bool,
    /// The secret, or why it is refused.
    pub secret: Result<(), SecretError>,
    /// Digits, period and counter problems.
    pub digits: Option<NumberProblem>,
    /// See `digits`.
    pub period: Option<NumberProblem>,
    /// See `digits`.
    pub counter: Option<NumberProblem>,
    /// The label of an account in the vault with the same secret key.
    pub duplicate_of: Option<String>,
    /// The parameters, when everything is valid.
    pub params: Option<OtpParams>,
}

fn number(text: &str, min: u64, max: u64) -> Result<u64, NumberProblem> {
    let value: u64 = text.trim().parse().map_err(|_| NumberProblem::NotANumber)?;
    if (min..=max).contains(&value) { Ok(value) } else { Err(NumberProblem::OutOfRange) }
}

impl Draft {
    /// The form pre-filled with a scanned account, for the user to check and confirm.
    pub fn from_account(account: &OtpUri) -> Self {
        let otp = &account.otp;
        let name = if account.account.is_empty() { &account.issuer } else { &account.account };
        Self {
            name: name.clone(),
            issuer: account.issuer.clone(),
            secret: otp.secret.to_base32(),
            counter_based: otp.kind == OtpKind::Hotp,
            algorithm: otp.algorithm,
            digits: otp.digits.to_string(),
            period: otp.period.to_string(),
            counter: otp.counter.to_string(),
            advanced: otp.algorithm != Algorithm::Sha1 || otp.digits != 6 || otp.period != 30,
        }
    }

    /// Checks every field against the rules and the accounts already in the vault.
    pub fn check(&self, existing: &[Entry]) -> Check {
        let name_missing = self.name.trim().is_empty();
        let secret = Secret::parse_base32(&self.secret);
        let digits = number(&self.digits, 1, 10);
        let period = if self.counter_based { Ok(30) } else { number(&self.period, 1, 86_400) };
        let counter = if self.counter_based { number(&self.counter, 0, u64::MAX) } else { Ok(0) };
        let duplicate_of = secret
            .as_ref()
            .ok()
            .and_then(|s| existing.iter().find(|e| e.otp.secret.ct_eq(s)).map(Account::label));
        let kind = if self.counter_based { OtpKind::Hotp } else { OtpKind::Totp };
        let params = match (&secret, digits, period, counter) {
            (Ok(secret), Ok(digits), Ok(period), Ok(counter)) if !name_missing => {
                u8::try_from(digits).ok().and_then(|digits| {
                    OtpParams::new(kind, secret.clone(), self.algorithm, digits, period, counter)
                        .ok()
                })
            }
            _ => None,
        };
        Check {
            name_missing,
            secret: secret.map(drop),
            digits: digits.err(),
            period: period.err(),
            counter: counter.err(),
            duplicate_of,
            params,
        }
    }

    /// The entry to add, when the form is valid.
    pub fn entry(&self, existing: &[Entry], now: u64) -> Option<Entry> {
        let params = self.check(existing).params?;
        Some(Entry::new(self.issuer.trim().to_owned(), self.name.trim().to_owned(), params, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(name: &str, secret: &str) -> Draft {
        Draft { name: name.into(), secret: Zeroizing::new(secret.into()), ..Draft::default() }
    }

    #[test]
    fn a_pasted_key_with_spaces_lower_case_and_no_padding_is_accepted() {
        let check = typed("me@nmbrs.example", "jbsw y3dp ehpk 3pxp").check(&[]);
        assert!(check.secret.is_ok() && check.params.is_some(), "{check:?}");
    }

    #[test]
    fn each_field_says_what_is_wrong() {
        let mut draft = typed("", "JBSWY3DPEHPK3PX1");
        draft.digits = "six".into();
        draft.period = "0".into();
        let check = draft.check(&[]);
        assert!(check.name_missing);
        assert!(matches!(check.secret, Err(SecretError::InvalidCharacter { .. })));
        assert_eq!(check.digits, Some(NumberProblem::NotANumber));
        assert_eq!(check.period, Some(NumberProblem::OutOfRange));
        assert!(check.params.is_none());
    }

    #[test]
    fn a_scanned_account_round_trips_through_the_form_and_duplicates_are_named() {
        let account = OtpUri::parse(
            "otpauth://totp/Co%C3%B6peratie:me?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256&digits=8",
        )
        .unwrap();
        let draft = Draft::from_account(&account);
        assert!(draft.advanced);
        let entry = draft.entry(&[], 5).unwrap();
        assert_eq!((entry.issuer.as_str(), entry.account.as_str()), ("Coöperatie", "me"));
        assert_eq!((entry.otp.algorithm, entry.otp.digits), (Algorithm::Sha256, 8));
        let again = draft.check(std::slice::from_ref(&entry));
        assert_eq!(again.duplicate_of.as_deref(), Some("Coöperatie (me)"));
    }
}
