//! "Scan QR code": the screen, the clipboard, an image file or the camera; what is found is
//! classified by the core and becomes a pre-filled add form, a list of exported accounts to
//! add, or a specific explanation. Capture and decoding never run on the UI thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use slint::{ComponentHandle, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel};
use tessera_core::otp::{Algorithm, OtpKind};
use tessera_core::push::tessera::TesseraEnrolment;
use tessera_core::push::{PushBackendKind, PushEnrolment};
use tessera_core::qr::{self, Classified, DecodeOptions, LumaFrame, QrError};
use tessera_core::uri::{self, MigrationSet, OtpUri, Payload, QrKind, UriError};

use crate::capture::{CaptureError, ClipboardContent};
use crate::deps::{Background, ScanSources};
use crate::state::{Shared, State, background};
use crate::store::Entry;
use crate::{AddAccountAdapter, AppAdapter, AppWindow, ScanAdapter, ScanProblem, Screen, Toast};

/// Width of the camera preview image; frames are subsampled to it.
const PREVIEW_WIDTH: u32 = 320;

/// The scan in progress: the export codes and accounts collected so far, and the camera's
/// stop switch. Dropping it (cancel, lock) stops the camera.
#[derive(Default)]
pub(crate) struct ScanState {
    migration: Option<MigrationSet>,
    accounts: Vec<OtpUri>,
    camera_stop: Option<Arc<AtomicBool>>,
    /// A scanned push enrolment waiting for the user's "Set up push approvals".
    offer: Option<PushOffer>,
}

/// A push enrolment found by a scan: privacyIDEA's `otpauth://pipush/...`, or a Tessera
/// server's `otpauth://totp/...#push=tessera1...` that also carries the account's codes.
struct PushOffer {
    kind: PushBackendKind,
    enrolment: PushEnrolment,
    /// The TOTP account that comes with a Tessera enrolment (added in the same save).
    codes: Option<OtpUri>,
    /// When it was scanned: the enrolment link's time-to-live counts from here.
    scanned_at: u64,
}

impl ScanState {
    fn stop_camera(&mut self) {
        if let Some(stop) = self.camera_stop.take() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for ScanState {
    fn drop(&mut self) {
        self.stop_camera();
    }
}

/// What the camera worker reports.
enum CameraMessage {
    Preview(SharedPixelBuffer<Rgb8Pixel>),
    Found(Vec<Classified>),
    Failed(CaptureError),
    Ended,
}

/// Empties the scan screen and forgets what was found (cancel, lock, after adding).
pub(crate) fn clear(state: &mut State) {
    state.scan = ScanState::default();
    let Some(ui) = state.ui() else { return };
    let scan = ui.global::<ScanAdapter>();
    scan.set_path(SharedString::new());
    scan.set_busy(false);
    scan.set_camera_on(false);
    scan.set_preview(slint::Image::default());
    scan.set_found(ModelRc::default());
    scan.set_skipped(ModelRc::default());
    scan.set_missing(SharedString::new());
    scan.set_offer_push(false);
    scan.set_enrolling(false);
    set_problem(&ui, ScanProblem::None, "", "");
}

fn set_problem(ui: &AppWindow, problem: ScanProblem, kind: &str, detail: &str) {
    let scan = ui.global::<ScanAdapter>();
    scan.set_problem(problem);
    scan.set_kind(kind.into());
    scan.set_detail(detail.into());
}

fn show_capture_error(state: &mut State, err: &CaptureError) {
    let Some(ui) = state.ui() else { return };
    ui.global::<ScanAdapter>().set_busy(false);
    ui.global::<ScanAdapter>().set_camera_on(false);
    let problem = match err {
        CaptureError::NoDisplay(_) => ScanProblem::NoDisplay,
        CaptureError::Screen(_) | CaptureError::ScreenFormat { .. } => ScanProblem::Screen,
        CaptureError::ClipboardEmpty => ScanProblem::ClipboardEmpty,
        CaptureError::Clipboard(_) => ScanProblem::Clipboard,
        CaptureError::Image { .. } | CaptureError::ImageData(_) | CaptureError::Frame(_) => {
            ScanProblem::Image
        }
        CaptureError::NoCamera => ScanProblem::NoCamera,
        CaptureError::Camera(_) => ScanProblem::Camera,
    };
    let detail = match err {
        CaptureError::Camera(cause) => cause.clone(),
        other => crate::capture::error_chain(other),
    };
    set_problem(&ui, problem, "", &detail);
}

fn kind_key(kind: &QrKind) -> &'static str {
    match kind {
        QrKind::WebLink => "web-link",
        QrKind::WiFi => "wifi",
        QrKind::Contact => "contact",
        QrKind::Email => "email",
        QrKind::Phone => "phone",
        QrKind::Sms => "sms",
        QrKind::Geo => "geo",
        QrKind::Calendar => "calendar",
        QrKind::Empty => "empty",
        QrKind::OtherUri { .. } | QrKind::PlainText => "text",
    }
}

fn show_uri_error(ui: &AppWindow, err: &UriError) {
    match err {
        UriError::IsPushEnrolment => set_problem(ui, ScanProblem::PushAlone, "", ""),
        UriError::NotAnAccount { kind } => {
            set_problem(ui, ScanProblem::NotAccount, kind_key(kind), "");
        }
        other => set_problem(ui, ScanProblem::BadAccount, "", &crate::capture::error_chain(other)),
    }
}

/// The add form can hold TOTP and HOTP accounts; Steam accounts are added from the list.
fn fits_form(account: &OtpUri) -> bool {
    account.otp.kind != OtpKind::Steam
}

/// Fills the add form with `account` for the user to check and confirm.
fn prefill(ui: &AppWindow, account: &OtpUri) {
    crate::add_account::reset(ui);
    let form = ui.global::<AddAccountAdapter>();
    let name = if account.account.is_empty() { &account.issuer } else { &account.account };
    form.set_name(name.as_str().into());
    form.set_issuer(account.issuer.as_str().into());
    form.set_secret(account.otp.secret.to_base32().as_str().into());
    let otp = &account.otp;
    form.set_kind(i32::from(otp.kind == OtpKind::Hotp));
    form.set_algorithm(match otp.algorithm {
        Algorithm::Sha1 => 0,
        Algorithm::Sha256 => 1,
        Algorithm::Sha512 => 2,
    });
    form.set_digits(otp.digits.to_string().into());
    form.set_period(otp.period.to_string().into());
    form.set_counter(otp.counter.to_string().into());
    form.set_advanced(otp.algorithm != Algorithm::Sha1 || otp.digits != 6 || otp.period != 30);
    form.set_name_touched(true);
    form.set_secret_touched(true);
}

fn label(account: &OtpUri) -> String {
    match (account.issuer.is_empty(), account.account.is_empty()) {
        (false, false) => format!("{} ({})", account.issuer, account.account),
        (false, true) => account.issuer.clone(),
        _ => account.account.clone(),
    }
}

/// Takes what a scan found: one account opens the pre-filled form; an export (or several
/// accounts) is listed for "Add all"; anything else is explained.
fn show_results(state: &mut State, results: Vec<Classified>) {
    let Some(ui) = state.ui() else { return };
    ui.global::<ScanAdapter>().set_busy(false);
    ui.global::<ScanAdapter>().set_camera_on(false);
    state.scan.stop_camera();
    if results.is_empty() {
        set_problem(&ui, ScanProblem::NoCode, "", "");
        return;
    }
    let mut error = None;
    let mut accounts = Vec::new();
    let mut pushes = Vec::new();
    let mut export = false;
    for found in results {
        match found.payload {
            Ok(Payload::Account(account)) => accounts.push(account),
            Ok(Payload::Migration(batch)) => {
                match state.scan.migration.get_or_insert_with(MigrationSet::new).add(batch) {
                    Ok(_) => export = true,
                    Err(err) => error = error.or(Some(err)),
                }
            }
            Ok(Payload::PushEnrolment(raw)) => pushes.push(raw),
            Err(err) => error = error.or(Some(err)),
        }
    }
    let listing = export || state.scan.migration.is_some() || !state.scan.accounts.is_empty();
    // One push enrolment on its own (or one Tessera account, which carries one) is offered
    // for setting up; the user confirms before the server is contacted.
    if !listing && accounts.len() + pushes.len() == 1 {
        let offer = match (pushes.pop(), accounts.first()) {
            (Some(raw), _) => Some(
                PushEnrolment::from_uri(&raw)
                    .map(|enrolment| (PushBackendKind::PrivacyIdea, enrolment, None)),
            ),
            (None, Some(account)) => TesseraEnrolment::from_extra(&account.extra).map(|found| {
                found.map(|e| {
                    let enrolment = e.to_enrolment(&account.issuer, &account.account);
                    (PushBackendKind::Tessera, enrolment, Some(account.clone()))
                })
            }),
            (None, None) => None,
        };
        match offer {
            Some(Ok((kind, enrolment, codes))) => {
                let scanned_at = state.now();
                offer_push(state, &ui, PushOffer { kind, enrolment, codes, scanned_at });
                return;
            }
            Some(Err(err)) => {
                set_problem(&ui, ScanProblem::PushFailed, "", &crate::capture::error_chain(&err));
                return;
            }
            None => {}
        }
    }
    if !pushes.is_empty() {
        // Push enrolments among several codes: each must be scanned on its own.
        error = error.or(Some(UriError::IsPushEnrolment));
    }
    if !listing && accounts.len() == 1 && fits_form(&accounts[0]) {
        prefill(&ui, &accounts[0]);
        clear(state);
        crate::add_account::validate(&ui, state.entries());
        state.show(Screen::AddAccount);
        return;
    }
    state.scan.accounts.extend(accounts);
    if state.scan.accounts.is_empty() && state.scan.migration.is_none() {
        if let Some(err) = error {
            show_uri_error(&ui, &err);
        }
        return;
    }
    match &error {
        Some(err) => show_uri_error(&ui, err),
        None => set_problem(&ui, ScanProblem::None, "", ""),
    }
    list_pending(state, &ui);
}

fn list_pending(state: &State, ui: &AppWindow) {
    let scan = ui.global::<ScanAdapter>();
    let mut found: Vec<SharedString> = Vec::new();
    let mut skipped: Vec<SharedString> = Vec::new();
    let mut missing = String::new();
    if let Some(set) = &state.scan.migration {
        found.extend(set.accounts().map(|a| label(a).into()));
        skipped.extend(set.skipped().map(|(_, s)| format!("{} ({})", s.label, s.reason).into()));
        let parts: Vec<String> = set.missing().iter().map(|i| (i + 1).to_string()).collect();
        missing = parts.join(", ");
    }
    found.extend(state.scan.accounts.iter().map(|a| label(a).into()));
    scan.set_found(ModelRc::new(VecModel::from(found)));
    scan.set_skipped(ModelRc::new(VecModel::from(skipped)));
    scan.set_missing(missing.into());
}

/// Shows `offer` for confirmation, or why it cannot be set up (already enrolled).
fn offer_push(state: &mut State, ui: &AppWindow, offer: PushOffer) {
    let Some(vault) = state.vault.as_ref() else { return };
    let serial = &offer.enrolment.serial;
    if vault.push_accounts().iter().any(|a| a.serial == *serial) {
        set_problem(ui, ScanProblem::PushEnrolled, "", "");
        return;
    }
    if let Some(account) = &offer.codes
        && in_vault(vault.entries(), account)
    {
        // Same issuer and account name as the one in the vault, so its label names both.
        let name = label(account);
        set_problem(ui, ScanProblem::Duplicate, "", &name);
        return;
    }
    let scan = ui.global::<ScanAdapter>();
    let e = &offer.enrolment;
    let name = match (e.issuer.is_empty(), e.label.is_empty() || e.label == e.serial) {
        (false, false) => format!("{} ({})", e.issuer, e.label),
        (false, true) => e.issuer.clone(),
        (true, false) => e.label.clone(),
        (true, true) => e.serial.clone(),
    };
    scan.set_offer_name(name.into());
    scan.set_offer_server(e.server().into());
    scan.set_offer_codes(offer.codes.is_some());
    scan.set_offer_insecure(e.insecure_transport());
    scan.set_offer_push(true);
    set_problem(ui, ScanProblem::None, "", "");
    state.scan.offer = Some(offer);
}

/// Whether an entry holds `account` already: same secret, issuer and account name.
fn in_vault(entries: &[Entry], account: &OtpUri) -> bool {
    entries.iter().any(|e| {
        e.otp.secret.ct_eq(&account.otp.secret)
            && e.account == account.account
            && e.issuer == account.issuer
    })
}

/// "Set up push approvals": registers a new device key with the server (off the UI thread:
/// a network round trip, and privacyIDEA's RSA key takes seconds), then stores the push
/// account, and a Tessera enrolment's codes, in one save. Nothing is stored on failure; the
/// offer stays so the user can retry (a link past its time-to-live says so).
fn enrol_push(state: &Shared) {
    let (job, ui, codes) = {
        let mut s = state.borrow_mut();
        s.touch();
        let Some(offer) = s.scan.offer.as_ref() else { return };
        let codes = offer.codes.clone();
        let backend = s.deps.push_backends.iter().find(|b| b.kind() == offer.kind).cloned();
        let (enrolment, scanned_at, now) = (offer.enrolment.clone(), offer.scanned_at, s.now());
        let Some(ui) = s.ui() else { return };
        let kind = offer.kind;
        let job = move || match backend {
            Some(backend) => backend
                .enrol(&enrolment, scanned_at, now)
                .map_err(|e| crate::push_worker::plain_error(&e)),
            None => Err(format!("this build of Tessera cannot talk to {kind} servers")),
        };
        (job, ui, codes)
    };
    ui.global::<ScanAdapter>().set_enrolling(true);
    set_problem(&ui, ScanProblem::None, "", "");
    // The server now holds the device key, so a finished enrolment is kept even if the user
    // left the scan screen meanwhile: its data travels with the job, not in the screen state.
    background(state, job, move |state, result| {
        let Some(ui) = state.ui() else { return };
        ui.global::<ScanAdapter>().set_enrolling(false);
        let account = match result {
            Ok(account) => account,
            Err(message) => {
                set_problem(&ui, ScanProblem::PushFailed, "", &message);
                return;
            }
        };
        state.scan.offer = None;
        let now = state.now();
        let Some(vault) = state.vault.as_mut() else { return };
        let entries = vault.entries().len();
        if let Some(codes) = codes {
            vault.entries_mut().push(Entry::new(codes.issuer, codes.account, codes.otp, now));
        }
        vault.push_accounts_mut().push(account);
        if state.save() {
            clear(state);
            state.refresh_rows();
            crate::approvals::unlocked(state);
            state.show(Screen::Accounts);
            state.toast(Toast::Added, "");
        } else if let Some(vault) = state.vault.as_mut() {
            // The save failed (and said why): leave the vault as it was.
            vault.entries_mut().truncate(entries);
            vault.push_accounts_mut().pop();
        }
    });
}

/// Adds every listed account not already in the vault, saves once, and shows the accounts.
fn add_all(state: &mut State) {
    state.touch();
    let now = state.now();
    let mut new: Vec<OtpUri> = Vec::new();
    if let Some(set) = &state.scan.migration {
        new.extend(set.accounts().cloned());
    }
    new.extend(state.scan.accounts.iter().cloned());
    let Some(vault) = state.vault.as_mut() else { return };
    let before = vault.entries().len();
    for account in new {
        if !in_vault(vault.entries(), &account) {
            vault.entries_mut().push(Entry::new(account.issuer, account.account, account.otp, now));
        }
    }
    if state.save() {
        clear(state);
        state.refresh_rows();
        state.show(Screen::Accounts);
        state.toast(Toast::Added, "");
    } else if let Some(vault) = state.vault.as_mut() {
        vault.entries_mut().truncate(before);
    }
}

/// Decodes every code in `frames`, each distinct payload once.
fn decode_frames(frames: &[LumaFrame]) -> Vec<Classified> {
    let mut out: Vec<Classified> = Vec::new();
    for frame in frames {
        for found in qr::decode_and_classify(frame, &DecodeOptions::STILL) {
            if !out.iter().any(|o| o.text == found.text) {
                out.push(found);
            }
        }
    }
    out
}

/// Runs one still scan off the UI thread.
fn run_still(
    state: &Shared,
    job: impl FnOnce(&dyn ScanSources) -> Result<Vec<Classified>, CaptureError> + Send + 'static,
) {
    let sources = {
        let mut s = state.borrow_mut();
        s.touch();
        s.scan.stop_camera();
        if let Some(ui) = s.ui() {
            ui.global::<ScanAdapter>().set_busy(true);
            ui.global::<ScanAdapter>().set_camera_on(false);
            set_problem(&ui, ScanProblem::None, "", "");
        }
        Arc::clone(&s.deps.scan_sources)
    };
    background(
        state,
        move || job(&*sources),
        |state, result| match result {
            Ok(found) => show_results(state, found),
            Err(err) => show_capture_error(state, &err),
        },
    );
}

/// A subsampled RGB copy of `frame`, [`PREVIEW_WIDTH`] pixels wide at most.
fn preview_of(frame: &LumaFrame) -> SharedPixelBuffer<Rgb8Pixel> {
    let step = frame.width().div_ceil(PREVIEW_WIDTH).max(1);
    let (w, h) = (frame.width().div_ceil(step), frame.height().div_ceil(step));
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(w, h);
    let src = frame.pixels();
    let stride = frame.width() as usize;
    for (i, px) in buffer.make_mut_slice().iter_mut().enumerate() {
        let (x, y) = ((i % w as usize) * step as usize, (i / w as usize) * step as usize);
        let v = src.get(y * stride + x).copied().unwrap_or(0);
        *px = Rgb8Pixel { r: v, g: v, b: v };
    }
    buffer
}

fn capture_error_of(err: QrError) -> CaptureError {
    match err {
        QrError::Source(inner) => match inner.downcast::<CaptureError>() {
            Ok(err) => *err,
            Err(other) => CaptureError::Camera(other.to_string()),
        },
        other => CaptureError::Frame(other),
    }
}

/// Reads camera frames until a code is found, the source ends or fails, `stop` is set, or
/// `send` returns false. Runs on the worker thread.
fn camera_loop(
    sources: &dyn ScanSources,
    stop: &AtomicBool,
    mut send: impl FnMut(CameraMessage) -> bool,
) {
    let mut source = match sources.camera() {
        Ok(source) => source,
        Err(err) => {
            send(CameraMessage::Failed(err));
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        match source.next_frame() {
            Ok(Some(frame)) => {
                let found = qr::decode_and_classify(&frame, &DecodeOptions::LIVE);
                if !found.is_empty() {
                    send(CameraMessage::Found(found));
                    return;
                }
                if !send(CameraMessage::Preview(preview_of(&frame))) {
                    return;
                }
            }
            Ok(None) => {
                send(CameraMessage::Ended);
                return;
            }
            Err(err) => {
                send(CameraMessage::Failed(capture_error_of(err)));
                return;
            }
        }
    }
}

/// Handles a camera report on the UI thread; returns false once the camera should stop.
fn camera_message(state: &mut State, message: CameraMessage) -> bool {
    let Some(ui) = state.ui() else { return false };
    if ui.global::<AppAdapter>().get_screen() != Screen::Scan || state.scan.camera_stop.is_none() {
        // The user left the screen (or the app locked): stop quietly.
        state.scan.stop_camera();
        return false;
    }
    match message {
        CameraMessage::Preview(buffer) => {
            ui.global::<ScanAdapter>().set_preview(slint::Image::from_rgb8(buffer));
            true
        }
        CameraMessage::Found(found) => {
            show_results(state, found);
            false
        }
        CameraMessage::Failed(err) => {
            state.scan.stop_camera();
            show_capture_error(state, &err);
            false
        }
        CameraMessage::Ended => {
            state.scan.stop_camera();
            ui.global::<ScanAdapter>().set_camera_on(false);
            set_problem(&ui, ScanProblem::CameraEnded, "", "");
            false
        }
    }
}

fn start_camera(state: &Shared) {
    let stop = Arc::new(AtomicBool::new(false));
    let (sources, mode) = {
        let mut s = state.borrow_mut();
        s.touch();
        s.scan.stop_camera();
        s.scan.camera_stop = Some(Arc::clone(&stop));
        if let Some(ui) = s.ui() {
            ui.global::<ScanAdapter>().set_camera_on(true);
            ui.global::<ScanAdapter>().set_preview(slint::Image::default());
            set_problem(&ui, ScanProblem::None, "", "");
        }
        (Arc::clone(&s.deps.scan_sources), s.deps.background)
    };
    if mode == Background::Inline {
        // Tests: the same loop on this thread, each report handled as it comes.
        camera_loop(&*sources, &stop, |message| camera_message(&mut state.borrow_mut(), message));
        return;
    }
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<CameraMessage>();
    let weak = std::rc::Rc::downgrade(state);
    let receiver = slint::spawn_local(async move {
        use futures_core::Stream;
        while let Some(message) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut rx).poll_next(cx)).await
        {
            let Some(state) = weak.upgrade() else { break };
            if !camera_message(&mut state.borrow_mut(), message) {
                break;
            }
        }
    });
    if let Err(err) = receiver {
        show_capture_error(&mut state.borrow_mut(), &CaptureError::Camera(err.to_string()));
        return;
    }
    std::thread::spawn(move || {
        camera_loop(&*sources, &stop, |message| tx.unbounded_send(message).is_ok());
    });
}

/// Wires the scan screen and the add form's "Scan QR code".
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let s = state.clone();
    window.global::<AddAccountAdapter>().on_scan(move || {
        let mut state = s.borrow_mut();
        state.touch();
        clear(&mut state);
        state.show(Screen::Scan);
    });

    let scan = window.global::<ScanAdapter>();
    let s = state.clone();
    scan.on_scan_screen(move || {
        run_still(&s, |sources| Ok(decode_frames(&sources.screen()?)));
    });

    let s = state.clone();
    scan.on_paste(move || {
        run_still(&s, |sources| match sources.clipboard()? {
            ClipboardContent::Image(frame) => Ok(decode_frames(&[frame])),
            ClipboardContent::Text(text) => {
                Ok(vec![Classified { payload: uri::classify(&text), text }])
            }
        });
    });

    let s = state.clone();
    scan.on_open_image(move || {
        let path = {
            let state = s.borrow();
            let Some(ui) = state.ui() else { return };
            ui.global::<ScanAdapter>().get_path().trim().to_owned()
        };
        if path.is_empty() {
            return;
        }
        let path = std::path::PathBuf::from(path);
        run_still(&s, move |sources| Ok(decode_frames(&[sources.image(&path)?])));
    });

    let s = state.clone();
    scan.on_start_camera(move || start_camera(&s));

    let s = state.clone();
    scan.on_stop_camera(move || {
        let mut state = s.borrow_mut();
        state.scan.stop_camera();
        if let Some(ui) = state.ui() {
            ui.global::<ScanAdapter>().set_camera_on(false);
        }
    });

    let s = state.clone();
    scan.on_add_all(move || add_all(&mut s.borrow_mut()));

    let s = state.clone();
    scan.on_enrol_push(move || enrol_push(&s));

    let s = state.clone();
    scan.on_cancel(move || {
        let mut state = s.borrow_mut();
        clear(&mut state);
        state.show(Screen::AddAccount);
    });
}
