//! When to poll next: a pure state machine over a millisecond clock the caller supplies.
//!
//! - While the app is in front, poll every [`ScheduleConfig::interval_ms`] (a prompt appears
//!   within that time); in the background, every [`ScheduleConfig::background_interval_ms`].
//! - After a failure (server down, network gone, refused), back off exponentially with "equal
//!   jitter" (half the step fixed, half random) so a fleet of devices does not hammer a server
//!   that just came back, capped at [`ScheduleConfig::max_backoff_ms`].
//! - On unlock or window focus, poll at once — but never twice within
//!   [`ScheduleConfig::min_gap_ms`], so focus flapping cannot flood the server.
//!
//! The jitter comes from a small seeded generator (SplitMix64): the caller seeds it from the OS
//! at run time and tests seed it with a constant, which keeps this module free of I/O.

/// Tuning for [`PollSchedule`]. All times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Poll interval while the app is visible and focused.
    pub interval_ms: u64,
    /// Poll interval while the app runs in the background.
    pub background_interval_ms: u64,
    /// Longest wait after repeated failures.
    pub max_backoff_ms: u64,
    /// Shortest time between two polls, even when asked to poll at once.
    pub min_gap_ms: u64,
}

impl Default for ScheduleConfig {
    /// 3 s in front (a prompt shows within ~1.5 s on average, 20 requests per minute per
    /// account), 15 s in the background, at most 5 min between retries, 1 s minimum gap.
    fn default() -> Self {
        Self {
            interval_ms: 3_000,
            background_interval_ms: 15_000,
            max_backoff_ms: 300_000,
            min_gap_ms: 1_000,
        }
    }
}

/// Decides when the next poll is due.
#[derive(Debug, Clone)]
pub struct PollSchedule {
    config: ScheduleConfig,
    next_at: u64,
    last_poll: Option<u64>,
    failures: u32,
    active: bool,
    rng: u64,
}

impl PollSchedule {
    /// Returns a schedule whose first poll is due at `now_ms`; `seed` drives the jitter.
    pub fn new(config: ScheduleConfig, now_ms: u64, seed: u64) -> Self {
        Self { config, next_at: now_ms, last_poll: None, failures: 0, active: true, rng: seed }
    }

    /// Returns when the next poll is due (milliseconds on the caller's clock).
    pub fn next_at(&self) -> u64 {
        self.next_at
    }

    /// Returns how long to wait from `now_ms` until the next poll (0 if due).
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        self.next_at.saturating_sub(now_ms)
    }

    /// Returns true if a poll is due at `now_ms`.
    pub fn is_due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_at
    }

    /// Returns the number of failures in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    fn interval(&self) -> u64 {
        if self.active { self.config.interval_ms } else { self.config.background_interval_ms }
    }

    /// Records a successful poll made at `now_ms`; the next one follows after the interval.
    pub fn record_success(&mut self, now_ms: u64) {
        self.failures = 0;
        self.last_poll = Some(now_ms);
        self.next_at = now_ms.saturating_add(self.interval());
    }

    /// Records a failed poll made at `now_ms` and returns the chosen back-off delay.
    pub fn record_failure(&mut self, now_ms: u64) -> u64 {
        self.failures = self.failures.saturating_add(1);
        self.last_poll = Some(now_ms);
        let step = self
            .interval()
            .max(1)
            .saturating_mul(1u64 << self.failures.min(20))
            .min(self.config.max_backoff_ms.max(1));
        let half = step / 2;
        let delay = half + self.next_random() % (step - half + 1);
        self.next_at = now_ms.saturating_add(delay);
        delay
    }

    /// Makes a poll due now (app unlocked, window focused, user pulled to refresh), but no
    /// sooner than [`ScheduleConfig::min_gap_ms`] after the previous one. Resets the back-off:
    /// the user is looking, so a fresh attempt is worth it.
    pub fn poll_soon(&mut self, now_ms: u64) {
        self.failures = 0;
        let earliest =
            self.last_poll.map_or(now_ms, |last| last.saturating_add(self.config.min_gap_ms));
        self.next_at = self.next_at.min(earliest.max(now_ms));
    }

    /// Switches between the foreground and background interval; coming to the front polls soon.
    pub fn set_active(&mut self, active: bool, now_ms: u64) {
        if active == self.active {
            return;
        }
        self.active = active;
        if active {
            self.poll_soon(now_ms);
        } else if self.failures == 0 {
            let base = self.last_poll.unwrap_or(now_ms);
            self.next_at = base.saturating_add(self.interval());
        }
    }

    /// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for jitter.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> PollSchedule {
        PollSchedule::new(ScheduleConfig::default(), 1_000, 42)
    }

    #[test]
    fn first_poll_is_due_immediately_then_every_interval() {
        let mut s = schedule();
        assert!(s.is_due(1_000));
        s.record_success(1_000);
        assert!(!s.is_due(3_999));
        assert_eq!(s.wait_ms(2_000), 2_000);
        assert!(s.is_due(4_000));
        s.record_success(4_100);
        assert_eq!(s.next_at(), 7_100);
    }

    #[test]
    fn failures_back_off_exponentially_with_jitter_up_to_the_cap() {
        let mut s = schedule();
        let mut delays = Vec::new();
        for n in 1..=12u32 {
            let d = s.record_failure(0);
            let step = (3_000u64 << n).min(300_000);
            assert!(
                (step / 2..=step).contains(&d),
                "failure {n}: {d} not in [{}, {step}]",
                step / 2
            );
            delays.push(d);
        }
        assert_eq!(s.failures(), 12);
        assert!(delays[11] >= 150_000, "capped step is 5 min, at least half of it waited");
        s.record_success(10);
        assert_eq!(s.failures(), 0);
        assert_eq!(s.next_at(), 3_010, "success returns to the plain interval");
    }

    #[test]
    fn jitter_differs_between_devices() {
        let mut a = PollSchedule::new(ScheduleConfig::default(), 0, 1);
        let mut b = PollSchedule::new(ScheduleConfig::default(), 0, 2);
        let da: Vec<u64> = (0..5).map(|_| a.record_failure(0)).collect();
        let db: Vec<u64> = (0..5).map(|_| b.record_failure(0)).collect();
        assert_ne!(da, db);
        // Same seed, same sequence: the schedule is deterministic given its inputs.
        let mut c = PollSchedule::new(ScheduleConfig::default(), 0, 1);
        assert_eq!(da, (0..5).map(|_| c.record_failure(0)).collect::<Vec<_>>());
    }

    #[test]
    fn unlock_or_focus_polls_at_once_but_not_twice_a_second() {
        let mut s = schedule();
        s.record_success(10_000);
        s.poll_soon(12_000);
        assert!(s.is_due(12_000), "focus makes the poll due now");
        s.record_success(12_000);
        s.poll_soon(12_300);
        assert!(!s.is_due(12_300));
        assert_eq!(s.next_at(), 13_000, "the minimum gap holds");
    }

    #[test]
    fn focus_cuts_a_long_back_off_short() {
        let mut s = schedule();
        for _ in 0..8 {
            s.record_failure(0);
        }
        assert!(s.wait_ms(0) >= 150_000);
        s.poll_soon(5_000);
        assert!(s.is_due(5_000));
        assert_eq!(s.failures(), 0);
    }

    #[test]
    fn background_polls_less_often_and_front_polls_soon() {
        let mut s = schedule();
        s.record_success(0);
        s.set_active(false, 100);
        assert_eq!(s.next_at(), 15_000);
        s.record_success(15_000);
        assert_eq!(s.next_at(), 30_000);
        s.set_active(true, 16_500);
        assert!(s.is_due(16_500));
        s.record_success(16_500);
        assert_eq!(s.next_at(), 19_500);
    }
}
