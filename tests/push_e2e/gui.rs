//! The desktop app's approvals view against the real privacyIDEA server: a triggered login
//! comes to the front with the server's question, and the Approve button reaches the server;
//! a scanned push QR is enrolled from the GUI and its logins arrive.

use std::sync::Arc;
use std::time::Duration;

use i_slint_backend_testing::{AccessibleRole, mock_elapsed_time};
use slint::ComponentHandle;
use tessera::{AppAdapter, Background, Deps, Screen};
use tessera_core::clock::SystemClock;
use tessera_core::push::{PrivacyIdeaBackend, PushBackend, ScheduleConfig};

use super::{device, peer};
use crate::common::fakes::{FakeClipboard, FakeNotifier};
use crate::common::live_app::{LiveApp, find};

#[test]
fn gui_shows_a_real_login_request_and_approve_reaches_the_server() {
    let peer = peer();
    let device = device(&peer);
    let (tid, _) = peer.trigger(&device.serial);

    i_slint_backend_testing::init_no_event_loop();
    let notes = Arc::new(FakeNotifier::default());
    let settings = device.home.data().join("settings.json");
    std::fs::write(settings, r#"{"language":"english","theme":"light"}"#).unwrap();
    let deps = Deps {
        // The server checks the poll's timestamp: real time, not a fake clock.
        clock: Arc::new(SystemClock),
        clipboard: Box::new(FakeClipboard::default()),
        home: device.home.data(),
        vault: tessera::VaultFile::in_home(&device.home.data()),
        background: Background::Inline,
        password_file: Some(device.home.password_file.clone()),
        scan_sources: Arc::new(tessera::SystemScanSources),
        push_backends: vec![Arc::new(PrivacyIdeaBackend::new().unwrap()) as Arc<dyn PushBackend>],
        push_schedule: ScheduleConfig::default(),
        notify: notes.clone(),

        autostart: tessera::platform::autostart::Autostart::at(
            device.home.data().join("autostart/entry.desktop"),
        ),
        tray: std::sync::Arc::new(tessera::platform::tray::NoTray),
    };
    // Unlocks with the password file and polls at once.
    let app = tessera::build(deps).unwrap();
    app.window().show().unwrap();
    assert_eq!(app.window().global::<AppAdapter>().get_screen(), Screen::Approvals);
    assert!(!find(&app, "Login by Alice from 127.0.0.1?").is_empty(), "the server's question");
    assert_eq!(notes.notes(), ["privacyIDEA: Login by Alice from 127.0.0.1?"]);

    let approve = find(&app, "Approve")
        .into_iter()
        .find(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .expect("an Approve button");
    approve.invoke_accessible_default_action();
    mock_elapsed_time(Duration::from_millis(20));
    assert_eq!(peer.outcome(&tid), "accept", "the server recorded the approval");
    assert!(find(&app, "Approve").is_empty(), "the answered request is gone");
    assert!(!find(&app, "privacyIDEA: Approved").is_empty(), "the history shows it");
    // Locking closes the vault (and its file lock), so the CLI can read the history.
    app.window().global::<AppAdapter>().invoke_lock();
    assert_eq!(app.window().global::<AppAdapter>().get_screen(), Screen::Unlock);

    let history: serde_json::Value =
        serde_json::from_str(&device.home.ok(&["push", "history", "--json"])).unwrap();
    assert_eq!(history[0]["decision"]["decision"], "approve", "{history}");
}

#[test]
fn gui_enrols_a_scanned_privacyidea_push_qr_and_its_logins_arrive() {
    let peer = peer();
    let link = peer.enrol_link();
    let serial = link.split("serial=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    // Deletes the token on the server at the end, like the CLI-enrolled devices.
    let cleanup =
        super::Device { peer: &peer, home: crate::common::Home::new(), serial, policy: None };
    let app = LiveApp::start(Arc::new(PrivacyIdeaBackend::new().unwrap()), &link);
    app.scan_clipboard();
    assert!(app.exists("Set up push approvals"), "the push QR is offered for setting up");
    let codes_too = "The account's 6-digit codes are added too, for when you have no connection.";
    assert!(!app.exists(codes_too), "a privacyIDEA push token has no codes");
    // Generates the RSA key and registers it with the server (a few seconds).
    app.click("Set up push approvals");
    assert_eq!(app.screen(), Screen::Accounts);
    let stored = app.vault.content().push_accounts;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].serial, cleanup.serial);
    assert!(app.vault.content().entries.is_empty(), "no code account was invented");

    let (tid, _) = peer.trigger(&cleanup.serial);
    app.wait_for("Login by Alice from 127.0.0.1?", 20);
    app.click("Approve");
    assert_eq!(peer.outcome(&tid), "accept", "the GUI-enrolled key signed the approval");
}
