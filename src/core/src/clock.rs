//! The clock seam: the only place in Tessera that reads the wall clock.
//!
//! Every time-dependent function in the core takes the time as a parameter (`code_at(unix)`);
//! callers that want "now" pass a [`Clock`], which tests replace with a fixed or stepped fake.
//!
//! How far this clock is from the servers' ([`offset`]: readings from push servers' `Date`
//! headers and from SNTP, [`sntp`]) is measured here too, so the front ends can warn about a
//! wrong system clock and, if the user asks, correct the codes for it.

pub mod offset;
#[cfg(feature = "ntp")]
pub mod sntp;

use std::time::{SystemTime, UNIX_EPOCH};

/// Supplies the current Unix time in seconds.
pub trait Clock: Send + Sync {
    /// Returns the current time as whole seconds since the Unix epoch.
    fn now(&self) -> u64;

    /// Returns the current time in milliseconds since the Unix epoch (push poll schedules
    /// need sub-second steps). Defaults to [`Clock::now`] times 1000.
    fn now_millis(&self) -> u64 {
        self.now().saturating_mul(1000)
    }
}

/// Reads the operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock set before 1970 is treated as the epoch rather than a panic.
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Always reports the same instant; for tests and `--at`.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_reports_its_instant() {
        assert_eq!(FixedClock(59).now(), 59);
    }

    #[test]
    fn milliseconds_agree_with_seconds() {
        assert_eq!(FixedClock(59).now_millis(), 59_000);
        let (s, ms) = (SystemClock.now(), SystemClock.now_millis());
        assert!(ms / 1000 >= s && ms / 1000 <= s + 1, "{s} {ms}");
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
