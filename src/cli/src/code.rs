//! `tessera list`, `tessera code` and `tessera next`.

use std::io::Write;

use clap::Args;
use serde::Serialize;
use tessera_core::account::Account;
use tessera_core::clock::offset::{Estimate, Stored};
use tessera_core::clock::{Clock, SystemClock, sntp};
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
    /// Ask this time server (NTP, "host" or "host:port") how far the computer's clock is off
    /// first. Without it nothing is asked: `code` warns with the offset the app measured in
    /// the last day, if any.
    #[arg(long, value_name = "SERVER", conflicts_with = "at")]
    pub ntp: Option<String>,
    /// Compute the codes at the servers' time: corrected for the measured clock offset (from
    /// --ntp, or the app's last measurement).
    #[arg(long, conflicts_with = "at")]
    pub correct_clock: bool,
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
    let now = match args.at {
        Some(at) => at,
        None => clock_now(session, args)?,
    };
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

/// The time to compute codes at: now, corrected when asked (`--correct-clock`). Warns on
/// stderr when the clock is known to be more than 15 s off, as the app's banner does. The
/// offset comes from `--ntp` (one SNTP exchange) or from what the app measured last
/// (`clock.json` beside the vault: a small file read, no network).
fn clock_now(session: &Session, args: &CodeArgs) -> Result<u64, CliError> {
    let now = SystemClock.now();
    let estimate = match &args.ntp {
        Some(server) => Some(
            sntp::measure(server, &SystemClock, sntp::TIMEOUT)
                .map_err(|error| {
                    CliError::new(error.to_string())
                        .hint("leave out --ntp to use the offset the app measured last")
                })?
                .estimate(),
        ),
        None => session.path().parent().and_then(|home| Stored::load(home, now)),
    };
    let Some(estimate) = estimate else {
        if args.correct_clock {
            eprintln!(
                "warning: the clock offset is not known (the app measured none in the last \
                 day); the codes use the system clock. Add --ntp SERVER to measure it."
            );
        }
        return Ok(now);
    };
    if args.correct_clock {
        return Ok(estimate.corrected(now));
    }
    if estimate.needs_warning() {
        eprintln!("{}", warning(&estimate));
    }
    Ok(now)
}

/// The banner's words on stderr, with where the offset was measured.
fn warning(estimate: &Estimate) -> String {
    let text = estimate.warning();
    let mut chars = text.chars();
    let text: String =
        chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
    let at = tessera_core::push::format_utc(estimate.measured_at);
    format!(
        "warning: {text}\nhint: measured against the {} at {at}; --correct-clock corrects the \
         codes",
        estimate.source
    )
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
