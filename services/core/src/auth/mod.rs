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

use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(setup))
        .routes(routes!(enrol_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(verify_totp))
        .routes(routes!(current_session))
        .routes(routes!(logout))
        .routes(routes!(change_password))
}
