//! `tessera list`, `tessera code` and `tessera next`.

use std::io::Write;

use clap::Args;
use serde::Serialize;
use tessera_core::account::Account;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::otp::{OtpKind, group_code};
use tessera_core::vault::Entry;

use super::session::Session;
use super::{CliError, query};

#[derive(Debug, Args)]
pub struct CodeArgs {
    /// Issuer or account (case-insensitive substring) or id; all accounts when omitted.
    pub query: Option<String>,
    /// Compute the codes at this Unix time instead of now.
    #[arg(long, value_name = "UNIX")]
    pub at: Option<u64>,
    /// Print a JSON array of {id, issuer, account, code, remaining}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NextArgs {
    /// Issuer or account (case-insensitive substring) or id of a counter-based account.
    pub query: String,
}

#[derive(Serialize)]
struct ListRow<'a> {
    id: &'a str,
    issuer: &'a str,
    account: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    algorithm: &'static str,
    digits: u8,
    period: u64,
    counter: u64,
}

#[derive(Serialize)]
struct CodeRow<'a> {
    id: &'a str,
    issuer: &'a str,
    account: &'a str,
    code: String,
    remaining: u64,
}

fn json_line(out: &mut dyn Write, value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|err| CliError::new(format!("cannot encode JSON: {err}")))?;
    writeln!(out, "{text}").map_err(|err| CliError::new(format!("cannot write output: {err}")))
}

pub fn list(session: &Session, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let content = session.read()?;
    let entries = &content.entries;
    if json {
        let rows: Vec<ListRow<'_>> = entries
            .iter()
            .map(|e| ListRow {
                id: &e.id,
                issuer: &e.issuer,
                account: &e.account,
                kind: e.otp.kind.as_str(),
                algorithm: e.otp.algorithm.as_str(),
                digits: e.otp.digits,
                period: e.otp.period,
                counter: e.otp.counter,
            })
            .collect();
        return json_line(out, &rows);
    }
    if entries.is_empty() {
        let _ = writeln!(out, "no accounts yet; add one with `tessera add`");
    }
    for e in entries {
        let detail = match e.otp.kind {
            OtpKind::Hotp => format!("hotp, counter {}", e.otp.counter),
            OtpKind::Totp | OtpKind::Steam => {
                format!("{}, {} s", e.otp.kind, e.otp.period)
            }
        };
        let _ = writeln!(
            out,
            "{}  {}  [{detail}, {}, {} digits]",
            e.id,
            e.label(),
            e.otp.algorithm,
            e.otp.digits
        );
    }
    Ok(())
}

pub fn code(session: &Session, args: &CodeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let content = session.read()?;
    let now = args.at.unwrap_or_else(|| SystemClock.now());
    let entries = &content.entries;
    let selected: Vec<&Entry> = match &args.query {
        Some(q) => query::matching(entries, q).into_iter().map(|i| &entries[i]).collect(),
        None => entries.iter().collect(),
    };
    if selected.is_empty() {
        return Err(match &args.query {
            Some(q) => CliError::new(format!("no account matches {q:?}"))
                .hint("`tessera list` shows every account"),
            None => CliError::new("the vault has no accounts").hint("add one with `tessera add`"),
        });
    }
    if args.json {
        let rows: Vec<CodeRow<'_>> = selected
            .iter()
            .map(|e| CodeRow {
                id: &e.id,
                issuer: &e.issuer,
                account: &e.account,
                code: e.otp.code_at(now),
                remaining: e.otp.remaining_at(now),
            })
            .collect();
        return json_line(out, &rows);
    }
    // One match prints the bare code (script-friendly, like oathtool); several print a table.
    if let [only] = selected.as_slice() {
        let _ = writeln!(out, "{}", only.otp.code_at(now));
        return Ok(());
    }
    let width = selected.iter().map(|e| e.label().chars().count()).max().unwrap_or(0);
    for e in selected {
        let remaining = match e.otp.kind {
            OtpKind::Hotp => "counter".to_owned(),
            _ => format!("{:>2} s", e.otp.remaining_at(now)),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>12}  {remaining}",
            e.label(),
            group_code(&e.otp.code_at(now))
        );
    }
    Ok(())
}

pub fn next(session: &Session, args: &NextArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut vault = session.open()?;
    let index = query::one(&vault.content().entries, &args.query)?;
    let entry = &mut vault.content_mut().entries[index];
    if entry.otp.kind != OtpKind::Hotp {
        return Err(CliError::new(format!(
            "{} is time-based; its code changes by itself",
            entry.label()
        ))
        .hint("`tessera code` shows it"));
    }
    let code = entry.otp.advance()?;
    entry.last_used = Some(SystemClock.now());
    super::session::save(&mut vault)?;
    let _ = writeln!(out, "{code}");
    Ok(())
}
