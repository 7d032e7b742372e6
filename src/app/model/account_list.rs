//! The accounts list as the user sees it: the search filter, favourites first, then sections
//! (a group, or an issuer with two or more accounts), then the rest; each row's current and
//! next code; and the once-a-second update that recomputes only the rows whose period rolled
//! over (or whose hidden code was revealed or hid again, see [`super::reveal`]). It is a
//! `slint::Model` (rows are plain Rust values; the accounts screen maps them to
//! Slint's `AccountRow`), so the list logic is tested without a window. Each row names its
//! service icon ([`super::icons`]); the accounts screen renders it only when the row is shown.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use slint::{Model, ModelNotify, ModelTracker};
use tessera_core::icons::IconChoice;
use tessera_core::otp::{OtpKind, group_code};
use tessera_core::vault::Entry;
use tessera_core::vault::query::Query;

use super::icons::ServiceIcons;
use super::reveal::{Reveals, mask, spoken};

/// What heads a row (only the first row of a block has a header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// No header.
    None,
    /// "Favourites".
    Favourites,
    /// A section: a group, or an issuer with several accounts.
    Section(String),
    /// "Other accounts", after sections.
    Others,
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    /// The entry's id.
    pub id: String,
    /// Issuer as stored.
    pub issuer: String,
    /// Account name as stored.
    pub account: String,
    /// The avatar's letter.
    pub initial: String,
    /// The avatar's colour (stable per issuer).
    pub tint: (u8, u8, u8),
    /// The current code, grouped ("081 804"); its mask ("••• •••") while hidden.
    pub code: String,
    /// The next period's code (TOTP); empty for HOTP and while hidden.
    pub next_code: String,
    /// The code as a screen reader should say it ("0 8 1 8 0 4"); empty while hidden.
    pub spoken: String,
    /// The next code as a screen reader should say it; empty when `next_code` is.
    pub spoken_next: String,
    /// The code is hidden until the user reveals it.
    pub hidden: bool,
    /// The period in seconds.
    pub period: u64,
    /// Counter-based.
    pub hotp: bool,
    /// Marked as favourite.
    pub favourite: bool,
    /// The header above this row.
    pub header: Header,
    /// The service icon, if any (else the letter avatar shows).
    pub icon: Option<IconChoice>,
}

/// The list: rows on show and the moving factor each row's code was computed for.
#[derive(Default)]
pub struct AccountList {
    rows: RefCell<Vec<ListRow>>,
    counters: RefCell<Vec<u64>>,
    reveals: RefCell<Reveals>,
    notify: ModelNotify,
    icons: RefCell<Option<Rc<ServiceIcons>>>,
}

impl AccountList {
    /// Gives the rows their service icons from now on (without this they show letters).
    pub fn set_icons(&self, icons: Rc<ServiceIcons>) {
        *self.icons.borrow_mut() = Some(icons);
    }

    /// Rebuilds the rows from `entries`: search filter (issuer or account contains the
    /// needle, case-insensitively: the core's [`Query::names`], the rule of the command
    /// line's QUERY), favourites first, then named sections, then the rest.
    pub fn rebuild(&self, entries: &[Entry], search: &str, now: u64) {
        let query = Query::new(search.trim());
        let mut picked: Vec<&Entry> =
            entries.iter().filter(|e| query.names(&e.issuer, &e.account)).collect();
        let section =
            |e: &Entry| e.group.clone().unwrap_or_else(|| e.issuer.clone()).to_lowercase();
        let mut counts = HashMap::<String, usize>::new();
        for e in &picked {
            if !e.favourite {
                *counts.entry(section(e)).or_default() += 1;
            }
        }
        // Sort key: favourites, then named sections (2+ accounts), then the rest.
        let rank = |e: &Entry| {
            if e.favourite {
                0
            } else if counts.get(&section(e)).copied().unwrap_or(0) > 1 {
                1
            } else {
                2
            }
        };
        picked.sort_by_cached_key(|e| {
            (rank(e), section(e), e.issuer.to_lowercase(), e.account.to_lowercase())
        });
        let any_header = picked.iter().any(|e| rank(e) < 2);
        let mut rows = Vec::with_capacity(picked.len());
        let mut counters = Vec::with_capacity(picked.len());
        let mut previous: Option<(u8, String)> = None;
        let reveals = self.reveals.borrow();
        let icons = self.icons.borrow().clone();
        for e in picked {
            let key = (rank(e), if rank(e) == 1 { section(e) } else { String::new() });
            let mut row = row_for(e, now, reveals.shows(&e.id, &e.otp, now), icons.as_deref());
            if previous.as_ref() != Some(&key) {
                row.header = match key.0 {
                    0 => Header::Favourites,
                    1 => Header::Section(e.group.clone().unwrap_or_else(|| e.issuer.clone())),
                    _ if any_header => Header::Others,
                    _ => Header::None,
                };
            }
            previous = Some(key);
            counters.push(e.otp.counter_at(now));
            rows.push(row);
        }
        drop(reveals);
        *self.rows.borrow_mut() = rows;
        *self.counters.borrow_mut() = counters;
        self.notify.reset();
    }

    /// Empties the list (on lock: no codes stay in memory for the view).
    pub fn clear(&self) {
        self.rows.borrow_mut().clear();
        self.counters.borrow_mut().clear();
        self.reveals.borrow_mut().clear();
        self.notify.reset();
    }

    /// Turns "Hide codes until I click them" on or off (rebuild the list afterwards).
    pub fn set_hiding(&self, on: bool) {
        self.reveals.borrow_mut().set_hiding(on);
    }

    /// Whether codes are hidden until revealed.
    pub fn hiding(&self) -> bool {
        self.reveals.borrow().hiding()
    }

    /// Reveals the code of account `id` for one period (hiding on); returns whether a row
    /// changed.
    pub fn reveal(&self, entries: &[Entry], id: &str, now: u64) -> bool {
        let Some(entry) = entries.iter().find(|e| e.id == id) else { return false };
        self.reveals.borrow_mut().reveal(id, &entry.otp, now);
        let index = {
            let mut rows = self.rows.borrow_mut();
            let Some(index) = rows.iter().position(|r| r.id == id) else { return false };
            let row = &mut rows[index];
            let shows = self.reveals.borrow().shows(id, &entry.otp, now);
            if !(shows && row.hidden) {
                return false;
            }
            let header = std::mem::replace(&mut row.header, Header::None);
            let icons = self.icons.borrow().clone();
            *row = ListRow { header, ..row_for(entry, now, shows, icons.as_deref()) };
            index
        };
        self.notify.row_changed(index);
        true
    }

    /// Recomputes the rows whose moving factor changed since they were built, or whose
    /// revealed code hid again; returns how many changed.
    pub fn roll_over(&self, entries: &[Entry], now: u64) -> usize {
        let mut changed = Vec::new();
        let icons = self.icons.borrow().clone();
        {
            let mut rows = self.rows.borrow_mut();
            let mut counters = self.counters.borrow_mut();
            let mut reveals = self.reveals.borrow_mut();
            for (index, (row, counter)) in rows.iter_mut().zip(counters.iter_mut()).enumerate() {
                let Some(entry) = entries.iter().find(|e| e.id == row.id) else { continue };
                let fresh = entry.otp.counter_at(now);
                let shows = reveals.shows(&entry.id, &entry.otp, now);
                if fresh != *counter || shows == row.hidden {
                    *counter = fresh;
                    let header = std::mem::replace(&mut row.header, Header::None);
                    *row = ListRow { header, ..row_for(entry, now, shows, icons.as_deref()) };
                    changed.push(index);
                }
            }
            reveals.forget_ended(now);
        }
        for index in &changed {
            self.notify.row_changed(*index);
        }
        changed.len()
    }

    /// Returns the id of the row at `index`.
    pub fn id_at(&self, index: usize) -> Option<String> {
        self.rows.borrow().get(index).map(|r| r.id.clone())
    }
}

impl Model for AccountList {
    type Data = ListRow;

    fn row_count(&self) -> usize {
        self.rows.borrow().len()
    }

    fn row_data(&self, row: usize) -> Option<ListRow> {
        self.rows.borrow().get(row).cloned()
    }

    fn model_tracker(&self) -> &dyn ModelTracker {
        &self.notify
    }
}

/// Converts an entry into its row at `now`; `shows` is false while its code is hidden (the
/// row then holds the mask and no digits).
fn row_for(entry: &Entry, now: u64, shows: bool, icons: Option<&ServiceIcons>) -> ListRow {
    let otp = &entry.otp;
    let hotp = otp.kind == OtpKind::Hotp;
    let next = if hotp || !shows {
        String::new()
    } else {
        group_code(&otp.code_for_counter(otp.counter_at(now).saturating_add(1)))
    };
    let code = group_code(&otp.code_at(now));
    let (code, spoken_code) = if shows {
        let said = spoken(&code);
        (code, said)
    } else {
        (mask(&code), String::new())
    };
    let (initial, tint) = letter_avatar(entry);
    ListRow {
        id: entry.id.clone(),
        issuer: entry.issuer.clone(),
        account: entry.account.clone(),
        initial,
        tint,
        code,
        spoken_next: spoken(&next),
        next_code: next,
        spoken: spoken_code,
        hidden: !shows,
        period: otp.period,
        hotp,
        favourite: entry.favourite,
        header: Header::None,
        icon: icons.and_then(|icons| icons.for_entry(entry)),
    }
}

/// The letter avatar of `entry` (shown when it has no icon): the first letter of its issuer
/// (or of its account name, without an issuer), upper case, "?" for none; and its colour.
pub fn letter_avatar(entry: &Entry) -> (String, (u8, u8, u8)) {
    let label = if entry.issuer.trim().is_empty() { &entry.account } else { &entry.issuer };
    let initial = label.trim().chars().next().map(|c| c.to_uppercase().collect::<String>());
    (initial.unwrap_or_else(|| "?".into()), avatar_colour(label))
}

/// Picks an avatar colour from the issuer name, so the same issuer always gets the same one.
pub fn avatar_colour(name: &str) -> (u8, u8, u8) {
    // Mid-tone colours that keep white initials readable in light and dark themes.
    const COLOURS: [(u8, u8, u8); 12] = [
        (0x1e, 0x6f, 0xd9),
        (0x6a, 0x4f, 0xb3),
        (0x2e, 0x7d, 0x32),
        (0xc6, 0x28, 0x28),
        (0xd8, 0x6a, 0x00),
        (0x00, 0x83, 0x8f),
        (0xad, 0x14, 0x57),
        (0x45, 0x5a, 0x64),
        (0x5d, 0x40, 0x37),
        (0x30, 0x3f, 0x9f),
        (0x55, 0x8b, 0x2f),
        (0x8e, 0x24, 0xaa),
    ];
    // FNV-1a: stable across runs and platforms (std's hasher is randomly seeded).
    let hash = name
        .trim()
        .to_lowercase()
        .bytes()
        .fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    COLOURS[hash as usize % COLOURS.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::otp::{OtpParams, Secret};

    /// RFC 6238's SHA-1 seed in base32, and a time whose code is known (…081804).
    const RFC_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const RFC_TIME: u64 = 1_111_111_109;

    fn entry(issuer: &str, account: &str) -> Entry {
        let otp = OtpParams::totp(Secret::parse_base32(RFC_KEY).unwrap());
        Entry::new(issuer.into(), account.into(), otp, 1)
    }

    fn shown(list: &AccountList) -> Vec<(String, Header)> {
        list.iter().map(|r| (format!("{} {}", r.issuer, r.account), r.header)).collect()
    }

    #[test]
    fn the_same_issuer_always_gets_the_same_colour() {
        assert_eq!(avatar_colour("GitHub"), avatar_colour(" github "));
    }

    #[test]
    fn favourites_come_first_then_sections_then_the_rest_with_one_header_each() {
        let mut favourite = entry("Zoë Bank", "me@work.example");
        favourite.favourite = true;
        let entries = vec![
            entry("Nmbrs", "a@example.com"),
            entry("Coöperatie", "me"),
            entry("Nmbrs", "b@example.com"),
            favourite,
        ];
        let list = AccountList::default();
        list.rebuild(&entries, "", RFC_TIME);
        assert_eq!(
            shown(&list),
            [
                ("Zoë Bank me@work.example".into(), Header::Favourites),
                ("Nmbrs a@example.com".into(), Header::Section("Nmbrs".into())),
                ("Nmbrs b@example.com".into(), Header::None),
                ("Coöperatie me".into(), Header::Others),
            ]
        );
        assert_eq!(list.row_data(1).unwrap().code, "081 804");
    }

    #[test]
    fn search_matches_issuer_or_account_ignoring_case_and_drops_lonely_headers() {
        let entries = vec![
            entry("Nmbrs", "a@example.com"),
            entry("Nmbrs", "b@example.com"),
            entry("GitHub", "A@Example.com"),
        ];
        let list = AccountList::default();
        list.rebuild(&entries, "  NMBRS ", RFC_TIME);
        assert_eq!(list.row_count(), 2);
        list.rebuild(&entries, "github", RFC_TIME);
        assert_eq!(shown(&list), [("GitHub A@Example.com".into(), Header::None)]);
        list.rebuild(&entries, "a@example", RFC_TIME);
        assert_eq!(list.row_count(), 2, "account names match too, whatever their case");
    }

    #[test]
    fn only_rows_whose_period_rolled_over_are_recomputed() {
        let mut slow = entry("Slow", "me");
        slow.otp.period = 60;
        let entries = vec![entry("Fast", "me"), slow];
        let list = AccountList::default();
        // 1_111_111_080 starts a 30 s and a 60 s period.
        list.rebuild(&entries, "", 1_111_111_080);
        assert_eq!(list.roll_over(&entries, 1_111_111_109), 0, "same periods");
        let before = list.row_data(0).unwrap();
        assert_eq!(list.roll_over(&entries, 1_111_111_110), 1, "only the 30 s row rolled");
        let after = list.row_data(0).unwrap();
        assert_eq!(after.code, before.next_code, "the next code became the current one");
        assert_eq!(list.roll_over(&entries, 1_111_111_140), 2, "both roll at the minute");
    }

    #[test]
    fn codes_are_spelled_for_screen_readers() {
        let list = AccountList::default();
        list.rebuild(&[entry("GitHub", "me")], "", RFC_TIME - 3);
        let row = list.row_data(0).unwrap();
        assert_eq!((row.code.as_str(), row.spoken.as_str()), ("081 804", "0 8 1 8 0 4"));
        assert_eq!(row.spoken_next, spoken(&row.next_code));
        assert!(!row.hidden);
    }

    #[test]
    fn hidden_codes_show_a_mask_until_revealed_for_one_period() {
        let entries = vec![entry("GitHub", "me"), entry("Mailbox", "me")];
        let (github, mailbox) = (entries[0].id.clone(), entries[1].id.clone());
        let list = AccountList::default();
        list.set_hiding(true);
        // 1_111_111_080 starts the period of RFC_TIME (…109), whose code is 081804.
        list.rebuild(&entries, "", 1_111_111_100);
        let row = list.row_data(0).unwrap();
        assert_eq!(row.code, "••• •••");
        assert!(row.hidden);
        assert_eq!((row.spoken.as_str(), row.next_code.as_str()), ("", ""), "no digits");
        assert!(list.reveal(&entries, &github, 1_111_111_100));
        let row = list.row_data(0).unwrap();
        assert_eq!((row.code.as_str(), row.hidden), ("081 804", false));
        assert!(list.row_data(1).unwrap().hidden, "only the row revealed");
        assert!(!list.reveal(&entries, &github, 1_111_111_101), "already on show");
        list.rebuild(&entries, "git", 1_111_111_105);
        assert!(!list.row_data(0).unwrap().hidden, "a search keeps the reveal");
        list.rebuild(&entries, "", 1_111_111_105);
        assert_eq!(list.roll_over(&entries, 1_111_111_109), 0, "still the same period");
        assert_eq!(list.roll_over(&entries, 1_111_111_110), 2, "both codes rolled over");
        assert!(list.row_data(0).unwrap().hidden, "the next code is hidden again");
        assert!(list.reveal(&entries, &mailbox, 1_111_111_111));
        list.clear();
        list.rebuild(&entries, "", 1_111_111_112);
        assert!(list.row_data(1).unwrap().hidden, "a lock hides revealed codes");
        list.set_hiding(false);
        list.rebuild(&entries, "", 1_111_111_112);
        assert!(list.iter().all(|r| !r.hidden && r.spoken.len() == 11));
    }

    #[test]
    fn a_revealed_hotp_code_hides_again_after_a_period_with_no_roll_over() {
        let mut hotp = entry("Bank", "me");
        hotp.otp.kind = OtpKind::Hotp;
        let entries = vec![hotp];
        let id = entries[0].id.clone();
        let list = AccountList::default();
        list.set_hiding(true);
        list.rebuild(&entries, "", 1000);
        list.reveal(&entries, &id, 1000);
        assert_eq!(list.roll_over(&entries, 1029), 0);
        assert!(!list.row_data(0).unwrap().hidden);
        assert_eq!(list.roll_over(&entries, 1030), 1, "hidden after one period");
        assert!(list.row_data(0).unwrap().hidden);
    }

    #[test]
    fn rows_name_the_icon_of_their_service_once_icons_are_given() {
        let home = tempfile::tempdir().unwrap();
        let entries = vec![entry("GitHub", "me"), entry("Zoë Bank", "me")];
        let list = AccountList::default();
        list.rebuild(&entries, "", RFC_TIME);
        assert!(list.iter().all(|r| r.icon.is_none()), "no icons until they are given");
        list.set_icons(Rc::new(ServiceIcons::new(home.path())));
        list.rebuild(&entries, "", RFC_TIME);
        let icons: Vec<_> = list.iter().map(|r| (r.issuer, r.icon)).collect();
        assert_eq!(
            icons,
            [
                ("GitHub".to_owned(), Some(IconChoice::Builtin("github".into()))),
                ("Zoë Bank".to_owned(), None),
            ]
        );
    }

    #[test]
    fn locking_empties_the_list() {
        let list = AccountList::default();
        list.rebuild(&[entry("GitHub", "me")], "", RFC_TIME);
        assert!(list.id_at(0).is_some());
        list.clear();
        assert_eq!(list.row_count(), 0);
    }
}
