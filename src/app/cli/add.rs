//! `tessera add`: from an otpauth:// (or Google migration) URI, or from a pasted secret key.
//!
//! Secrets should not travel as arguments (they show in `ps` and shell history): the URI can
//! be `-` (read from standard input), the key can come from `--secret-file FILE` (`-` for
//! standard input), and on a terminal a missing key is asked for without echo. `--secret KEY`
//! and a URI argument still work for scripts that already use them.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::otp::{Algorithm, OtpKind, OtpParams, Secret};
use tessera_core::push::tessera::TesseraEnrolment;
use tessera_core::uri::{self, OtpUri, Payload};
use tessera_core::vault::{Entry, Vault};

use zeroize::Zeroizing;

use super::session::Session;
use super::{CliError, query};

/// Longest issuer or account name accepted from the command line.
const MAX_NAME_CHARS: usize = 256;

#[derive(Debug, Args)]
pub struct AddArgs {
    /// An otpauth:// or otpauth-migration:// URI (as in the QR code); `-` reads it from
    /// standard input, which keeps it out of `ps` and the shell history.
    #[arg(conflicts_with_all = ["secret", "secret_file", "kind", "algorithm", "digits", "period", "counter"])]
    pub uri: Option<String>,
    /// The "Account secret key" (base32; spaces, hyphens and lower case are fine). Visible to
    /// other users in `ps`: prefer --secret-file or the prompt.
    #[arg(long, value_name = "KEY", conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// Read the secret key from FILE (first line); `-` reads standard input. Without --secret
    /// and --secret-file, the key is asked for on the terminal without echo.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The service or company, e.g. "Visma".
    #[arg(long)]
    pub issuer: Option<String>,
    /// The account name, usually your e-mail address.
    #[arg(long)]
    pub account: Option<String>,
    /// totp (time-based, default), hotp (counter-based) or steam.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// SHA1 (default), SHA256 or SHA512.
    #[arg(long)]
    pub algorithm: Option<String>,
    /// Code length, 1-10 (default 6).
    #[arg(long)]
    pub digits: Option<u64>,
    /// Seconds per code for time-based accounts (default 30).
    #[arg(long)]
    pub period: Option<u64>,
    /// Initial counter for counter-based accounts (default 0).
    #[arg(long)]
    pub counter: Option<u64>,
}

pub fn run(session: &Session, args: &AddArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let uri = match args.uri.as_deref() {
        Some("-") => Some(read_line(None, "the URI")?),
        Some(text) => Some(Zeroizing::new(text.to_owned())),
        None => None,
    };
    // A push enrolment (otpauth://pipush/...) makes a push account, not a code account.
    if let Some(text) = &uri
        && let Ok(Payload::PushEnrolment(enrolment)) = uri::classify(text.trim())
    {
        return super::push::enrol(session, &enrolment, out);
    }
    // Everything is parsed and checked before the vault is opened or created, so bad input
    // never creates or changes a vault.
    let accounts = match &uri {
        Some(text) => accounts_from_uri(text, args)?,
        None => accounts_from_args(args)?,
    };
    // One QR for both worlds: a Tessera server's otpauth://totp URI also enrols push.
    let push = match accounts.as_slice() {
        [one] => TesseraEnrolment::from_extra(&one.extra).transpose()?,
        _ => None,
    };
    let mut vault = session.open_or_create(out)?;
    let now = SystemClock.now();
    let mut push_line = None;
    if let (Some(enrolment), [one]) = (&push, accounts.as_slice()) {
        if vault.content().push_accounts.iter().any(|a| a.serial == enrolment.device) {
            return Err(CliError::new("this push enrolment is already in the vault")
                .hint("nothing was added; ask the service for a new enrolment QR code"));
        }
        if find_same(&vault, one).is_none() {
            let account = super::push::enrol_tessera(enrolment, &one.issuer, &one.account)?;
            push_line = Some(format!(
                "added push approvals for {} at {}",
                query_name(one),
                account.server()
            ));
            vault.content_mut().push_accounts.push(account);
        }
    }
    let mut added = Vec::new();
    for account in accounts {
        if let Some(existing) = find_same(&vault, &account) {
            return Err(CliError::new(format!(
                "{} is already in the vault with the same secret key",
                query::label(existing)
            ))
            .hint("nothing was added"));
        }
        let entry = Entry::new(account.issuer, account.account, account.otp, now);
        added.push(query::label(&entry));
        vault.content_mut().entries.push(entry);
    }
    super::session::save(&mut vault).map_err(|e| {
        let error = CliError::from(e);
        if push_line.is_some() {
            error.hint("the server finished the push enrolment but it could not be saved here; enrol again with a new QR code")
        } else {
            error
        }
    })?;
    for label in added {
        let _ = writeln!(out, "added {label}");
    }
    if let Some(line) = push_line {
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

fn query_name(account: &OtpUri) -> String {
    match (account.issuer.is_empty(), account.account.is_empty()) {
        (false, false) => format!("{} ({})", account.issuer, account.account),
        (false, true) => account.issuer.clone(),
        _ => account.account.clone(),
    }
}

pub(super) fn find_same<'a>(vault: &'a Vault, account: &OtpUri) -> Option<&'a Entry> {
    vault.content().entries.iter().find(|e| {
        e.otp.secret.ct_eq(&account.otp.secret)
            && e.issuer == account.issuer
            && e.account == account.account
    })
}

/// Reads the first line of `file`, or of standard input when `file` is `None` or `-`.
fn read_line(file: Option<&Path>, what: &str) -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    match file.filter(|f| *f != Path::new("-")) {
        Some(file) => {
            let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|err| {
                CliError::new(format!("cannot read {what} from {}: {err}", file.display()))
            })?);
            line.push_str(text.lines().next().unwrap_or(""));
        }
        None => {
            std::io::stdin().lock().read_line(&mut line).map_err(|err| {
                CliError::new(format!("cannot read {what} from standard input: {err}"))
            })?;
            let trimmed = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(trimmed);
        }
    }
    if line.trim().is_empty() {
        return Err(CliError::new(format!("{what} is empty")));
    }
    Ok(line)
}

/// The secret key: --secret, --secret-file (or stdin), or a hidden prompt on a terminal.
fn secret_text(args: &AddArgs) -> Result<Zeroizing<String>, CliError> {
    if let Some(secret) = &args.secret {
        return Ok(Zeroizing::new(secret.clone()));
    }
    if let Some(file) = &args.secret_file {
        return read_line(Some(file), "the secret key");
    }
    if std::io::stdin().is_terminal() {
        let key = rpassword::prompt_password("Secret key (not shown): ")
            .map(Zeroizing::new)
            .map_err(|err| CliError::new(format!("cannot read the secret key: {err}")))?;
        if key.trim().is_empty() {
            return Err(CliError::new("the secret key is empty"));
        }
        return Ok(key);
    }
    Err(CliError::usage("give an otpauth:// URI (or `-` to read it from standard input) or the secret key")
        .hint("e.g. tessera add --secret-file key.txt --issuer Visma --account me@example.com, or pipe the key into --secret-file -"))
}

fn accounts_from_args(args: &AddArgs) -> Result<Vec<OtpUri>, CliError> {
    let secret = secret_text(args)?;
    let issuer = args.issuer.clone().unwrap_or_default();
    let account = args.account.clone().unwrap_or_default();
    check_name(&issuer)?;
    check_name(&account)?;
    if issuer.is_empty() && account.is_empty() {
        return Err(CliError::new("give the account a name: --issuer, --account or both"));
    }
    let secret = Secret::parse_base32(&secret)?;
    let kind = args.kind.as_deref().map_or(Ok(OtpKind::Totp), str::parse)?;
    let algorithm = args.algorithm.as_deref().map_or(Ok(Algorithm::Sha1), str::parse)?;
    let digits = args.digits.unwrap_or(6);
    let digits = u8::try_from(digits)
        .map_err(|_| CliError::new(format!("digits must be between 1 and 10, not {digits}")))?;
    let otp = OtpParams::new(
        kind,
        secret,
        algorithm,
        digits,
        args.period.unwrap_or(30),
        args.counter.unwrap_or(0),
    )?;
    Ok(vec![OtpUri { issuer, account, otp, extra: Vec::new() }])
}

fn accounts_from_uri(text: &str, args: &AddArgs) -> Result<Vec<OtpUri>, CliError> {
    let payload = uri::classify(text.trim())?;
    let mut accounts = match payload {
        Payload::Account(account) => vec![account],
        Payload::Migration(batch) => {
            if batch.batch_size > 1 {
                eprintln!(
                    "note: this is part {} of {} of a Google Authenticator export; add the other \
                     parts too",
                    batch.batch_index + 1,
                    batch.batch_size
                );
            }
            batch.accounts
        }
        Payload::PushEnrolment(_) => {
            return Err(CliError::new(
                "this is a push-login enrolment code, not a code-generating account",
            )
            .hint(
                "push approvals are not supported by this version of Tessera; nothing was added",
            ));
        }
    };
    if accounts.is_empty() {
        return Err(CliError::new("the URI holds no accounts"));
    }
    // --issuer/--account override the URI's names when exactly one account is added.
    if accounts.len() == 1 {
        if let Some(issuer) = &args.issuer {
            accounts[0].issuer.clone_from(issuer);
        }
        if let Some(account) = &args.account {
            accounts[0].account.clone_from(account);
        }
    }
    for account in &accounts {
        check_name(&account.issuer)?;
        check_name(&account.account)?;
    }
    Ok(accounts)
}

/// Rejects names that are too long to display or contain control characters.
pub fn check_name(name: &str) -> Result<(), CliError> {
    let count = name.chars().count();
    if count > MAX_NAME_CHARS {
        return Err(CliError::new(format!(
            "the name is too long: {count} characters, at most {MAX_NAME_CHARS}"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(CliError::new("the name contains control characters"));
    }
    Ok(())
}
