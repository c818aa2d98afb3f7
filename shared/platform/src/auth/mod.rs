//! Staff authentication primitives: password hashing, TOTP, session tokens, the per-IP login
//! limit, and the extractors that put a verified staff member into a handler.

pub mod password;
pub mod rate_limit;
pub mod session;
pub mod totp;

pub use session::{PendingSession, Reader, Staff};

/// Consecutive failed passwords or second factors that lock an account.
pub const MAX_FAILED_ATTEMPTS: i32 = 5;

/// Shortest accepted password (ASVS 6.2.1 asks for at least 8; staff handle health data).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password (bounds hashing work).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks the password policy, naming the field on failure.
pub fn check_password_policy(field: &'static str, password: &str) -> Result<(), crate::ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(crate::ApiError::invalid_field(
            field,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(crate::ApiError::invalid_field(
            field,
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}
