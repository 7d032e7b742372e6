//! The canonical account list every format's fixture is checked against.
//!
//! Nine accounts spanning TOTP/HOTP/Steam, SHA1/256/512, 6/7/8 digits, 20/30/50 s periods,
//! counters and non-ASCII issuers. The same list is written out in
//! `tests/fixtures/transfer/README.md` (the recipe for the hand-built fixtures); change both
//! together.

use super::ImportedAccount;
use crate::otp::{Algorithm, OtpKind, OtpParams, Secret};

/// Password of every encrypted fixture under tests/fixtures/transfer/.
pub(crate) const FIXTURE_PASSWORD: &str = "tessera-fixture";

struct Vector {
    issuer: &'static str,
    account: &'static str,
    kind: OtpKind,
    secret: &'static str,
    algorithm: Algorithm,
    digits: u8,
    period: u64,
    counter: u64,
    note: &'static str,
    group: Option<&'static str>,
    favourite: bool,
}

const VECTORS: [Vector; 9] = [
    Vector {
        issuer: "GitHub",
        account: "alice@example.com",
        kind: OtpKind::Totp,
        secret: "JBSWY3DPEHPK3PXP",
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 30,
        counter: 0,
        note: "recovery codes in the safe",
        group: Some("Work"),
        favourite: true,
    },
    Vector {
        issuer: "Example Bank",
        account: "12345678",
        kind: OtpKind::Totp,
        secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        algorithm: Algorithm::Sha256,
        digits: 8,
        period: 30,
        counter: 0,
        note: "",
        group: None,
        favourite: false,
    },
    Vector {
        issuer: "Forge",
        account: "ops",
        kind: OtpKind::Totp,
        secret: "MZXXEZ3FFVZWKY3SMV2C223FPEWTKMJSEEQSCIJBEEQSCIJBEEQQ",
        algorithm: Algorithm::Sha512,
        digits: 7,
        period: 50,
        counter: 0,
        note: "",
        group: Some("Work"),
        favourite: false,
    },
    Vector {
        issuer: "Mail",
        account: "bob",
        kind: OtpKind::Totp,
        secret: "NVQWS3BNNNSXSLLUO5SW45DZFVZWKYY",
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 20,
        counter: 0,
        note: "",
        group: None,
        favourite: false,
    },
    Vector {
        issuer: "VPN",
        account: "carol",
        kind: OtpKind::Hotp,
        secret: "OZYG4LLIN52HALLLMV4S2MJQ",
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 30,
        counter: 0,
        note: "",
        group: None,
        favourite: false,
    },
    Vector {
        issuer: "Server",
        account: "root",
        kind: OtpKind::Hotp,
        secret: "ONSXE5TFOIWWQ33UOAWXG2DBGUYTELLLMV4S2NRUMJ4XIZLTEEQQ",
        algorithm: Algorithm::Sha512,
        digits: 8,
        period: 30,
        counter: 1000,
        note: "hardware token spare",
        group: None,
        favourite: false,
    },
    Vector {
        issuer: "Steam",
        account: "gamer",
        kind: OtpKind::Steam,
        secret: "ON2GKYLNFVTXKYLSMQWXG2DBOJSWILJSGA",
        algorithm: Algorithm::Sha1,
        digits: 5,
        period: 30,
        counter: 0,
        note: "",
        group: None,
        favourite: true,
    },
    Vector {
        issuer: "Bücherei Zürich",
        account: "jürgen@example.de",
        kind: OtpKind::Totp,
        secret: "MJ2WKY3IMVZGK2JNPJ2WK4TJMNUC223FPE",
        algorithm: Algorithm::Sha256,
        digits: 6,
        period: 30,
        counter: 0,
        note: "Bibliothek",
        group: Some("Privat"),
        favourite: false,
    },
    Vector {
        issuer: "日本銀行",
        account: "たろう",
        kind: OtpKind::Totp,
        secret: "42L2LZU4VTUYVAHIUGGCCIJBEE",
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 30,
        counter: 0,
        note: "",
        group: None,
        favourite: false,
    },
];

/// Returns the canonical accounts, in order.
pub(crate) fn canonical() -> Vec<ImportedAccount> {
    VECTORS
        .iter()
        .map(|v| ImportedAccount {
            issuer: v.issuer.to_owned(),
            account: v.account.to_owned(),
            otp: OtpParams::new(
                v.kind,
                Secret::parse_base32_any_length(v.secret).expect("vector secret is base32"),
                v.algorithm,
                v.digits,
                v.period,
                v.counter,
            )
            .expect("vector parameters are valid"),
            note: v.note.to_owned(),
            group: v.group.map(str::to_owned),
            favourite: v.favourite,
            recovery: Vec::new(),
        })
        .collect()
}

/// Returns the canonical accounts a format can hold (those `keep` accepts), in order.
pub(crate) fn canonical_where(keep: impl Fn(&ImportedAccount) -> bool) -> Vec<ImportedAccount> {
    canonical().into_iter().filter(|a| keep(a)).collect()
}

/// Which optional fields a format carries (the OTP parameters, issuer and account always).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holds {
    pub(crate) note: bool,
    pub(crate) group: bool,
    pub(crate) favourite: bool,
}

impl Holds {
    pub(crate) const ALL: Self = Self { note: true, group: true, favourite: true };
    pub(crate) const OTP_ONLY: Self = Self { note: false, group: false, favourite: false };
}

/// Asserts that `got` equals `want` field by field, for the fields the format holds.
pub(crate) fn assert_same(got: &[ImportedAccount], want: &[ImportedAccount], holds: Holds) {
    assert_eq!(got.len(), want.len(), "number of accounts");
    for (g, w) in got.iter().zip(want) {
        let who = w.label();
        assert_eq!(g.issuer, w.issuer, "issuer of {who}");
        assert_eq!(g.account, w.account, "account of {who}");
        assert_eq!(g.otp.kind, w.otp.kind, "kind of {who}");
        assert!(g.otp.secret.ct_eq(&w.otp.secret), "secret of {who}");
        assert_eq!(g.otp.algorithm, w.otp.algorithm, "algorithm of {who}");
        assert_eq!(g.otp.digits, w.otp.digits, "digits of {who}");
        if w.otp.kind.is_time_based() {
            assert_eq!(g.otp.period, w.otp.period, "period of {who}");
        } else {
            assert_eq!(g.otp.counter, w.otp.counter, "counter of {who}");
        }
        assert_eq!(g.otp.code_at(1_700_000_000), w.otp.code_at(1_700_000_000), "code of {who}");
        if holds.note {
            assert_eq!(g.note, w.note, "note of {who}");
        }
        if holds.group {
            assert_eq!(g.group, w.group, "group of {who}");
        }
        if holds.favourite {
            assert_eq!(g.favourite, w.favourite, "favourite of {who}");
        }
    }
}

/// Reads a committed fixture from the root package's tests/fixtures/transfer/.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/transfer/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Regenerates the fixtures of the formats we write, with our own exporters.
/// Run: `cargo test -p tessera-core regenerate_exported_fixtures -- --ignored`.
#[test]
#[ignore = "writes tests/fixtures/transfer/; run by hand after changing an exporter"]
fn regenerate_exported_fixtures() {
    use super::{Format, export};
    let dir = format!("{}/../../tests/fixtures/transfer", env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let accounts = canonical();
    let write = |name: &str, format: Format, password: Option<&str>| {
        let out = export(&accounts, format, password).unwrap();
        std::fs::write(format!("{dir}/{name}"), &*out.data).unwrap();
    };
    write("aegis-plain.json", Format::Aegis, None);
    write("aegis-encrypted.json", Format::Aegis, Some(FIXTURE_PASSWORD));
    write("2fas-plain.2fas", Format::TwoFas, None);
    write("2fas-encrypted.2fas", Format::TwoFas, Some(FIXTURE_PASSWORD));
    write("uri-list.txt", Format::UriList, None);
    write("google-migration.txt", Format::GoogleMigration, None);
    write_tessera_backup_fixture();
}

/// Writes `tessera-backup.tessera` at test cost (8 KiB Argon2id: the fixture is opened many
/// times by the corruption test). Run alone:
/// `cargo test -p tessera-core regenerate_tessera_backup_fixture -- --ignored`.
#[test]
#[ignore = "writes tests/fixtures/transfer/; run by hand after changing the backup format"]
fn regenerate_tessera_backup_fixture() {
    write_tessera_backup_fixture();
}

#[cfg(test)]
fn write_tessera_backup_fixture() {
    let dir = format!("{}/../../tests/fixtures/transfer", env!("CARGO_MANIFEST_DIR"));
    let entries: Vec<crate::vault::Entry> =
        canonical().into_iter().map(|a| a.into_entry(1_700_000_000)).collect();
    let data = super::tessera_backup::write(
        &entries,
        FIXTURE_PASSWORD,
        crate::vault::KdfParams::INSECURE_FOR_TESTS,
    )
    .unwrap();
    std::fs::write(format!("{dir}/tessera-backup.tessera"), &*data).unwrap();
}
