//! The on-disk container (version 3; versions 1 and 2 are still read) and the cryptography
//! that fills it.
//!
//! # Version 3 (written since Tessera's vault v3)
//!
//! One line of compact JSON (the *header*), a newline, then the raw content ciphertext to the
//! end of the file:
//!
//! ```text
//! {"format":"tessera-vault","version":3,"vault_id":"<uuid>","generation":7,
//!  "slots":[ ...as in version 2... ],
//!  "content":{"nonce":"<base64, 12 bytes>","length":<ciphertext bytes>},
//!  "checksum":"<hex SHA-256 of the header>","mac":"<hex HMAC-SHA256 of the header>"}\n
//! <length bytes: AES-256-GCM(master key, content plaintext) || 16-byte tag>
//! ```
//!
//! The header is shown wrapped here; on disk it is one line. "The header" as hashed and
//! MACed is the compact JSON of the header object with `checksum` and `mac` both `""`.
//!
//! - **Content plaintext**: one layout byte ([`CONTENT_LAYOUT`] = 1, [`RECOVERY_LAYOUT`]
//!   = 2 when accounts hold recovery codes, or [`ICON_LAYOUT`] = 3 when accounts have an
//!   icon the user picked; see `content.rs`) followed by the
//!   [postcard](https://docs.rs/postcard) encoding of the content (see `ContentV3` in the
//!   vault module). postcard is not self-describing: adding, removing or reordering a field
//!   of the encoded structs is a layout change and must bump the layout byte. Push accounts
//!   and push history travel inside it as one JSON string, because their types use serde
//!   features a non-self-describing format cannot carry (skipped optional fields, internally
//!   tagged enums); they are few and not on the `tessera code` path. Recovery codes and
//!   picked icons are sections after the content, not fields of the encoded entry, and each
//!   later layout is written only when its section has something to carry, so a vault
//!   without them stays readable by builds that know only layout 1.
//! - **Content associated data**: `tessera-vault/3/content/<vault id>/<generation>`
//!   (versions 1 and 2 use `tessera-vault/1/...`), so a version-3 ciphertext can never be
//!   taken for a JSON one or the other way round.
//! - **`checksum`**: as in version 2, not a security measure; it tells *accidental* damage
//!   (before any key is known) apart from a wrong password.
//! - **`mac`**: HMAC-SHA256 under a key derived from the master key with HKDF-SHA256 (info
//!   `tessera-vault/3/header-mac`). Checked right after a slot opens, before the content is
//!   used. Anyone can recompute the checksum, nobody without the master key can recompute the
//!   MAC: a pasted slot, changed KDF parameters, a removed slot or an edited generation are
//!   reported as damage (altered header) instead of being obeyed.
//! - **`length`**: lets a truncated file be reported as damaged before any key derivation.
//!
//! The master key is *rotated* on every slot change (see the `slots` module), so a slot cut
//! from an older copy of the file unwraps a key that opens neither today's MAC nor today's
//! content.
//!
//! ## Why version 3, and the migration
//!
//! Opening a 1,000-account version-2 vault spent ~75 % of `tessera code`'s instructions
//! decoding base64 and parsing JSON. Version 3 stores the ciphertext raw and the plaintext in
//! a compact binary encoding. Versions 1 and 2 keep opening (read-only code paths below);
//! the next save of such a vault writes version 3 with the same master key, so migrating
//! needs no password. A version-2 reader reports a version-3 file as unreadable (it cannot
//! parse past the header line); there is no way back except restoring `vault.json.bak` or an
//! export.
//!
//! # Version 2 (read only)
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
//!   and generation), so pieces cannot be swapped between files.
//!   The slot associated data starts with `tessera-vault/1/` in every version: it labels the
//!   wrapping scheme, which versions 2 and 3 did not change.
//!
//! ## Checksum: version 1 and version 2
//!
//! Version 1 hashed the whole object (compact JSON, `checksum` = `""`), ciphertext included.
//! Version 2 hashes only the *header*: the compact JSON of
//! `{"format","version","vault_id","generation","slots","content_nonce","checksum":""}`
//! (the content object reduced to its nonce). In every version:
//!
//! - damage to the header or to any slot (used or not) fails the checksum: *damaged*;
//! - with the header intact, a slot that refuses to open means a wrong password (or a stale
//!   keyring key), never a broken file;
//! - once a slot has opened, the master key is right, so content that fails GCM
//!   authentication is damage (reported as such), not a wrong password.

use std::ops::Range;

use data_encoding::{BASE64, HEXLOWER};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, hmac};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use zeroize::Zeroizing;

use super::VaultError;

/// The `format` marker of every Tessera vault file.
pub(super) const FORMAT_NAME: &str = "tessera-vault";
/// The newest container version this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 3;
/// The oldest container version this build still reads.
const OLDEST_VERSION: u32 = 1;
/// The version label in the slots' AEAD associated data (see the module docs: it names the
/// wrapping scheme, unchanged since version 1) and in versions 1 and 2's content.
const AAD_VERSION: u32 = 1;
/// The first byte of a version-3 content plaintext: which postcard layout follows.
pub(super) const CONTENT_LAYOUT: u8 = 1;
/// Layout 2: layout 1 followed by the accounts' recovery codes (see `content.rs`); written
/// only when some account has codes.
pub(super) const RECOVERY_LAYOUT: u8 = 2;
/// Layout 3: layout 2 (its recovery section possibly empty) followed by the icons the user
/// picked (see `content.rs`); written only when some account has a picked icon.
pub(super) const ICON_LAYOUT: u8 = 3;
/// Length of the master key and of every slot key, in bytes.
pub(super) const KEY_LEN: usize = 32;
const SALT_LEN: usize = 16;
/// HKDF info for the version-3 header MAC key.
const MAC_INFO: &[u8] = b"tessera-vault/3/header-mac";

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

    /// Upper bounds accepted when *reading* a file, so that a hostile (or damaged) file cannot
    /// make us allocate gigabytes or spin for minutes before the password is even checked:
    /// 1 GiB, 16 passes, 16 lanes. That is 8 times the default memory and 4 times its passes,
    /// room for a later version to raise the defaults without a format change.
    pub const MAX: Self = Self { m_kib: 1024 * 1024, t: 16, p: 16 };

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

/// Returns the password slot's id, KDF parameters, nonce and wrapped key, if there is one.
pub(super) fn password_slot(slots: &[Slot]) -> Option<(&str, &StoredKdf, &str, &str)> {
    slots.iter().find_map(|slot| match slot {
        Slot::Password { id, kdf, nonce, wrapped_key } => {
            Some((id.as_str(), kdf, nonce.as_str(), wrapped_key.as_str()))
        }
        Slot::Keyring { .. } => None,
    })
}

/// A sealed key (a slot's wrapped master key): nonce and ciphertext in base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sealed {
    pub nonce: String,
    pub ciphertext: String,
}

/// The parsed header of a file of any version (the content ciphertext is kept apart, see
/// [`Decoded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VaultFile {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    pub generation: u64,
    pub slots: Vec<Slot>,
    /// The content nonce, base64.
    pub content_nonce: String,
    /// The content ciphertext's length in bytes (version 3; 0 before).
    pub content_length: u64,
    pub checksum: String,
    /// The keyed header MAC (version 3; empty before).
    pub mac: String,
}

/// Only the fields needed to decide whether we can read a file at all.
#[derive(Deserialize)]
struct Probe {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

/// A version 1 or 2 file's content object as parsed: the ciphertext borrowed from the text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacySealedIn<'a> {
    nonce: String,
    #[serde(borrow)]
    ciphertext: Cow<'a, str>,
}

/// A version 1 or 2 file as parsed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyFileIn<'a> {
    format: String,
    version: u32,
    vault_id: String,
    generation: u64,
    slots: Vec<Slot>,
    #[serde(borrow)]
    content: LegacySealedIn<'a>,
    checksum: String,
}

/// What a version-1 checksum covers: every field in file order, with an empty checksum.
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

#[derive(Serialize)]
struct SealedView<'a> {
    nonce: &'a str,
    ciphertext: &'a str,
}

/// What a version-2 checksum covers: the header, with the content reduced to its nonce.
#[derive(Serialize)]
struct HeaderV2<'a> {
    format: &'a str,
    version: u32,
    vault_id: &'a str,
    generation: u64,
    slots: &'a [Slot],
    content_nonce: &'a str,
    checksum: &'static str,
}

/// The version-3 content reference in the header.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentRef<'a> {
    #[serde(borrow)]
    nonce: Cow<'a, str>,
    length: u64,
}

/// The version-3 header line, as written and as parsed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderV3<'a> {
    #[serde(borrow)]
    format: Cow<'a, str>,
    version: u32,
    #[serde(borrow)]
    vault_id: Cow<'a, str>,
    generation: u64,
    #[serde(borrow)]
    slots: Cow<'a, [Slot]>,
    #[serde(borrow)]
    content: ContentRef<'a>,
    #[serde(borrow)]
    checksum: Cow<'a, str>,
    #[serde(borrow)]
    mac: Cow<'a, str>,
}

/// Where a decoded file's content ciphertext is.
pub(super) enum Ciphertext {
    /// A range of the file's bytes (version 3: no copy).
    InFile(Range<usize>),
    /// Decoded from base64 (versions 1 and 2).
    Owned(Vec<u8>),
}

impl Ciphertext {
    /// Returns the ciphertext given the bytes the file was decoded from.
    pub(super) fn get<'a>(&'a self, file_bytes: &'a [u8]) -> &'a [u8] {
        match self {
            // The range was checked against these bytes when decoding; an empty slice would
            // only fail authentication, never panic.
            Self::InFile(range) => file_bytes.get(range.clone()).unwrap_or_default(),
            Self::Owned(bytes) => bytes,
        }
    }

    /// Like [`Ciphertext::get`], to decrypt it where it lies.
    pub(super) fn get_mut<'a>(&'a mut self, file_bytes: &'a mut [u8]) -> &'a mut [u8] {
        match self {
            Self::InFile(range) => file_bytes.get_mut(range.clone()).unwrap_or_default(),
            Self::Owned(bytes) => bytes,
        }
    }
}

/// A checked file: its header and where its ciphertext is.
pub(super) struct Decoded {
    pub file: VaultFile,
    pub ciphertext: Ciphertext,
}

/// Reports why a file that did not parse (or whose header is not ours) cannot be read: not a
/// vault, a newer or an impossible version. Looks at the first line (version 3 and later put
/// the header there) and then at the whole file (versions 1 and 2).
fn check_header(bytes: &[u8]) -> Result<(), VaultError> {
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let probe: Probe =
        serde_json::from_slice(first_line).or_else(|_| serde_json::from_slice(bytes)).map_err(
            |e| damaged(format!("not a readable vault file (truncated or corrupted header: {e})")),
        )?;
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

impl VaultFile {
    /// Parses and checks a file of any supported version: format marker, version, structure,
    /// checksum, ciphertext length. Never decrypts.
    ///
    /// Only when parsing fails is the file probed again for just `format` and `version`, so
    /// that a newer file is reported as [`VaultError::UnsupportedVersion`] rather than damage.
    pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, VaultError> {
        let decoded = match bytes.iter().position(|&b| b == b'\n') {
            Some(end) if bytes.first() == Some(&b'{') && bytes.get(1) == Some(&b'"') => {
                Self::decode_v3(bytes, end)?
            }
            _ => Self::decode_legacy(bytes)?,
        };
        if decoded.file.slots.is_empty() {
            return Err(damaged("the file has no key slots"));
        }
        Ok(decoded)
    }

    /// A version-3 file: the header is `bytes[..end]`, the ciphertext follows the newline.
    /// (Versions 1 and 2 are pretty-printed, so their first line is a lone `{`.) A first line
    /// that is not a version-3 header is handed to the version 1/2 reader, which also sorts
    /// out damage and newer versions.
    fn decode_v3(bytes: &[u8], end: usize) -> Result<Decoded, VaultError> {
        let header = match serde_json::from_slice::<HeaderV3<'_>>(&bytes[..end]) {
            Ok(header) if header.format == FORMAT_NAME && header.version == 3 => header,
            _ => return Self::decode_legacy(bytes),
        };
        let start = end + 1;
        let file = Self {
            format: header.format.into_owned(),
            version: header.version,
            vault_id: header.vault_id.into_owned(),
            generation: header.generation,
            slots: header.slots.into_owned(),
            content_nonce: header.content.nonce.into_owned(),
            content_length: header.content.length,
            checksum: header.checksum.into_owned(),
            mac: header.mac.into_owned(),
        };
        if file.checksum != file.compute_checksum("") {
            return Err(damaged("checksum mismatch: the file was altered or corrupted"));
        }
        let actual = (bytes.len() - start) as u64;
        if actual != file.content_length {
            return Err(damaged(format!(
                "the content is {actual} bytes long, the header says {} (truncated or extended)",
                file.content_length
            )));
        }
        Ok(Decoded { file, ciphertext: Ciphertext::InFile(start..bytes.len()) })
    }

    /// A version 1 or 2 file: one JSON object with a base64 ciphertext.
    fn decode_legacy(bytes: &[u8]) -> Result<Decoded, VaultError> {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            check_header(bytes)
                .err()
                .unwrap_or_else(|| damaged("not a readable vault file (not UTF-8)"))
        })?;
        let parsed: LegacyFileIn<'_> = match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                check_header(bytes)?;
                return Err(damaged(format!("unexpected structure: {e}")));
            }
        };
        if parsed.format != FORMAT_NAME || !(OLDEST_VERSION..=2).contains(&parsed.version) {
            check_header(bytes)?;
            return Err(damaged("not a tessera vault (unexpected header)"));
        }
        let file = Self {
            format: parsed.format,
            version: parsed.version,
            vault_id: parsed.vault_id,
            generation: parsed.generation,
            slots: parsed.slots,
            content_nonce: parsed.content.nonce,
            content_length: 0,
            checksum: parsed.checksum,
            mac: String::new(),
        };
        if file.checksum != file.compute_checksum(&parsed.content.ciphertext) {
            return Err(damaged("checksum mismatch: the file was altered or corrupted"));
        }
        let ciphertext = BASE64
            .decode(parsed.content.ciphertext.as_bytes())
            .map_err(|e| damaged(format!("the content is malformed: {e}")))?;
        Ok(Decoded { file, ciphertext: Ciphertext::Owned(ciphertext) })
    }

    /// Serializes a version-3 file: header line with a fresh checksum and a MAC under
    /// `master_key`, then the raw ciphertext.
    pub(super) fn encode_v3(
        mut self,
        ciphertext: &[u8],
        master_key: &[u8; KEY_LEN],
    ) -> Result<Vec<u8>, VaultError> {
        self.version = 3;
        self.content_length = ciphertext.len() as u64;
        self.checksum = self.compute_checksum("");
        self.mac = HEXLOWER.encode(hmac::sign(&mac_key(master_key)?, &self.header_v3()).as_ref());
        let mut bytes = serde_json::to_vec(&self.header_view(&self.checksum, &self.mac))
            .map_err(|e| VaultError::Internal { detail: format!("serialize vault: {e}") })?;
        bytes.push(b'\n');
        bytes.extend_from_slice(ciphertext);
        Ok(bytes)
    }

    /// Checks the version-3 header MAC under `master_key`; versions 1 and 2 have none (their
    /// next save writes one).
    pub(super) fn verify_mac(&self, master_key: &[u8; KEY_LEN]) -> Result<(), VaultError> {
        if self.version < 3 {
            return Ok(());
        }
        let altered = || {
            damaged(
                "the header does not authenticate under the vault's key: it was altered \
                 (for example a key slot pasted from another copy)",
            )
        };
        let tag = HEXLOWER.decode(self.mac.as_bytes()).map_err(|_| altered())?;
        hmac::verify(&mac_key(master_key)?, &self.header_v3(), &tag).map_err(|_| altered())
    }

    fn header_view<'a>(&'a self, checksum: &'a str, mac: &'a str) -> HeaderV3<'a> {
        HeaderV3 {
            format: Cow::Borrowed(&self.format),
            version: self.version,
            vault_id: Cow::Borrowed(&self.vault_id),
            generation: self.generation,
            slots: Cow::Borrowed(&self.slots),
            content: ContentRef {
                nonce: Cow::Borrowed(&self.content_nonce),
                length: self.content_length,
            },
            checksum: Cow::Borrowed(checksum),
            mac: Cow::Borrowed(mac),
        }
    }

    /// The bytes a version-3 checksum and MAC cover: the header with both fields empty.
    fn header_v3(&self) -> Vec<u8> {
        // Serializing strings and integers cannot fail; an empty result would only make the
        // checksum and MAC mismatch, never pass.
        serde_json::to_vec(&self.header_view("", "")).unwrap_or_default()
    }

    /// The checksum this file's version defines (see the module docs). `legacy_ciphertext`
    /// is the base64 ciphertext a version-1 checksum covers (unused otherwise).
    fn compute_checksum(&self, legacy_ciphertext: &str) -> String {
        let bytes = match self.version {
            1 => serde_json::to_vec(&WholeFileV1 {
                format: &self.format,
                version: self.version,
                vault_id: &self.vault_id,
                generation: self.generation,
                slots: &self.slots,
                content: SealedView { nonce: &self.content_nonce, ciphertext: legacy_ciphertext },
                checksum: "",
            }),
            2 => serde_json::to_vec(&HeaderV2 {
                format: &self.format,
                version: self.version,
                vault_id: &self.vault_id,
                generation: self.generation,
                slots: &self.slots,
                content_nonce: &self.content_nonce,
                checksum: "",
            }),
            _ => Ok(self.header_v3()),
        };
        HEXLOWER.encode(digest::digest(&digest::SHA256, &bytes.unwrap_or_default()).as_ref())
    }

    pub(super) fn content_aad(&self) -> Vec<u8> {
        content_aad(self.version, &self.vault_id, self.generation)
    }
}

#[cfg(test)]
impl VaultFile {
    /// Re-serializes a version-3 file the way anyone without the master key can: a fresh
    /// (unkeyed) checksum and length, the MAC left as it was. Tests use it to stage attacks.
    pub(super) fn forge_v3(mut self, ciphertext: &[u8]) -> Vec<u8> {
        self.content_length = ciphertext.len() as u64;
        self.checksum = self.compute_checksum("");
        let mut bytes = serde_json::to_vec(&self.header_view(&self.checksum, &self.mac)).unwrap();
        bytes.push(b'\n');
        bytes.extend_from_slice(ciphertext);
        bytes
    }
}

/// Derives the header MAC key from the master key (HKDF-SHA256, see the module docs), so that
/// the AES-GCM key is never used as an HMAC key too.
fn mac_key(master_key: &[u8; KEY_LEN]) -> Result<hmac::Key, VaultError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(master_key);
    let okm = prk
        .expand(&[MAC_INFO], hmac::HMAC_SHA256)
        .map_err(|_| VaultError::Internal { detail: "key derivation failed".into() })?;
    Ok(hmac::Key::from(okm))
}

/// The content's associated data: versions 1 and 2 share a label, version 3 has its own.
pub(super) fn content_aad(version: u32, vault_id: &str, generation: u64) -> Vec<u8> {
    let label = if version >= 3 { 3 } else { AAD_VERSION };
    format!("{FORMAT_NAME}/{label}/content/{vault_id}/{generation}").into_bytes()
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

/// Encrypts with a fresh random nonce; returns the nonce and ciphertext || tag.
pub(super) fn seal_raw(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    plain: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), VaultError> {
    let nonce = random_bytes::<NONCE_LEN>()?;
    let mut buffer = Vec::with_capacity(plain.len() + AES_256_GCM.tag_len());
    buffer.extend_from_slice(plain);
    aead_key(key)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut buffer)
        .map_err(|_| VaultError::Internal { detail: "encryption failed".into() })?;
    Ok((*nonce, buffer))
}

/// Encrypts with a fresh random nonce; returns (nonce, ciphertext || tag) in base64.
pub(super) fn seal(key: &[u8; KEY_LEN], aad: &[u8], plain: &[u8]) -> Result<Sealed, VaultError> {
    let (nonce, buffer) = seal_raw(key, aad, plain)?;
    Ok(Sealed { nonce: BASE64.encode(&nonce), ciphertext: BASE64.encode(&buffer) })
}

/// Why [`open`] failed: bad encoding (damage) or authentication failure (wrong key or tamper).
pub(super) enum OpenError {
    Malformed(String),
    Rejected,
}

/// Decrypts and authenticates a raw ciphertext under a base64 nonce.
pub(super) fn open_raw(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    nonce: &str,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    let len = open_in_place(key, aad, nonce, &mut buffer)?.len();
    buffer.truncate(len);
    Ok(buffer)
}

/// Decrypts and authenticates `buffer` (raw ciphertext and tag) where it lies; returns the
/// plaintext, its start. The caller wipes the buffer.
pub(super) fn open_in_place<'b>(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    nonce: &str,
    buffer: &'b mut [u8],
) -> Result<&'b [u8], OpenError> {
    let nonce = BASE64.decode(nonce.as_bytes()).map_err(|e| OpenError::Malformed(e.to_string()))?;
    let nonce = Nonce::try_assume_unique_for_key(&nonce)
        .map_err(|_| OpenError::Malformed("the nonce has the wrong length".into()))?;
    aead_key(key)
        .open_in_place(nonce, Aad::from(aad), buffer)
        .map(|plain| &*plain)
        .map_err(|_| OpenError::Rejected)
}

/// Decrypts and authenticates; nonce and ciphertext in base64.
pub(super) fn open(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    nonce: &str,
    ciphertext: &str,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let ciphertext = Zeroizing::new(
        BASE64.decode(ciphertext.as_bytes()).map_err(|e| OpenError::Malformed(e.to_string()))?,
    );
    open_raw(key, aad, nonce, &ciphertext)
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
    let salt = BASE64
        .decode(kdf.salt.as_bytes())
        .map_err(|e| damaged(format!("the password slot's salt is not base64: {e}")))?;
    derive_key_raw(password, &salt, kdf.params)
}

/// Derives a 32-byte key with Argon2id v1.3 from raw salt bytes. Parameters above
/// [`KdfParams::MAX`] are refused as damage *before* anything is allocated.
pub(super) fn derive_key_raw(
    password: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Key, VaultError> {
    let params = params.check()?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(password.as_bytes(), salt, out.as_mut())
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
