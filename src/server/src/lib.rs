//! `tessera-server`: Tessera's push server. It speaks the `tessera-push-v1` protocol specified
//! in [`tessera_core::push::tessera`] (message formats, signed byte strings, the login state
//! machine) to devices, and a small JSON API to relying parties (the services users log in
//! to). [`router`] builds the whole HTTP surface so tests can drive it without a socket.
//!
//! # Relying-party API
//! Every call carries `Authorization: Bearer API_KEY`. The first start writes the operator's
//! key (every relying party) to `DATA/api-key`; `tessera-server keys add NAME --rp RP` makes
//! a key for one relying party, which may create logins (`rp`) and enrolments (`issuer`)
//! only for that one (`403` otherwise; it is the default when the body names none) and reads
//! only its own logins; `keys list` and `keys revoke NAME` ([`keys`]). Errors are
//! `{"error": "..."}` with a 4xx status.
//!
//! | call | body / query | answer |
//! |---|---|---|
//! | `POST /rp/v1/users/{user}/enrol` | `{"issuer"?}` | `{"uri", "device", "expires"}`: the enrolment QR URI |
//! | `POST /rp/v1/logins` | `{"user", "rp"?, "mode"?: approve\|pick\|code, "context"?: {ip, location, app, user_agent}, "expires_in"?}` | `{"id", "mode", "display": {"number"?\|"code"?}, "created", "expires"}` (show `display` on the login screen) |
//! | `GET /rp/v1/logins/{id}?wait=S` | long-poll ≤ 25 s | `{"id", "user", "rp", "state", "decided_at", "device", "device_public_key", "decision"}` |
//! | `GET /rp/v1/users/{user}/devices` | | `[{"id", "created", "revoked", "public_key"}]` |
//! | `DELETE /rp/v1/users/{user}/devices/{id}` | | `{"revoked": true}` |
//! | `GET /rp/v1/audit?user=U&after=N` | | `[{"id", "at", "event", "user", "detail"}]` |
//! | `GET /health` | no key | `{"status": "ok"}` |
//!
//! `state` is `pending`, `approved`, `denied`, `not_me` or `expired`: the server's word.
//! Before letting a user in, check `decision` (the device's signed decision) with
//! [`verify_outcome`] / `SignedDecision::verify_approval` against the device keys you pinned
//! (from the device list, at enrolment or first use: not `device_public_key` of the same
//! answer), the login id you created, the user and the number or code you showed; then
//! neither this server nor its database can forge an approval (see "What a relying party
//! can verify" in the protocol docs for what this does and does not prove).
//! Creating a login answers `404` when the user has no active device, `429` when the user is
//! muted after a "not me" (`muted_until` in the body), has too many outstanding logins, or
//! the API key exceeds its rate.
//!
//! # Defences
//! Push fatigue (a user tapping "approve" to make the prompts stop): a login whose relying
//! party names no mode is in `code` mode ([`Config::default_mode`]); at most
//! [`Config::max_per_hour`] logins per user per hour and [`Config::max_since_success`] since
//! the user's last approval (`429` beyond); after [`Config::escalate_after_denials`]
//! denials since the last approval, every new login of the user is escalated to `code`
//! (the answer's `mode` says so); "not me" expires all the user's other open logins.
//! Expiry (default 120 s), single use (conditional updates), at most
//! [`Config::max_outstanding`] pending logins per user, "not me" mutes the user for
//! [`Config::mute_seconds`], token-bucket rate limits per API key and per device, replay
//! protection of device requests (timestamp window plus nonce table), server-signed
//! challenges, device-signed decisions checked against the exact challenge sent.
//! Nothing unauthenticated is stored or logged: device ids must be 1-64 hex digits before
//! they are looked up; an enrolment does no write until its credential matches an open
//! enrolment, and is rate-limited per client address; device bodies are capped at 64 KiB;
//! rate-limit buckets are pruned and capped. Headers are authenticated before a body is
//! read: a wrong API key, an unknown or revoked device or a malformed signature header is
//! refused without waiting for the body. Connections are capped in all and per client
//! address ([`conn`]), every request has a 40 s deadline (slow bodies), TLS handshakes 10 s;
//! a device holds at most 4 long-polls, and a long-poll ends when its device is revoked.
//!
//! # TLS
//! Anything but loopback needs HTTPS: clients refuse plain HTTP and unchecked certificates
//! to non-loopback hosts. Two ways:
//! - in the server: `serve --tls-cert chain.pem --tls-key key.pem` ([`tls`]: rustls on ring,
//!   HTTP/1.1; the public URL then defaults to `https://LISTEN`);
//! - behind a TLS-terminating reverse proxy (nginx, Caddy) that forwards to a loopback
//!   listener, with `--public-url https://push.example.com`. Let the proxy pass long-polls
//!   (reads of at least 30 s, no response buffering), e.g. with nginx:
//!   `location / { proxy_pass http://127.0.0.1:8787; proxy_read_timeout 60s; proxy_buffering off; }`
//!   With `--trusted-proxy 127.0.0.1` the per-address limits key on the client address the
//!   proxy writes into `X-Forwarded-For` ([`proxy`]: rightmost hop the proxy vouches for;
//!   other peers' headers are ignored); without it every client behind the proxy shares
//!   the proxy's enrolment bucket. The relying party supplies a login's IP itself.
//!
//! # Demo relying party
//! `serve --demo` adds "Example Corp" pages at `/demo` ([`demo`]) for trying the whole loop
//! on one machine: enrol by QR, log in, approve in the app. The pages act with
//! relying-party rights and have no login, so `serve` refuses `--demo` on a non-loopback
//! listen address or `--public-url` unless `--demo-allow-remote`; they answer only under a
//! loopback or the public host name (DNS rebinding), refuse cross-site `Origin`s, and their
//! forms carry an anti-CSRF token.

pub mod cli;
pub mod conn;
pub mod demo;
mod device;
mod error;
pub mod keys;
pub mod proxy;
mod rp;
mod state;
pub mod store;
pub mod tls;

use axum::Router;
use axum::routing::get;
use tessera_core::push::tessera::{self, VerificationMode};

pub use error::{ApiError, ServerError};
pub use rp::{pins_from_devices, verify_outcome};
pub use state::AppState;
pub use store::{Store, StoreError};

/// Server settings (flags, environment or config file fill them in `main`).
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL devices use to reach this server (goes into enrolment URIs).
    pub public_url: String,
    /// Issuer shown in authenticators when the relying party gives none.
    pub issuer: String,
    /// Minutes an enrolment credential stays valid.
    pub enrol_ttl_minutes: u64,
    /// Default login lifetime, seconds.
    pub login_expiry: u64,
    /// Most pending logins per user.
    pub max_outstanding: u64,
    /// How long a "not me" mutes a user, seconds.
    pub mute_seconds: u64,
    /// Mode of a login whose relying party names none (`code`: NIST SP 800-63B-4 §3.1.3
    /// no longer accepts a bare approve tap).
    pub default_mode: VerificationMode,
    /// Most logins per user in any hour (0: no cap).
    pub max_per_hour: u64,
    /// Most logins per user since the user's last approval (0: no cap).
    pub max_since_success: u64,
    /// After this many denials (deny, "not me", wrong answer) since the user's last
    /// approval, every new login of the user is in `code` mode (0: never escalate).
    pub escalate_after_denials: u64,
    /// Relying-party requests per second per API key (token bucket rate).
    pub rp_rate: f64,
    /// Relying-party burst.
    pub rp_burst: f64,
    /// Device requests per second per device.
    pub device_rate: f64,
    /// Device burst.
    pub device_burst: f64,
    /// Reverse proxies whose forwarded-for header names the client ([`proxy`]).
    pub proxies: proxy::TrustedProxies,
}

impl Config {
    /// Defaults for a server reachable at `public_url`.
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            issuer: "Tessera".into(),
            enrol_ttl_minutes: 10,
            login_expiry: tessera::DEFAULT_EXPIRY_SECONDS,
            max_outstanding: 3,
            mute_seconds: 300,
            default_mode: VerificationMode::Code,
            max_per_hour: 20,
            max_since_success: 10,
            escalate_after_denials: 1,
            rp_rate: 1000.0,
            rp_burst: 2000.0,
            device_rate: 5.0,
            device_burst: 20.0,
            proxies: proxy::TrustedProxies::default(),
        }
    }
}

/// Builds the HTTP router over `state`: `/health`, the relying-party API ([`rp`]) and the
/// device API ([`device`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(rp::health))
        .merge(rp::routes())
        .merge(device::routes())
        .layer(axum::middleware::from_fn(deadline))
        .with_state(state)
}

/// Longest any request may take once its headers are in, body included: long-polls hold at
/// most 25 s, so this ends only slow bodies and stuck requests (their connection with them).
const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(40);

async fn deadline(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::err(axum::http::StatusCode::REQUEST_TIMEOUT, "the request took too long")
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

    use std::time::{Duration, Instant};

    use super::*;
    use crate::state::system_ms;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::{Value, json};
    use tessera_core::push::DeviceKey;
    use tessera_core::push::tessera::PendingResponse;
    use tessera_core::uri::OtpUri;
    use tower::ServiceExt as _;

    fn state(config: Config) -> (AppState, String) {
        let store = Store::open(std::path::Path::new(":memory:")).unwrap();
        let state = AppState::new(store, config).unwrap();
        let key = state.bootstrap_api_key().unwrap().unwrap();
        (state, key)
    }

    async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn rp(method: &str, path: &str, key: &str, body: Value) -> Request<Body> {
        let body = body.to_string();
        Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    }

    fn device_request(
        key: &DeviceKey,
        device: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Request<Body> {
        let nonce = tessera::random_hex(16).unwrap();
        device_request_at(key, device, method, path, body, system_ms(), &nonce)
    }

    fn device_request_at(
        key: &DeviceKey,
        device: &str,
        method: &str,
        path: &str,
        body: &[u8],
        ts: u64,
        nonce: &str,
    ) -> Request<Body> {
        let message = tessera::request_message(method, path, device, ts, nonce, body);
        Request::builder()
            .method(method)
            .uri(path)
            .header(tessera::HEADER_DEVICE, device)
            .header(tessera::HEADER_TIMESTAMP, ts.to_string())
            .header(tessera::HEADER_NONCE, nonce)
            .header(tessera::HEADER_SIGNATURE, tessera::b64(&key.sign_p256(&message).unwrap()))
            .body(Body::from(body.to_vec()))
            .unwrap()
    }

    /// Enrols a device for `user` through the router; returns its id and key.
    async fn enrol(app: &Router, key: &str, user: &str) -> (String, DeviceKey) {
        let (status, reply) =
            call(app, rp("POST", &format!("/rp/v1/users/{user}/enrol"), key, json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let uri = OtpUri::parse(reply["uri"].as_str().unwrap()).unwrap();
        let e = tessera::TesseraEnrolment::from_extra(&uri.extra).unwrap().unwrap();
        let device_key = DeviceKey::generate_p256().unwrap();
        let body = serde_json::to_vec(&json!({
            "credential": e.credential,
            "public_key": tessera::b64(&device_key.p256_public_key().unwrap()),
        }))
        .unwrap();
        let (status, reply) =
            call(app, device_request(&device_key, &e.device, "POST", "/device/v1/enrol", &body))
                .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let (status, _) =
            call(app, device_request(&device_key, &e.device, "POST", "/device/v1/enrol", &body))
                .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "an enrolment credential works once");
        (e.device, device_key)
    }

    #[tokio::test]
    async fn relying_party_calls_need_a_known_api_key() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let health = Request::builder().uri("/health").body(Body::empty()).unwrap();
        assert_eq!(call(&app, health).await.0, StatusCode::OK);
        let anonymous =
            Request::builder().method("GET").uri("/rp/v1/audit").body(Body::empty()).unwrap();
        assert_eq!(call(&app, anonymous).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            call(&app, rp("GET", "/rp/v1/audit", "tsk_wrong", json!({}))).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(call(&app, rp("GET", "/rp/v1/audit", &key, json!({}))).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn logins_need_a_device_and_respect_the_outstanding_limit() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let login = json!({ "user": "alice", "mode": "pick" });
        let (status, _) = call(&app, rp("POST", "/rp/v1/logins", &key, login.clone())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no device yet");
        let (device, device_key) = enrol(&app, &key, "alice").await;
        for _ in 0..3 {
            let (status, reply) =
                call(&app, rp("POST", "/rp/v1/logins", &key, login.clone())).await;
            assert_eq!(status, StatusCode::OK, "{reply}");
            assert_eq!(reply["display"]["number"].as_str().unwrap().len(), 2);
        }
        let (status, reply) = call(&app, rp("POST", "/rp/v1/logins", &key, login)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(reply["error"].as_str().unwrap().contains("outstanding"), "{reply}");
        let (status, reply) = call(
            &app,
            device_request(&device_key, &device, "GET", "/device/v1/pending?wait=0", b""),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let pending: PendingResponse = serde_json::from_value(reply).unwrap();
        assert_eq!(pending.challenges.len(), 3);
        assert!(pending.challenges.iter().all(|c| c.challenge.options.len() == 3));
    }

    #[tokio::test]
    async fn a_burst_over_the_api_key_rate_is_refused() {
        let mut config = Config::new("http://127.0.0.1:1");
        config.rp_rate = 1.0;
        config.rp_burst = 3.0;
        let (state, key) = state(config);
        let app = router(state);
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(call(&app, rp("GET", "/rp/v1/audit", &key, json!({}))).await.0);
        }
        assert_eq!(&statuses[..3], [StatusCode::OK; 3]);
        assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    }

    #[tokio::test]
    async fn a_long_poll_returns_as_soon_as_a_login_is_created() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let (device, device_key) = enrol(&app, &key, "bob").await;
        let poll = device_request(&device_key, &device, "GET", "/device/v1/pending?wait=20", b"");
        let waiter = tokio::spawn({
            let app = app.clone();
            async move { call(&app, poll).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "the poll is held while nothing is pending");
        let started = Instant::now();
        call(&app, rp("POST", "/rp/v1/logins", &key, json!({ "user": "bob" }))).await;
        let (status, reply) = waiter.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reply["challenges"].as_array().unwrap().len(), 1);
        assert!(started.elapsed() < Duration::from_secs(10), "woken by the login, not the timeout");
    }

    /// Finding 1 of issue 13: anyone can sign an enrolment (the key is in the request), so
    /// before the fix each attempt with a fresh device id added a nonce row and a
    /// never-pruned rate-limit bucket, and a replay added an audit row.
    #[tokio::test]
    async fn unauthenticated_enrolments_leave_no_trace() {
        let (state, _key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state.clone());
        let counts =
            |s: &AppState| (s.0.limits.len(), s.0.store.count("nonces"), s.0.store.count("audit"));
        let before = counts(&state);
        let attacker = DeviceKey::generate_p256().unwrap();
        let body = serde_json::to_vec(&json!({
            "credential": "00112233445566778899aabbccddeeff",
            "public_key": tessera::b64(&attacker.p256_public_key().unwrap()),
        }))
        .unwrap();
        let huge = "a".repeat(50 * 1024);
        for i in 0..200 {
            // A well-formed, correctly signed request for a device id nobody reserved...
            let device = format!("{i:032x}");
            let (ts, nonce) = (system_ms(), tessera::random_hex(16).unwrap());
            for _ in 0..2 {
                // ...sent twice (a replay)...
                let request = device_request_at(
                    &attacker,
                    &device,
                    "POST",
                    "/device/v1/enrol",
                    &body,
                    ts,
                    &nonce,
                );
                assert_eq!(call(&app, request).await.0, StatusCode::FORBIDDEN);
            }
            // ...and one with a 50 KB device id.
            let device = format!("{i:x}{huge}");
            let request = device_request(&attacker, &device, "POST", "/device/v1/enrol", &body);
            assert_eq!(call(&app, request).await.0, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(counts(&state), before, "(rate-limit buckets, nonce rows, audit rows)");
    }

    #[test]
    fn rate_limit_buckets_stay_bounded() {
        let limits = crate::state::Limits::default();
        for i in 0..(crate::state::Limits::MAX_BUCKETS + 10) {
            limits.allow(&format!("k{i}"), 1.0, 2.0);
        }
        assert!(limits.len() <= crate::state::Limits::MAX_BUCKETS);
        // A full map still serves keys it holds.
        assert!(limits.allow("k1", 1.0, 2.0));
    }

    /// Signs and sends `decision` over the first pending challenge of `device`; returns the
    /// status and the challenge's login id.
    async fn decide(
        app: &Router,
        device: &str,
        key: &DeviceKey,
        decision: &str,
        answer: Option<&str>,
    ) -> (StatusCode, String) {
        use tessera_core::push::tessera::{AnswerRequest, SignedDecision};
        let (_, reply) =
            call(app, device_request(key, device, "GET", "/device/v1/pending?wait=0", b"")).await;
        let pending: PendingResponse = serde_json::from_value(reply).unwrap();
        let challenge = pending.challenges[0].challenge.clone();
        let message = tessera::decision_message(&challenge, decision, answer).unwrap();
        let body = serde_json::to_vec(&AnswerRequest {
            decision: SignedDecision {
                challenge: challenge.clone(),
                decision: decision.into(),
                answer: answer.map(str::to_owned),
                signature: tessera::b64(&key.sign_p256(&message).unwrap()),
            },
        })
        .unwrap();
        let request = device_request(key, device, "POST", "/device/v1/answer", &body);
        (call(app, request).await.0, challenge.id)
    }

    #[tokio::test]
    async fn a_login_that_names_no_mode_asks_for_the_code() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        enrol(&app, &key, "amy").await;
        let (status, reply) =
            call(&app, rp("POST", "/rp/v1/logins", &key, json!({ "user": "amy" }))).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["mode"], "code");
        assert_eq!(reply["display"]["code"].as_str().unwrap().len(), 6);
    }

    /// Issue 13 finding 5: before the fix "not me" left the user's other open logins
    /// approvable.
    #[tokio::test]
    async fn after_not_me_the_users_other_open_login_can_no_longer_be_approved() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let (device, device_key) = enrol(&app, &key, "ann").await;
        let login = json!({ "user": "ann", "mode": "approve" });
        let (_, first) = call(&app, rp("POST", "/rp/v1/logins", &key, login.clone())).await;
        let (_, second) = call(&app, rp("POST", "/rp/v1/logins", &key, login)).await;
        let (status, id) = decide(&app, &device, &device_key, "not_me", None).await;
        assert_eq!(status, StatusCode::OK);
        // The device answered one of the two (same second: in id order); the other stays open.
        let other = if id == first["id"] { &second } else { &first };
        let (_, reply) =
            call(&app, device_request(&device_key, &device, "GET", "/device/v1/pending", b""))
                .await;
        assert_eq!(reply["challenges"], json!([]), "nothing left to approve");
        let other_id = other["id"].as_str().unwrap();
        let (_, outcome) =
            call(&app, rp("GET", &format!("/rp/v1/logins/{other_id}"), &key, json!({}))).await;
        assert_eq!(outcome["state"], "expired");
    }

    #[tokio::test]
    async fn a_denial_escalates_the_users_next_logins_to_code_until_an_approval() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let (device, device_key) = enrol(&app, &key, "ben").await;
        let login = json!({ "user": "ben", "mode": "approve" });
        let (_, reply) = call(&app, rp("POST", "/rp/v1/logins", &key, login.clone())).await;
        assert_eq!(reply["mode"], "approve", "no denial yet: the relying party's choice");
        assert_eq!(decide(&app, &device, &device_key, "deny", None).await.0, StatusCode::OK);
        let (_, reply) = call(&app, rp("POST", "/rp/v1/logins", &key, login.clone())).await;
        assert_eq!(reply["mode"], "code", "escalated after the denial");
        let code = reply["display"]["code"].as_str().unwrap().to_owned();
        let (status, _) = decide(&app, &device, &device_key, "approve", Some(&code)).await;
        assert_eq!(status, StatusCode::OK);
        let (_, reply) = call(&app, rp("POST", "/rp/v1/logins", &key, login)).await;
        assert_eq!(reply["mode"], "approve", "an approval ends the escalation");
    }

    #[tokio::test]
    async fn pushes_are_capped_since_the_last_approval_and_per_hour() {
        let mut config = Config::new("http://127.0.0.1:1");
        config.max_since_success = 2;
        config.max_per_hour = 4;
        config.escalate_after_denials = 0;
        let (state, key) = state(config);
        let app = router(state);
        let (device, device_key) = enrol(&app, &key, "cal").await;
        let login = json!({ "user": "cal", "mode": "approve" });
        let create = || call(&app, rp("POST", "/rp/v1/logins", &key, login.clone()));
        assert_eq!(create().await.0, StatusCode::OK);
        assert_eq!(decide(&app, &device, &device_key, "deny", None).await.0, StatusCode::OK);
        assert_eq!(create().await.0, StatusCode::OK);
        let (status, reply) = create().await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(reply["error"].as_str().unwrap().contains("last approval"), "{reply}");
        assert_eq!(decide(&app, &device, &device_key, "approve", None).await.0, StatusCode::OK);
        assert_eq!(create().await.0, StatusCode::OK, "an approval resets that count");
        assert_eq!(decide(&app, &device, &device_key, "approve", None).await.0, StatusCode::OK);
        assert_eq!(create().await.0, StatusCode::OK);
        let (status, reply) = create().await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(reply["error"].as_str().unwrap().contains("hour"), "{reply}");
    }

    /// Issue 13 finding 6: a revoked device kept its long-poll, and would have been sent
    /// new challenges, until the poll's 25 s ran out.
    #[tokio::test]
    async fn a_device_revoked_during_its_long_poll_gets_nothing_more() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let (device, device_key) = enrol(&app, &key, "dan").await;
        let poll = device_request(&device_key, &device, "GET", "/device/v1/pending?wait=20", b"");
        let waiter = tokio::spawn({
            let app = app.clone();
            async move { call(&app, poll).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let revoke = rp("DELETE", &format!("/rp/v1/users/dan/devices/{device}"), &key, json!({}));
        assert_eq!(call(&app, revoke).await.0, StatusCode::OK);
        let (status, reply) = waiter.await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
        assert!(started.elapsed() < Duration::from_secs(10), "ended by the revocation");
    }

    #[tokio::test]
    async fn a_device_holds_a_bounded_number_of_long_polls() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let (device, device_key) = enrol(&app, &key, "eve").await;
        let mut held = Vec::new();
        for _ in 0..crate::state::MAX_POLLS_PER_DEVICE {
            let poll =
                device_request(&device_key, &device, "GET", "/device/v1/pending?wait=5", b"");
            held.push(tokio::spawn({
                let app = app.clone();
                async move { call(&app, poll).await }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let extra = device_request(&device_key, &device, "GET", "/device/v1/pending?wait=5", b"");
        assert_eq!(call(&app, extra).await.0, StatusCode::TOO_MANY_REQUESTS);
        for poll in held {
            poll.abort();
        }
    }

    /// Issue 13 finding 7: a key for relying party "payroll" tries to act for "crm".
    #[tokio::test]
    async fn a_key_for_one_relying_party_cannot_act_for_another() {
        let (state, operator) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state.clone());
        enrol(&app, &operator, "alice").await;
        let payroll =
            keys::create(&state.0.store, "payroll", Some("payroll"), state.now()).unwrap();
        let counts = |s: &AppState| {
            (s.0.store.count("logins"), s.0.store.count("enrolments"), s.0.store.count("audit"))
        };
        let before = counts(&state);
        let login = json!({ "user": "alice", "rp": "crm" });
        let (status, reply) = call(&app, rp("POST", "/rp/v1/logins", &payroll, login)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
        let enrolment = json!({ "issuer": "crm" });
        let (status, reply) =
            call(&app, rp("POST", "/rp/v1/users/alice/enrol", &payroll, enrolment)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
        assert_eq!(counts(&state), before, "(logins, enrolments, audit rows): nothing stored");

        // Its own relying party works, and is the default.
        let (status, mine) =
            call(&app, rp("POST", "/rp/v1/logins", &payroll, json!({ "user": "alice" }))).await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        let id = mine["id"].as_str().unwrap();
        let (_, outcome) =
            call(&app, rp("GET", &format!("/rp/v1/logins/{id}"), &payroll, json!({}))).await;
        assert_eq!(outcome["rp"], "payroll");
        // Another relying party's login is not its to read.
        let crm = json!({ "user": "alice", "rp": "crm" });
        let (_, theirs) = call(&app, rp("POST", "/rp/v1/logins", &operator, crm)).await;
        let path = format!("/rp/v1/logins/{}", theirs["id"].as_str().unwrap());
        assert_eq!(
            call(&app, rp("GET", &path, &payroll, json!({}))).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(call(&app, rp("GET", &path, &operator, json!({}))).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_revoked_api_key_is_refused() {
        let (state, _) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state.clone());
        let key = keys::create(&state.0.store, "crm", Some("crm"), state.now()).unwrap();
        assert_eq!(call(&app, rp("GET", "/rp/v1/audit", &key, json!({}))).await.0, StatusCode::OK);
        assert!(state.0.store.api_keys().unwrap().iter().any(|k| k.last_used.is_some()));
        assert_eq!(state.0.store.revoke_api_key("crm", state.now()).unwrap(), 1);
        let (status, reply) = call(&app, rp("GET", "/rp/v1/audit", &key, json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(reply["error"].as_str().unwrap().contains("revoked"), "{reply}");
    }

    /// Issue 13 finding 7: enrolling a device (maybe by someone holding an API key) must not
    /// go unnoticed by the user's devices.
    #[tokio::test]
    async fn a_new_device_is_announced_once_to_the_users_other_devices_only() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let (first, first_key) = enrol(&app, &key, "fay").await;
        let (other, other_key) = enrol(&app, &key, "gus").await;
        let poll = |device: &str, device_key: &DeviceKey, query: &str| {
            device_request(device_key, device, "GET", &format!("/device/v1/pending?{query}"), b"")
        };
        let held = poll(&first, &first_key, "wait=20&notices=1");
        let waiter = tokio::spawn({
            let app = app.clone();
            async move { call(&app, held).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let (second, second_key) = enrol(&app, &key, "fay").await;
        let (status, reply) = waiter.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert!(started.elapsed() < Duration::from_secs(10), "woken by the enrolment");
        let notices = reply["notices"].as_array().unwrap();
        assert_eq!(notices.len(), 1, "{reply}");
        assert_eq!(notices[0]["kind"], "device_enrolled");
        assert_eq!(notices[0]["user"], "fay");
        assert_eq!(notices[0]["device"], second.as_str());
        for (device, device_key, query, what) in [
            (&first, &first_key, "notices=1", "a notice is sent once"),
            (&second, &second_key, "notices=1", "a device does not hear of its own enrolment"),
            (&other, &other_key, "notices=1", "another user's device hears nothing"),
        ] {
            let (status, reply) = call(&app, poll(device, device_key, query)).await;
            assert_eq!(status, StatusCode::OK);
            assert!(reply.get("notices").is_none(), "{what}: {reply}");
        }
    }

    #[tokio::test]
    async fn notices_wait_for_a_poll_that_asks_for_them() {
        let (state, key) = state(Config::new("http://127.0.0.1:1"));
        let app = router(state);
        let (first, first_key) = enrol(&app, &key, "hal").await;
        enrol(&app, &key, "hal").await;
        let poll = |query: &str| {
            device_request(&first_key, &first, "GET", &format!("/device/v1/pending?{query}"), b"")
        };
        let (_, reply) = call(&app, poll("wait=0")).await;
        assert!(reply.get("notices").is_none(), "not asked for: {reply}");
        let (_, reply) = call(&app, poll("wait=0&notices=1")).await;
        assert_eq!(reply["notices"].as_array().unwrap().len(), 1, "still there: {reply}");
    }
}
