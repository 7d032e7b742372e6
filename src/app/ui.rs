//! The Slint-generated window, adapters and row types (generated code: lints off).
#![allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::unwrap_used, clippy::todo)]
#![allow(unreachable_pub, missing_docs)]

slint::include_modules!();
