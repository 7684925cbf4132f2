//! Access tokens and sessions as Supabase Auth issues them: the claims of a password sign-in,
//! signed by a [`Signer`] (HS256, ES256 or RS256), and the session JSON supabase-js stores.

use super::settings::AuthSettings;
use super::signing::{unverified_claims, Signer};
use crate::core::error::{Error, Result};
use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) fn text_of<'a>(row: &'a Value, column: &str) -> &'a str {
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
    /// The access token: a JWT signed HS256, ES256 or RS256 (by pglane or by Supabase Auth).
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

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signs an access token for `user` (an `auth.users` row with its `identity`) and the session
/// `session_id` with `signer`, and builds the session JSON supabase-js keeps. No database
/// access.
pub fn sign_session(
    user: &Value,
    session_id: &str,
    refresh_token: &str,
    settings: &AuthSettings,
    signer: &Signer,
) -> Result<SignedSession> {
    let issued_at = now_secs();
    let claims = access_token_claims(user, session_id, settings, issued_at);
    let access_token = signer.sign(&claims)?;
    let expires_at = issued_at + settings.expires_in;
    let session = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": settings.expires_in,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user_json(user),
    });
    Ok(SignedSession {
        session_id: session_id.to_string(),
        access_token,
        refresh_token: refresh_token.to_string(),
        expires_at,
        claims,
        session,
    })
}

/// The session of a password grant's response, which supabase-js stores as it is (adding
/// `expires_at` when absent, as it does). The session id and claims come from the access token.
pub fn session_from_grant(mut response: Value) -> Result<SignedSession> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let bad = |what: &str| {
        Error::new(
            crate::core::error::ErrorCode::AuthApi,
            format!("Supabase Auth's token response has no {what}"),
        )
    };
    let access_token = text(&response, "access_token").ok_or_else(|| bad("access_token"))?;
    let refresh_token = text(&response, "refresh_token").ok_or_else(|| bad("refresh_token"))?;
    if !response.get("user").is_some_and(Value::is_object) {
        return Err(bad("user"));
    }
    let claims = unverified_claims(&access_token).ok_or_else(|| bad("readable access token"))?;
    let session_id = text(&claims, "session_id").ok_or_else(|| bad("session_id claim"))?;
    let expires_at = match response.get("expires_at").and_then(Value::as_u64) {
        Some(at) => at,
        None => {
            let at = now_secs()
                + response
                    .get("expires_in")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
            response["expires_at"] = Value::from(at);
            at
        }
    };
    Ok(SignedSession {
        session_id,
        access_token,
        refresh_token,
        expires_at,
        claims,
        session: response,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::core::supabase::settings::{AuthOptions, SessionMode};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    pub(crate) fn settings() -> AuthSettings {
        AuthSettings::resolve(&AuthOptions::default(), &no_env).unwrap()
    }

    pub(crate) fn signer(s: &AuthSettings) -> &Signer {
        match &s.mode {
            SessionMode::Mint(signer) => signer,
            SessionMode::PasswordGrant(_) => panic!("the default mode mints"),
        }
    }

    #[test]
    fn a_password_grant_response_is_the_session_as_it_came() {
        let s = settings();
        let minted = sign_session(&user_row(), "sess-9", "r", &s, signer(&s)).unwrap();
        let mut response = minted.session.clone();
        response.as_object_mut().unwrap().remove("expires_at");
        response["weak_password"] = Value::Null;
        let grant = session_from_grant(response.clone()).unwrap();
        assert_eq!(grant.session_id, "sess-9");
        assert_eq!(grant.access_token, minted.access_token);
        assert!(grant.expires_at >= minted.expires_at);
        assert_eq!(grant.session["weak_password"], Value::Null);
        response.as_object_mut().unwrap().remove("user");
        let err = session_from_grant(response).unwrap_err();
        assert_eq!(err.code(), crate::core::error::ErrorCode::AuthApi);
    }

    pub(crate) fn user_row() -> Value {
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
        let signed = sign_session(&user_row(), "sess-1", "refresh12345", &s, signer(&s)).unwrap();
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
}
