//! "Show QR code" (one account's otpauth link) and "Export to another phone…" (Google
//! Authenticator export codes, one page per QR code), shown only after the password is
//! entered again, or after a confirmation when the vault has no password.

use slint::{ComponentHandle, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel};
use tessera_core::qr;
use tessera_core::uri::{self, OtpUri};
use zeroize::Zeroizing;

use crate::state::{Shared, State, background};
use crate::store::{Entry, StoreError, UnlockWith};
use crate::{AppWindow, DetailsAdapter, QrAdapter, Screen, Toast};

/// Pixels per QR module and quiet-zone modules of the rendered image.
const MODULE_PX: u32 = 6;
const QUIET_MODULES: u32 = 4;

/// The links on show (they hold secrets), one per page.
#[derive(Default)]
pub(crate) struct QrState {
    export: bool,
    pages: Vec<Zeroizing<String>>,
}

fn account_of(entry: &Entry) -> OtpUri {
    OtpUri {
        issuer: entry.issuer.clone(),
        account: entry.account.clone(),
        otp: entry.otp.clone(),
        extra: Vec::new(),
    }
}

/// Renders `text` as a black-on-white QR image.
pub(crate) fn qr_image(text: &str) -> Option<slint::Image> {
    let frame = qr::encode(text).ok()?.to_luma(MODULE_PX, QUIET_MODULES);
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(frame.width(), frame.height());
    for (px, &v) in buffer.make_mut_slice().iter_mut().zip(frame.pixels()) {
        *px = Rgb8Pixel { r: v, g: v, b: v };
    }
    Some(slint::Image::from_rgb8(buffer))
}

/// Forgets the links and the image (close, lock).
pub(crate) fn clear(state: &mut State) {
    state.qr = QrState::default();
    let Some(ui) = state.ui() else { return };
    let adapter = ui.global::<QrAdapter>();
    adapter.set_revealed(false);
    adapter.set_busy(false);
    adapter.set_wrong_password(false);
    adapter.set_image(slint::Image::default());
    adapter.set_skipped(ModelRc::default());
    adapter.set_page(0);
    adapter.set_pages(0);
}

fn open(state: &mut State, export: bool) {
    state.touch();
    clear(state);
    let Some(ui) = state.ui() else { return };
    let has_password = state.vault.as_ref().is_some_and(|v| v.summary().has_password);
    let title = state
        .details_id
        .as_ref()
        .and_then(|id| state.entries().iter().find(|e| &e.id == id))
        .map(|e| if e.issuer.is_empty() { e.account.clone() } else { e.issuer.clone() })
        .unwrap_or_default();
    let adapter = ui.global::<QrAdapter>();
    adapter.set_export(export);
    adapter.set_title(title.into());
    adapter.set_has_password(has_password);
    state.qr.export = export;
    state.show(Screen::ShowQr);
}

/// Builds the pages and shows the first.
fn reveal(state: &mut State) {
    let Some(ui) = state.ui() else { return };
    let adapter = ui.global::<QrAdapter>();
    adapter.set_busy(false);
    adapter.set_wrong_password(false);
    let (pages, skipped) = if state.qr.export {
        let accounts: Vec<OtpUri> = state.entries().iter().map(account_of).collect();
        let (links, skipped) = uri::encode_migration(&accounts);
        let skipped: Vec<SharedString> =
            skipped.iter().map(|s| format!("{} ({})", s.label, s.reason).into()).collect();
        (links, skipped)
    } else {
        let Some(id) = state.details_id.clone() else { return };
        let Some(entry) = state.entries().iter().find(|e| e.id == id) else { return };
        (vec![account_of(entry).to_uri()], Vec::new())
    };
    adapter.set_skipped(ModelRc::new(VecModel::from(skipped)));
    adapter.set_pages(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    state.qr.pages = pages;
    adapter.set_revealed(true);
    show_page(state, &ui, 0);
}

fn show_page(state: &State, ui: &AppWindow, page: i32) {
    let adapter = ui.global::<QrAdapter>();
    let Some(link) = usize::try_from(page).ok().and_then(|p| state.qr.pages.get(p)) else {
        return;
    };
    adapter.set_page(page);
    adapter.set_image(qr_image(link).unwrap_or_default());
}

/// Wires the details screen's QR buttons and the QR screen.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let details = window.global::<DetailsAdapter>();
    let s = state.clone();
    details.on_show_qr(move || open(&mut s.borrow_mut(), false));
    let s = state.clone();
    details.on_export_all(move || open(&mut s.borrow_mut(), true));

    let adapter = window.global::<QrAdapter>();
    let s = state.clone();
    adapter.on_confirm(move |password| {
        let backend = {
            let mut state = s.borrow_mut();
            state.touch();
            let Some(ui) = state.ui() else { return };
            if !ui.global::<QrAdapter>().get_has_password() {
                reveal(&mut state);
                return;
            }
            ui.global::<QrAdapter>().set_busy(true);
            std::sync::Arc::clone(&state.deps.vault)
        };
        let password = Zeroizing::new(password.to_string());
        // Opening the vault file again proves the password (the key derivation is slow:
        // off the UI thread); the copy it opens is dropped at once.
        background(
            &s,
            move || backend.open(UnlockWith::Password(password)).map(drop),
            |state, result| match result {
                Ok(()) => reveal(state),
                Err(StoreError::WrongPassword) => {
                    if let Some(ui) = state.ui() {
                        ui.global::<QrAdapter>().set_busy(false);
                        ui.global::<QrAdapter>().set_wrong_password(true);
                    }
                }
                Err(other) => {
                    if let Some(ui) = state.ui() {
                        ui.global::<QrAdapter>().set_busy(false);
                    }
                    state.toast(Toast::Error, &other.to_string());
                }
            },
        );
    });

    let s = state.clone();
    adapter.on_next(move || {
        let state = s.borrow();
        if let Some(ui) = state.ui() {
            show_page(&state, &ui, ui.global::<QrAdapter>().get_page() + 1);
        }
    });
    let s = state.clone();
    adapter.on_previous(move || {
        let state = s.borrow();
        if let Some(ui) = state.ui() {
            show_page(&state, &ui, ui.global::<QrAdapter>().get_page() - 1);
        }
    });
    let s = state.clone();
    adapter.on_close(move || {
        let mut state = s.borrow_mut();
        clear(&mut state);
        let screen = if state.details_id.is_some() { Screen::Details } else { Screen::Accounts };
        state.show(screen);
    });
}
