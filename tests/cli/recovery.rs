//! `tessera recovery`: codes added from a file or standard input, hidden until `--show` with
//! the right password, marked used, carried into a Tessera backup, refused without a change.

use super::home_with_one_account;
use crate::common::Home;

#[test]
fn codes_are_added_hidden_shown_with_the_password_and_marked_used() {
    let home = home_with_one_account();
    let run =
        home.run_with_stdin(&["recovery", "add", "visma"], "  RC-AAAA 1111\r\n\nRC-BBBB-2222\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("added 2 recovery codes to Visma (me@example.com)"),
        "{}",
        run.stdout
    );
    let raw = std::fs::read(home.vault()).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("RC-AAAA"), "codes are encrypted");

    let hidden = home.ok(&["recovery", "list", "visma"]);
    assert!(hidden.contains("2 recovery codes, 2 not used"), "{hidden}");
    assert!(hidden.contains("1. (hidden)") && !hidden.contains("RC-"), "{hidden}");

    home.ok(&["recovery", "mark", "visma", "2"]);
    let shown = home.ok(&["recovery", "list", "visma", "--show"]);
    assert!(shown.contains("1. RC-AAAA 1111\n"), "spaces tidied, grouping kept: {shown}");
    assert!(shown.contains("2. RC-BBBB-2222  (used)"), "{shown}");
    assert!(shown.contains("1 not used"), "{shown}");

    // The wrong password shows nothing.
    let wrong = home.dir.path().join("wrong.txt");
    std::fs::write(&wrong, "not the password\n").unwrap();
    let run = home.run(&[
        "recovery",
        "list",
        "visma",
        "--show",
        "--password-file",
        wrong.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0);
    assert!(
        !run.stdout.contains("RC-") && !run.stderr.contains("RC-"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn refused_input_changes_nothing_on_disk() {
    let home = home_with_one_account();
    let before = home.snapshot();
    let run = home.run_with_stdin(&["recovery", "add", "visma"], " \n\t\n");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no recovery code was pasted"), "{}", run.stderr);
    let run = home.run(&["recovery", "mark", "visma", "3"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no recovery code number 3"), "{}", run.stderr);
    let long = format!("SECRET-{}\n", "9".repeat(200));
    let run = home.run_with_stdin(&["recovery", "add", "visma"], &long);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("SECRET-"), "no code in an error: {}", run.stderr);
    assert_eq!(home.snapshot(), before, "the vault was not changed");
}

#[test]
fn a_tessera_backup_export_keeps_the_codes_and_a_uri_list_names_what_it_leaves_out() {
    let home = home_with_one_account();
    let codes = home.dir.path().join("codes.txt");
    std::fs::write(&codes, "RC-AAAA-1111\n").unwrap();
    home.ok(&["recovery", "add", "visma", "--codes-file", codes.to_str().unwrap()]);

    let run = home.run(&["export", "--format", "uris"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("RC-AAAA"));
    assert!(run.stderr.contains("the recovery codes of Visma (me@example.com)"), "{}", run.stderr);

    let backup = home.dir.path().join("backup.tessera");
    let password = home.dir.path().join("backup-password.txt");
    std::fs::write(&password, "another good password\n").unwrap();
    home.ok(&[
        "export",
        "--format",
        "tessera-backup",
        backup.to_str().unwrap(),
        "--export-password-file",
        password.to_str().unwrap(),
    ]);
    // Restored into a new vault, the account comes back with its code.
    let other = Home::new();
    other.ok(&["init", "--no-keyring"]);
    other.ok(&[
        "import",
        backup.to_str().unwrap(),
        "--import-password-file",
        password.to_str().unwrap(),
    ]);
    let shown = other.ok(&["recovery", "list", "visma", "--show"]);
    assert!(shown.contains("1. RC-AAAA-1111"), "{shown}");
}
