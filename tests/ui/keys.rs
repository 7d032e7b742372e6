//! Keyboard-first (issue 16) in the real window, by key events: N copies the next code, typing
//! in the list starts the search, Ctrl+1…9 copies the n-th row, and the global shortcut's quick
//! pick (search in focus, Enter copies the top match and hides the window, Esc hides it); the
//! settings say how the shortcut stands.

use std::sync::{Arc, Mutex};

use slint::ComponentHandle;
use slint::platform::Key;
use tessera::platform::shortcut::{
    Binding, GlobalShortcut, OnShortcutEvent, Shortcut, ShortcutEvent,
};
use tessera_core::otp::{Algorithm, OtpKind, OtpParams, Secret};
use tessera_core::vault::Entry;

use super::{Harness, RFC_KEY, RFC_TIME, ctrl, entry, press, unlocked};

const BETA_KEY: &str = "JBSWY3DPEHPK3PXP";

fn code(key: &str, unix: u64) -> String {
    OtpParams::totp(Secret::parse_base32(key).unwrap()).code_at(unix)
}

fn typed(h: &Harness, text: &str) {
    for c in text.chars() {
        press(h, c.to_string().into());
    }
}

fn search(h: &Harness) -> String {
    h.app.window().global::<tessera::AccountsAdapter>().get_search().to_string()
}

fn alpha_and_beta() -> Harness {
    unlocked(vec![entry("Alpha", "a", RFC_KEY), entry("Beta", "b", BETA_KEY)])
}

#[test]
fn n_copies_the_next_code_of_the_selected_row_or_else_the_first() {
    let h = alpha_and_beta();
    press(&h, "n".into());
    assert_eq!(h.clipboard.content(), Some(code(RFC_KEY, RFC_TIME + 30)), "the first row's next");
    press(&h, Key::DownArrow.into());
    press(&h, Key::DownArrow.into());
    press(&h, "N".into());
    assert_eq!(h.clipboard.content(), Some(code(BETA_KEY, RFC_TIME + 30)), "the selected row's");
    assert_eq!(search(&h), "", "N is a command, not the start of a search");
}

#[test]
fn n_on_a_counter_based_row_advances_it_and_copies_the_new_code() {
    let otp = OtpParams::new(
        OtpKind::Hotp,
        Secret::parse_base32(RFC_KEY).unwrap(),
        Algorithm::Sha1,
        6,
        30,
        0,
    )
    .unwrap();
    let h = unlocked(vec![Entry::new("Bank".into(), "me".into(), otp, 1)]);
    press(&h, "n".into());
    // RFC 4226 appendix D: counter 1 gives 287082.
    assert_eq!(h.clipboard.content().as_deref(), Some("287082"));
    assert_eq!(h.entries()[0].otp.counter, 1, "the counter is saved");
}

#[test]
fn typing_in_the_list_starts_the_search_and_enter_copies_the_top_match() {
    let h = alpha_and_beta();
    typed(&h, "Bet");
    assert_eq!(search(&h), "Bet", "the first letter went into the search, the rest followed it");
    assert!(h.exists("Copy code for Beta b"));
    assert!(!h.exists("Copy code for Alpha a"), "the list is filtered as typed");
    press(&h, Key::Return.into());
    assert_eq!(h.clipboard.content(), Some(code(BETA_KEY, RFC_TIME)));
    assert!(h.app.window().window().is_visible(), "opened by hand, the window stays");
}

#[test]
fn ctrl_and_a_digit_copies_that_row_from_the_list_or_the_search() {
    let h = alpha_and_beta();
    ctrl(&h, "2");
    assert_eq!(h.clipboard.content(), Some(code(BETA_KEY, RFC_TIME)), "Ctrl+2: the second row");
    ctrl(&h, "1");
    assert_eq!(h.clipboard.content(), Some(code(RFC_KEY, RFC_TIME)), "Ctrl+1: the first row");
    h.clipboard.put("mine");
    ctrl(&h, "3");
    assert_eq!(h.clipboard.content().as_deref(), Some("mine"), "there is no third row");
    typed(&h, "b");
    ctrl(&h, "1");
    assert_eq!(h.clipboard.content(), Some(code(BETA_KEY, RFC_TIME)), "the first row shown");
}

/// A shortcut service that records what it is asked and reports each binding as bound.
#[derive(Default, Clone)]
struct FakeShortcut {
    binds: Arc<Mutex<Vec<Option<Shortcut>>>>,
    on_event: Arc<Mutex<Option<OnShortcutEvent>>>,
}

impl GlobalShortcut for FakeShortcut {
    fn bind(&self, shortcut: Option<Shortcut>) {
        self.binds.lock().unwrap().push(shortcut);
        let status = shortcut.map_or(Binding::Off, |s| Binding::Bound(s.to_string()));
        (self.on_event.lock().unwrap().as_ref().unwrap())(ShortcutEvent::Status(status));
    }
}

fn with_fake_shortcut(h: &Harness) -> FakeShortcut {
    let fake = FakeShortcut::default();
    let service = fake.clone();
    h.app.model().start_global_shortcut(move |on_event| {
        *service.on_event.lock().unwrap() = Some(on_event);
        Box::new(service)
    });
    fake
}

#[test]
fn the_global_shortcut_brings_up_the_search_and_enter_copies_and_hides_again() {
    let h = alpha_and_beta();
    let fake = with_fake_shortcut(&h);
    assert_eq!(*fake.binds.lock().unwrap(), ["Ctrl+Alt+T".parse().ok()], "the default is bound");
    h.click("Settings");
    h.app.window().hide().unwrap();

    h.app.model().global_shortcut_event(&ShortcutEvent::Pressed { time: 0 });
    assert!(h.app.window().window().is_visible(), "the window came up");
    assert!(h.exists("Copy code for Alpha a"), "on the accounts, from settings");
    typed(&h, "alp");
    assert_eq!(search(&h), "alp", "the keys went into the search field");
    press(&h, Key::Return.into());
    assert_eq!(h.clipboard.content(), Some(code(RFC_KEY, RFC_TIME)), "the top match");
    assert!(!h.app.window().window().is_visible(), "and the window is hidden again");

    h.app.model().global_shortcut_event(&ShortcutEvent::Pressed { time: 0 });
    assert_eq!(search(&h), "", "each time a fresh search");
    press(&h, Key::Escape.into());
    assert!(!h.app.window().window().is_visible(), "Esc hides it again too");
    h.app.window().show().unwrap();
    press(&h, Key::Escape.into());
    assert!(h.app.window().window().is_visible(), "opened by hand, Esc leaves it open");
}

#[test]
fn the_shortcut_is_set_in_settings_and_a_wrong_one_is_explained() {
    let h = alpha_and_beta();
    h.app.window().window().set_size(slint::LogicalSize::new(520.0, 1600.0));
    let fake = with_fake_shortcut(&h);
    h.click("Settings");
    assert!(h.exists(
        "Press Ctrl+Alt+T in any app: Tessera comes up with the search ready; type a few \
         letters and Enter copies the first match and hides Tessera again."
    ));
    h.type_into("Global shortcut", "Shift+K");
    h.click("Use these keys");
    assert!(h.exists(
        "Write the keys like Ctrl+Alt+T: Ctrl, Alt or Super (Shift may be added), then a \
         letter, a digit, F1–F24 or Space."
    ));
    assert_eq!(fake.binds.lock().unwrap().len(), 1, "nothing was bound");
    h.type_into("Global shortcut", "super + shift + f9");
    h.click("Use these keys");
    assert!(h.exists("Press Shift+Super+F9 in any app: Tessera comes up with the search ready; type a few letters and Enter copies the first match and hides Tessera again."));
    assert_eq!(fake.binds.lock().unwrap().last(), Some(&"Shift+Super+F9".parse().ok()));
    assert_eq!(tessera::Settings::load(h.home.path()).global_shortcut, "Shift+Super+F9");
    h.type_into("Global shortcut", "");
    h.click("Use these keys");
    assert!(h.exists("No global shortcut. Write keys such as Ctrl+Alt+T to have one."));
    assert_eq!(fake.binds.lock().unwrap().last(), Some(&None));
    assert_eq!(tessera::Settings::load(h.home.path()).global_shortcut, "");
}

#[test]
fn settings_say_when_the_desktop_offers_no_global_shortcuts_in_english_and_dutch() {
    // The harness starts no shortcut service, as on a desktop without one.
    let h = alpha_and_beta();
    h.app.window().window().set_size(slint::LogicalSize::new(520.0, 1600.0));
    h.click("Settings");
    assert!(h.exists(
        "This desktop offers no global shortcuts: open Tessera from its tray icon or by \
         starting it again."
    ));
    h.click("Nederlands");
    assert!(h.exists(
        "Dit bureaublad biedt geen algemene sneltoetsen: open Tessera via het pictogram in het \
         systeemvak of door het opnieuw te starten."
    ));
}
