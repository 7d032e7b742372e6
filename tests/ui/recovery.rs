//! Recovery codes on the account's screen (added by paste, shown only after the password,
//! marked used, copied and cleared) and the backup reminder banner, in the real window.

use i_slint_backend_testing::ElementQuery;
use slint::ComponentHandle;

use super::{ENGLISH, Harness, RFC_KEY, RFC_TIME, entry, launch, start_on_current_backend};
use crate::common::test_vault::TestVault;
use tessera_core::vault::Entry;

const WEEK: u64 = 7 * 24 * 60 * 60;

/// Like `super::unlocked`, on the software renderer so that screenshots can be taken.
fn unlocked_for_snapshots(entries: Vec<Entry>, settings: &str) -> Harness {
    super::screenshots::i_slint_core_platform_set();
    let h = start_on_current_backend(Some(entries), settings);
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    assert!(h.exists("Lock"), "unlocked");
    h
}

/// Opens the details of the account whose details button names `issuer` (the label may go on
/// to name the account too).
fn open_details(h: &Harness, issuer: &str) {
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::ZERO);
    let prefix = format!("Details for {issuer}");
    let button = ElementQuery::from_root(h.app.window())
        .match_predicate(move |e| {
            e.accessible_label().is_some_and(|l| l.starts_with(prefix.as_str()))
        })
        .find_first()
        .expect("a details button");
    button.invoke_accessible_default_action();
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(20));
}

#[test]
fn recovery_codes_are_pasted_shown_only_after_the_password_marked_and_copied() {
    let h = unlocked_for_snapshots(vec![entry("Visma", "me@example.com", RFC_KEY)], ENGLISH);
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 900.0));
    open_details(&h, "Visma");
    h.click("Recovery codes");
    assert!(h.exists("No recovery codes kept for this account yet."));

    h.type_into("Paste recovery codes", "  RC-AAAA 1111\n\nRC-BBBB-2222\n");
    h.click("Add codes");
    assert!(h.exists("Added 2 codes."));
    assert!(h.exists("2 recovery codes kept, 2 not used yet."));
    assert!(!h.exists("Code 1: RC-AAAA 1111"), "adding shows nothing");
    let saved = &h.entries()[0].recovery;
    assert_eq!(
        saved.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(),
        ["RC-AAAA 1111", "RC-BBBB-2222"]
    );

    h.type_into("Password or PIN", "wrong");
    h.click("Show recovery codes");
    assert!(h.exists("Wrong password or PIN"));
    assert!(!h.exists("Code 1: RC-AAAA 1111"), "a wrong password shows nothing");

    h.type_into("Password or PIN", "1234");
    h.click("Show recovery codes");
    assert!(h.exists("Code 1: RC-AAAA 1111"));
    assert!(h.exists("Code 2: RC-BBBB-2222"));

    h.click("Code 2 used");
    assert!(h.exists("Code 2: RC-BBBB-2222 (used)"));
    assert!(h.exists("2 recovery codes kept, 1 not used yet."));
    assert!(h.entries()[0].recovery[1].used.is_some(), "the mark is saved");
    super::screenshots::snapshot(&h, "recovery-codes-english-light");

    h.click("Copy code 1");
    assert_eq!(h.clipboard.content().as_deref(), Some("RC-AAAA 1111"));
    h.wait(29);
    assert_eq!(h.clipboard.content().as_deref(), Some("RC-AAAA 1111"));
    h.wait(1);
    assert_eq!(h.clipboard.content(), None, "cleared after the clipboard delay");

    h.click("Done");
    h.click("Recovery codes");
    assert!(!h.exists("Code 1: RC-AAAA 1111"), "leaving the screen hides the codes again");
    assert!(h.exists("Show recovery codes"));
}

#[test]
fn a_keyring_only_vault_shows_codes_after_a_confirmation() {
    let mut visma = entry("Visma", "me@example.com", RFC_KEY);
    visma.add_recovery_codes("RC-KEYRING-1", 1).unwrap();
    let home = tempfile::tempdir().unwrap();
    i_slint_backend_testing::init_no_event_loop();
    let h = launch(TestVault::keyring_only(vec![visma]), home, ENGLISH);
    h.app.window().window().set_size(slint::LogicalSize::new(440.0, 900.0));
    assert!(h.exists("Lock"), "the keyring opened the vault");
    open_details(&h, "Visma");
    h.click("Recovery codes");
    assert!(!h.exists("Password or PIN"), "nothing to type");
    assert!(!h.exists("Code 1: RC-KEYRING-1"));
    h.click("Show recovery codes");
    assert!(h.exists("Code 1: RC-KEYRING-1"));
}

#[test]
fn the_backup_reminder_shows_a_week_after_a_change_and_can_be_dismissed() {
    // A week passes in one step: the auto-lock is off so that the window stays unlocked.
    let no_auto_lock = r#"{"language":"english","theme":"light","auto_lock_minutes":0}"#;
    let h = unlocked_for_snapshots(vec![entry("Visma", "me@example.com", RFC_KEY)], no_auto_lock);
    assert!(!h.exists("Dismiss backup reminder"), "opening the vault is no change");
    h.add_by_key("ada", "Example", "JBSWY3DPEHPK3PXP");
    h.click("Add");
    h.clock.set(RFC_TIME + WEEK - 1);
    h.app.tick();
    assert!(!h.exists("Dismiss backup reminder"), "not before a week");
    h.clock.set(RFC_TIME + WEEK);
    h.app.tick();
    assert!(h.exists("Dismiss backup reminder"), "a week after the change");
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(3));
    super::screenshots::snapshot(&h, "backup-reminder-english-light");
    h.click("Dismiss backup reminder");
    assert!(!h.exists("Dismiss backup reminder"));
    h.clock.set(RFC_TIME + 5 * WEEK);
    h.app.tick();
    assert!(!h.exists("Dismiss backup reminder"), "dismissed until the next change");
}

#[test]
fn the_reminder_survives_a_restart_speaks_dutch_and_leads_to_the_backup_settings() {
    let home = tempfile::tempdir().unwrap();
    let since = RFC_TIME - WEEK - 60;
    std::fs::write(
        home.path().join("backup-reminder.json"),
        format!(r#"{{"unsaved_since":{since}}}"#),
    )
    .unwrap();
    let vault = TestVault::with_password(vec![entry("Visma", "me", RFC_KEY)], Vec::new());
    i_slint_backend_testing::init_no_event_loop();
    let h = launch(vault, home, r#"{"language":"dutch","theme":"light"}"#);
    h.type_into("Wachtwoord of pincode", "1234");
    h.app.window().window().dispatch_event(slint::platform::WindowEvent::KeyPressed {
        text: slint::platform::Key::Return.into(),
    });
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
    assert!(h.exists("Back-upherinnering sluiten"), "the Dutch banner, from the saved record");
    assert!(h.exists(
        "Je accounts zijn meer dan een week geleden gewijzigd en staan nog in geen enkele \
         back-up. Zet automatische back-ups aan, zodat je je accounts niet kwijtraakt als je \
         deze computer kwijtraakt."
    ));
    h.click("Back-ups aanzetten");
    assert!(!h.exists("Back-upherinnering sluiten"), "the settings are shown");
}
