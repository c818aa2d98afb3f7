//! Application state shared by every router and worker.

use std::sync::Arc;

use crate::auth::password::PasswordHasher;
use crate::auth::rate_limit::LoginLimiter;
use crate::config::Settings;
use crate::crypto::Keyring;
use crate::db::Db;

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    db: Db,
    keys: Keyring,
    passwords: PasswordHasher,
    login_limiter: LoginLimiter,
}

impl AppState {
    /// Builds the state over a connected application-role pool.
    pub fn new(settings: Settings, db: Db) -> Self {
        // Install the metrics recorder before anything counts.
        crate::metrics::handle();
        let keys = Keyring::new(settings.security.master_key.clone());
        let passwords = PasswordHasher::new(settings.security.password_hash_concurrency);
        let login_limiter = LoginLimiter::new(settings.security.login_rate_per_minute);
        Self {
            inner: Arc::new(Inner {
                settings,
                db,
                keys,
                passwords,
                login_limiter,
            }),
        }
    }

    /// Configuration.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The application-role database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Practice keys.
    pub fn keys(&self) -> &Keyring {
        &self.inner.keys
    }

    /// Password hashing with a concurrency bound.
    pub fn passwords(&self) -> &PasswordHasher {
        &self.inner.passwords
    }

    /// Per-IP limit on login routes.
    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.login_limiter
    }
}

impl AppState {
    /// The practice's unwrapped keys, from the cache or the database (within `conn`'s tenant).
    pub async fn practice_keys(
        &self,
        conn: &mut sqlx::PgConnection,
        practice: domain::PracticeId,
    ) -> Result<Arc<crate::crypto::PracticeKeys>, crate::ApiError> {
        if let Some(k) = self.keys().cached(practice) {
            return Ok(k);
        }
        let row: Option<(i32, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "select key_version, wrapped_data_key, wrapped_index_key from core.practice_key order by key_version desc limit 1",
        )
        .fetch_optional(conn)
        .await?;
        let (version, data, index) = row.ok_or(crate::crypto::CryptoError::MissingKey)?;
        Ok(self.keys().load(practice, version, &data, &index)?)
    }
}
