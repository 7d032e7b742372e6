//! "Hide codes until I click them" (issue 16, point 3) in the window: masks and "Code hidden"
//! for screen readers, Space or a click on the mask shows a code until it changes, Enter still
//! copies without showing it; the setting in English and Dutch.

use std::time::Duration;

use i_slint_backend_testing::mock_elapsed_time;
use slint::ComponentHandle;
use slint::platform::{Key, WindowEvent};

use super::{Harness, RFC_KEY, entry, start_with};

const HIDING: &str = r#"{"language":"english","theme":"light","hide_codes":true}"#;

fn press(h: &Harness, key: impl Into<slint::SharedString>) {
    let text = key.into();
    let window = h.app.window().window();
    window.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
    window.dispatch_event(WindowEvent::KeyReleased { text });
    mock_elapsed_time(Duration::from_millis(20));
}

#[test]
fn hidden_codes_show_on_space_or_a_click_until_they_change_and_copy_without_showing() {
    let h = start_with(
        Some(vec![entry("Example", "ada", RFC_KEY), entry("Zeta", "zed", "JBSWY3DPEHPK3PXP")]),
        HIDING,
    );
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    // RFC_TIME is the last second of its period; its code is 081804.
    assert_eq!(h.all("Code hidden").len(), 2, "both codes are masked for the screen reader too");
    assert!(h.exists("Show code for Example, ada"));
    assert!(!h.exists("0 8 1 8 0 4"));

    press(&h, Key::DownArrow);
    press(&h, Key::Return);
    assert_eq!(h.clipboard.content().as_deref(), Some("081804"), "Enter copies");
    assert!(!h.exists("0 8 1 8 0 4"), "without showing the code");

    press(&h, " ");
    assert!(h.exists("0 8 1 8 0 4"), "Space shows the selected row's code, digit by digit");
    assert!(h.exists("Show code for Zeta, zed"), "and only that one");
    h.wait(1);
    assert!(h.exists("Show code for Example, ada"), "the next code is hidden again");
    assert!(!h.exists("0 8 1 8 0 4"));

    h.click("Show code for Zeta, zed");
    assert!(!h.exists("Show code for Zeta, zed"), "a click on the mask shows it");
    assert_eq!(h.all("Code hidden").len(), 1);
}

#[test]
fn the_setting_is_offered_in_english_and_dutch_and_saved() {
    let h = start_with(
        Some(vec![entry("Example", "ada", RFC_KEY)]),
        r#"{"language":"dutch","theme":"light"}"#,
    );
    h.type_into("Wachtwoord of pincode", "1234");
    h.click("Ontgrendelen");
    assert!(!h.exists("Code verborgen"), "off by default");
    h.click("Instellingen");
    h.click("Codes verbergen tot ik erop klik");
    let saved = std::fs::read_to_string(h.home.path().join("settings.json")).unwrap();
    assert!(saved.contains(r#""hide_codes": true"#), "{saved}");
    h.click("Terug");
    assert!(h.exists("Code verborgen"), "the list hides its code at once");
    assert!(h.exists("Code tonen voor Example, ada"));
}
