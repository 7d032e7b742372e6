//! RSA as privacyIDEA's PUSH token uses it: PKCS#1 v1.5 signatures with SHA-256 over UTF-8
//! strings, written as upper-case RFC 4648 base32 with `=` padding (the server decodes
//! strictly, so the padding matters).
//!
//! Why two crates: ring signs and verifies in constant time but cannot generate RSA keys; the
//! `rsa` crate generates them (and encodes SPKI/PKCS#8), but its private-key operations are not
//! constant-time (RUSTSEC-2023-0071), so it is used for generation and encoding only.

use data_encoding::{BASE32, BASE64, BASE64URL};
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::PushError;

/// Smallest server or device key accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// Generates an RSA private key of `bits` bits (e = 65537) and returns it as PKCS#8 DER.
pub(crate) fn generate_rsa_pkcs8(bits: usize) -> Result<Zeroizing<Vec<u8>>, PushError> {
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, bits)
        .map_err(|e| PushError::Key(format!("cannot generate an RSA key: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| PushError::Key(format!("cannot encode the RSA key: {e}")))?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

/// Returns the DER SubjectPublicKeyInfo of a PKCS#8 RSA private key.
pub(crate) fn spki_of_pkcs8(pkcs8: &[u8]) -> Result<Vec<u8>, PushError> {
    let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8)
        .map_err(|e| PushError::Key(format!("cannot read the device key: {e}")))?;
    let spki = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| PushError::Key(format!("cannot encode the device public key: {e}")))?;
    Ok(spki.as_bytes().to_vec())
}

/// Checks that a PKCS#8 blob is an RSA key ring can sign with.
pub(crate) fn check_pkcs8(pkcs8: &[u8]) -> Result<(), PushError> {
    RsaKeyPair::from_pkcs8(pkcs8)
        .map(drop)
        .map_err(|e| PushError::Key(format!("the device key is not a usable RSA key: {e}")))
}

/// Generates an ECDSA P-256 private key and returns it as PKCS#8 DER.
pub(crate) fn generate_p256_pkcs8() -> Result<Zeroizing<Vec<u8>>, PushError> {
    let doc = signature::EcdsaKeyPair::generate_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &SystemRandom::new(),
    )
    .map_err(|_| PushError::Key("cannot generate a P-256 key".into()))?;
    Ok(Zeroizing::new(doc.as_ref().to_vec()))
}

/// Opens a PKCS#8 ECDSA P-256 key for signing.
pub(crate) fn p256_pair(pkcs8: &[u8]) -> Result<signature::EcdsaKeyPair, PushError> {
    signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8,
        &SystemRandom::new(),
    )
    .map_err(|_| PushError::Key("the key is not a usable P-256 key".into()))
}

/// Signs `message` with ECDSA P-256/SHA-256 and returns the fixed 64-byte `r || s`.
pub(crate) fn sign_p256(pkcs8: &[u8], message: &[u8]) -> Result<Vec<u8>, PushError> {
    let pair = p256_pair(pkcs8)?;
    let sig = pair
        .sign(&SystemRandom::new(), message)
        .map_err(|_| PushError::Key("signing failed".into()))?;
    Ok(sig.as_ref().to_vec())
}

/// Verifies a fixed-size (`r || s`) ECDSA P-256/SHA-256 signature with an uncompressed SEC1
/// public key. Returns false for any malformed input.
pub(crate) fn verify_p256(public: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public)
        .verify(message, signature)
        .is_ok()
}

/// Signs `message` with RSASSA-PKCS1-v1_5/SHA-256 and returns padded upper-case base32.
pub(crate) fn sign(pkcs8: &[u8], message: &str) -> Result<String, PushError> {
    let pair = RsaKeyPair::from_pkcs8(pkcs8)
        .map_err(|e| PushError::Key(format!("the device key is not a usable RSA key: {e}")))?;
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .map_err(|_| PushError::Key("signing failed".into()))?;
    Ok(BASE32.encode(&signature))
}

/// Verifies a padded base32 RSASSA-PKCS1-v1_5/SHA-256 signature over `message` with a PKCS#1
/// RSAPublicKey. Returns false for any malformed input.
// Used by the push clients only.
#[cfg_attr(not(feature = "push-client"), allow(dead_code))]
pub(crate) fn verify(pkcs1_public: &[u8], message: &[u8], signature_b32: &str) -> bool {
    let Ok(signature) = BASE32.decode(signature_b32.as_bytes()) else { return false };
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pkcs1_public)
        .verify(message, &signature)
        .is_ok()
}

/// Reads the server public key privacyIDEA returns at enrolment: base64 (lines of 64) of a
/// PKCS#1 RSAPublicKey, possibly with PEM armour. Returns the DER.
// Used by the push clients only.
#[cfg_attr(not(feature = "push-client"), allow(dead_code))]
pub(crate) fn parse_server_public_key(text: &str) -> Result<Vec<u8>, PushError> {
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("-----"))
        .flat_map(|line| line.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = BASE64
        .decode(body.as_bytes())
        .or_else(|_| BASE64URL.decode(body.as_bytes()))
        .map_err(|_| PushError::Key("the server public key is not base64".into()))?;
    let key = rsa::RsaPublicKey::from_pkcs1_der(&der)
        .map_err(|_| PushError::Key("the server public key is not a PKCS#1 RSA key".into()))?;
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(PushError::Key(format!("the server public key is too short ({bits} bits)")));
    }
    Ok(der)
}

/// Returns the RFC 8785 (JCS) canonical form of a JSON value.
pub(crate) fn canonical_json(value: &serde_json::Value) -> Option<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One 2048-bit key shared by the tests (generation is the slow part).
    fn test_key() -> &'static [u8] {
        static KEY: OnceLock<Zeroizing<Vec<u8>>> = OnceLock::new();
        KEY.get_or_init(|| generate_rsa_pkcs8(2048).unwrap())
    }

    fn pkcs1_public(pkcs8: &[u8]) -> Vec<u8> {
        RsaKeyPair::from_pkcs8(pkcs8).unwrap().public().as_ref().to_vec()
    }

    #[test]
    fn signatures_round_trip_as_padded_upper_base32() {
        let key = test_key();
        let sig = sign(key, "PIPU0001|2026-11-21T23:07:13Z").unwrap();
        // 256 bytes -> 410 base32 symbols + 6 '=' of padding.
        assert_eq!(sig.len(), 416);
        assert!(sig.ends_with("======"), "{sig}");
        assert!(
            sig.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c) || c == '=')
        );
        let public = pkcs1_public(key);
        assert!(verify(&public, b"PIPU0001|2026-11-21T23:07:13Z", &sig));
        assert!(!verify(&public, b"PIPU0001|2026-11-21T23:07:14Z", &sig));
        assert!(!verify(&public, b"PIPU0001|2026-11-21T23:07:13Z", &sig.to_lowercase()));
        assert!(!verify(&public, b"x", "not base32!"));
    }

    #[test]
    fn spki_export_carries_the_same_public_key() {
        let key = test_key();
        let spki = spki_of_pkcs8(key).unwrap();
        let from_spki = {
            use rsa::pkcs8::DecodePublicKey;
            rsa::RsaPublicKey::from_public_key_der(&spki).unwrap()
        };
        let from_pkcs1 = rsa::RsaPublicKey::from_pkcs1_der(&pkcs1_public(key)).unwrap();
        assert_eq!(from_spki, from_pkcs1);
    }

    #[test]
    fn server_key_parses_with_line_breaks_and_armour() {
        let public = pkcs1_public(test_key());
        let b64 = BASE64.encode(&public);
        let wrapped: Vec<String> =
            b64.as_bytes().chunks(64).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        assert_eq!(parse_server_public_key(&wrapped.join("\n")).unwrap(), public);
        let pem = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            wrapped.join("\n")
        );
        assert_eq!(parse_server_public_key(&pem).unwrap(), public);
        assert!(parse_server_public_key("bm90IGEga2V5").is_err());
        assert!(parse_server_public_key("%%%").is_err());
    }

    #[test]
    fn short_server_keys_are_refused() {
        // A syntactically valid 1024-bit key is too weak to trust.
        let small = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
        let der = {
            use rsa::pkcs1::EncodeRsaPublicKey;
            small.to_public_key().to_pkcs1_der().unwrap().as_bytes().to_vec()
        };
        let e = parse_server_public_key(&BASE64.encode(&der)).unwrap_err();
        assert_eq!(e.to_string(), "push key error: the server public key is too short (1024 bits)");
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{ "nonce": "AB", "capabilities": {"z": 1, "decline_reason": true} }"#,
        )
        .unwrap();
        assert_eq!(
            canonical_json(&v).unwrap(),
            br#"{"capabilities":{"decline_reason":true,"z":1},"nonce":"AB"}"#
        );
    }

    #[test]
    fn garbage_private_keys_are_reported_without_content() {
        let e = check_pkcs8(b"secret-looking bytes").unwrap_err().to_string();
        assert!(e.starts_with("push key error: the device key is not a usable RSA key"), "{e}");
        assert!(!e.contains("secret-looking"));
    }
}
