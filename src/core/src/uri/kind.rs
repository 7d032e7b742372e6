//! What a scanned QR code holds when it is not an authenticator account.
//!
//! QR payload conventions: Wi-Fi (`WIFI:`), MeCard (`MECARD:`), vCard (`BEGIN:VCARD`), e-mail
//! (`mailto:`, `MATMSG:`), SMS (`sms:`, `smsto:`, `mms:`, `mmsto:`), phone (`tel:`), geo URI
//! (RFC 5870), iCalendar (`BEGIN:VEVENT`, `BEGIN:VCALENDAR`). Matching is by case-insensitive
//! prefix only: the point is a helpful message, not validating the other format.

use std::fmt;

use super::{is_scheme, shown};

/// The kind of a scanned text that is not an authenticator payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QrKind {
    /// `http://`, `https://` or `www.`.
    WebLink,
    /// `WIFI:` network credentials.
    WiFi,
    /// A vCard or MeCard.
    Contact,
    /// `mailto:` or `MATMSG:`.
    Email,
    /// `tel:`.
    Phone,
    /// `sms:`, `smsto:`, `mms:` or `mmsto:`.
    Sms,
    /// `geo:` coordinates.
    Geo,
    /// An iCalendar event.
    Calendar,
    /// A URI of some other scheme (lower case, truncated), e.g. `bitcoin`.
    OtherUri {
        /// The scheme, without the colon.
        scheme: String,
    },
    /// Anything else.
    PlainText,
    /// Nothing but whitespace.
    Empty,
}

/// Prefixes (lower case) and the kinds they announce, checked in order.
const PREFIXES: &[(&str, QrKind)] = &[
    ("http://", QrKind::WebLink),
    ("https://", QrKind::WebLink),
    ("www.", QrKind::WebLink),
    ("wifi:", QrKind::WiFi),
    ("begin:vcard", QrKind::Contact),
    ("mecard:", QrKind::Contact),
    ("mailto:", QrKind::Email),
    ("matmsg:", QrKind::Email),
    ("tel:", QrKind::Phone),
    ("smsto:", QrKind::Sms),
    ("sms:", QrKind::Sms),
    ("mmsto:", QrKind::Sms),
    ("mms:", QrKind::Sms),
    ("geo:", QrKind::Geo),
    ("begin:vevent", QrKind::Calendar),
    ("begin:vcalendar", QrKind::Calendar),
];

impl QrKind {
    /// Returns what `text` looks like. Never fails; unknown text is [`QrKind::PlainText`].
    ///
    /// A `word:rest` text counts as [`QrKind::OtherUri`] only if it contains no whitespace, so
    /// that a sentence such as "Note: call me" stays plain text.
    pub fn detect(text: &str) -> Self {
        let text = super::trim_scanned(text);
        if text.is_empty() {
            return Self::Empty;
        }
        for (prefix, kind) in PREFIXES {
            if text.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix)) {
                return kind.clone();
            }
        }
        if let Some((scheme, _)) = text.split_once(':')
            && is_scheme(scheme)
            && !text.contains(char::is_whitespace)
        {
            return Self::OtherUri { scheme: shown(&scheme.to_ascii_lowercase()) };
        }
        Self::PlainText
    }
}

impl fmt::Display for QrKind {
    /// Writes a phrase that completes "this QR code is ...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebLink => f.write_str("a web link"),
            Self::WiFi => f.write_str("a Wi-Fi network"),
            Self::Contact => f.write_str("a contact card"),
            Self::Email => f.write_str("an e-mail address"),
            Self::Phone => f.write_str("a phone number"),
            Self::Sms => f.write_str("a text message"),
            Self::Geo => f.write_str("a map location"),
            Self::Calendar => f.write_str("a calendar event"),
            Self::OtherUri { scheme } => write!(f, "a link for another app ({scheme}:)"),
            Self::PlainText => f.write_str("plain text"),
            Self::Empty => f.write_str("empty"),
        }
    }
}
