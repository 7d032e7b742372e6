//! The demo relying party (`tessera-server serve --demo`) end to end: the real server binary
//! on 127.0.0.1, its pages fetched and submitted like a browser would, the real `tessera`
//! binary as the device.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_core::push::tessera::ExpectedLogin;
use tessera_core::qr::{DecodeOptions, LumaFrame};

use super::{Db, Server, http, pending, server_bin, wait_pending};
use crate::common::Home;

fn demo_server() -> Server {
    Server::start_with(&["--demo"])
}

/// Submits a form to the server like a browser; returns (status, HTML).
fn post(server: &Server, path: &str, form: &[(&str, &str)], user_agent: &str) -> (u16, String) {
    // The forms carry the page's anti-CSRF token.
    let index = http().get(format!("{}/demo", server.url())).send().unwrap().text().unwrap();
    let csrf = between(&index, "name=\"csrf\" value=\"", "\"").to_owned();
    let mut form = form.to_vec();
    form.push(("csrf", &csrf));
    let response = http()
        .post(format!("{}{path}", server.url()))
        .header("user-agent", user_agent)
        .form(&form)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().unwrap())
}

/// The demo's outcome endpoint for login `id`, waiting up to `wait` seconds.
fn demo_outcome(server: &Server, id: &str, wait: u64) -> (u16, Value) {
    let response =
        http().get(format!("{}/demo/logins/{id}?wait={wait}", server.url())).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?} in:\n{text}")) + start.len();
    let len = text[from..].find(end).unwrap_or_else(|| panic!("no {end:?} after {start:?}"));
    &text[from..from + len]
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Rasterises the SVG that the `qrcode` crate draws (one `M x yhWvHH..V..` sub-path per
/// dark run) and decodes it with Tessera's own QR reader.
fn decode_svg_qr(svg: &str) -> Vec<String> {
    let view: Vec<usize> =
        between(svg, "viewBox=\"0 0 ", "\"").split(' ').map(|n| n.parse().unwrap()).collect();
    let (w, h) = (view[0], view[1]);
    let scale = 2;
    let mut pixels = vec![255u8; w * scale * h * scale];
    let path = between(svg, " d=\"", "\"");
    let mut runs = 0;
    for run in path.split('M').filter(|r| !r.is_empty()) {
        let (at, rest) = run.split_once('h').unwrap();
        let (left, top) = at.split_once(' ').unwrap();
        let (width, rest) = rest.split_once('v').unwrap();
        let (height, _) = rest.split_once('H').unwrap();
        let [left, top, width, height]: [usize; 4] =
            [left, top, width, height].map(|n| n.parse().unwrap());
        for y in top * scale..(top + height) * scale {
            for x in left * scale..(left + width) * scale {
                pixels[y * w * scale + x] = 0;
            }
        }
        runs += 1;
    }
    assert!(runs > 100, "a real QR code has many dark runs, got {runs}");
    let frame = LumaFrame::new(
        u32::try_from(w * scale).unwrap(),
        u32::try_from(h * scale).unwrap(),
        pixels,
    )
    .unwrap();
    tessera_core::qr::decode(&frame, &DecodeOptions { budget: None, exhaustive: false }).payloads
}

/// Enrols `user` through the demo page and adds the URI shown to a fresh `tessera` home.
fn enrol_device(server: &Server, user: &str) -> (Home, String) {
    let (status, html) = post(server, "/demo/enrol", &[("user", user)], "test");
    assert_eq!(status, 200, "{html}");
    let uri = unescape(between(&html, "<code id=\"uri\">", "</code>"));
    let home = Home::new();
    let out = home.ok(&["add", &uri]);
    assert!(out.contains("added push approvals for"), "{out}");
    (home, uri)
}

/// Starts a demo login; returns the login page and the login id in it.
fn demo_login(server: &Server, user: &str, mode: &str, user_agent: &str) -> (String, String) {
    let (status, html) = post(server, "/demo/login", &[("user", user), ("mode", mode)], user_agent);
    assert_eq!(status, 200, "{html}");
    let id = between(&html, "data-id=\"", "\"").to_owned();
    assert_eq!(id.len(), 32, "{id}");
    (html, id)
}

#[test]
fn the_demo_page_offers_enrolment_and_login_and_says_where_it_is() {
    let server = demo_server();
    let response = http().get(format!("{}/demo", server.url())).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.headers().contains_key("content-security-policy"));
    let html = response.text().unwrap();
    assert!(html.contains("Example Corp"), "{html}");
    assert!(html.contains(r#"<form method="post" action="/demo/enrol">"#), "{html}");
    assert!(html.contains(r#"<form method="post" action="/demo/login">"#), "{html}");
    for mode in ["approve", "pick", "code"] {
        assert!(html.contains(&format!(r#"name="mode" value="{mode}""#)), "{mode}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "no external resources");
    assert!(!html.contains(&server.key()), "the API key never reaches the browser");
    let line = format!("demo: {}/demo", server.url());
    assert!(server.log().contains(&line), "{}", server.log());
}

#[test]
fn the_demo_enrolment_qr_holds_exactly_the_uri_shown_and_tessera_adds_it() {
    let server = demo_server();
    let (status, html) = post(&server, "/demo/enrol", &[("user", "alice")], "test");
    assert_eq!(status, 200, "{html}");
    let uri = unescape(between(&html, "<code id=\"uri\">", "</code>"));
    assert!(uri.starts_with("otpauth://totp/Example%20Corp:alice?"), "{uri}");
    assert!(uri.contains("#push=tessera1&"), "{uri}");
    let svg = format!("<svg{}</svg>", between(&html, "<svg", "</svg>"));
    assert_eq!(decode_svg_qr(&svg), vec![uri.clone()], "the QR code encodes the URI shown");
    // The "Account secret key" is the URI's TOTP secret.
    let parsed = tessera_core::uri::OtpUri::parse(&uri).unwrap();
    let secret = between(&html, "<code id=\"secret\">", "</code>").replace(' ', "");
    assert_eq!(secret, *parsed.otp.secret.to_base32());
    assert!(!html.contains(&server.key()), "the API key never reaches the browser");
    // Tessera takes the URI: TOTP and push on one account.
    let home = Home::new();
    let out = home.ok(&["add", &uri]);
    assert!(out.contains("added push approvals for"), "{out}");
    assert!(home.ok(&["list", "--json"]).contains("alice"));
}

#[test]
fn a_demo_login_in_pick_mode_is_approved_with_the_number_it_shows() {
    let server = demo_server();
    let (home, _) = enrol_device(&server, "bob");
    let (html, id) = demo_login(&server, "bob", "pick", "DemoBrowser/1.0");
    let number = between(&html, "<p class=\"big\" id=\"number\">", "</p>").to_owned();
    assert_eq!(number.len(), 2, "{html}");
    assert!(html.contains("s left"), "a countdown: {html}");
    assert_eq!(demo_outcome(&server, &id, 0), (200, json!({ "id": id, "state": "pending" })));

    let request = wait_pending(&home, 1).remove(0);
    assert_eq!(request["id"], id.as_str());
    assert_eq!(request["title"], "Example Corp");
    assert_eq!(request["context"]["app"], "Example Corp demo");
    assert_eq!(request["context"]["ip"], "127.0.0.1");
    assert_eq!(request["context"]["location"], "Local network");
    assert_eq!(request["context"]["user_agent"], "DemoBrowser/1.0");
    let options = request["require_presence"].as_array().unwrap();
    assert!(options.iter().any(|o| o == number.as_str()), "{options:?}");

    // The page's poll is a long-poll: it returns when the device answers.
    let poll = std::thread::spawn({
        let (url, id) = (server.url(), id.clone());
        move || {
            let started = Instant::now();
            let reply: Value = http()
                .get(format!("{url}/demo/logins/{id}?wait=20"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            (reply, started.elapsed())
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let out = home.ok(&["push", "approve", &id, "--answer", &number]);
    assert!(out.starts_with("approved"), "{out}");
    let (reply, waited) = poll.join().unwrap();
    assert_eq!(reply["state"], "approved");
    assert!(waited < Duration::from_secs(15), "woken by the answer: {waited:?}");
    assert!(pending(&home).is_empty());
    // The relying-party API agrees, and its record verifies with the pinned device key.
    let (_, outcome) = server.rp(reqwest::Method::GET, &format!("/rp/v1/logins/{id}"), None);
    let (_, devices) = server.rp(reqwest::Method::GET, "/rp/v1/users/bob/devices", None);
    let pinned = tessera_server::pins_from_devices(&devices);
    let expected = ExpectedLogin { id: &id, user: "bob", answer: Some(&number) };
    assert_eq!(tessera_server::verify_outcome(&outcome, &pinned, &expected), Ok(()));
}

#[test]
fn demo_logins_denied_or_approved_by_code_report_their_outcome() {
    let server = demo_server();
    let (home, _) = enrol_device(&server, "carol");
    // approve mode, denied in the app
    let (html, id) = demo_login(&server, "carol", "approve", "test");
    assert!(html.contains("approve it"), "{html}");
    wait_pending(&home, 1);
    home.ok(&["push", "deny", &id]);
    assert_eq!(demo_outcome(&server, &id, 10).1["state"], "denied");
    // code mode: the code on the page approves
    let (html, id) = demo_login(&server, "carol", "code", "test");
    let code = between(&html, "<p class=\"big\" id=\"code\">", "</p>").to_owned();
    assert_eq!(code.len(), 6, "{html}");
    assert_eq!(wait_pending(&home, 1)[0]["code_entry"], true);
    home.ok(&["push", "approve", &id, "--answer", &code]);
    assert_eq!(demo_outcome(&server, &id, 10).1["state"], "approved");
    // "not me"
    let (_, id) = demo_login(&server, "carol", "approve", "test");
    wait_pending(&home, 1);
    home.ok(&["push", "deny", "--not-me", &id]);
    assert_eq!(demo_outcome(&server, &id, 10).1["state"], "not_me");
    // ... which mutes the user: the page says so instead of starting a login.
    let (status, html) = post(&server, "/demo/login", &[("user", "carol"), ("mode", "pick")], "t");
    assert_eq!(status, 429);
    assert!(html.contains("muted"), "{html}");
}

#[test]
fn the_demo_outcome_endpoint_shows_only_demo_logins() {
    let server = demo_server();
    let _device = enrol_device(&server, "dave");
    let (status, login) = server.rp(
        reqwest::Method::POST,
        "/rp/v1/logins",
        Some(json!({ "user": "dave", "rp": "Webmail" })),
    );
    assert_eq!(status, 200, "{login}");
    let id = login["id"].as_str().unwrap();
    assert_eq!(demo_outcome(&server, id, 0).0, 404);
    assert_eq!(demo_outcome(&server, "0123456789abcdef0123456789abcdef", 0).0, 404);
}

#[test]
fn user_input_on_the_demo_pages_is_escaped() {
    let server = demo_server();
    let evil = "<script>alert(1)</script>\"'&";
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
    let (home, uri) = enrol_device(&server, evil);
    assert!(uri.contains("%3Cscript%3E"), "{uri}");
    let (status, html) = post(&server, "/demo/enrol", &[("user", evil)], "t");
    assert_eq!(status, 200);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains(&format!("Set up Tessera for {escaped}</h1>")), "{html}");
    assert!(html.contains(&format!("value=\"{escaped}\"")), "{html}");

    let agent = "<img src=x onerror=alert(2)>";
    let (html, _) = demo_login(&server, evil, "approve", agent);
    assert!(!html.contains("<script>alert") && !html.contains("<img"), "{html}");
    assert!(html.contains(&format!("Signing in as {escaped}</h1>")), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"), "{html}");
    assert_eq!(wait_pending(&home, 1)[0]["context"]["user_agent"], agent);

    // Error pages escape too (no device for this user; an unknown mode).
    let (status, html) = post(&server, "/demo/login", &[("user", "<b>x"), ("mode", "code")], "t");
    assert_eq!(status, 404);
    assert!(html.contains("no active device") && !html.contains("<b>x"), "{html}");
    assert!(html.contains("Enrol a device for this user first."), "{html}");
    let (status, html) = post(&server, "/demo/login", &[("user", "x"), ("mode", "<i>")], "t");
    assert_eq!(status, 400);
    assert!(!html.contains("<i>"), "{html}");
}

#[test]
fn demo_pages_need_the_flag_and_a_loopback_address() {
    let plain = Server::start(Db::Sqlite);
    let response = http().get(format!("{}/demo", plain.url())).send().unwrap();
    assert_eq!(response.status().as_u16(), 404, "no demo without --demo");

    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(server_bin())
        .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--data"])
        .arg(data.path().join("d"))
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--demo-allow-remote"), "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
    assert!(!data.path().join("d").exists(), "refused before touching the data folder");
}

/// The README's loop with the desktop app: the app scans the demo page's QR code (the SVG
/// decoded to the text a camera would read), sets up push, shows the demo login's context and
/// approves it by picking the number the page shows.
#[test]
fn the_app_scans_the_demo_qr_and_approves_a_demo_login_by_number() {
    use std::sync::Arc;

    use tessera_core::push::tessera::TesseraBackend;

    use crate::common::live_app::LiveApp;

    let server = demo_server();
    let (status, html) = post(&server, "/demo/enrol", &[("user", "erin")], "test");
    assert_eq!(status, 200, "{html}");
    let svg = format!("<svg{}</svg>", between(&html, "<svg", "</svg>"));
    let scanned = decode_svg_qr(&svg).remove(0);
    let app = LiveApp::start(Arc::new(TesseraBackend::new().unwrap()), &scanned);
    app.scan_clipboard();
    app.click("Set up push approvals");
    assert_eq!(app.screen(), tessera::Screen::Accounts);

    let (html, id) = demo_login(&server, "erin", "pick", "DemoBrowser/2.0");
    let number = between(&html, "<p class=\"big\" id=\"number\">", "</p>").to_owned();
    let approve = format!("Approve with {number}");
    app.wait_for(&approve, 20);
    assert_eq!(app.screen(), tessera::Screen::Approvals);
    for fact in [
        "App Example Corp demo",
        "From IP 127.0.0.1",
        "Location Local network",
        "Browser DemoBrowser/2.0",
    ] {
        assert!(app.exists(fact), "the app shows {fact:?}");
    }
    app.click(&approve);
    assert_eq!(demo_outcome(&server, &id, 10).1["state"], "approved");
}
