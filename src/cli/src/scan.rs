//! `tessera scan`: read QR codes from image files, the screen or the clipboard; print them,
//! describe them, or add the accounts they hold.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tessera_core::account::Account;
use tessera_core::intake::Intake;
use tessera_core::qr::DecodeOptions;
use tessera_core::uri::{self, Payload};

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
            CaptureError::Text(_) => {
                "the code was made with a character set Tessera cannot read; ask for the setup \
                 key as text, or a new code"
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
        Ok(Payload::Account(account)) => format!("account: {}", account.label()),
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

/// Adds every account the payloads hold, skipping ones already in the vault, and reports each.
/// A push enrolment scanned on its own is set up as `tessera add` would; payloads that hold
/// no account are reported and skipped; the vault is saved once.
fn add_accounts(
    session: &Session,
    payloads: &[String],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut intake = Intake::new();
    for payload in payloads {
        if let Ok(Payload::Account(account)) = uri::classify(payload) {
            add::check_names(&account)?;
        }
        intake.read_text(payload);
    }
    let mut vault = session.open_or_create(out)?;
    let plan = intake.plan(vault.content());
    for problem in &plan.problems {
        eprintln!("skipped: {problem}");
    }
    if !plan.missing_parts.is_empty() {
        let parts: Vec<String> = plan.missing_parts.iter().map(i32::to_string).collect();
        eprintln!(
            "note: part(s) {} of {} of the Google Authenticator export were not scanned; add them too",
            parts.join(", "),
            plan.export_parts
        );
    }
    for skipped in &plan.skipped {
        eprintln!("skipped: {skipped}");
    }
    for label in &plan.duplicates {
        let _ = writeln!(out, "already present {label}");
    }
    if plan.is_empty() {
        if !plan.duplicates.is_empty() {
            return Ok(());
        }
        return Err(CliError::new(format!(
            "none of the {} QR code(s) holds an authenticator account",
            payloads.len()
        ))
        .hint("nothing was added"));
    }
    let skipped = plan.problems.len();
    add::store(&mut vault, plan, out)?;
    if skipped > 0 {
        eprintln!("note: {skipped} code(s) held no account");
    }
    Ok(())
}
