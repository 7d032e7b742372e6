//! FreeOTP's token as Gson writes it (`Token.java`), shared by the 1.x `tokens.xml` reader
//! ([`super::free_otp`]) and the 2.x backup reader ([`super::free_otp_backup`]), and its
//! conversion into an account with FreeOTP's defaults for absent fields (SHA1, 6 digits,
//! 30 s; the issuer falls back to `issuerInt`; a TOTP token of issuer "Steam" shows Steam
//! codes in FreeOTP, so it becomes a Steam account).

use serde::Deserialize;

use super::{ImportedAccount, otp_params};
use crate::otp::{OtpKind, Secret};

/// Gson's `Token`. In `tokens.xml` it carries its `secret`; in the 2.x backup the secret is the
/// separately encrypted token key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Token {
    #[serde(default)]
    pub(super) issuer_ext: String,
    #[serde(default)]
    pub(super) issuer_int: Option<String>,
    #[serde(default)]
    pub(super) label: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) algo: Option<String>,
    pub(super) digits: Option<u64>,
    pub(super) period: Option<u64>,
    pub(super) counter: Option<u64>,
    pub(super) secret: Option<Vec<i64>>,
}

/// Converts a token and its key bytes into an account (FreeOTP's defaults for absent fields).
pub(crate) fn convert(token: Token, key: Vec<u8>) -> Result<ImportedAccount, String> {
    let secret = Secret::from_bytes(key).map_err(|e| format!("unreadable secret: {e}"))?;
    let kind = match token.kind.to_ascii_uppercase().as_str() {
        "TOTP" if token.issuer_ext == "Steam" => OtpKind::Steam,
        "TOTP" => OtpKind::Totp,
        "HOTP" => OtpKind::Hotp,
        other => return Err(format!("unsupported type {other:?}")),
    };
    let otp =
        otp_params(kind, secret, token.algo.as_deref(), token.digits, token.period, token.counter)?;
    let issuer = match token.issuer_ext {
        ext if ext.is_empty() => token.issuer_int.unwrap_or_default(),
        ext => ext,
    };
    Ok(ImportedAccount::new(issuer, token.label, otp))
}
