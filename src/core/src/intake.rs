//! Intake: the one path by which accounts enter the vault from links, QR codes and keys.
//!
//! `tessera add URI`, `tessera scan --add`, `tessera add` with a push link and the app's
//! "Scan QR code" screen all hand what they read to an [`Intake`], ask it for a [`Plan`]
//! against the vault's content, and store the plan with [`apply`] in one save. So the same
//! payload gives the same result everywhere: before this module a Tessera-server enrolment QR
//! enrolled push approvals through `tessera add` and the app, but `tessera scan --add` kept
//! only its TOTP codes and silently dropped the push enrolment.
//!
//! Rules kept here:
//! - an account already in the vault (same secret, issuer and account name:
//!   [`crate::account::Account::is_same_account`]) is listed as a duplicate, never added twice,
//!   and the same account read twice in one intake is added once;
//! - a push enrolment (privacyIDEA's `otpauth://pipush/...`, or a Tessera server's
//!   `otpauth://totp/...#push=tessera1...`, which carries TOTP codes too) is offered only when
//!   it was read on its own: it costs a network round trip and a single-use credential, so it
//!   must never be set up as a side effect of adding a page of other codes; read among other
//!   codes it is a [`Problem::PushAmongOthers`], and nothing of it is added;
//! - a push enrolment already in the vault, or whose codes are, is refused before the server
//!   is contacted (its credential is single-use);
//! - Google Authenticator export parts are collected across reads; missing parts are named.
//!
//! Nothing here touches the network or the clock: the caller finishes a [`PushOffer`] with
//! its push backend (`PushBackend::enrol`) and passes the resulting account to [`apply`].

use crate::account::{self, Account};
use crate::icons;
use crate::otp::OtpKind;
use crate::push::{PushAccount, PushBackendKind, PushEnrolment, PushError, tessera};
use crate::uri::{self, MigrationSet, OtpUri, Payload, Skipped, UriError};
use crate::vault::{Entry, Vault, VaultContent};

/// What was read so far: links and QR payloads, in the order they came.
#[derive(Debug, Default, Clone)]
pub struct Intake {
    accounts: Vec<OtpUri>,
    migration: Option<MigrationSet>,
    pushes: Vec<Found>,
    problems: Vec<Problem>,
}

/// A push enrolment as read, before it is checked against the vault.
#[derive(Debug, Clone)]
enum Found {
    /// privacyIDEA's `otpauth://pipush/...`.
    PrivacyIdea(PushEnrolment),
    /// A Tessera server's enrolment and the TOTP account the same QR code carries.
    Tessera(PushEnrolment, OtpUri),
}

impl Found {
    fn label(&self) -> String {
        match self {
            Self::PrivacyIdea(e) => push_label(e),
            Self::Tessera(_, codes) => codes.label(),
        }
    }
}

/// Why something read could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The text is not an authenticator account, or a damaged one.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// A push enrolment link whose push parameters are unusable.
    #[error("{0}")]
    BadPushEnrolment(String),
    /// A push enrolment read together with other codes.
    #[error("{name} is a push-login enrolment; scan or add it on its own to set up push approvals")]
    PushAmongOthers {
        /// Who the enrolment is for.
        name: String,
    },
    /// The push enrolment is already set up on this device.
    #[error("the push account {serial} is already enrolled on this device")]
    PushEnrolled {
        /// The device id or token serial.
        serial: String,
    },
}

/// A push enrolment waiting for the user's go-ahead (the caller contacts the server).
#[derive(Debug, Clone)]
pub struct PushOffer {
    /// Which backend speaks to this server.
    pub kind: PushBackendKind,
    /// What the server needs to finish the enrolment.
    pub enrolment: PushEnrolment,
    /// The TOTP account a Tessera enrolment also carries, added in the same save.
    pub codes: Option<OtpUri>,
}

impl PushOffer {
    /// Returns who the enrolment is for: "Issuer (label)", or whichever is present, or the
    /// serial.
    pub fn name(&self) -> String {
        push_label(&self.enrolment)
    }
}

fn push_label(e: &PushEnrolment) -> String {
    let label = if e.label == e.serial { "" } else { e.label.as_str() };
    match (e.issuer.is_empty(), label.is_empty()) {
        (true, true) => e.serial.clone(),
        _ => account::label(&e.issuer, label),
    }
}

/// What an intake would do to the vault.
#[derive(Debug, Default)]
pub struct Plan {
    /// New accounts, in the order read, each once.
    pub accounts: Vec<OtpUri>,
    /// Labels of accounts that are already in the vault.
    pub duplicates: Vec<String>,
    /// A push enrolment read on its own, not yet set up here.
    pub push: Option<PushOffer>,
    /// What could not be added, in the order read.
    pub problems: Vec<Problem>,
    /// Export parts (1-based) not read yet, when a Google export is incomplete.
    pub missing_parts: Vec<i32>,
    /// Total parts of the Google export read (0 if none).
    pub export_parts: i32,
    /// Accounts of a Google export that cannot be used, with the reason.
    pub skipped: Vec<Skipped>,
    /// The one account read, when it was read on its own (no export, no push enrolment) and
    /// the add form can show it for checking (TOTP or HOTP; Steam accounts have no form
    /// fields of their own). It may be a duplicate: the form says so as the user checks it.
    pub form: Option<OtpUri>,
}

impl Plan {
    /// Returns true if the plan adds nothing and offers nothing.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.push.is_none()
    }
}

impl Intake {
    /// Returns an empty intake.
    pub fn new() -> Self {
        Self::default()
    }

    /// Classifies scanned or pasted text (see [`uri::classify`]) and takes what it holds.
    pub fn read_text(&mut self, text: &str) {
        self.read(uri::classify(text));
    }

    /// Takes one classified payload.
    pub fn read(&mut self, payload: Result<Payload, UriError>) {
        match payload {
            Ok(Payload::Account(account)) => {
                match tessera::TesseraEnrolment::from_extra(&account.extra) {
                    None => self.accounts.push(account),
                    Some(Ok(found)) => {
                        let enrolment = found.to_enrolment(&account.issuer, &account.account);
                        self.pushes.push(Found::Tessera(enrolment, account));
                    }
                    Some(Err(err)) => {
                        self.problems.push(Problem::BadPushEnrolment(err.to_string()));
                    }
                }
            }
            Ok(Payload::Migration(batch)) => {
                if let Err(err) = self.migration.get_or_insert_with(MigrationSet::new).add(batch) {
                    self.problems.push(err.into());
                }
            }
            Ok(Payload::PushEnrolment(raw)) => match PushEnrolment::from_uri(&raw) {
                Ok(enrolment) => self.pushes.push(Found::PrivacyIdea(enrolment)),
                Err(err) => self.problems.push(Problem::BadPushEnrolment(err.to_string())),
            },
            Err(err) => self.problems.push(err.into()),
        }
    }

    /// Takes an account typed in by hand (the "Account secret key" form, `tessera add
    /// --secret`).
    pub fn read_account(&mut self, account: OtpUri) {
        self.read(Ok(Payload::Account(account)));
    }

    /// Returns the problems met so far (before the vault is consulted).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Returns what adding everything read to `content` would do.
    pub fn plan(&self, content: &VaultContent) -> Plan {
        self.plan_against(&content.entries, &content.push_accounts)
    }

    /// Returns what adding everything read to a vault holding `entries` and `push_accounts`
    /// would do.
    pub fn plan_against(&self, entries: &[Entry], push_accounts: &[PushAccount]) -> Plan {
        let mut plan = Plan { problems: self.problems.clone(), ..Plan::default() };
        if let ([one], None, []) =
            (self.accounts.as_slice(), &self.migration, self.pushes.as_slice())
            && one.otp.kind != OtpKind::Steam
        {
            plan.form = Some(one.clone());
        }
        if let Some(set) = &self.migration {
            plan.export_parts = set.batch_size();
            plan.missing_parts = set.missing().iter().map(|i| i + 1).collect();
            plan.skipped = set.skipped().map(|(_, s)| s.clone()).collect();
        }
        let migrated = self.migration.iter().flat_map(MigrationSet::accounts);
        for account in self.accounts.iter().chain(migrated) {
            if let Some(existing) = account::find_same(entries, account) {
                plan.duplicates.push(existing.label());
            } else if account::find_same(&plan.accounts, account).is_none() {
                plan.accounts.push(account.clone());
            }
        }
        let alone = self.pushes.len() == 1 && plan.accounts.is_empty() && self.migration.is_none();
        for found in &self.pushes {
            if !alone {
                plan.problems.push(Problem::PushAmongOthers { name: found.label() });
                continue;
            }
            let (kind, enrolment, codes) = match found {
                Found::PrivacyIdea(e) => (PushBackendKind::PrivacyIdea, e, None),
                Found::Tessera(e, codes) => (PushBackendKind::Tessera, e, Some(codes)),
            };
            if push_accounts.iter().any(|a| a.serial == enrolment.serial) {
                plan.problems.push(Problem::PushEnrolled { serial: enrolment.serial.clone() });
            } else if let Some(existing) = codes.and_then(|c| account::find_same(entries, c)) {
                plan.duplicates.push(existing.label());
            } else {
                plan.push =
                    Some(PushOffer { kind, enrolment: enrolment.clone(), codes: codes.cloned() });
            }
        }
        plan
    }
}

/// What [`apply`] stored.
#[derive(Debug, Default)]
pub struct Applied {
    /// Labels of the accounts added, in order.
    pub added: Vec<String>,
}

/// Adds `accounts` (and the push account finished from the plan's offer, with its codes) to
/// the vault, created at `now`, in one `save` (the front end's save step: the vault's own
/// save and whatever follows it, such as the automatic backup). On failure the vault is left
/// as it was.
pub fn apply<E>(
    vault: &mut Vault,
    accounts: Vec<OtpUri>,
    push: Option<(PushAccount, Option<OtpUri>)>,
    now: u64,
    save: impl FnOnce(&mut Vault) -> Result<(), E>,
) -> Result<Applied, E> {
    vault.commit_with(|content| add_to(content, accounts, push, now), save)
}

/// Adds to `content` what [`apply`] stores; for front ends that save on their own.
pub fn add_to(
    content: &mut VaultContent,
    accounts: Vec<OtpUri>,
    push: Option<(PushAccount, Option<OtpUri>)>,
    now: u64,
) -> Applied {
    let (push, codes) = match push {
        Some((push, codes)) => (Some(push), codes),
        None => (None, None),
    };
    let accounts = accounts.into_iter().chain(codes).collect();
    let entries = new_entries(&content.entries, accounts, now);
    let applied = Applied { added: entries.iter().map(Account::label).collect() };
    content.entries.extend(entries);
    content.push_accounts.extend(push);
    applied
}

/// Returns vault entries, created at `now`, for those of `accounts` that are neither in
/// `existing` nor earlier in `accounts`.
pub fn new_entries(existing: &[Entry], accounts: Vec<OtpUri>, now: u64) -> Vec<Entry> {
    let mut added: Vec<Entry> = Vec::new();
    for account in accounts {
        if account::find_same(existing, &account).is_none()
            && account::find_same(&added, &account).is_none()
        {
            let hints = icons::Hints::from_link(&account.issuer, &account.extra);
            let icon = icons::builtin_catalogue().choice_for_new(hints);
            let mut entry = Entry::new(account.issuer, account.account, account.otp, now);
            entry.icon = icon;
            added.push(entry);
        }
    }
    added
}

/// Returns an error for a push enrolment that cannot be used with this build.
pub fn unsupported_backend(kind: PushBackendKind) -> PushError {
    PushError::InvalidEnrolment(format!("this build of Tessera cannot talk to {kind} servers"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::{Algorithm, OtpParams, Secret};

    const KEY: &str = "JBSWY3DPEHPK3PXP";

    fn link(issuer: &str, account: &str) -> String {
        format!("otpauth://totp/{issuer}:{account}?secret={KEY}&issuer={issuer}")
    }

    fn content_with(links: &[&str]) -> VaultContent {
        let mut content = VaultContent::default();
        for text in links {
            let Ok(Payload::Account(a)) = uri::classify(text) else { panic!("{text}") };
            content.entries.push(Entry::new(a.issuer, a.account, a.otp, 0));
        }
        content
    }

    fn tessera_link(device: &str) -> String {
        format!(
            "otpauth://totp/Example%20Corp:alice?secret={KEY}&issuer=Example%20Corp\
             #push=tessera1&push_url=https%3A%2F%2Fpush.example&push_device={device}\
             &push_credential=0123456789abcdef0123456789abcdef&push_ttl=10"
        )
    }

    #[test]
    fn an_image_hint_names_the_icon_of_an_account_whose_issuer_matches_none() {
        let accounts: Vec<OtpUri> = [
            format!("otpauth://totp/ACME:me?secret={KEY}&issuer=ACME&image=https%3A%2F%2Fcdn.example%2Fgitlab.png"),
            format!("otpauth://totp/GitHub:me?secret={KEY}&issuer=GitHub&image=https%3A%2F%2Fcdn.example%2Fgitlab.png"),
            link("Nmbrs", "me"),
        ]
        .iter()
        .map(|text| match uri::classify(text) {
            Ok(Payload::Account(a)) => a,
            _ => panic!("{text}"),
        })
        .collect();
        let entries = new_entries(&[], accounts, 0);
        let icons: Vec<_> = entries.into_iter().map(|e| e.icon).collect();
        let gitlab = Some(icons::IconChoice::Builtin("gitlab".into()));
        assert_eq!(icons, [gitlab, None, None], "GitHub and Nmbrs stay automatic");
    }

    #[test]
    fn a_new_account_is_planned_and_one_in_the_vault_is_a_duplicate() {
        let content = content_with(&[&link("Visma", "me")]);
        let mut intake = Intake::new();
        intake.read_text(&link("Visma", "me"));
        intake.read_text(&link("Nmbrs", "me"));
        let plan = intake.plan(&content);
        assert_eq!(plan.duplicates, ["Visma (me)"]);
        assert_eq!(plan.accounts.len(), 1);
        assert_eq!(plan.accounts[0].label(), "Nmbrs (me)");
        assert!(plan.problems.is_empty());
        assert!(plan.form.is_none());
    }

    #[test]
    fn the_same_account_read_twice_is_planned_once() {
        let mut intake = Intake::new();
        intake.read_text(&link("Zoë Bank", "me"));
        intake.read_text(&link("Zoë Bank", "me"));
        assert_eq!(intake.plan(&VaultContent::default()).accounts.len(), 1);
    }

    #[test]
    fn text_that_is_not_an_account_is_a_specific_problem() {
        let mut intake = Intake::new();
        intake.read_text("https://example.com/login");
        let plan = intake.plan(&VaultContent::default());
        assert!(plan.is_empty());
        assert_eq!(plan.problems.len(), 1);
        assert_eq!(
            plan.problems[0].to_string(),
            "this QR code is a web link, not an authenticator account"
        );
    }

    #[test]
    fn a_tessera_enrolment_read_alone_is_offered_with_its_codes() {
        let mut intake = Intake::new();
        intake.read_text(&tessera_link("0a1b"));
        let plan = intake.plan(&VaultContent::default());
        let offer = plan.push.expect("offered");
        assert_eq!(offer.kind, PushBackendKind::Tessera);
        assert_eq!(offer.name(), "Example Corp (alice)");
        assert_eq!(offer.codes.expect("codes").label(), "Example Corp (alice)");
        assert!(plan.accounts.is_empty(), "the codes come with the offer, not on their own");
        assert!(plan.form.is_none());
    }

    #[test]
    fn a_push_enrolment_among_other_codes_is_a_problem_and_adds_nothing_of_it() {
        let mut intake = Intake::new();
        intake.read_text(&tessera_link("0a1b"));
        intake.read_text(&link("Visma", "me"));
        let plan = intake.plan(&VaultContent::default());
        assert!(plan.push.is_none());
        assert_eq!(plan.accounts.len(), 1);
        assert_eq!(
            plan.problems,
            [Problem::PushAmongOthers { name: "Example Corp (alice)".into() }]
        );
    }

    #[test]
    fn an_enrolment_whose_codes_are_in_the_vault_is_not_offered() {
        let content = content_with(&[&link("Example%20Corp", "alice")]);
        let mut intake = Intake::new();
        intake.read_text(&tessera_link("0a1b"));
        let plan = intake.plan(&content);
        assert!(plan.push.is_none());
        assert_eq!(plan.duplicates, ["Example Corp (alice)"]);
    }

    #[test]
    fn one_account_read_alone_goes_to_the_add_form_but_a_steam_account_does_not() {
        let otp = |kind| {
            OtpParams::new(kind, Secret::parse_base32(KEY).unwrap(), Algorithm::Sha1, 6, 30, 0)
                .unwrap()
        };
        let mut intake = Intake::new();
        intake.read_account(OtpUri {
            issuer: "Visma".into(),
            account: "me".into(),
            otp: otp(OtpKind::Totp),
            extra: Vec::new(),
        });
        assert!(intake.plan(&VaultContent::default()).form.is_some());
        let mut steam = Intake::new();
        steam.read_text(&format!("otpauth://steam/Steam:me?secret={KEY}"));
        let plan = steam.plan(&VaultContent::default());
        assert_eq!(plan.accounts.len(), 1);
        assert!(plan.form.is_none());
    }

    #[test]
    fn add_to_adds_the_planned_accounts_and_the_push_codes_once() {
        let mut content = VaultContent::default();
        let mut intake = Intake::new();
        intake.read_text(&link("Visma", "me"));
        let plan = intake.plan(&content);
        let twice = [plan.accounts.clone(), plan.accounts].concat();
        let applied = add_to(&mut content, twice, None, 7);
        assert_eq!(applied.added, ["Visma (me)"]);
        assert_eq!(content.entries.len(), 1);
        assert_eq!(content.entries[0].created, 7);
    }
}
