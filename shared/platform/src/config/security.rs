//! The security section: the master key, the operator key, sessions, sign-in limits and TOTP.

use std::time::Duration;

use base64::Engine;
use secrecy::SecretString;

use super::source::{ConfigError, Source, err};
use crate::crypto::MasterKey;

/// The development master key: 32 bytes, known to everyone, refused in production.
const DEV_MASTER_KEY: [u8; 32] = *b"praxis-development-key-not-prod!";

/// Keys, sessions and sign-in.
#[derive(Clone)]
pub struct SecuritySettings {
    /// `MASTER_KEY`: wraps every practice's data keys.
    pub master_key: MasterKey,
    /// `OPERATOR_API_KEY`: enables the operator API when set.
    pub operator_api_key: Option<SecretString>,
    /// `SESSION_IDLE_TIMEOUT_SECS`.
    pub session_idle_timeout: Duration,
    /// `SESSION_ABSOLUTE_TIMEOUT_SECS`.
    pub session_absolute_timeout: Duration,
    /// `SETUP_TOKEN_TTL_HOURS`.
    pub setup_token_ttl: Duration,
    /// `LOGIN_RATE_PER_MINUTE`: per client IP, over every login and setup route.
    pub login_rate_per_minute: u32,
    /// `PASSWORD_HASH_CONCURRENCY`: argon2 hashes that may run at once (memory bound).
    pub password_hash_concurrency: usize,
    /// `TOTP_ISSUER`: the name authenticator apps show.
    pub totp_issuer: String,
}

impl SecuritySettings {
    pub(crate) fn read(env: &Source<'_>) -> Result<Self, ConfigError> {
        let master_key = match env.get("MASTER_KEY") {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| err("MASTER_KEY", "must be base64"))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| err("MASTER_KEY", "must decode to exactly 32 bytes"))?;
                MasterKey::new(key)
            }
            None if env.production() => {
                return Err(err("MASTER_KEY", "is required when PRAXIS_ENV=production"));
            }
            None => MasterKey::new(DEV_MASTER_KEY),
        };
        if env.production() && master_key.is(&DEV_MASTER_KEY) {
            return Err(err(
                "MASTER_KEY",
                "is the development key; generate one with `openssl rand -base64 32`",
            ));
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Self {
            master_key,
            operator_api_key: env.secret("OPERATOR_API_KEY", 32)?,
            session_idle_timeout: Duration::from_secs(
                env.parse("SESSION_IDLE_TIMEOUT_SECS", 30 * 60)?,
            ),
            session_absolute_timeout: Duration::from_secs(
                env.parse("SESSION_ABSOLUTE_TIMEOUT_SECS", 12 * 3600)?,
            ),
            setup_token_ttl: Duration::from_secs(
                3600 * env.parse::<u64>("SETUP_TOKEN_TTL_HOURS", 72)?,
            ),
            login_rate_per_minute: env.positive("LOGIN_RATE_PER_MINUTE", 30)?,
            password_hash_concurrency: env.positive("PASSWORD_HASH_CONCURRENCY", cores as u32)?
                as usize,
            totp_issuer: env
                .get("TOTP_ISSUER")
                .unwrap_or_else(|| "Praxis".to_owned()),
        })
    }

    /// Whether the development master key is in use.
    pub fn uses_development_key(&self) -> bool {
        self.master_key.is(&DEV_MASTER_KEY)
    }
}
