//! Shared server state ([`AppState`]): the store, the server signing key, the wake-up hubs of
//! long-polls, the in-memory rate limits and the shutdown signal.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;
use tessera_core::push::DeviceKey;

use tokio::sync::{Notify, watch};

use crate::Config;
use crate::error::ServerError;
use crate::store::Store;

/// A set of wake-up slots: waiters for key K sleep on slot hash(K); a change to K wakes that
/// slot. Collisions only cause a spurious re-check, and memory stays fixed however many
/// users or logins there are.
pub(crate) struct Hub {
    slots: Vec<Notify>,
}

impl Hub {
    fn new(n: usize) -> Self {
        Self { slots: (0..n).map(|_| Notify::new()).collect() }
    }

    pub(crate) fn slot(&self, key: &str) -> &Notify {
        // FNV-1a: fast, and keys are server-chosen ids or relying-party user names.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let n = u64::try_from(self.slots.len()).unwrap_or(1);
        &self.slots[usize::try_from(h % n).unwrap_or(0)]
    }

    fn wake(&self, key: &str) {
        self.slot(key).notify_waiters();
    }
}

/// Token buckets keyed by API key hash, device id or client address.
///
/// Memory stays bounded whatever clients send: a bucket that has refilled to its burst is
/// the same as no bucket, so those are dropped every [`Limits::PRUNE_EVERY`] calls and
/// whenever the map reaches [`Limits::MAX_BUCKETS`]; if it is still full then (that many
/// keys spent tokens within one refill time), a new key is refused rather than stored.
/// Keys are only ever authenticated values or client addresses, never request text.
#[derive(Default)]
pub(crate) struct Limits {
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    map: std::collections::HashMap<String, Bucket>,
    calls: u64,
}

/// Tokens left, when last refilled, and the bucket's rate and burst (for pruning).
struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    fn refilled(&self, now: Instant) -> f64 {
        (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst)
    }
}

impl Limits {
    /// Most buckets kept at once.
    pub(crate) const MAX_BUCKETS: usize = 100_000;
    /// Calls between prunes.
    const PRUNE_EVERY: u64 = 4096;

    pub(crate) fn allow(&self, key: &str, rate: f64, burst: f64) -> bool {
        let now = Instant::now();
        let mut guard = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let b = &mut *guard;
        b.calls += 1;
        if b.calls.is_multiple_of(Self::PRUNE_EVERY)
            || (b.map.len() >= Self::MAX_BUCKETS && !b.map.contains_key(key))
        {
            b.map.retain(|_, bucket| bucket.refilled(now) < bucket.burst);
        }
        if b.map.len() >= Self::MAX_BUCKETS && !b.map.contains_key(key) {
            return false;
        }
        let bucket =
            b.map.entry(key.to_owned()).or_insert(Bucket { tokens: burst, last: now, rate, burst });
        bucket.tokens = bucket.refilled(now);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Returns how many buckets are held (tests check it stays bounded).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).map.len()
    }
}

/// The rate-limit key of a client address: IPv4 addresses one by one, IPv6 by /64 (one
/// host usually holds a whole /64, so per-address buckets would not limit it).
pub(crate) fn client_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("ip:{v4}"),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) config: Config,
    pub(crate) server_key: DeviceKey,
    pub(crate) server_public: Vec<u8>,
    pub(crate) users: Hub,
    pub(crate) logins: Hub,
    pub(crate) limits: Limits,
    /// Long-polls held per device ([`PollSlot`]).
    pub(crate) polls: Mutex<std::collections::HashMap<String, usize>>,
    /// Per-client-address buckets of unauthenticated calls (device enrolment).
    pub(crate) client_limits: Limits,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) clock_ms: fn() -> u64,
}

/// Shared server state: the store, keys, wake-up hubs and limits.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("public_url", &self.0.config.public_url)
            .finish_non_exhaustive()
    }
}

pub(crate) fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn random_below(n: u32) -> u32 {
    // Rejection sampling: uniform in 0..n.
    let limit = u32::MAX - u32::MAX % n;
    loop {
        let mut b = [0u8; 4];
        if SystemRandom::new().fill(&mut b).is_err() {
            continue;
        }
        let v = u32::from_le_bytes(b);
        if v < limit {
            return v % n;
        }
    }
}

impl AppState {
    /// Opens the state over `store`: loads (or makes, once) the server signing key.
    pub fn new(store: Store, config: Config) -> Result<Self, ServerError> {
        let fresh = DeviceKey::generate_p256().map_err(|e| ServerError::Key(e.to_string()))?;
        let fresh_der =
            serde_json::to_value(&fresh).map_err(|e| ServerError::Key(e.to_string()))?;
        let fresh_der = fresh_der.as_str().unwrap_or_default().as_bytes().to_vec();
        let stored = store.meta_init("server_key", &fresh_der)?;
        let text = String::from_utf8(stored)
            .map_err(|_| ServerError::Key("stored key is not text".into()))?;
        let server_key: DeviceKey = serde_json::from_value(Value::String(text))
            .map_err(|e| ServerError::Key(e.to_string()))?;
        let server_public =
            server_key.p256_public_key().map_err(|e| ServerError::Key(e.to_string()))?;
        let (shutdown, _) = watch::channel(false);
        let listen =
            store.postgres_url().map(str::to_owned).zip(store.instance().map(str::to_owned));
        let state = Self(Arc::new(Inner {
            store,
            config,
            server_key,
            server_public,
            users: Hub::new(16_384),
            logins: Hub::new(16_384),
            limits: Limits::default(),
            polls: Mutex::default(),
            client_limits: Limits::default(),
            shutdown,
            clock_ms: system_ms,
        }));
        if let Some((url, own)) = listen {
            // Cross-instance wake-ups: another instance's NOTIFY wakes our long-polls.
            let weak = Arc::downgrade(&state.0);
            std::thread::spawn(move || {
                Store::listen(&url, &own, |key| {
                    let Some(inner) = weak.upgrade() else { return false };
                    if let Some(user) = key.strip_prefix("u:") {
                        inner.users.wake(user);
                    } else if let Some(id) = key.strip_prefix("l:") {
                        inner.logins.wake(id);
                    }
                    !*inner.shutdown.borrow()
                });
            });
        }
        Ok(state)
    }

    /// Wakes long-polls of `user`'s devices here and on other instances.
    pub(crate) fn wake_user(&self, user: &str) {
        self.0.users.wake(user);
        self.0.store.notify(&format!("u:{user}"));
    }

    /// Wakes relying-party waits for login `id` here and on other instances.
    pub(crate) fn wake_login(&self, id: &str) {
        self.0.logins.wake(id);
        self.0.store.notify(&format!("l:{id}"));
    }

    /// Makes an API key if there is none yet and returns it (`None` if keys exist): the
    /// operator's, for every relying party ([`crate::keys`]).
    pub fn bootstrap_api_key(&self) -> Result<Option<String>, ServerError> {
        if self.0.store.api_key_count()? > 0 {
            return Ok(None);
        }
        Ok(Some(crate::keys::create(&self.0.store, "bootstrap", None, self.now())?))
    }

    /// Ends every long-poll at once (their clients re-poll elsewhere); call when shutting down.
    pub fn begin_shutdown(&self) {
        let _ = self.0.shutdown.send(true);
    }

    /// Returns the server's public key (uncompressed P-256 point).
    pub fn server_public_key(&self) -> &[u8] {
        &self.0.server_public
    }

    pub(crate) fn now_ms(&self) -> u64 {
        (self.0.clock_ms)()
    }

    pub(crate) fn now(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// Most long-polls one device may hold at once (a device needs one; a few allow for a
/// reconnect racing the old poll's end).
pub(crate) const MAX_POLLS_PER_DEVICE: usize = 4;

/// A device's claim on one of its [`MAX_POLLS_PER_DEVICE`] long-polls, given back on drop.
pub(crate) struct PollSlot {
    state: AppState,
    device: String,
}

impl PollSlot {
    /// Takes a slot for `device`, or `None` when it holds its maximum already.
    pub(crate) fn take(state: &AppState, device: &str) -> Option<Self> {
        let mut polls = state.0.polls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = polls.entry(device.to_owned()).or_insert(0);
        if *held >= MAX_POLLS_PER_DEVICE {
            return None;
        }
        *held += 1;
        Some(Self { state: state.clone(), device: device.to_owned() })
    }
}

impl Drop for PollSlot {
    fn drop(&mut self) {
        let mut polls =
            self.state.0.polls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(held) = polls.get_mut(&self.device) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                polls.remove(&self.device);
            }
        }
    }
}
