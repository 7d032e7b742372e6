//! "Scan QR code": the screen, the clipboard, an image file or the camera; what is found is
//! classified by the core and becomes a pre-filled add form, a list of exported accounts to
//! add, or a specific explanation. Capture and decoding never run on the UI thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use slint::{ComponentHandle, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel};
use tessera_core::account::Account;
use tessera_core::intake::{self, Intake, Plan, Problem, PushOffer};
use tessera_core::otp::{Algorithm, OtpKind};
use tessera_core::push::PushAccount;
use tessera_core::qr::{self, Classified, DecodeOptions, LumaFrame, QrError};
use tessera_core::uri::{self, OtpUri, QrKind, UriError};

use crate::capture::{CaptureError, ClipboardContent};
use crate::deps::{Background, ScanSources};
use crate::state::{Shared, State, background};
use crate::{AddAccountAdapter, AppAdapter, AppWindow, ScanAdapter, ScanProblem, Screen, Toast};

/// Width of the camera preview image; frames are subsampled to it.
const PREVIEW_WIDTH: u32 = 320;

/// The scan in progress: what the scans so far read (the core's one intake path), and the
/// camera's stop switch. Dropping it (cancel, lock) stops the camera.
#[derive(Default)]
pub(crate) struct ScanState {
    intake: Intake,
    camera_stop: Option<Arc<AtomicBool>>,
    /// A scanned push enrolment waiting for the user's "Set up push approvals".
    offer: Option<Offer>,
}

/// A push enrolment found by a scan and when it was scanned: the enrolment link's
/// time-to-live counts from there.
struct Offer {
    offer: PushOffer,
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
        CaptureError::Text(_) => ScanProblem::UnreadableText,
        CaptureError::Camera(_) => ScanProblem::Camera,
    };
    let detail = match err {
        CaptureError::Camera(cause) => cause.clone(),
        CaptureError::Text(cause) => cause.to_string(),
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

/// Takes what a scan found: one account opens the pre-filled form; an export (or several
/// accounts) is listed for "Add all"; a push enrolment on its own is offered for setting up;
/// anything else is explained.
fn show_results(state: &mut State, results: Vec<Classified>) {
    let Some(ui) = state.ui() else { return };
    ui.global::<ScanAdapter>().set_busy(false);
    ui.global::<ScanAdapter>().set_camera_on(false);
    state.scan.stop_camera();
    if results.is_empty() {
        set_problem(&ui, ScanProblem::NoCode, "", "");
        return;
    }
    // Problems of earlier scans were shown then; this scan reports its own.
    let earlier = state.scan.intake.problems().len();
    for found in results {
        state.scan.intake.read(found.payload);
    }
    let Some(vault) = state.vault.as_ref() else { return };
    let plan = state.scan.intake.plan_against(vault.entries(), vault.push_accounts());
    if let Some(account) = &plan.form {
        prefill(&ui, account);
        clear(state);
        crate::add_account::validate(&ui, state.entries());
        state.show(Screen::AddAccount);
        return;
    }
    if let Some(offer) = plan.push {
        // The user confirms before the server is contacted; a next scan starts afresh.
        state.scan.intake = Intake::new();
        offer_push(state, &ui, offer);
        return;
    }
    match plan.problems.get(earlier) {
        Some(problem) => show_problem(&ui, problem, plan.duplicates.first()),
        None => match plan.duplicates.first() {
            Some(name) if plan.accounts.is_empty() && plan.export_parts == 0 => {
                set_problem(&ui, ScanProblem::Duplicate, "", name);
            }
            _ => set_problem(&ui, ScanProblem::None, "", ""),
        },
    }
    list_pending(&ui, &plan);
}

fn show_problem(ui: &AppWindow, problem: &Problem, duplicate: Option<&String>) {
    match problem {
        Problem::Uri(err) => show_uri_error(ui, err),
        Problem::PushAmongOthers { .. } => set_problem(ui, ScanProblem::PushAlone, "", ""),
        Problem::PushEnrolled { .. } => set_problem(ui, ScanProblem::PushEnrolled, "", ""),
        Problem::BadPushEnrolment(detail) => {
            set_problem(ui, ScanProblem::PushFailed, "", detail);
        }
    }
    if let (Problem::PushEnrolled { .. }, Some(name)) = (problem, duplicate) {
        set_problem(ui, ScanProblem::Duplicate, "", name);
    }
}

/// Lists the accounts waiting for "Add all" (those already in the vault too: "Add all"
/// skips them), the export parts not scanned yet and the export's unusable accounts.
fn list_pending(ui: &AppWindow, plan: &Plan) {
    let scan = ui.global::<ScanAdapter>();
    let found: Vec<SharedString> = plan
        .accounts
        .iter()
        .map(|a| a.label().into())
        .chain(plan.duplicates.iter().map(|d| d.into()))
        .collect();
    let skipped: Vec<SharedString> =
        plan.skipped.iter().map(|s| format!("{} ({})", s.label, s.reason).into()).collect();
    let missing: Vec<String> = plan.missing_parts.iter().map(i32::to_string).collect();
    scan.set_found(ModelRc::new(VecModel::from(found)));
    scan.set_skipped(ModelRc::new(VecModel::from(skipped)));
    scan.set_missing(missing.join(", ").into());
}

/// Shows `offer` for confirmation.
fn offer_push(state: &mut State, ui: &AppWindow, offer: PushOffer) {
    let scan = ui.global::<ScanAdapter>();
    let e = &offer.enrolment;
    scan.set_offer_name(offer.name().into());
    scan.set_offer_server(e.server().into());
    scan.set_offer_codes(offer.codes.is_some());
    scan.set_offer_insecure(e.insecure_transport());
    scan.set_offer_push(true);
    set_problem(ui, ScanProblem::None, "", "");
    let scanned_at = state.now();
    state.scan.offer = Some(Offer { offer, scanned_at });
}

/// "Set up push approvals": registers a new device key with the server (off the UI thread:
/// a network round trip, and privacyIDEA's RSA key takes seconds), then stores the push
/// account, and a Tessera enrolment's codes, in one save. Nothing is stored on failure; the
/// offer stays so the user can retry (a link past its time-to-live says so).
fn enrol_push(state: &Shared) {
    let (job, ui, codes) = {
        let mut s = state.borrow_mut();
        s.touch();
        let Some(Offer { offer, scanned_at }) = s.scan.offer.as_ref() else { return };
        let codes = offer.codes.clone();
        let backend = s.deps.push_backends.iter().find(|b| b.kind() == offer.kind).cloned();
        let (enrolment, scanned_at, now) = (offer.enrolment.clone(), *scanned_at, s.now());
        let Some(ui) = s.ui() else { return };
        let kind = offer.kind;
        let job = move || match backend {
            Some(backend) => backend
                .enrol(&enrolment, scanned_at, now)
                .map_err(|e| crate::push_worker::plain_error(&e)),
            None => Err(crate::push_worker::plain_error(&intake::unsupported_backend(kind))),
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
        if store(state, Vec::new(), Some((account, codes))) {
            crate::approvals::unlocked(state);
        }
    });
}

/// Adds every listed account not already in the vault, saves once, and shows the accounts.
fn add_all(state: &mut State) {
    state.touch();
    let Some(vault) = state.vault.as_ref() else { return };
    let plan = state.scan.intake.plan_against(vault.entries(), vault.push_accounts());
    store(state, plan.accounts, None);
}

/// Stores accounts (and a finished push enrolment with its codes) through the core's intake
/// in one save; on success shows the accounts, on failure leaves the vault as it was.
fn store(
    state: &mut State,
    accounts: Vec<OtpUri>,
    push: Option<(PushAccount, Option<OtpUri>)>,
) -> bool {
    let now = state.now();
    let Some(vault) = state.vault.as_mut() else { return false };
    let (entries, pushes) = (vault.entries().len(), vault.push_accounts().len());
    let (push, codes) = push.map_or((None, None), |(push, codes)| (Some(push), codes));
    let added =
        intake::new_entries(vault.entries(), accounts.into_iter().chain(codes).collect(), now);
    vault.entries_mut().extend(added);
    vault.push_accounts_mut().extend(push);
    if state.save() {
        clear(state);
        state.refresh_rows();
        state.show(Screen::Accounts);
        state.toast(Toast::Added, "");
        true
    } else {
        if let Some(vault) = state.vault.as_mut() {
            // The save failed (and said why): leave the vault as it was.
            vault.entries_mut().truncate(entries);
            vault.push_accounts_mut().truncate(pushes);
        }
        false
    }
}

/// Decodes every code in `frames`, each distinct payload once.
/// Codes whose text cannot be read are an error only when nothing else was found.
fn decode_frames(frames: &[LumaFrame]) -> Result<Vec<Classified>, CaptureError> {
    let mut out: Vec<Classified> = Vec::new();
    let mut unreadable = None;
    for frame in frames {
        let decoded = qr::decode(frame, &DecodeOptions::STILL);
        unreadable = unreadable.or(decoded.problems.first().cloned());
        for text in decoded.payloads {
            if !out.iter().any(|o| o.text == text) {
                out.push(Classified { payload: uri::classify(&text), text });
            }
        }
    }
    match unreadable {
        Some(problem) if out.is_empty() => Err(CaptureError::Text(problem)),
        _ => Ok(out),
    }
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
        run_still(&s, |sources| decode_frames(&sources.screen()?));
    });

    let s = state.clone();
    scan.on_paste(move || {
        run_still(&s, |sources| match sources.clipboard()? {
            ClipboardContent::Image(frame) => decode_frames(&[frame]),
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
        run_still(&s, move |sources| decode_frames(&[sources.image(&path)?]));
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
