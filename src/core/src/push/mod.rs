//! Push login approvals: backend-neutral request and answer types, the [`PushBackend`] trait,
//! the privacyIDEA PUSH client, the polling schedule and the state the vault keeps.
//!
//! A push backend is a server that, when someone logs in somewhere, holds a login request for
//! the user's device; the device fetches it (we poll: no Firebase or APNs on a desktop), shows
//! who/what/where, and answers with a signed approve or deny. Two backends share these types:
//! privacyIDEA's PUSH token in "poll only" mode (`PrivacyIdeaBackend`) and Tessera's own
//! server ([`tessera`], whose client is `tessera::TesseraBackend`). The app talks only to
//! [`PushBackend`], so it cannot tell them apart.
//!
//! The clients (`privacyidea`, `tessera::client`, the shared `http` plumbing) need the cargo
//! feature `push-client`; everything else here (types, the protocol, schedules, sessions) is
//! what `tessera-server` builds, without an HTTP client.
//!
//! Security rules kept here rather than in each caller:
//! - every request the server sends is signature-checked; a request that fails is dropped and
//!   logged (`tracing`), never shown;
//! - TLS is required except for loopback hosts, where `sslverify=0` is allowed for development
//!   and reported as a warning ([`PushEnrolment::insecure_transport`]);
//! - the device's private key never appears in `Debug`, logs or errors, and is zeroized.
//!
//! Time is always a parameter (`now`, Unix seconds); only the caller reads a clock.

mod account;
mod crypto;
mod enrolment;
#[cfg(feature = "push-client")]
mod http;
mod pending;
#[cfg(feature = "push-client")]
mod privacyidea;
mod schedule;
mod session;
pub mod tessera;

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use account::{DeviceKey, PushAccount, PushBackendKind, PushHistoryItem};
pub use enrolment::{PushEnrolment, is_loopback_host};
#[cfg(feature = "push-client")]
pub use http::install_crypto_provider;
pub use pending::{MAX_PENDING_PER_ACCOUNT, PendingRequests, PollMerge};
#[cfg(feature = "push-client")]
pub use privacyidea::PrivacyIdeaBackend;
pub use schedule::{PollSchedule, ScheduleConfig};
pub use session::{PasswordProof, PushEvent, PushSession, random_seed};

/// Why a push operation failed. Messages are lowercase, name the server but never a key, a
/// signature or an enrolment credential.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The enrolment link is not a usable push enrolment.
    #[error("invalid push enrolment link: {0}")]
    InvalidEnrolment(String),
    /// The enrolment uses a protocol version this app does not speak.
    #[error("unsupported push enrolment version {0:?} (only version 1 is supported)")]
    UnsupportedVersion(String),
    /// The enrolment link was scanned longer ago than its time-to-live allows.
    #[error(
        "the enrolment link expired: it had to be used within {ttl_minutes} min of scanning; \
         ask for a new one"
    )]
    EnrolmentExpired {
        /// The link's time-to-live in minutes.
        ttl_minutes: u64,
    },
    /// A server URL would send credentials over an unprotected connection.
    #[error("refusing insecure connection to {host}: {reason}")]
    InsecureTransport {
        /// Host of the refused URL.
        host: String,
        /// What is wrong (plain HTTP, certificate checks switched off).
        reason: &'static str,
    },
    /// The server could not be reached (connection refused, DNS, timeout).
    #[error("cannot reach the push server {server}: {detail}")]
    Unreachable {
        /// Host (and port) of the server.
        server: String,
        /// The innermost transport error ("Connection refused", "timed out").
        detail: String,
    },
    /// The server answered with something that is not the expected protocol.
    #[error("unexpected answer from the push server {server}: {detail}")]
    BadResponse {
        /// Host (and port) of the server.
        server: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The server understood the request and refused it.
    #[error("the push server {server} refused the request: {message}")]
    Refused {
        /// Host (and port) of the server.
        server: String,
        /// The HTTP status code.
        status: u16,
        /// The server's own explanation (privacyIDEA: `ERRnnn: ...`).
        message: String,
    },
    /// Polls are refused because this device's clock is too far from the server's.
    #[error(
        "the push server {server} refused the request because your clock is {}; \
         correct the system time",
        describe_skew(*offset_seconds)
    )]
    ClockSkew {
        /// Host (and port) of the server.
        server: String,
        /// Local time minus server time in seconds (positive: the local clock is fast).
        offset_seconds: i64,
    },
    /// The account's server asked that approving needs the device unlocked (privacyIDEA's
    /// `pin` / `app_force_unlock`): an approval without a proof of the vault password is
    /// refused before anything is sent. Deny and "not me" need no password.
    #[error(
        "approving a request for {account} needs the vault password (its server asked for it          at enrolment); nothing was sent"
    )]
    PasswordRequired {
        /// The account ("issuer · label").
        account: String,
    },
    /// The server did not accept an answer (already answered, expired, or a wrong number).
    #[error(
        "the push server {server} did not accept the answer \
         (the request was already answered or expired, or the number was wrong)"
    )]
    AnswerRejected {
        /// Host (and port) of the server.
        server: String,
    },
    /// The request asks the user to pick a number and none was given.
    #[error("this request asks you to choose one of: {}", options.join(", "))]
    AnswerRequired {
        /// The choices offered.
        options: Vec<String>,
    },
    /// The chosen answer is not one of the offered choices, or no choice was offered.
    #[error("{answer:?} is not one of the offered choices ({})", if options.is_empty() { "this request offers none".to_owned() } else { options.join(", ") })]
    AnswerNotOffered {
        /// The answer given.
        answer: String,
        /// The choices offered (empty when the request offers none).
        options: Vec<String>,
    },
    /// The request asks the user to type the code shown on the login screen and none (or
    /// not a code of at least 6 digits) was given.
    #[error("this request asks you to type the code shown on the login screen (6 or more digits)")]
    CodeRequired,
    /// No pending request matches the given id.
    #[error("no pending push request matches {0:?}")]
    UnknownRequest(String),
    /// More than one pending request starts with the given id prefix.
    #[error("{0:?} matches more than one pending push request; give more characters")]
    AmbiguousRequest(String),
    /// The request expired before it was answered.
    #[error("the push request expired")]
    Expired,
    /// A key could not be generated, read or used.
    #[error("push key error: {0}")]
    Key(String),
    /// The account belongs to a different kind of backend than the one asked to use it.
    #[error("this push account belongs to a {0} server")]
    WrongBackend(PushBackendKind),
}

/// Makes server-supplied text safe to show after its signature was checked: control
/// characters (terminal escapes, newlines) become spaces, bidirectional overrides that could
/// make "evil.example" read as something else are removed, and the length is capped.
// Used by the push clients only.
#[cfg_attr(not(feature = "push-client"), allow(dead_code))]
pub(crate) fn display_text(text: &str) -> String {
    const MAX_CHARS: usize = 1000;
    text.chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect()
}

/// privacyIDEA's default challenge lifetime (`DefaultChallengeValidityTime`), in seconds.
pub const DEFAULT_CHALLENGE_VALIDITY: u64 = 120;

/// Formats Unix seconds as ISO-8601 UTC, `2026-11-21T23:07:13Z` (privacyIDEA's poll
/// timestamp; also how the CLI shows times).
pub fn format_utc(unix: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

/// Writes a clock offset the way a person says it: "3 min 12 s fast", "45 s slow".
pub fn describe_skew(offset_seconds: i64) -> String {
    crate::clock::offset::describe(offset_seconds)
}

/// Extra facts about a login attempt, shown so the user can spot a login that is not theirs.
/// privacyIDEA sends none of these as fields (its question text may mention the IP); Tessera's
/// own server fills them in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    /// The IP address the login came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Approximate location of that IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The application or service being logged in to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The browser or client that started the login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Something a push server tells the user once, outside any login request (fetched with
/// [`PushBackend::poll_with_notices`]). Show every one: the server hands each out once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushNotice {
    /// The serial of the account it came for.
    pub serial: String,
    /// The server it came from (host and port).
    pub server: String,
    /// When it happened, Unix seconds (the server's clock).
    pub at: u64,
    /// What happened.
    pub kind: PushNoticeKind,
}

/// What a [`PushNotice`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushNoticeKind {
    /// Another device was enrolled for `user` (Tessera servers tell the user's existing
    /// devices, so an enrolment by someone else does not go unnoticed).
    DeviceEnrolled {
        /// The user, as the server names them (made safe to display).
        user: String,
        /// The new device's id.
        device: String,
    },
}

impl PushNotice {
    /// Returns the sentence to show the user, e.g. "A new device was enrolled for alice on
    /// 2026-12-06 14:02 UTC. If this wasn't you, tell your administrator."
    pub fn message(&self) -> String {
        // `2026-12-06T14:02:13Z` → `2026-12-06 14:02 UTC`.
        let when = format_utc(self.at);
        let when = format!("{} UTC", when.get(..16).unwrap_or(&when).replace('T', " "));
        match &self.kind {
            PushNoticeKind::DeviceEnrolled { user, .. } => format!(
                "A new device was enrolled for {user} on {when}. If this wasn't you, tell your \
                 administrator."
            ),
        }
    }
}

/// What [`PushBackend::poll_with_notices`] fetched: the login requests and the notices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    /// The login requests waiting, as [`PushBackend::poll_changed`] returns them.
    pub requests: Vec<PushRequest>,
    /// The notices waiting, each handed out once.
    pub notices: Vec<PushNotice>,
}

/// A login waiting for the user's decision, already signature-checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// Backend-assigned unique id (privacyIDEA: the challenge nonce).
    pub id: String,
    /// Which backend produced it.
    pub backend: PushBackendKind,
    /// Serial of the push account it is addressed to.
    pub serial: String,
    /// Short title ("privacyIDEA").
    pub title: String,
    /// The question to show ("Login by alice from 10.0.0.1?").
    pub question: String,
    /// Host (and port) of the server that will receive the answer.
    pub server: String,
    /// When the request was created, Unix seconds (privacyIDEA: when this device first saw it).
    pub created: u64,
    /// When it stops being answerable, Unix seconds (privacyIDEA: estimated as `created` plus
    /// [`DEFAULT_CHALLENGE_VALIDITY`], since the protocol does not say).
    pub expires: u64,
    /// Number matching: the choices to show; the user must pick the one shown on the login
    /// screen. `None` when a plain tap suffices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_presence: Option<Vec<String>>,
    /// Who/where facts when the backend supplies them.
    #[serde(default)]
    pub context: RequestContext,
    /// Where the answer is sent (signed by the server as part of the request).
    pub answer_url: String,
    /// Whether TLS certificates are checked for `answer_url` (false only for loopback hosts).
    pub sslverify: bool,
    /// Whether the server understands a reason with a decline ("not me"); without it a "not
    /// me" is sent as a plain decline.
    #[serde(default)]
    pub decline_reason_supported: bool,
    /// Code entry (Tessera `code` mode): approving needs the code shown on the login screen,
    /// typed by the user (at least 6 digits).
    #[serde(default)]
    pub code_entry: bool,
    /// The server's signed challenge as received (Tessera: JSON), kept so the decision can be
    /// signed over exactly what was displayed. `None` for privacyIDEA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_challenge: Option<String>,
}

impl PushRequest {
    /// Returns the seconds left before the request expires at `now` (0 once expired).
    pub fn seconds_left(&self, now: u64) -> u64 {
        self.expires.saturating_sub(now)
    }

    /// Returns true once the request can no longer be answered at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires
    }

    /// Returns a short id for typing (first 8 characters of [`PushRequest::id`]).
    pub fn short_id(&self) -> &str {
        let end = self.id.char_indices().nth(8).map_or(self.id.len(), |(i, _)| i);
        &self.id[..end]
    }

    /// Checks a decision against what the request asks for: number matching needs one of the
    /// offered choices on approval, and an answer is refused where none was asked for.
    pub fn check_decision(&self, decision: &Decision) -> Result<(), PushError> {
        let Decision::Approve { answer } = decision else { return Ok(()) };
        if self.code_entry {
            return match answer {
                Some(code) if code.len() >= 6 && code.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
                _ => Err(PushError::CodeRequired),
            };
        }
        match (&self.require_presence, answer) {
            (None, None) => Ok(()),
            (Some(options), None) => Err(PushError::AnswerRequired { options: options.clone() }),
            (Some(options), Some(given)) if options.contains(given) => Ok(()),
            (options, Some(given)) => Err(PushError::AnswerNotOffered {
                answer: given.chars().take(40).collect(),
                options: options.clone().unwrap_or_default(),
            }),
        }
    }
}

/// The user's answer to a [`PushRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Approve the login; `answer` is the chosen number when the request requires presence.
    Approve {
        /// The choice picked for number matching.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<String>,
    },
    /// Deny the login (the user changed their mind or does not want it now).
    Deny,
    /// Deny and report that the user did not start this login: someone else has the password.
    NotMe,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Approve { answer: None } => f.write_str("approved"),
            Self::Approve { answer: Some(a) } => write!(f, "approved with {a}"),
            Self::Deny => f.write_str("denied"),
            Self::NotMe => f.write_str("denied (not me)"),
        }
    }
}

/// A server that sends login requests to this device: enrol once, then poll and answer.
///
/// Implementations are blocking (they run on the app's push worker thread) and take the time
/// as a parameter. Every request returned by [`PushBackend::poll`] has passed the backend's
/// signature checks.
pub trait PushBackend: Send + Sync {
    /// Returns which protocol this backend speaks.
    fn kind(&self) -> PushBackendKind;

    /// Finishes an enrolment scanned (or pasted) at `scanned_at`: checks the link is still
    /// valid at `now`, creates the device key and registers it with the server.
    fn enrol(
        &self,
        enrolment: &PushEnrolment,
        scanned_at: u64,
        now: u64,
    ) -> Result<PushAccount, PushError>;

    /// Fetches the login requests waiting for `account` at `now`. Requests that fail a
    /// signature check are dropped (and logged), not returned.
    fn poll(&self, account: &PushAccount, now: u64) -> Result<Vec<PushRequest>, PushError>;

    /// Returns true when [`PushBackend::poll_changed`] holds the poll on the server until
    /// something changes (HTTP long-poll), so a caller should loop on it on a thread of its own
    /// rather than poll on a schedule.
    fn long_polls(&self) -> bool {
        false
    }

    /// Like [`PushBackend::poll`], but a long-polling backend answers only once the pending
    /// set differs from `known` (the ids the caller already has) or its wait time passes.
    /// Backends without long-poll simply poll.
    fn poll_changed(
        &self,
        account: &PushAccount,
        known: &[String],
        now: u64,
    ) -> Result<Vec<PushRequest>, PushError> {
        let _ = known;
        self.poll(account, now)
    }

    /// Like [`PushBackend::poll_changed`], and also takes the notices waiting for the
    /// account ([`PushNotice`]; a Tessera server's "a new device was enrolled for you").
    /// The server hands each notice out once, so the caller must show every one it gets;
    /// `poll` and `poll_changed` leave them waiting. Backends without notices return none.
    fn poll_with_notices(
        &self,
        account: &PushAccount,
        known: &[String],
        now: u64,
    ) -> Result<Polled, PushError> {
        Ok(Polled { requests: self.poll_changed(account, known, now)?, notices: Vec::new() })
    }

    /// Sends the user's decision for `request`. `Ok` means the server accepted it.
    fn answer(
        &self,
        account: &PushAccount,
        request: &PushRequest,
        decision: &Decision,
    ) -> Result<(), PushError>;

    /// Takes the clock readings this backend made from its servers' answers since the last
    /// call (their HTTP `Date` headers, see [`crate::clock::offset`]), for the clock check.
    /// Backends that make none return none.
    fn take_clock_readings(&self) -> Vec<crate::clock::offset::Reading> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_device_notice_reads_as_a_sentence_in_utc() {
        let notice = PushNotice {
            serial: "abc".into(),
            server: "push.example".into(),
            at: 1_796_565_733,
            kind: PushNoticeKind::DeviceEnrolled { user: "alice".into(), device: "def".into() },
        };
        assert_eq!(
            notice.message(),
            "A new device was enrolled for alice on 2026-12-06 14:02 UTC. If this wasn't you, \
             tell your administrator."
        );
    }

    fn request(presence: Option<&[&str]>) -> PushRequest {
        PushRequest {
            id: "NONCEABCDEFGHIJK".into(),
            backend: PushBackendKind::PrivacyIdea,
            serial: "PIPU0001".into(),
            title: "t".into(),
            question: "q".into(),
            server: "127.0.0.1:5001".into(),
            created: 100,
            expires: 220,
            require_presence: presence.map(|o| o.iter().map(|s| (*s).to_owned()).collect()),
            context: RequestContext::default(),
            answer_url: "http://127.0.0.1:5001/ttype/push".into(),
            sslverify: false,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        }
    }

    #[test]
    fn skew_reads_like_speech() {
        assert_eq!(describe_skew(192), "3 min 12 s fast");
        assert_eq!(describe_skew(-45), "45 s slow");
        assert_eq!(describe_skew(0), "0 s fast");
        assert_eq!(describe_skew(-7322), "2 h 2 min slow");
    }

    #[test]
    fn clock_skew_error_names_the_offset() {
        let e = PushError::ClockSkew { server: "pi.example".into(), offset_seconds: 192 };
        assert_eq!(
            e.to_string(),
            "the push server pi.example refused the request because your clock is \
             3 min 12 s fast; correct the system time"
        );
    }

    #[test]
    fn number_matching_needs_an_offered_choice() {
        let r = request(Some(&["12", "34", "56"]));
        let approve = |a: Option<&str>| Decision::Approve { answer: a.map(str::to_owned) };
        assert!(r.check_decision(&approve(Some("34"))).is_ok());
        let e = r.check_decision(&approve(None)).unwrap_err();
        assert_eq!(e.to_string(), "this request asks you to choose one of: 12, 34, 56");
        let e = r.check_decision(&approve(Some("99"))).unwrap_err();
        assert!(matches!(e, PushError::AnswerNotOffered { .. }), "{e}");
        assert!(r.check_decision(&Decision::Deny).is_ok());
        assert!(r.check_decision(&Decision::NotMe).is_ok());
    }

    #[test]
    fn plain_requests_refuse_an_answer() {
        let r = request(None);
        assert!(r.check_decision(&Decision::Approve { answer: None }).is_ok());
        let e = r.check_decision(&Decision::Approve { answer: Some("12".into()) }).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"12\" is not one of the offered choices (this request offers none)"
        );
    }

    #[test]
    fn expiry_and_short_id_follow_the_fields() {
        let r = request(None);
        assert_eq!(r.seconds_left(200), 20);
        assert_eq!(r.seconds_left(300), 0);
        assert!(!r.is_expired(219));
        assert!(r.is_expired(220));
        assert_eq!(r.short_id(), "NONCEABC");
    }

    #[test]
    fn decisions_serialize_with_a_tag() {
        let d = Decision::Approve { answer: Some("42".into()) };
        assert_eq!(serde_json::to_string(&d).unwrap(), r#"{"decision":"approve","answer":"42"}"#);
        assert_eq!(serde_json::to_string(&Decision::NotMe).unwrap(), r#"{"decision":"not_me"}"#);
        let back: Decision = serde_json::from_str(r#"{"decision":"deny"}"#).unwrap();
        assert_eq!(back, Decision::Deny);
        assert_eq!(Decision::NotMe.to_string(), "denied (not me)");
    }
}
