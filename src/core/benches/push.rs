//! Benchmarks: the device-key work of push approvals.
//!
//! `cargo bench -p tessera-core --bench push` prints:
//! - `push/generate_device_key_4096`: one enrolment's RSA-4096 key generation (random prime
//!   search, so the spread is wide);
//! - `push/sign_poll_4096`: signing one poll request (`serial|timestamp`), done every 3 s per
//!   account while polling.
//!
//! The dev profile builds rsa and its bignum crates with opt-level 3 (root Cargo.toml), so
//! debug builds and tests generate keys at about this speed too.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::push::DeviceKey;

fn push(c: &mut Criterion) {
    let mut group = c.benchmark_group("push");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.bench_function("generate_device_key_4096", |b| {
        b.iter(|| black_box(DeviceKey::generate().expect("key")));
    });
    let key = DeviceKey::generate().expect("key");
    group.bench_function("sign_poll_4096", |b| {
        b.iter(|| black_box(key.sign("PIPU0001A2B3|2026-11-21T23:07:13Z").expect("signature")));
    });
    group.finish();
}

criterion_group!(benches, push);
criterion_main!(benches);
