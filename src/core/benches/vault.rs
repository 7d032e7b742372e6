//! Benchmarks: vault unlock and decrypt, and code generation throughput.
//!
//! `cargo bench -p tessera-core` prints, among others:
//! - `vault/open_1000_entries_key_in_hand`: open + decrypt + parse a 1,000-entry vault from
//!   disk when the slot key comes from an in-memory key store (no Argon2id);
//! - `vault/read_bytes_1000_entries_key_in_hand`: the same without file I/O and locking;
//! - `vault/read_file_1000_entries_key_in_hand` and `vault/read_file_find_1_of_1000_key_in_hand`:
//!   read the file (no lock) and decrypt it, building every account or only the one a query
//!   finds (`SealedVault::decrypt_matching`, what `tessera code QUERY` does);
//! - `vault/unlock_password_default_kdf`: one password unlock at the default Argon2id cost;
//! - `codes/one_account` and `codes/1000_accounts`: `OtpParams::code_at` throughput;
//! - `backup/write_100_entries_default_kdf` and `backup/read_100_entries_default_kdf`: one
//!   Tessera backup (Argon2id at the default vault cost) written and read, beside
//!   `backup/aegis_write_100_entries` (an encrypted Aegis export, scrypt N = 2^16) and
//!   `backup/two_fas_write_100_entries` (2FAS, PBKDF2 10,000 iterations) in the same run.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tessera_core::otp::{OtpParams, Secret};
use tessera_core::vault::{
    Entry, KdfParams, KeyStore, KeyStoreError, Protection, SealedVault, Stored, Unlock, Vault,
    VaultOptions,
};
use zeroize::Zeroizing;

/// An in-memory key store: the "master key in hand" case without an OS keyring.
#[derive(Debug, Default)]
struct MemoryStore(Mutex<BTreeMap<String, Vec<u8>>>);

impl KeyStore for MemoryStore {
    fn store(&self, name: &str, key: &[u8]) -> Result<Stored, KeyStoreError> {
        self.0.lock().expect("lock").insert(name.into(), key.to_vec());
        Ok(Stored { store: "memory".into(), durable: true })
    }
    fn load(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        let map = self.0.lock().expect("lock");
        map.get(name).cloned().map(Zeroizing::new).ok_or(KeyStoreError::NotFound)
    }
    fn delete(&self, name: &str) -> Result<(), KeyStoreError> {
        self.0.lock().expect("lock").remove(name);
        Ok(())
    }
}

fn accounts(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            // Distinct 160-bit secrets, derived from the index.
            let bytes: Vec<u8> = (0..20u8).map(|j| j.wrapping_mul(31) ^ (i as u8)).collect();
            let secret = Secret::from_bytes(bytes).expect("non-empty");
            let mut e = Entry::new(
                format!("Issuer {i}"),
                format!("user{i}@example.com"),
                OtpParams::totp(secret),
                1_700_000_000,
            );
            e.note = "a short note".into();
            e
        })
        .collect()
}

fn vault_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vault.json");
    let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::default());
    let options = VaultOptions { key_store: store, lock_wait: Duration::from_secs(5) };
    {
        let mut vault =
            Vault::create_with(&path, &[Protection::Keyring], options.clone()).expect("create");
        vault.content_mut().entries = accounts(1000);
        vault.save().expect("save");
    }
    let bytes = std::fs::read(&path).expect("read");
    let mut group = c.benchmark_group("vault");
    group.bench_function("open_1000_entries_key_in_hand", |b| {
        b.iter(|| {
            let vault = Vault::open_with(&path, &Unlock::Keyring, options.clone()).expect("open");
            black_box(vault.content().entries.len())
        });
    });
    group.bench_function("read_bytes_1000_entries_key_in_hand", |b| {
        b.iter(|| {
            let content =
                Vault::read_bytes(black_box(&bytes), &Unlock::Keyring, &options).expect("read");
            black_box(content.entries.len())
        });
    });
    // What `tessera code QUERY` does: read the file, decrypt it, build one account of 1,000
    // (beside `read_file_1000_entries_key_in_hand`, the same building all of them).
    group.bench_function("read_file_1000_entries_key_in_hand", |b| {
        b.iter(|| {
            let sealed = SealedVault::read(black_box(&path)).expect("read");
            black_box(sealed.decrypt(&Unlock::Keyring, &options).expect("decrypt").entries.len())
        });
    });
    group.bench_function("read_file_find_1_of_1000_key_in_hand", |b| {
        b.iter(|| {
            let sealed = SealedVault::read(black_box(&path)).expect("read");
            let found = sealed.decrypt_matching(&Unlock::Keyring, &options, "Issuer 999");
            black_box(found.expect("decrypt").entries.len())
        });
    });
    group.bench_function("save_1000_entries", |b| {
        let mut vault = Vault::open_with(&path, &Unlock::Keyring, options.clone()).expect("open");
        b.iter(|| vault.save().expect("save"));
    });

    let pw_path = dir.path().join("password.json");
    let password = || Zeroizing::new("benchmark password".to_owned());
    drop(
        Vault::create_with(
            &pw_path,
            &[Protection::PasswordWithParams(password(), KdfParams::default())],
            options.clone(),
        )
        .expect("create"),
    );
    let pw_bytes = std::fs::read(&pw_path).expect("read");
    group.sample_size(10);
    group.bench_function("unlock_password_default_kdf", |b| {
        b.iter(|| {
            Vault::read_bytes(black_box(&pw_bytes), &Unlock::Password(password()), &options)
                .expect("unlock")
        });
    });
    group.finish();
}

fn code_benches(c: &mut Criterion) {
    let entries = accounts(1000);
    let mut group = c.benchmark_group("codes");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_account", |b| {
        let otp = &entries[0].otp;
        b.iter(|| otp.code_at(black_box(1_700_000_000)));
    });
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000_accounts", |b| {
        b.iter(|| {
            for e in &entries {
                black_box(e.otp.code_at(black_box(1_700_000_000)));
            }
        });
    });
    group.finish();
}

fn backup_benches(c: &mut Criterion) {
    use tessera_core::transfer::{Format, ImportedAccount, export, tessera_backup};
    let entries = accounts(100);
    let imported: Vec<ImportedAccount> = entries.iter().map(ImportedAccount::from).collect();
    let password = "benchmark backup password";
    let mut group = c.benchmark_group("backup");
    group.sample_size(10);
    group.bench_function("write_100_entries_default_kdf", |b| {
        b.iter(|| tessera_backup::write(black_box(&entries), password, KdfParams::default()));
    });
    let written =
        tessera_backup::write(&entries, password, KdfParams::default()).expect("write backup");
    group.bench_function("read_100_entries_default_kdf", |b| {
        b.iter(|| tessera_backup::read(black_box(&written), Some(password)).expect("read"));
    });
    group.bench_function("aegis_write_100_entries", |b| {
        b.iter(|| export(black_box(&imported), Format::Aegis, Some(password)).expect("aegis"));
    });
    group.bench_function("two_fas_write_100_entries", |b| {
        b.iter(|| export(black_box(&imported), Format::TwoFas, Some(password)).expect("2fas"));
    });
    group.finish();
}

criterion_group!(benches, vault_benches, code_benches, backup_benches);
criterion_main!(benches);
