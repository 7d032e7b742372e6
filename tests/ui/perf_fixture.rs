//! Writes the fixture `scripts/gui-perf.sh` measures with: a vault of 200 accounts, made by our
//! own vault code. Ignored in normal runs; the script runs it with `--ignored`.

use std::path::PathBuf;

use tessera_core::otp::{OtpParams, Secret};
use tessera_core::vault::{Entry, Protection, Vault};
use zeroize::Zeroizing;

#[test]
#[ignore = "writes the perf script's fixture into $TESSERA_PERF_HOME"]
fn writes_a_200_account_vault_for_the_perf_script() {
    let home = PathBuf::from(std::env::var_os("TESSERA_PERF_HOME").expect("TESSERA_PERF_HOME"));
    let password = Protection::Password(Zeroizing::new("perf-password".to_owned()));
    let mut vault = Vault::create(&home.join("vault.json"), &[password]).unwrap();
    let issuers = ["GitHub", "Google", "Example Corp", "Mastodon", "Proton", "Bank", "Cloud"];
    for i in 0..200u32 {
        // Distinct 20-byte keys derived from the index: deterministic, never real secrets.
        let key: Vec<u8> =
            (0..20u32).map(|b| (i.wrapping_mul(31) ^ b.wrapping_mul(7)) as u8).collect();
        let otp = OtpParams::totp(Secret::from_bytes(key).unwrap());
        let issuer = issuers[i as usize % issuers.len()].to_owned();
        let mut entry = Entry::new(issuer, format!("user{i}@example.org"), otp, 1_700_000_000);
        entry.favourite = i % 25 == 0;
        vault.content_mut().entries.push(entry);
    }
    vault.save().unwrap();
    assert!(Vault::inspect(&home.join("vault.json")).unwrap().has_password);
}
