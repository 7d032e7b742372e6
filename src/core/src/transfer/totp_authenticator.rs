//! TOTP Authenticator (Authenticator Service 2): its encrypted `.bin` backup and its app data
//! (shared-preferences XML, import only).
//!
//! Source: the app publishes no format; as read by Aegis'
//! `importers/TotpAuthenticatorImporter.java`. App data: the `<string>` preference
//! `STATIC_TOTP_CODES_LIST` of `TOTP_Authenticator_Preferences.xml`, a JSON array of
//! `{issuer, name, key, base (16|32|64: the key's encoding), ...}`. Backup (`.bin`): base64 text
//! of AES-256-CBC (zero IV, PKCS#7) under key = SHA-256(password), whose plaintext is a JSON object
//! with one key: the same JSON array, as a string. Every account is SHA-1, 6 digits, 30 s.
//!
//! Lost on import: the app's icons and ordering.

use ring::digest;
use serde::Deserialize;
use serde_json::Value;

use super::crypto;
use super::prefs;
use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
    text_of,
};
use crate::otp::{OtpKind, Secret};

const FORMAT: Format = Format::TotpAuthenticator;
pub(crate) const PREF_KEY: &str = "STATIC_TOTP_CODES_LIST";
const ZERO_IV: [u8; 16] = [0; 16];

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    name: String,
    key: String,
    base: Value,
}

/// Returns true if the text is one base64 block whose bytes are whole AES blocks.
pub(crate) fn looks_encrypted(text: &str) -> bool {
    let compact: String = text.split_whitespace().collect();
    compact.len() >= 44
        && data_encoding::BASE64.decode(compact.as_bytes()).is_ok_and(|b| b.len() % 16 == 0)
}

pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    let text = text_of(bytes, FORMAT)?.trim_start_matches('\u{feff}').trim();
    let list = if text.starts_with('<') {
        let prefs = prefs::read(text, FORMAT)?;
        prefs::find(&prefs, PREF_KEY)
            .ok_or_else(|| TransferError::corrupt(FORMAT, format!("no {PREF_KEY} preference")))?
            .to_owned()
    } else {
        let compact: String = text.split_whitespace().collect();
        let data = data_encoding::BASE64
            .decode(compact.as_bytes())
            .map_err(|_| TransferError::corrupt(FORMAT, "the backup is not base64"))?;
        let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
        let key = digest::digest(&digest::SHA256, password.as_bytes());
        let plain = crypto::cbc_decrypt(key.as_ref(), &ZERO_IV, &data)
            .ok_or(TransferError::WrongPassword { format: FORMAT })?;
        // CBC has no integrity check: garbage after a lucky padding byte is a wrong password.
        let outer: serde_json::Map<String, Value> = serde_json::from_slice(&plain)
            .map_err(|_| TransferError::WrongPassword { format: FORMAT })?;
        outer.into_iter().next().map(|(k, _)| k).unwrap_or_else(|| "[]".into())
    };
    let entries: Vec<Value> = serde_json::from_str(&list).map_err(|e| {
        TransferError::corrupt(FORMAT, format!("the account list is not JSON: {e}"))
    })?;
    let mut out = Collector::new(FORMAT);
    for (index, value) in entries.into_iter().enumerate() {
        let issuer = value.get("issuer").and_then(Value::as_str).map(str::to_owned);
        let result = serde_json::from_value::<Entry>(value)
            .map_err(|e| format!("unreadable entry: {e}"))
            .and_then(convert);
        out.push(entry_location(index), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(entry: Entry) -> Result<ImportedAccount, String> {
    let base = entry.base.as_u64().or_else(|| entry.base.as_str().and_then(|s| s.parse().ok()));
    let key = entry.key.trim();
    let secret = match base {
        Some(16) => data_encoding::HEXLOWER_PERMISSIVE.decode(key.as_bytes()).ok(),
        Some(32) => Some(
            Secret::parse_base32_any_length(key)
                .map_err(|e| format!("unreadable secret: {e}"))?
                .as_bytes()
                .to_vec(),
        ),
        Some(64) => data_encoding::BASE64.decode(key.as_bytes()).ok(),
        _ => return Err(format!("unsupported key encoding base {}", entry.base)),
    }
    .ok_or_else(|| "unreadable secret".to_owned())?;
    let secret = Secret::from_bytes(secret).map_err(|e| format!("unreadable secret: {e}"))?;
    let otp = otp_params(OtpKind::Totp, secret, None, None, None, None)?;
    Ok(ImportedAccount::new(entry.issuer, entry.name, otp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    fn holdable() -> Vec<ImportedAccount> {
        vectors::canonical_where(|a| {
            a.otp.kind == OtpKind::Totp
                && a.otp.algorithm == Algorithm::Sha1
                && a.otp.digits == 6
                && a.otp.period == 30
        })
    }

    #[test]
    fn app_data_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("totp-authenticator.xml");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &holdable(), Holds::OTP_ONLY);
    }

    #[test]
    fn encrypted_backup_fixture_needs_its_password() {
        let bytes = vectors::fixture("totp-authenticator.bin");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        vectors::assert_same(&report.accounts, &holdable(), Holds::OTP_ONLY);
        assert_eq!(
            import(&bytes, None).unwrap_err(),
            TransferError::PasswordRequired { format: FORMAT }
        );
        assert_eq!(
            import(&bytes, Some("not it")).unwrap_err(),
            TransferError::WrongPassword { format: FORMAT }
        );
    }

    #[test]
    fn damaged_files_and_entries_are_named() {
        let err = import(b"<map><string name=\"x\">1</string></map>", None).unwrap_err();
        assert!(err.to_string().contains(PREF_KEY), "{err}");
        let err = import(b"not base64 at all!", Some("x")).unwrap_err();
        assert!(err.to_string().contains("not base64"), "{err}");
        let list = r#"[{"issuer":"A","name":"a","key":"3132","base":16},{"issuer":"B","name":"b","key":"x","base":8}]"#;
        let xml = format!(
            "<map><string name=\"{PREF_KEY}\">{}</string></map>",
            list.replace('"', "&quot;")
        );
        let report = import(xml.as_bytes(), None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert!(report.problems[0].to_string().contains("(B): unsupported key encoding base 8"));
    }
}
