//! Supabase Auth for tests: signed-in users created straight in Postgres (user, identity,
//! profile, session, refresh token and `mfa_amr_claims` row in one statement), access tokens
//! signed with the project's legacy JWT secret (HS256) or its own private signing key (ES256 /
//! RS256) and the claims Supabase Auth issues, or sessions Supabase Auth itself issues through
//! its password grant; the session JSON supabase-js stores, and Playwright storage state for
//! supabase-js (localStorage) and `@supabase/ssr` (cookies, chunked).
//!
//! - [`settings`]: options, environment and defaults; which session mode; secrets never printed.
//! - [`signing`]: HS256, ES256 and RS256 signatures, private JWKs.
//! - [`jwt`]: claims and sessions.
//! - [`password_grant`]: signing in through Supabase Auth's API, and the rows it writes.
//! - [`storage_state`]: what Playwright loads into the browser.
//! - [`users`]: the signed-in users themselves.

pub mod jwt;
pub mod password_grant;
pub mod settings;
pub mod signing;
pub mod storage_state;
pub mod users;
