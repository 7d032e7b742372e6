//! The desktop app driven through `i-slint-backend-testing` by accessible label, with a fake
//! clock and clipboard, an in-memory vault and settings in a temporary directory.
//!
//! `init_no_event_loop` is per thread, so every test (its own thread) starts its own backend;
//! timers fire only inside `mock_elapsed_time`.
// STYLE.md allows unwrap in tests; these helpers sit outside #[test] functions.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod approvals;
mod clock;
mod hidden_codes;
mod icons;
mod keys;
mod perf_fixture;
mod recovery;
pub(crate) mod scan;
mod screenshots;
mod transfer;
mod vault_file;

use std::sync::Arc;
use std::time::Duration;

use i_slint_backend_testing::{ElementHandle, mock_elapsed_time};
use slint::ComponentHandle;
use tessera::{App, Background, Deps};
use tessera_core::otp::{OtpParams, Secret};
use tessera_core::vault::Entry;

use crate::common::fakes::{FakeClipboard, FakeClock};
use crate::common::live_app;
use crate::common::test_vault::TestVault;

/// RFC 6238's SHA-1 seed "12345678901234567890" in base32.
pub const RFC_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// RFC 6238 appendix B: the 8-digit SHA-1 code at 1111111109 is 07081804, so the 6-digit code
/// is its last six digits.
pub const RFC_TIME: u64 = 1_111_111_109;
/// That code as its row labels it: digit by digit, as a screen reader should say it (the
/// window shows "081 804").
pub const RFC_CODE: &str = "0 8 1 8 0 4";

pub struct Harness {
    pub app: App,
    pub clock: Arc<FakeClock>,
    pub clipboard: FakeClipboard,
    pub vault: TestVault,
    pub home: tempfile::TempDir,
    /// What "Scan QR code" finds on the (fake) screen, clipboard and camera.
    pub sources: Arc<scan::FakeSources>,
}

/// Starts the app on a fresh backend for this thread. `vault`: create it first with password
/// "1234" and these entries.
pub fn start_with(vault: Option<Vec<Entry>>, settings: &str) -> Harness {
    i_slint_backend_testing::init_no_event_loop();
    start_on_current_backend(vault, settings)
}

pub fn start_on_current_backend(vault: Option<Vec<Entry>>, settings: &str) -> Harness {
    let vault = match vault {
        Some(entries) => TestVault::with_password(entries, Vec::new()),
        None => TestVault::empty(false),
    };
    let home = tempfile::tempdir().unwrap();
    launch(vault, home, settings)
}

/// Starts the app on `vault` with settings and the unlock record in `home`.
pub fn launch(vault: TestVault, home: tempfile::TempDir, settings: &str) -> Harness {
    std::fs::write(home.path().join("settings.json"), settings).unwrap();
    let clock = FakeClock::at(RFC_TIME);
    let clipboard = FakeClipboard::default();
    let sources = Arc::new(scan::FakeSources::default());
    let deps = Deps {
        clock: clock.clone(),
        clipboard: Box::new(clipboard.clone()),
        home: home.path().to_owned(),
        vault: vault.file(),
        background: Background::Inline,
        password_file: None,
        scan_sources: sources.clone(),
        push_backends: Vec::new(),
        push_schedule: tessera_core::push::ScheduleConfig::default(),
        notify: Arc::new(tessera::platform::notify::Silent),

        autostart: tessera::platform::autostart::Autostart::at(
            home.path().join("autostart/io.github.tessera.Tessera.desktop"),
        ),
        tray: std::sync::Arc::new(tessera::platform::tray::NoTray),
    };
    let app = tessera::build(deps).unwrap();
    app.window().window().set_size(slint::LogicalSize::new(440.0, 640.0));
    app.window().show().unwrap();
    Harness { app, clock, clipboard, vault, home, sources }
}

pub const ENGLISH: &str = r#"{"language":"english","theme":"light"}"#;

/// Starts with an empty vault that the test unlocks with "1234".
pub fn unlocked(entries: Vec<Entry>) -> Harness {
    let h = start_with(Some(entries), ENGLISH);
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    assert!(!h.exists("Tessera is locked"), "unlocked");
    assert!(h.exists("Lock"), "the accounts screen with its top bar shows");
    h
}

pub fn entry(issuer: &str, account: &str, key: &str) -> Entry {
    Entry::new(
        issuer.into(),
        account.into(),
        OtpParams::totp(Secret::parse_base32(key).unwrap()),
        1,
    )
}

impl Harness {
    pub fn all(&self, label: &str) -> Vec<ElementHandle> {
        live_app::find(&self.app, label)
    }

    pub fn exists(&self, label: &str) -> bool {
        !self.all(label).is_empty()
    }

    pub fn one(&self, label: &str) -> ElementHandle {
        let mut found = self.all(label);
        assert!(!found.is_empty(), "no element labelled {label:?}");
        found.remove(0)
    }

    pub fn click(&self, label: &str) {
        live_app::click(&self.app, label);
    }

    pub fn type_into(&self, label: &str, text: &str) {
        live_app::type_into(&self.app, label, text);
    }

    /// Moves both the fake wall clock and Slint's timers forward.
    pub fn wait(&self, seconds: u64) {
        for _ in 0..seconds {
            self.clock.advance(1);
            mock_elapsed_time(Duration::from_secs(1));
        }
    }

    pub fn add_by_key(&self, name: &str, issuer: &str, key: &str) {
        self.click("Add account");
        self.type_into("Account name", name);
        self.type_into("Issuer", issuer);
        self.type_into("Account secret key", key);
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.vault.content().entries
    }
}

#[test]
fn adding_by_manual_key_shows_the_right_code_at_the_mocked_time() {
    let h = unlocked(Vec::new());
    assert!(h.exists("No accounts yet"), "empty state invites to add");
    h.add_by_key("ada@example.org", "Example", "gezd gnbv gy3t qojq gezd gnbv gy3t qojq");
    h.click("Add");
    assert!(h.exists(RFC_CODE), "the row shows the RFC 6238 code for the mocked time");
    assert!(h.exists("Copy code for Example ada@example.org"));
    let saved = h.entries();
    assert_eq!(saved.len(), 1, "the account is saved to the vault");
    assert_eq!(saved[0].account, "ada@example.org");
}

#[test]
fn codes_roll_over_when_the_period_ends_and_the_next_code_shows_in_the_last_seconds() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    // 1111111109 is 29 s into its period: one second left, so the next code shows too.
    let next = OtpParams::totp(Secret::parse_base32(RFC_KEY).unwrap()).code_at(RFC_TIME + 1);
    let next = tessera::model::reveal::spoken(&next);
    assert!(h.exists(&format!("Next: {next}")), "next code {next} shown in the last 5 s");
    h.wait(1);
    assert!(h.exists(&next), "after the rollover the row shows the new code");
    assert!(!h.exists(RFC_CODE), "the old code is gone");
}

#[test]
fn an_invalid_key_shows_the_specific_error_and_adds_nothing() {
    let h = unlocked(Vec::new());
    h.add_by_key("ada", "Example", "JBSWY3DPEHPK3PX1");
    let error = "Invalid character '1' at position 16: only letters A–Z and digits 2–7 are allowed";
    assert!(h.exists(error), "specific error with the character and its position");
    assert_eq!(h.one("Add").accessible_enabled(), Some(false), "Add is disabled");
    h.click("Add");
    assert!(h.entries().is_empty(), "nothing was added");

    h.type_into("Account secret key", "JBSWY3DP");
    assert!(h.exists("The key is too short: 40 bits, at least 80 needed"));
    h.type_into("Account secret key", "JBSWY3DPEHPK3PXP");
    assert!(!h.exists(error));
    assert_eq!(h.one("Add").accessible_enabled(), Some(true), "a valid key enables Add");
}

#[test]
fn a_duplicate_secret_warns_before_adding() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    h.add_by_key("other", "Elsewhere", RFC_KEY);
    assert!(h.exists(
        "This key is already used by “Example (ada)”. Adding it again creates a duplicate."
    ));
}

#[test]
fn search_filters_by_issuer_or_account() {
    let h = unlocked(vec![
        entry("GitHub", "ada", RFC_KEY),
        entry("Mailbox", "grace", "JBSWY3DPEHPK3PXP"),
    ]);
    assert!(h.exists("Copy code for GitHub ada"));
    h.type_into("Search accounts", "mail");
    assert!(h.exists("Copy code for Mailbox grace"));
    assert!(!h.exists("Copy code for GitHub ada"), "non-matching rows are hidden");
    h.type_into("Search accounts", "ADA");
    assert!(h.exists("Copy code for GitHub ada"), "account names match, case-insensitively");
    assert!(!h.exists("Copy code for Mailbox grace"));
    h.type_into("Search accounts", "nothing like it");
    assert!(h.exists("No accounts match “nothing like it”"));
}

#[test]
fn copying_puts_the_code_on_the_clipboard_and_clears_it_after_the_delay() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    h.click("Copy code for Example ada");
    assert_eq!(h.clipboard.content().as_deref(), Some("081804"));
    assert!(h.exists("Code copied"), "a toast confirms the copy");
    h.wait(29);
    assert_eq!(h.clipboard.content().as_deref(), Some("081804"), "still there before 30 s");
    h.wait(1);
    assert_eq!(h.clipboard.content(), None, "cleared after 30 s");
}

#[test]
fn the_clipboard_is_left_alone_if_the_user_copied_something_else() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    h.click("Copy code for Example ada");
    h.clipboard.put("my own text");
    h.wait(31);
    assert_eq!(h.clipboard.content().as_deref(), Some("my own text"));
}

#[test]
fn lock_hides_the_accounts_and_unlock_needs_the_password() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    h.click("Lock");
    assert!(h.exists("Tessera is locked"));
    assert!(!h.exists(RFC_CODE), "no code is visible while locked");
    h.type_into("Password or PIN", "wrong");
    h.click("Unlock");
    assert!(h.exists("Wrong password or PIN"));
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    assert!(h.exists(RFC_CODE), "unlocked again");
}

#[test]
fn repeated_failures_impose_a_delay_that_survives_a_restart() {
    let h = unlocked(Vec::new());
    h.click("Lock");
    for _ in 0..3 {
        h.type_into("Password or PIN", "wrong");
        h.click("Unlock");
    }
    assert!(h.exists("Too many failed attempts. Try again in 5 s."));
    assert_eq!(h.one("Unlock").accessible_enabled(), Some(false));
    let attempts = tessera::Attempts::load(h.home.path());
    assert_eq!(attempts.failures, 3, "failures are persisted");
    h.wait(5);
    assert_eq!(h.one("Unlock").accessible_enabled(), Some(true), "usable after the delay");
}

#[test]
fn a_damaged_vault_is_never_reported_as_a_wrong_password() {
    let h = start_with(Some(Vec::new()), ENGLISH);
    h.vault.damage();
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    assert!(!h.exists("Wrong password or PIN"));
    assert!(h.exists(&format!(
        "The vault file is damaged and cannot be read (checksum mismatch: the file was altered \
         or corrupted; the previous save is kept at {}.bak). Restore it from a backup; your \
         password was not the problem.",
        h.vault.path.display()
    )));
    assert_eq!(tessera::Attempts::load(h.home.path()).failures, 0, "not counted as a failure");
}

#[test]
fn locking_forgets_a_half_typed_secret() {
    let h = unlocked(Vec::new());
    h.add_by_key("ada", "Example", "JBSWY3DPEHPK3PXP");
    h.app.window().global::<tessera::AppAdapter>().invoke_lock();
    assert!(h.exists("Tessera is locked"));
    let form = h.app.window().global::<tessera::AddAccountAdapter>();
    assert_eq!(form.get_secret(), "", "the typed key is gone");
}

#[test]
fn idle_time_locks_the_vault() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    h.wait(4 * 60);
    assert!(h.exists("Copy code for Example ada"), "not locked before 5 minutes");
    h.wait(60);
    assert!(h.exists("Tessera is locked"), "locked after 5 idle minutes");
}

#[test]
fn first_run_creates_a_password_vault() {
    let h = start_with(None, ENGLISH);
    assert!(h.exists("Welcome to Tessera"));
    h.type_into("New password or PIN", "ab");
    h.type_into("Repeat password or PIN", "ab");
    h.click("Create vault");
    // The vault's only slot: the core's rule for a password alone (issue 14).
    assert!(h.exists("Use at least 8 characters"));
    h.type_into("New password or PIN", "24682468");
    h.type_into("Repeat password or PIN", "24682468");
    h.click("Create vault");
    assert!(h.exists(
        "Digits only are allowed only while the system keyring also protects the vault: use a \
         password with letters"
    ));
    h.type_into("New password or PIN", "correct horse");
    h.type_into("Repeat password or PIN", "correct horsf");
    h.click("Create vault");
    assert!(h.exists("The two entries differ"));
    h.type_into("Repeat password or PIN", "correct horse");
    h.click("Create vault");
    assert!(h.exists("No accounts yet"));
    assert!(h.vault.opens_with("correct horse"));
}

#[test]
fn delete_asks_first() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    h.click("Details for Example, ada");
    h.click("Delete account");
    assert!(h.exists("Delete “Example (ada)”?"), "a confirmation is shown");
    assert_eq!(h.entries().len(), 1, "nothing deleted yet");
    h.click("Keep account");
    assert_eq!(h.entries().len(), 1);
    h.click("Delete account");
    h.click("Confirm delete");
    assert!(h.entries().is_empty(), "deleted after confirming");
    assert!(h.exists("No accounts yet"));
}

#[test]
fn details_rename_and_favourite_are_saved() {
    let h =
        unlocked(vec![entry("Example", "ada", RFC_KEY), entry("Zeta", "zed", "JBSWY3DPEHPK3PXP")]);
    h.click("Details for Zeta, zed");
    h.type_into("Account name", "zed@zeta.example");
    h.click("Favourite");
    h.click("Save");
    assert!(h.exists("Copy code for Zeta zed@zeta.example"));
    assert!(h.exists("Favourites"), "favourites get their own section");
    let saved = h.entries();
    let zeta = saved.iter().find(|e| e.issuer == "Zeta").unwrap();
    assert!(zeta.favourite);
    assert_eq!(zeta.account, "zed@zeta.example");
}

#[test]
fn hotp_rows_advance_with_the_next_code_button() {
    let h = unlocked(Vec::new());
    h.add_by_key("counter", "Bank", RFC_KEY);
    h.click("Counter-based");
    h.click("Add");
    // RFC 4226 appendix D: counter 0 gives 755224, counter 1 gives 287082.
    assert!(h.exists("7 5 5 2 2 4"));
    h.click("Next code for Bank, counter");
    assert!(h.exists("2 8 7 0 8 2"));
    assert_eq!(h.entries()[0].otp.counter, 1, "the counter is saved");
}

#[test]
fn switching_to_dutch_changes_visible_text() {
    let h = unlocked(Vec::new());
    h.click("Settings");
    assert!(h.exists("Back"));
    h.click("Nederlands");
    assert!(h.exists("Instellingen"), "the settings screen is now in Dutch");
    assert!(h.exists("Terug"));
    assert!(!h.exists("Back"));
    assert_eq!(h.app.settings().language, tessera::Language::Dutch);
    let saved = std::fs::read_to_string(h.home.path().join("settings.json")).unwrap();
    assert!(saved.contains("dutch"), "the choice is saved: {saved}");
    h.click("English");
    assert!(h.exists("Back"), "and back to English");
}

#[test]
fn every_ui_string_has_a_dutch_translation() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let po = std::fs::read_to_string(root.join("assets/translations/nl/LC_MESSAGES/tessera.po"))
        .unwrap();
    let mut files = vec![root.join("ui")];
    let mut missing = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for piece in text.split("@tr(\"").skip(1) {
            let id = &piece[..piece.find('"').unwrap()];
            let entry = format!("msgid \"{id}\"\nmsgstr \"");
            let Some(at) = po.find(&entry) else {
                missing.push(id.to_owned());
                continue;
            };
            assert!(!po[at + entry.len()..].starts_with('"'), "empty translation for {id:?}");
        }
    }
    assert!(missing.is_empty(), "strings without a Dutch translation: {missing:?}");
}

fn press(h: &Harness, text: slint::SharedString) {
    use slint::platform::WindowEvent;
    h.app.window().window().dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
    h.app.window().window().dispatch_event(WindowEvent::KeyReleased { text });
    mock_elapsed_time(Duration::from_millis(20));
}

fn ctrl(h: &Harness, letter: &str) {
    use slint::platform::{Key, WindowEvent};
    let control: slint::SharedString = Key::Control.into();
    h.app.window().window().dispatch_event(WindowEvent::KeyPressed { text: control.clone() });
    press(h, letter.into());
    h.app.window().window().dispatch_event(WindowEvent::KeyReleased { text: control });
    mock_elapsed_time(Duration::from_millis(20));
}

#[test]
fn keyboard_adds_with_ctrl_n_closes_with_escape_copies_with_arrows_and_enter_and_locks() {
    use slint::platform::Key;
    let h = unlocked(vec![entry("Alpha", "a", RFC_KEY), entry("Beta", "b", "JBSWY3DPEHPK3PXP")]);
    ctrl(&h, "n");
    assert!(h.exists("Enter a setup key"), "Ctrl+N opens Add account");
    press(&h, Key::Escape.into());
    assert!(!h.exists("Enter a setup key"), "Esc closes it");
    press(&h, Key::DownArrow.into());
    press(&h, Key::DownArrow.into());
    press(&h, Key::Return.into());
    let beta = OtpParams::totp(Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap()).code_at(RFC_TIME);
    assert_eq!(h.clipboard.content(), Some(beta), "Down, Down, Enter copies the second row");
    ctrl(&h, "l");
    assert!(h.exists("Tessera is locked"), "Ctrl+L locks");
}

#[test]
fn a_password_file_unlocks_at_start() {
    i_slint_backend_testing::init_no_event_loop();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("password");
    std::fs::write(&file, "1234\n").unwrap();
    std::fs::write(home.path().join("settings.json"), ENGLISH).unwrap();
    let vault = TestVault::with_password(vec![entry("Example", "ada", RFC_KEY)], Vec::new());
    let deps = Deps {
        clock: FakeClock::at(RFC_TIME),
        clipboard: Box::new(FakeClipboard::default()),
        home: home.path().to_owned(),
        vault: vault.file(),
        background: Background::Inline,
        password_file: Some(file),
        scan_sources: Arc::new(scan::FakeSources::default()),
        push_backends: Vec::new(),
        push_schedule: tessera_core::push::ScheduleConfig::default(),
        notify: Arc::new(tessera::platform::notify::Silent),

        autostart: tessera::platform::autostart::Autostart::at(
            home.path().join("autostart/io.github.tessera.Tessera.desktop"),
        ),
        tray: std::sync::Arc::new(tessera::platform::tray::NoTray),
    };
    let app = tessera::build(deps).unwrap();
    mock_elapsed_time(Duration::ZERO);
    assert!(ElementHandle::find_by_accessible_label(app.window(), RFC_CODE).next().is_some());
}

#[test]
fn the_password_can_be_changed_in_settings() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    // Tall enough that the security section's messages are inside the settings' scroll view
    // (elements scrolled out of it are not found).
    h.app.window().window().set_size(slint::LogicalSize::new(520.0, 1600.0));
    h.click("Settings");
    assert!(h.exists("The vault opens with your password or PIN."));
    h.type_into("New password or PIN", "abc");
    h.type_into("Repeat new password or PIN", "abc");
    h.click("Set password");
    // No keyring slot beside it: the full password rule.
    assert!(h.exists("Use at least 8 characters"));
    h.type_into("New password or PIN", "new-secret");
    h.type_into("Repeat new password or PIN", "new-secret");
    h.click("Set password");
    assert!(h.exists("Password changed"));
    h.click("Back");
    h.click("Lock");
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    assert!(h.exists("Wrong password or PIN"), "the old password no longer opens the vault");
    h.type_into("Password or PIN", "new-secret");
    h.click("Unlock");
    assert!(h.exists(RFC_CODE));
}

#[test]
fn keeping_tessera_running_in_the_background_is_a_saved_choice() {
    let h = unlocked(Vec::new());
    h.click("Settings");
    let label = "Keep running in the tray when the window is closed";
    let checkbox = h.one(label);
    assert_eq!(checkbox.accessible_checked(), Some(false), "off without push accounts");
    // The harness has no tray (`NoTray`): settings say what closing the window then does.
    assert!(h.exists(
        "This desktop shows no tray icons, so a closed window quits Tessera. Keep it running \
         anyway to get login requests: start Tessera again to open it; Ctrl+Q quits."
    ));
    assert!(!h.app.model().keeps_running());
    checkbox.invoke_accessible_default_action();
    assert!(h.app.model().keeps_running());
    assert_eq!(tessera::Settings::load(h.home.path()).keep_running, Some(true));
    // Another setting changed later leaves the choice alone.
    h.click("Dark");
    assert_eq!(tessera::Settings::load(h.home.path()).keep_running, Some(true));
    h.one(label).invoke_accessible_default_action();
    assert_eq!(tessera::Settings::load(h.home.path()).keep_running, Some(false));
}

#[test]
fn start_at_login_writes_and_removes_the_autostart_entry() {
    let h = unlocked(Vec::new());
    let entry = h.home.path().join("autostart/io.github.tessera.Tessera.desktop");
    h.click("Settings");
    let label = "Start in the background when I log in";
    assert_eq!(h.one(label).accessible_checked(), Some(false));
    h.one(label).invoke_accessible_default_action();
    let text = std::fs::read_to_string(&entry).expect("the entry is written");
    assert!(text.contains(" --background\n"), "{text}");
    assert_eq!(h.one(label).accessible_checked(), Some(true));
    h.one(label).invoke_accessible_default_action();
    assert!(!entry.exists(), "and removed");
}

#[test]
fn a_window_closed_to_the_tray_gives_memory_back_once_it_stays_hidden() {
    let h = unlocked(Vec::new());
    h.click("Settings");
    h.one("Keep running in the tray when the window is closed").invoke_accessible_default_action();
    assert!(h.app.model().keeps_running());
    let window = h.app.window().window();
    window.show().unwrap();
    let before = tessera::platform::memory::trims();
    window.dispatch_event(slint::platform::WindowEvent::CloseRequested);
    assert!(!window.is_visible(), "hidden, still running");
    mock_elapsed_time(tessera::platform::memory::DELAY - Duration::from_millis(100));
    assert_eq!(tessera::platform::memory::trims(), before, "not before the delay");
    // Opened again within the delay: nothing is given back (its pages are in use again).
    window.show().unwrap();
    mock_elapsed_time(Duration::from_millis(200));
    assert_eq!(tessera::platform::memory::trims(), before, "a shown window is not trimmed");
    window.dispatch_event(slint::platform::WindowEvent::CloseRequested);
    mock_elapsed_time(tessera::platform::memory::DELAY + Duration::from_millis(100));
    assert_eq!(tessera::platform::memory::trims(), before + 1, "trimmed once hidden a while");
}

#[test]
fn closing_the_window_remembers_its_size() {
    let h = unlocked(Vec::new());
    h.app.window().window().set_size(slint::LogicalSize::new(520.0, 700.0));
    h.app.window().window().dispatch_event(slint::platform::WindowEvent::CloseRequested);
    let saved = tessera::Settings::load(h.home.path());
    assert_eq!(saved.window_size, Some((520.0, 700.0)));
}
