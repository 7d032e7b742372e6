//! privacyIDEA push enrolment links and the transport rules every push URL must pass.
//!
//! Link format (privacyIDEA 3.14, `lib/tokens/pushtoken.py`, `create_push_token_url` and
//! `get_init_detail`):
//! `otpauth://pipush/LABEL?url=...&ttl=MIN&issuer=...&enrollment_credential=HEX&v=1&serial=...&sslverify=0|1&poll_only=True`,
//! also with the `pia://` scheme, optionally `image`, `pin`, `app_force_unlock`.
//!
//! The `uri` module splits the link into text fields ([`crate::uri::PushEnrolment`]); this
//! module turns them into a checked [`PushEnrolment`], refusing what it cannot honour
//! (another protocol version, plain HTTP or unchecked TLS to a remote host).

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use super::PushError;

/// The `ttl` privacyIDEA uses when a link has none, in minutes.
const DEFAULT_TTL_MINUTES: u64 = 10;

/// A scanned privacyIDEA push enrolment, checked for version and transport security.
#[derive(Clone, PartialEq, Eq)]
pub struct PushEnrolment {
    /// The account label (often the serial, or `user@realm`).
    pub label: String,
    /// Who issued it (`issuer`, default "privacyIDEA").
    pub issuer: String,
    /// The push endpoint to finish enrolment at and poll later (`url`).
    pub url: String,
    /// Minutes the link stays usable after scanning (`ttl`).
    pub ttl_minutes: u64,
    /// Single-use secret that authorises finishing this enrolment. Never shown in `Debug`.
    pub enrollment_credential: String,
    /// The token serial (`PIPU...`).
    pub serial: String,
    /// Whether TLS certificates are checked (`sslverify`, default true).
    pub sslverify: bool,
    /// Whether the server polls only (no Firebase); Tessera always polls.
    pub poll_only: bool,
    /// Whether the server asks the app to protect the account with a PIN (`pin`).
    pub pin: bool,
    /// The server's `app_force_unlock` wish, if any (e.g. "pin", "biometric").
    pub app_force_unlock: Option<String>,
    /// An image URL for the account (`image`).
    pub image: Option<String>,
}

impl fmt::Debug for PushEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushEnrolment")
            .field("label", &self.label)
            .field("issuer", &self.issuer)
            .field("url", &self.url)
            .field("ttl_minutes", &self.ttl_minutes)
            .field("enrollment_credential", &"<redacted>")
            .field("serial", &self.serial)
            .field("sslverify", &self.sslverify)
            .field("poll_only", &self.poll_only)
            .finish_non_exhaustive()
    }
}

impl PushEnrolment {
    /// Returns true if `text` looks like a push enrolment link (`otpauth://pipush/...` or
    /// `pia://pipush/...`), without checking it further.
    pub fn is_push_link(text: &str) -> bool {
        matches!(crate::uri::classify(text), Ok(crate::uri::Payload::PushEnrolment(_)))
    }

    /// Parses and checks a push enrolment link.
    pub fn parse(uri: &str) -> Result<Self, PushError> {
        let raw = crate::uri::PushEnrolment::parse(uri)
            .map_err(|e| PushError::InvalidEnrolment(e.to_string()))?;
        Self::from_uri(&raw)
    }

    /// Checks the fields of a link the `uri` module has parsed (for example from
    /// [`crate::uri::classify`]): protocol version 1, the required fields, a number for `ttl`,
    /// and a transport that protects the enrolment credential.
    pub fn from_uri(raw: &crate::uri::PushEnrolment) -> Result<Self, PushError> {
        let invalid = |why: &str| PushError::InvalidEnrolment(why.to_owned());
        let flag = |name: &str| {
            raw.extra.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).is_some_and(|(_, v)| {
                matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true")
            })
        };
        let extra = |name: &str| {
            raw.extra.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
        };

        match text(&raw.v) {
            Some("1") => {}
            Some(v) => return Err(PushError::UnsupportedVersion(v.chars().take(20).collect())),
            None => return Err(invalid("the version parameter v is missing")),
        }
        let url = text(&raw.url).ok_or_else(|| invalid("the url parameter is missing"))?;
        let serial = text(&raw.serial).ok_or_else(|| invalid("the serial parameter is missing"))?;
        if serial.len() > 128 || serial.chars().any(|c| c.is_control() || c == '|') {
            return Err(invalid("the serial parameter is malformed"));
        }
        let enrollment_credential = raw
            .enrollment_credential
            .as_deref()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| invalid("the enrollment_credential parameter is missing"))?;
        let ttl_minutes = match text(&raw.ttl) {
            None => DEFAULT_TTL_MINUTES,
            Some(t) => t.parse().map_err(|_| invalid("ttl is not a number of minutes"))?,
        };
        let sslverify = match text(&raw.sslverify) {
            None | Some("1") => true,
            Some("0") => false,
            Some(other) if other.eq_ignore_ascii_case("true") => true,
            Some(other) if other.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(invalid("sslverify must be 0 or 1")),
        };
        check_transport(url, sslverify)?;
        let poll_only = text(&raw.poll_only)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"));
        Ok(Self {
            label: if raw.label.is_empty() { serial.to_owned() } else { raw.label.clone() },
            issuer: text(&raw.issuer).unwrap_or("privacyIDEA").to_owned(),
            url: url.to_owned(),
            ttl_minutes,
            enrollment_credential,
            serial: serial.to_owned(),
            sslverify,
            poll_only,
            pin: flag("pin"),
            app_force_unlock: extra("app_force_unlock"),
            image: extra("image"),
        })
    }

    /// Returns true when the server asks that the app be unlocked to approve: `pin=1/true`
    /// or an `app_force_unlock` value other than an explicit "off" (`0`, `false`, `no`,
    /// `none`, empty). Tessera honours either by asking for the vault password on every
    /// approval of the account (see `PushAccount::require_password`).
    pub fn requires_unlock(&self) -> bool {
        let forced = self.app_force_unlock.as_deref().map(str::trim).is_some_and(|v| {
            !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no" | "none" | "off")
        });
        self.pin || forced
    }

    /// Returns true when the link relaxes transport security (plain HTTP or `sslverify=0`),
    /// which [`PushEnrolment::parse`] allows only for loopback hosts: the UI shows a warning.
    pub fn insecure_transport(&self) -> bool {
        !self.sslverify || self.url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
    }

    /// Checks that enrolment may still finish at `now` for a link scanned at `scanned_at`.
    pub fn check_ttl(&self, scanned_at: u64, now: u64) -> Result<(), PushError> {
        let deadline = scanned_at.saturating_add(self.ttl_minutes.saturating_mul(60));
        if now > deadline {
            return Err(PushError::EnrolmentExpired { ttl_minutes: self.ttl_minutes });
        }
        Ok(())
    }

    /// Returns the server's host and port, for display.
    pub fn server(&self) -> String {
        server_name(&self.url)
    }
}

/// Returns a trimmed, non-empty field value.
fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Returns true for `localhost` and loopback IP addresses (127.0.0.0/8, ::1).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks that a push URL protects what travels over it: HTTPS with certificate checks, or,
/// for a loopback host only, plain HTTP or `sslverify=0` (development setups). Returns the
/// parsed URL.
pub(crate) fn check_transport(url: &str, sslverify: bool) -> Result<Url, PushError> {
    let parsed = Url::parse(url)
        .map_err(|_| PushError::InvalidEnrolment("the server url is not a URL".to_owned()))?;
    let Some(host) = parsed.host() else {
        return Err(PushError::InvalidEnrolment("the server url has no host".to_owned()));
    };
    let loopback = match &host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    };
    let insecure = |reason| Err(PushError::InsecureTransport { host: host.to_string(), reason });
    match parsed.scheme() {
        "https" => {}
        "http" if sslverify => {
            return insecure("plain HTTP is allowed only with sslverify=0 on this computer");
        }
        "http" => {}
        _ => return Err(PushError::InvalidEnrolment("the server url is not http(s)".to_owned())),
    }
    if !sslverify && !loopback {
        return insecure(
            "certificate checks may be switched off only for this computer (loopback)",
        );
    }
    Ok(parsed)
}

/// Returns `host` or `host:port` of a URL, or a shortened copy of the text if it is no URL.
pub(crate) fn server_name(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => url.chars().take(60).collect(),
        },
        Err(_) => url.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "otpauth://pipush/PIPU00005636?url=http%3A//127.0.0.1%3A5001/ttype/push\
        &ttl=10&issuer=privacyIDEA&enrollment_credential=4966c0c4ba9b433a80baad9322d1e369f16bc51c\
        &v=1&serial=PIPU00005636&sslverify=0&poll_only=True";

    #[test]
    fn privacyidea_link_parses() {
        let e = PushEnrolment::parse(LINK).unwrap();
        assert_eq!(e.label, "PIPU00005636");
        assert_eq!(e.serial, "PIPU00005636");
        assert_eq!(e.url, "http://127.0.0.1:5001/ttype/push");
        assert_eq!(e.ttl_minutes, 10);
        assert_eq!(e.issuer, "privacyIDEA");
        assert_eq!(e.enrollment_credential, "4966c0c4ba9b433a80baad9322d1e369f16bc51c");
        assert!(!e.sslverify && e.poll_only && !e.pin);
        assert!(!e.requires_unlock());
        assert!(e.insecure_transport());
        assert_eq!(e.server(), "127.0.0.1:5001");
    }

    #[test]
    fn pia_scheme_and_encoded_label_parse() {
        let link = "pia://pipush/alice%40realm1?url=https%3A%2F%2Fpi.example.org%2Fttype%2Fpush\
            &issuer=Example%20Corp&enrollment_credential=ab&v=1&serial=PIPU1&sslverify=1&pin=True";
        let e = PushEnrolment::parse(link).unwrap();
        assert_eq!(e.label, "alice@realm1");
        assert_eq!(e.issuer, "Example Corp");
        assert!(e.sslverify && e.pin && !e.poll_only);
        assert!(e.requires_unlock(), "pin=True asks for the device to be unlocked");
        for (value, forced) in [("pin", true), ("biometric", true), ("false", false), ("0", false)]
        {
            let e = PushEnrolment::parse(&format!("{LINK}&app_force_unlock={value}")).unwrap();
            assert_eq!(e.requires_unlock(), forced, "app_force_unlock={value}");
        }
        assert!(!e.insecure_transport());
        assert_eq!(e.ttl_minutes, 10, "missing ttl means privacyIDEA's default");
    }

    #[test]
    fn other_versions_are_refused() {
        let e = PushEnrolment::parse(&LINK.replace("v=1", "v=2")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported push enrolment version \"2\" (only version 1 is supported)"
        );
        let e = PushEnrolment::parse(&LINK.replace("&v=1", "")).unwrap_err();
        assert!(matches!(e, PushError::InvalidEnrolment(_)), "{e}");
    }

    #[test]
    fn missing_fields_are_named() {
        for (name, cut) in [
            ("serial", "&serial=PIPU00005636"),
            (
                "enrollment_credential",
                "&enrollment_credential=4966c0c4ba9b433a80baad9322d1e369f16bc51c",
            ),
            ("url", "url=http%3A//127.0.0.1%3A5001/ttype/push"),
        ] {
            let e = PushEnrolment::parse(&LINK.replace(cut, "")).unwrap_err().to_string();
            assert!(e.contains(name), "{name}: {e}");
            assert!(!e.contains("4966c0c4"), "credential leaked: {e}");
        }
    }

    #[test]
    fn non_push_links_are_refused() {
        assert!(PushEnrolment::parse("otpauth://totp/x?secret=JBSWY3DP").is_err());
        assert!(PushEnrolment::parse("hello").is_err());
        assert!(PushEnrolment::is_push_link(LINK));
        assert!(PushEnrolment::is_push_link("PIA://PIPUSH/x"));
        assert!(!PushEnrolment::is_push_link("otpauth://totp/x"));
    }

    #[test]
    fn remote_servers_need_https_with_certificate_checks() {
        let remote_http = LINK.replace("127.0.0.1%3A5001", "pi.example.org");
        let e = PushEnrolment::parse(&remote_http).unwrap_err();
        assert!(matches!(e, PushError::InsecureTransport { .. }), "{e}");
        let remote_noverify = LINK.replace("http%3A//127.0.0.1%3A5001", "https%3A//pi.example.org");
        let e = PushEnrolment::parse(&remote_noverify).unwrap_err();
        assert_eq!(
            e.to_string(),
            "refusing insecure connection to pi.example.org: certificate checks may be switched \
             off only for this computer (loopback)"
        );
        let remote_ok = remote_noverify.replace("sslverify=0", "sslverify=1");
        assert!(!PushEnrolment::parse(&remote_ok).unwrap().insecure_transport());
        let loopback_http_verify = LINK.replace("sslverify=0", "sslverify=1");
        assert!(PushEnrolment::parse(&loopback_http_verify).is_err(), "http needs sslverify=0");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "LOCALHOST"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["example.org", "10.0.0.1", "localhost.example.org", "::2"] {
            assert!(!is_loopback_host(host), "{host}");
        }
        assert!(check_transport("http://[::1]:5001/ttype/push", false).is_ok());
        assert!(check_transport("http://localhost/ttype/push", false).is_ok());
        assert!(check_transport("ftp://localhost/x", false).is_err());
    }

    #[test]
    fn ttl_limits_how_long_after_scanning_enrolment_may_finish() {
        let e = PushEnrolment::parse(LINK).unwrap();
        assert!(e.check_ttl(1000, 1000).is_ok());
        assert!(e.check_ttl(1000, 1600).is_ok(), "exactly ttl minutes later is still fine");
        let err = e.check_ttl(1000, 1601).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the enrolment link expired: it had to be used within 10 min of scanning; ask for a new one"
        );
        let e = PushEnrolment::parse(&LINK.replace("ttl=10", "ttl=soon")).unwrap_err();
        assert!(e.to_string().contains("ttl"), "{e}");
    }

    #[test]
    fn debug_hides_the_enrollment_credential() {
        let e = PushEnrolment::parse(LINK).unwrap();
        let shown = format!("{e:?}");
        assert!(!shown.contains("4966c0c4") && shown.contains("<redacted>"), "{shown}");
    }
}
