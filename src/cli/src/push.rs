//! `tessera push ...`: login requests from push accounts (privacyIDEA PUSH, poll-only),
//! listed and answered from the terminal, and the push half of `tessera add URI`.
//!
//! Every command polls the accounts itself (there is no daemon): `pending` and `approve`
//! see what the server holds at that moment. `watch` keeps polling on the core's schedule
//! (every 3 s, backing off on errors) and, on a terminal, asks for a decision. Decisions are
//! kept in the vault's push history. Every command that polls prints the notices a server
//! sends once ("A new device was enrolled for alice on ...").

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::intake::PushOffer;
use tessera_core::push::tessera::TesseraBackend;
use tessera_core::push::{
    Decision, PrivacyIdeaBackend, PushAccount, PushBackend, PushBackendKind, PushError, PushEvent,
    PushHistoryItem, PushRequest, PushSession, ScheduleConfig, describe_skew, random_seed,
};
use tessera_core::vault::{Vault, VaultError};

use super::CliError;
use super::session::Session;

/// The `push` subcommands.
#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// List login requests waiting for a decision.
    Pending {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting login request. If the account's server asked for the device to be
    /// unlocked, the vault password is asked for (or read from --password-file) even when
    /// the keyring opens the vault.
    Approve {
        /// The request id (or its first characters) from `tessera push pending`.
        id: String,
        /// The choice shown on the login screen, when the request asks for one.
        #[arg(long)]
        answer: Option<String>,
    },
    /// Deny a waiting login request.
    Deny {
        /// The request id (or its first characters) from `tessera push pending`.
        id: String,
        /// Report that you did not start this login (someone else knows your password).
        #[arg(long)]
        not_me: bool,
    },
    /// Print requests as they arrive; on a terminal, ask for each decision.
    Watch,
    /// List the enrolled push accounts.
    Accounts {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove a push account from this device (its device key is deleted with it).
    Remove {
        /// The account's serial (or its first characters) from `tessera push accounts`.
        serial: String,
    },
    /// Show past requests and the decisions taken (newest last).
    History {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn backend() -> Result<PrivacyIdeaBackend, CliError> {
    Ok(PrivacyIdeaBackend::new()?)
}

/// Both backends; `long_poll` is how long a Tessera server may hold a poll, in seconds.
fn backends(long_poll: u64) -> Result<Vec<Box<dyn PushBackend>>, CliError> {
    Ok(vec![Box::new(backend()?), Box::new(TesseraBackend::new()?.with_long_poll(long_poll))])
}

/// Finishes a push enrolment offered by `tessera add` or `tessera scan --add`: creates the
/// device key and registers it with the server, and returns the push account for the caller
/// to store (with a Tessera enrolment's codes) in one save. This command is the scan: the
/// link's time-to-live counts from `now`.
pub fn enrol_offer(offer: &PushOffer, now: u64) -> Result<PushAccount, CliError> {
    let enrolment = &offer.enrolment;
    if enrolment.insecure_transport() {
        eprintln!(
            "warning: the connection to {} is not protected by a checked certificate \
             (plain HTTP or sslverify=0); allowed only because the server is on this computer",
            enrolment.server()
        );
    }
    let finished = match offer.kind {
        PushBackendKind::PrivacyIdea => backend()?.enrol(enrolment, now, SystemClock.now()),
        PushBackendKind::Tessera => TesseraBackend::new()?.enrol(enrolment, now, SystemClock.now()),
    };
    Ok(finished?)
}

/// Returns how `tessera push accounts` names a push account: its serial and issuer (and its
/// label when that is not the serial).
pub fn account_name(account: &PushAccount) -> String {
    if account.label == account.serial {
        format!("{} ({})", account.serial, account.issuer)
    } else {
        format!("{} ({}, {})", account.serial, account.issuer, account.label)
    }
}

/// Runs one `tessera push` subcommand.
pub fn run(session: &Session, command: PushCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let clock = SystemClock;
    let mut vault = session.open()?;
    match command {
        PushCommand::Accounts { json } => return accounts(&vault, json, out),
        PushCommand::History { json } => return history(&vault, json, out),
        PushCommand::Remove { serial } => return remove(&mut vault, &serial, out),
        _ => {}
    }
    let accounts = vault.content().push_accounts.clone();
    if accounts.is_empty() {
        return Err(CliError::new("there are no push accounts")
            .hint("add one with `tessera add 'otpauth://...'` (the link in the QR code)"));
    }
    // `watch` without a terminal only prints: let a Tessera server hold each poll (long-poll,
    // a prompt arrives at once); interactive watching keeps polls short so replies are sent
    // without waiting for a poll to return.
    let long_poll = match command {
        PushCommand::Watch if !std::io::stdin().is_terminal() => {
            tessera_core::push::tessera::MAX_WAIT_SECONDS
        }
        PushCommand::Watch => 2,
        _ => 0,
    };
    let mut push = PushSession::new(backends(long_poll)?, ScheduleConfig::default(), random_seed());
    for account in accounts {
        push.add_account(account, clock.now_millis());
    }
    let mut err = std::io::stderr();
    match command {
        PushCommand::Pending { json } => {
            // Reading needs no lock: let other commands use the vault while we poll.
            drop(vault);
            pending(&mut push, json, &clock, out, &mut err)
        }
        PushCommand::Approve { id, answer } => {
            let approve = Decision::Approve { answer };
            decide(session, &mut push, &id, approve, &mut vault, &clock, out, &mut err)
        }
        PushCommand::Deny { id, not_me } => {
            let decision = if not_me { Decision::NotMe } else { Decision::Deny };
            decide(session, &mut push, &id, decision, &mut vault, &clock, out, &mut err)
        }
        PushCommand::Watch => {
            // Hold the lock only while saving a decision, so other commands keep working.
            vault.release_lock();
            watch(&mut push, &mut vault, &clock, out, &mut err)
        }
        PushCommand::Accounts { .. } | PushCommand::History { .. } | PushCommand::Remove { .. } => {
            Ok(())
        }
    }
}

fn print_json(value: &serde_json::Value, out: &mut dyn Write) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(format!("cannot write JSON: {e}")))?;
    writeln!(out, "{text}").map_err(|e| CliError::new(format!("cannot write output: {e}")))
}

/// `tessera push accounts`: what is enrolled, never the keys.
fn accounts(vault: &Vault, as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let accounts = &vault.content().push_accounts;
    if as_json {
        let list: Vec<_> = accounts
            .iter()
            .map(|a| {
                json!({
                    "serial": a.serial, "backend": a.backend, "issuer": a.issuer,
                    "label": a.label, "server": a.server(), "url": a.url,
                    "sslverify": a.sslverify, "enrolled_at": a.enrolled_at,
                })
            })
            .collect();
        return print_json(&serde_json::Value::Array(list), out);
    }
    if accounts.is_empty() {
        let _ = writeln!(out, "no push accounts");
    }
    for a in accounts {
        let warning =
            if a.sslverify { "" } else { " (certificate checks off: this computer only)" };
        let _ =
            writeln!(out, "{} ({}, {}) at {}{warning}", a.serial, a.issuer, a.backend, a.server());
    }
    Ok(())
}

/// `tessera push remove`: forgets a push account and its device key. The server still lists
/// the device until the service removes it (neither protocol lets a device unenrol itself);
/// its requests simply go unanswered and expire.
fn remove(vault: &mut Vault, serial: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let index = find_account(&vault.content().push_accounts, serial)?;
    let account = vault.content_mut().push_accounts.remove(index);
    super::session::save(vault)?;
    let _ = writeln!(
        out,
        "removed push account {} ({}) at {}; ask the service to remove this device too",
        account.serial,
        account.issuer,
        account.server()
    );
    Ok(())
}

/// Finds the one push account whose serial is `serial` or starts with it.
fn find_account(accounts: &[PushAccount], serial: &str) -> Result<usize, CliError> {
    if let Some(exact) = accounts.iter().position(|a| a.serial == serial) {
        return Ok(exact);
    }
    let matches: Vec<usize> = accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| !serial.is_empty() && a.serial.starts_with(serial))
        .map(|(i, _)| i)
        .collect();
    let shown: String = serial.chars().take(40).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(CliError::new(format!("no push account matches {shown:?}"))
            .hint("`tessera push accounts` lists them; nothing was removed")),
        _ => Err(CliError::new(format!("{shown:?} matches more than one push account"))
            .hint("give more characters of the serial; nothing was removed")),
    }
}

/// `tessera push history`: past requests and decisions.
fn history(vault: &Vault, as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let items = &vault.content().push_history;
    if as_json {
        let value = serde_json::to_value(items)
            .map_err(|e| CliError::new(format!("cannot write JSON: {e}")))?;
        return print_json(&value, out);
    }
    if items.is_empty() {
        let _ = writeln!(out, "no push history");
    }
    for item in items {
        let decision =
            item.decision.as_ref().map_or_else(|| "expired".to_owned(), ToString::to_string);
        let _ = writeln!(
            out,
            "{} {decision}: {}: {} ({} at {})",
            tessera_core::push::format_utc(item.decided_at),
            item.title,
            item.question,
            item.serial,
            item.server
        );
    }
    Ok(())
}

/// Appends a decision to the vault's push history and saves, picking up what other
/// processes saved meanwhile.
fn record(vault: &mut Vault, item: PushHistoryItem) -> Result<(), CliError> {
    vault.reload()?;
    vault.content_mut().push_history.push(item);
    super::session::save(vault)?;
    Ok(())
}

/// Polls every account once; reports failures as warnings, and fails only if every account
/// failed (so one server being down does not hide another's requests).
fn poll_once(
    session: &mut PushSession,
    clock: &dyn Clock,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let total = session.accounts().count();
    let mut failures = Vec::new();
    for event in session.poll_all(clock.now_millis()) {
        if let PushEvent::Failed { error, serial, .. } = event {
            failures.push((serial, error));
        }
    }
    if failures.len() == total
        && let Some((_, error)) = failures.pop()
    {
        return Err(error.into());
    }
    for (serial, error) in failures {
        let _ = writeln!(err, "warning: {serial}: {error}");
    }
    Ok(())
}

/// Prints the notices the polls fetched ("a new device was enrolled for you"): the server
/// sends each one once, so every command that polls shows them.
fn show_notices(session: &mut PushSession, to: &mut dyn Write) {
    for notice in session.take_notices() {
        let _ = writeln!(to, "{}", notice.message());
    }
}

fn pending(
    session: &mut PushSession,
    as_json: bool,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    poll_once(session, clock, err)?;
    // `--json` output stays one JSON document: notices go to stderr there.
    show_notices(session, if as_json { err } else { out });
    let now = clock.now();
    let requests = session.pending().requests();
    let io = |e: std::io::Error| CliError::new(format!("cannot write output: {e}"));
    if as_json {
        let list: Vec<_> = requests.iter().map(|r| request_json(r, now)).collect();
        let text = serde_json::to_string_pretty(&list)
            .map_err(|e| CliError::new(format!("cannot write JSON: {e}")))?;
        writeln!(out, "{text}").map_err(io)?;
    } else if requests.is_empty() {
        writeln!(out, "no login requests waiting").map_err(io)?;
    } else {
        for request in requests {
            writeln!(out, "{}", describe(request, now)).map_err(io)?;
        }
    }
    Ok(())
}

/// The JSON shape of a request in `tessera push pending --json`.
fn request_json(r: &PushRequest, now: u64) -> serde_json::Value {
    json!({
        "id": r.id,
        "short_id": r.short_id(),
        "backend": r.backend,
        "serial": r.serial,
        "title": r.title,
        "question": r.question,
        "server": r.server,
        "created": r.created,
        "expires": r.expires,
        "seconds_left": r.seconds_left(now),
        "require_presence": r.require_presence,
        "code_entry": r.code_entry,
        "context": r.context,
    })
}

/// One line for a request: `[ID] TITLE: QUESTION (SERIAL at SERVER, N s left[, choose A/B/C])`.
fn describe(r: &PushRequest, now: u64) -> String {
    let mut line = format!(
        "[{}] {}: {} ({} at {}, {} s left",
        r.short_id(),
        r.title,
        r.question,
        r.serial,
        r.server,
        r.seconds_left(now)
    );
    for (label, value) in
        [("from", &r.context.ip), ("near", &r.context.location), ("app", &r.context.app)]
    {
        if let Some(value) = value {
            line.push_str(&format!(", {label} {value}"));
        }
    }
    if let Some(options) = &r.require_presence {
        line.push_str(&format!(", choose {}", options.join("/")));
    }
    line.push(')');
    line
}

/// Sends one decision. An approval for an account whose server asked for the device to be
/// unlocked (privacyIDEA `pin`/`app_force_unlock`) needs the vault password, asked even when
/// the keyring opened the vault; a wrong one sends nothing.
#[allow(clippy::too_many_arguments)]
fn decide(
    cli: &Session,
    session: &mut PushSession,
    id: &str,
    decision: Decision,
    vault: &mut Vault,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    poll_once(session, clock, err)?;
    show_notices(session, err);
    let item = match session.answer(id, decision.clone(), None, clock.now_millis()) {
        Err(PushError::PasswordRequired { account }) => {
            let password = cli.approval_password(&account)?;
            let proof = vault.prove_password(&password).map_err(|e| match e {
                VaultError::WrongPassword => {
                    CliError::new("wrong vault password; nothing was sent to the server")
                }
                other => CliError::from(other).hint("nothing was sent to the server"),
            })?;
            session.answer(id, decision, Some(proof), clock.now_millis())?
        }
        other => other?,
    };
    let line = format!(
        "{}: {} — {}",
        item.decision.as_ref().map_or_else(String::new, ToString::to_string),
        item.title,
        item.question
    );
    // The answer is sent; failing to keep it in the history must not read as "not sent".
    if let Err(e) = record(vault, item) {
        let _ = writeln!(err, "warning: the answer was sent but not saved in the history: {e}");
    }
    let _ = writeln!(out, "{line}");
    Ok(())
}

/// Reads the user's reply to a prompt: `y` approve, `n` deny, `x` not me, `s` skip, or one
/// of the offered choices (number matching).
fn parse_reply(reply: &str, request: &PushRequest) -> Option<Option<Decision>> {
    let reply = reply.trim();
    if let Some(options) = &request.require_presence
        && let Some(choice) = options.iter().find(|o| o.eq_ignore_ascii_case(reply))
    {
        return Some(Some(Decision::Approve { answer: Some(choice.clone()) }));
    }
    match reply.to_ascii_lowercase().as_str() {
        "y" | "yes" | "a" | "approve" if request.require_presence.is_none() => {
            Some(Some(Decision::Approve { answer: None }))
        }
        "n" | "no" | "d" | "deny" => Some(Some(Decision::Deny)),
        "x" | "not me" | "notme" => Some(Some(Decision::NotMe)),
        "s" | "skip" | "" => Some(None),
        _ => None,
    }
}

fn prompt_for(r: &PushRequest) -> String {
    match &r.require_presence {
        Some(options) => format!(
            "[{}] type the choice shown on the login screen ({}) to approve, n to deny, x if this wasn't you, s to skip: ",
            r.short_id(),
            options.join("/")
        ),
        None => {
            format!("[{}] approve? y = yes, n = no, x = this wasn't me, s = skip: ", r.short_id())
        }
    }
}

fn watch(
    session: &mut PushSession,
    vault: &mut Vault,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let interactive = std::io::stdin().is_terminal();
    let (tx, lines) = mpsc::channel::<String>();
    if interactive {
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let accounts = session.accounts().count();
    let _ = writeln!(
        out,
        "watching {accounts} push account{} (Ctrl-C to stop)",
        if accounts == 1 { "" } else { "s" }
    );
    let mut queue: Vec<String> = Vec::new();
    let mut prompted: Option<String> = None;
    loop {
        let now_ms = clock.now_millis();
        for event in session.tick(now_ms) {
            let now = now_ms / 1000;
            let _ = match event {
                PushEvent::Arrived(r) => {
                    queue.push(r.id.clone());
                    writeln!(out, "{}", describe(&r, now))
                }
                PushEvent::Withdrawn(r) => {
                    queue.retain(|id| *id != r.id);
                    writeln!(
                        out,
                        "[{}] withdrawn by the server (answered elsewhere or expired)",
                        r.short_id()
                    )
                }
                PushEvent::Expired(r) => {
                    queue.retain(|id| *id != r.id);
                    // Unanswered requests belong in the history too: a login nobody
                    // approved is worth seeing later.
                    if let Err(e) = record(vault, PushHistoryItem::new(&r, None, now, false)) {
                        let _ = writeln!(err, "warning: cannot save the history: {e}");
                    }
                    vault.release_lock();
                    writeln!(out, "[{}] expired unanswered", r.short_id())
                }
                PushEvent::Failed { serial, error, retry_in_ms } => writeln!(
                    err,
                    "warning: {serial}: {error}; retrying in {}",
                    describe_duration(retry_in_ms)
                ),
                PushEvent::Recovered { serial } => writeln!(err, "{serial}: reachable again"),
            };
            if prompted.as_ref().is_some_and(|id| !queue.contains(id)) {
                prompted = None;
            }
        }
        show_notices(session, out);
        let _ = out.flush();
        if interactive
            && prompted.is_none()
            && let Some(id) = queue.first().cloned()
            && let Ok(request) = session.pending().find(&id)
        {
            let _ = write!(out, "{}", prompt_for(request));
            let _ = out.flush();
            prompted = Some(id);
        }
        let wait = session.next_due().map_or(1_000, |due| due.saturating_sub(clock.now_millis()));
        let wait = Duration::from_millis(wait.clamp(20, 1_000));
        if !interactive {
            std::thread::sleep(wait);
            continue;
        }
        match lines.recv_timeout(wait) {
            Ok(reply) => {
                let Some(id) = prompted.take() else { continue };
                let Ok(request) = session.pending().find(&id).cloned() else { continue };
                match parse_reply(&reply, &request) {
                    None => {
                        let _ = writeln!(out, "not understood");
                        prompted = None;
                    }
                    Some(None) => {
                        queue.retain(|q| *q != id);
                        queue.push(id);
                    }
                    Some(Some(decision)) => {
                        match session.answer(&id, decision, None, clock.now_millis()) {
                            Ok(item) => {
                                queue.retain(|q| *q != id);
                                let _ = writeln!(
                                    out,
                                    "[{}] {}",
                                    request.short_id(),
                                    item.decision
                                        .as_ref()
                                        .map_or_else(String::new, ToString::to_string)
                                );
                                if let Err(e) = record(vault, item) {
                                    let _ = writeln!(
                                        err,
                                        "warning: the answer was sent but not saved in the history: {e}"
                                    );
                                }
                                vault.release_lock();
                            }
                            Err(e @ PushError::PasswordRequired { .. }) => {
                                // The terminal is busy reading replies; a hidden prompt would
                                // race with it.
                                let _ = writeln!(
                                    err,
                                    "error: {e}\nhint: run `tessera push approve {}`, which asks for it",
                                    request.short_id()
                                );
                            }
                            Err(e) => {
                                let _ = writeln!(err, "error: {e}");
                            }
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// Writes milliseconds as "4 s" or "2 min 30 s".
fn describe_duration(ms: u64) -> String {
    let seconds = ms.div_ceil(1000);
    if seconds < 60 {
        format!("{seconds} s")
    } else {
        let text = describe_skew(i64::try_from(seconds).unwrap_or(i64::MAX));
        text.trim_end_matches(" fast").to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::push::{PushBackendKind, RequestContext};

    fn request(presence: Option<&[&str]>) -> PushRequest {
        PushRequest {
            id: "ABCDEFGHIJKL".into(),
            backend: PushBackendKind::PrivacyIdea,
            serial: "PIPU0001".into(),
            title: "privacyIDEA".into(),
            question: "Login by Alice from 10.0.0.7?".into(),
            server: "pi.example".into(),
            created: 100,
            expires: 220,
            require_presence: presence.map(|o| o.iter().map(|s| (*s).to_owned()).collect()),
            context: RequestContext::default(),
            answer_url: "https://pi.example/ttype/push".into(),
            sslverify: true,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        }
    }

    #[test]
    fn requests_read_as_one_line() {
        assert_eq!(
            describe(&request(None), 130),
            "[ABCDEFGH] privacyIDEA: Login by Alice from 10.0.0.7? (PIPU0001 at pi.example, 90 s left)"
        );
        assert!(describe(&request(Some(&["12", "34"])), 130).ends_with(", choose 12/34)"));
    }

    #[test]
    fn replies_map_to_decisions() {
        let plain = request(None);
        assert_eq!(parse_reply("y", &plain), Some(Some(Decision::Approve { answer: None })));
        assert_eq!(parse_reply(" N ", &plain), Some(Some(Decision::Deny)));
        assert_eq!(parse_reply("x", &plain), Some(Some(Decision::NotMe)));
        assert_eq!(parse_reply("", &plain), Some(None));
        assert_eq!(parse_reply("maybe", &plain), None);
        let matching = request(Some(&["AB", "CD"]));
        assert_eq!(
            parse_reply("cd", &matching),
            Some(Some(Decision::Approve { answer: Some("CD".into()) }))
        );
        assert_eq!(parse_reply("y", &matching), None, "number matching needs the choice");
    }

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(describe_duration(4_500), "5 s");
        assert_eq!(describe_duration(150_000), "2 min 30 s");
    }

    #[test]
    fn a_push_account_is_found_by_its_serial_or_an_unambiguous_start() {
        let key = tessera_core::push::DeviceKey::generate_p256().unwrap();
        let account = |serial: &str| PushAccount {
            backend: PushBackendKind::Tessera,
            serial: serial.into(),
            url: "https://push.example".into(),
            sslverify: true,
            device_key: key.clone(),
            server_public_key: vec![],
            issuer: "Example".into(),
            label: "ada".into(),
            enrolled_at: 0,
            require_password: false,
        };
        let accounts = [account("abc1"), account("abc2"), account("abc")];
        assert_eq!(find_account(&accounts, "abc2").unwrap(), 1);
        assert_eq!(find_account(&accounts, "abc").unwrap(), 2, "an exact serial wins");
        let err = find_account(&accounts[..2], "ab").unwrap_err();
        assert_eq!(err.to_string(), "\"ab\" matches more than one push account");
        let err = find_account(&accounts, "zz").unwrap_err();
        assert_eq!(err.to_string(), "no push account matches \"zz\"");
        assert!(find_account(&accounts, "").is_err(), "an empty serial matches nothing");
    }
}
