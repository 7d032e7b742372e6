//! Where the vault is and how to unlock or create it, for every command.
//!
//! Unlock order: the OS keyring if the vault has a keyring slot and the secret store answers;
//! else a password from `--password-file`, `TESSERA_PASSWORD_FILE`, or an interactive prompt on
//! a terminal; otherwise a clear error. `TESSERA_KEYRING=off` skips the keyring entirely (for
//! automation, kiosks and tests that must not touch the user's secret store).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use tessera_core::vault::{
    self, BackupOutcome, Protection, SealedVault, Unlock, Vault, VaultContent, VaultError,
    VaultOptions,
};
use zeroize::Zeroizing;

use super::{CliError, GlobalArgs};

/// The resolved vault location and unlock sources for one command.
pub struct Session {
    path: PathBuf,
    password_file: Option<PathBuf>,
    keyring: bool,
}

impl Session {
    /// Reads `TESSERA_HOME`, `TESSERA_PASSWORD_FILE` and `TESSERA_KEYRING`.
    pub fn from_env(global: &GlobalArgs) -> Result<Self, CliError> {
        let path = vault::default_path()?;
        let password_file = global
            .password_file
            .clone()
            .or_else(|| std::env::var_os("TESSERA_PASSWORD_FILE").map(PathBuf::from));
        let keyring = !matches!(
            std::env::var("TESSERA_KEYRING").as_deref().map(str::to_ascii_lowercase).as_deref(),
            Ok("off" | "0" | "no" | "false")
        );
        Ok(Self { path, password_file, keyring })
    }

    /// Returns the vault file's path.
    #[allow(dead_code)] // part of the session's API; no command needs it yet
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns true if a vault file exists.
    pub fn vault_exists(&self) -> bool {
        self.path.exists()
    }

    /// Opens the existing vault for changes (takes the vault's lock).
    pub fn open(&self) -> Result<Vault, CliError> {
        let sealed = self.sealed()?;
        self.unlock(&sealed, |unlock| sealed.open(unlock, VaultOptions::default()))
    }

    /// Decrypts the existing vault for display only: no lock is taken, so this neither waits
    /// for nor blocks another tessera process.
    pub fn read(&self) -> Result<VaultContent, CliError> {
        let sealed = self.sealed()?;
        let options = VaultOptions::default();
        self.unlock(&sealed, |unlock| sealed.decrypt(unlock, &options))
    }

    /// Reads and verifies the vault file once; every unlock attempt reuses it.
    fn sealed(&self) -> Result<SealedVault, CliError> {
        match SealedVault::read(&self.path) {
            Ok(sealed) => Ok(sealed),
            Err(VaultError::NotFound { .. }) => {
                Err(CliError::new(format!("no vault at {}", self.path.display()))
                    .hint("add an account with `tessera add` or run `tessera init`"))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Tries the keyring, then a password, with `attempt` doing the actual unlock.
    fn unlock<T>(
        &self,
        sealed: &SealedVault,
        attempt: impl Fn(&Unlock) -> Result<T, VaultError>,
    ) -> Result<T, CliError> {
        let info = sealed.info();
        if info.has_keyring && self.keyring {
            match attempt(&Unlock::Keyring) {
                Ok(value) => return Ok(value),
                // The secret store did not answer or lacks our key: fall back to a password.
                Err(VaultError::KeyringUnavailable { .. }) if info.has_password => {}
                Err(err) => return Err(err.into()),
            }
        }
        if !info.has_password {
            return Err(CliError::new(
                "the vault is protected only by the OS keyring, which did not answer",
            )
            .hint(
                "unlock your desktop session's keyring (or start its secret service) and try again",
            ));
        }
        let password = self.password(false)?;
        Ok(attempt(&Unlock::Password(password))?)
    }

    /// Opens the vault, creating it first if there is none (the first `add`).
    pub fn open_or_create(&self, out: &mut dyn Write) -> Result<Vault, CliError> {
        if self.vault_exists() { self.open() } else { self.create(false, out) }
    }

    /// `tessera init`: creates the vault, refusing to replace one.
    pub fn init(&self, no_keyring: bool, out: &mut dyn Write) -> Result<(), CliError> {
        if self.vault_exists() {
            return Err(CliError::new(format!(
                "a vault already exists at {}",
                self.path.display()
            ))
            .hint("the existing vault was left untouched"));
        }
        self.create(no_keyring, out).map(drop)
    }

    fn create(&self, no_keyring: bool, out: &mut dyn Write) -> Result<Vault, CliError> {
        let explicit_password = self.password_from_file()?;
        if self.keyring && !no_keyring {
            let mut protections = vec![Protection::Keyring];
            if let Some(pw) = &explicit_password {
                protections.push(Protection::Password(pw.clone()));
            }
            match Vault::create(&self.path, &protections) {
                Ok(vault) => {
                    let _ = writeln!(
                        out,
                        "created a vault at {} protected by the OS keyring{}",
                        self.path.display(),
                        if explicit_password.is_some() { " and a password" } else { "" }
                    );
                    return Ok(vault);
                }
                // No secret store, or only one that forgets keys at reboot: use a password.
                Err(
                    VaultError::KeyringUnavailable { .. } | VaultError::KeyringNotDurable { .. },
                ) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let password = match explicit_password {
            Some(pw) => pw,
            None => self.password(true)?,
        };
        let vault = Vault::create(&self.path, &[Protection::Password(password)])?;
        let _ = writeln!(out, "created a vault at {} protected by a password", self.path.display());
        Ok(vault)
    }

    /// Returns the password from the password file, if one is configured.
    fn password_from_file(&self) -> Result<Option<Zeroizing<String>>, CliError> {
        let Some(file) = &self.password_file else { return Ok(None) };
        read_password_file(file).map(Some)
    }

    fn password(&self, confirm: bool) -> Result<Zeroizing<String>, CliError> {
        if let Some(pw) = self.password_from_file()? {
            return Ok(pw);
        }
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new("the vault needs a password and none was given").hint(
                "pass --password-file FILE or set TESSERA_PASSWORD_FILE (or run on a terminal)",
            ));
        }
        let prompt = if confirm { "New vault password: " } else { "Vault password: " };
        let first = Zeroizing::new(
            rpassword::prompt_password(prompt)
                .map_err(|err| CliError::new(format!("cannot read the password: {err}")))?,
        );
        if first.is_empty() {
            return Err(CliError::new("the password is empty"));
        }
        if confirm {
            let second = Zeroizing::new(
                rpassword::prompt_password("Repeat the password: ")
                    .map_err(|err| CliError::new(format!("cannot read the password: {err}")))?,
            );
            if *first != *second {
                return Err(CliError::new("the two passwords differ; no vault was created"));
            }
        }
        Ok(first)
    }
}

/// Reads a password from the first line of `file` (a trailing newline from `echo` is not part of
/// it); also used for the import and export file passwords.
pub fn read_password_file(file: &Path) -> Result<Zeroizing<String>, CliError> {
    let raw = Zeroizing::new(std::fs::read_to_string(file).map_err(|err| {
        CliError::new(format!("cannot read the password file {}: {err}", file.display()))
    })?);
    let first = raw.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(CliError::new(format!("the password file {} is empty", file.display())));
    }
    Ok(Zeroizing::new(first.to_owned()))
}

/// Asks for a password on the terminal (twice when `confirm`); `None` when stdin is not a
/// terminal, so scripts get a clear error instead of a hang.
pub fn prompt_password(prompt: &str, confirm: bool) -> Result<Option<Zeroizing<String>>, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|err| CliError::new(format!("cannot read the password: {err}")))
    };
    let first = read(prompt)?;
    if first.is_empty() {
        return Err(CliError::new("the password is empty"));
    }
    if confirm && *read("Repeat the password: ")? != *first {
        return Err(CliError::new("the two passwords differ"));
    }
    Ok(Some(first))
}

/// Saves the vault and reports the automatic backup's outcome on stderr: a failed backup is
/// a warning, never a failed command (the vault itself was saved).
pub fn save(vault: &mut Vault) -> Result<(), VaultError> {
    vault.save()?;
    report_backup(vault);
    Ok(())
}

/// Reports a failed automatic backup of the save just made as a warning on stderr.
pub fn report_backup(vault: &Vault) {
    if let Some(BackupOutcome::Failed(reason)) = vault.last_backup() {
        eprintln!("warning: the vault was saved, but the automatic backup failed: {reason}");
        eprintln!(
            "hint: older backups were left untouched; check the folder or run `tessera backup`"
        );
    }
}
