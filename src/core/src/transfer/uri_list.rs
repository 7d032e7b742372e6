//! Plain `otpauth://` URI lists, one per line (import and export).
//!
//! Source: Google's Key Uri Format
//! (<https://github.com/google/google-authenticator/wiki/Key-Uri-Format>), parsed by
//! [`crate::uri::OtpUri`]. The same list is FreeOTP+'s "key URI" export
//! (`ImportExportUtil.kt`, `exportKeyUriFile`), Aegis' and 2FAS' "URI" exports, and what users
//! paste from password managers. Blank lines and lines starting with `#` are ignored.
//!
//! Lost on import: vendor parameters (icons, colours, ...). Lost on export: notes, groups and
//! favourite marks (a URI has no standard place for them). Steam accounts are written as
//! `otpauth://totp/...&encoder=steam&digits=5`, which Steam-aware apps read back as Steam.

use super::{Collector, Export, Format, ImportReport, ImportedAccount, TransferError};
use super::{from_uri, meaningful_lines, text_of, to_uri};
use crate::uri::OtpUri;

const FORMAT: Format = Format::UriList;

pub(crate) fn import(bytes: &[u8]) -> Result<ImportReport, TransferError> {
    let text = text_of(bytes, FORMAT)?;
    let mut out = Collector::new(FORMAT);
    for (number, line) in meaningful_lines(text) {
        let location = format!("line {number}");
        if line.get(..20).is_some_and(|s| s.eq_ignore_ascii_case("otpauth-migration://")) {
            out.problem(
                location,
                None,
                "a Google Authenticator export link: import it with the google format",
            );
            continue;
        }
        match OtpUri::parse(line) {
            Ok(uri) => {
                let issuer = uri.issuer.clone();
                out.push(location, Some(&issuer), Ok(from_uri(uri)));
            }
            Err(e) => out.problem(location, None, e.to_string()),
        }
    }
    Ok(out.finish())
}

pub(crate) fn export(accounts: &[ImportedAccount]) -> Export {
    let mut data = zeroize::Zeroizing::new(Vec::with_capacity(accounts.len() * 128));
    for account in accounts {
        data.extend_from_slice(to_uri(account).to_uri().as_bytes());
        data.push(b'\n');
    }
    Export { format: FORMAT, data, unexported: Vec::new(), recovery_left_out: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::import as import_any;
    use crate::transfer::vectors::{self, Holds};

    #[test]
    fn export_round_trips_every_otp_field() {
        let accounts = vectors::canonical();
        let out = export(&accounts);
        let report = import(&out.data).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        vectors::assert_same(&report.accounts, &accounts, Holds::OTP_ONLY);
    }

    #[test]
    fn committed_fixture_holds_the_canonical_accounts() {
        let report = import_any(&vectors::fixture("uri-list.txt"), None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        vectors::assert_same(&report.accounts, &vectors::canonical(), Holds::OTP_ONLY);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_and_bad_lines_reported() {
        let text = "# my accounts\n\n  otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP  \n\
                    https://example.com\n\
                    otpauth://totp/B:b?secret=JBSWY3DP1\n\
                    otpauth-migration://offline?data=AAAA\n\
                    otpauth://hotp/C:c?secret=JBSWY3DPEHPK3PXP&counter=5\n";
        let report = import(text.as_bytes()).unwrap();
        assert_eq!(report.accounts.len(), 2);
        assert_eq!(report.accounts[1].otp.counter, 5);
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("line 4: "), "{shown:?}");
        assert!(shown[1].starts_with("line 5: ") && shown[1].contains("secret"), "{shown:?}");
        assert!(shown[2].starts_with("line 6: ") && shown[2].contains("google"), "{shown:?}");
        assert!(shown.iter().all(|s| !s.contains("JBSW")), "{shown:?}");
    }

    #[test]
    fn links_with_undecodable_names_or_one_slash_are_refused_by_line() {
        // Before issue 15, line 1 became an account named "\u{fffd}\u{fffd}" and line 2 an
        // "unknown account type".
        let text = "otpauth://totp/%FF%FE:x?secret=JBSWY3DPEHPK3PXP\n\
                    otpauth:/totp/A:x?secret=JBSWY3DPEHPK3PXP\n\
                    otpauth://totp/B:y?secret=JBSWY3DPEHPK3PXP&issuer=%C3%28\n\
                    otpauth://totp/C:z?secret=JBSWY3DPEHPK3PXP\n";
        let report = import_any(text.as_bytes(), None, None).unwrap();
        assert_eq!(report.format, FORMAT);
        assert_eq!(report.accounts.len(), 1);
        assert_eq!(report.accounts[0].issuer, "C");
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert_eq!(
            shown[0],
            "line 1: the label is not valid text (its percent-encoded bytes are not UTF-8)"
        );
        assert!(shown[1].starts_with("line 2: malformed link"), "{shown:?}");
        assert!(
            shown[2].starts_with("line 3: the \"issuer\" parameter is not valid text"),
            "{shown:?}"
        );
    }

    #[test]
    fn binary_content_is_corrupt_not_a_panic() {
        let err = import(&[0x6f, 0xff, 0xfe]).unwrap_err();
        assert!(matches!(err, TransferError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn uri_list_cannot_be_encrypted() {
        let err = crate::transfer::export(&[], FORMAT, Some("pw")).unwrap_err();
        assert_eq!(err, TransferError::CannotEncrypt { format: FORMAT });
    }
}
