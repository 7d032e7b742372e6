//! privacyIDEA push enrolment links: `otpauth://pipush/LABEL?...` and `pia://pipush/LABEL?...`.
//!
//! Source: privacyIDEA's push token (`privacyidea/lib/tokens/pushtoken.py`), summarised in
//! `shared/docs/PUSH.md`. This module only *parses*: every field is kept as the text it was
//! (decoded), and nothing is validated (the push module rejects `v` other than 1, enforces `ttl`
//! and decides about `sslverify`). Unknown parameters are kept in order in
//! [`PushEnrolment::extra`].

use std::fmt;

use zeroize::Zeroizing;

use super::{MAX_LABEL_CHARS, RawUri, RedactedPairs, UriError, check_length, decode_label, shown};

/// The parsed query of a privacyIDEA push enrolment QR code. Fields hold the decoded text of
/// the first occurrence of each parameter, `None` if absent.
#[derive(Clone, PartialEq, Eq)]
pub struct PushEnrolment {
    /// The label (path after `pipush/`), decoded; often the token serial or `issuer:user`.
    pub label: String,
    /// `url`: the push endpoint the enrolment is finished at.
    pub url: Option<String>,
    /// `ttl`: minutes within which the enrolment must finish.
    pub ttl: Option<String>,
    /// `issuer`.
    pub issuer: Option<String>,
    /// `serial`: the token serial (`PIPU...`).
    pub serial: Option<String>,
    /// `enrollment_credential`: the one-time credential proving this QR code was scanned.
    pub enrollment_credential: Option<Zeroizing<String>>,
    /// `sslverify`: `0` or `1`.
    pub sslverify: Option<String>,
    /// `v`: protocol version (only `1` is supported by privacyIDEA today).
    pub v: Option<String>,
    /// `poll_only`: `True` when the server expects polling instead of Firebase.
    pub poll_only: Option<String>,
    /// Every other parameter (`image`, `pin`, `app_force_unlock`, ...), in order.
    pub extra: Vec<(String, String)>,
}

impl fmt::Debug for PushEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushEnrolment")
            .field("label", &self.label)
            .field("url", &self.url)
            .field("ttl", &self.ttl)
            .field("issuer", &self.issuer)
            .field("serial", &self.serial)
            .field(
                "enrollment_credential",
                &self.enrollment_credential.as_ref().map(|_| "<redacted>"),
            )
            .field("sslverify", &self.sslverify)
            .field("v", &self.v)
            .field("poll_only", &self.poll_only)
            .field("extra", &RedactedPairs(&self.extra))
            .finish()
    }
}

impl PushEnrolment {
    /// Parses `otpauth://pipush/...` or `pia://pipush/...` (scheme and host in any case).
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let text = super::trim_scanned(text);
        let raw = RawUri::split(text).ok_or(UriError::NotAUri)?;
        let scheme_ok = ["otpauth", "pia"].iter().any(|s| raw.scheme.eq_ignore_ascii_case(s));
        if !scheme_ok {
            return Err(UriError::UnsupportedScheme {
                scheme: shown(raw.scheme),
                expected: "otpauth://pipush/ or pia://pipush/",
            });
        }
        if !raw.host.eq_ignore_ascii_case("pipush") {
            return Err(UriError::UnknownType(shown(raw.host)));
        }
        let label = decode_label(raw.path)?.to_string();
        check_length("label", &label, MAX_LABEL_CHARS)?;
        let mut out = Self {
            label,
            url: None,
            ttl: None,
            issuer: None,
            serial: None,
            enrollment_credential: None,
            sslverify: None,
            v: None,
            poll_only: None,
            extra: Vec::new(),
        };
        for pair in raw.query_pairs() {
            let (name, value) = pair?;
            let slot = match name.to_ascii_lowercase().as_str() {
                "enrollment_credential" => {
                    if out.enrollment_credential.is_none() {
                        out.enrollment_credential = Some(value);
                    }
                    continue;
                }
                "url" => &mut out.url,
                "ttl" => &mut out.ttl,
                "issuer" => &mut out.issuer,
                "serial" => &mut out.serial,
                "sslverify" => &mut out.sslverify,
                "v" => &mut out.v,
                "poll_only" => &mut out.poll_only,
                _ => {
                    out.extra.push((name, value.to_string()));
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(value.to_string());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "otpauth://pipush/PIPU0001F00D?url=https%3A//pi.example/ttype/push&ttl=10\
        &issuer=privacyIDEA&enrollment_credential=9f3c0aa1b2c3d4e5f60718293a4b5c6d7e8f9012\
        &v=1&serial=PIPU0001F00D&sslverify=0&poll_only=True&image=x.png&app_force_unlock=pin";

    #[test]
    fn every_push_field_is_kept() {
        let p = PushEnrolment::parse(LINK).unwrap();
        assert_eq!(p.label, "PIPU0001F00D");
        assert_eq!(p.url.as_deref(), Some("https://pi.example/ttype/push"));
        assert_eq!(p.ttl.as_deref(), Some("10"));
        assert_eq!(p.issuer.as_deref(), Some("privacyIDEA"));
        assert_eq!(p.serial.as_deref(), Some("PIPU0001F00D"));
        assert_eq!(
            p.enrollment_credential.as_deref().map(String::as_str),
            Some("9f3c0aa1b2c3d4e5f60718293a4b5c6d7e8f9012")
        );
        assert_eq!(p.sslverify.as_deref(), Some("0"));
        assert_eq!(p.v.as_deref(), Some("1"));
        assert_eq!(p.poll_only.as_deref(), Some("True"));
        assert_eq!(
            p.extra,
            vec![("image".into(), "x.png".into()), ("app_force_unlock".into(), "pin".into())]
        );
    }

    #[test]
    fn pia_scheme_and_upper_case_are_accepted_and_nothing_is_validated() {
        let p = PushEnrolment::parse("PIA://PIPUSH/a%20b?v=2&ttl=soon").unwrap();
        assert_eq!(
            (p.label.as_str(), p.v.as_deref(), p.ttl.as_deref()),
            ("a b", Some("2"), Some("soon"))
        );
        assert_eq!(p.url, None);
    }

    #[test]
    fn debug_hides_the_enrollment_credential() {
        let p = PushEnrolment::parse(LINK).unwrap();
        let debug = format!("{p:?}");
        assert!(!debug.contains("9f3c0aa1"), "{debug}");
        assert!(debug.contains("PIPU0001F00D"));
    }

    #[test]
    fn non_push_links_are_refused() {
        assert!(matches!(
            PushEnrolment::parse("otpauth://totp/x?secret=A"),
            Err(UriError::UnknownType(_))
        ));
        assert!(matches!(
            PushEnrolment::parse("https://pipush/x"),
            Err(UriError::UnsupportedScheme { .. })
        ));
    }
}
