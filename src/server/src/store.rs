//! SQLite storage: one file, migrations at start, every state change one conditional
//! statement (so a decision is taken once, even with concurrent answers).
//!
//! One connection behind a mutex: statements are sub-millisecond and SQLite serialises
//! writers anyway; WAL mode keeps the file consistent across crashes, and a committed
//! decision is in the write-ahead log before the HTTP answer leaves.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use tessera_core::push::tessera::SignedDecision;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be read back.
    #[error("database holds a malformed value: {0}")]
    Malformed(String),
}

/// The schema, one entry per version; applied in order at start.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL);
     CREATE TABLE users (name TEXT PRIMARY KEY, muted_until INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE enrolments (device TEXT PRIMARY KEY, user TEXT NOT NULL,
         credential_hash TEXT NOT NULL, expires INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE devices (id TEXT PRIMARY KEY, user TEXT NOT NULL, public_key BLOB NOT NULL,
         created INTEGER NOT NULL, revoked INTEGER);
     CREATE INDEX devices_user ON devices(user);
     CREATE TABLE logins (id TEXT PRIMARY KEY, user TEXT NOT NULL, rp TEXT NOT NULL,
         mode TEXT NOT NULL, context TEXT NOT NULL, options TEXT NOT NULL, correct TEXT NOT NULL,
         nonce TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL,
         state TEXT NOT NULL, decided_at INTEGER, device TEXT, decision TEXT);
     CREATE INDEX logins_user_state ON logins(user, state);
     CREATE TABLE nonces (device TEXT NOT NULL, nonce TEXT NOT NULL, seen INTEGER NOT NULL,
         PRIMARY KEY (device, nonce));
     CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
         event TEXT NOT NULL, user TEXT, detail TEXT NOT NULL);",
];

/// A stored login request.
#[derive(Debug, Clone)]
pub struct Login {
    /// Login id.
    pub id: String,
    /// User logging in.
    pub user: String,
    /// Relying party name.
    pub rp: String,
    /// Verification mode (`approve`, `pick`, `code`).
    pub mode: String,
    /// Context JSON.
    pub context: String,
    /// Pick options JSON array.
    pub options: String,
    /// The number or code shown on the login screen (empty for approve).
    pub correct: String,
    /// Server nonce.
    pub nonce: String,
    /// Created, Unix seconds.
    pub created: u64,
    /// Expires, Unix seconds.
    pub expires: u64,
    /// `pending`, `approved`, `denied`, `not_me`, `expired`.
    pub state: String,
    /// When decided.
    pub decided_at: Option<u64>,
    /// The deciding device.
    pub device: Option<String>,
    /// The device's signed decision.
    pub decision: Option<SignedDecision>,
}

/// A registered device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// Its user.
    pub user: String,
    /// Uncompressed P-256 public key.
    pub public_key: Vec<u8>,
    /// Enrolled at, Unix seconds.
    pub created: u64,
    /// Revoked at, Unix seconds.
    pub revoked: Option<u64>,
}

/// One audit log line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEvent {
    /// Sequence number.
    pub id: i64,
    /// Unix seconds.
    pub at: u64,
    /// What happened.
    pub event: String,
    /// Whose.
    pub user: Option<String>,
    /// Details (JSON text).
    pub detail: String,
}

/// The SQLite store.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    ops: std::sync::atomic::AtomicU64,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const LOGIN_COLUMNS: &str = "id, user, rp, mode, context, options, correct, nonce, created, \
                             expires, state, decided_at, device, decision";

fn login_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Login> {
    let decision: Option<String> = row.get(13)?;
    Ok(Login {
        id: row.get(0)?,
        user: row.get(1)?,
        rp: row.get(2)?,
        mode: row.get(3)?,
        context: row.get(4)?,
        options: row.get(5)?,
        correct: row.get(6)?,
        nonce: row.get(7)?,
        created: u(row.get(8)?),
        expires: u(row.get(9)?),
        state: row.get(10)?,
        decided_at: row.get::<_, Option<i64>>(11)?.map(u),
        device: row.get(12)?,
        decision: decision.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        user: row.get(1)?,
        public_key: row.get(2)?,
        created: u(row.get(3)?),
        revoked: row.get::<_, Option<i64>>(4)?.map(u),
    })
}

impl Store {
    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a commit survives a crash of this process (it is in the WAL before the
        // HTTP answer leaves); only an OS crash or power loss may drop the newest commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::migrate(&conn)?;
        Ok(Self { conn: Mutex::new(conn), ops: std::sync::atomic::AtomicU64::new(0) })
    }

    fn migrate(conn: &Connection) -> Result<(), StoreError> {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", n + 1))?;
            tracing::info!(version = n + 1, "database migrated");
        }
        Ok(())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are
        // atomic), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads a meta value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a meta value unless one exists; returns the stored value.
    pub fn meta_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?)
    }

    /// Counts API keys.
    pub fn api_key_count(&self) -> Result<u64, StoreError> {
        Ok(u(self.conn().query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?))
    }

    /// Adds an API key by its hash.
    pub fn add_api_key(&self, hash: &str, name: &str, now: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO api_keys (key_hash, name, created) VALUES (?1, ?2, ?3)",
            params![hash, name, i(now)],
        )?;
        Ok(())
    }

    /// Returns the name of the API key with this hash.
    pub fn api_key(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT name FROM api_keys WHERE key_hash = ?1", [hash], |r| r.get(0))
            .optional()?)
    }

    /// Records an enrolment offer (replacing an unused one for the same device id).
    pub fn add_enrolment(
        &self,
        device: &str,
        user: &str,
        credential_hash: &str,
        expires: u64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute("INSERT OR IGNORE INTO users (name) VALUES (?1)", [user])?;
        conn.execute(
            "INSERT INTO enrolments (device, user, credential_hash, expires) VALUES (?1, ?2, ?3, ?4)",
            params![device, user, credential_hash, i(expires)],
        )?;
        Ok(())
    }

    /// Uses an enrolment credential once: if it matches, is unused and unexpired, marks it
    /// used and registers the device. Returns the user.
    pub fn finish_enrolment(
        &self,
        device: &str,
        credential_hash: &str,
        public_key: &[u8],
        now: u64,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let user: Option<String> = tx
            .query_row(
                "UPDATE enrolments SET used = 1 WHERE device = ?1 AND credential_hash = ?2 \
                 AND used = 0 AND expires > ?3 RETURNING user",
                params![device, credential_hash, i(now)],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(user) = &user {
            tx.execute(
                "INSERT INTO devices (id, user, public_key, created) VALUES (?1, ?2, ?3, ?4)",
                params![device, user, public_key, i(now)],
            )?;
        }
        tx.commit()?;
        Ok(user)
    }

    /// Returns a device by id.
    pub fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, user, public_key, created, revoked FROM devices WHERE id = ?1",
                [id],
                device_row,
            )
            .optional()?)
    }

    /// Lists a user's devices.
    pub fn devices(&self, user: &str) -> Result<Vec<Device>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, user, public_key, created, revoked FROM devices WHERE user = ?1 ORDER BY created, id",
        )?;
        let rows = stmt.query_map([user], device_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Revokes a device of `user`; false if there is none (or it was revoked already).
    pub fn revoke_device(&self, user: &str, id: &str, now: u64) -> Result<bool, StoreError> {
        Ok(self.conn().execute(
            "UPDATE devices SET revoked = ?3 WHERE id = ?1 AND user = ?2 AND revoked IS NULL",
            params![id, user, i(now)],
        )? == 1)
    }

    /// Records a device request nonce; false if it was seen before (a replay). Prunes
    /// nonces older than `horizon`.
    pub fn use_nonce(
        &self,
        device: &str,
        nonce: &str,
        now_ms: u64,
        horizon_ms: u64,
    ) -> Result<bool, StoreError> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO nonces (device, nonce, seen) VALUES (?1, ?2, ?3)",
            params![device, nonce, i(now_ms)],
        )? == 1;
        // Prune once per 1024 requests; the table stays small.
        if self.ops.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(1024) {
            conn.execute(
                "DELETE FROM nonces WHERE seen < ?1",
                [i(now_ms.saturating_sub(horizon_ms))],
            )?;
        }
        Ok(inserted)
    }

    /// Returns the user's mute end (Unix seconds; 0 when not muted).
    pub fn muted_until(&self, user: &str) -> Result<u64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT muted_until FROM users WHERE name = ?1", [user], |r| r.get(0))
            .optional()?
            .map_or(0, u))
    }

    /// Counts a user's logins still pending at `now`.
    pub fn outstanding(&self, user: &str, now: u64) -> Result<u64, StoreError> {
        Ok(u(self.conn().query_row(
            "SELECT COUNT(*) FROM logins WHERE user = ?1 AND state = 'pending' AND expires > ?2",
            params![user, i(now)],
            |r| r.get(0),
        )?))
    }

    /// Stores a new login.
    pub fn add_login(&self, l: &Login) -> Result<(), StoreError> {
        self.conn().execute(
            &format!(
                "INSERT INTO logins ({LOGIN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', NULL, NULL, NULL)"
            ),
            params![
                l.id, l.user, l.rp, l.mode, l.context, l.options, l.correct, l.nonce,
                i(l.created), i(l.expires)
            ],
        )?;
        Ok(())
    }

    /// Returns a login, marking it expired first if its time has passed.
    pub fn login(&self, id: &str, now: u64) -> Result<Option<Login>, StoreError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE logins SET state = 'expired', decided_at = expires \
             WHERE id = ?1 AND state = 'pending' AND expires <= ?2",
            params![id, i(now)],
        )?;
        Ok(conn
            .query_row(
                &format!("SELECT {LOGIN_COLUMNS} FROM logins WHERE id = ?1"),
                [id],
                login_row,
            )
            .optional()?)
    }

    /// Returns a user's pending, unexpired logins, oldest first.
    pub fn pending_for_user(&self, user: &str, now: u64) -> Result<Vec<Login>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {LOGIN_COLUMNS} FROM logins WHERE user = ?1 AND state = 'pending' \
             AND expires > ?2 ORDER BY created, id"
        ))?;
        let rows =
            stmt.query_map(params![user, i(now)], login_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Takes the decision for a pending, unexpired login: exactly once. Also mutes the user
    /// until `mute_until` when the decision is `not_me`. Returns false if the login was no
    /// longer pending.
    pub fn decide(
        &self,
        id: &str,
        state: &str,
        device: &str,
        decision: &SignedDecision,
        now: u64,
        mute_until: Option<u64>,
    ) -> Result<bool, StoreError> {
        let json =
            serde_json::to_string(decision).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE logins SET state = ?2, decided_at = ?3, device = ?4, decision = ?5 \
             WHERE id = ?1 AND state = 'pending' AND expires > ?3",
            params![id, state, i(now), device, json],
        )? == 1;
        if changed && let Some(until) = mute_until {
            tx.execute(
                "UPDATE users SET muted_until = MAX(muted_until, ?2) WHERE name = \
                 (SELECT user FROM logins WHERE id = ?1)",
                params![id, i(until)],
            )?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Appends to the audit log.
    pub fn audit(&self, at: u64, event: &str, user: Option<&str>, detail: &serde_json::Value) {
        let result = self.conn().execute(
            "INSERT INTO audit (at, event, user, detail) VALUES (?1, ?2, ?3, ?4)",
            params![i(at), event, user, detail.to_string()],
        );
        if let Err(e) = result {
            tracing::error!(event, error = %e, "cannot write the audit log");
        }
    }

    /// Reads audit events after `after` (sequence number), optionally for one user.
    pub fn audit_log(
        &self,
        user: Option<&str>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, at, event, user, detail FROM audit WHERE id > ?1 \
             AND (?2 IS NULL OR user = ?2) ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![after, user, i(limit)], |r| {
                Ok(AuditEvent {
                    id: r.get(0)?,
                    at: u(r.get(1)?),
                    event: r.get(2)?,
                    user: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
