//! Shared secrets: lenient base32 input, zeroized storage, redacted `Debug`.
//!
//! Users paste keys from web pages ("jbsw y3dp ehpk 3pxp"), so parsing ignores spaces, tabs,
//! newlines and hyphens, accepts lower case and tolerates missing or present `=` padding. What
//! it cannot repair it reports precisely (which character, where) without ever echoing the rest
//! of the key.

use std::fmt;
use std::sync::OnceLock;

use data_encoding::{BASE32_NOPAD, Encoding};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

/// Fewest bits accepted for a key typed or scanned by a user.
///
/// RFC 4226 asks for 128 bits, but 80-bit keys (16 base32 characters) are what most services
/// hand out, so 80 is the floor. Imported data may be shorter; see [`Secret::from_bytes`].
pub const MIN_KEY_BITS: usize = 80;

/// Why a secret key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The key was empty (or only spaces).
    #[error("the secret key is empty")]
    Empty,
    /// A character outside the base32 alphabet appeared.
    #[error(
        "the secret key has an invalid character {shown} at position {position} \
         (only letters A-Z and digits 2-7 are allowed)"
    )]
    InvalidCharacter {
        /// The offending character, quoted for display (`'1'`, `'!'`, `U+00E9`).
        shown: String,
        /// 1-based position in the text as the user entered it.
        position: usize,
    },
    /// The number of base32 characters cannot encode whole bytes.
    #[error(
        "the secret key has {length} characters, which is not a valid base32 length \
         (a character is probably missing or extra)"
    )]
    InvalidLength {
        /// Number of base32 characters after removing spaces, hyphens and padding.
        length: usize,
    },
    /// The key decodes to fewer than [`MIN_KEY_BITS`] bits.
    #[error("the secret key is too short: {bits} bits, at least {min} expected")]
    TooShort {
        /// Bits the key holds.
        bits: usize,
        /// The minimum, [`MIN_KEY_BITS`].
        min: usize,
    },
}

/// A shared HMAC key. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

/// Base32 (RFC 4648) without padding and without the trailing-bits check: a 26-character key
/// has two spare bits that some generators leave non-zero, and rejecting such a key would lose
/// an account for no security gain.
///
/// Built once per process: building an `Encoding` from a specification costs more than
/// decoding a key, and opening a vault decodes one key per account.
fn lenient_base32() -> &'static Encoding {
    static LENIENT: OnceLock<Encoding> = OnceLock::new();
    LENIENT.get_or_init(|| {
        let mut spec = BASE32_NOPAD.specification();
        spec.check_trailing_bits = false;
        spec.encoding().expect("invariant: base32 specification is valid")
    })
}

impl Secret {
    /// Wraps raw key bytes (for example from a Google migration payload). Any non-empty length
    /// is accepted: imported accounts must never be refused for having a short key.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretError> {
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// Parses a base32 key as users paste it and requires at least [`MIN_KEY_BITS`] bits.
    pub fn parse_base32(text: &str) -> Result<Self, SecretError> {
        let secret = Self::parse_base32_any_length(text)?;
        let bits = secret.0.len() * 8;
        if bits < MIN_KEY_BITS {
            return Err(SecretError::TooShort { bits, min: MIN_KEY_BITS });
        }
        Ok(secret)
    }

    /// Parses a base32 key leniently, accepting any non-empty length (for imported files, whose
    /// accounts already work elsewhere).
    pub fn parse_base32_any_length(text: &str) -> Result<Self, SecretError> {
        // Fast path for the canonical form (what the vault stores): nothing to clean, so
        // decode the text as is; the result is the same as the general path below.
        if !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        {
            let bytes = lenient_base32()
                .decode(text.as_bytes())
                .map_err(|_| SecretError::InvalidLength { length: text.len() })?;
            return Self::from_bytes(bytes);
        }
        let mut clean = Zeroizing::new(String::with_capacity(text.len()));
        let mut padding_seen = false;
        for (index, ch) in text.chars().enumerate() {
            match ch {
                ' ' | '\t' | '\n' | '\r' | '-' => {}
                '=' => padding_seen = true,
                'a'..='z' | 'A'..='Z' | '2'..='7' if !padding_seen => {
                    clean.push(ch.to_ascii_uppercase());
                }
                _ => {
                    return Err(SecretError::InvalidCharacter {
                        shown: show_char(ch),
                        position: index + 1,
                    });
                }
            }
        }
        if clean.is_empty() {
            return Err(SecretError::Empty);
        }
        let bytes = lenient_base32()
            .decode(clean.as_bytes())
            .map_err(|_| SecretError::InvalidLength { length: clean.len() })?;
        Self::from_bytes(bytes)
    }

    /// Returns the key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Returns the number of key bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns true if the key has no bytes (never true for a constructed `Secret`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the key as upper-case base32 without padding, in a zeroizing buffer.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE32_NOPAD.encode(&self.0))
    }

    /// Compares two keys in time independent of where they differ.
    pub fn ct_eq(&self, other: &Self) -> bool {
        if self.0.len() != other.0.len() {
            return false;
        }
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

fn show_char(ch: char) -> String {
    if ch.is_ascii_graphic() { format!("'{ch}'") } else { format!("U+{:04X}", u32::from(ch)) }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted {} bytes>)", self.0.len())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base32())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(SecretVisitor)
    }
}

/// Parses the key from the deserializer's own buffer when it can lend one (no intermediate
/// `String` holding the key to allocate and wipe); an owned string is wiped after parsing.
struct SecretVisitor;

impl serde::de::Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base32 secret key")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Secret, E> {
        // The error text never contains key material (only a position), so it may surface.
        Secret::parse_base32_any_length(text).map_err(E::custom)
    }

    fn visit_string<E: serde::de::Error>(self, mut text: String) -> Result<Secret, E> {
        let parsed = Secret::parse_base32_any_length(&text);
        text.zeroize();
        parsed.map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_key_with_spaces_and_lower_case_parses() {
        let a = Secret::parse_base32("jbsw y3dp ehpk 3pxp").unwrap();
        let b = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        assert!(a.ct_eq(&b));
        assert_eq!(a.as_bytes(), b"Hello!\xde\xad\xbe\xef");
    }

    #[test]
    fn hyphens_tabs_newlines_and_padding_are_ignored() {
        let a = Secret::parse_base32("JBSW-Y3DP\tEHPK\n3PXP====").unwrap();
        assert_eq!(&*a.to_base32(), "JBSWY3DPEHPK3PXP");
        // 26 chars = 130 bits: two spare bits, padded or not.
        let b = Secret::parse_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY======").unwrap();
        let c = Secret::parse_base32("gezdgnbvgy3tqojqgezdgnbvgy").unwrap();
        assert!(b.ct_eq(&c));
        assert_eq!(b.as_bytes(), b"1234567890123456");
    }

    #[test]
    fn nonzero_trailing_bits_are_tolerated() {
        // Last char 'Z' leaves non-zero spare bits; strict decoders reject this.
        assert!(Secret::parse_base32("GEZDGNBVGY3TQOJQGEZDGNBVGZ").is_ok());
    }

    #[test]
    fn invalid_character_is_named_with_position() {
        let err = Secret::parse_base32("JBSW Y3D1 EHPK").unwrap_err();
        assert_eq!(err, SecretError::InvalidCharacter { shown: "'1'".into(), position: 9 });
        assert!(err.to_string().contains("'1' at position 9"), "{err}");
        let err = Secret::parse_base32("JBSWé").unwrap_err();
        assert!(err.to_string().contains("U+00E9 at position 5"), "{err}");
    }

    #[test]
    fn characters_after_padding_are_invalid() {
        let err = Secret::parse_base32("JBSWY3DP==EHPK3PXP").unwrap_err();
        assert!(matches!(err, SecretError::InvalidCharacter { position: 11, .. }), "{err:?}");
    }

    #[test]
    fn empty_and_blank_keys_are_rejected() {
        assert_eq!(Secret::parse_base32("").unwrap_err(), SecretError::Empty);
        assert_eq!(Secret::parse_base32("  - ").unwrap_err(), SecretError::Empty);
        assert_eq!(Secret::from_bytes(vec![]).unwrap_err(), SecretError::Empty);
    }

    #[test]
    fn impossible_lengths_are_rejected() {
        // 17 characters: 17 mod 8 = 1 can never come from whole bytes.
        let err = Secret::parse_base32("JBSWY3DPEHPK3PXPA").unwrap_err();
        assert_eq!(err, SecretError::InvalidLength { length: 17 });
    }

    #[test]
    fn short_keys_are_rejected_for_users_but_allowed_for_imports() {
        let err = Secret::parse_base32("JBSWY3DP").unwrap_err();
        assert_eq!(err, SecretError::TooShort { bits: 40, min: 80 });
        assert_eq!(Secret::parse_base32_any_length("JBSWY3DP").unwrap().len(), 5);
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let s = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("JBSW") && !shown.contains("Hello"), "{shown}");
        let err = Secret::parse_base32("JBSWY3DPEHPK3PX!").unwrap_err().to_string();
        assert!(!err.contains("JBSW"), "{err}");
    }

    #[test]
    fn serde_round_trips_as_base32() {
        let s = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"JBSWY3DPEHPK3PXP\"");
        let back: Secret = serde_json::from_str(&json).unwrap();
        assert!(back.ct_eq(&s));
    }

    #[test]
    fn constant_time_compare_distinguishes_keys() {
        let a = Secret::from_bytes(vec![1, 2, 3]).unwrap();
        let b = Secret::from_bytes(vec![1, 2, 4]).unwrap();
        let c = Secret::from_bytes(vec![1, 2]).unwrap();
        assert!(!a.ct_eq(&b));
        assert!(!a.ct_eq(&c));
        assert!(a.ct_eq(&a.clone()));
    }
}
