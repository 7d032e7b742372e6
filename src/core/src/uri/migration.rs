//! Google Authenticator's export: `otpauth-migration://offline?data=BASE64`.
//!
//! Source: the `MigrationPayload` protobuf that Google Authenticator writes (its field numbers
//! are summarised in `shared/docs/FORMATS.md`). One export spans several QR codes of about ten
//! accounts each; they share `batch_id` and are numbered `batch_index` 0..`batch_size`.
//!
//! Reading is lenient: the base64 may be standard or URL-safe, padded or not, with spaces where
//! a `+` was (an unencoded `+` in a query turns into a space), and percent-encoded once or twice.
//! Accounts the app cannot use (MD5, unknown enum values, no key) are returned as [`Skipped`]
//! with a reason instead of failing the whole QR code.
//!
//! What writing loses: the format holds only SHA1/SHA256/SHA512, 6 or 8 digits, a 30-second
//! period, TOTP and HOTP. Any other account (Steam, 7 digits, 60 s, ...) is returned by
//! [`encode_migration`] as [`Skipped`] with the reason, never dropped silently. Vendor
//! parameters ([`OtpUri::extra`]) have no place in the format and are not written.
//!
//! Protobuf: `prost` derive macros on hand-written structs (no build script, no protoc); its
//! generated `Debug` is switched off because the structs hold raw keys.

use std::collections::BTreeMap;
use std::fmt;

use data_encoding::{BASE64, BASE64_NOPAD, Encoding};
use prost::Message;
use zeroize::{Zeroize, Zeroizing};

use super::{MAX_NAME_CHARS, RawUri, UriError, decode_component, encode_component, shown};
use crate::otp::{Algorithm, OtpKind, OtpParams, Secret};

/// Accounts per QR code when writing, as Google Authenticator does (about ten).
pub const MIGRATION_BATCH_ACCOUNTS: usize = 10;

/// Largest `batch_size` accepted by [`MigrationSet`]: a bound on what `missing()` lists.
pub const MAX_BATCHES: i32 = 1000;

/// `MigrationPayload`.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
struct ProtoPayload {
    #[prost(message, repeated, tag = "1")]
    otp_parameters: Vec<ProtoParameters>,
    #[prost(int32, tag = "2")]
    version: i32,
    #[prost(int32, tag = "3")]
    batch_size: i32,
    #[prost(int32, tag = "4")]
    batch_index: i32,
    #[prost(int32, tag = "5")]
    batch_id: i32,
}

/// `MigrationPayload.OtpParameters`; enums kept as raw `int32` so unknown values can be reported.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
struct ProtoParameters {
    #[prost(bytes = "vec", tag = "1")]
    secret: Vec<u8>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    issuer: String,
    #[prost(int32, tag = "4")]
    algorithm: i32,
    #[prost(int32, tag = "5")]
    digits: i32,
    #[prost(int32, tag = "6")]
    kind: i32,
    #[prost(int64, tag = "7")]
    counter: i64,
}

impl Drop for ProtoParameters {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl fmt::Debug for ProtoPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtoPayload")
            .field("accounts", &self.otp_parameters.len())
            .field("batch_index", &self.batch_index)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ProtoParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtoParameters").field("name", &self.name).finish_non_exhaustive()
    }
}

/// One QR code of a Google Authenticator export.
#[derive(Debug, Clone)]
pub struct MigrationBatch {
    /// The accounts this QR code holds that Tessera can use.
    pub accounts: Vec<OtpUri>,
    /// The accounts it holds that Tessera cannot use, with reasons.
    pub skipped: Vec<Skipped>,
    /// Payload format version (1 in current exports).
    pub version: i32,
    /// How many QR codes the export has (0 in old single-code exports, meaning 1).
    pub batch_size: i32,
    /// This code's position, 0-based.
    pub batch_index: i32,
    /// Identifier shared by the codes of one export.
    pub batch_id: i32,
}

/// An account that could not be converted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its position in the input (the caller's slice, or the QR code's account list).
    pub index: usize,
    /// "Issuer: account" (or just the account) for telling the user which one.
    pub label: String,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why an account was skipped while reading or writing a migration payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// The export holds an empty key.
    #[error("it has no secret key")]
    MissingSecret,
    /// MD5 or an unknown algorithm number (reading), never produced when writing.
    #[error("its algorithm ({0}) is not supported")]
    Algorithm(String),
    /// Digits the format cannot hold (writing: not 6 or 8; reading: unknown enum value).
    #[error("Google Authenticator exports hold only 6 or 8 digits, not {0}")]
    Digits(String),
    /// A TOTP period other than 30 s (the format has no period field).
    #[error("Google Authenticator exports hold only 30-second codes, not {0} seconds")]
    Period(u64),
    /// Steam accounts have no representation in the format.
    #[error("Google Authenticator exports cannot hold Steam accounts")]
    Steam,
    /// An unknown OTP type number.
    #[error("its type ({0}) is not TOTP or HOTP")]
    Kind(i32),
    /// A counter outside what the other side can hold.
    #[error("its counter ({0}) is out of range")]
    Counter(String),
    /// A name beyond [`super::MAX_NAME_CHARS`].
    #[error("its {0} is too long")]
    TooLong(&'static str),
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} was skipped: {}", self.label, self.reason)
    }
}

use super::OtpUri;

/// Base64 alphabet of the payload, decoding with tolerance for non-zero trailing bits.
fn lenient_base64() -> Encoding {
    let mut spec = BASE64_NOPAD.specification();
    spec.check_trailing_bits = false;
    spec.encoding().expect("invariant: base64 specification is valid")
}

/// Decodes standard or URL-safe base64, padded or not; spaces count as `+`, line breaks are
/// ignored.
fn decode_base64(text: &str) -> Result<Zeroizing<Vec<u8>>, UriError> {
    let mut clean = Zeroizing::new(String::with_capacity(text.len()));
    for ch in text.chars() {
        match ch {
            ' ' | '-' => clean.push('+'),
            '_' => clean.push('/'),
            '=' | '\n' | '\r' | '\t' => {}
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' => clean.push(ch),
            _ => return Err(UriError::BadBase64("it contains characters that are not base64")),
        }
    }
    if clean.is_empty() {
        return Err(UriError::MissingData);
    }
    lenient_base64()
        .decode(clean.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| UriError::BadBase64("its length is not valid base64 (is a part missing?)"))
}

impl MigrationBatch {
    /// Parses one `otpauth-migration://offline?data=...` link (scheme and host in any case).
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let text = super::trim_scanned(text);
        let raw = RawUri::split(text).ok_or(UriError::NotAUri)?;
        if !raw.scheme.eq_ignore_ascii_case("otpauth-migration") {
            return Err(UriError::UnsupportedScheme {
                scheme: shown(raw.scheme),
                expected: "otpauth-migration://",
            });
        }
        if !raw.host.eq_ignore_ascii_case("offline") {
            return Err(UriError::UnknownType(shown(raw.host)));
        }
        let data = raw.raw_param("data").ok_or(UriError::MissingData)?;
        // No `+`-to-space here: a raw `+` is base64, and a space becomes `+` again below.
        let data = decode_component(data, false).ok_or(UriError::BadBase64("not text"))?;
        let bytes = decode_base64(&data)?;
        Self::from_payload(&bytes)
    }

    /// Decodes the protobuf `MigrationPayload` bytes (what the base64 in `data` holds).
    pub fn from_payload(bytes: &[u8]) -> Result<Self, UriError> {
        let payload = ProtoPayload::decode(bytes).map_err(|_| UriError::BadPayload)?;
        let mut accounts = Vec::with_capacity(payload.otp_parameters.len());
        let mut skipped = Vec::new();
        for (index, p) in payload.otp_parameters.iter().enumerate() {
            match account_from_proto(p) {
                Ok(account) => accounts.push(account),
                Err((label, reason)) => skipped.push(Skipped { index, label, reason }),
            }
        }
        Ok(Self {
            accounts,
            skipped,
            version: payload.version,
            batch_size: payload.batch_size,
            batch_index: payload.batch_index,
            batch_id: payload.batch_id,
        })
    }
}

/// Splits the stored name into `(issuer, account)`: with an empty issuer, at the first colon;
/// with an issuer, removing an `issuer:` prefix the name may repeat.
fn split_name(issuer: &str, name: &str) -> (String, String) {
    let issuer = issuer.trim();
    if issuer.is_empty() {
        return match name.split_once(':') {
            Some((prefix, rest)) => (prefix.trim().to_owned(), rest.trim().to_owned()),
            None => (String::new(), name.trim().to_owned()),
        };
    }
    let account = name.strip_prefix(issuer).and_then(|r| r.strip_prefix(':')).unwrap_or(name);
    (issuer.to_owned(), account.trim().to_owned())
}

fn display_label(issuer: &str, account: &str) -> String {
    let label = if issuer.is_empty() { account.to_owned() } else { format!("{issuer}: {account}") };
    shown(&label)
}

fn account_from_proto(p: &ProtoParameters) -> Result<OtpUri, (String, SkipReason)> {
    let (issuer, account) = split_name(&p.issuer, &p.name);
    let label = display_label(&issuer, &account);
    let fail = |reason| (label.clone(), reason);
    if issuer.chars().count() > MAX_NAME_CHARS {
        return Err(fail(SkipReason::TooLong("issuer")));
    }
    if account.chars().count() > MAX_NAME_CHARS {
        return Err(fail(SkipReason::TooLong("account name")));
    }
    let algorithm = match p.algorithm {
        0 | 1 => Algorithm::Sha1,
        2 => Algorithm::Sha256,
        3 => Algorithm::Sha512,
        4 => return Err(fail(SkipReason::Algorithm("MD5".into()))),
        n => return Err(fail(SkipReason::Algorithm(format!("number {n}")))),
    };
    let digits = match p.digits {
        0 | 1 => 6,
        2 => 8,
        n => return Err(fail(SkipReason::Digits(format!("code {n}")))),
    };
    let kind = match p.kind {
        0 | 2 => OtpKind::Totp,
        1 => OtpKind::Hotp,
        n => return Err(fail(SkipReason::Kind(n))),
    };
    let counter =
        u64::try_from(p.counter).map_err(|_| fail(SkipReason::Counter(p.counter.to_string())))?;
    let secret =
        Secret::from_bytes(p.secret.clone()).map_err(|_| fail(SkipReason::MissingSecret))?;
    let otp = OtpParams::new(kind, secret, algorithm, digits, 30, counter)
        .map_err(|_| fail(SkipReason::Digits(digits.to_string())))?;
    Ok(OtpUri { issuer, account, otp, extra: Vec::new() })
}

/// Returns the protobuf form of `account`, or why the format cannot hold it.
fn proto_from_account(account: &OtpUri) -> Result<ProtoParameters, SkipReason> {
    let p = &account.otp;
    let kind = match p.kind {
        OtpKind::Totp if p.period != 30 => return Err(SkipReason::Period(p.period)),
        OtpKind::Totp => 2,
        OtpKind::Hotp => 1,
        OtpKind::Steam => return Err(SkipReason::Steam),
    };
    let digits = match p.digits {
        6 => 1,
        8 => 2,
        n => return Err(SkipReason::Digits(n.to_string())),
    };
    let algorithm = match p.algorithm {
        Algorithm::Sha1 => 1,
        Algorithm::Sha256 => 2,
        Algorithm::Sha512 => 3,
    };
    let counter =
        i64::try_from(p.counter).map_err(|_| SkipReason::Counter(p.counter.to_string()))?;
    // Mirror of `split_name`, so that decoding gives back exactly these names.
    let name = if account.issuer.is_empty() {
        if account.account.contains(':') {
            format!(":{}", account.account)
        } else {
            account.account.clone()
        }
    } else if account.account.starts_with(&format!("{}:", account.issuer)) {
        format!("{}:{}", account.issuer, account.account)
    } else {
        account.account.clone()
    };
    Ok(ProtoParameters {
        secret: p.secret.as_bytes().to_vec(),
        name,
        issuer: account.issuer.clone(),
        algorithm,
        digits,
        kind,
        counter,
    })
}

/// Encodes accounts as Google Authenticator export links, [`MIGRATION_BATCH_ACCOUNTS`] per QR
/// code, with a random `batch_id`.
///
/// Returns the links (they contain secrets) and the accounts the format cannot hold.
pub fn encode_migration(accounts: &[OtpUri]) -> (Vec<Zeroizing<String>>, Vec<Skipped>) {
    // The batch id only tells QR codes of different exports apart; if the system RNG failed,
    // a fixed id still produces a valid, importable export.
    let id = ring::rand::generate::<[u8; 4]>(&ring::rand::SystemRandom::new())
        .map(|random| i32::from_le_bytes(random.expose()) & i32::MAX)
        .unwrap_or(1);
    encode_migration_with_id(accounts, id)
}

/// Like [`encode_migration`], with the caller's `batch_id` (deterministic output for tests).
pub fn encode_migration_with_id(
    accounts: &[OtpUri],
    batch_id: i32,
) -> (Vec<Zeroizing<String>>, Vec<Skipped>) {
    let mut protos = Vec::with_capacity(accounts.len());
    let mut skipped = Vec::new();
    for (index, account) in accounts.iter().enumerate() {
        match proto_from_account(account) {
            Ok(proto) => protos.push(proto),
            Err(reason) => skipped.push(Skipped {
                index,
                label: display_label(&account.issuer, &account.account),
                reason,
            }),
        }
    }
    let chunks: Vec<&[ProtoParameters]> = protos.chunks(MIGRATION_BATCH_ACCOUNTS).collect();
    let batch_size = i32::try_from(chunks.len()).unwrap_or(i32::MAX);
    let mut links = Vec::with_capacity(chunks.len());
    for (index, chunk) in chunks.iter().enumerate() {
        let payload = ProtoPayload {
            otp_parameters: chunk.to_vec(),
            version: 1,
            batch_size,
            batch_index: i32::try_from(index).unwrap_or(i32::MAX),
            batch_id,
        };
        let bytes = Zeroizing::new(payload.encode_to_vec());
        let base64 = Zeroizing::new(BASE64.encode(&bytes));
        let mut link = Zeroizing::new(String::from("otpauth-migration://offline?data="));
        link.push_str(&encode_component(&base64));
        links.push(link);
    }
    (links, skipped)
}

/// What [`MigrationSet::add`] did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new QR code of the export.
    Added,
    /// A QR code already scanned; ignored.
    Duplicate,
}

/// Collects the QR codes of one export as they are scanned, in any order.
#[derive(Debug, Default, Clone)]
pub struct MigrationSet {
    batch_id: i32,
    batch_size: i32,
    batches: BTreeMap<i32, MigrationBatch>,
    duplicates: Vec<i32>,
}

impl MigrationSet {
    /// Returns an empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scanned batch. Fails if it is inconsistent (index outside its size, size above
    /// [`MAX_BATCHES`]) or belongs to another export (different `batch_id` or `batch_size`)
    /// than the batches already added; a batch scanned twice is reported as a duplicate.
    pub fn add(&mut self, batch: MigrationBatch) -> Result<AddOutcome, UriError> {
        // Old exports leave batch_size unset (0): a single code.
        let size = batch.batch_size.max(1);
        let index = batch.batch_index;
        if size > MAX_BATCHES || !(0..size).contains(&index) {
            return Err(UriError::BadBatch { index, size: batch.batch_size });
        }
        if self.batches.is_empty() {
            self.batch_id = batch.batch_id;
            self.batch_size = size;
        } else if batch.batch_id != self.batch_id || size != self.batch_size {
            return Err(UriError::OtherExport);
        }
        if self.batches.contains_key(&index) {
            self.duplicates.push(index);
            return Ok(AddOutcome::Duplicate);
        }
        self.batches.insert(index, batch);
        Ok(AddOutcome::Added)
    }

    /// Returns the batch indices (0-based) not scanned yet; empty before the first batch.
    pub fn missing(&self) -> Vec<i32> {
        if self.batches.is_empty() {
            return Vec::new();
        }
        (0..self.batch_size).filter(|i| !self.batches.contains_key(i)).collect()
    }

    /// Returns the indices of batches that were added more than once, in the order seen.
    pub fn duplicates(&self) -> &[i32] {
        &self.duplicates
    }

    /// Returns true once every batch of the export has been added.
    pub fn is_complete(&self) -> bool {
        !self.batches.is_empty() && self.missing().is_empty()
    }

    /// Returns the declared number of batches (0 before the first batch).
    pub fn batch_size(&self) -> i32 {
        self.batch_size
    }

    /// Returns the usable accounts of all batches added, in batch order.
    pub fn accounts(&self) -> impl Iterator<Item = &OtpUri> {
        self.batches.values().flat_map(|b| b.accounts.iter())
    }

    /// Returns the skipped accounts of all batches added, with their batch index.
    pub fn skipped(&self) -> impl Iterator<Item = (i32, &Skipped)> {
        self.batches.iter().flat_map(|(i, b)| b.skipped.iter().map(move |s| (*i, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(issuer: &str, name: &str, kind: OtpKind, digits: u8, period: u64) -> OtpUri {
        let key = format!("{issuer}/{name}/key").into_bytes();
        let otp = OtpParams::new(
            kind,
            Secret::from_bytes(key).unwrap(),
            Algorithm::Sha256,
            digits,
            period,
            5,
        )
        .unwrap();
        OtpUri::new(issuer, name, otp)
    }

    /// A hand-assembled payload (protobuf wire format written out byte by byte), so the
    /// decoder is checked against something other than our own encoder.
    fn hand_payload() -> Vec<u8> {
        let mut params = Vec::new();
        params.extend([0x0a, 0x05]); // field 1 (secret), length 5
        params.extend(b"Hello");
        params.extend([0x12, 0x0b]); // field 2 (name), length 11
        params.extend(b"Acme:alice ");
        params.extend([0x1a, 0x00]); // field 3 (issuer), empty
        params.extend([0x20, 0x03]); // field 4 (algorithm) = SHA512
        params.extend([0x28, 0x02]); // field 5 (digits) = eight
        params.extend([0x30, 0x01]); // field 6 (type) = HOTP
        params.extend([0x38, 0xac, 0x02]); // field 7 (counter) = 300 (varint)
        let mut md5 = Vec::new();
        md5.extend([0x0a, 0x01, 0x01, 0x12, 0x03]);
        md5.extend(b"old");
        md5.extend([0x20, 0x04]); // algorithm MD5
        let mut out = vec![0x0a, u8::try_from(params.len()).unwrap()];
        out.extend(params);
        out.push(0x0a);
        out.push(u8::try_from(md5.len()).unwrap());
        out.extend(md5);
        out.extend([0x10, 0x01, 0x18, 0x02, 0x20, 0x01, 0x28, 0x07]); // version 1, 2 codes, #1, id 7
        out
    }

    #[test]
    fn hand_assembled_payload_decodes() {
        let batch = MigrationBatch::from_payload(&hand_payload()).unwrap();
        assert_eq!(
            (batch.version, batch.batch_size, batch.batch_index, batch.batch_id),
            (1, 2, 1, 7)
        );
        assert_eq!(batch.accounts.len(), 1);
        let a = &batch.accounts[0];
        assert_eq!((a.issuer.as_str(), a.account.as_str()), ("Acme", "alice"));
        assert_eq!(a.otp.secret.as_bytes(), b"Hello");
        assert_eq!(
            (a.otp.kind, a.otp.algorithm, a.otp.digits),
            (OtpKind::Hotp, Algorithm::Sha512, 8)
        );
        assert_eq!((a.otp.counter, a.otp.period), (300, 30));
        assert_eq!(
            batch.skipped,
            vec![Skipped {
                index: 1,
                label: "old".into(),
                reason: SkipReason::Algorithm("MD5".into())
            }]
        );
        assert_eq!(
            batch.skipped[0].to_string(),
            "old was skipped: its algorithm (MD5) is not supported"
        );
    }

    #[test]
    fn hand_assembled_payload_decodes_through_a_link_in_every_base64_spelling() {
        // An unknown field (number 15, skipped by decoders) of 0xfb 0xef 0xbe / 0xff bytes makes
        // the base64 contain `+`, `/` and `=`; a filler length is chosen to get all three.
        let (bytes, standard) = (0..3)
            .map(|filler| {
                let mut bytes = hand_payload();
                let mut field = vec![0u8; filler];
                field.extend([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 0xfb, 0xef, 0xbe, 0x00]);
                bytes.extend([0x7a, u8::try_from(field.len()).unwrap()]);
                bytes.extend(field);
                let standard = BASE64.encode(&bytes);
                (bytes, standard)
            })
            .find(|(_, s)| s.contains('+') && s.contains('/') && s.ends_with('='))
            .expect("one filler length yields +, / and =");
        assert_eq!(MigrationBatch::from_payload(&bytes).unwrap().accounts.len(), 1);
        let spellings = [
            standard.clone(),
            standard.trim_end_matches('=').to_owned(),
            data_encoding::BASE64URL.encode(&bytes),
            data_encoding::BASE64URL_NOPAD.encode(&bytes),
            standard.replace('+', " "),
            encode_component(&standard).into_owned(),
            encode_component(&encode_component(&standard)).into_owned(), // double-encoded
            standard.replace('+', "%20"),
        ];
        for data in spellings {
            for scheme in ["otpauth-migration://offline", "OTPAUTH-MIGRATION://OFFLINE"] {
                let link = format!("{scheme}?data={data}");
                let batch = MigrationBatch::parse(&link).unwrap_or_else(|e| panic!("{link}: {e}"));
                assert_eq!(batch.accounts[0].otp.secret.as_bytes(), b"Hello", "{link}");
            }
        }
    }

    #[test]
    fn missing_unspecified_enums_mean_sha1_six_digits_totp() {
        // One account: secret "k", name "bob", nothing else.
        let bytes = [0x0a, 0x08, 0x0a, 0x01, b'k', 0x12, 0x03, b'b', b'o', b'b'];
        let batch = MigrationBatch::from_payload(&bytes).unwrap();
        let p = &batch.accounts[0].otp;
        assert_eq!(
            (p.kind, p.algorithm, p.digits, p.period),
            (OtpKind::Totp, Algorithm::Sha1, 6, 30)
        );
        assert_eq!((batch.batch_size, batch.batch_index), (0, 0));
        let mut set = MigrationSet::new();
        set.add(batch).unwrap();
        assert!(set.is_complete(), "an unset batch_size means a single code");
    }

    #[test]
    fn unusable_accounts_are_skipped_with_reasons() {
        let mut bytes = Vec::new();
        for (field, value) in [(0x20u8, 9u8), (0x28, 3), (0x30, 5)] {
            let entry = [0x0a, 0x01, b'k', 0x12, 0x01, b'n', field, value];
            bytes.extend([0x0a, 8]);
            bytes.extend(entry);
        }
        bytes.extend([0x0a, 0x03, 0x12, 0x01, b'e']); // no secret
        let batch = MigrationBatch::from_payload(&bytes).unwrap();
        let reasons: Vec<String> = batch.skipped.iter().map(|s| s.reason.to_string()).collect();
        assert_eq!(
            reasons,
            [
                "its algorithm (number 9) is not supported",
                "Google Authenticator exports hold only 6 or 8 digits, not code 3",
                "its type (5) is not TOTP or HOTP",
                "it has no secret key",
            ]
        );
        assert!(batch.accounts.is_empty());
    }

    #[test]
    fn damaged_data_is_reported() {
        let e = MigrationBatch::parse("otpauth-migration://offline?data=!!!").unwrap_err();
        assert!(matches!(e, UriError::BadBase64(_)));
        let e = MigrationBatch::parse("otpauth-migration://offline?data=A").unwrap_err();
        assert!(matches!(e, UriError::BadBase64(_)), "{e}");
        let e = MigrationBatch::parse("otpauth-migration://offline?data=").unwrap_err();
        assert_eq!(e, UriError::MissingData);
        let e = MigrationBatch::parse("otpauth-migration://offline").unwrap_err();
        assert_eq!(e, UriError::MissingData);
        let e = MigrationBatch::parse("otpauth-migration://offline?data=_w").unwrap_err();
        assert_eq!(e, UriError::BadPayload, "0xff is not a valid protobuf start");
        assert_eq!(
            e.to_string(),
            "the export data is damaged (not a valid Google Authenticator export)"
        );
        let e = MigrationBatch::parse("otpauth-migration://online?data=AA").unwrap_err();
        assert!(matches!(e, UriError::UnknownType(_)));
    }

    #[test]
    fn one_account_round_trips_through_the_encoder() {
        let original = account("Acme", "alice@example.com", OtpKind::Totp, 8, 30);
        let (links, skipped) = encode_migration(std::slice::from_ref(&original));
        assert!(skipped.is_empty());
        assert_eq!(links.len(), 1);
        let batch = MigrationBatch::parse(&links[0]).unwrap();
        assert_eq!((batch.batch_size, batch.batch_index, batch.version), (1, 0, 1));
        let a = &batch.accounts[0];
        assert_eq!((a.issuer.as_str(), a.account.as_str()), ("Acme", "alice@example.com"));
        assert!(a.otp.secret.ct_eq(&original.otp.secret));
        assert_eq!((a.otp.algorithm, a.otp.digits), (Algorithm::Sha256, 8));
    }

    #[test]
    fn twenty_five_accounts_make_three_batches_and_a_missing_one_is_named() {
        let accounts: Vec<OtpUri> = (0..25)
            .map(|i| account(&format!("Svc{i}"), &format!("user{i}"), OtpKind::Hotp, 6, 30))
            .collect();
        let (links, skipped) = encode_migration_with_id(&accounts, 4242);
        assert!(skipped.is_empty());
        assert_eq!(links.len(), 3);
        let batches: Vec<MigrationBatch> =
            links.iter().map(|l| MigrationBatch::parse(l).unwrap()).collect();
        assert_eq!(batches.iter().map(|b| b.accounts.len()).collect::<Vec<_>>(), [10, 10, 5]);
        assert!(batches.iter().all(|b| b.batch_id == 4242 && b.batch_size == 3));

        let mut set = MigrationSet::new();
        assert_eq!(set.add(batches[2].clone()).unwrap(), AddOutcome::Added);
        assert_eq!(set.add(batches[0].clone()).unwrap(), AddOutcome::Added);
        assert_eq!(set.missing(), vec![1]);
        assert!(!set.is_complete());
        assert_eq!(set.add(batches[0].clone()).unwrap(), AddOutcome::Duplicate);
        assert_eq!(set.duplicates(), &[0]);
        set.add(batches[1].clone()).unwrap();
        assert!(set.is_complete());
        let names: Vec<&str> = set.accounts().map(|a| a.account.as_str()).collect();
        let want: Vec<String> = (0..25).map(|i| format!("user{i}")).collect();
        assert_eq!(names, want, "accounts come back in batch order");
    }

    #[test]
    fn batches_of_another_export_or_out_of_range_are_refused() {
        let accounts = [account("A", "a", OtpKind::Totp, 6, 30)];
        let (one, _) = encode_migration_with_id(&accounts, 1);
        let (two, _) = encode_migration_with_id(&accounts, 2);
        let mut set = MigrationSet::new();
        set.add(MigrationBatch::parse(&one[0]).unwrap()).unwrap();
        let e = set.add(MigrationBatch::parse(&two[0]).unwrap()).unwrap_err();
        assert_eq!(e, UriError::OtherExport);

        let mut bad = MigrationBatch::parse(&one[0]).unwrap();
        bad.batch_index = 5;
        assert_eq!(
            MigrationSet::new().add(bad.clone()).unwrap_err(),
            UriError::BadBatch { index: 5, size: 1 }
        );
        bad.batch_size = i32::MAX;
        assert!(MigrationSet::new().add(bad).is_err(), "absurd sizes are refused, not listed");
    }

    #[test]
    fn accounts_the_format_cannot_hold_are_listed_not_dropped() {
        let accounts = [
            account("Ok", "a", OtpKind::Totp, 6, 30),
            account("Steam", "gabe", OtpKind::Steam, 5, 30),
            account("Seven", "b", OtpKind::Totp, 7, 30),
            account("Slow", "c", OtpKind::Totp, 6, 60),
            account("Hotp", "d", OtpKind::Hotp, 8, 60),
        ];
        let (links, skipped) = encode_migration(&accounts);
        let got: Vec<(usize, String)> = skipped.iter().map(|s| (s.index, s.to_string())).collect();
        assert_eq!(
            got,
            [
                (1, "Steam: gabe was skipped: Google Authenticator exports cannot hold Steam accounts".into()),
                (2, "Seven: b was skipped: Google Authenticator exports hold only 6 or 8 digits, not 7".into()),
                (3, "Slow: c was skipped: Google Authenticator exports hold only 30-second codes, not 60 seconds".into()),
            ]
        );
        let batch = MigrationBatch::parse(&links[0]).unwrap();
        assert_eq!(batch.accounts.len(), 2, "HOTP ignores the period");
    }

    #[test]
    fn nothing_to_export_gives_no_links() {
        let (links, skipped) = encode_migration(&[]);
        assert!(links.is_empty() && skipped.is_empty());
    }

    #[test]
    fn debug_output_hides_keys() {
        let original = account("Acme", "alice", OtpKind::Totp, 6, 30);
        let (links, _) = encode_migration_with_id(&[original], 3);
        let batch = MigrationBatch::parse(&links[0]).unwrap();
        let debug = format!("{batch:?}");
        assert!(!debug.contains("Acme/alice/key") && debug.contains("redacted"), "{debug}");
        let proto = ProtoPayload::decode(&hand_payload()[..]).unwrap();
        let debug = format!("{proto:?}");
        assert!(!debug.contains("Hello") && !debug.contains("72, 101"), "{debug}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn name() -> impl Strategy<Value = String> {
            "[^\\p{Cc}]{0,20}".prop_map(|s| s.trim().to_owned())
        }

        fn encodable() -> impl Strategy<Value = OtpUri> {
            (
                name(),
                name(),
                proptest::collection::vec(any::<u8>(), 1..40),
                any::<bool>(),
                prop_oneof![
                    Just(Algorithm::Sha1),
                    Just(Algorithm::Sha256),
                    Just(Algorithm::Sha512)
                ],
                prop_oneof![Just(6u8), Just(8u8)],
                0u64..=i64::MAX as u64,
            )
                .prop_map(|(issuer, account, key, hotp, alg, digits, counter)| {
                    let kind = if hotp { OtpKind::Hotp } else { OtpKind::Totp };
                    let secret = Secret::from_bytes(key).unwrap();
                    let otp = OtpParams::new(kind, secret, alg, digits, 30, counter).unwrap();
                    OtpUri::new(issuer, account, otp)
                })
        }

        proptest! {
            #[test]
            fn encode_then_decode_round_trips(
                accounts in proptest::collection::vec(encodable(), 0..25), id in any::<i32>()
            ) {
                let (links, skipped) = encode_migration_with_id(&accounts, id);
                prop_assert!(skipped.is_empty());
                let mut set = MigrationSet::new();
                for link in &links {
                    let batch = MigrationBatch::parse(link)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert!(batch.skipped.is_empty());
                    prop_assert_eq!(set.add(batch).ok(), Some(AddOutcome::Added));
                }
                prop_assert_eq!(set.is_complete(), !accounts.is_empty());
                let back: Vec<&OtpUri> = set.accounts().collect();
                prop_assert_eq!(back.len(), accounts.len());
                for (a, b) in back.iter().zip(&accounts) {
                    prop_assert_eq!(&a.issuer, &b.issuer);
                    prop_assert_eq!(&a.account, &b.account);
                    prop_assert!(a.otp.secret.ct_eq(&b.otp.secret));
                    prop_assert_eq!(
                        (a.otp.kind, a.otp.algorithm, a.otp.digits, a.otp.counter),
                        (b.otp.kind, b.otp.algorithm, b.otp.digits, b.otp.counter)
                    );
                }
            }

            #[test]
            fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = MigrationBatch::from_payload(&bytes);
            }
        }
    }
}
