//! What reaches the provider, the logs and the database: no patient data beyond the minimum, no
//! unkeyed hash of a number.

use super::*;

#[tokio::test]
async fn canary_patient_data_reaches_neither_the_provider_nor_the_logs() {
    let logs = captured_logs();
    let sim = LinkSim::start().await;
    let app = platform_app(&sim, "600").await;
    let c = clinic(&app).await;
    let t = Some(c.admin.token.as_str());
    let phone = "+32470918273";
    let national = insz("770412345");
    let canaries = [
        "Canaryfamilyqx",
        "Canarygivenqx",
        "canary.qx@example.test",
        national.as_str(),
        "CANARY-POLICY-QX",
        "Dr. Canarygpqx",
        "CANARY CLINICAL QX",
        "CANARY REPLY QX",
    ];
    let p = app
        .call(
            "POST",
            "/v1/patients",
            t,
            Some(&json!({"family_name": canaries[0], "given_names": canaries[1], "birth_date": "1977-04-12",
                         "sex": "female", "mobile": phone, "email": canaries[2], "national_number": canaries[3],
                         "insurance_country": "BE", "mutuality_code": "500", "policy_number": canaries[4], "gp_name": canaries[5],
                         "clinical_summary": canaries[6], "sms_consent": {"method": "written"}})),
        )
        .await;
    assert_eq!(p.status, 201, "{}", p.text);
    let patient: Uuid = p.body["patient_id"].as_str().unwrap().parse().unwrap();
    // Booking, reminder, delivery report, replies, reschedule, a second reminder, cancel.
    let a = book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    wait_state(&app, &c, &a, "delivered").await;
    let mo_url = format!("{}/v1/hooks/link/{TOKEN}/mo", app.base);
    assert_eq!(sim.deliver_mo(&mo_url, phone, "JA").await, 200);
    assert_eq!(
        sim.deliver_mo(&mo_url, phone, &format!("{} graag bellen", canaries[7]))
            .await,
        200
    );
    app.drain(&["scheduling.patient-reply"]).await;
    let moved = app
        .call(
            "POST",
            &format!("/v1/appointments/{a}/reschedule"),
            t,
            Some(&json!({"starts_at": local(3, "15:00")})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    send_due(&app).await;
    wait_state(&app, &c, &a, "delivered").await;
    let cancel = app
        .call(
            "POST",
            &format!("/v1/appointments/{a}/cancel"),
            t,
            Some(&json!({"reason": canaries[6]})),
        )
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    app.drain(&["notifications.appointment-changed", "scheduling.slot-freed"])
        .await;
    let replies = app.call("GET", "/v1/notifications/replies", t, None).await;
    assert!(
        replies.text.contains(canaries[7]),
        "staff can read the reply"
    );

    // The provider saw two requests, each with the number and nothing else of the patient.
    let raw = sim.raw();
    assert_eq!(raw.len(), 2, "{raw:?}");
    for body in &raw {
        assert!(body.contains(phone), "{body}");
        for canary in canaries {
            assert!(
                !body.contains(canary),
                "the provider received {canary}: {body}"
            );
        }
    }
    // The server's log output (JSON lines, as in production) names none of them, nor the number.
    let out = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(out.contains("message send"), "logs were captured");
    for canary in canaries.iter().chain([&phone]) {
        assert!(!out.contains(canary), "log output contains {canary}");
    }
}

/// Every `bytea` column of the application's schemas that holds one of `digests`, as
/// `schema.table.column`.
async fn columns_holding(app: &TestApp, digests: &[Vec<u8>]) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "select table_schema::text, table_name::text, column_name::text from information_schema.columns
          where data_type = 'bytea' and table_schema in ('core', 'scheduling', 'notifications', 'invoicing', 'claims')",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert!(columns.len() > 5, "{columns:?}");
    let mut found = Vec::new();
    for (schema, table, column) in columns {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from \"{schema}\".\"{table}\" where \"{column}\" = any($1)"
        )))
        .bind(digests)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        if n > 0 {
            found.push(format!("{schema}.{table}.{column}"));
        }
    }
    found
}

#[tokio::test]
async fn no_column_holds_an_unkeyed_hash_of_the_patients_number_after_a_reply() {
    use sha2::{Digest, Sha256};
    let sim = LinkSim::start().await;
    let app = smsapi_app(&sim).await;
    let c = clinic(&app).await;
    let patient = consenting_patient(&app, &c, MOBILE).await;
    book(&app, &c, patient, &local(3, "10:00")).await;
    send_due(&app).await;
    let (date, text) = ("1800000100", "JA");
    let r = reqwest::Client::new()
        .post(format!("{}/v1/hooks/smsapi/{TOKEN}/mo", app.base))
        .form(&[
            ("sms_from", MOBILE.trim_start_matches('+')),
            ("sms_text", text),
            ("sms_date", date),
            ("username", "praxis"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "OK");
    assert_eq!(
        app.count("select count(*) from notifications.inbound_seen")
            .await,
        1,
        "the reply was recorded"
    );
    let national = MOBILE.trim_start_matches("+32");
    let forms = [
        MOBILE.to_owned(),
        MOBILE.trim_start_matches('+').to_owned(),
        format!("0{national}"),
        national.to_owned(),
        format!("0032{national}"),
    ];
    let mut digests: Vec<Vec<u8>> = forms
        .iter()
        .map(|f| Sha256::digest(f.as_bytes()).to_vec())
        .collect();
    // And the composite the first version stored: SHA-256(provider, number, time, text).
    for from in &forms {
        let mut h = Sha256::new();
        for (i, part) in ["smsapi", from, date, text].iter().enumerate() {
            if i > 0 {
                h.update([0]);
            }
            h.update(part.as_bytes());
        }
        digests.push(h.finalize().to_vec());
    }
    let found = columns_holding(&app, &digests).await;
    assert!(
        found.is_empty(),
        "a plain digest of the number is stored in {found:?}"
    );
}
