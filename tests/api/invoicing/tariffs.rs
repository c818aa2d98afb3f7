//! Tariffs as data: validity, no overlap, the insurer's own tariff first.

use praxis_tests::billing::Billing;
use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn tariffs_do_not_overlap_and_end_on_a_day() {
    let app = spawn_app().await;
    let b = Billing::setup(&app).await;
    let t = b.token();
    let tariff = |from: &str, insurer: Option<&str>| {
        let mut body = json!({"appointment_type_id": b.clinic.type_id, "code": "560011", "label": "Zitting",
                              "valid_from": from, "fee": "35.00", "insurer_share": "26.00"});
        if let Some(i) = insurer {
            body["insurer"] = json!(i);
        }
        body
    };
    // The open-ended 2020 tariff covers 2027.
    let overlap = app
        .call("POST", "/v1/tariffs", t, Some(&tariff("2027-01-01", None)))
        .await;
    assert_eq!(
        overlap.problem(409, "tariff_overlap")["field"],
        "valid_from"
    );
    // An insurer's own tariff may apply alongside the general one.
    let own = app
        .call(
            "POST",
            "/v1/tariffs",
            t,
            Some(&tariff("2027-01-01", Some("311"))),
        )
        .await;
    assert_eq!(own.status, 201, "{}", own.text);
    let end = app
        .call(
            "POST",
            &format!("/v1/tariffs/{}/end", b.tariff_id),
            t,
            Some(&json!({"valid_until": "2026-12-31"})),
        )
        .await;
    assert_eq!(end.status, 200, "{}", end.text);
    let next = app
        .call("POST", "/v1/tariffs", t, Some(&tariff("2027-01-01", None)))
        .await;
    assert_eq!(next.status, 201, "{}", next.text);
    let on = app.call("GET", "/v1/tariffs?on=2027-06-01", t, None).await;
    assert_eq!(on.body.as_array().unwrap().len(), 2, "{}", on.text);
    let before = app.call("GET", "/v1/tariffs?on=2026-06-01", t, None).await;
    assert_eq!(before.body.as_array().unwrap().len(), 1, "{}", before.text);
    assert_eq!(before.body[0]["fee"], "32.50");
    // Bad input names its field.
    let mut bad = tariff("2030-01-01", None);
    bad["insurer_share"] = json!("99.00");
    let r = app.call("POST", "/v1/tariffs", t, Some(&bad)).await;
    assert_eq!(r.problem(422, "invalid_field")["field"], "insurer_share");
    let mut bad = tariff("2030-01-01", None);
    bad["code"] = json!("56-0011");
    assert_eq!(
        app.call("POST", "/v1/tariffs", t, Some(&bad)).await.body["field"],
        "code"
    );
    let mut bad = tariff("2030-01-01", None);
    bad["appointment_type_id"] = json!(uuid::Uuid::now_v7());
    app.call("POST", "/v1/tariffs", t, Some(&bad))
        .await
        .problem(404, "appointment_type_not_found");
    let back = app
        .call(
            "POST",
            &format!("/v1/tariffs/{}/end", b.tariff_id),
            t,
            Some(&json!({"valid_until": "2019-01-01"})),
        )
        .await;
    assert_eq!(back.problem(422, "invalid_field")["field"], "valid_until");
}
