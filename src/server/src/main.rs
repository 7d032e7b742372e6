//! The `tessera-server` binary: `serve` runs the server; `admin ...` speaks the
//! relying-party API (an operator's CLI, also what scripts and tests use).
//!
//! Contract: `serve [--data DIR] [--listen ADDR] [--database URL] [--tls-cert PEM --tls-key
//! PEM] [--demo [--demo-allow-remote]]`; the first start writes a bootstrap API key to
//! `DIR/api-key` (mode 0600). `admin enrol USER`, `admin login USER
//! [--mode approve|pick|code] [--wait SECONDS]` (exit 0 only for `approved`), `admin devices
//! USER`, `admin revoke USER DEVICE`, `admin audit [--user USER]`; admin commands take
//! `--server URL` and `--api-key-file FILE` or `TESSERA_API_KEY`. `keys add NAME (--rp RP |
//! --all-rps)` (prints the key once), `keys list`, `keys revoke NAME` work on the database
//! itself and take `--data DIR` / `--database URL` as `serve` does.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use tessera_core::push::tessera::{self, ExpectedLogin, PinnedDevice};
use tessera_server::cli::{AdminArgs, AdminCommand, Cli, Command, KeysCommand, ServeArgs};
use tessera_server::conn::{self, CappedListener, Gate};
use tessera_server::proxy::{ForwardedHeader, TrustedProxies};
use tessera_server::tls::{ClientAddr, TlsListener};
use tessera_server::{AppState, Config, Store, router};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            match serve(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Keys(command) => match keys(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Admin(command) => match admin(command) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    if args.demo && !args.listen.ip().is_loopback() && !args.demo_allow_remote {
        return Err(format!(
            "--demo serves pages that act with relying-party rights and have no login; \
             listen on a loopback address (e.g. --listen 127.0.0.1:8787) instead of {}, \
             or add --demo-allow-remote if you really mean to expose them",
            args.listen
        ));
    }
    // The documented deployment is a loopback listener behind a reverse proxy: the public
    // URL says whether the pages are reachable from elsewhere.
    if let Some(url) = args.public_url.as_deref()
        && args.demo
        && !args.demo_allow_remote
        && !tessera_core::push::is_loopback_host(&url_host(url))
    {
        return Err(format!(
            "--demo serves pages that act with relying-party rights and have no login; \
             refusing them at the non-loopback public URL {url} (add --demo-allow-remote if \
             you really mean to expose them)"
        ));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(tessera_server::tls::server_config(cert, key).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    std::fs::create_dir_all(&args.data)
        .map_err(|e| format!("cannot create {}: {e}", args.data.display()))?;
    // The database holds the server's signing key: keep the folder to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&args.data, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot protect {}: {e}", args.data.display()))?;
    }
    let db = database(&args.data, args.database.as_deref())?;
    let file: Value = match &args.config {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        )
        .map_err(|e| format!("{} is not JSON: {e}", path.display()))?,
        None => json!({}),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let state = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let public_url = args
            .public_url
            .or_else(|| file.get("public_url").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| {
                format!("{}://{bound}", if tls.is_some() { "https" } else { "http" })
            });
        let mut config = Config::new(&public_url);
        let num = |k: &str| file.get(k).and_then(Value::as_u64);
        let float = |k: &str| file.get(k).and_then(Value::as_f64);
        if let Some(v) = file.get("issuer").and_then(Value::as_str) {
            v.clone_into(&mut config.issuer);
        }
        config.enrol_ttl_minutes = num("enrol_ttl_minutes").unwrap_or(config.enrol_ttl_minutes);
        config.login_expiry =
            args.login_expiry.or(num("login_expiry")).unwrap_or(config.login_expiry);
        config.max_outstanding = num("max_outstanding").unwrap_or(config.max_outstanding);
        config.mute_seconds =
            args.mute_seconds.or(num("mute_seconds")).unwrap_or(config.mute_seconds);
        let text = |k: &str| file.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(mode) = args.default_mode.clone().or(text("default_mode")) {
            config.default_mode =
                mode.parse().map_err(|_| format!("unknown default_mode {mode:?}"))?;
        }
        config.max_per_hour =
            args.max_per_hour.or(num("max_per_hour")).unwrap_or(config.max_per_hour);
        config.max_since_success = args
            .max_since_success
            .or(num("max_since_success"))
            .unwrap_or(config.max_since_success);
        config.escalate_after_denials = args
            .escalate_after_denials
            .or(num("escalate_after_denials"))
            .unwrap_or(config.escalate_after_denials);
        config.rp_rate = args.rp_rate.or(float("rp_rate")).unwrap_or(config.rp_rate);
        config.rp_burst = float("rp_burst").unwrap_or(config.rp_burst.max(config.rp_rate * 2.0));
        config.device_rate =
            args.device_rate.or(float("device_rate")).unwrap_or(config.device_rate);
        config.device_burst =
            float("device_burst").unwrap_or(config.device_burst.max(config.device_rate * 4.0));
        let nets: Vec<String> = if args.trusted_proxy.is_empty() {
            file.get("trusted_proxies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| v.as_str().map(str::to_owned).ok_or("trusted_proxies holds text only"))
                .collect::<Result<_, _>>()?
        } else {
            args.trusted_proxy.clone()
        };
        let nets = nets
            .iter()
            .map(|n| TrustedProxies::parse_net(n))
            .collect::<Result<Vec<_>, _>>()?;
        let header = match args.client_address_header.clone().or(text("client_address_header")) {
            Some(name) => name.parse()?,
            None => ForwardedHeader::default(),
        };
        if !nets.is_empty() {
            tracing::info!(proxies = ?nets, header = ?header, "client addresses of trusted proxies' requests are read from their header");
        }
        config.proxies = TrustedProxies::new(nets, header);
        let (store, db_name) = match &db {
            Db::Sqlite(path) => (Store::open(path), path.display().to_string()),
            Db::Postgres(url) => (Store::open_postgres(url), "postgres".to_owned()),
        };
        let store = store.map_err(|e| e.to_string())?;
        let proxies = config.proxies.clone();
        let state = AppState::new(store, config).map_err(|e| e.to_string())?;
        if let Some(key) = state.bootstrap_api_key().map_err(|e| e.to_string())? {
            write_secret(&args.data.join("api-key"), &key)?;
            tracing::info!(path = %args.data.join("api-key").display(), "bootstrap API key written");
        }
        tracing::info!(listen = %bound, public_url = %public_url, database = %db_name, tls = tls.is_some(), "tessera-server listening");
        let mut app = router(state.clone());
        if args.demo {
            app = app.merge(tessera_server::demo::router(state.clone()));
            eprintln!(
                "demo: {public_url}/demo (dev mode: these pages act with relying-party rights \
                 and have no login)"
            );
        }
        let app = app.into_make_service_with_connect_info::<ClientAddr>();
        let shutdown_state = state.clone();
        let shutdown = async move {
            shutdown_signal().await;
            tracing::info!("shutting down: ending long-polls, finishing requests");
            shutdown_state.begin_shutdown();
        };
        let gate = Gate::trusting(
            conn::Limits {
                total: args.max_connections,
                per_client: args.max_connections_per_client,
            },
            proxies,
        );
        let served = match tls {
            Some(config) => {
                let listener =
                    TlsListener::new(listener, config, gate).map_err(|e| e.to_string())?;
                axum::serve(listener, app).with_graceful_shutdown(shutdown).await
            }
            None => {
                let listener = CappedListener::new(listener, gate);
                axum::serve(listener, app).with_graceful_shutdown(shutdown).await
            }
        };
        served.map_err(|e| format!("server error: {e}"))?;
        Ok::<_, String>(state)
    })?;
    // The PostgreSQL client runs its own small runtime and must be dropped outside ours.
    drop(runtime);
    drop(state);
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Where the store is.
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Reads `--database` (default: `DATA/tessera.db`).
fn database(data: &Path, url: Option<&str>) -> Result<Db, String> {
    Ok(match url {
        None => Db::Sqlite(data.join("tessera.db")),
        Some(url) if url.starts_with("sqlite:") => {
            Db::Sqlite(PathBuf::from(url.trim_start_matches("sqlite:").trim_start_matches("//")))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Db::Postgres(url.to_owned())
        }
        Some(url) => {
            return Err(format!("unknown database URL {url:?} (sqlite:PATH or postgres://...)"));
        }
    })
}

/// `tessera-server keys ...`: API keys, straight on the store.
fn keys(command: KeysCommand) -> Result<(), String> {
    let (KeysCommand::Add { store: args, .. }
    | KeysCommand::List { store: args }
    | KeysCommand::Revoke { store: args, .. }) = &command;
    let store = match database(&args.data, args.database.as_deref())? {
        // A mistyped path must not create an empty database the server never reads.
        Db::Sqlite(path) if !path.exists() => {
            return Err(format!(
                "no server database at {} (give the server's --data or --database)",
                path.display()
            ));
        }
        Db::Sqlite(path) => Store::open(&path),
        Db::Postgres(url) => Store::open_postgres(&url),
    }
    .map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| e.to_string();
    match command {
        KeysCommand::Add { name, rp, .. } => {
            let key = tessera_server::keys::create(&store, &name, rp.as_deref(), now)
                .map_err(|e| e.to_string())?;
            let scope = rp.map_or_else(|| "every relying party".to_owned(), |rp| format!("{rp:?}"));
            writeln!(out, "{key}").map_err(io)?;
            eprintln!("API key {name:?} for {scope}: shown only now, keep it secret");
        }
        KeysCommand::List { .. } => {
            let time =
                |t: Option<u64>| t.map_or_else(|| "-".to_owned(), tessera_core::push::format_utc);
            writeln!(out, "NAME\tRP\tCREATED\tLAST USED\tREVOKED").map_err(io)?;
            for key in store.api_keys().map_err(|e| e.to_string())? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    key.name,
                    key.rp.as_deref().unwrap_or("*"),
                    time(Some(key.created)),
                    time(key.last_used),
                    time(key.revoked),
                )
                .map_err(io)?;
            }
        }
        KeysCommand::Revoke { name, .. } => {
            match store.revoke_api_key(&name, now).map_err(|e| e.to_string())? {
                0 => return Err(format!("no unrevoked API key named {name:?}")),
                n => writeln!(out, "revoked {n} API key(s) named {name:?}").map_err(io)?,
            }
        }
    }
    Ok(())
}

/// The host of a URL (`https://[::1]:8787/x` → `::1`), or the whole text if it has none.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or("").to_owned(),
        None => authority.split(':').next().unwrap_or("").to_owned(),
    }
}

/// Writes a secret file readable by its owner only.
fn write_secret(path: &Path, text: &str) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file =
        options.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    writeln!(file, "{text}").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The HTTP methods the admin commands use.
#[derive(Debug, Clone, Copy)]
enum Method {
    Get,
    Post,
    Delete,
}

struct Api {
    base: String,
    key: String,
    agent: ureq::Agent,
}

impl Api {
    fn new(args: &AdminArgs) -> Result<Self, String> {
        let key = match &args.api_key_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            None => std::env::var("TESSERA_API_KEY")
                .map_err(|_| "give --api-key-file FILE or set TESSERA_API_KEY".to_owned())?,
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            // Error answers carry `{"error": ...}`, which we show.
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Self {
            base: args.server.trim_end_matches('/').to_owned(),
            key: key.trim().to_owned(),
            agent,
        })
    }

    fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.key);
        let sent = match method {
            Method::Get => self.agent.get(&url).header("authorization", &auth).call(),
            Method::Delete => self.agent.delete(&url).header("authorization", &auth).call(),
            Method::Post => self
                .agent
                .post(&url)
                .header("authorization", &auth)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut response = sent.map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let status = response.status();
        let value: Value = response
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_json()
            .map_err(|e| format!("bad answer: {e}"))?;
        if !status.is_success() {
            let message = value.get("error").and_then(Value::as_str).unwrap_or("request failed");
            return Err(format!("server refused ({}): {message}", status.as_u16()));
        }
        Ok(value)
    }
}

fn admin(command: AdminCommand) -> Result<ExitCode, String> {
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| e.to_string();
    match command {
        AdminCommand::Enrol { admin, user, issuer, no_qr } => {
            let api = Api::new(&admin)?;
            let body = json!({ "issuer": issuer });
            let reply = api.call(
                Method::Post,
                &format!("/rp/v1/users/{}/enrol", encode(&user)),
                Some(body),
            )?;
            let uri = reply.get("uri").and_then(Value::as_str).unwrap_or_default();
            writeln!(out, "{uri}").map_err(io)?;
            if !no_qr {
                match qrcode::QrCode::new(uri.as_bytes()) {
                    Ok(code) => {
                        let text = code
                            .render::<qrcode::render::unicode::Dense1x2>()
                            .quiet_zone(true)
                            .build();
                        writeln!(out, "{text}").map_err(io)?;
                    }
                    Err(e) => eprintln!("warning: cannot draw the QR code: {e}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Login { admin, user, mode, wait, rp, ip, location, expires_in, pins } => {
            let api = Api::new(&admin)?;
            // Pin the device keys before the login exists, from a source the outcome cannot
            // change: the pin file, else the device list as it is now.
            let pinned = pinned_devices(&api, &user, pins.as_deref())?;
            let body = json!({
                "user": user, "mode": mode, "rp": rp, "expires_in": expires_in,
                "context": { "ip": ip, "location": location, "app": rp },
            });
            let login = api.call(Method::Post, "/rp/v1/logins", Some(body))?;
            let id = login.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            let shown_mode = login.get("mode").and_then(Value::as_str).unwrap_or("?").to_owned();
            writeln!(out, "login {id} for {user} ({shown_mode})").map_err(io)?;
            let number = login.pointer("/display/number").and_then(Value::as_str);
            let code = login.pointer("/display/code").and_then(Value::as_str);
            if let Some(n) = number {
                writeln!(out, "login screen: pick {n} in your authenticator").map_err(io)?;
            } else if let Some(c) = code {
                writeln!(out, "login screen: type {c} in your authenticator").map_err(io)?;
            } else {
                writeln!(out, "login screen: approve the request in your authenticator")
                    .map_err(io)?;
            }
            out.flush().map_err(io)?;
            let expected = ExpectedLogin { id: &id, user: &user, answer: number.or(code) };
            let deadline = std::time::Instant::now() + Duration::from_secs(wait);
            let outcome = loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now()).as_secs();
                let reply = api.call(
                    Method::Get,
                    &format!("/rp/v1/logins/{}?wait={}", encode(&id), left.min(25)),
                    None,
                )?;
                let state =
                    reply.get("state").and_then(Value::as_str).unwrap_or("pending").to_owned();
                if state != "pending" || left == 0 {
                    break (state, reply);
                }
            };
            let (state, reply) = outcome;
            // The server's `approved` counts only with the device's signed approval of this
            // login, user and answer under a pinned key: the server alone cannot forge it.
            if state == "approved"
                && let Err(e) = tessera_server::verify_outcome(&reply, &pinned, &expected)
            {
                writeln!(out, "unverified").map_err(io)?;
                eprintln!("error: the server says approved, but {e}");
                return Ok(ExitCode::FAILURE);
            }
            let shown = if state == "not_me" { "not-me" } else { state.as_str() };
            writeln!(out, "{shown}").map_err(io)?;
            Ok(if state == "approved" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        AdminCommand::Devices { admin, user } => {
            let api = Api::new(&admin)?;
            let list =
                api.call(Method::Get, &format!("/rp/v1/users/{}/devices", encode(&user)), None)?;
            for d in list.as_array().into_iter().flatten() {
                let revoked =
                    if d.get("revoked").is_some_and(|r| !r.is_null()) { " (revoked)" } else { "" };
                writeln!(
                    out,
                    "{}{revoked}",
                    d.get("id").and_then(Value::as_str).unwrap_or_default()
                )
                .map_err(io)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Revoke { admin, user, device } => {
            let api = Api::new(&admin)?;
            api.call(
                Method::Delete,
                &format!("/rp/v1/users/{}/devices/{}", encode(&user), encode(&device)),
                None,
            )?;
            writeln!(out, "revoked {device}").map_err(io)?;
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Audit { admin, user } => {
            let api = Api::new(&admin)?;
            let path = match &user {
                Some(u) => format!("/rp/v1/audit?user={}", encode(u)),
                None => "/rp/v1/audit".to_owned(),
            };
            let events = api.call(Method::Get, &path, None)?;
            for e in events.as_array().into_iter().flatten() {
                writeln!(out, "{e}").map_err(io)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The device keys to trust for `user`'s logins: from the pin file when it has the user,
/// else the user's active devices now (then written to the pin file, trust on first use).
fn pinned_devices(api: &Api, user: &str, pins: Option<&Path>) -> Result<Vec<PinnedDevice>, String> {
    let mut file: serde_json::Map<String, Value> = match pins {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a pin file: {e}", path.display()))?
        }
        _ => serde_json::Map::new(),
    };
    if let Some(known) = file.get(user) {
        let pinned = tessera_server::pins_from_devices(known);
        if !pinned.is_empty() {
            return Ok(pinned);
        }
    }
    let devices = api.call(Method::Get, &format!("/rp/v1/users/{}/devices", encode(user)), None)?;
    let pinned = tessera_server::pins_from_devices(&devices);
    if let Some(path) = pins {
        let list: Vec<Value> = pinned
            .iter()
            .map(|d| json!({ "id": d.id, "public_key": tessera::b64(&d.public_key) }))
            .collect();
        file.insert(user.to_owned(), Value::Array(list));
        let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(pinned)
}

/// Percent-encodes a path segment.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
