//! The relying-party API (`/rp/v1/...`, see the crate docs): API-key authentication,
//! enrolments, logins and their outcomes, devices, the audit log; and [`verify_outcome`], the
//! relying party's check of a signed decision.

use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::otp::{OtpParams, Secret};
use tessera_core::push::RequestContext;
use tessera_core::push::tessera::{
    self, ApprovalError, ExpectedLogin, PinnedDevice, SignedDecision, VerificationMode,
};
use tessera_core::uri::OtpUri;

use crate::error::{ApiError, ApiResult, err};
use crate::state::{AppState, random_below};
use crate::store;
use crate::store::sha256_hex;

/// The relying-party routes (see the crate docs).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/rp/v1/users/{user}/enrol", post(rp_enrol))
        .route("/rp/v1/users/{user}/devices", get(rp_devices))
        .route("/rp/v1/users/{user}/devices/{id}", delete(rp_revoke))
        .route("/rp/v1/logins", post(rp_create_login))
        .route("/rp/v1/logins/{id}", get(rp_wait_login))
        .route("/rp/v1/audit", get(rp_audit))
}

pub(crate) async fn health(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.0.store.api_key_count()?;
    Ok(Json(json!({ "status": "ok" })))
}

/// A relying party authenticated by its API key. Handlers take it as their first argument:
/// axum runs header-only extractors before the one that reads the body, so a request with
/// a missing, unknown, revoked or rate-limited key is refused before its body is read
/// (issue 13, finding 6: a stranger's body costs no memory and no wait).
pub(crate) struct RpKey {
    /// The key's name.
    pub(crate) name: String,
    /// The one relying party the key may act for (`None`: every one; see [`crate::keys`]).
    pub(crate) rp: Option<String>,
}

impl RpKey {
    /// The relying party a login or enrolment asking for `asked` gets: `403` when the key
    /// is scoped to another one.
    fn scoped(&self, asked: Option<String>) -> ApiResult<Option<String>> {
        crate::keys::scoped(self.rp.as_deref(), asked).map_err(|e| err(StatusCode::FORBIDDEN, e))
    }
}

impl axum::extract::FromRequestParts<AppState> for RpKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> ApiResult<Self> {
        state.0.store.run(|| rp_auth(state, &parts.headers)).await
    }
}

/// Checks the bearer API key (known, not revoked) and its rate.
fn rp_auth(state: &AppState, headers: &HeaderMap) -> ApiResult<RpKey> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            err(StatusCode::UNAUTHORIZED, "missing API key (Authorization: Bearer ...)")
        })?;
    let hash = crate::keys::hash(key);
    let stored = state
        .0
        .store
        .api_key(&hash)?
        .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown API key"))?;
    if stored.revoked.is_some() {
        return Err(err(StatusCode::UNAUTHORIZED, "this API key was revoked"));
    }
    let c = &state.0.config;
    if !state.0.limits.allow(&format!("rp:{hash}"), c.rp_rate, c.rp_burst) {
        return Err(err(StatusCode::TOO_MANY_REQUESTS, "rate limit for this API key exceeded"));
    }
    // "Last used" to the minute: one write a minute per key, not one per request.
    let now = state.now();
    if stored.last_used.is_none_or(|t| now >= t + 60)
        && let Err(e) = state.0.store.touch_api_key(&hash, now)
    {
        tracing::error!(error = %e, "cannot record an API key's use");
    }
    Ok(RpKey { name: stored.name, rp: stored.rp })
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
    key: RpKey,
    State(state): State<AppState>,
    Path(user): Path<String>,
    body: Option<Json<EnrolBody>>,
) -> ApiResult<Json<Value>> {
    let body = body.map(|b| b.0).unwrap_or_default();
    let issuer = key.scoped(body.issuer)?;
    Ok(Json(state.0.store.run(|| enrol_user(&state, &user, issuer)).await?))
}

/// Issues an enrolment for `user` (the relying party is already authenticated): returns
/// `{"uri", "device", "expires"}`.
pub(crate) fn enrol_user(state: &AppState, user: &str, issuer: Option<String>) -> ApiResult<Value> {
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
    _key: RpKey,
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = &state.0.store;
    let list: Vec<Value> = store
        .run(|| store.devices(&user))
        .await?
        .into_iter()
        .map(|d| {
            json!({ "id": d.id, "created": d.created, "revoked": d.revoked,
                    "public_key": tessera::b64(&d.public_key) })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn rp_revoke(
    _key: RpKey,
    State(state): State<AppState>,
    Path((user, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let store = &state.0.store;
    store
        .run(|| {
            let now = state.now();
            if !store.revoke_device(&user, &id, now)? {
                return Err(err(StatusCode::NOT_FOUND, "no such active device for this user"));
            }
            store.audit(now, "device_revoked", Some(&user), &json!({ "device": id }));
            // A long-poll of the revoked device ends now rather than at its timeout.
            state.wake_user(&user);
            tracing::info!(user = %user, device = %id, "device revoked");
            Ok(Json(json!({ "revoked": true })))
        })
        .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginBody {
    pub(crate) user: String,
    #[serde(default)]
    pub(crate) rp: Option<String>,
    #[serde(default)]
    pub(crate) mode: Option<VerificationMode>,
    #[serde(default)]
    pub(crate) context: RequestContext,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

async fn rp_create_login(
    key: RpKey,
    State(state): State<AppState>,
    Json(mut body): Json<LoginBody>,
) -> ApiResult<Json<Value>> {
    tracing::debug!(api_key = %key.name, "create login");
    body.rp = key.scoped(body.rp.take())?;
    Ok(Json(state.0.store.run(|| create_login(&state, body)).await?))
}

/// Creates a login (the relying party is already authenticated): returns `{"id", "user",
/// "mode", "display", "created", "expires"}`.
pub(crate) fn create_login(state: &AppState, body: LoginBody) -> ApiResult<Value> {
    check_user(&body.user)?;
    let store = &state.0.store;
    let c = &state.0.config;
    let now = state.now();
    let user = body.user;
    let standing = store.standing(&user, now, now.saturating_sub(3600))?;
    if standing.active_devices == 0 {
        return Err(err(StatusCode::NOT_FOUND, "this user has no active device"));
    }
    let muted_until = standing.muted_until;
    if muted_until > now {
        store.audit(now, "login_refused", Some(&user), &json!({ "reason": "muted" }));
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "error": "user muted after a \"not me\" report", "muted_until": muted_until }),
        ));
    }
    if standing.outstanding >= c.max_outstanding {
        store.audit(now, "login_refused", Some(&user), &json!({ "reason": "outstanding" }));
        return Err(err(
            StatusCode::TOO_MANY_REQUESTS,
            "too many outstanding logins for this user",
        ));
    }
    let history = standing.history;
    if c.max_per_hour > 0 && history.last_hour >= c.max_per_hour {
        store.audit(now, "login_refused", Some(&user), &json!({ "reason": "hourly_cap" }));
        return Err(err(
            StatusCode::TOO_MANY_REQUESTS,
            "too many push requests for this user in the last hour",
        ));
    }
    if c.max_since_success > 0 && history.since_success >= c.max_since_success {
        store.audit(now, "login_refused", Some(&user), &json!({ "reason": "since_success_cap" }));
        return Err(err(
            StatusCode::TOO_MANY_REQUESTS,
            "too many push requests since this user's last approval",
        ));
    }
    let asked = body.mode.unwrap_or(c.default_mode);
    let escalate = c.escalate_after_denials > 0
        && history.denials_since_success >= c.escalate_after_denials
        && asked != VerificationMode::Code;
    let mode = if escalate { VerificationMode::Code } else { asked };
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
        &json!({ "login": login.id, "mode": login.mode, "rp": login.rp, "escalated": escalate }),
    );
    tracing::info!(user = %user, login = %login.id, mode = %login.mode, "login created");
    state.wake_user(&user);
    Ok(json!({
        "id": login.id, "user": user, "mode": mode, "display": display,
        "created": login.created, "expires": login.expires,
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct WaitQuery {
    #[serde(default)]
    pub(crate) wait: Option<u64>,
    /// Device long-poll: the login ids the device already has (comma-separated); the poll is
    /// held while the open set is exactly this.
    #[serde(default)]
    pub(crate) known: Option<String>,
    /// Device long-poll: `1` to be sent the device's notices (and answered while any wait).
    #[serde(default)]
    pub(crate) notices: Option<u8>,
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
    key: RpKey,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<Value>> {
    // A scoped key sees only its own relying party's logins.
    let store = &state.0.store;
    if let Some(own) = &key.rp
        && store.run(|| store.login(&id, state.now())).await?.is_none_or(|l| &l.rp != own)
    {
        return Err(err(StatusCode::NOT_FOUND, "no such login"));
    }
    Ok(Json(wait_login(&state, &id, q.wait.unwrap_or(0)).await?))
}

/// Waits up to `wait` seconds (at most [`tessera::MAX_WAIT_SECONDS`]) for login `id` to leave
/// `pending` (or expire); returns its outcome as the relying-party API shows it.
pub(crate) async fn wait_login(state: &AppState, id: &str, wait: u64) -> ApiResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(wait.min(tessera::MAX_WAIT_SECONDS));
    let mut shutdown = state.0.shutdown.subscribe();
    loop {
        let notified = state.0.logins.slot(id).notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now_ms = state.now_ms();
        let store = &state.0.store;
        let login = store
            .run(|| -> ApiResult<Result<store::Login, Value>> {
                let login = store
                    .login(id, now_ms / 1000)?
                    .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such login"))?;
                if login.state != "pending" || Instant::now() >= deadline || *shutdown.borrow() {
                    return Ok(Err(outcome_json(state, &login)?));
                }
                Ok(Ok(login))
            })
            .await?;
        let login = match login {
            Ok(pending) => pending,
            Err(outcome) => return Ok(outcome),
        };
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
    _key: RpKey,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let store = &state.0.store;
    let events =
        store.run(|| store.audit_log(q.user.as_deref(), q.after.unwrap_or(0), 1000)).await?;
    let list = events
        .into_iter()
        .map(|e| {
            let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::String(e.detail));
            json!({ "id": e.id, "at": e.at, "event": e.event, "user": e.user, "detail": detail })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// Checks a login outcome (`GET /rp/v1/logins/{id}`) as a relying party must before it lets
/// the user in: the `decision` it carries is an approval of `expected`, signed by one of the
/// `pinned` device keys ([`SignedDecision::verify_approval`]). The outcome's `state` and
/// `device_public_key` are the server's word and are not used.
pub fn verify_outcome(
    outcome: &Value,
    pinned: &[PinnedDevice],
    expected: &ExpectedLogin<'_>,
) -> Result<(), ApprovalError> {
    let decision: SignedDecision = outcome
        .get("decision")
        .and_then(|d| serde_json::from_value(d.clone()).ok())
        .ok_or(ApprovalError::Unsigned)?;
    decision.verify_approval(pinned, expected)
}

/// Reads the active devices of a `GET /rp/v1/users/{user}/devices` answer as keys to pin.
pub fn pins_from_devices(devices: &Value) -> Vec<PinnedDevice> {
    devices
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d.get("revoked").is_none_or(Value::is_null))
        .filter_map(|d| {
            Some(PinnedDevice {
                id: d.get("id")?.as_str()?.to_owned(),
                public_key: tessera::unb64(d.get("public_key")?.as_str()?)?,
            })
        })
        .collect()
}
