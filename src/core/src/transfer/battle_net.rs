//! Battle.net Authenticator's app data (shared-preferences XML, import only).
//!
//! Source: Blizzard publishes no format. The file is the Battle.net app's
//! `shared_prefs/com.blizzard.messenger.authenticator_preferences.xml`, as read by Aegis'
//! `importers/BattleNetImporter.java`: `<string>` preferences
//! `com.blizzard.messenger.AUTHENTICATOR_DEVICE_SECRET` and `..._SERIAL`, each the hex of the
//! value XOR-ed with a fixed 56-byte mask the app carries ([`MASK`]); the unmasked secret is
//! itself hex. Codes are 8 digits, SHA-1, 30 s. One account per file.
//!
//! Lost on import: nothing else is in the file; the serial becomes the account name.

use super::prefs;
use super::{Collector, Format, ImportReport, ImportedAccount, TransferError, otp_params, text_of};
use crate::otp::{OtpKind, Secret};

const FORMAT: Format = Format::BattleNet;
pub(crate) const SECRET_PREF: &str = "com.blizzard.messenger.AUTHENTICATOR_DEVICE_SECRET";
const SERIAL_PREF: &str = "com.blizzard.messenger.AUTHENTICATOR_SERIAL";
/// The app's obfuscation mask: an interoperability constant of the format, like a magic number.
const MASK: &str = "398e27fc50276a656065b0e525f4c06c04c61075286b8e7aeda59da9813b5dd6c80d2fb38068773fa59ba47c17ca6c6479015c1d5b8b8f6b9a";

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let prefs = prefs::read(text_of(bytes, FORMAT)?, FORMAT)?;
    let masked = prefs::find(&prefs, SECRET_PREF)
        .ok_or_else(|| TransferError::corrupt(FORMAT, "no authenticator secret in this file"))?;
    let serial = prefs::find(&prefs, SERIAL_PREF).map(unmask).transpose();
    let mut out = Collector::new(FORMAT);
    let result = serial.and_then(|serial| {
        let hex = unmask(masked)?;
        let raw = data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.as_bytes())
            .map_err(|_| "the unmasked secret is not hex".to_owned())?;
        let secret = Secret::from_bytes(raw).map_err(|e| format!("unreadable secret: {e}"))?;
        let otp = otp_params(OtpKind::Totp, secret, None, Some(8), None, None)?;
        Ok(ImportedAccount::new("Battle.net", serial.unwrap_or_default(), otp))
    });
    out.push("the authenticator".into(), Some("Battle.net"), result);
    Ok(out.finish())
}

/// Removes the app's XOR mask from a hex string.
fn unmask(value: &str) -> Result<String, String> {
    let data = data_encoding::HEXLOWER_PERMISSIVE
        .decode(value.trim().as_bytes())
        .map_err(|_| "a masked value is not hex".to_owned())?;
    let mask = data_encoding::HEXLOWER.decode(MASK.as_bytes()).map_err(|_| "mask".to_owned())?;
    if data.len() > mask.len() {
        return Err(format!("a masked value is {} bytes, longer than the mask", data.len()));
    }
    let plain: Vec<u8> = data.iter().zip(&mask).map(|(d, m)| d ^ m).collect();
    String::from_utf8(plain).map_err(|_| "an unmasked value is not text".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::{detect, import as import_any};

    #[test]
    fn fixture_gives_the_battle_net_account() {
        let bytes = crate::transfer::vectors::fixture("battle-net.xml");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let a = &report.accounts[0];
        assert_eq!((a.issuer.as_str(), a.account.as_str()), ("Battle.net", "EU-1234-5678-9012"));
        assert_eq!((a.otp.kind, a.otp.digits, a.otp.period), (OtpKind::Totp, 8, 30));
        assert_eq!(a.otp.secret.as_bytes(), b"12345678901234567890");
        // RFC 6238's SHA-1 vector at T = 59 s, 8 digits.
        assert_eq!(a.otp.code_at(59), "94287082");
    }

    #[test]
    fn damaged_values_are_named() {
        let err = import(b"<map><string name=\"x\">1</string></map>").unwrap_err();
        assert!(err.to_string().contains("no authenticator secret"), "{err}");
        let xml = format!("<map><string name=\"{SECRET_PREF}\">zz</string></map>");
        let report = import(xml.as_bytes()).unwrap();
        assert!(report.problems[0].reason.contains("not hex"), "{:?}", report.problems);
    }
}
