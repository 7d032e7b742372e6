//! The approvals view: login requests from push accounts come to the front (with a desktop
//! notification), the user approves, denies or reports "this wasn't me", and every outcome is
//! kept in the vault's push history.
//!
//! Polling runs in [`crate::push_worker`] only while the vault is open: unlocking starts it
//! (and polls at once), locking stops it and drops what was pending, so nothing can be
//! approved on a locked app.

use std::rc::Rc;

use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};
use tessera_core::push::{Decision, PushHistoryItem, PushRequest, format_utc};

use crate::push_worker::{Command, Engine, PushWorker, Report};
use crate::state::{Shared, State};
use crate::{
    AppAdapter, AppWindow, ApprovalRow, ApprovalsAdapter, HistoryRow, PushAccountRow, Screen, Toast,
};

/// How many past decisions the history list shows (the vault keeps them all).
const HISTORY_SHOWN: usize = 50;

/// What the approvals view holds between reports.
#[derive(Default)]
pub(crate) struct Approvals {
    worker: Option<PushWorker>,
    requests: Vec<Pending>,
    /// The rows on screen, updated in place so a code being typed keeps its field and focus.
    rows: Option<Rc<VecModel<ApprovalRow>>>,
    trouble: String,
    /// Where the user was before a request pulled the view to the front.
    previous: Option<Screen>,
}

struct Pending {
    request: PushRequest,
    busy: bool,
    error: String,
}

/// Wires the view's callbacks and starts the push worker.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let adapter = window.global::<ApprovalsAdapter>();
    let s = state.clone();
    adapter.on_approve(move |id, answer| {
        let answer = (!answer.is_empty()).then(|| answer.to_string());
        decide(&s, &id, Decision::Approve { answer });
    });
    let s = state.clone();
    adapter.on_deny(move |id| decide(&s, &id, Decision::Deny));
    let s = state.clone();
    adapter.on_not_me(move |id| decide(&s, &id, Decision::NotMe));
    let s = state.clone();
    adapter.on_remove_account(move |serial| remove_account(&mut s.borrow_mut(), &serial));
    let s = state.clone();
    adapter.on_back(move || {
        let mut state = s.borrow_mut();
        state.touch();
        let back = state.approvals.previous.take().unwrap_or(Screen::Accounts);
        let back = if state.vault.is_some() { back } else { Screen::Unlock };
        state.show(back);
    });
    let s = state.clone();
    window.global::<AppAdapter>().on_open_approvals(move || {
        let mut state = s.borrow_mut();
        state.touch();
        if state.vault.is_some() {
            open(&mut state);
        }
    });

    let (engine, background) = {
        let state = state.borrow();
        let deps = &state.deps;
        let engine =
            Engine::new(deps.push_backends.clone(), deps.clock.clone(), deps.push_schedule);
        (engine, deps.background)
    };
    let worker = match background {
        crate::deps::Background::Inline => PushWorker::Inline(Box::new(engine)),
        crate::deps::Background::Thread => spawn(engine, state),
    };
    let mut s = state.borrow_mut();
    s.approvals.worker = Some(worker);
    let rows = Rc::new(VecModel::default());
    window.global::<ApprovalsAdapter>().set_requests(ModelRc::from(rows.clone()));
    s.approvals.rows = Some(rows);
}

thread_local! {
    /// The controller of the window on this (the UI) thread, for reports from the worker.
    static CONTROLLER: std::cell::RefCell<std::rc::Weak<std::cell::RefCell<State>>> =
        const { std::cell::RefCell::new(std::rc::Weak::new()) };
}

/// Starts the worker thread; its reports reach the UI thread through
/// `upgrade_in_event_loop` and are applied to the controller registered for that thread.
fn spawn(engine: Engine, state: &Shared) -> PushWorker {
    CONTROLLER.with(|c| *c.borrow_mut() = Rc::downgrade(state));
    let window = state.borrow().window.clone();
    PushWorker::spawn(engine, move |reports| {
        // Fails only when the event loop has ended (the app is closing).
        let _ = window.upgrade_in_event_loop(move |_| {
            if let Some(state) = CONTROLLER.with(|c| c.borrow().upgrade()) {
                apply(&mut state.borrow_mut(), reports);
            }
        });
    })
}

fn send(state: &mut State, command: Command) {
    let reports = match state.approvals.worker.as_mut() {
        Some(worker) => worker.send(command),
        None => return,
    };
    apply(state, reports);
}

/// The vault was opened: poll its push accounts at once.
pub(crate) fn unlocked(state: &mut State) {
    let accounts = state.vault.as_ref().map(|v| v.push_accounts().to_vec()).unwrap_or_default();
    if let Some(ui) = state.ui() {
        let rows: Vec<PushAccountRow> = accounts
            .iter()
            .map(|a| PushAccountRow {
                serial: a.serial.as_str().into(),
                name: format!("{} · {} · {}", a.issuer, a.label, a.server()).into(),
            })
            .collect();
        let adapter = ui.global::<ApprovalsAdapter>();
        adapter.set_push_accounts(ModelRc::new(VecModel::from(rows)));
        adapter.set_confirm_remove(SharedString::new());
    }
    refresh_history(state);
    send(state, Command::Start(accounts));
}

/// Removes the push account `serial` (and its device key) after the user confirmed, and
/// restarts polling without it; its pending requests go with it. A failed save leaves the
/// vault as it was (the save reported why).
fn remove_account(state: &mut State, serial: &str) {
    state.touch();
    let Some(vault) = state.vault.as_mut() else { return };
    let Some(index) = vault.push_accounts().iter().position(|a| a.serial == serial) else {
        return;
    };
    let removed = vault.push_accounts_mut().remove(index);
    if !state.save() {
        if let Some(vault) = state.vault.as_mut() {
            vault.push_accounts_mut().insert(index, removed);
        }
        return;
    }
    state.approvals.requests.retain(|p| p.request.serial != serial);
    unlocked(state);
    show_requests(state);
    state.toast(Toast::Deleted, "");
}

/// The vault was locked: stop polling and forget what was pending.
pub(crate) fn locked(state: &mut State) {
    send(state, Command::Stop);
    state.approvals.requests.clear();
    state.approvals.trouble.clear();
    state.approvals.previous = None;
    if let Some(ui) = state.ui() {
        let adapter = ui.global::<ApprovalsAdapter>();
        adapter.set_push_accounts(ModelRc::default());
        adapter.set_history(ModelRc::default());
    }
    show_requests(state);
}

/// Runs once a second: due polls (inline worker), countdowns and local expiry.
pub(crate) fn tick(state: &mut State) {
    let reports = match state.approvals.worker.as_mut() {
        Some(worker) => worker.tick(),
        None => Vec::new(),
    };
    apply(state, reports);
    // The worker expires requests on its next poll; hide them at once all the same.
    let now = state.now();
    let (expired, live): (Vec<Pending>, Vec<Pending>) =
        std::mem::take(&mut state.approvals.requests)
            .into_iter()
            .partition(|p| p.request.is_expired(now));
    state.approvals.requests = live;
    for gone in &expired {
        record(state, PushHistoryItem::new(&gone.request, None, now, false));
    }
    if !state.approvals.requests.is_empty() || !expired.is_empty() {
        show_requests(state);
    }
}

fn open(state: &mut State) {
    if let Some(ui) = state.ui() {
        let current = ui.global::<AppAdapter>().get_screen();
        if current != Screen::Approvals {
            state.approvals.previous = Some(current);
        }
    }
    show_requests(state);
    state.show(Screen::Approvals);
}

fn decide(state: &Shared, id: &str, decision: Decision) {
    let mut state = state.borrow_mut();
    state.touch();
    // Only an open vault has a running session; a locked app answers nothing.
    if state.vault.is_none() {
        return;
    }
    let Some(pending) = state.approvals.requests.iter_mut().find(|p| p.request.id == id) else {
        return;
    };
    if pending.busy {
        return;
    }
    pending.busy = true;
    pending.error.clear();
    show_requests(&state);
    send(&mut state, Command::Answer { id: id.to_owned(), decision });
}

/// Applies the worker's reports to the view and the vault.
pub(crate) fn apply(state: &mut State, reports: Vec<Report>) {
    if reports.is_empty() {
        return;
    }
    if state.vault.is_none() {
        // Reports that were in flight when the vault locked: drop them.
        return;
    }
    let mut arrived = Vec::new();
    for report in reports {
        match report {
            Report::Arrived(request) => {
                if !state.approvals.requests.iter().any(|p| p.request.id == request.id) {
                    arrived.push((request.title.clone(), request.question.clone()));
                    state.approvals.requests.push(Pending {
                        request,
                        busy: false,
                        error: String::new(),
                    });
                }
            }
            Report::Gone { id, expired } => {
                let now = state.now();
                let Some(at) = state.approvals.requests.iter().position(|p| p.request.id == id)
                else {
                    continue;
                };
                let gone = state.approvals.requests.remove(at);
                // A server that stops listing an expired request is an expiry too; one that
                // withdraws a live request (answered elsewhere) leaves no history here.
                if let Some(item) = expired.or_else(|| {
                    gone.request
                        .is_expired(now)
                        .then(|| PushHistoryItem::new(&gone.request, None, now, false))
                }) {
                    record(state, item);
                }
            }
            Report::Trouble(message) => state.approvals.trouble = message,
            Report::Recovered => state.approvals.trouble.clear(),
            Report::Answered { id, result: Ok(item) } => {
                state.approvals.requests.retain(|p| p.request.id != id);
                record(state, item);
            }
            Report::Answered { id, result: Err(message) } => {
                if let Some(p) = state.approvals.requests.iter_mut().find(|p| p.request.id == id) {
                    p.busy = false;
                    p.error = message;
                }
            }
        }
    }
    if let Some(ui) = state.ui() {
        ui.global::<ApprovalsAdapter>().set_trouble(state.approvals.trouble.as_str().into());
    }
    show_requests(state);
    if !arrived.is_empty() {
        open(state);
        for (title, question) in arrived {
            (state.deps.notify)(&title, &question);
        }
    }
}

fn record(state: &mut State, item: PushHistoryItem) {
    if let Some(vault) = state.vault.as_mut() {
        vault.push_history_mut().push(item);
        state.save();
    }
    refresh_history(state);
}

/// Shows the pending requests (the view's model was bound once, in [`connect`]).
fn show_requests(state: &State) {
    let now = state.now();
    let rows: Vec<ApprovalRow> = state.approvals.requests.iter().map(|p| row(p, now)).collect();
    let Some(model) = state.approvals.rows.as_ref() else { return };
    let same_requests = model.row_count() == rows.len()
        && model.iter().zip(&rows).all(|(shown, new)| shown.id == new.id);
    if same_requests {
        for (index, mut new) in rows.into_iter().enumerate() {
            let old = model.row_data(index);
            // Keep the choices' model when they are the same, so the number buttons are not
            // rebuilt under the pointer every second.
            if let Some(old) = &old
                && old.options.iter().eq(new.options.iter())
            {
                new.options = old.options.clone();
            }
            if old.as_ref() != Some(&new) {
                model.set_row_data(index, new);
            }
        }
    } else {
        model.set_vec(rows);
    }
}

fn row(pending: &Pending, now: u64) -> ApprovalRow {
    let r = &pending.request;
    let options: Vec<SharedString> =
        r.require_presence.iter().flatten().map(|o| SharedString::from(o.as_str())).collect();
    let fact = |value: &Option<String>| SharedString::from(value.as_deref().unwrap_or_default());
    ApprovalRow {
        id: r.id.as_str().into(),
        title: r.title.as_str().into(),
        question: r.question.as_str().into(),
        server: r.server.as_str().into(),
        ip: fact(&r.context.ip),
        location: fact(&r.context.location),
        app: fact(&r.context.app),
        user_agent: fact(&r.context.user_agent),
        seconds_left: i32::try_from(r.seconds_left(now)).unwrap_or(i32::MAX),
        options: ModelRc::new(VecModel::from(options)),
        code_entry: r.code_entry,
        busy: pending.busy,
        error: pending.error.as_str().into(),
    }
}

fn refresh_history(state: &mut State) {
    let Some(ui) = state.ui() else { return };
    let Some(vault) = state.vault.as_mut() else { return };
    let rows: Vec<HistoryRow> = vault
        .push_history_mut()
        .iter()
        .rev()
        .take(HISTORY_SHOWN)
        .map(|item| {
            let (decision, answer) = match &item.decision {
                None => (0, String::new()),
                Some(Decision::Approve { answer }) => (1, answer.clone().unwrap_or_default()),
                Some(Decision::Deny) => (2, String::new()),
                Some(Decision::NotMe) => (3, String::new()),
            };
            HistoryRow {
                title: item.title.as_str().into(),
                question: item.question.as_str().into(),
                server: item.server.as_str().into(),
                decision,
                answer: answer.into(),
                accepted: item.accepted,
                when: format_utc(item.decided_at).replace('T', " ").replace('Z', " UTC").into(),
            }
        })
        .collect();
    ui.global::<ApprovalsAdapter>().set_history(ModelRc::new(VecModel::from(rows)));
}

/// Shows a desktop notification; failures (no notification daemon, no D-Bus) are logged and
/// otherwise ignored. Runs on its own short-lived thread: the D-Bus call may block.
pub fn notify_desktop(title: &str, body: &str) {
    #[cfg(not(target_os = "android"))]
    {
        let (title, body) = (title.to_owned(), body.to_owned());
        let spawned = std::thread::Builder::new().name("tessera-notify".into()).spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("Tessera")
                .summary(&title)
                .body(&body)
                .show();
            if let Err(error) = shown {
                eprintln!("tessera: cannot show a desktop notification: {error}");
            }
        });
        if let Err(error) = spawned {
            eprintln!("tessera: cannot show a desktop notification: {error}");
        }
    }
    #[cfg(target_os = "android")]
    let _ = (title, body);
}
