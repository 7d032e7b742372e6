//! Account details: rename, issuer, note, favourite, icon, delete with confirmation.
//!
//! The icon picker (`IconsAdapter`) keeps the user's pick pending until Save: automatic (the
//! issuer's match), the letter, another service's icon found by name, or an image file
//! (stored in the vault as a small PNG, see `model::icons::image_for_vault`).

use std::cell::RefCell;
use std::rc::Rc;

use slint::{ComponentHandle, SharedString};
use tessera_core::icons::{IconChoice, builtin_icon};
use tessera_core::otp::OtpKind;

use super::icon_images;
use crate::model::account_list::letter_avatar;
use crate::model::icons::image_for_vault;
use crate::model::{Event, Model, Notice, View};
use crate::ui::{AccountsAdapter, AppWindow, DetailsAdapter, IconProblem, IconState, IconsAdapter};

/// The picker's pending change: `None` keeps the stored choice; `Some(None)` is automatic.
type Pending = Rc<RefCell<Option<Option<IconChoice>>>>;

/// Shows the icon the selected account would have with `choice` (its stored one or the
/// pending pick).
fn show_icon(ui: &AppWindow, model: &Model, choice: Option<&IconChoice>) {
    let state = model.state();
    let Some(id) = state.selected.as_deref() else { return };
    let Some(entry) = state.entries().iter().find(|e| e.id == id) else { return };
    let icons = model.icons();
    let shown = icons.shown(&entry.issuer, choice);
    let picker = ui.global::<IconsAdapter>();
    let (initial, (r, g, b)) = letter_avatar(entry);
    picker.set_initial(initial.into());
    picker.set_tint(slint::Color::from_rgb_u8(r, g, b));
    let name = match &shown {
        Some(IconChoice::Builtin(slug)) => builtin_icon(slug).map_or(slug.as_str(), |i| i.title),
        Some(IconChoice::Pack { file, .. }) => {
            file.rsplit('/').next().and_then(|f| f.rsplit_once('.')).map_or(file.as_str(), |p| p.0)
        }
        _ => "",
    };
    picker.set_name(name.into());
    picker.set_state(match (choice, &shown) {
        (None, Some(_)) => IconState::Automatic,
        (None, None) => IconState::AutomaticNone,
        (Some(IconChoice::Letter), _) => IconState::Letter,
        (Some(IconChoice::Image(_)), _) => IconState::Image,
        (Some(_), _) => IconState::Picked,
    });
    let scale = ui.window().scale_factor();
    let image = shown.as_ref().and_then(|c| icon_images::image(&icons, c, scale));
    picker.set_has_icon(image.is_some());
    picker.set_icon(image.unwrap_or_default());
}

/// Records a pick and shows it.
fn pick(ui: &AppWindow, model: &Model, pending: &Pending, choice: Option<IconChoice>) {
    ui.global::<IconsAdapter>().set_problem(IconProblem::None);
    show_icon(ui, model, choice.as_ref());
    *pending.borrow_mut() = Some(choice);
}

/// Empties the picker.
fn clear_picker(ui: &AppWindow) {
    let picker = ui.global::<IconsAdapter>();
    picker.set_search(SharedString::new());
    picker.set_image_path(SharedString::new());
    picker.set_problem(IconProblem::None);
    picker.set_problem_detail(SharedString::new());
    picker.set_has_icon(false);
    picker.set_icon(slint::Image::default());
}

/// Fills the form from the selected account.
fn fill(ui: &AppWindow, model: &Model) {
    let state = model.state();
    let Some(id) = state.selected.as_deref() else { return };
    let Some(entry) = state.entries().iter().find(|e| e.id == id) else { return };
    let details = ui.global::<DetailsAdapter>();
    details.set_id(id.into());
    details.set_name(entry.account.as_str().into());
    details.set_issuer(entry.issuer.as_str().into());
    details.set_note(entry.note.as_str().into());
    details.set_favourite(entry.favourite);
    details.set_recovery_count(super::int(entry.recovery.len()));
    details.set_confirm_delete(false);
    let otp = &entry.otp;
    let kind = match otp.kind {
        OtpKind::Totp => format!("TOTP · {} · {} · {} s", otp.algorithm, otp.digits, otp.period),
        OtpKind::Hotp => format!("HOTP · {} · {} · #{}", otp.algorithm, otp.digits, otp.counter),
        OtpKind::Steam => "Steam Guard".to_owned(),
    };
    details.set_kind_text(kind.into());
    let stored = entry.icon.clone();
    drop(state);
    clear_picker(ui);
    show_icon(ui, model, stored.as_ref());
}

/// Empties the form (on lock: nothing typed survives).
fn clear(ui: &AppWindow) {
    let details = ui.global::<DetailsAdapter>();
    details.set_id(SharedString::new());
    details.set_name(SharedString::new());
    details.set_issuer(SharedString::new());
    details.set_note(SharedString::new());
    details.set_confirm_delete(false);
    clear_picker(ui);
}

/// Wires the details screen (and the list's "details" button that opens it).
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let pending: Pending = Rc::default();
    let m = model.downgrade();
    let handle = window.as_weak();
    let p = Rc::clone(&pending);
    window.global::<AccountsAdapter>().on_details(move |id| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let known = model.state().entries().iter().any(|e| e.id == id.as_str());
        if known {
            *p.borrow_mut() = None;
            model.state_mut().selected = Some(id.to_string());
            fill(&ui, &model);
            model.show(View::Details);
        }
    });

    connect_picker(window, model, &pending);

    let details = window.global::<DetailsAdapter>();
    let m = model.downgrade();
    let handle = window.as_weak();
    let p = Rc::clone(&pending);
    details.on_save(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let Some(id) = model.state().selected.clone() else { return };
        let form = ui.global::<DetailsAdapter>();
        let (account, issuer) =
            (form.get_name().trim().to_owned(), form.get_issuer().trim().to_owned());
        let (note, favourite) = (form.get_note().to_string(), form.get_favourite());
        let icon = p.borrow().clone();
        let saved = model.commit(|content| {
            let Some(entry) = content.entries.iter_mut().find(|e| e.id == id) else { return false };
            (entry.account, entry.issuer, entry.note, entry.favourite) =
                (account, issuer, note, favourite);
            if let Some(icon) = icon {
                entry.icon = icon;
            }
            true
        });
        if saved == Some(true) {
            *p.borrow_mut() = None;
            model.show(View::Accounts);
            model.notice(Notice::Saved(String::new()));
        }
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    details.on_delete_confirmed(move || {
        let Some(model) = m.upgrade() else { return };
        model.touch();
        let Some(id) = model.state_mut().selected.take() else { return };
        let deleted = model.commit(|content| {
            let before = content.entries.len();
            content.entries.retain(|e| e.id != id);
            before != content.entries.len()
        });
        if deleted == Some(true) {
            model.show(View::Accounts);
            model.notice(Notice::Deleted);
        }
        if let Some(ui) = handle.upgrade() {
            ui.global::<DetailsAdapter>().set_confirm_delete(false);
        }
    });

    let m = model.downgrade();
    let p = Rc::clone(&pending);
    details.on_back(move || {
        *p.borrow_mut() = None;
        let Some(model) = m.upgrade() else { return };
        model.state_mut().selected = None;
        model.show(View::Accounts);
    });

    let handle = window.as_weak();
    model.subscribe(move |_, event| {
        if let (Event::Locked, Some(ui)) = (event, handle.upgrade()) {
            *pending.borrow_mut() = None;
            clear(&ui);
        }
    });
}

/// Wires the icon picker's buttons and fields.
fn connect_picker(window: &AppWindow, model: &Model, pending: &Pending) {
    let picker = window.global::<IconsAdapter>();
    let (m, handle, p) = (model.downgrade(), window.as_weak(), Rc::clone(pending));
    picker.on_search_edited(move |text| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        if text.trim().is_empty() {
            ui.global::<IconsAdapter>().set_problem(IconProblem::None);
            return;
        }
        match model.icons().search(&text) {
            Some(found) => pick(&ui, &model, &p, Some(found)),
            None => ui.global::<IconsAdapter>().set_problem(IconProblem::NotFound),
        }
    });
    let (m, handle, p) = (model.downgrade(), window.as_weak(), Rc::clone(pending));
    picker.on_automatic(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        ui.global::<IconsAdapter>().set_search(SharedString::new());
        pick(&ui, &model, &p, None);
    });
    let (m, handle, p) = (model.downgrade(), window.as_weak(), Rc::clone(pending));
    picker.on_letter(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        ui.global::<IconsAdapter>().set_search(SharedString::new());
        pick(&ui, &model, &p, Some(IconChoice::Letter));
    });
    let (m, handle, p) = (model.downgrade(), window.as_weak(), Rc::clone(pending));
    picker.on_use_image(move |path| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        match image_for_vault(std::path::Path::new(path.trim())) {
            Ok(png) => pick(&ui, &model, &p, Some(IconChoice::Image(png))),
            Err(error) => {
                let picker = ui.global::<IconsAdapter>();
                picker.set_problem_detail(error.to_string().into());
                picker.set_problem(IconProblem::ImageUnreadable);
            }
        }
    });
}
