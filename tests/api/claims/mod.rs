//! Claims over HTTP: claim lines made from issued invoices and credit notes, checked, corrected.

use praxis_tests::TestApp;
use praxis_tests::billing::Billing;
use serde_json::Value;

mod batches;
mod lines;
mod referrals;

/// A new patient of the billing practice; answers its id.
pub(crate) async fn patient(app: &TestApp, b: &Billing, body: Value) -> String {
    let r = app
        .call("POST", "/v1/patients", b.token(), Some(&body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["patient_id"].as_str().unwrap().to_owned()
}
