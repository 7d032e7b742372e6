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

fn edit_file(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
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
    // Version 2: the header checksum still holds, the slot opens with the right password, and
    // GCM refuses the content, which can then only mean damage.
    let (dir, path) = saved_vault();
    edit_file(&path, |v| {
        let text = v["content"]["ciphertext"].as_str().unwrap();
        let mut bytes = BASE64.decode(text.as_bytes()).unwrap();
        bytes[3] ^= 0x01;
        v["content"]["ciphertext"] = BASE64.encode(&bytes).into();
    });
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
fn version_1_files_are_still_read_and_saving_writes_version_2() {
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
    let mut file = VaultFile::decode(&std::fs::read(&path).unwrap()).unwrap();
    let mut bytes = BASE64.decode(file.content.ciphertext.as_bytes()).unwrap();
    bytes[0] ^= 0x80;
    file.content.ciphertext = BASE64.encode(&bytes);
    std::fs::write(&path, file.encode().unwrap()).unwrap();
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(
        matches!(&err, VaultError::Damaged { detail } if detail.contains("authenticate")),
        "{err:?}"
    );
}

#[test]
fn content_cannot_be_rolled_back_to_another_generation_label() {
    let (_dir, path) = saved_vault();
    let mut file = VaultFile::decode(&std::fs::read(&path).unwrap()).unwrap();
    file.generation += 5;
    std::fs::write(&path, file.encode().unwrap()).unwrap();
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
    let at = bytes.windows(12).position(|w| w == b"\"ciphertext\"").unwrap() + 20;
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
    edit_file(&path, |v| v["version"] = 3.into());
    let before = snapshot(dir.path());
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(matches!(err, VaultError::UnsupportedVersion { found: 3, supported: 2 }), "{err:?}");
    assert!(err.to_string().contains("update tessera"), "{err}");
    assert!(matches!(Vault::inspect(&path), Err(VaultError::UnsupportedVersion { found: 3, .. })));
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
    let mut file = VaultFile::decode(&std::fs::read(&path).unwrap()).unwrap();
    for slot in &mut file.slots {
        if let Slot::Password { kdf, .. } = slot {
            kdf.params.m_kib = u32::MAX;
        }
    }
    std::fs::write(&path, file.encode().unwrap()).unwrap();
    let err = open_pw(&path, PASSWORD).unwrap_err();
    assert!(matches!(&err, VaultError::Damaged { detail } if detail.contains("out of range")));
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
        let file = VaultFile::decode(&std::fs::read(&path).unwrap()).unwrap();
        assert!(nonces.insert(file.content.nonce));
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
fn every_save_writes_an_automatic_backup_that_verifies() {
    let (dir, path) = setup();
    let folder = dir.path().join("backups");
    let mut vault = Vault::create_with(&path, &[cheap(PASSWORD)], options()).unwrap();
    assert_eq!(vault.last_backup(), None, "no backup before one is configured");
    vault.content_mut().backup = Some(backup_settings(&folder, 2));
    vault.content_mut().entries.push(entry("GitHub"));
    vault.save().unwrap();
    assert!(matches!(vault.last_backup(), Some(BackupOutcome::Written(p)) if p.exists()));
    for issuer in ["GitLab", "Visma"] {
        vault.content_mut().entries.push(entry(issuer));
        vault.save().unwrap();
    }
    let backups = crate::transfer::backup::list_backups(&folder).unwrap();
    assert_eq!(backups.len(), 2, "only the newest `keep` backups stay");
    let accounts: Vec<crate::transfer::ImportedAccount> =
        vault.content().entries.iter().map(crate::transfer::ImportedAccount::from).collect();
    let check = crate::transfer::backup::verify_backup(&accounts, &folder, "backup pw").unwrap();
    assert!(check.matches(), "{check:?}");
    // The settings survive a reopen (they live in the encrypted content).
    drop(vault);
    let reopened = open_pw(&path, PASSWORD).unwrap();
    let settings = reopened.content().backup.as_ref().unwrap();
    assert_eq!((settings.folder.as_path(), settings.keep), (folder.as_path(), 2));
}

#[test]
fn a_failed_backup_never_fails_the_save_or_deletes_older_backups() {
    let (dir, path) = setup();
    let folder = dir.path().join("backups");
    let mut vault = Vault::create_with(&path, &[cheap(PASSWORD)], options()).unwrap();
    vault.content_mut().backup = Some(backup_settings(&folder, 1));
    vault.content_mut().entries.push(entry("GitHub"));
    vault.save().unwrap();
    let good = crate::transfer::backup::list_backups(&folder).unwrap();
    assert_eq!(good.len(), 1);
    // Point the backups at a path below a regular file: creating the folder must fail.
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    vault.content_mut().backup = Some(backup_settings(&blocker.join("sub"), 1));
    vault.content_mut().entries.push(entry("GitLab"));
    vault.save().unwrap();
    assert!(
        matches!(vault.last_backup(), Some(BackupOutcome::Failed(reason)) if !reason.is_empty())
    );
    drop(vault);
    assert_eq!(open_pw(&path, PASSWORD).unwrap().content().entries.len(), 2, "the save landed");
    assert_eq!(crate::transfer::backup::list_backups(&folder).unwrap(), good, "old backup kept");
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
