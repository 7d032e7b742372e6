//! The set of requests waiting for the user, kept across polls.
//!
//! A poll returns what the server holds right now; this set remembers when each request was
//! first seen (privacyIDEA sends no timestamps), reports which ones are new (to notify once),
//! forgets the ones the server no longer lists (answered elsewhere, expired there) and hides
//! the ones past their expiry even while the server is unreachable.

use super::{PushError, PushRequest};

/// How long an expired request's id is remembered so a late poll cannot show it again.
const FORGET_EXPIRED_AFTER: u64 = 600;

/// The most requests one account may have waiting. A real login waits alone or with one or
/// two others; a broken or hostile server listing thousands would otherwise fill memory, the
/// screen and (as each one expires) the vault's history, with a save per batch. Requests
/// already waiting keep their place; new ones beyond the cap are ignored until room frees.
pub const MAX_PENDING_PER_ACCOUNT: usize = 10;

/// What changed with one poll result.
#[derive(Debug, Clone, Default)]
pub struct PollMerge {
    /// Requests seen for the first time.
    pub arrived: Vec<PushRequest>,
    /// Requests the server no longer lists (answered elsewhere, expired or cancelled there).
    pub withdrawn: Vec<PushRequest>,
}

/// Requests waiting for a decision, across all push accounts.
#[derive(Debug, Clone, Default)]
pub struct PendingRequests {
    items: Vec<PushRequest>,
    /// (id, expiry) of requests dropped as expired.
    expired: Vec<(String, u64)>,
}

impl PendingRequests {
    /// Returns an empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the requests of account `serial` with a fresh poll result taken at `now`.
    ///
    /// Requests seen before keep their `created`/`expires`; requests already expired (here or
    /// earlier) are dropped with a log line. Returns the requests that are new and those the
    /// server no longer lists.
    pub fn merge_poll(&mut self, serial: &str, polled: Vec<PushRequest>, now: u64) -> PollMerge {
        self.expired.retain(|(_, at)| at.saturating_add(FORGET_EXPIRED_AFTER) > now);
        let mut previous: Vec<PushRequest> = Vec::new();
        self.items.retain(|r| {
            if r.serial == serial {
                previous.push(r.clone());
                false
            } else {
                true
            }
        });
        // Known requests first (they keep their place), then new ones, up to the cap.
        let mut polled = polled;
        polled.sort_by_key(|r| !previous.iter().any(|p| p.id == r.id));
        if polled.len() > MAX_PENDING_PER_ACCOUNT {
            tracing::warn!(%serial, listed = polled.len(), "the push server lists more requests than are kept");
            polled.truncate(MAX_PENDING_PER_ACCOUNT);
        }
        let mut fresh = Vec::new();
        for mut request in polled {
            if self.expired.iter().any(|(id, _)| *id == request.id) {
                continue;
            }
            if let Some(known) = previous.iter().find(|p| p.id == request.id) {
                request.created = known.created;
                request.expires = known.expires;
            } else {
                fresh.push(request.clone());
            }
            if request.is_expired(now) {
                tracing::info!(serial = %request.serial, id = %request.short_id(), "dropped an expired push request");
                self.expired.push((request.id.clone(), request.expires));
                fresh.retain(|f| f.id != request.id);
                continue;
            }
            self.items.push(request);
        }
        previous.retain(|p| !self.items.iter().any(|r| r.id == p.id));
        for gone in &previous {
            tracing::info!(serial = %gone.serial, id = %gone.short_id(), "push request withdrawn by the server");
        }
        PollMerge { arrived: fresh, withdrawn: previous }
    }

    /// Removes and returns the requests expired at `now` (for the history).
    pub fn remove_expired(&mut self, now: u64) -> Vec<PushRequest> {
        let (gone, kept): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.items).into_iter().partition(|r| r.is_expired(now));
        self.items = kept;
        for r in &gone {
            tracing::info!(serial = %r.serial, id = %r.short_id(), "push request expired unanswered");
            self.expired.push((r.id.clone(), r.expires));
        }
        gone
    }

    /// Removes the request with exactly this id (after it was answered).
    pub fn remove(&mut self, id: &str) -> Option<PushRequest> {
        let index = self.items.iter().position(|r| r.id == id)?;
        Some(self.items.remove(index))
    }

    /// Finds a request by its id or a unique prefix of it (case-insensitive), as typed in the
    /// CLI.
    pub fn find(&self, id_or_prefix: &str) -> Result<&PushRequest, PushError> {
        let wanted = id_or_prefix.trim();
        if let Some(exact) = self.items.iter().find(|r| r.id == wanted) {
            return Ok(exact);
        }
        let mut matches = self.items.iter().filter(|r| {
            !wanted.is_empty()
                && r.id.get(..wanted.len()).is_some_and(|p| p.eq_ignore_ascii_case(wanted))
        });
        match (matches.next(), matches.next()) {
            (Some(one), None) => Ok(one),
            (Some(_), Some(_)) => Err(PushError::AmbiguousRequest(wanted.to_owned())),
            (None, _) => Err(PushError::UnknownRequest(wanted.chars().take(40).collect())),
        }
    }

    /// Returns the waiting requests, oldest first.
    pub fn requests(&self) -> Vec<&PushRequest> {
        let mut all: Vec<&PushRequest> = self.items.iter().collect();
        all.sort_by_key(|r| r.created);
        all
    }

    /// Returns the number of waiting requests.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Returns true when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{PushBackendKind, RequestContext};

    fn req(id: &str, serial: &str, created: u64) -> PushRequest {
        PushRequest {
            id: id.into(),
            backend: PushBackendKind::PrivacyIdea,
            serial: serial.into(),
            title: "t".into(),
            question: "q".into(),
            server: "s".into(),
            created,
            expires: created + 120,
            require_presence: None,
            context: RequestContext::default(),
            answer_url: "https://s/ttype/push".into(),
            sslverify: true,
            decline_reason_supported: true,
            code_entry: false,
            signed_challenge: None,
        }
    }

    /// Issue 14 finding 8, as the attack: a hostile server lists 5,000 requests for one
    /// account on every poll. Without the cap all 5,000 are kept and announced, and each
    /// becomes a history item (a vault save) when it expires.
    #[test]
    fn a_server_listing_thousands_of_requests_gets_ten_kept() {
        let mut set = PendingRequests::new();
        let flood: Vec<PushRequest> =
            (0..5000).map(|i| req(&format!("junk-{i}"), "HOSTILE", 1000)).collect();
        let merge = set.merge_poll("HOSTILE", flood.clone(), 1000);
        assert_eq!(merge.arrived.len(), MAX_PENDING_PER_ACCOUNT);
        assert_eq!(set.len(), MAX_PENDING_PER_ACCOUNT);
        let ids = |set: &PendingRequests| {
            let mut ids: Vec<String> = set.requests().iter().map(|r| r.id.clone()).collect();
            ids.sort();
            ids
        };
        let kept = ids(&set);

        // The same flood again, reversed: nothing new, the same ten keep their place.
        let again = set.merge_poll("HOSTILE", flood.iter().rev().cloned().collect(), 1001);
        assert!(again.arrived.is_empty() && again.withdrawn.is_empty());
        assert_eq!(ids(&set), kept);

        // Another account's login is not crowded out.
        let real = set.merge_poll("WORK", vec![req("login", "WORK", 1001)], 1001);
        assert_eq!(real.arrived.len(), 1);
        assert_eq!(set.len(), MAX_PENDING_PER_ACCOUNT + 1);
    }

    #[test]
    fn new_requests_are_reported_once_and_keep_their_first_seen_time() {
        let mut set = PendingRequests::new();
        let merge = set.merge_poll("A", vec![req("n1", "A", 100)], 100);
        assert_eq!(merge.arrived.len(), 1);
        let merge = set.merge_poll("A", vec![req("n1", "A", 103), req("n2", "A", 103)], 103);
        assert_eq!(merge.arrived.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["n2"]);
        assert!(merge.withdrawn.is_empty());
        assert_eq!(set.find("n1").unwrap().created, 100, "first-seen time is kept");
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn requests_the_server_no_longer_lists_disappear() {
        let mut set = PendingRequests::new();
        set.merge_poll("A", vec![req("n1", "A", 100)], 100);
        set.merge_poll("B", vec![req("m1", "B", 100)], 100);
        let merge = set.merge_poll("A", vec![], 103);
        assert_eq!(merge.withdrawn.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["n1"]);
        assert_eq!(set.requests().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["m1"]);
    }

    #[test]
    fn expired_requests_are_dropped_and_not_resurrected() {
        let mut set = PendingRequests::new();
        set.merge_poll("A", vec![req("n1", "A", 100)], 100);
        assert!(set.remove_expired(219).is_empty());
        let gone = set.remove_expired(220);
        assert_eq!(gone.len(), 1);
        assert!(set.is_empty());
        // The server still lists it (its validity is longer than our estimate): stay hidden.
        let merge = set.merge_poll("A", vec![req("n1", "A", 221)], 221);
        assert!(merge.arrived.is_empty() && set.is_empty());
        // A request already past its expiry when polled is never shown.
        let merge = set.merge_poll("A", vec![req("n9", "A", 0)], 500);
        assert!(merge.arrived.is_empty() && set.is_empty());
    }

    #[test]
    fn prefixes_find_unique_requests() {
        let mut set = PendingRequests::new();
        set.merge_poll("A", vec![req("ABCD1", "A", 1), req("ABCE2", "A", 2)], 3);
        assert_eq!(set.find("abcd").unwrap().id, "ABCD1");
        assert!(matches!(set.find("ABC"), Err(PushError::AmbiguousRequest(_))));
        assert!(matches!(set.find("ZZ"), Err(PushError::UnknownRequest(_))));
        assert!(matches!(set.find(""), Err(PushError::UnknownRequest(_))));
        assert_eq!(set.remove("ABCD1").unwrap().id, "ABCD1");
        assert!(set.remove("ABCD1").is_none());
    }
}
