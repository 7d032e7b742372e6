//! The backup reminder: when automatic backups are off and accounts were added or changed
//! since the last export or backup, the accounts screen suggests turning backups on, a week
//! after the first such change (Aegis and Ente remind the same way: users lose accounts
//! without a copy).
//!
//! The rule is [`BackupReminder::due`], with the time as a parameter. Its record lives in
//! `backup-reminder.json` beside `settings.json` in the data folder (no secret: two Unix
//! times and a digest that confirms no guess), so the week survives restarts:
//! - `unsaved_since`: the first change to the accounts not yet in an export or a backup;
//! - `last_copy`: the last export or backup the app wrote;
//! - `accounts`: the digest of the accounts as the app last saw them
//!   ([`tessera_core::vault::accounts_digest`]).
//!
//! Dismissing the banner forgets the changes made so far: it comes back a week after the
//! next change, unless a backup or export comes first. Which changes count: any change to
//! an account's name, issuer, key and code settings, note, group, favourite mark or recovery
//! codes, an added or a removed account; not copying codes or the push history. The app
//! compares the accounts' digest with the recorded one after each save and when it opens the
//! vault, so changes made with the command line while the app was closed count too (from
//! the moment the app sees them).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_core::vault::accounts_digest;

use super::Model;

/// How long after the first unsaved change the banner shows: one week.
pub const REMIND_AFTER_SECONDS: u64 = 7 * 24 * 60 * 60;

/// The reminder's record (`backup-reminder.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupReminder {
    /// The first change to the accounts since the last export or backup (Unix seconds).
    pub unsaved_since: Option<u64>,
    /// The last export or backup (Unix seconds).
    pub last_copy: Option<u64>,
    /// The accounts' digest when the app last saw them (see the module docs).
    pub accounts: Option<String>,
}

impl BackupReminder {
    const FILE: &'static str = "backup-reminder.json";

    /// Reads the record from `home`; a missing or unreadable file is an empty record.
    pub fn load(home: &Path) -> Self {
        super::prefs::read_json(home, Self::FILE)
    }

    /// Writes the record to `home`.
    pub fn save(&self, home: &Path) -> std::io::Result<()> {
        super::prefs::write_json(home, Self::FILE, self)
    }

    /// Notes a change to the accounts at `now` (only the first since the last copy counts).
    pub fn changed(&mut self, now: u64) {
        self.unsaved_since.get_or_insert(now);
    }

    /// Notes the accounts' digest seen at `now`; a digest other than the last one recorded is
    /// a change (the first one ever recorded is not: nothing to compare it with). Returns
    /// whether the record changed.
    pub fn saw(&mut self, accounts: String, now: u64) -> bool {
        match &self.accounts {
            Some(last) if *last == accounts => return false,
            Some(_) => self.changed(now),
            None => {}
        }
        self.accounts = Some(accounts);
        true
    }

    /// Notes an export or a backup written at `now`: every change so far is in it.
    pub fn copied(&mut self, now: u64) {
        self.last_copy = Some(now);
        self.unsaved_since = None;
    }

    /// Notes that the user dismissed the banner: it returns a week after the next change.
    pub fn dismissed(&mut self) {
        self.unsaved_since = None;
    }

    /// Returns true when the banner should show at `now`: automatic backups are off and a
    /// change not in any export or backup is at least a week old.
    pub fn due(&self, backups_on: bool, now: u64) -> bool {
        !backups_on
            && self
                .unsaved_since
                .is_some_and(|since| now.saturating_sub(since) >= REMIND_AFTER_SECONDS)
    }
}

impl Model {
    /// Returns true when the backup reminder should show now (see [`BackupReminder::due`]).
    pub fn backup_reminder_due(&self) -> bool {
        let state = self.state();
        let Some(vault) = state.vault.as_ref() else { return false };
        state.reminder.due(vault.content().backup.is_some(), state.now())
    }

    /// Hides the reminder until a week after the next change.
    pub fn dismiss_backup_reminder(&self) {
        self.touch();
        let mut state = self.state_mut();
        state.reminder.dismissed();
        let _ = state.reminder.save(&state.deps.home);
    }

    /// Notes that an export or a backup holding every account was written now.
    pub fn backup_reminder_copied(&self) {
        let mut state = self.state_mut();
        let now = state.now();
        state.reminder.copied(now);
        // Losing the record only delays or repeats a reminder.
        let _ = state.reminder.save(&state.deps.home);
    }

    /// Compares the accounts with those the app last saw (the vault was opened or saved) and
    /// notes a change if they differ.
    pub(super) fn note_accounts(&self) {
        let mut state = self.state_mut();
        let digest = accounts_digest(state.entries());
        let now = state.now();
        if state.reminder.saw(digest, now) {
            // Losing the record only delays or repeats a reminder.
            let _ = state.reminder.save(&state.deps.home);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 60 * 60;
    const T0: u64 = 1_700_000_000;

    #[test]
    fn the_banner_shows_a_week_after_an_unsaved_change_while_backups_are_off() {
        let mut reminder = BackupReminder::default();
        assert!(!reminder.due(false, T0 + 30 * DAY), "nothing changed");
        reminder.changed(T0);
        reminder.changed(T0 + 3 * DAY);
        assert_eq!(reminder.unsaved_since, Some(T0), "the first change counts");
        assert!(!reminder.due(false, T0 + 7 * DAY - 1));
        assert!(reminder.due(false, T0 + 7 * DAY));
        assert!(!reminder.due(true, T0 + 30 * DAY), "never while automatic backups are on");
    }

    #[test]
    fn an_export_or_backup_covers_the_changes_and_dismissing_waits_for_the_next_one() {
        let mut reminder = BackupReminder::default();
        reminder.changed(T0);
        reminder.copied(T0 + DAY);
        assert!(!reminder.due(false, T0 + 30 * DAY));
        assert_eq!(reminder.last_copy, Some(T0 + DAY));
        reminder.changed(T0 + 2 * DAY);
        assert!(reminder.due(false, T0 + 9 * DAY));
        reminder.dismissed();
        assert!(!reminder.due(false, T0 + 60 * DAY), "dismissed");
        reminder.changed(T0 + 61 * DAY);
        assert!(!reminder.due(false, T0 + 67 * DAY));
        assert!(reminder.due(false, T0 + 68 * DAY), "back a week after the next change");
    }

    #[test]
    fn the_record_survives_a_restart_and_a_damaged_file_is_an_empty_record() {
        let home = tempfile::tempdir().unwrap();
        let mut reminder = BackupReminder::default();
        reminder.changed(T0);
        reminder.save(home.path()).unwrap();
        assert_eq!(BackupReminder::load(home.path()), reminder);
        std::fs::write(home.path().join("backup-reminder.json"), b"{not json").unwrap();
        assert_eq!(BackupReminder::load(home.path()), BackupReminder::default());
    }

    #[test]
    fn the_model_counts_account_changes_not_copies_and_keeps_the_week_across_a_restart() {
        use std::sync::Arc;

        use tessera_core::otp::{OtpParams, Secret};
        use tessera_core::vault::{Entry, Unlock};
        use zeroize::Zeroizing;

        use crate::model::testing::{TestClipboard, TestClock, model};
        use crate::model::vault::NewProtection;

        let home = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock(T0.into()));
        let app = model(home.path(), Arc::clone(&clock), TestClipboard::default());
        app.create(NewProtection::Password(Zeroizing::new("correct horse".into())), |e| {
            assert!(e.is_none(), "{e:?}");
        });
        let set_time = |t: u64| *clock.0.lock().unwrap() = t;
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let entry = Entry::new("Visma".into(), "me".into(), OtpParams::totp(secret), T0);
        let id = entry.id.clone();
        app.commit(|c| c.entries.push(entry)).unwrap();
        set_time(T0 + DAY);
        app.copy(&id);
        app.commit(|c| c.push_history.clear()).unwrap();
        assert_eq!(
            BackupReminder::load(home.path()).unsaved_since,
            Some(T0),
            "copies are no change"
        );
        set_time(T0 + 7 * DAY - 1);
        assert!(!app.backup_reminder_due());
        set_time(T0 + 7 * DAY);
        assert!(app.backup_reminder_due());

        // A restart keeps the week.
        drop(app);
        let app = model(home.path(), Arc::clone(&clock), TestClipboard::default());
        app.start();
        app.unlock(Unlock::Password(Zeroizing::new("correct horse".into())));
        assert!(app.backup_reminder_due());
        app.backup_reminder_copied();
        assert!(!app.backup_reminder_due(), "an export covers the changes");
        app.commit(|c| c.entries[0].favourite = true).unwrap();
        set_time(T0 + 14 * DAY);
        assert!(app.backup_reminder_due());
        app.dismiss_backup_reminder();
        assert!(!app.backup_reminder_due());
        assert!(!BackupReminder::load(home.path()).due(false, T0 + 60 * DAY), "dismissal is saved");
    }

    #[test]
    fn a_change_made_with_the_command_line_while_the_app_was_closed_counts_when_it_opens() {
        use std::sync::Arc;
        use std::time::Duration;

        use tessera_core::otp::{OtpParams, Secret};
        use tessera_core::vault::{Entry, Unlock, Vault, VaultOptions};
        use zeroize::Zeroizing;

        use crate::model::testing::{MemoryKeys, TestClipboard, TestClock, model};
        use crate::model::vault::NewProtection;

        let home = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock(T0.into()));
        let set_time = |t: u64| *clock.0.lock().unwrap() = t;
        let password = || Unlock::Password(Zeroizing::new("correct horse".into()));
        let app = model(home.path(), Arc::clone(&clock), TestClipboard::default());
        app.create(NewProtection::Password(Zeroizing::new("correct horse".into())), |e| {
            assert!(e.is_none(), "{e:?}");
        });
        assert_eq!(BackupReminder::load(home.path()).unsaved_since, None, "nothing yet");
        drop(app);

        // `tessera add` while the app is closed: the core's vault, no app in sight.
        let options =
            VaultOptions { key_store: Arc::new(MemoryKeys::default()), lock_wait: Duration::ZERO };
        let mut vault = Vault::open_with(&home.path().join("vault.json"), &password(), options)
            .expect("the command line opens the vault");
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let entry = Entry::new("Visma".into(), "me".into(), OtpParams::totp(secret), T0);
        vault.commit(|c| c.entries.push(entry)).unwrap();
        drop(vault);

        set_time(T0 + DAY);
        let app = model(home.path(), Arc::clone(&clock), TestClipboard::default());
        app.start();
        app.unlock(password());
        assert_eq!(
            BackupReminder::load(home.path()).unsaved_since,
            Some(T0 + DAY),
            "counted from when the app saw it"
        );
        set_time(T0 + 8 * DAY);
        assert!(app.backup_reminder_due());

        // Opening again without a change is no change.
        app.backup_reminder_copied();
        drop(app);
        let app = model(home.path(), Arc::clone(&clock), TestClipboard::default());
        app.start();
        app.unlock(password());
        set_time(T0 + 30 * DAY);
        assert!(!app.backup_reminder_due(), "the same accounts");
    }
}
