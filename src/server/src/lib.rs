//! `tessera-server`: Tessera's push server. It speaks the `tessera-push-v1` protocol specified
//! in [`tessera_core::push::tessera`] (message formats, signed byte strings, the login state
//! machine) to devices, and a small JSON API to relying parties (the services users log in
//! to). [`router`] builds the whole HTTP surface so tests can drive it without a socket.
//!
//! # Relying-party API
//! Every call carries `Authorization: Bearer API_KEY` (the first start writes one to
//! `DATA/api-key`). Errors are `{"error": "..."}` with a 4xx status.
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
//! `state` is `pending`, `approved`, `denied`, `not_me` or `expired`. `decision` is the
//! device's [`SignedDecision`]; check it yourself with
//! [`SignedDecision::verify`] and `device_public_key` (base64url SEC1 point), or by the
//! procedure in the protocol docs, so that not even this server can forge an approval.
//! Creating a login answers `404` when the user has no active device, `429` when the user is
//! muted after a "not me" (`muted_until` in the body), has too many outstanding logins, or
//! the API key exceeds its rate.
//!
//! # Defences
//! Expiry (default 120 s), single use (conditional updates), at most
//! [`Config::max_outstanding`] pending logins per user, "not me" mutes the user for
//! [`Config::mute_seconds`], token-bucket rate limits per API key and per device, replay
//! protection of device requests (timestamp window plus nonce table), server-signed
//! challenges, device-signed decisions checked against the exact challenge sent.
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
//!   (the server reads no forwarded-for headers; the relying party supplies the login's IP).
//!
//! # Demo relying party
//! `serve --demo` adds "Example Corp" pages at `/demo` ([`demo`]) for trying the whole loop
//! on one machine: enrol by QR, log in, approve in the app. Loopback only unless
//! `--demo-allow-remote`: the pages act with relying-party rights and have no login.

pub mod demo;
pub mod store;
pub mod tls;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::otp::{OtpParams, Secret};
use tessera_core::push::tessera::{
    self, AnswerRequest, AnswerResponse, Challenge, EnrolRequest, EnrolResponse, PendingResponse,
    SignedChallenge, SignedDecision, VerificationMode,
};
use tessera_core::push::{DeviceKey, RequestContext};
use tessera_core::uri::OtpUri;
use tokio::sync::{Notify, watch};

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
    /// Relying-party requests per second per API key (token bucket rate).
    pub rp_rate: f64,
    /// Relying-party burst.
    pub rp_burst: f64,
    /// Device requests per second per device.
    pub device_rate: f64,
    /// Device burst.
    pub device_burst: f64,
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
            rp_rate: 1000.0,
            rp_burst: 2000.0,
            device_rate: 5.0,
            device_burst: 20.0,
        }
    }
}

/// Why starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key could not be made or read.
    #[error("server key error: {0}")]
    Key(String),
}

/// A set of wake-up slots: waiters for key K sleep on slot hash(K); a change to K wakes that
/// slot. Collisions only cause a spurious re-check, and memory stays fixed however many
/// users or logins there are.
struct Hub {
    slots: Vec<Notify>,
}

impl Hub {
    fn new(n: usize) -> Self {
        Self { slots: (0..n).map(|_| Notify::new()).collect() }
    }

    fn slot(&self, key: &str) -> &Notify {
        // FNV-1a: fast, and keys are server-chosen ids or relying-party user names.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let n = u64::try_from(self.slots.len()).unwrap_or(1);
        &self.slots[usize::try_from(h % n).unwrap_or(0)]
    }

    fn wake(&self, key: &str) {
        self.slot(key).notify_waiters();
    }
}

/// Token buckets keyed by API key hash or device id.
#[derive(Default)]
struct Limits {
    buckets: Mutex<std::collections::HashMap<String, (f64, Instant)>>,
}

impl Limits {
    fn allow(&self, key: &str, rate: f64, burst: f64) -> bool {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, last) = map.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Inner {
    store: Store,
    config: Config,
    server_key: DeviceKey,
    server_public: Vec<u8>,
    users: Hub,
    logins: Hub,
    limits: Limits,
    shutdown: watch::Sender<bool>,
    clock_ms: fn() -> u64,
}

/// Shared server state: the store, keys, wake-up hubs and limits.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("public_url", &self.0.config.public_url)
            .finish_non_exhaustive()
    }
}

fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn sha256_hex(data: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

fn random_below(n: u32) -> u32 {
    // Rejection sampling: uniform in 0..n.
    let limit = u32::MAX - u32::MAX % n;
    loop {
        let mut b = [0u8; 4];
        if SystemRandom::new().fill(&mut b).is_err() {
            continue;
        }
        let v = u32::from_le_bytes(b);
        if v < limit {
            return v % n;
        }
    }
}

impl AppState {
    /// Opens the state over `store`: loads (or makes, once) the server signing key.
    pub fn new(store: Store, config: Config) -> Result<Self, ServerError> {
        let fresh = DeviceKey::generate_p256().map_err(|e| ServerError::Key(e.to_string()))?;
        let fresh_der =
            serde_json::to_value(&fresh).map_err(|e| ServerError::Key(e.to_string()))?;
        let fresh_der = fresh_der.as_str().unwrap_or_default().as_bytes().to_vec();
        let stored = store.meta_init("server_key", &fresh_der)?;
        let text = String::from_utf8(stored)
            .map_err(|_| ServerError::Key("stored key is not text".into()))?;
        let server_key: DeviceKey = serde_json::from_value(Value::String(text))
            .map_err(|e| ServerError::Key(e.to_string()))?;
        let server_public =
            server_key.p256_public_key().map_err(|e| ServerError::Key(e.to_string()))?;
        let (shutdown, _) = watch::channel(false);
        let listen_url = store.postgres_url().map(str::to_owned);
        let state = Self(Arc::new(Inner {
            store,
            config,
            server_key,
            server_public,
            users: Hub::new(16_384),
            logins: Hub::new(16_384),
            limits: Limits::default(),
            shutdown,
            clock_ms: system_ms,
        }));
        if let Some(url) = listen_url {
            // Cross-instance wake-ups: another instance's NOTIFY wakes our long-polls.
            let weak = Arc::downgrade(&state.0);
            std::thread::spawn(move || {
                Store::listen(&url, |key| {
                    let Some(inner) = weak.upgrade() else { return false };
                    if let Some(user) = key.strip_prefix("u:") {
                        inner.users.wake(user);
                    } else if let Some(id) = key.strip_prefix("l:") {
                        inner.logins.wake(id);
                    }
                    !*inner.shutdown.borrow()
                });
            });
        }
        Ok(state)
    }

    /// Wakes long-polls of `user`'s devices here and on other instances.
    fn wake_user(&self, user: &str) {
        self.0.users.wake(user);
        self.0.store.notify(&format!("u:{user}"));
    }

    /// Wakes relying-party waits for login `id` here and on other instances.
    fn wake_login(&self, id: &str) {
        self.0.logins.wake(id);
        self.0.store.notify(&format!("l:{id}"));
    }

    /// Makes an API key if there is none yet and returns it (`None` if keys exist).
    pub fn bootstrap_api_key(&self) -> Result<Option<String>, ServerError> {
        if self.0.store.api_key_count()? > 0 {
            return Ok(None);
        }
        let key = format!(
            "tsk_{}",
            tessera::random_hex(20).map_err(|e| ServerError::Key(e.to_string()))?
        );
        self.0.store.add_api_key(&sha256_hex(key.as_bytes()), "bootstrap", self.now())?;
        Ok(Some(key))
    }

    /// Adds a named API key and returns it.
    pub fn add_api_key(&self, name: &str) -> Result<String, ServerError> {
        let key = format!(
            "tsk_{}",
            tessera::random_hex(20).map_err(|e| ServerError::Key(e.to_string()))?
        );
        self.0.store.add_api_key(&sha256_hex(key.as_bytes()), name, self.now())?;
        Ok(key)
    }

    /// Ends every long-poll at once (their clients re-poll elsewhere); call when shutting down.
    pub fn begin_shutdown(&self) {
        let _ = self.0.shutdown.send(true);
    }

    /// Returns the server's public key (uncompressed P-256 point).
    pub fn server_public_key(&self) -> &[u8] {
        &self.0.server_public
    }

    fn now_ms(&self) -> u64 {
        (self.0.clock_ms)()
    }

    fn now(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// An error answer: status plus `{"error": ...}` (and extra fields).
#[derive(Debug)]
pub struct ApiError(StatusCode, Value);

fn err(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, json!({ "error": message.into() }))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        err(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Builds the HTTP router over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/rp/v1/users/{user}/enrol", post(rp_enrol))
        .route("/rp/v1/users/{user}/devices", get(rp_devices))
        .route("/rp/v1/users/{user}/devices/{id}", delete(rp_revoke))
        .route("/rp/v1/logins", post(rp_create_login))
        .route("/rp/v1/logins/{id}", get(rp_wait_login))
        .route("/rp/v1/audit", get(rp_audit))
        .route("/device/v1/enrol", post(device_enrol))
        .route("/device/v1/pending", get(device_pending))
        .route("/device/v1/answer", post(device_answer))
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.0.store.api_key_count()?;
    Ok(Json(json!({ "status": "ok" })))
}

/// Checks the bearer API key and its rate; returns the key's name.
fn rp_auth(state: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            err(StatusCode::UNAUTHORIZED, "missing API key (Authorization: Bearer ...)")
        })?;
    let hash = sha256_hex(key.trim().as_bytes());
    let name = state
        .0
        .store
        .api_key(&hash)?
        .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown API key"))?;
    let c = &state.0.config;
    if !state.0.limits.allow(&format!("rp:{hash}"), c.rp_rate, c.rp_burst) {
        return Err(err(StatusCode::TOO_MANY_REQUESTS, "rate limit for this API key exceeded"));
    }
    Ok(name)
}

fn check_user(user: &str) -> ApiResult<()> {
    if user.is_empty() || user.len() > 256 || user.chars().any(char::is_control) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "user names are 1-256 characters without control characters",
        ));
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
struct EnrolBody {
    #[serde(default)]
    issuer: Option<String>,
}

async fn rp_enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Option<Json<EnrolBody>>,
) -> ApiResult<Json<Value>> {
    rp_auth(&state, &headers)?;
    let body = body.map(|b| b.0).unwrap_or_default();
    Ok(Json(enrol_user(&state, &user, body.issuer)?))
}

/// Issues an enrolment for `user` (the relying party is already authenticated): returns
/// `{"uri", "device", "expires"}`.
fn enrol_user(state: &AppState, user: &str, issuer: Option<String>) -> ApiResult<Value> {
    check_user(user)?;
    let c = &state.0.config;
    let issuer = issuer.unwrap_or_else(|| c.issuer.clone());
    let internal = |_| err(StatusCode::INTERNAL_SERVER_ERROR, "random generator failed");
    let device = tessera::random_hex(16).map_err(internal)?;
    let credential = tessera::random_hex(16).map_err(internal)?;
    let mut secret = vec![0u8; 20];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "random generator failed"))?;
    let secret =
        Secret::from_bytes(secret).map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "secret"))?;
    let now = state.now();
    let expires = now + c.enrol_ttl_minutes * 60;
    state.0.store.add_enrolment(&device, user, &sha256_hex(credential.as_bytes()), expires)?;
    let loopback_http = c.public_url.starts_with("http://");
    let totp = OtpUri::new(issuer, user.to_owned(), OtpParams::totp(secret));
    let push = [
        ("push", tessera::URI_PROTOCOL.to_owned()),
        ("push_url", c.public_url.clone()),
        ("push_device", device.clone()),
        ("push_credential", credential),
        ("push_ttl", c.enrol_ttl_minutes.to_string()),
        ("push_sslverify", if loopback_http { "0" } else { "1" }.to_owned()),
    ];
    let fragment: Vec<String> =
        push.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
    let uri = format!("{}#{}", totp.to_uri().as_str(), fragment.join("&"));
    state.0.store.audit(now, "enrolment_issued", Some(user), &json!({ "device": device }));
    tracing::info!(user = %user, device = %device, "enrolment issued");
    Ok(json!({ "uri": uri, "device": device, "expires": expires }))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn rp_devices(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    rp_auth(&state, &headers)?;
    let list: Vec<Value> = state
        .0
        .store
        .devices(&user)?
        .into_iter()
        .map(|d| {
            json!({ "id": d.id, "created": d.created, "revoked": d.revoked,
                    "public_key": tessera::b64(&d.public_key) })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn rp_revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((user, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    rp_auth(&state, &headers)?;
    let now = state.now();
    if !state.0.store.revoke_device(&user, &id, now)? {
        return Err(err(StatusCode::NOT_FOUND, "no such active device for this user"));
    }
    state.0.store.audit(now, "device_revoked", Some(&user), &json!({ "device": id }));
    tracing::info!(user = %user, device = %id, "device revoked");
    Ok(Json(json!({ "revoked": true })))
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    user: String,
    #[serde(default)]
    rp: Option<String>,
    #[serde(default)]
    mode: Option<VerificationMode>,
    #[serde(default)]
    context: RequestContext,
    #[serde(default)]
    expires_in: Option<u64>,
}

async fn rp_create_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> ApiResult<Json<Value>> {
    let key_name = rp_auth(&state, &headers)?;
    tracing::debug!(api_key = %key_name, "create login");
    Ok(Json(create_login(&state, body)?))
}

/// Creates a login (the relying party is already authenticated): returns `{"id", "user",
/// "mode", "display", "created", "expires"}`.
fn create_login(state: &AppState, body: LoginBody) -> ApiResult<Value> {
    check_user(&body.user)?;
    let store = &state.0.store;
    let c = &state.0.config;
    let now = state.now();
    let user = body.user;
    if !store.devices(&user)?.iter().any(|d| d.revoked.is_none()) {
        return Err(err(StatusCode::NOT_FOUND, "this user has no active device"));
    }
    let muted_until = store.muted_until(&user)?;
    if muted_until > now {
        store.audit(now, "login_refused", Some(&user), &json!({ "reason": "muted" }));
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "error": "user muted after a \"not me\" report", "muted_until": muted_until }),
        ));
    }
    if store.outstanding(&user, now)? >= c.max_outstanding {
        store.audit(now, "login_refused", Some(&user), &json!({ "reason": "outstanding" }));
        return Err(err(
            StatusCode::TOO_MANY_REQUESTS,
            "too many outstanding logins for this user",
        ));
    }
    let mode = body.mode.unwrap_or(VerificationMode::Approve);
    let (correct, options, display) = match mode {
        VerificationMode::Approve => (String::new(), Vec::new(), json!({})),
        VerificationMode::Pick => {
            let mut options: Vec<String> = Vec::new();
            while options.len() < 3 {
                let n = (10 + random_below(90)).to_string();
                if !options.contains(&n) {
                    options.push(n);
                }
            }
            let correct = options[usize::try_from(random_below(3)).unwrap_or(0)].clone();
            (correct.clone(), options, json!({ "number": correct }))
        }
        VerificationMode::Code => {
            let code = format!("{:06}", random_below(1_000_000));
            (code.clone(), Vec::new(), json!({ "code": code }))
        }
    };
    let expires_in = body.expires_in.unwrap_or(c.login_expiry).clamp(1, 600);
    let internal = |_| err(StatusCode::INTERNAL_SERVER_ERROR, "random generator failed");
    let login = store::Login {
        id: tessera::random_hex(16).map_err(internal)?,
        user: user.clone(),
        rp: body.rp.unwrap_or_else(|| c.issuer.clone()),
        mode: mode.to_string(),
        context: serde_json::to_string(&body.context).unwrap_or_else(|_| "{}".into()),
        options: serde_json::to_string(&options).unwrap_or_else(|_| "[]".into()),
        correct,
        nonce: tessera::random_hex(16).map_err(internal)?,
        created: now,
        expires: now + expires_in,
        state: "pending".into(),
        decided_at: None,
        device: None,
        decision: None,
    };
    store.add_login(&login)?;
    store.audit(
        now,
        "login_created",
        Some(&user),
        &json!({ "login": login.id, "mode": login.mode, "rp": login.rp }),
    );
    tracing::info!(user = %user, login = %login.id, mode = %login.mode, "login created");
    state.wake_user(&user);
    Ok(json!({
        "id": login.id, "user": user, "mode": mode, "display": display,
        "created": login.created, "expires": login.expires,
    }))
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    #[serde(default)]
    wait: Option<u64>,
    /// Device long-poll: the login ids the device already has (comma-separated); the poll is
    /// held while the open set is exactly this.
    #[serde(default)]
    known: Option<String>,
}

fn outcome_json(state: &AppState, login: &store::Login) -> ApiResult<Value> {
    let public_key = match &login.device {
        Some(id) => state.0.store.device(id)?.map(|d| tessera::b64(&d.public_key)),
        None => None,
    };
    Ok(json!({
        "id": login.id, "user": login.user, "rp": login.rp, "state": login.state, "mode": login.mode,
        "created": login.created, "expires": login.expires, "decided_at": login.decided_at,
        "device": login.device, "device_public_key": public_key, "decision": login.decision,
    }))
}

async fn rp_wait_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<Value>> {
    rp_auth(&state, &headers)?;
    Ok(Json(wait_login(&state, &id, q.wait.unwrap_or(0)).await?))
}

/// Waits up to `wait` seconds (at most [`tessera::MAX_WAIT_SECONDS`]) for login `id` to leave
/// `pending` (or expire); returns its outcome as the relying-party API shows it.
async fn wait_login(state: &AppState, id: &str, wait: u64) -> ApiResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(wait.min(tessera::MAX_WAIT_SECONDS));
    let mut shutdown = state.0.shutdown.subscribe();
    loop {
        let notified = state.0.logins.slot(id).notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now_ms = state.now_ms();
        let login = state
            .0
            .store
            .login(id, now_ms / 1000)?
            .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such login"))?;
        if login.state != "pending" || Instant::now() >= deadline || *shutdown.borrow() {
            return outcome_json(state, &login);
        }
        // Wake at expiry too, to report `expired` promptly.
        let to_expiry = Duration::from_millis((login.expires * 1000).saturating_sub(now_ms) + 5);
        let until = deadline.min(Instant::now() + to_expiry);
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(until.into()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    after: Option<i64>,
}

async fn rp_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    rp_auth(&state, &headers)?;
    let events = state.0.store.audit_log(q.user.as_deref(), q.after.unwrap_or(0), 1000)?;
    let list = events
        .into_iter()
        .map(|e| {
            let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::String(e.detail));
            json!({ "id": e.id, "at": e.at, "event": e.event, "user": e.user, "detail": detail })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// The signed-request headers of a device call.
struct SignedHeaders {
    device: String,
    timestamp: u64,
    nonce: String,
    signature: Vec<u8>,
}

fn signed_headers(headers: &HeaderMap) -> ApiResult<SignedHeaders> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| err(StatusCode::UNAUTHORIZED, format!("missing {name} header")))
    };
    let device = get(tessera::HEADER_DEVICE)?;
    let timestamp = get(tessera::HEADER_TIMESTAMP)?
        .parse()
        .map_err(|_| err(StatusCode::UNAUTHORIZED, "malformed timestamp"))?;
    let nonce = get(tessera::HEADER_NONCE)?;
    if nonce.len() < 16 || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(StatusCode::UNAUTHORIZED, "malformed nonce"));
    }
    let signature = tessera::unb64(&get(tessera::HEADER_SIGNATURE)?)
        .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "malformed signature"))?;
    Ok(SignedHeaders { device, timestamp, nonce, signature })
}

/// Checks a device request's signature with `public_key`, its timestamp window and that its
/// nonce is new (replay protection), and the device's rate.
fn check_signed(
    state: &AppState,
    h: &SignedHeaders,
    method: &Method,
    uri: &Uri,
    body: &[u8],
    public_key: &[u8],
) -> ApiResult<()> {
    let path = uri.path_and_query().map_or_else(|| uri.path(), |p| p.as_str());
    let message =
        tessera::request_message(method.as_str(), path, &h.device, h.timestamp, &h.nonce, body);
    if !tessera::verify(public_key, &message, &h.signature) {
        tracing::warn!(device = %h.device, "device request with a bad signature");
        return Err(err(StatusCode::UNAUTHORIZED, "bad request signature"));
    }
    let now_ms = state.now_ms();
    if now_ms.abs_diff(h.timestamp) > tessera::REQUEST_WINDOW_MS {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "request timestamp outside the allowed window; check the device clock", "server_time_ms": now_ms }),
        ));
    }
    if !state.0.store.use_nonce(&h.device, &h.nonce, now_ms, 2 * tessera::REQUEST_WINDOW_MS)? {
        tracing::warn!(device = %h.device, "replayed device request refused");
        state.0.store.audit(now_ms / 1000, "replay_refused", None, &json!({ "device": h.device }));
        return Err(err(StatusCode::UNAUTHORIZED, "replayed request (nonce already used)"));
    }
    let c = &state.0.config;
    if !state.0.limits.allow(&format!("dev:{}", h.device), c.device_rate, c.device_burst) {
        return Err(err(StatusCode::TOO_MANY_REQUESTS, "rate limit for this device exceeded"));
    }
    Ok(())
}

/// Authenticates a request from an enrolled, unrevoked device.
fn device_auth(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> ApiResult<store::Device> {
    let h = signed_headers(headers)?;
    let device = state
        .0
        .store
        .device(&h.device)?
        .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown device"))?;
    check_signed(state, &h, method, uri, body, &device.public_key)?;
    if device.revoked.is_some() {
        return Err(err(StatusCode::FORBIDDEN, "this device was revoked"));
    }
    Ok(device)
}

async fn device_enrol(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<EnrolResponse>> {
    let h = signed_headers(&headers)?;
    let request: EnrolRequest = serde_json::from_slice(&body)
        .map_err(|_| err(StatusCode::BAD_REQUEST, "malformed enrolment"))?;
    let public_key =
        tessera::unb64(&request.public_key).filter(|k| k.len() == 65 && k[0] == 4).ok_or_else(
            || err(StatusCode::BAD_REQUEST, "public_key is not an uncompressed P-256 point"),
        )?;
    // Proof of possession: the request is signed with the key being registered.
    check_signed(&state, &h, &method, &uri, &body, &public_key)?;
    let now = state.now();
    let user = state
        .0
        .store
        .finish_enrolment(&h.device, &sha256_hex(request.credential.as_bytes()), &public_key, now)?
        .ok_or_else(|| {
            tracing::warn!(device = %h.device, "enrolment refused");
            err(StatusCode::FORBIDDEN, "enrolment credential unknown, used or expired")
        })?;
    state.0.store.audit(now, "device_enrolled", Some(&user), &json!({ "device": h.device }));
    tracing::info!(user = %user, device = %h.device, "device enrolled");
    Ok(Json(EnrolResponse {
        device: h.device,
        server_public_key: tessera::b64(&state.0.server_public),
    }))
}

/// Rebuilds the challenge of `login` for `device` (the exact object that was signed).
fn challenge_for(login: &store::Login, device: &str) -> ApiResult<Challenge> {
    let bad = |_| err(StatusCode::INTERNAL_SERVER_ERROR, "stored login is malformed");
    Ok(Challenge {
        v: 1,
        id: login.id.clone(),
        device: device.to_owned(),
        user: login.user.clone(),
        nonce: login.nonce.clone(),
        rp: login.rp.clone(),
        context: serde_json::from_str(&login.context).map_err(bad)?,
        mode: login
            .mode
            .parse()
            .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "stored mode"))?,
        options: serde_json::from_str(&login.options).map_err(bad)?,
        created: login.created,
        expires: login.expires,
    })
}

async fn device_pending(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<PendingResponse>> {
    let device = device_auth(&state, &headers, &method, &uri, &[])?;
    let deadline =
        Instant::now() + Duration::from_secs(q.wait.unwrap_or(0).min(tessera::MAX_WAIT_SECONDS));
    let mut known: Vec<&str> =
        q.known.as_deref().unwrap_or("").split(',').filter(|id| !id.is_empty()).collect();
    if known.len() > tessera::MAX_KNOWN_IDS {
        return Err(err(StatusCode::BAD_REQUEST, "too many known ids"));
    }
    known.sort_unstable();
    let mut shutdown = state.0.shutdown.subscribe();
    loop {
        let notified = state.0.users.slot(&device.user).notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = state.now();
        let logins = state.0.store.pending_for_user(&device.user, now)?;
        let mut open: Vec<&str> = logins.iter().map(|l| l.id.as_str()).collect();
        open.sort_unstable();
        if open != known || Instant::now() >= deadline || *shutdown.borrow() {
            let mut challenges = Vec::with_capacity(logins.len());
            for login in &logins {
                let challenge = challenge_for(login, &device.id)?;
                challenges.push(
                    SignedChallenge::sign(challenge, &state.0.server_key)
                        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "signing failed"))?,
                );
            }
            return Ok(Json(PendingResponse { challenges, server_time: now }));
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline.into()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn device_answer(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<AnswerResponse>> {
    let device = device_auth(&state, &headers, &method, &uri, &body)?;
    let AnswerRequest { decision } = serde_json::from_slice(&body)
        .map_err(|_| err(StatusCode::BAD_REQUEST, "malformed answer"))?;
    let now = state.now();
    let store = &state.0.store;
    let login = store
        .login(&decision.challenge.id, now)?
        .filter(|l| l.user == device.user)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such login"))?;
    if login.state != "pending" {
        return Err(ApiError(
            StatusCode::CONFLICT,
            json!({ "error": "the login is no longer pending", "state": login.state }),
        ));
    }
    if decision.challenge != challenge_for(&login, &device.id)? {
        tracing::warn!(device = %device.id, login = %login.id, "decision over a different challenge");
        store.audit(
            now,
            "tampered_decision",
            Some(&device.user),
            &json!({ "login": login.id, "device": device.id }),
        );
        return Err(err(
            StatusCode::BAD_REQUEST,
            "the decision is not over the challenge this server sent",
        ));
    }
    if !decision.verify(&device.public_key) {
        return Err(err(StatusCode::BAD_REQUEST, "bad decision signature"));
    }
    let (new_state, wrong) = match decision.decision.as_str() {
        "approve" => {
            let given = decision.answer.as_deref().unwrap_or_default();
            // Comparing digests keeps the comparison's timing independent of the secret.
            let right = sha256_hex(given.as_bytes()) == sha256_hex(login.correct.as_bytes());
            if right { ("approved", false) } else { ("denied", true) }
        }
        "deny" => ("denied", false),
        "not_me" => ("not_me", false),
        _ => return Err(err(StatusCode::BAD_REQUEST, "decision must be approve, deny or not_me")),
    };
    let mute = (new_state == "not_me").then(|| now + state.0.config.mute_seconds);
    if !store.decide(&login.id, new_state, &device.id, &decision, now, mute)? {
        return Err(err(StatusCode::CONFLICT, "the login is no longer pending"));
    }
    store.audit(
        now,
        "decision",
        Some(&device.user),
        &json!({ "login": login.id, "device": device.id, "state": new_state, "wrong_answer": wrong }),
    );
    tracing::info!(user = %device.user, login = %login.id, state = new_state, wrong_answer = wrong, "decision");
    state.wake_login(&login.id);
    state.wake_user(&device.user);
    if wrong {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": "wrong answer; the login was denied", "state": new_state }),
        ));
    }
    Ok(Json(AnswerResponse { accepted: true, state: new_state.to_owned() }))
}

/// Checks a relying party's outcome: the decision verifies with the device key given and is
/// over the login `id`. Returns the decision name (`approve`, `deny`, `not_me`).
pub fn verify_outcome(outcome: &Value) -> Option<String> {
    let decision: SignedDecision = serde_json::from_value(outcome.get("decision")?.clone()).ok()?;
    let key = tessera::unb64(outcome.get("device_public_key")?.as_str()?)?;
    (decision.verify(&key) && Some(decision.challenge.id.as_str()) == outcome.get("id")?.as_str())
        .then_some(decision.decision)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

    use super::*;
    use axum::body::Body;
    use axum::http::Request;
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
        let ts = system_ms();
        let nonce = tessera::random_hex(16).unwrap();
        let message = tessera::request_message(method, path, device, ts, &nonce, body);
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
}
