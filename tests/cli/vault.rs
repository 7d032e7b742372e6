//! The vault's protection from the command line: `tessera password`, the password policy,
//! the unlock delay, secrets kept out of the argument list, and rollback warnings.

use crate::common::Home;

use super::{CODE_AT_1E9, KEY};

fn write_file(home: &Home, name: &str, text: &str) -> String {
    let path = home.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn the_secret_key_can_come_from_a_file_or_standard_input() {
    let home = Home::new();
    let file = write_file(&home, "key.txt", &format!("{KEY}\n"));
    let out = home.ok(&["add", "--secret-file", &file, "--issuer", "FromFile"]);
    assert!(out.contains("added FromFile"), "{out}");
    let run = home.run_with_stdin(&["add", "--secret-file", "-", "--issuer", "FromPipe"], KEY);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let uri = format!("otpauth://totp/Piped:me?secret={KEY}&issuer=Piped\n");
    let run = home.run_with_stdin(&["add", "-"], &uri);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for name in ["fromfile", "frompipe", "piped"] {
        assert_eq!(home.ok(&["code", name, "--at", "1000000000"]).trim(), CODE_AT_1E9, "{name}");
    }
    let run = home.run_with_stdin(&["add", "--secret-file", "-", "--issuer", "Empty"], "\n");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
}

#[test]
fn a_new_password_vault_needs_a_real_password() {
    let home = Home::new();
    std::fs::write(&home.password_file, "2468\n").unwrap();
    let run = home.run(&["init", "--no-keyring"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("PIN"), "{}", run.stderr);
    assert!(!home.vault().exists());
    std::fs::write(&home.password_file, "short1\n").unwrap();
    assert!(home.run(&["init", "--no-keyring"]).stderr.contains("at least 8"));
}

#[test]
fn a_password_change_revokes_the_old_password_and_the_backup_copy() {
    let home = super::home_with_one_account();
    home.ok(&["rename", "visma", "--issuer", "Visma2"]);
    assert!(home.data().join("vault.json.bak").exists());
    let new = write_file(&home, "new.txt", "a much better passphrase\n");
    let weak = write_file(&home, "weak.txt", "1234\n");
    let before = home.snapshot();
    let run = home.run(&["password", "--new-password-file", &weak]);
    assert_eq!(run.code, 1, "a PIN without the keyring is refused");
    assert_eq!(home.snapshot(), before);
    let out = home.ok(&["password", "--new-password-file", &new]);
    assert!(out.contains("password was changed"), "{out}");
    assert!(!home.data().join("vault.json.bak").exists(), "the .bak held the old key");
    let run = home.run(&["list"]);
    assert_eq!(run.code, 1, "the old password no longer opens the vault");
    std::fs::copy(&new, &home.password_file).unwrap();
    assert!(home.ok(&["list"]).contains("Visma2"));
    let run = home.run(&["password", "--remove"]);
    assert_eq!(run.code, 1, "removing the only slot is refused");
    assert!(run.stderr.contains("no way to unlock"), "{}", run.stderr);
}

#[test]
fn wrong_passwords_bring_a_delay_that_survives_between_runs() {
    let home = super::home_with_one_account();
    let right = std::fs::read(&home.password_file).unwrap();
    std::fs::write(&home.password_file, "not the password\n").unwrap();
    for _ in 0..3 {
        assert!(home.run(&["list"]).stderr.contains("wrong password"));
    }
    std::fs::write(&home.password_file, right).unwrap();
    let run = home.run(&["list"]);
    assert_eq!(run.code, 1, "even the right password waits after three failures");
    assert!(run.stderr.contains("wait"), "{}", run.stderr);
}

#[test]
fn an_older_copy_of_the_vault_is_reported_as_a_rollback() {
    let home = super::home_with_one_account();
    let old = std::fs::read(home.vault()).unwrap();
    home.ok(&["remove", "visma"]);
    std::fs::write(home.vault(), old).unwrap();
    let run = home.run(&["list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("older copy"), "{}", run.stderr);
}

#[test]
fn a_backup_password_follows_the_same_policy() {
    let home = super::home_with_one_account();
    let dir = home.dir.path().join("backups");
    let weak = write_file(&home, "weak.txt", "1234\n");
    let run = home.run(&["backup", dir.to_str().unwrap(), "--backup-password-file", &weak]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("PIN"), "{}", run.stderr);
    assert!(!dir.exists(), "nothing was written");
}
