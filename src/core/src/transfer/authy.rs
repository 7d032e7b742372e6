//! Authy: the Android app's shared-preferences XML (plain or protected by the backup password)
//! and the desktop app's token list as the export scripts write it (import only).
//!
//! Source: Authy publishes no format. The app data is Authy's own `shared_prefs` files
//! `com.authy.storage.tokens.authenticator.xml` (third-party TOTP accounts) and
//! `com.authy.storage.tokens.authy.xml` (Authy's own "Authy apps"), each a `<string>` preference
//! named `<file name>.key` holding a JSON array; as read by Aegis'
//! `importers/AuthyImporter.java`. Third-party entries carry `decryptedSecret` (base32) or, with
//! the backup password set, `encryptedSecret` (base64) and `salt`: key = PBKDF2-HMAC-SHA1(
//! password, the salt string's UTF-8 bytes, 1000 iterations, 32 bytes), AES-256-CBC with a zero
//! IV and PKCS#7 padding, plaintext = the base32 secret. Authy-app entries carry `secretSeed`
//! (hex) and give 7-digit codes every 10 seconds. Names: `originalIssuer`, else the part of
//! `originalName` before `:`, else the part of `name` before ` - `, else `accountType`.
//! The desktop list (written by the scripts that read Authy Desktop's decrypted tokens, the only
//! way out since Authy Desktop ended in 2024) is a JSON array of `{name, secret (base32),
//! digits}` with optional `issuer`, `period` and `originalName`.
//!
//! Lost on import: Authy's icons/logos, upload state and timestamps. Authy only has SHA-1 TOTP.

use std::num::NonZeroU32;

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};
use serde::Deserialize;
use serde_json::Value;

use super::crypto;
use super::prefs;
use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
    secret_base32, text_of,
};
use crate::otp::{OtpKind, Secret};

/// The preference names that hold the token lists.
pub(crate) const PREF_NAMES: [&str; 2] =
    ["com.authy.storage.tokens.authenticator.key", "com.authy.storage.tokens.authy.key"];
/// Authy's key derivation for the backup password (fixed by the app, not in the file).
const ITERATIONS: NonZeroU32 = NonZeroU32::new(1000).expect("invariant: non-zero");
const ZERO_IV: [u8; 16] = [0; 16];

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Token {
    #[serde(default)]
    name: String,
    original_name: Option<String>,
    original_issuer: Option<String>,
    issuer: Option<String>,
    account_type: Option<String>,
    decrypted_secret: Option<String>,
    secret_seed: Option<String>,
    secret: Option<String>,
    digits: Option<u64>,
    period: Option<u64>,
}

pub(crate) fn import_xml(
    bytes: &[u8],
    password: Option<&str>,
) -> Result<ImportReport, TransferError> {
    const FORMAT: Format = Format::Authy;
    let prefs = prefs::read(text_of(bytes, FORMAT)?, FORMAT)?;
    let mut lists = PREF_NAMES.iter().filter_map(|name| prefs::find(&prefs, name)).peekable();
    if lists.peek().is_none() {
        return Err(TransferError::corrupt(FORMAT, "no Authy token list in this preferences file"));
    }
    let mut entries: Vec<Value> = Vec::new();
    for list in lists {
        let parsed: Vec<Value> = serde_json::from_str(list).map_err(|e| {
            TransferError::corrupt(FORMAT, format!("the token list is not JSON: {e}"))
        })?;
        entries.extend(parsed);
    }
    let encrypted = entries.iter().any(|e| e.get("encryptedSecret").is_some());
    let password = match (encrypted, password) {
        (true, None) => return Err(TransferError::PasswordRequired { format: FORMAT }),
        (true, Some(p)) => Some(p),
        (false, _) => None,
    };
    let mut out = Collector::new(FORMAT);
    let mut decrypted_any = false;
    let mut wrong = 0;
    for (index, mut value) in entries.into_iter().enumerate() {
        let name = value.get("name").and_then(Value::as_str).map(str::to_owned);
        if let (Some(password), Some(object)) = (password, value.as_object_mut())
            && let Some(sealed) = object.remove("encryptedSecret")
        {
            let salt = object.get("salt").and_then(Value::as_str).unwrap_or_default();
            match decrypt(sealed.as_str().unwrap_or_default(), salt, password) {
                Some(secret) => {
                    decrypted_any = true;
                    object.insert("decryptedSecret".into(), Value::String(secret));
                }
                None => {
                    wrong += 1;
                    out.problem(
                        entry_location(index),
                        name.as_deref(),
                        "the backup password does not decrypt this entry",
                    );
                    continue;
                }
            }
        }
        let result = serde_json::from_value::<Token>(value)
            .map_err(|e| format!("unreadable token: {e}"))
            .and_then(|t| convert(&t));
        out.push(entry_location(index), name.as_deref(), result);
    }
    if encrypted && !decrypted_any && wrong > 0 {
        return Err(TransferError::WrongPassword { format: FORMAT });
    }
    Ok(out.finish())
}

/// Decrypts one `encryptedSecret`; `None` if the password is wrong (bad padding, or a result
/// that is not a base32 secret: CBC has no integrity check, see [`crypto::cbc_decrypt`]).
fn decrypt(sealed: &str, salt: &str, password: &str) -> Option<String> {
    let data = BASE64.decode(sealed.trim().as_bytes()).ok()?;
    let key = crypto::pbkdf2_sha1(password, salt.as_bytes(), ITERATIONS);
    let plain = crypto::cbc_decrypt(&*key, &ZERO_IV, &data)?;
    let text = std::str::from_utf8(&plain).ok()?;
    Secret::parse_base32_any_length(text).ok()?;
    Some(text.to_owned())
}

pub(crate) fn import_json(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    const FORMAT: Format = Format::AuthyJson;
    let entries: Vec<Value> = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not a JSON token list: {e}")))?;
    let mut out = Collector::new(FORMAT);
    for (index, value) in entries.into_iter().enumerate() {
        let name = value.get("name").and_then(Value::as_str).map(str::to_owned);
        let result = serde_json::from_value::<Token>(value)
            .map_err(|e| format!("unreadable token: {e}"))
            .and_then(|t| convert(&t));
        out.push(entry_location(index), name.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(token: &Token) -> Result<ImportedAccount, String> {
    let (issuer, account) = names(token);
    let otp = if let Some(seed) = token.secret_seed.as_deref() {
        // An Authy app token: hex seed, 7 digits, 10-second period.
        let bytes = HEXLOWER_PERMISSIVE
            .decode(seed.trim().as_bytes())
            .map_err(|_| "unreadable secretSeed (not hex)".to_owned())?;
        let secret = Secret::from_bytes(bytes).map_err(|e| format!("unreadable secret: {e}"))?;
        otp_params(OtpKind::Totp, secret, None, Some(token.digits.unwrap_or(7)), Some(10), None)?
    } else {
        let text = token
            .decrypted_secret
            .as_deref()
            .or(token.secret.as_deref())
            .ok_or("no secret (decryptedSecret, secretSeed or secret)")?;
        otp_params(OtpKind::Totp, secret_base32(text)?, None, token.digits, token.period, None)?
    };
    Ok(ImportedAccount::new(issuer, account, otp))
}

/// Splits Authy's names into issuer and account, trying its fields in Authy's own order.
fn names(token: &Token) -> (String, String) {
    let name = token.name.trim();
    let strip = |issuer: &str| {
        let rest = name.strip_prefix(issuer).unwrap_or(name);
        let rest = rest.trim_start_matches([':', ' ', '-']).trim();
        if rest.len() < name.len() { rest.to_owned() } else { name.to_owned() }
    };
    let given = token.original_issuer.as_deref().or(token.issuer.as_deref()).map(str::trim);
    if let Some(issuer) = given.filter(|i| !i.is_empty()) {
        return (issuer.to_owned(), strip(issuer));
    }
    if let Some((issuer, account)) = token.original_name.as_deref().and_then(|n| n.split_once(':'))
    {
        return (issuer.trim().to_owned(), account.trim().to_owned());
    }
    if let Some((issuer, account)) = name.split_once(" - ") {
        return (issuer.trim().to_owned(), account.trim().to_owned());
    }
    if token.secret_seed.is_some() {
        return (name.to_owned(), String::new());
    }
    let kind = token.account_type.as_deref().unwrap_or_default();
    if kind.is_empty() || kind == "authenticator" {
        return (String::new(), name.to_owned());
    }
    let mut chars = kind.chars();
    let issuer = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
    (issuer, name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    /// The canonical accounts Authy can hold: SHA-1 TOTP, 30 s.
    fn holdable() -> Vec<ImportedAccount> {
        vectors::canonical()
            .into_iter()
            .filter(|a| {
                a.otp.kind == OtpKind::Totp
                    && a.otp.algorithm == Algorithm::Sha1
                    && a.otp.period == 30
            })
            .collect()
    }

    #[test]
    fn plain_xml_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("authy-plain.xml");
        assert_eq!(detect(&bytes), Some(Format::Authy));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &holdable(), Holds::OTP_ONLY);
    }

    #[test]
    fn encrypted_xml_fixture_needs_the_backup_password() {
        let bytes = vectors::fixture("authy-encrypted.xml");
        assert_eq!(detect(&bytes), Some(Format::Authy));
        let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &holdable(), Holds::OTP_ONLY);
        let format = Format::Authy;
        assert_eq!(
            import_xml(&bytes, None).unwrap_err(),
            TransferError::PasswordRequired { format }
        );
        assert_eq!(
            import_xml(&bytes, Some("not it")).unwrap_err(),
            TransferError::WrongPassword { format }
        );
    }

    #[test]
    fn desktop_list_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("authy-desktop.json");
        assert_eq!(detect(&bytes), Some(Format::AuthyJson));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &holdable(), Holds::OTP_ONLY);
    }

    #[test]
    fn authy_app_tokens_give_seven_digits_every_ten_seconds() {
        let list = r#"[{"name":"Twitch","secretSeed":"3132333435363738393031323334353637383930","digits":7}]"#;
        let xml = format!(
            "<map><string name=\"com.authy.storage.tokens.authy.key\">{}</string></map>",
            list.replace('"', "&quot;")
        );
        let report = import_xml(xml.as_bytes(), None).unwrap();
        let a = &report.accounts[0];
        assert_eq!((a.issuer.as_str(), a.otp.digits, a.otp.period), ("Twitch", 7, 10));
        assert_eq!(a.otp.secret.as_bytes(), b"12345678901234567890");
    }

    #[test]
    fn names_follow_authys_fields() {
        let t = |name: &str, original: Option<&str>, kind: Option<&str>| Token {
            name: name.into(),
            original_name: original.map(Into::into),
            account_type: kind.map(Into::into),
            ..Token::default()
        };
        assert_eq!(
            names(&t("GitHub: me", Some("GitHub:me"), None)),
            ("GitHub".into(), "me".into())
        );
        assert_eq!(names(&t("Mail - bob", None, None)), ("Mail".into(), "bob".into()));
        assert_eq!(names(&t("bob@x", None, Some("google"))), ("Google".into(), "bob@x".into()));
        assert_eq!(
            names(&t("bob@x", None, Some("authenticator"))),
            (String::new(), "bob@x".into())
        );
    }

    #[test]
    fn damaged_files_name_what_is_wrong() {
        let err = import_xml(b"<map><string name=\"other\">x</string></map>", None).unwrap_err();
        assert!(err.to_string().contains("no Authy token list"), "{err}");
        let xml =
            b"<map><string name=\"com.authy.storage.tokens.authenticator.key\">[{</string></map>";
        let err = import_xml(xml, None).unwrap_err();
        assert!(err.to_string().contains("not JSON"), "{err}");
        let err = import_json(b"[{\"name\":\"x\",\"secret\":\"!!\"}, 3]").unwrap();
        assert_eq!(err.problems.len(), 2);
        assert!(err.problems[0].reason.contains("unreadable secret"), "{:?}", err.problems);
    }
}
