//! Interoperability with a real privacyIDEA 3.14 server (PUSH token, poll-only mode).
//!
//! The server comes from `shared/peers/privacyidea/setup.sh` (PyPI `privacyidea==3.14` in a
//! venv, SQLite, users alice/bob, poll-only push policies). If `$PI_HOME/env` is missing or
//! the server does not answer, the first test starts it (about a minute; needs python3-venv,
//! curl, jq). Tests share that one server and run one at a time (a process-wide lock), each
//! on its own freshly enrolled token, which it deletes again.
//!
//! A small HTTP proxy in front of the server lets tests alter what the server says (tampering)
//! and switch the server "off" and on again without touching the real process.

// This whole file is test code: an unwrap here is how a test reports failure.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;
use tessera_core::clock::{Clock, SystemClock};
mod pi_peer;
use pi_peer::{Peer, peer};
use tessera_core::push::{
    Decision, PendingRequests, PrivacyIdeaBackend, PushAccount, PushBackend, PushEnrolment,
    PushError, PushEvent, PushRequest, PushSession, ScheduleConfig,
};

/// Undoes a test's changes on the shared server even when the test fails.
struct Cleanup<'a> {
    peer: &'a Peer,
    serial: Option<String>,
    config: Vec<&'static str>,
    policies: Vec<&'static str>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(serial) = &self.serial {
            self.peer.delete_token(serial);
        }
        for key in &self.config {
            self.peer.delete_config(key);
        }
        for name in &self.policies {
            self.peer.delete_policy(name);
        }
    }
}

fn now() -> u64 {
    SystemClock.now()
}

/// Test backend: 2048-bit device keys keep debug-build tests quick; the first test below
/// enrols with the real 4096-bit default.
fn backend() -> PrivacyIdeaBackend {
    PrivacyIdeaBackend::new().unwrap().with_key_bits(2048)
}

/// Enrols a new token for alice; returns the account and a cleanup guard.
fn enrolled<'a>(peer: &'a Peer, backend: &PrivacyIdeaBackend) -> (PushAccount, Cleanup<'a>) {
    let link = peer.enrol_link();
    let enrolment = PushEnrolment::parse(&link).unwrap();
    let cleanup =
        Cleanup { peer, serial: Some(enrolment.serial.clone()), config: vec![], policies: vec![] };
    let account = backend.enrol(&enrolment, now(), now()).unwrap();
    (account, cleanup)
}

/// Polls until a request shows up (the trigger is committed before it returns, so the first
/// poll normally sees it; a couple of retries absorb a slow server).
fn wait_for_request(backend: &PrivacyIdeaBackend, account: &PushAccount) -> PushRequest {
    for _ in 0..5 {
        let mut requests = backend.poll(account, now()).unwrap();
        if let Some(request) = requests.pop() {
            assert!(requests.is_empty(), "one trigger, one request: {requests:?}");
            return request;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the triggered request never appeared");
}

#[test]
fn enrols_from_the_qr_link_and_approves_a_login() {
    let peer = peer();
    let backend = PrivacyIdeaBackend::new().unwrap(); // real 4096-bit device key
    let link = peer.enrol_link();
    let enrolment = PushEnrolment::parse(&link).unwrap();
    assert!(enrolment.insecure_transport(), "the test server is plain HTTP on loopback");
    let _cleanup = Cleanup {
        peer: &peer,
        serial: Some(enrolment.serial.clone()),
        config: vec![],
        policies: vec![],
    };
    let account = backend.enrol(&enrolment, now(), now()).unwrap();
    assert_eq!(account.serial, enrolment.serial);

    // What the vault stores is enough to carry on after a restart.
    let stored = serde_json::to_string(&account).unwrap();
    let account: PushAccount = serde_json::from_str(&stored).unwrap();

    assert!(backend.poll(&account, now()).unwrap().is_empty(), "nothing pending yet");
    let (tid, _) = peer.trigger(&account.serial);
    let request = wait_for_request(&backend, &account);
    assert_eq!(request.serial, account.serial);
    assert_eq!(request.title, "privacyIDEA");
    // The auth policy's text is "Login by {user} from {client_ip}?"; {user} is the given name.
    assert_eq!(request.question, "Login by Alice from 127.0.0.1?");
    assert!(request.require_presence.is_none());
    assert!(request.decline_reason_supported, "3.14 advertises decline reasons");
    assert_eq!(peer.outcome(&tid), "pending");

    backend.answer(&account, &request, &Decision::Approve { answer: None }).unwrap();
    assert_eq!(peer.outcome(&tid), "accept");
    assert!(backend.poll(&account, now()).unwrap().is_empty(), "answered requests are gone");
    // Answering twice is refused: the challenge is single use.
    let again = backend.answer(&account, &request, &Decision::Approve { answer: None });
    assert!(matches!(again, Err(PushError::AnswerRejected { .. })), "{again:?}");
}

#[test]
fn denies_a_login() {
    let peer = peer();
    let backend = backend();
    let (account, _cleanup) = enrolled(&peer, &backend);
    let (tid, _) = peer.trigger(&account.serial);
    let request = wait_for_request(&backend, &account);
    backend.answer(&account, &request, &Decision::Deny).unwrap();
    assert_eq!(peer.outcome(&tid), "declined");
    assert!(backend.poll(&account, now()).unwrap().is_empty());
}

#[test]
fn not_me_declines_with_reason_unknown_trigger() {
    let peer = peer();
    let backend = backend();
    let (account, _cleanup) = enrolled(&peer, &backend);
    let (tid, _) = peer.trigger(&account.serial);
    let request = wait_for_request(&backend, &account);
    backend.answer(&account, &request, &Decision::NotMe).unwrap();
    assert_eq!(peer.outcome(&tid), "declined");
    let audit = peer.audit(&account.serial);
    assert!(
        audit
            .contains(&format!("transaction_id: {tid}, status: declined, reason: unknown_trigger")),
        "the server recorded the reason: {audit}"
    );
}

#[test]
fn number_matching_accepts_the_right_choice_and_refuses_a_wrong_one() {
    let peer = peer();
    let backend = backend();
    let (account, mut cleanup) = enrolled(&peer, &backend);
    cleanup.policies.push("push_presence_test");
    peer.set_policy("push_presence_test", "authentication", "push_require_presence");

    let (tid, body) = peer.trigger(&account.serial);
    let request = wait_for_request(&backend, &account);
    let options = request.require_presence.clone().expect("the request asks for a choice");
    assert_eq!(options.len(), 3, "{options:?}");
    // The login screen shows the right choice; the admin API tells the test what it is.
    let right = body.to_string();
    let right =
        options.iter().find(|o| right.contains(&format!("\"presence_answer\":\"{o}\""))).cloned();
    let right = right.expect("triggerchallenge reveals the presence answer");
    let wrong = options.iter().find(|o| **o != right).unwrap().clone();

    // Our own checks first: no choice, or one not offered, never reaches the server.
    let missing = backend.answer(&account, &request, &Decision::Approve { answer: None });
    assert!(matches!(missing, Err(PushError::AnswerRequired { .. })), "{missing:?}");
    let invented =
        backend.answer(&account, &request, &Decision::Approve { answer: Some("ZZ".into()) });
    assert!(matches!(invented, Err(PushError::AnswerNotOffered { .. })), "{invented:?}");

    let refused = backend.answer(&account, &request, &Decision::Approve { answer: Some(wrong) });
    assert!(matches!(refused, Err(PushError::AnswerRejected { .. })), "{refused:?}");
    assert_eq!(peer.outcome(&tid), "pending", "a wrong choice does not log in");

    backend.answer(&account, &request, &Decision::Approve { answer: Some(right) }).unwrap();
    assert_eq!(peer.outcome(&tid), "accept");
}

#[test]
fn expired_requests_are_neither_shown_nor_answerable() {
    let peer = peer();
    let validity = 3;
    let backend = backend().with_challenge_validity(validity);
    let (account, mut cleanup) = enrolled(&peer, &backend);
    cleanup.config.push("PushChallengeValidityTime");
    peer.set_config("PushChallengeValidityTime", &validity.to_string());

    let (tid, _) = peer.trigger(&account.serial);
    let mut pending = PendingRequests::new();
    let t0 = now();
    let fresh =
        pending.merge_poll(&account.serial, backend.poll(&account, t0).unwrap(), t0).arrived;
    assert_eq!(fresh.len(), 1);
    let request = fresh[0].clone();
    assert_eq!(request.expires, t0 + validity);

    std::thread::sleep(Duration::from_secs(validity + 2));
    let t1 = now();
    let expired = pending.remove_expired(t1);
    assert_eq!(expired.len(), 1, "the local countdown hides it");
    assert!(backend.poll(&account, t1).unwrap().is_empty(), "the server no longer lists it");
    let late = backend.answer(&account, &request, &Decision::Approve { answer: None });
    assert!(matches!(late, Err(PushError::AnswerRejected { .. })), "{late:?}");
    assert_ne!(peer.outcome(&tid), "accept");
}

#[test]
fn a_fast_clock_is_reported_with_its_offset() {
    let peer = peer();
    let backend = backend();
    let (account, _cleanup) = enrolled(&peer, &backend);
    let skew = 192;
    let err = backend.poll(&account, now() + skew).unwrap_err();
    let PushError::ClockSkew { offset_seconds, .. } = err else { panic!("{err:?}") };
    assert!((skew as i64 - 2..=skew as i64 + 2).contains(&offset_seconds), "{offset_seconds}");
    let err = backend.poll(&account, now() - 3600).unwrap_err();
    assert!(
        err.to_string().contains("your clock is 1 h 0 min slow")
            || err.to_string().contains("59 min"),
        "{err}"
    );
    // Within the window the same account polls fine.
    assert!(backend.poll(&account, now() + 20).is_ok());
}

#[test]
fn a_wrong_enrollment_credential_is_refused() {
    let peer = peer();
    let link = peer.enrol_link();
    let mut enrolment = PushEnrolment::parse(&link).unwrap();
    let _cleanup = Cleanup {
        peer: &peer,
        serial: Some(enrolment.serial.clone()),
        config: vec![],
        policies: vec![],
    };
    enrolment.enrollment_credential = "0".repeat(40);
    let err = backend().enrol(&enrolment, now(), now()).unwrap_err();
    assert!(matches!(err, PushError::Refused { status: 400, .. }), "{err:?}");
    assert!(err.to_string().contains("ERR905"), "{err}");
    // An expired link fails before any network traffic or key generation.
    let err = backend().enrol(&enrolment, now() - 11 * 60, now()).unwrap_err();
    assert!(matches!(err, PushError::EnrolmentExpired { ttl_minutes: 10 }), "{err:?}");
}

/// What the proxy does with the next responses.
const FORWARD: u8 = 0;
const TAMPER_QUESTION: u8 = 1;
const TAMPER_CAPABILITIES: u8 = 2;
const TAMPER_PRESENCE: u8 = 3;

/// A forwarding HTTP proxy on 127.0.0.1 that can alter poll answers, and be stopped and
/// restarted on the same port to play a server that goes away and comes back. Written on
/// std's TcpListener (one request per connection) so that "stopped" means the port is
/// closed and connections are refused, exactly like a server that is down.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    upstream: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(upstream: &str) -> Self {
        let mut proxy = Self {
            port: 0,
            mode: Arc::new(AtomicU8::new(FORWARD)),
            upstream: upstream.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        proxy.listen();
        proxy
    }

    fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        self.stop.store(false, Ordering::SeqCst);
        let (stop, mode, upstream) = (self.stop.clone(), self.mode.clone(), self.upstream.clone());
        self.thread = Some(std::thread::spawn(move || {
            let http = Client::new();
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        forward(&http, &upstream, mode.load(Ordering::SeqCst), stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }));
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ttype/push", self.port)
    }
}

/// Relays one HTTP/1.1 request to `upstream` and its answer back, altering poll answers as
/// `mode` says.
fn forward(http: &Client, upstream: &str, mode: u8, stream: TcpStream) {
    stream.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned());
    let (mut length, mut content_type) = (0, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "content-type" => content_type = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method.clone(), format!("{upstream}{target}")).body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let answer = request.send().unwrap();
    let status = answer.status().as_u16();
    let date = answer.headers().get("date").map(|d| d.to_str().unwrap().to_owned());
    let mut text = answer.text().unwrap();
    if method == reqwest::Method::GET && mode != FORWARD {
        let mut json: Value = serde_json::from_str(&text).unwrap();
        if let Some(list) = json.pointer_mut("/result/value").and_then(Value::as_array_mut) {
            for c in list {
                match mode {
                    TAMPER_QUESTION => c["question"] = "Login by Alice from your office?".into(),
                    TAMPER_CAPABILITIES => {
                        c["capabilities"] = r#"{"decline_reason": false}"#.into();
                    }
                    _ => c["require_presence"] = "AA,BB,CC".into(),
                }
            }
        }
        text = json.to_string();
    }
    let date = date.map(|d| format!("Date: {d}\r\n")).unwrap_or_default();
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{date}Content-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(text.as_bytes()));
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn tampered_challenges_are_dropped() {
    let peer = peer();
    let backend = backend();
    let (mut account, _cleanup) = enrolled(&peer, &backend);
    let proxy = Proxy::start(&peer.url);
    account.url = proxy.url();

    let (tid, _) = peer.trigger(&account.serial);
    for how in [TAMPER_QUESTION, TAMPER_CAPABILITIES, TAMPER_PRESENCE] {
        proxy.mode.store(how, Ordering::SeqCst);
        let shown = backend.poll(&account, now()).unwrap();
        assert!(shown.is_empty(), "mode {how}: a tampered challenge was shown: {shown:?}");
    }
    proxy.mode.store(FORWARD, Ordering::SeqCst);
    let genuine = backend.poll(&account, now()).unwrap();
    assert_eq!(genuine.len(), 1, "the untouched challenge verifies through the same proxy");
    backend.answer(&account, &genuine[0], &Decision::Approve { answer: None }).unwrap();
    assert_eq!(peer.outcome(&tid), "accept");
}

#[test]
fn a_server_that_is_down_gives_a_clear_error_and_nothing_is_lost() {
    let peer = peer();
    let backend = backend();
    let (mut account, _cleanup) = enrolled(&peer, &backend);
    let mut proxy = Proxy::start(&peer.url);
    account.url = proxy.url();
    let stored = serde_json::to_string(&account).unwrap();

    let (tid, _) = peer.trigger(&account.serial);
    proxy.stop();
    let err = backend.poll(&account, now()).unwrap_err();
    let server = format!("127.0.0.1:{}", proxy.port);
    assert!(matches!(err, PushError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with(&format!("cannot reach the push server {server}: ")), "{text}");
    assert!(text.contains("Connection refused"), "names the cause: {text}");
    assert!(!text.contains("signature"), "no request details leak: {text}");

    // An answer to a server that is down fails the same way and can be sent again later.
    let request = {
        proxy.listen();
        let r = wait_for_request(&backend, &account);
        proxy.stop();
        r
    };
    let mut via_proxy = request.clone();
    via_proxy.answer_url = proxy.url();
    let err =
        backend.answer(&account, &via_proxy, &Decision::Approve { answer: None }).unwrap_err();
    assert!(matches!(err, PushError::Unreachable { .. }), "{err:?}");
    assert_eq!(peer.outcome(&tid), "pending");

    // The server comes back: the stored account still works and the request is still there.
    proxy.listen();
    assert_eq!(server, format!("127.0.0.1:{}", proxy.port), "same address as before");
    let account: PushAccount = serde_json::from_str(&stored).unwrap();
    let again = wait_for_request(&backend, &account);
    assert_eq!(again.id, request.id);
    backend.answer(&account, &via_proxy, &Decision::Approve { answer: None }).unwrap();
    assert_eq!(peer.outcome(&tid), "accept");
}

#[test]
fn a_session_reports_arrivals_and_records_decisions() {
    let peer = peer();
    let backend = backend();
    let (account, _cleanup) = enrolled(&peer, &backend);
    let serial = account.serial.clone();
    let now_ms = || now() * 1000;
    let mut session = PushSession::new(
        vec![Box::new(backend)],
        ScheduleConfig::default(),
        tessera_core::push::random_seed(),
    );
    session.add_account(account, now_ms());
    assert!(session.tick(now_ms()).is_empty(), "nothing pending yet");

    let (tid, _) = peer.trigger(&serial);
    session.poll_soon(now_ms());
    std::thread::sleep(Duration::from_millis(1100)); // the minimum gap between polls
    let events = session.tick(now_ms());
    let [PushEvent::Arrived(request)] = &events[..] else { panic!("{events:?}") };
    let item = session.answer(request.short_id(), Decision::NotMe, None, now_ms()).unwrap();
    assert_eq!(item.decision, Some(Decision::NotMe));
    assert!(item.accepted);
    assert_eq!(peer.outcome(&tid), "declined");
    assert!(session.pending().is_empty());
}

#[test]
fn a_session_retries_with_back_off_until_the_server_is_back() {
    let peer = peer();
    let backend = backend();
    let (mut account, _cleanup) = enrolled(&peer, &backend);
    let mut proxy = Proxy::start(&peer.url);
    account.url = proxy.url();
    let serial = account.serial.clone();
    let now_ms = || now() * 1000;
    let mut session = PushSession::new(vec![Box::new(backend)], ScheduleConfig::default(), 1);
    session.add_account(account, now_ms());

    let (tid, _) = peer.trigger(&serial);
    proxy.stop();
    let mut delays = Vec::new();
    for _ in 0..3 {
        // Each failure pushes the next attempt further out; poll regardless to see it grow.
        let events = session.poll_all(now_ms());
        let [PushEvent::Failed { retry_in_ms, error, .. }] = &events[..] else {
            panic!("{events:?}")
        };
        assert!(matches!(error, PushError::Unreachable { .. }), "{error}");
        delays.push(*retry_in_ms);
    }
    assert!(delays[2] >= 12_000 && delays[2] <= 24_000, "third back-off step: {delays:?}");

    proxy.listen();
    session.poll_soon(now_ms());
    std::thread::sleep(Duration::from_millis(1100));
    let events = session.tick(now_ms());
    assert!(matches!(&events[0], PushEvent::Recovered { serial: s } if *s == serial), "{events:?}");
    let PushEvent::Arrived(request) = &events[1] else { panic!("{events:?}") };
    let id = request.id.clone();
    session.answer(&id, Decision::Approve { answer: None }, None, now_ms()).unwrap();
    assert_eq!(peer.outcome(&tid), "accept");
}

/// Serves every connection over TLS with a fresh self-signed certificate for 127.0.0.1 and
/// answers like privacyIDEA refusing a poll, so a client that gets that far has completed a
/// TLS handshake.
fn self_signed_https_server() -> u16 {
    tessera_core::push::install_crypto_provider();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, stream.unwrap());
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            // A client that rejects the certificate aborts the handshake: read fails.
            while !head.ends_with(b"\r\n\r\n") {
                if tls.read(&mut byte).map_or(true, |n| n == 0) {
                    break;
                }
                head.push(byte[0]);
            }
            let body = r#"{"result":{"status":false,"error":{"code":10,"message":"ERR10: Could not verify signature!"}}}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 400 BAD REQUEST\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

#[test]
fn https_certificates_are_checked_unless_sslverify_is_off_on_loopback() {
    let port = self_signed_https_server();
    let backend = backend();
    let mut account = PushAccount {
        backend: tessera_core::push::PushBackendKind::PrivacyIdea,
        serial: "PIPU0000TLS".into(),
        url: format!("https://127.0.0.1:{port}/ttype/push"),
        sslverify: true,
        device_key: tessera_core::push::DeviceKey::generate_with_bits(2048).unwrap(),
        server_public_key: vec![],
        issuer: "test".into(),
        label: "tls".into(),
        enrolled_at: 0,
        require_password: false,
    };
    let err = backend.poll(&account, now()).unwrap_err();
    let PushError::Unreachable { detail, .. } = &err else { panic!("{err:?}") };
    assert!(detail.contains("certificate"), "names the certificate problem: {err}");

    account.sslverify = false;
    let err = backend.poll(&account, now()).unwrap_err();
    assert!(
        matches!(&err, PushError::Refused { status: 400, message, .. } if message.starts_with("ERR10")),
        "the TLS handshake succeeded and the server's answer was read: {err:?}"
    );
}
