//! FreeOTP's `tokens.xml` (the original Red Hat app, 1.x), which FreeOTP+ kept as its own app
//! data (import only). FreeOTP 2.x's encrypted backup is the same [`Format`]; this module hands
//! it to [`super::free_otp_backup`]. Both read tokens with [`super::free_otp_token`].
//!
//! Source: freeotp/freeotp-android `app/src/main/java/org/fedorahosted/freeotp/Token.java` and
//! `TokenPersistence.java` (1.x): Android shared preferences (see [`super::prefs`]) holding
//! `tokenOrder` (a JSON array of keys) and one `<string>` per token, a Gson-serialised `Token`:
//! `{issuerExt, issuerInt, label, type (TOTP|HOTP), algo, digits, period, counter, secret
//! (signed bytes), imageAlt?}`; as read by Aegis' `importers/FreeOtpImporter.java`.
//! FreeOTP+ (helloworld1/FreeOTPPlus) reads and writes the same file. A TOTP token whose issuer
//! is "Steam" shows Steam codes in FreeOTP, so it becomes a Steam account. Absent fields take
//! FreeOTP's defaults (SHA1, 6 digits, 30 s; the issuer falls back to `issuerInt`).
//!
//! Lost on import: token images and colours (accounts keep the order of `tokenOrder` when
//! present, then the file's order).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::free_otp_backup;
use super::free_otp_token::{Token, convert};
use super::java_serial;
use super::prefs::{self, Pref};
use super::{Collector, Format, ImportReport, TransferError, text_of};

const FORMAT: Format = Format::FreeOtp;

/// Returns true if the preferences look like FreeOTP's: a `tokenOrder` list, token objects, or
/// the 2.x backup's password-wrapped master key.
pub(crate) fn looks_like(prefs: &[Pref]) -> bool {
    prefs.iter().any(|p| p.name == "tokenOrder")
        || prefs
            .iter()
            .any(|p| p.name == free_otp_backup::MASTER_KEY && p.value.contains("mEncryptedKey"))
        || prefs.iter().any(|p| {
            serde_json::from_str::<Value>(&p.value).is_ok_and(|v| {
                v.get("secret").is_some_and(Value::is_array) && v.get("type").is_some()
            })
        })
}

pub(crate) fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportReport, TransferError> {
    if bytes.starts_with(java_serial::MAGIC) {
        return free_otp_backup::import_serialised(bytes, password);
    }
    let prefs = prefs::read(text_of(bytes, FORMAT)?, FORMAT)?;
    if prefs::find(&prefs, free_otp_backup::MASTER_KEY).is_some() {
        return free_otp_backup::import_prefs(prefs, password);
    }
    let order: Vec<String> = prefs::find(&prefs, "tokenOrder")
        .map(|o| {
            serde_json::from_str(o).map_err(|e| {
                TransferError::corrupt(FORMAT, format!("tokenOrder is not a list: {e}"))
            })
        })
        .transpose()?
        .unwrap_or_default();
    // Tokens in tokenOrder's order, then any the order does not list. Maps, not scans: a
    // 10 000-token file must not cost 10^8 string comparisons.
    let values: HashMap<&str, &str> =
        prefs.iter().map(|p| (p.name.as_str(), p.value.as_str())).collect();
    let mut listed: HashSet<&str> = HashSet::new();
    let mut keys: Vec<&str> = Vec::with_capacity(prefs.len());
    for key in order.iter().map(String::as_str).chain(prefs.iter().map(|p| p.name.as_str())) {
        if key != "tokenOrder" && listed.insert(key) {
            keys.push(key);
        }
    }
    let mut out = Collector::new(FORMAT);
    for key in keys {
        let location = format!("token {key:?}");
        let Some(value) = values.get(key).copied() else {
            out.problem(location, None, "listed in tokenOrder but missing");
            continue;
        };
        let result = serde_json::from_str::<Token>(value)
            .map_err(|e| format!("unreadable token: {e}"))
            .and_then(|mut token| {
                let signed = token.secret.take().ok_or("the token has no secret")?;
                convert(token, secret_bytes(&signed)?)
            });
        let issuer = key.split_once(':').map(|(i, _)| i);
        out.push(location, issuer, result);
    }
    Ok(out.finish())
}

/// Converts Gson's signed-byte list (Java `byte[]`; unsigned values are accepted too).
fn secret_bytes(signed: &[i64]) -> Result<Vec<u8>, String> {
    signed
        .iter()
        .map(|b| i8::try_from(*b).map(|s| s.to_le_bytes()[0]).or_else(|_| u8::try_from(*b)))
        .collect::<Result<_, _>>()
        .map_err(|_| "unreadable secret (not a byte list)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    #[test]
    fn fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("freeotp-tokens.xml");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::OTP_ONLY);
    }

    #[test]
    fn missing_algorithm_means_sha1_and_bad_tokens_are_reported() {
        let xml = r#"<map>
<string name="tokenOrder">["A:a","B:b","C:c"]</string>
<string name="A:a">{"issuerExt":"A","label":"a","type":"TOTP","digits":6,"period":30,"secret":[72,101,108,108,111,-34,-83,-66,-17]}</string>
<string name="B:b">{"issuerExt":"B","label":"b","type":"MOTP","secret":[1,2,3]}</string>
</map>"#;
        let report = import(xml.as_bytes(), None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.accounts[0].otp.algorithm, crate::otp::Algorithm::Sha1);
        assert_eq!(report.accounts[0].otp.secret.as_bytes(), b"Hello\xde\xad\xbe\xef");
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert!(shown[0].starts_with("token \"B:b\" (B): unsupported type"), "{shown:?}");
        assert!(shown[1].contains("missing"), "{shown:?}");
    }

    #[test]
    fn issuer_falls_back_to_issuer_int_and_tokens_need_a_secret() {
        let xml = r#"<map>
<string name="a">{"issuerInt":"Internal","label":"a","type":"TOTP","secret":[1,2,3,4,5]}</string>
<string name="b">{"issuerExt":"B","label":"b","type":"TOTP"}</string>
</map>"#;
        let report = import(xml.as_bytes(), None).unwrap();
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.accounts[0].issuer, "Internal");
        assert_eq!(report.problems[0].to_string(), "token \"b\": the token has no secret");
    }

    #[test]
    fn damage_is_named() {
        // A FreeOTP 2 backup cut short goes to the backup reader, which says where it ends.
        let err = import(&[0xac, 0xed, 0, 5, 0x73, 0x72], None).unwrap_err();
        assert!(err.to_string().contains("damaged or truncated: the stream ends"), "{err}");
        let err =
            import(b"<map><string name=\"tokenOrder\">nope</string></map>", None).unwrap_err();
        assert!(err.to_string().contains("tokenOrder"), "{err}");
    }
}
