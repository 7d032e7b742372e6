//! `tessera import`: accounts from another authenticator's file, added in one save.
//!
//! The file is read, decrypted and parsed before the vault is opened, so an unreadable file or
//! a wrong password changes nothing. Entries that cannot be imported and accounts already in
//! the vault (same secret, issuer and account) are listed, the rest are added in one atomic save.
//! An import that would add nothing fails (exit status 1) and says why: a file of skipped
//! entries or of known accounts must not look like a success.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::transfer::{Format, TransferError, import};
use zeroize::Zeroizing;

use super::CliError;
use super::session::{Session, prompt_password, read_password_file};

/// The largest file accepted (a 100 000-account Aegis vault is about 50 MB).
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file exported by the other app ("-" reads standard input).
    pub file: PathBuf,
    /// Its format: auto (detect from the content, the default) or one of tessera-backup (a
    /// Tessera backup, also older Tessera backups in the aegis format), aegis, 2fas, andotp,
    /// freeotp-plus, google, bitwarden-json, bitwarden-csv, ente, uri-list, proton, authy,
    /// authy-json, stratum, google-db, microsoft, freeotp, steam, duo, lastpass, winauth,
    /// battle-net, totp-authenticator.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    pub format: String,
    /// Read the password of an encrypted import file from FILE (first line).
    #[arg(long, value_name = "FILE")]
    pub import_password_file: Option<PathBuf>,
    /// Show what would be imported without changing the vault.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(session: &Session, args: &ImportArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let format = match args.format.trim().to_ascii_lowercase().as_str() {
        "auto" | "" => None,
        name => Some(name.parse::<Format>()?),
    };
    let bytes = read_input(&args.file)?;
    let password = args.import_password_file.as_deref().map(read_password_file).transpose()?;
    let mut report = match import(&bytes, format, password.as_deref().map(String::as_str)) {
        Err(TransferError::PasswordRequired { format }) if password.is_none() => {
            let prompt = format!("Password of the {} file: ", format.title());
            let Some(asked) = prompt_password(&prompt, false)? else {
                return Err(TransferError::PasswordRequired { format }.into());
            };
            import(&bytes, Some(format), Some(&asked))?
        }
        other => other?,
    };
    let how = if format.is_some() { "as given" } else { "detected" };
    let _ = writeln!(out, "read {}: {} ({how})", args.file.display(), report.format.title());

    let vault = if args.dry_run && !session.vault_exists() {
        None
    } else if report.accounts.is_empty() {
        // Nothing to add: open only to compare, never create a vault for nothing.
        if session.vault_exists() { Some(session.open()?) } else { None }
    } else if args.dry_run {
        Some(session.open()?)
    } else {
        Some(session.open_or_create(out)?)
    };
    if let Some(vault) = &vault {
        let entries = &vault.content().entries;
        report.skip_duplicates(
            entries.iter().map(|e| (&e.otp.secret, e.issuer.as_str(), e.account.as_str())),
        );
    }
    if let Some(why) = report.why_empty() {
        for problem in &report.problems {
            let _ = writeln!(out, "skipped {problem}");
        }
        return Err(CliError::new(format!("nothing imported from {}: {why}", args.file.display()))
            .hint("the vault was not changed"));
    }
    let count = report.accounts.len();
    let labels: Vec<String> = report.accounts.iter().map(|a| a.label()).collect();
    if let Some(mut vault) = vault.filter(|_| !args.dry_run && count > 0) {
        let now = SystemClock.now();
        vault.content_mut().entries.extend(report.accounts.into_iter().map(|a| a.into_entry(now)));
        super::session::save(&mut vault)?;
    }
    let verb = if args.dry_run { "would import" } else { "imported" };
    for label in &labels {
        let _ = writeln!(out, "{verb} {label}");
    }
    for problem in &report.problems {
        let _ = writeln!(out, "skipped {problem}");
    }
    let _ = writeln!(
        out,
        "{verb} {count} account{} into {}, skipped {}",
        if count == 1 { "" } else { "s" },
        session.path().display(),
        report.problems.len()
    );
    Ok(())
}

fn read_input(path: &std::path::Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut bytes = Zeroizing::new(Vec::new());
    let result = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
    };
    result.map_err(|err| {
        CliError::new(format!("cannot read {}: {err}", path.display()))
            .hint("the vault was not changed")
    })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CliError::new(format!(
            "{} is larger than {} MiB; not an export file",
            path.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(bytes)
}
