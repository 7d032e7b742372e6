//! `tessera remove` and `tessera rename`.

use std::io::Write;

use clap::Args;
use tessera_core::account::Account;

use super::session::Session;
use super::{CliError, query};

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Issuer or account (case-insensitive substring) or id.
    pub query: String,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Issuer or account (case-insensitive substring) or id.
    pub query: String,
    /// New issuer.
    #[arg(long)]
    pub issuer: Option<String>,
    /// New account name.
    #[arg(long)]
    pub account: Option<String>,
}

pub fn remove(session: &Session, args: &RemoveArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut vault = session.open()?;
    let index = query::one(&vault.content().entries, &args.query)?;
    let entry = vault.content_mut().entries.remove(index);
    super::session::save(&mut vault)?;
    let _ = writeln!(out, "removed {}", entry.label());
    Ok(())
}

pub fn rename(session: &Session, args: RenameArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if args.issuer.is_none() && args.account.is_none() {
        return Err(CliError::usage("rename needs --issuer, --account or both"));
    }
    for value in [&args.issuer, &args.account].into_iter().flatten() {
        super::add::check_name(value)?;
    }
    let mut vault = session.open()?;
    let index = query::one(&vault.content().entries, &args.query)?;
    let entry = &mut vault.content_mut().entries[index];
    let before = entry.label();
    if let Some(issuer) = args.issuer {
        entry.issuer = issuer;
    }
    if let Some(account) = args.account {
        entry.account = account;
    }
    let after = entry.label();
    super::session::save(&mut vault)?;
    let _ = writeln!(out, "renamed {before} to {after}");
    Ok(())
}
