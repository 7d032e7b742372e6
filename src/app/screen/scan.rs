//! "Scan QR code": the screen, the clipboard, an image file or the camera; what is found is
//! classified by the core and becomes a pre-filled add form, a list of exported accounts to
//! add, or a specific explanation. Capture and decoding never run on the UI thread.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use slint::{ComponentHandle, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel};
use tessera_core::account::Account;
use tessera_core::intake::{self, Intake, Plan, Problem, PushOffer};
use tessera_core::push::{PushAccount, PushError};
use tessera_core::qr::{self, Classified, DecodeOptions, LumaFrame, QrError};
use tessera_core::uri::{self, OtpUri, QrKind, UriError};

use crate::model::draft::Draft;
use crate::model::push_worker::plain_error;
use crate::model::{Event, Model, Notice, View};
use crate::platform::capture::{CaptureError, ClipboardContent};
use crate::platform::sources::ScanSources;
use crate::task::{self, Background};
use crate::ui::{AddAccountAdapter, AppAdapter, AppWindow, ScanAdapter, ScanProblem, Screen};

/// Width of the camera preview image; frames are subsampled to it.
const PREVIEW_WIDTH: u32 = 320;

/// The scan in progress: what the scans so far read (the core's one intake path), and the
/// camera's stop switch. Dropping it (cancel, lock) stops the camera.
#[derive(Default)]
struct ScanState {
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

type Shared = Rc<RefCell<ScanState>>;

/// What the camera worker reports.
enum CameraMessage {
    Preview(SharedPixelBuffer<Rgb8Pixel>),
    Found(Vec<Classified>),
    Failed(CaptureError),
    Ended,
}

/// Empties the scan screen and forgets what was found (cancel, lock, after adding).
fn clear(ui: &AppWindow, scan_state: &Shared) {
    *scan_state.borrow_mut() = ScanState::default();
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
    set_problem(ui, ScanProblem::None, "", "");
}

fn set_problem(ui: &AppWindow, problem: ScanProblem, kind: &str, detail: &str) {
    let scan = ui.global::<ScanAdapter>();
    scan.set_problem(problem);
    scan.set_kind(kind.into());
    scan.set_detail(detail.into());
}

fn show_capture_error(ui: &AppWindow, err: &CaptureError) {
    ui.global::<ScanAdapter>().set_busy(false);
    ui.global::<ScanAdapter>().set_camera_on(false);
    let (problem, detail) = crate::notice::capture_problem(err);
    set_problem(ui, problem, "", &detail);
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
        other => set_problem(
            ui,
            ScanProblem::BadAccount,
            "",
            &crate::platform::capture::error_chain(other),
        ),
    }
}

/// The scan screen's context: the window, the model and the scan in progress.
#[derive(Clone)]
struct Ctx {
    ui: slint::Weak<AppWindow>,
    model: crate::model::WeakModel,
    scan: Shared,
}

impl Ctx {
    fn get(&self) -> Option<(AppWindow, Model)> {
        Some((self.ui.upgrade()?, self.model.upgrade()?))
    }
}

/// Takes what a scan found: one account opens the pre-filled form; an export (or several
/// accounts) is listed for "Add all"; a push enrolment on its own is offered for setting up;
/// anything else is explained.
fn show_results(ctx: &Ctx, results: Vec<Classified>) {
    let Some((ui, model)) = ctx.get() else { return };
    ui.global::<ScanAdapter>().set_busy(false);
    ui.global::<ScanAdapter>().set_camera_on(false);
    ctx.scan.borrow_mut().stop_camera();
    if results.is_empty() {
        set_problem(&ui, ScanProblem::NoCode, "", "");
        return;
    }
    // Problems of earlier scans were shown then; this scan reports its own.
    let earlier = ctx.scan.borrow().intake.problems().len();
    let plan = {
        let mut scan = ctx.scan.borrow_mut();
        for found in results {
            scan.intake.read(found.payload);
        }
        let state = model.state();
        let Some(vault) = state.vault.as_ref() else { return };
        let content = vault.content();
        scan.intake.plan_against(&content.entries, &content.push_accounts)
    };
    if let Some(account) = &plan.form {
        let draft = Draft::from_account(account);
        clear(&ui, &ctx.scan);
        model.hand_to_form(draft);
        return;
    }
    if let Some(offer) = plan.push {
        // The user confirms before the server is contacted; a next scan starts afresh.
        ctx.scan.borrow_mut().intake = Intake::new();
        offer_push(ctx, &ui, &model, offer);
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
fn offer_push(ctx: &Ctx, ui: &AppWindow, model: &Model, offer: PushOffer) {
    let scan = ui.global::<ScanAdapter>();
    let e = &offer.enrolment;
    scan.set_offer_name(offer.name().into());
    scan.set_offer_server(e.server().into());
    scan.set_offer_codes(offer.codes.is_some());
    scan.set_offer_insecure(e.insecure_transport());
    scan.set_offer_push(true);
    set_problem(ui, ScanProblem::None, "", "");
    let scanned_at = model.now();
    ctx.scan.borrow_mut().offer = Some(Offer { offer, scanned_at });
}

/// "Set up push approvals": registers a new device key with the server (off the UI thread:
/// a network round trip, and privacyIDEA's RSA key takes seconds), then stores the push
/// account, and a Tessera enrolment's codes, in one save. Nothing is stored on failure; the
/// offer stays so the user can retry (a link past its time-to-live says so).
fn enrol_push(ctx: &Ctx) {
    let Some((ui, model)) = ctx.get() else { return };
    model.touch();
    let (job, codes) = {
        let scan = ctx.scan.borrow();
        let Some(Offer { offer, scanned_at }) = scan.offer.as_ref() else { return };
        let codes = offer.codes.clone();
        let state = model.state();
        let backend = state.deps.push_backends.iter().find(|b| b.kind() == offer.kind).cloned();
        let (enrolment, scanned_at, now) = (offer.enrolment.clone(), *scanned_at, state.now());
        let kind = offer.kind;
        let job = move || -> Result<PushAccount, PushError> {
            match backend {
                Some(backend) => backend.enrol(&enrolment, scanned_at, now),
                None => Err(intake::unsupported_backend(kind)),
            }
        };
        (job, codes)
    };
    ui.global::<ScanAdapter>().set_enrolling(true);
    set_problem(&ui, ScanProblem::None, "", "");
    // The server now holds the device key, so a finished enrolment is kept even if the user
    // left the scan screen meanwhile: its data travels with the job, not in the screen state.
    let ctx = ctx.clone();
    task::run(model.background(), job, move |result| {
        let Some((ui, model)) = ctx.get() else { return };
        ui.global::<ScanAdapter>().set_enrolling(false);
        let account = match result {
            Ok(account) => account,
            Err(error) => {
                set_problem(&ui, ScanProblem::PushFailed, "", &plain_error(&error));
                return;
            }
        };
        ctx.scan.borrow_mut().offer = None;
        if store(&ctx, &ui, &model, Vec::new(), Some((account, codes))) {
            model.listen_again();
        }
    });
}

/// Adds every listed account not already in the vault, saves once, and shows the accounts.
fn add_all(ctx: &Ctx) {
    let Some((ui, model)) = ctx.get() else { return };
    model.touch();
    let plan = {
        let state = model.state();
        let Some(vault) = state.vault.as_ref() else { return };
        let content = vault.content();
        ctx.scan.borrow().intake.plan_against(&content.entries, &content.push_accounts)
    };
    store(ctx, &ui, &model, plan.accounts, None);
}

/// Stores accounts (and a finished push enrolment with its codes) through the core's intake
/// in one save; on success shows the accounts, on failure leaves the vault as it was.
fn store(
    ctx: &Ctx,
    ui: &AppWindow,
    model: &Model,
    accounts: Vec<OtpUri>,
    push: Option<(PushAccount, Option<OtpUri>)>,
) -> bool {
    let now = model.now();
    let (push, codes) = push.map_or((None, None), |(push, codes)| (Some(push), codes));
    let stored = model.commit(|content| {
        let added =
            intake::new_entries(&content.entries, accounts.into_iter().chain(codes).collect(), now);
        content.entries.extend(added);
        content.push_accounts.extend(push);
    });
    if stored.is_none() {
        return false;
    }
    clear(ui, &ctx.scan);
    model.show(View::Accounts);
    model.notice(Notice::Added);
    true
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
    ctx: &Ctx,
    job: impl FnOnce(&dyn ScanSources) -> Result<Vec<Classified>, CaptureError> + Send + 'static,
) {
    let Some((ui, model)) = ctx.get() else { return };
    ctx.scan.borrow_mut().stop_camera();
    ui.global::<ScanAdapter>().set_busy(true);
    ui.global::<ScanAdapter>().set_camera_on(false);
    set_problem(&ui, ScanProblem::None, "", "");
    let ctx = ctx.clone();
    model.scan(job, move |_, result| match result {
        Ok(found) => show_results(&ctx, found),
        Err(err) => {
            if let Some(ui) = ctx.ui.upgrade() {
                show_capture_error(&ui, &err);
            }
        }
    });
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
fn camera_message(ctx: &Ctx, message: CameraMessage) -> bool {
    let Some((ui, _)) = ctx.get() else { return false };
    let stopped = ctx.scan.borrow().camera_stop.is_none();
    if ui.global::<AppAdapter>().get_screen() != Screen::Scan || stopped {
        // The user left the screen (or the app locked): stop quietly.
        ctx.scan.borrow_mut().stop_camera();
        return false;
    }
    match message {
        CameraMessage::Preview(buffer) => {
            ui.global::<ScanAdapter>().set_preview(slint::Image::from_rgb8(buffer));
            true
        }
        CameraMessage::Found(found) => {
            show_results(ctx, found);
            false
        }
        CameraMessage::Failed(err) => {
            ctx.scan.borrow_mut().stop_camera();
            show_capture_error(&ui, &err);
            false
        }
        CameraMessage::Ended => {
            ctx.scan.borrow_mut().stop_camera();
            ui.global::<ScanAdapter>().set_camera_on(false);
            set_problem(&ui, ScanProblem::CameraEnded, "", "");
            false
        }
    }
}

fn start_camera(ctx: &Ctx) {
    let Some((ui, model)) = ctx.get() else { return };
    model.touch();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let mut scan = ctx.scan.borrow_mut();
        scan.stop_camera();
        scan.camera_stop = Some(Arc::clone(&stop));
    }
    ui.global::<ScanAdapter>().set_camera_on(true);
    ui.global::<ScanAdapter>().set_preview(slint::Image::default());
    set_problem(&ui, ScanProblem::None, "", "");
    let (sources, mode) = {
        let state = model.state();
        (Arc::clone(&state.deps.scan_sources), state.deps.background)
    };
    if mode == Background::Inline {
        // Tests: the same loop on this thread, each report handled as it comes.
        camera_loop(&*sources, &stop, |message| camera_message(ctx, message));
        return;
    }
    let handler = ctx.clone();
    match task::stream(move |message| camera_message(&handler, message)) {
        Ok(sender) => {
            std::thread::spawn(move || {
                camera_loop(&*sources, &stop, |message| sender.send(message));
            });
        }
        Err(err) => show_capture_error(&ui, &CaptureError::Camera(err.to_string())),
    }
}

/// Wires the scan screen and the add form's "Scan QR code".
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let ctx = Ctx { ui: window.as_weak(), model: model.downgrade(), scan: Rc::default() };

    let c = ctx.clone();
    window.global::<AddAccountAdapter>().on_scan(move || {
        let Some((ui, model)) = c.get() else { return };
        model.touch();
        clear(&ui, &c.scan);
        model.show(View::Scan);
    });

    let scan = window.global::<ScanAdapter>();
    let c = ctx.clone();
    scan.on_scan_screen(move || {
        run_still(&c, |sources| decode_frames(&sources.screen()?));
    });

    let c = ctx.clone();
    scan.on_paste(move || {
        run_still(&c, |sources| match sources.clipboard()? {
            ClipboardContent::Image(frame) => decode_frames(&[frame]),
            ClipboardContent::Text(text) => {
                Ok(vec![Classified { payload: uri::classify(&text), text }])
            }
        });
    });

    let c = ctx.clone();
    scan.on_open_image(move || {
        let Some((ui, _)) = c.get() else { return };
        let path = ui.global::<ScanAdapter>().get_path().trim().to_owned();
        if path.is_empty() {
            return;
        }
        let path = std::path::PathBuf::from(path);
        run_still(&c, move |sources| decode_frames(&[sources.image(&path)?]));
    });

    let c = ctx.clone();
    scan.on_start_camera(move || start_camera(&c));

    let c = ctx.clone();
    scan.on_stop_camera(move || {
        c.scan.borrow_mut().stop_camera();
        if let Some(ui) = c.ui.upgrade() {
            ui.global::<ScanAdapter>().set_camera_on(false);
        }
    });

    let c = ctx.clone();
    scan.on_add_all(move || add_all(&c));

    let c = ctx.clone();
    scan.on_enrol_push(move || enrol_push(&c));

    let c = ctx.clone();
    scan.on_cancel(move || {
        let Some((ui, model)) = c.get() else { return };
        clear(&ui, &c.scan);
        model.show(View::AddAccount);
    });

    model.subscribe(move |_, event| {
        if let (Event::Locked, Some(ui)) = (event, ctx.ui.upgrade()) {
            clear(&ui, &ctx.scan);
        }
    });
}
