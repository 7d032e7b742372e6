//! `tessera export`: the vault's accounts as a Tessera encrypted backup or in another app's
//! format (tessera-core `transfer`).
//!
//! A Tessera backup is always encrypted (Argon2id at the vault's cost). Aegis, 2FAS and Proton
//! Authenticator files are encrypted unless `--plain` is given explicitly; their encryption is
//! the other app's (Aegis: scrypt; 2FAS: PBKDF2 with the 10,000 iterations its format fixes),
//! weaker than Tessera's own, so they are for moving to that app, not for keeping. The URI
//! list and Google formats cannot be encrypted and say so. Every export password follows the
//! one password policy. Accounts a format cannot hold are listed on stderr, never dropped
//! silently.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tessera_core::transfer::backup::backup_kdf;
use tessera_core::transfer::{Export, Format, ImportedAccount, export, tessera_backup};
use tessera_core::vault::policy::PasswordUse;

use super::CliError;
use super::session::{Session, check_new, prompt_password, read_password_file};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format: tessera-backup (Tessera encrypted backup: Argon2id, the strongest; for
    /// keeping), or for moving to another app: aegis (scrypt), 2fas (PBKDF2 with 10,000
    /// iterations, fixed by the 2FAS format: weaker than a Tessera backup), proton (Proton
    /// Authenticator JSON), google (otpauth-migration links, one per QR code) or uri-list (one
    /// otpauth:// URI per line; also `uris`).
    #[arg(long)]
    pub format: String,
    /// Write to FILE (created with mode 0600) instead of standard output.
    pub file: Option<PathBuf>,
    /// Encrypt the file (tessera-backup, aegis, 2fas, proton) with the password in FILE
    /// (first line).
    #[arg(long, value_name = "FILE")]
    pub export_password_file: Option<PathBuf>,
    /// Write an aegis, 2fas or proton file without encryption (anyone with the file gets every key).
    #[arg(long, conflicts_with = "export_password_file")]
    pub plain: bool,
}

pub fn run(session: &Session, args: &ExportArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let format: Format = args.format.parse()?;
    if !format.can_export() {
        return Err(tessera_core::transfer::TransferError::NotExportable { format }.into());
    }
    if format == Format::TesseraBackup && args.plain {
        return Err(CliError::usage(
            "Tessera backups are always encrypted; --plain does not apply",
        )
        .hint("pass --export-password-file FILE, or run on a terminal to be asked"));
    }
    let password = if format.supports_password() {
        match (&args.export_password_file, args.plain) {
            (Some(file), _) => Some(read_password_file(file)?),
            (None, true) => None,
            (None, false) => Some(
                prompt_password(&format!("Password for the {} file: ", format.title()), true)?
                    .ok_or_else(|| {
                        CliError::usage(format!(
                            "{format} exports are encrypted: a password is needed"
                        ))
                        .hint(
                            "pass --export-password-file FILE, or --plain for an unencrypted file",
                        )
                    })?,
            ),
        }
    } else {
        if args.export_password_file.is_some() || args.plain {
            return Err(CliError::usage(format!(
                "{format} files cannot be encrypted; --export-password-file and --plain do not apply"
            ))
            .hint("encrypted export formats: tessera-backup, aegis, 2fas, proton"));
        }
        None
    };
    if let Some(password) = &password {
        // A file travels without the vault's keyring: the policy for files applies.
        check_new(password, PasswordUse::File)?;
    }
    if format == Format::TwoFas && password.is_some() {
        eprintln!(
            "note: the 2FAS format fixes its key derivation at PBKDF2 with 10,000 iterations, far \
             weaker than a Tessera backup: use it to move to 2FAS, and `--format tessera-backup` \
             to keep a copy"
        );
    }
    let vault = session.open()?;
    let accounts: Vec<ImportedAccount> =
        vault.content().entries.iter().map(ImportedAccount::from).collect();
    let written = match (format, &password) {
        // The vault's own entries (ids and times kept) at the vault's own Argon2id cost.
        (Format::TesseraBackup, Some(password)) => Export {
            format,
            data: tessera_backup::write(&vault.content().entries, password, backup_kdf(&vault))?,
            unexported: Vec::new(),
            recovery_left_out: Vec::new(),
        },
        _ => export(&accounts, format, password.as_deref().map(String::as_str))?,
    };
    drop(vault);
    let count = accounts.len() - written.unexported.len();
    match &args.file {
        None => out
            .write_all(&written.data)
            .map_err(|err| CliError::new(format!("cannot write output: {err}")))?,
        Some(path) => write_private(path, &written.data)
            .map_err(|err| CliError::new(format!("cannot write {}: {err}", path.display())))?,
    }
    let target =
        args.file.as_ref().map_or("standard output".to_owned(), |p| p.display().to_string());
    eprintln!("exported {count} accounts to {target} as {}", format.title());
    if password.is_none() {
        eprintln!(
            "warning: the file holds your secret keys unencrypted; keep it private and delete it after use"
        );
    }
    for skipped in &written.unexported {
        eprintln!("not exported: {}: {}", skipped.label, skipped.reason);
    }
    for label in &written.recovery_left_out {
        eprintln!(
            "not exported: the recovery codes of {label} ({} has no place for them; a Tessera \
             backup, Aegis and Proton exports keep them)",
            format.title()
        );
    }
    Ok(())
}

/// Writes a new file readable only by its owner (it holds secret keys).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
