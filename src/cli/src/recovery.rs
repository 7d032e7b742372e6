//! `tessera recovery add|list|mark`: an account's recovery (emergency) codes, over the same
//! core rule as the app (`tessera_core::vault::recovery`).
//!
//! Codes never come from the argument list (it shows in `ps` and the shell history): `add`
//! reads them from a file or standard input, one per line. `list` shows numbers and marks;
//! the codes themselves only with `--show`, which needs the vault password again (read from
//! `--password-file`/`TESSERA_PASSWORD_FILE` or asked on the terminal), even when the keyring
//! opened the vault; for a vault protected by the keyring alone the explicit `--show` is the
//! confirmation (`RevealCheck`). Nothing is saved when a command fails.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use tessera_core::account::Account;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::vault::recovery::{RecoveryError, RevealCheck};
use zeroize::Zeroizing;

use super::session::Session;
use super::{CliError, query};

/// The `recovery` subcommands.
#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Add recovery codes to an account: one code per line, from FILE or standard input.
    Add(AddArgs),
    /// List an account's recovery codes (numbers and marks; the codes with --show).
    List(ListArgs),
    /// Mark a recovery code used (or unused again with --unused).
    Mark(MarkArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Issuer or account (case-insensitive substring) or id.
    pub query: String,
    /// Read the codes from FILE (`-`: standard input, the default).
    #[arg(long, value_name = "FILE")]
    pub codes_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Issuer or account (case-insensitive substring) or id.
    pub query: String,
    /// Print the codes themselves (asks for the vault password again).
    #[arg(long)]
    pub show: bool,
}

#[derive(Debug, Args)]
pub struct MarkArgs {
    /// Issuer or account (case-insensitive substring) or id.
    pub query: String,
    /// The code's number, as `tessera recovery list` shows it.
    pub number: usize,
    /// Mark it unused again.
    #[arg(long)]
    pub unused: bool,
}

/// Runs a `recovery` subcommand.
pub fn run(
    session: &Session,
    command: RecoveryCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        RecoveryCommand::Add(args) => add(session, &args, out),
        RecoveryCommand::List(args) => list(session, &args, out),
        RecoveryCommand::Mark(args) => mark(session, &args, out),
    }
}

fn refused(error: &RecoveryError) -> CliError {
    let hint = match error {
        RecoveryError::NoSuchCode { .. } => "`tessera recovery list QUERY` numbers the codes",
        _ => "put one code on each line; the vault was not changed",
    };
    CliError::new(error.to_string()).hint(hint)
}

/// Reads the pasted codes from `file` or standard input (all of it).
fn read_codes(file: Option<&Path>) -> Result<Zeroizing<String>, CliError> {
    let mut text = Zeroizing::new(String::new());
    match file.filter(|f| *f != Path::new("-")) {
        Some(file) => {
            let read = std::fs::read_to_string(file).map_err(|err| {
                CliError::new(format!("cannot read the codes from {}: {err}", file.display()))
            })?;
            text.push_str(&Zeroizing::new(read));
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("Paste the recovery codes, one per line, then press Ctrl-D:");
            }
            std::io::stdin().lock().read_to_string(&mut text).map_err(|err| {
                CliError::new(format!("cannot read the codes from standard input: {err}"))
            })?;
        }
    }
    Ok(text)
}

fn add(session: &Session, args: &AddArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let pasted = read_codes(args.codes_file.as_deref())?;
    let mut vault = session.open()?;
    let index = query::one(&vault.content().entries, &args.query)?;
    let now = SystemClock.now();
    let entry = &mut vault.content_mut().entries[index];
    let added = entry.add_recovery_codes(&pasted, now).map_err(|e| refused(&e))?;
    let label = entry.label();
    let total = entry.recovery.len();
    super::session::save(&mut vault)?;
    let repeated = match added.repeated {
        0 => String::new(),
        n => format!(" ({n} already kept)"),
    };
    let _ = writeln!(
        out,
        "added {} recovery code{} to {label}{repeated}; it keeps {total}",
        added.added,
        if added.added == 1 { "" } else { "s" }
    );
    Ok(())
}

fn list(session: &Session, args: &ListArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let vault = session.open()?;
    let index = query::one(&vault.content().entries, &args.query)?;
    if args.show && RevealCheck::for_vault(&vault.info()) == RevealCheck::Password {
        let password = session.current_password()?;
        if !vault.verify_password(&password) {
            return Err(CliError::new("wrong password; no recovery code was shown").hint(
                "showing recovery codes needs the vault password, even after a keyring unlock",
            ));
        }
    }
    let entry = &vault.content().entries[index];
    let _ = writeln!(
        out,
        "{}: {} recovery code{}, {} not used",
        entry.label(),
        entry.recovery.len(),
        if entry.recovery.len() == 1 { "" } else { "s" },
        entry.unused_recovery_codes()
    );
    for (i, code) in entry.recovery.iter().enumerate() {
        let used = if code.used.is_some() { "  (used)" } else { "" };
        if args.show {
            let _ = writeln!(out, "  {}. {}{used}", i + 1, code.code.as_str());
        } else {
            let _ = writeln!(out, "  {}. (hidden){used}", i + 1);
        }
    }
    if !args.show && !entry.recovery.is_empty() {
        eprintln!("hint: add --show to print the codes (asks for the vault password)");
    }
    Ok(())
}

fn mark(session: &Session, args: &MarkArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut vault = session.open()?;
    let index = query::one(&vault.content().entries, &args.query)?;
    let now = SystemClock.now();
    let entry = &mut vault.content_mut().entries[index];
    entry.mark_recovery_code(args.number, !args.unused, now).map_err(|e| refused(&e))?;
    let label = entry.label();
    super::session::save(&mut vault)?;
    let state = if args.unused { "unused" } else { "used" };
    let _ = writeln!(out, "marked recovery code {} of {label} {state}", args.number);
    Ok(())
}
