//! A running push client: the enrolled accounts, one poll schedule each, the pending set, and
//! the backends that speak to their servers. The CLI's `push watch` and the GUI's push worker
//! drive it the same way: call [`PushSession::tick`] when [`PushSession::next_due`] comes,
//! show the [`PushEvent`]s and the notices of [`PushSession::take_notices`], and send the
//! user's decisions with [`PushSession::answer`].
//!
//! Nothing here sleeps, spawns or reads a clock: time is the caller's `now_ms` (Unix time in
//! milliseconds; schedules need sub-second resolution, requests use whole seconds).

use super::{
    Decision, PendingRequests, PollSchedule, PushAccount, PushBackend, PushError, PushHistoryItem,
    PushNotice, PushRequest, ScheduleConfig,
};

/// Something the user (or a log) should hear about after a tick.
#[derive(Debug)]
pub enum PushEvent {
    /// A new login request, signature-checked.
    Arrived(PushRequest),
    /// A request expired unanswered (removed from the pending set).
    Expired(PushRequest),
    /// The server stopped listing a request (answered on another device, expired or
    /// cancelled there); it is no longer pending.
    Withdrawn(PushRequest),
    /// Polling an account failed; it is retried after `retry_in_ms` (backing off).
    Failed {
        /// The account's serial.
        serial: String,
        /// Why it failed.
        error: PushError,
        /// When the next attempt is scheduled, in milliseconds from now.
        retry_in_ms: u64,
    },
    /// An account that was failing polled successfully again.
    Recovered {
        /// The account's serial.
        serial: String,
    },
}

struct Tracked {
    account: PushAccount,
    schedule: PollSchedule,
    /// Whether the last poll failed (to report recovery once).
    failing: bool,
    /// Polled by the caller's long-poll loop ([`PushSession::record_poll`]), never by
    /// [`PushSession::tick`].
    long_polled: bool,
}

/// Polls every enrolled account on its schedule and keeps what is pending.
pub struct PushSession {
    backends: Vec<Box<dyn PushBackend>>,
    tracked: Vec<Tracked>,
    pending: PendingRequests,
    /// Notices fetched by polls, until [`PushSession::take_notices`].
    notices: Vec<PushNotice>,
    config: ScheduleConfig,
    seed: u64,
}

impl std::fmt::Debug for PushSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSession")
            .field("accounts", &self.tracked.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl PushSession {
    /// Returns a session over `backends` (one per protocol) with no accounts yet. `seed`
    /// drives the back-off jitter; pass something random (see [`random_seed`]).
    pub fn new(backends: Vec<Box<dyn PushBackend>>, config: ScheduleConfig, seed: u64) -> Self {
        Self {
            backends,
            tracked: Vec::new(),
            pending: PendingRequests::new(),
            notices: Vec::new(),
            config,
            seed,
        }
    }

    /// Adds (or replaces, by serial) an account; its first poll is due at `now_ms`.
    pub fn add_account(&mut self, account: PushAccount, now_ms: u64) {
        self.track(account, now_ms, false);
    }

    /// Adds (or replaces, by serial) an account the caller long-polls itself (a backend whose
    /// [`PushBackend::long_polls`] is true, on a thread of its own): [`PushSession::tick`]
    /// leaves it alone and the caller hands each poll's outcome to
    /// [`PushSession::record_poll`]. Answers still go through [`PushSession::answer`].
    pub fn add_long_polled_account(&mut self, account: PushAccount, now_ms: u64) {
        self.track(account, now_ms, true);
    }

    fn track(&mut self, account: PushAccount, now_ms: u64, long_polled: bool) {
        self.tracked.retain(|t| t.account.serial != account.serial);
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let schedule = PollSchedule::new(self.config, now_ms, self.seed);
        self.tracked.push(Tracked { account, schedule, failing: false, long_polled });
    }

    /// Returns the accounts being polled.
    pub fn accounts(&self) -> impl Iterator<Item = &PushAccount> {
        self.tracked.iter().map(|t| &t.account)
    }

    /// Returns the requests waiting for a decision.
    pub fn pending(&self) -> &PendingRequests {
        &self.pending
    }

    /// Returns when [`PushSession::tick`] next has work (Unix ms): the next due poll or the
    /// next pending request to expire; `None` when there is neither (long-polled accounts are
    /// never due: their caller polls them).
    pub fn next_due(&self) -> Option<u64> {
        let polls = self.tracked.iter().filter(|t| !t.long_polled).map(|t| t.schedule.next_at());
        let expiries = self.pending.requests().into_iter().map(|r| r.expires.saturating_mul(1000));
        polls.chain(expiries).min()
    }

    /// Returns the ids of the requests pending for the account `serial` (what a long-poll
    /// tells the server it already has).
    pub fn pending_ids(&self, serial: &str) -> Vec<String> {
        self.pending
            .requests()
            .into_iter()
            .filter(|r| r.serial == serial)
            .map(|r| r.id.clone())
            .collect()
    }

    /// Makes every account's poll due now (unlock, window focus), respecting the minimum gap.
    pub fn poll_soon(&mut self, now_ms: u64) {
        for t in &mut self.tracked {
            t.schedule.poll_soon(now_ms);
        }
    }

    /// Switches all schedules between the foreground and the background interval.
    pub fn set_active(&mut self, active: bool, now_ms: u64) {
        for t in &mut self.tracked {
            t.schedule.set_active(active, now_ms);
        }
    }

    fn backend_for(&self, account: &PushAccount) -> Result<&dyn PushBackend, PushError> {
        self.backends
            .iter()
            .find(|b| b.kind() == account.backend)
            .map(AsRef::as_ref)
            .ok_or(PushError::WrongBackend(account.backend))
    }

    /// Polls the accounts that are due at `now_ms` and expires old requests.
    pub fn tick(&mut self, now_ms: u64) -> Vec<PushEvent> {
        self.poll_where(now_ms, |t| !t.long_polled && t.schedule.is_due(now_ms))
    }

    /// Takes the outcome of a poll the caller made for the account `serial` (a long poll on
    /// its own thread) at `now_ms`: merges the requests like [`PushSession::tick`] would, and
    /// expires old requests. An outcome for an account no longer tracked is ignored.
    pub fn record_poll(
        &mut self,
        serial: &str,
        result: Result<Vec<PushRequest>, PushError>,
        now_ms: u64,
    ) -> Vec<PushEvent> {
        let mut events = Vec::new();
        if let Some(index) = self.tracked.iter().position(|t| t.account.serial == serial) {
            self.take_result(index, result, now_ms, &mut events);
        }
        events
            .extend(self.pending.remove_expired(now_ms / 1000).into_iter().map(PushEvent::Expired));
        events
    }

    /// Polls every account now, whatever the schedule says (the CLI's one-shot commands).
    pub fn poll_all(&mut self, now_ms: u64) -> Vec<PushEvent> {
        self.poll_where(now_ms, |_| true)
    }

    fn poll_where(&mut self, now_ms: u64, due: impl Fn(&Tracked) -> bool) -> Vec<PushEvent> {
        let now = now_ms / 1000;
        let mut events = Vec::new();
        for index in 0..self.tracked.len() {
            if !due(&self.tracked[index]) {
                continue;
            }
            let result = match self.backend_for(&self.tracked[index].account) {
                Ok(backend) => backend.poll_with_notices(&self.tracked[index].account, &[], now),
                Err(e) => Err(e),
            };
            let result = result.map(|polled| {
                self.keep_notices(polled.notices);
                polled.requests
            });
            self.take_result(index, result, now_ms, &mut events);
        }
        events.extend(self.pending.remove_expired(now).into_iter().map(PushEvent::Expired));
        events
    }

    /// Most notices kept for [`PushSession::take_notices`]; older ones are dropped (and
    /// logged) beyond, so a caller that never takes them does not grow without bound.
    const MAX_NOTICES: usize = 64;

    fn keep_notices(&mut self, notices: Vec<PushNotice>) {
        self.notices.extend(notices);
        let over = self.notices.len().saturating_sub(Self::MAX_NOTICES);
        for dropped in self.notices.drain(..over) {
            tracing::warn!(serial = %dropped.serial, "dropped a push notice nobody took");
        }
    }

    /// Takes the notices the polls of [`PushSession::tick`] and [`PushSession::poll_all`]
    /// fetched since the last call, oldest first (show each: the server sends it once).
    pub fn take_notices(&mut self) -> Vec<PushNotice> {
        std::mem::take(&mut self.notices)
    }

    fn take_result(
        &mut self,
        index: usize,
        result: Result<Vec<PushRequest>, PushError>,
        now_ms: u64,
        events: &mut Vec<PushEvent>,
    ) {
        let tracked = &mut self.tracked[index];
        let serial = tracked.account.serial.clone();
        match result {
            Ok(requests) => {
                if std::mem::take(&mut tracked.failing) {
                    events.push(PushEvent::Recovered { serial: serial.clone() });
                }
                tracked.schedule.record_success(now_ms);
                let merge = self.pending.merge_poll(&serial, requests, now_ms / 1000);
                events.extend(merge.arrived.into_iter().map(PushEvent::Arrived));
                events.extend(merge.withdrawn.into_iter().map(PushEvent::Withdrawn));
            }
            Err(error) => {
                let retry_in_ms = tracked.schedule.record_failure(now_ms);
                tracked.failing = true;
                tracing::warn!(%serial, %error, retry_in_ms, "push poll failed");
                events.push(PushEvent::Failed { serial, error, retry_in_ms });
            }
        }
    }

    /// Sends `decision` for the pending request `id` (or a unique prefix of it) at `now_ms`
    /// and returns the history entry. On failure the request stays pending (a server that
    /// is down can be answered once it is back), except when it has expired.
    ///
    /// Approving a request of an account with [`PushAccount::require_password`] needs
    /// `proof` ([`PasswordProof`], which only `Vault::prove_password` makes): without it the
    /// approval is refused with [`PushError::PasswordRequired`] and nothing is sent. Deny
    /// and "not me" never need one. The proof is consumed: one proof, one answer. This is
    /// the one approve path of both front ends.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the proof is taken by value so that one proof answers one request"
    )]
    pub fn answer(
        &mut self,
        id: &str,
        decision: Decision,
        proof: Option<PasswordProof>,
        now_ms: u64,
    ) -> Result<PushHistoryItem, PushError> {
        let now = now_ms / 1000;
        let request = self.pending.find(id)?.clone();
        if request.is_expired(now) {
            self.pending.remove(&request.id);
            return Err(PushError::Expired);
        }
        request.check_decision(&decision)?;
        let tracked = self
            .tracked
            .iter()
            .find(|t| t.account.serial == request.serial)
            .ok_or_else(|| PushError::UnknownRequest(request.short_id().to_owned()))?;
        let approving = matches!(decision, Decision::Approve { .. });
        if approving && tracked.account.require_password && proof.is_none() {
            let account = format!("{} · {}", tracked.account.issuer, tracked.account.label);
            return Err(PushError::PasswordRequired { account });
        }
        self.backend_for(&tracked.account)?.answer(&tracked.account, &request, &decision)?;
        self.pending.remove(&request.id);
        Ok(PushHistoryItem::new(&request, Some(decision), now, true))
    }
}

/// Proof that the user just typed the vault's password, for approving a request of an
/// account that requires it ([`PushAccount::require_password`]). It cannot be built outside
/// tessera-core: only `Vault::prove_password` makes one, after the password opened the
/// vault's password slot. Neither `Clone` nor `Copy`: each proof answers one request.
#[derive(Debug)]
pub struct PasswordProof {
    _private: (),
}

impl PasswordProof {
    /// Only the vault makes proofs, after checking the password (so it exists only with
    /// the `vault` feature; tessera-server builds without it).
    #[cfg(feature = "vault")]
    pub(crate) fn checked() -> Self {
        Self { _private: () }
    }
}

/// Returns a random seed for the back-off jitter from the operating system.
pub fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    // If the OS generator fails, jitter falls back to a fixed sequence: harmless.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{DeviceKey, PushBackendKind, PushEnrolment, RequestContext};
    use std::sync::{Arc, Mutex, OnceLock};

    /// An in-memory backend: the test decides what each poll returns and records answers.
    #[derive(Default)]
    struct Scripted {
        polls: Mutex<Vec<Result<Vec<PushRequest>, PushError>>>,
        answers: Mutex<Vec<(String, Decision)>>,
        answer_fails: Mutex<bool>,
        notices: Mutex<Vec<PushNotice>>,
    }

    impl PushBackend for Arc<Scripted> {
        fn kind(&self) -> PushBackendKind {
            PushBackendKind::PrivacyIdea
        }
        fn enrol(&self, _: &PushEnrolment, _: u64, _: u64) -> Result<PushAccount, PushError> {
            Err(PushError::InvalidEnrolment("not scripted".into()))
        }
        fn poll(&self, _: &PushAccount, _: u64) -> Result<Vec<PushRequest>, PushError> {
            let mut polls = self.polls.lock().unwrap();
            if polls.is_empty() { Ok(vec![]) } else { polls.remove(0) }
        }
        fn poll_with_notices(
            &self,
            account: &PushAccount,
            _: &[String],
            now: u64,
        ) -> Result<crate::push::Polled, PushError> {
            let requests = self.poll(account, now)?;
            Ok(crate::push::Polled {
                requests,
                notices: std::mem::take(&mut *self.notices.lock().unwrap()),
            })
        }
        fn answer(&self, _: &PushAccount, r: &PushRequest, d: &Decision) -> Result<(), PushError> {
            if *self.answer_fails.lock().unwrap() {
                return Err(PushError::Unreachable { server: "s".into(), detail: "down".into() });
            }
            self.answers.lock().unwrap().push((r.id.clone(), d.clone()));
            Ok(())
        }
    }

    fn account(serial: &str) -> PushAccount {
        static KEY: OnceLock<DeviceKey> = OnceLock::new();
        PushAccount {
            backend: PushBackendKind::PrivacyIdea,
            serial: serial.into(),
            url: "https://pi.example/ttype/push".into(),
            sslverify: true,
            device_key: KEY.get_or_init(|| DeviceKey::generate_with_bits(2048).unwrap()).clone(),
            server_public_key: vec![],
            issuer: "privacyIDEA".into(),
            label: serial.into(),
            enrolled_at: 0,
            require_password: false,
        }
    }

    fn request(id: &str, now: u64) -> PushRequest {
        PushRequest {
            id: id.into(),
            backend: PushBackendKind::PrivacyIdea,
            serial: "A".into(),
            title: "t".into(),
            question: "q".into(),
            server: "pi.example".into(),
            created: now,
            expires: now + 120,
            require_presence: None,
            context: RequestContext::default(),
            answer_url: "https://pi.example/ttype/push".into(),
            sslverify: true,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        }
    }

    fn session(backend: &Arc<Scripted>) -> PushSession {
        let mut s = PushSession::new(vec![Box::new(backend.clone())], ScheduleConfig::default(), 7);
        s.add_account(account("A"), 1_000_000);
        s
    }

    #[test]
    fn arrivals_are_reported_once_and_answers_leave_history() {
        let backend = Arc::new(Scripted::default());
        backend
            .polls
            .lock()
            .unwrap()
            .extend([Ok(vec![request("N1", 1000)]), Ok(vec![request("N1", 1003)])]);
        let mut s = session(&backend);
        let events = s.tick(1_000_000);
        assert!(matches!(&events[..], [PushEvent::Arrived(r)] if r.id == "N1"), "{events:?}");
        assert!(s.tick(1_001_000).is_empty(), "not due yet: no poll");
        assert!(s.tick(1_003_000).is_empty(), "polled again: nothing new");
        let item = s.answer("n1", Decision::Deny, None, 1_004_000).unwrap();
        assert_eq!(item.decision, Some(Decision::Deny));
        assert_eq!(item.decided_at, 1004);
        assert!(s.pending().is_empty());
        assert_eq!(backend.answers.lock().unwrap()[0], ("N1".to_owned(), Decision::Deny));
    }

    #[test]
    fn failures_back_off_and_recovery_is_reported() {
        let backend = Arc::new(Scripted::default());
        backend.polls.lock().unwrap().extend([
            Err(PushError::Unreachable { server: "s".into(), detail: "refused".into() }),
            Ok(vec![]),
        ]);
        let mut s = session(&backend);
        let events = s.tick(1_000_000);
        let [PushEvent::Failed { retry_in_ms, .. }] = &events[..] else { panic!("{events:?}") };
        assert!((3_000..=6_000).contains(retry_in_ms));
        assert_eq!(s.next_due(), Some(1_000_000 + retry_in_ms));
        s.poll_soon(1_000_500);
        assert_eq!(s.next_due(), Some(1_001_000), "focus retries after the minimum gap");
        let events = s.tick(1_001_000);
        assert!(matches!(&events[..], [PushEvent::Recovered { serial }] if serial == "A"));
    }

    #[test]
    fn a_failed_answer_keeps_the_request_and_expiry_removes_it() {
        let backend = Arc::new(Scripted::default());
        backend.polls.lock().unwrap().push(Ok(vec![request("N1", 1000)]));
        let mut s = session(&backend);
        s.tick(1_000_000);
        *backend.answer_fails.lock().unwrap() = true;
        let err = s.answer("N1", Decision::Approve { answer: None }, None, 1_001_000).unwrap_err();
        assert!(matches!(err, PushError::Unreachable { .. }));
        assert_eq!(s.pending().len(), 1, "nothing lost");
        // The server stays down; the request still expires locally.
        let down = || Err(PushError::Unreachable { server: "s".into(), detail: "refused".into() });
        backend.polls.lock().unwrap().push(down());
        let events = s.tick(1_120_000);
        assert!(
            matches!(&events[..], [PushEvent::Failed { .. }, PushEvent::Expired(r)] if r.id == "N1"),
            "{events:?}"
        );
        assert!(matches!(
            s.answer("N1", Decision::Deny, None, 1_120_000),
            Err(PushError::UnknownRequest(_))
        ));
    }

    #[test]
    fn requests_answered_elsewhere_are_withdrawn() {
        let backend = Arc::new(Scripted::default());
        backend.polls.lock().unwrap().extend([Ok(vec![request("N1", 1000)]), Ok(vec![])]);
        let mut s = session(&backend);
        s.tick(1_000_000);
        let events = s.poll_all(1_000_100);
        assert!(matches!(&events[..], [PushEvent::Withdrawn(r)] if r.id == "N1"), "{events:?}");
        assert!(s.pending().is_empty());
    }

    #[test]
    fn number_matching_is_checked_before_sending() {
        let backend = Arc::new(Scripted::default());
        let mut r = request("N1", 1000);
        r.require_presence = Some(vec!["A".into(), "B".into()]);
        backend.polls.lock().unwrap().push(Ok(vec![r]));
        let mut s = session(&backend);
        s.tick(1_000_000);
        let err = s.answer("N1", Decision::Approve { answer: None }, None, 1_001_000).unwrap_err();
        assert!(matches!(err, PushError::AnswerRequired { .. }));
        assert!(backend.answers.lock().unwrap().is_empty());
        s.answer("N1", Decision::Approve { answer: Some("B".into()) }, None, 1_001_000).unwrap();
    }

    /// The attack: someone at an unlocked machine (or a script with the user's session)
    /// approves a login for an account whose server demanded the device be unlocked. Without
    /// the vault password, or with a wrong one, nothing may reach the server; deny and "not
    /// me" stay one click.
    #[test]
    fn approving_a_password_protected_account_needs_the_vault_password_and_sends_nothing_without_it()
     {
        use crate::vault::{KdfParams, Protection, Vault, VaultError, VaultOptions};
        use zeroize::Zeroizing;

        let dir = tempfile::tempdir().unwrap();
        let password = Zeroizing::new("correct horse battery".to_owned());
        let protection =
            Protection::PasswordWithParams(password.clone(), KdfParams::INSECURE_FOR_TESTS);
        let options = VaultOptions {
            key_store: Arc::new(crate::vault::SystemKeyStore::new()),
            lock_wait: std::time::Duration::from_millis(100),
        };
        let vault =
            Vault::create_with(&dir.path().join("vault.json"), &[protection], options).unwrap();

        let backend = Arc::new(Scripted::default());
        backend.polls.lock().unwrap().push(Ok(vec![
            request("N1", 1000),
            request("N2", 1000),
            request("N3", 1000),
        ]));
        let mut s = PushSession::new(vec![Box::new(backend.clone())], ScheduleConfig::default(), 7);
        s.add_account(PushAccount { require_password: true, ..account("A") }, 1_000_000);
        s.tick(1_000_000);
        let approve = || Decision::Approve { answer: None };

        let err = s.answer("N1", approve(), None, 1_001_000).unwrap_err();
        assert!(matches!(err, PushError::PasswordRequired { .. }), "{err}");
        assert!(matches!(vault.prove_password("wrong password"), Err(VaultError::WrongPassword)));
        assert!(backend.answers.lock().unwrap().is_empty(), "nothing was sent");
        assert_eq!(s.pending().len(), 3, "the request is still waiting");

        let proof = vault.prove_password(&password).unwrap();
        s.answer("N1", approve(), Some(proof), 1_002_000).unwrap();
        s.answer("N2", Decision::Deny, None, 1_002_000).unwrap();
        s.answer("N3", Decision::NotMe, None, 1_002_000).unwrap();
        let sent: Vec<String> =
            backend.answers.lock().unwrap().iter().map(|a| a.0.clone()).collect();
        assert_eq!(sent, ["N1", "N2", "N3"]);
    }

    #[test]
    fn long_polled_accounts_are_left_to_the_caller_and_their_outcomes_merge() {
        let backend = Arc::new(Scripted::default());
        // Anything tick polled would come from here; a long-polled account must not be.
        backend.polls.lock().unwrap().push(Ok(vec![request("TICKED", 1000)]));
        let mut s = PushSession::new(vec![Box::new(backend.clone())], ScheduleConfig::default(), 7);
        s.add_long_polled_account(account("A"), 1_000_000);
        assert_eq!(s.next_due(), None, "nothing to poll on a schedule, nothing pending");
        assert!(s.tick(1_000_000).is_empty());
        assert_eq!(backend.polls.lock().unwrap().len(), 1, "tick did not poll it");

        let events = s.record_poll("A", Ok(vec![request("N1", 1000)]), 1_000_500);
        assert!(matches!(&events[..], [PushEvent::Arrived(r)] if r.id == "N1"), "{events:?}");
        assert_eq!(s.pending_ids("A"), ["N1"]);
        assert_eq!(s.next_due(), Some(1_120_000), "woken when N1 expires");
        assert!(s.record_poll("A", Ok(vec![request("N1", 1000)]), 1_001_000).is_empty());
        let down = PushError::Unreachable { server: "s".into(), detail: "refused".into() };
        let events = s.record_poll("A", Err(down), 1_002_000);
        assert!(matches!(&events[..], [PushEvent::Failed { .. }]), "{events:?}");
        let events = s.record_poll("A", Ok(vec![]), 1_010_000);
        assert!(
            matches!(&events[..], [PushEvent::Recovered { .. }, PushEvent::Withdrawn(r)] if r.id == "N1"),
            "{events:?}"
        );
        assert!(s.record_poll("GONE", Ok(vec![request("X", 1000)]), 1_010_000).is_empty());
        assert!(s.pending().is_empty(), "outcomes for unknown accounts are ignored");
    }

    #[test]
    fn pending_requests_expire_on_tick_without_any_poll_due() {
        let backend = Arc::new(Scripted::default());
        let mut s = PushSession::new(vec![Box::new(backend.clone())], ScheduleConfig::default(), 7);
        s.add_long_polled_account(account("A"), 1_000_000);
        s.record_poll("A", Ok(vec![request("N1", 1000)]), 1_000_000);
        let events = s.tick(1_120_000);
        assert!(matches!(&events[..], [PushEvent::Expired(r)] if r.id == "N1"), "{events:?}");
        assert_eq!(s.next_due(), None);
    }

    fn notice(at: u64) -> PushNotice {
        PushNotice {
            serial: "A".into(),
            server: "pi.example".into(),
            at,
            kind: crate::push::PushNoticeKind::DeviceEnrolled {
                user: "alice".into(),
                device: "d".into(),
            },
        }
    }

    #[test]
    fn notices_from_polls_are_taken_once_and_bounded() {
        let backend = Arc::new(Scripted::default());
        let mut s = PushSession::new(vec![Box::new(backend.clone())], ScheduleConfig::default(), 1);
        s.add_account(account("A"), 1_000_000);
        backend.notices.lock().unwrap().push(notice(5));
        s.poll_all(1_000_000);
        assert_eq!(s.take_notices(), vec![notice(5)]);
        assert!(s.take_notices().is_empty(), "taken once");
        backend.notices.lock().unwrap().extend((0..100).map(notice));
        s.poll_all(1_001_000);
        let kept = s.take_notices();
        assert_eq!(kept.len(), PushSession::MAX_NOTICES);
        assert_eq!(kept.last(), Some(&notice(99)), "the newest are kept");
    }
}
