//! FreeOTP+ JSON export (import only; its "key URI" export is the plain URI list format).
//!
//! Source: the FreeOTP+ app, helloworld1/FreeOTPPlus
//! `token-data/src/main/java/org/fedorahosted/freeotp/data/legacy/Token.java` (fields, written
//! by Gson) and `.../legacy/ImportExportUtil.kt` (`{"tokens": [...], "tokenOrder": [...]}`).
//! A token: `{algo, counter, digits, issuerExt, issuerInt?, issuerAlt?, label, labelAlt?, period,
//! secret (array of signed bytes), type (TOTP|HOTP), image?, imageAlt?, category?, alias?}`.
//! FreeOTP shows Steam codes for a TOTP token whose `issuerExt` is "Steam"; so do we.
//!
//! Lost on import: images and icons, `tokenOrder` (file order is kept instead); the user's
//! renamed issuer/label (`issuerAlt`/`labelAlt`) win over the original ones. FreeOTP+ has no
//! notes or favourites; `category` becomes the group. The HOTP `counter` is the value FreeOTP+
//! uses for its next code, which is what our counter means too.

use serde::Deserialize;
use serde_json::Value;

use super::{
    Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location, otp_params,
};
use crate::otp::{OtpKind, Secret};

const FORMAT: Format = Format::FreeOtpPlus;

#[derive(Deserialize)]
struct File {
    tokens: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Token {
    algo: Option<String>,
    counter: Option<u64>,
    digits: Option<u64>,
    #[serde(default)]
    issuer_ext: String,
    issuer_int: Option<String>,
    issuer_alt: Option<String>,
    #[serde(default)]
    label: String,
    label_alt: Option<String>,
    period: Option<u64>,
    secret: Vec<i16>,
    #[serde(rename = "type")]
    kind: Option<String>,
    category: Option<String>,
}

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let file: File = serde_json::from_slice(bytes)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("not a FreeOTP+ export: {e}")))?;
    let mut out = Collector::new(FORMAT);
    for (index, value) in file.tokens.into_iter().enumerate() {
        let issuer = ["issuerAlt", "issuerExt", "issuerInt"]
            .iter()
            .find_map(|k| value.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
            .map(str::to_owned);
        let result = serde_json::from_value::<Token>(value)
            .map_err(|e| format!("unreadable token: {e}"))
            .and_then(convert);
        out.push(entry_location(index), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(token: Token) -> Result<ImportedAccount, String> {
    let issuer = [token.issuer_alt, Some(token.issuer_ext), token.issuer_int]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let kind = match token.kind.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("TOTP") if issuer == "Steam" => OtpKind::Steam,
        None | Some("TOTP") => OtpKind::Totp,
        Some("HOTP") => OtpKind::Hotp,
        Some(other) => return Err(format!("unsupported type {other:?}")),
    };
    // Java bytes are signed: -128..=127 each.
    let bytes = token
        .secret
        .iter()
        .map(|b| i8::try_from(*b).map(|b| b.to_ne_bytes()[0]))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "the secret holds a value that is not a byte".to_owned())?;
    let secret = Secret::from_bytes(bytes).map_err(|e| format!("unreadable secret: {e}"))?;
    let otp =
        otp_params(kind, secret, token.algo.as_deref(), token.digits, token.period, token.counter)?;
    let account = token.label_alt.filter(|l| !l.is_empty()).unwrap_or(token.label);
    let group = token.category.filter(|c| !c.is_empty());
    Ok(ImportedAccount { group, ..ImportedAccount::new(issuer, account, otp) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::import as import_any;
    use crate::transfer::vectors::{self, Holds};

    #[test]
    fn fixture_holds_the_canonical_accounts() {
        let report = import_any(&vectors::fixture("freeotp-plus.json"), None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::OTP_ONLY);
    }

    #[test]
    fn renamed_labels_win_and_bad_tokens_are_reported() {
        let file = br#"{"tokenOrder": [], "tokens": [
            {"algo":"SHA1","counter":0,"digits":6,"issuerExt":"Orig","issuerAlt":"Renamed","label":"a","labelAlt":"b","period":30,"secret":[72,101,108,108,111,33,-34,-83,-66,-17],"type":"TOTP"},
            {"algo":"SHA1","digits":6,"issuerExt":"Big","label":"x","period":30,"secret":[300],"type":"TOTP"},
            {"algo":"MD5","digits":6,"issuerExt":"Md5","label":"x","period":30,"secret":[1,2,3],"type":"TOTP"},
            {"digits":6,"issuerExt":"Empty","label":"x","period":30,"secret":[],"type":"TOTP"}
        ]}"#;
        let report = import(file).unwrap();
        let a = &report.accounts[0];
        assert_eq!((a.issuer.as_str(), a.account.as_str()), ("Renamed", "b"));
        assert_eq!(&*a.otp.secret.to_base32(), "JBSWY3DPEHPK3PXP");
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("entry 2 (Big): the secret holds"), "{shown:?}");
        assert!(shown[1].contains("MD5"), "{shown:?}");
        assert!(shown[2].contains("empty"), "{shown:?}");
    }

    #[test]
    fn a_file_without_tokens_is_corrupt() {
        assert!(matches!(import(b"{\"tokenOrder\": []}"), Err(TransferError::Corrupt { .. })));
    }
}
