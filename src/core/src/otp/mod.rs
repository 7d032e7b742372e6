//! One-time passwords: HOTP (RFC 4226), TOTP (RFC 6238) and Steam Guard codes.
//!
//! Everything here is pure: [`OtpParams::code_at`] takes the Unix time as a parameter, and
//! [`OtpParams::code_now`] is the only wrapper that consults a [`Clock`].
//!
//! Why not totp-rs: it has no HOTP, and its checked constructors reject 80-bit keys and digit
//! counts outside 6–8, both of which real accounts use. The algorithm is a dozen lines over
//! `ring::hmac`, which we already trust for the vault, so we implement it here.

mod secret;

use std::fmt;
use std::str::FromStr;

use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;

pub use secret::{MIN_KEY_BITS, Secret, SecretError};

/// Steam Guard's 26-symbol alphabet (no vowels or look-alikes).
const STEAM_ALPHABET: &[u8; 26] = b"23456789BCDFGHJKMNPQRTVWXY";
/// Steam codes are always five symbols.
pub const STEAM_DIGITS: u8 = 5;

/// Why a set of OTP parameters is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpError {
    /// The secret key could not be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Digits outside 1..=10.
    #[error("digits must be between 1 and 10, not {0}")]
    Digits(u64),
    /// A period of zero seconds.
    #[error("the period must be at least 1 second")]
    ZeroPeriod,
    /// An algorithm name that is not SHA1, SHA256 or SHA512.
    #[error("unknown algorithm {0:?} (expected SHA1, SHA256 or SHA512)")]
    UnknownAlgorithm(String),
    /// An OTP type that is not totp, hotp or steam.
    #[error("unknown type {0:?} (expected totp, hotp or steam)")]
    UnknownKind(String),
    /// A HOTP counter at u64::MAX cannot advance.
    #[error("the counter cannot advance past {}", u64::MAX)]
    CounterExhausted,
}

/// The HMAC hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    /// HMAC-SHA-1, the default and by far the most common.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// Returns the canonical name used in otpauth URIs: `SHA1`, `SHA256` or `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

impl FromStr for Algorithm {
    type Err = OtpError;

    /// Parses leniently: `sha256`, `SHA-256`, `HmacSHA256` and `HMAC-SHA-256` all mean SHA256.
    fn from_str(text: &str) -> Result<Self, OtpError> {
        let norm: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_ascii_uppercase();
        let norm = norm.strip_prefix("HMAC").unwrap_or(&norm);
        match norm {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(OtpError::UnknownAlgorithm(text.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the moving factor is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpKind {
    /// Time-based (RFC 6238): the counter is `unix / period`.
    #[default]
    Totp,
    /// Counter-based (RFC 4226): the counter is stored and advanced on demand.
    Hotp,
    /// Steam Guard: TOTP with SHA-1, 30 s and five symbols from Steam's alphabet.
    Steam,
}

impl OtpKind {
    /// Returns the lower-case name: `totp`, `hotp` or `steam`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Hotp => "hotp",
            Self::Steam => "steam",
        }
    }

    /// Returns true for the kinds whose code depends on the time.
    pub fn is_time_based(self) -> bool {
        !matches!(self, Self::Hotp)
    }
}

impl FromStr for OtpKind {
    type Err = OtpError;

    fn from_str(text: &str) -> Result<Self, OtpError> {
        match text.to_ascii_lowercase().as_str() {
            "totp" => Ok(Self::Totp),
            "hotp" => Ok(Self::Hotp),
            "steam" => Ok(Self::Steam),
            _ => Err(OtpError::UnknownKind(text.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for OtpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything needed to compute codes for one account.
///
/// `period` is meaningful for TOTP and Steam, `counter` for HOTP; both are always present so
/// that switching kinds in an editor loses nothing. Construct through [`OtpParams::new`] or
/// check with [`OtpParams::validate`] so that code generation never meets bad values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtpParams {
    /// TOTP, HOTP or Steam.
    pub kind: OtpKind,
    /// The shared key.
    pub secret: Secret,
    /// HMAC hash function.
    pub algorithm: Algorithm,
    /// Code length, 1..=10 (Steam: always 5).
    pub digits: u8,
    /// Time step in seconds (TOTP, Steam).
    pub period: u64,
    /// Next counter value (HOTP).
    pub counter: u64,
}

impl OtpParams {
    /// Returns TOTP parameters with the usual defaults (SHA1, 6 digits, 30 s).
    pub fn totp(secret: Secret) -> Self {
        Self {
            kind: OtpKind::Totp,
            secret,
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            counter: 0,
        }
    }

    /// Returns checked parameters; Steam forces SHA1, 5 symbols and 30 s.
    pub fn new(
        kind: OtpKind,
        secret: Secret,
        algorithm: Algorithm,
        digits: u8,
        period: u64,
        counter: u64,
    ) -> Result<Self, OtpError> {
        let params = match kind {
            OtpKind::Steam => Self {
                kind,
                secret,
                algorithm: Algorithm::Sha1,
                digits: STEAM_DIGITS,
                period: 30,
                counter,
            },
            _ => Self { kind, secret, algorithm, digits, period, counter },
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks digits (1..=10) and period (≥ 1 s).
    pub fn validate(&self) -> Result<(), OtpError> {
        if !(1..=10).contains(&self.digits) {
            return Err(OtpError::Digits(u64::from(self.digits)));
        }
        if self.period == 0 {
            return Err(OtpError::ZeroPeriod);
        }
        Ok(())
    }

    /// Returns the moving factor at `unix`: the time step for TOTP/Steam, the stored counter for
    /// HOTP.
    pub fn counter_at(&self, unix: u64) -> u64 {
        match self.kind {
            OtpKind::Hotp => self.counter,
            OtpKind::Totp | OtpKind::Steam => unix / self.period.max(1),
        }
    }

    /// Returns the code valid at `unix` (for HOTP, the code of the current counter).
    pub fn code_at(&self, unix: u64) -> String {
        self.code_for_counter(self.counter_at(unix))
    }

    /// Returns the code valid now according to `clock`.
    pub fn code_now(&self, clock: &dyn Clock) -> String {
        self.code_at(clock.now())
    }

    /// Returns the code for an explicit moving factor.
    pub fn code_for_counter(&self, counter: u64) -> String {
        let value = truncated_hmac(&self.secret, self.algorithm, counter);
        match self.kind {
            OtpKind::Steam => steam_code(value),
            OtpKind::Totp | OtpKind::Hotp => decimal_code(value, self.digits),
        }
    }

    /// Returns the seconds until the code shown at `unix` changes (1..=period); for HOTP, which
    /// never expires, returns 0.
    pub fn remaining_at(&self, unix: u64) -> u64 {
        match self.kind {
            OtpKind::Hotp => 0,
            OtpKind::Totp | OtpKind::Steam => {
                let period = self.period.max(1);
                period - unix % period
            }
        }
    }

    /// Advances a HOTP counter by one and returns the new current code.
    pub fn advance(&mut self) -> Result<String, OtpError> {
        self.counter = self.counter.checked_add(1).ok_or(OtpError::CounterExhausted)?;
        Ok(self.code_for_counter(self.counter))
    }
}

/// Computes RFC 4226 dynamic truncation of HMAC(secret, counter): a 31-bit value.
fn truncated_hmac(secret: &Secret, algorithm: Algorithm, counter: u64) -> u32 {
    let key = hmac::Key::new(algorithm.hmac(), secret.as_bytes());
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = [mac[offset], mac[offset + 1], mac[offset + 2], mac[offset + 3]];
    u32::from_be_bytes(word) & 0x7fff_ffff
}

fn decimal_code(value: u32, digits: u8) -> String {
    let modulus = 10u64.pow(u32::from(digits.clamp(1, 10)));
    format!("{:0width$}", u64::from(value) % modulus, width = usize::from(digits))
}

fn steam_code(mut value: u32) -> String {
    let mut code = String::with_capacity(usize::from(STEAM_DIGITS));
    for _ in 0..STEAM_DIGITS {
        code.push(char::from(STEAM_ALPHABET[(value % 26) as usize]));
        value /= 26;
    }
    code
}

/// Splits a code into groups for reading aloud: "123 456", "1234 5678", "123 456 789".
///
/// Lengths divisible by 3 group in threes, by 4 in fours, others split in two halves (the
/// shorter first); codes of five characters or fewer (Steam) stay whole.
pub fn group_code(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let n = chars.len();
    if n <= 5 {
        return code.to_owned();
    }
    let sizes: Vec<usize> = if n.is_multiple_of(3) {
        vec![3; n / 3]
    } else if n.is_multiple_of(4) {
        vec![4; n / 4]
    } else {
        vec![n / 2, n - n / 2]
    };
    let mut out = String::with_capacity(n + sizes.len());
    let mut start = 0;
    for (i, size) in sizes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.extend(&chars[start..start + size]);
        start += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    fn params(kind: OtpKind, key: &[u8], algorithm: Algorithm, digits: u8) -> OtpParams {
        OtpParams::new(kind, Secret::from_bytes(key.to_vec()).unwrap(), algorithm, digits, 30, 0)
            .unwrap()
    }

    const RFC_SEED_SHA1: &[u8] = b"12345678901234567890";
    const RFC_SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const RFC_SEED_SHA512: &[u8] =
        b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc4226_appendix_d_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        let p = params(OtpKind::Hotp, RFC_SEED_SHA1, Algorithm::Sha1, 6);
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(p.code_for_counter(counter as u64), *want, "counter {counter}");
        }
        let truncated = [
            1284755224u32,
            1094287082,
            137359152,
            1726969429,
            1640338314,
            868254676,
            1918287922,
            82162583,
            673399871,
            645520489,
        ];
        let secret = Secret::from_bytes(RFC_SEED_SHA1.to_vec()).unwrap();
        for (counter, want) in truncated.iter().enumerate() {
            assert_eq!(truncated_hmac(&secret, Algorithm::Sha1, counter as u64), *want);
        }
    }

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        let sha1 = params(OtpKind::Totp, RFC_SEED_SHA1, Algorithm::Sha1, 8);
        let sha256 = params(OtpKind::Totp, RFC_SEED_SHA256, Algorithm::Sha256, 8);
        let sha512 = params(OtpKind::Totp, RFC_SEED_SHA512, Algorithm::Sha512, 8);
        for (t, a, b, c) in table {
            assert_eq!(sha1.code_at(t), a, "SHA1 at {t}");
            assert_eq!(sha256.code_at(t), b, "SHA256 at {t}");
            assert_eq!(sha512.code_at(t), c, "SHA512 at {t}");
        }
    }

    #[test]
    fn steam_codes_use_steams_alphabet() {
        // Truncated values 1284755224 (counter 0) and 1094287082 (counter 1) from RFC 4226,
        // converted by hand with repeated division by 26.
        let p = params(OtpKind::Steam, RFC_SEED_SHA1, Algorithm::Sha512, 8);
        assert_eq!((p.algorithm, p.digits, p.period), (Algorithm::Sha1, 5, 30));
        assert_eq!(p.code_at(0), "GG5F5");
        assert_eq!(p.code_at(59), "PV9M4");
    }

    #[test]
    fn digits_from_one_to_ten_are_supported() {
        let p = params(OtpKind::Hotp, RFC_SEED_SHA1, Algorithm::Sha1, 10);
        assert_eq!(p.code_for_counter(0), "1284755224");
        let p = params(OtpKind::Hotp, RFC_SEED_SHA1, Algorithm::Sha1, 1);
        assert_eq!(p.code_for_counter(0), "4");
        let p = params(OtpKind::Hotp, RFC_SEED_SHA1, Algorithm::Sha1, 9);
        assert_eq!(p.code_for_counter(2), "137359152");
        let p = params(OtpKind::Hotp, RFC_SEED_SHA1, Algorithm::Sha1, 10);
        assert_eq!(p.code_for_counter(2), "0137359152", "zero padded");
    }

    #[test]
    fn invalid_digits_and_period_are_rejected() {
        let s = || Secret::from_bytes(b"k".to_vec()).unwrap();
        let e = OtpParams::new(OtpKind::Totp, s(), Algorithm::Sha1, 0, 30, 0).unwrap_err();
        assert_eq!(e, OtpError::Digits(0));
        let e = OtpParams::new(OtpKind::Totp, s(), Algorithm::Sha1, 11, 30, 0).unwrap_err();
        assert_eq!(e.to_string(), "digits must be between 1 and 10, not 11");
        let e = OtpParams::new(OtpKind::Totp, s(), Algorithm::Sha1, 6, 0, 0).unwrap_err();
        assert_eq!(e, OtpError::ZeroPeriod);
    }

    #[test]
    fn remaining_counts_down_to_the_next_step() {
        let mut p = params(OtpKind::Totp, RFC_SEED_SHA1, Algorithm::Sha1, 6);
        assert_eq!(p.remaining_at(0), 30);
        assert_eq!(p.remaining_at(29), 1);
        assert_eq!(p.remaining_at(30), 30);
        p.period = 60;
        assert_eq!(p.remaining_at(59), 1);
        assert_eq!(p.counter_at(119), 1);
        p.period = 1;
        assert_eq!(p.remaining_at(12345), 1);
        p.kind = OtpKind::Hotp;
        assert_eq!(p.remaining_at(12345), 0);
    }

    #[test]
    fn code_now_reads_the_clock() {
        let p = params(OtpKind::Totp, RFC_SEED_SHA1, Algorithm::Sha1, 8);
        assert_eq!(p.code_now(&FixedClock(59)), "94287082");
    }

    #[test]
    fn hotp_counter_advances_up_to_u64_max() {
        let mut p = params(OtpKind::Hotp, RFC_SEED_SHA1, Algorithm::Sha1, 6);
        assert_eq!(p.advance().unwrap(), "287082");
        assert_eq!(p.code_at(999), "287082", "HOTP ignores the time");
        p.counter = u64::MAX - 1;
        let code = p.advance().unwrap();
        assert_eq!(code.len(), 6);
        assert_eq!(p.counter, u64::MAX);
        assert_eq!(p.advance().unwrap_err(), OtpError::CounterExhausted);
        assert_eq!(p.counter, u64::MAX, "a failed advance changes nothing");
    }

    #[test]
    fn algorithm_names_parse_leniently() {
        for name in ["sha256", "SHA256", "HmacSHA256", "HMAC-SHA-256", "sha-256", "hmac_sha256"] {
            assert_eq!(name.parse::<Algorithm>().unwrap(), Algorithm::Sha256, "{name}");
        }
        assert_eq!("sha1".parse::<Algorithm>().unwrap(), Algorithm::Sha1);
        assert_eq!("HmacSHA512".parse::<Algorithm>().unwrap(), Algorithm::Sha512);
        assert!(matches!("MD5".parse::<Algorithm>(), Err(OtpError::UnknownAlgorithm(_))));
    }

    #[test]
    fn kinds_parse_case_insensitively() {
        assert_eq!("TOTP".parse::<OtpKind>().unwrap(), OtpKind::Totp);
        assert_eq!("hotp".parse::<OtpKind>().unwrap(), OtpKind::Hotp);
        assert_eq!("Steam".parse::<OtpKind>().unwrap(), OtpKind::Steam);
        assert!("motp".parse::<OtpKind>().is_err());
    }

    #[test]
    fn codes_group_for_reading() {
        assert_eq!(group_code("123456"), "123 456");
        assert_eq!(group_code("12345678"), "1234 5678");
        assert_eq!(group_code("1234567"), "123 4567");
        assert_eq!(group_code("123456789"), "123 456 789");
        assert_eq!(group_code("1234567890"), "12345 67890");
        assert_eq!(group_code("GG5F5"), "GG5F5");
        assert_eq!(group_code("1234"), "1234");
    }

    #[test]
    fn params_debug_hides_the_secret() {
        let p = params(OtpKind::Totp, b"Hello!\xde\xad\xbe\xef", Algorithm::Sha1, 6);
        let shown = format!("{p:?}");
        assert!(shown.contains("redacted") && !shown.contains("Hello"), "{shown}");
    }
}
