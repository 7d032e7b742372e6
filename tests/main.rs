//! The integration tests of the `tessera` app, one binary.

// Push approvals end to end: the binary against a real privacyIDEA server.
mod push_e2e;
