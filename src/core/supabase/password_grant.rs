//! Signing in through Supabase Auth's API, for projects whose signing key pglane does not have:
//! the password grant (`POST <SUPABASE_URL>/auth/v1/token?grant_type=password`, header `apikey`,
//! body `{email, password}`), its errors (a 429 is `PGLANE_AUTH_RATE_LIMITED`), and the rows
//! Supabase Auth writes for the sign-in (session, refresh token, `mfa_amr_claims`, audit entry),
//! tracked and journaled in the lane in one statement. The password and API key never appear in
//! errors.

use super::jwt::{session_from_grant, SignedSession};
use super::settings::{ApiKey, AuthSettings};
use crate::core::db::catalog::Freshness;
use crate::core::db::Db;
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::lane::tracker::{ResourceTracker, TrackedRow};
use crate::core::runs::journal;
use crate::core::schema::{quote_ident, SchemaGraph, TableId};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_postgres::types::Type;

/// How long one sign-in request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The process's HTTP client: HTTP/1.1 over rustls with ring and the system's root
/// certificates, as pglane's Postgres connections use.
fn client() -> Result<&'static reqwest::Client> {
    static CLIENT: OnceLock<std::result::Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let mut tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .timeout(REQUEST_TIMEOUT)
                .user_agent(concat!("pglane/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
}

/// `<SUPABASE_URL>/auth/v1/token?grant_type=password`.
pub fn token_url(settings: &AuthSettings) -> String {
    format!(
        "{}/auth/v1/token?grant_type=password",
        settings.supabase_url
    )
}

/// The error of a non-2xx answer: its status, and Supabase Auth's `error_code` and `msg` (which
/// hold neither the password nor the API key).
fn answer_error(url: &str, status: u16, retry_after: Option<String>, body: &str) -> Error {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let field = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_string);
    let code = field("error_code")
        .or_else(|| field("code"))
        .or_else(|| field("error"));
    let msg = field("msg")
        .or_else(|| field("message"))
        .or_else(|| field("error_description"))
        .unwrap_or_else(|| "no message".to_string());
    let said = match code {
        Some(c) => format!("{c}: {msg}"),
        None => msg,
    };
    if status == 429 {
        let wait = retry_after
            .map(|s| format!(" (retry after {s} s)"))
            .unwrap_or_default();
        return Error::new(
            ErrorCode::AuthRateLimited,
            format!(
                "Supabase Auth at {url} answered 429, rate limit reached{wait}: {said}. Its token endpoint takes, per IP, 1800 requests per hour by default (150 per 5 minutes) in bursts of at most 30 (Authentication > Rate Limits): sign in fewer users (signInWithPassword reuses a worker user's session), or mint sessions with the project's signing key (SUPABASE_JWT_PRIVATE_KEY) instead"
            ),
        );
    }
    let hint = match status {
        400 => " (is the email confirmed and the password the one pglane wrote? Is email sign-in enabled?)",
        401 | 403 => " (check the API key: the project's anon or publishable key)",
        404 => " (is SUPABASE_URL the project's API URL, without a path?)",
        _ => "",
    };
    Error::new(
        ErrorCode::AuthApi,
        format!("Supabase Auth at {url} refused the password sign-in with {status}: {said}{hint}"),
    )
}

/// Whether a request failed because the server closed its connection before answering it: what
/// a server does when it times out a kept-alive connection just as a request arrives on it (Node's
/// `http` server closes one idle for 5 s; a client still holding it sends on it). The server has
/// not read such a request, so it is sent again once, on a new connection.
fn closed_before_answer(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    if e.is_timeout() || e.is_connect() || e.is_builder() || e.is_redirect() {
        return false;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
            || s.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
                )
            })
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// The innermost cause of a failed request (e.g. `Connection reset by peer`): it names no URL,
/// header or body.
fn innermost_cause(e: &reqwest::Error) -> Option<String> {
    let mut last = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last
}

/// Posts `body` (JSON) to the token endpoint `url` with `api_key`: the answer's status,
/// `Retry-After` and body. A request the server closed its connection on before answering is sent
/// once more. `shown` is the URL errors name.
async fn post(
    url: &str,
    shown: &str,
    api_key: &str,
    body: String,
) -> Result<(u16, Option<String>, String)> {
    let send = || {
        client().map(|c| {
            c.post(url)
                .header("apikey", api_key)
                .header("content-type", "application/json")
                .header(
                    "x-client-info",
                    concat!("pglane/", env!("CARGO_PKG_VERSION")),
                )
                .body(body.clone())
                .send()
        })
    };
    let response = match send()?.await {
        Err(e) if closed_before_answer(&e) => send()?.await,
        answered => answered,
    }
    .map_err(|e| {
        let why = if e.is_timeout() {
            "no answer in time".to_string()
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            match innermost_cause(&e) {
                Some(cause) => format!("the request failed ({cause})"),
                None => "the request failed".to_string(),
            }
        };
        Error::new(
            ErrorCode::AuthApi,
            format!("cannot sign in through Supabase Auth at {shown}: {why} (check SUPABASE_URL)"),
        )
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await.map_err(|_| {
        Error::new(
            ErrorCode::AuthApi,
            format!("Supabase Auth at {shown} broke off its answer"),
        )
    })?;
    Ok((status, retry_after, body))
}

/// Signs `email` in with `password` through the password grant; the session as Supabase Auth
/// returned it (what supabase-js stores).
pub async fn sign_in(
    settings: &AuthSettings,
    api_key: &ApiKey,
    email: &str,
    password: &str,
) -> Result<SignedSession> {
    let url = token_url(settings);
    let shown = format!("{}/auth/v1/token", settings.supabase_url);
    let body = json!({ "email": email, "password": password }).to_string();
    let (status, retry_after, body) = post(&url, &shown, &api_key.0, body).await?;
    if !(200..300).contains(&status) {
        return Err(answer_error(&shown, status, retry_after, &body));
    }
    let value: Value = serde_json::from_str(&body).map_err(|_| {
        Error::new(
            ErrorCode::AuthApi,
            format!("Supabase Auth at {shown} answered {status} with something that is not JSON"),
        )
    })?;
    session_from_grant(value)
}

/// The tables Supabase Auth writes at a password sign-in, and how each row is found.
const SIGN_IN_ROWS: &[(&str, &str)] = &[
    ("sessions", "id = $1::uuid"),
    ("refresh_tokens", "session_id = $1::uuid"),
    ("mfa_amr_claims", "session_id = $1::uuid"),
    // The audit log has no foreign key: its entries name the user in their payload.
    ("audit_log_entries", "payload ->> 'actor_id' = $2::text"),
];

/// The statement finding the rows of a sign-in (and journaling them when the journal exists):
/// `(table, key)` pairs, one per row, from the tables the database has.
fn sign_in_rows_sql(graph: &SchemaGraph, journaled: bool) -> (String, Vec<TableId>) {
    let mut selects = Vec::new();
    let mut tables = Vec::new();
    for (name, filter) in SIGN_IN_ROWS {
        let Ok(t) = graph.resolve(&format!("auth.{name}")) else {
            continue;
        };
        let table = &graph.tables[t];
        if table.pk.is_empty() {
            continue;
        }
        let key: Vec<String> = table
            .pk
            .iter()
            .map(|c| format!("{}::text", quote_ident(&c.name)))
            .collect();
        selects.push(format!(
            "select {}::int as t, array[{}] as k from {} where {filter}",
            tables.len(),
            key.join(", "),
            table.sql_name()
        ));
        tables.push(t);
    }
    if selects.is_empty() {
        return (
            "select null::int as t, null::text[] as k where false".into(),
            tables,
        );
    }
    let found = selects.join(" union all ");
    let sql = if journaled {
        let names: Vec<String> = tables
            .iter()
            .map(|t| {
                format!(
                    "'{}'",
                    graph.tables[*t]
                        .table_name()
                        .qualified()
                        .replace('\'', "''")
                )
            })
            .collect();
        format!(
            "with found as ({found}), \
             journal as (insert into pglane.journal (run_id, worker_id, test_index, table_name, key) \
               select $3::text, $4::int4, $5::int4, (array[{}])[t + 1], k from found) \
             select t, k from found",
            names.join(", ")
        )
    } else {
        found
    };
    (sql, tables)
}

/// Tracks (and journals) the rows Supabase Auth wrote for the sign-in of `session`: one
/// statement. Returns how many rows were tracked.
pub async fn track_sign_in_rows(
    db: &Db,
    tracker: &ResourceTracker,
    user_id: &str,
    session: &SignedSession,
) -> Result<usize> {
    let (graph, _) = db.graph_for(Freshness::Cached).await?;
    let lane = tracker.lane().id.clone();
    let journaled = journal::exists(&graph) && !lane.run_id.is_empty();
    let (sql, tables) = sign_in_rows_sql(&graph, journaled);
    if tables.is_empty() {
        return Ok(0);
    }
    let (worker, test) = (lane.worker_id as i32, lane.test_index as i32);
    let session_id = session.session_id.clone();
    let user = user_id.to_string();
    let mut params: Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> =
        vec![(&session_id, Type::TEXT), (&user, Type::TEXT)];
    if journaled {
        params.push((&lane.run_id, Type::TEXT));
        params.push((&worker, Type::INT4));
        params.push((&test, Type::INT4));
    }
    let rows = db
        .conn()
        .await?
        .query(&sql, &params)
        .await
        .map_err(|e| e.context("tracking the rows Supabase Auth wrote for the sign-in"))?;
    for row in &rows {
        let t: i32 = row.get(0);
        let key: Vec<String> = row.get(1);
        if let Some(table) = tables.get(t as usize) {
            tracker.add(TrackedRow {
                table: graph.tables[*table].table_name(),
                key,
            });
        }
    }
    Ok(rows.len())
}

/// [`sign_in_with_password`] from a JS options object: `email` (as stored), `password`,
/// `reuse` (default true), and the settings of the signed-in user functions (`supabaseUrl`,
/// `apiKey`, `expiresIn`); the mode is always the password grant.
pub async fn sign_in_with_options(
    db: &Db,
    tracker: &ResourceTracker,
    options: Value,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<(SignedSession, bool)> {
    let Value::Object(mut options) = options else {
        return Err(Error::invalid_config(
            "signInWithPassword takes { email, password, ... }",
        ));
    };
    let mut text = |k: &str| match options.remove(k) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(Error::invalid_config(format!(
            "signInWithPassword needs {k} as a non-empty string"
        ))),
    };
    let email = text("email")?;
    let password = text("password")?;
    let reuse = match options.remove("reuse") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(Error::invalid_config("option reuse must be a boolean")),
    };
    let mut auth = super::settings::AuthOptions::take_from(&mut options)?;
    if let Some(unknown) = options.keys().next() {
        return Err(Error::invalid_config(format!(
            "signInWithPassword has no option {unknown:?}"
        )));
    }
    auth.session_mode = Some("password".into());
    let settings = AuthSettings::resolve(&auth, env)?;
    sign_in_with_password(db, tracker, &email, &password, &settings, reuse).await
}

/// A session kept for reuse: whose tracker signed which user in where, with which password
/// (its SHA-256, never the password itself), and the session.
type Reusable = ((usize, String, String, Vec<u8>), SignedSession);

/// Signs `email` in through the password grant for a test or worker, tracking what Supabase
/// Auth writes with `tracker`. With `reuse`, a session the same tracker got earlier for the same
/// user, password and Supabase URL is returned again (`true` in the result) while it has more than a
/// minute left and the tracker still tracks its session row, so a worker's user costs one
/// sign-in per worker rather than one per test.
pub async fn sign_in_with_password(
    db: &Db,
    tracker: &ResourceTracker,
    email: &str,
    password: &str,
    settings: &AuthSettings,
    reuse: bool,
) -> Result<(SignedSession, bool)> {
    static SESSIONS: std::sync::Mutex<Vec<Reusable>> = std::sync::Mutex::new(Vec::new());
    let super::settings::SessionMode::PasswordGrant(api_key) = &settings.mode else {
        return Err(Error::invalid_config(
            "signInWithPassword needs the project's API key: give apiKey or SUPABASE_ANON_KEY",
        ));
    };
    use sha2::Digest;
    let key = (
        std::ptr::from_ref(tracker) as usize,
        settings.supabase_url.clone(),
        email.to_lowercase(),
        sha2::Sha256::digest(password.as_bytes()).to_vec(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if reuse {
        let kept = SESSIONS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s.clone());
        if let Some(session) = kept {
            let tracked = tracker.list().iter().any(|r| {
                r.table.schema == "auth"
                    && r.table.name == "sessions"
                    && r.key.first() == Some(&session.session_id)
            });
            if tracked && session.expires_at > now + 60 {
                return Ok((session, true));
            }
        }
    }
    let session = sign_in(settings, api_key, email, password).await?;
    let user_id = session
        .session
        .get("user")
        .and_then(|u| u.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    track_sign_in_rows(db, tracker, &user_id, &session).await?;
    let mut kept = SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
    kept.retain(|(k, s)| *k != key && s.expires_at > now);
    kept.push((key, session.clone()));
    Ok((session, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback HTTP/1.1 server: `answers(connection, request)` says whether the n-th request
    /// on the n-th connection (both from 0) gets a 200 kept-alive answer or has its connection
    /// closed unanswered. Returns its address and the (connection, request) pairs it was sent.
    async fn http_server(
        answers: fn(usize, usize) -> bool,
    ) -> (String, Arc<std::sync::Mutex<Vec<(usize, usize)>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            for connection in 0.. {
                let (mut socket, _) = listener.accept().await.unwrap();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    for request in 0.. {
                        // One request: its head, then content-length bytes of body.
                        let complete = |b: &[u8]| {
                            let end = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
                            let head = String::from_utf8_lossy(&b[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                            (b.len() >= end + length).then_some(end + length)
                        };
                        let used = loop {
                            if let Some(n) = complete(&buffer) {
                                break n;
                            }
                            let mut chunk = [0u8; 4096];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        };
                        buffer.drain(..used);
                        log.lock().unwrap().push((connection, request));
                        if !answers(connection, request) {
                            return; // closed, unanswered
                        }
                        let body = r#"{"ok":true}"#;
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (
            format!("http://{addr}/auth/v1/token?grant_type=password"),
            seen,
        )
    }

    #[tokio::test]
    async fn a_request_the_server_closes_its_kept_alive_connection_on_is_sent_again_on_a_new_one() {
        // The first connection answers its first request, then closes on the second: a server
        // timing out an idle kept-alive connection as the next request arrives on it.
        let (url, seen) = http_server(|connection, request| connection > 0 || request == 0).await;
        for _ in 0..2 {
            let (status, _, body) = post(&url, "u", "key", "{}".into()).await.unwrap();
            assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
        }
        // The second request went out on the kept-alive connection, then again on a new one.
        assert_eq!(*seen.lock().unwrap(), vec![(0, 0), (0, 1), (1, 0)]);
    }

    #[tokio::test]
    async fn a_server_that_closes_every_request_unanswered_is_an_error_after_one_retry_naming_the_cause(
    ) {
        let (url, seen) = http_server(|_, _| false).await;
        let secret = r#"{"password":"p%_'✓ secret"}"#;
        let e = post(
            &url,
            "http://127.0.0.1/auth/v1/token",
            "api-key-secret",
            secret.into(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthApi);
        assert!(
            e.message().starts_with("cannot sign in through Supabase Auth at http://127.0.0.1/auth/v1/token: the request failed ("),
            "{}",
            e.message()
        );
        assert!(!e.message().contains("secret"), "{}", e.message());
        assert_eq!(*seen.lock().unwrap(), vec![(0, 0), (1, 0)]);
    }

    #[test]
    fn a_429_is_rate_limited_and_other_refusals_say_what_to_check() {
        let body = r#"{"code":429,"error_code":"over_request_rate_limit","msg":"Request rate limit reached"}"#;
        let e = answer_error(
            "https://x.supabase.co/auth/v1/token",
            429,
            Some("17".into()),
            body,
        );
        assert_eq!(e.code(), ErrorCode::AuthRateLimited);
        assert!(e
            .message()
            .contains("over_request_rate_limit: Request rate limit reached"));
        assert!(e.message().contains("retry after 17 s"));
        let body =
            r#"{"code":400,"error_code":"invalid_credentials","msg":"Invalid login credentials"}"#;
        let e = answer_error("u", 400, None, body);
        assert_eq!(e.code(), ErrorCode::AuthApi);
        assert!(e
            .message()
            .contains("400: invalid_credentials: Invalid login credentials"));
        let e = answer_error("u", 401, None, r#"{"message":"Invalid API key"}"#);
        assert!(e.message().contains("check the API key"), "{}", e.message());
        let e = answer_error("u", 502, None, "<html>bad gateway</html>");
        assert!(e.message().contains("502: no message"), "{}", e.message());
    }
}
