//! The cryptographic building blocks the encrypted formats share: AES-256-GCM (ring), PBKDF2
//! with HMAC-SHA-1/256/512 (ring), scrypt (RustCrypto `scrypt`), Argon2id (RustCrypto `argon2`),
//! AES-CBC decryption (RustCrypto `cbc`, for the formats that chose it), random bytes and
//! version-4 UUIDs.
//!
//! Every decryption failure collapses into `None`: with an AEAD, a wrong password and a damaged
//! file are indistinguishable, and callers turn `None` into the error that fits their format.

use std::num::NonZeroU32;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::TransferError;

/// Length of an AES-GCM authentication tag.
pub(crate) const TAG_LEN: usize = 16;

/// Returns `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], TransferError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| TransferError::Random)?;
    Ok(out)
}

/// Returns a random (version 4) UUID in its usual hyphenated lower-case form.
pub(crate) fn uuid_v4() -> Result<String, TransferError> {
    let mut b: [u8; 16] = random_bytes()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = data_encoding::HEXLOWER.encode(&b);
    Ok(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

fn key(bytes: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes).ok().map(LessSafeKey::new)
}

/// Decrypts `ciphertext || tag` with AES-256-GCM; `None` if the key, nonce or data are wrong.
pub(crate) fn open(
    key_bytes: &[u8],
    nonce: &[u8],
    ciphertext_and_tag: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    open_with_aad(key_bytes, nonce, ciphertext_and_tag, &[])
}

/// Decrypts `ciphertext || tag` with AES-256-GCM and associated data `aad`.
pub(crate) fn open_with_aad(
    key_bytes: &[u8],
    nonce: &[u8],
    ciphertext_and_tag: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let key = key(key_bytes)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
    let len = key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}

/// Decrypts AES-CBC with PKCS#7 padding (128- or 256-bit key by its length); `None` if the
/// key or IV has the wrong length, the data is not whole blocks or the padding is wrong.
///
/// CBC has no integrity check: a wrong key usually shows as bad padding, but about one time
/// in 256 it "decrypts" to garbage, so callers must also check what comes out.
pub(crate) fn cbc_decrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
    let mut buf = Zeroizing::new(data.to_vec());
    let len = match key.len() {
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .ok()?
            .len(),
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .ok()?
            .len(),
        _ => return None,
    };
    buf.truncate(len);
    Some(buf)
}

/// The largest Argon2 memory cost we accept from a file we did not write (in KiB: 1 GiB).
/// Stratum uses 64 MiB, Proton 19 MiB; a crafted file must not make us allocate more.
const ARGON2_MAX_KIB: u32 = 1024 * 1024;

/// Derives a 32-byte key with Argon2id (version 0x13); `None` if the parameters are invalid or
/// too costly.
pub(crate) fn argon2id(
    password: &str,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
) -> Option<Zeroizing<[u8; 32]>> {
    if memory_kib > ARGON2_MAX_KIB || iterations > 100 {
        return None;
    }
    let params = argon2::Params::new(memory_kib, iterations, lanes, Some(32)).ok()?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon.hash_password_into(password.as_bytes(), salt, &mut *out).ok()?;
    Some(out)
}

/// Encrypts with AES-256-GCM under a fresh random nonce; returns `(nonce, ciphertext || tag)`.
///
/// Why a random nonce each time: the formats we write (Aegis, 2FAS) store the nonce beside the
/// ciphertext and expect a new one per encryption; a 96-bit random nonce never repeats in
/// practice at the number of exports a user makes.
pub(crate) fn seal(
    key_bytes: &[u8],
    plaintext: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), TransferError> {
    seal_with_aad(key_bytes, plaintext, &[])
}

/// Encrypts like [`seal`], authenticating `aad` as associated data.
pub(crate) fn seal_with_aad(
    key_bytes: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), TransferError> {
    let key = key(key_bytes).ok_or(TransferError::Random)?;
    let nonce_bytes: [u8; NONCE_LEN] = random_bytes()?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| TransferError::Random)?;
    Ok((nonce_bytes, buf))
}

/// Encrypts with AES-256-GCM under a nonce the caller drew from [`random_bytes`] (a format
/// whose associated data contains the nonce must know it before sealing); returns
/// `ciphertext || tag`.
pub(crate) fn seal_with_nonce(
    key_bytes: &[u8],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, TransferError> {
    let key = key(key_bytes).ok_or(TransferError::Random)?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut buf)
        .map_err(|_| TransferError::Random)?;
    Ok(buf)
}

/// PBKDF2 with HMAC-SHA-256, 32-byte output.
pub(crate) fn pbkdf2_sha256(
    password: &str,
    salt: &[u8],
    iterations: NonZeroU32,
) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, password.as_bytes(), &mut *out);
    out
}

/// PBKDF2 with HMAC-SHA-1, 32-byte output (andOTP's choice, not ours).
pub(crate) fn pbkdf2_sha1(
    password: &str,
    salt: &[u8],
    iterations: NonZeroU32,
) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA1, iterations, salt, password.as_bytes(), &mut *out);
    out
}

/// PBKDF2 with HMAC-SHA-512, 32-byte output (FreeOTP 2's choice).
pub(crate) fn pbkdf2_sha512(
    password: &str,
    salt: &[u8],
    iterations: NonZeroU32,
) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, iterations, salt, password.as_bytes(), &mut *out);
    out
}

/// The largest scrypt working set we agree to allocate for a file we did not write (256 MiB;
/// Aegis itself uses 32 MiB). A crafted file must not make us allocate gigabytes.
const SCRYPT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Derives a 32-byte key with scrypt; `None` if the parameters are invalid or too costly.
pub(crate) fn scrypt(
    password: &str,
    salt: &[u8],
    n: u64,
    r: u32,
    p: u32,
) -> Option<Zeroizing<[u8; 32]>> {
    if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 || p > 16 {
        return None;
    }
    let cost = n.checked_mul(u64::from(r))?.checked_mul(128)?;
    if cost > SCRYPT_MAX_BYTES {
        return None;
    }
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(log_n, r, p).ok()?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut *out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_with_the_same_key_only() {
        let key = [7u8; 32];
        let (nonce, sealed) = seal(&key, b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + TAG_LEN);
        assert_eq!(&*open(&key, &nonce, &sealed).unwrap(), b"hello");
        assert!(open(&[8u8; 32], &nonce, &sealed).is_none());
        let mut damaged = sealed.clone();
        damaged[0] ^= 1;
        assert!(open(&key, &nonce, &damaged).is_none());
        assert!(open(&key, &nonce[..11], &sealed).is_none(), "short nonce is refused");
        assert!(open(&key[..16], &nonce, &sealed).is_none(), "short key is refused");
    }

    #[test]
    fn scrypt_matches_rfc7914_vector() {
        // RFC 7914 section 12, second vector (first 32 bytes of the 64-byte output).
        let out = scrypt("password", b"NaCl", 1024, 8, 16).unwrap();
        assert_eq!(
            data_encoding::HEXLOWER.encode(&*out),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
        );
    }

    #[test]
    fn scrypt_refuses_absurd_parameters() {
        assert!(scrypt("pw", b"salt", 1000, 8, 1).is_none(), "not a power of two");
        assert!(scrypt("pw", b"salt", 1 << 30, 8, 1).is_none(), "too much memory");
        assert!(scrypt("pw", b"salt", 1024, 0, 1).is_none());
        assert!(scrypt("pw", b"salt", 1024, 8, 1000).is_none());
    }

    #[test]
    fn pbkdf2_sha256_matches_known_vector() {
        // RFC 7914 section 11 (PBKDF2-HMAC-SHA256, c = 1), first 32 bytes.
        let out = pbkdf2_sha256("passwd", b"salt", NonZeroU32::new(1).unwrap());
        assert_eq!(
            data_encoding::HEXLOWER.encode(&*out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, uuid_v4().unwrap());
    }
}
