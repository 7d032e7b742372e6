//! Storage: SQLite (default: one file, zero setup) or PostgreSQL (several server instances
//! behind a load balancer). Migrations run at start; every state change is one conditional
//! statement or one transaction, so a decision is taken once even with concurrent answers
//! on different instances.
//!
//! Both engines run the same SQL (written for both: `ON CONFLICT DO NOTHING`, `CASE` instead
//! of `MAX`/`GREATEST`; `?N` placeholders become `$N` for PostgreSQL) through a small
//! value layer ([`Val`]), so they cannot drift apart. SQLite: one connection behind a
//! mutex (statements are sub-millisecond, and SQLite serialises writers anyway), in WAL mode
//! with `synchronous=NORMAL` (a commit is in the write-ahead log before the HTTP answer
//! leaves; only an OS crash may drop the newest commits). The log is copied into the
//! database by a thread of its own ([`Checkpointer`]), never by a request's commit, and each
//! statement is parsed and planned once ([`Lite`]): both kept requests waiting on the
//! connection lock under load (issue 13, measured there). PostgreSQL: a pool of
//! connections per instance, each request holding one only for its statements; a request
//! waits for its turn at the pool asynchronously ([`Store::run`]), and each connection
//! prepares each statement once.
//!
//! Round trips are what PostgreSQL costs (issue 13). Measured with pg_stat_statements under
//! `scripts/load-bench.sh --postgres` (10,000 long-polling devices, 500 logins/s): creating a
//! login now runs 5 statements (API key, [`Store::standing`], the login, its audit row,
//! NOTIFY; was 9), and a long-poll 3 when it starts (device, nonce, [`Store::poll`]) and 1
//! per wake-up (was 2), each one round trip (was 2: every statement was prepared afresh).
//! Each instance ran 22-26 threads (was 519) and the database committed 147,300
//! transactions over the whole run, enrolments of 10,300 devices included.
//!
//! PostgreSQL connections use TLS per the URL's `sslmode`/`sslrootcert` (`require` by
//! default for a host that is not loopback; see `pg_settings`).
//!
//! PostgreSQL wake-ups: [`Store::notify`] sends `NOTIFY tessera, 'KEY'`; each instance runs
//! a listener ([`Store::listen`]) and wakes its own long-polls, so a device long-polling one
//! instance sees a login created on another at once.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use tessera_core::push::tessera::SignedDecision;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error.
    #[error("database error: {0}")]
    Postgres(#[from] postgres::Error),
    /// No PostgreSQL connection could be had from the pool in time.
    #[error("database connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// A stored value could not be read back.
    #[error("database holds a malformed value: {0}")]
    Malformed(String),
    /// The database URL or its TLS settings cannot be used.
    #[error("database settings: {0}")]
    Settings(String),
}

/// The schema, one entry per version, for both engines. Column types are written as
/// `INT` (SQLite `INTEGER`, PostgreSQL `BIGINT`), `BYTES` (`BLOB`, `BYTEA`) and `SERIAL` (an
/// auto-incrementing primary key); [`Engine::schema`] spells them for each engine, so the two
/// schemas cannot drift apart.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BYTES NOT NULL);
     CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, name TEXT NOT NULL, created INT NOT NULL);
     CREATE TABLE users (name TEXT PRIMARY KEY, muted_until INT NOT NULL DEFAULT 0);
     CREATE TABLE enrolments (device TEXT PRIMARY KEY, account TEXT NOT NULL,
         credential_hash TEXT NOT NULL, expires INT NOT NULL, used INT NOT NULL DEFAULT 0);
     CREATE TABLE devices (id TEXT PRIMARY KEY, account TEXT NOT NULL, public_key BYTES NOT NULL,
         created INT NOT NULL, revoked INT);
     CREATE INDEX devices_account ON devices(account);
     CREATE TABLE logins (id TEXT PRIMARY KEY, account TEXT NOT NULL, rp TEXT NOT NULL,
         mode TEXT NOT NULL, context TEXT NOT NULL, options TEXT NOT NULL, correct TEXT NOT NULL,
         nonce TEXT NOT NULL, created INT NOT NULL, expires INT NOT NULL,
         state TEXT NOT NULL, decided_at INT, device TEXT, decision TEXT);
     CREATE INDEX logins_account_state ON logins(account, state);
     CREATE TABLE nonces (device TEXT NOT NULL, nonce TEXT NOT NULL, seen INT NOT NULL,
         PRIMARY KEY (device, nonce));
     CREATE TABLE audit (id SERIAL, at INT NOT NULL,
         event TEXT NOT NULL, account TEXT, detail TEXT NOT NULL);",
    // 2 (issue 13, finding 7): API keys get a relying-party scope (NULL: every relying
    // party, what keys made before this could do), a last use and a revocation; devices get
    // notices (a new device enrolled for their user) until they fetch them.
    "ALTER TABLE api_keys ADD COLUMN rp TEXT;
     ALTER TABLE api_keys ADD COLUMN last_used INT;
     ALTER TABLE api_keys ADD COLUMN revoked INT;
     CREATE TABLE notices (id SERIAL, device TEXT NOT NULL, kind TEXT NOT NULL,
         at INT NOT NULL, detail TEXT NOT NULL);
     CREATE INDEX notices_device ON notices(device);",
];

/// The two database engines, for spelling the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// Spells migration `sql` (see [`MIGRATIONS`]) for this engine.
    fn schema(self, sql: &str) -> String {
        let (int, bytes, serial) = match self {
            Self::Sqlite => ("INTEGER", "BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            Self::Postgres => ("BIGINT", "BYTEA", "BIGSERIAL PRIMARY KEY"),
        };
        // Whole words only: `INT` must not touch `INTEGER` or `INDEX`.
        let mut out = String::with_capacity(sql.len() + 64);
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            out.push_str(match word.as_str() {
                "INT" => int,
                "BYTES" => bytes,
                "SERIAL" => serial,
                other => other,
            });
            word.clear();
        };
        for c in sql.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }
}

/// A value passed to or read from either engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A 64-bit integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// SQL NULL.
    Null,
}

impl Val {
    fn int(&self) -> Result<i64, StoreError> {
        match self {
            Self::Int(i) => Ok(*i),
            other => Err(StoreError::Malformed(format!("expected an integer, got {other:?}"))),
        }
    }

    fn opt_int(&self) -> Result<Option<i64>, StoreError> {
        match self {
            Self::Null => Ok(None),
            other => other.int().map(Some),
        }
    }

    fn text(&self) -> Result<String, StoreError> {
        match self {
            Self::Text(t) => Ok(t.clone()),
            other => Err(StoreError::Malformed(format!("expected text, got {other:?}"))),
        }
    }

    fn opt_text(&self) -> Result<Option<String>, StoreError> {
        match self {
            Self::Null => Ok(None),
            other => other.text().map(Some),
        }
    }

    fn blob(&self) -> Result<Vec<u8>, StoreError> {
        match self {
            Self::Blob(b) => Ok(b.clone()),
            other => Err(StoreError::Malformed(format!("expected bytes, got {other:?}"))),
        }
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<u64> for Val {
    fn from(v: u64) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Self::Null, Self::from)
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput;
        Ok(match self {
            Self::Int(i) => ToSqlOutput::from(*i),
            Self::Text(s) => ToSqlOutput::from(s.as_str()),
            Self::Blob(b) => ToSqlOutput::from(b.as_slice()),
            Self::Null => ToSqlOutput::from(rusqlite::types::Null),
        })
    }
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Int(i) => i.to_sql(ty, out),
            Self::Text(s) => s.to_sql(ty, out),
            Self::Blob(b) => b.to_sql(ty, out),
            Self::Null => Ok(postgres::types::IsNull::Yes),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// Runs statements on either engine.
trait Exec {
    /// Executes a statement; returns the rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;
    /// Runs a query; returns its rows.
    fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, StoreError>;
}

/// Statements on the SQLite connection, each prepared once and kept (`prepare_cached`).
///
/// The connection runs with SQLite's query-planner stability guarantee (`QPSG`): without
/// it SQLite marks a statement whose plan might depend on a bound value, here every one
/// with `account = ?` and an `ORDER BY` or `MAX` (the long-poll's [`Store::poll`], the login
/// checks of [`Store::standing`]), and then parses and plans it again on every execution,
/// for each new value. Measured on the build machine with the server's schema, 10,000
/// devices and 5,000 logins, per execution: `poll` 94 µs re-prepared against 10 µs kept,
/// `standing` 98 µs against 16 µs (issue 13: every wake-up and every login paid it, inside
/// the connection lock). The server's statements are all index lookups whose plan does not
/// depend on the values, so a fixed plan loses nothing.
struct Lite<'a>(&'a Connection);

impl Exec for Lite<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let n = stmt.execute(rusqlite::params_from_iter(params))?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(match row.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Real(v) => Val::Text(v.to_string()),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Blob(b.to_vec()),
                });
            }
            out.push(vals);
        }
        Ok(out)
    }
}

/// Turns `?N` placeholders into PostgreSQL's `$N`.
fn pg_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

fn pg_params(params: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

/// A pooled PostgreSQL connection and the statements prepared on it.
///
/// A query given to the `postgres` crate as text is prepared afresh on every call: a
/// Parse/Describe round trip before its Bind/Execute one. The store's SQL is a fixed set of
/// strings, so each connection prepares each statement once and keeps it (measured with
/// `scripts/load-bench.sh --postgres`: half the round trips of every request).
pub(crate) struct PgConn {
    client: postgres::Client,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

/// Makes [`PgConn`]s for the pool (r2d2_postgres's manager plus the statement cache).
struct PgManager(r2d2_postgres::PostgresConnectionManager<MakeRustlsConnect>);

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn { client: self.0.connect()?, prepared: std::collections::HashMap::new() })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// Statements on a pooled connection or a transaction on it, prepared once per connection.
struct Pg<'a, C: postgres::GenericClient> {
    client: &'a mut C,
    prepared: &'a mut std::collections::HashMap<String, postgres::Statement>,
}

impl<C: postgres::GenericClient> Pg<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&pg_sql(sql))?;
        self.prepared.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl<C: postgres::GenericClient> Exec for Pg<'_, C> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, &pg_params(params))?)
    }

    fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, StoreError> {
        use postgres::types::Type;
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &pg_params(params))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut vals = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let ty = column.type_();
                let v = if *ty == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int)
                } else if *ty == Type::INT4 {
                    row.try_get::<_, Option<i32>>(i)?.map_or(Val::Null, |v| Val::Int(v.into()))
                } else if *ty == Type::BYTEA {
                    row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Val::Null, Val::Blob)
                } else {
                    row.try_get::<_, Option<String>>(i)?.map_or(Val::Null, Val::Text)
                };
                vals.push(v);
            }
            out.push(vals);
        }
        Ok(out)
    }
}

type PgPool = r2d2::Pool<PgManager>;

/// Reads a PostgreSQL URL and its TLS settings. libpq's `sslmode` and `sslrootcert` query
/// parameters are honoured (tokio-postgres itself knows neither `sslrootcert` nor the
/// `verify-*` modes, so they are taken off the URL here):
/// - no `sslmode`: `require` unless every host is loopback (then `disable`), so a database on
///   another machine is never reached in plain text by default;
/// - `disable` (or `allow`): plain TCP (logged as a warning for a non-loopback host);
/// - `prefer`: TLS when the server offers it;
/// - `require`, `verify-ca`, `verify-full`: TLS, always with the certificate chain and host
///   name checked (stricter than libpq's `require`, which checks nothing without a root
///   certificate: an unchecked certificate would let anyone on the path read the database);
/// - `sslrootcert=PATH` (a plain path, PEM): the CA certificates to trust instead of the
///   Mozilla roots.
///
/// TLS is rustls on ring, as everywhere else in the tree.
fn pg_settings(url: &str) -> Result<(postgres::Config, MakeRustlsConnect), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root, mut rest) = (None, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("sslmode", v) => mode = Some(v.to_owned()),
            ("sslrootcert", v) => root = Some(std::path::PathBuf::from(v)),
            _ => rest.push(pair),
        }
    }
    let clean =
        if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    let mut config: postgres::Config =
        clean.parse().map_err(|e| StoreError::Settings(format!("bad PostgreSQL URL: {e}")))?;
    let loopback = config.get_hosts().iter().all(|h| match h {
        postgres::config::Host::Tcp(name) => tessera_core::push::is_loopback_host(name),
        #[cfg(unix)]
        postgres::config::Host::Unix(_) => true,
    });
    use postgres::config::SslMode;
    let ssl = match mode.as_deref() {
        None if loopback => SslMode::Disable,
        None => SslMode::Require,
        Some("disable" | "allow") => SslMode::Disable,
        Some("prefer") => SslMode::Prefer,
        Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
        Some(other) => {
            return Err(StoreError::Settings(format!(
                "unknown sslmode {other:?} (disable, prefer, require, verify-ca, verify-full)"
            )));
        }
    };
    if ssl == SslMode::Disable && !loopback {
        tracing::warn!("sslmode=disable: the database on another host is reached in plain text");
    }
    config.ssl_mode(ssl);
    let roots = match &root {
        Some(path) => {
            use rustls::pki_types::pem::PemObject as _;
            let mut roots = rustls::RootCertStore::empty();
            let unreadable = |e: &dyn std::fmt::Display| {
                StoreError::Settings(format!("sslrootcert {}: {e}", path.display()))
            };
            for cert in rustls::pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| unreadable(&e))?
            {
                roots.add(cert.map_err(|e| unreadable(&e))?).map_err(|e| unreadable(&e))?;
            }
            if roots.is_empty() {
                return Err(unreadable(&"no certificate in the file"));
            }
            roots
        }
        None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
    };
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StoreError::Settings(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok((config, MakeRustlsConnect::new(tls)))
}

/// PostgreSQL connections per instance. Requests hold one only for their statements, so a
/// few cover thousands of long-polls; more than one keeps a slow statement (or a busy
/// database) from queueing every other request behind it.
const POSTGRES_POOL_SIZE: u32 = 8;

enum Backend {
    Sqlite(Mutex<Connection>),
    Postgres {
        pool: PgPool,
        url: String,
        /// One turn per pooled connection ([`Store::run`]).
        turns: tokio::sync::Semaphore,
        /// This instance's name in its wake-up notifications ([`Store::notify`]).
        instance: String,
    },
}

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

/// An API key as stored (its hash stays in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The operator's name for it.
    pub name: String,
    /// The one relying party it may act for; `None`: every relying party.
    pub rp: Option<String>,
    /// Made at, Unix seconds.
    pub created: u64,
    /// Last accepted use, Unix seconds (updated at most once a minute).
    pub last_used: Option<u64>,
    /// Revoked at, Unix seconds.
    pub revoked: Option<u64>,
}

/// Something a device should tell its user, waiting until the device fetches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What happened (`device_enrolled`).
    pub kind: String,
    /// When, Unix seconds.
    pub at: u64,
    /// Details (JSON text).
    pub detail: String,
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

/// A user's recent logins, as the fatigue limits read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginHistory {
    /// Logins created in the window asked for (the last hour).
    pub last_hour: u64,
    /// Logins created since the user's last approval (all, if none).
    pub since_success: u64,
    /// Of those, the denied ones (deny, wrong answer) and "not me".
    pub denials_since_success: u64,
}

/// A user's standing when a login is asked for ([`Store::standing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Devices enrolled and not revoked.
    pub active_devices: u64,
    /// Mute end (Unix seconds; 0 when never muted).
    pub muted_until: u64,
    /// Logins still pending and unexpired.
    pub outstanding: u64,
    /// The push-fatigue counts.
    pub history: LoginHistory,
}

/// The store over SQLite or PostgreSQL.
pub struct Store {
    backend: Backend,
    ops: AtomicU64,
    /// SQLite in a file: the thread that checkpoints its write-ahead log ([`Checkpointer`]).
    _checkpointer: Option<Checkpointer>,
}

/// How often [`Checkpointer`] copies the SQLite write-ahead log into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Write-ahead-log pages after which the request connection checkpoints by itself: a
/// backstop only, should the [`Checkpointer`] fall behind (SQLite's default is 1,000).
const BACKSTOP_CHECKPOINT_PAGES: i64 = 20_000;

/// Checkpoints a SQLite database's write-ahead log from its own thread and connection, so
/// requests never wait for it (issue 13).
///
/// SQLite checkpoints by default in the connection that commits the 1,000th page of the
/// log: that commit copies the log into the database and fsyncs both files, while holding
/// the store's one connection, so every request (each on a runtime worker thread) queued
/// behind it. Measured with `scripts/load-bench.sh --sqlite` (10,000 long-polling devices,
/// 500 logins/s) on the 2-core build machine while other builds ran: a checkpoint every
/// ~0.1-0.4 s, each with two fsyncs of typically 5-30 ms and up to 380 ms, which is what the
/// benchmark's p99 and maximum were made of (p99 25-530 ms). A passive checkpoint here
/// copies what it can without blocking the writer; commits stay as durable as before
/// (`synchronous=NORMAL`: a commit is in the log when the answer leaves, and the log is
/// what survives a crash). With this and [`Lite`]'s fixed plans, the same benchmark in the
/// same session measured p99 3.4-4.4 ms in 8 of 10 runs (the November code: 21-549 ms).
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let checkpoint = || {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "write-ahead log checkpoint failed");
                    }
                };
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    checkpoint();
                }
                checkpoint();
            })
            .map_err(|e| {
                StoreError::Settings(format!("cannot start the checkpoint thread: {e}"))
            })?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.backend {
            Backend::Sqlite(_) => "Store(sqlite)",
            Backend::Postgres { .. } => "Store(postgres)",
        })
    }
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const LOGIN_COLUMNS: &str = "id, account, rp, mode, context, options, correct, nonce, created, \
                             expires, state, decided_at, device, decision";

fn login_row(r: &[Val]) -> Result<Login, StoreError> {
    Ok(Login {
        id: r[0].text()?,
        user: r[1].text()?,
        rp: r[2].text()?,
        mode: r[3].text()?,
        context: r[4].text()?,
        options: r[5].text()?,
        correct: r[6].text()?,
        nonce: r[7].text()?,
        created: u(r[8].int()?),
        expires: u(r[9].int()?),
        state: r[10].text()?,
        decided_at: r[11].opt_int()?.map(u),
        device: r[12].opt_text()?,
        decision: r[13].opt_text()?.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

const API_KEY_COLUMNS: &str = "name, rp, created, last_used, revoked";

fn api_key_row(r: &[Val]) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        name: r[0].text()?,
        rp: r[1].opt_text()?,
        created: u(r[2].int()?),
        last_used: r[3].opt_int()?.map(u),
        revoked: r[4].opt_int()?.map(u),
    })
}

const DEVICE_COLUMNS: &str = "id, account, public_key, created, revoked";

fn device_row(r: &[Val]) -> Result<Device, StoreError> {
    Ok(Device {
        id: r[0].text()?,
        user: r[1].text()?,
        public_key: r[2].blob()?,
        created: u(r[3].int()?),
        revoked: r[4].opt_int()?.map(u),
    })
}

/// Runs blocking PostgreSQL work without stalling the async runtime it is called from
/// (inside [`Store::run`] it is already on a blocking thread and just runs `f`).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Statements are atomic, so a panic while holding the lock cannot leave half a write.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What [`Store::poll`] runs: the one-row `d` keeps a row (with NULL login columns) when
/// nothing is pending.
const POLL_WITH_NOTICES: &str = "SELECT (SELECT COUNT(*) FROM devices WHERE id = ?3 AND revoked IS NULL), \
     (SELECT COUNT(*) FROM notices WHERE device = ?3), \
     l.id, l.account, l.rp, l.mode, l.context, l.options, l.correct, l.nonce, \
     l.created, l.expires, l.state, l.decided_at, l.device, l.decision \
     FROM (SELECT 1 AS one) AS d LEFT JOIN logins AS l \
     ON l.account = ?1 AND l.state = 'pending' AND l.expires > ?2 \
     ORDER BY l.created, l.id";
/// [`Store::poll`] without the notices count.
const POLL_WITHOUT_NOTICES: &str = "SELECT (SELECT COUNT(*) FROM devices WHERE id = ?3 AND revoked IS NULL), 0, \
     l.id, l.account, l.rp, l.mode, l.context, l.options, l.correct, l.nonce, \
     l.created, l.expires, l.state, l.decided_at, l.device, l.decision \
     FROM (SELECT 1 AS one) AS d LEFT JOIN logins AS l \
     ON l.account = ?1 AND l.state = 'pending' AND l.expires > ?2 \
     ORDER BY l.created, l.id";

/// [`Store::standing`]'s statement, formatted once (every login runs it).
fn standing_sql() -> &'static str {
    const LAST_APPROVAL: &str = "COALESCE((SELECT MAX(decided_at) FROM logins \
         WHERE account = ?1 AND state = 'approved'), 0)";
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT (SELECT COUNT(*) FROM devices WHERE account = ?1 AND revoked IS NULL), \
         COALESCE((SELECT muted_until FROM users WHERE name = ?1), 0), \
         (SELECT COUNT(*) FROM logins WHERE account = ?1 AND state = 'pending' \
          AND expires > ?2), \
         (SELECT COUNT(*) FROM logins WHERE account = ?1 AND created > ?3), \
         (SELECT COUNT(*) FROM logins WHERE account = ?1 AND created > {LAST_APPROVAL}), \
         (SELECT COUNT(*) FROM logins WHERE account = ?1 AND created > {LAST_APPROVAL} \
          AND state IN ('denied', 'not_me'))"
        )
    });
    &SQL
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and runs pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Query plans fixed when a statement is first prepared (see [`Lite`]).
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            let sql = Engine::Sqlite.schema(sql);
            conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", n + 1))?;
            tracing::info!(version = n + 1, "database migrated");
        }
        // An in-memory database (tests) has no log to checkpoint.
        let wal = conn.pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))?;
        let checkpointer = if wal.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
            Some(Checkpointer::start(path)?)
        } else {
            None
        };
        Ok(Self {
            backend: Backend::Sqlite(Mutex::new(conn)),
            ops: AtomicU64::new(0),
            _checkpointer: checkpointer,
        })
    }

    /// Connects to PostgreSQL at `url` (`postgres://user@host:port/db`) and runs pending
    /// migrations (under an advisory lock, so instances starting together migrate once).
    pub fn open_postgres(url: &str) -> Result<Self, StoreError> {
        blocking(|| {
            let (config, tls) = pg_settings(url)?;
            let mut client = config.connect(tls.clone())?;
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(7468657373)", &[])?;
            tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)", &[])?;
            let version: i64 =
                tx.query_opt("SELECT version FROM schema_version", &[])?.map_or(0, |r| r.get(0));
            if version == 0 {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
            }
            for (n, sql) in
                MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0))
            {
                tx.batch_execute(&Engine::Postgres.schema(sql))?;
                let v = i64::try_from(n + 1).unwrap_or(i64::MAX);
                tx.execute("UPDATE schema_version SET version = $1", &[&v])?;
                tracing::info!(version = n + 1, "database migrated");
            }
            tx.commit()?;
            drop(client);
            let pool = r2d2::Pool::builder()
                .max_size(POSTGRES_POOL_SIZE)
                // A broken connection is noticed when used (and replaced); checking each one
                // on checkout would cost a round trip per request.
                .test_on_check_out(false)
                .connection_timeout(std::time::Duration::from_secs(10))
                .build(PgManager(r2d2_postgres::PostgresConnectionManager::new(config, tls)))?;
            let mut id = [0u8; 8];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
                .map_err(|_| StoreError::Settings("random generator failed".into()))?;
            Ok(Self {
                backend: Backend::Postgres {
                    pool,
                    url: url.to_owned(),
                    turns: tokio::sync::Semaphore::new(POSTGRES_POOL_SIZE as usize),
                    instance: data_encoding::HEXLOWER.encode(&id),
                },
                ops: AtomicU64::new(0),
                _checkpointer: None,
            })
        })
    }

    /// Runs `f`, synchronous work with store calls in it, for an async request handler.
    ///
    /// PostgreSQL calls block, so each one used to run in `block_in_place` on its own: under
    /// load every waiting request held a thread of Tokio's blocking pool, up to its cap of
    /// 512, all queueing for [`POSTGRES_POOL_SIZE`] connections, and once the cap was reached
    /// the runtime's own work (accepting, reading and answering requests) waited for them
    /// too (issue 13: 519 threads per instance). Here a request first waits for one of
    /// [`POSTGRES_POOL_SIZE`] turns without a thread, then runs `f` on a blocking thread: no
    /// more threads block than there are connections, and a connection is always free for
    /// the request holding a turn. `f` must not call `run` itself. SQLite (one connection
    /// behind a mutex, sub-millisecond statements) runs `f` in place as before.
    pub(crate) async fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.backend {
            Backend::Sqlite(_) => f(),
            Backend::Postgres { turns, .. } => {
                // The semaphore is never closed; were it, running unthrottled is still correct.
                let _turn = turns.acquire().await.ok();
                blocking(f)
            }
        }
    }

    /// Runs `f` on the connection (one statement or several without a transaction).
    fn with<R>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => f(&mut Lite(&lock(c))),
            Backend::Postgres { pool, .. } => blocking(|| {
                let mut conn = pool.get()?;
                let PgConn { client, prepared } = &mut *conn;
                f(&mut Pg { client, prepared })
            }),
        }
    }

    /// Runs `f` in one transaction.
    fn tx<R>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut conn = lock(c);
                let tx = conn.transaction()?;
                let r = f(&mut Lite(&tx))?;
                tx.commit()?;
                Ok(r)
            }
            Backend::Postgres { pool, .. } => blocking(|| {
                let mut conn = pool.get()?;
                let PgConn { client, prepared } = &mut *conn;
                let mut tx = client.transaction()?;
                let r = f(&mut Pg { client: &mut tx, prepared })?;
                tx.commit()?;
                Ok(r)
            }),
        }
    }

    fn one(&self, sql: &str, params: &[Val]) -> Result<Option<Vec<Val>>, StoreError> {
        Ok(self.with(|db| db.rows(sql, params))?.into_iter().next())
    }

    fn exec(&self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        self.with(|db| db.exec(sql, params))
    }

    /// The PostgreSQL URL when this store is PostgreSQL (for the wake-up listener).
    pub fn postgres_url(&self) -> Option<&str> {
        match &self.backend {
            Backend::Postgres { url, .. } => Some(url),
            Backend::Sqlite(_) => None,
        }
    }

    /// This instance's name in its notifications (PostgreSQL only).
    pub fn instance(&self) -> Option<&str> {
        match &self.backend {
            Backend::Postgres { instance, .. } => Some(instance),
            Backend::Sqlite(_) => None,
        }
    }

    /// Tells the other instances about a change to `key` (PostgreSQL `NOTIFY 'INSTANCE KEY'`;
    /// nothing for SQLite, which serves one instance). The sender has woken its own waiters
    /// already, so its listener skips its own notifications ([`Store::listen`]): each of
    /// them used to wake the same waiters a second time, and every waiter woken queries
    /// the database again.
    pub fn notify(&self, key: &str) {
        if let Backend::Postgres { instance, .. } = &self.backend
            // `exec`, not `rows`: pg_notify returns `void`, which no column type reads.
            && let Err(e) = self.exec(
                "SELECT pg_notify('tessera', ?1)",
                &[format!("{instance} {key}").as_str().into()],
            )
        {
            tracing::error!(error = %e, "cannot notify other instances");
        }
    }

    /// The key of a notification's `payload`, or `None` when instance `own` sent it.
    /// Payloads without an instance name (instances before names were added) are keys.
    fn notified_key<'p>(payload: &'p str, own: &str) -> Option<&'p str> {
        match payload.split_once(' ') {
            Some((from, key))
                if from.len() == 16 && from.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                (from != own).then_some(key)
            }
            _ => Some(payload),
        }
    }

    /// Listens for other instances' notifications at `url` and calls `wake` with each key
    /// (not those instance `own` sent), reconnecting after errors; returns when `wake`
    /// returns false. `wake("")` is a call to check whether to go on.
    pub fn listen(url: &str, own: &str, mut wake: impl FnMut(&str) -> bool) {
        loop {
            let result = (|| -> Result<bool, StoreError> {
                let (config, tls) = pg_settings(url)?;
                let mut client = config.connect(tls)?;
                client.batch_execute("LISTEN tessera")?;
                let mut notifications = client.notifications();
                use postgres::fallible_iterator::FallibleIterator as _;
                loop {
                    // A fresh iterator each time: `TimeoutIter` does not re-arm its timer
                    // after a timeout, so reusing one spins at 100% CPU once idle for 1 s.
                    match notifications.timeout_iter(std::time::Duration::from_secs(1)).next() {
                        Ok(Some(n)) => {
                            let key = Self::notified_key(n.payload(), own).unwrap_or("");
                            if !wake(key) {
                                return Ok(false);
                            }
                        }
                        Ok(None) => {
                            // Timeout: check that we are still wanted.
                            if !wake("") {
                                return Ok(false);
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            })();
            match result {
                Ok(false) => return,
                Ok(true) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "wake-up listener lost its connection; reconnecting");
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        }
    }

    /// Writes a meta value unless one exists; returns the stored value.
    pub fn meta_init(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            &[key.into(), Val::Blob(value.to_vec())],
        )?;
        self.one("SELECT value FROM meta WHERE key = ?1", &[key.into()])?
            .ok_or_else(|| StoreError::Malformed("meta value vanished".into()))?[0]
            .blob()
    }

    /// Counts API keys.
    pub fn api_key_count(&self) -> Result<u64, StoreError> {
        self.one("SELECT COUNT(*) FROM api_keys", &[])?.map_or(Ok(0), |r| r[0].int()).map(u)
    }

    /// Adds an API key by its hash, for relying party `rp` (`None`: every relying party).
    /// Returns false (and adds nothing) when an unrevoked key already has this name.
    pub fn add_api_key(
        &self,
        hash: &str,
        name: &str,
        rp: Option<&str>,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.tx(|db| {
            let taken = db.rows(
                "SELECT 1 FROM api_keys WHERE name = ?1 AND revoked IS NULL",
                &[name.into()],
            )?;
            if !taken.is_empty() {
                return Ok(false);
            }
            db.exec(
                "INSERT INTO api_keys (key_hash, name, created, rp) VALUES (?1, ?2, ?3, ?4)",
                &[hash.into(), name.into(), now.into(), rp.into()],
            )?;
            Ok(true)
        })
    }

    /// Returns the API key with this hash (revoked ones too: the caller refuses them).
    pub fn api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.one(
            &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"),
            &[hash.into()],
        )?
        .map(|r| api_key_row(&r))
        .transpose()
    }

    /// Lists every API key, oldest first (hashes are not returned).
    pub fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.with(|db| {
            db.rows(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created, name"), &[])
        })?
        .iter()
        .map(|r| api_key_row(r))
        .collect()
    }

    /// Records that the key with this hash was used at `now`.
    pub fn touch_api_key(&self, hash: &str, now: u64) -> Result<(), StoreError> {
        self.exec(
            "UPDATE api_keys SET last_used = ?2 WHERE key_hash = ?1",
            &[hash.into(), now.into()],
        )?;
        Ok(())
    }

    /// Revokes the unrevoked API keys named `name`; returns how many.
    pub fn revoke_api_key(&self, name: &str, now: u64) -> Result<u64, StoreError> {
        self.exec(
            "UPDATE api_keys SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL",
            &[name.into(), now.into()],
        )
    }

    /// Records an enrolment offer.
    pub fn add_enrolment(
        &self,
        device: &str,
        user: &str,
        credential_hash: &str,
        expires: u64,
    ) -> Result<(), StoreError> {
        self.tx(|db| {
            db.exec("INSERT INTO users (name) VALUES (?1) ON CONFLICT DO NOTHING", &[user.into()])?;
            db.exec(
                "INSERT INTO enrolments (device, account, credential_hash, expires) \
                 VALUES (?1, ?2, ?3, ?4)",
                &[device.into(), user.into(), credential_hash.into(), expires.into()],
            )?;
            Ok(())
        })
    }

    /// Returns whether `device` has an open (unused, unexpired) enrolment with this
    /// credential. Reads only: a caller with a wrong credential changes nothing.
    pub fn enrolment_open(
        &self,
        device: &str,
        credential_hash: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .one(
                "SELECT 1 FROM enrolments WHERE device = ?1 AND credential_hash = ?2 \
                 AND used = 0 AND expires > ?3",
                &[device.into(), credential_hash.into(), now.into()],
            )?
            .is_some())
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
        self.tx(|db| {
            let params = [device.into(), credential_hash.into(), now.into()];
            let user = db
                .rows(
                    "SELECT account FROM enrolments WHERE device = ?1 AND credential_hash = ?2 \
                     AND used = 0 AND expires > ?3",
                    &params,
                )?
                .into_iter()
                .next()
                .map(|r| r[0].text())
                .transpose()?;
            let Some(user) = user else { return Ok(None) };
            // The conditional update makes the credential single use even when two requests
            // race (the loser changes no row).
            if db.exec(
                "UPDATE enrolments SET used = 1 WHERE device = ?1 AND credential_hash = ?2 \
                 AND used = 0 AND expires > ?3",
                &params,
            )? != 1
            {
                return Ok(None);
            }
            // The user's other active devices hear of the new one (the new one does not).
            let detail = serde_json::json!({ "user": user, "device": device }).to_string();
            db.exec(
                "INSERT INTO notices (device, kind, at, detail) SELECT id, 'device_enrolled', \
                 ?3, ?4 FROM devices WHERE account = ?1 AND revoked IS NULL AND id <> ?2",
                &[user.as_str().into(), device.into(), now.into(), detail.as_str().into()],
            )?;
            db.exec(
                "INSERT INTO devices (id, account, public_key, created) VALUES (?1, ?2, ?3, ?4)",
                &[device.into(), user.as_str().into(), Val::Blob(public_key.to_vec()), now.into()],
            )?;
            Ok(Some(user))
        })
    }

    /// Returns a device by id.
    pub fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.one(&format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"), &[id.into()])?
            .map(|r| device_row(&r))
            .transpose()
    }

    /// Lists a user's devices.
    pub fn devices(&self, user: &str) -> Result<Vec<Device>, StoreError> {
        self.with(|db| {
            db.rows(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE account = ?1 ORDER BY created, id"
                ),
                &[user.into()],
            )
        })?
        .iter()
        .map(|r| device_row(r))
        .collect()
    }

    /// Revokes a device of `user`; false if there is none (or it was revoked already).
    pub fn revoke_device(&self, user: &str, id: &str, now: u64) -> Result<bool, StoreError> {
        self.tx(|db| {
            let revoked = db.exec(
                "UPDATE devices SET revoked = ?3 WHERE id = ?1 AND account = ?2 \
                 AND revoked IS NULL",
                &[id.into(), user.into(), now.into()],
            )? == 1;
            // A revoked device fetches nothing any more: its notices would stay forever.
            db.exec("DELETE FROM notices WHERE device = ?1", &[id.into()])?;
            Ok(revoked)
        })
    }

    /// What a device's long-poll looks at, in one statement (one round trip, whatever the
    /// engine): `None` when `device` is revoked (or gone); else the pending, unexpired
    /// logins of `user`, oldest first, and, when `notices`, whether notices wait for
    /// `device`. A long-poll runs it on every wake-up, so a device revoked while it waits
    /// gets nothing more.
    pub fn poll(
        &self,
        device: &str,
        user: &str,
        now: u64,
        notices: bool,
    ) -> Result<Option<(Vec<Login>, bool)>, StoreError> {
        let sql = if notices { POLL_WITH_NOTICES } else { POLL_WITHOUT_NOTICES };
        let rows = self.with(|db| db.rows(sql, &[user.into(), now.into(), device.into()]))?;
        let Some(first) = rows.first() else {
            return Err(StoreError::Malformed("no poll row".into()));
        };
        if first[0].int()? == 0 {
            return Ok(None);
        }
        let noticed = first[1].int()? > 0;
        let logins = rows
            .iter()
            .filter(|r| r[2] != Val::Null)
            .map(|r| login_row(&r[2..]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((logins, noticed)))
    }

    /// Takes (returns and deletes) the notices waiting for `device`, oldest first: each is
    /// handed out once, even to concurrent polls (one `DELETE ... RETURNING`).
    pub fn take_notices(&self, device: &str) -> Result<Vec<Notice>, StoreError> {
        let mut notices = self
            .with(|db| {
                db.rows(
                    "DELETE FROM notices WHERE device = ?1 RETURNING id, kind, at, detail",
                    &[device.into()],
                )
            })?
            .iter()
            .map(|r| {
                Ok((
                    r[0].int()?,
                    Notice { kind: r[1].text()?, at: u(r[2].int()?), detail: r[3].text()? },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        notices.sort_by_key(|(id, _)| *id);
        Ok(notices.into_iter().map(|(_, n)| n).collect())
    }

    /// Records a device request nonce; false if it was seen before (a replay). Prunes
    /// nonces older than `horizon_ms` now and then.
    pub fn use_nonce(
        &self,
        device: &str,
        nonce: &str,
        now_ms: u64,
        horizon_ms: u64,
    ) -> Result<bool, StoreError> {
        let inserted = self.exec(
            "INSERT INTO nonces (device, nonce, seen) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            &[device.into(), nonce.into(), now_ms.into()],
        )? == 1;
        if self.ops.fetch_add(1, Ordering::Relaxed).is_multiple_of(1024) {
            self.exec(
                "DELETE FROM nonces WHERE seen < ?1",
                &[now_ms.saturating_sub(horizon_ms).into()],
            )?;
        }
        Ok(inserted)
    }

    /// What creating a login for `user` must check, in one statement: active devices, mute,
    /// pending logins and the push-fatigue counts (logins created after `since` and since
    /// the last approval). One round trip instead of six (issue 13: creating a login on
    /// PostgreSQL cost nine).
    pub fn standing(&self, user: &str, now: u64, since: u64) -> Result<Standing, StoreError> {
        let row = self
            .one(standing_sql(), &[user.into(), now.into(), since.into()])?
            .ok_or_else(|| StoreError::Malformed("no counts".into()))?;
        Ok(Standing {
            active_devices: u(row[0].int()?),
            muted_until: u(row[1].int()?),
            outstanding: u(row[2].int()?),
            history: LoginHistory {
                last_hour: u(row[3].int()?),
                since_success: u(row[4].int()?),
                denials_since_success: u(row[5].int()?),
            },
        })
    }

    /// Stores a new login.
    pub fn add_login(&self, l: &Login) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO logins ({LOGIN_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', NULL, NULL, NULL)"
            ),
            &[
                l.id.as_str().into(),
                l.user.as_str().into(),
                l.rp.as_str().into(),
                l.mode.as_str().into(),
                l.context.as_str().into(),
                l.options.as_str().into(),
                l.correct.as_str().into(),
                l.nonce.as_str().into(),
                l.created.into(),
                l.expires.into(),
            ],
        )?;
        Ok(())
    }

    /// Returns a login, marking it expired first if its time has passed.
    pub fn login(&self, id: &str, now: u64) -> Result<Option<Login>, StoreError> {
        self.with(|db| {
            db.exec(
                "UPDATE logins SET state = 'expired', decided_at = expires \
                 WHERE id = ?1 AND state = 'pending' AND expires <= ?2",
                &[id.into(), now.into()],
            )?;
            db.rows(&format!("SELECT {LOGIN_COLUMNS} FROM logins WHERE id = ?1"), &[id.into()])
        })?
        .first()
        .map(|r| login_row(r))
        .transpose()
    }

    /// Returns a user's pending, unexpired logins, oldest first.
    pub fn pending_for_user(&self, user: &str, now: u64) -> Result<Vec<Login>, StoreError> {
        self.with(|db| {
            db.rows(
                &format!(
                    "SELECT {LOGIN_COLUMNS} FROM logins WHERE account = ?1 AND state = 'pending' \
                     AND expires > ?2 ORDER BY created, id"
                ),
                &[user.into(), now.into()],
            )
        })?
        .iter()
        .map(|r| login_row(r))
        .collect()
    }

    /// Takes the decision for a pending, unexpired login: exactly once. Also mutes the user
    /// until `mute_until` when given ("not me"), and then expires the user's other open
    /// logins. Returns false if the login was no longer pending.
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
        self.tx(|db| {
            let changed = db.exec(
                "UPDATE logins SET state = ?2, decided_at = ?3, device = ?4, decision = ?5 \
                 WHERE id = ?1 AND state = 'pending' AND expires > ?3",
                &[id.into(), state.into(), now.into(), device.into(), json.as_str().into()],
            )? == 1;
            if changed && let Some(until) = mute_until {
                db.exec(
                    "UPDATE users SET muted_until = CASE WHEN muted_until > ?2 THEN muted_until \
                     ELSE ?2 END WHERE name = (SELECT account FROM logins WHERE id = ?1)",
                    &[id.into(), until.into()],
                )?;
                // "Not me": none of the user's other open logins may be approved either.
                db.exec(
                    "UPDATE logins SET state = 'expired', decided_at = ?2 \
                     WHERE account = (SELECT account FROM logins WHERE id = ?1) \
                     AND state = 'pending' AND id <> ?1",
                    &[id.into(), now.into()],
                )?;
            }
            Ok(changed)
        })
    }

    /// Counts the rows of `table` (tests check what a refused request left behind).
    #[cfg(test)]
    pub(crate) fn count(&self, table: &str) -> u64 {
        self.one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .ok()
            .flatten()
            .and_then(|r| r[0].int().ok())
            .map_or(0, u)
    }

    /// Appends to the audit log (failures are logged, never block the operation).
    pub fn audit(&self, at: u64, event: &str, user: Option<&str>, detail: &serde_json::Value) {
        let result = self.exec(
            "INSERT INTO audit (at, event, account, detail) VALUES (?1, ?2, ?3, ?4)",
            &[at.into(), event.into(), user.into(), detail.to_string().as_str().into()],
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
        let (sql, params) = match user {
            Some(user) => (
                "SELECT id, at, event, account, detail FROM audit WHERE id > ?1 AND account = ?2 \
                 ORDER BY id LIMIT ?3",
                vec![Val::Int(after), user.into(), limit.into()],
            ),
            None => (
                "SELECT id, at, event, account, detail FROM audit WHERE id > ?1 ORDER BY id \
                 LIMIT ?2",
                vec![Val::Int(after), limit.into()],
            ),
        };
        self.with(|db| db.rows(sql, &params))?
            .iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r[0].int()?,
                    at: u(r[1].int()?),
                    event: r[2].text()?,
                    user: r[3].opt_text()?,
                    detail: r[4].text()?,
                })
            })
            .collect()
    }
}

/// The lowercase hex SHA-256 that the store keeps of enrolment credentials and API keys
/// (never the secrets themselves).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use postgres::config::SslMode;

    #[test]
    fn a_database_on_another_host_needs_tls_unless_told_otherwise() {
        let mode = |url: &str| pg_settings(url).unwrap().0.get_ssl_mode();
        assert_eq!(mode("postgres://u@db.example.com/tessera"), SslMode::Require);
        assert_eq!(mode("postgres://u@10.0.0.5:5432/tessera"), SslMode::Require);
        assert_eq!(mode("postgres://u@127.0.0.1:5432/tessera"), SslMode::Disable);
        assert_eq!(mode("postgres://u@localhost/tessera?sslmode=verify-full"), SslMode::Require);
        assert_eq!(mode("postgres://u@db.example.com/t?sslmode=prefer"), SslMode::Prefer);
        assert_eq!(mode("postgres://u@db.example.com/t?sslmode=disable"), SslMode::Disable);
        assert!(pg_settings("postgres://u@db.example.com/t?sslmode=sometimes").is_err());
        assert!(pg_settings("postgres://u@h/t?sslrootcert=/nonexistent/ca.pem").is_err());
    }

    /// Issue 13: SQLite re-planned the long-poll's and the login checks' statements on every
    /// execution (for each new bound value), inside the connection lock.
    #[test]
    fn sqlite_statements_are_planned_once_whatever_the_values() {
        let store = Store::open(Path::new(":memory:")).unwrap();
        for i in 0..20u64 {
            let user = format!("user-{i}");
            store.standing(&user, 1000 + i, i).unwrap();
            store.poll(&format!("device-{i}"), &user, 1000 + i, false).unwrap();
            store.poll(&format!("device-{i}"), &user, 1000 + i, true).unwrap();
        }
        let Backend::Sqlite(conn) = &store.backend else { panic!("sqlite") };
        let conn = lock(conn);
        for sql in [POLL_WITH_NOTICES, POLL_WITHOUT_NOTICES, standing_sql()] {
            let stmt = conn.prepare_cached(sql).unwrap();
            assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql}");
        }
    }

    /// Issue 13: the write-ahead log is copied into the database by the checkpoint thread,
    /// not by a request's commit: the request connection's own checkpoint is only a backstop
    /// far above what these writes reach, yet the database file grows while the store is
    /// open.
    #[test]
    fn the_write_ahead_log_is_checkpointed_off_the_request_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let store = Store::open(&path).unwrap();
        {
            let Backend::Sqlite(conn) = &store.backend else { panic!("sqlite") };
            let pages: i64 =
                lock(conn).pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)).unwrap();
            assert_eq!(pages, BACKSTOP_CHECKPOINT_PAGES);
        }
        let before = std::fs::metadata(&path).unwrap().len();
        for i in 0..300 {
            store.audit(i, "test", Some(&format!("user-{i}")), &serde_json::json!({ "n": i }));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::fs::metadata(&path).unwrap().len() <= before {
            assert!(std::time::Instant::now() < deadline, "the log was never checkpointed");
            std::thread::sleep(CHECKPOINT_EVERY / 5);
        }
        drop(store);
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.count("audit"), 300);
    }

    #[test]
    fn one_schema_is_spelled_for_each_engine() {
        let sql = "CREATE TABLE t (id SERIAL, n INT NOT NULL, b BYTES, i INTEGER);\
                   CREATE INDEX t_n ON t(n);";
        assert_eq!(
            Engine::Sqlite.schema(sql),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, b BLOB, \
             i INTEGER);CREATE INDEX t_n ON t(n);"
        );
        assert_eq!(
            Engine::Postgres.schema(sql),
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL, b BYTEA, i INTEGER);\
             CREATE INDEX t_n ON t(n);"
        );
    }

    #[test]
    fn the_sqlite_schema_matches_the_one_stores_were_created_with() {
        // The tables an existing database (made before the schemas were merged) has.
        let store = Store::open(Path::new(":memory:")).unwrap();
        let Backend::Sqlite(conn) = &store.backend else { panic!("sqlite") };
        let conn = lock(conn);
        let mut stmt = conn.prepare("SELECT sql FROM sqlite_master ORDER BY name").unwrap();
        let all: Vec<String> = stmt
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap()
            .filter_map(|r| r.unwrap())
            .collect();
        let audit = all.iter().find(|s| s.contains("TABLE audit")).unwrap();
        assert!(audit.contains("id INTEGER PRIMARY KEY AUTOINCREMENT"), "{audit}");
        let devices = all.iter().find(|s| s.contains("TABLE devices")).unwrap();
        assert!(devices.contains("public_key BLOB NOT NULL"), "{devices}");
    }

    /// Issue 13 finding 7: API keys made before keys had a scope (schema 1) keep working
    /// after migration 2, as keys for every relying party, on both engines. PostgreSQL is a
    /// throwaway cluster (`scripts/throwaway-postgres.sh`, Debian package postgresql).
    #[test]
    fn api_keys_made_before_scopes_keep_working_after_the_migration() {
        let check = |store: &Store| {
            let old =
                ApiKey { name: "old".into(), rp: None, created: 5, last_used: None, revoked: None };
            assert_eq!(store.api_key("oldhash").unwrap(), Some(old));
            store.touch_api_key("oldhash", 9).unwrap();
            assert_eq!(store.api_keys().unwrap()[0].last_used, Some(9));
            assert!(store.take_notices("nobody").unwrap().is_empty(), "notices table exists");
        };
        let old_row = "INSERT INTO api_keys (key_hash, name, created) VALUES ('oldhash', 'old', 5)";

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            let v1 = Engine::Sqlite.schema(MIGRATIONS[0]);
            conn.execute_batch(&format!("{v1}; PRAGMA user_version = 1; {old_row};")).unwrap();
        }
        check(&Store::open(&path).unwrap());

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster =
            std::env::temp_dir().join(format!("tessera-pg-migrate-{}", std::process::id()));
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/throwaway-postgres.sh");
        let started = std::process::Command::new("bash")
            .arg(script)
            .arg(&cluster)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .status()
            .unwrap();
        assert!(started.success(), "cannot start PostgreSQL (Debian package postgresql)");
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            client.batch_execute(&Engine::Postgres.schema(MIGRATIONS[0])).unwrap();
            client
                .batch_execute(&format!(
                    "CREATE TABLE schema_version (version BIGINT NOT NULL); \
                     INSERT INTO schema_version (version) VALUES (1); {old_row};"
                ))
                .unwrap();
        }
        check(&Store::open_postgres(&url).unwrap());
    }
}
