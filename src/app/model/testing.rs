//! What the model's unit tests share: an in-memory key store and a model on a real vault file
//! with cheap Argon2id parameters, a fixed clock and a fake clipboard.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tessera_core::clock::Clock;
use tessera_core::vault::{KdfParams, KeyStore, KeyStoreError, Stored};
use zeroize::Zeroizing;

use super::vault::VaultFile;
use super::{Deps, Model};
use crate::platform::clipboard::{Clipboard, ClipboardError};
use crate::platform::sources::SystemScanSources;
use crate::task::Background;

/// A durable secret store that lives in memory.
#[derive(Debug, Default)]
pub(crate) struct MemoryKeys(Mutex<HashMap<String, Vec<u8>>>);

impl KeyStore for MemoryKeys {
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
        self.0.lock().unwrap().insert(name.to_owned(), key.to_vec());
        Ok(Stored { store: "memory".into(), durable: true })
    }

    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        self.0.lock().unwrap().get(name).cloned().map(Zeroizing::new).ok_or(KeyStoreError::NotFound)
    }

    fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        self.0.lock().unwrap().remove(name);
        Ok(())
    }
}

/// A clock the test moves by hand.
#[derive(Debug, Default)]
pub(crate) struct TestClock(pub Mutex<u64>);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        *self.0.lock().unwrap()
    }
}

/// A clipboard in memory, shared with the test.
#[derive(Debug, Default, Clone)]
pub(crate) struct TestClipboard(pub Arc<Mutex<Option<String>>>);

impl Clipboard for TestClipboard {
    fn set_text(&mut self, text: &str) -> Result<(), ClipboardError> {
        *self.0.lock().unwrap() = Some(text.to_owned());
        Ok(())
    }

    fn text(&mut self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }

    fn clear(&mut self) {
        *self.0.lock().unwrap() = None;
    }
}

/// A model on a vault file in `home`, with work run inline.
pub(crate) fn model(home: &std::path::Path, clock: Arc<TestClock>, board: TestClipboard) -> Model {
    let vault = VaultFile::with(
        home.join("vault.json"),
        Arc::new(MemoryKeys::default()),
        Some(KdfParams::INSECURE_FOR_TESTS),
    );
    Model::new(Deps {
        clock,
        clipboard: Box::new(board),
        home: home.to_owned(),
        vault,
        background: Background::Inline,
        password_file: None,
        scan_sources: Arc::new(SystemScanSources),
        push_backends: Vec::new(),
        push_schedule: tessera_core::push::ScheduleConfig::default(),
        notify: Arc::new(crate::platform::notify::Silent),
        autostart: crate::platform::autostart::Autostart::at(home.join("autostart/entry.desktop")),
        tray: Arc::new(crate::platform::tray::NoTray),
    })
}

/// A notification service that records what the model shows and withdraws.
#[derive(Default)]
pub(crate) struct TestNotifier {
    pub(crate) shown: Mutex<Vec<crate::platform::notify::Announcement>>,
    pub(crate) withdrawn: Mutex<Vec<String>>,
}

impl crate::platform::notify::Notifier for TestNotifier {
    fn show(&self, announcement: crate::platform::notify::Announcement) {
        self.shown.lock().unwrap().push(announcement);
    }

    fn withdraw(&self, request: &str) {
        self.withdrawn.lock().unwrap().push(request.to_owned());
    }

    fn on_response(&self, _handler: crate::platform::notify::OnResponse) {}
}

/// A tray that records what the model shows and says the desktop shows it.
#[derive(Default)]
pub(crate) struct TestTray {
    pub(crate) shown: Mutex<Vec<crate::platform::tray::TrayStatus>>,
}

impl crate::platform::tray::Tray for TestTray {
    fn show(&self, status: crate::platform::tray::TrayStatus) {
        self.shown.lock().unwrap().push(status);
    }

    fn on_event(&self, _handler: crate::platform::tray::OnTrayEvent) {}

    fn host(&self) -> crate::platform::tray::Host {
        crate::platform::tray::Host::Present
    }
}
