//! Tessera's core: everything an authenticator does that is not a user interface.
//!
//! The GUI, the CLI and the server are thin layers over this crate. It owns one-time-password
//! generation ([`otp`]), the `otpauth://` and Google-migration URI formats ([`uri`]), the
//! encrypted vault ([`vault`]), QR decoding ([`qr`]), push approvals ([`push`]), import and
//! export ([`transfer`]) and the clock seam ([`clock`]). Nothing here reads the time except
//! [`clock::SystemClock`], nothing prints a secret, and nothing links a GUI toolkit.
#![warn(missing_docs)]

pub mod account;
pub mod clock;
pub mod intake;
pub mod otp;
pub mod push;
pub mod qr;
pub mod transfer;
pub mod uri;
pub mod vault;
