//! The role matrix (domain::practice::Role::allows), walked cell by cell over HTTP, plus the
//! clinical-text rule.

use domain::practice::{Permission, Role};
use praxis_tests::*;
use serde_json::json;

#[tokio::test]
async fn every_role_gets_exactly_what_the_matrix_allows() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let patient = app
        .patient(&admin, json!({"family_name": "Peeters", "given_names": "Lotte", "birth_date": "1984-03-12", "sex": "female",
                                 "clinical_summary": "Lumbago"}))
        .await;
    for role in Role::ALL {
        let s = if role == Role::PracticeAdmin {
            admin.clone()
        } else {
            app.staff(&admin, role.as_str()).await
        };
        let t = Some(s.token.as_str());
        let read = app
            .call("GET", &format!("/v1/patients/{patient}"), t, None)
            .await;
        assert_eq!(
            read.status == 200,
            role.allows(Permission::PatientRead),
            "{role:?} read: {}",
            read.text
        );
        if read.status == 200 {
            assert_eq!(
                read.body.get("clinical_summary").is_some(),
                role.allows(Permission::ClinicalText),
                "{role:?}: {}",
                read.text
            );
        }
        let write = app
            .call(
                "PATCH",
                &format!("/v1/patients/{patient}"),
                t,
                Some(&json!({"gp_name": "Dr. A"})),
            )
            .await;
        assert_eq!(
            write.status == 200,
            role.allows(Permission::PatientWrite),
            "{role:?} write: {}",
            write.text
        );
        // Referrals: recorded by those who write patients, listed by those who read them.
        let referral = app
            .call(
                "POST",
                &format!("/v1/patients/{patient}/referrals"),
                t,
                Some(&json!({"prescriber_number": "10000106003", "referral_date": "2026-02-20"})),
            )
            .await;
        assert_eq!(
            referral.status == 201,
            role.allows(Permission::PatientWrite),
            "{role:?} referral: {}",
            referral.text
        );
        let referrals = app
            .call("GET", &format!("/v1/patients/{patient}/referrals"), t, None)
            .await;
        assert_eq!(
            referrals.status == 200,
            role.allows(Permission::PatientRead),
            "{role:?} referrals: {}",
            referrals.text
        );
        let clinical = app
            .call(
                "PATCH",
                &format!("/v1/patients/{patient}"),
                t,
                Some(&json!({"clinical_summary": "changed"})),
            )
            .await;
        assert_eq!(
            clinical.status == 200,
            role.allows(Permission::ClinicalText),
            "{role:?} clinical: {}",
            clinical.text
        );
        if clinical.status != 200 {
            assert_eq!(clinical.status, 403);
        }
        let audit = app.call("GET", "/v1/audit-events", t, None).await;
        assert_eq!(
            audit.status == 200,
            role.allows(Permission::AuditRead),
            "{role:?} audit"
        );
        let staff = app.call("GET", "/v1/staff", t, None).await;
        assert_eq!(
            staff.status == 200,
            role.allows(Permission::StaffManage),
            "{role:?} staff"
        );
        let invoices = app.call("GET", "/v1/invoices", t, None).await;
        assert_eq!(
            invoices.status == 200,
            role.allows(Permission::InvoiceRead),
            "{role:?} invoices: {}",
            invoices.text
        );
        let draft = app
            .call(
                "POST",
                "/v1/invoices",
                t,
                Some(&json!({"patient_id": patient, "lines": []})),
            )
            .await;
        assert_eq!(
            draft.status == 201,
            role.allows(Permission::InvoiceWrite),
            "{role:?} draft: {}",
            draft.text
        );
        if draft.status != 201 {
            assert_eq!(draft.status, 403);
        }
        // Claims follow the invoice permissions: reading batches, making one.
        let batches = app.call("GET", "/v1/claims/batches", t, None).await;
        assert_eq!(
            batches.status == 200,
            role.allows(Permission::InvoiceRead),
            "{role:?} batches: {}",
            batches.text
        );
        let batch = app
            .call(
                "POST",
                "/v1/claims/batches",
                t,
                Some(&json!({"insurer": "500", "period_start": "2026-03-01", "period_end": "2026-03-31"})),
            )
            .await;
        // Allowed: nothing is ready to claim yet (422); refused: 403.
        assert_eq!(
            batch.status,
            if role.allows(Permission::InvoiceWrite) {
                422
            } else {
                403
            },
            "{role:?} batch: {}",
            batch.text
        );
    }
    // The receptionist could not overwrite the clinical text.
    let read = app
        .call(
            "GET",
            &format!("/v1/patients/{patient}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(
        read.body["clinical_summary"], "changed",
        "only permitted roles changed it"
    );
}
