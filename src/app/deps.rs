//! The seam between the GUI and the outside world: clock, clipboard, vault location, threads.
//!
//! [`Deps::system`] is what `tessera` uses; UI tests build a [`Deps`] with a fake clock, a fake
//! clipboard and a vault in a temporary directory, and run background work inline.

use std::path::PathBuf;
use std::sync::Arc;

use tessera_core::clock::{Clock, SystemClock};

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
        }
    }
}
