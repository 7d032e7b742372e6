//! `tessera export`: the vault's accounts in another app's format (tessera-core `transfer`).
//!
//! Aegis, 2FAS and Proton Authenticator files are encrypted unless `--plain` is given explicitly; the URI list and
//! Google formats cannot be encrypted and say so. Accounts a format cannot hold are listed on
//! stderr, never dropped silently.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tessera_core::transfer::{Format, ImportedAccount, export};

use super::CliError;
use super::session::{Session, prompt_password, read_password_file};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format: aegis, 2fas, proton (Proton Authenticator JSON), google
    /// (otpauth-migration links, one per QR code) or uri-list (one otpauth:// URI per line;
    /// also `uris`).
    #[arg(long)]
    pub format: String,
    /// Write to FILE (created with mode 0600) instead of standard output.
    pub file: Option<PathBuf>,
    /// Encrypt the file (aegis, 2fas, proton) with the password in FILE (first line).
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
            .hint("encrypted export formats: aegis, 2fas, proton"));
        }
        None
    };
    let vault = session.open()?;
    let accounts: Vec<ImportedAccount> =
        vault.content().entries.iter().map(ImportedAccount::from).collect();
    drop(vault);
    let written = export(&accounts, format, password.as_deref().map(String::as_str))?;
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
