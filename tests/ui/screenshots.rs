//! Renders the main screens (light/dark, English/Dutch) to PNG with the software renderer.
//!
//! Run `TESSERA_SCREENSHOTS=dir cargo test screenshots` to write them; without the variable
//! the test still renders every screen and checks the images are not blank.

use std::time::Duration;

use i_slint_backend_testing::{TestingBackend, TestingBackendOptions, mock_elapsed_time};
use slint::ComponentHandle;

use super::{Harness, RFC_KEY, entry, start_on_current_backend};

pub(super) fn snapshot(h: &Harness, name: &str) {
    mock_elapsed_time(Duration::from_millis(50));
    let image = h.app.window().window().take_snapshot().expect("software renderer snapshot");
    let pixels = image.as_bytes();
    let first = &pixels[..4];
    assert!(pixels.chunks(4).any(|p| p != first), "{name} is blank");
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

pub(super) fn sample_entries() -> Vec<tessera_core::vault::Entry> {
    let mut github = entry("GitHub", "ada@example.org", RFC_KEY);
    github.favourite = true;
    vec![
        github,
        entry("Google", "ada.lovelace@gmail.com", "JBSWY3DPEHPK3PXP"),
        entry("Example Corp", "ada (VPN)", "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF"),
        entry("Example Corp", "ada (mail)", "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"),
        entry("Mastodon", "@ada@example.social", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA"),
        entry("Proton", "ada@proton.example", "ONSWG4TFOQYTEMZUGU3DOOBZ"),
    ]
}

#[test]
fn screenshots_of_the_main_screens_render() {
    i_slint_core_platform_set();
    for (theme, language) in
        [("light", "english"), ("dark", "english"), ("light", "dutch"), ("dark", "dutch")]
    {
        let settings = format!(r#"{{"language":"{language}","theme":"{theme}"}}"#);
        let h = start_on_current_backend(Some(sample_entries()), &settings);
        let tag = format!("{language}-{theme}");
        snapshot(&h, &format!("unlock-{tag}"));
        h.type_into(
            if language == "dutch" { "Wachtwoord of pincode" } else { "Password or PIN" },
            "1234",
        );
        h.app.window().window().dispatch_event(slint::platform::WindowEvent::KeyPressed {
            text: slint::platform::Key::Return.into(),
        });
        mock_elapsed_time(Duration::from_millis(50));
        h.clock.set(super::RFC_TIME - 10);
        h.app.tick();
        snapshot(&h, &format!("accounts-{tag}"));
        if tag == "english-light" {
            // Four seconds left: next codes show; a copy shows the toast.
            h.clock.set(super::RFC_TIME - 3);
            mock_elapsed_time(Duration::from_secs(1));
            h.click("Copy code for Google ada.lovelace@gmail.com");
            snapshot(&h, "accounts-copied-english-light");
            h.clock.set(super::RFC_TIME - 10);
            mock_elapsed_time(Duration::from_secs(3));
        }
        let add = if language == "dutch" { "Account toevoegen" } else { "Add account" };
        h.click(add);
        h.type_into(if language == "dutch" { "Accountnaam" } else { "Account name" }, "ada");
        h.type_into(
            if language == "dutch" {
                "Geheime sleutel van het account"
            } else {
                "Account secret key"
            },
            "JBSW Y3DP 0HPK",
        );
        snapshot(&h, &format!("add-account-{tag}"));
        h.click(if language == "dutch" { "Annuleren" } else { "Cancel" });
        h.click(if language == "dutch" { "Instellingen" } else { "Settings" });
        snapshot(&h, &format!("settings-{tag}"));
    }
    let h = start_on_current_backend(None, r#"{"language":"english","theme":"light"}"#);
    snapshot(&h, "first-run-english-light");
}

#[test]
fn screenshot_of_hidden_codes_renders() {
    i_slint_core_platform_set();
    let settings = r#"{"language":"english","theme":"light","hide_codes":true}"#;
    let h = start_on_current_backend(Some(sample_entries()), settings);
    h.type_into("Password or PIN", "1234");
    h.click("Unlock");
    h.clock.set(super::RFC_TIME - 10);
    h.app.tick();
    // One code shown with a click on its dots; the others stay hidden.
    h.click("Show code for Google, ada.lovelace@gmail.com");
    snapshot(&h, "accounts-hidden-codes-light");
}

pub(super) fn i_slint_core_platform_set() {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .expect("no platform yet on this thread");
}
