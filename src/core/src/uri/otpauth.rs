//! `otpauth://TYPE/LABEL?PARAMS` accounts (Google's Key Uri Format), read leniently.
//!
//! Source: <https://github.com/google/google-authenticator/wiki/Key-Uri-Format>, plus the
//! real-world deviations listed in `shared/docs/FORMATS.md`. Rules chosen here:
//!
//! - **Issuer precedence**: a non-empty `issuer` parameter wins over the label prefix (as GNOME
//!   Authenticator and Ente do); the label prefix is used only when the parameter is absent or
//!   empty. Disagreement never fails. If the label starts with exactly `<issuer param>:`, that
//!   whole prefix is removed (so issuers containing a colon survive); otherwise the label is
//!   split at its FIRST colon (`:` or `%3A`) and spaces around both halves are trimmed.
//! - **Secret**: any non-empty length is accepted (`Secret::parse_base32_any_length`), because
//!   the service issued the key and refusing it would lose the account; lower case, spaces,
//!   `-` and `=` padding are tolerated.
//! - **HOTP without `counter`** starts at 0 (Google's old app and FreeOTP do the same).
//! - **Steam**: host `steam`, `encoder=steam`, or a TOTP issuer "Steam" (any case) make a
//!   Steam account (SHA1, 30 s, 5 symbols). [`OtpUri::to_uri`] writes Steam as
//!   `otpauth://totp/...&encoder=steam` so that apps without Steam support still accept it.
//! - **Unknown parameters** (vendor ones such as `image`, `color`, `icon`, `lock`, `creator`,
//!   `serial`, `pin`, `codeDisplay`, or push extras) are kept in [`OtpUri::extra`], in order.
//! - **Repeated known parameters**: the first occurrence counts, later ones are ignored.
//! - **Empty `digits`/`period`/`counter`/`algorithm`** mean "use the default".
//! - Leading/trailing spaces of issuer and account are not preserved.
//!
//! What a round trip loses: only the spelling (case, encoding, parameter order of known
//! parameters, an issuer given only in the label moves to the `issuer` parameter too).

use std::fmt;

use zeroize::Zeroizing;

use super::{
    MAX_LABEL_CHARS, MAX_NAME_CHARS, RawUri, RedactedPairs, UriError, check_length, decode_label,
    encode_component, encode_label_part, shown,
};
use crate::otp::{Algorithm, OtpKind, OtpParams, Secret};

/// Parameter names with a meaning of their own (matched case-insensitively).
const KNOWN: &[&str] = &["secret", "issuer", "algorithm", "digits", "period", "counter"];

/// One account from an `otpauth://` URI.
#[derive(Clone)]
pub struct OtpUri {
    /// The service ("Example Corp"); may be empty.
    pub issuer: String,
    /// The account name at that service ("alice@example.com"); may be empty.
    pub account: String,
    /// Kind, secret, algorithm, digits, period and counter.
    pub otp: OtpParams,
    /// Unknown and vendor parameters, decoded, in their original order.
    pub extra: Vec<(String, String)>,
}

impl fmt::Debug for OtpUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpUri")
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("otp", &self.otp)
            .field("extra", &RedactedPairs(&self.extra))
            .finish()
    }
}

/// Raw values of the known parameters, first occurrence of each.
#[derive(Default)]
struct Known {
    secret: Option<Zeroizing<String>>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
}

impl OtpUri {
    /// Returns an account with the given names and parameters and no extras.
    pub fn new(issuer: impl Into<String>, account: impl Into<String>, otp: OtpParams) -> Self {
        Self { issuer: issuer.into(), account: account.into(), otp, extra: Vec::new() }
    }

    /// Parses an `otpauth://totp|hotp|steam/...` URI (rules in the module documentation).
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let text = super::trim_scanned(text);
        let raw = RawUri::split(text).ok_or(UriError::NotAUri)?;
        if !raw.scheme.eq_ignore_ascii_case("otpauth") {
            return Err(UriError::UnsupportedScheme {
                scheme: shown(raw.scheme),
                expected: "otpauth://",
            });
        }
        if !raw.has_authority {
            return Err(UriError::Malformed(
                "expected \"otpauth://\" (two slashes) before the type",
            ));
        }
        let host = raw.host.to_ascii_lowercase();
        let mut kind = match host.as_str() {
            "totp" => OtpKind::Totp,
            "hotp" => OtpKind::Hotp,
            "steam" => OtpKind::Steam,
            "pipush" => return Err(UriError::IsPushEnrolment),
            _ => return Err(UriError::UnknownType(shown(raw.host))),
        };

        let label = decode_label(raw.path)?;
        check_length("label", &label, MAX_LABEL_CHARS)?;

        let mut known = Known::default();
        let mut extra = Vec::new();
        for pair in raw.query_pairs() {
            let (name, value) = pair?;
            let lower = name.to_ascii_lowercase();
            let slot = match lower.as_str() {
                "secret" => {
                    if known.secret.is_none() {
                        known.secret = Some(value);
                    }
                    continue;
                }
                "issuer" => &mut known.issuer,
                "algorithm" => &mut known.algorithm,
                "digits" => &mut known.digits,
                "period" => &mut known.period,
                "counter" => &mut known.counter,
                "encoder" if value.trim().eq_ignore_ascii_case("steam") => {
                    kind = OtpKind::Steam;
                    continue;
                }
                _ => {
                    extra.push((name, value.to_string()));
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(value.to_string());
            }
        }

        let issuer_param = known.issuer.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let (issuer, account) = split_label(&label, issuer_param);
        check_length("issuer", &issuer, MAX_NAME_CHARS)?;
        check_length("account name", &account, MAX_NAME_CHARS)?;
        if kind == OtpKind::Totp && issuer.eq_ignore_ascii_case("steam") {
            kind = OtpKind::Steam;
        }

        let secret_text = known.secret.filter(|s| !s.trim().is_empty());
        let secret_text = secret_text.ok_or(UriError::MissingSecret)?;
        let secret = Secret::parse_base32_any_length(&secret_text)?;
        let algorithm = match non_empty(&known.algorithm) {
            None => Algorithm::Sha1,
            Some(value) => value.parse().map_err(|_| UriError::BadParameter {
                param: "algorithm",
                value: shown(value),
                reason: "expected SHA1, SHA256 or SHA512",
            })?,
        };
        let digits = match non_empty(&known.digits) {
            None if kind == OtpKind::Steam => crate::otp::STEAM_DIGITS,
            None => 6,
            Some(value) => value
                .parse::<u8>()
                .ok()
                .filter(|d| (1..=10).contains(d))
                .ok_or_else(|| bad("digits", value, "expected a number from 1 to 10"))?,
        };
        let period = match non_empty(&known.period) {
            None => 30,
            Some(value) => value.parse::<u64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                bad("period", value, "expected a whole number of seconds, at least 1")
            })?,
        };
        let counter = match non_empty(&known.counter) {
            None => 0,
            Some(value) => value
                .parse::<u64>()
                .map_err(|_| bad("counter", value, "expected a whole number, 0 or more"))?,
        };
        let otp = OtpParams::new(kind, secret, algorithm, digits, period, counter)?;
        Ok(Self { issuer, account, otp, extra })
    }

    /// Builds the canonical URI. It contains the secret, hence the zeroizing buffer.
    ///
    /// Shape: `otpauth://TYPE/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=...&digits=...`
    /// then `period` (TOTP, Steam; HOTP only if not 30) and `counter` (HOTP; TOTP only if not
    /// 0), `encoder=steam` for Steam, then the extras. When the issuer is empty and the account contains a colon, the label starts with
    /// a colon so that parsing does not take part of the account for an issuer. Extras named
    /// like a known parameter are not written (parsing would ignore them).
    pub fn to_uri(&self) -> Zeroizing<String> {
        let p = &self.otp;
        let host = match p.kind {
            OtpKind::Hotp => "hotp",
            OtpKind::Totp | OtpKind::Steam => "totp",
        };
        let mut out = Zeroizing::new(String::with_capacity(128));
        out.push_str("otpauth://");
        out.push_str(host);
        out.push('/');
        if !self.issuer.is_empty() {
            out.push_str(&encode_label_part(&self.issuer));
            out.push(':');
        } else if self.account.contains(':') {
            out.push(':');
        }
        out.push_str(&encode_label_part(&self.account));
        out.push_str("?secret=");
        out.push_str(&p.secret.to_base32());
        if !self.issuer.is_empty() {
            out.push_str("&issuer=");
            out.push_str(&encode_component(&self.issuer));
        }
        out.push_str("&algorithm=");
        out.push_str(p.algorithm.as_str());
        out.push_str(&format!("&digits={}", p.digits));
        // The parameter of the other kind is written too when it is not the default, so that
        // nothing OtpParams holds is lost (found by fuzzing: a HOTP period of 60 came back as 30).
        if p.kind.is_time_based() || p.period != 30 {
            out.push_str(&format!("&period={}", p.period));
        }
        if !p.kind.is_time_based() || p.counter != 0 {
            out.push_str(&format!("&counter={}", p.counter));
        }
        if p.kind == OtpKind::Steam {
            out.push_str("&encoder=steam");
        }
        for (name, value) in &self.extra {
            let lower = name.to_ascii_lowercase();
            let skip = KNOWN.contains(&lower.as_str())
                || (lower == "encoder" && (p.kind == OtpKind::Steam || is_steam(value)));
            if skip || name.is_empty() {
                continue;
            }
            out.push('&');
            out.push_str(&encode_component(name));
            out.push('=');
            out.push_str(&encode_component(value));
        }
        out
    }
}

fn is_steam(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("steam")
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn bad(param: &'static str, value: &str, reason: &'static str) -> UriError {
    UriError::BadParameter { param, value: shown(value), reason }
}

/// Splits a decoded label into `(issuer, account)` under the precedence rule above.
fn split_label(label: &str, issuer_param: Option<&str>) -> (String, String) {
    if let Some(issuer) = issuer_param {
        let account = match label.strip_prefix(issuer).and_then(|rest| rest.strip_prefix(':')) {
            Some(rest) => rest,
            None => label.split_once(':').map_or(label, |(_, rest)| rest),
        };
        return (issuer.to_owned(), account.trim().to_owned());
    }
    match label.split_once(':') {
        Some((prefix, rest)) => (prefix.trim().to_owned(), rest.trim().to_owned()),
        None => (String::new(), label.trim().to_owned()),
    }
}

crate::account::impl_account!(OtpUri);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_parameters_that_are_not_utf8_are_refused_by_name() {
        // Before: an account named "\u{fffd}\u{fffd}" was added.
        let err = OtpUri::parse("otpauth://totp/%FF%FE:x?secret=JBSWY3DPEHPK3PXP").unwrap_err();
        assert_eq!(err, UriError::NotUtf8 { part: "label".into() });
        assert_eq!(
            err.to_string(),
            "the label is not valid text (its percent-encoded bytes are not UTF-8)"
        );
        let err =
            OtpUri::parse("otpauth://totp/A:x?secret=JBSWY3DPEHPK3PXP&issuer=%C3%28").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the \"issuer\" parameter is not valid text (its percent-encoded bytes are not UTF-8)"
        );
        let err = OtpUri::parse("otpauth://totp/A:x?secret=JBSWY3DPEHPK3PXP&%FF=1").unwrap_err();
        assert!(err.to_string().starts_with("the name of a parameter is not valid text"), "{err}");
        // Valid multi-byte UTF-8 still reads.
        let ok = OtpUri::parse("otpauth://totp/%E6%97%A5:x?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(ok.issuer, "日");
    }

    #[test]
    fn a_link_with_one_slash_is_malformed_not_an_unknown_type() {
        let err = OtpUri::parse("otpauth:/totp/A:x?secret=JBSWY3DPEHPK3PXP").unwrap_err();
        assert!(matches!(err, UriError::Malformed(_)), "{err:?}");
        assert!(err.to_string().contains("otpauth://"), "{err}");
        let err = OtpUri::parse("otpauth:totp/A:x?secret=JBSWY3DPEHPK3PXP").unwrap_err();
        assert!(matches!(err, UriError::Malformed(_)), "{err:?}");
    }
    use crate::otp::SecretError;

    const KEY: &str = "JBSWY3DPEHPK3PXP";

    fn parse(text: &str) -> OtpUri {
        OtpUri::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn names(u: &OtpUri) -> (&str, &str) {
        (u.issuer.as_str(), u.account.as_str())
    }

    #[test]
    fn spec_example_parses_with_all_parameters() {
        let u = parse(
            "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
             &issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60",
        );
        assert_eq!(names(&u), ("ACME Co", "john.doe@email.com"));
        assert_eq!(u.otp.kind, OtpKind::Totp);
        assert_eq!((u.otp.algorithm, u.otp.digits, u.otp.period), (Algorithm::Sha256, 8, 60));
        assert_eq!(u.otp.secret.len(), 20);
        assert!(u.extra.is_empty());
    }

    #[test]
    fn defaults_are_sha1_six_digits_thirty_seconds() {
        let u = parse(&format!("otpauth://totp/alice?secret={KEY}"));
        assert_eq!(names(&u), ("", "alice"));
        assert_eq!((u.otp.algorithm, u.otp.digits, u.otp.period), (Algorithm::Sha1, 6, 30));
    }

    /// Every deviation listed in FORMATS.md, with the result we promise.
    #[test]
    fn every_formats_md_deviation_parses() {
        let table: &[(&str, &str, &str)] = &[
            // issuer param and label prefix disagree: the parameter wins.
            ("otpauth://totp/Old:alice?secret=KEY&issuer=New", "New", "alice"),
            // label prefix only.
            ("otpauth://totp/Label:alice?secret=KEY", "Label", "alice"),
            // more than one colon: split at the first.
            ("otpauth://totp/A:b:c?secret=KEY", "A", "b:c"),
            ("otpauth://totp/A:b:c?secret=KEY&issuer=Z", "Z", "b:c"),
            // issuer param containing a colon and matching the label prefix.
            ("otpauth://totp/A:b:c?secret=KEY&issuer=A:b", "A:b", "c"),
            // encoded colon and optional space after it.
            ("otpauth://totp/Acme%3A%20alice?secret=KEY", "Acme", "alice"),
            ("otpauth://totp/Acme:  alice?secret=KEY", "Acme", "alice"),
            // + means space in query values, but not in labels.
            ("otpauth://totp/a+b@x.com?secret=KEY&issuer=Big+Corp", "Big Corp", "a+b@x.com"),
            // %20 in labels.
            ("otpauth://totp/My%20Bank:John%20Doe?secret=KEY", "My Bank", "John Doe"),
            // raw # in the label is not a fragment.
            ("otpauth://totp/C#Shop:dev#1?secret=KEY", "C#Shop", "dev#1"),
            // double-encoded values.
            ("otpauth://totp/Acme%2520Corp:al%2540x.com?secret=KEY", "Acme Corp", "al@x.com"),
            ("otpauth://totp/x?secret=KEY&issuer=Acme%2520Corp", "Acme Corp", "x"),
            // lower-case secret, spaces, hyphens and padding.
            ("otpauth://totp/x?secret=jbsw+y3dp-ehpk%203pxp%3D%3D%3D%3D", "", "x"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP====", "", "x"),
            // algorithm spellings.
            ("otpauth://totp/x?secret=KEY&algorithm=sha256", "", "x"),
            ("otpauth://totp/x?secret=KEY&algorithm=HmacSHA256", "", "x"),
            ("otpauth://totp/x?secret=KEY&algorithm=HMAC-SHA-256", "", "x"),
            // scheme and host in upper case.
            ("OTPAUTH://TOTP/x?SECRET=KEY", "", "x"),
            // vendor parameters.
            (
                "otpauth://totp/x?secret=KEY&image=https%3A%2F%2Fi.example%2Fa.png&color=red\
                 &icon=a&lock=true&creator=me&serial=S1&pin=1234&codeDisplay=3",
                "",
                "x",
            ),
            // no label at all, issuer from the parameter.
            ("otpauth://totp?secret=KEY&issuer=Solo", "Solo", ""),
            ("otpauth://totp/?secret=KEY", "", ""),
        ];
        for (uri, issuer, account) in table {
            let uri = uri.replace("KEY", KEY);
            let u = parse(&uri);
            assert_eq!(names(&u), (*issuer, *account), "{uri}");
            assert_eq!(u.otp.secret.as_bytes(), b"Hello!\xde\xad\xbe\xef", "{uri}");
        }
        let sha = parse(&format!("otpauth://totp/x?secret={KEY}&algorithm=HMAC-SHA-256"));
        assert_eq!(sha.otp.algorithm, Algorithm::Sha256);
        let upper = parse(&format!("OTPAUTH://HOTP/x?SECRET={KEY}&COUNTER=7"));
        assert_eq!((upper.otp.kind, upper.otp.counter), (OtpKind::Hotp, 7));
    }

    #[test]
    fn vendor_parameters_are_kept_in_order() {
        let u = parse(&format!(
            "otpauth://totp/x?image=a%2Fb&secret={KEY}&color=red+blue&pin=1234&codeDisplay=3"
        ));
        let want = [("image", "a/b"), ("color", "red blue"), ("pin", "1234"), ("codeDisplay", "3")];
        let got: Vec<(&str, &str)> =
            u.extra.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn eighty_bit_and_short_secrets_are_accepted() {
        let u = parse("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQ");
        assert_eq!(u.otp.secret.len(), 10, "80-bit secret");
        let u = parse("otpauth://totp/x?secret=MFRGG");
        assert_eq!(u.otp.secret.as_bytes(), b"abc", "issued keys are not second-guessed");
    }

    #[test]
    fn steam_is_recognised_three_ways() {
        for uri in [
            format!("otpauth://steam/Steam:gabe?secret={KEY}"),
            format!("otpauth://totp/gabe?secret={KEY}&encoder=steam"),
            format!("otpauth://totp/gabe?secret={KEY}&issuer=Steam&digits=6"),
            format!("otpauth://totp/steam:gabe?secret={KEY}"),
        ] {
            let u = parse(&uri);
            assert_eq!(u.otp.kind, OtpKind::Steam, "{uri}");
            assert_eq!((u.otp.digits, u.otp.period), (5, 30), "{uri}");
            assert!(u.extra.is_empty(), "{uri}");
        }
    }

    #[test]
    fn steam_is_written_as_totp_with_encoder() {
        let u = parse(&format!("otpauth://steam/Steam:gabe?secret={KEY}"));
        let text = u.to_uri();
        assert!(text.starts_with("otpauth://totp/Steam:gabe?"), "{}", &*text);
        assert!(text.contains("&encoder=steam"));
        assert_eq!(parse(&text).otp.kind, OtpKind::Steam);
    }

    #[test]
    fn hotp_without_counter_starts_at_zero() {
        let u = parse(&format!("otpauth://hotp/x?secret={KEY}"));
        assert_eq!((u.otp.kind, u.otp.counter), (OtpKind::Hotp, 0));
        let u = parse(&format!("otpauth://hotp/x?secret={KEY}&counter=42"));
        assert_eq!(u.otp.counter, 42);
    }

    #[test]
    fn empty_parameter_values_mean_defaults() {
        let u = parse(&format!("otpauth://totp/x?secret={KEY}&digits=&period=&algorithm="));
        assert_eq!((u.otp.algorithm, u.otp.digits, u.otp.period), (Algorithm::Sha1, 6, 30));
    }

    #[test]
    fn first_occurrence_of_a_known_parameter_wins() {
        let u = parse(&format!("otpauth://totp/x?secret={KEY}&digits=8&digits=7&secret=MFRGG"));
        assert_eq!(u.otp.digits, 8);
        assert_eq!(u.otp.secret.len(), 10);
    }

    #[test]
    fn push_extras_on_a_standard_uri_are_kept_as_extras() {
        let u = parse(&format!(
            "otpauth://totp/Acme:al?secret={KEY}&issuer=Acme&push_url=https%3A%2F%2Fa.example\
             &push_token=abc"
        ));
        assert_eq!(u.otp.kind, OtpKind::Totp);
        assert_eq!(u.extra[0], ("push_url".to_owned(), "https://a.example".to_owned()));
        assert_eq!(u.extra[1].0, "push_token");
    }

    #[test]
    fn missing_and_empty_secret_are_reported() {
        let e = OtpUri::parse("otpauth://totp/x?issuer=A").unwrap_err();
        assert_eq!(e, UriError::MissingSecret);
        assert_eq!(e.to_string(), "the link has no secret key (missing \"secret\" parameter)");
        assert_eq!(OtpUri::parse("otpauth://totp/x?secret=").unwrap_err(), UriError::MissingSecret);
        assert_eq!(
            OtpUri::parse("otpauth://totp/x?secret=+%20").unwrap_err(),
            UriError::MissingSecret
        );
    }

    #[test]
    fn invalid_secret_names_the_character_without_echoing_the_key() {
        let e = OtpUri::parse("otpauth://totp/x?secret=JBSWY3DP1HPK3PXP").unwrap_err();
        assert!(matches!(e, UriError::Secret(SecretError::InvalidCharacter { position: 9, .. })));
        let text = e.to_string();
        assert!(text.contains("'1'") && !text.contains("JBSW"), "{text}");
    }

    #[test]
    fn bad_values_name_parameter_and_value() {
        let cases = [
            ("digits=0", "invalid digits value \"0\": expected a number from 1 to 10"),
            ("digits=11", "invalid digits value \"11\": expected a number from 1 to 10"),
            ("digits=six", "invalid digits value \"six\": expected a number from 1 to 10"),
            (
                "period=0",
                "invalid period value \"0\": expected a whole number of seconds, at least 1",
            ),
            (
                "period=-30",
                "invalid period value \"-30\": expected a whole number of seconds, at least 1",
            ),
            ("counter=-1", "invalid counter value \"-1\": expected a whole number, 0 or more"),
            ("algorithm=MD5", "invalid algorithm value \"MD5\": expected SHA1, SHA256 or SHA512"),
        ];
        for (param, want) in cases {
            let e = OtpUri::parse(&format!("otpauth://totp/x?secret={KEY}&{param}")).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn huge_values_give_short_errors() {
        let huge = "9".repeat(100_000);
        let e = OtpUri::parse(&format!("otpauth://totp/x?secret={KEY}&digits={huge}")).unwrap_err();
        assert!(e.to_string().len() < 200, "{}", e.to_string().len());
        let e = OtpUri::parse(&format!("otpauth://{huge}/x?secret={KEY}")).unwrap_err();
        assert!(e.to_string().len() < 200);
    }

    #[test]
    fn overlong_labels_and_issuers_are_rejected_briefly() {
        let label = "a".repeat(100_000);
        let e = OtpUri::parse(&format!("otpauth://totp/{label}?secret={KEY}")).unwrap_err();
        assert_eq!(e, UriError::TooLong { field: "label", length: 100_000, max: MAX_LABEL_CHARS });
        assert_eq!(e.to_string(), "the label is too long: 100000 characters (at most 1025)");
        let long = "b".repeat(MAX_NAME_CHARS + 1);
        let e = OtpUri::parse(&format!("otpauth://totp/x?secret={KEY}&issuer={long}")).unwrap_err();
        assert!(matches!(e, UriError::TooLong { field: "issuer", .. }));
        let e = OtpUri::parse(&format!("otpauth://totp/{long}?secret={KEY}")).unwrap_err();
        assert!(matches!(e, UriError::TooLong { field: "account name", .. }));
        let ok = "c".repeat(MAX_NAME_CHARS);
        assert!(OtpUri::parse(&format!("otpauth://totp/{ok}:{ok}?secret={KEY}")).is_ok());
    }

    #[test]
    fn unknown_type_scheme_and_non_uri_are_reported() {
        let e = OtpUri::parse(&format!("otpauth://motp/x?secret={KEY}")).unwrap_err();
        assert_eq!(e.to_string(), "unknown account type \"motp\" (expected totp, hotp or steam)");
        let e = OtpUri::parse("https://example.com/?secret=A").unwrap_err();
        assert!(matches!(e, UriError::UnsupportedScheme { .. }), "{e}");
        assert_eq!(OtpUri::parse("just text").unwrap_err(), UriError::NotAUri);
        let e = OtpUri::parse("otpauth://pipush/x?url=a").unwrap_err();
        assert_eq!(e, UriError::IsPushEnrolment);
    }

    #[test]
    fn debug_and_errors_never_show_the_secret() {
        let u = parse(&format!("otpauth://totp/x?secret={KEY}&pin=8642"));
        let debug = format!("{u:?}");
        assert!(!debug.contains(KEY) && !debug.contains("8642"), "{debug}");
        assert!(!debug.contains("Hello"), "{debug}");
        let e = OtpUri::parse(&format!("otpauth://totp/x?secret={KEY}&digits=x")).unwrap_err();
        assert!(!format!("{e} {e:?}").contains(KEY));
    }

    #[test]
    fn to_uri_encodes_label_and_values() {
        let mut u = parse(&format!("otpauth://totp/x?secret={KEY}"));
        u.issuer = "My Bank & Co".into();
        u.account = "a:b@x.com".into();
        u.extra.push(("note".into(), "a&b=c".into()));
        u.extra.push(("secret".into(), "ignored".into()));
        let text = u.to_uri();
        assert_eq!(
            &*text,
            "otpauth://totp/My%20Bank%20%26%20Co:a%3Ab@x.com?secret=JBSWY3DPEHPK3PXP\
             &issuer=My%20Bank%20%26%20Co&algorithm=SHA1&digits=6&period=30&note=a%26b%3Dc"
        );
        let back = parse(&text);
        assert_eq!(names(&back), ("My Bank & Co", "a:b@x.com"));
        assert_eq!(back.extra, vec![("note".to_owned(), "a&b=c".to_owned())]);
    }

    #[test]
    fn account_with_colon_and_no_issuer_round_trips() {
        let mut u = parse(&format!("otpauth://hotp/x?secret={KEY}&counter=3"));
        u.account = "urn:x".into();
        let text = u.to_uri();
        assert!(text.starts_with("otpauth://hotp/:urn%3Ax?"), "{}", &*text);
        assert_eq!(names(&parse(&text)), ("", "urn:x"));
        assert_eq!(parse(&text).otp.counter, 3);
    }

    /// Fuzzing regression (uri_parse): a HOTP account's period was dropped by `to_uri`.
    #[test]
    fn hotp_period_and_totp_counter_survive_a_round_trip() {
        let u = parse(&format!("otpauth://hotp/x?secret={KEY}&period=60&counter=2"));
        let back = parse(&u.to_uri());
        assert_eq!((back.otp.period, back.otp.counter), (60, 2));
        let u = parse(&format!("otpauth://totp/x?secret={KEY}&counter=9"));
        let back = parse(&u.to_uri());
        assert_eq!((back.otp.period, back.otp.counter), (30, 9));
        let plain = parse(&format!("otpauth://totp/x?secret={KEY}")).to_uri();
        assert!(!plain.contains("counter"), "defaults of the other kind are not written");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn name() -> impl Strategy<Value = String> {
            // Anything but '%' (see the double-encoding rule) and control characters; trimmed
            // because surrounding spaces are documented as not preserved.
            "[^%\\p{Cc}]{0,24}".prop_map(|s| s.trim().to_owned())
        }

        fn extra() -> impl Strategy<Value = Vec<(String, String)>> {
            proptest::collection::vec(("[a-zA-Z_]{1,10}", "[^%\\p{Cc}]{0,16}"), 0..4).prop_map(
                |pairs| {
                    pairs
                        .into_iter()
                        .filter(|(n, _)| {
                            let n = n.to_ascii_lowercase();
                            !KNOWN.contains(&n.as_str()) && n != "encoder"
                        })
                        .collect()
                },
            )
        }

        fn params() -> impl Strategy<Value = OtpParams> {
            (
                proptest::collection::vec(any::<u8>(), 1..64),
                prop_oneof![Just(OtpKind::Totp), Just(OtpKind::Hotp), Just(OtpKind::Steam)],
                prop_oneof![
                    Just(Algorithm::Sha1),
                    Just(Algorithm::Sha256),
                    Just(Algorithm::Sha512)
                ],
                1u8..=10,
                1u64..=u64::MAX,
                any::<u64>(),
            )
                .prop_map(|(key, kind, alg, digits, period, counter)| {
                    let secret = Secret::from_bytes(key).unwrap();
                    OtpParams::new(kind, secret, alg, digits, period, counter).unwrap()
                })
        }

        proptest! {
            #[test]
            fn build_then_parse_round_trips(
                issuer in name(), account in name(), otp in params(), extra in extra()
            ) {
                prop_assume!(!issuer.eq_ignore_ascii_case("steam"));
                let original = OtpUri { issuer, account, otp, extra };
                let text = original.to_uri();
                let back = OtpUri::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
                prop_assert_eq!(&back.issuer, &original.issuer);
                prop_assert_eq!(&back.account, &original.account);
                prop_assert_eq!(&back.extra, &original.extra);
                let (a, b) = (&back.otp, &original.otp);
                prop_assert!(a.secret.ct_eq(&b.secret));
                prop_assert_eq!((a.kind, a.algorithm, a.digits), (b.kind, b.algorithm, b.digits));
                prop_assert_eq!((a.period, a.counter), (b.period, b.counter));
            }

            #[test]
            fn parsing_arbitrary_text_never_panics(text in "\\PC{0,200}") {
                let _ = OtpUri::parse(&text);
                let _ = OtpUri::parse(&format!("otpauth://totp/{text}"));
            }
        }
    }
}
