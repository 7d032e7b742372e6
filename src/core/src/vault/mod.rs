//! The encrypted vault: container format, slots, atomic storage.
