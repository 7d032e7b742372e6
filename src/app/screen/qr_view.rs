//! "Show QR code" (one account's otpauth link) and "Export to another phone…" (Google
//! Authenticator export codes, one page per QR code), shown only after the password is
//! entered again, or after a confirmation when the vault has no password.

use std::cell::RefCell;
use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel};
use tessera_core::qr;
use tessera_core::uri::{self, OtpUri};
use tessera_core::vault::Entry;
use zeroize::Zeroizing;

use super::int;
use crate::model::{Event, Model, View};
use crate::ui::{AppWindow, DetailsAdapter, QrAdapter};

/// Pixels per QR module and quiet-zone modules of the rendered image.
const MODULE_PX: u32 = 6;
const QUIET_MODULES: u32 = 4;

/// The links on show (they hold secrets), one per page.
#[derive(Default)]
struct QrState {
    export: bool,
    pages: Vec<Zeroizing<String>>,
}

type Shared = Rc<RefCell<QrState>>;

fn account_of(entry: &Entry) -> OtpUri {
    OtpUri {
        issuer: entry.issuer.clone(),
        account: entry.account.clone(),
        otp: entry.otp.clone(),
        extra: Vec::new(),
    }
}

/// Renders `text` as a black-on-white QR image.
fn qr_image(text: &str) -> Option<slint::Image> {
    let frame = qr::encode(text).ok()?.to_luma(MODULE_PX, QUIET_MODULES);
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(frame.width(), frame.height());
    for (px, &v) in buffer.make_mut_slice().iter_mut().zip(frame.pixels()) {
        *px = Rgb8Pixel { r: v, g: v, b: v };
    }
    Some(slint::Image::from_rgb8(buffer))
}

/// Forgets the links and the image (close, lock).
fn clear(ui: &AppWindow, qr: &Shared) {
    *qr.borrow_mut() = QrState::default();
    let adapter = ui.global::<QrAdapter>();
    adapter.set_revealed(false);
    adapter.set_busy(false);
    adapter.set_wrong_password(false);
    adapter.set_image(slint::Image::default());
    adapter.set_skipped(ModelRc::default());
    adapter.set_page(0);
    adapter.set_pages(0);
}

fn open(ui: &AppWindow, model: &Model, qr: &Shared, export: bool) {
    model.touch();
    clear(ui, qr);
    let state = model.state();
    let has_password = state.vault.as_ref().is_some_and(|v| v.summary().has_password);
    let title = state
        .selected
        .as_ref()
        .and_then(|id| state.entries().iter().find(|e| &e.id == id))
        .map(|e| if e.issuer.is_empty() { e.account.clone() } else { e.issuer.clone() })
        .unwrap_or_default();
    drop(state);
    let adapter = ui.global::<QrAdapter>();
    adapter.set_export(export);
    adapter.set_title(title.into());
    adapter.set_has_password(has_password);
    qr.borrow_mut().export = export;
    model.show(View::ShowQr);
}

/// Builds the pages and shows the first.
fn reveal(ui: &AppWindow, model: &Model, qr: &Shared) {
    let adapter = ui.global::<QrAdapter>();
    adapter.set_busy(false);
    adapter.set_wrong_password(false);
    let state = model.state();
    let (pages, skipped) = if qr.borrow().export {
        let accounts: Vec<OtpUri> = state.entries().iter().map(account_of).collect();
        let (links, skipped) = uri::encode_migration(&accounts);
        let skipped: Vec<SharedString> =
            skipped.iter().map(|s| format!("{} ({})", s.label, s.reason).into()).collect();
        (links, skipped)
    } else {
        let Some(id) = state.selected.as_deref() else { return };
        let Some(entry) = state.entries().iter().find(|e| e.id == id) else { return };
        (vec![account_of(entry).to_uri()], Vec::new())
    };
    drop(state);
    adapter.set_skipped(ModelRc::new(VecModel::from(skipped)));
    adapter.set_pages(int(pages.len()));
    qr.borrow_mut().pages = pages;
    adapter.set_revealed(true);
    show_page(ui, qr, 0);
}

fn show_page(ui: &AppWindow, qr: &Shared, page: i32) {
    let adapter = ui.global::<QrAdapter>();
    let qr = qr.borrow();
    let Some(link) = usize::try_from(page).ok().and_then(|p| qr.pages.get(p)) else {
        return;
    };
    adapter.set_page(page);
    adapter.set_image(qr_image(link).unwrap_or_default());
}

/// Wires the details screen's QR buttons and the QR screen.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let qr: Shared = Rc::default();
    let details = window.global::<DetailsAdapter>();
    for export in [false, true] {
        let (m, handle, q) = (model.downgrade(), window.as_weak(), Rc::clone(&qr));
        let open_it = move || {
            if let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) {
                open(&ui, &model, &q, export);
            }
        };
        if export {
            details.on_export_all(open_it);
        } else {
            details.on_show_qr(open_it);
        }
    }

    let adapter = window.global::<QrAdapter>();
    let (m, handle, q) = (model.downgrade(), window.as_weak(), Rc::clone(&qr));
    adapter.on_confirm(move |password| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        if !ui.global::<QrAdapter>().get_has_password() {
            reveal(&ui, &model, &q);
            return;
        }
        ui.global::<QrAdapter>().set_busy(true);
        let password = Zeroizing::new(password.to_string());
        let (handle, q) = (ui.as_weak(), Rc::clone(&q));
        // The password slot proves the password (the key derivation is slow: off the UI
        // thread).
        model.with_vault_off_thread(
            move |vault| vault.verify_password(&password),
            move |model, ok| {
                let Some(ui) = handle.upgrade() else { return };
                if ok {
                    reveal(&ui, model, &q);
                } else {
                    ui.global::<QrAdapter>().set_busy(false);
                    ui.global::<QrAdapter>().set_wrong_password(true);
                }
            },
        );
    });

    let (handle, q) = (window.as_weak(), Rc::clone(&qr));
    adapter.on_next(move || {
        if let Some(ui) = handle.upgrade() {
            show_page(&ui, &q, ui.global::<QrAdapter>().get_page() + 1);
        }
    });
    let (handle, q) = (window.as_weak(), Rc::clone(&qr));
    adapter.on_previous(move || {
        if let Some(ui) = handle.upgrade() {
            show_page(&ui, &q, ui.global::<QrAdapter>().get_page() - 1);
        }
    });
    let (m, handle, q) = (model.downgrade(), window.as_weak(), Rc::clone(&qr));
    adapter.on_close(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        clear(&ui, &q);
        let back = if model.state().selected.is_some() { View::Details } else { View::Accounts };
        model.show(back);
    });

    let handle = window.as_weak();
    model.subscribe(move |_, event| {
        if let (Event::Locked, Some(ui)) = (event, handle.upgrade()) {
            clear(&ui, &qr);
        }
    });
}
