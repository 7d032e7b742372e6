//! The on-disk container (version 1) and the cryptography that fills it.
//!
//! ```json
//! { "format": "tessera-vault", "version": 1, "vault_id": "<uuid>", "generation": 7,
//!   "slots": [
//!     { "type": "password", "id": "<uuid>",
//!       "kdf": { "algorithm": "argon2id", "version": 19, "m_kib": 131072, "t": 4, "p": 1,
//!                "salt": "<base64, 16 bytes>" },
//!       "nonce": "<base64, 12 bytes>", "wrapped_key": "<base64, 32-byte key + 16-byte tag>" },
//!     { "type": "keyring", "id": "<uuid>", "service": "tessera", "user": "<vault uuid>",
//!       "nonce": "...", "wrapped_key": "..." } ],
//!   "content": { "nonce": "<base64>", "ciphertext": "<base64, JSON content + tag>" },
//!   "checksum": "<hex SHA-256 of this object serialized with checksum = \"\">" }
//! ```
//!
//! - The content is AES-256-GCM under a random 256-bit master key. A fresh random 96-bit nonce
//!   is drawn for every save (and every slot wrap); with random nonces the GCM bound of 2^32
//!   encryptions per key is far beyond any vault's lifetime.
//! - Each slot wraps the master key with AES-256-GCM under its own key (Argon2id output for a
//!   password slot, a random key held by the OS secret store for a keyring slot). The
//!   associated data binds every ciphertext to this vault id and slot id (content: vault id
//!   and generation), so pieces cannot be swapped between files or rolled back silently.
//! - The checksum is not a security measure (GCM authenticates); it tells *accidental*
//!   damage apart from a wrong password: once the checksum holds, a slot that refuses to open
//!   means the password is wrong, not that the file is broken.

use data_encoding::{BASE64, HEXLOWER};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::VaultError;

/// The `format` marker of every Tessera vault file.
pub(super) const FORMAT_NAME: &str = "tessera-vault";
/// The newest container version this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;
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

impl VaultFile {
    /// Parses and checks a file: format marker, version, structure, checksum. Never decrypts.
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, VaultError> {
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
        if version != u64::from(FORMAT_VERSION) {
            return Err(damaged(format!("version {version} never existed")));
        }
        let file: Self = serde_json::from_slice(bytes)
            .map_err(|e| damaged(format!("unexpected structure: {e}")))?;
        if file.checksum != file.compute_checksum() {
            return Err(damaged("checksum mismatch: the file was altered or corrupted"));
        }
        if file.slots.is_empty() {
            return Err(damaged("the file has no key slots"));
        }
        Ok(file)
    }

    /// Serializes with a fresh checksum.
    pub(super) fn encode(mut self) -> Result<Vec<u8>, VaultError> {
        self.checksum = self.compute_checksum();
        let mut bytes = serde_json::to_vec_pretty(&self)
            .map_err(|e| VaultError::Internal { detail: format!("serialize vault: {e}") })?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    fn compute_checksum(&self) -> String {
        let mut copy = self.clone();
        copy.checksum = String::new();
        // Serializing a struct of strings and integers cannot fail.
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        HEXLOWER.encode(digest::digest(&digest::SHA256, &bytes).as_ref())
    }

    pub(super) fn content_aad(&self) -> Vec<u8> {
        content_aad(&self.vault_id, self.generation)
    }
}

pub(super) fn content_aad(vault_id: &str, generation: u64) -> Vec<u8> {
    format!("{FORMAT_NAME}/{FORMAT_VERSION}/content/{vault_id}/{generation}").into_bytes()
}

pub(super) fn slot_aad(vault_id: &str, slot_id: &str) -> Vec<u8> {
    format!("{FORMAT_NAME}/{FORMAT_VERSION}/slot/{vault_id}/{slot_id}").into_bytes()
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
