//! Supabase settings for tests: where the app and Supabase are, the JWT secret (checked, never
//! printed), token lifetime and where storage state files go. Options first, then the
//! environment, then the defaults of a local Supabase stack.

use crate::core::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::PathBuf;

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
    pub(super) secret: JwtSecret,
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
}
