//! Import and export of other authenticators' formats.
//!
//! Users arrive from another app and must never lose an account on the way in or out. Each
//! format lives in its own module, which opens by citing where the format is defined and listing
//! what a conversion loses. All formats sit behind one exhaustive [`Format`] enum and are
//! dispatched with `match` (no registry): adding a variant does not compile until its detector,
//! importer and exporter decision are written.
//!
//! [`backup`] writes automatic encrypted backups (Tessera's own format, [`tessera_backup`];
//! older backups in the Aegis format keep being read) and verifies them. Private
//! helpers hold what several formats share: `prefs` reads Android shared-preferences XML and
//! `database` reads SQLite app databases from memory; `java_serial` reads the Java-serialised
//! preference map FreeOTP 2 backs up into.
//!
//! Detection never guesses: the file's [`Shape`] (JSON object or array, XML, text, SQLite,
//! binary) narrows the candidates, and each is recognised only by keys or markers it alone has.
//! A file nothing recognises is reported with the formats it was tried as; an import that yields
//! no account says why ([`ImportReport::why_empty`]).
//!
//! Importers return partial results. An entry that cannot be read becomes an [`ImportProblem`]
//! (where it is, which issuer, why) and the rest still imports; only a file that cannot be read
//! at all (wrong password, damaged container, unknown version) is an error. Nothing here writes
//! the vault: callers add [`ImportReport::accounts`] in one atomic save, so a failed import
//! changes nothing.

mod aegis;
mod and_otp;
mod authy;
pub mod backup;
mod battle_net;
mod bitwarden;
mod crypto;
mod database;
mod duo;
mod ente;
mod free_otp;
mod free_otp_backup;
mod free_otp_plus;
mod free_otp_token;
mod google;
mod java_serial;
mod last_pass;
mod prefs;
mod proton;
mod steam;
mod stratum;
pub mod tessera_backup;
mod totp_authenticator;
mod two_fas;
mod uri_list;
mod win_auth;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::otp::{Algorithm, OtpKind, OtpParams, Secret};
use crate::uri::OtpUri;
use crate::vault::Entry;
use crate::vault::recovery::RecoveryCode;

/// A file format Tessera can import from (and for some, export to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Tessera's own encrypted backup (`.tessera`, see [`tessera_backup`]): what automatic
    /// backups write; always encrypted, Argon2id at the vault's cost.
    TesseraBackup,
    /// Aegis vault JSON, plain or password-encrypted.
    Aegis,
    /// 2FAS `.2fas` backup, plain or password-encrypted.
    TwoFas,
    /// andOTP JSON backup, plain or password-encrypted.
    AndOtp,
    /// FreeOTP+ JSON export (its URI-list export is [`Format::UriList`]).
    FreeOtpPlus,
    /// Google Authenticator export: `otpauth-migration://` links, one per QR code.
    GoogleMigration,
    /// Bitwarden unencrypted JSON export (items with a `login.totp`).
    BitwardenJson,
    /// Bitwarden CSV export (`login_totp` column).
    BitwardenCsv,
    /// Ente Auth plain-text export (otpauth URIs with Ente's `codeDisplay` data).
    Ente,
    /// Plain `otpauth://` URIs, one per line (also FreeOTP+'s and many apps' "key URI" export).
    UriList,
    /// Proton Authenticator JSON export, plain or password-encrypted.
    Proton,
    /// Authy's Android app data (shared-preferences XML), plain or with the backup password.
    Authy,
    /// Authy desktop token list (JSON of name/secret/digits) as the export scripts write it.
    AuthyJson,
    /// Stratum / Authenticator Pro: JSON backup, encrypted backup (both schemes) or app database.
    Stratum,
    /// Google Authenticator's app database (SQLite `databases`).
    GoogleDb,
    /// Microsoft Authenticator's app database (SQLite `PhoneFactor`).
    Microsoft,
    /// FreeOTP: 1.x's `tokens.xml` (also FreeOTP+'s app data, which kept the same file) or
    /// 2.x's password-protected backup (`externalBackup.xml`, `tokenBackup.xml`).
    FreeOtp,
    /// Steam Guard `.maFile` (Steam Desktop Authenticator) or the Steam app's `Steamguard-*`.
    Steam,
    /// Duo Mobile's `accounts.json`.
    Duo,
    /// LastPass Authenticator JSON export.
    LastPass,
    /// WinAuth's text export (one `otpauth://` URI per line, WinAuth's labels).
    WinAuth,
    /// Battle.net Authenticator app data (shared-preferences XML).
    BattleNet,
    /// TOTP Authenticator: encrypted `.bin` backup or app data (shared-preferences XML).
    TotpAuthenticator,
    /// Authenticator Plus backup (`.zip` holding an SQLCipher database): recognised, refused.
    AuthenticatorPlus,
}

/// The outer shape of a file, which decides the formats it can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A JSON object (`{ ... }`).
    JsonObject,
    /// A JSON array (`[ ... ]`).
    JsonArray,
    /// An XML document.
    Xml,
    /// Lines of text.
    Text,
    /// An SQLite database.
    Sqlite,
    /// Anything else (encrypted containers, zips).
    Binary,
}

impl Shape {
    /// Returns the shape of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        if bytes.starts_with(database::SQLITE_MAGIC) {
            return Self::Sqlite;
        }
        match std::str::from_utf8(bytes).map(|t| t.trim_start_matches('\u{feff}').trim()) {
            Ok(t) if t.starts_with('{') => Self::JsonObject,
            Ok(t) if t.starts_with('[') => Self::JsonArray,
            Ok(t) if t.starts_with('<') => Self::Xml,
            Ok(_) => Self::Text,
            Err(_) => Self::Binary,
        }
    }

    /// Returns how the shape is named in messages ("a JSON object").
    pub fn describe(self) -> &'static str {
        match self {
            Self::JsonObject => "a JSON object",
            Self::JsonArray => "a JSON array",
            Self::Xml => "an XML document",
            Self::Text => "a text file",
            Self::Sqlite => "an SQLite database",
            Self::Binary => "a binary file",
        }
    }

    /// Returns the formats whose files can have this shape.
    pub fn formats(self) -> Vec<Format> {
        Format::ALL.into_iter().filter(|f| f.shapes().contains(&self)).collect()
    }
}

impl Format {
    /// Every format, in the order they are listed to users.
    pub const ALL: [Self; 24] = [
        Self::TesseraBackup,
        Self::Aegis,
        Self::TwoFas,
        Self::AndOtp,
        Self::FreeOtpPlus,
        Self::GoogleMigration,
        Self::BitwardenJson,
        Self::BitwardenCsv,
        Self::Ente,
        Self::UriList,
        Self::Proton,
        Self::Authy,
        Self::AuthyJson,
        Self::Stratum,
        Self::GoogleDb,
        Self::Microsoft,
        Self::FreeOtp,
        Self::Steam,
        Self::Duo,
        Self::LastPass,
        Self::WinAuth,
        Self::BattleNet,
        Self::TotpAuthenticator,
        Self::AuthenticatorPlus,
    ];

    /// Returns the short name used on the command line (`aegis`, `2fas`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::TesseraBackup => "tessera-backup",
            Self::Aegis => "aegis",
            Self::TwoFas => "2fas",
            Self::AndOtp => "andotp",
            Self::FreeOtpPlus => "freeotp-plus",
            Self::GoogleMigration => "google",
            Self::BitwardenJson => "bitwarden-json",
            Self::BitwardenCsv => "bitwarden-csv",
            Self::Ente => "ente",
            Self::UriList => "uri-list",
            Self::Proton => "proton",
            Self::Authy => "authy",
            Self::AuthyJson => "authy-json",
            Self::Stratum => "stratum",
            Self::GoogleDb => "google-db",
            Self::Microsoft => "microsoft",
            Self::FreeOtp => "freeotp",
            Self::Steam => "steam",
            Self::Duo => "duo",
            Self::LastPass => "lastpass",
            Self::WinAuth => "winauth",
            Self::BattleNet => "battle-net",
            Self::TotpAuthenticator => "totp-authenticator",
            Self::AuthenticatorPlus => "authenticator-plus",
        }
    }

    /// Returns the name shown to users ("Aegis vault (JSON)").
    pub fn title(self) -> &'static str {
        match self {
            Self::TesseraBackup => "Tessera encrypted backup",
            Self::Aegis => "Aegis vault (JSON)",
            Self::TwoFas => "2FAS backup (.2fas)",
            Self::AndOtp => "andOTP backup (JSON)",
            Self::FreeOtpPlus => "FreeOTP+ backup (JSON)",
            Self::GoogleMigration => "Google Authenticator export (otpauth-migration links)",
            Self::BitwardenJson => "Bitwarden export (JSON)",
            Self::BitwardenCsv => "Bitwarden export (CSV)",
            Self::Ente => "Ente Auth export (plain text)",
            Self::UriList => "otpauth:// URI list",
            Self::Proton => "Proton Authenticator export (JSON)",
            Self::Authy => "Authy app data (XML)",
            Self::AuthyJson => "Authy desktop token list (JSON)",
            Self::Stratum => "Stratum / Authenticator Pro backup or database",
            Self::GoogleDb => "Google Authenticator app database",
            Self::Microsoft => "Microsoft Authenticator app database",
            Self::FreeOtp => "FreeOTP tokens.xml or FreeOTP 2 backup",
            Self::Steam => "Steam Guard .maFile",
            Self::Duo => "Duo Mobile accounts (JSON)",
            Self::LastPass => "LastPass Authenticator export (JSON)",
            Self::WinAuth => "WinAuth export (text)",
            Self::BattleNet => "Battle.net Authenticator app data (XML)",
            Self::TotpAuthenticator => "TOTP Authenticator backup (.bin or XML)",
            Self::AuthenticatorPlus => "Authenticator Plus backup (.zip)",
        }
    }

    /// Returns one line telling users where they find a file of this format.
    pub fn hint(self) -> &'static str {
        match self {
            Self::TesseraBackup => {
                "Tessera: the backup folder chosen in Settings → Backups (tessera-backup-*.tessera)"
            }
            Self::Aegis => "Aegis: Settings → Import & Export → Export",
            Self::TwoFas => "2FAS: Settings → Backup → Export to file",
            Self::AndOtp => "andOTP: Backups → Backup (plain or encrypted)",
            Self::FreeOtpPlus => "FreeOTP+: menu → Export JSON format",
            Self::GoogleMigration => {
                "Google Authenticator: Transfer accounts → Export; scan the QR codes into a text file"
            }
            Self::BitwardenJson => "Bitwarden: Tools → Export vault → .json (unencrypted)",
            Self::BitwardenCsv => "Bitwarden: Tools → Export vault → .csv",
            Self::Ente => "Ente Auth: Settings → Data → Export codes → Plain text",
            Self::UriList => "any app's \"export as otpauth links\" text file, one link per line",
            Self::Proton => "Proton Authenticator: Settings → Export (with or without a password)",
            Self::Authy => {
                "rooted Android: /data/data/com.authy.authy/shared_prefs/com.authy.storage.tokens.authenticator.xml"
            }
            Self::AuthyJson => "the JSON file an Authy desktop export script wrote",
            Self::Stratum => {
                "Stratum / Authenticator Pro: Backup → Backup to file (or the app's authenticator.db3)"
            }
            Self::GoogleDb => {
                "rooted Android: /data/data/com.google.android.apps.authenticator2/databases/databases"
            }
            Self::Microsoft => {
                "rooted Android: /data/data/com.azure.authenticator/databases/PhoneFactor"
            }
            Self::FreeOtp => {
                "FreeOTP 2: menu → Backup (externalBackup.xml, your backup password); FreeOTP 1: /data/data/org.fedorahosted.freeotp/shared_prefs/tokens.xml"
            }
            Self::Steam => "Steam Desktop Authenticator's maFiles folder (unencrypted .maFile)",
            Self::Duo => {
                "rooted Android: /data/data/com.duosecurity.duomobile/files/duokit/accounts.json"
            }
            Self::LastPass => "LastPass Authenticator: Settings → Transfer accounts → Export",
            Self::WinAuth => "WinAuth: right-click → Export → text file (unencrypted)",
            Self::BattleNet => {
                "rooted Android: com.blizzard.messenger/shared_prefs/com.blizzard.messenger.authenticator_preferences.xml"
            }
            Self::TotpAuthenticator => {
                "TOTP Authenticator: Backup → Save (.bin), or its TOTP_Authenticator_Preferences.xml"
            }
            Self::AuthenticatorPlus => {
                "Authenticator Plus: not readable; export from the app to a URI list instead"
            }
        }
    }

    /// Returns the shapes a file of this format can have (detection tries only these).
    pub fn shapes(self) -> &'static [Shape] {
        match self {
            Self::TesseraBackup => &[Shape::Binary],
            Self::Aegis
            | Self::TwoFas
            | Self::FreeOtpPlus
            | Self::BitwardenJson
            | Self::Proton
            | Self::Steam
            | Self::LastPass => &[Shape::JsonObject],
            Self::AndOtp => &[Shape::JsonArray, Shape::Binary],
            Self::AuthyJson | Self::Duo => &[Shape::JsonArray],
            Self::GoogleMigration | Self::BitwardenCsv | Self::UriList | Self::WinAuth => {
                &[Shape::Text]
            }
            Self::Ente => &[Shape::Text, Shape::JsonObject],
            Self::Authy | Self::BattleNet => &[Shape::Xml],
            Self::FreeOtp => &[Shape::Xml, Shape::Binary],
            Self::Stratum => &[Shape::JsonObject, Shape::Binary, Shape::Sqlite],
            Self::GoogleDb | Self::Microsoft => &[Shape::Sqlite],
            Self::TotpAuthenticator => &[Shape::Text, Shape::Xml],
            Self::AuthenticatorPlus => &[Shape::Binary],
        }
    }

    /// Returns true if [`export`] can write this format.
    pub fn can_export(self) -> bool {
        match self {
            Self::TesseraBackup
            | Self::Aegis
            | Self::TwoFas
            | Self::GoogleMigration
            | Self::UriList
            | Self::Proton => true,
            Self::AndOtp
            | Self::FreeOtpPlus
            | Self::BitwardenJson
            | Self::BitwardenCsv
            | Self::Ente
            | Self::Authy
            | Self::AuthyJson
            | Self::Stratum
            | Self::GoogleDb
            | Self::Microsoft
            | Self::FreeOtp
            | Self::Steam
            | Self::Duo
            | Self::LastPass
            | Self::WinAuth
            | Self::BattleNet
            | Self::TotpAuthenticator
            | Self::AuthenticatorPlus => false,
        }
    }

    /// Returns true if files of this format may be password-encrypted.
    pub fn supports_password(self) -> bool {
        match self {
            Self::TesseraBackup
            | Self::Aegis
            | Self::TwoFas
            | Self::AndOtp
            | Self::Proton
            | Self::Authy
            | Self::Stratum
            | Self::FreeOtp
            | Self::TotpAuthenticator => true,
            Self::FreeOtpPlus
            | Self::GoogleMigration
            | Self::BitwardenJson
            | Self::BitwardenCsv
            | Self::Ente
            | Self::UriList
            | Self::AuthyJson
            | Self::GoogleDb
            | Self::Microsoft
            | Self::Steam
            | Self::Duo
            | Self::LastPass
            | Self::WinAuth
            | Self::BattleNet
            | Self::AuthenticatorPlus => false,
        }
    }

    /// Returns the short names of all formats, comma-separated (for help and error texts).
    pub fn all_names() -> String {
        names(&Self::ALL)
    }

    /// Returns the short names of the formats [`export`] can write, comma-separated.
    pub fn export_names() -> String {
        names(&Self::ALL.into_iter().filter(|f| f.can_export()).collect::<Vec<_>>())
    }
}

/// Returns the short names of `formats`, comma-separated.
fn names(formats: &[Format]) -> String {
    formats.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = TransferError;

    /// Parses a short name case-insensitively (`twofas` and `freeotp+` are accepted too).
    fn from_str(text: &str) -> Result<Self, TransferError> {
        let lower = text.trim().to_ascii_lowercase();
        let alias = match lower.as_str() {
            "twofas" => "2fas",
            "tessera" | "tessera-encrypted-backup" | "backup" => "tessera-backup",
            "freeotp+" | "freeotpplus" => "freeotp-plus",
            "google-authenticator" | "google-migration" | "otpauth-migration" => "google",
            "bitwarden" => "bitwarden-json",
            "ente-auth" => "ente",
            "uri" | "uris" | "otpauth" | "text" | "txt" => "uri-list",
            "proton-authenticator" => "proton",
            "authy-desktop" => "authy-json",
            "authenticator-pro" | "authenticatorpro" => "stratum",
            "google-database" => "google-db",
            "microsoft-authenticator" => "microsoft",
            "mafile" | "steam-guard" => "steam",
            "duo-mobile" => "duo",
            "lastpass-authenticator" => "lastpass",
            "battlenet" | "battle.net" | "blizzard" => "battle-net",
            "totpauthenticator" => "totp-authenticator",
            "authenticatorplus" => "authenticator-plus",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|f| f.name() == alias)
            .ok_or_else(|| TransferError::UnknownFormat { given: text.chars().take(40).collect() })
    }
}

/// Why a file could not be imported or exported at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Auto-detection found no known format.
    #[error("unrecognised file: {shape} that matches none of the formats tried ({tried})")]
    Unrecognised {
        /// The file's outer shape ("a JSON array").
        shape: &'static str,
        /// The names of the formats that have this shape, comma-separated.
        tried: String,
    },
    /// A format name that does not exist.
    #[error("unknown format {given:?} (expected one of {})", Format::all_names())]
    UnknownFormat {
        /// What was given, shortened.
        given: String,
    },
    /// The file is encrypted and no password was given.
    #[error("this {format} file is encrypted: a password is needed")]
    PasswordRequired {
        /// The format of the file.
        format: Format,
    },
    /// The password did not decrypt the file (or the encrypted part is damaged).
    #[error("wrong password, or the encrypted {format} data is damaged")]
    WrongPassword {
        /// The format of the file.
        format: Format,
    },
    /// The file is not a readable file of this format.
    #[error("the {format} file is damaged or truncated: {reason}")]
    Corrupt {
        /// The format that was expected.
        format: Format,
        /// What is wrong, without any secret material.
        reason: String,
    },
    /// A version of the format this importer does not know.
    #[error("unsupported {format} version {found} (supported: {supported})")]
    UnsupportedVersion {
        /// The format of the file.
        format: Format,
        /// The version found in the file.
        found: String,
        /// The versions this importer reads.
        supported: &'static str,
    },
    /// A readable file that uses a feature we cannot handle.
    #[error("cannot import this {format} file: {reason}")]
    Unsupported {
        /// The format of the file.
        format: Format,
        /// What is unsupported.
        reason: String,
    },
    /// The format is import-only.
    #[error(
        "{format} files can be imported but not exported (export formats: {})",
        Format::export_names()
    )]
    NotExportable {
        /// The format asked for.
        format: Format,
    },
    /// A password was given for a format that cannot be encrypted.
    #[error(
        "{format} files cannot be encrypted (encrypted export formats: tessera-backup, aegis, 2fas, proton)"
    )]
    CannotEncrypt {
        /// The format asked for.
        format: Format,
    },
    /// Reading or writing a file failed (backups).
    #[error("{what}: {reason}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The system's error message.
        reason: String,
    },
    /// "Verify backup" found no backup in the folder.
    #[error("no backup found in {dir}")]
    NoBackup {
        /// The folder searched.
        dir: String,
    },
    /// The operating system's random source failed.
    #[error("the system random number generator failed")]
    Random,
}

impl TransferError {
    pub(crate) fn corrupt(format: Format, reason: impl fmt::Display) -> Self {
        Self::Corrupt { format, reason: reason.to_string() }
    }
}

/// One account read from another app's file, before it becomes a vault entry.
#[derive(Debug, Clone)]
pub struct ImportedAccount {
    /// The service ("GitHub"); may be empty.
    pub issuer: String,
    /// The account name ("alice@example.com"); may be empty.
    pub account: String,
    /// Kind, secret, algorithm, digits, period and counter.
    pub otp: OtpParams,
    /// A free-text note (empty if none).
    pub note: String,
    /// The group/folder/tag the source app filed it under.
    pub group: Option<String>,
    /// Marked as favourite (pinned) in the source app.
    pub favourite: bool,
    /// Recovery codes (only Tessera's own backups carry them as codes; see
    /// [`export`] for the formats that get them in the note).
    pub recovery: Vec<RecoveryCode>,
}

impl ImportedAccount {
    /// Returns an account with no note, group or favourite mark.
    pub fn new(issuer: impl Into<String>, account: impl Into<String>, otp: OtpParams) -> Self {
        Self {
            issuer: issuer.into(),
            account: account.into(),
            otp,
            note: String::new(),
            group: None,
            favourite: false,
            recovery: Vec::new(),
        }
    }

    /// Returns "issuer (account)", or whichever of the two is present, for messages.
    pub fn label(&self) -> String {
        crate::account::label(&self.issuer, &self.account)
    }

    /// Turns the account into a new vault entry (fresh id, created at `now`).
    pub fn into_entry(self, now: u64) -> Entry {
        let mut entry = Entry::new(self.issuer, self.account, self.otp, now);
        entry.note = self.note;
        entry.group = self.group;
        entry.favourite = self.favourite;
        entry.recovery = self.recovery;
        entry
    }
}

crate::account::impl_account!(ImportedAccount);

impl From<&Entry> for ImportedAccount {
    /// Takes what export formats can carry from a vault entry (not its id or times).
    fn from(entry: &Entry) -> Self {
        Self {
            issuer: entry.issuer.clone(),
            account: entry.account.clone(),
            otp: entry.otp.clone(),
            note: entry.note.clone(),
            group: entry.group.clone(),
            favourite: entry.favourite,
            recovery: entry.recovery.clone(),
        }
    }
}

/// An entry that could not be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// Where in the file: "entry 3" (1-based) or "line 7".
    pub location: String,
    /// The entry's issuer, when it could be read.
    pub issuer: Option<String>,
    /// Why it was not imported (never contains the secret).
    pub reason: String,
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.issuer {
            Some(issuer) if !issuer.is_empty() => {
                write!(f, "{} ({issuer}): {}", self.location, self.reason)
            }
            _ => write!(f, "{}: {}", self.location, self.reason),
        }
    }
}

/// What an import produced: the accounts read and the entries that were not.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The format that was read (detected or given).
    pub format: Format,
    /// Accounts ready to be added, in file order, without duplicates.
    pub accounts: Vec<ImportedAccount>,
    /// Entries that were skipped, in file order.
    pub problems: Vec<ImportProblem>,
}

impl ImportReport {
    /// Moves accounts that duplicate an existing one (same secret, issuer and account) from
    /// `accounts` to `problems`. `existing` yields `(secret, issuer, account)` of the vault.
    pub fn skip_duplicates<'a, I>(&mut self, existing: I)
    where
        I: IntoIterator<Item = (&'a Secret, &'a str, &'a str)>,
    {
        let known: HashSet<_> =
            existing.into_iter().map(|(s, i, a)| crate::account::identity(s, i, a)).collect();
        let mut kept = Vec::with_capacity(self.accounts.len());
        for account in std::mem::take(&mut self.accounts) {
            if known.contains(&crate::account::identity(
                &account.otp.secret,
                &account.issuer,
                &account.account,
            )) {
                // The account's own label says where it is: it read fine, it is just known.
                self.problems.push(ImportProblem {
                    location: account.label(),
                    issuer: None,
                    reason: IN_VAULT.into(),
                });
            } else {
                kept.push(account);
            }
        }
        self.accounts = kept;
    }

    /// Returns why nothing would be imported, or `None` if there are accounts to add.
    ///
    /// An import that adds nothing is a failure the user must hear about (a wrong format or a
    /// file of skipped entries must not look like success): the CLI exits non-zero with this.
    pub fn why_empty(&self) -> Option<String> {
        if !self.accounts.is_empty() {
            return None;
        }
        let total = self.problems.len();
        let in_vault = self.problems.iter().filter(|p| p.reason == IN_VAULT).count();
        Some(match self.problems.first() {
            None => format!("the {} file holds no accounts", self.format.title()),
            Some(_) if in_vault == total => {
                let all = if total == 1 { "its account is" } else { "all its accounts are" };
                format!("{all} already in the vault")
            }
            Some(_) => {
                let first = self
                    .problems
                    .iter()
                    .find(|p| p.reason != IN_VAULT)
                    .unwrap_or(&self.problems[0]);
                format!(
                    "none of its {total} entr{} could be imported as {} (first: {first})",
                    if total == 1 { "y" } else { "ies" },
                    self.format.title()
                )
            }
        })
    }
}

/// The problem reason of an account already in the vault.
const IN_VAULT: &str = "already in the vault (same secret, issuer and account)";

/// Collects accounts and problems while an importer walks a file; drops in-file duplicates.
pub(crate) struct Collector {
    format: Format,
    accounts: Vec<ImportedAccount>,
    problems: Vec<ImportProblem>,
    seen: HashSet<(Vec<u8>, String, String)>,
}

impl Collector {
    pub(crate) fn new(format: Format) -> Self {
        Self { format, accounts: Vec::new(), problems: Vec::new(), seen: HashSet::new() }
    }

    /// Records one entry's outcome; `issuer` names the entry in a problem.
    pub(crate) fn push(
        &mut self,
        location: String,
        issuer: Option<&str>,
        result: Result<ImportedAccount, String>,
    ) {
        match result {
            Ok(account) => {
                let key = crate::account::identity(
                    &account.otp.secret,
                    &account.issuer,
                    &account.account,
                );
                if self.seen.insert(key) {
                    self.accounts.push(account);
                } else {
                    self.problem(
                        location,
                        Some(&account.issuer),
                        "duplicate of an earlier entry in this file (same secret, issuer and account)",
                    );
                }
            }
            Err(reason) => self.problem(location, issuer, reason),
        }
    }

    pub(crate) fn problem(
        &mut self,
        location: String,
        issuer: Option<&str>,
        reason: impl Into<String>,
    ) {
        self.problems.push(ImportProblem {
            location,
            issuer: issuer.filter(|i| !i.is_empty()).map(str::to_owned),
            reason: reason.into(),
        });
    }

    pub(crate) fn finish(self) -> ImportReport {
        ImportReport { format: self.format, accounts: self.accounts, problems: self.problems }
    }
}

/// Parses a base32 secret from an imported file (any length: the account already works
/// elsewhere); the error never contains the key.
pub(crate) fn secret_base32(text: &str) -> Result<Secret, String> {
    Secret::parse_base32_any_length(text).map_err(|e| format!("unreadable secret: {e}"))
}

/// Builds checked parameters from a format's loose fields (absent = the usual default: SHA1,
/// 6 digits, 30 s, counter 0). The error names the offending field.
pub(crate) fn otp_params(
    kind: OtpKind,
    secret: Secret,
    algorithm: Option<&str>,
    digits: Option<u64>,
    period: Option<u64>,
    counter: Option<u64>,
) -> Result<OtpParams, String> {
    let algorithm = match algorithm.map(str::trim).filter(|a| !a.is_empty()) {
        None => Algorithm::Sha1,
        Some(name) => name.parse::<Algorithm>().map_err(|e| e.to_string())?,
    };
    let digits = match (kind, digits) {
        (OtpKind::Steam, _) | (_, None) => 6,
        (_, Some(d)) => {
            u8::try_from(d).map_err(|_| format!("digits must be between 1 and 10, not {d}"))?
        }
    };
    OtpParams::new(kind, secret, algorithm, digits, period.unwrap_or(30), counter.unwrap_or(0))
        .map_err(|e| e.to_string())
}

/// Returns "entry N" for a 0-based index.
pub(crate) fn entry_location(index: usize) -> String {
    format!("entry {}", index + 1)
}

/// Returns the format the content looks like, or `None`.
///
/// Detection looks at structure, never at file names, and never guesses: the outer [`Shape`]
/// narrows the candidates, then each candidate is recognised by keys or markers only it has
/// (JSON keys, XML preference names, binary headers, SQLite tables). A file that fits none gives
/// `None`, and [`import`] then names the formats it was tried as.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let text = std::str::from_utf8(bytes).ok().map(|t| t.trim_start_matches('\u{feff}').trim());
    match Shape::of(bytes) {
        Shape::Sqlite => database::detect(bytes),
        Shape::JsonObject => detect_json_object(text?),
        Shape::JsonArray => detect_json_array(text?),
        Shape::Xml => detect_prefs(text?),
        Shape::Text => detect_text(text?),
        Shape::Binary => detect_binary(bytes),
    }
}

/// Returns the app whose preference names the document holds, or `None`.
fn detect_prefs(text: &str) -> Option<Format> {
    // Any format will do for the error, which is dropped: detection only needs the names.
    let prefs = prefs::read(text, Format::Authy).ok()?;
    let has = |name: &str| prefs.iter().any(|p| p.name == name);
    if authy::PREF_NAMES.iter().any(|n| has(n)) {
        Some(Format::Authy)
    } else if has(battle_net::SECRET_PREF) {
        Some(Format::BattleNet)
    } else if has(totp_authenticator::PREF_KEY) {
        Some(Format::TotpAuthenticator)
    } else if free_otp::looks_like(&prefs) {
        Some(Format::FreeOtp)
    } else {
        None
    }
}

fn detect_binary(bytes: &[u8]) -> Option<Format> {
    if tessera_backup::looks_like(bytes) {
        Some(Format::TesseraBackup)
    } else if stratum::looks_encrypted(bytes) {
        Some(Format::Stratum)
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some(Format::AuthenticatorPlus)
    } else if bytes.starts_with(java_serial::MAGIC) {
        Some(Format::FreeOtp)
    } else if and_otp::looks_encrypted(bytes) {
        Some(Format::AndOtp)
    } else {
        None
    }
}

fn detect_text(text: &str) -> Option<Format> {
    let first = meaningful_lines(text).next()?.1;
    let scheme = first.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("otpauth-migration") => Some(Format::GoogleMigration),
        Some("otpauth") if text.contains("codeDisplay=") => Some(Format::Ente),
        Some("otpauth") if win_auth::looks_like(text) => Some(Format::WinAuth),
        Some("otpauth") => Some(Format::UriList),
        _ if first.split(',').any(|h| h.trim().trim_matches('"') == "login_totp") => {
            Some(Format::BitwardenCsv)
        }
        _ if totp_authenticator::looks_encrypted(text) => Some(Format::TotpAuthenticator),
        _ => None,
    }
}

/// Yields `(line number, trimmed line)` of the lines that are neither blank nor `#` comments.
pub(crate) fn meaningful_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// Returns the file as text, or a [`TransferError::Corrupt`] naming the format.
pub(crate) fn text_of(bytes: &[u8], format: Format) -> Result<&str, TransferError> {
    std::str::from_utf8(bytes).map_err(|e| {
        TransferError::corrupt(format, format!("not UTF-8 text (byte {})", e.valid_up_to() + 1))
    })
}

/// Converts a parsed URI into an account (no note, group or favourite).
pub(crate) fn from_uri(uri: OtpUri) -> ImportedAccount {
    ImportedAccount::new(uri.issuer, uri.account, uri.otp)
}

/// Converts an account into a URI for the URI-based exporters (note, group and favourite have
/// no standard place in a URI).
pub(crate) fn to_uri(account: &ImportedAccount) -> OtpUri {
    OtpUri::new(account.issuer.clone(), account.account.clone(), account.otp.clone())
}

fn detect_json_object(text: &str) -> Option<Format> {
    use serde::Deserialize;
    use serde::de::IgnoredAny;

    /// Top-level keys only; values are skipped without being built, except `accounts` and
    /// `entries`, whose first element tells Steam's and LastPass' files apart.
    #[derive(Deserialize)]
    #[allow(non_snake_case)]
    struct Probe {
        header: Option<IgnoredAny>,
        db: Option<IgnoredAny>,
        schemaVersion: Option<IgnoredAny>,
        services: Option<IgnoredAny>,
        servicesEncrypted: Option<IgnoredAny>,
        tokens: Option<IgnoredAny>,
        items: Option<IgnoredAny>,
        encrypted: Option<IgnoredAny>,
        encryptedData: Option<IgnoredAny>,
        kdfParams: Option<IgnoredAny>,
        Authenticators: Option<IgnoredAny>,
        version: Option<IgnoredAny>,
        entries: Option<IgnoredAny>,
        salt: Option<IgnoredAny>,
        content: Option<IgnoredAny>,
        shared_secret: Option<IgnoredAny>,
        accounts: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_str(text).ok()?;
    let has_version = probe.version.is_some();
    if probe.header.is_some() && probe.db.is_some() {
        Some(Format::Aegis)
    } else if probe.schemaVersion.is_some()
        && (probe.services.is_some() || probe.servicesEncrypted.is_some())
    {
        Some(Format::TwoFas)
    } else if probe.tokens.is_some() {
        Some(Format::FreeOtpPlus)
    } else if probe.items.is_some() || probe.encrypted.is_some() {
        Some(Format::BitwardenJson)
    } else if probe.encryptedData.is_some() && probe.kdfParams.is_some() {
        // Ente's encrypted export: detected so that the error can say what to do instead.
        Some(Format::Ente)
    } else if probe.Authenticators.is_some() {
        Some(Format::Stratum)
    } else if has_version
        && (probe.entries.is_some() || (probe.salt.is_some() && probe.content.is_some()))
    {
        Some(Format::Proton)
    } else if probe.shared_secret.is_some() {
        Some(Format::Steam)
    } else {
        match probe.accounts? {
            serde_json::Value::Array(list) if has_version => {
                let first = list.first();
                (first.is_none_or(|a| a.get("issuerName").is_some() || a.get("timeStep").is_some()))
                    .then_some(Format::LastPass)
            }
            serde_json::Value::Object(map) => map
                .values()
                .next()
                .is_some_and(|a| a.get("shared_secret").is_some())
                .then_some(Format::Steam),
            _ => None,
        }
    }
}

/// JSON arrays: andOTP, Duo and the Authy desktop lists are all arrays of objects; their first
/// object's keys tell them apart (Duo's `otpGenerator`, andOTP's `type`/`label`, the
/// Authy list's `name` beside `secret`). An empty array matches nothing: it holds no account.
fn detect_json_array(text: &str) -> Option<Format> {
    let list: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(text).ok()?;
    let first = list.first()?;
    let has = |key: &str| first.contains_key(key);
    if has("otpGenerator") {
        Some(Format::Duo)
    } else if has("secret") && (has("type") || has("label")) {
        Some(Format::AndOtp)
    } else if has("name") && (has("secret") || has("decryptedSecret") || has("secretSeed")) {
        Some(Format::AuthyJson)
    } else {
        None
    }
}

/// Reads accounts from `bytes`.
///
/// `format: None` detects the format from the content (the report says which was chosen); a file
/// no format recognises gives [`TransferError::Unrecognised`], naming the formats tried.
/// `password` is used only by encrypted files; an encrypted file without one gives
/// [`TransferError::PasswordRequired`].
pub fn import(
    bytes: &[u8],
    format: Option<Format>,
    password: Option<&str>,
) -> Result<ImportReport, TransferError> {
    let format = match format {
        Some(f) => f,
        None => detect(bytes).ok_or_else(|| {
            let shape = Shape::of(bytes);
            TransferError::Unrecognised { shape: shape.describe(), tried: names(&shape.formats()) }
        })?,
    };
    match format {
        Format::TesseraBackup => tessera_backup::import(bytes, password),
        Format::Aegis => aegis::import(bytes, password),
        Format::TwoFas => two_fas::import(bytes, password),
        Format::AndOtp => and_otp::import(bytes, password),
        Format::FreeOtpPlus => free_otp_plus::import(bytes),
        Format::GoogleMigration => google::import(bytes),
        Format::BitwardenJson => bitwarden::import_json(bytes),
        Format::BitwardenCsv => bitwarden::import_csv(bytes),
        Format::Ente => ente::import(bytes),
        Format::UriList => uri_list::import(bytes),
        Format::Proton => proton::import(bytes, password),
        Format::Authy => authy::import_xml(bytes, password),
        Format::AuthyJson => authy::import_json(bytes),
        Format::Stratum => stratum::import(bytes, password),
        Format::GoogleDb => database::import_google(bytes),
        Format::Microsoft => database::import_microsoft(bytes),
        Format::FreeOtp => free_otp::import(bytes, password),
        Format::Steam => steam::import(bytes),
        Format::Duo => duo::import(bytes),
        Format::LastPass => last_pass::import(bytes),
        Format::WinAuth => win_auth::import(bytes),
        Format::BattleNet => battle_net::import(bytes),
        Format::TotpAuthenticator => totp_authenticator::import(bytes, password),
        // Why not read it: the maintained binding, rusqlite's `bundled-sqlcipher` feature,
        // replaces the bundled SQLite of the whole build (Cargo unifies features, so the
        // server's database would change too) and links OpenSSL's libcrypto; no separate
        // maintained SQLCipher crate builds beside it. Refusing with advice is honest.
        Format::AuthenticatorPlus => Err(TransferError::Unsupported {
            format: Format::AuthenticatorPlus,
            reason: "its backup is an SQLCipher database, which Tessera does not read; export \
                     from Authenticator Plus to a URI list instead"
                .into(),
        }),
    }
}

/// An account the chosen export format cannot hold; it is listed, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexported {
    /// 0-based position in the accounts given to [`export`].
    pub index: usize,
    /// "issuer (account)".
    pub label: String,
    /// What the format cannot hold.
    pub reason: String,
}

/// The written file and the accounts it could not include.
pub struct Export {
    /// The format written.
    pub format: Format,
    /// The file contents (zeroized on drop: a plain export holds every secret).
    pub data: Zeroizing<Vec<u8>>,
    /// Accounts left out, with the reason.
    pub unexported: Vec<Unexported>,
    /// Labels ("issuer (account)") of exported accounts whose recovery codes the format has
    /// no place for (neither a field nor a note): they are not in the file.
    pub recovery_left_out: Vec<String>,
}

impl fmt::Debug for Export {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Export")
            .field("format", &self.format)
            .field("data", &format_args!("<redacted {} bytes>", self.data.len()))
            .field("unexported", &self.unexported)
            .field("recovery_left_out", &self.recovery_left_out)
            .finish()
    }
}

/// Writes `accounts` in `format`.
///
/// Encrypted formats encrypt when `password` is given (Aegis and 2FAS write plain JSON only
/// with `None`; the CLI and GUI ask for an explicit "plain" choice and warn before passing
/// `None`). Accounts the format cannot hold are listed in [`Export::unexported`].
///
/// Recovery codes: a Tessera backup carries them as codes; Aegis and Proton, which have a
/// note per account but no field for codes, get them appended to the note
/// ([`crate::vault::recovery::as_note`]); the other formats have no place for them, and the
/// accounts whose codes stay behind are named in [`Export::recovery_left_out`].
pub fn export(
    accounts: &[ImportedAccount],
    format: Format,
    password: Option<&str>,
) -> Result<Export, TransferError> {
    if password.is_some() && format.can_export() && !format.supports_password() {
        return Err(TransferError::CannotEncrypt { format });
    }
    let has_codes = accounts.iter().any(|a| !a.recovery.is_empty());
    let mut left_out = Vec::new();
    let noted: Vec<ImportedAccount>;
    let accounts = match format {
        Format::TesseraBackup => accounts,
        Format::Aegis | Format::Proton if has_codes => {
            noted = accounts
                .iter()
                .map(|a| {
                    let mut note = crate::vault::recovery::as_note(&a.note, &a.recovery);
                    // Moved, not copied: the buffer holding the codes is the note's now.
                    ImportedAccount {
                        note: std::mem::take(&mut *note),
                        recovery: Vec::new(),
                        ..a.clone()
                    }
                })
                .collect();
            &noted
        }
        _ => {
            left_out =
                accounts.iter().filter(|a| !a.recovery.is_empty()).map(|a| a.label()).collect();
            accounts
        }
    };
    let mut export = export_as(accounts, format, password)?;
    export.recovery_left_out = left_out;
    Ok(export)
}

fn export_as(
    accounts: &[ImportedAccount],
    format: Format,
    password: Option<&str>,
) -> Result<Export, TransferError> {
    match format {
        Format::TesseraBackup => tessera_backup::export(accounts, password),
        Format::Aegis => aegis::export(accounts, password),
        Format::TwoFas => two_fas::export(accounts, password),
        Format::GoogleMigration => Ok(google::export(accounts)),
        Format::UriList => Ok(uri_list::export(accounts)),
        Format::Proton => proton::export(accounts, password),
        Format::AndOtp
        | Format::FreeOtpPlus
        | Format::BitwardenJson
        | Format::BitwardenCsv
        | Format::Ente
        | Format::Authy
        | Format::AuthyJson
        | Format::Stratum
        | Format::GoogleDb
        | Format::Microsoft
        | Format::FreeOtp
        | Format::Steam
        | Format::Duo
        | Format::LastPass
        | Format::WinAuth
        | Format::BattleNet
        | Format::TotpAuthenticator
        | Format::AuthenticatorPlus => Err(TransferError::NotExportable { format }),
    }
}

#[cfg(test)]
pub(crate) mod vectors;

#[cfg(test)]
mod tests {
    use super::*;

    fn account(issuer: &str, name: &str, key: &[u8]) -> ImportedAccount {
        let secret = Secret::from_bytes(key.to_vec()).unwrap();
        ImportedAccount::new(issuer, name, OtpParams::totp(secret))
    }

    #[test]
    fn format_names_round_trip_and_aliases_parse() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>().unwrap(), format);
            assert_eq!(format.to_string(), format.name());
        }
        assert_eq!("TwoFAS".parse::<Format>().unwrap(), Format::TwoFas);
        assert_eq!("FreeOTP+".parse::<Format>().unwrap(), Format::FreeOtpPlus);
        let err = "keepass".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("\"keepass\"") && err.contains("aegis"), "{err}");
    }

    #[test]
    fn unrecognised_content_names_the_formats_it_was_tried_as() {
        let text = import(b"hello world", None, None).unwrap_err().to_string();
        assert!(text.starts_with("unrecognised file: a text file that matches none"), "{text}");
        for format in Shape::Text.formats() {
            assert!(text.contains(format.name()), "{text}");
        }
        assert!(!text.contains("aegis"), "{text}");
        let text = import(b"{\"a\":1}", None, None).unwrap_err().to_string();
        assert!(text.contains("a JSON object") && text.contains("aegis, 2fas"), "{text}");
        assert!(text.contains("proton") && text.contains("steam"), "{text}");
        let text = import(b"[{\"x\":1}]", None, None).unwrap_err().to_string();
        assert!(
            text.contains("a JSON array") && text.contains("andotp, authy-json, duo"),
            "{text}"
        );
        let text = import(b"<html/>", None, None).unwrap_err().to_string();
        assert!(text.contains("an XML document") && text.contains("authy"), "{text}");
        let text = import(&[0u8, 159, 146, 150], None, None).unwrap_err().to_string();
        assert!(text.contains("a binary file") && text.contains("stratum"), "{text}");
        assert!(matches!(import(b"", None, None), Err(TransferError::Unrecognised { .. })));
        assert!(matches!(import(b"[]", None, None), Err(TransferError::Unrecognised { .. })));
    }

    #[test]
    fn authenticator_plus_backups_are_refused_with_advice() {
        let bytes = vectors::fixture("authenticator-plus.zip");
        let err = import(&bytes, None, None).unwrap_err();
        assert!(matches!(
            err,
            TransferError::Unsupported { format: Format::AuthenticatorPlus, .. }
        ));
        assert!(err.to_string().contains("export from Authenticator Plus to a URI list"), "{err}");
    }

    #[test]
    fn every_format_has_a_shape_a_title_and_a_hint() {
        for format in Format::ALL {
            assert!(!format.shapes().is_empty(), "{format}");
            assert!(!format.hint().is_empty() && !format.title().is_empty(), "{format}");
        }
        assert_eq!(Format::ALL.iter().collect::<HashSet<_>>().len(), Format::ALL.len());
    }

    #[test]
    fn an_empty_import_says_why() {
        let mut report = ImportReport { format: Format::Duo, accounts: vec![], problems: vec![] };
        assert_eq!(
            report.why_empty().unwrap(),
            "the Duo Mobile accounts (JSON) file holds no accounts"
        );
        report.problems.push(ImportProblem {
            location: "entry 1".into(),
            issuer: None,
            reason: "unreadable secret".into(),
        });
        let why = report.why_empty().unwrap();
        assert!(
            why.contains("none of its 1 entry could be imported")
                && why.contains("unreadable secret"),
            "{why}"
        );
        let mut full = ImportReport {
            format: Format::Aegis,
            accounts: vec![account("GitHub", "alice", b"0123456789")],
            problems: vec![],
        };
        assert_eq!(full.why_empty(), None);
        let existing = account("GitHub", "alice", b"0123456789");
        full.skip_duplicates([(&existing.otp.secret, "GitHub", "alice")]);
        assert_eq!(full.why_empty().unwrap(), "its account is already in the vault");
    }

    #[test]
    fn duplicates_in_one_file_are_reported_not_imported() {
        let mut c = Collector::new(Format::Aegis);
        c.push("entry 1".into(), None, Ok(account("A", "x", b"key-one-1234")));
        c.push("entry 2".into(), None, Ok(account("A", "x", b"key-one-1234")));
        c.push("entry 3".into(), None, Ok(account("A", "y", b"key-one-1234")));
        let report = c.finish();
        assert_eq!(report.accounts.len(), 2);
        assert_eq!(report.problems.len(), 1);
        assert_eq!(report.problems[0].location, "entry 2");
        assert!(report.problems[0].reason.contains("duplicate"), "{:?}", report.problems);
    }

    #[test]
    fn duplicates_of_vault_accounts_are_skipped() {
        let existing = account("GitHub", "alice", b"0123456789");
        let mut report = ImportReport {
            format: Format::Aegis,
            accounts: vec![
                account("GitHub", "alice", b"0123456789"),
                account("GitHub", "bob", b"0123456789"),
                account("GitHub", "alice", b"9876543210"),
            ],
            problems: vec![],
        };
        report.skip_duplicates([(&existing.otp.secret, "GitHub", "alice")]);
        assert_eq!(report.accounts.len(), 2);
        assert_eq!(report.problems.len(), 1);
        assert_eq!(
            report.problems[0].to_string(),
            "GitHub (alice): already in the vault (same secret, issuer and account)"
        );
    }

    #[test]
    fn vault_entries_convert_both_ways() {
        for account in vectors::canonical() {
            let entry = account.clone().into_entry(1_700_000_000);
            assert_eq!(entry.created, 1_700_000_000);
            assert!(!entry.id.is_empty());
            let back = ImportedAccount::from(&entry);
            vectors::assert_same(&[back], &[account], vectors::Holds::ALL);
        }
    }

    #[test]
    fn export_debug_hides_the_data() {
        let mut a = account("GitHub", "alice", b"Hello!\xde\xad\xbe\xef");
        a.otp = OtpParams::new(OtpKind::Totp, a.otp.secret, Algorithm::Sha1, 6, 30, 0).unwrap();
        let out = export(&[a], Format::Aegis, None).unwrap();
        let shown = format!("{out:?}");
        assert!(shown.contains("redacted") && !shown.contains("JBSW"), "{shown}");
    }

    #[test]
    fn import_only_formats_refuse_export() {
        let err = export(&[], Format::AndOtp, None).unwrap_err();
        assert_eq!(err, TransferError::NotExportable { format: Format::AndOtp });
        assert!(err.to_string().contains("aegis"), "{err}");
    }

    /// Every committed fixture, with its format.
    const FIXTURES: [(&str, Format); 36] = [
        ("tessera-backup.tessera", Format::TesseraBackup),
        ("aegis-plain.json", Format::Aegis),
        ("aegis-encrypted.json", Format::Aegis),
        ("2fas-plain.2fas", Format::TwoFas),
        ("2fas-encrypted.2fas", Format::TwoFas),
        ("andotp-plain.json", Format::AndOtp),
        ("andotp-encrypted.json.aes", Format::AndOtp),
        ("freeotp-plus.json", Format::FreeOtpPlus),
        ("google-migration.txt", Format::GoogleMigration),
        ("bitwarden.json", Format::BitwardenJson),
        ("bitwarden.csv", Format::BitwardenCsv),
        ("ente-auth.txt", Format::Ente),
        ("uri-list.txt", Format::UriList),
        ("proton-plain.json", Format::Proton),
        ("proton-encrypted.json", Format::Proton),
        ("authy-plain.xml", Format::Authy),
        ("authy-encrypted.xml", Format::Authy),
        ("authy-desktop.json", Format::AuthyJson),
        ("stratum-plain.json", Format::Stratum),
        ("stratum-encrypted.bin", Format::Stratum),
        ("stratum-encrypted-legacy.bin", Format::Stratum),
        ("stratum-internal.db3", Format::Stratum),
        ("google-authenticator.db", Format::GoogleDb),
        ("microsoft-authenticator.db", Format::Microsoft),
        ("freeotp-tokens.xml", Format::FreeOtp),
        ("freeotp-external-backup.xml", Format::FreeOtp),
        ("freeotp-token-backup.xml", Format::FreeOtp),
        ("steam.maFile", Format::Steam),
        ("steam-app.json", Format::Steam),
        ("duo-accounts.json", Format::Duo),
        ("lastpass.json", Format::LastPass),
        ("winauth.txt", Format::WinAuth),
        ("battle-net.xml", Format::BattleNet),
        ("totp-authenticator.xml", Format::TotpAuthenticator),
        ("totp-authenticator.bin", Format::TotpAuthenticator),
        ("authenticator-plus.zip", Format::AuthenticatorPlus),
    ];

    #[test]
    fn every_fixture_is_detected_as_its_format() {
        for (name, format) in FIXTURES {
            assert_eq!(detect(&vectors::fixture(name)), Some(format), "{name}");
        }
        for format in Format::ALL {
            assert!(FIXTURES.iter().any(|(_, f)| *f == format), "{format} has a fixture");
        }
    }

    #[test]
    fn truncated_and_corrupted_fixtures_never_panic() {
        // A cheap, deterministic stand-in for the fuzz targets: every fixture cut at many
        // lengths and with bytes flipped must give an error or a report, never a panic.
        for (name, format) in FIXTURES {
            let bytes = vectors::fixture(name);
            // Each try of an encrypted file runs its key derivation: fewer cuts there.
            let tries = if name.contains("encrypted") { 6 } else { 60 };
            let step = (bytes.len() / tries).max(1);
            for cut in (0..bytes.len()).step_by(step) {
                let _ = import(&bytes[..cut], Some(format), Some(vectors::FIXTURE_PASSWORD));
                let _ = import(&bytes[..cut], None, None);
                let mut flipped = bytes.clone();
                flipped[cut] ^= 0x55;
                let _ = import(&flipped, Some(format), Some(vectors::FIXTURE_PASSWORD));
            }
        }
    }

    mod round_trip {
        use proptest::prelude::*;

        use super::super::{Format, ImportedAccount, export, import, vectors};
        use crate::otp::{Algorithm, OtpKind, OtpParams, Secret};

        /// Names as users type them: any characters (`:`, `%`, `#`, `&`, non-ASCII), without
        /// surrounding spaces (which the URI formats do not keep, by design).
        fn name() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9 :%#&+=?/@._\\-äöüßé日本語]{0,24}".prop_map(|s| s.trim().to_owned())
        }

        fn account() -> impl Strategy<Value = ImportedAccount> {
            (
                (name(), name(), proptest::collection::vec(any::<u8>(), 1..40)),
                (0..3u8, 0..3u8, 1..=10u8, 1..=300u64, any::<u32>()),
                (
                    name(),
                    proptest::option::of(name().prop_filter("non-empty", |g| !g.is_empty())),
                    any::<bool>(),
                ),
            )
                .prop_map(
                    |(
                        (issuer, acct, key),
                        (kind, alg, digits, period, counter),
                        (note, group, favourite),
                    )| {
                        let kind =
                            [OtpKind::Totp, OtpKind::Hotp, OtpKind::Steam][usize::from(kind)];
                        let alg = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
                            [usize::from(alg)];
                        let secret = Secret::from_bytes(key).unwrap();
                        let otp =
                            OtpParams::new(kind, secret, alg, digits, period, u64::from(counter))
                                .unwrap();
                        ImportedAccount {
                            note,
                            group,
                            favourite,
                            ..ImportedAccount::new(issuer, acct, otp)
                        }
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

            /// Whatever a format can hold survives export and import; the rest is listed.
            #[test]
            fn every_export_format_round_trips_what_it_holds(
                accounts in proptest::collection::vec(account(), 1..12)
            ) {
                for (format, holds) in [
                    (Format::Aegis, vectors::Holds::ALL),
                    (Format::TwoFas, vectors::Holds { note: false, group: true, favourite: false }),
                    (Format::UriList, vectors::Holds::OTP_ONLY),
                    (Format::GoogleMigration, vectors::Holds::OTP_ONLY),
                ] {
                    // otpauth URIs decode a literal "%XX" in a name a second time (uri's
                    // double-encoding rule, documented there): not a round trip for URI lists.
                    let percent = accounts.iter().any(|a| a.issuer.contains('%') || a.account.contains('%'));
                    if format == Format::UriList && percent {
                        continue;
                    }
                    let out = export(&accounts, format, None).unwrap();
                    let skipped: Vec<usize> = out.unexported.iter().map(|u| u.index).collect();
                    let kept: Vec<ImportedAccount> = accounts
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !skipped.contains(i))
                        .map(|(_, a)| a.clone())
                        .collect();
                    let report = import(&out.data, Some(format), None).unwrap();
                    // In-file duplicates (same secret, issuer, account) are dropped on import.
                    let mut unique: Vec<ImportedAccount> = Vec::new();
                    for a in kept {
                        if !unique.iter().any(|u| u.issuer == a.issuer && u.account == a.account && u.otp.secret.ct_eq(&a.otp.secret)) {
                            unique.push(a);
                        }
                    }
                    prop_assert!(report.problems.is_empty(), "{format}: {:?}", report.problems);
                    vectors::assert_same(&report.accounts, &unique, holds);
                }
            }
        }
    }

    fn with_codes() -> Vec<ImportedAccount> {
        let mut entry = account("Visma", "me@example.com", b"0123456789").into_entry(1);
        entry.note = "work".into();
        entry.add_recovery_codes("RC-AAAA-1111\nRC-BBBB-2222", 2).unwrap();
        entry.mark_recovery_code(1, true, 3).unwrap();
        vec![ImportedAccount::from(&entry), account("Plain", "you", b"9876543210")]
    }

    #[test]
    fn aegis_and_proton_exports_carry_recovery_codes_in_the_note() {
        for format in [Format::Aegis, Format::Proton] {
            let out = export(&with_codes(), format, None).unwrap();
            assert!(out.recovery_left_out.is_empty(), "{format}");
            let report = import(&out.data, Some(format), None).unwrap();
            let visma = report.accounts.iter().find(|a| a.issuer == "Visma").unwrap();
            assert_eq!(
                visma.note, "work\n\nRecovery codes:\nRC-AAAA-1111 (used)\nRC-BBBB-2222",
                "{format}"
            );
            let plain = report.accounts.iter().find(|a| a.issuer == "Plain").unwrap();
            assert_eq!(plain.note, "", "{format}: an account without codes keeps its note");
        }
    }

    #[test]
    fn formats_without_a_note_name_the_accounts_whose_codes_stay_behind() {
        for format in [Format::UriList, Format::GoogleMigration, Format::TwoFas] {
            let out = export(&with_codes(), format, None).unwrap();
            assert_eq!(out.recovery_left_out, ["Visma (me@example.com)"], "{format}");
            let text = String::from_utf8_lossy(&out.data);
            assert!(!text.contains("RC-AAAA"), "{format}: no code in the file");
        }
    }

    #[test]
    fn a_tessera_backup_export_carries_the_codes_as_codes() {
        let accounts = with_codes();
        let out = export(&accounts, Format::TesseraBackup, Some("correct horse")).unwrap();
        assert!(out.recovery_left_out.is_empty());
        let report = import(&out.data, Some(Format::TesseraBackup), Some("correct horse")).unwrap();
        let visma = report.accounts.iter().find(|a| a.issuer == "Visma").unwrap();
        assert_eq!(visma.recovery, accounts[0].recovery);
        assert_eq!(visma.note, "work", "codes are not copied into the note");
    }

    #[test]
    fn problems_display_location_issuer_and_reason() {
        let p = ImportProblem {
            location: "entry 3".into(),
            issuer: Some("GitHub".into()),
            reason: "bad".into(),
        };
        assert_eq!(p.to_string(), "entry 3 (GitHub): bad");
        let p = ImportProblem { location: "line 7".into(), issuer: None, reason: "bad".into() };
        assert_eq!(p.to_string(), "line 7: bad");
    }
}
