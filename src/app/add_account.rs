//! "Enter a setup key": validates as the user types and adds the account to the vault.

use slint::{ComponentHandle, SharedString};
use tessera_core::account::Account;
use tessera_core::otp::{Algorithm, OtpKind, OtpParams, Secret, SecretError};

use crate::state::Shared;
use crate::store::Entry;
use crate::{AddAccountAdapter, AppWindow, NumberProblem, Screen, SecretProblem, Toast};

/// Empties the form.
pub(crate) fn reset(ui: &AppWindow) {
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

fn number(text: &str, min: u64, max: u64) -> Result<u64, NumberProblem> {
    let value: u64 = text.trim().parse().map_err(|_| NumberProblem::NotANumber)?;
    if (min..=max).contains(&value) { Ok(value) } else { Err(NumberProblem::OutOfRange) }
}

/// Checks every field, shows what is wrong, and returns the parameters when all is well.
pub(crate) fn validate(ui: &AppWindow, existing: &[Entry]) -> Option<OtpParams> {
    let form = ui.global::<AddAccountAdapter>();
    let name_missing = form.get_name().trim().is_empty();
    form.set_name_missing(name_missing);

    let secret = Secret::parse_base32(&form.get_secret());
    let (problem, character, position, bits, length) = match &secret {
        Ok(_) => (SecretProblem::None, String::new(), 0, 0, 0),
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
    let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    form.set_secret_problem(problem);
    form.set_secret_character(character.into());
    form.set_secret_position(int(position));
    form.set_secret_bits(int(bits));
    form.set_secret_length(int(length));

    let counter_based = form.get_counter_based();
    let digits = number(&form.get_digits(), 1, 10);
    let period = if counter_based { Ok(30) } else { number(&form.get_period(), 1, 86_400) };
    let counter = if counter_based { number(&form.get_counter(), 0, u64::MAX) } else { Ok(0) };
    let problem =
        |r: &Result<u64, NumberProblem>| r.as_ref().err().copied().unwrap_or(NumberProblem::None);
    form.set_digits_problem(problem(&digits));
    form.set_period_problem(problem(&period));
    form.set_counter_problem(problem(&counter));

    let duplicate = secret
        .as_ref()
        .ok()
        .and_then(|s| existing.iter().find(|e| e.otp.secret.ct_eq(s)).map(Account::label));
    form.set_duplicate_of(duplicate.unwrap_or_default().into());

    let algorithm = match form.get_algorithm() {
        1 => Algorithm::Sha256,
        2 => Algorithm::Sha512,
        _ => Algorithm::Sha1,
    };
    let kind = if counter_based { OtpKind::Hotp } else { OtpKind::Totp };
    let params = match (secret, digits, period, counter) {
        (Ok(secret), Ok(digits), Ok(period), Ok(counter)) if !name_missing => {
            let digits = u8::try_from(digits).ok()?;
            OtpParams::new(kind, secret, algorithm, digits, period, counter).ok()
        }
        _ => None,
    };
    form.set_valid(params.is_some());
    params
}

/// Wires the form's callbacks.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let form = window.global::<AddAccountAdapter>();

    let s = state.clone();
    form.on_edited(move || {
        let mut state = s.borrow_mut();
        state.touch();
        if let Some(ui) = state.ui() {
            validate(&ui, state.entries());
        }
    });

    let s = state.clone();
    form.on_submit(move || {
        let mut state = s.borrow_mut();
        state.touch();
        let Some(ui) = state.ui() else { return };
        let Some(params) = validate(&ui, state.entries()) else { return };
        let form = ui.global::<AddAccountAdapter>();
        let now = state.now();
        let entry = Entry::new(
            form.get_issuer().trim().to_owned(),
            form.get_name().trim().to_owned(),
            params,
            now,
        );
        let Some(vault) = state.vault.as_mut() else { return };
        vault.entries_mut().push(entry);
        if state.save() {
            reset(&ui);
            state.refresh_rows();
            state.show(Screen::Accounts);
            state.toast(Toast::Added, "");
        } else if let Some(vault) = state.vault.as_mut() {
            vault.entries_mut().pop();
        }
    });

    let s = state.clone();
    form.on_cancel(move || {
        let state = s.borrow();
        if let Some(ui) = state.ui() {
            reset(&ui);
        }
        state.show(Screen::Accounts);
    });
}
