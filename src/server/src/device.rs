//! The device API of `tessera-push-v1` (`/device/v1/...`, specified in
//! [`tessera_core::push::tessera`]): signed-request checks (signature, timestamp window,
//! nonce), enrolment with proof of possession, the pending long-poll (with the device's
//! notices: another device was enrolled for its user) and signed answers.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tessera_core::push::tessera::{
    self, AnswerRequest, AnswerResponse, Challenge, DeviceNotice, EnrolRequest, EnrolResponse,
    PendingResponse, SignedChallenge,
};

use crate::error::{ApiError, ApiResult, err};
use crate::rp::WaitQuery;
use crate::state::{AppState, PollSlot};
use crate::store;
use crate::store::sha256_hex;
use crate::tls::ClientAddr;

/// The device routes of `tessera-push-v1`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/device/v1/enrol", post(device_enrol))
        .route("/device/v1/pending", get(device_pending))
        .route("/device/v1/answer", post(device_answer))
        // Device bodies are a key and a credential, or one signed decision: a few KB.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Largest device request body read.
const MAX_BODY_BYTES: usize = 64 * 1024;

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
    // Device ids are the server's own hex strings: anything else is refused before it is
    // looked up, stored, logged or used as a rate-limit key.
    if !tessera::is_device_id(&device) {
        return Err(err(StatusCode::UNAUTHORIZED, "malformed device id"));
    }
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

/// A device request whose headers passed every check that needs no body: well-formed
/// signed headers naming an enrolled device that is not revoked. Handlers take it before the
/// body, so a request from a stranger (or a revoked device) is refused before its body is
/// read (issue 13, finding 6); the signature, which covers the body, is then checked with
/// [`DeviceCaller::verify`].
struct DeviceCaller {
    headers: SignedHeaders,
    device: store::Device,
}

impl axum::extract::FromRequestParts<AppState> for DeviceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> ApiResult<Self> {
        let headers = signed_headers(&parts.headers)?;
        let store = &state.0.store;
        let device = store
            .run(|| store.device(&headers.device))
            .await?
            .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown device"))?;
        if device.revoked.is_some() {
            return Err(err(StatusCode::FORBIDDEN, "this device was revoked"));
        }
        Ok(Self { headers, device })
    }
}

impl DeviceCaller {
    /// Checks the request's signature over `body` (and its timestamp, nonce and rate);
    /// returns the authenticated device.
    fn verify(
        self,
        state: &AppState,
        method: &Method,
        uri: &Uri,
        body: &[u8],
    ) -> ApiResult<store::Device> {
        check_signed(state, &self.headers, method, uri, body, &self.device.public_key)?;
        Ok(self.device)
    }
}

/// The headers of an enrolment, checked before its body is read: the caller's address is
/// within its enrolment rate and the signed headers are well formed.
struct EnrolCaller(SignedHeaders);

impl axum::extract::FromRequestParts<AppState> for EnrolCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> ApiResult<Self> {
        if let Some(ConnectInfo(ClientAddr(addr))) =
            parts.extensions.get::<ConnectInfo<ClientAddr>>()
        {
            let c = &state.0.config;
            let client = c.proxies.client(addr.ip(), &parts.headers);
            let key = crate::state::client_key(client);
            if !state.0.client_limits.allow(&key, c.device_rate, c.device_burst) {
                return Err(err(StatusCode::TOO_MANY_REQUESTS, "too many enrolment attempts"));
            }
        }
        Ok(Self(signed_headers(&parts.headers)?))
    }
}

/// Enrolment is the one device call anyone can make (the key is in the request), so it is
/// rate-limited per client address and does nothing that stores or logs before the
/// enrolment credential is known to match an open enrolment: no nonce row, no device
/// bucket, no audit line, no log line with the caller's values.
async fn device_enrol(
    EnrolCaller(h): EnrolCaller,
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Json<EnrolResponse>> {
    let request: EnrolRequest = serde_json::from_slice(&body)
        .map_err(|_| err(StatusCode::BAD_REQUEST, "malformed enrolment"))?;
    let public_key =
        tessera::unb64(&request.public_key).filter(|k| k.len() == 65 && k[0] == 4).ok_or_else(
            || err(StatusCode::BAD_REQUEST, "public_key is not an uncompressed P-256 point"),
        )?;
    let store = &state.0.store;
    store
        .run(|| {
            let now = state.now();
            let credential_hash = sha256_hex(request.credential.as_bytes());
            let refused =
                || err(StatusCode::FORBIDDEN, "enrolment credential unknown, used or expired");
            if !store.enrolment_open(&h.device, &credential_hash, now)? {
                return Err(refused());
            }
            // Proof of possession: the request is signed with the key being registered.
            check_signed(&state, &h, &method, &uri, &body, &public_key)?;
            let user = store
                .finish_enrolment(&h.device, &credential_hash, &public_key, now)?
                .ok_or_else(refused)?;
            store.audit(now, "device_enrolled", Some(&user), &json!({ "device": h.device }));
            tracing::info!(user = %user, device = %h.device, "device enrolled");
            // The user's other devices have a notice about this one: end their long-polls.
            state.wake_user(&user);
            Ok(())
        })
        .await?;
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
    caller: DeviceCaller,
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<PendingResponse>> {
    let store = &state.0.store;
    let device = store.run(|| caller.verify(&state, &method, &uri, &[])).await?;
    let deadline =
        Instant::now() + Duration::from_secs(q.wait.unwrap_or(0).min(tessera::MAX_WAIT_SECONDS));
    let mut known: Vec<&str> =
        q.known.as_deref().unwrap_or("").split(',').filter(|id| !id.is_empty()).collect();
    if known.len() > tessera::MAX_KNOWN_IDS {
        return Err(err(StatusCode::BAD_REQUEST, "too many known ids"));
    }
    known.sort_unstable();
    let want_notices = q.notices.unwrap_or(0) != 0;
    let _slot = if deadline > Instant::now() {
        Some(PollSlot::take(&state, &device.id).ok_or_else(|| {
            err(StatusCode::TOO_MANY_REQUESTS, "too many long-polls held by this device")
        })?)
    } else {
        None
    };
    let mut shutdown = state.0.shutdown.subscribe();
    loop {
        let notified = state.0.users.slot(&device.user).notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // One statement per look: the open logins, waiting notices, and whether the device
        // is still active (a device revoked while it waits gets nothing more; revoking wakes
        // the user).
        let answer = store
            .run(|| -> ApiResult<Option<PendingResponse>> {
                let now = state.now();
                let (logins, noticed) = store
                    .poll(&device.id, &device.user, now, want_notices)?
                    .ok_or_else(|| err(StatusCode::FORBIDDEN, "this device was revoked"))?;
                let mut open: Vec<&str> = logins.iter().map(|l| l.id.as_str()).collect();
                open.sort_unstable();
                if open == known && !noticed && Instant::now() < deadline && !*shutdown.borrow() {
                    return Ok(None);
                }
                let mut challenges = Vec::with_capacity(logins.len());
                for login in &logins {
                    let challenge = challenge_for(login, &device.id)?;
                    challenges.push(
                        SignedChallenge::sign(challenge, &state.0.server_key).map_err(|_| {
                            err(StatusCode::INTERNAL_SERVER_ERROR, "signing failed")
                        })?,
                    );
                }
                let notices = if noticed { notices_for(&state, &device.id)? } else { Vec::new() };
                Ok(Some(PendingResponse { challenges, server_time: now, notices }))
            })
            .await?;
        if let Some(answer) = answer {
            return Ok(Json(answer));
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline.into()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Takes the notices waiting for `device` as the protocol sends them (each once).
fn notices_for(state: &AppState, device: &str) -> ApiResult<Vec<DeviceNotice>> {
    Ok(state
        .0
        .store
        .take_notices(device)?
        .into_iter()
        .map(|n| {
            let detail: serde_json::Value = serde_json::from_str(&n.detail).unwrap_or_default();
            let field = |k: &str| detail.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            DeviceNotice { kind: n.kind, at: n.at, user: field("user"), device: field("device") }
        })
        .collect())
}

async fn device_answer(
    caller: DeviceCaller,
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Json<AnswerResponse>> {
    state.0.store.run(|| answer(caller, &state, &method, &uri, &body)).await
}

/// Checks and records a device's signed answer.
fn answer(
    caller: DeviceCaller,
    state: &AppState,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> ApiResult<Json<AnswerResponse>> {
    let device = caller.verify(state, method, uri, body)?;
    let AnswerRequest { decision } = serde_json::from_slice(body)
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
    // "Not me" also expires the user's other open logins: their waiters must hear of it.
    let others = if mute.is_some() { store.pending_for_user(&device.user, now)? } else { vec![] };
    if !store.decide(&login.id, new_state, &device.id, &decision, now, mute)? {
        return Err(err(StatusCode::CONFLICT, "the login is no longer pending"));
    }
    for other in others.iter().filter(|o| o.id != login.id) {
        state.wake_login(&other.id);
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
