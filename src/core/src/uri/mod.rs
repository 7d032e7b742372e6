//! otpauth:// and otpauth-migration:// URIs, and classification of scanned QR text.
//!
//! This module owns everything that turns text from a QR code (or a pasted link) into accounts:
//!
//! - [`OtpUri`]: one `otpauth://totp|hotp|steam/...` account (Google's "Key Uri Format",
//!   <https://github.com/google/google-authenticator/wiki/Key-Uri-Format>), parsed leniently
//!   because real services and apps deviate from the spec in many small ways (see
//!   `shared/docs/FORMATS.md`); [`OtpUri::to_uri`] builds the canonical form back.
//! - [`MigrationBatch`] / [`MigrationSet`] / [`encode_migration`]: Google Authenticator's
//!   `otpauth-migration://offline?data=...` export, which spans several QR codes.
//! - [`PushEnrolment`]: a privacyIDEA push enrolment (`otpauth://pipush/...`, `pia://pipush/...`),
//!   only parsed here; the push module checks its meaning.
//! - [`classify`]: the single entry point for scanned text. Anything that is not an
//!   authenticator payload yields [`UriError::NotAnAccount`] with a [`QrKind`] so the user learns
//!   *what* they scanned ("this QR code is a Wi-Fi network, not an authenticator account").
//!
//! Why the URI is split by hand instead of with the `url` crate: otpauth labels legally contain
//! a raw `#` (which a URL parser treats as a fragment and drops), `+` must stay literal in labels
//! but mean a space in query values, and values are sometimes encoded twice. The grammar we
//! accept is tiny (`scheme:[//]host[/label][?query]`), so a dozen lines are clearer than fighting
//! a general parser. Percent-decoding itself uses the `percent-encoding` crate.
//!
//! Nothing here prints a secret: errors name the parameter and a truncated value (never the
//! `secret` or a migration payload), and every `Debug` redacts keys and credentials.

mod kind;
mod migration;
mod otpauth;
mod push;

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::otp::{OtpError, SecretError};

pub use kind::QrKind;
pub use migration::{
    AddOutcome, MAX_BATCHES, MIGRATION_BATCH_ACCOUNTS, MigrationBatch, MigrationSet, SkipReason,
    Skipped, encode_migration, encode_migration_with_id,
};
pub use otpauth::OtpUri;
pub use push::PushEnrolment;

/// Longest issuer or account name accepted, in characters; a label may hold both and a colon.
pub const MAX_NAME_CHARS: usize = 512;

/// Longest label accepted (issuer, colon, account), in characters.
pub const MAX_LABEL_CHARS: usize = 2 * MAX_NAME_CHARS + 1;

/// How many characters of an offending value an error message shows.
const SHOWN_CHARS: usize = 40;

/// Why a URI or scanned text could not be turned into an account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The text is something else (a web link, a Wi-Fi network, ...), or empty.
    #[error("this QR code is {kind}, not an authenticator account")]
    NotAnAccount {
        /// What the text looks like.
        kind: QrKind,
    },
    /// The text does not have the shape `scheme://...`.
    #[error("this is not an otpauth:// link")]
    NotAUri,
    /// A URI with a scheme other than the one the parser handles.
    #[error("unsupported link type {scheme:?} (expected {expected})")]
    UnsupportedScheme {
        /// The scheme found, truncated.
        scheme: String,
        /// What was expected, e.g. `otpauth://`.
        expected: &'static str,
    },
    /// A label or parameter whose percent-decoding is not UTF-8 text.
    #[error("the {part} is not valid text (its percent-encoded bytes are not UTF-8)")]
    NotUtf8 {
        /// Which part: `label`, `"issuer" parameter`, ...
        part: String,
    },
    /// A link whose structure is wrong, such as `otpauth:/totp/...` with one slash.
    #[error("malformed link: {0}")]
    Malformed(&'static str),
    /// An otpauth host other than totp, hotp or steam.
    #[error("unknown account type {0:?} (expected totp, hotp or steam)")]
    UnknownType(String),
    /// A push enrolment link given to the account parser; use [`classify`] or
    /// [`PushEnrolment::parse`].
    #[error("this is a push enrolment link, not a code-generating account")]
    IsPushEnrolment,
    /// No `secret` parameter, or an empty one.
    #[error("the link has no secret key (missing \"secret\" parameter)")]
    MissingSecret,
    /// The `secret` parameter is not valid base32.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A parameter whose value cannot be used.
    #[error("invalid {param} value {value:?}: {reason}")]
    BadParameter {
        /// Parameter name (`digits`, `period`, `counter`, `algorithm`).
        param: &'static str,
        /// The value, truncated to a few dozen characters.
        value: String,
        /// What would have been valid.
        reason: &'static str,
    },
    /// A label, issuer or account name beyond the length cap.
    #[error("the {field} is too long: {length} characters (at most {max})")]
    TooLong {
        /// `label`, `issuer` or `account name`.
        field: &'static str,
        /// Its length in characters.
        length: usize,
        /// The cap.
        max: usize,
    },
    /// The OTP parameters were rejected by the OTP engine.
    #[error(transparent)]
    Otp(#[from] OtpError),
    /// A migration link without its `data` parameter.
    #[error("the export link has no data (missing \"data\" parameter)")]
    MissingData,
    /// The migration `data` is not base64.
    #[error("the export data is damaged: {0}")]
    BadBase64(&'static str),
    /// The migration payload is not a valid protobuf message.
    #[error("the export data is damaged (not a valid Google Authenticator export)")]
    BadPayload,
    /// A migration batch whose index lies outside its batch size, or an absurd batch size.
    #[error("export QR code {index} of {size} is inconsistent")]
    BadBatch {
        /// Declared `batch_index`.
        index: i32,
        /// Declared `batch_size`.
        size: i32,
    },
    /// A migration batch from another export than the batches collected so far.
    #[error("this QR code belongs to a different export (scan the codes of one export only)")]
    OtherExport,
}

/// Everything a scanned authenticator QR code can carry.
#[derive(Debug, Clone)]
pub enum Payload {
    /// One otpauth:// account.
    Account(OtpUri),
    /// One QR code of a Google Authenticator export; collect them in a [`MigrationSet`].
    Migration(MigrationBatch),
    /// A privacyIDEA push enrolment, to hand to the push module.
    PushEnrolment(PushEnrolment),
}

/// Classifies scanned or pasted text and parses it if it is an authenticator payload.
///
/// Surrounding whitespace and a byte-order mark are ignored; scheme and host are
/// case-insensitive. `otpauth://pipush/...` and `pia://pipush/...` are push enrolments, other
/// `otpauth://` links accounts, `otpauth-migration://` links export batches. Any other text
/// gives [`UriError::NotAnAccount`] naming what it looks like.
pub fn classify(text: &str) -> Result<Payload, UriError> {
    let text = trim_scanned(text);
    if let Some(raw) = RawUri::split(text) {
        let is_push = raw.host.eq_ignore_ascii_case("pipush");
        if raw.scheme.eq_ignore_ascii_case("otpauth") {
            if is_push {
                return PushEnrolment::parse(text).map(Payload::PushEnrolment);
            }
            return OtpUri::parse(text).map(Payload::Account);
        }
        if raw.scheme.eq_ignore_ascii_case("pia") && is_push {
            return PushEnrolment::parse(text).map(Payload::PushEnrolment);
        }
        if raw.scheme.eq_ignore_ascii_case("otpauth-migration") {
            return MigrationBatch::parse(text).map(Payload::Migration);
        }
    }
    Err(UriError::NotAnAccount { kind: QrKind::detect(text) })
}

/// Removes whitespace and byte-order marks that scanners and clipboards leave around text.
fn trim_scanned(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// The pieces of `scheme:[//]host[/path][?query]`, not yet decoded.
#[derive(Clone, Copy)]
struct RawUri<'a> {
    scheme: &'a str,
    /// True if `//` followed the scheme (`otpauth://`), false for `otpauth:/totp/...`.
    has_authority: bool,
    host: &'a str,
    path: &'a str,
    query: &'a str,
}

impl<'a> RawUri<'a> {
    /// Splits a URI without decoding. The path ends at the first `?` only: a raw `#` belongs to
    /// the label (otpauth labels contain it in the wild), so there is no fragment.
    fn split(text: &'a str) -> Option<Self> {
        let (scheme, rest) = text.split_once(':')?;
        if !is_scheme(scheme) {
            return None;
        }
        let stripped = rest.strip_prefix("//");
        let has_authority = stripped.is_some();
        let rest = stripped.unwrap_or(rest);
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        Some(Self { scheme, has_authority, host, path, query })
    }

    /// Returns the query's `(name, value)` pairs, decoded, in order; `+` means a space.
    ///
    /// A fragment starting `#push=` is read as further pairs: Tessera's server puts its push
    /// enrolment parameters there (`...&period=30#push=tessera1&push_url=...`), because
    /// strict parsers such as pyotp refuse unknown query parameters but ignore fragments.
    /// Any other raw `#` stays part of the value it is in.
    /// A name or value that does not decode to UTF-8 gives [`UriError::NotUtf8`] naming it.
    fn query_pairs(
        &self,
    ) -> impl Iterator<Item = Result<(String, Zeroizing<String>), UriError>> + 'a {
        let (query, fragment) = match self.query.find("#push=") {
            Some(at) => (&self.query[..at], &self.query[at + 1..]),
            None => (self.query, ""),
        };
        query.split('&').chain(fragment.split('&')).filter(|part| !part.is_empty()).map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = decode_component(name, true)
                .ok_or_else(|| UriError::NotUtf8 { part: "name of a parameter".into() })?
                .to_string();
            let value = decode_component(value, true).ok_or_else(|| UriError::NotUtf8 {
                part: format!("{:?} parameter", shown(&name)),
            })?;
            Ok((name, value))
        })
    }

    /// Returns the raw (undecoded) value of the first query parameter called `wanted`.
    fn raw_param(&self, wanted: &str) -> Option<&'a str> {
        self.query.split('&').find_map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            decode_component(name, true)
                .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
                .then_some(value)
        })
    }
}

/// True for an RFC 3986 scheme: a letter, then letters, digits, `+`, `-` or `.` (at most 32).
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    scheme.len() <= 32
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Percent-decodes one URI component, in a zeroizing buffer (it may be the secret).
///
/// `plus_is_space` turns `+` into a space first (query values, as HTML forms encode them).
/// Invalid UTF-8 becomes U+FFFD rather than failing: a garbled character in a name must not
/// cost the user an account.
///
/// Double encoding rule: if the *raw* text contains `%25` followed by two hex digits (an encoded
/// percent sign introducing what was itself an escape, like `Acme%2520Corp`), the result is
/// decoded a second time, provided that yields valid UTF-8. A literal `%` followed by two hex
/// digits therefore cannot survive a round trip; a lone `%` (`100%25`) does.
///
/// Returns `None` if the decoded bytes are not UTF-8: a name or value we cannot show as text is
/// refused (with the part named by the caller) rather than turned into replacement characters,
/// which would make an account called "U+FFFD U+FFFD".
fn decode_component(raw: &str, plus_is_space: bool) -> Option<Zeroizing<String>> {
    let spaced: Zeroizing<String> = Zeroizing::new(if plus_is_space && raw.contains('+') {
        raw.replace('+', " ")
    } else {
        raw.to_owned()
    });
    let once = Zeroizing::new(percent_decode_str(&spaced).decode_utf8().ok()?.into_owned());
    if looks_double_encoded(raw)
        && let Ok(twice) = percent_decode_str(&once).decode_utf8()
    {
        return Some(Zeroizing::new(twice.into_owned()));
    }
    Some(once)
}

/// Decodes the label (the path) of a link, refusing non-UTF-8 bytes.
fn decode_label(raw: &str) -> Result<Zeroizing<String>, UriError> {
    decode_component(raw, false).ok_or_else(|| UriError::NotUtf8 { part: "label".into() })
}

/// True if `raw` contains `%25XX` with XX hexadecimal.
fn looks_double_encoded(raw: &str) -> bool {
    raw.as_bytes().windows(5).any(|w| {
        w[0] == b'%'
            && w[1] == b'2'
            && w[2] == b'5'
            && w[3].is_ascii_hexdigit()
            && w[4].is_ascii_hexdigit()
    })
}

/// Characters left unescaped when we write a URI component: RFC 3986 unreserved ones.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Characters left unescaped in a label: unreserved ones plus `@`, for readable e-mail accounts.
const LABEL_PART: &AsciiSet = &COMPONENT.remove(b'@');

/// Percent-encodes a query name or value.
fn encode_component(text: &str) -> Cow<'_, str> {
    utf8_percent_encode(text, COMPONENT).into()
}

/// Percent-encodes an issuer or account for the label (`:` is escaped too).
fn encode_label_part(text: &str) -> Cow<'_, str> {
    utf8_percent_encode(text, LABEL_PART).into()
}

/// Returns at most [`SHOWN_CHARS`] characters of `value` for an error message.
fn shown(value: &str) -> String {
    let mut chars = value.chars();
    let mut out: String = chars.by_ref().take(SHOWN_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Fails with [`UriError::TooLong`] if `text` has more than `max` characters.
fn check_length(field: &'static str, text: &str, max: usize) -> Result<(), UriError> {
    let length = text.chars().count();
    if length > max {
        return Err(UriError::TooLong { field, length, max });
    }
    Ok(())
}

/// Writes `(name, value)` pairs for `Debug`, hiding the values of parameters that are
/// credentials in some vendor's format (`pin`, `enrollment_credential`, `secret`).
struct RedactedPairs<'a>(&'a [(String, String)]);

impl std::fmt::Debug for RedactedPairs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in self.0 {
            let sensitive = ["pin", "secret", "enrollment_credential", "data"]
                .iter()
                .any(|s| name.eq_ignore_ascii_case(s));
            if sensitive {
                list.entry(&(name, "<redacted>"));
            } else {
                list.entry(&(name, value));
            }
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_encoded_values_are_decoded_twice() {
        assert_eq!(&*decode_component("Acme%2520Corp", true).unwrap(), "Acme Corp");
        assert_eq!(&*decode_component("Acme%253ACorp", false).unwrap(), "Acme:Corp");
    }

    #[test]
    fn single_percent_signs_survive_decoding() {
        assert_eq!(&*decode_component("100%25", true).unwrap(), "100%");
        assert_eq!(&*decode_component("100%25 sure", false).unwrap(), "100% sure");
        assert_eq!(&*decode_component("50%", false).unwrap(), "50%", "a stray % is kept");
    }

    #[test]
    fn plus_means_space_only_in_query_values() {
        assert_eq!(&*decode_component("a+b", true).unwrap(), "a b");
        assert_eq!(&*decode_component("a+b", false).unwrap(), "a+b");
    }

    #[test]
    fn invalid_utf8_escapes_do_not_fail() {
        assert_eq!(decode_component("a%FFb", false), None, "not UTF-8: refused, not replaced");
    }

    #[test]
    fn shown_values_are_truncated() {
        let long = "x".repeat(100_000);
        let s = shown(&long);
        assert_eq!(s.chars().count(), SHOWN_CHARS + 1);
        assert_eq!(shown("short"), "short");
    }

    #[test]
    fn raw_uri_keeps_hash_in_label_and_splits_at_first_question_mark() {
        let raw = RawUri::split("otpauth://totp/A#B:c?secret=X&a=b?c").unwrap();
        assert_eq!((raw.scheme, raw.host, raw.path), ("otpauth", "totp", "A#B:c"));
        assert_eq!(raw.query, "secret=X&a=b?c");
        assert!(RawUri::split("no scheme here").is_none());
        assert!(RawUri::split("1abc:x").is_none());
    }

    #[test]
    fn a_push_fragment_adds_parameters_and_other_hashes_stay_in_values() {
        let raw =
            RawUri::split("otpauth://totp/A:b?secret=X&issuer=C#Shop#push=t1&push_url=u").unwrap();
        let pairs: Vec<(String, String)> =
            raw.query_pairs().map(|p| p.map(|(k, v)| (k, v.to_string())).unwrap()).collect();
        let expected = [("secret", "X"), ("issuer", "C#Shop"), ("push", "t1"), ("push_url", "u")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    #[test]
    fn classify_routes_every_authenticator_payload() {
        let key = "JBSWY3DPEHPK3PXP";
        let account = classify(&format!("  otpauth://totp/A:b?secret={key}\n")).unwrap();
        assert!(matches!(account, Payload::Account(ref u) if u.issuer == "A"));
        let push = classify("otpauth://pipush/PIPU1?url=https%3A%2F%2Fh&v=1").unwrap();
        assert!(matches!(push, Payload::PushEnrolment(ref p) if p.label == "PIPU1"));
        let push = classify("\u{feff}pia://pipush/PIPU2?v=1").unwrap();
        assert!(matches!(push, Payload::PushEnrolment(ref p) if p.label == "PIPU2"));
        let (links, _) =
            encode_migration(&[OtpUri::parse(&format!("otpauth://totp/x?secret={key}")).unwrap()]);
        let migration = classify(&links[0]).unwrap();
        assert!(matches!(migration, Payload::Migration(ref b) if b.accounts.len() == 1));
    }

    #[test]
    fn classify_names_every_other_kind() {
        let table: &[(&str, QrKind, &str)] = &[
            ("https://example.com/login", QrKind::WebLink, "a web link"),
            ("HTTP://EXAMPLE.COM", QrKind::WebLink, "a web link"),
            ("www.example.com", QrKind::WebLink, "a web link"),
            ("WIFI:S:home;T:WPA;P:hunter2;;", QrKind::WiFi, "a Wi-Fi network"),
            ("BEGIN:VCARD\nVERSION:3.0\nFN:A\nEND:VCARD", QrKind::Contact, "a contact card"),
            ("MECARD:N:Doe,John;TEL:123;;", QrKind::Contact, "a contact card"),
            ("mailto:a@example.com", QrKind::Email, "an e-mail address"),
            ("MATMSG:TO:a@example.com;SUB:x;BODY:y;;", QrKind::Email, "an e-mail address"),
            ("tel:+15551234", QrKind::Phone, "a phone number"),
            ("SMSTO:+15551234:hello", QrKind::Sms, "a text message"),
            ("sms:+15551234?body=hi", QrKind::Sms, "a text message"),
            ("geo:48.2,16.3", QrKind::Geo, "a map location"),
            ("BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT", QrKind::Calendar, "a calendar event"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT", QrKind::Calendar, "a calendar event"),
            (
                "bitcoin:1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                QrKind::OtherUri { scheme: "bitcoin".into() },
                "a link for another app (bitcoin:)",
            ),
            (
                "pia://other/x",
                QrKind::OtherUri { scheme: "pia".into() },
                "a link for another app (pia:)",
            ),
            ("Note: call me back", QrKind::PlainText, "plain text"),
            ("hello", QrKind::PlainText, "plain text"),
            ("", QrKind::Empty, "empty"),
            (" \n\t ", QrKind::Empty, "empty"),
        ];
        for (text, kind, phrase) in table {
            let e = classify(text).unwrap_err();
            assert_eq!(e, UriError::NotAnAccount { kind: kind.clone() }, "{text:?}");
            assert_eq!(
                e.to_string(),
                format!("this QR code is {phrase}, not an authenticator account"),
                "{text:?}"
            );
        }
        assert!(!classify("WIFI:S:home;P:hunter2;;").unwrap_err().to_string().contains("hunter2"));
    }

    #[test]
    fn classify_reports_broken_accounts_specifically() {
        assert_eq!(classify("otpauth://totp/x").unwrap_err(), UriError::MissingSecret);
        assert!(matches!(classify("otpauth://yandex/x?secret=A"), Err(UriError::UnknownType(_))));
        assert!(matches!(
            classify("otpauth-migration://offline?data=%%%"),
            Err(UriError::BadBase64(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn classify_never_panics(text in "\\PC{0,300}") {
            let _ = classify(&text);
            let _ = QrKind::detect(&text);
        }
    }
}
