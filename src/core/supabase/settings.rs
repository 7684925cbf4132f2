//! Supabase settings for tests: where the app and Supabase are, how sessions are made (pglane
//! signs them with the legacy JWT secret or the project's private signing key, or Supabase Auth
//! signs the user in with a password grant), token lifetime and where storage state files go.
//! Options first, then the environment, then the defaults of a local Supabase stack. Secrets,
//! keys and API keys are checked here and never printed.

use super::signing::{Signer, SigningKey};
use crate::core::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;

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

/// A JWT secret. Its `Debug` form never shows the value.
#[derive(Clone)]
pub struct JwtSecret(pub(super) String);

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

/// An API key (`apikey` header) of the project: the anon or publishable key. Its `Debug` form
/// never shows the value.
#[derive(Clone)]
pub struct ApiKey(pub(super) String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// How a signed-in user's session is made.
#[derive(Debug, Clone)]
pub enum SessionMode {
    /// pglane writes the session rows and signs the access token itself (HS256 with the JWT
    /// secret, or ES256/RS256 with the project's private signing key): no network.
    Mint(Arc<Signer>),
    /// Supabase Auth signs the user in (`POST /auth/v1/token?grant_type=password`) with the
    /// password pglane wrote, and writes the session rows itself.
    PasswordGrant(ApiKey),
}

impl SessionMode {
    /// `HS256`, `ES256`, `RS256` or `password grant`, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            SessionMode::Mint(signer) => signer.algorithm(),
            SessionMode::PasswordGrant(_) => "password grant",
        }
    }
}

/// Options a caller may give (each falls back to the environment, then to the default). Its
/// `Debug` form hides the secret, the key and the API key.
#[derive(Clone, Default)]
pub struct AuthOptions {
    /// Origin of the app under test (`PGLANE_APP_ORIGIN`).
    pub app_origin: Option<String>,
    /// The Supabase API URL (`SUPABASE_URL`).
    pub supabase_url: Option<String>,
    /// The JWT secret (`SUPABASE_JWT_SECRET`).
    pub jwt_secret: Option<String>,
    /// The private signing key: a JWK as JSON text or an object, or a file path
    /// (`SUPABASE_JWT_PRIVATE_KEY`).
    pub signing_key: Option<Value>,
    /// The project's anon or publishable key, for the password grant (`SUPABASE_ANON_KEY`,
    /// `SUPABASE_PUBLISHABLE_KEY`).
    pub api_key: Option<String>,
    /// `secret`, `key` or `password` (`PGLANE_SUPABASE_SESSION_MODE`); picked from what is
    /// configured when absent.
    pub session_mode: Option<String>,
    /// Access token lifetime in seconds.
    pub expires_in: Option<u64>,
    /// Folder of storage state files.
    pub dir: Option<String>,
}

impl std::fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |o: bool| if o { Some("<redacted>") } else { None };
        f.debug_struct("AuthOptions")
            .field("app_origin", &self.app_origin)
            .field("supabase_url", &self.supabase_url)
            .field("jwt_secret", &hidden(self.jwt_secret.is_some()))
            .field("signing_key", &hidden(self.signing_key.is_some()))
            .field("api_key", &hidden(self.api_key.is_some()))
            .field("session_mode", &self.session_mode)
            .field("expires_in", &self.expires_in)
            .field("dir", &self.dir)
            .finish()
    }
}

impl AuthOptions {
    /// Removes `appOrigin`, `supabaseUrl`, `jwtSecret`, `signingKey`, `apiKey`, `sessionMode`,
    /// `expiresIn` and `dir` from an options object (the rest are factory attributes).
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
        let signing_key = match options.remove("signingKey") {
            None | Some(Value::Null) => None,
            Some(v @ (Value::String(_) | Value::Object(_) | Value::Array(_))) => Some(v),
            Some(other) => {
                return Err(Error::invalid_config(format!(
                    "option signingKey must be a private JWK (an object or JSON text) or a file path; got {}",
                    type_name(&other)
                )))
            }
        };
        let api_key = match options.remove("apiKey") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                return Err(Error::invalid_config(format!(
                    "option apiKey must be a string; got {}",
                    type_name(&other)
                )))
            }
        };
        Ok(AuthOptions {
            app_origin: text(options, "appOrigin")?,
            supabase_url: text(options, "supabaseUrl")?,
            jwt_secret,
            signing_key,
            api_key,
            session_mode: text(options, "sessionMode")?,
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

/// Checked settings: where the app and Supabase are, how sessions are made, where to write
/// state.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// How sessions are made.
    pub mode: SessionMode,
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
    /// Options first, then `PGLANE_APP_ORIGIN`, `SUPABASE_URL`, `SUPABASE_JWT_PRIVATE_KEY`,
    /// `SUPABASE_JWT_SECRET`, `SUPABASE_ANON_KEY`/`SUPABASE_PUBLISHABLE_KEY`, then the defaults
    /// of a local Supabase stack. Everything is checked here, before any row is written.
    pub fn resolve(
        options: &AuthOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AuthSettings> {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let supabase_url = options
            .supabase_url
            .clone()
            .or_else(|| non_empty("SUPABASE_URL"))
            .unwrap_or_else(|| DEFAULT_SUPABASE_URL.to_string());
        let storage_key = storage_key(&supabase_url)?;
        let mode = session_mode(options, env, &supabase_url)?;
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
            mode,
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

/// The session mode: as `sessionMode` / `PGLANE_SUPABASE_SESSION_MODE` says, else from what is
/// configured: a private signing key (ES256/RS256), else a JWT secret (HS256), else an API key
/// with a Supabase URL that is not on this machine (the password grant), else the local
/// development secret of `supabase start` (HS256).
fn session_mode(
    options: &AuthOptions,
    env: &dyn Fn(&str) -> Option<String>,
    supabase_url: &str,
) -> Result<SessionMode> {
    let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let key = || -> Result<Option<SigningKey>> {
        match (&options.signing_key, non_empty("SUPABASE_JWT_PRIVATE_KEY")) {
            (Some(Value::String(text)), _) => {
                SigningKey::from_text(text, "option signingKey").map(Some)
            }
            (Some(value), _) => SigningKey::from_json(value, "option signingKey").map(Some),
            (None, Some(text)) => {
                SigningKey::from_text(&text, "SUPABASE_JWT_PRIVATE_KEY").map(Some)
            }
            (None, None) => Ok(None),
        }
    };
    let secret = || -> Result<Option<JwtSecret>> {
        match (&options.jwt_secret, env("SUPABASE_JWT_SECRET")) {
            (Some(s), _) => JwtSecret::new(s, "option jwtSecret").map(Some),
            (None, Some(s)) => JwtSecret::new(&s, "SUPABASE_JWT_SECRET").map(Some),
            (None, None) => Ok(None),
        }
    };
    let api_key = || -> Result<Option<ApiKey>> {
        let (key, source) = match options.api_key.clone() {
            Some(k) => (Some(k), "option apiKey"),
            None => match non_empty("SUPABASE_ANON_KEY") {
                Some(k) => (Some(k), "SUPABASE_ANON_KEY"),
                None => (
                    non_empty("SUPABASE_PUBLISHABLE_KEY"),
                    "SUPABASE_PUBLISHABLE_KEY",
                ),
            },
        };
        match key {
            Some(k) if k.trim().is_empty() => Err(Error::invalid_config(format!(
                "{source} is empty: give the project's anon or publishable key (Project Settings > API Keys)"
            ))),
            Some(k) => Ok(Some(ApiKey(k.trim().to_string()))),
            None => Ok(None),
        }
    };
    let mint = |signer: Signer| SessionMode::Mint(Arc::new(signer));
    let dev_secret = || mint(Signer::Secret(JwtSecret(LOCAL_DEV_JWT_SECRET.to_string())));
    let explicit = options
        .session_mode
        .clone()
        .or_else(|| non_empty("PGLANE_SUPABASE_SESSION_MODE"));
    match explicit.as_deref().map(str::trim) {
        Some("key") => key()?.map(|k| mint(Signer::Key(Box::new(k)))).ok_or_else(|| {
            Error::invalid_config(
                "sessionMode is \"key\" but no signing key is configured: give signingKey or SUPABASE_JWT_PRIVATE_KEY (a private JWK, or the path of a file holding it)",
            )
        }),
        Some("secret") => Ok(secret()?
            .map(|s| mint(Signer::Secret(s)))
            .unwrap_or_else(dev_secret)),
        Some("password") => api_key()?.map(SessionMode::PasswordGrant).ok_or_else(|| {
            Error::invalid_config(
                "sessionMode is \"password\" but no API key is configured: give apiKey or SUPABASE_ANON_KEY (the project's anon or publishable key)",
            )
        }),
        Some(other) => Err(Error::invalid_config(format!(
            "sessionMode {other:?} is not one of \"secret\" (HS256 with the JWT secret), \"key\" (ES256/RS256 with the private signing key) or \"password\" (Supabase Auth's password grant)"
        ))),
        None => {
            if let Some(k) = key()? {
                return Ok(mint(Signer::Key(Box::new(k))));
            }
            if let Some(s) = secret()? {
                return Ok(mint(Signer::Secret(s)));
            }
            match api_key()? {
                Some(k) if !is_local(supabase_url) => Ok(SessionMode::PasswordGrant(k)),
                _ => Ok(dev_secret()),
            }
        }
    }
}

/// Is the Supabase URL on this machine (a local stack signs with the development secret)?
fn is_local(supabase_url: &str) -> bool {
    match url::Url::parse(supabase_url.trim()) {
        Ok(u) => match u.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        Err(_) => false,
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

/// The storage key for `supabase_url`, else `SUPABASE_URL`, else the local stack's URL.
pub fn storage_key_for(
    supabase_url: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    let url = supabase_url
        .or_else(|| env("SUPABASE_URL").filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_SUPABASE_URL.to_string());
    storage_key(&url)
}

/// `sb-<project ref>-auth-token`: the localStorage key of supabase-js and the cookie name of
/// `@supabase/ssr`.
pub fn storage_key(supabase_url: &str) -> Result<String> {
    Ok(format!("sb-{}-auth-token", project_ref(supabase_url)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
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
    fn the_session_mode_follows_what_is_configured() {
        let key = crate::core::supabase::signing::tests::ES256_JWK;
        let hosted = "https://abcdefgh.supabase.co";
        let mode = |vars: &[(&str, &str)], options: AuthOptions| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            AuthSettings::resolve(&options, &env).map(|s| s.mode.describe())
        };
        let secret = "a-legacy-secret-that-is-long-enough-0123456789";
        let all = [
            ("SUPABASE_JWT_PRIVATE_KEY", key),
            ("SUPABASE_JWT_SECRET", secret),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_URL", hosted),
        ];
        assert_eq!(mode(&all, AuthOptions::default()).unwrap(), "ES256");
        assert_eq!(mode(&all[1..], AuthOptions::default()).unwrap(), "HS256");
        assert_eq!(
            mode(&all[2..], AuthOptions::default()).unwrap(),
            "password grant"
        );
        // A local stack signs with the development secret: an anon key alone changes nothing.
        assert_eq!(
            mode(&[("SUPABASE_ANON_KEY", "anon")], AuthOptions::default()).unwrap(),
            "HS256"
        );
        let explicit = |m: &str| AuthOptions {
            session_mode: Some(m.into()),
            ..Default::default()
        };
        assert_eq!(mode(&all, explicit("secret")).unwrap(), "HS256");
        assert_eq!(mode(&all, explicit("password")).unwrap(), "password grant");
        assert_eq!(
            mode(
                &[("PGLANE_SUPABASE_SESSION_MODE", "password")],
                AuthOptions::default()
            )
            .unwrap_err()
            .code(),
            ErrorCode::InvalidConfig
        );
        let err = mode(&all, explicit("hs256")).unwrap_err();
        assert!(err.message().contains("\"secret\""), "{}", err.message());
    }

    #[test]
    fn debug_output_never_shows_a_secret_a_key_or_an_api_key() {
        let key = crate::core::supabase::signing::tests::ES256_JWK;
        let d: Value = serde_json::from_str(key).unwrap();
        let d = d["d"].as_str().unwrap().to_string();
        let options = AuthOptions {
            jwt_secret: Some("secret-that-must-not-show-0123456789".into()),
            signing_key: Some(Value::String(key.into())),
            api_key: Some("api-key-that-must-not-show".into()),
            ..Default::default()
        };
        let with_key = AuthSettings::resolve(&options, &no_env).unwrap();
        let password = AuthSettings::resolve(
            &AuthOptions {
                session_mode: Some("password".into()),
                ..options.clone()
            },
            &no_env,
        )
        .unwrap();
        let secret = AuthSettings::resolve(
            &AuthOptions {
                session_mode: Some("secret".into()),
                ..options.clone()
            },
            &no_env,
        )
        .unwrap();
        let shown = format!("{options:?} {with_key:?} {password:?} {secret:?}");
        for hidden in ["must-not-show", &d] {
            assert!(!shown.contains(hidden), "{shown}");
        }
        assert!(shown.contains("redacted"));
    }
}
