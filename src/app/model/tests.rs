//! The model driven without a window: create, unlock, lock, copy and the idle lock, on a real
//! vault file.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use tessera_core::otp::{OtpParams, Secret};
use tessera_core::vault::{Entry, Unlock, VaultError};
use zeroize::Zeroizing;

use super::testing::{TestClipboard, TestClock, model};
use super::vault::NewProtection;
use super::{Event, Model, Notice, OpenError, View};

const RFC_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RFC_TIME: u64 = 1_111_111_109;
const PASSWORD: &str = "correct horse";

fn recorded(model: &Model) -> Rc<RefCell<Vec<Event>>> {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&events);
    model.subscribe(move |_, event| sink.borrow_mut().push(event.clone()));
    events
}

fn entry(issuer: &str) -> Entry {
    let otp = OtpParams::totp(Secret::parse_base32(RFC_KEY).unwrap());
    Entry::new(issuer.into(), "me".into(), otp, 1)
}

struct Setup {
    _home: tempfile::TempDir,
    model: Model,
    clock: Arc<TestClock>,
    board: TestClipboard,
}

fn created() -> Setup {
    let home = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(RFC_TIME.into()));
    let board = TestClipboard::default();
    let model = model(home.path(), Arc::clone(&clock), board.clone());
    model.create(NewProtection::Password(Zeroizing::new(PASSWORD.into())), |error| {
        assert!(error.is_none(), "{error:?}");
    });
    Setup { _home: home, model, clock, board }
}

#[test]
fn a_new_vault_opens_on_the_accounts_and_an_added_account_shows_in_the_list() {
    let setup = created();
    let events = recorded(&setup.model);
    assert!(setup.model.is_unlocked());
    setup.model.commit(|c| c.entries.push(entry("Zoë Bank"))).unwrap();
    assert!(setup.model.list().id_at(0).is_some());
    assert!(events.borrow().contains(&Event::ListChanged));
}

#[test]
fn locking_forgets_everything_and_tells_every_screen_and_unlocking_reads_the_file_back() {
    let setup = created();
    setup.model.commit(|c| c.entries.push(entry("Coöperatie"))).unwrap();
    setup.model.search("coö");
    let events = recorded(&setup.model);
    setup.model.lock();
    assert!(!setup.model.is_unlocked());
    assert_eq!(setup.model.list().id_at(0), None);
    assert!(setup.model.state().search.is_empty());
    let seen = events.borrow().clone();
    assert!(seen.contains(&Event::Locked) && seen.contains(&Event::Show(View::Unlock)));

    setup.model.unlock(Unlock::Password(Zeroizing::new("wrong horse".into())));
    assert!(matches!(
        setup.model.state().unlock.problem,
        Some(OpenError::Vault(VaultError::WrongPassword))
    ));
    setup.model.unlock(Unlock::Password(Zeroizing::new(PASSWORD.into())));
    assert!(setup.model.is_unlocked());
    assert_eq!(setup.model.state().entries()[0].issuer, "Coöperatie");
    assert!(events.borrow().contains(&Event::Unlocked));
}

#[test]
fn a_copied_code_is_cleared_after_the_delay_only_if_still_ours() {
    let setup = created();
    setup.model.commit(|c| c.entries.push(entry("GitHub"))).unwrap();
    let id = setup.model.list().id_at(0).unwrap();
    let events = recorded(&setup.model);
    setup.model.copy(&id);
    assert_eq!(setup.board.0.lock().unwrap().as_deref(), Some("081804"));
    assert!(events.borrow().contains(&Event::Notice(Notice::Copied)));
    *setup.clock.0.lock().unwrap() += 30;
    setup.model.tick();
    assert_eq!(*setup.board.0.lock().unwrap(), None, "cleared after 30 s");

    setup.model.copy(&id);
    *setup.board.0.lock().unwrap() = Some("something the user copied".into());
    *setup.clock.0.lock().unwrap() += 30;
    setup.model.tick();
    assert_eq!(setup.board.0.lock().unwrap().as_deref(), Some("something the user copied"));
}

#[test]
fn hidden_codes_copy_without_revealing_show_for_one_period_and_the_choice_is_saved() {
    let setup = created();
    setup.model.commit(|c| c.entries.push(entry("GitHub"))).unwrap();
    let id = setup.model.list().id_at(0).unwrap();
    let settings = crate::Settings { hide_codes: true, ..setup.model.state().settings.clone() };
    setup.model.set_settings(settings);
    let home = setup.model.state().deps.home.clone();
    assert!(crate::Settings::load(&home).hide_codes, "saved with the other preferences");
    let row = || slint::Model::row_data(&*setup.model.list(), 0).unwrap();
    assert_eq!((row().code.as_str(), row().hidden), ("••• •••", true));
    setup.model.copy(&id);
    assert_eq!(setup.board.0.lock().unwrap().as_deref(), Some("081804"), "copy still works");
    assert!(row().hidden, "copying does not reveal");
    setup.model.reveal(&id);
    assert_eq!(row().code, "081 804");
    // RFC_TIME is the last second of its period: the next tick brings a new, hidden code.
    *setup.clock.0.lock().unwrap() += 1;
    setup.model.tick();
    assert!(row().hidden, "hidden again once the code rolled over");
    let settings = crate::Settings { hide_codes: false, ..setup.model.state().settings.clone() };
    setup.model.set_settings(settings);
    assert!(!row().hidden, "turning the setting off shows every code at once");
}

#[test]
fn the_idle_lock_closes_the_vault_after_the_chosen_minutes() {
    let setup = created();
    let mut settings = setup.model.state().settings.clone();
    settings.auto_lock_minutes = 1;
    setup.model.set_settings(settings);
    *setup.clock.0.lock().unwrap() += 59;
    setup.model.tick();
    assert!(setup.model.is_unlocked());
    *setup.clock.0.lock().unwrap() += 1;
    setup.model.tick();
    assert!(!setup.model.is_unlocked());
}

#[test]
fn a_failed_save_leaves_the_open_vault_as_the_file_and_says_why() {
    let setup = created();
    let home = setup._home.path().to_owned();
    setup.model.commit(|c| c.entries.push(entry("GitHub"))).unwrap();
    let older = std::fs::read(home.join("vault.json")).unwrap();
    setup.model.commit(|c| c.entries.push(entry("GitLab"))).unwrap();
    std::fs::write(home.join("vault.json"), older).unwrap();
    let events = recorded(&setup.model);
    assert_eq!(setup.model.commit(|c| c.entries.clear()), None);
    assert_eq!(setup.model.state().entries().len(), 2);
    assert!(events.borrow().iter().any(|e| matches!(e, Event::Notice(Notice::Error(_)))));
}

#[test]
fn a_locked_model_announces_arrivals_without_details_and_keeps_their_history_for_the_unlock() {
    use tessera_core::push::{PushBackendKind, PushHistoryItem, PushRequest, RequestContext};

    let setup = created();
    // Listening as after an unlock with push accounts (an empty session: reports are fed in).
    let _ = setup.model.state_mut().inbox.listen(Vec::new());
    setup.model.lock();
    let request = PushRequest {
        id: "r1".into(),
        backend: PushBackendKind::Tessera,
        serial: "TS01".into(),
        title: "Example Corp".into(),
        question: "Log in as alice from 203.0.113.7?".into(),
        server: "push.example".into(),
        created: RFC_TIME,
        expires: RFC_TIME + 60,
        require_presence: None,
        context: RequestContext::default(),
        answer_url: "https://push.example/device/v1/answer".into(),
        sslverify: true,
        decline_reason_supported: true,
        code_entry: false,
        signed_challenge: None,
    };
    let notes = Arc::new(super::testing::TestNotifier::default());
    setup.model.state_mut().deps.notify = notes.clone();
    let events = recorded(&setup.model);
    setup.model.apply_reports(vec![super::push_worker::Report::Arrived(request.clone())]);
    let shown = notes.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].title.as_str(), shown[0].body.as_str()),
        ("Tessera", "Login request from Example Corp — unlock Tessera to answer")
    );
    assert_eq!(shown[0].actions.len(), 1, "only a click that opens the window");

    // "Approve" clicked in a notification while locked decides nothing: the window comes up
    // to unlock.
    let click =
        crate::platform::notify::Response { request: "r1".into(), action: "approve".into() };
    setup.model.respond(&click);
    assert!(events.borrow().iter().any(|e| matches!(e, Event::Raise)));
    assert!(!setup.model.state().inbox.pending()[0].busy, "no answer was sent");
    assert_eq!(setup.model.state().inbox.pending().len(), 1, "kept for after the unlock");

    // It expires while locked: the history item waits for the unlock, then is saved.
    *setup.clock.0.lock().unwrap() += 60;
    setup.model.tick();
    assert!(setup.model.state().inbox.pending().is_empty());
    assert_eq!(*notes.withdrawn.lock().unwrap(), ["r1"], "its notification is withdrawn");
    setup.model.unlock(Unlock::Password(Zeroizing::new(PASSWORD.into())));
    let history: Vec<PushHistoryItem> = setup.model.history(10);
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].request_id.as_str(), history[0].decision.clone()), ("r1", None));
}

#[test]
fn the_tray_follows_the_inbox_and_the_lock_and_its_menu_acts_on_the_model() {
    use tessera_core::push::{PushBackendKind, PushRequest, RequestContext};

    use crate::platform::tray::TrayEvent;

    let setup = created();
    let tray = Arc::new(super::testing::TestTray::default());
    setup.model.state_mut().deps.tray = tray.clone();
    let last = || tray.shown.lock().unwrap().last().cloned().expect("the tray was updated");
    let _ = setup.model.state_mut().inbox.listen(vec![push_account()]);
    setup.model.refresh_tray();
    assert_eq!(last().summary, "No login requests are waiting");
    assert!(last().can_lock && !last().attention);
    assert!(setup.model.keep_running_by_default(), "listening, and a tray shows the app");

    let request = PushRequest {
        id: "r1".into(),
        backend: PushBackendKind::Tessera,
        serial: "TS01".into(),
        title: "Webmail".into(),
        question: "Log in as alice?".into(),
        server: "push.example".into(),
        created: RFC_TIME,
        expires: RFC_TIME + 60,
        require_presence: None,
        context: RequestContext::default(),
        answer_url: "https://push.example/device/v1/answer".into(),
        sslverify: true,
        decline_reason_supported: true,
        code_entry: false,
        signed_challenge: None,
    };
    setup.model.apply_reports(vec![super::push_worker::Report::Arrived(request)]);
    assert_eq!(last().summary, "A login request is waiting");
    assert_eq!(last().requests, [("r1".to_owned(), "Login request from Webmail".to_owned())]);
    assert!(last().attention);

    // "Lock" in the tray locks; the request stays announced.
    let events = recorded(&setup.model);
    setup.model.tray_event(&TrayEvent::Lock);
    assert!(!setup.model.is_unlocked());
    assert!(!last().can_lock && last().attention);
    // The request's entry on a locked app raises the window to unlock, not the request.
    setup.model.tray_event(&TrayEvent::Request("r1".into()));
    assert!(events.borrow().iter().any(|e| matches!(e, Event::Raise)));
    assert!(!events.borrow().iter().any(|e| matches!(e, Event::Show(View::Approvals))));
    setup.model.unlock(Unlock::Password(Zeroizing::new(PASSWORD.into())));
    setup.model.tray_event(&TrayEvent::Request("r1".into()));
    assert!(events.borrow().iter().any(|e| matches!(e, Event::Show(View::Approvals))));

    // It expires: the tray is quiet again.
    *setup.clock.0.lock().unwrap() += 61;
    setup.model.tick();
    assert!(!last().attention && last().requests.is_empty());

    setup.model.tray_event(&TrayEvent::Quit);
    assert!(events.borrow().iter().any(|e| matches!(e, Event::Quit)));
}

#[test]
fn without_a_tray_closing_the_window_quits_unless_the_user_keeps_it_running() {
    let setup = created();
    let _ = setup.model.state_mut().inbox.listen(vec![push_account()]);
    // The test model's tray is `NoTray`: nothing would show a hidden app.
    assert!(!setup.model.keep_running_by_default());
    assert!(!setup.model.keeps_running());
    let settings =
        crate::Settings { keep_running: Some(true), ..setup.model.state().settings.clone() };
    setup.model.set_settings(settings);
    assert!(setup.model.keeps_running(), "the user chose to keep running anyway");
}

/// A push account the inbox can listen to (the test model has no push backend: nothing is
/// polled, reports are fed in).
fn push_account() -> tessera_core::push::PushAccount {
    tessera_core::push::PushAccount {
        backend: tessera_core::push::PushBackendKind::Tessera,
        serial: "TS01".into(),
        url: "http://127.0.0.1:1".into(),
        sslverify: false,
        device_key: tessera_core::push::DeviceKey::generate_p256().unwrap(),
        server_public_key: vec![],
        issuer: "Tessera".into(),
        label: "alice".into(),
        enrolled_at: 0,
        require_password: false,
    }
}

#[test]
fn push_keys_kept_in_the_keyring_are_heard_at_a_cold_start_and_removed_when_turned_off() {
    let setup = created();
    setup.model.commit(|c| c.push_accounts.push(push_account())).unwrap();
    // Off (the default): a cold start of this password-only vault listens to nothing.
    let cold = || {
        let next = model(setup._home.path(), Arc::clone(&setup.clock), TestClipboard::default());
        // The same keyring as the first model (MemoryKeys lives in its VaultFile).
        next.state_mut().deps.vault = setup.model.state().deps.vault.clone();
        next.start();
        next
    };
    let before = cold();
    assert!(!before.is_unlocked());
    assert!(!before.state().inbox.is_listening(), "no push key before the first unlock");

    setup.model.set_listen_before_unlock(true);
    assert!(setup.model.state().settings.listen_before_unlock);
    let after = cold();
    assert!(!after.is_unlocked(), "the codes stay locked");
    assert!(after.state().inbox.is_listening(), "requests are heard before the unlock");
    assert!(after.state().inbox.listens_to(&[push_account()]));

    // A push account added later is kept too.
    let mut second = push_account();
    second.serial = "TS02".into();
    setup.model.commit(|c| c.push_accounts.push(second)).unwrap();
    setup.model.listen_again();
    let kept = setup.model.state().deps.vault.standby_accounts();
    assert_eq!(kept.iter().map(|a| a.serial.as_str()).collect::<Vec<_>>(), ["TS01", "TS02"]);

    setup.model.set_listen_before_unlock(false);
    assert!(setup.model.state().deps.vault.standby_accounts().is_empty(), "removed");
    assert!(!cold().state().inbox.is_listening());
}

/// A notification's Approve button for a request whose account requires the vault password
/// opens the window on the request instead of approving (the window asks for the password).
#[test]
fn a_notification_approve_for_a_password_protected_account_opens_the_window_instead() {
    use tessera_core::push::{
        DeviceKey, PushAccount, PushBackendKind, PushRequest, RequestContext,
    };

    let setup = created();
    let account = PushAccount {
        backend: PushBackendKind::PrivacyIdea,
        serial: "PI01".into(),
        url: "https://pi.example/ttype/push".into(),
        sslverify: true,
        device_key: DeviceKey::generate_with_bits(2048).unwrap(),
        server_public_key: vec![],
        issuer: "privacyIDEA".into(),
        label: "alice".into(),
        enrolled_at: 0,
        require_password: true,
    };
    setup.model.commit(|c| c.push_accounts.push(account)).unwrap();
    let _ = setup.model.state_mut().inbox.listen(Vec::new());
    let request = PushRequest {
        id: "r1".into(),
        backend: PushBackendKind::PrivacyIdea,
        serial: "PI01".into(),
        title: "Example Corp".into(),
        question: "Log in as alice?".into(),
        server: "pi.example".into(),
        created: RFC_TIME,
        expires: RFC_TIME + 60,
        require_presence: None,
        context: RequestContext::default(),
        answer_url: "https://pi.example/ttype/push".into(),
        sslverify: true,
        decline_reason_supported: true,
        code_entry: false,
        signed_challenge: None,
    };
    setup.model.apply_reports(vec![super::push_worker::Report::Arrived(request)]);
    assert!(setup.model.approval_needs_password("r1"));
    let events = recorded(&setup.model);
    let click =
        crate::platform::notify::Response { request: "r1".into(), action: "approve".into() };
    setup.model.respond(&click);
    assert!(events.borrow().iter().any(|e| matches!(e, Event::Raise)), "the window opens");
    assert!(events.borrow().iter().any(|e| matches!(e, Event::Show(View::Approvals))));
    assert!(!setup.model.state().inbox.pending()[0].busy, "no answer was sent");
}
