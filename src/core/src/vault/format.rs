//! The on-disk container (version 2; version 1 is still read) and the cryptography that
//! fills it.
//!
//! ```json
//! { "format": "tessera-vault", "version": 2, "vault_id": "<uuid>", "generation": 7,
//!   "slots": [
//!     { "type": "password", "id": "<uuid>",
//!       "kdf": { "algorithm": "argon2id", "version": 19, "m_kib": 131072, "t": 4, "p": 1,
//!                "salt": "<base64, 16 bytes>" },
//!       "nonce": "<base64, 12 bytes>", "wrapped_key": "<base64, 32-byte key + 16-byte tag>" },
//!     { "type": "keyring", "id": "<uuid>", "service": "tessera", "user": "<vault uuid>",
//!       "nonce": "...", "wrapped_key": "..." } ],
//!   "content": { "nonce": "<base64>", "ciphertext": "<base64, JSON content + tag>" },
//!   "checksum": "<hex SHA-256 of the header, see below>" }
//! ```
//!
//! - The content is AES-256-GCM under a random 256-bit master key. A fresh random 96-bit nonce
//!   is drawn for every save (and every slot wrap); with random nonces the GCM bound of 2^32
//!   encryptions per key is far beyond any vault's lifetime.
//! - Each slot wraps the master key with AES-256-GCM under its own key (Argon2id output for a
//!   password slot, a random key held by the OS secret store for a keyring slot). The
//!   associated data binds every ciphertext to this vault id and slot id (content: vault id
//!   and generation), so pieces cannot be swapped between files or rolled back silently.
//!   The associated data starts with `tessera-vault/1/` in both versions: it labels the
//!   wrapping scheme, which version 2 did not change, and slots wrapped under version 1 must
//!   keep opening (a password slot cannot be re-wrapped without the password).
//! - The checksum is not a security measure (GCM authenticates); it tells *accidental*
//!   damage apart from a wrong password.
//!
//! # Checksum: version 1 and version 2
//!
//! Version 1 hashed the whole object (compact JSON, `checksum` = `""`), ciphertext included,
//! so opening a 1,000-account vault re-serialized and hashed ~400 KB of base64 that GCM
//! authenticates anyway. Version 2 hashes only the *header*: the compact JSON of
//! `{"format","version","vault_id","generation","slots","content_nonce","checksum":""}`
//! (the content object reduced to its nonce). The distinction it exists for still holds:
//!
//! - damage to the header or to any slot (used or not) fails the checksum: *damaged*;
//! - with the header intact, a slot that refuses to open means a wrong password (or a stale
//!   keyring key), never a broken file;
//! - once a slot has opened, the master key is right, so content that fails GCM
//!   authentication is damage (reported as such), not a wrong password.
//!
//! The only difference a user can see: a file whose *ciphertext* is damaged, opened with a
//! wrong password, reports the wrong password first (true) and the damage on the next,
//! correct attempt; version 1 reported the damage first. Version 2 is a new number because a
//! version-1 reader would compute the old checksum, fail, and wrongly call a good file
//! damaged; with the bump it says "update tessera" instead. Saving a version-1 file writes
//! version 2.

use data_encoding::{BASE64, HEXLOWER};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use zeroize::Zeroizing;

use super::VaultError;

/// The `format` marker of every Tessera vault file.
pub(super) const FORMAT_NAME: &str = "tessera-vault";
/// The newest container version this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest container version this build still reads.
const OLDEST_VERSION: u32 = 1;
/// The version label in the AEAD associated data (see the module docs: it names the
/// wrapping scheme, unchanged since version 1).
const AAD_VERSION: u32 = 1;
/// Length of the master key and of every slot key, in bytes.
pub(super) const KEY_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// A 256-bit key, zeroized on drop.
pub(super) type Key = Zeroizing<[u8; KEY_LEN]>;

/// Argon2id cost parameters, stored in each password slot so that they can grow later.
///
/// The defaults ([`KdfParams::default`]) are m = 128 MiB, t = 4, p = 1; see the module docs
/// of [`crate::vault`] for the measured cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self { m_kib: 128 * 1024, t: 4, p: 1 }
    }
}

impl KdfParams {
    /// Deliberately weak parameters for tests and fuzzing only (8 MiB would still be slow in
    /// tests that unlock hundreds of times). Never use them for a real vault.
    pub const INSECURE_FOR_TESTS: Self = Self { m_kib: 8, t: 1, p: 1 };

    /// Upper bounds accepted when *reading* a file, so that a hostile file cannot make us
    /// allocate gigabytes or spin for hours.
    const MAX: Self = Self { m_kib: 4 * 1024 * 1024, t: 64, p: 16 };

    fn check(self) -> Result<argon2::Params, VaultError> {
        if self.m_kib > Self::MAX.m_kib || self.t > Self::MAX.t || self.p > Self::MAX.p {
            return Err(damaged(format!(
                "argon2id parameters out of range (m={} KiB, t={}, p={})",
                self.m_kib, self.t, self.p
            )));
        }
        argon2::Params::new(self.m_kib, self.t, self.p, Some(KEY_LEN))
            .map_err(|e| damaged(format!("invalid argon2id parameters: {e}")))
    }
}

pub(super) fn damaged(detail: impl Into<String>) -> VaultError {
    VaultError::Damaged { detail: detail.into() }
}

/// The Argon2id parameters plus salt, as stored.
// No `deny_unknown_fields` here: serde does not support it together with `flatten`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoredKdf {
    pub algorithm: String,
    pub version: u32,
    #[serde(flatten)]
    pub params: KdfParams,
    pub salt: String,
}

/// One way to recover the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum Slot {
    Password { id: String, kdf: StoredKdf, nonce: String, wrapped_key: String },
    Keyring { id: String, service: String, user: String, nonce: String, wrapped_key: String },
}

/// The encrypted content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Sealed {
    pub nonce: String,
    pub ciphertext: String,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VaultFile {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    pub generation: u64,
    pub slots: Vec<Slot>,
    pub content: Sealed,
    pub checksum: String,
}

/// Only the fields needed to decide whether we can read a file at all.
#[derive(Deserialize)]
struct Probe {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

/// What a version-1 checksum covers: every field of [`VaultFile`] in the same order, with an
/// empty checksum. Serializing this borrowed view gives exactly the bytes that
/// `serde_json::to_vec` of a [`VaultFile`] with `checksum = ""` gives, without cloning the
/// file (the ciphertext is most of it).
#[derive(Serialize)]
struct WholeFileV1<'a> {
    format: &'a str,
    version: u32,
    vault_id: &'a str,
    generation: u64,
    slots: &'a [Slot],
    content: SealedView<'a>,
    checksum: &'static str,
}

/// Serializes exactly like [`Sealed`], from borrowed parts.
#[derive(Serialize)]
struct SealedView<'a> {
    nonce: &'a str,
    ciphertext: &'a str,
}

/// The content object as parsed: the ciphertext borrowed from the file's text (base64 never
/// needs JSON escapes, so that is the normal case) rather than copied out of it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedIn<'a> {
    nonce: String,
    #[serde(borrow)]
    ciphertext: Cow<'a, str>,
}

/// [`VaultFile`] as parsed; see [`SealedIn`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultFileIn<'a> {
    format: String,
    version: u32,
    vault_id: String,
    generation: u64,
    slots: Vec<Slot>,
    #[serde(borrow)]
    content: SealedIn<'a>,
    checksum: String,
}

/// A checked file whose ciphertext may still be a slice of the text it was parsed from.
pub(super) struct Decoded<'a> {
    /// The file, with an empty `content.ciphertext`.
    pub file: VaultFile,
    /// The content's ciphertext (base64).
    pub ciphertext: Cow<'a, str>,
}

/// What a version-2 checksum covers: the header, with the content reduced to its nonce (GCM
/// authenticates the ciphertext; see the module docs).
#[derive(Serialize)]
struct Header<'a> {
    format: &'a str,
    version: u32,
    vault_id: &'a str,
    generation: u64,
    slots: &'a [Slot],
    content_nonce: &'a str,
    checksum: &'static str,
}

/// Feeds serialized bytes straight into a SHA-256 context instead of a buffer.
struct DigestWriter(digest::Context);

impl std::io::Write for DigestWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reports why a file that did not parse as a [`VaultFile`] (or whose header is not ours)
/// cannot be read: not JSON, not a vault, a newer or an impossible version. Returns `Ok` if
/// the header itself is a header this build reads.
fn check_header(bytes: &[u8]) -> Result<(), VaultError> {
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
        damaged(format!("not a readable vault file (truncated or corrupted JSON: {e})"))
    })?;
    if probe.format.as_ref().and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
        return Err(damaged("not a tessera vault (missing \"format\": \"tessera-vault\")"));
    }
    let version = probe
        .version
        .as_ref()
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| damaged("the version field is missing or not a number"))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(VaultError::UnsupportedVersion {
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        });
    }
    if version < u64::from(OLDEST_VERSION) {
        return Err(damaged(format!("version {version} never existed")));
    }
    Ok(())
}

/// The error for a file that is not UTF-8 text: what the header probe says, if anything.
pub(super) fn not_utf8(bytes: &[u8]) -> VaultError {
    check_header(bytes).err().unwrap_or_else(|| damaged("not a readable vault file (not UTF-8)"))
}

impl VaultFile {
    /// Parses and checks a file: format marker, version, structure, checksum. Never decrypts.
    ///
    /// The file is parsed once. Only when that fails, or when the header is not one this
    /// build reads, is it probed again for just `format` and `version`, so that a newer
    /// file is reported as [`VaultError::UnsupportedVersion`] rather than as damage.
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
        let text = std::str::from_utf8(bytes).map_err(|_| not_utf8(bytes))?;
        let Decoded { mut file, ciphertext } = Self::decode_text(text)?;
        file.content.ciphertext = ciphertext.into_owned();
        Ok(file)
    }

    /// Like [`VaultFile::decode`], leaving the ciphertext in `text` (no copy of the largest
    /// part of the file). Parsing from `str` also spares serde_json a UTF-8 check per string.
    pub(super) fn decode_text(text: &str) -> Result<Decoded<'_>, VaultError> {
        let parsed: VaultFileIn<'_> = match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                check_header(text.as_bytes())?;
                return Err(damaged(format!("unexpected structure: {e}")));
            }
        };
        if parsed.format != FORMAT_NAME
            || !(OLDEST_VERSION..=FORMAT_VERSION).contains(&parsed.version)
        {
            check_header(text.as_bytes())?;
            return Err(damaged("not a tessera vault (unexpected header)"));
        }
        let ciphertext = parsed.content.ciphertext;
        let file = Self {
            format: parsed.format,
            version: parsed.version,
            vault_id: parsed.vault_id,
            generation: parsed.generation,
            slots: parsed.slots,
            content: Sealed { nonce: parsed.content.nonce, ciphertext: String::new() },
            checksum: parsed.checksum,
        };
        if file.checksum != file.compute_checksum(&ciphertext) {
            return Err(damaged("checksum mismatch: the file was altered or corrupted"));
        }
        if file.slots.is_empty() {
            return Err(damaged("the file has no key slots"));
        }
        Ok(Decoded { file, ciphertext })
    }

    /// Serializes with a fresh checksum.
    pub(super) fn encode(mut self) -> Result<Vec<u8>, VaultError> {
        self.checksum = self.compute_checksum(&self.content.ciphertext);
        let mut bytes = serde_json::to_vec_pretty(&self)
            .map_err(|e| VaultError::Internal { detail: format!("serialize vault: {e}") })?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The checksum this file's version defines (see the module docs), streamed into SHA-256
    /// without building the JSON text. `ciphertext` stands for `content.ciphertext`, which
    /// [`VaultFile::decode_text`] leaves empty.
    fn compute_checksum(&self, ciphertext: &str) -> String {
        let mut writer = DigestWriter(digest::Context::new(&digest::SHA256));
        // Serializing strings and integers into a writer that never fails cannot fail; an
        // error here would only make the checksum mismatch, never pass.
        let _ = if self.version == 1 {
            serde_json::to_writer(
                &mut writer,
                &WholeFileV1 {
                    format: &self.format,
                    version: self.version,
                    vault_id: &self.vault_id,
                    generation: self.generation,
                    slots: &self.slots,
                    content: SealedView { nonce: &self.content.nonce, ciphertext },
                    checksum: "",
                },
            )
        } else {
            serde_json::to_writer(
                &mut writer,
                &Header {
                    format: &self.format,
                    version: self.version,
                    vault_id: &self.vault_id,
                    generation: self.generation,
                    slots: &self.slots,
                    content_nonce: &self.content.nonce,
                    checksum: "",
                },
            )
        };
        HEXLOWER.encode(writer.0.finish().as_ref())
    }

    pub(super) fn content_aad(&self) -> Vec<u8> {
        content_aad(&self.vault_id, self.generation)
    }
}

pub(super) fn content_aad(vault_id: &str, generation: u64) -> Vec<u8> {
    format!("{FORMAT_NAME}/{AAD_VERSION}/content/{vault_id}/{generation}").into_bytes()
}

pub(super) fn slot_aad(vault_id: &str, slot_id: &str) -> Vec<u8> {
    format!("{FORMAT_NAME}/{AAD_VERSION}/slot/{vault_id}/{slot_id}").into_bytes()
}

pub(super) fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, VaultError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| VaultError::Internal { detail: "the system random source failed".into() })?;
    Ok(bytes)
}

pub(super) fn random_key() -> Result<Key, VaultError> {
    random_bytes::<KEY_LEN>()
}

/// Returns a random RFC 4122 version-4 uuid.
pub(super) fn random_uuid() -> Result<String, VaultError> {
    let bytes = random_bytes::<16>()?;
    Ok(uuid::Builder::from_random_bytes(*bytes).into_uuid().to_string())
}

fn aead_key(key: &[u8; KEY_LEN]) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).expect("invariant: a 32-byte key fits AES-256-GCM"),
    )
}

/// Encrypts with a fresh random nonce; returns (nonce, ciphertext || tag) in base64.
pub(super) fn seal(key: &[u8; KEY_LEN], aad: &[u8], plain: &[u8]) -> Result<Sealed, VaultError> {
    let nonce = random_bytes::<NONCE_LEN>()?;
    let mut buffer = plain.to_vec();
    aead_key(key)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut buffer)
        .map_err(|_| VaultError::Internal { detail: "encryption failed".into() })?;
    let sealed =
        Sealed { nonce: BASE64.encode(nonce.as_ref()), ciphertext: BASE64.encode(&buffer) };
    zeroize::Zeroize::zeroize(&mut buffer);
    Ok(sealed)
}

/// Why [`open`] failed: bad encoding (damage) or authentication failure (wrong key or tamper).
pub(super) enum OpenError {
    Malformed(String),
    Rejected,
}

/// Decrypts and authenticates.
pub(super) fn open(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    nonce: &str,
    ciphertext: &str,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let nonce = BASE64.decode(nonce.as_bytes()).map_err(|e| OpenError::Malformed(e.to_string()))?;
    let nonce = Nonce::try_assume_unique_for_key(&nonce)
        .map_err(|_| OpenError::Malformed("the nonce has the wrong length".into()))?;
    let mut buffer = Zeroizing::new(
        BASE64.decode(ciphertext.as_bytes()).map_err(|e| OpenError::Malformed(e.to_string()))?,
    );
    let len = aead_key(key)
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .map_err(|_| OpenError::Rejected)?
        .len();
    buffer.truncate(len);
    Ok(buffer)
}

/// Unwraps a 32-byte key sealed by [`seal`].
pub(super) fn open_key(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    nonce: &str,
    wrapped: &str,
) -> Result<Key, OpenError> {
    let plain = open(key, aad, nonce, wrapped)?;
    let array: [u8; KEY_LEN] = plain
        .as_slice()
        .try_into()
        .map_err(|_| OpenError::Malformed("the wrapped key has the wrong length".into()))?;
    Ok(Zeroizing::new(array))
}

/// Derives a slot key from a password with Argon2id.
pub(super) fn derive_key(password: &str, kdf: &StoredKdf) -> Result<Key, VaultError> {
    if kdf.algorithm != "argon2id" || kdf.version != 0x13 {
        return Err(damaged(format!(
            "unknown key derivation {} version {}",
            kdf.algorithm.chars().take(20).collect::<String>(),
            kdf.version
        )));
    }
    let params = kdf.params.check()?;
    let salt = BASE64
        .decode(kdf.salt.as_bytes())
        .map_err(|e| damaged(format!("the password slot's salt is not base64: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(password.as_bytes(), &salt, out.as_mut())
        .map_err(|e| damaged(format!("argon2id refused the stored parameters: {e}")))?;
    Ok(out)
}

/// Returns fresh Argon2id settings with a new random salt.
pub(super) fn new_kdf(params: KdfParams) -> Result<StoredKdf, VaultError> {
    params.check().map_err(|_| VaultError::Internal {
        detail: format!(
            "argon2id parameters out of range (m={} KiB, t={}, p={})",
            params.m_kib, params.t, params.p
        ),
    })?;
    Ok(StoredKdf {
        algorithm: "argon2id".into(),
        version: 0x13,
        params,
        salt: BASE64.encode(random_bytes::<SALT_LEN>()?.as_ref()),
    })
}
