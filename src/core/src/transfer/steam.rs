//! Steam Guard secrets: Steam Desktop Authenticator's `.maFile` and the Steam app's own
//! `Steamguard-*` file (import only).
//!
//! Source: Jessecar96/SteamDesktopAuthenticator (`SteamAuth/SteamGuardAccount.cs`, the class it
//! serialises to `<steamid>.maFile`) and the Steam app's `files/Steamguard-<steamid>`, as read by
//! Aegis' `importers/SteamImporter.java`. Both layouts are JSON objects: one account
//! `{shared_secret (base64), account_name, serial_number, revocation_code, identity_secret, uri,
//! Session, ...}` (SDA and older Steam apps), or `{"accounts": {"<steamid>": {...}}}` (Steam app
//! 3.x). Codes are Steam's: 5 characters, SHA-1, 30 s. An encrypted maFile (SDA's "encryption
//! passkey") is base64 text, not JSON: we say so and ask for an unencrypted one.
//!
//! Lost on import: everything but the code secret and the account name: `identity_secret`
//! (trade confirmations), the revocation code and the login session. Users should keep the
//! maFile: Tessera shows codes, it does not confirm trades.

use serde::Deserialize;
use serde_json::Value;

use super::{Collector, Format, ImportReport, ImportedAccount, TransferError, entry_location};
use crate::otp::{Algorithm, OtpKind, OtpParams, Secret};

const FORMAT: Format = Format::Steam;

#[derive(Deserialize)]
struct Account {
    shared_secret: String,
    #[serde(default)]
    account_name: String,
}

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let text = std::str::from_utf8(bytes).unwrap_or_default().trim();
        if !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        {
            TransferError::Unsupported {
                format: FORMAT,
                reason: "this maFile is encrypted; remove the encryption in Steam Desktop \
                         Authenticator (Manage encryption) and import the plain file"
                    .into(),
            }
        } else {
            TransferError::corrupt(FORMAT, format!("not a maFile: {e}"))
        }
    })?;
    let accounts: Vec<Value> = match value {
        Value::Object(mut map) if !map.contains_key("shared_secret") => {
            match map.remove("accounts") {
                Some(Value::Object(accounts)) => accounts.into_iter().map(|(_, v)| v).collect(),
                _ => {
                    return Err(TransferError::corrupt(FORMAT, "no shared_secret and no accounts"));
                }
            }
        }
        Value::Object(map) => vec![Value::Object(map)],
        _ => return Err(TransferError::corrupt(FORMAT, "not a JSON object")),
    };
    let mut out = Collector::new(FORMAT);
    for (index, value) in accounts.into_iter().enumerate() {
        let name = value.get("account_name").and_then(Value::as_str).map(str::to_owned);
        let result = serde_json::from_value::<Account>(value)
            .map_err(|e| format!("unreadable account: {e}"))
            .and_then(convert);
        out.push(entry_location(index), name.as_deref(), result);
    }
    Ok(out.finish())
}

fn convert(account: Account) -> Result<ImportedAccount, String> {
    let raw = data_encoding::BASE64
        .decode(account.shared_secret.trim().as_bytes())
        .map_err(|_| "unreadable shared_secret (not base64)".to_owned())?;
    let secret = Secret::from_bytes(raw).map_err(|e| format!("unreadable secret: {e}"))?;
    let otp = OtpParams::new(OtpKind::Steam, secret, Algorithm::Sha1, 5, 30, 0)
        .map_err(|e| e.to_string())?;
    Ok(ImportedAccount::new("Steam", account.account_name, otp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    fn steam_vectors() -> Vec<ImportedAccount> {
        vectors::canonical_where(|a| a.otp.kind == OtpKind::Steam)
    }

    #[test]
    fn both_layouts_hold_the_canonical_steam_account() {
        for name in ["steam.maFile", "steam-app.json"] {
            let bytes = vectors::fixture(name);
            assert_eq!(detect(&bytes), Some(FORMAT), "{name}");
            let report = import_any(&bytes, None, None).unwrap();
            assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
            vectors::assert_same(&report.accounts, &steam_vectors(), Holds::OTP_ONLY);
        }
    }

    #[test]
    fn encrypted_and_damaged_files_name_what_is_wrong() {
        let err = import(b"dGhpcyBpcyBlbmNyeXB0ZWQgaW4gU0RB").unwrap_err();
        assert!(err.to_string().contains("encrypted"), "{err}");
        let err = import(b"{\"shared_secret\": 3").unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
        let report = import(br#"{"shared_secret":"%%%","account_name":"x"}"#).unwrap();
        assert!(report.problems[0].to_string().contains("(x): unreadable shared_secret"));
        let err = import(br#"{"accounts": []}"#).unwrap_err();
        assert!(err.to_string().contains("no shared_secret"), "{err}");
    }
}
