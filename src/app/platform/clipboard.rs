//! The system clipboard as the app needs it: put text, read it back, clear it.

/// Why the clipboard could not take a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the clipboard is not available: {0}")]
pub struct ClipboardError(pub String);

/// The clipboard: the app puts codes there and clears them again.
pub trait Clipboard {
    /// Replaces the clipboard's content with `text`.
    fn set_text(&mut self, text: &str) -> Result<(), ClipboardError>;
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
    fn board(&mut self) -> Result<&mut arboard::Clipboard, ClipboardError> {
        if self.inner.is_none() {
            self.inner =
                Some(arboard::Clipboard::new().map_err(|e| ClipboardError(e.to_string()))?);
        }
        self.inner.as_mut().ok_or_else(|| ClipboardError("no clipboard".to_owned()))
    }
}

impl Clipboard for SystemClipboard {
    fn set_text(&mut self, text: &str) -> Result<(), ClipboardError> {
        self.board()?.set_text(text.to_owned()).map_err(|e| ClipboardError(e.to_string()))
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
