//! The Tessera app: command-line interface now, the desktop GUI later.
#![allow(unreachable_pub)]

pub mod capture;
pub mod cli;
