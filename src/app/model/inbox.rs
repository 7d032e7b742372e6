//! The push inbox: login requests waiting for an answer, expiry (in one place), what the
//! push worker reports, and the history items each outcome leaves. It owns the worker handle
//! and knows nothing of windows or of the vault: the model records the history items it
//! returns, in one save per batch.
//!
//! **Listening while locked.** Polling goes on after the vault locks: the worker keeps the
//! push accounts (their device keys included) it was given at the last unlock, in memory
//! only, until the app quits ([`Inbox::stop`] drops the session, and `DeviceKey` zeroizes on
//! drop). What this trades: while the app runs locked, someone who can read its memory
//! (a debugger as the same user, a core dump) can sign answers; the codes stay sealed in the
//! vault, and the UI answers nothing until the vault is unlocked again (the model refuses
//! decisions while locked, and a locked app announces a request without showing its
//! details). A cold start of a password-only vault polls nothing until the first unlock,
//! unless the user asked to hear requests before it: then the push accounts are kept in the
//! OS keyring (`tessera_core::vault::standby`, whose docs say what that trades).

use tessera_core::clock::offset::Reading;
use tessera_core::push::{Decision, PasswordProof, PushAccount, PushHistoryItem, PushRequest};

use super::push_worker::{Command, PushWorker, Report, plain_error};

/// A request waiting for the user.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The signature-checked request.
    pub request: PushRequest,
    /// An answer is on its way.
    pub busy: bool,
    /// Why the last answer failed (plain words), or empty.
    pub error: String,
    /// The vault password typed to approve it was wrong (nothing was sent).
    pub wrong_password: bool,
}

/// What applying reports changed.
#[derive(Debug, Default)]
pub struct Applied {
    /// History items to keep (answers, expiries), oldest first.
    pub history: Vec<PushHistoryItem>,
    /// Requests that arrived now, for a notification.
    pub arrived: Vec<PushRequest>,
    /// Requests that left the inbox now (answered anywhere, expired, withdrawn): their
    /// notifications are withdrawn.
    pub gone: Vec<String>,
    /// What servers told that the user must see once (a new device enrolled for them).
    pub notices: Vec<String>,
    /// Something on show changed (requests, errors, trouble).
    pub changed: bool,
    /// The push servers' clocks, read from their answers (for the clock check).
    pub clock: Vec<Reading>,
}

/// The pending requests and the worker.
#[derive(Default)]
pub struct Inbox {
    worker: Option<PushWorker>,
    pending: Vec<Pending>,
    trouble: String,
    listening: bool,
    /// The serials of the accounts being polled, in order.
    serials: Vec<String>,
}

impl Inbox {
    /// Takes the worker that polls the push servers.
    pub fn set_worker(&mut self, worker: PushWorker) {
        self.worker = Some(worker);
    }

    /// Returns the requests waiting for an answer, oldest first.
    pub fn pending(&self) -> &[Pending] {
        &self.pending
    }

    /// Returns why polling fails at the moment (plain words), or "".
    pub fn trouble(&self) -> &str {
        &self.trouble
    }

    /// Starts (or restarts) polling `accounts`, at once; returns the inline worker's
    /// reports, to be applied.
    pub fn listen(&mut self, accounts: Vec<PushAccount>) -> Vec<Report> {
        self.listening = true;
        self.serials = accounts.iter().map(|a| a.serial.clone()).collect();
        self.send(Command::Start(accounts))
    }

    /// True if the inbox already listens to exactly these accounts (an unlock after a lock
    /// keeps the session and its pending requests).
    pub fn listens_to(&self, accounts: &[PushAccount]) -> bool {
        self.listening
            && self.serials.len() == accounts.len()
            && accounts.iter().zip(&self.serials).all(|(a, s)| &a.serial == s)
    }

    /// True while push accounts are being polled (also while the vault is locked).
    pub fn is_listening(&self) -> bool {
        self.listening && !self.serials.is_empty()
    }

    /// Stops polling and forgets what was pending.
    pub fn stop(&mut self) {
        // The inline worker has nothing to say after Stop; the thread's late reports are
        // dropped by `apply` while not listening.
        let _ = self.send(Command::Stop);
        self.listening = false;
        self.serials.clear();
        self.pending.clear();
        self.trouble.clear();
    }

    /// Forgets the requests of push account `serial` (it was removed).
    pub fn forget_account(&mut self, serial: &str) {
        self.pending.retain(|p| p.request.serial != serial);
    }

    fn send(&mut self, command: Command) -> Vec<Report> {
        match self.worker.as_mut() {
            Some(worker) => worker.send(command),
            None => Vec::new(),
        }
    }

    /// Sends the user's `decision` for request `id` (with the vault password's `proof` when
    /// its account requires one) unless an answer is already on its way; returns the inline
    /// worker's reports.
    pub fn decide(
        &mut self,
        id: &str,
        decision: Decision,
        proof: Option<PasswordProof>,
    ) -> Option<Vec<Report>> {
        let pending = self.pending.iter_mut().find(|p| p.request.id == id)?;
        if pending.busy {
            return None;
        }
        pending.busy = true;
        pending.error.clear();
        pending.wrong_password = false;
        Some(self.send(Command::Answer { id: id.to_owned(), decision, proof }))
    }

    /// Marks request `id` as waiting for the vault password: the one typed was wrong (or the
    /// vault has none); nothing was sent.
    pub fn refuse_password(&mut self, id: &str, error: String) -> bool {
        let Some(pending) = self.pending.iter_mut().find(|p| p.request.id == id) else {
            return false;
        };
        pending.busy = false;
        pending.wrong_password = error.is_empty();
        pending.error = error;
        true
    }

    /// Runs once a second: the inline worker's due polls, then local expiry (the worker
    /// expires requests on its next poll; they leave the view at once all the same).
    pub fn tick(&mut self, now: u64) -> Applied {
        let reports = match self.worker.as_mut() {
            Some(worker) => worker.tick(),
            None => Vec::new(),
        };
        let mut applied = self.apply(reports, now);
        let (expired, live): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.request.is_expired(now));
        self.pending = live;
        applied.changed |= !expired.is_empty() || !self.pending.is_empty();
        applied.gone.extend(expired.iter().map(|gone| gone.request.id.clone()));
        applied.history.extend(
            expired.iter().map(|gone| PushHistoryItem::new(&gone.request, None, now, false)),
        );
        applied
    }

    /// Applies the worker's reports.
    pub fn apply(&mut self, reports: Vec<Report>, now: u64) -> Applied {
        let mut applied = Applied::default();
        if reports.is_empty() || !self.listening {
            // Reports in flight when the vault locked are dropped.
            return applied;
        }
        // Clock readings come with every poll and change nothing on show here.
        applied.changed = reports.iter().any(|r| !matches!(r, Report::Clock(_)));
        for report in reports {
            match report {
                Report::Clock(readings) => applied.clock.extend(readings),
                Report::Arrived(request) => {
                    if !self.pending.iter().any(|p| p.request.id == request.id) {
                        applied.arrived.push(request.clone());
                        self.pending.push(Pending {
                            request,
                            busy: false,
                            error: String::new(),
                            wrong_password: false,
                        });
                    }
                }
                Report::Gone { id, expired } => {
                    let Some(at) = self.pending.iter().position(|p| p.request.id == id) else {
                        continue;
                    };
                    let gone = self.pending.remove(at);
                    applied.gone.push(id);
                    // A server that stops listing an expired request is an expiry too; one
                    // that withdraws a live request (answered elsewhere) leaves no history.
                    if let Some(item) = expired.or_else(|| {
                        gone.request
                            .is_expired(now)
                            .then(|| PushHistoryItem::new(&gone.request, None, now, false))
                    }) {
                        applied.history.push(item);
                    }
                }
                Report::Trouble(message) => self.trouble = message,
                Report::Recovered => self.trouble.clear(),
                Report::Notice(message) => applied.notices.push(message),
                Report::Answered { id, result: Ok(item) } => {
                    self.pending.retain(|p| p.request.id != id);
                    applied.history.push(item);
                    applied.gone.push(id);
                }
                Report::Answered { id, result: Err(error) } => {
                    if let Some(p) = self.pending.iter_mut().find(|p| p.request.id == id) {
                        p.busy = false;
                        p.error = plain_error(&error);
                    }
                }
            }
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::push::{PushBackendKind, PushError, RequestContext};

    fn request(id: &str, expires: u64) -> PushRequest {
        PushRequest {
            id: id.into(),
            backend: PushBackendKind::PrivacyIdea,
            serial: "PIPU0001".into(),
            title: "Zoë Bank".into(),
            question: "Log in?".into(),
            server: "pi.example".into(),
            created: expires - 120,
            expires,
            require_presence: None,
            context: RequestContext::default(),
            answer_url: "https://pi.example/ttype/push".into(),
            sslverify: true,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        }
    }

    fn listening() -> Inbox {
        let mut inbox = Inbox::default();
        let _ = inbox.listen(Vec::new());
        inbox
    }

    #[test]
    fn an_arrival_is_announced_once_and_an_answer_becomes_history() {
        let mut inbox = listening();
        let twice = vec![Report::Arrived(request("a", 200)), Report::Arrived(request("a", 200))];
        let applied = inbox.apply(twice, 100);
        assert_eq!(applied.arrived, [request("a", 200)]);
        assert_eq!(inbox.pending().len(), 1);
        let item = PushHistoryItem::new(&request("a", 200), Some(Decision::Deny), 101, true);
        let applied = inbox.apply(vec![Report::Answered { id: "a".into(), result: Ok(item) }], 101);
        assert_eq!(applied.history.len(), 1);
        assert_eq!(applied.gone, ["a"], "its notification is withdrawn");
        assert!(inbox.pending().is_empty());
    }

    #[test]
    fn a_failed_answer_keeps_the_request_with_the_reason_and_allows_a_retry() {
        let mut inbox = listening();
        let _ = inbox.apply(vec![Report::Arrived(request("a", 200))], 100);
        assert!(inbox.decide("a", Decision::Deny, None).is_some());
        assert!(inbox.decide("a", Decision::Deny, None).is_none(), "an answer is on its way");
        let failed = PushError::Refused {
            server: "pi.example".into(),
            status: 400,
            message: "ERR401: no".into(),
        };
        let _ = inbox.apply(vec![Report::Answered { id: "a".into(), result: Err(failed) }], 101);
        let pending = &inbox.pending()[0];
        assert!(!pending.busy && !pending.error.is_empty(), "{pending:?}");
        assert!(inbox.decide("a", Decision::Deny, None).is_some(), "retry allowed");
    }

    #[test]
    fn expiry_happens_in_one_place_and_leaves_one_history_item() {
        let mut inbox = listening();
        let _ = inbox.apply(vec![Report::Arrived(request("a", 200))], 100);
        assert!(inbox.tick(199).history.is_empty());
        let applied = inbox.tick(200);
        assert_eq!(applied.history.len(), 1);
        assert_eq!(applied.history[0].decision, None);
        assert!(inbox.pending().is_empty());
        // The server's late "gone" for it adds nothing.
        let late = inbox.apply(vec![Report::Gone { id: "a".into(), expired: None }], 201);
        assert!(late.history.is_empty());
    }

    #[test]
    fn locking_drops_pending_requests_and_late_reports() {
        let mut inbox = listening();
        let _ = inbox.apply(vec![Report::Arrived(request("a", 200))], 100);
        inbox.stop();
        assert!(inbox.pending().is_empty());
        let late = inbox.apply(vec![Report::Arrived(request("b", 300))], 101);
        assert!(late.arrived.is_empty() && inbox.pending().is_empty());
    }
}
