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
use tessera_core::intake::{self, Intake, Plan, Problem, PushOffer};
use tessera_core::otp::{Algorithm, OtpKind, OtpParams, Secret};
use tessera_core::push::PushBackendKind;
use tessera_core::uri::{self, OtpUri, Payload};
use tessera_core::vault::Vault;

use zeroize::Zeroizing;

use super::CliError;
use super::session::Session;

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
    // Everything is parsed and checked before the vault is opened or created, so bad input
    // never creates or changes a vault.
    let mut intake = Intake::new();
    match &uri {
        Some(text) => read_uri(&mut intake, text, args)?,
        None => intake.read_account(account_from_args(args)?),
    }
    let mut vault = session.open_or_create(out)?;
    let plan = intake.plan(vault.content());
    // One link is one intention: anything in it that cannot be added fails the command.
    if let Some(problem) = plan.problems.first() {
        return Err(problem_error(problem).hint("nothing was added"));
    }
    if let Some(label) = plan.duplicates.first() {
        return Err(CliError::new(format!(
            "{label} is already in the vault with the same secret key"
        ))
        .hint("nothing was added"));
    }
    store(&mut vault, plan, out)
}

/// Turns an intake problem into the command line's error, with the hint that fits it.
pub(super) fn problem_error(problem: &Problem) -> CliError {
    match problem {
        Problem::Uri(err) => CliError::from(err.clone()),
        Problem::PushEnrolled { .. } => CliError::new(problem.to_string())
            .hint("ask the service for a new enrolment QR code to enrol again"),
        other => CliError::new(other.to_string()),
    }
}

/// Stores what `plan` adds in one save: first finishes its push enrolment with the server
/// (the vault is already open and locked, because the enrolment credential is single-use and
/// must not be spent when the result cannot be kept), then reports each account added.
pub(super) fn store(vault: &mut Vault, plan: Plan, out: &mut dyn Write) -> Result<(), CliError> {
    let now = SystemClock.now();
    let push = match &plan.push {
        Some(offer) => Some((super::push::enrol_offer(offer, now)?, offer.codes.clone())),
        None => None,
    };
    let push_line = push.as_ref().map(|(account, _)| match plan.push.as_ref().map(|o| o.kind) {
        Some(PushBackendKind::Tessera) => {
            format!("added push approvals for {} at {}", offer_name(&plan), account.server())
        }
        _ => format!(
            "added push account {} at {}",
            super::push::account_name(account),
            account.server()
        ),
    });
    let enrolled = push.is_some();
    let applied =
        intake::apply(vault, plan.accounts, push, now, super::session::save).map_err(|e| {
            let error = CliError::from(e);
            if enrolled {
                error.hint(
                    "the server finished the push enrolment but it could not be saved here; \
                 remove the device on the server and enrol again with a new QR code",
                )
            } else {
                error
            }
        })?;
    for label in applied.added {
        let _ = writeln!(out, "added {label}");
    }
    if let Some(line) = push_line {
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

fn offer_name(plan: &Plan) -> String {
    plan.push.as_ref().map(PushOffer::name).unwrap_or_default()
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

fn account_from_args(args: &AddArgs) -> Result<OtpUri, CliError> {
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
    Ok(OtpUri { issuer, account, otp, extra: Vec::new() })
}

/// Reads an `otpauth://` (or Google export, or push enrolment) link into `intake`; a link
/// that cannot be used fails here, before any vault is opened or created.
fn read_uri(intake: &mut Intake, text: &str, args: &AddArgs) -> Result<(), CliError> {
    let payload = match uri::classify(text.trim())? {
        Payload::Account(mut account) => {
            // --issuer/--account override the link's names.
            rename(&mut account, args);
            check_names(&account)?;
            Payload::Account(account)
        }
        Payload::Migration(mut batch) => {
            if batch.batch_size > 1 {
                eprintln!(
                    "note: this is part {} of {} of a Google Authenticator export; add the other \
                     parts too",
                    batch.batch_index + 1,
                    batch.batch_size
                );
            }
            match batch.accounts.as_mut_slice() {
                [] => return Err(CliError::new("the URI holds no accounts")),
                // --issuer/--account override the names when exactly one account is added.
                [one] => rename(one, args),
                _ => {}
            }
            batch.accounts.iter().try_for_each(check_names)?;
            Payload::Migration(batch)
        }
        push @ Payload::PushEnrolment(_) => push,
    };
    intake.read(Ok(payload));
    match intake.problems().first() {
        Some(problem) => Err(problem_error(problem)),
        None => Ok(()),
    }
}

fn rename(account: &mut OtpUri, args: &AddArgs) {
    if let Some(issuer) = &args.issuer {
        account.issuer.clone_from(issuer);
    }
    if let Some(name) = &args.account {
        account.account.clone_from(name);
    }
}

/// Checks an account's issuer and name (see [`check_name`]).
pub(super) fn check_names(account: &OtpUri) -> Result<(), CliError> {
    check_name(&account.issuer)?;
    check_name(&account.account)
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
