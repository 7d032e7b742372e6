//! How a code is shown and said: hidden codes ("Hide codes until I click them") and the
//! spoken form a screen reader reads.
//!
//! With hiding on, a row shows a mask ("••• •••", one dot per character, grouped like the
//! code) until the user reveals it (a click on the mask, or Space on the selected row). A
//! revealed code stays on show for one period: until its code changes (a TOTP or Steam code
//! rolls over at the end of its period; an HOTP code when its counter moves on, or after
//! `period` seconds, since HOTP codes never roll over by themselves). Then it is hidden again.
//! Copying does not reveal: the model copies from the vault, not from the row.
//!
//! Screen readers read "995 131" as two numbers ("nine hundred ninety-five, one hundred
//! thirty-one"); [`spoken`] spells a code character by character ("9 9 5 1 3 1"), which
//! every reader reads digit by digit. Time is a parameter (`now`, Unix seconds).

use std::collections::HashMap;

use tessera_core::otp::{OtpKind, OtpParams};

/// One revealed code: the moving factor it was revealed at and the time it hides again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Revealed {
    counter: u64,
    until: u64,
}

/// Which accounts' codes are on show while hiding is on.
#[derive(Debug, Default)]
pub struct Reveals {
    hiding: bool,
    revealed: HashMap<String, Revealed>,
}

impl Reveals {
    /// Whether codes are hidden until revealed.
    pub fn hiding(&self) -> bool {
        self.hiding
    }

    /// Turns hiding on or off; either way every earlier reveal is forgotten.
    pub fn set_hiding(&mut self, on: bool) {
        self.hiding = on;
        self.revealed.clear();
    }

    /// Reveals the code of account `id` (whose parameters are `otp`) at `now`, for one
    /// period. Does nothing while hiding is off.
    pub fn reveal(&mut self, id: &str, otp: &OtpParams, now: u64) {
        if !self.hiding {
            return;
        }
        let counter = otp.counter_at(now);
        let until = match otp.kind {
            // The end of the current period: the code rolls over then.
            OtpKind::Totp | OtpKind::Steam => {
                counter.saturating_add(1).saturating_mul(otp.period.max(1))
            }
            OtpKind::Hotp => now.saturating_add(otp.period.max(1)),
        };
        self.revealed.insert(id.to_owned(), Revealed { counter, until });
    }

    /// Whether the code of account `id` shows at `now`: always with hiding off, else while
    /// a reveal of the same code lasts.
    pub fn shows(&self, id: &str, otp: &OtpParams, now: u64) -> bool {
        !self.hiding
            || self
                .revealed
                .get(id)
                .is_some_and(|r| now < r.until && otp.counter_at(now) == r.counter)
    }

    /// Forgets reveals that ended by `now` (they would never show again).
    pub fn forget_ended(&mut self, now: u64) {
        self.revealed.retain(|_, r| now < r.until);
    }

    /// Forgets every reveal (on lock).
    pub fn clear(&mut self) {
        self.revealed.clear();
    }
}

/// The mask of a grouped code: one "•" per character, spaces kept ("081 804" → "••• •••").
pub fn mask(grouped: &str) -> String {
    grouped.chars().map(|c| if c == ' ' { ' ' } else { '•' }).collect()
}

/// A code as a screen reader should read it: its characters one by one, separated by spaces
/// ("081 804" → "0 8 1 8 0 4", Steam's "2BX7K" → "2 B X 7 K").
pub fn spoken(code: &str) -> String {
    let mut out = String::with_capacity(code.len() * 2);
    for c in code.chars().filter(|c| !c.is_whitespace()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::otp::Secret;

    fn totp(period: u64) -> OtpParams {
        let mut otp = OtpParams::totp(Secret::parse_base32("JBSWY3DPEHPK3PXP").unwrap());
        otp.period = period;
        otp
    }

    #[test]
    fn codes_are_spelled_character_by_character() {
        assert_eq!(spoken("995 131"), "9 9 5 1 3 1");
        assert_eq!(spoken("1234 5678"), "1 2 3 4 5 6 7 8");
        assert_eq!(spoken("2BX7K"), "2 B X 7 K");
        assert_eq!(spoken(""), "");
    }

    #[test]
    fn masks_keep_the_grouping_and_hide_every_character() {
        assert_eq!(mask("081 804"), "••• •••");
        assert_eq!(mask("1234 5678"), "•••• ••••");
        assert_eq!(mask("2BX7K"), "•••••");
    }

    #[test]
    fn with_hiding_off_every_code_shows_and_reveals_are_not_kept() {
        let mut reveals = Reveals::default();
        let otp = totp(30);
        assert!(reveals.shows("a", &otp, 1000));
        reveals.reveal("a", &otp, 1000);
        reveals.set_hiding(true);
        assert!(!reveals.shows("a", &otp, 1000), "a reveal made while off does not count");
    }

    #[test]
    fn a_revealed_totp_code_shows_until_the_end_of_its_period() {
        let mut reveals = Reveals::default();
        reveals.set_hiding(true);
        let otp = totp(30);
        // 1_111_111_080 starts a 30 s period that ends at 1_111_111_110.
        assert!(!reveals.shows("a", &otp, 1_111_111_095), "hidden until revealed");
        reveals.reveal("a", &otp, 1_111_111_095);
        assert!(reveals.shows("a", &otp, 1_111_111_095));
        assert!(reveals.shows("a", &otp, 1_111_111_109), "the last second of the period");
        assert!(!reveals.shows("a", &otp, 1_111_111_110), "the next code is hidden again");
        assert!(!reveals.shows("b", &otp, 1_111_111_095), "only the account revealed");
    }

    #[test]
    fn a_reveal_in_the_last_second_still_lasts_only_to_the_roll_over() {
        let mut reveals = Reveals::default();
        reveals.set_hiding(true);
        let otp = totp(60);
        reveals.reveal("a", &otp, 1_111_111_139);
        assert!(reveals.shows("a", &otp, 1_111_111_139));
        assert!(!reveals.shows("a", &otp, 1_111_111_140));
    }

    #[test]
    fn a_revealed_hotp_code_hides_after_a_period_or_when_the_counter_moves() {
        let mut reveals = Reveals::default();
        reveals.set_hiding(true);
        let mut otp = totp(30);
        otp.kind = OtpKind::Hotp;
        reveals.reveal("a", &otp, 5000);
        assert!(reveals.shows("a", &otp, 5029));
        assert!(!reveals.shows("a", &otp, 5030), "a period later");
        reveals.reveal("a", &otp, 6000);
        otp.counter += 1;
        assert!(!reveals.shows("a", &otp, 6001), "the next code is not revealed");
    }

    #[test]
    fn ended_reveals_are_forgotten_and_turning_hiding_off_and_on_hides_all() {
        let mut reveals = Reveals::default();
        reveals.set_hiding(true);
        let otp = totp(30);
        reveals.reveal("a", &otp, 1_111_111_095);
        reveals.forget_ended(1_111_111_100);
        assert!(reveals.shows("a", &otp, 1_111_111_100));
        reveals.forget_ended(1_111_111_110);
        assert!(reveals.revealed.is_empty());
        reveals.reveal("a", &otp, 1_111_111_115);
        reveals.set_hiding(false);
        reveals.set_hiding(true);
        assert!(!reveals.shows("a", &otp, 1_111_111_115));
        reveals.reveal("a", &otp, 1_111_111_115);
        reveals.clear();
        assert!(!reveals.shows("a", &otp, 1_111_111_115), "a lock hides everything");
    }
}
