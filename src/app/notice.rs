//! Errors and notices as the window shows them: every core error the screens report is
//! turned into a Slint problem enum (which the `.slint` files word and translate) plus a
//! detail line, here and nowhere else, as `cli/error.rs` does for the terminal.

use tessera_core::transfer::TransferError;
use tessera_core::vault::VaultError;

use crate::model::{Notice, OpenError};
use crate::platform::capture::CaptureError;
use crate::ui::{ImportError, ScanProblem, Toast, UnlockProblem};

/// The unlock screen's problem and detail for a failed open.
pub fn unlock_problem(error: &OpenError) -> (UnlockProblem, String) {
    match error {
        OpenError::PasswordFile { path, error } => {
            (UnlockProblem::Other, format!("{}: {error}", path.display()))
        }
        OpenError::Vault(error) => match error {
            VaultError::WrongPassword => (UnlockProblem::WrongPassword, String::new()),
            VaultError::Damaged { detail } => (UnlockProblem::Damaged, detail.clone()),
            VaultError::UnsupportedVersion { .. } => (UnlockProblem::NewerVersion, String::new()),
            VaultError::KeyringUnavailable { detail } => {
                (UnlockProblem::KeyringFailed, detail.clone())
            }
            error @ VaultError::KeyringNotDurable { .. } => {
                (UnlockProblem::KeyringFailed, error.to_string())
            }
            other => (UnlockProblem::Other, other.to_string()),
        },
    }
}

/// The sentence for a failed protection change (password, keyring) or vault creation.
pub fn vault_detail(error: &VaultError) -> String {
    match error {
        // The new master key must be wrapped for the password slot too, which needs the
        // password's key: known after a password unlock, not after a keyring unlock.
        VaultError::PasswordNeeded => {
            "lock Tessera and unlock it with the password, then change the keyring".into()
        }
        other => other.to_string(),
    }
}

/// The toast for a notice.
pub fn toast(notice: &Notice) -> (Toast, &str) {
    match notice {
        Notice::Copied => (Toast::Copied, ""),
        Notice::Added => (Toast::Added, ""),
        Notice::Saved(detail) => (Toast::Saved, detail),
        Notice::Deleted => (Toast::Deleted, ""),
        Notice::Error(detail) => (Toast::Error, detail),
    }
}

/// The import screen's error kind for a failed read; true when a password would help.
pub fn import_error(error: &TransferError) -> (ImportError, bool) {
    match error {
        TransferError::PasswordRequired { .. } => (ImportError::PasswordRequired, true),
        TransferError::WrongPassword { .. } => (ImportError::WrongPassword, true),
        _ => (ImportError::Unreadable, false),
    }
}

/// The scan screen's problem and detail for a failed capture.
pub fn capture_problem(error: &CaptureError) -> (ScanProblem, String) {
    let problem = match error {
        CaptureError::NoDisplay(_) => ScanProblem::NoDisplay,
        CaptureError::Screen(_) | CaptureError::ScreenFormat { .. } => ScanProblem::Screen,
        CaptureError::ClipboardEmpty => ScanProblem::ClipboardEmpty,
        CaptureError::Clipboard(_) => ScanProblem::Clipboard,
        CaptureError::Image { .. } | CaptureError::ImageData(_) | CaptureError::Frame(_) => {
            ScanProblem::Image
        }
        CaptureError::NoCamera => ScanProblem::NoCamera,
        CaptureError::Text(_) => ScanProblem::UnreadableText,
        CaptureError::Camera(_) => ScanProblem::Camera,
    };
    let detail = match error {
        CaptureError::Camera(cause) => cause.clone(),
        CaptureError::Text(cause) => cause.to_string(),
        other => crate::platform::capture::error_chain(other),
    };
    (problem, detail)
}
