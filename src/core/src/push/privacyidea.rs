//! privacyIDEA's PUSH token in "poll only" mode, as privacyIDEA 3.14 implements it
//! (`privacyidea/lib/tokens/pushtoken.py`: `_api_endpoint_get`, `_handle_auth_response`,
//! `_build_smartphone_data`; `privacyidea/api/ttype.py` routes `/ttype/push` there).
//!
//! - Enrolment step 2: `POST {url}` with `enrollment_credential`, `serial`,
//!   `fbtoken=no_firebase_token`, `pubkey` (base64 DER SPKI); the answer carries the server's
//!   public key (base64 PKCS#1).
//! - Poll: `GET {url}?serial&timestamp&signature` with the signature over `serial|timestamp`;
//!   the timestamp (ISO-8601 UTC) must be within ±1 minute of the server's clock.
//! - Each challenge is signed over `nonce|url|serial|question|title|sslverify` (plus
//!   `|require_presence` for number matching); 3.14 adds `capabilities` with a detached
//!   signature over RFC 8785 JSON `{"capabilities":{...},"nonce":"..."}`. Both are verified
//!   here; a challenge that fails is dropped and logged, never shown.
//! - Answer: `POST {challenge url}` with `serial`, `nonce`, `signature` over
//!   `nonce|serial[|decline[|reason]][|presence_answer]`, plus `decline=1`, `decline_reason`,
//!   `presence_answer` as applicable. `result.value` false means the server did not match it.
//!
//! What the protocol does not carry: when a challenge was created or expires (we estimate:
//! first seen + [`DEFAULT_CHALLENGE_VALIDITY`]), and structured context (IP, location): the
//! question text is all there is.

use std::sync::Arc;
use std::time::Duration;

use data_encoding::BASE64;
use reqwest::blocking::{Client, RequestBuilder};
use serde::Deserialize;
use serde_json::Value;

use super::enrolment::{check_transport, is_loopback_host, server_name};
use super::http::{DateLog, date_of, http_client, install_crypto_provider, read_json, root_cause};
use super::{
    DEFAULT_CHALLENGE_VALIDITY, Decision, DeviceKey, PushAccount, PushBackend, PushBackendKind,
    PushEnrolment, PushError, PushRequest, RequestContext, crypto, display_text, format_utc,
};

/// Largest response body read from a push server.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// The server refuses poll timestamps further than this from its clock (`POLL_TIME_WINDOW`).
const POLL_WINDOW_SECONDS: i64 = 60;

/// The privacyIDEA PUSH backend over blocking HTTPS.
#[derive(Debug, Clone)]
pub struct PrivacyIdeaBackend {
    verified: Client,
    unverified: Client,
    challenge_validity: u64,
    key_bits: usize,
    /// Every answer's `Date`, for the clock check (polls are never held, so each counts).
    dates: Arc<DateLog>,
}

impl PrivacyIdeaBackend {
    /// Returns a backend with 4096-bit device keys and the default challenge validity.
    pub fn new() -> Result<Self, PushError> {
        install_crypto_provider();
        Ok(Self {
            verified: http_client(true, Duration::from_secs(30))?,
            unverified: http_client(false, Duration::from_secs(30))?,
            challenge_validity: DEFAULT_CHALLENGE_VALIDITY,
            key_bits: DeviceKey::BITS,
            dates: Arc::default(),
        })
    }

    /// Sets the challenge lifetime to assume, for servers configured with a different
    /// `DefaultChallengeValidityTime`.
    pub fn with_challenge_validity(mut self, seconds: u64) -> Self {
        self.challenge_validity = seconds;
        self
    }

    /// Sets the size of generated device keys (at least 2048 bits; default 4096).
    pub fn with_key_bits(mut self, bits: usize) -> Self {
        self.key_bits = bits;
        self
    }

    fn client(&self, sslverify: bool) -> &Client {
        // check_transport has already limited sslverify=0 to loopback hosts.
        if sslverify { &self.verified } else { &self.unverified }
    }

    fn send(&self, request: RequestBuilder, server: &str) -> Result<Reply, PushError> {
        let unreachable = |e: reqwest::Error| PushError::Unreachable {
            server: server.to_owned(),
            detail: root_cause(&e),
        };
        let response = self.dates.send(request, server).map_err(unreachable)?;
        let status = response.status().as_u16();
        let date = date_of(&response);
        let body = read_json(response, server, MAX_RESPONSE_BYTES)?;
        Ok(Reply { status, date, body })
    }

    /// Checks a polled challenge and turns it into a request; `Err` names why it is dropped.
    fn accept_challenge(
        &self,
        account: &PushAccount,
        raw: &Value,
        now: u64,
    ) -> Result<PushRequest, &'static str> {
        let wire: WireChallenge =
            serde_json::from_value(raw.clone()).map_err(|_| "malformed challenge")?;
        if !verify_challenge(&account.server_public_key, &wire)? {
            return Err("server signature does not verify");
        }
        if wire.serial != account.serial {
            return Err("challenge is for another serial");
        }
        if wire.require_presence.as_deref().is_some_and(|p| p.chars().any(char::is_control)) {
            return Err("presence options contain control characters");
        }
        // The server may ask us not to check certificates; we honour that only for loopback
        // hosts and check them anyway elsewhere (a valid certificate still works).
        let loopback = url::Url::parse(&wire.url)
            .ok()
            .and_then(|u| u.host_str().map(is_loopback_host))
            .unwrap_or(false);
        let sslverify = wire.sslverify != "0" || !loopback;
        check_transport(&wire.url, sslverify).map_err(|_| "answer url is not allowed")?;
        let decline_reason_supported = wire
            .capabilities
            .as_deref()
            .and_then(|c| serde_json::from_str::<Value>(c).ok())
            .is_some_and(|c| c.get("decline_reason") == Some(&Value::Bool(true)));
        Ok(PushRequest {
            id: wire.nonce,
            backend: PushBackendKind::PrivacyIdea,
            serial: wire.serial,
            title: display_text(&wire.title),
            question: display_text(&wire.question),
            server: server_name(&wire.url),
            created: now,
            expires: now.saturating_add(self.challenge_validity),
            require_presence: wire
                .require_presence
                .map(|p| p.split(',').map(|o| o.trim().to_owned()).collect()),
            context: RequestContext::default(),
            answer_url: wire.url,
            sslverify,
            decline_reason_supported,
            code_entry: false,
            signed_challenge: None,
        })
    }
}

/// A parsed HTTP answer: status, the server's Date (Unix seconds) and the JSON body.
struct Reply {
    status: u16,
    date: Option<u64>,
    body: Value,
}

impl Reply {
    /// Returns `result.value` when `result.status` is true, else the server's refusal.
    fn value(&self, server: &str) -> Result<&Value, PushError> {
        let result = self.body.get("result");
        if result.and_then(|r| r.get("status")).and_then(Value::as_bool) == Some(true) {
            return result.and_then(|r| r.get("value")).ok_or_else(|| PushError::BadResponse {
                server: server.to_owned(),
                detail: "no result value".to_owned(),
            });
        }
        Err(PushError::Refused {
            server: server.to_owned(),
            status: self.status,
            message: self.error_message().unwrap_or_else(|| format!("HTTP {}", self.status)),
        })
    }

    fn error_message(&self) -> Option<String> {
        let message = self.body.pointer("/result/error/message")?.as_str()?;
        Some(message.chars().take(300).collect())
    }

    /// Returns the server's time: the Date header, else privacyIDEA's `time` field.
    fn server_time(&self) -> Option<u64> {
        self.date.or_else(|| {
            let t = self.body.get("time")?.as_f64()?;
            (t.is_finite() && t >= 0.0).then_some(t as u64)
        })
    }
}

/// A challenge as `GET /ttype/push` lists it.
#[derive(Deserialize)]
struct WireChallenge {
    nonce: String,
    question: String,
    title: String,
    serial: String,
    url: String,
    sslverify: String,
    signature: String,
    #[serde(default)]
    require_presence: Option<String>,
    #[serde(default)]
    capabilities: Option<String>,
    #[serde(default)]
    capabilities_signature: Option<String>,
}

/// Verifies a challenge's main signature and, when present, its capabilities signature.
/// Returns `Ok(false)` for a bad main signature, `Err` for inconsistent capabilities.
fn verify_challenge(server_key: &[u8], c: &WireChallenge) -> Result<bool, &'static str> {
    let mut signed =
        format!("{}|{}|{}|{}|{}|{}", c.nonce, c.url, c.serial, c.question, c.title, c.sslverify);
    if let Some(presence) = &c.require_presence {
        signed.push('|');
        signed.push_str(presence);
    }
    if !crypto::verify(server_key, signed.as_bytes(), &c.signature) {
        return Ok(false);
    }
    match (&c.capabilities, &c.capabilities_signature) {
        (None, None) => Ok(true),
        (Some(caps), Some(sig)) => {
            let caps: Value =
                serde_json::from_str(caps).map_err(|_| "capabilities are not JSON")?;
            let input = serde_json::json!({ "capabilities": caps, "nonce": c.nonce });
            let canonical =
                crypto::canonical_json(&input).ok_or("capabilities cannot be canonicalised")?;
            if crypto::verify(server_key, &canonical, sig) {
                Ok(true)
            } else {
                Err("capabilities signature does not verify")
            }
        }
        _ => Err("capabilities without their signature"),
    }
}

impl PushBackend for PrivacyIdeaBackend {
    fn kind(&self) -> PushBackendKind {
        PushBackendKind::PrivacyIdea
    }

    fn take_clock_readings(&self) -> Vec<crate::clock::offset::Reading> {
        self.dates.take()
    }

    fn enrol(
        &self,
        enrolment: &PushEnrolment,
        scanned_at: u64,
        now: u64,
    ) -> Result<PushAccount, PushError> {
        enrolment.check_ttl(scanned_at, now)?;
        let url = check_transport(&enrolment.url, enrolment.sslverify)?;
        let server = enrolment.server();
        let device_key = DeviceKey::generate_with_bits(self.key_bits)?;
        let pubkey = BASE64.encode(&device_key.public_key_spki_der()?);
        let form = [
            ("enrollment_credential", enrolment.enrollment_credential.as_str()),
            ("serial", enrolment.serial.as_str()),
            ("fbtoken", "no_firebase_token"),
            ("pubkey", pubkey.as_str()),
        ];
        let reply = self.send(self.client(enrolment.sslverify).post(url).form(&form), &server)?;
        reply.value(&server)?;
        let bad = |detail: &str| PushError::BadResponse {
            server: server.clone(),
            detail: detail.to_owned(),
        };
        let detail = reply.body.get("detail").ok_or_else(|| bad("no enrolment detail"))?;
        if detail.get("rollout_state").and_then(Value::as_str) != Some("enrolled") {
            return Err(bad("the token is not in the enrolled state"));
        }
        if let Some(serial) = detail.get("serial").and_then(Value::as_str)
            && serial != enrolment.serial
        {
            return Err(bad("the server enrolled a different serial"));
        }
        let key_text = detail
            .get("public_key")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no server public key"))?;
        let server_public_key = crypto::parse_server_public_key(key_text)?;
        tracing::info!(serial = %enrolment.serial, %server, "enrolled push account");
        Ok(PushAccount {
            backend: PushBackendKind::PrivacyIdea,
            serial: enrolment.serial.clone(),
            url: enrolment.url.clone(),
            sslverify: enrolment.sslverify,
            device_key,
            server_public_key,
            issuer: enrolment.issuer.clone(),
            label: enrolment.label.clone(),
            enrolled_at: now,
            require_password: enrolment.requires_unlock(),
        })
    }

    fn poll(&self, account: &PushAccount, now: u64) -> Result<Vec<PushRequest>, PushError> {
        if account.backend != PushBackendKind::PrivacyIdea {
            return Err(PushError::WrongBackend(account.backend));
        }
        let url = check_transport(&account.url, account.sslverify)?;
        let server = account.server();
        let timestamp = format_utc(now);
        let signature = account.device_key.sign(&format!("{}|{timestamp}", account.serial))?;
        let query = [
            ("serial", account.serial.as_str()),
            ("timestamp", timestamp.as_str()),
            ("signature", signature.as_str()),
        ];
        let reply = self.send(self.client(account.sslverify).get(url).query(&query), &server)?;
        let value = match reply.value(&server) {
            Ok(value) => value,
            Err(refused) => {
                let offset = reply.server_time().map(|t| now as i64 - t as i64);
                let says_time =
                    reply.error_message().is_some_and(|m| m.contains("not in valid range"));
                return Err(match offset {
                    Some(offset) if says_time || offset.abs() > POLL_WINDOW_SECONDS => {
                        PushError::ClockSkew { server, offset_seconds: offset }
                    }
                    _ => refused,
                });
            }
        };
        let list = value.as_array().ok_or_else(|| PushError::BadResponse {
            server: server.clone(),
            detail: "the poll result is not a list".to_owned(),
        })?;
        let mut requests = Vec::with_capacity(list.len());
        for raw in list {
            match self.accept_challenge(account, raw, now) {
                Ok(request) => requests.push(request),
                Err(reason) => tracing::warn!(
                    serial = %account.serial,
                    %server,
                    reason,
                    "dropped a push challenge that failed verification"
                ),
            }
        }
        Ok(requests)
    }

    fn answer(
        &self,
        account: &PushAccount,
        request: &PushRequest,
        decision: &Decision,
    ) -> Result<(), PushError> {
        if account.backend != PushBackendKind::PrivacyIdea {
            return Err(PushError::WrongBackend(account.backend));
        }
        if request.serial != account.serial {
            return Err(PushError::UnknownRequest(request.short_id().to_owned()));
        }
        request.check_decision(decision)?;
        let url = check_transport(&request.answer_url, request.sslverify)?;
        let server = server_name(&request.answer_url);
        let mut signed = format!("{}|{}", request.id, account.serial);
        let mut form: Vec<(&str, &str)> =
            vec![("serial", account.serial.as_str()), ("nonce", request.id.as_str())];
        match decision {
            Decision::Approve { answer: None } => {}
            Decision::Approve { answer: Some(answer) } => {
                signed.push('|');
                signed.push_str(answer);
                form.push(("presence_answer", answer));
            }
            Decision::Deny => {
                signed.push_str("|decline");
                form.push(("decline", "1"));
            }
            Decision::NotMe => {
                signed.push_str("|decline");
                form.push(("decline", "1"));
                // A server without the capability would verify the signature without the
                // reason and refuse ours; there the report degrades to a plain decline.
                if request.decline_reason_supported {
                    signed.push_str("|unknown_trigger");
                    form.push(("decline_reason", "unknown_trigger"));
                }
            }
        }
        let signature = account.device_key.sign(&signed)?;
        form.push(("signature", &signature));
        let reply = self.send(self.client(request.sslverify).post(url).form(&form), &server)?;
        match reply.value(&server)?.as_bool() {
            Some(true) => {
                tracing::info!(serial = %account.serial, id = %request.short_id(), %decision, "answered push request");
                Ok(())
            }
            Some(false) => Err(PushError::AnswerRejected { server }),
            None => Err(PushError::BadResponse {
                server,
                detail: "the answer result is not true or false".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// A stand-in server key pair (PKCS#8 private, PKCS#1 public) made once per test run.
    fn server_keys() -> &'static (Vec<u8>, Vec<u8>) {
        static KEYS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let private = crypto::generate_rsa_pkcs8(2048).unwrap();
            let public = ring::signature::RsaKeyPair::from_pkcs8(&private)
                .unwrap()
                .public()
                .as_ref()
                .to_vec();
            (private.to_vec(), public)
        })
    }

    /// Builds a challenge signed the way `_build_smartphone_data` signs it.
    fn challenge(question: &str, presence: Option<&str>) -> WireChallenge {
        challenge_at("http://127.0.0.1:5001/ttype/push", "0", question, presence)
    }

    fn challenge_at(url: &str, ssl: &str, question: &str, presence: Option<&str>) -> WireChallenge {
        let (private, _) = server_keys();
        let mut c = WireChallenge {
            nonce: "M3Q2CYZ7WJ5KXGOS4R6DPAV3HNF2LBTU".into(),
            question: question.into(),
            title: "privacyIDEA".into(),
            serial: "PIPU0001".into(),
            url: url.into(),
            sslverify: ssl.into(),
            signature: String::new(),
            require_presence: presence.map(str::to_owned),
            capabilities: Some(r#"{"decline_reason": true}"#.into()),
            capabilities_signature: None,
        };
        let mut signed = format!(
            "{}|{}|{}|{}|{}|{}",
            c.nonce, c.url, c.serial, c.question, c.title, c.sslverify
        );
        if let Some(p) = presence {
            signed = format!("{signed}|{p}");
        }
        c.signature = crypto::sign(private, &signed).unwrap();
        let caps = format!(r#"{{"capabilities":{{"decline_reason":true}},"nonce":"{}"}}"#, c.nonce);
        c.capabilities_signature = Some(crypto::sign(private, &caps).unwrap());
        c
    }

    #[test]
    fn genuine_challenges_verify() {
        let (_, public) = server_keys();
        assert_eq!(verify_challenge(public, &challenge("Login by alice?", None)), Ok(true));
        let with_presence = challenge("Login?", Some("81,79,94"));
        assert_eq!(verify_challenge(public, &with_presence), Ok(true));
    }

    #[test]
    fn altered_question_or_options_fail() {
        let (_, public) = server_keys();
        let mut c = challenge("Login by alice?", None);
        c.question = "Login by alice from your office?".into();
        assert_eq!(verify_challenge(public, &c), Ok(false));
        let mut c = challenge("Login?", Some("81,79,94"));
        c.require_presence = Some("81,79,95".into());
        assert_eq!(verify_challenge(public, &c), Ok(false));
        let mut c = challenge("Login?", Some("81,79,94"));
        c.require_presence = None;
        assert_eq!(verify_challenge(public, &c), Ok(false), "presence cannot be stripped");
    }

    #[test]
    fn altered_or_unsigned_capabilities_fail() {
        let (_, public) = server_keys();
        let mut c = challenge("Login?", None);
        c.capabilities = Some(r#"{"decline_reason": false}"#.into());
        assert_eq!(verify_challenge(public, &c), Err("capabilities signature does not verify"));
        let mut c = challenge("Login?", None);
        c.capabilities_signature = None;
        assert_eq!(verify_challenge(public, &c), Err("capabilities without their signature"));
        let mut c = challenge("Login?", None);
        c.capabilities = None;
        c.capabilities_signature = None;
        assert_eq!(verify_challenge(public, &c), Ok(true), "pre-3.14 servers send none");
    }

    #[test]
    fn shown_text_cannot_carry_escapes_or_direction_overrides() {
        assert_eq!(display_text("Login\x1b[2J by\nalice?"), "Login [2J by alice?");
        assert_eq!(display_text("from \u{202e}elpmaxe.live"), "from elpmaxe.live");
        assert_eq!(display_text("Grüße 👋"), "Grüße 👋");
        assert_eq!(display_text(&"x".repeat(5000)).len(), 1000);
    }

    fn account() -> PushAccount {
        PushAccount {
            backend: PushBackendKind::PrivacyIdea,
            serial: "PIPU0001".into(),
            url: "https://pi.example/ttype/push".into(),
            sslverify: true,
            device_key: DeviceKey::from_pkcs8_der(server_keys().0.clone()).unwrap(),
            server_public_key: server_keys().1.clone(),
            issuer: "privacyIDEA".into(),
            label: "alice".into(),
            enrolled_at: 0,
            require_password: false,
        }
    }

    fn to_json(c: &WireChallenge) -> Value {
        serde_json::json!({
            "nonce": c.nonce, "question": c.question, "title": c.title, "serial": c.serial,
            "url": c.url, "sslverify": c.sslverify, "signature": c.signature,
            "require_presence": c.require_presence, "capabilities": c.capabilities,
            "capabilities_signature": c.capabilities_signature,
        })
    }

    #[test]
    fn remote_answers_always_check_certificates_and_never_use_plain_http() {
        let backend = PrivacyIdeaBackend::new().unwrap();
        let remote = challenge_at("https://pi.example/ttype/push", "0", "Login?", None);
        let request = backend.accept_challenge(&account(), &to_json(&remote), 1000).unwrap();
        assert!(request.sslverify, "sslverify=0 is ignored for a remote host");
        assert_eq!(request.server, "pi.example");
        assert_eq!((request.created, request.expires), (1000, 1120));
        assert!(request.decline_reason_supported);
        let plain = challenge_at("http://pi.example/ttype/push", "0", "Login?", None);
        assert_eq!(
            backend.accept_challenge(&account(), &to_json(&plain), 1000),
            Err("answer url is not allowed")
        );
        let local = challenge("Login?", Some("A,B,C"));
        let request = backend.accept_challenge(&account(), &to_json(&local), 1000).unwrap();
        assert!(!request.sslverify);
        assert_eq!(request.require_presence, Some(vec!["A".into(), "B".into(), "C".into()]));
    }

    #[test]
    fn challenges_for_another_serial_or_malformed_are_dropped() {
        let backend = PrivacyIdeaBackend::new().unwrap();
        let mut other = account();
        other.serial = "PIPU0002".into();
        let c = to_json(&challenge("Login?", None));
        assert_eq!(backend.accept_challenge(&other, &c, 0), Err("challenge is for another serial"));
        let garbage = serde_json::json!({"nonce": 1});
        assert_eq!(backend.accept_challenge(&account(), &garbage, 0), Err("malformed challenge"));
    }

    #[test]
    fn poll_timestamps_are_iso_8601_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_302_433), "2026-11-21T23:07:13Z");
    }

    #[test]
    fn refusals_carry_the_servers_message() {
        let reply = Reply {
            status: 400,
            date: None,
            body: serde_json::json!({"result": {"status": false, "error": {"code": 905, "message": "ERR905: Invalid enrollment credential."}}, "time": 1795306336.22}),
        };
        let e = reply.value("pi").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the push server pi refused the request: ERR905: Invalid enrollment credential."
        );
        assert_eq!(reply.server_time(), Some(1_795_306_336));
    }
}
