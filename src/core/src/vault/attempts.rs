//! The growing delay after failed password unlocks, shared by the GUI and the CLI.
//!
//! The record (`unlock-attempts.json` in the data directory) counts consecutive failures and
//! the time of the last one. Both front ends read it before a password attempt, refuse to try
//! while the delay runs, and update it afterwards; [`AttemptGuard`] holds an exclusive lock
//! on the record's sidecar lock file for the whole attempt, so that parallel processes cannot
//! guess side by side or lose each other's failures.
//!
//! # What the delay does and does not stop
//!
//! It slows guessing *through Tessera on this machine*: someone at an unlocked desktop, or a
//! script calling `tessera` in a loop. It does **not** stop offline guessing from a copy of
//! `vault.json` (there only Argon2id's cost and the password's strength count, see
//! [`super::policy`]), and anyone who can write the data folder can delete the record: it is
//! a plain file on purpose, because a counter the user cannot clear could lock them out of
//! their own codes after a reboot-surviving glitch.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::VaultError;
use super::storage::FileLock;

/// The record's file name in the data directory.
pub const ATTEMPTS_FILE_NAME: &str = "unlock-attempts.json";

/// Failed unlock attempts, kept on disk so that restarting does not reset the delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attempts {
    /// Consecutive failures.
    pub failures: u32,
    /// Unix time of the last failure.
    pub last_failure: u64,
}

impl Attempts {
    /// Reads the record from the data directory `home` (none or unreadable: no failures).
    pub fn load(home: &Path) -> Self {
        fs::read(home.join(ATTEMPTS_FILE_NAME))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the record to `home` (replacing it atomically).
    pub fn save(&self, home: &Path) -> std::io::Result<()> {
        fs::create_dir_all(home)?;
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = home.join(format!("{ATTEMPTS_FILE_NAME}.{}.tmp", std::process::id()));
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let written = file.write_all(&bytes).and_then(|()| file.sync_all());
        drop(file);
        written.and_then(|()| fs::rename(&tmp, home.join(ATTEMPTS_FILE_NAME))).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// Returns the enforced pause after `failures` failures: none for the first two typos,
    /// then 5 s doubling up to 5 minutes.
    pub fn delay(failures: u32) -> u64 {
        if failures < 3 { 0 } else { (5u64 << (failures - 3).min(6)).min(300) }
    }

    /// Returns the seconds to wait at `now` before the next attempt.
    pub fn wait_at(&self, now: u64) -> u64 {
        (self.last_failure + Self::delay(self.failures)).saturating_sub(now)
    }

    /// Returns the record after one more attempt at `now`.
    pub fn after(self, succeeded: bool, now: u64) -> Self {
        if succeeded {
            Self::default()
        } else {
            Self { failures: self.failures.saturating_add(1), last_failure: now }
        }
    }
}

/// Why a guarded attempt did not run.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The delay after earlier failures has not passed.
    #[error("too many failed unlock attempts: wait {seconds} s before the next one")]
    Wait {
        /// Seconds left.
        seconds: u64,
    },
    /// The record's lock could not be taken.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// An exclusive hold on the attempts record for one password attempt (see the module docs).
#[derive(Debug)]
pub struct AttemptGuard {
    home: PathBuf,
    record: Attempts,
    _lock: FileLock,
}

impl AttemptGuard {
    /// Takes the record's lock (waiting up to `wait` for another attempt to finish), then
    /// refuses with [`AttemptError::Wait`] if the delay has not passed at `now`.
    pub fn begin(home: &Path, now: u64, wait: Duration) -> Result<Self, AttemptError> {
        fs::create_dir_all(home).map_err(|source| VaultError::Io { path: home.into(), source })?;
        let lock = FileLock::acquire(&home.join(ATTEMPTS_FILE_NAME), wait)?;
        let record = Attempts::load(home);
        match record.wait_at(now) {
            0 => Ok(Self { home: home.to_path_buf(), record, _lock: lock }),
            seconds => Err(AttemptError::Wait { seconds }),
        }
    }

    /// Records the attempt's outcome and releases the lock. Losing the record only weakens
    /// the delay, so a write failure is not an error for the caller.
    pub fn finish(self, succeeded: bool, now: u64) {
        let next = self.record.after(succeeded, now);
        if next != self.record {
            let _ = next.save(&self.home);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_after_the_third_failure_and_caps_at_five_minutes() {
        let delays: Vec<u64> = (0..12).map(Attempts::delay).collect();
        assert_eq!(delays, [0, 0, 0, 5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn a_guarded_attempt_refuses_during_the_delay_and_records_outcomes() {
        let home = tempfile::tempdir().unwrap();
        let wait = Duration::from_millis(100);
        for now in [100, 101, 102] {
            AttemptGuard::begin(home.path(), now, wait).unwrap().finish(false, now);
        }
        assert_eq!(Attempts::load(home.path()).failures, 3);
        let err = AttemptGuard::begin(home.path(), 103, wait).unwrap_err();
        assert!(matches!(err, AttemptError::Wait { seconds: 4 }), "{err:?}");
        AttemptGuard::begin(home.path(), 107, wait).unwrap().finish(true, 107);
        assert_eq!(Attempts::load(home.path()), Attempts::default());
    }

    #[test]
    fn a_second_guesser_waits_for_the_first_and_then_reports_busy() {
        let home = tempfile::tempdir().unwrap();
        let first = AttemptGuard::begin(home.path(), 1, Duration::ZERO).unwrap();
        let err = AttemptGuard::begin(home.path(), 1, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, AttemptError::Vault(VaultError::Busy { .. })), "{err:?}");
        first.finish(false, 1);
    }
}
