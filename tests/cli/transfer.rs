//! `tessera import` and `tessera export` end to end, through every format's committed fixture.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::Home;

/// Password of the encrypted fixtures (tests/fixtures/transfer/README.md).
const FIXTURE_PASSWORD: &str = "tessera-fixture";
const AT: &str = "1700000000";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transfer").join(name)
}

fn password_file(home: &Home, password: &str) -> PathBuf {
    let path = home.dir.path().join("file-password.txt");
    std::fs::write(&path, format!("{password}\n")).unwrap();
    path
}

/// Codes at a fixed time, keyed by "issuer|account".
fn codes(home: &Home) -> BTreeMap<String, String> {
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["code", "--json", "--at", AT])).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let key =
                format!("{}|{}", row["issuer"].as_str().unwrap(), row["account"].as_str().unwrap());
            (key, row["code"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn imported(name: &str, password: Option<&str>) -> (Home, String) {
    let home = Home::new();
    let path = fixture(name);
    let mut args = vec!["import".to_owned(), path.to_string_lossy().into_owned()];
    if let Some(password) = password {
        args.push("--import-password-file".into());
        args.push(password_file(&home, password).to_string_lossy().into_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = home.ok(&args);
    (home, out)
}

#[test]
fn every_fixture_imports_with_detection_and_gives_the_same_codes() {
    let (reference, out) = imported("aegis-plain.json", None);
    assert!(out.contains("Aegis vault (JSON) (detected)"), "{out}");
    assert!(out.contains("imported 9 accounts"), "{out}");
    let want = codes(&reference);
    assert_eq!(want.len(), 9);
    assert_eq!(want["Steam|gamer"].len(), 5);
    for (name, password, title, count) in [
        ("aegis-encrypted.json", Some(FIXTURE_PASSWORD), "Aegis", 9),
        ("2fas-plain.2fas", None, "2FAS", 9),
        ("2fas-encrypted.2fas", Some(FIXTURE_PASSWORD), "2FAS", 9),
        ("andotp-plain.json", None, "andOTP", 9),
        ("andotp-encrypted.json.aes", Some(FIXTURE_PASSWORD), "andOTP", 9),
        ("freeotp-plus.json", None, "FreeOTP+", 9),
        ("google-migration.txt", None, "Google", 6),
        ("bitwarden.json", None, "Bitwarden export (JSON)", 9),
        ("bitwarden.csv", None, "Bitwarden export (CSV)", 9),
        ("ente-auth.txt", None, "Ente", 9),
        ("uri-list.txt", None, "URI list", 9),
        ("proton-plain.json", None, "Proton Authenticator", 7),
        ("proton-encrypted.json", Some(FIXTURE_PASSWORD), "Proton Authenticator", 7),
        ("authy-plain.xml", None, "Authy app data", 2),
        ("authy-encrypted.xml", Some(FIXTURE_PASSWORD), "Authy app data", 2),
        ("authy-desktop.json", None, "Authy desktop", 2),
        ("stratum-plain.json", None, "Stratum", 9),
        ("stratum-encrypted.bin", Some(FIXTURE_PASSWORD), "Stratum", 9),
        ("stratum-encrypted-legacy.bin", Some(FIXTURE_PASSWORD), "Stratum", 9),
        ("stratum-internal.db3", None, "Stratum", 9),
        ("google-authenticator.db", None, "Google Authenticator app database", 3),
        ("microsoft-authenticator.db", None, "Microsoft Authenticator", 2),
        ("freeotp-tokens.xml", None, "FreeOTP tokens.xml", 9),
        ("steam.maFile", None, "Steam Guard", 1),
        ("steam-app.json", None, "Steam Guard", 1),
        ("lastpass.json", None, "LastPass", 6),
        ("winauth.txt", None, "WinAuth", 9),
        ("totp-authenticator.xml", None, "TOTP Authenticator", 2),
        ("totp-authenticator.bin", Some(FIXTURE_PASSWORD), "TOTP Authenticator", 2),
    ] {
        let (home, out) = imported(name, password);
        assert!(out.contains(title) && out.contains("(detected)"), "{name}: {out}");
        assert!(out.contains(&format!("imported {count} account")), "{name}: {out}");
        let got = codes(&home);
        assert_eq!(got.len(), count, "{name}");
        for (key, code) in &got {
            assert_eq!(Some(code), want.get(key), "{name}: code of {key}");
        }
    }
}

#[test]
fn importing_twice_skips_duplicates_and_fails_when_nothing_is_new() {
    let (home, _) = imported("uri-list.txt", None);
    let before = home.snapshot();
    let run = home.run(&["import", fixture("aegis-plain.json").to_str().unwrap()]);
    assert_eq!(run.code, 1, "an import that adds nothing is not a success");
    assert!(
        run.stdout.contains("skipped GitHub (alice@example.com): already in the vault"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("all its accounts are already in the vault"), "{}", run.stderr);
    assert_eq!(home.snapshot(), before);
    assert_eq!(codes(&home).len(), 9);
}

/// Issue 15's report: a Duo export was read as andOTP, every entry was skipped and the
/// command said "imported 0 accounts" with exit status 0.
#[test]
fn duo_files_are_detected_and_an_import_of_nothing_fails_with_the_reason() {
    let (home, out) = imported("duo-accounts.json", None);
    assert!(out.contains("Duo Mobile accounts (JSON) (detected)"), "{out}");
    assert!(out.contains("imported 3 accounts"), "{out}");
    assert_eq!(codes(&home).len(), 3);

    let other = Home::new();
    let push_only = other.dir.path().join("accounts.json");
    std::fs::write(&push_only, r#"[{"name":"Work VPN","otpGenerator":null}]"#).unwrap();
    let run = other.run(&["import", push_only.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("skipped entry 1 (Work VPN): a Duo Push account"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("nothing imported from"), "{}", run.stderr);
    assert!(run.stderr.contains("none of its 1 entry could be imported"), "{}", run.stderr);
    assert!(!other.vault().exists(), "no vault was created");
}

#[test]
fn wrong_or_missing_password_changes_nothing() {
    let (home, _) = imported("uri-list.txt", None);
    let before = home.snapshot();
    let file = fixture("aegis-encrypted.json");
    let run = home.run(&["import", file.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("encrypted") && run.stderr.contains("--import-password-file"),
        "{}",
        run.stderr
    );
    let wrong = password_file(&home, "not it");
    let run = home.run(&[
        "import",
        file.to_str().unwrap(),
        "--import-password-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("wrong password"), "{}", run.stderr);
    assert_eq!(home.snapshot(), before);
}

#[test]
fn unrecognised_and_damaged_files_fail_clearly_and_create_nothing() {
    let home = Home::new();
    let junk = home.dir.path().join("junk.txt");
    std::fs::write(&junk, "hello, this is not an export\n").unwrap();
    let run = home.run(&["import", junk.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("unrecognised file: a text file")
            && run.stderr.contains("bitwarden-csv")
            && run.stderr.contains("winauth"),
        "{}",
        run.stderr
    );
    let truncated = home.dir.path().join("truncated.json");
    let bytes = std::fs::read(fixture("aegis-plain.json")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let run = home.run(&["import", truncated.to_str().unwrap(), "--format", "aegis"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("damaged or truncated"), "{}", run.stderr);
    assert!(!home.vault().exists(), "no vault was created");
}

#[test]
fn dry_run_reports_without_writing() {
    let home = Home::new();
    let out = home.ok(&["import", fixture("bitwarden.csv").to_str().unwrap(), "--dry-run"]);
    assert!(out.contains("would import 9 accounts"), "{out}");
    assert!(!home.vault().exists());
}

#[test]
fn aegis_and_2fas_exports_are_encrypted_unless_plain_is_asked() {
    let (home, _) = imported("aegis-plain.json", None);
    let want = codes(&home);
    for format in ["aegis", "2fas"] {
        let run = home.run(&["export", "--format", format]);
        assert_eq!(run.code, 2, "{format}: a password or --plain is required");
        assert!(run.stderr.contains("--plain"), "{}", run.stderr);

        let file = home.dir.path().join(format!("export.{format}"));
        let pw = password_file(&home, "export pass");
        let run = home.run(&[
            "export",
            "--format",
            format,
            file.to_str().unwrap(),
            "--export-password-file",
            pw.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("exported 9 accounts"), "{}", run.stderr);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("JBSWY3DPEHPK3PXP"), "{format} export is encrypted");
        let other = Home::new();
        let pw2 = password_file(&other, "export pass");
        other.ok(&[
            "import",
            file.to_str().unwrap(),
            "--import-password-file",
            pw2.to_str().unwrap(),
        ]);
        assert_eq!(codes(&other), want, "{format} round trip");

        let run = home.run(&["export", "--format", format, "--plain"]);
        assert_eq!(run.code, 0);
        assert!(run.stdout.contains("JBSWY3DPEHPK3PXP"), "plain {format} goes to stdout");
        assert!(run.stderr.contains("unencrypted"), "{}", run.stderr);
    }
}

#[test]
fn google_export_lists_the_accounts_it_cannot_hold() {
    let (home, _) = imported("aegis-plain.json", None);
    let run = home.run(&["export", "--format", "google"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("exported 6 accounts"), "{}", run.stderr);
    assert!(run.stderr.contains("not exported: Steam (gamer)"), "{}", run.stderr);
    assert!(run.stderr.contains("not exported: Forge (ops)"), "{}", run.stderr);
    let file = home.dir.path().join("google.txt");
    std::fs::write(&file, &run.stdout).unwrap();
    let other = Home::new();
    other.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(codes(&other).len(), 6);
    let run = home.run(&[
        "export",
        "--format",
        "google",
        "--export-password-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "google files cannot be encrypted");
    let run = home.run(&["export", "--format", "andotp"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("can be imported but not exported"), "{}", run.stderr);
}

#[test]
fn backup_then_verify_detects_a_changed_vault() {
    let (home, _) = imported("uri-list.txt", None);
    let dir = home.dir.path().join("backups");
    let pw = password_file(&home, "backup pass");
    let (dir_s, pw_s) = (dir.to_str().unwrap(), pw.to_str().unwrap());
    for _ in 0..3 {
        let out = home.ok(&["backup", dir_s, "--keep", "2", "--backup-password-file", pw_s]);
        assert!(out.contains("backed up 9 accounts"), "{out}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "only the newest two are kept");
    let out = home.ok(&["verify-backup", dir_s, "--backup-password-file", pw_s]);
    assert!(out.starts_with("ok: "), "{out}");

    home.ok(&["remove", "alice@example.com"]);
    let run = home.run(&["verify-backup", dir_s, "--backup-password-file", pw_s]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("only in the backup: GitHub (alice@example.com)"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("does not match"), "{}", run.stderr);

    let wrong = home.dir.path().join("wrong.txt");
    std::fs::write(&wrong, "nope\n").unwrap();
    let run =
        home.run(&["verify-backup", dir_s, "--backup-password-file", wrong.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("wrong password"), "{}", run.stderr);
}

#[test]
fn automatic_backups_follow_every_change_and_a_failure_only_warns() {
    let (home, _) = imported("uri-list.txt", None);
    let dir = home.dir.path().join("auto-backups");
    let pw = password_file(&home, "backup pass");
    let (dir_s, pw_s) = (dir.to_str().unwrap(), pw.to_str().unwrap());
    let out = home.ok(&["backup", dir_s, "--auto", "--keep", "3", "--backup-password-file", pw_s]);
    assert!(out.contains("automatic backups on"), "{out}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "turning it on writes the first");

    // A change through any command writes a backup that matches the changed vault.
    home.ok(&["remove", "alice@example.com"]);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    let out = home.ok(&["verify-backup", dir_s, "--backup-password-file", pw_s]);
    assert!(out.starts_with("ok: "), "{out}");

    // Make the folder unwritable by replacing it with a file: the save still succeeds, the
    // user is warned, and nothing else changes.
    let moved = home.dir.path().join("kept-backups");
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::write(&dir, b"not a folder").unwrap();
    let run = home.run(&["add", "--secret", "GEZDGNBVGY3TQOJQ", "--issuer", "New Co"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("automatic backup failed"), "{}", run.stderr);
    assert!(home.ok(&["list"]).contains("New Co"), "the vault change landed");
    assert_eq!(std::fs::read_dir(&moved).unwrap().count(), 2, "older backups untouched");

    // Turning backups off stops them.
    std::fs::remove_file(&dir).unwrap();
    assert!(home.ok(&["backup", "--off"]).contains("off"));
    home.ok(&["remove", "New Co"]);
    assert!(!dir.exists(), "no backup after --off");
}

#[test]
fn automatic_backups_are_not_turned_on_for_an_unusable_folder() {
    let (home, _) = imported("uri-list.txt", None);
    let blocker = home.dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let pw = password_file(&home, "backup pass");
    let target = blocker.join("sub");
    let run = home.run(&[
        "backup",
        target.to_str().unwrap(),
        "--auto",
        "--backup-password-file",
        pw.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("were not turned on"), "{}", run.stderr);
    let run = home.run(&["remove", "alice@example.com"]);
    assert!(!run.stderr.contains("backup"), "backups stayed off: {}", run.stderr);
}

#[test]
fn proton_export_round_trips_and_lists_hotp_accounts() {
    let (home, _) = imported("aegis-plain.json", None);
    let want = codes(&home);
    let file = home.dir.path().join("proton.json");
    let pw = password_file(&home, "proton pass");
    let run = home.run(&[
        "export",
        "--format",
        "proton",
        file.to_str().unwrap(),
        "--export-password-file",
        pw.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("exported 7 accounts"), "{}", run.stderr);
    assert!(run.stderr.contains("not exported: VPN (carol)"), "{}", run.stderr);
    let other = Home::new();
    let pw2 = password_file(&other, "proton pass");
    let out = other.ok(&[
        "import",
        file.to_str().unwrap(),
        "--import-password-file",
        pw2.to_str().unwrap(),
    ]);
    assert!(out.contains("Proton Authenticator export (JSON) (detected)"), "{out}");
    let got = codes(&other);
    assert_eq!(got.len(), 7);
    for (key, code) in &got {
        assert_eq!(Some(code), want.get(key), "code of {key}");
    }
}
