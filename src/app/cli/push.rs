//! `tessera push ...`: login requests from push accounts (privacyIDEA PUSH, poll-only),
//! listed and answered from the terminal, and the push half of `tessera add URI`.
//!
//! Every command polls the accounts itself (there is no daemon): `pending` and `approve`
//! see what the server holds at that moment. `watch` keeps polling on the core's schedule
//! (every 3 s, backing off on errors) and, on a terminal, asks for a decision. Decisions are
//! kept in the vault's push history.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;
use tessera_core::clock::Clock;
use tessera_core::push::{
    Decision, PrivacyIdeaBackend, PushAccount, PushBackend, PushEnrolment, PushError, PushEvent,
    PushHistoryItem, PushRequest, PushSession, ScheduleConfig, describe_skew, random_seed,
};

/// The `push` subcommands.
#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// List login requests waiting for a decision.
    Pending {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting login request.
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
}

/// An error the push commands report: what went wrong and, when useful, what to do.
#[derive(Debug)]
pub struct PushCliError {
    /// The message after `error: `.
    pub message: String,
    /// A hint for the next line, if any.
    pub hint: Option<String>,
}

impl std::fmt::Display for PushCliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PushCliError {}

impl From<PushError> for PushCliError {
    fn from(error: PushError) -> Self {
        let hint = match &error {
            PushError::ClockSkew { .. } => {
                Some("set the system clock (e.g. `timedatectl set-ntp true`) and try again")
            }
            PushError::Unreachable { .. } => Some(
                "check the network and the server; requests stay on the server until they expire",
            ),
            PushError::UnknownRequest(_) | PushError::AmbiguousRequest(_) => {
                Some("run `tessera push pending` to see the waiting requests and their ids")
            }
            PushError::AnswerRequired { .. } | PushError::AnswerNotOffered { .. } => {
                Some("pass --answer with the choice shown on the login screen")
            }
            PushError::EnrolmentExpired { .. } => {
                Some("ask the server for a new enrolment QR code and add it at once")
            }
            PushError::InsecureTransport { .. } => Some(
                "the server must use HTTPS with a valid certificate (only servers on this \
                 computer may use plain HTTP or sslverify=0)",
            ),
            PushError::Expired => Some("start the login again to get a new request"),
            _ => None,
        };
        Self { message: error.to_string(), hint: hint.map(str::to_owned) }
    }
}

/// What the push commands need from the vault.
pub trait PushStore {
    /// Returns the enrolled push accounts.
    fn push_accounts(&mut self) -> Result<Vec<PushAccount>, PushCliError>;
    /// Adds a push account (replacing one with the same serial) and saves.
    fn add_push_account(&mut self, account: PushAccount) -> Result<(), PushCliError>;
    /// Appends a decision to the push history and saves.
    fn record_push_decision(&mut self, item: PushHistoryItem) -> Result<(), PushCliError>;
}

fn backend() -> Result<PrivacyIdeaBackend, PushCliError> {
    Ok(PrivacyIdeaBackend::new()?)
}

/// Finishes a push enrolment from a scanned link: creates the device key, registers it with
/// the server, stores the account. Returns the line to print.
pub fn enrol(
    enrolment: &PushEnrolment,
    store: &mut dyn PushStore,
    clock: &dyn Clock,
    err: &mut dyn Write,
) -> Result<String, PushCliError> {
    // The link was scanned (or pasted) just now: this command is the scan.
    let scanned_at = clock.now();
    if enrolment.insecure_transport() {
        let _ = writeln!(
            err,
            "warning: the connection to {} is not protected by a checked certificate \
             (plain HTTP or sslverify=0); allowed only because the server is on this computer",
            enrolment.server()
        );
    }
    let account = backend()?.enrol(enrolment, scanned_at, clock.now())?;
    let line = format!(
        "added push account {} ({}, {}) at {}",
        account.label,
        account.issuer,
        account.serial,
        account.server()
    );
    store.add_push_account(account)?;
    Ok(line)
}

/// Runs one `tessera push` subcommand.
pub fn run(
    command: PushCommand,
    store: &mut dyn PushStore,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PushCliError> {
    let accounts = store.push_accounts()?;
    if accounts.is_empty() {
        return Err(PushCliError {
            message: "there are no push accounts".to_owned(),
            hint: Some("add one with `tessera add 'otpauth://pipush/...'`".to_owned()),
        });
    }
    let mut session =
        PushSession::new(vec![Box::new(backend()?)], ScheduleConfig::default(), random_seed());
    for account in accounts {
        session.add_account(account, clock.now_millis());
    }
    match command {
        PushCommand::Pending { json } => pending(&mut session, json, clock, out, err),
        PushCommand::Approve { id, answer } => {
            decide(&mut session, &id, Decision::Approve { answer }, store, clock, out, err)
        }
        PushCommand::Deny { id, not_me } => {
            let decision = if not_me { Decision::NotMe } else { Decision::Deny };
            decide(&mut session, &id, decision, store, clock, out, err)
        }
        PushCommand::Watch => watch(&mut session, store, clock, out, err),
    }
}

/// Polls every account once; reports failures as warnings, and fails only if every account
/// failed (so one server being down does not hide another's requests).
fn poll_once(
    session: &mut PushSession,
    clock: &dyn Clock,
    err: &mut dyn Write,
) -> Result<(), PushCliError> {
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

fn pending(
    session: &mut PushSession,
    as_json: bool,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PushCliError> {
    poll_once(session, clock, err)?;
    let now = clock.now();
    let requests = session.pending().requests();
    let io = |e: std::io::Error| PushCliError {
        message: format!("cannot write output: {e}"),
        hint: None,
    };
    if as_json {
        let list: Vec<_> = requests.iter().map(|r| request_json(r, now)).collect();
        let text = serde_json::to_string_pretty(&list)
            .map_err(|e| PushCliError { message: format!("cannot write JSON: {e}"), hint: None })?;
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

fn decide(
    session: &mut PushSession,
    id: &str,
    decision: Decision,
    store: &mut dyn PushStore,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PushCliError> {
    poll_once(session, clock, err)?;
    let item = session.answer(id, decision, clock.now_millis())?;
    let line = format!(
        "{}: {} — {}",
        item.decision.as_ref().map_or_else(String::new, ToString::to_string),
        item.title,
        item.question
    );
    store.record_push_decision(item)?;
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
    store: &mut dyn PushStore,
    clock: &dyn Clock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PushCliError> {
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
                    Some(Some(decision)) => match session.answer(&id, decision, clock.now_millis())
                    {
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
                            if let Err(e) = store.record_push_decision(item) {
                                let _ = writeln!(
                                    err,
                                    "warning: the decision was sent but not saved in the history: {e}"
                                );
                            }
                        }
                        Err(e) => {
                            let _ = writeln!(err, "error: {e}");
                        }
                    },
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
    fn hints_point_to_the_fix() {
        let e =
            PushCliError::from(PushError::ClockSkew { server: "pi".into(), offset_seconds: 192 });
        assert!(e.message.contains("3 min 12 s fast"), "{}", e.message);
        assert!(e.hint.unwrap().contains("clock"));
        assert_eq!(describe_duration(4_500), "5 s");
        assert_eq!(describe_duration(150_000), "2 min 30 s");
    }
}
