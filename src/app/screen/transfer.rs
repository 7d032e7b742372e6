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
    Export, Format, ImportProblem, ImportReport, ImportedAccount, TransferError, export, import,
    tessera_backup,
};
use zeroize::Zeroizing;

use tessera_core::transfer::backup::BackupOutcome;
use tessera_core::vault::policy::PasswordUse;
use tessera_core::vault::{BackupSettings, VaultError};

use super::{NewPasswordProblem, check_new_password, int, password_min};
use crate::model::vault::Unlocked;
use crate::model::{Event, Model, Notice, View};
use crate::task;
use crate::ui::{
    AppWindow, BackupNotice, ExportNotice, ImportError, ImportProblemRow, TransferAdapter,
};

/// The export formats offered, in the order of the view's list: Tessera's own backup first
/// (the one for keeping), then the formats for moving to another app.
const EXPORT_FORMATS: [Format; 5] = [
    Format::TesseraBackup,
    Format::Aegis,
    Format::TwoFas,
    Format::GoogleMigration,
    Format::UriList,
];

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Format(#[from] TransferError),
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
}

/// Why turning backups on failed.
#[derive(Debug, thiserror::Error)]
enum BackupError {
    #[error(transparent)]
    Save(#[from] VaultError),
    #[error("{0}")]
    FirstBackup(String),
}

/// Shows a save's backup outcome in the Backups section (the shell raises the banner).
fn show_backup_outcome(ui: &AppWindow, outcome: Option<&BackupOutcome>) {
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
fn show_backups(ui: &AppWindow, model: &Model) {
    let adapter = ui.global::<TransferAdapter>();
    let state = model.state();
    let vault = state.vault.as_ref();
    let settings = vault.and_then(|v| v.content().backup.clone());
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
    let last = vault.and_then(Unlocked::last_backup);
    adapter.set_backup_notice(BackupNotice::None);
    show_backup_outcome(ui, last);
}

fn accounts_of(model: &Model) -> Vec<ImportedAccount> {
    model.state().entries().iter().map(ImportedAccount::from).collect()
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
pub(crate) fn connect(window: &AppWindow, model: &Model) {
    let adapter = window.global::<TransferAdapter>();
    adapter.set_password_min(password_min(PasswordUse::File));
    // The file read and not yet confirmed: nothing touches the vault until `confirm-import`.
    let pending: Rc<RefCell<Option<ImportReport>>> = Rc::default();

    let m = model.downgrade();
    let handle = window.as_weak();
    let p = Rc::clone(&pending);
    adapter.on_open_import(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        p.borrow_mut().take();
        reset_import(&ui);
        model.show(View::Import);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    let p = Rc::clone(&pending);
    adapter.on_cancel_import(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        p.borrow_mut().take();
        reset_import(&ui);
        model.show(View::Settings);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    let p = Rc::clone(&pending);
    adapter.on_read_file(move |path, format, password| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let adapter = ui.global::<TransferAdapter>();
        adapter.set_import_busy(true);
        adapter.set_import_error(ImportError::None);
        let path = PathBuf::from(path.trim());
        let format = usize::try_from(format - 1).ok().and_then(|i| Format::ALL.get(i).copied());
        let password = Zeroizing::new(password.to_string());
        let p = Rc::clone(&p);
        let handle = ui.as_weak();
        let m = model.downgrade();
        task::run(
            model.background(),
            move || {
                let password = (!password.is_empty()).then_some(password.as_str());
                read_report(&path, format, password)
            },
            move |result: Result<ImportReport, TransferError>| {
                let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_import_busy(false);
                let mut report = match result {
                    Ok(report) => report,
                    Err(error) => {
                        let (kind, password_helps) = crate::notice::import_error(&error);
                        if password_helps {
                            adapter.set_needs_password(true);
                        }
                        adapter.set_import_error(kind);
                        adapter.set_import_detail(error.to_string().into());
                        return;
                    }
                };
                let before = report.problems.len();
                report.skip_duplicates(
                    model
                        .state()
                        .entries()
                        .iter()
                        .map(|e| (&e.otp.secret, e.issuer.as_str(), e.account.as_str())),
                );
                let duplicates = report.problems.len() - before;
                let rows: Vec<ImportProblemRow> = report.problems.iter().map(problem_row).collect();
                adapter.set_found(int(report.accounts.len()));
                adapter.set_found_format(report.format.title().into());
                adapter.set_duplicates(int(duplicates));
                adapter.set_empty_reason(report.why_empty().unwrap_or_default().into());
                adapter.set_problems(ModelRc::from(Rc::new(VecModel::from(rows))));
                adapter.set_has_preview(true);
                *p.borrow_mut() = Some(report);
            },
        );
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    let p = Rc::clone(&pending);
    adapter.on_confirm_import(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let Some(report) = p.borrow_mut().take() else { return };
        model.touch();
        let now = model.now();
        let count = report.accounts.len();
        // One save for the whole import; if it fails, the vault in memory stays as it was.
        let saved = {
            let mut state = model.state_mut();
            let clock = std::sync::Arc::clone(&state.deps.clock);
            let Some(vault) = state.vault.as_mut() else { return };
            vault.commit(&*clock, |content| {
                content.entries.extend(report.accounts.into_iter().map(|a| a.into_entry(now)));
            })
        };
        if let Err(error) = saved {
            let adapter = ui.global::<TransferAdapter>();
            adapter.set_has_preview(false);
            adapter.set_import_error(ImportError::SaveFailed);
            adapter.set_import_detail(error.to_string().into());
            return;
        }
        model.write_backup();
        model.rebuild_list();
        reset_import(&ui);
        model.show(View::Accounts);
        model.notice(Notice::Saved(count.to_string()));
    });

    connect_export(window, model);
    connect_backups(window, model);

    let handle = window.as_weak();
    model.subscribe(move |model, event| {
        let Some(ui) = handle.upgrade() else { return };
        match event {
            Event::Show(View::Settings) => show_backups(&ui, model),
            Event::Backup(outcome) => show_backup_outcome(&ui, Some(outcome)),
            _ => {}
        }
    });
}

fn connect_export(window: &AppWindow, model: &Model) {
    let adapter = window.global::<TransferAdapter>();

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_open_export(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        let adapter = ui.global::<TransferAdapter>();
        let has_password = model.state().vault.as_ref().is_some_and(|v| v.summary().has_password);
        adapter.set_export_needs_auth(has_password);
        adapter.set_export_busy(false);
        adapter.set_export_notice(ExportNotice::None);
        adapter.set_unexported(ModelRc::default());
        model.show(View::Export);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_cancel_export(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        // Leaving the screen drops the re-authentication.
        ui.global::<TransferAdapter>().set_export_needs_auth(true);
        model.show(View::Settings);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_authenticate(move |password| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        if !model.is_unlocked() {
            return;
        }
        let adapter = ui.global::<TransferAdapter>();
        adapter.set_export_busy(true);
        adapter.set_export_notice(ExportNotice::None);
        let password = Zeroizing::new(password.to_string());
        let handle = ui.as_weak();
        model.with_vault_off_thread(
            move |vault| vault.verify_password(&password),
            move |_, ok| {
                let Some(ui) = handle.upgrade() else { return };
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

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_export(move |format, password, repeat, plain, destination| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let adapter = ui.global::<TransferAdapter>();
        if adapter.get_export_needs_auth() {
            return;
        }
        if !plain && let Err(problem) = check_new_password(&password, &repeat, PasswordUse::File) {
            adapter.set_export_notice(match problem {
                NewPasswordProblem::TooShort => ExportNotice::TooShort,
                NewPasswordProblem::NeedsLetters => ExportNotice::NeedsLetters,
                NewPasswordProblem::Differ => ExportNotice::Differ,
            });
            return;
        }
        adapter.set_export_busy(true);
        adapter.set_export_notice(ExportNotice::None);
        adapter.set_unexported(ModelRc::default());
        let accounts = accounts_of(&model);
        let format = usize::try_from(format)
            .ok()
            .and_then(|i| EXPORT_FORMATS.get(i).copied())
            .unwrap_or(Format::TesseraBackup);
        // A Tessera backup holds the vault's entries as they are, at the vault's own cost.
        let own = (format == Format::TesseraBackup)
            .then(|| {
                let state = model.state();
                state.vault.as_ref().map(|v| (v.content().entries.clone(), v.backup_kdf()))
            })
            .flatten();
        let password = Zeroizing::new(password.to_string());
        let path = PathBuf::from(destination.trim());
        let handle = ui.as_weak();
        let m = model.downgrade();
        task::run(
            model.background(),
            move || {
                let written = match own {
                    Some((entries, kdf)) => Export {
                        format,
                        data: tessera_backup::write(&entries, &password, kdf)?,
                        unexported: Vec::new(),
                        recovery_left_out: Vec::new(),
                    },
                    None => export(&accounts, format, (!plain).then_some(password.as_str()))?,
                };
                write_file(&path, &written.data).map_err(|error| ExportError::Write {
                    path: path.display().to_string(),
                    error,
                })?;
                let mut lines: Vec<String> = written
                    .unexported
                    .iter()
                    .map(|u| format!("{}: {}", u.label, u.reason))
                    .collect();
                let count = accounts.len() - lines.len();
                lines.extend(
                    written.recovery_left_out.iter().map(|label| recovery_left_out_line(label)),
                );
                Ok::<_, ExportError>((count, path, lines))
            },
            move |result| {
                let Some(ui) = handle.upgrade() else { return };
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_export_busy(false);
                match result {
                    Ok((count, path, lines)) => {
                        if let Some(model) = m.upgrade() {
                            model.backup_reminder_copied();
                        }
                        let lines: Vec<SharedString> = lines.into_iter().map(Into::into).collect();
                        adapter.set_export_notice(ExportNotice::Done);
                        adapter.set_export_count(int(count));
                        adapter.set_export_detail(path.display().to_string().into());
                        adapter.set_unexported(ModelRc::from(Rc::new(VecModel::from(lines))));
                    }
                    Err(error) => {
                        adapter.set_export_notice(ExportNotice::Failed);
                        adapter.set_export_detail(error.to_string().into());
                    }
                }
            },
        );
    });
}

/// The line under an export for an account whose recovery codes the format cannot hold (in
/// English, like the core's reasons for accounts left out, shown in the same list).
fn recovery_left_out_line(label: &str) -> String {
    format!("{label}: recovery codes not included (the format has no place for them)")
}

fn check_lines(check: &BackupCheck) -> Vec<SharedString> {
    let missing = check.missing.iter().map(|l| format!("− {l}"));
    let extra = check.extra.iter().map(|l| format!("+ {l}"));
    let changed = check.changed.iter().map(|l| format!("≠ {l}"));
    missing.chain(extra).chain(changed).map(SharedString::from).collect()
}

fn connect_backups(window: &AppWindow, model: &Model) {
    let adapter = window.global::<TransferAdapter>();

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_turn_on_backups(move |folder, keep, password, repeat| {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let adapter = ui.global::<TransferAdapter>();
        adapter.set_verify_lines(ModelRc::default());
        let problem = if folder.trim().is_empty() {
            BackupNotice::NoFolder
        } else {
            match check_new_password(&password, &repeat, PasswordUse::File) {
                Ok(()) => BackupNotice::None,
                Err(NewPasswordProblem::TooShort) => BackupNotice::TooShort,
                Err(NewPasswordProblem::NeedsLetters) => BackupNotice::NeedsLetters,
                Err(NewPasswordProblem::Differ) => BackupNotice::Differ,
            }
        };
        adapter.set_backup_notice(problem);
        if problem != BackupNotice::None || !model.is_unlocked() {
            return;
        }
        adapter.set_backup_busy(true);
        let settings = BackupSettings {
            folder: PathBuf::from(folder.trim()),
            keep: usize::try_from(keep).unwrap_or(DEFAULT_KEEP).max(1),
            password: Zeroizing::new(password.to_string()),
        };
        let clock = std::sync::Arc::clone(&model.state().deps.clock);
        let handle = ui.as_weak();
        model.with_vault_off_thread(
            move |vault| turn_on(vault, &*clock, settings),
            move |model, result| {
                let Some(ui) = handle.upgrade() else { return };
                show_backups(&ui, model);
                if let Err(reason) = result {
                    let adapter = ui.global::<TransferAdapter>();
                    adapter.set_backup_notice(BackupNotice::FirstFailed);
                    adapter.set_backup_detail(reason.to_string().into());
                }
            },
        );
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_turn_off_backups(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        if model.commit(|content| content.backup = None).is_none() {
            return;
        }
        show_backups(&ui, &model);
        ui.global::<crate::ui::AppAdapter>().set_backup_problem(SharedString::new());
        ui.global::<TransferAdapter>().set_backup_notice(BackupNotice::TurnedOff);
    });

    let m = model.downgrade();
    let handle = window.as_weak();
    adapter.on_verify_backup(move || {
        let (Some(model), Some(ui)) = (m.upgrade(), handle.upgrade()) else { return };
        model.touch();
        let settings = model.state().vault.as_ref().and_then(|v| v.content().backup.clone());
        let Some(settings) = settings else { return };
        let adapter = ui.global::<TransferAdapter>();
        adapter.set_backup_busy(true);
        adapter.set_backup_notice(BackupNotice::None);
        adapter.set_verify_lines(ModelRc::default());
        let accounts = accounts_of(&model);
        let handle = ui.as_weak();
        task::run(
            model.background(),
            move || backup::verify_backup(&accounts, &settings.folder, &settings.password),
            move |result: Result<BackupCheck, TransferError>| {
                let Some(ui) = handle.upgrade() else { return };
                let adapter = ui.global::<TransferAdapter>();
                adapter.set_backup_busy(false);
                match result {
                    Ok(check) if check.matches() => {
                        adapter.set_backup_notice(BackupNotice::VerifyMatch);
                        adapter.set_backup_detail(check.path.display().to_string().into());
                    }
                    Ok(check) => {
                        adapter.set_verify_missing(int(check.missing.len()));
                        adapter.set_verify_extra(int(check.extra.len()));
                        adapter.set_verify_changed(int(check.changed.len()));
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
fn turn_on(
    vault: &mut Unlocked,
    clock: &dyn tessera_core::clock::Clock,
    settings: BackupSettings,
) -> Result<(), BackupError> {
    let previous = vault.content().backup.clone();
    vault.commit(clock, |content| content.backup = Some(settings))?;
    // Already off the UI thread (see the caller).
    match vault.write_pending_backup() {
        Some(BackupOutcome::Written(_)) => Ok(()),
        outcome => {
            let reason = match outcome {
                Some(BackupOutcome::Failed(reason)) => reason,
                _ => "no backup was written".to_owned(),
            };
            // The settings must not stay on disk; if this save fails too, the next one
            // (any change) writes them off. Backups are off again: nothing pending.
            let _ = vault.commit(clock, |content| content.backup = previous);
            let _ = vault.write_pending_backup();
            Err(BackupError::FirstBackup(reason))
        }
    }
}
