//! Tessera's one integration-test binary (one binary keeps link time and disk use down; see
//! STACK.md). Each module tests something that ships.
// STYLE.md allows unwrap in tests; helpers outside #[test] functions need it said here.
#![allow(clippy::unwrap_used, unreachable_pub)]

// Fakes for the GUI's Deps: a settable clock and an in-memory clipboard.
mod common;
// The desktop app driven through i-slint-backend-testing by accessible label.
mod ui;
