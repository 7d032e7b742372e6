//! Tessera's core: everything an authenticator does that is not a user interface.
//!
//! The GUI, the CLI and the server are thin layers over this crate. It owns one-time-password
//! generation ([`otp`]), the `otpauth://` and Google-migration URI formats ([`uri`]), the
//! encrypted vault ([`vault`]), QR decoding ([`qr`]), push approvals ([`push`]), import and
//! export ([`transfer`]), service icons ([`icons`]) and the clock seam ([`clock`]). Logic
//! takes time as a parameter (the network clients and the vault's file stamps read the system
//! clock at their edge), nothing prints a secret, and nothing links a GUI toolkit.
//!
//! Cargo features follow the modules: `vault`, `transfer`, `qr`, `push-client` (the
//! devices' HTTP push clients), `ntp` (asking a time server, `clock::sntp`) and `icons`, all
//! on by default. Without them the crate is OTP, URIs and
//! the push protocol: what `tessera-server` builds.
#![warn(missing_docs)]

pub mod account;
pub mod clock;
#[cfg(feature = "icons")]
pub mod icons;
#[cfg(feature = "vault")]
pub mod intake;
pub mod otp;
pub mod push;
#[cfg(feature = "qr")]
pub mod qr;
#[cfg(feature = "transfer")]
pub mod transfer;
pub mod uri;
#[cfg(feature = "vault")]
pub mod vault;
