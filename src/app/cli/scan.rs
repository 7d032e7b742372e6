//! `tessera scan`: read QR codes from image files, the screen or the clipboard; print them,
//! describe them, or add the accounts they hold.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::qr::DecodeOptions;
use tessera_core::uri::{self, OtpUri, Payload};
use tessera_core::vault::Entry;

use super::session::Session;
use super::{CliError, add};
use crate::capture::{self, CaptureError};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Image files to scan (PNG, JPEG, WebP, GIF, BMP); each may hold several codes.
    #[arg(value_name = "IMAGE", required_unless_present_any = ["screen", "clipboard"])]
    pub images: Vec<PathBuf>,
    /// Scan the whole screen (every X11 screen) for QR codes.
    #[arg(long, conflicts_with_all = ["images", "clipboard"])]
    pub screen: bool,
    /// Scan the clipboard: an image (a screenshot) or text that is an otpauth URI.
    #[arg(long, conflicts_with = "images")]
    pub clipboard: bool,
    /// Add every account found (Google Authenticator exports included) to the vault.
    #[arg(long)]
    pub add: bool,
    /// Print each decoded payload on its own line, exactly as the code holds it.
    #[arg(long)]
    pub print: bool,
}

impl From<CaptureError> for CliError {
    fn from(err: CaptureError) -> Self {
        let hint = match &err {
            CaptureError::NoDisplay(_) => {
                "screen capture needs an X11 session (Wayland capture is not supported yet)"
            }
            CaptureError::ClipboardEmpty => "copy a screenshot of the QR code or its otpauth link",
            CaptureError::Image { .. } | CaptureError::ImageData(_) => {
                "PNG, JPEG, WebP, GIF and BMP images are supported"
            }
            _ => "nothing was added",
        };
        Self::new(crate::capture::error_chain(&err)).hint(hint)
    }
}

pub fn run(session: &Session, args: &ScanArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // A command-line scan has the user's full attention and no frame rate to keep, so it
    // gets a longer budget than the GUI's two seconds: a slow or busy machine must not turn
    // a readable code into "no QR code found". The pipeline still stops early on success.
    let options =
        DecodeOptions { budget: Some(std::time::Duration::from_secs(10)), exhaustive: false };
    let mut payloads: Vec<String> = Vec::new();
    let mut failed: Option<CliError> = None;
    if args.screen {
        payloads = capture::scan_screens(None, &options)?;
    } else if args.clipboard {
        payloads = capture::scan_clipboard(&options)?;
    } else {
        for (path, result) in args.images.iter().zip(capture::scan_images(&args.images, &options)) {
            match result {
                Ok(found) if found.is_empty() => {
                    eprintln!("{}: no QR code found", path.display());
                }
                Ok(found) => payloads.extend(found),
                Err(err) => {
                    let err = CliError::from(err);
                    eprintln!("error: {err}");
                    failed = Some(err);
                }
            }
        }
    }
    if payloads.is_empty() {
        return Err(failed.unwrap_or_else(|| {
            CliError::new("no QR code found")
                .hint("make the code larger on screen, or scan a sharper, closer image")
        }));
    }
    if args.print {
        for payload in &payloads {
            let _ = writeln!(out, "{payload}");
        }
    }
    if args.add {
        add_accounts(session, &payloads, out)?;
    } else if !args.print {
        for payload in &payloads {
            let _ = writeln!(out, "{}", describe(payload));
        }
    }
    failed.map_or(Ok(()), Err)
}

/// One line saying what a payload is, without its secret.
fn describe(payload: &str) -> String {
    match uri::classify(payload) {
        Ok(Payload::Account(account)) => format!("account: {}", name(&account)),
        Ok(Payload::Migration(batch)) => format!(
            "Google Authenticator export, part {} of {}: {} account(s)",
            batch.batch_index + 1,
            batch.batch_size,
            batch.accounts.len()
        ),
        Ok(Payload::PushEnrolment(_)) => "push-login enrolment".to_owned(),
        Err(err) => format!("not added: {err}"),
    }
}

fn name(account: &OtpUri) -> String {
    match (account.issuer.is_empty(), account.account.is_empty()) {
        (false, false) => format!("{} ({})", account.issuer, account.account),
        (false, true) => account.issuer.clone(),
        (true, false) => account.account.clone(),
        (true, true) => "(unnamed)".to_owned(),
    }
}

/// Adds every account the payloads hold, skipping ones already in the vault, and reports each.
/// Payloads that hold no account are reported and skipped; the vault is saved once.
fn add_accounts(
    session: &Session,
    payloads: &[String],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut accounts = Vec::new();
    let mut skipped = 0;
    for payload in payloads {
        match uri::classify(payload) {
            Ok(Payload::Account(account)) => accounts.push(account),
            Ok(Payload::Migration(batch)) => accounts.extend(batch.accounts),
            Ok(Payload::PushEnrolment(_)) => {
                eprintln!("skipped a push-login enrolment code (not supported by this version)");
                skipped += 1;
            }
            Err(err) => {
                eprintln!("skipped: {err}");
                skipped += 1;
            }
        }
    }
    for account in &accounts {
        add::check_name(&account.issuer)?;
        add::check_name(&account.account)?;
    }
    if accounts.is_empty() {
        return Err(CliError::new(format!(
            "none of the {} QR code(s) holds an authenticator account",
            payloads.len()
        ))
        .hint("nothing was added"));
    }
    let mut vault = session.open_or_create(out)?;
    let now = SystemClock.now();
    let mut added = Vec::new();
    for account in accounts {
        if let Some(existing) = add::find_same(&vault, &account) {
            let _ = writeln!(out, "already present {}", super::query::label(existing));
            continue;
        }
        let entry = Entry::new(account.issuer, account.account, account.otp, now);
        added.push(super::query::label(&entry));
        vault.content_mut().entries.push(entry);
    }
    if !added.is_empty() {
        super::session::save(&mut vault)?;
    }
    for label in added {
        let _ = writeln!(out, "added {label}");
    }
    if skipped > 0 {
        eprintln!("note: {skipped} code(s) held no account");
    }
    Ok(())
}
