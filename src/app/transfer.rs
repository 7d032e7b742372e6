//! Import, export and automatic backups in the GUI, over tessera-core's `transfer` module.
//!
//! Import reads and decrypts the file off the UI thread, shows a preview (what was found, what
//! could not be read, what is already in the vault) and writes the vault once, only when the
//! user confirms. Export asks for the vault password again first. Backups live in Settings:
//! turning them on writes the first backup (and refuses if that fails); every later save
//! writes one, and a failure shows as a banner without blocking the save.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use tessera_core::transfer::backup::{self, BackupCheck, DEFAULT_KEEP};
use tessera_core::transfer::{
    Format, ImportProblem, ImportReport, ImportedAccount, TransferError, export, import,
};
use zeroize::Zeroizing;

use crate::state::{Shared, State, background};
use crate::store::{BackupOutcome, BackupSettings, OpenVault};
use crate::{
    AppAdapter, AppWindow, BackupNotice, ExportNotice, ImportError, ImportProblemRow, Screen,
    Toast, TransferAdapter,
};

/// The export formats offered, in the order of the view's list.
const EXPORT_FORMATS: [Format; 4] =
    [Format::Aegis, Format::TwoFas, Format::GoogleMigration, Format::UriList];

/// Shortest export or backup password accepted (the same rule as the vault's).
const MIN_PASSWORD_CHARS: usize = crate::unlock::MIN_PASSWORD_CHARS;

/// Shows a save's backup outcome: a failure raises the banner, a success clears it.
pub(crate) fn show_backup_outcome(ui: &AppWindow, outcome: Option<&BackupOutcome>) {
    let app = ui.global::<AppAdapter>();
    match outcome {
        Some(BackupOutcome::Failed(reason)) => app.set_backup_problem(reason.as_str().into()),
        Some(BackupOutcome::Written(_)) => app.set_backup_problem(SharedString::new()),
        None => {}
    }
    let adapter = ui.global::<TransferAdapter>();
    match outcome {
        Some(BackupOutcome::Failed(reason)) => {
            adapter.set_backup_notice(BackupNotice::Failed);
            adapter.set_backup_detail(reason.as_str().into());
        }
        Some(BackupOutcome::Written(path)) => {
            adapter.set_backup_notice(BackupNotice::Written);
            adapter.set_backup_detail(path.display().to_string().into());
        }
        None => {}
    }
}

/// Fills the Backups section of Settings from the open vault.
pub(crate) fn show_backups(state: &State, ui: &AppWindow) {
    let adapter = ui.global::<TransferAdapter>();
    let settings = state.vault.as_ref().and_then(|v| v.backup());
    adapter.set_backup_on(settings.is_some());
    adapter.set_backup_busy(false);
    adapter.set_verify_lines(ModelRc::default());
    match &settings {
        Some(s) => {
            adapter.set_backup_folder(s.folder.display().to_string().into());
            adapter.set_backup_keep(i32::try_from(s.keep).unwrap_or(i32::MAX));
        }
        None => {
            adapter.set_backup_folder(SharedString::new());
            adapter.set_backup_keep(i32::try_from(DEFAULT_KEEP).unwrap_or(10));
        }
    }
    let last = state.vault.as_ref().and_then(|v| v.last_backup());
    adapter.set_backup_notice(BackupNotice::None);
    show_backup_outcome(ui, last.as_ref());
}

fn accounts_of(state: &State) -> Vec<ImportedAccount> {
    state.entries().iter().map(ImportedAccount::from).collect()
}

fn problem_row(problem: &ImportProblem) -> ImportProblemRow {
    ImportProblemRow {
        location: problem.location.as_str().into(),
        issuer: problem.issuer.as_deref().unwrap_or_default().into(),
        reason: problem.reason.as_str().into(),
    }
}

/// Reads and decodes the file (on a worker thread).
fn read_report(
    path: &Path,
    format: Option<Format>,
    password: Option<&str>,
) -> Result<ImportReport, TransferError> {
    let bytes = std::fs::read(path).map_err(|e| TransferError::Io {
        what: format!("cannot read {}", path.display()),
        reason: e.to_string(),
    })?;
    import(&bytes, format, password)
}

/// Writes `data` to `path` through a temporary file in the same folder, so that a failed
/// export never leaves half a file under the chosen name.
fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.tmp"));
    let result = std::fs::write(&temp, data).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn reset_import(ui: &AppWindow) {
    let adapter = ui.global::<TransferAdapter>();
    let mut formats = vec![adapter.get_automatic_label()];
    formats.extend(Format::ALL.iter().map(|f| SharedString::from(f.title())));
    adapter.set_import_formats(ModelRc::from(Rc::new(VecModel::from(formats))));
    let hints: Vec<SharedString> =
        Format::ALL.iter().map(|f| format!("{}: {}", f.title(), f.hint()).into()).collect();
    adapter.set_import_hints(ModelRc::from(Rc::new(VecModel::from(hints))));
    adapter.set_empty_reason(SharedString::new());
    adapter.set_import_busy(false);
    adapter.set_needs_password(false);
    adapter.set_import_error(ImportError::None);
    adapter.set_import_detail(SharedString::new());
    adapter.set_has_preview(false);
    adapter.set_problems(ModelRc::default());
}

/// Wires import, export and backups.
pub(crate) fn connect(window: &AppWindow, state: &Shared) {
    let adapter = window.global::<TransferAdapter>();
    // The file read and not yet confirmed: nothing touches the vault until `confirm-import`.
    let pending: Rc<RefCell<Option<ImportReport>>> = Rc::default();

    let s = state.clone();
    let p = Rc::clone(&pending);
    adapter.on_open_import(move || {
        let state = s.borrow();
        p.borrow_mut().take();
        if let Some(ui) = state.ui() {
            reset_import(&ui);
        }
        state.show(Screen::Import);
    });

    let s = state.clone();
    let p = Rc::clone(&pending);
    adapter.on_cancel_import(move || {
        p.borrow_mut().take();
        let state = s.borrow();
        if let Some(ui) = state.ui() {
            reset_import(&ui);
        }
        crate::settings::open(&state);
    });

    let s = state.clone();
    let p = Rc::clone(&pending);
    adapter.on_read_file(move |path, format, password| {
        {
            let mut state = s.borrow_mut();
            state.touch();
            let Some(ui) = state.ui() else { return };
            let adapter = ui.global::<TransferAdapter>();
            adapter.set_import_busy(true);
            adapter.set_import_error(ImportError::None);
        }
        let path = PathBuf::from(path.trim());
        let format = usize::try_from(format - 1).ok().and_then(|i| Format::ALL.get(i).copied());
        let password = Zeroizing::new(password.to_string());
        let p = Rc::clone(&p);
        background(
            &s,
            move || {
                let password = (!password.is_empty()).then_some(password.as_str());
                read_report(&path, format, password)
            },
            move |state: &mut State, result: Result<ImportReport, TransferError>| {
                let Some(ui) = state.ui() else { return };
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_import_busy(false);
                let mut report = match result {
                    Ok(report) => report,
                    Err(error) => {
                        let kind = match &error {
                            TransferError::PasswordRequired { .. } => ImportError::PasswordRequired,
                            TransferError::WrongPassword { .. } => ImportError::WrongPassword,
                            _ => ImportError::Unreadable,
                        };
                        if kind != ImportError::Unreadable {
                            adapter.set_needs_password(true);
                        }
                        adapter.set_import_error(kind);
                        adapter.set_import_detail(error.to_string().into());
                        return;
                    }
                };
                let before = report.problems.len();
                report.skip_duplicates(
                    state
                        .entries()
                        .iter()
                        .map(|e| (&e.otp.secret, e.issuer.as_str(), e.account.as_str())),
                );
                let duplicates = report.problems.len() - before;
                let rows: Vec<ImportProblemRow> = report.problems.iter().map(problem_row).collect();
                adapter.set_found(i32::try_from(report.accounts.len()).unwrap_or(i32::MAX));
                adapter.set_found_format(report.format.title().into());
                adapter.set_duplicates(i32::try_from(duplicates).unwrap_or(i32::MAX));
                adapter.set_empty_reason(report.why_empty().unwrap_or_default().into());
                adapter.set_problems(ModelRc::from(Rc::new(VecModel::from(rows))));
                adapter.set_has_preview(true);
                *p.borrow_mut() = Some(report);
            },
        );
    });

    let s = state.clone();
    let p = Rc::clone(&pending);
    adapter.on_confirm_import(move || {
        let Some(report) = p.borrow_mut().take() else { return };
        let mut state = s.borrow_mut();
        state.touch();
        let now = state.now();
        let Some(vault) = state.vault.as_mut() else { return };
        let count = report.accounts.len();
        let entries = vault.entries_mut();
        let old_len = entries.len();
        entries.extend(report.accounts.into_iter().map(|a| a.into_entry(now)));
        // One save for the whole import; if it fails, the vault in memory goes back too.
        if let Err(error) = vault.save() {
            vault.entries_mut().truncate(old_len);
            if let Some(ui) = state.ui() {
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_has_preview(false);
                adapter.set_import_error(ImportError::SaveFailed);
                adapter.set_import_detail(error.to_string().into());
            }
            return;
        }
        state.note_backup();
        state.refresh_rows();
        if let Some(ui) = state.ui() {
            reset_import(&ui);
        }
        state.show(Screen::Accounts);
        state.toast(Toast::Saved, &count.to_string());
    });

    connect_export(window, state);
    connect_backups(window, state);
}

fn connect_export(window: &AppWindow, state: &Shared) {
    let adapter = window.global::<TransferAdapter>();

    let s = state.clone();
    adapter.on_open_export(move || {
        let state = s.borrow();
        let Some(ui) = state.ui() else { return };
        let adapter = ui.global::<TransferAdapter>();
        let has_password = state.vault.as_ref().is_some_and(|v| v.summary().has_password);
        adapter.set_export_needs_auth(has_password);
        adapter.set_export_busy(false);
        adapter.set_export_notice(ExportNotice::None);
        adapter.set_unexported(ModelRc::default());
        state.show(Screen::Export);
    });

    let s = state.clone();
    adapter.on_cancel_export(move || {
        let state = s.borrow();
        if let Some(ui) = state.ui() {
            // Leaving the screen drops the re-authentication.
            ui.global::<TransferAdapter>().set_export_needs_auth(true);
        }
        crate::settings::open(&state);
    });

    let s = state.clone();
    adapter.on_authenticate(move |password| {
        let vault = {
            let mut state = s.borrow_mut();
            state.touch();
            let Some(ui) = state.ui() else { return };
            let Some(vault) = state.vault.take() else { return };
            let adapter = ui.global::<TransferAdapter>();
            adapter.set_export_busy(true);
            adapter.set_export_notice(ExportNotice::None);
            vault
        };
        let password = Zeroizing::new(password.to_string());
        background(
            &s,
            move || {
                let ok = vault.verify_password(&password);
                (vault, ok)
            },
            move |state: &mut State, (vault, ok): (Box<dyn OpenVault>, bool)| {
                state.vault = Some(vault);
                let Some(ui) = state.ui() else { return };
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_export_busy(false);
                if ok {
                    adapter.set_export_needs_auth(false);
                } else {
                    adapter.set_export_notice(ExportNotice::WrongPassword);
                }
            },
        );
    });

    let s = state.clone();
    adapter.on_export(move |format, password, repeat, plain, destination| {
        let accounts = {
            let mut state = s.borrow_mut();
            state.touch();
            let Some(ui) = state.ui() else { return };
            let adapter = ui.global::<TransferAdapter>();
            if adapter.get_export_needs_auth() {
                return;
            }
            if !plain {
                let problem = if password.chars().count() < MIN_PASSWORD_CHARS {
                    ExportNotice::TooShort
                } else if password != repeat {
                    ExportNotice::Differ
                } else {
                    ExportNotice::None
                };
                if problem != ExportNotice::None {
                    adapter.set_export_notice(problem);
                    return;
                }
            }
            adapter.set_export_busy(true);
            adapter.set_export_notice(ExportNotice::None);
            adapter.set_unexported(ModelRc::default());
            accounts_of(&state)
        };
        let format = usize::try_from(format)
            .ok()
            .and_then(|i| EXPORT_FORMATS.get(i).copied())
            .unwrap_or(Format::Aegis);
        let password = Zeroizing::new(password.to_string());
        let path = PathBuf::from(destination.trim());
        background(
            &s,
            move || {
                let written = export(&accounts, format, (!plain).then_some(password.as_str()))
                    .map_err(|e| e.to_string())?;
                write_file(&path, &written.data)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                let lines: Vec<SharedString> = written
                    .unexported
                    .iter()
                    .map(|u| format!("{}: {}", u.label, u.reason).into())
                    .collect();
                Ok((accounts.len() - lines.len(), path, lines))
            },
            move |state: &mut State,
                  result: Result<(usize, PathBuf, Vec<SharedString>), String>| {
                let Some(ui) = state.ui() else { return };
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_export_busy(false);
                match result {
                    Ok((count, path, lines)) => {
                        adapter.set_export_notice(ExportNotice::Done);
                        adapter.set_export_count(i32::try_from(count).unwrap_or(i32::MAX));
                        adapter.set_export_detail(path.display().to_string().into());
                        adapter.set_unexported(ModelRc::from(Rc::new(VecModel::from(lines))));
                    }
                    Err(detail) => {
                        adapter.set_export_notice(ExportNotice::Failed);
                        adapter.set_export_detail(detail.into());
                    }
                }
            },
        );
    });
}

fn check_lines(check: &BackupCheck) -> Vec<SharedString> {
    let missing = check.missing.iter().map(|l| format!("− {l}"));
    let extra = check.extra.iter().map(|l| format!("+ {l}"));
    let changed = check.changed.iter().map(|l| format!("≠ {l}"));
    missing.chain(extra).chain(changed).map(SharedString::from).collect()
}

fn connect_backups(window: &AppWindow, state: &Shared) {
    let adapter = window.global::<TransferAdapter>();

    let s = state.clone();
    adapter.on_turn_on_backups(move |folder, keep, password, repeat| {
        let vault = {
            let mut state = s.borrow_mut();
            state.touch();
            let Some(ui) = state.ui() else { return };
            let adapter = ui.global::<TransferAdapter>();
            adapter.set_verify_lines(ModelRc::default());
            let problem = if folder.trim().is_empty() {
                BackupNotice::NoFolder
            } else if password.chars().count() < MIN_PASSWORD_CHARS {
                BackupNotice::TooShort
            } else if password != repeat {
                BackupNotice::Differ
            } else {
                BackupNotice::None
            };
            adapter.set_backup_notice(problem);
            if problem != BackupNotice::None {
                return;
            }
            let Some(vault) = state.vault.take() else { return };
            adapter.set_backup_busy(true);
            vault
        };
        let settings = BackupSettings {
            folder: PathBuf::from(folder.trim()),
            keep: usize::try_from(keep).unwrap_or(DEFAULT_KEEP).max(1),
            password: Zeroizing::new(password.to_string()),
        };
        background(
            &s,
            move || {
                let mut vault = vault;
                let result = turn_on(vault.as_mut(), settings);
                (vault, result)
            },
            move |state: &mut State, (vault, result): (Box<dyn OpenVault>, Result<(), String>)| {
                state.vault = Some(vault);
                let Some(ui) = state.ui() else { return };
                show_backups(state, &ui);
                if let Err(reason) = result {
                    let adapter = ui.global::<TransferAdapter>();
                    adapter.set_backup_notice(BackupNotice::FirstFailed);
                    adapter.set_backup_detail(reason.into());
                }
            },
        );
    });

    let s = state.clone();
    adapter.on_turn_off_backups(move || {
        let mut state = s.borrow_mut();
        state.touch();
        let Some(vault) = state.vault.as_mut() else { return };
        let previous = vault.backup();
        if vault.set_backup(None).is_err() {
            return;
        }
        if !state.save() {
            if let Some(vault) = state.vault.as_mut() {
                let _ = vault.set_backup(previous);
            }
            return;
        }
        let Some(ui) = state.ui() else { return };
        show_backups(&state, &ui);
        ui.global::<AppAdapter>().set_backup_problem(SharedString::new());
        ui.global::<TransferAdapter>().set_backup_notice(BackupNotice::TurnedOff);
    });

    let s = state.clone();
    adapter.on_verify_backup(move || {
        let (accounts, settings) = {
            let mut state = s.borrow_mut();
            state.touch();
            let Some(settings) = state.vault.as_ref().and_then(|v| v.backup()) else { return };
            let Some(ui) = state.ui() else { return };
            let adapter = ui.global::<TransferAdapter>();
            adapter.set_backup_busy(true);
            adapter.set_backup_notice(BackupNotice::None);
            adapter.set_verify_lines(ModelRc::default());
            (accounts_of(&state), settings)
        };
        background(
            &s,
            move || backup::verify_backup(&accounts, &settings.folder, &settings.password),
            move |state: &mut State, result: Result<BackupCheck, TransferError>| {
                let Some(ui) = state.ui() else { return };
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_backup_busy(false);
                match result {
                    Ok(check) if check.matches() => {
                        adapter.set_backup_notice(BackupNotice::VerifyMatch);
                        adapter.set_backup_detail(check.path.display().to_string().into());
                    }
                    Ok(check) => {
                        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
                        adapter.set_verify_missing(count(check.missing.len()));
                        adapter.set_verify_extra(count(check.extra.len()));
                        adapter.set_verify_changed(count(check.changed.len()));
                        adapter.set_backup_detail(check.path.display().to_string().into());
                        adapter.set_verify_lines(ModelRc::from(Rc::new(VecModel::from(
                            check_lines(&check),
                        ))));
                        adapter.set_backup_notice(BackupNotice::VerifyDiffers);
                    }
                    Err(error) => {
                        adapter.set_backup_notice(BackupNotice::VerifyFailed);
                        adapter.set_backup_detail(error.to_string().into());
                    }
                }
            },
        );
    });
}

/// Turns backups on and saves, which writes the first backup; if that backup fails, turns
/// them off again (and saves that), so backups are never on without a good first copy.
fn turn_on(vault: &mut dyn OpenVault, settings: BackupSettings) -> Result<(), String> {
    let previous = vault.backup();
    vault.set_backup(Some(settings)).map_err(|e| e.to_string())?;
    if let Err(error) = vault.save() {
        let _ = vault.set_backup(previous);
        return Err(error.to_string());
    }
    match vault.last_backup() {
        Some(BackupOutcome::Written(_)) => Ok(()),
        outcome => {
            let reason = match outcome {
                Some(BackupOutcome::Failed(reason)) => reason,
                _ => "no backup was written".to_owned(),
            };
            let _ = vault.set_backup(previous);
            // The settings must not stay on disk; if this save fails too, the next one
            // (any change) writes them off.
            let _ = vault.save();
            Err(reason)
        }
    }
}
