//! Supabase Auth for tests: signed-in users created straight in Postgres (user, identity,
//! profile, session and refresh token in one statement), access tokens signed with the
//! project's JWT secret and the claims Supabase Auth issues, the session JSON supabase-js
//! stores, and Playwright storage state for supabase-js (localStorage) and `@supabase/ssr`
//! (cookies, chunked).
//!
//! - [`settings`]: options, environment and defaults; the secret, never printed.
//! - [`jwt`]: claims, signatures, sessions.
//! - [`storage_state`]: what Playwright loads into the browser.
//! - [`users`]: the signed-in users themselves.

pub mod jwt;
pub mod settings;
pub mod storage_state;
pub mod users;
