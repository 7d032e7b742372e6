//! `tessera backup` and `tessera verify-backup`: encrypted Tessera backups in a folder.
//!
//! Backups are Tessera backup files (`.tessera`, tessera-core `transfer::tessera_backup`):
//! Argon2id at the vault's own cost and AES-256-GCM, so a backup is no easier to attack than
//! the vault. The backup password is separate from the vault's (a backup is meant to be
//! opened on another device) and follows the one password policy. Writing keeps the newest N
//! backups (older Aegis-format backups in the folder count too) and deletes nothing when it
//! fails; verifying decrypts the newest backup of either kind and compares it with the vault.
//! Restoring is `tessera import FILE`, which reads both kinds.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::transfer::ImportedAccount;
use tessera_core::transfer::backup::{
    BackupOutcome, backup_kdf, save_and_back_up, verify_backup, write_backup,
};
use tessera_core::vault::BackupSettings;
use tessera_core::vault::policy::PasswordUse;
use zeroize::Zeroizing;

use super::CliError;
use super::session::{Session, check_new, prompt_password, read_password_file};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup folder (created if missing); not needed with --off.
    #[arg(required_unless_present = "off")]
    pub dir: Option<PathBuf>,
    /// How many backups to keep in the folder (the oldest beyond this are deleted).
    /// The default is tessera-core's `backup::DEFAULT_KEEP`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub keep: u16,
    /// Read the backup password (not the vault's) from FILE (first line).
    #[arg(long, value_name = "FILE")]
    pub backup_password_file: Option<PathBuf>,
    /// Also back up automatically after every change to the vault, into DIR with this
    /// password and --keep (the settings are stored inside the encrypted vault).
    #[arg(long, conflicts_with = "off")]
    pub auto: bool,
    /// Stop automatic backups (backup files already written are kept).
    #[arg(long, conflicts_with_all = ["dir", "keep", "backup_password_file"])]
    pub off: bool,
}

#[derive(Debug, Args)]
pub struct VerifyBackupArgs {
    /// The backup folder.
    pub dir: PathBuf,
    /// Read the backup password from FILE (first line).
    #[arg(long, value_name = "FILE")]
    pub backup_password_file: Option<PathBuf>,
}

/// Reads the backup password; a new one (`confirm`, when writing backups) must follow the
/// password policy for files, which travel without any keyring.
fn backup_password(
    file: Option<&std::path::Path>,
    confirm: bool,
) -> Result<Zeroizing<String>, CliError> {
    let password = match file {
        Some(file) => read_password_file(file)?,
        None => prompt_password("Backup password: ", confirm)?.ok_or_else(|| {
            CliError::usage("backups are encrypted: a backup password is needed")
                .hint("pass --backup-password-file FILE (or run on a terminal to be asked)")
        })?,
    };
    if confirm {
        check_new(&password, PasswordUse::File)?;
    }
    Ok(password)
}

fn vault_accounts(session: &Session) -> Result<Vec<ImportedAccount>, CliError> {
    let vault = session.open()?;
    Ok(vault.content().entries.iter().map(ImportedAccount::from).collect())
}

pub fn backup(session: &Session, args: &BackupArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let Some(dir) = &args.dir else {
        let mut vault = session.open()?;
        if vault.content_mut().backup.take().is_none() {
            let _ = writeln!(out, "automatic backups were already off");
            return Ok(());
        }
        super::session::save(&mut vault)?;
        let _ = writeln!(out, "automatic backups are off; existing backup files were kept");
        return Ok(());
    };
    let password = backup_password(args.backup_password_file.as_deref(), true)?;
    if args.auto {
        // Saving with the new settings writes the first automatic backup, so success here
        // proves the folder and password work.
        let mut vault = session.open()?;
        let previous = vault.content().backup.clone();
        vault.content_mut().backup =
            Some(BackupSettings { folder: dir.clone(), keep: usize::from(args.keep), password });
        return match save_and_back_up(&mut vault, &SystemClock)? {
            Some(BackupOutcome::Written(path)) => {
                let _ = writeln!(
                    out,
                    "automatic backups on: one after every change, newest {} kept in {}; first: {}",
                    args.keep,
                    dir.display(),
                    path.display()
                );
                Ok(())
            }
            other => {
                let reason = match other {
                    Some(BackupOutcome::Failed(reason)) => reason,
                    _ => "no backup was written".to_owned(),
                };
                vault.content_mut().backup = previous;
                super::session::save(&mut vault)?;
                Err(CliError::new(format!("cannot back up to {}: {reason}", dir.display())).hint(
                    "automatic backups were not turned on; older backups were left untouched",
                ))
            }
        };
    }
    let vault = session.open()?;
    let entries = &vault.content().entries;
    let keep = usize::from(args.keep);
    let path = write_backup(entries, dir, &password, backup_kdf(&vault), keep, SystemClock.now())
        .map_err(|err| CliError::from(err).hint("older backups were left untouched"))?;
    let _ = writeln!(out, "backed up {} accounts to {}", entries.len(), path.display());
    Ok(())
}

pub fn verify(
    session: &Session,
    args: &VerifyBackupArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let password = backup_password(args.backup_password_file.as_deref(), false)?;
    let accounts = vault_accounts(session)?;
    let check = verify_backup(&accounts, &args.dir, &password)?;
    if check.matches() {
        let _ = writeln!(
            out,
            "ok: {} holds the vault's {} accounts",
            check.path.display(),
            accounts.len()
        );
        return Ok(());
    }
    for label in &check.missing {
        let _ = writeln!(out, "missing from the backup: {label}");
    }
    for label in &check.extra {
        let _ = writeln!(out, "only in the backup: {label}");
    }
    for label in &check.changed {
        let _ = writeln!(out, "different in the backup: {label}");
    }
    Err(CliError::new(format!("{} does not match the vault", check.path.display()))
        .hint("run `tessera backup` to write a current backup"))
}
