//! Supabase Auth: the signed-in `createWorkerScoped*` functions and storage state helpers.
// napi-rs does not register exports in test builds, so they look unused there.
#![cfg_attr(test, allow(dead_code))]

use super::error::{spawn, OrThrow, Outcome};
use super::tracker::ResourceTracker;
use super::worker_context::WorkerContext;
use crate::core::preset;
use crate::core::supabase::password_grant;
use crate::core::supabase::settings::{self as auth_settings, AuthOptions};
use crate::core::supabase::storage_state;
use crate::core::supabase::users::{self as core_users, AuthUserKind};
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

/// Options of the signed-in user functions. Any other key is an attribute of the user
/// (`email`, `password`, `fullName`, `traits`, a column of `auth.users`) or of a step
/// (`session: {...}`, `organization: {...}`, `membership: {...}`, `role` for the membership).
// Declared for the TypeScript types only: the options arrive as one JSON object, so that
// attribute keys pass through to the factories next to these.
#[allow(dead_code)]
#[napi(object)]
pub struct AuthUserOptions {
    /// Origin of the app under test (default `PGLANE_APP_ORIGIN`, else `http://localhost:3000`).
    pub app_origin: Option<String>,
    /// The Supabase API URL (default `SUPABASE_URL`, else `http://127.0.0.1:54321`).
    pub supabase_url: Option<String>,
    /// The project's legacy JWT secret for HS256 (default `SUPABASE_JWT_SECRET`, else the local
    /// development secret). At least 32 characters; never printed.
    pub jwt_secret: Option<String>,
    /// The project's private signing key for ES256/RS256 (default `SUPABASE_JWT_PRIVATE_KEY`):
    /// a private JWK (EC P-256 or RSA, with `kid`) as an object or JSON text, an array or JWKS
    /// whose first key is used, or the path of a file holding it. Never printed.
    #[napi(ts_type = "string | Record<string, any> | Record<string, any>[]")]
    pub signing_key: Option<serde_json::Value>,
    /// The project's anon or publishable key, for the password grant (default
    /// `SUPABASE_ANON_KEY`, else `SUPABASE_PUBLISHABLE_KEY`). Never printed.
    pub api_key: Option<String>,
    /// How sessions are made (default `PGLANE_SUPABASE_SESSION_MODE`, else picked from what is
    /// configured: a signing key, else a JWT secret, else an API key with a Supabase URL not on
    /// this machine, else the local development secret): `secret` (HS256), `key` (ES256 /
    /// RS256), `password` (Supabase Auth signs the user in).
    #[napi(ts_type = "'secret' | 'key' | 'password'")]
    pub session_mode: Option<String>,
    /// Access token lifetime in seconds (default 3600).
    pub expires_in: Option<u32>,
    /// Folder of storage state files (default `playwright/.auth`).
    pub dir: Option<String>,
}

/// A signed-in Supabase user: the rows written (all tracked) and what a test needs to act as
/// the user.
#[napi(object)]
pub struct AuthenticatedUser {
    /// The `auth.users` row as stored, with `identity` (auth.identities) and `profile`.
    #[napi(ts_type = "Record<string, any>")]
    pub user: Value,
    /// The `auth.sessions` id, also the JWT's `session_id`.
    pub session_id: String,
    /// The access token: a JWT signed HS256 (JWT secret), ES256/RS256 (signing key, with its
    /// `kid`), or by Supabase Auth itself (password grant).
    pub access_token: String,
    /// The refresh token, as stored in `auth.refresh_tokens`.
    pub refresh_token: String,
    /// When the access token expires, in seconds since the epoch.
    pub expires_at: i64,
    /// The session as supabase-js stores it: `{ access_token, token_type, expires_in,
    /// expires_at, refresh_token, user }`. Hand it to `auth.setSession` or storage.
    #[napi(ts_type = "Record<string, any>")]
    pub session: Value,
    /// The access token's claims (for `request.jwt.claims` in SQL tests).
    #[napi(ts_type = "Record<string, any>")]
    pub claims: Value,
    /// The organization the user owns (`createWorkerScopedUserWithOrg*`).
    #[napi(ts_type = "Record<string, any> | undefined")]
    pub organization: Option<Value>,
    /// The user's membership of it.
    #[napi(ts_type = "Record<string, any> | undefined")]
    pub membership: Option<Value>,
    /// Playwright storage state (`*WithState`): supabase-js localStorage and `@supabase/ssr`
    /// cookies for the app origin.
    #[napi(ts_type = "{ cookies: any[]; origins: any[] } | undefined")]
    pub storage_state: Option<Value>,
    /// The file it was written to (`*WithState`), for `test.use({ storageState })` or
    /// `browser.newContext({ storageState })`.
    pub storage_state_path: Option<String>,
}

impl From<core_users::AuthenticatedUser> for AuthenticatedUser {
    fn from(u: core_users::AuthenticatedUser) -> Self {
        AuthenticatedUser {
            user: u.user,
            session_id: u.signed.session_id,
            access_token: u.signed.access_token,
            refresh_token: u.signed.refresh_token,
            expires_at: u.signed.expires_at as i64,
            session: u.signed.session,
            claims: u.signed.claims,
            organization: u.organization,
            membership: u.membership,
            storage_state: u.storage_state,
            storage_state_path: u
                .storage_state_path
                .map(|p| p.to_string_lossy().into_owned()),
        }
    }
}

fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn spawn_auth_user<'env>(
    env: &'env Env,
    ctx: &WorkerContext,
    tracker: &ResourceTracker,
    options: Option<Value>,
    kind: AuthUserKind,
    with_state: bool,
) -> napi::Result<PromiseRaw<'env, Outcome<AuthenticatedUser>>> {
    let db = tracker.db.clone();
    let ctx = ctx.inner.clone();
    let tracker = tracker.inner.clone();
    spawn(env, async move {
        core_users::create_authenticated_user(
            &db,
            &preset::registry(),
            &ctx,
            &tracker,
            kind,
            with_state,
            options,
            &process_env,
        )
        .await
        .map(AuthenticatedUser::from)
    })
}

/// One `createWorkerScoped*` export per kind of signed-in user, with or without its storage
/// state file. Docs are plain string literals, one per line (napi would print a `///` passed
/// through a macro as a raw string).
macro_rules! auth_user_factory {
    ($name:ident, $kind:ident, $with_state:literal, $($doc:literal)*) => {
        $(#[doc = $doc])*
        #[napi(
            ts_args_type = "ctx: WorkerContext, tracker: ResourceTracker, options?: AuthUserOptions & Record<string, any>",
            ts_return_type = "Promise<AuthenticatedUser>"
        )]
        pub fn $name<'env>(
            env: &'env Env,
            ctx: &WorkerContext,
            tracker: &ResourceTracker,
            options: Option<Value>,
        ) -> napi::Result<PromiseRaw<'env, Outcome<AuthenticatedUser>>> {
            spawn_auth_user(env, ctx, tracker, options, AuthUserKind::$kind, $with_state)
        }
    };
}

auth_user_factory!(
    create_worker_scoped_authenticated_user,
    Authenticated,
    false,
    " A signed-in Supabase user: user, email identity (bcrypt password), profile (adopted when a"
    " trigger made it), session, refresh token and amr claim in one round trip, all tracked, and"
    " an access token signed with the project's JWT secret or signing key; or, with"
    " `sessionMode: 'password'`, a session Supabase Auth issues through its password grant (its"
    " rows tracked too). Options: `email`, `password`, `fullName`, `traits`, columns, and"
    " `supabaseUrl`, `jwtSecret`, `signingKey`, `apiKey`, `sessionMode`, `expiresIn`. A taken"
    " email rejects with `PGLANE_CONFLICT`; a 429 of Supabase Auth with"
    " `PGLANE_AUTH_RATE_LIMITED`, any other refusal with `PGLANE_AUTH_API`."
);

auth_user_factory!(
    create_worker_scoped_user_with_org,
    WithOrg,
    false,
    " A signed-in user who owns a new organization (membership role `owner`, or `role`)."
    " Options as `createWorkerScopedAuthenticatedUser`, plus `organization: { name, slug }`."
);

auth_user_factory!(
    create_worker_scoped_user_for_onboarding,
    Onboarding,
    false,
    " A signed-in user who has not finished onboarding (profile `onboarded` false, no"
    " organization). Options as `createWorkerScopedAuthenticatedUser`."
);

auth_user_factory!(
    create_worker_scoped_authenticated_user_with_state,
    Authenticated,
    true,
    " `createWorkerScopedAuthenticatedUser`, plus the Playwright storage state written to"
    " `<dir>/<run>-w<worker>-<test>-<user>.json` (options `appOrigin`, `supabaseUrl`, `dir`)."
);

auth_user_factory!(
    create_worker_scoped_user_with_org_and_state,
    WithOrg,
    true,
    " `createWorkerScopedUserWithOrg`, plus the Playwright storage state file."
);

/// Options of `signInWithPassword`.
// Declared for the TypeScript types only (the options arrive as one JSON object).
#[allow(dead_code)]
#[napi(object)]
pub struct SignInOptions {
    /// The user's email as stored (e.g. `user.email` of a signed-in user).
    pub email: String,
    /// The user's password (never printed).
    pub password: String,
    /// Return the session this tracker got earlier for this user while it has more than a
    /// minute left (default `true`).
    pub reuse: Option<bool>,
    /// The Supabase API URL (default `SUPABASE_URL`, else `http://127.0.0.1:54321`).
    pub supabase_url: Option<String>,
    /// The project's anon or publishable key (default `SUPABASE_ANON_KEY`, else
    /// `SUPABASE_PUBLISHABLE_KEY`). Never printed.
    pub api_key: Option<String>,
}

/// A session Supabase Auth issued (`signInWithPassword`).
#[napi(object)]
pub struct SupabaseSession {
    /// The `auth.sessions` id, also the JWT's `session_id`.
    pub session_id: String,
    /// The access token Supabase Auth signed.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// When the access token expires, in seconds since the epoch.
    pub expires_at: i64,
    /// The token response as supabase-js stores it; `writeSupabaseStorageState` takes it.
    #[napi(ts_type = "Record<string, any>")]
    pub session: Value,
    /// The access token's claims.
    #[napi(ts_type = "Record<string, any>")]
    pub claims: Value,
    /// Whether this is a session the tracker got before (no request was made).
    pub reused: bool,
}

/// Signs a user in through Supabase Auth's password grant (`POST /auth/v1/token`) and tracks
/// the rows it writes (session, refresh token, amr claim, audit entry) with `tracker`. By
/// default a session the same tracker got before for the same user is reused while it has more
/// than a minute left: sign a worker-scoped user in with the worker's tracker and every test of
/// the worker shares one sign-in, which keeps a suite under Supabase Auth's rate limits. A 429
/// rejects with `PGLANE_AUTH_RATE_LIMITED`, any other refusal with `PGLANE_AUTH_API`.
#[napi(ts_return_type = "Promise<SupabaseSession>")]
pub fn sign_in_with_password<'env>(
    env: &'env Env,
    tracker: &ResourceTracker,
    #[napi(ts_arg_type = "SignInOptions")] options: Value,
) -> napi::Result<PromiseRaw<'env, Outcome<SupabaseSession>>> {
    let db = tracker.db.clone();
    let tracker = tracker.inner.clone();
    spawn(env, async move {
        password_grant::sign_in_with_options(&db, &tracker, options, &process_env)
            .await
            .map(|(s, reused)| SupabaseSession {
                session_id: s.session_id,
                access_token: s.access_token,
                refresh_token: s.refresh_token,
                expires_at: s.expires_at as i64,
                session: s.session,
                claims: s.claims,
                reused,
            })
    })
}

/// Options of `writeSupabaseStorageState`.
#[napi(object)]
pub struct StorageStateOptions {
    /// Origin of the app under test (default `PGLANE_APP_ORIGIN`, else `http://localhost:3000`).
    pub app_origin: Option<String>,
    /// The Supabase API URL (default `SUPABASE_URL`, else `http://127.0.0.1:54321`).
    pub supabase_url: Option<String>,
    /// Folder of storage state files (default `playwright/.auth`).
    pub dir: Option<String>,
}

/// A written storage state.
#[napi(object)]
pub struct StorageStateFile {
    /// Where it was written.
    pub path: String,
    /// The state: `{ cookies, origins }` in Playwright's format.
    #[napi(ts_type = "{ cookies: any[]; origins: any[] }")]
    pub storage_state: Value,
}

/// Writes the Playwright storage state of a session (the `session` of a signed-in user, e.g.
/// from `createWorkerScopedUserForOnboarding`): supabase-js localStorage and `@supabase/ssr`
/// cookies. Throws `PGLANE_INVALID_CONFIG` for an origin or URL that is not a URL.
#[napi]
pub fn write_supabase_storage_state(
    env: Env,
    #[napi(ts_arg_type = "Record<string, any>")] session: Value,
    options: Option<StorageStateOptions>,
) -> napi::Result<StorageStateFile> {
    let options = options
        .map(|o| AuthOptions {
            app_origin: o.app_origin,
            supabase_url: o.supabase_url,
            dir: o.dir,
            ..Default::default()
        })
        .unwrap_or_default();
    let (state, path) = storage_state::storage_state_for_session(&session, &options, &process_env)
        .or_throw(&env)?;
    Ok(StorageStateFile {
        path: path.to_string_lossy().into_owned(),
        storage_state: state,
    })
}

/// The key supabase-js and `@supabase/ssr` keep the session under: `sb-<project ref>-auth-token`
/// for `supabaseUrl` (default `SUPABASE_URL`, else `http://127.0.0.1:54321`).
#[napi]
pub fn supabase_storage_key(env: Env, supabase_url: Option<String>) -> napi::Result<String> {
    auth_settings::storage_key_for(supabase_url, &process_env).or_throw(&env)
}
