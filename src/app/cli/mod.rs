//! The `tessera` command line.
pub mod push;
