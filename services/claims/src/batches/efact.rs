//! A batch's eFact message, written from a database cursor like the PM304 file: one patient
//! invoice (records 20–80) per practice invoice, each patient's INSZ decrypted once, records
//! through the validator and into encrypted chunks as they are written.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use domain::money::to_cents;
use domain::{ClaimBatchId, InvoiceId, PatientId, PracticeId};
use platform::crypto::PracticeKeys;
use platform::db::TenantTx;
use rust_decimal::Decimal;

use crate::batches::error::BatchError;
use crate::batches::store::LineCursor;
use crate::efact::validate::EfactValidator;
use crate::efact::write::{EfactWriter, Invoice, Prescription, Sending, Service, WriteError};
use crate::files::{ChunkWriter, Stored, Tee};

#[derive(sqlx::FromRow)]
struct LineRow {
    patient_id: PatientId,
    invoice_id: InvoiceId,
    number: String,
    issue_date: NaiveDate,
    reference: String,
    kind: String,
    code: String,
    service_date: NaiveDate,
    quantity: Decimal,
    amount: Decimal,
    patient_share: Decimal,
    practitioner_riziv: Option<String>,
    sex: String,
    mutuality_code: Option<String>,
    national_number_enc: Option<Vec<u8>>,
    prescription_date: Option<NaiveDate>,
    prescriber: Option<String>,
}

/// The practice's side of a sending.
#[derive(sqlx::FromRow)]
struct Practice {
    legal_name: Option<String>,
    enterprise_number: Option<String>,
    iban: Option<String>,
    bic: Option<String>,
    provider_number: Option<String>,
}

/// What the message is made for.
pub(crate) struct MessageFor<'a> {
    pub practice: PracticeId,
    pub batch: ClaimBatchId,
    pub mutuality: &'a str,
    pub period_end: NaiveDate,
    pub file_number: &'a str,
    pub today: NaiveDate,
}

fn fits(e: WriteError) -> BatchError {
    match e {
        WriteError::Encode(e) => BatchError::DoesNotFit(e.to_string()),
        WriteError::NoInvoice => BatchError::Other(anyhow::anyhow!("{e}")),
        WriteError::Io(e) => BatchError::Other(e.into()),
    }
}

/// The rows of the batch's file, in file order: the cursor's query (and the benchmark's COPY).
pub fn lines_query(batch: ClaimBatchId) -> String {
    format!(
        "         select l.patient_id, l.invoice_id, i.number, i.issue_date, l.reference, l.kind, l.code, l.service_date,
                l.quantity, l.amount, abs(il.patient_share) as patient_share, pr.riziv_number as practitioner_riziv,
                p.sex, p.mutuality_code, p.national_number_enc,
                rf.referral_date as prescription_date, rf.prescriber_number as prescriber
           {}
          order by l.patient_id, l.invoice_id, l.kind, l.reference",
        crate::batches::store::lines_from(batch)
    )
}

/// Writes the batch's eFact message into encrypted chunks; answers what was stored.
pub(crate) async fn write(
    tx: &mut TenantTx,
    keys: Arc<PracticeKeys>,
    m: &MessageFor<'_>,
) -> Result<Stored, BatchError> {
    let p: Practice = sqlx::query_as(
        "select legal_name, enterprise_number, iban, bic, provider_number from invoicing.settings",
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| BatchError::DoesNotFit("the practice's invoicing details are missing".into()))?;
    let serial: u32 = m.file_number[4..].parse().unwrap_or(1);
    let sending = Sending {
        test: false,
        provider: p.provider_number.unwrap_or_default(),
        enterprise_number: format!("{:0>10}", p.enterprise_number.unwrap_or_default()),
        bic: p.bic.unwrap_or_default(),
        iban: p.iban.unwrap_or_default(),
        contact: p.legal_name.unwrap_or_default(),
        sending_number: (serial - 1) % 999 + 1,
        reference: m.file_number.to_owned(),
        year: m.period_end.year(),
        month: m.period_end.month(),
        created: m.today,
        mutuality: m.mutuality.to_owned(),
    };
    let cursor = LineCursor::open(tx, "efact_lines", lines_query(m.batch)).await?;
    let out = Tee(
        ChunkWriter::new(m.practice, keys.clone()),
        EfactValidator::new(),
    );
    let mut w = EfactWriter::start(out, &sending).map_err(fits)?;
    let mut current: Option<(PatientId, InvoiceId, String)> = None;
    let mut number = 0;
    let mut insz = String::new();
    loop {
        let page: Vec<LineRow> = cursor.next(tx).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            let credit = r.kind == "credit";
            // One patient invoice per practice invoice, and its credits apart.
            let key = (r.patient_id, r.invoice_id, r.kind.clone());
            if current.as_ref() != Some(&key) {
                if current.as_ref().is_none_or(|(p, _, _)| *p != r.patient_id) {
                    insz = r
                        .national_number_enc
                        .as_ref()
                        .map(|c| {
                            keys.decrypt_string(
                                platform::patients::national_number_field(m.practice, r.patient_id),
                                c,
                            )
                        })
                        .transpose()
                        .map_err(anyhow::Error::from)?
                        .unwrap_or_default();
                }
                number += 1;
                w.invoice(&Invoice {
                    insz: insz.clone(),
                    sex: match r.sex.as_str() {
                        "male" => 1,
                        "female" => 2,
                        _ => 0,
                    },
                    affiliation: r.mutuality_code.clone().unwrap_or_default(),
                    number,
                    reference: r.number.clone(),
                    invoice_date: r.issue_date,
                })
                .map_err(fits)?;
                current = Some(key);
            }
            let sign = if credit { -1 } else { 1 };
            let units = i32::try_from(r.quantity.trunc().mantissa()).unwrap_or(0);
            w.service(&Service {
                code: r.code.parse().unwrap_or(0),
                date: r.service_date,
                provider: r
                    .practitioner_riziv
                    .clone()
                    .unwrap_or_else(|| sending.provider.clone()),
                reimbursement: sign * to_cents(r.amount),
                units: sign as i32 * units,
                personal_share: sign * to_cents(r.patient_share),
                reference: r.reference.clone(),
                prescription: r
                    .prescription_date
                    .zip(r.prescriber.clone())
                    .map(|(date, prescriber)| Prescription { date, prescriber }),
            })
            .map_err(fits)?;
        }
        w.output_mut().0.store_full(tx).await?;
    }
    cursor.close(tx).await?;
    let Tee(chunks, validator) = w.finish().map_err(fits)?;
    let findings = validator.finish();
    if !findings.is_empty() {
        return Err(BatchError::Invalid(findings));
    }
    Ok(chunks.finish(tx).await?)
}
