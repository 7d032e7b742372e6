//! The device side of `tessera-push-v1` over blocking HTTP(S) with long-poll:
//! [`TesseraBackend`], the [`PushBackend`] the app and the CLI use for Tessera servers. The
//! protocol it speaks (types, signed byte strings) is the parent module's.

use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

use super::{
    AnswerRequest, EnrolRequest, EnrolResponse, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, MAX_KNOWN_IDS, MAX_WAIT_SECONDS, NOTICE_DEVICE_ENROLLED, PendingResponse,
    SignedChallenge, SignedDecision, VerificationMode, b64, check_challenge, decision_message,
    decision_name, random_hex, request_message, unb64,
};
use crate::push::enrolment::check_transport;
use crate::push::http::{DateLog, http_client, install_crypto_provider, read_json, root_cause};
use crate::push::{
    Decision, DeviceKey, Polled, PushAccount, PushBackend, PushBackendKind, PushEnrolment,
    PushError, PushNotice, PushNoticeKind, PushRequest, RequestContext, display_text,
};

/// Largest response body read from the server.
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

/// The Tessera push backend over blocking HTTP(S), with HTTP long-poll.
#[derive(Debug, Clone)]
pub struct TesseraBackend {
    verified: Client,
    unverified: Client,
    wait_seconds: u64,
    clock_ms: fn() -> u64,
    /// The answers' `Date`s, for the clock check: held long-polls tell nothing (the
    /// readings are too wide), so once an hour a poll is first sent unheld (see
    /// [`DateLog`] and `fetch`).
    dates: Arc<DateLog>,
}

fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl TesseraBackend {
    /// Returns a backend that does not hold polls (answers at once; `tessera push pending`).
    pub fn new() -> Result<Self, PushError> {
        install_crypto_provider();
        // A long poll may be held for MAX_WAIT_SECONDS; leave room for the answer.
        let timeout = Duration::from_secs(MAX_WAIT_SECONDS + 15);
        Ok(Self {
            verified: http_client(true, timeout)?,
            unverified: http_client(false, timeout)?,
            wait_seconds: 0,
            clock_ms: system_ms,
            dates: Arc::default(),
        })
    }

    /// Makes [`PushBackend::poll`] a long-poll holding up to `seconds` (at most 25).
    pub fn with_long_poll(mut self, seconds: u64) -> Self {
        self.wait_seconds = seconds.min(MAX_WAIT_SECONDS);
        self
    }

    fn client(&self, sslverify: bool) -> &Client {
        if sslverify { &self.verified } else { &self.unverified }
    }

    /// Builds a signed request (headers per the module docs) for `path_and_query`.
    fn signed(
        &self,
        peer: &Peer<'_>,
        method: reqwest::Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<RequestBuilder, PushError> {
        let Peer { url: account_url, sslverify, key, device } = *peer;
        let timestamp = (self.clock_ms)();
        let nonce = random_hex(16)?;
        let message =
            request_message(method.as_str(), path_and_query, device, timestamp, &nonce, &body);
        let signature = b64(&key.sign_p256(&message)?);
        let url = format!("{}{path_and_query}", account_url.trim_end_matches('/'));
        Ok(self
            .client(sslverify)
            .request(method, url)
            .header(HEADER_DEVICE, device)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, signature)
            .header("content-type", "application/json")
            .body(body))
    }

    fn send(&self, request: RequestBuilder, server: &str) -> Result<(u16, Value), PushError> {
        let response = self.dates.send(request, server).map_err(|e| PushError::Unreachable {
            server: server.to_owned(),
            detail: root_cause(&e),
        })?;
        let status = response.status().as_u16();
        Ok((status, read_json(response, server, MAX_RESPONSE_BYTES)?))
    }

    fn refused(server: &str, status: u16, body: &Value) -> PushError {
        let message = body.get("error").and_then(Value::as_str).map_or_else(
            || format!("HTTP {status}"),
            |m| display_text(m).chars().take(200).collect(),
        );
        PushError::Refused { server: server.to_owned(), status, message }
    }

    /// Turns a verified challenge into a [`PushRequest`].
    fn to_request(
        account: &PushAccount,
        signed: &SignedChallenge,
    ) -> Result<PushRequest, PushError> {
        let c = &signed.challenge;
        let raw = serde_json::to_string(signed)
            .map_err(|e| PushError::Key(format!("cannot encode a challenge: {e}")))?;
        let rp = display_text(&c.rp);
        let user = display_text(&c.user);
        let question = match c.mode {
            VerificationMode::Approve => format!("Log in to {rp} as {user}?"),
            VerificationMode::Pick => {
                format!("Log in to {rp} as {user}? Pick the number shown on the login screen.")
            }
            VerificationMode::Code => {
                format!("Log in to {rp} as {user}? Type the code shown on the login screen.")
            }
        };
        let clean = |o: &Option<String>| o.as_deref().map(display_text);
        Ok(PushRequest {
            id: c.id.clone(),
            backend: PushBackendKind::Tessera,
            serial: c.device.clone(),
            title: rp,
            question,
            server: account.server(),
            created: c.created,
            expires: c.expires,
            require_presence: (c.mode == VerificationMode::Pick).then(|| c.options.clone()),
            context: RequestContext {
                ip: clean(&c.context.ip),
                location: clean(&c.context.location),
                app: clean(&c.context.app),
                user_agent: clean(&c.context.user_agent),
            },
            answer_url: format!("{}/device/v1/answer", account.url.trim_end_matches('/')),
            sslverify: account.sslverify,
            decline_reason_supported: true,
            code_entry: c.mode == VerificationMode::Code,
            signed_challenge: Some(raw),
        })
    }
}

/// Who signs a device request and where it goes.
#[derive(Clone, Copy)]
struct Peer<'a> {
    url: &'a str,
    sslverify: bool,
    key: &'a DeviceKey,
    device: &'a str,
}

impl PushBackend for TesseraBackend {
    fn kind(&self) -> PushBackendKind {
        PushBackendKind::Tessera
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
        check_transport(&enrolment.url, enrolment.sslverify)?;
        let server = enrolment.server();
        let key = DeviceKey::generate_p256()?;
        let body = serde_json::to_vec(&EnrolRequest {
            credential: enrolment.enrollment_credential.clone(),
            public_key: b64(&key.p256_public_key()?),
        })
        .map_err(|e| PushError::Key(format!("cannot encode the enrolment: {e}")))?;
        let request = self.signed(
            &Peer {
                url: &enrolment.url,
                sslverify: enrolment.sslverify,
                key: &key,
                device: &enrolment.serial,
            },
            reqwest::Method::POST,
            "/device/v1/enrol",
            body,
        )?;
        let (status, reply) = self.send(request, &server)?;
        if status != 200 {
            return Err(Self::refused(&server, status, &reply));
        }
        let reply: EnrolResponse =
            serde_json::from_value(reply).map_err(|_| PushError::BadResponse {
                server: server.clone(),
                detail: "malformed enrolment answer".into(),
            })?;
        let server_public_key = unb64(&reply.server_public_key)
            .filter(|k| k.len() == 65)
            .ok_or_else(|| PushError::Key("the server public key is not a P-256 point".into()))?;
        if reply.device != enrolment.serial {
            return Err(PushError::BadResponse {
                server,
                detail: "enrolled another device id".into(),
            });
        }
        Ok(PushAccount {
            backend: PushBackendKind::Tessera,
            serial: reply.device,
            url: enrolment.url.clone(),
            sslverify: enrolment.sslverify,
            device_key: key,
            server_public_key,
            issuer: enrolment.issuer.clone(),
            label: enrolment.label.clone(),
            enrolled_at: now,
            require_password: false,
        })
    }

    fn poll(&self, account: &PushAccount, now: u64) -> Result<Vec<PushRequest>, PushError> {
        self.poll_changed(account, &[], now)
    }

    fn long_polls(&self) -> bool {
        self.wait_seconds > 0
    }

    fn poll_changed(
        &self,
        account: &PushAccount,
        known: &[String],
        now: u64,
    ) -> Result<Vec<PushRequest>, PushError> {
        Ok(self.fetch(account, known, now, false)?.requests)
    }

    fn poll_with_notices(
        &self,
        account: &PushAccount,
        known: &[String],
        now: u64,
    ) -> Result<Polled, PushError> {
        self.fetch(account, known, now, true)
    }

    fn answer(
        &self,
        account: &PushAccount,
        request: &PushRequest,
        decision: &Decision,
    ) -> Result<(), PushError> {
        request.check_decision(decision)?;
        let server = account.server();
        let signed: SignedChallenge = request
            .signed_challenge
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
            .ok_or_else(|| PushError::BadResponse {
                server: server.clone(),
                detail: "the request lacks its signed challenge".into(),
            })?;
        let name = decision_name(decision);
        let answer = match decision {
            Decision::Approve { answer } => answer.clone(),
            _ => None,
        };
        let message = decision_message(&signed.challenge, name, answer.as_deref())?;
        let signature = b64(&account.device_key.sign_p256(&message)?);
        let body = serde_json::to_vec(&AnswerRequest {
            decision: SignedDecision {
                challenge: signed.challenge,
                decision: name.to_owned(),
                answer,
                signature,
            },
        })
        .map_err(|e| PushError::Key(format!("cannot encode the answer: {e}")))?;
        let http = self.signed(
            &Peer {
                url: &account.url,
                sslverify: account.sslverify,
                key: &account.device_key,
                device: &account.serial,
            },
            reqwest::Method::POST,
            "/device/v1/answer",
            body,
        )?;
        let (status, reply) = self.send(http, &server)?;
        match status {
            200 if reply.get("accepted") == Some(&Value::Bool(true)) => Ok(()),
            409 | 422 => Err(PushError::AnswerRejected { server }),
            _ => Err(Self::refused(&server, status, &reply)),
        }
    }
}

impl TesseraBackend {
    /// Polls `/device/v1/pending` (asking for notices when `notices`); see
    /// [`PushBackend::poll_with_notices`].
    fn fetch(
        &self,
        account: &PushAccount,
        known: &[String],
        now: u64,
        notices: bool,
    ) -> Result<Polled, PushError> {
        if account.backend != PushBackendKind::Tessera {
            return Err(PushError::WrongBackend(account.backend));
        }
        // Once an hour a poll is first sent without being held, so that its `Date` can be
        // read for the clock. If it brings nothing new, the held poll follows, so a caller
        // still gets an answer only when something changed (or the wait ran out).
        if self.wait_seconds > 0 && self.dates.wants_reading(&account.server(), (self.clock_ms)()) {
            let quick = self.fetch_once(account, known, now, notices, 0)?;
            let same = quick.notices.is_empty()
                && quick.requests.len() == known.len()
                && quick.requests.iter().all(|r| known.contains(&r.id));
            if !same {
                return Ok(quick);
            }
        }
        self.fetch_once(account, known, now, notices, self.wait_seconds)
    }

    /// One request to `/device/v1/pending`, held by the server for up to `wait` seconds.
    fn fetch_once(
        &self,
        account: &PushAccount,
        known: &[String],
        now: u64,
        notices: bool,
        wait: u64,
    ) -> Result<Polled, PushError> {
        let server = account.server();
        let mut path = format!("/device/v1/pending?wait={wait}");
        // Ids are the server's own hex strings; anything else (or too many) is not sent, and
        // the server then answers at once, which is merely less efficient.
        let usable = known.len() <= MAX_KNOWN_IDS
            && known
                .iter()
                .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        if usable && !known.is_empty() {
            path.push_str("&known=");
            path.push_str(&known.join(","));
        }
        if notices {
            path.push_str("&notices=1");
        }
        let request = self.signed(
            &Peer {
                url: &account.url,
                sslverify: account.sslverify,
                key: &account.device_key,
                device: &account.serial,
            },
            reqwest::Method::GET,
            &path,
            Vec::new(),
        )?;
        let (status, reply) = self.send(request, &server)?;
        if status != 200 {
            return Err(Self::refused(&server, status, &reply));
        }
        let reply: PendingResponse =
            serde_json::from_value(reply).map_err(|_| PushError::BadResponse {
                server: server.clone(),
                detail: "malformed pending answer".into(),
            })?;
        let mut out = Vec::new();
        for signed in &reply.challenges {
            match check_challenge(account, signed, now) {
                Ok(()) => out.push(Self::to_request(account, signed)?),
                Err(why) => {
                    tracing::warn!(server = %server, id = %signed.challenge.id, "dropped a push challenge: {why}");
                }
            }
        }
        let notices = reply
            .notices
            .into_iter()
            .filter_map(|n| {
                let kind = match n.kind.as_str() {
                    NOTICE_DEVICE_ENROLLED => PushNoticeKind::DeviceEnrolled {
                        user: display_text(&n.user),
                        device: display_text(&n.device),
                    },
                    other => {
                        tracing::warn!(server = %server, kind = %display_text(other), "ignored a notice of unknown kind");
                        return None;
                    }
                };
                Some(PushNotice { serial: account.serial.clone(), server: server.clone(), at: n.at, kind })
            })
            .collect();
        Ok(Polled { requests: out, notices })
    }
}
