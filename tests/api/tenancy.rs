//! Tenant isolation, proven at both layers: the API answers 404 to another practice's ids and
//! changes nothing; the database, as the application role, shows nothing without a tenant.

use praxis_tests::*;
use serde_json::json;
use sqlx::Row;

#[tokio::test]
async fn practice_a_cannot_reach_practice_b_by_id() {
    let app = spawn_app().await;
    let a = app.practice_with_admin("Practice A", "BE").await;
    let b = app.practice_with_admin("Practice B", "NL").await;
    let b_receptionist = app.staff(&b, "receptionist").await;
    let b_patient = app
        .patient(&b, json!({"family_name": "Bakker", "given_names": "Sem", "birth_date": "1975-02-03", "sex": "male",
                             "national_number": "111222333", "clinical_summary": "B's note"}))
        .await;
    let _a_patient = app.patient(&a, patient_body("Aerts")).await;
    let b_grant = app
        .call(
            "POST",
            "/v1/support-grants",
            Some(&b.token),
            Some(&json!({"operator_ref": "T-1", "reason": "r", "minutes": 30})),
        )
        .await
        .body["grant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before_patient = snapshot(
        &app,
        "select * from core.patient where practice_id = $1",
        b.practice_id,
    )
    .await;
    let before_staff = snapshot(
        &app,
        "select * from core.staff_account where practice_id = $1",
        b.practice_id,
    )
    .await;
    let before_grants = snapshot(
        &app,
        "select * from core.support_grant where practice_id = $1",
        b.practice_id,
    )
    .await;
    let before_sessions = snapshot(
        &app,
        "select session_id, revoked_at from core.session where practice_id = $1",
        b.practice_id,
    )
    .await;

    let p = b_patient;
    let s = b_receptionist.staff_id;
    let calls: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", format!("/v1/patients/{p}"), None),
        (
            "PATCH",
            format!("/v1/patients/{p}"),
            Some(json!({"family_name": "Changed"})),
        ),
        (
            "POST",
            format!("/v1/patients/{p}/sms-consent"),
            Some(json!({"method": "verbal"})),
        ),
        ("DELETE", format!("/v1/patients/{p}/sms-consent"), None),
        ("GET", format!("/v1/patients/{p}/referrals"), None),
        (
            "POST",
            format!("/v1/patients/{p}/referrals"),
            Some(json!({"prescriber_number": "01012345", "referral_date": "2026-02-20"})),
        ),
        (
            "DELETE",
            format!("/v1/patients/{p}/referrals/{}", uuid::Uuid::now_v7()),
            None,
        ),
        ("GET", format!("/v1/audit-events?patient_id={p}"), None),
        ("GET", format!("/v1/audit-events?staff_id={s}"), None),
        ("POST", format!("/v1/staff/{s}/unlock"), None),
        ("POST", format!("/v1/staff/{s}/reset"), None),
        ("POST", format!("/v1/staff/{s}/deactivate"), None),
        ("DELETE", format!("/v1/support-grants/{b_grant}"), None),
    ];
    for (method, path, body) in calls {
        let r = app.call(method, &path, Some(&a.token), body.as_ref()).await;
        assert_eq!(r.status.as_u16(), 404, "{method} {path}: {}", r.text);
        assert!(
            r.body["code"].as_str().unwrap().ends_with("_not_found"),
            "{method} {path}: {}",
            r.text
        );
        assert!(!r.text.contains("Bakker") && !r.text.contains("111222333"));
    }
    // Lists and searches never show B's patients.
    let list = app.call("GET", "/v1/patients", Some(&a.token), None).await;
    assert!(!list.text.contains(&p.to_string()));
    let search = app
        .call(
            "POST",
            "/v1/patients/search",
            Some(&a.token),
            Some(&json!({"national_number": "111222333"})),
        )
        .await;
    assert_eq!(search.body["items"].as_array().unwrap().len(), 0);
    // A forged session token naming B's practice does not open it.
    let forged = a.token.replacen(
        &a.practice_id.simple().to_string(),
        &b.practice_id.simple().to_string(),
        1,
    );
    app.call("GET", &format!("/v1/patients/{p}"), Some(&forged), None)
        .await
        .problem(401, "unauthenticated");

    assert_eq!(
        before_patient,
        snapshot(
            &app,
            "select * from core.patient where practice_id = $1",
            b.practice_id
        )
        .await
    );
    assert_eq!(
        before_staff,
        snapshot(
            &app,
            "select * from core.staff_account where practice_id = $1",
            b.practice_id
        )
        .await
    );
    assert_eq!(
        before_grants,
        snapshot(
            &app,
            "select * from core.support_grant where practice_id = $1",
            b.practice_id
        )
        .await
    );
    assert_eq!(
        before_sessions,
        snapshot(
            &app,
            "select session_id, revoked_at from core.session where practice_id = $1",
            b.practice_id
        )
        .await
    );
}

/// Every row as text, in a stable order.
async fn snapshot(app: &TestApp, sql: &str, practice: uuid::Uuid) -> Vec<String> {
    let wrapped = format!("select t::text as row from ({sql}) t order by 1");
    sqlx::query(sqlx::AssertSqlSafe(wrapped))
        .bind(practice)
        .fetch_all(&app.owner)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get::<String, _>("row"))
        .collect()
}

/// Tables of the given schemas that have a practice_id column.
async fn tenant_tables(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        r#"select format('%I.%I', c.table_schema, c.table_name)
             from information_schema.columns c
             join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
            where c.column_name = 'practice_id' and t.table_type = 'BASE TABLE'
              and c.table_schema not in ('pg_catalog', 'information_schema', 'apalis')
            order by 1"#,
    )
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn without_a_tenant_the_application_role_sees_no_rows() {
    let app = spawn_app().await;
    let a = app.practice_with_admin("A", "BE").await;
    app.patient(&a, patient_body("Peeters")).await;
    let tables = tenant_tables(&app).await;
    assert!(tables.len() >= 7, "{tables:?}");
    let pool = app.app_pool().await;
    for table in &tables {
        // The owner sees rows in most tables; the application role sees none, with the
        // setting absent and with it empty.
        for setting in [None, Some("")] {
            let mut tx = pool.begin().await.unwrap();
            if let Some(v) = setting {
                sqlx::query("select set_config('app.practice_id', $1, true)")
                    .bind(v)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            assert_eq!(n, 0, "{table} with app.practice_id = {setting:?}");
            tx.rollback().await.unwrap();
        }
    }
    // And writing a row for another practice is refused by the policy.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("select set_config('app.practice_id', $1, true)")
        .bind(uuid::Uuid::now_v7().to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("insert into core.audit_event (practice_id, audit_id, event, action, purpose, route, outcome) values ($1, $2, 'x', 'R', 'x', 'x', 'x')")
        .bind(a.practice_id)
        .bind(uuid::Uuid::now_v7())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn catalog_rls_is_forced_and_the_app_role_is_powerless() {
    let app = spawn_app().await;
    let tables = tenant_tables(&app).await;
    for table in &tables {
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "select relrowsecurity, relforcerowsecurity from pg_class where oid = $1::regclass",
        )
        .bind(table)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        assert!(
            enabled && forced,
            "{table}: ENABLE {enabled}, FORCE {forced}"
        );
        let policies: i64 =
            sqlx::query_scalar("select count(*) from pg_policy where polrelid = $1::regclass")
                .bind(table)
                .fetch_one(&app.owner)
                .await
                .unwrap();
        assert!(policies >= 1, "{table} has no policy");
    }
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("select rolsuper, rolbypassrls from pg_roles where rolname = 'praxis_app'")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert!(!superuser && !bypass);
    let owned: i64 = sqlx::query_scalar(
        "select count(*) from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname = 'praxis_app'",
    )
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(owned, 0, "the application role owns relations");
}
