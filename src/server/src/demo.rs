//! A demo relying party: "Example Corp" web pages served by `tessera-server serve --demo`, so
//! the whole loop runs on one machine (start the server, enrol Tessera by QR, log in on the
//! page, approve in the app).
//!
//! | page | what it does |
//! |---|---|
//! | `GET /demo` | the login page: an "Enrol a device" form and a "Log in" form |
//! | `POST /demo/enrol` (form `user`) | the enrolment QR code (inline SVG), the same URI as text, the TOTP secret |
//! | `POST /demo/login` (form `user`, `mode`) | creates a login with the browser's context; shows the number (`pick`) or code (`code`), a countdown, and polls the outcome |
//! | `GET /demo/logins/{id}?wait=S` | `{"state"}`: `pending`, `approved`, `denied`, `not_me`, `expired`, or `unverified` when the decision's device signature does not check out |
//!
//! The pages call the relying-party logic in-process (no API key travels to the browser),
//! and they have no login of their own: anyone who can reach them can enrol devices and start
//! logins for any user. That is why `main` serves them only on a loopback address unless
//! `--demo-allow-remote` is given. Every user-provided text is HTML-escaped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::push::RequestContext;
use tessera_core::push::tessera::{ExpectedLogin, PinnedDevice, VerificationMode};
use tessera_core::uri::OtpUri;

use crate::error::err;
use crate::rp::{LoginBody, WaitQuery, create_login, enrol_user, wait_login};
use crate::tls::ClientAddr;
use crate::{ApiError, AppState};

/// The relying party's name on the device (and the enrolment's issuer).
pub const DEMO_RP: &str = "Example Corp";
/// The application name in the login context.
pub const DEMO_APP: &str = "Example Corp demo";

const LAYOUT: &str = include_str!("demo/layout.html");
const INDEX: &str = include_str!("demo/index.html");
const ENROL: &str = include_str!("demo/enrol.html");
/// The verification-mode choice both login forms offer.
const MODES: &str = include_str!("demo/modes.html");
const LOGIN: &str = include_str!("demo/login.html");
const FAILURE: &str = r#"<section>
  <h1>{{title}}</h1>
  <p class="outcome error">{{message}}</p>
  <p>{{hint}}</p>
  <p><a href="/demo">Back</a></p>
</section>"#;

/// The demo's own memory as a relying party, kept apart from the push server's database:
/// the device keys it pinned per user and what each of its logins showed. An outcome counts
/// as approved only if it verifies against these ([`crate::verify_outcome`]).
#[derive(Default)]
struct Book {
    pins: HashMap<String, Vec<PinnedDevice>>,
    /// Login id → (user, number or code shown, expiry).
    logins: HashMap<String, (String, Option<String>, u64)>,
}

/// Most logins the book remembers (older, expired ones are dropped first).
const MAX_BOOK_LOGINS: usize = 10_000;

/// The demo's handler state.
#[derive(Clone)]
struct Demo {
    state: AppState,
    book: Arc<Mutex<Book>>,
    /// The anti-CSRF token every demo form carries: random per process, so another site
    /// cannot know it (it cannot read these pages: same-origin policy, and the Host check
    /// below defeats DNS rebinding). The demo has no sessions to bind it to.
    csrf: Arc<str>,
}

impl Demo {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The demo pages over `state` (merge into [`crate::router`]).
pub fn router(state: AppState) -> Router {
    let csrf = tessera_core::push::tessera::random_hex(16).unwrap_or_default();
    let state = Demo { state, book: Arc::default(), csrf: csrf.into() };
    Router::new()
        .route("/demo", get(index))
        .route("/demo/enrol", post(enrol))
        .route("/demo/login", post(login))
        .route("/demo/logins/{id}", get(outcome))
        .layer(axum::middleware::from_fn_with_state(state.clone(), same_site_only))
        .with_state(state)
}

/// Escapes text for HTML element content and quoted attribute values. Written by hand: five
/// replacements do not justify a template engine for four small pages.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{name}}` in `template` with its value, in one pass (a value is never
/// scanned again, so text that looks like a placeholder stays text). Values are markup:
/// escape text with [`esc`] first.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match values.iter().find(|(k, _)| *k == &after[..end]) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[start..start + end + 4]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A whole page: `body` is markup inside the layout.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = fill(LAYOUT, &[("title", &esc(title)), ("body", body)]);
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// A failed action as a page, with the relying-party API's status and message.
fn failure(title: &str, e: &ApiError) -> Response {
    let message = e.1.get("error").and_then(Value::as_str).unwrap_or("request failed");
    let hint = match e.0 {
        StatusCode::NOT_FOUND => "Enrol a device for this user first.",
        StatusCode::TOO_MANY_REQUESTS => "Wait a little, or answer the open requests in the app.",
        _ => "",
    };
    let body = fill(FAILURE, &[("title", &esc(title)), ("message", &esc(message)), ("hint", hint)]);
    page(e.0, title, &body)
}

/// The demo acts as one relying party: it shares one token bucket at the API-key rate.
fn allow(state: &AppState) -> Result<(), ApiError> {
    let c = &state.0.config;
    if state.0.limits.allow("demo", c.rp_rate, c.rp_burst) {
        Ok(())
    } else {
        Err(err(StatusCode::TOO_MANY_REQUESTS, "rate limit for the demo pages exceeded"))
    }
}

/// Refuses a request whose `Host` is not this server (a DNS-rebinding page reaching the
/// demo through a name of its own) or whose `Origin`, when sent, is another site.
async fn same_site_only(
    State(demo): State<Demo>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let public = demo.state.0.config.public_url.clone();
    let public_host = public.split("://").nth(1).unwrap_or("").to_owned();
    if !(host_is_loopback(host) || host.eq_ignore_ascii_case(&public_host)) {
        let e = err(StatusCode::FORBIDDEN, "the demo answers only under its own host name");
        return failure("Refused", &e);
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let same = ["http://", "https://"].iter().any(|s| origin == format!("{s}{host}"))
            || origin == public;
        if !same {
            return failure("Refused", &err(StatusCode::FORBIDDEN, "cross-site request refused"));
        }
    }
    next.run(request).await
}

/// Whether a `Host` header names a loopback address (any port).
fn host_is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks a form's anti-CSRF token.
fn check_csrf(demo: &Demo, token: &str) -> Result<(), ApiError> {
    // Both are public-length hex; the comparison's timing does not matter against an
    // attacker who cannot read a page, but digests keep it constant anyway.
    let digest = |t: &str| ring::digest::digest(&ring::digest::SHA256, t.as_bytes());
    if digest(token).as_ref() == digest(&demo.csrf).as_ref() {
        Ok(())
    } else {
        Err(err(StatusCode::FORBIDDEN, "the form is stale or from another site; reload the page"))
    }
}

async fn index(State(demo): State<Demo>) -> Response {
    page(StatusCode::OK, "Sign in", &fill(INDEX, &[("modes", MODES), ("csrf", &demo.csrf)]))
}

#[derive(Debug, Deserialize)]
struct EnrolForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    csrf: String,
}

/// The QR code of `text` as inline SVG markup (no XML prologue).
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(260, 260)
        .quiet_zone(true)
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen("<svg ", r#"<svg role="img" aria-label="Enrolment QR code" "#, 1))
}

/// Splits a base32 secret into groups of four for reading and typing.
fn group4(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

async fn enrol(State(demo): State<Demo>, Form(form): Form<EnrolForm>) -> Response {
    let title = "Enrol a device";
    if let Err(e) = check_csrf(&demo, &form.csrf) {
        return failure(title, &e);
    }
    let state = &demo.state;
    let user = form.user.trim();
    let enrolment = match allow(state).and_then(|()| enrol_user(state, user, Some(DEMO_RP.into())))
    {
        Ok(v) => v,
        Err(e) => return failure(title, &e),
    };
    let uri = enrolment.get("uri").and_then(Value::as_str).unwrap_or_default();
    let internal =
        |message: &str| failure(title, &err(StatusCode::INTERNAL_SERVER_ERROR, message.to_owned()));
    let Some(qr) = qr_svg(uri) else { return internal("cannot draw the QR code") };
    let Ok(parsed) = OtpUri::parse(uri) else { return internal("enrolment URI unreadable") };
    let secret = group4(&parsed.otp.secret.to_base32());
    let ttl = state.0.config.enrol_ttl_minutes.to_string();
    let body = fill(
        ENROL,
        &[
            ("user", &esc(user)),
            ("qr", &qr),
            ("uri", &esc(uri)),
            ("secret", &esc(&secret)),
            ("ttl", &ttl),
            ("modes", MODES),
            ("csrf", &demo.csrf),
        ],
    );
    page(StatusCode::OK, title, &body)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    csrf: String,
}

/// "Local network" for loopback and private addresses; unknown (no guess) otherwise.
fn location(ip: IpAddr) -> Option<&'static str> {
    let local = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
            None => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
        },
    };
    local.then_some("Local network")
}

async fn login(
    State(demo): State<Demo>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    let title = "Log in";
    if let Err(e) = check_csrf(&demo, &form.csrf) {
        return failure(title, &e);
    }
    let user = form.user.trim().to_owned();
    let Ok(mode) = form.mode.parse::<VerificationMode>() else {
        let e = err(StatusCode::BAD_REQUEST, "mode must be approve, pick or code");
        return failure(title, &e);
    };
    // The client's address (behind a trusted proxy, the one it forwarded).
    let ip = extensions
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| demo.state.0.config.proxies.client(c.0.0.ip(), &headers));
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect::<String>());
    let context = RequestContext {
        ip: ip.map(|ip| ip.to_string()),
        location: ip.and_then(location).map(str::to_owned),
        app: Some(DEMO_APP.to_owned()),
        user_agent,
    };
    let body = LoginBody {
        user: user.clone(),
        rp: Some(DEMO_RP.to_owned()),
        mode: Some(mode),
        context: context.clone(),
        expires_in: None,
    };
    let state = &demo.state;
    // Pin the user's device keys (trust on first use: the demo issued their enrolments).
    let devices = match state.0.store.devices(&user) {
        Ok(devices) => devices,
        Err(e) => return failure(title, &e.into()),
    };
    let created = match allow(state).and_then(|()| create_login(state, body)) {
        Ok(v) => v,
        Err(e) => return failure(title, &e),
    };
    let text = |k: &str| created.pointer(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    // The server may have escalated the mode (push-fatigue policy): show what it chose.
    let mode = text("/mode").parse().unwrap_or(mode);
    {
        let mut book = demo.book();
        let pins = book.pins.entry(user.clone()).or_default();
        for d in devices.into_iter().filter(|d| d.revoked.is_none()) {
            if !pins.iter().any(|p| p.id == d.id) {
                pins.push(PinnedDevice { id: d.id, public_key: d.public_key });
            }
        }
        let now = state.now();
        if book.logins.len() >= MAX_BOOK_LOGINS {
            book.logins.retain(|_, (_, _, expires)| *expires > now);
        }
        if book.logins.len() < MAX_BOOK_LOGINS {
            let shown = [text("/display/number"), text("/display/code")]
                .into_iter()
                .find(|t| !t.is_empty());
            let expires = created.get("expires").and_then(Value::as_u64).unwrap_or(now);
            book.logins.insert(text("/id"), (user.clone(), shown, expires));
        }
    }
    let instructions = match mode {
        VerificationMode::Approve => {
            "<p>We sent a sign-in request to your Tessera app. Check the details and approve it.</p>"
                .to_owned()
        }
        VerificationMode::Pick => format!(
            "<p>In your Tessera app, pick this number:</p><p class=\"big\" id=\"number\">{}</p>",
            esc(&text("/display/number"))
        ),
        VerificationMode::Code => format!(
            "<p>Type this code in your Tessera app:</p><p class=\"big\" id=\"code\">{}</p>",
            esc(&text("/display/code"))
        ),
    };
    let num = |k: &str| created.get(k).and_then(Value::as_u64).unwrap_or_default();
    let left = num("expires").saturating_sub(num("created")).to_string();
    let unknown = |v: Option<String>| esc(v.as_deref().unwrap_or("unknown"));
    let page_body = fill(
        LOGIN,
        &[
            ("user", &esc(&user)),
            ("instructions", &instructions),
            ("left", &left),
            ("id", &esc(&text("/id"))),
            ("rp", &esc(DEMO_RP)),
            ("app", &unknown(context.app)),
            ("ip", &unknown(context.ip)),
            ("location", &unknown(context.location)),
            ("user_agent", &unknown(context.user_agent)),
        ],
    );
    page(StatusCode::OK, title, &page_body)
}

/// The outcome of a demo login, checked as a relying party must: `approved` counts only
/// if the device's signed approval of this login, user and answer verifies with a key the
/// demo pinned; otherwise it shows `unverified`.
async fn outcome(
    State(demo): State<Demo>,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> Result<Json<Value>, ApiError> {
    let state = &demo.state;
    allow(state)?;
    // Only the demo's own logins: this page has no API key to show other relying parties'.
    let mine = state.0.store.login(&id, state.now())?.is_some_and(|l| l.rp == DEMO_RP);
    if !mine {
        return Err(err(StatusCode::NOT_FOUND, "no such demo login"));
    }
    let outcome = wait_login(state, &id, q.wait.unwrap_or(0)).await?;
    let mut shown = outcome.get("state").and_then(Value::as_str).unwrap_or("pending").to_owned();
    if shown == "approved" {
        let book = demo.book();
        let verified = book.logins.get(&id).is_some_and(|(user, answer, _)| {
            let pins = book.pins.get(user).map_or(&[][..], Vec::as_slice);
            let expected = ExpectedLogin { id: &id, user, answer: answer.as_deref() };
            crate::verify_outcome(&outcome, pins, &expected).is_ok()
        });
        if !verified {
            shown = "unverified".to_owned();
        }
    }
    Ok(Json(json!({ "id": id, "state": shown })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn fills_placeholders_once_without_rescanning_values() {
        let out = fill("<p>{{a}} {{b}} {{missing}}</p>", &[("a", "{{b}}"), ("b", "x")]);
        assert_eq!(out, "<p>{{b}} x {{missing}}</p>");
        assert_eq!(fill("tail {{open", &[]), "tail {{open");
    }

    #[test]
    fn every_placeholder_of_every_page_is_known() {
        let known = [
            "title",
            "body",
            "message",
            "hint",
            "user",
            "qr",
            "uri",
            "secret",
            "ttl",
            "modes",
            "instructions",
            "left",
            "id",
            "rp",
            "app",
            "ip",
            "location",
            "user_agent",
            "csrf",
        ];
        for template in [LAYOUT, INDEX, ENROL, MODES, LOGIN, FAILURE] {
            let values: Vec<(&str, &str)> = known.iter().map(|k| (*k, "")).collect();
            assert!(!fill(template, &values).contains("{{"), "{template}");
        }
    }

    #[test]
    fn local_addresses_are_the_local_network_and_others_unknown() {
        assert_eq!(location("127.0.0.1".parse().unwrap()), Some("Local network"));
        assert_eq!(location("192.168.1.20".parse().unwrap()), Some("Local network"));
        assert_eq!(location("::1".parse().unwrap()), Some("Local network"));
        assert_eq!(location("::ffff:10.0.0.1".parse().unwrap()), Some("Local network"));
        assert_eq!(location("203.0.113.7".parse().unwrap()), None);
    }

    #[test]
    fn the_qr_svg_is_inline_markup() {
        let svg = qr_svg("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert_eq!(group4("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
