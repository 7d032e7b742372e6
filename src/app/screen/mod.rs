//! The screens: each `connect`s one view of the window to the model, converts the model's
//! values into Slint rows, and reacts to the model's events. No screen imports another; a
//! screen that leads to another view asks the model to show it, and the screen of that view
//! fills itself when it is shown. `icon_images` is no screen: the rendered service icons that
//! the list and the details screen share.

pub mod accounts;
pub mod add_account;
pub mod approvals;
pub mod clock;
pub mod details;
pub(crate) mod icon_images;
pub mod icon_packs;
pub mod qr_view;
pub mod recovery;
pub mod reminder;
pub mod scan;
pub mod settings;
pub mod shell;
pub mod transfer;
pub mod unlock;

use tessera_core::vault::policy::{
    MIN_PASSWORD_CHARS, MIN_PIN_CHARS, PasswordError, PasswordUse,
    check_new_password as check_new_password_policy,
};

/// Converts a count or size for a Slint `int` (saturating).
pub(crate) fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// Why a new password typed into a form is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewPasswordProblem {
    /// Shorter than the core's minimum for this use ([`password_min`]).
    TooShort,
    /// Digits only where nothing but the password protects the key.
    NeedsLetters,
    /// The two entries differ.
    Differ,
}

/// The one check of a new password (vault, export, backup): the core's policy for `usage`,
/// then the repeated entry.
pub(crate) fn check_new_password(
    password: &str,
    repeat: &str,
    usage: PasswordUse,
) -> Result<(), NewPasswordProblem> {
    match check_new_password_policy(password, usage) {
        Err(PasswordError::Empty | PasswordError::TooShort { .. }) => {
            Err(NewPasswordProblem::TooShort)
        }
        Err(PasswordError::PinNeedsKeyring) => Err(NewPasswordProblem::NeedsLetters),
        Ok(_) if password != repeat => Err(NewPasswordProblem::Differ),
        Ok(_) => Ok(()),
    }
}

/// The shortest new password the policy accepts for `usage` (shown in the message).
pub(crate) fn password_min(usage: PasswordUse) -> i32 {
    int(match usage {
        PasswordUse::VaultWithKeyring => MIN_PIN_CHARS,
        PasswordUse::VaultAlone | PasswordUse::File => MIN_PASSWORD_CHARS,
    })
}
