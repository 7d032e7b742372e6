//! "Scan QR code" and "Show QR code" with fake capture sources: a screen showing a generated
//! QR code, a camera replaying frames, no camera at all.

use std::collections::VecDeque;
use std::sync::Mutex;

use slint::ComponentHandle;
use tessera::capture::{CaptureError, ClipboardContent};
use tessera_core::otp::{OtpParams, Secret};
use tessera_core::qr::{DecodeOptions, FrameSource, LumaFrame, QrError, decode, encode};
use tessera_core::uri::{self, OtpUri, Payload};

use super::{Harness, RFC_CODE, RFC_KEY, entry, unlocked};

/// What the fake camera does when opened.
#[derive(Default)]
pub enum Camera {
    /// No camera is connected.
    #[default]
    Missing,
    /// The camera delivers these frames, then ends.
    Frames(Vec<LumaFrame>),
}

/// Capture sources that serve what the test put in.
#[derive(Default)]
pub struct FakeSources {
    pub screen: Mutex<Vec<LumaFrame>>,
    pub clipboard: Mutex<Option<String>>,
    pub camera: Mutex<Camera>,
}

struct Replay(VecDeque<LumaFrame>);

impl FrameSource for Replay {
    fn next_frame(&mut self) -> Result<Option<LumaFrame>, QrError> {
        Ok(self.0.pop_front())
    }
}

impl tessera::ScanSources for FakeSources {
    fn screen(&self) -> Result<Vec<LumaFrame>, CaptureError> {
        Ok(self.screen.lock().unwrap().clone())
    }

    fn clipboard(&self) -> Result<ClipboardContent, CaptureError> {
        self.clipboard
            .lock()
            .unwrap()
            .clone()
            .map(ClipboardContent::Text)
            .ok_or(CaptureError::ClipboardEmpty)
    }

    fn image(&self, path: &std::path::Path) -> Result<LumaFrame, CaptureError> {
        tessera::capture::load_image(path)
    }

    fn camera(&self) -> Result<Box<dyn FrameSource>, CaptureError> {
        match &*self.camera.lock().unwrap() {
            Camera::Missing => Err(CaptureError::NoCamera),
            Camera::Frames(frames) => Ok(Box::new(Replay(frames.iter().cloned().collect()))),
        }
    }
}

const URI: &str = "otpauth://totp/Example:ada%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";

/// A 1280×720 light-grey "screen" with the QR code for `text` drawn at (600, 200).
fn screen_with(text: &str) -> LumaFrame {
    let code = encode(text).unwrap().to_luma(4, 4);
    let (w, h) = (1280usize, 720usize);
    let mut pixels = vec![230u8; w * h];
    let cw = code.width() as usize;
    for (row, line) in code.pixels().chunks(cw).enumerate() {
        let at = (200 + row) * w + 600;
        pixels[at..at + cw].copy_from_slice(line);
    }
    LumaFrame::new(w as u32, h as u32, pixels).unwrap()
}

fn open_scan(h: &Harness) {
    h.click("Add account");
    h.click("Scan QR code");
    assert!(h.exists("Scan the screen"), "the scan screen shows");
}

#[test]
fn scanning_the_screen_prefills_the_form_and_add_adds_the_account() {
    let h = unlocked(Vec::new());
    *h.sources.screen.lock().unwrap() = vec![screen_with(URI)];
    open_scan(&h);
    h.click("Scan the screen");
    assert_eq!(h.one("Account name").accessible_value().as_deref(), Some("ada@example.org"));
    assert_eq!(h.one("Issuer").accessible_value().as_deref(), Some("Example"));
    assert!(h.entries().is_empty(), "nothing is added before the user confirms");
    h.click("Add");
    assert!(h.exists(RFC_CODE), "the RFC 6238 code at the mocked time");
    let saved = h.entries();
    assert_eq!(saved.len(), 1);
    assert_eq!(
        (saved[0].issuer.as_str(), saved[0].account.as_str()),
        ("Example", "ada@example.org")
    );
}

#[test]
fn a_wifi_code_shows_the_specific_error_and_adds_nothing() {
    let h = unlocked(Vec::new());
    *h.sources.screen.lock().unwrap() = vec![screen_with("WIFI:S:Home;T:WPA;P:hunter22;;")];
    open_scan(&h);
    h.click("Scan the screen");
    assert!(h.exists(
        "This QR code is a Wi-Fi network, not an authenticator account. Scan the code the website \
         shows when you turn on two-step verification."
    ));
    assert!(h.exists("Scan the screen"), "still on the scan screen");
    assert!(h.entries().is_empty());
}

#[test]
fn a_screen_without_a_code_says_so() {
    let h = unlocked(Vec::new());
    *h.sources.screen.lock().unwrap() = vec![LumaFrame::new(64, 64, vec![255; 64 * 64]).unwrap()];
    open_scan(&h);
    h.click("Scan the screen");
    assert!(h.exists(
        "No QR code found. Make the code larger on screen, or use a sharper, closer image."
    ));
}

#[test]
fn an_otpauth_link_on_the_clipboard_prefills_the_form() {
    let h = unlocked(Vec::new());
    open_scan(&h);
    h.click("Paste from clipboard");
    assert!(h.exists(
        "The clipboard is empty. Copy a screenshot of the QR code, or its otpauth:// link, first."
    ));
    *h.sources.clipboard.lock().unwrap() = Some(URI.to_owned());
    h.click("Paste from clipboard");
    assert_eq!(h.one("Account name").accessible_value().as_deref(), Some("ada@example.org"));
}

fn accounts(n: usize) -> Vec<OtpUri> {
    (0..n)
        .map(|i| OtpUri {
            issuer: format!("Issuer {i}"),
            account: format!("user{i}@example.org"),
            otp: OtpParams::totp(
                Secret::from_bytes(format!("key number {i:02} pad").into_bytes()).unwrap(),
            ),
            extra: Vec::new(),
        })
        .collect()
}

fn save_png(dir: &std::path::Path, name: &str, text: &str) -> String {
    let frame = encode(text).unwrap().to_luma(4, 4);
    let image =
        image::GrayImage::from_raw(frame.width(), frame.height(), frame.into_pixels()).unwrap();
    let path = dir.join(name);
    image.save(&path).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_migration_export_adds_all_its_accounts_and_names_the_missing_part() {
    let h = unlocked(Vec::new());
    let (links, skipped) = uri::encode_migration_with_id(&accounts(12), 77);
    assert!(skipped.is_empty());
    assert_eq!(links.len(), 2, "ten accounts per code");
    let dir = tempfile::tempdir().unwrap();
    let first = save_png(dir.path(), "first.png", &links[0]);
    let second = save_png(dir.path(), "second.png", &links[1]);
    open_scan(&h);
    h.type_into("Image file", &first);
    h.click("Open image");
    assert!(h.exists("Google Authenticator export: 10 accounts found"));
    assert!(h.exists("Export codes not scanned yet: 2. Scan them too, or add these accounts now."));
    assert!(h.entries().is_empty(), "nothing is added before the user confirms");
    h.type_into("Image file", &second);
    h.click("Open image");
    assert!(h.exists("Google Authenticator export: 12 accounts found"));
    assert!(
        !h.exists("Export codes not scanned yet: 2. Scan them too, or add these accounts now.")
    );
    h.click("Add all");
    let saved = h.entries();
    assert_eq!(saved.len(), 12);
    assert!(saved.iter().any(|e| e.issuer == "Issuer 11" && e.account == "user11@example.org"));
    assert!(h.exists("Copy code for Issuer 0 user0@example.org"), "back on the accounts list");
}

#[test]
fn the_camera_finds_the_code_in_replayed_frames() {
    let h = unlocked(Vec::new());
    let blank = LumaFrame::new(640, 480, vec![128; 640 * 480]).unwrap();
    *h.sources.camera.lock().unwrap() =
        Camera::Frames(vec![blank.clone(), blank, screen_with(URI)]);
    open_scan(&h);
    h.click("Camera");
    assert_eq!(h.one("Account name").accessible_value().as_deref(), Some("ada@example.org"));
    h.click("Add");
    assert_eq!(h.entries().len(), 1);
}

#[test]
fn no_camera_is_explained_in_plain_words() {
    let h = unlocked(Vec::new());
    open_scan(&h);
    h.click("Camera");
    assert!(h.exists("No camera found. Connect a camera, or check that this user may use it."));
    assert!(h.exists("Camera"), "the camera can be tried again");
    assert!(!h.exists("Camera preview"), "no preview without a camera");
}

#[test]
fn a_camera_that_ends_without_a_code_says_so() {
    let h = unlocked(Vec::new());
    let blank = LumaFrame::new(640, 480, vec![128; 640 * 480]).unwrap();
    *h.sources.camera.lock().unwrap() = Camera::Frames(vec![blank]);
    open_scan(&h);
    h.click("Camera");
    assert!(h.exists("The camera stopped before a QR code was found."));
}

fn shown_qr(h: &Harness) -> Vec<String> {
    let image = h.app.window().global::<tessera::QrAdapter>().get_image();
    let rgba = image.to_rgba8().expect("a QR image is shown");
    let frame = LumaFrame::from_rgba8(rgba.width(), rgba.height(), rgba.as_bytes()).unwrap();
    decode(&frame, &DecodeOptions { budget: None, exhaustive: false }).payloads
}

#[test]
fn show_qr_needs_the_password_and_the_code_holds_the_account_link() {
    let h = unlocked(vec![entry("Example", "ada", RFC_KEY)]);
    h.click("Details for Example, ada");
    h.click("Show QR code");
    assert!(!h.exists("QR code"), "no code before the password");
    h.type_into("Password or PIN", "wrong");
    h.click("Show QR code");
    assert!(h.exists("Wrong password or PIN"));
    assert!(!h.exists("QR code"));
    h.type_into("Password or PIN", "1234");
    h.click("Show QR code");
    assert!(h.exists("QR code"));
    let saved = &h.entries()[0];
    let expected = OtpUri {
        issuer: saved.issuer.clone(),
        account: saved.account.clone(),
        otp: saved.otp.clone(),
        extra: Vec::new(),
    }
    .to_uri();
    assert_eq!(shown_qr(&h), [expected.as_str()]);
    h.click("Done");
    assert!(h.exists("Delete account"), "back on the details");
    assert_eq!(h.app.window().global::<tessera::QrAdapter>().get_image().size().width, 0);
}

#[test]
fn export_shows_one_migration_code_per_page() {
    let entries: Vec<_> = (0..12).map(|i| entry(&format!("Issuer {i}"), "ada", RFC_KEY)).collect();
    let h = unlocked(entries);
    h.click("Details for Issuer 0, ada");
    h.click("Export to another phone");
    h.type_into("Password or PIN", "1234");
    h.click("Show QR code");
    assert!(h.exists("Code 1 of 2"));
    let mut names = Vec::new();
    for page in 0..2 {
        if page == 1 {
            h.click("Next QR code");
            assert!(h.exists("Code 2 of 2"));
        }
        let texts = shown_qr(&h);
        assert_eq!(texts.len(), 1);
        let Ok(Payload::Migration(batch)) = uri::classify(&texts[0]) else {
            panic!("page {page} is a migration code")
        };
        assert_eq!(batch.batch_index, page);
        names.extend(batch.accounts.into_iter().map(|a| a.issuer));
    }
    assert_eq!(names.len(), 12);
    assert!(names.contains(&"Issuer 11".to_owned()));
}

#[test]
fn screenshots_of_the_scan_and_qr_screens_render() {
    use super::screenshots::{i_slint_core_platform_set, snapshot};
    i_slint_core_platform_set();
    for (theme, language) in [("light", "english"), ("dark", "dutch")] {
        let dutch = language == "dutch";
        let settings = format!(r#"{{"language":"{language}","theme":"{theme}"}}"#);
        let h = super::start_on_current_backend(
            Some(vec![entry("Example", "ada@example.org", RFC_KEY)]),
            &settings,
        );
        let tag = format!("{language}-{theme}");
        h.type_into(if dutch { "Wachtwoord of pincode" } else { "Password or PIN" }, "1234");
        h.click(if dutch { "Ontgrendelen" } else { "Unlock" });
        *h.sources.screen.lock().unwrap() = vec![screen_with("https://example.org/login")];
        h.click(if dutch { "Account toevoegen" } else { "Add account" });
        h.click(if dutch { "QR-code scannen" } else { "Scan QR code" });
        h.click(if dutch { "Scherm scannen" } else { "Scan the screen" });
        snapshot(&h, &format!("scan-web-link-{tag}"));

        let (links, _) = uri::encode_migration_with_id(&accounts(12), 5);
        let dir = tempfile::tempdir().unwrap();
        let first = save_png(dir.path(), "first.png", &links[0]);
        h.type_into(if dutch { "Afbeeldingsbestand" } else { "Image file" }, &first);
        h.click(if dutch { "Afbeelding openen" } else { "Open image" });
        snapshot(&h, &format!("scan-export-{tag}"));
        h.click(if dutch { "Annuleren" } else { "Cancel" });
        h.click(if dutch { "Annuleren" } else { "Cancel" });

        h.click(if dutch {
            "Gegevens van Example, ada@example.org"
        } else {
            "Details for Example, ada@example.org"
        });
        snapshot(&h, &format!("details-{tag}"));
        h.click(if dutch { "QR-code tonen" } else { "Show QR code" });
        snapshot(&h, &format!("show-qr-password-{tag}"));
        h.type_into(if dutch { "Wachtwoord of pincode" } else { "Password or PIN" }, "1234");
        h.click(if dutch { "QR-code tonen" } else { "Show QR code" });
        snapshot(&h, &format!("show-qr-{tag}"));
    }
}

#[test]
fn a_keyring_only_vault_shows_the_qr_code_after_a_confirmation() {
    i_slint_backend_testing::init_no_event_loop();
    let vault =
        crate::common::test_vault::TestVault::keyring_only(vec![entry("Example", "ada", RFC_KEY)]);
    let home = tempfile::tempdir().unwrap();
    let h = super::launch(vault, home, super::ENGLISH);
    assert!(h.exists("Lock"), "a keyring-only vault opens by itself");
    h.click("Details for Example, ada");
    h.click("Show QR code");
    assert!(!h.exists("Password or PIN"), "there is no password to ask for");
    assert!(!h.exists("QR code"), "the code waits for the confirmation");
    h.click("Show QR code");
    assert_eq!(shown_qr(&h).len(), 1);
}
