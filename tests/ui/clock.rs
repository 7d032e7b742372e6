//! The clock check in the window: a push server on 127.0.0.1 whose `Date` header is 47 s
//! behind brings the banner above the accounts, "Correct codes" moves the codes to the
//! server's time, and Settings › Clock names the offset and its source; a time server
//! (SNTP on 127.0.0.1, written in tests/common/sntp.rs) is asked from Settings.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use slint::ComponentHandle;
use tessera::model::reveal::spoken;
use tessera::{Background, ClockAdapter, Deps};
use tessera_core::clock::offset::{Reading, Source};
use tessera_core::otp::{OtpParams, Secret};
use tessera_core::push::{
    DeviceKey, PrivacyIdeaBackend, PushAccount, PushBackend, PushBackendKind, ScheduleConfig,
};

use super::{ENGLISH, Harness, RFC_KEY, RFC_TIME, entry};
use crate::common::fakes::{FakeClipboard, FakeClock};
use crate::common::sntp::{Responder, Skew};
use crate::common::test_vault::TestVault;

/// A privacyIDEA stand-in on 127.0.0.1: answers every poll with no challenges, and a `Date`
/// header `behind` the real clock. Stops when dropped.
struct SkewedServer {
    port: u16,
    polls: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl SkewedServer {
    fn start(behind: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (polls, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (counted, stopped) = (Arc::clone(&polls), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"result":{"status":true,"value":[]},"version":"privacyIDEA 3.14"}"#;
                let date = httpdate::fmt_http_date(SystemTime::now() - behind);
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { port, polls, stop }
    }
}

impl Drop for SkewedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The app with one TOTP account and one privacyIDEA push account polling `server`.
fn start(server: &SkewedServer, settings: &str) -> Harness {
    static KEY: OnceLock<DeviceKey> = OnceLock::new();
    i_slint_backend_testing::init_no_event_loop();
    let account = PushAccount {
        backend: PushBackendKind::PrivacyIdea,
        serial: "PIPU0001".into(),
        url: format!("http://127.0.0.1:{}/ttype/push", server.port),
        sslverify: false,
        device_key: KEY.get_or_init(|| DeviceKey::generate_with_bits(2048).unwrap()).clone(),
        server_public_key: vec![],
        issuer: "privacyIDEA".into(),
        label: "alice".into(),
        enrolled_at: 0,
        require_password: false,
    };
    let vault = TestVault::with_password(vec![entry("Example", "ada", RFC_KEY)], vec![account]);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("settings.json"), settings).unwrap();
    let clock = FakeClock::at(RFC_TIME);
    let clipboard = FakeClipboard::default();
    let sources = Arc::new(crate::ui::scan::FakeSources::default());
    let backend: Arc<dyn PushBackend> = Arc::new(PrivacyIdeaBackend::new().unwrap());
    let deps = Deps {
        clock: clock.clone(),
        clipboard: Box::new(clipboard.clone()),
        home: home.path().to_owned(),
        vault: vault.file(),
        background: Background::Inline,
        password_file: None,
        scan_sources: sources.clone(),
        push_backends: vec![backend],
        push_schedule: ScheduleConfig::default(),
        notify: Arc::new(tessera::platform::notify::Silent),
        autostart: tessera::platform::autostart::Autostart::at(
            home.path().join("autostart/entry.desktop"),
        ),
        tray: Arc::new(tessera::platform::tray::NoTray),
    };
    let app = tessera::build(deps).unwrap();
    app.window().window().set_size(slint::LogicalSize::new(440.0, 640.0));
    app.window().show().unwrap();
    let h = Harness { app, clock, clipboard, vault, home, sources };
    if settings.contains("dutch") {
        h.type_into("Wachtwoord of pincode", "1234");
        h.click("Ontgrendelen");
    } else {
        h.type_into("Password or PIN", "1234");
        h.click("Unlock");
    }
    h
}

/// Opens Settings in a window tall enough to show its last section, Clock.
fn open_settings(h: &Harness) {
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 2400.0));
    h.click("Settings");
}

/// The code at `unix` as a row names it for a screen reader ("0 8 1 8 0 4").
fn code_at(unix: u64) -> String {
    spoken(&OtpParams::totp(Secret::parse_base32(RFC_KEY).unwrap()).code_at(unix))
}

fn banner(seconds: i64) -> String {
    format!(
        "Your computer's clock is {seconds} s fast: services may refuse your codes. Fix the \
         system clock, or let Tessera correct its codes."
    )
}

#[test]
fn a_push_server_47_seconds_behind_brings_the_banner_and_the_correction_moves_the_codes() {
    let server = SkewedServer::start(Duration::from_secs(47));
    let h = start(&server, ENGLISH);
    assert!(server.polls.load(Ordering::SeqCst) >= 1, "the unlock polled the server");
    let estimate = h.app.model().state().clock.estimate().cloned().expect("measured");
    assert_eq!(estimate.source, Source::PushServer(format!("127.0.0.1:{}", server.port)));
    // The header has whole seconds: 47 s to within its second and the round trip.
    let seconds = estimate.seconds();
    assert!((46..=48).contains(&seconds), "{estimate:?}");
    assert!(h.exists(&banner(seconds)), "the banner says how far off and what to do");
    assert!(h.exists(&code_at(RFC_TIME)), "the codes still use the computer's clock");

    h.click("Correct codes");
    let corrected = RFC_TIME.checked_add_signed(-seconds).unwrap();
    assert!(h.exists(&code_at(corrected)), "the codes now use the server's time");
    assert!(h.app.settings().correct_clock, "the choice is saved");
    assert!(h.exists(&format!(
        "Your computer's clock is {seconds} s fast; Tessera corrects its codes for it."
    )));
    h.click("Copy code for Example ada");
    assert_eq!(h.clipboard.content(), Some(code_at(corrected).replace(' ', "")));

    open_settings(&h);
    assert!(h.exists(&format!("Your computer's clock is {seconds} s fast (± 1 s).")));
    assert!(h.exists(&format!(
        "Measured against the push server 127.0.0.1:{} at {}.",
        server.port,
        utc_minutes(estimate.measured_at)
    )));
    h.click("Correct codes for the measured offset");
    assert!(!h.app.settings().correct_clock, "turned off again in Settings");
    h.click("Back");
    assert!(h.exists(&code_at(RFC_TIME)));
    assert!(h.exists(&banner(seconds)));
}

#[test]
fn a_server_in_step_brings_no_banner() {
    let server = SkewedServer::start(Duration::ZERO);
    let h = start(&server, ENGLISH);
    let estimate = h.app.model().state().clock.estimate().cloned().expect("measured");
    assert!(estimate.seconds().abs() <= 1, "{estimate:?}");
    assert!(!h.app.window().global::<ClockAdapter>().get_warn());
    assert!(!h.exists("Correct codes"));
}

#[test]
fn the_time_server_named_in_settings_is_asked_and_its_answer_shown() {
    let server = SkewedServer::start(Duration::ZERO);
    let h = start(&server, ENGLISH);
    // The fake clock stands still, so the responder's 125.25 s lead is measured exactly.
    let ntp = Responder::start(Skew::FromClient(125_250));
    open_settings(&h);
    h.type_into("Time server", &ntp.addr);
    h.click("Check the clock now");
    assert_eq!(h.app.settings().ntp_server, ntp.addr, "the server is saved");
    assert!(h.exists("Your computer's clock is 2 min 5 s slow (± 1 s)."));
    assert!(h.exists(&format!(
        "Measured against the time server {} at {}.",
        ntp.addr,
        utc_minutes(RFC_TIME)
    )));
    h.click("Back");
    assert!(h.exists(
        "Your computer's clock is 2 min 5 s slow: services may refuse your codes. Fix the \
         system clock, or let Tessera correct its codes."
    ));

    // A server that does not answer: said so in Settings, the last estimate stays.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    open_settings(&h);
    h.type_into("Time server", &addr);
    h.click("Check the clock now");
    assert!(h.exists(&format!(
        "Could not ask the time server: the time server {addr} did not answer within 3 s"
    )));
    assert!(h.exists("Your computer's clock is 2 min 5 s slow (± 1 s)."));
}

#[test]
fn the_banner_speaks_dutch() {
    let server = SkewedServer::start(Duration::from_secs(47));
    let h = start(&server, r#"{"language":"dutch","theme":"light"}"#);
    let seconds = h.app.model().state().clock.estimate().map(|e| e.seconds()).unwrap();
    assert!(h.exists(&format!(
        "De klok van je computer loopt {seconds} s voor: diensten kunnen je codes weigeren. Zet \
         de systeemklok gelijk, of laat Tessera zijn codes corrigeren."
    )));
    assert!(h.exists("Codes corrigeren"));
}

/// The banner for the README and assets/screenshots: an exact reading (the server said 47 s
/// less than the computer, headers back in 80 ms), English and light.
#[test]
fn screenshot_of_the_clock_banner() {
    super::screenshots::i_slint_core_platform_set();
    let h = super::start_on_current_backend(Some(super::screenshots::sample_entries()), ENGLISH);
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    h.app.model().take_clock_readings(vec![Reading::from_http_date(
        Source::PushServer("pi.example".into()),
        now * 1000,
        now * 1000 + 80,
        now - 47,
    )]);
    assert!(h.exists(&banner(47)));
    h.clock.set(RFC_TIME - 10);
    h.app.tick();
    super::screenshots::snapshot(&h, "clock-banner-english-light");
}

/// `2026-12-06 14:02 UTC` for Unix seconds.
fn utc_minutes(unix: u64) -> String {
    let text = tessera_core::push::format_utc(unix);
    format!("{} UTC", text[..16].replace('T', " "))
}
