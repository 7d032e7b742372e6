//! WinAuth's unencrypted text export: one `otpauth://` URI per line, WinAuth's way (import only).
//!
//! Source: winauth/winauth `WinAuth/WinAuthAuthenticator.cs` (`ToUrl`) and `WinAuthHelper.cs`
//! (export): `otpauth://totp|hotp/ISSUER:LABEL?secret=...&digits=N` followed by `issuer`,
//! `algorithm`, `serial` (Battle.net), `deviceid` and `data` (Steam), `counter`, `icon` and
//! `period`. WinAuth names authenticators freely; an unnamed issuer is taken from a
//! "Name (account)" label as WinAuth itself does. Steam authenticators are marked only by their
//! `deviceid`/`data` parameters (5-digit "totp"); Battle.net ones by `serial`.
//!
//! Lost on import: icons, Steam's `deviceid`/`data` (trade confirmation data), Battle.net's
//! serial (kept as the account name when there is none) and WinAuth's auto-login settings.
//! Encrypted WinAuth exports (`.zip`/XML with a password) are not read: export as text.

use super::{Collector, Format, ImportReport, ImportedAccount, TransferError, from_uri};
use super::{meaningful_lines, text_of};
use crate::otp::{OtpKind, OtpParams};
use crate::uri::OtpUri;

const FORMAT: Format = Format::WinAuth;

/// Returns true if the text is WinAuth's: every link starts `?secret=...&digits=` and some
/// carry a parameter only WinAuth writes (`icon`, `serial`, `deviceid`).
pub(crate) fn looks_like(text: &str) -> bool {
    let mut marked = false;
    for (_, line) in meaningful_lines(text) {
        let Some((_, query)) = line.split_once('?') else { return false };
        let mut params = query.split('&');
        let first_two = (params.next(), params.next());
        let (Some(first), Some(second)) = first_two else { return false };
        if !first.starts_with("secret=") || !second.starts_with("digits=") {
            return false;
        }
        marked |= query.split('&').any(|p| {
            p.starts_with("icon=") || p.starts_with("serial=") || p.starts_with("deviceid=")
        });
    }
    marked
}

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let text = text_of(bytes, FORMAT)?;
    let mut out = Collector::new(FORMAT);
    for (number, line) in meaningful_lines(text) {
        let location = format!("line {number}");
        match OtpUri::parse(line) {
            Ok(uri) => {
                let issuer = uri.issuer.clone();
                out.push(location, Some(&issuer), convert(&uri));
            }
            Err(e) => out.problem(location, None, e.to_string()),
        }
    }
    Ok(out.finish())
}

fn convert(uri: &OtpUri) -> Result<ImportedAccount, String> {
    let param = |name: &str| uri.extra.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let steam = param("deviceid").is_some() || param("data").is_some();
    let serial = param("serial");
    let mut account = from_uri(uri.clone());
    if steam && account.otp.kind == OtpKind::Totp {
        let p = &account.otp;
        account.otp = OtpParams::new(OtpKind::Steam, p.secret.clone(), p.algorithm, 5, p.period, 0)
            .map_err(|e| e.to_string())?;
    }
    if let Some(serial) = serial {
        if account.issuer.is_empty() {
            account.issuer = "Battle.net".into();
        }
        if account.account.is_empty() {
            account.account = serial;
        }
    }
    if account.issuer.is_empty() {
        // WinAuth's own rule: "Name (account)" is issuer "Name", account "account".
        if let Some((name, rest)) = account.account.split_once(" (")
            && let Some(inner) = rest.strip_suffix(')')
        {
            account =
                ImportedAccount { issuer: name.trim().into(), account: inner.into(), ..account };
        }
    }
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{detect, import as import_any};

    #[test]
    fn fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("winauth.txt");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::OTP_ONLY);
    }

    #[test]
    fn battle_net_serials_and_winauth_names_are_read() {
        let text = "otpauth://totp/My%20Blizzard?secret=JBSWY3DPEHPK3PXP&digits=8&serial=EU123456789012&icon=BattleNet\n\
                    otpauth://totp/Google%20(me%40example.com)?secret=JBSWY3DPEHPK3PXQ&digits=6&icon=Google\n\
                    otpauth://totp/x?secret=!!&digits=6\n";
        assert!(looks_like(text));
        let report = import(text.as_bytes()).unwrap();
        assert_eq!(report.accounts[0].issuer, "Battle.net");
        assert_eq!(report.accounts[0].account, "My Blizzard");
        assert_eq!(report.accounts[0].otp.digits, 8);
        assert_eq!(
            (report.accounts[1].issuer.as_str(), report.accounts[1].account.as_str()),
            ("Google", "me@example.com")
        );
        assert_eq!(report.problems.len(), 1);
        assert!(report.problems[0].to_string().starts_with("line 3: "), "{:?}", report.problems);
    }

    #[test]
    fn plain_uri_lists_are_not_taken_for_winauth() {
        assert_eq!(detect(&vectors::fixture("uri-list.txt")), Some(Format::UriList));
        assert!(
            !looks_like("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=6\n"),
            "no WinAuth-only parameter"
        );
        assert!(
            !looks_like("otpauth://totp/a?digits=6&secret=JBSWY3DPEHPK3PXP&icon=x\n"),
            "other order"
        );
    }
}
