//! The one place where core errors become what a CLI user reads: `error: ...` and a hint.

use std::fmt;

use tessera_core::otp::{OtpError, SecretError};
use tessera_core::push::PushError;
use tessera_core::transfer::{Format, TransferError};
use tessera_core::uri::UriError;
use tessera_core::vault::VaultError;

/// A failed command: what went wrong, what to try, and the exit status.
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
    code: u8,
}

impl CliError {
    /// A bad-input or failed-operation error (exit 1).
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None, code: 1 }
    }

    /// A usage error detected after parsing, such as contradictory flags (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None, code: 2 }
    }

    /// Adds a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Returns the process exit status.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// Writes the error (and hint) to stderr.
    pub fn print(&self) {
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<VaultError> for CliError {
    fn from(err: VaultError) -> Self {
        let hint = match &err {
            VaultError::WrongPassword => {
                "check --password-file or TESSERA_PASSWORD_FILE; the vault was not changed"
            }
            VaultError::Damaged { .. } => {
                "the vault file is damaged; the previous copy is kept beside it as vault.json.bak \
                 (copy it over vault.json to restore it)"
            }
            VaultError::UnsupportedVersion { .. } => {
                "this vault was written by a newer Tessera; update Tessera to open it"
            }
            VaultError::NotFound { .. } => {
                "add an account with `tessera add` or run `tessera init`"
            }
            VaultError::AlreadyExists { .. } => "the existing vault was left untouched",
            _ => "the vault was not changed",
        };
        Self::new(err.to_string()).hint(hint)
    }
}

impl From<UriError> for CliError {
    fn from(err: UriError) -> Self {
        Self::new(err.to_string()).hint("nothing was added")
    }
}

impl From<OtpError> for CliError {
    fn from(err: OtpError) -> Self {
        Self::new(err.to_string()).hint("nothing was added")
    }
}

impl From<SecretError> for CliError {
    fn from(err: SecretError) -> Self {
        Self::new(err.to_string()).hint("copy the key again from the service's setup page")
    }
}

impl From<PushError> for CliError {
    fn from(err: PushError) -> Self {
        let hint = match &err {
            PushError::ClockSkew { .. } => {
                "set the system clock (e.g. `timedatectl set-ntp true`) and try again"
            }
            PushError::Unreachable { .. } => {
                "check the network and the server; requests wait on the server until they expire"
            }
            PushError::UnknownRequest(_) | PushError::AmbiguousRequest(_) => {
                "run `tessera push pending` to see the waiting requests and their ids"
            }
            PushError::AnswerRequired { .. } | PushError::AnswerNotOffered { .. } => {
                "pass --answer with the choice shown on the login screen"
            }
            PushError::AnswerRejected { .. } => {
                "check the choice on the login screen, or start the login again"
            }
            PushError::EnrolmentExpired { .. }
            | PushError::InvalidEnrolment(_)
            | PushError::UnsupportedVersion(_) => "ask the server for a new enrolment QR code",
            PushError::InsecureTransport { .. } => {
                "the server must use HTTPS with a valid certificate (only a server on this \
                 computer may use plain HTTP or sslverify=0); nothing was added"
            }
            PushError::Expired => "start the login again to get a new request",
            _ => "nothing was changed",
        };
        Self::new(err.to_string()).hint(hint)
    }
}

impl From<TransferError> for CliError {
    fn from(err: TransferError) -> Self {
        let hint = match &err {
            TransferError::PasswordRequired { .. } => {
                "pass --import-password-file FILE (or run on a terminal to be asked)".to_owned()
            }
            TransferError::WrongPassword { .. } => {
                "check the file's password (not the vault's); the vault was not changed".to_owned()
            }
            TransferError::Unrecognised { .. } | TransferError::UnknownFormat { .. } => {
                format!("name the format with --format ({})", Format::all_names())
            }
            TransferError::NotExportable { .. } => {
                format!("export formats: {}", Format::export_names())
            }
            TransferError::CannotEncrypt { .. } => {
                "leave out --export-password-file, or export as aegis, 2fas or proton".to_owned()
            }
            _ => "the vault was not changed".to_owned(),
        };
        Self::new(err.to_string()).hint(hint)
    }
}
