//! Drives a [`PushSession`] for the GUI: polls the enrolled push accounts on their schedule
//! while the vault is open, and sends the user's answers, off the UI thread.
//!
//! The [`Engine`] holds the session and knows nothing about threads. [`PushWorker`] runs it
//! either on its own thread (the app: commands in through a channel, reports handed to a
//! `deliver` callback, which the app forwards to the UI thread through `crate::task::stream`)
//! or inline (tests: the UI's one-second tick drives it, so a fake clock decides everything).
//! Locking stops polling and drops the accounts, keys included; unlocking polls at once.
//! Between polls the thread sleeps in `recv_timeout`, so an idle app costs one wake-up per poll.
//!
//! Accounts on a long-polling server (Tessera's own) get a thread each in the app
//! ([`long_poll_loop`]): it holds one poll open on the server (up to 25 s), hands every
//! outcome to the worker as [`Command::Polled`], and polls again at once, telling the server
//! which requests it already has so it is only woken by a change. A login therefore reaches
//! the app within one network round trip, and answers never wait behind a held poll. Errors
//! back off with the same jittered schedule as ordinary polls. A blocking HTTP request cannot
//! be cancelled, so a poll in flight when the vault locks runs out (at most 25 s); its outcome
//! is dropped and its thread then ends, zeroizing its copy of the device key. Inline workers
//! poll every account on the schedule, which keeps tests deterministic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tessera_core::clock::Clock;
use tessera_core::clock::offset::Reading;
use tessera_core::push::{
    Decision, PasswordProof, PollSchedule, PushAccount, PushBackend, PushBackendKind,
    PushEnrolment, PushError, PushEvent, PushHistoryItem, PushNotice, PushRequest, PushSession,
    ScheduleConfig, random_seed,
};

/// What the UI asks of the worker.
#[derive(Debug)]
pub enum Command {
    /// The vault was unlocked: poll these accounts (at once, then on schedule).
    Start(Vec<PushAccount>),
    /// The vault was locked: stop polling and forget the accounts and pending requests.
    Stop,
    /// Send the user's decision for a pending request.
    Answer {
        /// The request id.
        id: String,
        /// What the user decided.
        decision: Decision,
        /// Proof of the vault password, for approving an account that requires it.
        proof: Option<PasswordProof>,
    },
    /// A long-poll thread's outcome for one account.
    Polled {
        /// Which [`Command::Start`] the thread belongs to (older ones are ignored).
        generation: u64,
        /// The account's serial.
        serial: String,
        /// What the server listed, or why the poll failed.
        result: Result<Vec<PushRequest>, PushError>,
        /// What the server had to tell (a new device enrolled for the user).
        notices: Vec<PushNotice>,
    },
}

/// Starts a long-poll loop for one account (see [`long_poll_loop`]); the engine calls it on
/// [`Command::Start`] for accounts whose backend long-polls.
pub type LongPollSpawner = Box<dyn FnMut(LongPollJob) + Send>;

/// What a long-poll thread needs: the account, its backend, and when to stop.
pub struct LongPollJob {
    /// The account to poll.
    pub account: PushAccount,
    /// Its server's protocol.
    pub backend: Arc<dyn PushBackend>,
    /// Tags the thread's [`Command::Polled`] outcomes.
    pub generation: u64,
    /// Set when the vault locks or the accounts change: the loop ends after its current poll.
    pub stop: Arc<AtomicBool>,
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
    /// The server told something the user must see once (a new device was enrolled for
    /// them), in plain words.
    Notice(String),
    /// An answer was sent (and accepted) or failed.
    Answered {
        /// The request id.
        id: String,
        /// The history entry, or why the answer failed.
        result: Result<PushHistoryItem, PushError>,
    },
    /// The push servers' clocks as their answers' `Date` headers showed them (the clock
    /// check, `model::clock`).
    Clock(Vec<Reading>),
}

/// The session and its clock; no threads.
pub struct Engine {
    backends: Vec<Arc<dyn PushBackend>>,
    clock: Arc<dyn Clock>,
    config: ScheduleConfig,
    session: Option<PushSession>,
    /// Starts long-poll threads; `None` polls every account on the schedule.
    long_poll: Option<LongPollSpawner>,
    generation: u64,
    stop: Arc<AtomicBool>,
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
        Self {
            backends,
            clock,
            config,
            session: None,
            long_poll: None,
            generation: 0,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Long-polls the accounts of long-polling backends through `spawner` (one thread each)
    /// instead of on the schedule.
    pub fn with_long_poll(mut self, spawner: LongPollSpawner) -> Self {
        self.long_poll = Some(spawner);
        self
    }

    /// Ends the current long-poll threads (after their current poll) and forgets the session.
    fn stop_session(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop = Arc::new(AtomicBool::new(false));
        self.generation += 1;
        self.session = None;
    }

    fn now_ms(&self) -> u64 {
        self.clock.now().saturating_mul(1000)
    }

    /// Carries out `command` and returns what the UI must hear (with the clock readings
    /// the servers' answers gave).
    pub fn handle(&mut self, command: Command) -> Vec<Report> {
        let mut reports = self.carry_out(command);
        reports.extend(self.clock_readings());
        reports
    }

    /// Collects the clock readings the backends took since the last time.
    fn clock_readings(&self) -> Option<Report> {
        let readings: Vec<Reading> =
            self.backends.iter().flat_map(|b| b.take_clock_readings()).collect();
        (!readings.is_empty()).then_some(Report::Clock(readings))
    }

    fn carry_out(&mut self, command: Command) -> Vec<Report> {
        let now_ms = self.now_ms();
        match command {
            Command::Start(accounts) => {
                self.stop_session();
                if accounts.is_empty() {
                    return Vec::new();
                }
                let backends: Vec<Box<dyn PushBackend>> = self
                    .backends
                    .iter()
                    .map(|b| Box::new(SharedBackend(Arc::clone(b))) as Box<dyn PushBackend>)
                    .collect();
                let mut session = PushSession::new(backends, self.config, random_seed());
                for account in accounts {
                    let backend = self
                        .backends
                        .iter()
                        .find(|b| b.kind() == account.backend && b.long_polls())
                        .cloned();
                    match (backend, self.long_poll.as_mut()) {
                        (Some(backend), Some(spawn)) => {
                            session.add_long_polled_account(account.clone(), now_ms);
                            spawn(LongPollJob {
                                account,
                                backend,
                                generation: self.generation,
                                stop: Arc::clone(&self.stop),
                            });
                        }
                        _ => session.add_account(account, now_ms),
                    }
                }
                self.session = Some(session);
                self.tick()
            }
            Command::Stop => {
                self.stop_session();
                Vec::new()
            }
            Command::Polled { generation, serial, result, notices } => {
                if generation != self.generation {
                    return Vec::new();
                }
                let Some(session) = self.session.as_mut() else { return Vec::new() };
                let mut reports: Vec<Report> = session
                    .record_poll(&serial, result, now_ms)
                    .into_iter()
                    .map(|event| report_for(event, now_ms / 1000))
                    .collect();
                reports.extend(notices.iter().map(|notice| Report::Notice(notice.message())));
                reports
            }
            Command::Answer { id, decision, proof } => {
                let result = match self.session.as_mut() {
                    Some(session) => session.answer(&id, decision, proof, now_ms),
                    // Locked: the session and its requests are gone.
                    None => Err(PushError::UnknownRequest(id.clone())),
                };
                vec![Report::Answered { id, result }]
            }
        }
    }

    /// Polls the accounts that are due and expires old requests.
    pub fn tick(&mut self) -> Vec<Report> {
        let now_ms = self.now_ms();
        let Some(session) = self.session.as_mut() else { return Vec::new() };
        let mut reports: Vec<Report> = session
            .tick(now_ms)
            .into_iter()
            .map(|event| report_for(event, now_ms / 1000))
            .collect();
        reports
            .extend(session.take_notices().iter().map(|notice| Report::Notice(notice.message())));
        reports.extend(self.clock_readings());
        reports
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
    pub fn spawn(engine: Engine, deliver: impl Fn(Vec<Report>) + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel::<Command>();
        let polls = tx.clone();
        let clock = Arc::clone(&engine.clock);
        let config = engine.config;
        let mut engine = engine.with_long_poll(Box::new(move |job: LongPollJob| {
            let (polls, clock) = (polls.clone(), Arc::clone(&clock));
            let spawned = std::thread::Builder::new()
                .name("tessera-long-poll".into())
                .spawn(move || long_poll_loop(job, &*clock, config, &polls));
            if let Err(error) = spawned {
                eprintln!("tessera: cannot start a push long-poll: {error}");
            }
        }));
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

/// One account's long-poll loop: poll (held by the server until something changes), hand
/// the outcome to the worker, repeat; after an error wait as the jittered back-off says. Ends
/// when `job.stop` is set (checked after every poll and during waits) or the worker is gone.
pub fn long_poll_loop(
    job: LongPollJob,
    clock: &dyn Clock,
    config: ScheduleConfig,
    commands: &mpsc::Sender<Command>,
) {
    let LongPollJob { account, backend, generation, stop } = job;
    let mut schedule = PollSchedule::new(config, clock.now_millis(), random_seed());
    // What the server listed last: the worker merges exactly that, so the next poll is held
    // until the server's set differs (a new login, or one answered, expired or withdrawn).
    let mut known: Vec<String> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        // Notices (a new device enrolled for the user) come with the poll; the server hands
        // each out once, so they go to the worker with the result.
        let mut notices = Vec::new();
        let result = backend.poll_with_notices(&account, &known, clock.now()).map(|polled| {
            notices = polled.notices;
            polled.requests
        });
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let now_ms = clock.now_millis();
        let wait_ms = match &result {
            Ok(requests) => {
                schedule.record_success(now_ms);
                // A server that answers at once with what we already have (an old server
                // ignoring `known`) must not turn this into a busy loop.
                let mut listed: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
                listed.sort_unstable();
                let unchanged = listed == known && !listed.is_empty();
                known = listed;
                if unchanged { config.min_gap_ms } else { 0 }
            }
            Err(_) => schedule.record_failure(now_ms),
        };
        let command =
            Command::Polled { generation, serial: account.serial.clone(), result, notices };
        if commands.send(command).is_err() {
            return;
        }
        // Sleep in short steps so a lock ends the thread promptly.
        let mut left = wait_ms;
        while left > 0 && !stop.load(Ordering::SeqCst) {
            let step = left.min(250);
            std::thread::sleep(Duration::from_millis(step));
            left -= step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn plain_errors_start_with_a_capital() {
        let e = PushError::ClockSkew { server: "pi.example".into(), offset_seconds: -45 };
        assert!(plain_error(&e).starts_with("The push server pi.example refused"));
        assert!(plain_error(&e).contains("45 s slow"));
    }

    /// A long-polling server in memory: each poll records the `known` ids it was sent and
    /// returns the next scripted answer; with none left it sets the stop flag (a lock).
    struct Scripted {
        answers: Mutex<Vec<Result<Vec<PushRequest>, PushError>>>,
        seen: Mutex<Vec<Vec<String>>>,
        stop: Arc<AtomicBool>,
    }

    impl PushBackend for Scripted {
        fn kind(&self) -> PushBackendKind {
            PushBackendKind::Tessera
        }
        fn enrol(&self, _: &PushEnrolment, _: u64, _: u64) -> Result<PushAccount, PushError> {
            Err(PushError::InvalidEnrolment("not scripted".into()))
        }
        fn poll(&self, account: &PushAccount, now: u64) -> Result<Vec<PushRequest>, PushError> {
            self.poll_changed(account, &[], now)
        }
        fn long_polls(&self) -> bool {
            true
        }
        fn poll_changed(
            &self,
            _: &PushAccount,
            known: &[String],
            _: u64,
        ) -> Result<Vec<PushRequest>, PushError> {
            self.seen.lock().unwrap().push(known.to_vec());
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() {
                // The vault locks during this poll: its outcome must be dropped.
                self.stop.store(true, Ordering::SeqCst);
            }
            if answers.is_empty() { Ok(Vec::new()) } else { answers.remove(0) }
        }
        fn answer(&self, _: &PushAccount, _: &PushRequest, _: &Decision) -> Result<(), PushError> {
            Ok(())
        }
    }

    fn request(id: &str) -> PushRequest {
        PushRequest {
            id: id.into(),
            backend: PushBackendKind::Tessera,
            serial: "D1".into(),
            title: "t".into(),
            question: "q".into(),
            server: "s".into(),
            created: 100,
            expires: 10_000,
            require_presence: None,
            context: tessera_core::push::RequestContext::default(),
            answer_url: "http://127.0.0.1/device/v1/answer".into(),
            sslverify: false,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        }
    }

    #[test]
    fn the_long_poll_loop_tells_the_server_what_it_has_and_reports_every_outcome() {
        let stop = Arc::new(AtomicBool::new(false));
        let down = PushError::Unreachable { server: "s".into(), detail: "refused".into() };
        let backend = Arc::new(Scripted {
            answers: Mutex::new(vec![
                Ok(vec![request("N1")]),
                Ok(vec![request("N1"), request("N2")]),
                Err(down),
                Ok(vec![request("N2")]),
            ]),
            seen: Mutex::default(),
            stop: Arc::clone(&stop),
        });
        let (tx, rx) = mpsc::channel();
        let clock = tessera_core::clock::FixedClock(100);
        // No back-off wait in this test: the failure's retry sleeps only while not stopped,
        // and the script stops the loop after its last answer.
        let config =
            ScheduleConfig { max_backoff_ms: 1, min_gap_ms: 0, ..ScheduleConfig::default() };
        let job = LongPollJob { account: account(), backend: backend.clone(), generation: 7, stop };
        long_poll_loop(job, &clock, config, &tx);
        let seen = backend.seen.lock().unwrap().clone();
        let ids = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            [ids(&[]), ids(&["N1"]), ids(&["N1", "N2"]), ids(&["N1", "N2"]), ids(&["N2"])],
            "each poll sends what the last good one listed; a failure changes nothing"
        );
        let outcomes: Vec<_> = rx
            .try_iter()
            .map(|c| match c {
                Command::Polled { generation: 7, serial, result, .. } if serial == "D1" => {
                    result.map(|r| r.len()).map_err(|_| ())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(outcomes, [Ok(1), Ok(2), Err(()), Ok(1)], "the poll during the lock is dropped");
    }

    fn account() -> PushAccount {
        PushAccount {
            backend: PushBackendKind::Tessera,
            serial: "D1".into(),
            url: "http://127.0.0.1:1".into(),
            sslverify: false,
            device_key: tessera_core::push::DeviceKey::generate_p256().unwrap(),
            server_public_key: vec![],
            issuer: "Tessera".into(),
            label: "alice".into(),
            enrolled_at: 0,
            require_password: false,
        }
    }
}
