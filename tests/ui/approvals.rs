//! The approvals view against an in-process push server: requests come to the front, each
//! button sends the right decision, number matching sends the chosen number, expired requests
//! disappear, a locked app keeps listening but answers nothing, and the vault keeps the history.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use slint::{ComponentHandle, Model as _};
use tessera::{AppAdapter, ApprovalsAdapter, Background, Deps, Screen};
use tessera_core::push::{
    Decision, DeviceKey, PushAccount, PushBackend, PushBackendKind, PushEnrolment, PushError,
    PushRequest, RequestContext, ScheduleConfig,
};

use super::{ENGLISH, Harness, RFC_TIME};
use crate::common::fakes::{FakeClipboard, FakeClock, FakeNotifier};
use crate::common::test_vault::TestVault;

/// A push server in memory: the test queues requests; polls list the unexpired ones and
/// answers are recorded (and take the request off the list, as a real server does).
#[derive(Default)]
pub struct FakeServer {
    pub pending: Mutex<Vec<PushRequest>>,
    pub answers: Mutex<Vec<(String, Decision)>>,
    pub polls: AtomicUsize,
    pub down: AtomicBool,
}

impl PushBackend for FakeServer {
    fn kind(&self) -> PushBackendKind {
        PushBackendKind::PrivacyIdea
    }
    fn enrol(&self, _: &PushEnrolment, _: u64, _: u64) -> Result<PushAccount, PushError> {
        Err(PushError::InvalidEnrolment("the fake server does not enrol".into()))
    }
    fn poll(&self, _: &PushAccount, now: u64) -> Result<Vec<PushRequest>, PushError> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(PushError::Unreachable {
                server: "pi.example".into(),
                detail: "Connection refused".into(),
            });
        }
        Ok(self.pending.lock().unwrap().iter().filter(|r| !r.is_expired(now)).cloned().collect())
    }
    fn answer(&self, _: &PushAccount, r: &PushRequest, d: &Decision) -> Result<(), PushError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PushError::Unreachable {
                server: "pi.example".into(),
                detail: "Connection refused".into(),
            });
        }
        self.answers.lock().unwrap().push((r.id.clone(), d.clone()));
        self.pending.lock().unwrap().retain(|p| p.id != r.id);
        Ok(())
    }
}

fn account() -> PushAccount {
    static KEY: OnceLock<DeviceKey> = OnceLock::new();
    PushAccount {
        backend: PushBackendKind::PrivacyIdea,
        serial: "PIPU0001".into(),
        url: "https://pi.example/ttype/push".into(),
        sslverify: true,
        device_key: KEY.get_or_init(|| DeviceKey::generate_with_bits(2048).unwrap()).clone(),
        server_public_key: vec![],
        issuer: "privacyIDEA".into(),
        label: "alice".into(),
        enrolled_at: 0,
        require_password: false,
    }
}

pub fn request(id: &str, options: Option<&[&str]>) -> PushRequest {
    PushRequest {
        id: id.into(),
        backend: PushBackendKind::PrivacyIdea,
        serial: "PIPU0001".into(),
        title: "Example Corp VPN".into(),
        question: "Log in as alice?".into(),
        server: "pi.example".into(),
        created: RFC_TIME,
        expires: RFC_TIME + 120,
        require_presence: options.map(|o| o.iter().map(|s| (*s).to_owned()).collect()),
        context: RequestContext {
            ip: Some("203.0.113.7".into()),
            location: Some("Utrecht, NL".into()),
            app: None,
            user_agent: None,
        },
        answer_url: "https://pi.example/ttype/push".into(),
        sslverify: true,
        decline_reason_supported: true,
        code_entry: false,
        signed_challenge: None,
    }
}

pub struct PushHarness {
    pub h: Harness,
    pub server: Arc<FakeServer>,
    pub notes: Arc<FakeNotifier>,
}

/// Starts the app with one push account on `server`, settings `settings`; locked.
pub fn start_push(server: Arc<FakeServer>, settings: &str) -> PushHarness {
    start_push_with(server, settings, account())
}

/// Like [`start_push`] with the given push account.
pub fn start_push_with(
    server: Arc<FakeServer>,
    settings: &str,
    account: PushAccount,
) -> PushHarness {
    let vault = TestVault::with_password(Vec::new(), vec![account]);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("settings.json"), settings).unwrap();
    let clock = FakeClock::at(RFC_TIME);
    let clipboard = FakeClipboard::default();
    let notes = Arc::new(FakeNotifier::default());
    let sources = Arc::new(crate::ui::scan::FakeSources::default());
    let deps = Deps {
        clock: clock.clone(),
        clipboard: Box::new(clipboard.clone()),
        home: home.path().to_owned(),
        vault: vault.file(),
        background: Background::Inline,
        password_file: None,
        scan_sources: sources.clone(),
        push_backends: vec![server.clone() as Arc<dyn PushBackend>],
        push_schedule: ScheduleConfig::default(),
        notify: notes.clone(),

        autostart: tessera::platform::autostart::Autostart::at(
            home.path().join("autostart/entry.desktop"),
        ),
        tray: std::sync::Arc::new(tessera::platform::tray::NoTray),
    };
    let app = tessera::build(deps).unwrap();
    app.window().window().set_size(slint::LogicalSize::new(440.0, 640.0));
    app.window().show().unwrap();
    PushHarness { h: Harness { app, clock, clipboard, vault, home, sources }, server, notes }
}

fn unlock(h: &Harness, password_label: &str, unlock_label: &str) {
    h.type_into(password_label, "1234");
    h.click(unlock_label);
}

/// Unlocked, with `requests` waiting on the server.
fn with_requests(requests: Vec<PushRequest>) -> PushHarness {
    i_slint_backend_testing::init_no_event_loop();
    let server = Arc::new(FakeServer::default());
    server.pending.lock().unwrap().extend(requests);
    let p = start_push(server, ENGLISH);
    unlock(&p.h, "Password or PIN", "Unlock");
    p
}

fn screen(h: &Harness) -> Screen {
    h.app.window().global::<AppAdapter>().get_screen()
}

fn history(h: &Harness) -> Vec<Option<Decision>> {
    h.vault.content().push_history.iter().map(|i| i.decision.clone()).collect()
}

#[test]
fn a_request_comes_to_the_front_with_who_what_where_and_a_notification() {
    let p = with_requests(vec![request("N1", None)]);
    let h = &p.h;
    assert_eq!(screen(h), Screen::Approvals, "the approvals view came to the front");
    assert!(h.exists("Log in as alice?"));
    assert!(h.exists("Server pi.example"), "the server is named");
    assert!(h.exists("From IP 203.0.113.7"), "the requesting IP is shown");
    assert!(h.exists("Location Utrecht, NL"));
    assert!(h.exists("120 seconds left to answer"));
    assert_eq!(p.notes.notes(), ["Example Corp VPN: Log in as alice?"]);
    h.wait(10);
    assert!(h.exists("110 seconds left to answer"), "the countdown runs");
    assert_eq!(p.notes.notes().len(), 1, "polling again does not notify again");
}

#[test]
fn approve_sends_approve_and_the_history_records_it() {
    let p = with_requests(vec![request("N1", None)]);
    p.h.click("Approve");
    assert_eq!(
        *p.server.answers.lock().unwrap(),
        [("N1".to_owned(), Decision::Approve { answer: None })]
    );
    assert!(!p.h.exists("Approve"), "the answered request is gone");
    assert_eq!(history(&p.h), [Some(Decision::Approve { answer: None })], "saved in the vault");
    assert!(p.h.exists("Example Corp VPN: Approved"), "the history list shows it");
    p.h.click("Back");
    assert_eq!(screen(&p.h), Screen::Accounts);
    assert!(p.h.exists("Push accounts: 1"), "push accounts are marked on the list");
}

/// privacyIDEA's `pin`/`app_force_unlock`: the account's server asked that approving needs
/// the device unlocked. An unlocked app still asks for the vault password; without it, or
/// with a wrong one, nothing is sent. Deny needs none.
#[test]
fn an_account_that_requires_the_password_approves_only_with_the_vault_password() {
    i_slint_backend_testing::init_no_event_loop();
    let server = Arc::new(FakeServer::default());
    server.pending.lock().unwrap().extend([request("N1", None), request("N2", None)]);
    let strict = PushAccount { require_password: true, ..account() };
    let p = start_push_with(server, ENGLISH, strict);
    unlock(&p.h, "Password or PIN", "Unlock");
    assert_eq!(screen(&p.h), Screen::Approvals);
    let adapter = p.h.app.window().global::<ApprovalsAdapter>();
    assert!(p.h.exists("Vault password to approve"), "the view asks for the password");

    adapter.invoke_approve("N1".into(), "".into(), "".into());
    assert!(p.server.answers.lock().unwrap().is_empty(), "no password: nothing sent");
    adapter.invoke_approve("N1".into(), "".into(), "not the password".into());
    assert!(p.server.answers.lock().unwrap().is_empty(), "wrong password: nothing sent");
    assert!(p.h.exists("Wrong password; nothing was sent"));

    adapter.invoke_deny("N2".into());
    adapter.invoke_approve("N1".into(), "".into(), "1234".into());
    assert_eq!(
        *p.server.answers.lock().unwrap(),
        [("N2".to_owned(), Decision::Deny), ("N1".to_owned(), Decision::Approve { answer: None })]
    );
}

#[test]
fn deny_sends_deny() {
    let p = with_requests(vec![request("N1", None)]);
    p.h.click("Deny");
    assert_eq!(*p.server.answers.lock().unwrap(), [("N1".to_owned(), Decision::Deny)]);
    assert_eq!(history(&p.h), [Some(Decision::Deny)]);
    assert!(p.h.exists("Example Corp VPN: Denied"));
}

#[test]
fn this_wasnt_me_sends_not_me() {
    let p = with_requests(vec![request("N1", None)]);
    p.h.click("This wasn't me");
    assert_eq!(*p.server.answers.lock().unwrap(), [("N1".to_owned(), Decision::NotMe)]);
    assert_eq!(history(&p.h), [Some(Decision::NotMe)]);
    assert!(p.h.exists("Example Corp VPN: Denied: this wasn't me"));
}

#[test]
fn number_matching_offers_the_numbers_and_sends_the_chosen_one() {
    let p = with_requests(vec![request("N1", Some(&["17", "42", "93"]))]);
    assert!(!p.h.exists("Approve"), "no plain approve when a number must be picked");
    assert!(p.h.exists("Approve with 17") && p.h.exists("Approve with 93"));
    p.h.click("Approve with 42");
    assert_eq!(
        *p.server.answers.lock().unwrap(),
        [("N1".to_owned(), Decision::Approve { answer: Some("42".into()) })]
    );
    assert!(p.h.exists("Example Corp VPN: Approved with 42"));
}

#[test]
fn expired_requests_disappear_and_are_recorded_as_expired() {
    let p = with_requests(vec![request("N1", None)]);
    assert!(p.h.exists("Approve"));
    p.h.wait(121);
    assert!(!p.h.exists("Approve"), "the expired request is gone");
    assert!(p.h.exists("No login is waiting for your approval."));
    assert_eq!(history(&p.h), [None], "the history records the expiry");
    assert!(p.server.answers.lock().unwrap().is_empty());
}

#[test]
fn a_locked_app_keeps_listening_announces_requests_and_answers_only_after_the_unlock() {
    let p = with_requests(vec![request("N1", None)]);
    let window = p.h.app.window();
    window.global::<AppAdapter>().invoke_lock();
    assert_eq!(screen(&p.h), Screen::Unlock);
    assert!(!p.h.exists("Approve"), "nothing to approve on a locked app");
    assert!(!p.h.exists("Log in as alice?"), "a locked app does not show the request");
    assert!(p.h.exists("A login request is waiting: unlock to answer it"));
    window.global::<ApprovalsAdapter>().invoke_approve("N1".into(), "".into(), "".into());
    assert!(p.server.answers.lock().unwrap().is_empty(), "no answer was sent");

    // Polling goes on while locked (issue 12); a new request is announced without details.
    let polls = p.server.polls.load(Ordering::SeqCst);
    p.server.pending.lock().unwrap().push(request("N2", None));
    p.h.wait(30);
    assert!(p.server.polls.load(Ordering::SeqCst) > polls, "still polling while locked");
    assert_eq!(
        p.notes.notes().last().map(String::as_str),
        Some("Tessera: Login request from Example Corp VPN — unlock Tessera to answer"),
        "announced, not shown"
    );
    assert!(p.h.exists("2 login requests are waiting: unlock to answer them"));

    // The unlock brings both requests to the front at once, answerable.
    unlock(&p.h, "Password or PIN", "Unlock");
    assert_eq!(screen(&p.h), Screen::Approvals);
    let shown = window.global::<ApprovalsAdapter>().get_requests();
    assert_eq!(shown.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(), ["N1", "N2"]);
    p.h.all("Deny").remove(0).invoke_accessible_default_action();
    assert_eq!(p.server.answers.lock().unwrap().len(), 1, "answered after the unlock");
}

#[test]
fn an_unreachable_server_is_explained_and_the_request_stays() {
    let p = with_requests(vec![request("N1", None)]);
    p.server.down.store(true, Ordering::SeqCst);
    p.h.click("Approve");
    assert!(p.h.exists("Cannot reach the push server pi.example: Connection refused"));
    assert!(p.h.exists("Approve"), "the request stays to be answered once the server is back");
    assert!(history(&p.h).is_empty());
    p.server.down.store(false, Ordering::SeqCst);
    p.h.click("Approve");
    assert_eq!(p.server.answers.lock().unwrap().len(), 1);
}

/// Renders the approvals view (English light with number matching and history; Dutch dark).
/// `TESSERA_SCREENSHOTS=dir` writes the PNGs; without it the images are still checked to be
/// not blank.
#[test]
fn screenshots_of_the_approvals_view_render() {
    use i_slint_backend_testing::{TestingBackend, TestingBackendOptions, mock_elapsed_time};
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .expect("no platform yet on this thread");
    for (settings, name, password, unlock_label) in [
        (ENGLISH, "approvals-light", "Password or PIN", "Unlock"),
        (
            r#"{"language":"dutch","theme":"dark"}"#,
            "approvals-dutch-dark",
            "Wachtwoord of pincode",
            "Ontgrendelen",
        ),
    ] {
        let server = Arc::new(FakeServer::default());
        let mut earlier = request("OLD", None);
        earlier.question = "Log in as alice from 198.51.100.20?".into();
        server.pending.lock().unwrap().push(earlier);
        let p = start_push(server.clone(), settings);
        mock_elapsed_time(std::time::Duration::from_millis(50));
        p.h.type_into(password, "1234");
        p.h.click(unlock_label);
        let window = p.h.app.window();
        window.global::<ApprovalsAdapter>().invoke_deny("OLD".into());
        server.pending.lock().unwrap().push(request("N1", Some(&["17", "42", "93"])));
        p.h.wait(3);
        p.h.wait(17);
        snapshot(&p.h, name);
        if settings == ENGLISH {
            p.h.click("Back");
            snapshot(&p.h, "approvals-accounts-strip-light");
            let mut code = request("N2", None);
            code.code_entry = true;
            code.title = "Example Corp".into();
            code.question =
                "Log in to Example Corp as alice? Type the code shown on the login screen.".into();
            code.context.app = Some("Example Corp portal".into());
            code.context.user_agent = Some("Firefox 140 on Linux".into());
            server.pending.lock().unwrap().clear();
            server.pending.lock().unwrap().push(code);
            p.h.wait(3);
            p.h.type_into("Code shown on the login screen", "4829");
            snapshot(&p.h, "approvals-code-light");
            p.h.click("Remove push approvals for privacyIDEA · alice · pi.example");
            snapshot(&p.h, "approvals-remove-confirm-light");
            p.h.click("Keep");
            // A scanned Tessera enrolment waiting for "Set up push approvals".
            *p.h.sources.clipboard.lock().unwrap() = Some(
                "otpauth://totp/Example%20Corp:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example%20Corp\
                 #push=tessera1&push_url=http%3A%2F%2F127.0.0.1%3A8787&push_device=0a1b2c3d&push_credential=00ff&push_ttl=10&push_sslverify=0"
                    .into(),
            );
            p.h.click("Back");
            p.h.click("Add account");
            p.h.click("Scan QR code");
            p.h.click("Paste from clipboard");
            assert!(p.h.exists("Set up push approvals"), "the offer shows");
            snapshot(&p.h, "scan-push-offer-light");
        }
    }
}

fn snapshot(h: &Harness, name: &str) {
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
    let image = h.app.window().window().take_snapshot().expect("software renderer snapshot");
    let pixels = image.as_bytes();
    assert!(pixels.chunks(4).any(|px| px != &pixels[..4]), "{name} is blank");
    if let Some(dir) = std::env::var_os("TESSERA_SCREENSHOTS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::fs::File::create(dir.join(format!("{name}.png"))).unwrap();
        let mut encoder = png::Encoder::new(file, image.width(), image.height());
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header().unwrap().write_image_data(pixels).unwrap();
    }
}

#[test]
fn code_entry_sends_the_typed_code_and_the_field_survives_the_countdown() {
    let mut r = request("N1", None);
    r.code_entry = true;
    r.context.user_agent = Some("Firefox 140 on Linux".into());
    let p = with_requests(vec![r]);
    let h = &p.h;
    assert!(h.exists("Browser Firefox 140 on Linux"), "the browser is shown");
    assert!(!h.exists("Approve with 12"), "no number choices in code mode");
    h.type_into("Code shown on the login screen", "48291");
    h.click("Approve");
    assert!(p.server.answers.lock().unwrap().is_empty(), "five digits cannot approve");
    h.type_into("Code shown on the login screen", "482913");
    // The countdown refreshes the row every second; the typed code must stay put.
    h.wait(3);
    assert!(h.exists("117 seconds left to answer"));
    assert_eq!(h.one("Code shown on the login screen").accessible_value().unwrap(), "482913");
    h.click("Approve");
    assert_eq!(
        *p.server.answers.lock().unwrap(),
        [("N1".to_owned(), Decision::Approve { answer: Some("482913".into()) })]
    );
    assert!(!h.exists("Code shown on the login screen"), "the answered request is gone");
}

#[test]
fn a_push_account_is_removed_after_confirmation_and_polling_stops() {
    let p = with_requests(vec![request("N1", None)]);
    let h = &p.h;
    let name = "Remove push approvals for privacyIDEA · alice · pi.example";
    h.click(name);
    assert!(h.exists("Yes, remove push approvals"), "asks first");
    h.click("Keep");
    assert!(!h.exists("Yes, remove push approvals"), "Keep changes nothing");
    assert_eq!(h.vault.content().push_accounts.len(), 1);

    h.click(name);
    h.click("Yes, remove push approvals");
    assert!(h.vault.content().push_accounts.is_empty(), "saved without it");
    assert!(!h.exists("Log in as alice?"), "its pending request went with it");
    assert!(!h.exists(name));
    let polls = p.server.polls.load(std::sync::atomic::Ordering::SeqCst);
    h.wait(10);
    assert_eq!(
        p.server.polls.load(std::sync::atomic::Ordering::SeqCst),
        polls,
        "nothing is polled any more"
    );
}
