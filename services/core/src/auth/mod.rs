//! Staff sign-in: password, then TOTP; first sign-in and resets through a setup token.
//!
//! Lockout: every password check first *reserves* an attempt on the account
//! (`failed_attempts + 1`, only while below the limit) and commits that before argon2 runs, so
//! however many guesses arrive at once, at most five verifications run and the fifth failure
//! locks the account. A right password gives its reservation back; the counter returns to zero
//! only after the second factor succeeds, so a known password does not let anyone brute-force
//! TOTP. Wrong, unknown, locked and deactivated all get the same 401 body.
//!
//! The parts: [`login`] (password and setup token), [`totp`] (the second factor), [`session`]
//! (who, logout, password change), [`attempts`] (the audit trail of attempts and the lock).

mod attempts;
mod login;
mod session;
mod totp;

pub use login::*;
pub use session::*;
pub use totp::*;

use axum::Router;
use axum::routing::{get, post};
use platform::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/setup", post(setup))
        .route("/v1/auth/totp/enrol", post(enrol_totp))
        .route("/v1/auth/totp/confirm", post(confirm_totp))
        .route("/v1/auth/totp/verify", post(verify_totp))
        .route("/v1/auth/session", get(current_session))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/password", post(change_password))
}
