//! The one rule for new vault and backup passwords, used by the CLI and the GUI alike.
//!
//! A vault file can be copied off the machine and attacked offline, where only Argon2id's
//! cost slows the guessing: at ~0.3 s per guess on one core, all 10,000 four-digit PINs fall
//! in under an hour, a random 8-character lower-case password takes ~600,000 core-years. So:
//!
//! - where a **keyring slot** also protects the master key, a short PIN of at least
//!   [`MIN_PIN_CHARS`] characters is accepted as a convenience for typing: day to day the
//!   keyring unlocks the vault, and the PIN is the fallback. Be honest about what that buys:
//!   the PIN's slot is in the file, so *a copy of the file* still falls to offline guessing
//!   of the PIN. The front ends say so and recommend a password when copies of the file may
//!   leave the machine (sync folders, disk backups);
//! - everywhere else (a vault with a password only, a backup file) the password must have at
//!   least [`MIN_PASSWORD_CHARS`] characters and must not be digits only.
//!
//! The strength hint is an estimate from length and character classes, not a dictionary
//! check (written here because the dictionary-based estimators weigh megabytes of word lists
//! that every `tessera code` run would load): it tells "guessable" apart from "long and
//! mixed", and the enforced rule stays the length rule above.

/// Shortest PIN accepted where a keyring slot also protects the key.
pub const MIN_PIN_CHARS: usize = 4;
/// Shortest password accepted where nothing else protects the key (vault or backup file).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Where a new password will protect a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordUse {
    /// The vault's password slot, with a keyring slot beside it.
    VaultWithKeyring,
    /// The vault's only slot.
    VaultAlone,
    /// A backup or export file, which travels without any keyring.
    File,
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Nothing was typed.
    #[error("the password is empty")]
    Empty,
    /// Shorter than the minimum for its use.
    #[error("the password is too short: use at least {min} characters")]
    TooShort {
        /// The minimum for this use.
        min: usize,
    },
    /// Digits only, where nothing but the password protects the key.
    #[error(
        "a PIN (digits only) is allowed only while the OS keyring also protects the vault; \
         use a password with letters"
    )]
    PinNeedsKeyring,
}

/// How hard a password is to guess offline, roughly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Falls to offline guessing quickly (under ~40 bits).
    Weak,
    /// Acceptable (~40–60 bits).
    Fair,
    /// Long and varied (60 bits and more).
    Strong,
}

impl Strength {
    /// Returns a one-line hint for the user.
    pub fn hint(self) -> &'static str {
        match self {
            Self::Weak => "weak: a longer password or a few random words would be much safer",
            Self::Fair => "fair: adding a word or a few characters would make it strong",
            Self::Strong => "strong",
        }
    }
}

/// Checks a new password for `usage`; returns its strength when accepted.
pub fn check_new_password(password: &str, usage: PasswordUse) -> Result<Strength, PasswordError> {
    let chars = password.chars().count();
    if chars == 0 {
        return Err(PasswordError::Empty);
    }
    let digits_only = password.chars().all(|c| c.is_ascii_digit());
    match usage {
        PasswordUse::VaultWithKeyring if chars < MIN_PIN_CHARS => {
            return Err(PasswordError::TooShort { min: MIN_PIN_CHARS });
        }
        PasswordUse::VaultWithKeyring => {}
        PasswordUse::VaultAlone | PasswordUse::File if digits_only => {
            return Err(PasswordError::PinNeedsKeyring);
        }
        PasswordUse::VaultAlone | PasswordUse::File if chars < MIN_PASSWORD_CHARS => {
            return Err(PasswordError::TooShort { min: MIN_PASSWORD_CHARS });
        }
        PasswordUse::VaultAlone | PasswordUse::File => {}
    }
    Ok(strength(password))
}

/// Estimates the strength from the character classes used and the number of distinct
/// characters (so that "aaaaaaaaaaaa" does not count as twelve random letters).
pub fn strength(password: &str) -> Strength {
    let has = |class: fn(&char) -> bool| password.chars().any(|c| class(&c));
    let mut alphabet = 0u32;
    if has(char::is_ascii_lowercase) {
        alphabet += 26;
    }
    if has(char::is_ascii_uppercase) {
        alphabet += 26;
    }
    if has(char::is_ascii_digit) {
        alphabet += 10;
    }
    if password.chars().any(|c| !c.is_ascii_alphanumeric()) {
        alphabet += 33;
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let length = password.chars().count().min(distinct.len() * 2);
    // Bits = length × log2(alphabet).
    let bits = length as f64 * f64::from(alphabet.max(1)).log2();
    if bits < 40.0 {
        Strength::Weak
    } else if bits < 60.0 {
        Strength::Fair
    } else {
        Strength::Strong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_accepted_only_beside_a_keyring_slot() {
        assert_eq!(check_new_password("2468", PasswordUse::VaultWithKeyring), Ok(Strength::Weak));
        assert_eq!(
            check_new_password("2468", PasswordUse::VaultAlone),
            Err(PasswordError::PinNeedsKeyring)
        );
        assert_eq!(
            check_new_password("24681357", PasswordUse::File),
            Err(PasswordError::PinNeedsKeyring)
        );
        assert_eq!(
            check_new_password("123", PasswordUse::VaultWithKeyring),
            Err(PasswordError::TooShort { min: MIN_PIN_CHARS })
        );
    }

    #[test]
    fn a_vault_alone_or_a_file_needs_a_real_password() {
        for usage in [PasswordUse::VaultAlone, PasswordUse::File] {
            assert_eq!(check_new_password("", usage), Err(PasswordError::Empty));
            assert_eq!(
                check_new_password("abc1", usage),
                Err(PasswordError::TooShort { min: MIN_PASSWORD_CHARS })
            );
            assert!(check_new_password("correct horse battery", usage).is_ok());
        }
    }

    #[test]
    fn strength_grows_with_length_and_variety_not_repetition() {
        assert_eq!(strength("password"), Strength::Weak);
        assert_eq!(strength("aaaaaaaaaaaaaaaaaaaa"), Strength::Weak);
        assert_eq!(strength("Tr0ub4dor&3x"), Strength::Strong);
        assert_eq!(strength("correct horse battery staple"), Strength::Strong);
        assert_eq!(strength("kitchen1"), Strength::Fair);
    }
}
