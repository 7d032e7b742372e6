//! `tessera` end to end: add, code, list, next, rename, remove, export and every bad input.

/// What a screen reader reads from the real app over AT-SPI (names, spelled codes, hidden codes).
mod accessibility;
/// `tessera` and `tessera-gui`: which does what, and what each links.
mod binaries;
/// `tessera code` and the computer's clock: the app's last measurement, `--ntp`.
mod clock;
/// The global shortcut: an X11 grab, XTEST key presses, the CLIPBOARD read back.
mod global_shortcut;
/// One app per session: a second launch shows the first (D-Bus), `--background`.
pub(crate) mod instance;
/// `tessera recovery`: an account's recovery codes, hidden until re-authentication.
mod recovery;
/// Locking when the screen locks (D-Bus screensaver signals).
pub(crate) mod screen_lock;
/// `tessera import` / `tessera export` through every format's fixture.
mod transfer;
/// `tessera password`, the password policy, the unlock delay, secrets from files and stdin,
/// rollback warnings.
mod vault;

use crate::common::Home;

/// `tessera scan`: QR codes from images, the screen and the clipboard.
pub(crate) mod scan;

const KEY: &str = "JBSWY3DPEHPK3PXP";
/// Codes of KEY (SHA1, 6 digits, 30 s) computed independently with Python's hmac module.
const CODE_AT_1E9: &str = "949556";
const CODE_AT_1E9_PLUS_30: &str = "310976";

fn home_with_one_account() -> Home {
    let home = Home::new();
    home.ok(&["add", &format!("otpauth://totp/Visma:me@example.com?secret={KEY}&issuer=Visma")]);
    home
}

#[test]
fn add_by_uri_then_code_at_a_fixed_time() {
    let home = home_with_one_account();
    assert_eq!(home.ok(&["code", "visma", "--at", "1000000000"]).trim(), CODE_AT_1E9);
    assert_eq!(home.ok(&["code", "VISMA", "--at", "1000000030"]).trim(), CODE_AT_1E9_PLUS_30);
    let meta = std::fs::metadata(home.vault()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "vault must be private");
    }
    let raw = String::from_utf8_lossy(&std::fs::read(home.vault()).unwrap()).into_owned();
    assert!(!raw.contains(KEY) && !raw.contains("me@example.com"), "vault must be encrypted");
}

#[test]
fn pasted_key_with_spaces_and_lower_case_adds_account() {
    let home = Home::new();
    let out = home.ok(&[
        "add",
        "--secret",
        " jbsw y3dp ehpk 3pxp ",
        "--issuer",
        "Nmbrs",
        "--account",
        "me@example.com",
    ]);
    assert!(out.contains("added Nmbrs (me@example.com)"), "{out}");
    assert_eq!(home.ok(&["code", "nmbrs", "--at", "1000000000"]).trim(), CODE_AT_1E9);
}

#[test]
fn sha256_eight_digits_sixty_seconds_from_flags() {
    let home = Home::new();
    home.ok(&[
        "add",
        "--secret",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "--issuer",
        "Bank",
        "--algorithm",
        "sha256",
        "--digits",
        "8",
        "--period",
        "60",
    ]);
    assert_eq!(home.ok(&["code", "bank", "--at", "1000000000"]).trim(), "45259660");
}

#[test]
fn list_and_code_print_json() {
    let home = home_with_one_account();
    home.ok(&[
        "add",
        "--secret",
        KEY,
        "--issuer",
        "Counter Co",
        "--type",
        "hotp",
        "--counter",
        "1",
    ]);
    let list: serde_json::Value = serde_json::from_str(&home.ok(&["list", "--json"])).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["issuer"], "Visma");
    assert_eq!(list[0]["account"], "me@example.com");
    assert_eq!(list[0]["type"], "totp");
    assert_eq!(list[0]["algorithm"], "SHA1");
    assert_eq!(list[0]["digits"], 6);
    assert_eq!(list[0]["period"], 30);
    assert_eq!(list[1]["type"], "hotp");
    assert_eq!(list[1]["counter"], 1);
    assert!(list[0]["id"].as_str().unwrap().len() >= 16);
    let codes: serde_json::Value =
        serde_json::from_str(&home.ok(&["code", "--json", "--at", "1000000000"])).unwrap();
    let codes = codes.as_array().unwrap();
    assert_eq!(codes[0]["code"], CODE_AT_1E9);
    assert_eq!(codes[0]["remaining"], 20);
    assert_eq!(codes[0]["id"], list[0]["id"]);
    // HOTP: the current counter's code (counter 1), computed with Python's hmac.
    assert_eq!(codes[1]["code"], "996554");
}

#[test]
fn next_advances_a_counter_based_account() {
    let home = Home::new();
    home.ok(&["add", "--secret", KEY, "--issuer", "Hotp", "--type", "hotp"]);
    assert_eq!(home.ok(&["code", "hotp"]).trim(), "282760");
    assert_eq!(home.ok(&["next", "hotp"]).trim(), "996554");
    assert_eq!(home.ok(&["next", "hotp"]).trim(), "602287");
    assert_eq!(home.ok(&["code", "hotp"]).trim(), "602287", "the counter was saved");
}

#[test]
fn rename_and_remove_by_query() {
    let home = home_with_one_account();
    home.ok(&["rename", "visma", "--issuer", "Visma Connect", "--account", "work@example.com"]);
    let list = home.ok(&["list", "--json"]);
    assert!(list.contains("Visma Connect") && list.contains("work@example.com"), "{list}");
    assert!(home.ok(&["remove", "work@"]).contains("removed Visma Connect"));
    assert_eq!(home.ok(&["list", "--json"]).trim(), "[]");
}

#[test]
fn ambiguous_query_lists_the_candidates_and_changes_nothing() {
    let home = home_with_one_account();
    home.ok(&[
        "add",
        "--secret",
        "GEZDGNBVGY3TQOJQ",
        "--issuer",
        "Visma",
        "--account",
        "other@example.com",
    ]);
    let before = home.snapshot();
    let run = home.run(&["remove", "visma"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("matches 2 accounts"), "{}", run.stderr);
    assert!(run.stderr.contains("me@example.com") && run.stderr.contains("other@example.com"));
    assert_eq!(home.snapshot(), before);
}

#[test]
fn export_uris_round_trips_into_a_fresh_vault() {
    let home = home_with_one_account();
    home.ok(&[
        "add",
        "--secret",
        KEY,
        "--issuer",
        "Steam",
        "--account",
        "gamer",
        "--type",
        "steam",
    ]);
    let file = home.dir.path().join("export.txt");
    home.ok(&["export", "--format", "uris", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 2);
    let other = Home::new();
    for line in text.lines() {
        other.ok(&["add", line]);
    }
    let a: serde_json::Value =
        serde_json::from_str(&home.ok(&["code", "--json", "--at", "7"])).unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&other.ok(&["code", "--json", "--at", "7"])).unwrap();
    for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
        assert_eq!(x["code"], y["code"]);
        assert_eq!(x["issuer"], y["issuer"]);
        assert_eq!(x["account"], y["account"]);
    }
    assert_eq!(b[1]["code"].as_str().unwrap().len(), 5, "steam survives the export");
}

#[test]
fn bad_inputs_fail_clearly_and_leave_the_vault_byte_identical() {
    let home = home_with_one_account();
    let before = home.snapshot();
    let huge_label = format!("otpauth://totp/{}?secret={KEY}", "A".repeat(100 * 1024));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["add".into(), "--secret".into(), "".into(), "--issuer".into(), "X".into()], "empty"),
        (
            vec![
                "add".into(),
                "--secret".into(),
                "JBSW Y3D1 EHPK 3PXP".into(),
                "--issuer".into(),
                "X".into(),
            ],
            "'1' at position 9",
        ),
        (
            vec![
                "add".into(),
                "--secret".into(),
                KEY.into(),
                "--issuer".into(),
                "X".into(),
                "--digits".into(),
                "0".into(),
            ],
            "digits",
        ),
        (
            vec![
                "add".into(),
                "--secret".into(),
                KEY.into(),
                "--issuer".into(),
                "X".into(),
                "--digits".into(),
                "11".into(),
            ],
            "digits",
        ),
        (
            vec![
                "add".into(),
                "--secret".into(),
                KEY.into(),
                "--issuer".into(),
                "X".into(),
                "--period".into(),
                "0".into(),
            ],
            "period",
        ),
        (
            vec![
                "add".into(),
                "--secret".into(),
                KEY.into(),
                "--issuer".into(),
                "X".into(),
                "--algorithm".into(),
                "MD5".into(),
            ],
            "algorithm",
        ),
        (vec!["add".into(), "https://example.com/login".into()], "web link"),
        (vec!["add".into(), "WIFI:T:WPA;S:Office;P:hunter22;;".into()], "Wi-Fi"),
        (vec!["add".into(), huge_label], "long"),
        (vec!["add".into(), "otpauth://totp/X?issuer=Y".into()], "secret"),
    ];
    for (args, expected) in cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = home.run(&refs);
        let shown: String = refs.join(" ").chars().take(80).collect();
        assert_eq!(run.code, 1, "{shown}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{shown}: {}", run.stderr);
        assert!(
            run.stderr.to_lowercase().contains(&expected.to_lowercase()),
            "{shown}: expected {expected:?} in {}",
            run.stderr
        );
        assert!(run.stderr.len() < 2000, "{shown}: error is too long ({} bytes)", run.stderr.len());
        assert_eq!(home.snapshot(), before, "{shown} changed the vault");
    }
}

#[test]
fn bad_input_never_creates_a_vault() {
    let home = Home::new();
    let run = home.run(&["add", "https://example.com"]);
    assert_eq!(run.code, 1);
    assert!(!home.vault().exists());
    assert!(home.snapshot().is_empty());
}

#[test]
fn errors_never_show_the_secret_key() {
    let home = home_with_one_account();
    let run = home.run(&["add", "--secret", "JBSWY3DPEHPK3PX!", "--issuer", "X"]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("JBSWY3DPEHPK3PX"), "{}", run.stderr);
    let run = home.run(&["add", &format!("otpauth://totp/X?secret={KEY}&digits=12")]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains(KEY), "{}", run.stderr);
}

#[test]
fn duplicate_account_is_refused() {
    let home = home_with_one_account();
    let before = home.snapshot();
    let run = home
        .run(&["add", &format!("otpauth://totp/Visma:me@example.com?secret={KEY}&issuer=Visma")]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already in the vault"), "{}", run.stderr);
    assert_eq!(home.snapshot(), before);
}

#[test]
fn wrong_password_is_reported_and_changes_nothing() {
    let home = home_with_one_account();
    let before = home.snapshot();
    std::fs::write(&home.password_file, "not the password\n").unwrap();
    let run = home.run(&["add", "--secret", "GEZDGNBVGY3TQOJQ", "--issuer", "New"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("password"), "{}", run.stderr);
    assert!(!run.stderr.contains("damaged"), "{}", run.stderr);
    // The failure is counted for the unlock delay (vault/attempts.rs); the vault is untouched.
    let after: Vec<_> = home
        .snapshot()
        .into_iter()
        .filter(|(path, _)| !path.ends_with("unlock-attempts.json"))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn damaged_vault_is_not_called_a_wrong_password() {
    let home = home_with_one_account();
    let mut bytes = std::fs::read(home.vault()).unwrap();
    let len = bytes.len();
    bytes.truncate(len / 2);
    std::fs::write(home.vault(), &bytes).unwrap();
    let before = home.snapshot();
    let run = home.run(&["list"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.to_lowercase().contains("damaged"), "{}", run.stderr);
    assert_eq!(home.snapshot(), before);
}

#[test]
fn missing_password_without_a_terminal_is_a_clear_error() {
    let home = home_with_one_account();
    let run = to_run(home.command().env_remove("TESSERA_PASSWORD_FILE").args(["list"]));
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("TESSERA_PASSWORD_FILE"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_with_two() {
    let home = Home::new();
    assert_eq!(home.run(&["frobnicate"]).code, 2);
    assert_eq!(home.run(&["add"]).code, 2);
    assert_eq!(home.run(&["rename", "x"]).code, 2);
}

#[test]
fn init_refuses_to_replace_a_vault() {
    let home = Home::new();
    assert!(home.ok(&["init", "--no-keyring"]).contains("password"));
    let before = home.snapshot();
    let run = home.run(&["init"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already exists"));
    assert_eq!(home.snapshot(), before);
}

fn to_run(cmd: &mut std::process::Command) -> crate::common::Run {
    crate::common::to_run(&cmd.output().unwrap())
}
