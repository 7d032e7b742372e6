//! The command line of `tessera-server`, in the library so that `tessera-dist` generates the
//! man pages and shell completions from the same definitions the binary parses with (see
//! `src/dist`). The binary (`main.rs`) carries the commands out.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `tessera-server`'s arguments.
#[derive(Debug, Parser)]
#[command(name = "tessera-server", version, about = "Tessera push server")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Operator commands over the relying-party API.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Make, list and revoke relying-party API keys (on the database itself: run this
    /// where `serve` runs, with its --data or --database).
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Where the database is, for the commands that open it themselves.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The server's data folder (its SQLite database is DATA/tessera.db).
    #[arg(long, env = "TESSERA_SERVER_DATA", default_value = "tessera-server-data")]
    pub data: PathBuf,
    /// Database URL, as given to `serve`: `sqlite:PATH` or `postgres://...`.
    #[arg(long, env = "TESSERA_SERVER_DATABASE")]
    pub database: Option<String>,
}

/// `keys ...`: relying-party API keys.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make an API key named NAME that may create logins and enrolments only for relying
    /// party --rp (or, with --all-rps, for every one); prints it once.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// The key's name (unique among unrevoked keys).
        name: String,
        /// The relying party the key acts for (the `rp` of its logins, the issuer of its
        /// enrolments).
        #[arg(long, required_unless_present = "all_rps", conflicts_with = "all_rps")]
        rp: Option<String>,
        /// Let the key act for every relying party (an operator's key).
        #[arg(long)]
        all_rps: bool,
    },
    /// List the API keys: name, relying party, made, last used, revoked (never the secret).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke the API key NAME: every request with it is refused from now on.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The key's name.
        name: String,
    },
}

/// `serve`'s options.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Data folder (SQLite database, bootstrap API key).
    #[arg(long, env = "TESSERA_SERVER_DATA", default_value = "tessera-server-data")]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "TESSERA_SERVER_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Database URL: `sqlite:PATH` (default: DATA/tessera.db).
    #[arg(long, env = "TESSERA_SERVER_DATABASE")]
    pub database: Option<String>,
    /// Base URL devices use (default http://LISTEN, with the bound port).
    #[arg(long, env = "TESSERA_SERVER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// JSON config file with any of: public_url, issuer, login_expiry, max_outstanding,
    /// mute_seconds, default_mode, max_per_hour, max_since_success, escalate_after_denials,
    /// rp_rate, rp_burst, device_rate, device_burst, enrol_ttl_minutes, trusted_proxies (a
    /// list), client_address_header.
    /// Flags and environment win over it.
    #[arg(long, env = "TESSERA_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Default login lifetime in seconds.
    #[arg(long, env = "TESSERA_SERVER_LOGIN_EXPIRY")]
    pub login_expiry: Option<u64>,
    /// Seconds a "not me" mutes the user.
    #[arg(long, env = "TESSERA_SERVER_MUTE_SECONDS")]
    pub mute_seconds: Option<u64>,
    /// Push-fatigue policy: mode of a login whose relying party names none. `code` (the
    /// user types the code shown on the login screen) is the default: NIST SP 800-63B-4
    /// no longer accepts a bare approve tap. [default: code]
    #[arg(long, env = "TESSERA_SERVER_DEFAULT_MODE", value_parser = ["approve", "pick", "code"])]
    pub default_mode: Option<String>,
    /// Push-fatigue policy: most logins per user in any hour; more get 429 (0: no cap).
    /// [default: 20]
    #[arg(long, env = "TESSERA_SERVER_MAX_PER_HOUR")]
    pub max_per_hour: Option<u64>,
    /// Push-fatigue policy: most logins per user since the user's last approval; more get
    /// 429 until the user approves one or an operator steps in (0: no cap). [default: 10]
    #[arg(long, env = "TESSERA_SERVER_MAX_SINCE_SUCCESS")]
    pub max_since_success: Option<u64>,
    /// Push-fatigue policy: after this many denials ("deny", "not me", a wrong answer) since
    /// the user's last approval, every new login of the user is in `code` mode, whatever
    /// the relying party asked (0: never). "Not me" also mutes the user for
    /// --mute-seconds and expires all the user's other open logins. [default: 1]
    #[arg(long, env = "TESSERA_SERVER_ESCALATE_AFTER_DENIALS")]
    pub escalate_after_denials: Option<u64>,
    /// Relying-party requests per second per API key.
    #[arg(long, env = "TESSERA_SERVER_RP_RATE")]
    pub rp_rate: Option<f64>,
    /// Most open connections in all (keep it below the process's file descriptor limit).
    #[arg(long, env = "TESSERA_SERVER_MAX_CONNECTIONS", default_value_t = 16_000)]
    pub max_connections: usize,
    /// Most open connections from one client address (IPv6: one /64); 127.0.0.1 and ::1
    /// (a reverse proxy on this machine) count only towards --max-connections.
    #[arg(long, env = "TESSERA_SERVER_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 256)]
    pub max_connections_per_client: usize,
    /// Device requests per second per device.
    #[arg(long, env = "TESSERA_SERVER_DEVICE_RATE")]
    pub device_rate: Option<f64>,
    /// A reverse proxy of yours (address or CIDR block, repeatable; config key
    /// `trusted_proxies`). Behind a proxy every request comes from the proxy, so every user
    /// would share its enrolment bucket; from a trusted proxy the client address is read
    /// from --client-address-header instead: its rightmost address that is not a trusted
    /// proxy (entries further left are the client's own and ignored). Headers from any
    /// other peer are ignored. Trusted proxies count only towards --max-connections.
    /// Name only proxies that overwrite or append to that header.
    #[arg(long = "trusted-proxy", env = "TESSERA_SERVER_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<String>,
    /// The header trusted proxies write the client address into: `x-forwarded-for` or
    /// RFC 7239 `forwarded` (config key `client_address_header`). Only this one is read: a
    /// proxy passes the other through from the client untouched. [default: x-forwarded-for]
    #[arg(long, env = "TESSERA_SERVER_CLIENT_ADDRESS_HEADER", value_parser = ["x-forwarded-for", "forwarded"])]
    pub client_address_header: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, env = "TESSERA_SERVER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "TESSERA_SERVER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Dev mode: also serve the "Example Corp" demo relying-party pages at /demo. They act
    /// with relying-party rights and have no login, so only on a loopback address unless
    /// --demo-allow-remote.
    #[arg(long)]
    pub demo: bool,
    /// Allow --demo on a non-loopback address or public URL (anyone who reaches the pages
    /// can enrol devices and start logins for any user).
    #[arg(long, requires = "demo")]
    pub demo_allow_remote: bool,
}

/// The server and API key an `admin` command talks to.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Server base URL.
    #[arg(long, env = "TESSERA_SERVER_URL", default_value = "http://127.0.0.1:8787")]
    pub server: String,
    /// File holding the API key (else TESSERA_API_KEY).
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
}

/// `admin ...`: operator commands over the relying-party API.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Enrol USER: print the enrolment URI and its QR code.
    Enrol {
        #[command(flatten)]
        admin: AdminArgs,
        /// The user.
        user: String,
        /// Issuer shown in the authenticator.
        #[arg(long)]
        issuer: Option<String>,
        /// Print only the URI (no QR code).
        #[arg(long)]
        no_qr: bool,
    },
    /// Create a login for USER, show the login screen, wait, print the outcome.
    Login {
        #[command(flatten)]
        admin: AdminArgs,
        /// The user.
        user: String,
        /// Verification mode (default: the server's, `code` unless its operator changed it).
        #[arg(long, value_parser = ["approve", "pick", "code"])]
        mode: Option<String>,
        /// Seconds to wait for the outcome.
        #[arg(long, default_value_t = 120)]
        wait: u64,
        /// Relying party name shown on the device.
        #[arg(long)]
        rp: Option<String>,
        /// IP address of the login (context).
        #[arg(long)]
        ip: Option<String>,
        /// Approximate location (context).
        #[arg(long)]
        location: Option<String>,
        /// Login lifetime in seconds.
        #[arg(long)]
        expires_in: Option<u64>,
        /// JSON file of pinned device keys. A user's active devices are pinned on first use
        /// and written here; later logins trust only these keys. Without it, the keys are
        /// pinned from the device list at the start of each login.
        #[arg(long, env = "TESSERA_SERVER_PINS")]
        pins: Option<PathBuf>,
    },
    /// List USER's devices.
    Devices {
        #[command(flatten)]
        admin: AdminArgs,
        /// The user.
        user: String,
    },
    /// Revoke a device of USER.
    Revoke {
        #[command(flatten)]
        admin: AdminArgs,
        /// The user.
        user: String,
        /// The device id.
        device: String,
    },
    /// Print the audit log.
    Audit {
        #[command(flatten)]
        admin: AdminArgs,
        /// Only this user's events.
        #[arg(long)]
        user: Option<String>,
    },
}
