//! The accounts list: search, copy, reveal a hidden code, HOTP next code, and its keys (N,
//! type-ahead, Ctrl+1…9, Enter in the search, the global shortcut's search focus); rows are
//! the model's list mapped to Slint's `AccountRow`. The map runs only for the rows the list
//! view shows, so service icons are rendered lazily (through the shared cache in
//! [`super::icon_images`]).

use std::rc::Rc;

use slint::{ComponentHandle, MapModel, ModelRc, SharedString};

use super::{icon_images, int};
use crate::model::account_list::{Header, ListRow};
use crate::model::icons::ServiceIcons;
use crate::model::{Event, Model};
use crate::ui::{AccountRow, AccountsAdapter, AppWindow};

/// Slint's `int` is 32 bits, so the countdown gets the time modulo this number: a multiple of
/// every period from 1 to 22 s and of 24, 30, 36, 40, 45, 60, 90 and 120 s, so `now % period`
/// is unchanged for all periods real accounts use.
const NOW_MODULUS: u64 = 2_095_133_040;

/// Converts a list row into the row Slint shows, its icon drawn for a window at `scale`.
fn account_row(row: ListRow, icons: &ServiceIcons, scale: f32) -> AccountRow {
    let (header_kind, header) = match row.header {
        Header::None => (0, SharedString::new()),
        Header::Favourites => (1, SharedString::new()),
        Header::Section(name) => (2, name.into()),
        Header::Others => (3, SharedString::new()),
    };
    let (r, g, b) = row.tint;
    let icon = row.icon.as_ref().and_then(|choice| icon_images::image(icons, choice, scale));
    AccountRow {
        id: row.id.into(),
        issuer: row.issuer.into(),
        account: row.account.into(),
        initial: row.initial.into(),
        tint: slint::Color::from_rgb_u8(r, g, b),
        code: row.code.into(),
        next_code: row.next_code.into(),
        spoken: row.spoken.into(),
        spoken_next: row.spoken_next.into(),
        hidden: row.hidden,
        period: int(row.period),
        hotp: row.hotp,
        favourite: row.favourite,
        header_kind,
        header,
        has_icon: icon.is_some(),
        icon: icon.unwrap_or_default(),
    }
}

/// Wires the list.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let accounts = window.global::<AccountsAdapter>();
    let (icons, handle) = (model.icons(), window.as_weak());
    let rows = MapModel::new(model.list(), move |row| {
        let scale = handle.upgrade().map_or(1.0, |ui| ui.window().scale_factor());
        account_row(row, &icons, scale)
    });
    accounts.set_rows(ModelRc::from(Rc::new(rows)));

    let m = model.downgrade();
    accounts.on_search_changed(move |text| {
        if let Some(model) = m.upgrade() {
            model.search(&text);
        }
    });
    let m = model.downgrade();
    accounts.on_copy(move |id| {
        if let Some(model) = m.upgrade() {
            model.copy(&id);
        }
    });
    let m = model.downgrade();
    accounts.on_reveal(move |id| {
        if let Some(model) = m.upgrade() {
            model.reveal(&id);
        }
    });
    let m = model.downgrade();
    accounts.on_next_code(move |id| {
        if let Some(model) = m.upgrade() {
            model.next_code(&id);
        }
    });

    let m = model.downgrade();
    accounts.on_copy_next(move |id| {
        if let Some(model) = m.upgrade() {
            model.copy_next(&id);
        }
    });
    let m = model.downgrade();
    accounts.on_pick(move |id| {
        if let Some(model) = m.upgrade() {
            model.pick(&id);
        }
    });
    let m = model.downgrade();
    accounts.on_dismiss(move || m.upgrade().is_some_and(|model| model.dismiss()));
    accounts.on_starts_search(|text| starts_search(&text));

    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        let Some(ui) = handle.upgrade() else { return };
        let adapter = ui.global::<AccountsAdapter>();
        match event {
            Event::ListChanged | Event::Tick => {
                let state = model.state();
                adapter.set_total(int(state.entries().len()));
                adapter.set_now((state.code_now() % NOW_MODULUS) as i32);
            }
            Event::Locked => {
                adapter.set_search(SharedString::new());
                adapter.set_total(0);
                icon_images::clear();
            }
            Event::FocusSearch => {
                adapter.set_search(SharedString::new());
                adapter.set_selected(-1);
                adapter
                    .set_focus_search_request(adapter.get_focus_search_request().wrapping_add(1));
            }
            _ => {}
        }
    });
}

/// Whether a key typed in the list starts a search with it: one printable character, not N
/// (next code) or Space (kept for the row's own use). Slint gives special keys as characters
/// of Unicode's private use area (arrows, function keys) or as control characters.
fn starts_search(text: &str) -> bool {
    let mut chars = text.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else { return false };
    !c.is_control()
        && !c.is_whitespace()
        && !('\u{e000}'..='\u{f8ff}').contains(&c)
        && !matches!(c, 'n' | 'N')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_signs_start_a_search_keys_and_n_do_not() {
        for text in ["a", "Z", "é", "7", "@", "."] {
            assert!(starts_search(text), "{text:?}");
        }
        let arrow: SharedString = slint::platform::Key::DownArrow.into();
        let escape: SharedString = slint::platform::Key::Escape.into();
        for text in ["", "n", "N", " ", "\t", "\n", "ab", arrow.as_str(), escape.as_str()] {
            assert!(!starts_search(text), "{text:?}");
        }
    }

    #[test]
    fn now_modulus_preserves_common_periods() {
        for period in [1u64, 10, 15, 20, 30, 45, 60, 90, 120] {
            assert_eq!(NOW_MODULUS % period, 0, "period {period}");
        }
    }
}
