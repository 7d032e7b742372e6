//! The screens: each `connect`s one view of the window to the model, converts the model's
//! values into Slint rows, and reacts to the model's events. No screen imports another; a
//! screen that leads to another view asks the model to show it, and the screen of that view
//! fills itself when it is shown.

pub mod accounts;
pub mod add_account;
pub mod approvals;
pub mod details;
pub mod qr_view;
pub mod scan;
pub mod settings;
pub mod shell;
pub mod transfer;
pub mod unlock;

/// Converts a count or size for a Slint `int` (saturating).
pub(crate) fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}
