//! The database section: owner and application-role connections.

use secrecy::SecretString;

use super::source::{ConfigError, Source, err};

/// The database the server uses when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/praxis";

/// The application role created by `migrate`.
pub const APP_ROLE: &str = "praxis_app";

/// Where the data lives.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: the owner connection, used for migrations only.
    pub url: SecretString,
    /// `APP_DATABASE_URL`: the application-role connection used for all requests and jobs
    /// (default: `DATABASE_URL` with the user swapped for [`APP_ROLE`]).
    pub app_url: SecretString,
    /// `APP_DATABASE_PASSWORD`: set on the application role by `migrate` when given.
    pub app_password: Option<SecretString>,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub max_connections: u32,
    /// `AUTO_MIGRATE`: create and migrate the database when the server starts.
    pub auto_migrate: bool,
}

impl DatabaseSettings {
    pub(crate) fn read(env: &Source<'_>) -> Result<Self, ConfigError> {
        let url = env
            .get("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(err("DATABASE_URL", "must be a postgres:// URL"));
        }
        let app_url = match env.get("APP_DATABASE_URL") {
            Some(app) => app,
            None => app_url_from_owner_url(&url)
                .ok_or_else(|| err("DATABASE_URL", "has no user part to replace"))?,
        };
        Ok(Self {
            url: SecretString::from(url),
            app_url: SecretString::from(app_url),
            app_password: env.get("APP_DATABASE_PASSWORD").map(SecretString::from),
            max_connections: env.parse("DATABASE_MAX_CONNECTIONS", 20)?,
            auto_migrate: env.flag("AUTO_MIGRATE", true)?,
        })
    }
}

/// `postgres://owner:pw@host/db` → `postgres://praxis_app@host/db`.
pub fn app_url_from_owner_url(owner: &str) -> Option<String> {
    let (scheme, rest) = owner.split_once("://")?;
    let (authority_and_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let host_part = match authority_and_path.rsplit_once('@') {
        Some((_, host)) => host,
        None => authority_and_path,
    };
    let mut url = format!("{scheme}://{APP_ROLE}@{host_part}");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_url_swaps_the_user() {
        assert_eq!(
            app_url_from_owner_url("postgres://postgres:secret@db:5432/praxis?sslmode=require")
                .unwrap(),
            "postgres://praxis_app@db:5432/praxis?sslmode=require"
        );
        assert_eq!(
            app_url_from_owner_url("postgres://127.0.0.1/praxis").unwrap(),
            "postgres://praxis_app@127.0.0.1/praxis"
        );
    }
}
