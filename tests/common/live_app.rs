//! The desktop app against a real push server: real time (servers check timestamps), an
//! in-memory vault with password "1234", a fake clipboard, and "Scan QR code" reading the
//! given text from the clipboard. Driven by accessible label, with Slint's timers advanced by
//! hand (the inline push worker polls on the app's one-second tick).

use std::sync::Arc;
use std::time::{Duration, Instant};

use i_slint_backend_testing::{AccessibleRole, ElementHandle, mock_elapsed_time};
use slint::ComponentHandle;
use tessera::{Background, Deps};
use tessera_core::clock::SystemClock;
use tessera_core::push::{PushBackend, ScheduleConfig};

use super::fakes::FakeClipboard;
use super::test_vault::TestVault;

pub struct LiveApp {
    pub app: tessera::App,
    pub vault: TestVault,
    _home: tempfile::TempDir,
}

impl LiveApp {
    /// Starts the app on this thread's testing backend with `backend` and a clipboard holding
    /// `clipboard`, and unlocks it.
    pub fn start(backend: Arc<dyn PushBackend>, clipboard: &str) -> Self {
        i_slint_backend_testing::init_no_event_loop();
        let vault = TestVault::with_password(Vec::new(), Vec::new());
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("settings.json"), r#"{"language":"english"}"#).unwrap();
        let sources = Arc::new(crate::ui::scan::FakeSources::default());
        *sources.clipboard.lock().unwrap() = Some(clipboard.to_owned());
        let deps = Deps {
            clock: Arc::new(SystemClock),
            clipboard: Box::new(FakeClipboard::default()),
            home: home.path().to_owned(),
            vault: vault.file(),
            background: Background::Inline,
            password_file: None,
            scan_sources: sources,
            push_backends: vec![backend],
            push_schedule: ScheduleConfig::default(),
            notify: Arc::new(tessera::platform::notify::Silent),

            autostart: tessera::platform::autostart::Autostart::at(
                home.path().join("autostart/entry.desktop"),
            ),
            tray: std::sync::Arc::new(tessera::platform::tray::NoTray),
        };
        let app = tessera::build(deps).unwrap();
        app.window().show().unwrap();
        let live = Self { app, vault, _home: home };
        live.type_into("Password or PIN", "1234");
        live.click("Unlock");
        live
    }

    pub fn find(&self, label: &str) -> Vec<ElementHandle> {
        find(&self.app, label)
    }

    pub fn exists(&self, label: &str) -> bool {
        !self.find(label).is_empty()
    }

    pub fn click(&self, label: &str) {
        click(&self.app, label);
    }

    pub fn type_into(&self, label: &str, text: &str) {
        type_into(&self.app, label, text);
    }

    /// "Add account" → "Scan QR code" → "Paste from clipboard".
    pub fn scan_clipboard(&self) {
        self.click("Add account");
        self.click("Scan QR code");
        self.click("Paste from clipboard");
    }

    /// Runs the app's one-second timer until `label` shows (at most `seconds`).
    pub fn wait_for(&self, label: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !self.exists(label) {
            assert!(Instant::now() < deadline, "{label:?} did not show");
            mock_elapsed_time(Duration::from_secs(1));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn screen(&self) -> tessera::Screen {
        self.app.window().global::<tessera::AppAdapter>().get_screen()
    }
}

/// The visible elements labelled `label`.
pub fn find(app: &tessera::App, label: &str) -> Vec<ElementHandle> {
    mock_elapsed_time(Duration::ZERO);
    ElementHandle::find_by_accessible_label(app.window(), label)
        .filter(|e| e.is_valid() && e.computed_opacity() > 0.0)
        .collect()
}

/// Activates the first element labelled `label` that is not plain text.
pub fn click(app: &tessera::App, label: &str) {
    let element = find(app, label)
        .into_iter()
        .find(|e| e.accessible_role() != Some(AccessibleRole::Text))
        .unwrap_or_else(|| panic!("no clickable element labelled {label:?}"));
    element.invoke_accessible_default_action();
    mock_elapsed_time(Duration::from_millis(20));
}

/// Sets the text of the field labelled `label`, as typing would.
pub fn type_into(app: &tessera::App, label: &str, text: &str) {
    let field = find(app, label)
        .into_iter()
        .find(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        .unwrap_or_else(|| panic!("no text field labelled {label:?}"));
    field.set_accessible_value(text);
    mock_elapsed_time(Duration::from_millis(20));
}
