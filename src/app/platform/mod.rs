//! The outside world as the app meets it: the clipboard, screen and camera capture, desktop
//! notifications, the desktop's screen lock, the one-instance claim on the session bus, the
//! global shortcut (an X11 key grab or the desktop portal), and the real push backends. Each
//! piece sits behind a small trait or function so the model can be driven by fakes in tests; nothing
//! here knows about the model or the screens.

pub mod autostart;
/// Capture is shared with the command line (`tessera scan`), which must not link the GUI.
pub use tessera_cli::capture;
pub mod clipboard;
#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub mod instance;
pub mod memory;
pub mod notify;
#[cfg(all(unix, not(target_os = "android"), not(target_os = "macos")))]
pub mod screen_lock;
pub mod shortcut;
pub mod sources;
pub mod tray;

use std::sync::Arc;

/// The application id: names the .desktop file, the AppStream metadata and the window class.
pub const APP_ID: &str = "io.github.tessera.Tessera";

use tessera_core::push::PushBackend;
use tessera_core::push::tessera::{self, TesseraBackend};

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
