//! Signed-in users for tests: the preset's user, identity, profile, session, refresh token and
//! `mfa_amr_claims` row written in one statement, every row tracked, and the session signed
//! from the rows that came back; or, in the password-grant mode, the user written by pglane and
//! signed in by Supabase Auth, whose session rows are then tracked too.

use super::jwt::{sign_session, text_of, SignedSession};
use super::password_grant;
use super::settings::{AuthOptions, AuthSettings, SessionMode};
use super::storage_state::{state_file_stem, storage_state, write_storage_state};
use crate::core::db::Db;
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::factory::definition::FactoryRegistry;
use crate::core::factory::{self, FactoryCall};
use crate::core::lane::tracker::ResourceTracker;
use crate::core::lane::WorkerContext;
use serde_json::{Map, Value};
use std::path::PathBuf;

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

/// The parameter of the signed-in user factories that says whether pglane writes the session
/// (`false` when Supabase Auth signs the user in).
const MINT_SESSION: &str = "mintSession";

/// The plain password the user gets: the caller's `password`, else the user factory's default.
fn user_password(registry: &FactoryRegistry, attrs: &Map<String, Value>) -> Option<String> {
    let given = attrs.get("user").and_then(|u| u.get("password"));
    let default = registry
        .get("user")
        .ok()
        .and_then(|def| def.transient.get("password"));
    match given.or(default)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A unique violation on the email of `auth.users` becomes a message naming the email.
fn email_conflict(e: Error, email: Option<&str>) -> Error {
    let on_user_email = e.code() == ErrorCode::Conflict
        && (e.constraint() == Some("users_email_partial_key")
            || e.message().contains("users_email_partial_key")
            || (e.message().contains("auth.users") && e.message().contains("(email)")));
    if !on_user_email {
        return e;
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
    e.with_message(message)
}

/// Creates a signed-in user with the preset: one statement writes the user, identity, profile,
/// session and refresh token (and, for `WithOrg`, the organization and membership); every row
/// is tracked. The access token is signed from the rows that come back, so no second round trip
/// is needed. With `with_state`, the Playwright storage state is written too.
#[allow(clippy::too_many_arguments)]
pub async fn create_authenticated_user(
    db: &Db,
    registry: &FactoryRegistry,
    ctx: &WorkerContext,
    tracker: &ResourceTracker,
    kind: AuthUserKind,
    with_state: bool,
    options: Option<Value>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<AuthenticatedUser> {
    let mut options = match options {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(Error::new(
                ErrorCode::FactoryField,
                "options must be an object",
            ))
        }
    };
    let auth_options = AuthOptions::take_from(&mut options)?;
    let settings = AuthSettings::resolve(&auth_options, env)?;
    let mut attrs = steps_attributes(registry, kind.factory(), options)?;
    let password_grant = matches!(settings.mode, SessionMode::PasswordGrant(_));
    if password_grant {
        // Supabase Auth writes the session rows itself when it signs the user in.
        attrs.insert(MINT_SESSION.to_string(), Value::Bool(false));
    }
    let password = user_password(registry, &attrs);
    let given_email = attrs
        .get("user")
        .and_then(|u| u.get("email"))
        .and_then(Value::as_str)
        .and_then(|base| ctx.lane().email(base).ok());
    let call = FactoryCall {
        factory: kind.factory().to_string(),
        attrs,
        traits: Vec::new(),
        count: None,
    };
    let rows = factory::create(db, registry, ctx, tracker, &call)
        .await
        .map_err(|e| email_conflict(e, given_email.as_deref()))?;
    let user = rows
        .get("user")
        .cloned()
        .ok_or_else(|| Error::internal("the signed-in user factory returned no user"))?;
    let signed = match &settings.mode {
        SessionMode::Mint(signer) => {
            let session_row = rows
                .get("session")
                .ok_or_else(|| Error::internal("the signed-in user factory returned no session"))?;
            let session_id = text_of(session_row, "id");
            let refresh_token = session_row
                .get("refreshToken")
                .map(|r| text_of(r, "token"))
                .unwrap_or("");
            sign_session(&user, session_id, refresh_token, &settings, signer)?
        }
        SessionMode::PasswordGrant(api_key) => {
            let password = password.ok_or_else(|| {
                Error::new(
                    ErrorCode::FactoryField,
                    "the password grant needs the user's password as text: give password",
                )
            })?;
            let signed =
                password_grant::sign_in(&settings, api_key, text_of(&user, "email"), &password)
                    .await?;
            password_grant::track_sign_in_rows(db, tracker, text_of(&user, "id"), &signed).await?;
            signed
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // Row values are removed where every query error is made, before this sees it.
        let row = crate::core::db::errors::strip_row_values(
            "null value in column \"x\" violates not-null constraint (Failing row contains (1, secret-token)) [table auth.refresh_tokens]",
        );
        let e = email_conflict(Error::new(ErrorCode::DbQuery, row), None);
        assert!(!e.message().contains("secret-token"), "{}", e.message());
        assert!(e.message().contains("[table auth.refresh_tokens]"));
    }
}
