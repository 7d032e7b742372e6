//! The GUI over the real encrypted vault file (cheap Argon2id parameters, an in-memory key
//! store): first run creates it, locking drops it, unlocking reads it back, and a damaged
//! file is reported as damaged.

use slint::ComponentHandle;

use super::{ENGLISH, RFC_CODE, RFC_KEY, launch};
use crate::common::test_vault::TestVault;

#[test]
fn the_encrypted_vault_is_created_locked_reopened_and_a_damaged_file_is_named_so() {
    i_slint_backend_testing::init_no_event_loop();
    let vault = TestVault::empty(true);
    let path = vault.path.clone();
    let h = launch(vault, tempfile::tempdir().unwrap(), ENGLISH);

    // With a durable key store the keyring is offered and chosen by default; take a password.
    assert!(h.exists("Use the system keyring"));
    h.click("Use the system keyring");
    h.type_into("New password or PIN", "correct horse");
    h.type_into("Repeat password or PIN", "correct horse");
    h.click("Create vault");
    assert!(path.exists(), "the vault file is written");
    h.add_by_key("ada", "Example", RFC_KEY);
    h.click("Add");
    assert!(h.exists(RFC_CODE));
    // Version 3: a JSON header line, then raw ciphertext (not UTF-8).
    let on_disk = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    // Quoted: a bare "ada" turns up by chance in base64 ciphertext about once in a hundred runs.
    assert!(!on_disk.contains("\"ada\"") && !on_disk.contains(RFC_KEY), "the file is encrypted");

    h.click("Lock");
    h.type_into("Password or PIN", "wrong horse");
    h.click("Unlock");
    assert!(h.exists("Wrong password or PIN"));
    h.type_into("Password or PIN", "correct horse");
    h.click("Unlock");
    assert!(h.exists(RFC_CODE), "the account was read back from the file");
    h.click("Lock");

    // Alter one byte of the encrypted content (the raw ciphertext after the header line).
    let mut bytes = std::fs::read(&path).unwrap();
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let middle = header_end + (bytes.len() - header_end) / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    h.type_into("Password or PIN", "correct horse");
    h.click("Unlock");
    assert!(!h.exists("Wrong password or PIN"), "a damaged file is not a wrong password");
    assert!(h.all("Tessera is locked").len() == 1);
    let damaged = h.app.window().global::<tessera::UnlockAdapter>().get_problem();
    assert_eq!(damaged, tessera::UnlockProblem::Damaged);
}
