//! The `tessera` command line.
