//! The approvals view: login requests from push accounts come to the front (the model also
//! shows a desktop notification), the user approves, denies or reports "this wasn't me", and
//! every outcome is kept in the vault's push history (by the model's inbox).
//!
//! Polling goes on while the vault is locked (see the model's `inbox`): a locked app
//! announces requests and answers them after the unlock. The words of notifications and of
//! the tray are translated here for the model.

use std::cell::Cell;
use std::rc::Rc;

use slint::{ComponentHandle, Model as _, ModelRc, SharedString, VecModel};
use tessera_core::push::{Decision, format_utc};

use super::int;
use crate::model::announce::{Words, english};
use crate::model::inbox::Pending;
use crate::model::{Event, Model};
use crate::ui::{
    AppAdapter, AppWindow, ApprovalRow, ApprovalsAdapter, HistoryRow, PushAccountRow, Screen,
    TrayWords,
};

/// How many past decisions the history list shows (the vault keeps up to the core's cap).
const HISTORY_SHOWN: usize = 50;

/// Shows the pending requests, updating rows in place so a code being typed keeps its field
/// and focus.
fn show_requests(model: &Model, rows: &VecModel<ApprovalRow>) {
    let state = model.state();
    let now = state.now();
    // A locked app announces requests (the unlock screen counts them) but shows none.
    let shown = if state.vault.is_some() { state.inbox.pending() } else { &[] };
    let strict: Vec<&str> = state
        .vault
        .as_ref()
        .map(|v| v.content().push_accounts.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|a| a.require_password)
        .map(|a| a.serial.as_str())
        .collect();
    let fresh: Vec<ApprovalRow> =
        shown.iter().map(|p| row(p, now, strict.contains(&p.request.serial.as_str()))).collect();
    drop(state);
    let same_requests = rows.row_count() == fresh.len()
        && rows.iter().zip(&fresh).all(|(shown, new)| shown.id == new.id);
    if same_requests {
        for (index, mut new) in fresh.into_iter().enumerate() {
            let old = rows.row_data(index);
            // Keep the choices' model when they are the same, so the number buttons are not
            // rebuilt under the pointer every second.
            if let Some(old) = &old
                && old.options.iter().eq(new.options.iter())
            {
                new.options = old.options.clone();
            }
            if old.as_ref() != Some(&new) {
                rows.set_row_data(index, new);
            }
        }
    } else {
        rows.set_vec(fresh);
    }
}

/// One request's row; `needs_password` when its account requires the vault password to
/// approve (the view then asks for it beside the approve buttons).
fn row(pending: &Pending, now: u64, needs_password: bool) -> ApprovalRow {
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
        seconds_left: int(r.seconds_left(now)),
        options: ModelRc::new(VecModel::from(options)),
        code_entry: r.code_entry,
        busy: pending.busy,
        error: pending.error.as_str().into(),
        needs_password,
        wrong_password: pending.wrong_password,
    }
}

fn show_history(ui: &AppWindow, model: &Model) {
    let rows: Vec<HistoryRow> = model
        .history(HISTORY_SHOWN)
        .iter()
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

fn show_push_accounts(ui: &AppWindow, model: &Model) {
    let state = model.state();
    let rows: Vec<PushAccountRow> = state
        .vault
        .as_ref()
        .map(|v| v.content().push_accounts.as_slice())
        .unwrap_or_default()
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

/// Brings the view to the front, remembering where the user was.
fn bring_forward(ui: &AppWindow, previous: &Cell<Option<Screen>>) {
    let app = ui.global::<AppAdapter>();
    let current = app.get_screen();
    if current != Screen::Approvals {
        previous.set(Some(current));
    }
    app.set_screen(Screen::Approvals);
}

/// Wires the view's callbacks and its reactions to the inbox.
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let rows = Rc::new(VecModel::<ApprovalRow>::default());
    window.global::<ApprovalsAdapter>().set_requests(ModelRc::from(Rc::clone(&rows)));
    // Where the user was before a request pulled the view to the front.
    let previous: Rc<Cell<Option<Screen>>> = Rc::default();

    let adapter = window.global::<ApprovalsAdapter>();
    let handle = window.as_weak();
    model.state_mut().words = Rc::new(move |words| {
        let Some(ui) = handle.upgrade() else { return english(words) };
        let a = ui.global::<ApprovalsAdapter>();
        let t = ui.global::<TrayWords>();
        match words {
            Words::Locked(title) => a.invoke_locked_announcement(title.into()),
            Words::Approve => a.invoke_word_approve(),
            Words::Deny => a.invoke_word_deny(),
            Words::NotMe => a.invoke_word_not_me(),
            Words::Open => a.invoke_word_open(),
            Words::SecondsLeft(n) => a.invoke_seconds_left(i32::try_from(n).unwrap_or(i32::MAX)),
            Words::OpenTessera => t.invoke_open_tessera(),
            Words::Lock => t.invoke_lock(),
            Words::Quit => t.invoke_quit(),
            Words::RequestFrom(title) => t.invoke_request_from(title.into()),
            Words::Waiting(n) => t.invoke_waiting(i32::try_from(n).unwrap_or(i32::MAX)),
            Words::NoneWaiting => t.invoke_none_waiting(),
            Words::LockedListening => t.invoke_locked_listening(),
            Words::NotListening => t.invoke_not_listening(),
        }
        .into()
    });
    let m = model.downgrade();
    adapter.on_approve(move |id, answer, password| {
        if let Some(model) = m.upgrade() {
            let answer = (!answer.is_empty()).then(|| answer.to_string());
            if model.approval_needs_password(&id) {
                let password = zeroize::Zeroizing::new(password.to_string());
                model.approve_with_password(&id, answer, password);
            } else {
                model.decide(&id, Decision::Approve { answer });
            }
        }
    });
    let m = model.downgrade();
    adapter.on_deny(move |id| {
        if let Some(model) = m.upgrade() {
            model.decide(&id, Decision::Deny);
        }
    });
    let m = model.downgrade();
    adapter.on_not_me(move |id| {
        if let Some(model) = m.upgrade() {
            model.decide(&id, Decision::NotMe);
        }
    });
    let m = model.downgrade();
    adapter.on_remove_account(move |serial| {
        if let Some(model) = m.upgrade() {
            model.remove_push_account(&serial);
        }
    });
    let (m, handle, p) = (model.downgrade(), window.as_weak(), Rc::clone(&previous));
    adapter.on_back(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let back = p.take().unwrap_or(Screen::Accounts);
        let back = if model.is_unlocked() { back } else { Screen::Unlock };
        ui.global::<AppAdapter>().set_screen(back);
    });
    let (m, handle, p, r) =
        (model.downgrade(), window.as_weak(), Rc::clone(&previous), Rc::clone(&rows));
    window.global::<AppAdapter>().on_open_approvals(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        if model.is_unlocked() {
            show_requests(&model, &r);
            bring_forward(&ui, &p);
        }
    });

    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        let Some(ui) = handle.upgrade() else { return };
        let adapter = ui.global::<ApprovalsAdapter>();
        match event {
            Event::PushAccountsChanged => show_push_accounts(&ui, model),
            Event::HistoryChanged => show_history(&ui, model),
            Event::InboxChanged { arrived } => {
                adapter.set_trouble(model.state().inbox.trouble().into());
                show_requests(model, &rows);
                if *arrived && model.is_unlocked() {
                    bring_forward(&ui, &previous);
                }
            }
            Event::Locked => {
                previous.set(None);
                adapter.set_push_accounts(ModelRc::default());
                adapter.set_history(ModelRc::default());
                show_requests(model, &rows);
            }
            _ => {}
        }
    });
}
