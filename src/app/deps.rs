//! The seam between the GUI and the outside world: clock, clipboard, vault location, threads.
//!
//! [`Deps::system`] is what `tessera` uses; UI tests build a [`Deps`] with a fake clock, a fake
//! clipboard and a vault in a temporary directory, and run background work inline.

use std::path::PathBuf;
use std::sync::Arc;

use tessera_core::clock::{Clock, SystemClock};
use tessera_core::qr::{FrameSource, LumaFrame};

use crate::capture::{CaptureError, ClipboardContent};
use tessera_core::push::tessera::{self, TesseraBackend};
use tessera_core::push::{PushBackend, ScheduleConfig};

use crate::store::{MemoryBackend, VaultBackend};

/// The system clipboard as the GUI needs it: put text, read it back, clear it.
pub trait Clipboard {
    /// Replaces the clipboard's content with `text`.
    fn set_text(&mut self, text: &str) -> Result<(), String>;
    /// Returns the clipboard's text, if it holds text.
    fn text(&mut self) -> Option<String>;
    /// Empties the clipboard.
    fn clear(&mut self);
}

/// The OS clipboard through `arboard`, opened on first use (a headless machine has none; the
/// app must still start there).
#[derive(Default)]
pub struct SystemClipboard {
    inner: Option<arboard::Clipboard>,
}

impl SystemClipboard {
    fn board(&mut self) -> Result<&mut arboard::Clipboard, String> {
        if self.inner.is_none() {
            self.inner = Some(arboard::Clipboard::new().map_err(|e| e.to_string())?);
        }
        self.inner.as_mut().ok_or_else(|| "no clipboard".to_owned())
    }
}

impl Clipboard for SystemClipboard {
    fn set_text(&mut self, text: &str) -> Result<(), String> {
        self.board()?.set_text(text.to_owned()).map_err(|e| e.to_string())
    }

    fn text(&mut self) -> Option<String> {
        self.board().ok()?.get_text().ok()
    }

    fn clear(&mut self) {
        if let Ok(board) = self.board() {
            // Failing to clear leaves a one-time code on the clipboard, which expires anyway.
            let _ = board.clear();
        }
    }
}

/// Where QR codes come from when scanning: the screen, the clipboard, image files, a camera.
///
/// Every method runs on a worker thread (never the UI thread).
pub trait ScanSources: Send + Sync {
    /// Captures every screen.
    fn screen(&self) -> Result<Vec<LumaFrame>, CaptureError>;
    /// Reads the clipboard: an image or text.
    fn clipboard(&self) -> Result<ClipboardContent, CaptureError>;
    /// Reads an image file.
    fn image(&self, path: &std::path::Path) -> Result<LumaFrame, CaptureError>;
    /// Opens the camera; the returned source yields frames until dropped.
    fn camera(&self) -> Result<Box<dyn FrameSource>, CaptureError>;
}

/// The real sources: X11 screens, the OS clipboard, files, the first camera (`camera` feature).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemScanSources;

impl ScanSources for SystemScanSources {
    fn screen(&self) -> Result<Vec<LumaFrame>, CaptureError> {
        crate::capture::capture_screens(None)
    }

    fn clipboard(&self) -> Result<ClipboardContent, CaptureError> {
        crate::capture::read_clipboard()
    }

    fn image(&self, path: &std::path::Path) -> Result<LumaFrame, CaptureError> {
        crate::capture::load_image(path)
    }

    fn camera(&self) -> Result<Box<dyn FrameSource>, CaptureError> {
        #[cfg(feature = "camera")]
        return Ok(Box::new(crate::capture::CameraSource::open()?));
        #[cfg(not(feature = "camera"))]
        Err(CaptureError::Camera("this build of Tessera has no camera support".to_owned()))
    }
}
/// Shows a desktop notification with a title and a body; must not fail loudly.
pub type Notify = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Where slow work (key derivation) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    /// On a worker thread; the result comes back through Slint's event loop.
    Thread,
    /// On the calling thread, for tests with no event loop. The work itself is the same.
    Inline,
}

/// Everything the GUI reads from or does to the world.
pub struct Deps {
    /// The time source for codes, idle lock and unlock throttling.
    pub clock: Arc<dyn Clock>,
    /// Where copied codes go.
    pub clipboard: Box<dyn Clipboard>,
    /// The data directory: settings and the unlock-attempt record live here.
    pub home: PathBuf,
    /// The vault (its location is part of the backend).
    pub vault: Arc<dyn VaultBackend>,
    /// How slow work runs.
    pub background: Background,
    /// A file holding the password to unlock with at start (`TESSERA_PASSWORD_FILE`).
    pub password_file: Option<PathBuf>,
    /// Where scanned QR codes come from.
    pub scan_sources: Arc<dyn ScanSources>,
    /// The push servers' protocols (privacyIDEA, Tessera); tests put an in-process backend
    /// here.
    pub push_backends: Vec<Arc<dyn PushBackend>>,
    /// When to poll push accounts.
    pub push_schedule: ScheduleConfig,
    /// Shows a desktop notification (title, body) when a login request arrives.
    pub notify: Notify,
}

/// Returns the real push backends: privacyIDEA (polled) and Tessera's own server
/// (long-polled, held up to 25 s). One that cannot start (no TLS provider) is left out and
/// logged, so the rest of the app still works.
pub fn system_push_backends() -> Vec<Arc<dyn PushBackend>> {
    tessera_core::push::install_crypto_provider();
    let mut backends: Vec<Arc<dyn PushBackend>> = Vec::new();
    match tessera_core::push::PrivacyIdeaBackend::new() {
        Ok(backend) => backends.push(Arc::new(backend)),
        Err(error) => eprintln!("tessera: privacyIDEA push approvals are unavailable: {error}"),
    }
    match TesseraBackend::new() {
        Ok(backend) => {
            backends.push(Arc::new(backend.with_long_poll(tessera::MAX_WAIT_SECONDS)));
        }
        Err(error) => eprintln!("tessera: Tessera push approvals are unavailable: {error}"),
    }
    backends
}

impl Deps {
    /// Returns the real dependencies: system clock and clipboard, the vault in the data
    /// directory (`TESSERA_HOME` or the platform's), worker threads.
    pub fn system() -> Self {
        Self::system_at(crate::store::data_dir())
    }

    /// Like [`Deps::system`] with an explicit data directory (Android's app-private dir).
    pub fn system_at(home: PathBuf) -> Self {
        Self {
            clock: Arc::new(SystemClock),
            clipboard: Box::new(SystemClipboard::default()),
            vault: crate::store::system_backend(&home),
            home,
            background: Background::Thread,
            password_file: std::env::var_os("TESSERA_PASSWORD_FILE")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            scan_sources: Arc::new(SystemScanSources),
            push_backends: system_push_backends(),
            push_schedule: ScheduleConfig::default(),
            notify: Arc::new(crate::approvals::notify_desktop),
        }
    }

    /// Returns dependencies for tests and previews: the given clock and clipboard, an
    /// in-memory vault, `home` for settings, work run inline.
    pub fn in_memory(clock: Arc<dyn Clock>, clipboard: Box<dyn Clipboard>, home: PathBuf) -> Self {
        Self {
            clock,
            clipboard,
            home,
            vault: Arc::new(MemoryBackend::default()),
            background: Background::Inline,
            password_file: None,
            scan_sources: Arc::new(SystemScanSources),
            push_backends: Vec::new(),
            push_schedule: ScheduleConfig::default(),
            notify: Arc::new(|_, _| {}),
        }
    }
}
