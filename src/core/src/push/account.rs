//! What the vault keeps for push: enrolled accounts (with the device's private key) and a
//! history of requests and decisions. Both serialize with serde; the vault holds them as
//! `push_accounts` and `push_history` in its encrypted content.

use std::fmt;

use data_encoding::BASE64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use super::{Decision, PushError, PushRequest, crypto};

/// The protocol a push account speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushBackendKind {
    /// privacyIDEA's PUSH token, poll-only mode.
    #[serde(rename = "privacyidea")]
    PrivacyIdea,
    /// Tessera's own server (`tessera-server`), see [`super::tessera`].
    #[serde(rename = "tessera")]
    Tessera,
}

impl fmt::Display for PushBackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PrivacyIdea => "privacyIDEA",
            Self::Tessera => "Tessera",
        })
    }
}

/// The device's private signing key (PKCS#8 DER: RSA for privacyIDEA, ECDSA P-256 for
/// Tessera's server). Zeroized on drop; `Debug` and errors
/// never show it; serialized as base64 only into the (encrypted) vault.
#[derive(Clone)]
pub struct DeviceKey(Zeroizing<Vec<u8>>);

impl DeviceKey {
    /// Bits of a freshly generated key: 4096, as privacyIDEA's own app makes them.
    pub const BITS: usize = 4096;

    /// Generates a new [`DeviceKey::BITS`]-bit RSA key (a few seconds; run it off the UI
    /// thread).
    pub fn generate() -> Result<Self, PushError> {
        Self::generate_with_bits(Self::BITS)
    }

    /// Generates an RSA key of `bits` bits (at least 2048).
    pub fn generate_with_bits(bits: usize) -> Result<Self, PushError> {
        if bits < crypto::MIN_RSA_BITS {
            return Err(PushError::Key(format!("{bits}-bit RSA keys are too weak")));
        }
        Ok(Self(crypto::generate_rsa_pkcs8(bits)?))
    }

    /// Generates a new ECDSA P-256 key (Tessera's server protocol).
    pub fn generate_p256() -> Result<Self, PushError> {
        Ok(Self(crypto::generate_p256_pkcs8()?))
    }

    /// Wraps a PKCS#8 DER private key (RSA or ECDSA P-256) after checking it can sign.
    pub fn from_pkcs8_der(der: Vec<u8>) -> Result<Self, PushError> {
        let der = Zeroizing::new(der);
        if crypto::p256_pair(&der).is_err() {
            crypto::check_pkcs8(&der)?;
        }
        Ok(Self(der))
    }

    /// Returns the public half of a P-256 key as an uncompressed SEC1 point (65 bytes).
    pub fn p256_public_key(&self) -> Result<Vec<u8>, PushError> {
        use ring::signature::KeyPair as _;
        Ok(crypto::p256_pair(&self.0)?.public_key().as_ref().to_vec())
    }

    /// Signs `message` with a P-256 key (ECDSA, SHA-256) and returns the 64-byte `r || s`.
    pub fn sign_p256(&self, message: &[u8]) -> Result<Vec<u8>, PushError> {
        crypto::sign_p256(&self.0, message)
    }

    /// Returns the public half as DER SubjectPublicKeyInfo (what privacyIDEA expects).
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>, PushError> {
        crypto::spki_of_pkcs8(&self.0)
    }

    /// Signs `message` (PKCS#1 v1.5, SHA-256) and returns padded upper-case base32.
    pub fn sign(&self, message: &str) -> Result<String, PushError> {
        crypto::sign(&self.0, message)
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

impl Serialize for DeviceKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Zeroizing::new(BASE64.encode(&self.0)))
    }
}

impl<'de> Deserialize<'de> for DeviceKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = String::deserialize(deserializer)?;
        let der = BASE64.decode(text.as_bytes());
        text.zeroize();
        let der = der.map_err(|_| serde::de::Error::custom("device key is not base64"))?;
        Self::from_pkcs8_der(der).map_err(serde::de::Error::custom)
    }
}

mod base64_bytes {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE64.decode(text.as_bytes()).map_err(|_| serde::de::Error::custom("not base64"))
    }
}

/// An enrolled push account: everything needed to poll and answer without the QR code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushAccount {
    /// The protocol it speaks.
    pub backend: PushBackendKind,
    /// The server's identifier for this device's token (privacyIDEA: `PIPU...`).
    pub serial: String,
    /// The endpoint polled for requests (privacyIDEA: `https://host/ttype/push`).
    pub url: String,
    /// Whether TLS certificates are checked (false only for loopback hosts).
    pub sslverify: bool,
    /// The device's private signing key.
    pub device_key: DeviceKey,
    /// The server's public key (privacyIDEA: PKCS#1 RSAPublicKey DER), base64 when serialized.
    #[serde(with = "base64_bytes")]
    pub server_public_key: Vec<u8>,
    /// Who issued it ("privacyIDEA", "Example Corp").
    pub issuer: String,
    /// The account label from the enrolment link.
    pub label: String,
    /// When enrolment finished, Unix seconds.
    pub enrolled_at: u64,
    /// Approving a request needs the vault password even on an unlocked app: the server
    /// asked for it at enrolment (privacyIDEA's `pin` or `app_force_unlock`). Absent in
    /// vaults written before it existed (false); written only when true, so accounts
    /// without it serialize exactly as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_password: bool,
}

impl PushAccount {
    /// Returns the server's host and port, for display and error messages.
    pub fn server(&self) -> String {
        super::enrolment::server_name(&self.url)
    }
}

/// One past request and what the user decided, for the history list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushHistoryItem {
    /// The request id.
    pub request_id: String,
    /// The account serial.
    pub serial: String,
    /// The request title.
    pub title: String,
    /// The question shown.
    pub question: String,
    /// The server's host and port.
    pub server: String,
    /// The IP the login came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The location of that IP, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// When the request was first seen, Unix seconds.
    pub received_at: u64,
    /// What the user decided; `None` if the request expired unanswered.
    pub decision: Option<Decision>,
    /// When the decision was sent (or the request expired), Unix seconds.
    pub decided_at: u64,
    /// Whether the server accepted the answer.
    pub accepted: bool,
}

impl PushHistoryItem {
    /// Records `decision` (or an expiry, for `None`) on `request` at `at`.
    pub fn new(request: &PushRequest, decision: Option<Decision>, at: u64, accepted: bool) -> Self {
        Self {
            request_id: request.id.clone(),
            serial: request.serial.clone(),
            title: request.title.clone(),
            question: request.question.clone(),
            server: request.server.clone(),
            ip: request.context.ip.clone(),
            location: request.context.location.clone(),
            received_at: request.created,
            decision,
            decided_at: at,
            accepted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn key() -> DeviceKey {
        static KEY: OnceLock<DeviceKey> = OnceLock::new();
        KEY.get_or_init(|| DeviceKey::generate_with_bits(2048).unwrap()).clone()
    }

    fn account() -> PushAccount {
        PushAccount {
            backend: PushBackendKind::PrivacyIdea,
            serial: "PIPU0001".into(),
            url: "https://pi.example:8443/ttype/push".into(),
            sslverify: true,
            device_key: key(),
            server_public_key: vec![1, 2, 3],
            issuer: "privacyIDEA".into(),
            label: "alice".into(),
            enrolled_at: 1_795_000_000,
            require_password: false,
        }
    }

    #[test]
    fn the_password_requirement_is_kept_and_older_accounts_read_without_it() {
        let plain = serde_json::to_string(&account()).unwrap();
        assert!(!plain.contains("require_password"), "written only when set: {plain}");
        let old: PushAccount = serde_json::from_str(&plain).unwrap();
        assert!(!old.require_password, "an account saved before the field existed");
        let strict = PushAccount { require_password: true, ..account() };
        let json = serde_json::to_string(&strict).unwrap();
        let back: PushAccount = serde_json::from_str(&json).unwrap();
        assert!(back.require_password);
    }

    #[test]
    fn account_round_trips_through_json() {
        let a = account();
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains(r#""backend":"privacyidea""#), "{json}");
        assert!(json.contains(r#""server_public_key":"AQID""#), "{json}");
        let back: PushAccount = serde_json::from_str(&json).unwrap();
        assert_eq!(back.serial, a.serial);
        assert_eq!(back.server_public_key, a.server_public_key);
        // The key survives: both sign to signatures the same public key accepts.
        assert_eq!(
            back.device_key.public_key_spki_der().unwrap(),
            a.device_key.public_key_spki_der().unwrap()
        );
        assert_eq!(a.server(), "pi.example:8443");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let a = account();
        let shown = format!("{a:?}");
        let json = serde_json::to_value(&a).unwrap();
        let key_b64 = json["device_key"].as_str().unwrap();
        assert!(shown.contains("DeviceKey(<redacted>)"), "{shown}");
        assert!(!shown.contains(&key_b64[..40]));
    }

    #[test]
    fn too_weak_or_broken_keys_are_refused() {
        assert!(DeviceKey::generate_with_bits(1024).is_err());
        let bad: Result<PushAccount, _> = serde_json::from_str(
            &serde_json::to_string(&account())
                .unwrap()
                .replace("\"device_key\":\"", "\"device_key\":\"AAAA"),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn history_item_keeps_the_summary_and_decision() {
        let request = PushRequest {
            id: "N1".into(),
            backend: PushBackendKind::PrivacyIdea,
            serial: "PIPU0001".into(),
            title: "privacyIDEA".into(),
            question: "Login by alice?".into(),
            server: "pi.example".into(),
            created: 10,
            expires: 130,
            require_presence: None,
            context: super::super::RequestContext {
                ip: Some("192.0.2.7".into()),
                ..Default::default()
            },
            answer_url: "https://pi.example/ttype/push".into(),
            sslverify: true,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        };
        let item = PushHistoryItem::new(&request, Some(Decision::NotMe), 20, true);
        assert_eq!(item.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(item.received_at, 10);
        let json = serde_json::to_string(&item).unwrap();
        let back: PushHistoryItem = serde_json::from_str(&json).unwrap();
        assert_eq!(back, item);
        assert!(json.contains(r#""decision":{"decision":"not_me"}"#), "{json}");
    }
}
