use std::collections::BTreeMap;
use std::sync::Mutex;

use data_encoding::{BASE64, HEXLOWER};
use tempfile::TempDir;

use super::*;
use crate::otp::Secret;

const PASSWORD: &str = "correct horse battery staple";
const SECRET_B32: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn pw(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_owned())
}

fn cheap(password: &str) -> Protection {
    Protection::PasswordWithParams(pw(password), KdfParams::INSECURE_FOR_TESTS)
}

fn options_with(store: Arc<dyn KeyStore>) -> VaultOptions {
    VaultOptions { key_store: store, lock_wait: Duration::from_millis(200) }
}

/// keyring-core's sample store, backed by a file so that it reports itself durable.
fn sample_store(dir: &Path) -> Arc<dyn KeyStore> {
    let backing = dir.join(format!("keyring-{}.ron", format::random_uuid().unwrap()));
    let store = keyring_core::sample::Store::new_with_backing(backing.to_str().unwrap()).unwrap();
    Arc::new(CoreKeyStore::new("sample", store))
}

fn options() -> VaultOptions {
    options_with(Arc::new(DeadStore))
}

fn entry(issuer: &str) -> Entry {
    let otp = OtpParams::totp(Secret::parse_base32(SECRET_B32).unwrap());
    Entry::new(issuer.into(), "alice@example.com".into(), otp, 1_700_000_000)
}

fn setup() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    (dir, path)
}

/// A vault with one saved entry ("GitHub"), closed again.
fn saved_vault() -> (TempDir, PathBuf) {
    let (dir, path) = setup();
    let mut vault = Vault::create_with(&path, &[cheap(PASSWORD)], options()).unwrap();
    vault.content_mut().entries.push(entry("GitHub"));
    vault.save().unwrap();
    (dir, path)
}

fn open_pw(path: &Path, password: &str) -> Result<Vault, VaultError> {
    Vault::open_with(path, &Unlock::Password(pw(password)), options())
}

/// Every file in the directory with its bytes: proves "nothing on disk changed".
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// A secret store that never answers.
#[derive(Debug)]
struct DeadStore;

impl KeyStore for DeadStore {
    fn store(&self, _: &str, _: &[u8]) -> Result<Stored, KeyStoreError> {
        Err(KeyStoreError::Unavailable("no session bus".into()))
    }
    fn load(&self, _: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        Err(KeyStoreError::Unavailable("no session bus".into()))
    }
    fn delete(&self, _: &str) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Unavailable("no session bus".into()))
    }
}

/// A store that, like keyutils, forgets at reboot.
#[derive(Debug, Default)]
struct RebootStore(Mutex<BTreeMap<String, Vec<u8>>>);

impl KeyStore for RebootStore {
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
        self.0.lock().unwrap().insert(name.into(), key.to_vec());
        Ok(Stored { store: "keyutils".into(), durable: false })
    }
    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        self.0.lock().unwrap().get(name).cloned().map(Zeroizing::new).ok_or(KeyStoreError::NotFound)
    }
    fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        self.0.lock().unwrap().remove(name);
        Ok(())
    }
}

/// Edits the JSON header line of a version-3 file, keeping the ciphertext after it.
fn edit_file(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let bytes = std::fs::read(path).unwrap();
    let end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&bytes[..end]).unwrap();
    edit(&mut value);
    let mut out = serde_json::to_vec(&value).unwrap();
    out.extend_from_slice(&bytes[end..]);
    std::fs::write(path, out).unwrap();
}

/// Returns a file's parsed header and its content ciphertext.
fn decode_file(path: &Path) -> (VaultFile, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let decoded = VaultFile::decode(&bytes).unwrap();
    let ciphertext = decoded.ciphertext.get(&bytes).to_vec();
    (decoded.file, ciphertext)
}

#[test]
fn created_vault_reopens_with_its_password_and_content() {
    let (_dir, path) = saved_vault();
    let vault = open_pw(&path, PASSWORD).unwrap();
    assert_eq!(vault.content().entries.len(), 1);
    let e = &vault.content().entries[0];
    assert_eq!(e.issuer, "GitHub");
    assert_eq!(
        e.otp.code_at(59),
        OtpParams::totp(Secret::parse_base32(SECRET_B32).unwrap()).code_at(59)
    );
    assert_eq!(e.id.len(), 36);
    let info = Vault::inspect(&path).unwrap();
    assert_eq!(info.version, FORMAT_VERSION);
    assert!(info.has_password && !info.has_keyring);
    assert_eq!(info.generation, 1);
    assert_eq!(info.kdf, Some(KdfParams::INSECURE_FOR_TESTS));
}

#[test]
fn create_refuses_an_existing_file() {
    let (_dir, path) = saved_vault();
    let before = std::fs::read(&path).unwrap();
    let err = Vault::create_with(&path, &[cheap("x")], options()).unwrap_err();
    assert!(matches!(err, VaultError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn create_needs_at_least_one_protection() {
    let (_dir, path) = setup();
    let err = Vault::create_with(&path, &[], options()).unwrap_err();
    assert!(matches!(err, VaultError::NoUsableSlot { .. }));
    assert!(!path.exists());
}

#[test]
fn open_reports_a_missing_vault() {
    let (_dir, path) = setup();
    assert!(matches!(open_pw(&path, PASSWORD).unwrap_err(), VaultError::NotFound { .. }));
}

#[test]
fn wrong_password_is_reported_and_changes_nothing_on_disk() {
    let (dir, path) = saved_vault();
    let before = snapshot(dir.path());
    let err = open_pw(&path, "correct horse battery stapler").unwrap_err();
    assert!(matches!(err, VaultError::WrongPassword), "{err:?}");
    assert_eq!(err.to_string(), "wrong password");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn flipped_ciphertext_byte_is_reported_as_damage_not_a_wrong_password() {
    // The header checksum still holds, the slot opens with the right password, and GCM
    // refuses the content, which can then only mean damage.
    let (dir, path) = saved_vault();
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let before = snapshot(dir.path());
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(
        matches!(&err, VaultError::Damaged { detail } if detail.contains("authenticate")),
        "{err:?}"
    );
    assert!(err.to_string().contains("vault.json.bak"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn flipped_byte_in_an_unused_slot_is_reported_as_damage() {
    // The header checksum covers every slot, so damage to the password slot is found even
    // when the keyring slot is the one used, and is never mistaken for a wrong password.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.json");
    let opts = options_with(sample_store(dir.path()));
    drop(Vault::create_with(&path, &[Protection::Keyring, cheap(PASSWORD)], opts.clone()).unwrap());
    edit_file(&path, |v| {
        let slots = v["slots"].as_array_mut().unwrap();
        let password = slots.iter_mut().find(|s| s["type"] == "password").unwrap();
        let text = password["wrapped_key"].as_str().unwrap();
        let mut bytes = BASE64.decode(text.as_bytes()).unwrap();
        bytes[0] ^= 0x01;
        password["wrapped_key"] = BASE64.encode(&bytes).into();
    });
    for unlock in [Unlock::Keyring, Unlock::Password(pw(PASSWORD))] {
        let err = Vault::open_with(&path, &unlock, opts.clone()).unwrap_err();
        assert!(
            matches!(&err, VaultError::Damaged { detail } if detail.contains("checksum")),
            "{unlock:?}: {err:?}"
        );
    }
}

#[test]
fn version_1_files_are_still_read_and_saving_writes_the_current_version() {
    // Written by the version-1 build (see fuzz/seeds/vault_open/, password "fuzz").
    let (_dir, path) = setup();
    let v1 = include_bytes!("../../../../fuzz/seeds/vault_open/vault-3.json");
    assert!(std::str::from_utf8(v1).unwrap().contains("\"version\": 1,"));
    std::fs::write(&path, v1).unwrap();
    assert_eq!(Vault::inspect(&path).unwrap().version, 1);
    let mut vault = open_pw(&path, "fuzz").unwrap();
    let entries = vault.content().entries.clone();
    assert_eq!(entries.len(), 3);
    vault.save().unwrap();
    drop(vault);
    assert_eq!(Vault::inspect(&path).unwrap().version, FORMAT_VERSION);
    let reopened = open_pw(&path, "fuzz").unwrap();
    let ids = |list: &[Entry]| list.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&reopened.content().entries), ids(&entries));
    assert_eq!(reopened.content().entries[0].otp.code_at(59), entries[0].otp.code_at(59));
}

#[test]
fn version_1_checksum_still_covers_the_ciphertext() {
    let v1 = include_bytes!("../../../../fuzz/seeds/vault_open/vault-1.json");
    let mut value: serde_json::Value = serde_json::from_slice(v1).unwrap();
    let text = value["content"]["ciphertext"].as_str().unwrap();
    let mut bytes = BASE64.decode(text.as_bytes()).unwrap();
    bytes[3] ^= 0x01;
    value["content"]["ciphertext"] = BASE64.encode(&bytes).into();
    let altered = serde_json::to_vec_pretty(&value).unwrap();
    let err = Vault::read_bytes(&altered, &Unlock::Password(pw("fuzz")), &options()).unwrap_err();
    assert!(
        matches!(&err, VaultError::Damaged { detail } if detail.contains("checksum")),
        "{err:?}"
    );
}

#[test]
fn altered_ciphertext_with_a_recomputed_checksum_fails_authentication() {
    // Someone who fixes up the checksum still cannot get altered content accepted.
    let (_dir, path) = saved_vault();
    let (file, mut ciphertext) = decode_file(&path);
    ciphertext[0] ^= 0x80;
    std::fs::write(&path, file.forge_v3(&ciphertext)).unwrap();
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(
        matches!(&err, VaultError::Damaged { detail } if detail.contains("authenticate")),
        "{err:?}"
    );
}

#[test]
fn content_cannot_be_rolled_back_to_another_generation_label() {
    let (_dir, path) = saved_vault();
    let (mut file, ciphertext) = decode_file(&path);
    file.generation += 5;
    std::fs::write(&path, file.forge_v3(&ciphertext)).unwrap();
    assert!(matches!(open_pw(&path, PASSWORD).unwrap_err(), VaultError::Damaged { .. }));
}

#[test]
fn every_single_bit_flip_in_the_file_is_detected() {
    let (_dir, path) = saved_vault();
    let original = std::fs::read(&path).unwrap();
    for index in 0..original.len() {
        let mut bytes = original.clone();
        bytes[index] ^= 0x01;
        match Vault::read_bytes(&bytes, &Unlock::Password(pw(PASSWORD)), &options()) {
            Err(VaultError::Damaged { .. } | VaultError::UnsupportedVersion { .. }) => {}
            other => panic!("flip at byte {index}: {other:?}"),
        }
    }
}

#[test]
fn a_file_that_is_not_utf8_is_reported_as_damaged() {
    let (dir, path) = saved_vault();
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(10).position(|w| w == b"\"vault_id\"").unwrap() + 14;
    bytes[at] = 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let before = snapshot(dir.path());
    assert!(matches!(open_pw(&path, PASSWORD), Err(VaultError::Damaged { .. })));
    assert!(matches!(Vault::inspect_bytes(&bytes), Err(VaultError::Damaged { .. })));
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn truncated_file_is_reported_as_damaged() {
    let (dir, path) = saved_vault();
    let original = std::fs::read(&path).unwrap();
    for len in [0, 1, original.len() / 2, original.len() - 2] {
        std::fs::write(&path, &original[..len]).unwrap();
        let before = snapshot(dir.path());
        let err = open_pw(&path, PASSWORD).unwrap_err();
        assert!(matches!(err, VaultError::Damaged { .. }), "len {len}: {err:?}");
        assert!(err.to_string().contains("vault.json.bak"), "{err}");
        assert!(err.to_string().starts_with("the vault file is damaged"));
        assert_eq!(snapshot(dir.path()), before);
    }
}

#[test]
fn rejects_newer_vault_version() {
    let (dir, path) = saved_vault();
    edit_file(&path, |v| v["version"] = 4.into());
    let before = snapshot(dir.path());
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(matches!(err, VaultError::UnsupportedVersion { found: 4, supported: 3 }), "{err:?}");
    assert!(err.to_string().contains("update tessera"), "{err}");
    assert!(matches!(Vault::inspect(&path), Err(VaultError::UnsupportedVersion { found: 4, .. })));
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn rejects_a_json_file_that_is_not_a_vault() {
    let (_dir, path) = setup();
    std::fs::write(&path, br#"{"version": 1, "entries": []}"#).unwrap();
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(
        matches!(&err, VaultError::Damaged { detail } if detail.contains("not a tessera vault"))
    );
}

#[test]
fn hostile_kdf_parameters_are_refused_before_deriving() {
    let (_dir, path) = saved_vault();
    let (mut file, ciphertext) = decode_file(&path);
    for slot in &mut file.slots {
        if let Slot::Password { kdf, .. } = slot {
            kdf.params.m_kib = u32::MAX;
        }
    }
    std::fs::write(&path, file.forge_v3(&ciphertext)).unwrap();
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(matches!(&err, VaultError::Damaged { detail } if detail.contains("out of range")));
}

#[test]
fn a_file_asking_for_4_gib_of_kdf_memory_or_17_passes_is_refused_as_damaged() {
    // The attack: a planted or swapped vault file whose password slot asks Argon2id for
    // 4 GiB (which the old 4 GiB ceiling obeyed), so that the next unlock exhausts memory.
    for (m_kib, t) in [(4 * 1024 * 1024, 4), (KdfParams::MAX.m_kib + 1, 1), (8, 17)] {
        let (_dir, path) = saved_vault();
        let (mut file, ciphertext) = decode_file(&path);
        for slot in &mut file.slots {
            if let Slot::Password { kdf, .. } = slot {
                kdf.params.m_kib = m_kib;
                kdf.params.t = t;
            }
        }
        std::fs::write(&path, file.forge_v3(&ciphertext)).unwrap();
        let err = open_pw(&path, PASSWORD).unwrap_err();
        assert!(
            matches!(&err, VaultError::Damaged { detail } if detail.contains("out of range")),
            "m={m_kib} t={t}: {err:?}"
        );
    }
    assert_eq!(KdfParams::MAX.m_kib, 1024 * 1024, "the ceiling is 1 GiB");
    assert_eq!(KdfParams::MAX.t, 16);
}

#[test]
fn save_keeps_the_previous_generation_as_backup() {
    let (_dir, path) = saved_vault();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    vault.content_mut().entries.push(entry("GitLab"));
    vault.save().unwrap();
    drop(vault);
    let bak = storage::sibling(&path, ".bak");
    let old = Vault::read_only(&bak, &Unlock::Password(pw(PASSWORD)), &options()).unwrap();
    assert_eq!(old.entries.len(), 1);
    let new = open_pw(&path, PASSWORD).unwrap();
    assert_eq!(new.content().entries.len(), 2);
    assert_eq!(
        Vault::inspect(&bak).unwrap().generation + 1,
        Vault::inspect(&path).unwrap().generation
    );
}

#[cfg(unix)]
#[test]
fn vault_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = saved_vault();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    vault.save().unwrap();
    for suffix in ["", ".bak", ".lock"] {
        let mode = std::fs::metadata(storage::sibling(&path, suffix)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{suffix}");
    }
}

#[test]
fn every_save_uses_a_fresh_nonce() {
    let (_dir, path) = saved_vault();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    let mut nonces = std::collections::BTreeSet::new();
    for _ in 0..5 {
        vault.save().unwrap();
        let (file, _) = decode_file(&path);
        assert!(nonces.insert(file.content_nonce));
    }
}

#[test]
fn second_opener_waits_and_then_reports_busy() {
    let (_dir, path) = saved_vault();
    let first = open_pw(&path, PASSWORD).unwrap();
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(
        matches!(&err, VaultError::Busy { holder, .. } if *holder == std::process::id().to_string()),
        "{err:?}"
    );
    assert!(err.to_string().contains("in use by another tessera process"));
    drop(first);
    open_pw(&path, PASSWORD).unwrap();
}

#[test]
fn save_refuses_to_overwrite_a_file_changed_behind_its_back() {
    let (_dir, path) = saved_vault();
    let older = std::fs::read(&path).unwrap();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    vault.save().unwrap();
    std::fs::write(&path, &older).unwrap();
    assert!(matches!(vault.save().unwrap_err(), VaultError::Conflict { .. }));
    assert_eq!(std::fs::read(&path).unwrap(), older);
}

#[test]
fn keyring_slot_opens_the_vault_through_the_key_store() {
    let (dir, path) = setup();
    let store = sample_store(dir.path());
    let mut vault =
        Vault::create_with(&path, &[Protection::Keyring], options_with(store.clone())).unwrap();
    vault.content_mut().entries.push(entry("GitHub"));
    vault.save().unwrap();
    let vault_id = vault.info().vault_id;
    drop(vault);
    let info = Vault::inspect(&path).unwrap();
    assert!(info.has_keyring && !info.has_password);
    let vault = Vault::open_with(&path, &Unlock::Keyring, options_with(store.clone())).unwrap();
    assert_eq!(vault.content().entries.len(), 1);
    drop(vault);
    // The store holds a slot key, not the master key, under the vault's id.
    assert_eq!(store.load(&vault_id).unwrap().len(), 32);
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(matches!(err, VaultError::NoUsableSlot { .. }), "{err:?}");
}

#[test]
fn keyring_unlock_without_a_store_reports_keyring_unavailable() {
    let (dir, path) = setup();
    let store = sample_store(dir.path());
    Vault::create_with(&path, &[cheap(PASSWORD), Protection::Keyring], options_with(store))
        .unwrap();
    let err = Vault::open_with(&path, &Unlock::Keyring, options()).unwrap_err();
    assert!(matches!(err, VaultError::KeyringUnavailable { .. }), "{err:?}");
    // The password still works: the CLI's fallback.
    open_pw(&path, PASSWORD).unwrap();
}

#[test]
fn keyring_unlock_with_the_key_missing_reports_keyring_unavailable() {
    let (dir, path) = setup();
    Vault::create_with(
        &path,
        &[cheap(PASSWORD), Protection::Keyring],
        options_with(sample_store(dir.path())),
    )
    .unwrap();
    let err = Vault::open_with(&path, &Unlock::Keyring, options_with(sample_store(dir.path())))
        .unwrap_err();
    assert!(
        matches!(&err, VaultError::KeyringUnavailable { detail } if detail.contains("no key")),
        "{err:?}"
    );
}

#[test]
fn creating_a_keyring_vault_without_a_store_fails_cleanly() {
    let (dir, path) = setup();
    let err = Vault::create_with(&path, &[Protection::Keyring], options()).unwrap_err();
    assert!(matches!(err, VaultError::KeyringUnavailable { .. }), "{err:?}");
    assert!(!path.exists());
    drop(dir);
}

#[test]
fn a_reboot_forgetting_store_cannot_be_the_only_protection() {
    let (_dir, path) = setup();
    let store: Arc<RebootStore> = Arc::default();
    let err =
        Vault::create_with(&path, &[Protection::Keyring], options_with(store.clone())).unwrap_err();
    assert!(matches!(err, VaultError::KeyringNotDurable { .. }), "{err:?}");
    assert!(!path.exists());
    assert!(store.0.lock().unwrap().is_empty(), "the key must not be left behind");
    // With a password beside it, the fast keyring path is allowed.
    let vault = Vault::create_with(
        &path,
        &[cheap(PASSWORD), Protection::Keyring],
        options_with(store.clone()),
    )
    .unwrap();
    drop(vault);
    let mut vault = Vault::open_with(&path, &Unlock::Keyring, options_with(store)).unwrap();
    let err = vault.set_password(None).unwrap_err();
    assert!(matches!(err, VaultError::KeyringNotDurable { .. }), "{err:?}");
    assert!(vault.info().has_password);
}

#[test]
fn password_can_be_changed_added_and_removed() {
    let (dir, path) = saved_vault();
    let store = sample_store(dir.path());
    let mut vault =
        Vault::open_with(&path, &Unlock::Password(pw(PASSWORD)), options_with(store.clone()))
            .unwrap();
    assert!(vault.verify_password(PASSWORD));
    assert!(!vault.verify_password("nope"));
    vault.set_password_with(Some(pw("new secret words")), KdfParams::INSECURE_FOR_TESTS).unwrap();
    assert!(vault.verify_password("new secret words"));
    assert!(!vault.verify_password(PASSWORD));
    let err = vault.set_password(None).unwrap_err();
    assert!(matches!(err, VaultError::NoUsableSlot { .. }));
    vault.enable_keyring(true).unwrap();
    vault.set_password(None).unwrap();
    assert!(!vault.verify_password("new secret words"));
    drop(vault);
    assert!(matches!(
        open_pw(&path, "new secret words").unwrap_err(),
        VaultError::NoUsableSlot { .. }
    ));
    let mut vault = Vault::open_with(&path, &Unlock::Keyring, options_with(store.clone())).unwrap();
    assert_eq!(vault.content().entries.len(), 1);
    assert!(matches!(vault.enable_keyring(false).unwrap_err(), VaultError::NoUsableSlot { .. }));
    vault.set_password_with(Some(pw(PASSWORD)), KdfParams::INSECURE_FOR_TESTS).unwrap();
    let vault_id = vault.info().vault_id;
    vault.enable_keyring(false).unwrap();
    drop(vault);
    assert_eq!(store.load(&vault_id), Err(KeyStoreError::NotFound));
    let info = Vault::inspect(&path).unwrap();
    assert!(info.has_password && !info.has_keyring);
    open_pw(&path, PASSWORD).unwrap();
}

#[test]
fn no_secret_appears_in_debug_output_or_errors() {
    let (_dir, path) = saved_vault();
    let vault = open_pw(&path, PASSWORD).unwrap();
    let master_hex = HEXLOWER.encode(vault.master_key.as_ref());
    let master_b64 = BASE64.encode(vault.master_key.as_ref());
    let secret_bytes = Secret::parse_base32(SECRET_B32).unwrap();
    let forbidden = [
        PASSWORD.to_owned(),
        "wrong-guess-4711".to_owned(),
        SECRET_B32.to_owned(),
        format!("{:?}", secret_bytes.as_bytes()),
        master_hex,
        master_b64,
    ];
    let mut outputs = vec![
        format!("{vault:?}"),
        format!("{:?}", vault.content()),
        format!("{:?}", vault.content().entries[0]),
        format!("{:?}", vault.info()),
        format!("{:?}", Protection::Password(pw(PASSWORD))),
        format!("{:?}", Protection::PasswordWithParams(pw(PASSWORD), KdfParams::default())),
        format!("{:?}", Unlock::Password(pw(PASSWORD))),
        format!("{:?}", options()),
    ];
    drop(vault);
    let errors = [
        open_pw(&path, "wrong-guess-4711").unwrap_err(),
        Vault::open_with(&path, &Unlock::Keyring, options()).unwrap_err(),
    ];
    for err in &errors {
        outputs.push(format!("{err:?}"));
        outputs.push(err.to_string());
    }
    for output in &outputs {
        for secret in &forbidden {
            assert!(!output.contains(secret.as_str()), "{output:?} shows a secret");
        }
    }
}

#[test]
fn entries_with_only_required_fields_deserialize_with_defaults() {
    let json = format!(
        r#"{{"id":"x","otp":{{"kind":"totp","secret":"{SECRET_B32}","algorithm":"SHA1","digits":6,"period":30,"counter":0}}}}"#
    );
    let e: Entry = serde_json::from_str(&json).unwrap();
    assert_eq!((e.issuer.as_str(), e.favourite, e.group, e.last_used), ("", false, None, None));
}

#[test]
fn entry_ids_are_unique_uuids() {
    let a = entry("a");
    let b = entry("a");
    assert_ne!(a.id, b.id);
    assert_eq!(uuid::Uuid::parse_str(&a.id).unwrap().get_version_num(), 4);
}

#[test]
fn default_path_is_vault_json_in_the_data_dir() {
    let path = default_path().unwrap();
    assert_eq!(path.file_name().unwrap(), VAULT_FILE_NAME);
    assert_eq!(path.parent().unwrap(), data_dir().unwrap());
}

#[test]
fn released_vault_lets_another_writer_in_and_reloads_its_save() {
    let (_dir, path) = saved_vault();
    let mut gui = open_pw(&path, PASSWORD).unwrap();
    gui.release_lock();
    let mut cli = open_pw(&path, PASSWORD).unwrap();
    cli.content_mut().entries.push(entry("GitLab"));
    cli.save().unwrap();
    // While the CLI holds the lock, the GUI cannot retake it.
    assert!(matches!(gui.reload().unwrap_err(), VaultError::Busy { .. }));
    drop(cli);
    assert!(gui.reload().unwrap());
    assert_eq!(gui.content().entries.len(), 2);
    assert!(!gui.reload().unwrap());
    gui.content_mut().entries.pop();
    gui.save().unwrap();
    drop(gui);
    assert_eq!(open_pw(&path, PASSWORD).unwrap().content().entries.len(), 1);
}

#[test]
fn save_after_release_without_reload_reports_a_conflict() {
    let (_dir, path) = saved_vault();
    let mut gui = open_pw(&path, PASSWORD).unwrap();
    gui.release_lock();
    let mut cli = open_pw(&path, PASSWORD).unwrap();
    cli.save().unwrap();
    drop(cli);
    assert!(matches!(gui.save().unwrap_err(), VaultError::Conflict { .. }));
}

#[test]
fn default_password_protection_uses_the_documented_argon2id_cost() {
    let (_dir, path) = setup();
    drop(Vault::create_with(&path, &[Protection::Password(pw(PASSWORD))], options()).unwrap());
    let kdf = Vault::inspect(&path).unwrap().kdf.unwrap();
    assert_eq!(kdf, KdfParams { m_kib: 128 * 1024, t: 4, p: 1 });
}

fn backup_settings(folder: &Path, keep: usize) -> BackupSettings {
    BackupSettings { folder: folder.to_path_buf(), keep, password: pw("backup pw") }
}

#[test]
fn backup_settings_debug_hides_the_password() {
    let shown = format!("{:?}", backup_settings(Path::new("/b"), 3));
    assert!(shown.contains("redacted") && !shown.contains("backup pw"), "{shown}");
}

#[test]
fn a_commit_whose_save_fails_leaves_the_open_vault_as_it_was() {
    let (_dir, path) = saved_vault();
    let older = std::fs::read(&path).unwrap();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    vault.commit(|content| content.entries.push(entry("GitLab"))).unwrap();
    assert_eq!(open_entries(&vault), ["GitHub", "GitLab"]);
    // Another writer put an older file back: the next save is refused as a conflict.
    std::fs::write(&path, &older).unwrap();
    let err = vault.commit(|content| content.entries.push(entry("Codeberg"))).unwrap_err();
    assert!(matches!(err, VaultError::Conflict { .. }), "{err:?}");
    assert_eq!(open_entries(&vault), ["GitHub", "GitLab"]);
}

fn open_entries(vault: &Vault) -> Vec<&str> {
    vault.content().entries.iter().map(|e| e.issuer.as_str()).collect()
}

/// Replaces the slots of the file at `path` with those of `old` (an earlier copy), fixing
/// up everything anyone can recompute without a key: what an attacker who knows an old
/// password and kept an old copy of the file does.
fn paste_old_slots(path: &Path, old: &[u8]) {
    let old = VaultFile::decode(old).unwrap().file;
    let (mut file, ciphertext) = decode_file(path);
    file.slots = old.slots;
    std::fs::write(path, file.forge_v3(&ciphertext)).unwrap();
}

#[test]
fn an_old_password_slot_pasted_into_a_file_saved_after_a_password_change_does_not_open_it() {
    let (_dir, path) = saved_vault();
    let old_copy = std::fs::read(&path).unwrap();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    vault
        .set_password_with(Some(pw("a brand new passphrase")), KdfParams::INSECURE_FOR_TESTS)
        .unwrap();
    vault.content_mut().entries.push(entry("Added after the change"));
    vault.save().unwrap();
    drop(vault);
    paste_old_slots(&path, &old_copy);
    // Before master-key rotation the old slot unwrapped the same key and this opened.
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(matches!(err, VaultError::Damaged { .. }), "{err:?}");
    let read = Vault::read_bytes(
        &std::fs::read(&path).unwrap(),
        &Unlock::Password(pw(PASSWORD)),
        &options(),
    );
    assert!(read.is_err(), "the old password must not read the new content");
}

#[test]
fn removing_the_password_or_toggling_the_keyring_rotates_the_master_key() {
    let (dir, path) = saved_vault();
    let store = sample_store(dir.path());
    let mut vault =
        Vault::open_with(&path, &Unlock::Password(pw(PASSWORD)), options_with(store.clone()))
            .unwrap();
    let mut keys = vec![*vault.master_key];
    vault.enable_keyring(true).unwrap();
    keys.push(*vault.master_key);
    let with_password = std::fs::read(&path).unwrap();
    vault.set_password(None).unwrap();
    keys.push(*vault.master_key);
    vault.set_password_with(Some(pw(PASSWORD)), KdfParams::INSECURE_FOR_TESTS).unwrap();
    keys.push(*vault.master_key);
    vault.enable_keyring(false).unwrap();
    keys.push(*vault.master_key);
    let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "every slot change draws a new master key");
    drop(vault);
    // The password slot from before "remove password" opens nothing saved after it.
    paste_old_slots(&path, &with_password);
    assert!(open_pw(&path, PASSWORD).is_err());
}

#[test]
fn a_slot_change_leaves_no_backup_that_the_old_password_opens() {
    let (_dir, path) = saved_vault();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    vault.save().unwrap();
    let bak = storage::sibling(&path, ".bak");
    assert!(bak.exists());
    vault.set_password_with(Some(pw("another passphrase")), KdfParams::INSECURE_FOR_TESTS).unwrap();
    assert!(!bak.exists(), "the .bak still held the old slot and master key");
    vault.save().unwrap();
    drop(vault);
    assert!(Vault::read_only(&bak, &Unlock::Password(pw(PASSWORD)), &options()).is_err());
    open_pw(&path, "another passphrase").unwrap();
}

#[test]
fn a_failed_slot_change_keeps_the_old_key_and_file() {
    let (dir, path) = saved_vault();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    let before = snapshot(dir.path());
    let old_key = *vault.master_key;
    // A keyring that does not answer: enabling it fails before anything is written.
    assert!(vault.enable_keyring(true).is_err());
    assert_eq!(*vault.master_key, old_key);
    assert_eq!(snapshot(dir.path()), before);
    vault.save().unwrap();
    drop(vault);
    open_pw(&path, PASSWORD).unwrap();
}

#[test]
fn a_keyring_unlock_needs_the_password_confirmed_before_a_slot_change() {
    let (dir, path) = setup();
    let store = sample_store(dir.path());
    let opts = options_with(store);
    drop(Vault::create_with(&path, &[Protection::Keyring, cheap(PASSWORD)], opts.clone()).unwrap());
    let mut vault = Vault::open_with(&path, &Unlock::Keyring, opts.clone()).unwrap();
    assert!(matches!(vault.enable_keyring(false).unwrap_err(), VaultError::PasswordNeeded));
    assert!(matches!(vault.confirm_password("wrong").unwrap_err(), VaultError::WrongPassword));
    vault.confirm_password(PASSWORD).unwrap();
    vault.enable_keyring(false).unwrap();
    drop(vault);
    assert!(!Vault::inspect(&path).unwrap().has_keyring);
    open_pw(&path, PASSWORD).unwrap();
}

#[test]
fn an_idle_vault_reports_a_re_key_by_another_process() {
    let (_dir, path) = saved_vault();
    let mut gui = open_pw(&path, PASSWORD).unwrap();
    gui.release_lock();
    let mut cli = open_pw(&path, PASSWORD).unwrap();
    cli.set_password_with(Some(pw("changed on the cli")), KdfParams::INSECURE_FOR_TESTS).unwrap();
    drop(cli);
    assert!(matches!(gui.reload().unwrap_err(), VaultError::Rekeyed { .. }));
}

#[test]
fn a_version_2_file_opens_and_its_next_save_writes_version_3() {
    // Written by the version-2 build (see fuzz/seeds/vault_open/, password "fuzz").
    let (_dir, path) = setup();
    let v2 = include_bytes!("../../../../fuzz/seeds/vault_open/vault-v2-3.json");
    std::fs::write(&path, v2).unwrap();
    assert_eq!(Vault::inspect(&path).unwrap().version, 2);
    let mut vault = open_pw(&path, "fuzz").unwrap();
    let entries = vault.content().entries.clone();
    vault.save().unwrap();
    drop(vault);
    assert_eq!(Vault::inspect(&path).unwrap().version, 3);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"{\"format\":\"tessera-vault\",\"version\":3,"));
    let reopened = open_pw(&path, "fuzz").unwrap();
    assert_eq!(format!("{:?}", reopened.content().entries), format!("{entries:?}"));
}

#[test]
fn a_layout_1_vault_from_before_icons_opens_and_keeps_a_picked_icon_after_saving() {
    // Written by the build before service icons (b02b0e1's `tessera init` + two `add`s),
    // password "layout-one": version 3, content layout 1.
    let (_dir, path) = setup();
    let old = include_bytes!("../../../../fuzz/seeds/vault_open/vault-v3-layout1.json");
    std::fs::write(&path, old).unwrap();
    assert_eq!(Vault::inspect(&path).unwrap().version, 3);
    let mut vault = open_pw(&path, "layout-one").unwrap();
    let label = |e: &Entry| crate::account::label(&e.issuer, &e.account);
    let names: Vec<_> = vault.content().entries.iter().map(label).collect();
    assert_eq!(names, ["GitHub (ada)", "Zoë Bank (ada)"]);
    assert!(vault.content().entries.iter().all(|e| e.icon.is_none()), "no choice: automatic");
    let picked = crate::icons::IconChoice::Builtin("gitlab".into());
    vault.content_mut().entries[1].icon = Some(picked.clone());
    vault.save().unwrap();
    drop(vault);
    let reopened = open_pw(&path, "layout-one").unwrap();
    let icons: Vec<_> = reopened.content().entries.iter().map(|e| e.icon.clone()).collect();
    assert_eq!(icons, [None, Some(picked)]);
}

#[test]
fn an_older_whole_file_swapped_in_is_reported_as_a_rollback() {
    use super::rollback::{Rollback, Watermark};
    let (dir, path) = saved_vault();
    let mark = Watermark::new(dir.path(), None);
    mark.record(&Vault::inspect(&path).unwrap());
    let old_copy = std::fs::read(&path).unwrap();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    vault.content_mut().entries.clear();
    vault.save().unwrap();
    mark.record(&vault.info());
    drop(vault);
    assert_eq!(mark.check(&Vault::inspect(&path).unwrap()), Ok(()));
    // The attack: put the whole older file back (it still decrypts: it is a genuine vault).
    std::fs::write(&path, &old_copy).unwrap();
    let info = Vault::inspect(&path).unwrap();
    let err = mark.check(&info).unwrap_err();
    assert_eq!(err, Rollback { seen: 2, found: 1 });
    assert!(err.to_string().contains("older copy"), "{err}");
}

#[test]
fn the_keyring_remembers_the_generation_even_if_the_record_file_is_deleted() {
    use super::rollback::Watermark;
    let (dir, path) = setup();
    let store = sample_store(dir.path());
    let opts = options_with(store.clone());
    let mut vault =
        Vault::create_with(&path, &[Protection::Keyring, cheap(PASSWORD)], opts).unwrap();
    let mark = Watermark::new(dir.path(), Some(store));
    let old = vault.info();
    vault.save().unwrap();
    mark.record(&vault.info());
    std::fs::remove_file(dir.path().join(super::rollback::SEEN_FILE_NAME)).unwrap();
    assert!(mark.check(&old).is_err());
}

#[test]
fn push_history_is_capped_oldest_first_when_saved() {
    let (_dir, path) = saved_vault();
    let mut vault = open_pw(&path, PASSWORD).unwrap();
    let item = |i: u64| crate::push::PushHistoryItem {
        request_id: format!("r{i}"),
        serial: "PIPU0001".into(),
        title: "privacyIDEA".into(),
        question: "Log in?".into(),
        server: "example.com".into(),
        ip: None,
        location: None,
        received_at: i,
        decision: None,
        decided_at: i,
        accepted: false,
    };
    // What a push server that never stops sending requests leaves behind.
    vault.content_mut().push_history = (0..(MAX_PUSH_HISTORY as u64 + 100)).map(item).collect();
    vault.save().unwrap();
    drop(vault);
    let history = open_pw(&path, PASSWORD).unwrap().content().push_history.clone();
    assert_eq!(history.len(), MAX_PUSH_HISTORY);
    assert_eq!(history[0].received_at, 100, "the oldest were dropped");
}

#[test]
fn an_old_vault_opens_takes_recovery_codes_and_keeps_them_across_a_save() {
    // A version-1 file written before recovery codes existed (fuzz/seeds, password "fuzz").
    let (dir, path) = setup();
    std::fs::write(&path, include_bytes!("../../../../fuzz/seeds/vault_open/vault-3.json"))
        .unwrap();
    let mut vault = open_pw(&path, "fuzz").unwrap();
    assert!(vault.content().entries.iter().all(|e| e.recovery.is_empty()));
    let id = vault.content().entries[1].id.clone();
    let added =
        vault.content_mut().entries[1].add_recovery_codes("RC-ONE-111\n RC-TWO-222 ", 9).unwrap();
    assert_eq!(added.added, 2);
    vault.content_mut().entries[1].mark_recovery_code(2, true, 10).unwrap();
    vault.save().unwrap();
    drop(vault);
    let on_disk = std::fs::read(&path).unwrap();
    assert!(
        !on_disk.windows(6).any(|w| w == b"RC-ONE"),
        "the codes are inside the encrypted content"
    );
    let reopened = open_pw(&path, "fuzz").unwrap();
    let entry = reopened.content().entries.iter().find(|e| e.id == id).unwrap();
    let codes: Vec<(&str, Option<u64>)> =
        entry.recovery.iter().map(|c| (c.code.as_str(), c.used)).collect();
    assert_eq!(codes, [("RC-ONE-111", None), ("RC-TWO-222", Some(10))]);
    assert_eq!(reopened.content().entries.iter().filter(|e| !e.recovery.is_empty()).count(), 1);
    drop(reopened);
    drop(dir);
}

#[test]
fn the_accounts_digest_sees_every_change_a_backup_holds_and_nothing_else() {
    const T0: u64 = 1_700_000_000;
    let secret = Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap();
    let mut entry = Entry::new("Visma".into(), "me".into(), OtpParams::totp(secret), T0);
    entry.id = "00000000-0000-4000-8000-000000000001".into();
    let base = vec![entry];
    let digest = accounts_digest(&base);
    // Kept on disk between runs: the same accounts give the same digest in every build.
    assert_eq!(digest, "6b88e5a9606e38f459db18c87c7c2fb2");

    let mut used = base.clone();
    used[0].last_used = Some(T0);
    used[0].icon = Some(crate::icons::IconChoice::Letter);
    assert_eq!(accounts_digest(&used), digest, "copying a code or picking an icon is no change");
    let changes: [fn(&mut Entry); 8] = [
        |e| e.account = "you".into(),
        |e| e.issuer = "Visma Connect".into(),
        |e| e.otp.secret = Secret::parse_base32("JBSWY3DPEHPK3PXQ").unwrap(),
        |e| e.otp.digits = 8,
        |e| e.note = "desk".into(),
        |e| e.group = Some("Work".into()),
        |e| e.favourite = true,
        |e| {
            e.add_recovery_codes("RC-1", T0).unwrap();
        },
    ];
    for (n, change) in changes.iter().enumerate() {
        let mut changed = base.clone();
        change(&mut changed[0]);
        assert_ne!(accounts_digest(&changed), digest, "change {n}");
    }
    let mut coded = base.clone();
    coded[0].add_recovery_codes("RC-1", T0).unwrap();
    let mut marked = coded.clone();
    marked[0].mark_recovery_code(1, true, T0).unwrap();
    assert_ne!(accounts_digest(&marked), accounts_digest(&coded), "a code marked used");
    assert_ne!(accounts_digest(&[]), digest, "a removed account");
    let mut two = base.clone();
    two.push(Entry { id: "2".into(), ..base[0].clone() });
    let mut swapped = two.clone();
    swapped.reverse();
    assert_ne!(accounts_digest(&two), accounts_digest(&swapped), "the order");
}

#[test]
fn decrypting_for_a_query_keeps_exactly_what_the_query_rule_finds() {
    let (_dir, path) = setup();
    let mut vault = Vault::create_with(&path, &[cheap(PASSWORD)], options()).unwrap();
    for issuer in ["Zoë Bank", "Coöperatie", "GitHub", "GitLab"] {
        vault.content_mut().entries.push(entry(issuer));
    }
    vault.content_mut().entries[3].account = "bob@example.com".into();
    vault.content_mut().entries[1].add_recovery_codes("AAAA-1111", 1).unwrap();
    // An id that is also part of other accounts' names: the id match wins alone.
    vault.content_mut().entries[0].id = "git".into();
    vault.save().unwrap();
    drop(vault);

    let sealed = || SealedVault::read(&path).unwrap();
    let unlock = Unlock::Password(pw(PASSWORD));
    let all = sealed().decrypt(&unlock, &options()).unwrap();
    for query in ["zoË", "ALICE", "bob@", "gitl", "git", "nothing", ""] {
        let some = sealed().decrypt_matching(&unlock, &options(), query).unwrap();
        let expected: Vec<String> = query::matching(&all.entries, query)
            .into_iter()
            .map(|i| format!("{:?}", all.entries[i]))
            .collect();
        let got: Vec<String> = some.entries.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(got, expected, "{query:?}");
    }
    assert_eq!(sealed().decrypt_matching(&unlock, &options(), "git").unwrap().entries.len(), 1);
    let coop = sealed().decrypt_matching(&unlock, &options(), "coö").unwrap();
    assert_eq!(coop.entries[0].recovery.len(), 1, "its recovery codes come along");
    let wrong = sealed().decrypt_matching(&Unlock::Password(pw("wrong")), &options(), "git");
    assert!(matches!(wrong, Err(VaultError::WrongPassword)), "{wrong:?}");
}
