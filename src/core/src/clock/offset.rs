//! How far the computer's clock is from the time servers keep: the commonest reason a correct
//! code is refused is a wrong system clock, so Tessera measures it wherever it already talks
//! to a server, and says so when it is more than [`WARN_SECONDS`] off.
//!
//! Every measurement is a [`Reading`]: an interval that surely holds the offset (local time
//! minus server time; positive means the computer's clock is fast), not a single number, so
//! that what Tessera shows is honest about what it knows:
//!
//! - An HTTP `Date` header ([`Reading::from_http_date`]) has whole seconds, cut off (RFC 9110
//!   §5.6.7), and was written at some moment between sending the request and receiving the
//!   answer's headers. With the request sent at local time `s` and the headers in at `r`, the
//!   server's clock read `D` to `D + 1` s at some local moment in `[s, r]`, so the offset is in
//!   `[s − D − 1 s, r − D]`: the midpoint is the estimate and half the width (at least ±0.5 s,
//!   plus half the round trip) is its uncertainty. A long-poll held by the server for 25 s
//!   gives a 26 s wide interval: readings wider than [`MAX_UNCERTAINTY_MS`] tell nothing and
//!   are not kept.
//! - SNTP ([`super::sntp`]) gives the offset to the millisecond with the round trip as its
//!   error bound ([`Reading::from_sntp`]).
//!
//! [`Readings`] keeps the recent ones and answers with the best ([`Readings::best`]): the
//! narrowest reading younger than [`MAX_AGE_MS`]. A new reading whose interval does not meet
//! an older one means the clock was set (or drifted) since: the older ones are dropped. Time
//! is always a parameter; nothing here reads a clock or the network.
//!
//! The app writes its best estimate next to the preferences ([`Stored`], `clock.json`), so
//! that `tessera code` can warn without any network I/O of its own.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Warn when the computer's clock is surely more than this many seconds off: TOTP servers
/// commonly accept the previous and next 30 s period, so a clock 15 s off already loses half
/// of that margin.
pub const WARN_SECONDS: i64 = 15;

/// Readings less certain than this (± milliseconds) are not kept (a held long-poll).
pub const MAX_UNCERTAINTY_MS: u64 = 5_000;

/// Readings older than this stop counting (3 hours): the clock may have been set since.
pub const MAX_AGE_MS: u64 = 3 * 3600 * 1000;

/// How many readings [`Readings`] keeps.
const KEEP: usize = 32;

/// Where a reading came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "server", rename_all = "snake_case")]
pub enum Source {
    /// A push server's HTTP `Date` header; the server's host (and port).
    PushServer(String),
    /// An NTP server the user named, asked over SNTP.
    Ntp(String),
}

impl Source {
    /// Returns the server's name.
    pub fn server(&self) -> &str {
        match self {
            Self::PushServer(name) | Self::Ntp(name) => name,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PushServer(name) => write!(f, "push server {name}"),
            Self::Ntp(name) => write!(f, "time server {name}"),
        }
    }
}

/// One comparison of the computer's clock with a server's: the offset (local minus server,
/// milliseconds) lies in `[low_ms, high_ms]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// The server compared with.
    pub source: Source,
    /// When, in local Unix milliseconds (the end of the exchange).
    pub at_ms: u64,
    /// The smallest offset the exchange allows.
    pub low_ms: i64,
    /// The largest offset the exchange allows.
    pub high_ms: i64,
}

impl Reading {
    /// A reading from an HTTP `Date` header of `date` (Unix seconds), on an answer to a
    /// request sent at local `sent_ms` whose headers arrived at local `received_ms`.
    pub fn from_http_date(source: Source, sent_ms: u64, received_ms: u64, date: u64) -> Self {
        let received_ms = received_ms.max(sent_ms);
        let date_ms = signed(date.saturating_mul(1000));
        Self {
            source,
            at_ms: received_ms,
            low_ms: signed(sent_ms) - date_ms - 1000,
            high_ms: signed(received_ms) - date_ms,
        }
    }

    /// A reading from SNTP: `offset_ms` local minus server, measured over a round trip of
    /// `round_trip_ms`, which bounds its error (RFC 4330 §5), ending at local `at_ms`.
    pub fn from_sntp(source: Source, at_ms: u64, offset_ms: i64, round_trip_ms: u64) -> Self {
        // At least a millisecond: the timestamps are rounded to it.
        let half = signed(round_trip_ms.div_ceil(2).max(1));
        Self { source, at_ms, low_ms: offset_ms - half, high_ms: offset_ms + half }
    }

    /// The estimate: the middle of the interval.
    pub fn offset_ms(&self) -> i64 {
        self.low_ms + (self.high_ms - self.low_ms) / 2
    }

    /// Half the interval's width: the estimate is right to within this many milliseconds.
    pub fn uncertainty_ms(&self) -> u64 {
        (self.high_ms - self.low_ms).unsigned_abs().div_ceil(2)
    }

    /// True if both readings can hold the same offset.
    fn agrees_with(&self, other: &Self) -> bool {
        self.low_ms <= other.high_ms && other.low_ms <= self.high_ms
    }

    /// What to tell the user about this reading.
    pub fn estimate(&self) -> Estimate {
        Estimate {
            offset_ms: self.offset_ms(),
            uncertainty_ms: self.uncertainty_ms(),
            source: self.source.clone(),
            measured_at: self.at_ms / 1000,
        }
    }
}

fn signed(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The recent readings, from which the best estimate comes.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    kept: Vec<Reading>,
}

impl Readings {
    /// Adds a reading. Returns false (and keeps nothing) for one too uncertain to tell
    /// anything ([`MAX_UNCERTAINTY_MS`]). Older readings that disagree with it are dropped:
    /// the clock was set since, or one server's clock is wrong, and the newest wins.
    pub fn add(&mut self, reading: Reading) -> bool {
        if reading.uncertainty_ms() > MAX_UNCERTAINTY_MS {
            return false;
        }
        let newest = reading.at_ms;
        self.kept.retain(|old| {
            old.agrees_with(&reading) && newest.saturating_sub(old.at_ms) <= MAX_AGE_MS
        });
        self.kept.push(reading);
        if self.kept.len() > KEEP {
            // The oldest goes first.
            self.kept.sort_by_key(|r| r.at_ms);
            self.kept.remove(0);
        }
        true
    }

    /// The best estimate at local time `now_ms`: the narrowest reading younger than
    /// [`MAX_AGE_MS`] (the newest among equals); `None` without one.
    pub fn best(&self, now_ms: u64) -> Option<Estimate> {
        self.kept
            .iter()
            .filter(|r| now_ms.saturating_sub(r.at_ms) <= MAX_AGE_MS)
            .min_by_key(|r| (r.uncertainty_ms(), std::cmp::Reverse(r.at_ms)))
            .map(Reading::estimate)
    }
}

/// What Tessera knows about the computer's clock: the offset (local minus server), how sure,
/// from where and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    /// Local time minus the server's, milliseconds (positive: the computer's clock is fast).
    pub offset_ms: i64,
    /// The offset is right to within this many milliseconds.
    pub uncertainty_ms: u64,
    /// The server it was measured against.
    pub source: Source,
    /// When it was measured, local Unix seconds.
    pub measured_at: u64,
}

impl Estimate {
    /// The offset in whole seconds, rounded to the nearest (what codes are corrected by).
    pub fn seconds(&self) -> i64 {
        let ms = self.offset_ms;
        (ms + if ms >= 0 { 500 } else { -500 }) / 1000
    }

    /// The uncertainty in whole seconds, rounded up (at least 1: shown as "± 1 s").
    pub fn uncertainty_seconds(&self) -> u64 {
        self.uncertainty_ms.div_ceil(1000).max(1)
    }

    /// True when the clock is surely more than [`WARN_SECONDS`] off, whatever the
    /// uncertainty: then services may refuse the codes, and the user is told.
    pub fn needs_warning(&self) -> bool {
        self.offset_ms.unsigned_abs().saturating_sub(self.uncertainty_ms)
            > WARN_SECONDS.unsigned_abs() * 1000
    }

    /// The server's time at local time `now` (Unix seconds): `now` corrected by the offset in
    /// whole seconds. Codes are generated at this time when the user asks for the correction.
    pub fn corrected(&self, now: u64) -> u64 {
        now.saturating_add_signed(-self.seconds())
    }

    /// The sentence both front ends show: "Your computer's clock is 47 s fast: services may
    /// refuse your codes. Fix the system clock, or let Tessera correct its codes."
    pub fn warning(&self) -> String {
        format!(
            "Your computer's clock is {}: services may refuse your codes. Fix the system \
             clock, or let Tessera correct its codes.",
            describe(self.seconds())
        )
    }
}

/// An amount of time the way a person says it: "47 s", "3 min 12 s", "2 h 2 min".
pub fn amount(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds} s"),
        (0, _) => format!("{minutes} min {seconds} s"),
        _ => format!("{hours} h {minutes} min"),
    }
}

/// A clock offset the way a person says it: "3 min 12 s fast", "45 s slow".
pub fn describe(offset_seconds: i64) -> String {
    let direction = if offset_seconds >= 0 { "fast" } else { "slow" };
    format!("{} {direction}", amount(offset_seconds.unsigned_abs()))
}

/// The estimate the app measured last, kept in `clock.json` beside the preferences so that
/// `tessera code` knows it without asking a server. No secrets: an offset and a server name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// What was measured.
    pub estimate: Estimate,
}

impl Stored {
    /// The file's name in the data directory.
    pub const FILE: &'static str = "clock.json";

    /// How long a stored estimate is believed (a day): after that the clock may have been
    /// set, and an old warning would mislead.
    pub const FRESH_SECONDS: u64 = 24 * 3600;

    /// Reads the estimate stored in `home` if it is no older than [`Stored::FRESH_SECONDS`]
    /// at `now` (Unix seconds); a missing, unreadable or stale file gives `None`.
    pub fn load(home: &Path, now: u64) -> Option<Estimate> {
        let bytes = std::fs::read(home.join(Self::FILE)).ok()?;
        let stored: Self = serde_json::from_slice(&bytes).ok()?;
        let age = now.abs_diff(stored.estimate.measured_at);
        (age <= Self::FRESH_SECONDS).then_some(stored.estimate)
    }

    /// Writes `estimate` to `home` (a temporary file, then a rename).
    pub fn save(home: &Path, estimate: &Estimate) -> std::io::Result<()> {
        std::fs::create_dir_all(home)?;
        let stored = Self { estimate: estimate.clone() };
        let bytes = serde_json::to_vec_pretty(&stored).map_err(std::io::Error::other)?;
        let tmp = home.join(format!("{}.tmp", Self::FILE));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, home.join(Self::FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(name: &str) -> Source {
        Source::PushServer(name.into())
    }

    /// 2026-12-06 14:00:00 UTC.
    const T: u64 = 1_796_565_600;

    #[test]
    fn a_date_header_gives_the_midpoint_and_an_honest_second() {
        // Sent at T + 47.2 s, headers back 100 ms later; the server said T.
        let sent = (T + 47) * 1000 + 200;
        let reading = Reading::from_http_date(push("pi.example"), sent, sent + 100, T);
        // The server wrote the header somewhere in [T, T + 1) while we were at 47.2-47.3 s.
        assert_eq!((reading.low_ms, reading.high_ms), (46_200, 47_300));
        assert_eq!(reading.offset_ms(), 46_750);
        assert_eq!(reading.uncertainty_ms(), 550);
        let estimate = reading.estimate();
        assert_eq!(estimate.seconds(), 47);
        assert_eq!(estimate.uncertainty_seconds(), 1, "shown as ± 1 s");
        assert_eq!(estimate.measured_at, T + 47);
        assert!(estimate.needs_warning());
        assert_eq!(
            estimate.warning(),
            "Your computer's clock is 47 s fast: services may refuse your codes. Fix the \
             system clock, or let Tessera correct its codes."
        );
    }

    #[test]
    fn the_true_offset_is_always_inside_the_interval() {
        // A clock 30.9 s slow; the server's header is written at any moment of the exchange.
        let true_offset_ms: i64 = -30_900;
        for sent_local in [T * 1000, T * 1000 + 999, T * 1000 + 400] {
            for (rtt, written_after) in [(80u64, 0u64), (80, 80), (2_000, 1_234)] {
                let server_ms =
                    (sent_local + written_after).checked_add_signed(-true_offset_ms).unwrap();
                let r = Reading::from_http_date(
                    push("s"),
                    sent_local,
                    sent_local + rtt,
                    server_ms / 1000,
                );
                assert!(
                    r.low_ms <= true_offset_ms && true_offset_ms <= r.high_ms,
                    "{r:?} misses {true_offset_ms}"
                );
            }
        }
    }

    #[test]
    fn slow_clocks_and_small_offsets() {
        let slow = Reading::from_http_date(push("s"), T * 1000, T * 1000 + 40, T + 20).estimate();
        assert_eq!(slow.seconds(), -20);
        assert!(slow.needs_warning());
        assert!(slow.warning().contains("20 s slow"));
        assert_eq!(slow.corrected(T), T + 20, "a slow clock's codes use a later time");
        let near = Reading::from_http_date(push("s"), T * 1000, T * 1000 + 40, T - 3).estimate();
        assert_eq!(near.seconds(), 3);
        assert!(!near.needs_warning());
        assert_eq!(near.corrected(T), T - 3, "a fast clock's codes use an earlier time");
    }

    #[test]
    fn the_warning_waits_until_the_offset_is_sure_to_exceed_fifteen_seconds() {
        let at = |offset_ms: i64, uncertainty_ms: u64| Estimate {
            offset_ms,
            uncertainty_ms,
            source: push("s"),
            measured_at: T,
        };
        assert!(!at(15_000, 0).needs_warning(), "15 s is the limit, not beyond it");
        assert!(at(15_001, 0).needs_warning());
        assert!(!at(15_400, 500).needs_warning(), "could be 14.9 s");
        assert!(at(-15_600, 500).needs_warning());
        assert!(!at(-15_600, 700).needs_warning());
    }

    #[test]
    fn sntp_readings_are_bounded_by_half_the_round_trip() {
        let r = Reading::from_sntp(Source::Ntp("ntp.example".into()), T * 1000, -47_012, 30);
        assert_eq!(
            (r.low_ms, r.high_ms, r.offset_ms(), r.uncertainty_ms()),
            (-47_027, -46_997, -47_012, 15)
        );
        let zero_rtt = Reading::from_sntp(Source::Ntp("n".into()), T * 1000, 5, 0);
        assert_eq!(zero_rtt.uncertainty_ms(), 1);
    }

    #[test]
    fn the_narrowest_recent_reading_wins_and_held_long_polls_are_ignored() {
        let mut readings = Readings::default();
        let now = T * 1000;
        // A long-poll held 25 s: tells nothing.
        assert!(!readings.add(Reading::from_http_date(push("a"), now - 25_000, now, T - 47)));
        assert_eq!(readings.best(now), None);
        assert!(readings.add(Reading::from_http_date(push("a"), now, now + 900, T - 47)));
        assert!(readings.add(Reading::from_http_date(push("b"), now, now + 50, T - 47)));
        let ntp = Reading::from_sntp(Source::Ntp("ntp.example".into()), now + 60, 47_000, 20);
        assert!(readings.add(ntp));
        let best = readings.best(now + 100).unwrap();
        assert_eq!(best.source, Source::Ntp("ntp.example".into()), "the narrowest");
        assert_eq!(best.offset_ms, 47_000);
        // Three hours later nothing counts any more.
        assert_eq!(readings.best(now + 900 + MAX_AGE_MS + 1), None);
    }

    #[test]
    fn a_reading_that_disagrees_means_the_clock_was_set_and_replaces_the_old_ones() {
        let mut readings = Readings::default();
        let now = T * 1000;
        readings.add(Reading::from_sntp(Source::Ntp("n".into()), now, 47_000, 10));
        readings.add(Reading::from_http_date(push("a"), now + 5_000, now + 5_100, T - 42));
        // The user fixes the clock: the next header says it is right.
        let fixed = Reading::from_http_date(push("a"), now + 9_000, now + 9_100, T + 9);
        readings.add(fixed);
        let best = readings.best(now + 9_200).unwrap();
        assert_eq!(best.seconds(), 0, "{best:?}");
        assert!(!best.needs_warning());
    }

    #[test]
    fn only_recent_readings_are_kept() {
        let mut readings = Readings::default();
        for i in 0..100u64 {
            let at = T * 1000 + i * 1000;
            readings.add(Reading::from_http_date(push("a"), at, at + 10, T + i - 20));
        }
        assert_eq!(readings.kept.len(), KEEP);
        assert!(readings.kept.iter().all(|r| r.at_ms >= T * 1000 + 68_000));
    }

    #[test]
    fn amounts_read_like_speech() {
        assert_eq!(describe(192), "3 min 12 s fast");
        assert_eq!(describe(-45), "45 s slow");
        assert_eq!(describe(0), "0 s fast");
        assert_eq!(describe(-7322), "2 h 2 min slow");
        assert_eq!(amount(47), "47 s");
    }

    #[test]
    fn the_stored_estimate_survives_a_round_trip_and_goes_stale_after_a_day() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Stored::load(dir.path(), T), None, "nothing stored yet");
        let estimate = Estimate {
            offset_ms: 47_250,
            uncertainty_ms: 550,
            source: push("pi.example"),
            measured_at: T,
        };
        Stored::save(dir.path(), &estimate).unwrap();
        assert_eq!(Stored::load(dir.path(), T + 3600), Some(estimate.clone()));
        assert_eq!(Stored::load(dir.path(), T + Stored::FRESH_SECONDS + 1), None);
        std::fs::write(dir.path().join(Stored::FILE), "not json").unwrap();
        assert_eq!(Stored::load(dir.path(), T), None);
    }
}
