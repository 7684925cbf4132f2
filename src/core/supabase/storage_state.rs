//! Playwright storage state for a Supabase session: supabase-js' localStorage entry and
//! `@supabase/ssr`'s cookies (`base64-` + base64url of the session JSON, chunked as it chunks
//! them), written to one file per worker, test and user.

use super::jwt::text_of;
use super::settings::{AuthOptions, AuthSettings};
use crate::core::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest cookie value `@supabase/ssr` writes before it splits a value into `.0`, `.1`, ...
pub const MAX_COOKIE_CHUNK: usize = 3180;
/// `@supabase/ssr`'s cookie lifetime: 400 days, the most browsers keep.
const COOKIE_MAX_AGE_SECS: u64 = 400 * 24 * 60 * 60;
/// The prefix `@supabase/ssr` puts before base64url-encoded cookie values.
const BASE64_COOKIE_PREFIX: &str = "base64-";

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
/// sees half a file) and returns the path. The file holds a live session (access and refresh
/// token), so on Unix it is the user's alone (0600), and a folder made here is too (0700).
pub fn write_storage_state(dir: &Path, stem: &str, state: &Value) -> Result<PathBuf> {
    let cannot = |what: &str, e: std::io::Error| {
        Error::invalid_config(format!(
            "cannot {what} for the storage state in {}: {e} (check the dir option)",
            dir.display()
        ))
    };
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder
        .create(dir)
        .map_err(|e| cannot("create the folder", e))?;
    let path = dir.join(format!("{stem}.json"));
    let tmp = dir.join(format!(".{stem}.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| Error::internal(format!("storage state: {e}")))?;
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    std::io::Write::write_all(
        &mut file.open(&tmp).map_err(|e| cannot("write a file", e))?,
        text.as_bytes(),
    )
    .map_err(|e| cannot("write a file", e))?;
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
    use crate::core::supabase::jwt::sign_session;
    use crate::core::supabase::jwt::tests::{settings, signer, user_row};

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

    #[test]
    fn storage_state_has_local_storage_and_ssr_cookies() {
        let s = settings();
        let signed = sign_session(&user_row(), "sess-1", "refresh12345", &s, signer(&s)).unwrap();
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

    #[cfg(unix)]
    #[test]
    fn a_storage_state_file_and_the_folder_made_for_it_are_the_users_alone() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("pglane-state-test-{}", std::process::id()));
        let dir = base.join("playwright").join(".auth");
        let state = serde_json::json!({ "cookies": [], "origins": [] });
        let path = write_storage_state(&dir, "run-w0-0-user", &state).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&path),
            0o600,
            "the session's tokens are readable by their owner only"
        );
        assert_eq!(mode(&dir), 0o700);
        // Written again (a file of an older version, readable by all): the new one is private.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_storage_state(&dir, "run-w0-0-user", &state).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
