//! Drives a [`PushSession`] for the GUI: polls the enrolled push accounts on their schedule
//! while the vault is open, and sends the user's answers, off the UI thread.
//!
//! The [`Engine`] holds the session and knows nothing about threads. [`PushWorker`] runs it
//! either on its own thread (the app: commands in through a channel, reports back to the UI
//! thread through `slint::spawn_local`) or inline (tests: the UI's one-second tick drives it,
//! so a fake clock decides everything). Locking stops polling and drops the accounts, keys
//! included; unlocking and window focus poll at once. Between polls the thread sleeps in
//! `recv_timeout`, so an idle app costs one wake-up per poll.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tessera_core::clock::Clock;
use tessera_core::push::{
    Decision, PushAccount, PushBackend, PushBackendKind, PushEnrolment, PushError, PushEvent,
    PushHistoryItem, PushRequest, PushSession, ScheduleConfig, random_seed,
};

/// What the UI asks of the worker.
#[derive(Debug)]
pub enum Command {
    /// The vault was unlocked: poll these accounts (at once, then on schedule).
    Start(Vec<PushAccount>),
    /// The vault was locked: stop polling and forget the accounts and pending requests.
    Stop,
    /// The window got focus: poll soon (respecting the schedule's minimum gap).
    PollSoon,
    /// Send the user's decision for a pending request.
    Answer {
        /// The request id.
        id: String,
        /// What the user decided.
        decision: Decision,
    },
}

/// What the worker tells the UI.
#[derive(Debug)]
pub enum Report {
    /// A new, signature-checked login request.
    Arrived(PushRequest),
    /// A request left the pending set unanswered: expired (with the history entry to keep) or
    /// withdrawn by the server.
    Gone {
        /// The request id.
        id: String,
        /// The history entry for an expiry; `None` when the server withdrew it.
        expired: Option<PushHistoryItem>,
    },
    /// Polling failed; the message is in plain words (unreachable, clock skew ...).
    Trouble(String),
    /// Polling works again.
    Recovered,
    /// An answer was sent (and accepted) or failed.
    Answered {
        /// The request id.
        id: String,
        /// The history entry, or why the answer failed.
        result: Result<PushHistoryItem, String>,
    },
}

/// The session and its clock; no threads.
pub struct Engine {
    backends: Vec<Arc<dyn PushBackend>>,
    clock: Arc<dyn Clock>,
    config: ScheduleConfig,
    session: Option<PushSession>,
}

/// Lets the session own a backend that the deps share.
struct SharedBackend(Arc<dyn PushBackend>);

impl PushBackend for SharedBackend {
    fn kind(&self) -> PushBackendKind {
        self.0.kind()
    }
    fn enrol(&self, e: &PushEnrolment, scanned: u64, now: u64) -> Result<PushAccount, PushError> {
        self.0.enrol(e, scanned, now)
    }
    fn poll(&self, account: &PushAccount, now: u64) -> Result<Vec<PushRequest>, PushError> {
        self.0.poll(account, now)
    }
    fn answer(
        &self,
        account: &PushAccount,
        request: &PushRequest,
        decision: &Decision,
    ) -> Result<(), PushError> {
        self.0.answer(account, request, decision)
    }
}

impl Engine {
    /// Returns an engine over `backends` reading time from `clock`.
    pub fn new(
        backends: Vec<Arc<dyn PushBackend>>,
        clock: Arc<dyn Clock>,
        config: ScheduleConfig,
    ) -> Self {
        Self { backends, clock, config, session: None }
    }

    fn now_ms(&self) -> u64 {
        self.clock.now().saturating_mul(1000)
    }

    /// Carries out `command` and returns what the UI must hear.
    pub fn handle(&mut self, command: Command) -> Vec<Report> {
        let now_ms = self.now_ms();
        match command {
            Command::Start(accounts) => {
                if accounts.is_empty() {
                    self.session = None;
                    return Vec::new();
                }
                let backends: Vec<Box<dyn PushBackend>> = self
                    .backends
                    .iter()
                    .map(|b| Box::new(SharedBackend(Arc::clone(b))) as Box<dyn PushBackend>)
                    .collect();
                let mut session = PushSession::new(backends, self.config, random_seed());
                for account in accounts {
                    session.add_account(account, now_ms);
                }
                self.session = Some(session);
                self.tick()
            }
            Command::Stop => {
                self.session = None;
                Vec::new()
            }
            Command::PollSoon => {
                if let Some(session) = self.session.as_mut() {
                    session.poll_soon(now_ms);
                }
                self.tick()
            }
            Command::Answer { id, decision } => {
                let result = match self.session.as_mut() {
                    Some(session) => {
                        session.answer(&id, decision, now_ms).map_err(|e| plain_error(&e))
                    }
                    None => Err("the vault is locked".to_owned()),
                };
                vec![Report::Answered { id, result }]
            }
        }
    }

    /// Polls the accounts that are due and expires old requests.
    pub fn tick(&mut self) -> Vec<Report> {
        let now_ms = self.now_ms();
        let Some(session) = self.session.as_mut() else { return Vec::new() };
        session.tick(now_ms).into_iter().map(|event| report_for(event, now_ms / 1000)).collect()
    }

    /// Returns how long to sleep before the next poll is due (`None`: nothing to poll).
    pub fn wait(&self) -> Option<Duration> {
        let due = self.session.as_ref()?.next_due()?;
        Some(Duration::from_millis(due.saturating_sub(self.now_ms())))
    }
}

fn report_for(event: PushEvent, now: u64) -> Report {
    match event {
        PushEvent::Arrived(request) => Report::Arrived(request),
        PushEvent::Expired(request) => Report::Gone {
            id: request.id.clone(),
            expired: Some(PushHistoryItem::new(&request, None, now, false)),
        },
        PushEvent::Withdrawn(request) => Report::Gone { id: request.id, expired: None },
        PushEvent::Failed { error, .. } => Report::Trouble(plain_error(&error)),
        PushEvent::Recovered { .. } => Report::Recovered,
    }
}

/// Turns a push error into a sentence for the user (core's messages are already plain; the
/// first letter is raised for display).
pub fn plain_error(error: &PushError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The engine on its own thread, or inline for tests.
pub enum PushWorker {
    /// Commands go to the thread; reports come back asynchronously.
    Thread(mpsc::Sender<Command>),
    /// Commands run at once and return their reports.
    Inline(Box<Engine>),
}

impl PushWorker {
    /// Starts the thread; `deliver` is called (on the worker thread) with each batch of reports
    /// and must hand them to the UI thread.
    pub fn spawn(mut engine: Engine, deliver: impl Fn(Vec<Report>) + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel::<Command>();
        let spawned = std::thread::Builder::new().name("tessera-push".into()).spawn(move || {
            loop {
                let received = match engine.wait() {
                    // Idle (locked or no push accounts): sleep until told otherwise.
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                    Some(wait) => rx.recv_timeout(wait),
                };
                let reports = match received {
                    Ok(command) => engine.handle(command),
                    Err(mpsc::RecvTimeoutError::Timeout) => engine.tick(),
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                };
                if !reports.is_empty() {
                    deliver(reports);
                }
            }
        });
        if let Err(error) = spawned {
            eprintln!("tessera: cannot start the push worker: {error}");
        }
        Self::Thread(tx)
    }

    /// Sends `command`; inline workers return the reports at once.
    pub fn send(&mut self, command: Command) -> Vec<Report> {
        match self {
            Self::Thread(tx) => {
                // The thread is gone only if it could not start; reported then.
                let _ = tx.send(command);
                Vec::new()
            }
            Self::Inline(engine) => engine.handle(command),
        }
    }

    /// Runs due polls (inline workers only; the thread keeps its own time).
    pub fn tick(&mut self) -> Vec<Report> {
        match self {
            Self::Thread(_) => Vec::new(),
            Self::Inline(engine) => engine.tick(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_start_with_a_capital() {
        let e = PushError::ClockSkew { server: "pi.example".into(), offset_seconds: -45 };
        assert!(plain_error(&e).starts_with("The push server pi.example refused"));
        assert!(plain_error(&e).contains("45 s slow"));
    }
}
