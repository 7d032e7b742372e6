//! An account's recovery codes: the one-time "emergency codes" a service hands out when
//! two-factor authentication is set up ("Save this code very carefully ... You will absolutely
//! need this code if you ever lose your phone"), kept in the vault beside the account.
//!
//! This module owns the one rule both front ends follow: how pasted text becomes codes
//! ([`parse_pasted`]), how many and how long codes may be ([`MAX_CODES`], [`MAX_CODE_CHARS`]),
//! how a code is marked used, and how codes are written into another app's note field
//! ([`as_note`]) when an export format has no field of its own for them.
//!
//! Secrets: a [`RecoveryCode`] zeroizes its text on drop and never shows it in `Debug`;
//! [`RecoveryError`] names positions and counts, never a code. *Showing* codes needs the
//! vault password again (or, for a vault protected by the OS keyring only, an explicit
//! confirmation): [`RevealCheck`] says which, and the front ends check the password with
//! `Vault::verify_password` (the decrypted vault is already in their memory).
//!
//! Storage: codes travel in the vault's version-3 content (layout 2, see `content.rs`) and
//! in Tessera backups, keyed by the account's id; an account without codes costs nothing, and
//! a vault without any codes is still written in layout 1, which older builds read.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Entry, VaultInfo};

/// The most codes one account keeps (services hand out 1 to 16; a bound keeps a mistaken
/// paste of a whole document out of the vault and every backup).
pub const MAX_CODES: usize = 64;
/// The longest code accepted, in characters (after spaces are tidied).
pub const MAX_CODE_CHARS: usize = 128;

/// One recovery code and whether it was used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCode {
    /// The code as the service wrote it (tidied: see [`parse_pasted`]).
    pub code: Zeroizing<String>,
    /// When the user marked it used (Unix seconds); `None` while it is still good.
    pub used: Option<u64>,
    /// When it was added (Unix seconds).
    pub added: u64,
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCode")
            .field("code", &"<redacted>")
            .field("used", &self.used)
            .field("added", &self.added)
            .finish()
    }
}

/// Why pasted codes, or a change to them, were refused. Never contains a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// The paste held no code (only blank lines).
    #[error("no recovery code was pasted (put one code on each line)")]
    Empty,
    /// A line is longer than [`MAX_CODE_CHARS`].
    #[error("line {line} is {chars} characters long; a recovery code has at most {max}")]
    TooLong {
        /// 1-based line of the paste.
        line: usize,
        /// Its length after tidying.
        chars: usize,
        /// [`MAX_CODE_CHARS`].
        max: usize,
    },
    /// A line holds a control character (a tab is tidied into a space, the rest refused).
    #[error("line {line} holds a control character at position {position}")]
    ControlCharacter {
        /// 1-based line of the paste.
        line: usize,
        /// 1-based character position in the tidied line.
        position: usize,
    },
    /// The account would hold more than [`MAX_CODES`].
    #[error("an account keeps at most {max} recovery codes ({have} kept, {adding} pasted)")]
    TooMany {
        /// Codes the account has.
        have: usize,
        /// New codes in the paste.
        adding: usize,
        /// [`MAX_CODES`].
        max: usize,
    },
    /// No code at this position.
    #[error("the account has no recovery code number {number} (it has {count})")]
    NoSuchCode {
        /// 1-based number asked for.
        number: usize,
        /// How many the account has.
        count: usize,
    },
}

/// What the user proves before an account's recovery codes are shown (the one rule of the
/// app and the command line).
///
/// A vault with a password asks for it again, even when it was unlocked through the OS
/// keyring: the codes outlive every one-time code, so showing them is worth a second proof
/// (as showing an account's QR code is). A vault protected by the OS keyring alone has no
/// secret the user could type: the session that unlocked the keyring is the proof, and an
/// explicit confirmation (a button in the app, the explicit `--show` in the command line)
/// keeps a stray click or command from putting the codes on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevealCheck {
    /// The vault password, checked against the password slot.
    Password,
    /// An explicit confirmation (keyring-only vault).
    Confirmation,
}

impl RevealCheck {
    /// Returns the check for a vault with these slots.
    pub fn for_vault(info: &VaultInfo) -> Self {
        if info.has_password { Self::Password } else { Self::Confirmation }
    }
}

/// What adding a paste did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Added {
    /// New codes kept.
    pub added: usize,
    /// Codes the account already had (or that the paste repeated), not added twice.
    pub repeated: usize,
}

/// Turns pasted text into codes: one code per line; spaces at either end are dropped, runs of
/// spaces or tabs inside a code become one space (services print codes in groups, "1234 5678",
/// and accept them either way, so the grouping is kept as the service wrote it); blank lines
/// are skipped; a carriage return (Windows line ends) is a line end. Codes longer than
/// [`MAX_CODE_CHARS`] and control characters are refused with their line.
pub fn parse_pasted(text: &str) -> Result<Vec<Zeroizing<String>>, RecoveryError> {
    let mut codes = Vec::new();
    for (index, line) in text.split(['\n', '\r']).enumerate() {
        let line_number = index + 1;
        let mut code = Zeroizing::new(String::with_capacity(line.len()));
        for word in line.split([' ', '\t', '\u{a0}']).filter(|w| !w.is_empty()) {
            if !code.is_empty() {
                code.push(' ');
            }
            code.push_str(word);
        }
        if code.is_empty() {
            continue;
        }
        if let Some(position) = code.chars().position(char::is_control) {
            return Err(RecoveryError::ControlCharacter {
                line: line_number,
                position: position + 1,
            });
        }
        let chars = code.chars().count();
        if chars > MAX_CODE_CHARS {
            return Err(RecoveryError::TooLong { line: line_number, chars, max: MAX_CODE_CHARS });
        }
        codes.push(code);
    }
    if codes.is_empty() {
        return Err(RecoveryError::Empty);
    }
    Ok(codes)
}

impl Entry {
    /// Adds the codes in `pasted` (see [`parse_pasted`]) at `now`; codes the account already
    /// has are counted, not added twice. On error nothing changes.
    pub fn add_recovery_codes(&mut self, pasted: &str, now: u64) -> Result<Added, RecoveryError> {
        let codes = parse_pasted(pasted)?;
        let mut fresh: Vec<Zeroizing<String>> = Vec::with_capacity(codes.len());
        let mut repeated = 0;
        for code in codes {
            if self.recovery.iter().any(|c| c.code == code) || fresh.contains(&code) {
                repeated += 1;
            } else {
                fresh.push(code);
            }
        }
        if self.recovery.len() + fresh.len() > MAX_CODES {
            return Err(RecoveryError::TooMany {
                have: self.recovery.len(),
                adding: fresh.len(),
                max: MAX_CODES,
            });
        }
        let added = fresh.len();
        self.recovery.extend(fresh.into_iter().map(|code| RecoveryCode {
            code,
            used: None,
            added: now,
        }));
        Ok(Added { added, repeated })
    }

    /// Marks code `number` (1-based, as lists show them) used at `now`, or unused again.
    pub fn mark_recovery_code(
        &mut self,
        number: usize,
        used: bool,
        now: u64,
    ) -> Result<(), RecoveryError> {
        let count = self.recovery.len();
        let code = number
            .checked_sub(1)
            .and_then(|i| self.recovery.get_mut(i))
            .ok_or(RecoveryError::NoSuchCode { number, count })?;
        code.used = if used { code.used.or(Some(now)) } else { None };
        Ok(())
    }

    /// Removes code `number` (1-based).
    pub fn remove_recovery_code(&mut self, number: usize) -> Result<(), RecoveryError> {
        let count = self.recovery.len();
        if number == 0 || number > count {
            return Err(RecoveryError::NoSuchCode { number, count });
        }
        self.recovery.remove(number - 1);
        Ok(())
    }

    /// Returns how many recovery codes are not marked used.
    pub fn unused_recovery_codes(&self) -> usize {
        self.recovery.iter().filter(|c| c.used.is_none()).count()
    }
}

/// Appends `codes` to `note` for an export format whose accounts have a note but no field for
/// recovery codes (Aegis, Proton): a blank line, "Recovery codes:", then one code per line,
/// used ones marked "(used)". An empty list leaves the note as it is. The words are English on
/// purpose: the note leaves Tessera, and its reader may not share the user's language.
pub fn as_note(note: &str, codes: &[RecoveryCode]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(note.to_owned());
    if codes.is_empty() {
        return out;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str("Recovery codes:");
    for code in codes {
        out.push('\n');
        out.push_str(&code.code);
        if code.used.is_some() {
            out.push_str(" (used)");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::{OtpParams, Secret};

    fn entry() -> Entry {
        let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        Entry::new("Visma".into(), "me@example.com".into(), OtpParams::totp(secret), 1)
    }

    fn texts(entry: &Entry) -> Vec<String> {
        entry.recovery.iter().map(|c| c.code.to_string()).collect()
    }

    #[test]
    fn pasted_codes_are_one_per_line_with_spaces_tidied() {
        let pasted = "  ABCD 1234\r\n\n\tEFGH   5678  \r\n   \nIJKL-9012";
        let codes: Vec<String> =
            parse_pasted(pasted).unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(codes, ["ABCD 1234", "EFGH 5678", "IJKL-9012"]);
    }

    #[test]
    fn a_paste_of_blank_lines_a_long_line_or_a_control_character_is_refused_by_line() {
        assert_eq!(parse_pasted(" \n\t\n").unwrap_err(), RecoveryError::Empty);
        let long = format!("ok\n{}", "x".repeat(MAX_CODE_CHARS + 1));
        assert_eq!(
            parse_pasted(&long).unwrap_err(),
            RecoveryError::TooLong { line: 2, chars: MAX_CODE_CHARS + 1, max: MAX_CODE_CHARS }
        );
        assert_eq!(
            parse_pasted("ab\u{7}cd").unwrap_err(),
            RecoveryError::ControlCharacter { line: 1, position: 3 }
        );
    }

    #[test]
    fn errors_and_debug_output_never_show_a_code() {
        let mut entry = entry();
        entry.add_recovery_codes("SECRET-CODE-1\nSECRET-CODE-2", 5).unwrap();
        let debug = format!("{entry:?} {:?}", entry.recovery);
        assert!(!debug.contains("SECRET-CODE"), "{debug}");
        let long = format!("SECRET-CODE-{}", "9".repeat(MAX_CODE_CHARS));
        let error = parse_pasted(&long).unwrap_err().to_string();
        assert!(!error.contains("SECRET-CODE"), "{error}");
    }

    #[test]
    fn adding_skips_codes_the_account_has_and_a_refused_paste_changes_nothing() {
        let mut entry = entry();
        let added = entry.add_recovery_codes("AAAA\nBBBB\nAAAA", 10).unwrap();
        assert_eq!(added, Added { added: 2, repeated: 1 });
        let added = entry.add_recovery_codes("BBBB\nCCCC", 20).unwrap();
        assert_eq!(added, Added { added: 1, repeated: 1 });
        assert_eq!(texts(&entry), ["AAAA", "BBBB", "CCCC"]);
        assert_eq!(entry.recovery[2].added, 20);

        let many: String = (0..MAX_CODES).map(|i| format!("code-{i}\n")).collect();
        let error = entry.add_recovery_codes(&many, 30).unwrap_err();
        assert_eq!(error, RecoveryError::TooMany { have: 3, adding: MAX_CODES, max: MAX_CODES });
        assert_eq!(texts(&entry), ["AAAA", "BBBB", "CCCC"], "nothing added");
    }

    #[test]
    fn codes_are_marked_used_and_unused_by_number() {
        let mut entry = entry();
        entry.add_recovery_codes("AAAA\nBBBB", 10).unwrap();
        entry.mark_recovery_code(2, true, 50).unwrap();
        entry.mark_recovery_code(2, true, 60).unwrap();
        assert_eq!(entry.recovery[1].used, Some(50), "the first use is kept");
        assert_eq!(entry.unused_recovery_codes(), 1);
        entry.mark_recovery_code(2, false, 70).unwrap();
        assert_eq!(entry.unused_recovery_codes(), 2);
        assert_eq!(
            entry.mark_recovery_code(3, true, 80).unwrap_err(),
            RecoveryError::NoSuchCode { number: 3, count: 2 }
        );
        assert!(entry.mark_recovery_code(0, true, 80).is_err());
        entry.remove_recovery_code(1).unwrap();
        assert_eq!(texts(&entry), ["BBBB"]);
        assert!(entry.remove_recovery_code(2).is_err());
    }

    #[test]
    fn codes_are_appended_to_an_exported_note() {
        let mut entry = entry();
        entry.add_recovery_codes("AAAA\nBBBB", 10).unwrap();
        entry.mark_recovery_code(1, true, 20).unwrap();
        assert_eq!(
            as_note("work laptop", &entry.recovery).as_str(),
            "work laptop\n\nRecovery codes:\nAAAA (used)\nBBBB"
        );
        assert_eq!(as_note("", &entry.recovery).as_str(), "Recovery codes:\nAAAA (used)\nBBBB");
        assert_eq!(as_note("just a note", &[]).as_str(), "just a note");
    }
}
