//! Duo Mobile's account list, `accounts.json` (import only).
//!
//! Source: Duo publishes no format; the file is the app's own
//! `files/duokit/accounts.json` (rooted phone or Android backup), as read by Aegis'
//! `importers/DuoImporter.java`: a JSON array of `{name, otpGenerator: {otpSecret (base32),
//! counter?}, ...}`. Accounts with a `counter` are HOTP, the others TOTP; Duo's third-party
//! accounts are always SHA-1, 6 digits, 30 s.
//!
//! Lost on import: Duo's logos and push-only ("Duo Push") accounts, which have no `otpGenerator`
//! secret and are reported. Duo keeps one name per account: it becomes the issuer.

use serde::Deserialize;
use serde_json::Value;

use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
    secret_base32,
};
use crate::otp::OtpKind;

const FORMAT: Format = Format::Duo;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    #[serde(default)]
    name: String,
    otp_generator: Generator,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Generator {
    otp_secret: String,
    counter: Option<u64>,
}

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let accounts: Vec<Value> = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not a Duo account list: {e}")))?;
    let mut out = Collector::new(FORMAT);
    for (index, value) in accounts.into_iter().enumerate() {
        let name = value.get("name").and_then(Value::as_str).map(str::to_owned);
        let result = if value.get("otpGenerator").is_some_and(Value::is_null) {
            Err("a Duo Push account (no code secret); nothing to import".to_owned())
        } else {
            serde_json::from_value::<Account>(value)
                .map_err(|e| format!("unreadable account: {e}"))
                .and_then(convert)
        };
        out.push(entry_location(index), name.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(account: Account) -> Result<ImportedAccount, String> {
    let secret = secret_base32(&account.otp_generator.otp_secret)?;
    let kind = if account.otp_generator.counter.is_some() { OtpKind::Hotp } else { OtpKind::Totp };
    let otp = otp_params(kind, secret, None, None, None, account.otp_generator.counter)?;
    Ok(ImportedAccount::new(account.name, "", otp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    #[test]
    fn fixture_holds_the_canonical_accounts_duo_can_hold() {
        let bytes = vectors::fixture("duo-accounts.json");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let mut want = vectors::canonical_where(|a| {
            a.otp.kind != OtpKind::Steam
                && a.otp.algorithm == Algorithm::Sha1
                && a.otp.digits == 6
                && (a.otp.kind == OtpKind::Hotp || a.otp.period == 30)
        });
        for a in &mut want {
            a.account.clear();
        }
        vectors::assert_same(&report.accounts, &want, Holds::OTP_ONLY);
    }

    /// The bug this detection fixes: a Duo file was read as andOTP, every entry was skipped
    /// and the import "succeeded" with nothing.
    #[test]
    fn duo_is_never_taken_for_andotp() {
        let bytes = vectors::fixture("duo-accounts.json");
        assert_ne!(detect(&bytes), Some(Format::AndOtp));
        let report = import_any(&bytes, None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        assert!(report.why_empty().is_none());
    }

    #[test]
    fn push_only_and_damaged_entries_are_reported() {
        let file = br#"[{"name":"Work VPN","otpGenerator":null},{"name":"X","otpGenerator":{"otpSecret":"!"}},
                        {"name":"OK","otpGenerator":{"otpSecret":"JBSWY3DPEHPK3PXP","counter":4}}]"#;
        let report = import(file).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.accounts[0].otp.counter, 4);
        assert!(report.problems[0].to_string().contains("(Work VPN): a Duo Push account"));
        assert!(report.problems[1].to_string().contains("(X): unreadable secret"));
        assert!(matches!(import(b"[{").unwrap_err(), TransferError::Corrupt { .. }));
    }
}
