//! FreeOTP 2.x's password-protected backup (import only): the `externalBackup.xml` file of the
//! app's menu → Backup, and the same data as the phone keeps it (`shared_prefs/tokenBackup.xml`).
//!
//! Source: freeotp/freeotp-android 2.x, `TokenPersistence.java` (`save`, `restore`,
//! `copyBackupToExternal`), `encryptor/MasterKey.java`, `encryptor/EncryptedKey.java` and
//! `Token.java`; as also read by Aegis' `importers/FreeOtpImporter.java`. The backup is the
//! `tokenBackup` preferences: `externalBackup.xml` is not XML but that map written with Java's
//! `ObjectOutputStream` (read by [`super::java_serial`]); `tokenBackup.xml` is the same map as
//! Android shared preferences. Its entries:
//! - `masterKey`: Gson JSON of `MasterKey` `{mEncryptedKey, mAlgorithm, mIterations, mSalt}`.
//!   Key = PBKDF2 (`mAlgorithm`: HMAC-SHA512, or HMAC-SHA1 where Android lacked it) of the
//!   password with `mSalt`, `mIterations` (FreeOTP: 100 000), as many bytes as the salt (32).
//!   `mEncryptedKey` `{mCipherText, mParameters, mCipher, mToken}` is the 32-byte master key
//!   under AES-GCM (`mCipher` "AES/GCM/NoPadding"), AAD = `mToken` ("AES"), the nonce inside
//!   `mParameters`: DER `GCMParameters` (SEQUENCE of the nonce and the tag length), or on some
//!   Android versions a bare OCTET STRING of the nonce. Byte arrays are JSON lists of signed
//!   bytes.
//! - `<uuid>`: `{"key": "<Gson JSON of an EncryptedKey>"}`: the token's HMAC key under the master
//!   key, AAD = the key's Java algorithm name ("HmacSHA1").
//! - `<uuid>-token`: Gson JSON of `Token` (`issuerExt`, `issuerInt`, `label`, `type`, `algo`,
//!   `digits`, `period`, `counter`, ...). Fields the otpauth link did not carry are absent:
//!   FreeOTP then uses SHA1, 6 digits, 30 s, as we do.
//! - anything else (Android's `restoreComplete` flag) is not a token and is skipped.
//!
//! A wrong password fails the master key's GCM tag: [`TransferError::WrongPassword`]. Token
//! entries that cannot be read or decrypted are listed as problems; the rest imports.
//! Lost on import: the order (the backup is a hash map: accounts come in the file's order),
//! images, colours, lock flags and last-used times.

use std::collections::HashMap;
use std::num::NonZeroU32;

use der::Decode;
use der::asn1::OctetStringRef;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::free_otp_token::{self, Token};
use super::java_serial::{self, Value};
use super::prefs::Pref;
use super::{Collector, Format, ImportReport, TransferError, crypto};

const FORMAT: Format = Format::FreeOtp;
/// The preference holding the password-wrapped master key.
pub(crate) const MASTER_KEY: &str = "masterKey";
/// The suffix of a token's data entry (`<uuid>-token`).
const TOKEN_SUFFIX: &str = "-token";
/// The only cipher FreeOTP uses.
const CIPHER: &str = "AES/GCM/NoPadding";
/// Key derivation beyond this is a crafted file, not FreeOTP (which uses 100 000).
const MAX_ITERATIONS: u32 = 10_000_000;

/// Gson's `EncryptedKey`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncryptedKey {
    #[serde(rename = "mCipherText")]
    cipher_text: Vec<i64>,
    #[serde(rename = "mParameters")]
    parameters: Vec<i64>,
    #[serde(rename = "mCipher")]
    cipher: String,
    #[serde(rename = "mToken")]
    token: String,
}

/// Gson's `MasterKey`.
#[derive(Deserialize)]
struct MasterKey {
    #[serde(rename = "mEncryptedKey")]
    encrypted_key: EncryptedKey,
    #[serde(rename = "mAlgorithm")]
    algorithm: String,
    #[serde(rename = "mIterations")]
    iterations: u64,
    #[serde(rename = "mSalt")]
    salt: Vec<i64>,
}

/// A token's `<uuid>` entry: the encrypted key, itself JSON inside a string.
#[derive(Deserialize)]
struct KeyEntry {
    key: String,
}

/// DER `GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 }`
/// (RFC 5084), as Java's `AlgorithmParameters.getEncoded()` writes it.
#[derive(der::Sequence)]
struct GcmParameters<'a> {
    nonce: OctetStringRef<'a>,
    #[asn1(optional = "true")]
    tag_len: Option<u8>,
}

/// An encrypted key ready to open: nonce, ciphertext with tag, AAD.
struct Sealed {
    nonce: Vec<u8>,
    data: Vec<u8>,
    aad: String,
}

/// PBKDF2's HMAC.
enum Prf {
    Sha512,
    Sha1,
}

/// Imports the `ObjectOutputStream` file (`externalBackup.xml`).
pub(crate) fn import_serialised(
    bytes: &[u8],
    password: Option<&str>,
) -> Result<ImportReport, TransferError> {
    let entries = java_serial::read_map(bytes).map_err(|e| TransferError::corrupt(FORMAT, e))?;
    let entries: Vec<_> = entries
        .into_iter()
        .map(|(key, value)| match value {
            Value::Text(text) => (key, Some(text)),
            Value::Other(_) => (key, None),
        })
        .collect();
    import_entries(&entries, password)
}

/// Imports the shared-preferences form (`tokenBackup.xml`), already read.
pub(crate) fn import_prefs(
    prefs: Vec<Pref>,
    password: Option<&str>,
) -> Result<ImportReport, TransferError> {
    let entries: Vec<_> =
        prefs.into_iter().map(|p| (p.name, p.is_string.then_some(p.value))).collect();
    import_entries(&entries, password)
}

/// A token's `<uuid>`, its issuer (for problems) and what could be read before decryption.
type PendingToken = (String, Option<String>, Result<(Sealed, Token), String>);

/// Imports the backup's entries (name, string value or `None` for other types) in file order.
fn import_entries(
    entries: &[(String, Option<String>)],
    password: Option<&str>,
) -> Result<ImportReport, TransferError> {
    let values: HashMap<&str, &str> =
        entries.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_deref()?))).collect();
    let master = values.get(MASTER_KEY).ok_or_else(|| {
        TransferError::corrupt(
            FORMAT,
            "no masterKey entry: not a FreeOTP 2 backup, or a damaged one",
        )
    })?;
    let master: MasterKey = serde_json::from_str(master).map_err(|e| {
        TransferError::corrupt(FORMAT, format!("the masterKey entry is unreadable: {e}"))
    })?;
    let prf = match master.algorithm.to_ascii_lowercase().as_str() {
        "pbkdf2withhmacsha512" => Prf::Sha512,
        "pbkdf2withhmacsha1" => Prf::Sha1,
        _ => {
            return Err(TransferError::Unsupported {
                format: FORMAT,
                reason: format!(
                    "the master key is derived with {:?}, not PBKDF2 with HMAC-SHA512 or SHA1",
                    shorten(&master.algorithm)
                ),
            });
        }
    };
    let iterations = u32::try_from(master.iterations)
        .ok()
        .filter(|n| *n <= MAX_ITERATIONS)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| {
            TransferError::corrupt(
                FORMAT,
                format!(
                    "the master key's iteration count {} is outside 1..={MAX_ITERATIONS}",
                    master.iterations
                ),
            )
        })?;
    let salt = signed_bytes(&master.salt)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("the master key's salt: {e}")))?;
    // FreeOTP derives as many key bytes as the salt has: 32, an AES-256 key.
    if salt.len() != 32 {
        return Err(TransferError::Unsupported {
            format: FORMAT,
            reason: format!("a {}-byte master key salt (FreeOTP writes 32)", salt.len()),
        });
    }
    let sealed_master = sealed(master.encrypted_key)
        .map_err(|e| TransferError::corrupt(FORMAT, format!("the master key: {e}")))?;

    // Everything readable without the password is read first, so that a damaged file says so
    // before the password is asked for.
    let mut out = Collector::new(FORMAT);
    let mut tokens: Vec<PendingToken> = Vec::new();
    for (name, value) in entries {
        let Some(value) = value else { continue };
        if name == MASTER_KEY {
            continue;
        }
        if let Some(uuid) = name.strip_suffix(TOKEN_SUFFIX) {
            if !values.contains_key(uuid) {
                let issuer = issuer_of(value);
                out.problem(
                    format!("token {uuid}"),
                    issuer.as_deref(),
                    "token data without its encrypted key entry",
                );
            }
            continue;
        }
        let data = values.get(format!("{name}{TOKEN_SUFFIX}").as_str()).copied();
        let issuer = data.and_then(issuer_of);
        let parsed = read_token(value, data);
        tokens.push((name.clone(), issuer, parsed));
    }

    let password = password.ok_or(TransferError::PasswordRequired { format: FORMAT })?;
    let wrapping = match prf {
        Prf::Sha512 => crypto::pbkdf2_sha512(password, &salt, iterations),
        Prf::Sha1 => crypto::pbkdf2_sha1(password, &salt, iterations),
    };
    let master_key = open(&wrapping[..], &sealed_master)
        .ok_or(TransferError::WrongPassword { format: FORMAT })?;
    if master_key.len() != 32 {
        return Err(TransferError::corrupt(
            FORMAT,
            format!("the master key is {} bytes, not 32", master_key.len()),
        ));
    }

    for (uuid, issuer, parsed) in tokens {
        let result = parsed.and_then(|(sealed, token)| {
            let secret = open(&master_key, &sealed)
                .ok_or("its key does not decrypt with the master key (damaged entry)")?;
            free_otp_token::convert(token, secret.to_vec())
        });
        out.push(format!("token {uuid}"), issuer.as_deref(), result);
    }
    Ok(out.finish())
}

/// Reads a token's `<uuid>` entry and its `<uuid>-token` data (`None` if absent).
fn read_token(key_entry: &str, data: Option<&str>) -> Result<(Sealed, Token), String> {
    let entry: KeyEntry =
        serde_json::from_str(key_entry).map_err(|e| format!("unreadable key entry: {e}"))?;
    let encrypted: EncryptedKey =
        serde_json::from_str(&entry.key).map_err(|e| format!("unreadable encrypted key: {e}"))?;
    let sealed = sealed(encrypted)?;
    let data = data.ok_or("no token data (its -token entry is missing)")?;
    let token: Token =
        serde_json::from_str(data).map_err(|e| format!("unreadable token data: {e}"))?;
    Ok((sealed, token))
}

/// Checks an encrypted key's cipher and parameters and takes out what opening it needs.
fn sealed(key: EncryptedKey) -> Result<Sealed, String> {
    if key.cipher != CIPHER {
        return Err(format!("cipher {:?} is not {CIPHER}", shorten(&key.cipher)));
    }
    let parameters = signed_bytes(&key.parameters).map_err(|e| format!("GCM parameters: {e}"))?;
    let nonce = gcm_nonce(&parameters)?;
    let data = signed_bytes(&key.cipher_text).map_err(|e| format!("ciphertext: {e}"))?;
    if data.len() < crypto::TAG_LEN {
        return Err(format!("the ciphertext is {} bytes, shorter than a GCM tag", data.len()));
    }
    Ok(Sealed { nonce, data, aad: key.token })
}

/// Returns the nonce from DER `GCMParameters` or a bare DER OCTET STRING.
fn gcm_nonce(der: &[u8]) -> Result<Vec<u8>, String> {
    let (nonce, tag_len) = match GcmParameters::from_der(der) {
        Ok(p) => (p.nonce.as_bytes().to_vec(), p.tag_len),
        Err(_) => match OctetStringRef::from_der(der) {
            Ok(o) => (o.as_bytes().to_vec(), None),
            Err(e) => return Err(format!("GCM parameters are not DER GCMParameters: {e}")),
        },
    };
    // Java writes the tag length in bytes; FreeOTP's ciphers use the default 128-bit tag. An
    // absent length means the ASN.1 default (12), which Java never writes for its own ciphers:
    // read it as Java does, with the 16-byte tag the cipher used.
    if let Some(len) = tag_len.filter(|l| usize::from(*l) != crypto::TAG_LEN) {
        return Err(format!("a {len}-byte GCM tag (only 16 is supported)"));
    }
    if nonce.len() != 12 {
        return Err(format!("a {}-byte GCM nonce (only 12 is supported)", nonce.len()));
    }
    Ok(nonce)
}

fn open(key: &[u8], sealed: &Sealed) -> Option<Zeroizing<Vec<u8>>> {
    crypto::open_with_aad(key, &sealed.nonce, &sealed.data, sealed.aad.as_bytes())
}

/// Converts Gson's signed-byte list (Java `byte[]`) to bytes.
fn signed_bytes(list: &[i64]) -> Result<Vec<u8>, String> {
    list.iter()
        .map(|b| i8::try_from(*b).map(|s| s.to_le_bytes()[0]))
        .collect::<Result<_, _>>()
        .map_err(|_| "not a list of bytes".to_owned())
}

/// Returns a token's issuer from its data entry, to name it in problems.
fn issuer_of(data: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    let issuer = |key: &str| value.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    issuer("issuerExt").filter(|i| !i.is_empty()).or_else(|| issuer("issuerInt"))
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;
    use crate::transfer::vectors::{self, Holds};
    use crate::transfer::{ImportedAccount, detect, import as import_any};

    /// The backup is a hash map: puts the accounts back in canonical order to compare them.
    fn in_canonical_order(mut accounts: Vec<ImportedAccount>) -> Vec<ImportedAccount> {
        let order: Vec<(String, String)> =
            vectors::canonical().into_iter().map(|a| (a.issuer, a.account)).collect();
        accounts.sort_by_key(|a| {
            order.iter().position(|(i, n)| *i == a.issuer && *n == a.account).unwrap_or(usize::MAX)
        });
        accounts
    }

    #[test]
    fn external_backup_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("freeotp-external-backup.xml");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        assert_eq!(report.format, FORMAT);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let accounts = in_canonical_order(report.accounts);
        vectors::assert_same(&accounts, &vectors::canonical(), Holds::OTP_ONLY);
    }

    #[test]
    fn token_backup_preferences_fixture_holds_the_canonical_accounts() {
        let bytes = vectors::fixture("freeotp-token-backup.xml");
        assert_eq!(detect(&bytes), Some(FORMAT));
        let report = import_any(&bytes, None, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let accounts = in_canonical_order(report.accounts);
        vectors::assert_same(&accounts, &vectors::canonical(), Holds::OTP_ONLY);
    }

    #[test]
    fn backups_need_the_right_password() {
        for name in ["freeotp-external-backup.xml", "freeotp-token-backup.xml"] {
            let bytes = vectors::fixture(name);
            assert_eq!(
                import_any(&bytes, None, None).unwrap_err(),
                TransferError::PasswordRequired { format: FORMAT },
                "{name}"
            );
            let err = import_any(&bytes, None, Some("tessera-fixturE")).unwrap_err();
            assert_eq!(err, TransferError::WrongPassword { format: FORMAT }, "{name}");
            assert!(err.to_string().starts_with("wrong password"), "{err}");
        }
    }

    /// Builds a backup map holding the fixture's master key and the given extra entries.
    fn fixture_map_with(
        edit: impl FnOnce(&mut Vec<(String, Option<String>)>),
    ) -> Vec<(String, Option<String>)> {
        let bytes = vectors::fixture("freeotp-external-backup.xml");
        let mut entries: Vec<(String, Option<String>)> = java_serial::read_map(&bytes)
            .unwrap()
            .into_iter()
            .map(|(k, v)| match v {
                Value::Text(t) => (k, Some(t)),
                Value::Other(_) => (k, None),
            })
            .collect();
        edit(&mut entries);
        entries
    }

    fn value_of<'a>(entries: &'a [(String, Option<String>)], key: &str) -> &'a str {
        entries.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.as_deref()).unwrap()
    }

    #[test]
    fn a_token_without_algo_is_sha1() {
        // The fixture's Mail, VPN and 日本銀行 tokens carry no "algo" (nor default digits and
        // period), as FreeOTP stores tokens scanned from links without those parameters.
        let entries = fixture_map_with(|_| ());
        let data: Vec<&str> = entries
            .iter()
            .filter(|(k, _)| k.ends_with(TOKEN_SUFFIX))
            .filter_map(|(_, v)| v.as_deref())
            .filter(|v| !v.contains("\"algo\""))
            .collect();
        assert_eq!(data.len(), 3, "{data:?}");
        let report = import_entries(&entries, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        for issuer in ["Mail", "VPN", "日本銀行"] {
            let a = report.accounts.iter().find(|a| a.issuer == issuer).unwrap();
            assert_eq!(a.otp.algorithm, Algorithm::Sha1, "{issuer}");
        }
    }

    #[test]
    fn damaged_tokens_are_named_and_the_rest_imports() {
        let entries = fixture_map_with(|entries| {
            let uuids: Vec<String> = entries
                .iter()
                .filter_map(|(k, _)| k.strip_suffix(TOKEN_SUFFIX).map(str::to_owned))
                .collect();
            // 1: a flipped ciphertext byte (the tag fails); 2: its -token entry removed;
            // 3: an orphan -token entry; 4: a key entry that is not JSON.
            let victim = uuids[0].clone();
            let key = value_of(entries, &victim).to_owned();
            let flipped = key.replacen("[", "[1,", 1);
            for (k, v) in entries.iter_mut() {
                if *k == victim {
                    *v = Some(flipped.clone());
                }
            }
            entries.retain(|(k, _)| *k != format!("{}{TOKEN_SUFFIX}", uuids[1]));
            entries.push((
                format!("orphan{TOKEN_SUFFIX}"),
                Some(r#"{"issuerExt":"Lost","type":"TOTP"}"#.into()),
            ));
            entries.push(("broken".into(), Some("{not json".into())));
        });
        let report = import_entries(&entries, Some(vectors::FIXTURE_PASSWORD)).unwrap();
        assert_eq!(report.accounts.len(), 7);
        let shown: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 4, "{shown:?}");
        assert!(shown.iter().any(|p| p.contains("does not decrypt")), "{shown:?}");
        assert!(shown.iter().any(|p| p.contains("-token entry is missing")), "{shown:?}");
        assert!(
            shown.contains(
                &"token orphan (Lost): token data without its encrypted key entry".into()
            ),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|p| p.starts_with("token broken: unreadable key entry")),
            "{shown:?}"
        );
    }

    #[test]
    fn damaged_master_keys_and_files_are_named() {
        let err = import_entries(&[("x".into(), Some("1".into()))], Some("pw")).unwrap_err();
        assert!(err.to_string().contains("no masterKey entry"), "{err}");
        let cases: [(&str, &str, &str); 5] = [
            (
                "mAlgorithm\":\"PBKDF2withHmacSHA512",
                "mAlgorithm\":\"scrypt",
                "derived with \"scrypt\"",
            ),
            ("\"mIterations\":100000", "\"mIterations\":0", "iteration count 0"),
            ("AES/GCM/NoPadding", "AES/CBC/PKCS5Padding", "cipher \"AES/CBC/PKCS5Padding\""),
            ("\"mSalt\":[", "\"mSalt\":[1,", "33-byte master key salt"),
            ("\"mParameters\":[48,17,4,12", "\"mParameters\":[48,17,4,11", "GCM parameters"),
        ];
        for (from, to, want) in cases {
            let entries = fixture_map_with(|entries| {
                for (k, v) in entries.iter_mut() {
                    if k == MASTER_KEY {
                        *v = v.as_ref().map(|m| m.replacen(from, to, 1));
                    }
                }
            });
            assert_ne!(
                value_of(&entries, MASTER_KEY),
                value_of(&fixture_map_with(|_| ()), MASTER_KEY)
            );
            let err = import_entries(&entries, Some(vectors::FIXTURE_PASSWORD)).unwrap_err();
            assert!(err.to_string().contains(want), "{from} -> {to}: {err}");
        }
        // A truncated file names where it ends.
        let bytes = vectors::fixture("freeotp-external-backup.xml");
        let err = import_any(&bytes[..bytes.len() / 2], None, Some("pw")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the freeotp file is damaged or truncated: the stream ends"),
            "{err}"
        );
    }

    #[test]
    fn gcm_parameters_in_both_encodings_give_the_nonce() {
        let nonce = [7u8; 12];
        let mut sequence = vec![0x30, 17, 0x04, 12];
        sequence.extend(nonce);
        sequence.extend([0x02, 0x01, 16]);
        assert_eq!(gcm_nonce(&sequence).unwrap(), nonce);
        let mut bare = vec![0x04, 12];
        bare.extend(nonce);
        assert_eq!(gcm_nonce(&bare).unwrap(), nonce);
        let mut short_tag = sequence.clone();
        short_tag[18] = 12;
        assert!(gcm_nonce(&short_tag).unwrap_err().contains("12-byte GCM tag"));
        assert!(gcm_nonce(&[0x05, 0x00]).unwrap_err().contains("not DER GCMParameters"));
    }
}
