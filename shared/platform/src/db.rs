//! The database: pools, migrations, and tenant-scoped transactions (design §3).

use std::str::FromStr;
use std::time::Duration;

use domain::PracticeId;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, PgConnection, PgPool, Postgres, Transaction,
};

use crate::config::{APP_ROLE, Settings};

/// The application's migrations, embedded at build time (see `build.rs`).
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut m = sqlx::migrate!("../../migrations");
    // apalis keeps its own history table; neither migrator should trip over the other.
    m.set_ignore_missing(true);
    m
}

/// A transaction with `app.practice_id` set: row-level security shows only that practice.
pub type TenantTx = Transaction<'static, Postgres>;

/// The application-role pool. All requests and jobs go through it.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    /// Wraps a pool connected as the application role.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Connects as the application role.
    pub async fn connect(settings: &Settings) -> Result<Self, sqlx::Error> {
        let options = PgConnectOptions::from_str(settings.database.app_url.expose_secret())?
            .application_name("praxis")
            .log_statements(tracing::log::LevelFilter::Trace);
        let pool = PgPoolOptions::new()
            .max_connections(settings.database.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// The pool, for work that sets its own scope (health checks, the job queue).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A read-only transaction that may read the routing tables across practices
    /// (`notifications.route`, `invoicing.route`: their policy lets it see every row when
    /// `app.routing` is on). Callbacks and public links arrive without a tenant: they find the
    /// practice here, then work inside its tenant. One round trip, fixed text.
    pub async fn routing(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool
            .begin_with("begin read only; select set_config('app.routing', 'on', true)")
            .await
    }

    /// Begins a transaction scoped to one practice.
    pub async fn tenant(&self, practice: PracticeId) -> Result<TenantTx, sqlx::Error> {
        // BEGIN and the tenant in one round trip (simple query protocol). The id is a parsed
        // UUID, so writing it into the statement cannot inject anything.
        let begin = format!(
            "begin; select set_config('app.practice_id', '{}', true)",
            practice.as_uuid()
        );
        self.pool.begin_with(AssertSqlSafe(begin)).await
    }

    /// Every practice id: the one cross-tenant read, for background steps that work practice
    /// by practice (see the `practice_directory` policy).
    pub async fn practice_directory(&self) -> Result<Vec<PracticeId>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction read only")
            .execute(&mut *tx)
            .await?;
        sqlx::query("select set_config('app.directory', 'on', true)")
            .execute(&mut *tx)
            .await?;
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("select practice_id from core.practice order by practice_id")
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(PracticeId::from_uuid).collect())
    }
}

/// Sets the tenant of the current transaction.
pub async fn set_tenant(conn: &mut PgConnection, practice: PracticeId) -> Result<(), sqlx::Error> {
    sqlx::query("select set_config('app.practice_id', $1, true)")
        .bind(practice.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates the database if needed, the application role, and runs every migration
/// (apalis's own, then ours) as the owner.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    use anyhow::Context;
    let owner = PgConnectOptions::from_str(settings.database.url.expose_secret())
        .context("DATABASE_URL is not a valid URL")?;
    create_database_if_missing(&owner).await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(owner)
        .await
        .context("Failed to connect as the database owner (DATABASE_URL)")?;
    let password = settings
        .database
        .app_password
        .as_ref()
        .map(|p| p.expose_secret().to_owned());
    migrate_pool(&pool, password.as_deref()).await
}

/// Runs the migrations on a pool connected as the owner (tests pass their own database).
pub async fn migrate_pool(pool: &PgPool, app_password: Option<&str>) -> anyhow::Result<()> {
    use anyhow::Context;
    ensure_app_role(pool, app_password).await?;
    let db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "grant connect, temporary on database {} to {APP_ROLE}",
        quote_ident(&db)
    )))
    .execute(pool)
    .await?;
    let mut apalis = apalis_postgres::PostgresStorage::migrations();
    apalis.set_ignore_missing(true);
    apalis
        .run(pool)
        .await
        .context("Failed to run the job queue migrations")?;
    migrator()
        .run(pool)
        .await
        .context("Failed to run the application migrations")?;
    Ok(())
}

/// Creates the application role: login, not superuser, no BYPASSRLS, owns nothing. Roles are
/// cluster-wide, so concurrent migrations of two databases may race; the loser's error is fine.
async fn ensure_app_role(pool: &PgPool, password: Option<&str>) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_roles where rolname = $1)")
            .bind(APP_ROLE)
            .fetch_one(pool)
            .await?;
    if !exists {
        let created = sqlx::query(AssertSqlSafe(format!(
            "create role {APP_ROLE} login nosuperuser nobypassrls nocreatedb nocreaterole noinherit"
        )))
        .execute(pool)
        .await;
        if let Err(e) = created {
            let duplicate = e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42710" || c == "23505");
            if !duplicate {
                return Err(e.into());
            }
        }
    }
    if let Some(pw) = password {
        // ALTER ROLE takes no bind parameters; quote the literal.
        sqlx::query(AssertSqlSafe(format!(
            "alter role {APP_ROLE} password {}",
            quote_literal(pw)
        )))
        .execute(pool)
        .await?;
    }
    Ok(())
}

async fn create_database_if_missing(owner: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = owner.get_database().map(str::to_owned) else {
        return Ok(());
    };
    if PgConnection::connect_with(owner).await.is_ok() {
        return Ok(());
    }
    let mut admin = PgConnection::connect_with(&owner.clone().database("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        tracing::info!(database = %name, "creating database");
        sqlx::query(AssertSqlSafe(format!(
            "create database {}",
            quote_ident(&name)
        )))
        .execute(&mut admin)
        .await?;
    }
    Ok(())
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Maps a database error to the name of the constraint it violated, if any.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    err.as_database_error().and_then(|d| d.constraint())
}
