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
    services: std::sync::Mutex<Services>,
}

/// One shared object per type, made on first use (a service's provider clients).
type Services = std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>;

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
                services: Default::default(),
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

    /// The state's one `T` (a service's provider client, say), made by `make` on first use
    /// and shared by every handler and worker of this state afterwards. Several states in one
    /// process (tests) each have their own.
    pub fn service<T: Send + Sync + 'static>(&self, make: impl FnOnce(&AppState) -> T) -> Arc<T> {
        let id = std::any::TypeId::of::<T>();
        let mut services = self.inner.services.lock().expect("services");
        let entry = services
            .entry(id)
            .or_insert_with(|| Arc::new(make(self)) as Arc<dyn std::any::Any + Send + Sync>)
            .clone();
        drop(services);
        entry.downcast::<T>().expect("one type per id")
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
