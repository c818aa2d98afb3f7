//! A batch as an HL7 FHIR R4 Bundle (`collection`), the neutral format: the practice and the
//! insurer as Organizations, each patient with their Coverage, and one Claim per claim line
//! (its practitioner a logical Practitioner reference by AGB or RIZIV/INAMI number; the referral
//! it rests on a ServiceRequest, its prescriber a logical reference the same way). Written
//! like the claim files: from a cursor, one entry at a time, into encrypted chunks.

use std::io::Write;
use std::sync::Arc;

use chrono::NaiveDate;
use domain::practice::Country;
use domain::{ClaimBatchId, PatientId, PracticeId};
use platform::crypto::PracticeKeys;
use platform::db::TenantTx;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::batches::error::BatchError;
use crate::batches::store::LineCursor;
use crate::files::{ChunkWriter, Stored};

/// Identifier and code systems: the national naming systems for people, providers and Dutch
/// insurers (Nictiz, eHealth); `urn:praxis:` for the code lists and Belgian mutualities until a
/// national profile names them.
struct Systems {
    national: &'static str,
    provider: &'static str,
    insurer: &'static str,
    code: &'static str,
}

fn systems(country: Country) -> Systems {
    match country {
        Country::NL => Systems {
            national: "http://fhir.nl/fhir/NamingSystem/bsn",
            provider: "http://fhir.nl/fhir/NamingSystem/agb-z",
            insurer: "http://fhir.nl/fhir/NamingSystem/uzovi",
            code: "urn:praxis:vektis-prestatiecodelijst-012",
        },
        Country::BE => Systems {
            national: "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin",
            provider: "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi",
            insurer: "urn:praxis:be-mutuality",
            code: "urn:praxis:nihdi-nomenclature",
        },
    }
}

#[derive(sqlx::FromRow)]
struct LineRow {
    line_id: uuid::Uuid,
    patient_id: PatientId,
    reference: String,
    kind: String,
    corrects_reference: Option<String>,
    code: String,
    service_date: NaiveDate,
    quantity: Decimal,
    amount: Decimal,
    practitioner: Option<String>,
    family_name: String,
    given_names: String,
    birth_date: NaiveDate,
    sex: String,
    policy_number: Option<String>,
    national_number_enc: Option<Vec<u8>>,
    referral_id: Option<uuid::Uuid>,
    referral_date: Option<NaiveDate>,
    prescriber: Option<String>,
}

/// What the bundle is made for.
pub(crate) struct BundleFor<'a> {
    pub practice: PracticeId,
    pub country: Country,
    pub batch: ClaimBatchId,
    pub insurer: &'a str,
    pub provider_number: &'a str,
    pub practice_name: &'a str,
    pub today: NaiveDate,
}

fn entry(
    out: &mut impl Write,
    first: &mut bool,
    id: uuid::Uuid,
    resource: Value,
) -> std::io::Result<()> {
    if !*first {
        out.write_all(b",")?;
    }
    *first = false;
    serde_json::to_writer(
        &mut *out,
        &json!({"fullUrl": format!("urn:uuid:{id}"), "resource": resource}),
    )?;
    Ok(())
}

/// A FHIR decimal: a JSON number (cents survive the trip through `f64` exactly as written).
fn number(d: Decimal) -> Value {
    d.to_string()
        .parse::<f64>()
        .map_or(Value::Null, |f| json!(f))
}

fn money(d: Decimal) -> Value {
    json!({"value": number(d), "currency": "EUR"})
}

/// The rows of the batch's file, in file order: the cursor's query (and the benchmark's COPY).
pub(crate) fn lines_query(batch: ClaimBatchId) -> String {
    format!(
        "         select l.line_id, l.patient_id, l.reference, l.kind, c.reference as corrects_reference, l.code,
                l.service_date, l.quantity, l.amount, coalesce(pr.agb_code, pr.riziv_number) as practitioner,
                p.family_name, p.given_names, p.birth_date, p.sex, p.policy_number, p.national_number_enc,
                rf.referral_id, rf.referral_date, rf.prescriber_number as prescriber
           {}
          order by l.patient_id, l.service_date, l.reference",
        crate::batches::store::lines_from(batch)
    )
}

/// Writes the batch's FHIR bundle into encrypted chunks.
pub(crate) async fn write(
    tx: &mut TenantTx,
    keys: Arc<PracticeKeys>,
    b: &BundleFor<'_>,
) -> Result<Stored, BatchError> {
    let sys = systems(b.country);
    let practice_org = uuid::Uuid::now_v7();
    let insurer_org = uuid::Uuid::now_v7();
    let mut out = ChunkWriter::new(b.practice, keys.clone());
    let io = |e: std::io::Error| BatchError::Other(e.into());
    write!(
        out,
        r#"{{"resourceType":"Bundle","type":"collection","timestamp":"{}T00:00:00Z","entry":["#,
        b.today
    )
    .map_err(io)?;
    let mut first = true;
    entry(
        &mut out,
        &mut first,
        practice_org,
        json!({
            "resourceType": "Organization",
            "identifier": [{"system": sys.provider, "value": b.provider_number}],
            "name": b.practice_name,
        }),
    )
    .map_err(io)?;
    entry(&mut out, &mut first, insurer_org, json!({
        "resourceType": "Organization",
        "identifier": [{"system": sys.insurer, "value": b.insurer}],
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "ins"}]}],
    }))
    .map_err(io)?;
    let cursor = LineCursor::open(tx, "fhir_lines", lines_query(b.batch)).await?;
    let mut current: Option<(PatientId, uuid::Uuid, uuid::Uuid)> = None;
    // The current patient's referrals already in the bundle (a patient has a few).
    let mut referrals: Vec<uuid::Uuid> = Vec::new();
    loop {
        let page: Vec<LineRow> = cursor.next(tx).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            if current.is_none_or(|(p, _, _)| p != r.patient_id) {
                let national = r
                    .national_number_enc
                    .as_ref()
                    .map(|c| {
                        keys.decrypt_string(
                            platform::patients::national_number_field(b.practice, r.patient_id),
                            c,
                        )
                    })
                    .transpose()
                    .map_err(anyhow::Error::from)?
                    .unwrap_or_default();
                let (patient, coverage) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
                entry(&mut out, &mut first, patient, json!({
                    "resourceType": "Patient",
                    "identifier": [{"system": sys.national, "value": national}],
                    "name": [{"family": r.family_name, "given": r.given_names.split_whitespace().collect::<Vec<_>>()}],
                    "gender": match r.sex.as_str() { "male" => "male", "female" => "female", "other" => "other", _ => "unknown" },
                    "birthDate": r.birth_date,
                }))
                .map_err(io)?;
                let mut cov = json!({
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": format!("urn:uuid:{patient}")},
                    "payor": [{"reference": format!("urn:uuid:{insurer_org}")}],
                });
                if let Some(p) = r.policy_number.as_deref().filter(|p| !p.is_empty()) {
                    cov["subscriberId"] = json!(p);
                }
                entry(&mut out, &mut first, coverage, cov).map_err(io)?;
                current = Some((r.patient_id, patient, coverage));
                referrals.clear();
            }
            let (_, patient, coverage) = current.expect("set above");
            let referral = r
                .referral_id
                .zip(r.referral_date)
                .zip(r.prescriber.as_deref());
            if let Some(((id, date), prescriber)) = referral
                && !referrals.contains(&id)
            {
                entry(&mut out, &mut first, id, json!({
                    "resourceType": "ServiceRequest",
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": format!("urn:uuid:{patient}")},
                    "authoredOn": date,
                    "requester": {"type": "Practitioner", "identifier": {"system": sys.provider, "value": prescriber}},
                }))
                .map_err(io)?;
                referrals.push(id);
            }
            let sign = if r.kind == "credit" {
                -Decimal::ONE
            } else {
                Decimal::ONE
            };
            let net = sign * r.amount;
            let unit = if r.quantity.is_zero() {
                net
            } else {
                (net / r.quantity).round_dp(2)
            };
            let mut claim = json!({
                "resourceType": "Claim",
                "identifier": [{"system": "urn:praxis:claim-line", "value": r.reference}],
                "status": "active",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
                "use": "claim",
                "patient": {"reference": format!("urn:uuid:{patient}")},
                "created": b.today,
                "insurer": {"reference": format!("urn:uuid:{insurer_org}")},
                "provider": {"reference": format!("urn:uuid:{practice_org}")},
                "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
                "insurance": [{"sequence": 1, "focal": true, "coverage": {"reference": format!("urn:uuid:{coverage}")}}],
                "item": [{
                    "sequence": 1,
                    "productOrService": {"coding": [{"system": sys.code, "code": r.code}]},
                    "servicedDate": r.service_date,
                    "quantity": {"value": number(r.quantity)},
                    "unitPrice": money(unit),
                    "net": money(net),
                }],
                "total": money(net),
            });
            if let Some(p) = &r.practitioner {
                claim["careTeam"] = json!([{"sequence": 1, "provider": {
                    "type": "Practitioner", "identifier": {"system": sys.provider, "value": p}}}]);
                claim["item"][0]["careTeamSequence"] = json!([1]);
            }
            if let Some(((id, _), _)) = referral {
                claim["referral"] = json!({"reference": format!("urn:uuid:{id}")});
            }
            if let Some(c) = &r.corrects_reference {
                claim["related"] = json!([{"claim": {"identifier": {"system": "urn:praxis:claim-line", "value": c}},
                    "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/related-claim-relationship", "code": "prior"}]}}]);
            }
            entry(&mut out, &mut first, r.line_id, claim).map_err(io)?;
        }
        out.store_full(tx).await?;
    }
    cursor.close(tx).await?;
    out.write_all(b"]}").map_err(io)?;
    Ok(out.finish(tx).await?)
}
