//! `tessera code` and the clock: it warns on stderr with the offset the app measured last
//! (`clock.json`, no network), asks a time server only with `--ntp`, and corrects the codes
//! only with `--correct-clock`.

use tessera_core::clock::offset::{Estimate, Source, Stored};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::otp::{OtpParams, Secret};

use super::{KEY, home_with_one_account};
use crate::common::Home;
use crate::common::sntp::{Responder, Skew};

const WARNING: &str = "warning: your computer's clock is 47 s fast: services may refuse your \
                       codes. Fix the system clock, or let Tessera correct its codes.";

fn store(home: &Home, offset_ms: i64, measured_at: u64) {
    let estimate = Estimate {
        offset_ms,
        uncertainty_ms: 550,
        source: Source::PushServer("pi.example".into()),
        measured_at,
    };
    Stored::save(&home.data(), &estimate).unwrap();
}

/// The code of KEY at `unix`, computed by the core (the CLI's own path is what is tested).
fn code_at(unix: u64) -> String {
    OtpParams::totp(Secret::parse_base32(KEY).unwrap()).code_at(unix)
}

#[test]
fn without_a_measurement_code_prints_only_the_code() {
    let home = home_with_one_account();
    let run = home.run(&["code", "visma"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim().len(), 6);
    assert_eq!(run.stderr, "", "nothing to warn about");
}

#[test]
fn the_offset_the_app_measured_is_warned_about_and_corrected_only_when_asked() {
    let home = home_with_one_account();
    store(&home, 47_250, SystemClock.now() - 60);
    let before = SystemClock.now();
    let run = home.run(&["code", "visma"]);
    let after = SystemClock.now();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.starts_with(WARNING), "{}", run.stderr);
    assert!(run.stderr.contains("measured against the push server pi.example"), "{}", run.stderr);
    let plain: Vec<String> = (before..=after).map(code_at).collect();
    assert!(plain.contains(&run.stdout.trim().to_owned()), "the code is not corrected");

    let before = SystemClock.now();
    let run = home.run(&["code", "visma", "--correct-clock"]);
    let after = SystemClock.now();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "asked for: no warning");
    let corrected: Vec<String> = (before - 47..=after - 47).map(code_at).collect();
    assert!(corrected.contains(&run.stdout.trim().to_owned()), "codes use now - 47 s");
}

#[test]
fn small_or_stale_offsets_are_not_warned_about() {
    let home = home_with_one_account();
    store(&home, 9_000, SystemClock.now());
    assert_eq!(home.run(&["code", "visma"]).stderr, "", "9 s is within what servers accept");
    store(&home, 47_000, SystemClock.now() - 2 * 24 * 3600);
    assert_eq!(home.run(&["code", "visma"]).stderr, "", "two days old: the clock may be set");
    let run = home.run(&["code", "visma", "--correct-clock"]);
    assert!(run.stderr.contains("the clock offset is not known"), "{}", run.stderr);
}

#[test]
fn ntp_measures_against_a_time_server_and_fails_clearly() {
    let home = home_with_one_account();
    // The server's clock is 47 s behind: the computer's is 47 s fast.
    let server = Responder::start(Skew::FromSystem(-47_000));
    let run = home.run(&["code", "visma", "--ntp", &server.addr]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.starts_with(WARNING), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("time server {}", server.addr)), "{}", run.stderr);
    let before = SystemClock.now();
    let run = home.run(&["code", "visma", "--ntp", &server.addr, "--correct-clock"]);
    let after = SystemClock.now();
    let corrected: Vec<String> = (before - 47..=after - 47).map(code_at).collect();
    assert!(corrected.contains(&run.stdout.trim().to_owned()), "{}", run.stderr);

    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let run = home.run(&["code", "visma", "--ntp", &addr]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with(&format!("error: the time server {addr} did not answer within 3 s")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "no code on a failed measurement");
    let run = home.run(&["code", "visma", "--ntp", "not a server"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is not a server name"), "{}", run.stderr);
    assert_eq!(home.run(&["code", "--at", "7", "--ntp", &server.addr]).code, 2, "--at conflicts");
}
