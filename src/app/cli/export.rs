//! `tessera export`: for now one otpauth URI per line.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tessera_core::uri::OtpUri;
use zeroize::Zeroizing;

use super::CliError;
use super::session::Session;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format: `uris` (one otpauth:// URI per line).
    #[arg(long)]
    pub format: String,
    /// Write to FILE (created with mode 0600) instead of standard output.
    pub file: Option<PathBuf>,
}

pub fn run(session: &Session, args: ExportArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if args.format != "uris" {
        return Err(CliError::new(format!("unknown export format {:?}", args.format))
            .hint("supported formats: uris"));
    }
    let vault = session.open()?;
    let mut text = Zeroizing::new(String::new());
    for e in &vault.content().entries {
        let uri = OtpUri {
            issuer: e.issuer.clone(),
            account: e.account.clone(),
            otp: e.otp.clone(),
            extra: Vec::new(),
        };
        text.push_str(&uri.to_uri());
        text.push('\n');
    }
    let count = vault.content().entries.len();
    match args.file {
        None => out
            .write_all(text.as_bytes())
            .map_err(|err| CliError::new(format!("cannot write output: {err}")))?,
        Some(path) => {
            write_private(&path, text.as_bytes())
                .map_err(|err| CliError::new(format!("cannot write {}: {err}", path.display())))?;
            eprintln!(
                "exported {count} accounts to {}; the file holds your secret keys unencrypted",
                path.display()
            );
        }
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
