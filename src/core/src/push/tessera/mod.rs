//! Tessera's own push protocol (`tessera-push-v1`), spoken by `tessera-server` and by
//! [`TesseraBackend`]. Client and server share the types and signed byte strings defined
//! here, so they cannot drift apart. This documentation is the specification: another client
//! can be written from it.
//!
//! # Keys and encodings
//! - Device key: ECDSA P-256 made on the device; the server stores only the public key, an
//!   uncompressed SEC1 point (65 bytes). Server key: ECDSA P-256 made at the server's first
//!   start.
//! - Every signature is ECDSA P-256 with SHA-256 in the fixed 64-byte `r || s` form; on the
//!   wire signatures and public keys are unpadded base64url ([`b64`]).
//! - Canonical JSON is RFC 8785 (JCS). Every signed byte string starts with a domain label
//!   and a newline, so a signature for one purpose never verifies for another.
//!
//! # Enrolment URI (one QR for every authenticator)
//! A standard `otpauth://totp/ISSUER:USER?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`
//! followed by a fragment `#push=tessera1&push_url=...` with the parameters below
//! (values percent-encoded). They sit in the fragment, not the query, because strict parsers
//! (pyotp's `parse_uri`) refuse unknown query parameters, while every URI parser ignores a
//! fragment for the query. Tessera's parser reads a `#push=` fragment as further parameters
//! ([`crate::uri::OtpUri::extra`]).
//!
//! | parameter | meaning |
//! |---|---|
//! | `push` | protocol, `tessera1` |
//! | `push_url` | server base URL (`https://push.example` or `http://127.0.0.1:PORT` for dev) |
//! | `push_device` | device id the server reserved for this enrolment |
//! | `push_credential` | single-use enrolment credential (32 hex chars = 128 bits) |
//! | `push_ttl` | minutes the credential stays valid after issue |
//! | `push_sslverify` | `0` allows plain HTTP / unchecked TLS (loopback hosts only) |
//!
//! # Device requests
//! Every device request carries four headers: `x-tessera-device` (device id, 1-64 hex digits:
//! [`is_device_id`]),
//! `x-tessera-timestamp` (Unix milliseconds), `x-tessera-nonce` (32 hex chars, fresh random)
//! and `x-tessera-signature` (base64url), the device's signature over [`request_message`]:
//!
//! ```text
//! tessera-push-v1 request\n{METHOD}\n{PATH_AND_QUERY}\n{device}\n{timestamp}\n{nonce}\n{hex(sha256(body))}
//! ```
//!
//! The server refuses a timestamp more than [`REQUEST_WINDOW_MS`] from its clock and a nonce it
//! has already seen for the device within that window (so a captured request cannot be
//! replayed), with `401`.
//!
//! Endpoints (all JSON):
//! - `POST /device/v1/enrol` body [`EnrolRequest`], signed with the *new* key (proof of
//!   possession; `x-tessera-device` is the reserved device id). Answer [`EnrolResponse`].
//!   The credential is single use and expires after `push_ttl` minutes.
//! - `GET /device/v1/pending?wait=SECONDS&known=ID,ID` (long-poll, `wait` ≤
//!   [`MAX_WAIT_SECONDS`]; `known` optional, at most [`MAX_KNOWN_IDS`] login ids): answers with
//!   every open challenge for the device's user as soon as the set of open login ids differs
//!   from `known` (order does not matter; no `known` means the empty set), or when `wait`
//!   passes. So a device that already shows two requests is woken by a third one, or by one
//!   of its two being answered elsewhere or withdrawn, and not re-sent the same two in a
//!   loop. Answer [`PendingResponse`]. Clients re-poll at once after an answer and back off
//!   exponentially with jitter after errors. With `notices=1` the answer also carries the
//!   device's waiting [`DeviceNotice`]s (another device was enrolled for the user; never the
//!   device's own enrolment), and a long-poll answers at once while any wait; each notice
//!   is sent once and then deleted, so a client asks for them only when it shows them.
//! - `POST /device/v1/answer` body [`AnswerRequest`]. `200` [`AnswerResponse`] when accepted;
//!   `409` when the login is no longer pending (answered, expired), `422` for a wrong pick or
//!   code (the login is then denied: one try only), `400` for a bad decision signature.
//!
//! # Challenges
//! A [`Challenge`] carries the full context; the server signs [`challenge_message`]:
//! `tessera-push-v1 challenge\n` followed by JCS of the challenge object. Clients drop (and
//! log) a challenge whose signature fails, whose `device` is not theirs, or that has expired.
//!
//! # Decisions
//! The device signs [`decision_message`]: `tessera-push-v1 decision\n` followed by JCS of
//! `{"answer": ANSWER-or-null, "challenge": CHALLENGE, "decision": "approve"|"deny"|"not_me"}`
//! where CHALLENGE is the challenge object exactly as received and displayed.
//!
//! # What a relying party can verify
//! The relying party receives the same [`SignedDecision`] with the outcome. The server's
//! `state` is only the server's word; the proof is [`SignedDecision::verify_approval`], given
//! what the relying party knows without the server: the device keys it pinned
//! ([`PinnedDevice`], recorded when the user's device was enrolled, or on first use), the
//! login id it created, the user it asked for, and the number or code its login screen
//! showed. It succeeds only for an `approve` signed by a pinned key over a challenge for
//! that login and user carrying that answer. So a server (or database) that is tampered
//! with can neither forge an approval, nor turn a deny into one, nor reuse another login's
//! approval, nor change which number was confirmed. What it cannot prove: that the context
//! shown (IP, location) was the true one (the relying party supplied it), or that a device
//! enrolled while the server was already compromised is the user's (pin at enrolment, from
//! a server you then trusted, or compare the device list out of band).
//!
//! # Login state machine (server)
//! `pending` → `approved` | `denied` | `not_me` | `expired`; every arrow is taken once (an
//! atomic conditional update), terminal states never change. `pick`/`code` with a wrong answer
//! → `denied`. `not_me` mutes new logins for the user for a while (the relying party gets
//! `429 user muted`). Logins expire [`DEFAULT_EXPIRY_SECONDS`] after creation by default.

//!
//! This module is the protocol: wire types, canonical encodings and signatures, everything
//! the server needs. The device's HTTP client, [`TesseraBackend`], is in `client` (cargo
//! feature `push-client`).

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::enrolment::{check_transport, server_name};
use super::{Decision, DeviceKey, PushAccount, PushEnrolment, PushError, RequestContext, crypto};

#[cfg(feature = "push-client")]
mod client;
#[cfg(feature = "push-client")]
pub use client::TesseraBackend;

/// Protocol name in the enrolment URI's `push` parameter.
pub const URI_PROTOCOL: &str = "tessera1";
/// A device request's timestamp may differ from the server's clock by at most this much.
pub const REQUEST_WINDOW_MS: u64 = 60_000;
/// Longest long-poll hold the server grants, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 25;
/// Most login ids a device may list in `known` on a long-poll.
pub const MAX_KNOWN_IDS: usize = 64;
/// Default login lifetime, in seconds.
pub const DEFAULT_EXPIRY_SECONDS: u64 = 120;
/// Header names of a signed device request.
pub const HEADER_DEVICE: &str = "x-tessera-device";
/// Timestamp header (Unix milliseconds).
pub const HEADER_TIMESTAMP: &str = "x-tessera-timestamp";
/// Nonce header (32 hex characters).
pub const HEADER_NONCE: &str = "x-tessera-nonce";
/// Signature header (base64url).
pub const HEADER_SIGNATURE: &str = "x-tessera-signature";

/// Encodes bytes as unpadded base64url, the protocol's encoding for keys and signatures.
pub fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

/// Returns whether `text` has the form of a device id: 1 to 64 hex digits (servers make
/// 32). Servers refuse any other `x-tessera-device` before doing any work with it.
pub fn is_device_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Decodes unpadded base64url.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    BASE64URL_NOPAD.decode(text.as_bytes()).ok()
}

/// Returns `n` random bytes as lowercase hex (nonces, credentials, ids).
pub fn random_hex(n: usize) -> Result<String, PushError> {
    let mut bytes = vec![0; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PushError::Key("the system random generator failed".into()))?;
    Ok(HEXLOWER.encode(&bytes))
}

/// Verifies an ECDSA P-256 signature (see the module docs). False for any malformed input.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    crypto::verify_p256(public_key, message, signature)
}

/// The byte string a device signs for an HTTP request (see the module docs).
pub fn request_message(
    method: &str,
    path_and_query: &str,
    device: &str,
    timestamp_ms: u64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    format!(
        "tessera-push-v1 request\n{method}\n{path_and_query}\n{device}\n{timestamp_ms}\n{nonce}\n{}",
        HEXLOWER.encode(digest.as_ref())
    )
    .into_bytes()
}

/// How the user proves they are looking at the login screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationMode {
    /// A tap on approve.
    Approve,
    /// Number matching: pick the number shown on the login screen among three.
    Pick,
    /// Type the code (6 digits) shown on the login screen (NIST SP 800-63B-4 out-of-band).
    Code,
}

impl std::str::FromStr for VerificationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "approve" => Ok(Self::Approve),
            "pick" => Ok(Self::Pick),
            "code" => Ok(Self::Code),
            other => Err(format!("unknown verification mode {other:?} (approve, pick, code)")),
        }
    }
}

impl std::fmt::Display for VerificationMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Approve => "approve",
            Self::Pick => "pick",
            Self::Code => "code",
        })
    }
}

/// A login request as the server signs it and the device displays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Protocol version, 1.
    pub v: u32,
    /// Login id (32 hex chars).
    pub id: String,
    /// The device it is addressed to.
    pub device: String,
    /// The user logging in.
    pub user: String,
    /// Fresh random value of the server (32 hex chars), so two logins never sign alike.
    pub nonce: String,
    /// The relying party (service) asking.
    pub rp: String,
    /// Who/where facts to show (app, IP, approximate location, user agent).
    pub context: RequestContext,
    /// The verification mode.
    pub mode: VerificationMode,
    /// `pick`: the three numbers to choose from (one is on the login screen); else empty.
    #[serde(default)]
    pub options: Vec<String>,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Expiry time, Unix seconds.
    pub expires: u64,
}

/// The byte string the server signs for a challenge.
pub fn challenge_message(challenge: &Challenge) -> Result<Vec<u8>, PushError> {
    let value = serde_json::to_value(challenge)
        .map_err(|e| PushError::Key(format!("cannot encode a challenge: {e}")))?;
    labelled_jcs("challenge", &value)
}

fn labelled_jcs(label: &str, value: &Value) -> Result<Vec<u8>, PushError> {
    let body = crypto::canonical_json(value)
        .ok_or_else(|| PushError::Key("cannot canonicalise JSON".into()))?;
    let mut out = format!("tessera-push-v1 {label}\n").into_bytes();
    out.extend_from_slice(&body);
    Ok(out)
}

/// A challenge with the server's signature, as sent to devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedChallenge {
    /// The challenge.
    pub challenge: Challenge,
    /// Server signature over [`challenge_message`], base64url.
    pub signature: String,
}

impl SignedChallenge {
    /// Signs `challenge` with the server's P-256 key (PKCS#8).
    pub fn sign(challenge: Challenge, server_key: &DeviceKey) -> Result<Self, PushError> {
        let signature = b64(&server_key.sign_p256(&challenge_message(&challenge)?)?);
        Ok(Self { challenge, signature })
    }

    /// Checks the server's signature.
    pub fn verify(&self, server_public_key: &[u8]) -> bool {
        let Some(sig) = unb64(&self.signature) else { return false };
        challenge_message(&self.challenge).is_ok_and(|m| verify(server_public_key, &m, &sig))
    }
}

/// The wire name of a decision: `approve`, `deny`, `not_me`.
pub fn decision_name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Approve { .. } => "approve",
        Decision::Deny => "deny",
        Decision::NotMe => "not_me",
    }
}

/// The byte string a device signs for its decision (see the module docs).
pub fn decision_message(
    challenge: &Challenge,
    decision: &str,
    answer: Option<&str>,
) -> Result<Vec<u8>, PushError> {
    let challenge = serde_json::to_value(challenge)
        .map_err(|e| PushError::Key(format!("cannot encode a challenge: {e}")))?;
    labelled_jcs(
        "decision",
        &serde_json::json!({ "answer": answer, "challenge": challenge, "decision": decision }),
    )
}

/// A device's signed decision; the relying party gets it with the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDecision {
    /// The challenge as displayed.
    pub challenge: Challenge,
    /// `approve`, `deny` or `not_me`.
    pub decision: String,
    /// The picked number or typed code, if any.
    #[serde(default)]
    pub answer: Option<String>,
    /// Device signature over [`decision_message`], base64url.
    pub signature: String,
}

impl SignedDecision {
    /// Checks the device signature with its public key (uncompressed SEC1 point): the
    /// relying party's proof that the user saw this context and decided this.
    pub fn verify(&self, device_public_key: &[u8]) -> bool {
        let Some(sig) = unb64(&self.signature) else { return false };
        decision_message(&self.challenge, &self.decision, self.answer.as_deref())
            .is_ok_and(|m| verify(device_public_key, &m, &sig))
    }

    /// Checks that this is the user's approval of the login the relying party created:
    /// signed by one of `pinned`, over a challenge for `expected`'s login id and user,
    /// deciding `approve`, with `expected`'s answer (see the module docs for what this proves).
    pub fn verify_approval(
        &self,
        pinned: &[PinnedDevice],
        expected: &ExpectedLogin<'_>,
    ) -> Result<(), ApprovalError> {
        let c = &self.challenge;
        let device = pinned
            .iter()
            .find(|d| d.id == c.device)
            .ok_or_else(|| ApprovalError::UnpinnedDevice(c.device.clone()))?;
        if !self.verify(&device.public_key) {
            return Err(ApprovalError::BadSignature);
        }
        if c.id != expected.id {
            return Err(ApprovalError::OtherLogin);
        }
        if c.user != expected.user {
            return Err(ApprovalError::OtherUser);
        }
        if self.decision != "approve" {
            return Err(ApprovalError::NotApproved(self.decision.clone()));
        }
        // The mode is inside the signed challenge: an approval of an `approve`-mode challenge
        // cannot stand in for a login whose screen showed a number or code.
        let answered = match c.mode {
            VerificationMode::Approve => None,
            VerificationMode::Pick | VerificationMode::Code => self.answer.as_deref(),
        };
        if answered != expected.answer {
            return Err(ApprovalError::WrongAnswer);
        }
        Ok(())
    }
}

/// A device's public key as the relying party recorded it (not as a server answer says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedDevice {
    /// The device id.
    pub id: String,
    /// Its uncompressed P-256 public key (65 bytes).
    pub public_key: Vec<u8>,
}

/// What a relying party itself knows of a login it created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedLogin<'a> {
    /// The login id the server gave when the login was created.
    pub id: &'a str,
    /// The user the relying party asked to log in.
    pub user: &'a str,
    /// The number or code its login screen showed (`None` for `approve` mode).
    pub answer: Option<&'a str>,
}

/// Why a decision is not an approval of the expected login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// The outcome has no signed decision at all.
    #[error("the outcome carries no signed decision")]
    Unsigned,
    /// The decision names a device whose key was not pinned.
    #[error("the decision comes from device {0:?}, whose key is not pinned")]
    UnpinnedDevice(String),
    /// The signature does not verify with the pinned key.
    #[error("the decision's signature does not verify with the pinned device key")]
    BadSignature,
    /// The decision is over another login.
    #[error("the decision is over another login")]
    OtherLogin,
    /// The decision is for another user.
    #[error("the decision is for another user")]
    OtherUser,
    /// The device did not approve.
    #[error("the device decided {0:?}, not approve")]
    NotApproved(String),
    /// The approval does not carry the number or code the login screen showed.
    #[error("the approval does not carry the number or code the login screen showed")]
    WrongAnswer,
}

/// `POST /device/v1/enrol` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The enrolment credential from the URI.
    pub credential: String,
    /// The new device public key (base64url SEC1 point).
    pub public_key: String,
}

/// `POST /device/v1/enrol` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The device id (as in the URI).
    pub device: String,
    /// The server's public key (base64url SEC1 point).
    pub server_public_key: String,
}

/// `GET /device/v1/pending` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingResponse {
    /// Open challenges for this device.
    pub challenges: Vec<SignedChallenge>,
    /// Server time, Unix seconds.
    pub server_time: u64,
    /// Notices for the device's user, only when the poll asked with `notices=1`; the
    /// server sends each one once (absent when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<DeviceNotice>,
}

/// A notice in a [`PendingResponse`]. `kind` is `device_enrolled` (another device was
/// enrolled for `user`: `device` is its id); clients ignore kinds they do not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNotice {
    /// What happened.
    pub kind: String,
    /// When, Unix seconds.
    pub at: u64,
    /// The user it concerns.
    #[serde(default)]
    pub user: String,
    /// The device it concerns.
    #[serde(default)]
    pub device: String,
}

/// [`DeviceNotice::kind`] of "another device was enrolled for this user".
pub const NOTICE_DEVICE_ENROLLED: &str = "device_enrolled";

/// `POST /device/v1/answer` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerRequest {
    /// The signed decision.
    pub decision: SignedDecision,
}

/// `POST /device/v1/answer` answer (and error bodies everywhere: `{"error": "..."}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerResponse {
    /// Whether the decision was accepted.
    pub accepted: bool,
    /// The login's final state.
    pub state: String,
}

/// The push half of an enrolment URI (`otpauth://totp/...` with `push*` parameters).
#[derive(Clone, PartialEq, Eq)]
pub struct TesseraEnrolment {
    /// Server base URL.
    pub url: String,
    /// Reserved device id.
    pub device: String,
    /// Single-use credential.
    pub credential: String,
    /// Minutes the credential is valid.
    pub ttl_minutes: u64,
    /// Whether TLS is checked.
    pub sslverify: bool,
}

impl std::fmt::Debug for TesseraEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TesseraEnrolment")
            .field("url", &self.url)
            .field("device", &self.device)
            .field("credential", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl TesseraEnrolment {
    /// Reads the push parameters from an otpauth URI's extra parameters; `None` when the
    /// URI carries no Tessera push enrolment (`push=tessera1`).
    pub fn from_extra(extra: &[(String, String)]) -> Option<Result<Self, PushError>> {
        let get = |name: &str| extra.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if get("push")? != URI_PROTOCOL {
            return None;
        }
        let missing = |name: &str| PushError::InvalidEnrolment(format!("{name} is missing"));
        Some((|| {
            let url = get("push_url").ok_or_else(|| missing("push_url"))?.to_owned();
            let device = get("push_device").ok_or_else(|| missing("push_device"))?.to_owned();
            let credential =
                get("push_credential").ok_or_else(|| missing("push_credential"))?.to_owned();
            let ttl_minutes = get("push_ttl").map_or(Ok(10), str::parse).map_err(|_| {
                PushError::InvalidEnrolment("push_ttl is not a number of minutes".into())
            })?;
            let sslverify = get("push_sslverify") != Some("0");
            if !is_device_id(&device) {
                return Err(PushError::InvalidEnrolment("push_device is malformed".into()));
            }
            check_transport(&url, sslverify)?;
            Ok(Self { url, device, credential, ttl_minutes, sslverify })
        })())
    }

    /// Returns it as the backend-neutral [`PushEnrolment`] that [`PushBackend::enrol`](crate::push::PushBackend::enrol) takes.
    pub fn to_enrolment(&self, issuer: &str, label: &str) -> PushEnrolment {
        PushEnrolment {
            label: label.to_owned(),
            issuer: issuer.to_owned(),
            url: self.url.clone(),
            ttl_minutes: self.ttl_minutes,
            enrollment_credential: self.credential.clone(),
            serial: self.device.clone(),
            sslverify: self.sslverify,
            poll_only: true,
            pin: false,
            app_force_unlock: None,
            image: None,
        }
    }
}

/// Checks a challenge received for `account` at `now`; `Err` names why it is dropped.
pub fn check_challenge(
    account: &PushAccount,
    signed: &SignedChallenge,
    now: u64,
) -> Result<(), &'static str> {
    if !signed.verify(&account.server_public_key) {
        return Err("server signature does not verify");
    }
    let c = &signed.challenge;
    if c.v != 1 {
        return Err("unknown challenge version");
    }
    if c.device != account.serial {
        return Err("challenge is for another device");
    }
    if now >= c.expires {
        return Err("challenge has expired");
    }
    if c.mode == VerificationMode::Pick && c.options.len() != 3 {
        return Err("pick challenge without three options");
    }
    Ok(())
}

/// Shows the server name of a URL (host and port).
pub fn server_of(url: &str) -> String {
    server_name(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> Challenge {
        Challenge {
            v: 1,
            id: "0123456789abcdef0123456789abcdef".into(),
            device: "aa11".into(),
            user: "alice".into(),
            nonce: "ffee".into(),
            rp: "Example Mail".into(),
            context: RequestContext {
                ip: Some("192.0.2.7".into()),
                location: Some("Oslo, NO".into()),
                app: Some("Webmail".into()),
                user_agent: Some("Firefox".into()),
            },
            mode: VerificationMode::Pick,
            options: vec!["12".into(), "47".into(), "90".into()],
            created: 1000,
            expires: 1120,
        }
    }

    #[test]
    fn challenge_signatures_cover_every_field() {
        let server = DeviceKey::generate_p256().unwrap();
        let public = server.p256_public_key().unwrap();
        let signed = SignedChallenge::sign(challenge(), &server).unwrap();
        assert!(signed.verify(&public));
        let mut tampered = signed.clone();
        tampered.challenge.context.ip = Some("198.51.100.1".into());
        assert!(!tampered.verify(&public));
        let mut tampered = signed.clone();
        tampered.challenge.options[0] = "13".into();
        assert!(!tampered.verify(&public));
        let other = DeviceKey::generate_p256().unwrap().p256_public_key().unwrap();
        assert!(!signed.verify(&other), "a forged server key does not verify");
    }

    #[test]
    fn challenge_bytes_are_labelled_canonical_json() {
        let m = challenge_message(&challenge()).unwrap();
        let text = String::from_utf8(m).unwrap();
        assert!(
            text.starts_with("tessera-push-v1 challenge\n{\"context\":{\"app\":\"Webmail\""),
            "{text}"
        );
        assert!(text.ends_with(",\"user\":\"alice\",\"v\":1}"), "{text}");
    }

    #[test]
    fn decisions_verify_only_for_what_was_shown() {
        let device = DeviceKey::generate_p256().unwrap();
        let public = device.p256_public_key().unwrap();
        let c = challenge();
        let sig = device.sign_p256(&decision_message(&c, "approve", Some("47")).unwrap()).unwrap();
        let d = SignedDecision {
            challenge: c,
            decision: "approve".into(),
            answer: Some("47".into()),
            signature: b64(&sig),
        };
        assert!(d.verify(&public));
        let mut other = d.clone();
        other.answer = Some("12".into());
        assert!(!other.verify(&public));
        let mut other = d.clone();
        other.challenge.context.location = Some("Elsewhere".into());
        assert!(!other.verify(&public));
        let mut other = d;
        other.decision = "deny".into();
        assert!(!other.verify(&public));
    }

    #[test]
    fn request_signatures_bind_method_path_time_nonce_and_body() {
        let m = request_message("POST", "/device/v1/answer", "aa11", 5, "n1", b"{}");
        assert_eq!(
            String::from_utf8(m).unwrap(),
            "tessera-push-v1 request\nPOST\n/device/v1/answer\naa11\n5\nn1\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn uri_extras_give_a_push_enrolment() {
        let extra = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        assert!(TesseraEnrolment::from_extra(&extra(&[("foo", "bar")])).is_none());
        let e = TesseraEnrolment::from_extra(&extra(&[
            ("push", "tessera1"),
            ("push_url", "http://127.0.0.1:8080"),
            ("push_device", "abcd"),
            ("push_credential", "00ff"),
            ("push_ttl", "5"),
            ("push_sslverify", "0"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(e.ttl_minutes, 5);
        assert!(!format!("{e:?}").contains("00ff"));
        let remote = TesseraEnrolment::from_extra(&extra(&[
            ("push", "tessera1"),
            ("push_url", "http://push.example"),
            ("push_device", "abcd"),
            ("push_credential", "00ff"),
        ]))
        .unwrap();
        assert!(matches!(remote, Err(PushError::InsecureTransport { .. })));
    }

    #[test]
    fn only_a_pinned_approval_of_the_expected_login_and_answer_verifies() {
        let device = DeviceKey::generate_p256().unwrap();
        let pinned =
            [PinnedDevice { id: "d1".into(), public_key: device.p256_public_key().unwrap() }];
        let mut c = challenge();
        c.device = "d1".into();
        c.mode = VerificationMode::Code;
        let sign = |c: &Challenge, decision: &str, answer: Option<&str>| {
            let message = decision_message(c, decision, answer).unwrap();
            SignedDecision {
                challenge: c.clone(),
                decision: decision.into(),
                answer: answer.map(str::to_owned),
                signature: b64(&device.sign_p256(&message).unwrap()),
            }
        };
        let expected = ExpectedLogin { id: &c.id, user: &c.user, answer: Some("123456") };
        assert_eq!(sign(&c, "approve", Some("123456")).verify_approval(&pinned, &expected), Ok(()));
        let refused = |d: SignedDecision, e: &ExpectedLogin<'_>| d.verify_approval(&pinned, e);
        assert_eq!(
            refused(sign(&c, "deny", None), &expected),
            Err(ApprovalError::NotApproved("deny".into()))
        );
        assert_eq!(
            refused(sign(&c, "approve", Some("654321")), &expected),
            Err(ApprovalError::WrongAnswer)
        );
        let other = ExpectedLogin { id: "another", ..expected };
        assert_eq!(
            refused(sign(&c, "approve", Some("123456")), &other),
            Err(ApprovalError::OtherLogin)
        );
        let other = ExpectedLogin { user: "mallory", ..expected };
        assert_eq!(
            refused(sign(&c, "approve", Some("123456")), &other),
            Err(ApprovalError::OtherUser)
        );
        // A server that swaps in its own key, or edits the decision, fails the pinned key.
        let mut forged = sign(&c, "deny", None);
        forged.decision = "approve".into();
        assert_eq!(refused(forged, &expected), Err(ApprovalError::BadSignature));
        let mut unknown = c.clone();
        unknown.device = "d2".into();
        assert_eq!(
            refused(sign(&unknown, "approve", Some("123456")), &expected),
            Err(ApprovalError::UnpinnedDevice("d2".into()))
        );
        // An approve-mode approval cannot stand in for a login that showed a code.
        let mut plain = c.clone();
        plain.mode = VerificationMode::Approve;
        assert_eq!(
            refused(sign(&plain, "approve", Some("123456")), &expected),
            Err(ApprovalError::WrongAnswer)
        );
    }
}
