//! Database settings the way users have them: a `postgres://` URL, or libpq's `PG*` variables,
//! plus pglane's own knobs (pool size, timeouts, pooler mode). Everything is checked here,
//! before any connection is tried, and nothing here ever prints the password.

use crate::core::error::{Error, Result};
use crate::core::input::{optional, Input};
use percent_encoding::percent_decode_str;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default connections per worker process: 50 workers fit in Postgres' default 100.
pub const DEFAULT_POOL_SIZE: usize = 2;
/// Default time allowed to open one connection (TCP, TLS and authentication).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for one database operation before pglane cancels it.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// The `application_name` pglane's sessions carry unless the settings name another.
pub const DEFAULT_APPLICATION_NAME: &str = "pglane";

/// libpq's `sslmode`, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, certificate not checked; plain otherwise. libpq's default.
    Prefer,
    /// TLS always; the certificate is not checked (unless `sslrootcert` is set, as in libpq).
    Require,
    /// TLS, with the certificate chain checked against `sslrootcert` (or the system roots).
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling.
    pub fn parse(s: &str) -> Result<SslMode> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(Error::invalid_config(format!(
                "unknown sslmode {other:?}: use disable, prefer, require, verify-ca or verify-full"
            ))),
        }
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The operating system's store (also `sslrootcert=system`, as in libpq 16).
    System,
    /// A PEM file.
    File(PathBuf),
}

/// Whether a transaction-mode pooler (pgbouncer, Supavisor on port 6543) sits in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolerMode {
    /// Decide from the address (port 6543) and, where it matters, by probing the server.
    Auto,
    /// A direct connection, or a session-mode pooler.
    None,
    /// A transaction-mode pooler: no session state survives a transaction.
    Transaction,
}

impl PoolerMode {
    /// Parses `auto`, `none`/`session` or `transaction`.
    pub fn parse(s: &str) -> Result<PoolerMode> {
        match s {
            "auto" => Ok(PoolerMode::Auto),
            "none" | "session" | "false" => Ok(PoolerMode::None),
            "transaction" | "true" => Ok(PoolerMode::Transaction),
            other => Err(Error::invalid_config(format!(
                "unknown pooler mode {other:?}: use auto, none or transaction"
            ))),
        }
    }
}

/// Whether pglane's statements are prepared once per connection (named) or sent unnamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareMode {
    /// Named where it is known to be safe: the settings declare a direct connection
    /// (`pglane_pooler=none`, which the embedded server's URL carries).
    Auto,
    /// Always named: the server plans each statement shape once per connection.
    On,
    /// Never: one unnamed statement per call, planned each time.
    Off,
}

impl PrepareMode {
    /// Parses `auto`, `on` or `off`.
    pub fn parse(s: &str) -> Result<PrepareMode> {
        match s {
            "auto" => Ok(PrepareMode::Auto),
            "on" | "true" => Ok(PrepareMode::On),
            "off" | "false" => Ok(PrepareMode::Off),
            other => Err(Error::invalid_config(format!(
                "unknown prepare mode {other:?}: use auto, on or off"
            ))),
        }
    }
}

/// Where to connect and how. Built from a URL or the environment, then adjusted by options.
#[derive(Clone)]
pub struct DbConfig {
    /// Host name, IP address, or a Unix socket directory (starting with `/`).
    pub host: String,
    /// TCP port (also names the socket file).
    pub port: u16,
    /// Role to log in as.
    pub user: String,
    /// Password; never printed (see the `Debug` impl and [`DbConfig::redact`]).
    pub password: Option<String>,
    /// Database name.
    pub dbname: String,
    /// TLS mode.
    pub sslmode: SslMode,
    /// Trusted roots for `verify-ca` / `verify-full` (and `require` when set).
    pub sslrootcert: Option<RootCerts>,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
    /// Limit for opening one connection.
    pub connect_timeout: Duration,
    /// Limit for one operation; pglane cancels the query on the server when it passes.
    pub statement_timeout: Duration,
    /// Connections per process.
    pub pool_size: usize,
    /// Pooler in front of the server.
    pub pooler: PoolerMode,
    /// Named (prepared) or unnamed statements.
    pub prepare: PrepareMode,
    /// Server settings sent when a connection starts, as libpq's `options`
    /// (`-c search_path=app -c statement_timeout=5s`): the URL's `options`, or `PGOPTIONS`.
    pub options: Option<String>,
}

/// Settings a caller gives on top of a URL or the environment (`Db.connect(url, options)`).
#[derive(Debug, Clone, Default)]
pub struct DbOverrides {
    /// Connections per process.
    pub pool_size: Option<u32>,
    /// Time allowed to open a connection, in ms.
    pub connect_timeout_ms: Option<u32>,
    /// Time allowed for one operation, in ms.
    pub statement_timeout_ms: Option<u32>,
    /// `application_name` of pglane's sessions.
    pub application_name: Option<String>,
    /// `auto`, `none` or `transaction`.
    pub pooler: Option<String>,
    /// `auto`, `on` or `off`.
    pub prepare: Option<String>,
}

impl DbOverrides {
    /// Overrides whose numbers arrive as JS gave them: a pool of 1 to 100 connections, and
    /// timeouts of 1 ms to a day; anything else (`-1`, `1.5`, `'10'`) is a setting out of range,
    /// `PGLANE_INVALID_CONFIG` like every other bad setting.
    pub fn checked(
        pool_size: Option<&Input>,
        connect_timeout_ms: Option<&Input>,
        statement_timeout_ms: Option<&Input>,
        application_name: Option<String>,
        pooler: Option<String>,
        prepare: Option<String>,
    ) -> Result<DbOverrides> {
        const DAY_MS: i64 = 86_400_000;
        let int = |v: Option<&Input>, what: &str, min: i64, max: i64| {
            optional(v)
                .map(|i| {
                    i.integer(what, min, max)
                        .map(|n| n as u32)
                        .map_err(|e| Error::invalid_config(e.message()))
                })
                .transpose()
        };
        Ok(DbOverrides {
            pool_size: int(pool_size, "poolSize", 1, 100)?,
            connect_timeout_ms: int(connect_timeout_ms, "connectTimeoutMs", 1, DAY_MS)?,
            statement_timeout_ms: int(statement_timeout_ms, "statementTimeoutMs", 1, DAY_MS)?,
            application_name,
            pooler,
            prepare,
        })
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("target", &self.describe())
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("sslmode", &self.sslmode)
            .field("pool_size", &self.pool_size)
            .field("pooler", &self.pooler)
            .finish()
    }
}

/// Query parameters of a URL that pglane understands, or accepts and ignores.
const URL_PARAMS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "application_name",
    "connect_timeout",
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "pglane_pool_size",
    "pglane_statement_timeout_ms",
    "pglane_pooler",
    "pglane_prepare",
    "pgbouncer",
    "options",
];
/// Accepted for compatibility with URLs copied from other tools; they change nothing here.
const IGNORED_URL_PARAMS: &[&str] = &[
    "connection_limit",
    "pool_timeout",
    "schema",
    "channel_binding",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "gssencmode",
    "sslnegotiation",
];

impl DbConfig {
    fn base() -> DbConfig {
        DbConfig {
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            dbname: String::new(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            application_name: DEFAULT_APPLICATION_NAME.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
            pooler: PoolerMode::Auto,
            prepare: PrepareMode::Auto,
            options: None,
        }
    }

    /// Parses a `postgres://` or `postgresql://` URL. Percent-encoded parts are decoded, so a
    /// password may hold `@`, `#`, `/` or `%` written as `%40`, `%23`, `%2F`, `%25`.
    /// The URL itself is never echoed in errors: it may carry a password.
    pub fn from_url(url: &str) -> Result<DbConfig> {
        let url = url.trim();
        let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !scheme_ok {
            return Err(Error::invalid_config(
                "database URL must start with postgres:// or postgresql://",
            ));
        }
        let (url, socket) = socket_host(url);
        let parsed = url::Url::parse(&url).map_err(|e| {
            Error::invalid_config(format!(
                "database URL is malformed ({e}); percent-encode @ # / % and spaces in the user name and password"
            ))
        })?;
        let mut cfg = DbConfig::base();
        if let Some(host) = parsed.host_str() {
            if !host.is_empty() {
                cfg.host = decode(host.trim_start_matches('[').trim_end_matches(']'), "host")?;
            }
        }
        if let Some(dir) = socket {
            cfg.host = decode(&dir, "host")?;
        }
        if let Some(port) = parsed.port() {
            cfg.port = port;
        }
        if !parsed.username().is_empty() {
            cfg.user = decode(parsed.username(), "user name")?;
        }
        if let Some(pw) = parsed.password() {
            cfg.password = Some(decode(pw, "password")?);
        }
        let path = parsed.path().trim_start_matches('/');
        if !path.is_empty() {
            cfg.dbname = decode(path, "database name")?;
        }
        if parsed.fragment().is_some() {
            return Err(Error::invalid_config(
                "database URL contains '#': percent-encode it as %23 in the password",
            ));
        }
        for (key, value) in parsed.query_pairs() {
            let value = value.into_owned();
            match key.as_ref() {
                "sslmode" => cfg.sslmode = SslMode::parse(&value)?,
                "sslrootcert" => cfg.sslrootcert = Some(parse_root_certs(&value)),
                "application_name" => cfg.application_name = value,
                "connect_timeout" => {
                    cfg.connect_timeout = parse_seconds(&value, "connect_timeout")?
                }
                "host" => cfg.host = value,
                "port" => cfg.port = parse_port(&value)?,
                "user" => cfg.user = value,
                "password" => cfg.password = Some(value),
                "dbname" => cfg.dbname = value,
                "pglane_pool_size" => cfg.pool_size = parse_pool_size(&value)?,
                "pglane_statement_timeout_ms" => {
                    cfg.statement_timeout = parse_millis(&value, "pglane_statement_timeout_ms")?
                }
                "pglane_pooler" => cfg.pooler = PoolerMode::parse(&value)?,
                "pglane_prepare" => cfg.prepare = PrepareMode::parse(&value)?,
                "options" => cfg.options = Some(value).filter(|o| !o.trim().is_empty()),
                "pgbouncer" => {
                    if value == "true" {
                        cfg.pooler = PoolerMode::Transaction
                    }
                }
                k if IGNORED_URL_PARAMS.contains(&k) => {}
                k => {
                    return Err(Error::invalid_config(format!(
                        "unknown database URL parameter {k:?}; supported: {}",
                        URL_PARAMS.join(", ")
                    )))
                }
            }
        }
        cfg.finish()
    }

    /// Builds settings from libpq's variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
    /// `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`).
    pub fn from_libpq_env(env: &dyn Fn(&str) -> Option<String>) -> Result<DbConfig> {
        let mut cfg = DbConfig::base();
        if let Some(v) = env("PGHOST") {
            cfg.host = v;
        }
        if let Some(v) = env("PGPORT") {
            cfg.port = parse_port(&v)?;
        }
        if let Some(v) = env("PGUSER") {
            cfg.user = v;
        }
        cfg.password = env("PGPASSWORD");
        if let Some(v) = env("PGDATABASE") {
            cfg.dbname = v;
        }
        if let Some(v) = env("PGSSLMODE") {
            cfg.sslmode = SslMode::parse(&v)?;
        }
        if let Some(v) = env("PGSSLROOTCERT") {
            cfg.sslrootcert = Some(parse_root_certs(&v));
        }
        if let Some(v) = env("PGAPPNAME") {
            cfg.application_name = v;
        }
        if let Some(v) = env("PGCONNECT_TIMEOUT") {
            cfg.connect_timeout = parse_seconds(&v, "PGCONNECT_TIMEOUT")?;
        }
        cfg.options = env("PGOPTIONS").filter(|o| !o.trim().is_empty());
        cfg.finish()
    }

    /// The settings for this process: `DATABASE_URL`, else the embedded server's URL that
    /// pglane's global setup exports (`PGLANE_DATABASE_URL`), else libpq's variables when
    /// `PGHOST` or `PGDATABASE` is set. pglane's own variables (`PGLANE_POOL_SIZE`,
    /// `PGLANE_STATEMENT_TIMEOUT_MS`, `PGLANE_CONNECT_TIMEOUT_MS`, `PGLANE_POOLER`) apply on top.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<DbConfig> {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut cfg = if let Some(url) = non_empty("DATABASE_URL") {
            DbConfig::from_url(&url).map_err(|e| e.context("DATABASE_URL"))?
        } else if let Some(url) = non_empty("PGLANE_DATABASE_URL") {
            DbConfig::from_url(&url).map_err(|e| e.context("PGLANE_DATABASE_URL"))?
        } else if non_empty("PGHOST").is_some() || non_empty("PGDATABASE").is_some() {
            DbConfig::from_libpq_env(&non_empty)?
        } else {
            return Err(Error::invalid_config(
                "no database configured: set DATABASE_URL, or run the tests through pglane's \
                 Playwright globalSetup (which starts an embedded Postgres)",
            ));
        };
        if let Some(v) = non_empty("PGLANE_POOL_SIZE") {
            cfg.pool_size = parse_pool_size(&v)?;
        }
        if let Some(v) = non_empty("PGLANE_STATEMENT_TIMEOUT_MS") {
            cfg.statement_timeout = parse_millis(&v, "PGLANE_STATEMENT_TIMEOUT_MS")?;
        }
        if let Some(v) = non_empty("PGLANE_CONNECT_TIMEOUT_MS") {
            cfg.connect_timeout = parse_millis(&v, "PGLANE_CONNECT_TIMEOUT_MS")?;
        }
        if let Some(v) = non_empty("PGLANE_POOLER") {
            cfg.pooler = PoolerMode::parse(&v)?;
        }
        if let Some(v) = non_empty("PGLANE_PREPARE") {
            cfg.prepare = PrepareMode::parse(&v)?;
        }
        cfg.finish()
    }

    /// These settings with `overrides` on top, checked again.
    pub fn with_overrides(mut self, overrides: DbOverrides) -> Result<DbConfig> {
        if let Some(n) = overrides.pool_size {
            self.pool_size = n as usize;
        }
        if let Some(ms) = overrides.connect_timeout_ms {
            self.connect_timeout = Duration::from_millis(ms.into());
        }
        if let Some(ms) = overrides.statement_timeout_ms {
            self.statement_timeout = Duration::from_millis(ms.into());
        }
        if let Some(name) = overrides.application_name {
            self.application_name = name;
        }
        if let Some(p) = overrides.pooler {
            self.pooler = PoolerMode::parse(&p)?;
        }
        if let Some(p) = overrides.prepare {
            self.prepare = PrepareMode::parse(&p)?;
        }
        self.finish()
    }

    /// Applies defaults that depend on other fields and checks what can be checked offline.
    pub fn finish(mut self) -> Result<DbConfig> {
        if self.dbname.is_empty() {
            self.dbname = self.user.clone();
        }
        if self.host.is_empty() {
            self.host = "localhost".into();
        }
        if let Some(RootCerts::File(path)) = &self.sslrootcert {
            if !path.is_file() {
                return Err(Error::invalid_config(format!(
                    "sslrootcert file {} does not exist or is not a file",
                    path.display()
                )));
            }
        }
        if self.pool_size == 0 {
            return Err(Error::invalid_config("pool size must be at least 1"));
        }
        Ok(self)
    }

    /// Is this the address of a transaction-mode pooler, as far as settings tell?
    /// Port 6543 is where hosted Supabase (Supavisor) and most pgbouncer setups listen.
    pub fn pooler_by_settings(&self) -> Option<bool> {
        match self.pooler {
            PoolerMode::Transaction => Some(true),
            PoolerMode::None => Some(false),
            PoolerMode::Auto if self.port == 6543 => Some(true),
            PoolerMode::Auto => None,
        }
    }

    /// Are statements prepared once per connection? Only where no transaction-mode pooler can
    /// be in front: statement names are per process (`s0`, `s1`, ...), and through such a pooler
    /// one process could run another's statement.
    pub fn named_statements(&self) -> bool {
        match self.prepare {
            PrepareMode::On => true,
            PrepareMode::Off => false,
            PrepareMode::Auto => self.pooler == PoolerMode::None,
        }
    }

    /// Do connections use TLS at all? Not with `sslmode=disable`, and never on a Unix socket,
    /// whatever `sslmode` says (libpq's rule: a PGSSLMODE meant for a hosted database, say).
    pub fn uses_tls(&self) -> bool {
        self.sslmode != SslMode::Disable && !self.is_unix_socket()
    }

    /// Is `host` a Unix socket directory?
    pub fn is_unix_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `user@host:port/dbname`, safe to print.
    pub fn describe(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}@{}:{}/{}", self.user, host, self.port, self.dbname)
    }

    /// The settings as a URL with the password masked, safe to print.
    pub fn redacted_url(&self) -> String {
        let pw = if self.password.is_some() { ":***" } else { "" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "postgres://{}{}@{}:{}/{}?sslmode={}",
            self.user,
            pw,
            host,
            self.port,
            self.dbname,
            self.sslmode.as_str()
        )
    }

    /// Replaces the password (and its URL-encoded form) in `text` with `***`. A last line of
    /// defence for messages that quote something the server or a library said. (Passwords
    /// under four characters are not searched for: they would mask ordinary words.)
    pub fn redact(&self, text: &str) -> String {
        match &self.password {
            Some(pw) if pw.chars().count() >= 4 => {
                let encoded: String =
                    percent_encoding::utf8_percent_encode(pw, percent_encoding::NON_ALPHANUMERIC)
                        .to_string();
                text.replace(pw.as_str(), "***").replace(&encoded, "***")
            }
            _ => text.to_string(),
        }
    }
}

/// libpq's spellings of a Unix socket directory in a URL's host, which the `url` crate refuses
/// ("empty host"): `postgres://user@/db?host=/dir` (no host: the `host` parameter or the
/// default says where) and `postgres://user@%2Fdir/db` (the directory percent-encoded). The
/// host is replaced by a stand-in for parsing; the encoded directory is returned.
fn socket_host(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_string(), None);
    };
    let rest = &url[scheme_end..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let Some(at) = authority.rfind('@') else {
        return (url.to_string(), None);
    };
    let host_port = &authority[at + 1..];
    let host_len = host_port.find(':').unwrap_or(host_port.len());
    let host = &host_port[..host_len];
    let socket = if host.is_empty() {
        None
    } else if host.len() >= 3 && host[..3].eq_ignore_ascii_case("%2F") {
        Some(host.to_string())
    } else {
        return (url.to_string(), None);
    };
    let start = scheme_end + at + 1;
    let rebuilt = format!("{}localhost{}", &url[..start], &url[start + host_len..]);
    (rebuilt, socket)
}

fn decode(s: &str, what: &str) -> Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            Error::invalid_config(format!(
                "database URL {what} is not valid UTF-8 once decoded"
            ))
        })
}

fn parse_root_certs(value: &str) -> RootCerts {
    if value == "system" {
        RootCerts::System
    } else {
        RootCerts::File(PathBuf::from(value))
    }
}

fn parse_port(v: &str) -> Result<u16> {
    v.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::invalid_config(format!("port {v:?} is not a number from 1 to 65535")))
}

fn parse_pool_size(v: &str) -> Result<usize> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| {
            Error::invalid_config(format!("pool size {v:?} must be a number from 1 to 100"))
        })
}

fn parse_seconds(v: &str, what: &str) -> Result<Duration> {
    let secs: u64 = v.trim().parse().map_err(|_| {
        Error::invalid_config(format!("{what} {v:?} must be a whole number of seconds"))
    })?;
    // libpq treats 0 as "wait forever"; a test tool should not hang, so 0 means the default.
    Ok(if secs == 0 {
        DEFAULT_CONNECT_TIMEOUT
    } else {
        Duration::from_secs(secs)
    })
}

fn parse_millis(v: &str, what: &str) -> Result<Duration> {
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            Error::invalid_config(format!(
                "{what} {v:?} must be a positive number of milliseconds"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn parses_a_url_with_an_encoded_password() {
        let cfg = DbConfig::from_url(
            "postgresql://app%40corp:p%40ss%23w%2Frd%25x@db.example.com:6543/my%20db?sslmode=require&application_name=ci",
        )
        .unwrap();
        assert_eq!(cfg.user, "app@corp");
        assert_eq!(cfg.password.as_deref(), Some("p@ss#w/rd%x"));
        assert_eq!(cfg.host, "db.example.com");
        assert_eq!(cfg.port, 6543);
        assert_eq!(cfg.dbname, "my db");
        assert_eq!(cfg.sslmode, SslMode::Require);
        assert_eq!(cfg.application_name, "ci");
        assert_eq!(cfg.pooler_by_settings(), Some(true));
    }

    #[test]
    fn defaults_follow_libpq() {
        let cfg = DbConfig::from_url("postgres://alice@localhost").unwrap();
        assert_eq!(cfg.port, 5432);
        assert_eq!(cfg.dbname, "alice");
        assert_eq!(cfg.sslmode, SslMode::Prefer);
        assert_eq!(cfg.application_name, "pglane");
        assert_eq!(cfg.pool_size, DEFAULT_POOL_SIZE);
        assert_eq!(cfg.pooler_by_settings(), None);
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets() {
        let cfg = DbConfig::from_url("postgres://u:p@[::1]:5433/d").unwrap();
        assert_eq!(cfg.host, "::1");
        assert_eq!(cfg.describe(), "u@[::1]:5433/d");
    }

    #[test]
    fn unix_socket_directories_are_read_in_libpq_spellings() {
        let cases = [
            (
                "postgres:///d?host=%2Fvar%2Frun%2Fpostgresql",
                "/var/run/postgresql",
                "postgres",
            ),
            (
                "postgres://u:p%40w@/d?host=/tmp/pg&port=5433",
                "/tmp/pg",
                "u",
            ),
            (
                "postgresql://u@%2Fvar%2Frun%2Fpostgresql:5433/d",
                "/var/run/postgresql",
                "u",
            ),
            ("postgresql://u@%2ftmp/d", "/tmp", "u"),
        ];
        for (url, host, user) in cases {
            let cfg = DbConfig::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                (cfg.host.as_str(), cfg.user.as_str()),
                (host, user),
                "{url}"
            );
            assert!(cfg.is_unix_socket(), "{url}");
            assert_eq!(cfg.dbname, "d", "{url}");
        }
        let cfg = DbConfig::from_url("postgres://u:p%40w@/d?host=/tmp/pg&port=5433").unwrap();
        assert_eq!((cfg.port, cfg.password.as_deref()), (5433, Some("p@w")));
        // No host at all keeps the default.
        assert_eq!(
            DbConfig::from_url("postgres://u@/d").unwrap().host,
            "localhost"
        );
        assert_eq!(
            DbConfig::from_url("postgres://u@:5433/d").unwrap().port,
            5433
        );
    }

    #[test]
    fn server_options_come_from_the_url_or_pgoptions() {
        let cfg = DbConfig::from_url(
            "postgres://u@h/d?options=-c%20search_path%3Dapp%20-c%20statement_timeout%3D5s",
        )
        .unwrap();
        assert_eq!(
            cfg.options.as_deref(),
            Some("-c search_path=app -c statement_timeout=5s")
        );
        let env = env_of(&[("PGHOST", "h"), ("PGOPTIONS", "-c search_path=app")]);
        assert_eq!(
            DbConfig::from_libpq_env(&env).unwrap().options.as_deref(),
            Some("-c search_path=app")
        );
        assert_eq!(
            DbConfig::from_url("postgres://u@h/d?options=")
                .unwrap()
                .options,
            None
        );
    }

    #[test]
    fn bad_settings_fail_before_connecting_without_echoing_the_password() {
        let cases = [
            "mysql://u:secretpw@h/d",
            "postgres://u:secretpw@h/d?sslmode=maybe",
            "postgres://u:secretpw@h/d?sslrootcert=/definitely/missing.pem",
            "postgres://u:secret#pw@h/d",
            "postgres://u:secretpw@h:99999/d",
            "postgres://u:secretpw@h/d?frobnicate=1",
        ];
        for url in cases {
            let err = DbConfig::from_url(url).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidConfig, "{url}");
            assert!(
                !err.message().contains("secret"),
                "{url}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn libpq_variables_are_used_without_a_url() {
        let env = env_of(&[
            ("PGHOST", "db.internal"),
            ("PGPORT", "6000"),
            ("PGUSER", "tester"),
            ("PGPASSWORD", "pw"),
            ("PGDATABASE", "e2e"),
            ("PGSSLMODE", "disable"),
        ]);
        let cfg = DbConfig::from_env(&env).unwrap();
        assert_eq!(cfg.describe(), "tester@db.internal:6000/e2e");
        assert_eq!(cfg.password.as_deref(), Some("pw"));
        assert_eq!(cfg.sslmode, SslMode::Disable);
    }

    #[test]
    fn database_url_wins_and_pglane_variables_apply_on_top() {
        let env = env_of(&[
            ("DATABASE_URL", "postgres://a:b@h1/d1"),
            ("PGLANE_DATABASE_URL", "postgres://x:y@h2/d2"),
            ("PGLANE_POOL_SIZE", "3"),
            ("PGLANE_POOLER", "transaction"),
        ]);
        let cfg = DbConfig::from_env(&env).unwrap();
        assert_eq!(cfg.host, "h1");
        assert_eq!(cfg.pool_size, 3);
        assert_eq!(cfg.pooler, PoolerMode::Transaction);
        let none = DbConfig::from_env(&env_of(&[])).unwrap_err();
        assert_eq!(none.code(), ErrorCode::InvalidConfig);
    }

    #[test]
    fn redaction_hides_plain_and_encoded_passwords() {
        let cfg = DbConfig::from_url("postgres://u:p%40ss%2Fword@h/d").unwrap();
        let text = format!("failed for p@ss/word and {}", "p%40ss%2Fword");
        let red = cfg.redact(&text);
        assert!(
            !red.contains("p@ss/word") && !red.contains("p%40ss%2Fword"),
            "{red}"
        );
        assert!(!format!("{cfg:?}").contains("p@ss"));
        assert!(!cfg.redacted_url().contains("p@ss"));
    }
}
