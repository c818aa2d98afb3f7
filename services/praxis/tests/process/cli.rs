//! The `praxis` command line against a real database: `practice create`, `audit seal` and
//! `audit verify`, which must report a row the owner changed behind the application's back.

use std::process::Command;

use sqlx::Connection;

use crate::common::admin_url;

fn praxis(db_url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_praxis"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env_remove("APP_DATABASE_URL")
        .env_remove("MASTER_KEY")
        .env("RUST_LOG", "error")
        .output()
        .expect("praxis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn audit_verify_reports_a_row_changed_by_the_owner() {
    let base = admin_url();
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    let name = format!(
        "praxis_test_{}_cli{}",
        chrono::Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let db_url = format!("{prefix}/{name}");

    // The database does not exist yet: the command creates and migrates it.
    let (ok, out) = praxis(
        &db_url,
        &[
            "practice",
            "create",
            "--name",
            "CLI practice",
            "--country",
            "BE",
            "--admin-email",
            "a@example.test",
            "--admin-name",
            "A",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("setup_token (once):"), "{out}");
    let (ok, out) = praxis(
        &db_url,
        &[
            "practice",
            "create",
            "--name",
            "Bad",
            "--country",
            "FR",
            "--admin-email",
            "a@example.test",
            "--admin-name",
            "A",
        ],
    );
    assert!(!ok && out.contains("BE or NL"), "{out}");

    let (ok, out) = praxis(&db_url, &["audit", "seal"]);
    assert!(ok && out.contains("sealed 1 events"), "{out}");
    let (ok, out) = praxis(&db_url, &["audit", "verify"]);
    assert!(ok && out.contains(": ok, 1 links, 0 unsealed"), "{out}");

    let mut owner = sqlx::PgConnection::connect(&db_url).await.unwrap();
    sqlx::query("update core.audit_event set outcome = 'failure'")
        .execute(&mut owner)
        .await
        .unwrap();
    let (ok, out) = praxis(&db_url, &["audit", "verify"]);
    assert!(!ok, "verify must fail: {out}");
    assert!(
        out.contains("BROKEN at seq 1") && out.contains("event_changed"),
        "{out}"
    );
    owner.close().await.unwrap();

    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database \"{name}\" with (force)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}
