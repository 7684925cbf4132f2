//! Supabase Auth for tests: signed-in users created straight in Postgres (user, identity,
//! profile, session and refresh token in one statement), access tokens signed HS256 with the
//! project's JWT secret and the claims Supabase Auth issues, the session JSON supabase-js
//! stores, and Playwright storage state for supabase-js (localStorage) and `@supabase/ssr`
//! (cookies, chunked).
//!
//! The JWT secret never leaves this module except inside a signature: it is not printed by
//! `Debug`, and errors say only what is wrong with it (missing, too short).

use crate::core::db::Db;
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::factory::{self, FactoryCall, FactoryScope};
use crate::core::factory_def::FactoryRegistry;
use crate::core::tracker::ResourceTracker;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The JWT secret of a local Supabase stack (`supabase start`), used when none is configured.
pub const LOCAL_DEV_JWT_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
/// Shortest JWT secret accepted: Supabase requires at least 32 characters.
pub const MIN_JWT_SECRET_CHARS: usize = 32;
/// The API URL of a local Supabase stack.
pub const DEFAULT_SUPABASE_URL: &str = "http://127.0.0.1:54321";
/// Where the app under test runs unless `appOrigin` or `PGLANE_APP_ORIGIN` says otherwise.
pub const DEFAULT_APP_ORIGIN: &str = "http://localhost:3000";
/// Access token lifetime in seconds (Supabase's default `jwt_expiry`).
pub const DEFAULT_EXPIRES_IN: u64 = 3600;
/// Folder of the storage state files, relative to the working directory.
pub const DEFAULT_STATE_DIR: &str = "playwright/.auth";
/// Longest cookie value `@supabase/ssr` writes before it splits a value into `.0`, `.1`, ...
pub const MAX_COOKIE_CHUNK: usize = 3180;
/// `@supabase/ssr`'s cookie lifetime: 400 days, the most browsers keep.
const COOKIE_MAX_AGE_SECS: u64 = 400 * 24 * 60 * 60;
/// The prefix `@supabase/ssr` puts before base64url-encoded cookie values.
const BASE64_COOKIE_PREFIX: &str = "base64-";

/// A JWT secret. Its `Debug` form never shows the value.
#[derive(Clone)]
pub struct JwtSecret(String);

impl JwtSecret {
    /// Checks that the secret is present and long enough. `source` names where it came from
    /// (`jwtSecret`, `SUPABASE_JWT_SECRET`) for the error message, which never holds the value.
    pub fn new(secret: &str, source: &str) -> Result<JwtSecret> {
        if secret.is_empty() {
            return Err(Error::invalid_config(format!(
                "{source} is empty: give the project's JWT secret (Supabase dashboard: Project Settings > API > JWT secret), or leave SUPABASE_JWT_SECRET unset to use the local development secret"
            )));
        }
        let chars = secret.chars().count();
        if chars < MIN_JWT_SECRET_CHARS {
            return Err(Error::invalid_config(format!(
                "{source} is {chars} characters long; a Supabase JWT secret has at least {MIN_JWT_SECRET_CHARS}"
            )));
        }
        Ok(JwtSecret(secret.to_string()))
    }
}

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

/// Options a caller may give (each falls back to the environment, then to the default).
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    /// Origin of the app under test (`PGLANE_APP_ORIGIN`).
    pub app_origin: Option<String>,
    /// The Supabase API URL (`SUPABASE_URL`).
    pub supabase_url: Option<String>,
    /// The JWT secret (`SUPABASE_JWT_SECRET`).
    pub jwt_secret: Option<String>,
    /// Access token lifetime in seconds.
    pub expires_in: Option<u64>,
    /// Folder of storage state files.
    pub dir: Option<String>,
}

/// The option names [`AuthOptions::take_from`] removes from a factory options object.
pub const OPTION_NAMES: &[&str] = &["appOrigin", "supabaseUrl", "jwtSecret", "expiresIn", "dir"];

impl AuthOptions {
    /// Removes `appOrigin`, `supabaseUrl`, `jwtSecret`, `expiresIn` and `dir` from an options
    /// object (the rest are factory attributes).
    pub fn take_from(options: &mut Map<String, Value>) -> Result<AuthOptions> {
        fn text(options: &mut Map<String, Value>, key: &str) -> Result<Option<String>> {
            match options.remove(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(Error::invalid_config(format!(
                    "option {key} must be a string; got {}",
                    type_name(&other)
                ))),
            }
        }
        let expires_in = match options.remove("expiresIn") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|s| s > 0) => n.as_u64(),
            Some(other) => {
                return Err(Error::invalid_config(format!(
                    "option expiresIn must be a whole number of seconds above 0; got {other}"
                )))
            }
        };
        let jwt_secret = match options.remove("jwtSecret") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            // Never echo a secret, even a mistyped one.
            Some(other) => {
                return Err(Error::invalid_config(format!(
                    "option jwtSecret must be a string; got {}",
                    type_name(&other)
                )))
            }
        };
        Ok(AuthOptions {
            app_origin: text(options, "appOrigin")?,
            supabase_url: text(options, "supabaseUrl")?,
            jwt_secret,
            expires_in,
            dir: text(options, "dir")?,
        })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checked settings: where the app and Supabase are, how to sign, where to write state.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    secret: JwtSecret,
    /// The Supabase URL without a trailing slash, e.g. `http://127.0.0.1:54321`.
    pub supabase_url: String,
    /// The storage key supabase-js and `@supabase/ssr` use: `sb-<project ref>-auth-token`.
    pub storage_key: String,
    /// The app's origin, e.g. `http://localhost:3000`.
    pub app_origin: String,
    /// The app's host name, the domain of the auth cookies.
    pub app_host: String,
    /// Whether the app is served over https (cookies are then `Secure`).
    pub app_secure: bool,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
    /// Folder of storage state files (absolute).
    pub dir: PathBuf,
}

impl AuthSettings {
    /// Options first, then `PGLANE_APP_ORIGIN`, `SUPABASE_URL`, `SUPABASE_JWT_SECRET`, then the
    /// defaults of a local Supabase stack. Everything is checked here, before any row is written.
    pub fn resolve(
        options: &AuthOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AuthSettings> {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let secret = match (&options.jwt_secret, env("SUPABASE_JWT_SECRET")) {
            (Some(s), _) => JwtSecret::new(s, "option jwtSecret")?,
            (None, Some(s)) => JwtSecret::new(&s, "SUPABASE_JWT_SECRET")?,
            (None, None) => JwtSecret(LOCAL_DEV_JWT_SECRET.to_string()),
        };
        let supabase_url = options
            .supabase_url
            .clone()
            .or_else(|| non_empty("SUPABASE_URL"))
            .unwrap_or_else(|| DEFAULT_SUPABASE_URL.to_string());
        let storage_key = storage_key(&supabase_url)?;
        let app_origin = options
            .app_origin
            .clone()
            .or_else(|| non_empty("PGLANE_APP_ORIGIN"))
            .unwrap_or_else(|| DEFAULT_APP_ORIGIN.to_string());
        let app = parse_http_url(&app_origin, "appOrigin")?;
        let app_host = app
            .host_str()
            .ok_or_else(|| {
                Error::invalid_config(format!("appOrigin {app_origin:?} has no host name"))
            })?
            .to_string();
        let dir = PathBuf::from(options.dir.as_deref().unwrap_or(DEFAULT_STATE_DIR));
        let dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()
                .map_err(|e| {
                    Error::invalid_config(format!("cannot read the working directory: {e}"))
                })?
                .join(dir)
        };
        Ok(AuthSettings {
            secret,
            supabase_url: supabase_url.trim().trim_end_matches('/').to_string(),
            storage_key,
            app_origin: app.origin().ascii_serialization(),
            app_secure: app.scheme() == "https",
            app_host,
            expires_in: options.expires_in.unwrap_or(DEFAULT_EXPIRES_IN),
            dir,
        })
    }

    /// The JWT issuer Supabase Auth writes: `<supabase url>/auth/v1`.
    pub fn issuer(&self) -> String {
        format!("{}/auth/v1", self.supabase_url)
    }
}

fn parse_http_url(text: &str, what: &str) -> Result<url::Url> {
    let bad = |why: &str| {
        Error::invalid_config(format!(
            "{what} {text:?} is not a URL: {why} (for example \"http://localhost:3000\")"
        ))
    };
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(bad("it must start with http:// or https://"));
    }
    let url = url::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host name"));
    }
    Ok(url)
}

/// The project ref as supabase-js derives it: the first label of the Supabase URL's host name
/// (`abcd` for `https://abcd.supabase.co`, `127` for `http://127.0.0.1:54321`).
pub fn project_ref(supabase_url: &str) -> Result<String> {
    let url = parse_http_url(supabase_url, "supabaseUrl")?;
    let host = url.host_str().unwrap_or_default();
    Ok(host.split('.').next().unwrap_or(host).to_string())
}

/// `sb-<project ref>-auth-token`: the localStorage key of supabase-js and the cookie name of
/// `@supabase/ssr`.
pub fn storage_key(supabase_url: &str) -> Result<String> {
    Ok(format!("sb-{}-auth-token", project_ref(supabase_url)?))
}

/// A compact JWS signed HS256: `base64url(header).base64url(claims).base64url(signature)`.
pub fn sign_hs256(claims: &Value, secret: &JwtSecret) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = hmac_sha256(secret.0.as_bytes(), signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn text_of<'a>(row: &'a Value, column: &str) -> &'a str {
    row.get(column).and_then(Value::as_str).unwrap_or("")
}

fn object_of(row: &Value, column: &str) -> Value {
    match row.get(column) {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    }
}

/// A timestamp as Postgres' `row_to_json` wrote it, in UTC's `Z` form when it is UTC.
fn timestamp(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => Value::String(match s.strip_suffix("+00:00") {
            Some(head) => format!("{head}Z"),
            None => s.clone(),
        }),
        _ => Value::Null,
    }
}

/// The access token claims Supabase Auth issues at a password sign-in, for an `auth.users` row.
pub fn access_token_claims(
    user: &Value,
    session_id: &str,
    settings: &AuthSettings,
    issued_at: u64,
) -> Value {
    json!({
        "iss": settings.issuer(),
        "sub": text_of(user, "id"),
        "aud": text_of(user, "aud"),
        "exp": issued_at + settings.expires_in,
        "iat": issued_at,
        "email": text_of(user, "email"),
        "phone": text_of(user, "phone"),
        "app_metadata": object_of(user, "raw_app_meta_data"),
        "user_metadata": object_of(user, "raw_user_meta_data"),
        "role": text_of(user, "role"),
        "aal": "aal1",
        "amr": [{ "method": "password", "timestamp": issued_at }],
        "session_id": session_id,
        "is_anonymous": user.get("is_anonymous").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The user object of a session, as Supabase Auth returns it (`GET /user`): the `auth.users`
/// row with its metadata renamed and its identities (`identity_id` is the row id, `id` the
/// provider's id). Unset timestamps are left out, as Supabase Auth does.
pub fn user_json(user: &Value) -> Value {
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_string(), v);
    };
    put("id", Value::from(text_of(user, "id")));
    put("aud", Value::from(text_of(user, "aud")));
    put("role", Value::from(text_of(user, "role")));
    put("email", Value::from(text_of(user, "email")));
    for column in ["email_confirmed_at", "phone_confirmed_at"] {
        let t = timestamp(user.get(column));
        if !t.is_null() {
            put(column, t);
        }
    }
    put("phone", Value::from(text_of(user, "phone")));
    for column in ["confirmed_at", "last_sign_in_at"] {
        let t = timestamp(user.get(column));
        if !t.is_null() {
            put(column, t);
        }
    }
    put("app_metadata", object_of(user, "raw_app_meta_data"));
    put("user_metadata", object_of(user, "raw_user_meta_data"));
    let identities: Vec<Value> = match user.get("identity") {
        Some(identity @ Value::Object(_)) => vec![identity_json(identity)],
        _ => Vec::new(),
    };
    put("identities", Value::Array(identities));
    put("created_at", timestamp(user.get("created_at")));
    put("updated_at", timestamp(user.get("updated_at")));
    put(
        "is_anonymous",
        Value::from(
            user.get("is_anonymous")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
    );
    Value::Object(out)
}

fn identity_json(identity: &Value) -> Value {
    let mut out = json!({
        "identity_id": text_of(identity, "id"),
        "id": text_of(identity, "provider_id"),
        "user_id": text_of(identity, "user_id"),
        "identity_data": object_of(identity, "identity_data"),
        "provider": text_of(identity, "provider"),
        "created_at": timestamp(identity.get("created_at")),
        "updated_at": timestamp(identity.get("updated_at")),
    });
    let last = timestamp(identity.get("last_sign_in_at"));
    if !last.is_null() {
        out["last_sign_in_at"] = last;
    }
    if let Some(email) = identity.get("email").and_then(Value::as_str) {
        out["email"] = Value::from(email);
    }
    out
}

/// A signed session: the tokens, and the session JSON exactly as supabase-js stores it.
#[derive(Debug, Clone)]
pub struct SignedSession {
    /// The `auth.sessions` id (the JWT's `session_id`).
    pub session_id: String,
    /// The access token: a JWT signed HS256 with the project's secret.
    pub access_token: String,
    /// The refresh token stored in `auth.refresh_tokens`.
    pub refresh_token: String,
    /// Expiry of the access token, in seconds since the epoch.
    pub expires_at: u64,
    /// The access token's claims.
    pub claims: Value,
    /// `{ access_token, token_type, expires_in, expires_at, refresh_token, user }`.
    pub session: Value,
}

/// Signs an access token for `user` (an `auth.users` row with its `identity`) and the session
/// `session_id`, and builds the session JSON supabase-js keeps. No database access.
pub fn sign_session(
    user: &Value,
    session_id: &str,
    refresh_token: &str,
    settings: &AuthSettings,
) -> SignedSession {
    let issued_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = access_token_claims(user, session_id, settings, issued_at);
    let access_token = sign_hs256(&claims, &settings.secret);
    let expires_at = issued_at + settings.expires_in;
    let session = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": settings.expires_in,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user_json(user),
    });
    SignedSession {
        session_id: session_id.to_string(),
        access_token,
        refresh_token: refresh_token.to_string(),
        expires_at,
        claims,
        session,
    }
}

/// Splits a cookie value the way `@supabase/ssr` does: one cookie `name` when the
/// URI-encoded value fits in `max` characters, else `name.0`, `name.1`, ... each at most `max`
/// characters once encoded, never splitting a character.
pub fn cookie_chunks(name: &str, value: &str, max: usize) -> Vec<(String, String)> {
    fn encoded_len(c: char) -> usize {
        if c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c) {
            1
        } else {
            3 * c.len_utf8()
        }
    }
    let total: usize = value.chars().map(encoded_len).sum();
    if total <= max {
        return vec![(name.to_string(), value.to_string())];
    }
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for c in value.chars() {
        let n = encoded_len(c);
        if current_len + n > max {
            chunks.push(std::mem::take(&mut current));
            current_len = 0;
        }
        current.push(c);
        current_len += n;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("{name}.{i}"), v))
        .collect()
}

/// Playwright storage state (`browser.newContext({ storageState })`) holding `session` for
/// supabase-js (localStorage `sb-<ref>-auth-token` = the session JSON) and `@supabase/ssr`
/// (cookies `sb-<ref>-auth-token[.N]` = `base64-` + base64url of the session JSON).
pub fn storage_state(session: &Value, settings: &AuthSettings) -> Value {
    let session_text = session.to_string();
    let cookie_value = format!(
        "{BASE64_COOKIE_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(session_text.as_bytes())
    );
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + COOKIE_MAX_AGE_SECS;
    let cookies: Vec<Value> = cookie_chunks(&settings.storage_key, &cookie_value, MAX_COOKIE_CHUNK)
        .into_iter()
        .map(|(name, value)| {
            json!({
                "name": name,
                "value": value,
                "domain": settings.app_host,
                "path": "/",
                "expires": expires,
                "httpOnly": false,
                "secure": settings.app_secure,
                "sameSite": "Lax",
            })
        })
        .collect();
    json!({
        "cookies": cookies,
        "origins": [{
            "origin": settings.app_origin,
            "localStorage": [{ "name": settings.storage_key, "value": session_text }],
        }],
    })
}

/// Writes a storage state to `<dir>/<stem>.json` (through a temporary file, so a reader never
/// sees half a file) and returns the path.
pub fn write_storage_state(dir: &Path, stem: &str, state: &Value) -> Result<PathBuf> {
    let cannot = |what: &str, e: std::io::Error| {
        Error::invalid_config(format!(
            "cannot {what} for the storage state in {}: {e} (check the dir option)",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot("create the folder", e))?;
    let path = dir.join(format!("{stem}.json"));
    let tmp = dir.join(format!(".{stem}.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| Error::internal(format!("storage state: {e}")))?;
    std::fs::write(&tmp, text).map_err(|e| cannot("write a file", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| cannot("rename a file", e))?;
    Ok(path)
}

/// The file name (without `.json`) of a user's storage state: the local part of the lane
/// email, `<run>-w<worker>-<test>-<base>`, so every worker, test and user gets its own file.
pub fn state_file_stem(user: &Value) -> String {
    let email = text_of(user, "email");
    let local = email.split('@').next().unwrap_or("");
    let stem: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.').to_string();
    if stem.is_empty() {
        text_of(user, "id").to_string()
    } else {
        stem
    }
}

/// Which signed-in user to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthUserKind {
    /// A confirmed, onboarded user with a session (`authenticatedUser`).
    Authenticated,
    /// The same, owning a new organization (`authenticatedUserWithOrg`).
    WithOrg,
    /// A signed-in user who has not finished onboarding (`onboardingUser`).
    Onboarding,
}

impl AuthUserKind {
    /// The preset factory that creates it.
    pub fn factory(self) -> &'static str {
        match self {
            AuthUserKind::Authenticated => "authenticatedUser",
            AuthUserKind::WithOrg => "authenticatedUserWithOrg",
            AuthUserKind::Onboarding => "onboardingUser",
        }
    }
}

/// A signed-in user: the rows written and the tokens and state to use them.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    /// The `auth.users` row as stored, with its `identity` and `profile`.
    pub user: Value,
    /// The session, signed.
    pub signed: SignedSession,
    /// The organization row (`WithOrg`).
    pub organization: Option<Value>,
    /// The membership row (`WithOrg`).
    pub membership: Option<Value>,
    /// Playwright storage state, when asked for.
    pub storage_state: Option<Value>,
    /// Where the storage state was written, when asked for.
    pub storage_state_path: Option<PathBuf>,
}

/// Sorts a caller's options into the steps factory's attributes: its step names (`user`,
/// `session`, `organization`, `membership`) and parameters (`role`) stay; `traits` and
/// everything else (`email`, `password`, `fullName`, columns of `auth.users`) go to the user.
fn steps_attributes(
    registry: &FactoryRegistry,
    factory_name: &str,
    options: Map<String, Value>,
) -> Result<Map<String, Value>> {
    let def = registry.get(factory_name)?;
    let mut out = Map::new();
    let mut user = Map::new();
    for (key, value) in options {
        if key == "user" {
            match value {
                Value::Object(given) => user.extend(given),
                _ => {
                    return Err(Error::new(
                        ErrorCode::FactoryField,
                        "option user must be an object of auth.users attributes",
                    ))
                }
            }
        } else if def.transient.contains_key(&key) || def.steps.iter().any(|s| s.name == key) {
            out.insert(key, value);
        } else {
            user.insert(key, value);
        }
    }
    out.insert("user".to_string(), Value::Object(user));
    Ok(out)
}

fn email_conflict(e: Error, email: Option<&str>) -> Error {
    let on_user_email = e.code() == ErrorCode::Conflict
        && (e.message().contains("users_email_partial_key")
            || (e.message().contains("auth.users") && e.message().contains("(email)")));
    if !on_user_email {
        return redact_failing_row(e);
    }
    let email = email.map(str::to_string).or_else(|| {
        let m = e.message();
        let start = m.find("(email)=(")? + "(email)=(".len();
        let end = m[start..].find(") already exists")? + start;
        Some(m[start..end].to_string())
    });
    let message = match email {
        Some(email) => format!(
            "a user with email {email:?} already exists in auth.users; nothing was inserted (give another email, or clean up the lane that made it)"
        ),
        None => "a user with that email already exists in auth.users; nothing was inserted".to_string(),
    };
    let mut out = Error::new(ErrorCode::Conflict, message);
    if let Some(state) = e.sqlstate() {
        out = out.with_sqlstate(state);
    }
    out
}

/// Postgres' "Failing row contains (...)" detail would print a row of `auth.users` or
/// `auth.refresh_tokens`, hashes and tokens included: keep it out of errors.
fn redact_failing_row(e: Error) -> Error {
    let Some(at) = e.message().find(" (Failing row contains") else {
        return e;
    };
    let mut message = e.message()[..at].to_string();
    if let Some(place) = e.message()[at..].find(") [") {
        message.push_str(&e.message()[at + place + 1..]);
    }
    let mut out = Error::new(e.code(), message);
    if let Some(state) = e.sqlstate() {
        out = out.with_sqlstate(state);
    }
    out
}

/// Creates a signed-in user with the preset: one statement writes the user, identity, profile,
/// session and refresh token (and, for `WithOrg`, the organization and membership); every row
/// is tracked. The access token is signed from the rows that come back, so no second round trip
/// is needed. With `with_state`, the Playwright storage state is written too.
#[allow(clippy::too_many_arguments)]
pub async fn create_authenticated_user(
    db: &Db,
    registry: &FactoryRegistry,
    scope: &FactoryScope<'_>,
    tracker: &ResourceTracker,
    kind: AuthUserKind,
    with_state: bool,
    mut options: Map<String, Value>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<AuthenticatedUser> {
    let auth_options = AuthOptions::take_from(&mut options)?;
    let settings = AuthSettings::resolve(&auth_options, env)?;
    let attrs = steps_attributes(registry, kind.factory(), options)?;
    let given_email = attrs
        .get("user")
        .and_then(|u| u.get("email"))
        .and_then(Value::as_str)
        .and_then(|base| scope.lane.email(base).ok());
    let call = FactoryCall {
        factory: kind.factory().to_string(),
        attrs,
        traits: Vec::new(),
        count: None,
    };
    let rows = factory::create(db, registry, scope, tracker, &call)
        .await
        .map_err(|e| email_conflict(e, given_email.as_deref()))?;
    let user = rows
        .get("user")
        .cloned()
        .ok_or_else(|| Error::internal("the signed-in user factory returned no user"))?;
    let session_row = rows
        .get("session")
        .ok_or_else(|| Error::internal("the signed-in user factory returned no session"))?;
    let session_id = text_of(session_row, "id");
    let refresh_token = session_row
        .get("refreshToken")
        .map(|r| text_of(r, "token"))
        .unwrap_or("");
    let signed = sign_session(&user, session_id, refresh_token, &settings);
    let (storage_state, storage_state_path) = if with_state {
        let state = storage_state(&signed.session, &settings);
        let path = write_storage_state(&settings.dir, &state_file_stem(&user), &state)?;
        (Some(state), Some(path))
    } else {
        (None, None)
    };
    Ok(AuthenticatedUser {
        organization: rows.get("organization").cloned(),
        membership: rows.get("membership").cloned(),
        user,
        signed,
        storage_state,
        storage_state_path,
    })
}

/// Builds and writes the storage state of a session made elsewhere (e.g. by
/// [`create_authenticated_user`] without state). Returns the state and its path.
pub fn storage_state_for_session(
    session: &Value,
    options: &AuthOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Value, PathBuf)> {
    let settings = AuthSettings::resolve(options, env)?;
    let user = session.get("user").ok_or_else(|| {
        Error::invalid_config(
            "the session has no user: pass the session object of a signed-in user",
        )
    })?;
    if session
        .get("access_token")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(Error::invalid_config(
            "the session has no access_token: pass the session object of a signed-in user",
        ));
    }
    let state = storage_state(session, &settings);
    let path = write_storage_state(&settings.dir, &state_file_stem(user), &state)?;
    Ok((state, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn settings() -> AuthSettings {
        AuthSettings::resolve(&AuthOptions::default(), &no_env).unwrap()
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn jwts_are_three_base64url_parts_with_an_hs256_header() {
        let secret = JwtSecret::new(LOCAL_DEV_JWT_SECRET, "test").unwrap();
        let token = sign_hs256(&json!({ "sub": "x" }), &secret);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
        let expected = hmac_sha256(
            LOCAL_DEV_JWT_SECRET.as_bytes(),
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), expected);
    }

    #[test]
    fn project_refs_follow_supabase_js() {
        assert_eq!(
            project_ref("https://abcdefgh.supabase.co").unwrap(),
            "abcdefgh"
        );
        assert_eq!(project_ref("http://127.0.0.1:54321").unwrap(), "127");
        assert_eq!(project_ref("http://localhost:54321/").unwrap(), "localhost");
        assert_eq!(
            storage_key("HTTPS://Proj.Example.com").unwrap(),
            "sb-proj-auth-token"
        );
        for bad in ["127.0.0.1:54321", "", "ftp://x.y", "http://"] {
            assert_eq!(
                project_ref(bad).unwrap_err().code(),
                ErrorCode::InvalidConfig,
                "{bad}"
            );
        }
    }

    #[test]
    fn short_or_missing_secrets_are_refused_without_showing_them() {
        let env = |k: &str| (k == "SUPABASE_JWT_SECRET").then(|| "hunter2-short".to_string());
        let err = AuthSettings::resolve(&AuthOptions::default(), &env).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidConfig);
        assert!(err.message().contains("SUPABASE_JWT_SECRET"));
        assert!(err.message().contains("13 characters"));
        assert!(!err.message().contains("hunter2"));
        let empty = AuthOptions {
            jwt_secret: Some(String::new()),
            ..Default::default()
        };
        let err = AuthSettings::resolve(&empty, &no_env).unwrap_err();
        assert!(err.message().contains("empty"), "{}", err.message());
        let secret = JwtSecret::new(LOCAL_DEV_JWT_SECRET, "x").unwrap();
        assert!(!format!("{secret:?}").contains("super-secret"));
    }

    #[test]
    fn options_come_out_of_the_attributes_and_are_checked() {
        let mut attrs: Map<String, Value> = serde_json::from_value(json!({
            "email": "alice", "appOrigin": "http://localhost:5173/app", "expiresIn": 60,
        }))
        .unwrap();
        let options = AuthOptions::take_from(&mut attrs).unwrap();
        assert_eq!(attrs.len(), 1);
        let s = AuthSettings::resolve(&options, &no_env).unwrap();
        assert_eq!(s.app_origin, "http://localhost:5173");
        assert_eq!(s.app_host, "localhost");
        assert_eq!(s.expires_in, 60);
        assert_eq!(s.storage_key, "sb-127-auth-token");
        assert_eq!(s.issuer(), "http://127.0.0.1:54321/auth/v1");
        let bad = AuthOptions {
            app_origin: Some("localhost:3000".into()),
            ..Default::default()
        };
        let err = AuthSettings::resolve(&bad, &no_env).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidConfig);
        assert!(err
            .message()
            .contains("appOrigin \"localhost:3000\" is not a URL"));
        let mut wrong: Map<String, Value> =
            serde_json::from_value(json!({ "expiresIn": -5 })).unwrap();
        assert!(AuthOptions::take_from(&mut wrong).is_err());
    }

    #[test]
    fn short_values_are_one_cookie_and_long_ones_are_chunked_at_3180() {
        assert_eq!(
            cookie_chunks("k", "abc", MAX_COOKIE_CHUNK),
            vec![("k".into(), "abc".into())]
        );
        let long = "a".repeat(MAX_COOKIE_CHUNK * 2 + 5);
        let chunks = cookie_chunks("k", &long, MAX_COOKIE_CHUNK);
        let names: Vec<&str> = chunks.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["k.0", "k.1", "k.2"]);
        assert!(chunks.iter().all(|(_, v)| v.len() <= MAX_COOKIE_CHUNK));
        assert_eq!(
            chunks.iter().map(|(_, v)| v.as_str()).collect::<String>(),
            long
        );
        // Encoded length counts: "é" is %C3%A9, six characters.
        let accents = "é".repeat(1000);
        let chunks = cookie_chunks("k", &accents, MAX_COOKIE_CHUNK);
        assert_eq!(chunks.len(), 2);
        assert!(chunks
            .iter()
            .all(|(_, v)| v.chars().count() * 6 <= MAX_COOKIE_CHUNK));
    }

    fn user_row() -> Value {
        json!({
            "id": "0190a0a0-0000-7000-8000-000000000001",
            "aud": "authenticated", "role": "authenticated",
            "email": "run-w1-2-alice@pglane.test", "phone": null,
            "email_confirmed_at": "2025-01-02T03:04:05.123456+00:00",
            "confirmed_at": "2025-01-02T03:04:05.123456+00:00",
            "last_sign_in_at": null,
            "raw_app_meta_data": { "provider": "email", "providers": ["email"] },
            "raw_user_meta_data": { "full_name": "Alice" },
            "created_at": "2025-01-02T03:04:05.123456+00:00",
            "updated_at": "2025-01-02T03:04:05.123456+00:00",
            "is_anonymous": false,
            "identity": {
                "id": "0190a0a0-0000-7000-8000-000000000002",
                "provider_id": "0190a0a0-0000-7000-8000-000000000001",
                "user_id": "0190a0a0-0000-7000-8000-000000000001",
                "identity_data": { "sub": "0190a0a0-0000-7000-8000-000000000001" },
                "provider": "email", "email": "run-w1-2-alice@pglane.test",
                "created_at": "2025-01-02T03:04:05+00:00", "updated_at": "2025-01-02T03:04:05+00:00",
                "last_sign_in_at": null
            }
        })
    }

    #[test]
    fn sessions_carry_supabase_claims_and_the_user_shape() {
        let s = settings();
        let signed = sign_session(&user_row(), "sess-1", "refresh12345", &s);
        let c = &signed.claims;
        assert_eq!(c["sub"], "0190a0a0-0000-7000-8000-000000000001");
        assert_eq!(c["aud"], "authenticated");
        assert_eq!(c["role"], "authenticated");
        assert_eq!(c["phone"], "");
        assert_eq!(c["aal"], "aal1");
        assert_eq!(c["amr"][0]["method"], "password");
        assert_eq!(c["session_id"], "sess-1");
        assert_eq!(c["is_anonymous"], false);
        assert_eq!(
            c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
            3600
        );
        assert_eq!(c["app_metadata"]["provider"], "email");
        let session = &signed.session;
        assert_eq!(session["token_type"], "bearer");
        assert_eq!(session["refresh_token"], "refresh12345");
        assert_eq!(session["expires_at"].as_u64(), Some(signed.expires_at));
        let user = &session["user"];
        assert_eq!(user["email_confirmed_at"], "2025-01-02T03:04:05.123456Z");
        assert!(user.get("last_sign_in_at").is_none());
        assert_eq!(
            user["identities"][0]["identity_id"],
            "0190a0a0-0000-7000-8000-000000000002"
        );
        assert_eq!(
            user["identities"][0]["id"],
            "0190a0a0-0000-7000-8000-000000000001"
        );
    }

    #[test]
    fn storage_state_has_local_storage_and_ssr_cookies() {
        let s = settings();
        let signed = sign_session(&user_row(), "sess-1", "refresh12345", &s);
        let state = storage_state(&signed.session, &s);
        let cookie = &state["cookies"][0];
        assert_eq!(cookie["name"], "sb-127-auth-token");
        assert_eq!(cookie["domain"], "localhost");
        let value = cookie["value"].as_str().unwrap();
        let decoded = URL_SAFE_NO_PAD
            .decode(value.strip_prefix("base64-").unwrap())
            .unwrap();
        let back: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(back, signed.session);
        let origin = &state["origins"][0];
        assert_eq!(origin["origin"], "http://localhost:3000");
        assert_eq!(origin["localStorage"][0]["name"], "sb-127-auth-token");
        assert_eq!(state_file_stem(&user_row()), "run-w1-2-alice");
    }

    #[test]
    fn duplicate_email_errors_name_the_email_and_failing_rows_are_hidden() {
        let pg = Error::new(
            ErrorCode::Conflict,
            "duplicate key value violates unique constraint \"users_email_partial_key\" (Key (email)=(a@pglane.test) already exists.) [table auth.users, constraint users_email_partial_key]",
        )
        .with_sqlstate("23505");
        let e = email_conflict(pg, None);
        assert_eq!(e.code(), ErrorCode::Conflict);
        assert!(e.message().contains("\"a@pglane.test\""), "{}", e.message());
        assert_eq!(e.sqlstate(), Some("23505"));
        let row = Error::new(
            ErrorCode::DbQuery,
            "null value in column \"x\" violates not-null constraint (Failing row contains (1, secret-token)) [table auth.refresh_tokens]",
        );
        let e = email_conflict(row, None);
        assert!(!e.message().contains("secret-token"), "{}", e.message());
        assert!(e.message().contains("[table auth.refresh_tokens]"));
    }
}
