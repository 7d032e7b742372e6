//! Import speed on a huge file: 100 000 accounts through every format we write.
//!
//! Run: `cargo run -p tessera-core --release --example transfer_bench [COUNT]`.
//! Prints export and import times and, as a same-run baseline, how long `serde_json` alone takes
//! to parse the plain Aegis file into a generic value (what any JSON importer must at least do).
//! The target is an import of 100 000 entries in at most 2 s; nothing here asserts it.

use std::time::Instant;

use tessera_core::otp::{Algorithm, OtpKind, OtpParams, Secret};
use tessera_core::transfer::{Format, ImportedAccount, export, import};

fn accounts(count: usize) -> Vec<ImportedAccount> {
    (0..count)
        .map(|i| {
            let key: Vec<u8> = (0..20u32)
                .map(|b| (i as u32).wrapping_mul(2654435761).rotate_left(b) as u8)
                .collect();
            let kind = if i % 10 == 0 { OtpKind::Hotp } else { OtpKind::Totp };
            let otp = OtpParams::new(
                kind,
                Secret::from_bytes(key).expect("non-empty"),
                Algorithm::Sha1,
                6,
                30,
                i as u64,
            )
            .expect("valid parameters");
            let mut a = ImportedAccount::new(
                format!("Service {}", i % 997),
                format!("user{i}@example.com"),
                otp,
            );
            a.group = (i % 3 == 0).then(|| "Work".to_owned());
            a
        })
        .collect()
}

fn main() {
    let count = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let accounts = accounts(count);
    println!("{count} accounts");
    let mut baseline = None;
    for (format, password) in [
        (Format::Aegis, None),
        (Format::Aegis, Some("bench password")),
        (Format::TwoFas, None),
        (Format::TwoFas, Some("bench password")),
        (Format::GoogleMigration, None),
        (Format::UriList, None),
        (Format::Proton, None),
        (Format::Proton, Some("bench password")),
    ] {
        let start = Instant::now();
        let out = export(&accounts, format, password).expect("export works");
        let exported = start.elapsed();
        if format == Format::Aegis && password.is_none() {
            let start = Instant::now();
            let value: serde_json::Value = serde_json::from_slice(&out.data).expect("valid JSON");
            baseline = Some(start.elapsed());
            drop(value);
        }
        let start = Instant::now();
        let report = import(&out.data, None, password).expect("import works");
        let imported = start.elapsed();
        assert_eq!(report.accounts.len() + out.unexported.len(), count);
        let ratio = baseline.map_or(String::new(), |b| {
            format!(
                ", {:.1}x a bare serde_json parse ({:.0} ms)",
                imported.as_secs_f64() / b.as_secs_f64(),
                b.as_secs_f64() * 1e3
            )
        });
        println!(
            "{:<16} {:<9} {:>6.1} MB  export {:>7.0} ms  import {:>7.0} ms ({} accounts{ratio})",
            format.name(),
            if password.is_some() { "encrypted" } else { "plain" },
            out.data.len() as f64 / 1e6,
            exported.as_secs_f64() * 1e3,
            imported.as_secs_f64() * 1e3,
            report.accounts.len(),
        );
    }
}
