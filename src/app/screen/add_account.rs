//! "Enter a setup key": the form over the model's [`Draft`]; checks as the user types and
//! adds the account to the vault. A scan hands its account over as a draft.

use slint::{ComponentHandle, SharedString};
use tessera_core::otp::{Algorithm, SecretError};
use zeroize::Zeroizing;

use super::int;
use crate::model::draft::{Draft, NumberProblem};
use crate::model::{Event, Model, Notice, View};
use crate::ui::{AddAccountAdapter, AppAdapter, AppWindow, SecretProblem};

/// Empties the form.
fn reset(ui: &AppWindow) {
    let form = ui.global::<AddAccountAdapter>();
    form.set_name(SharedString::new());
    form.set_issuer(SharedString::new());
    form.set_secret(SharedString::new());
    form.set_kind(0);
    form.set_algorithm(0);
    form.set_digits("6".into());
    form.set_period("30".into());
    form.set_counter("0".into());
    form.set_advanced(false);
    form.set_show_secret(false);
    form.set_secret_touched(false);
    form.set_name_touched(false);
    form.set_duplicate_of(SharedString::new());
    form.set_valid(false);
    form.set_secret_problem(SecretProblem::Empty);
    form.set_name_missing(true);
}

/// Fills the form with a scanned account for the user to check and confirm.
fn prefill(ui: &AppWindow, draft: &Draft) {
    reset(ui);
    let form = ui.global::<AddAccountAdapter>();
    form.set_name(draft.name.as_str().into());
    form.set_issuer(draft.issuer.as_str().into());
    form.set_secret(draft.secret.as_str().into());
    form.set_kind(i32::from(draft.counter_based));
    form.set_algorithm(match draft.algorithm {
        Algorithm::Sha1 => 0,
        Algorithm::Sha256 => 1,
        Algorithm::Sha512 => 2,
    });
    form.set_digits(draft.digits.as_str().into());
    form.set_period(draft.period.as_str().into());
    form.set_counter(draft.counter.as_str().into());
    form.set_advanced(draft.advanced);
    form.set_name_touched(true);
    form.set_secret_touched(true);
}

/// Reads the form.
fn read(ui: &AppWindow) -> Draft {
    let form = ui.global::<AddAccountAdapter>();
    Draft {
        name: form.get_name().to_string(),
        issuer: form.get_issuer().to_string(),
        secret: Zeroizing::new(form.get_secret().to_string()),
        counter_based: form.get_counter_based(),
        algorithm: match form.get_algorithm() {
            1 => Algorithm::Sha256,
            2 => Algorithm::Sha512,
            _ => Algorithm::Sha1,
        },
        digits: form.get_digits().to_string(),
        period: form.get_period().to_string(),
        counter: form.get_counter().to_string(),
        advanced: form.get_advanced(),
    }
}

fn number_problem(problem: Option<NumberProblem>) -> crate::ui::NumberProblem {
    match problem {
        None => crate::ui::NumberProblem::None,
        Some(NumberProblem::NotANumber) => crate::ui::NumberProblem::NotANumber,
        Some(NumberProblem::OutOfRange) => crate::ui::NumberProblem::OutOfRange,
    }
}

/// Checks every field and shows what is wrong; returns the draft when it is valid.
fn validate(ui: &AppWindow, model: &Model) -> Option<Draft> {
    let draft = read(ui);
    let check = draft.check(model.state().entries());
    let form = ui.global::<AddAccountAdapter>();
    form.set_name_missing(check.name_missing);
    let (problem, character, position, bits, length) = match &check.secret {
        Ok(()) => (SecretProblem::None, String::new(), 0, 0, 0),
        Err(SecretError::Empty) => (SecretProblem::Empty, String::new(), 0, 0, 0),
        Err(SecretError::InvalidCharacter { shown, position }) => {
            (SecretProblem::InvalidCharacter, shown.clone(), *position, 0, 0)
        }
        Err(SecretError::InvalidLength { length }) => {
            (SecretProblem::InvalidLength, String::new(), 0, 0, *length)
        }
        Err(SecretError::TooShort { bits, .. }) => {
            (SecretProblem::TooShort, String::new(), 0, *bits, 0)
        }
    };
    form.set_secret_problem(problem);
    form.set_secret_character(character.into());
    form.set_secret_position(int(position));
    form.set_secret_bits(int(bits));
    form.set_secret_length(int(length));
    form.set_digits_problem(number_problem(check.digits));
    form.set_period_problem(number_problem(check.period));
    form.set_counter_problem(number_problem(check.counter));
    form.set_duplicate_of(check.duplicate_of.unwrap_or_default().into());
    form.set_valid(check.params.is_some());
    check.params.map(|_| draft)
}

/// Wires the form (and the top bar's "Add account" that opens it).
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let m = model.downgrade();
    let handle = window.as_weak();
    window.global::<AppAdapter>().on_add_account(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        if model.is_unlocked() {
            reset(&ui);
            model.show(View::AddAccount);
        }
    });

    let form = window.global::<AddAccountAdapter>();
    let m = model.downgrade();
    let handle = window.as_weak();
    form.on_edited(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        validate(&ui, &model);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    form.on_submit(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let Some(draft) = validate(&ui, &model) else { return };
        let now = model.now();
        let added = model.commit(|content| {
            let entry = draft.entry(&content.entries, now)?;
            content.entries.push(entry);
            Some(())
        });
        if added.flatten().is_some() {
            reset(&ui);
            model.show(View::Accounts);
            model.notice(Notice::Added);
        }
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    form.on_cancel(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        reset(&ui);
        model.show(View::Accounts);
    });

    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        let Some(ui) = handle.upgrade() else { return };
        match event {
            Event::Show(View::AddAccount) => {
                // A scan handed over an account: show it for checking.
                let draft = model.state_mut().draft.take();
                if let Some(draft) = draft {
                    prefill(&ui, &draft);
                    validate(&ui, model);
                }
            }
            Event::Locked => reset(&ui),
            _ => {}
        }
    });
}
