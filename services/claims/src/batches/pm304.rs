//! A batch's PM304 file, written from a database cursor: the lines come 500 at a time, each
//! insured person's identifiers are decrypted once, records go through the validator and into
//! encrypted chunks as they are written. A file the validator faults is never stored (the
//! caller's transaction rolls back); memory stays at one page of rows and one chunk.

use std::sync::Arc;

use chrono::NaiveDate;
use domain::people::PostalAddress;
use domain::{ClaimBatchId, PatientId, PracticeId};
use platform::crypto::PracticeKeys;
use platform::db::TenantTx;
use rust_decimal::Decimal;

use crate::batches::error::BatchError;
use crate::batches::store::LineCursor;
use crate::files::{ChunkWriter, Stored, Tee};
use crate::vektis::model::{Header, Insured, Referral, Service};
use crate::vektis::pm304_v32::PM304;
use crate::vektis::validate::Validator;
use crate::vektis::write::{Pm304Writer, WriteError};

#[derive(sqlx::FromRow)]
struct LineRow {
    patient_id: PatientId,
    reference: String,
    kind: String,
    corrects_reference: Option<String>,
    code: String,
    service_date: NaiveDate,
    quantity: Decimal,
    amount: Decimal,
    unit_price: Decimal,
    practitioner_agb: Option<String>,
    family_name: String,
    given_names: String,
    birth_date: NaiveDate,
    sex: String,
    uzovi: Option<String>,
    policy_number: Option<String>,
    national_number_enc: Option<Vec<u8>>,
    address_enc: Option<Vec<u8>>,
    referral_date: Option<NaiveDate>,
    referrer: Option<String>,
    referrer_specialism: Option<String>,
}

/// What the file is made for.
pub(crate) struct FileFor<'a> {
    pub practice: PracticeId,
    pub batch: ClaimBatchId,
    pub uzovi: &'a str,
    pub practice_agb: &'a str,
    pub period: (NaiveDate, NaiveDate),
    pub file_number: &'a str,
    pub today: NaiveDate,
    pub test: bool,
}

/// Whole cents of an amount, without its sign (the D/C indicator carries it).
fn cents(d: Decimal) -> u64 {
    domain::money::to_cents(d).unsigned_abs()
}

fn initials(given: &str) -> String {
    given
        .split([' ', '-'])
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .take(6)
        .collect()
}

/// Splits `12A` into 12 and `A`; the box (toevoeging) follows the letters.
fn house(address: Option<&PostalAddress>) -> (u32, Option<String>) {
    let Some(a) = address else {
        return (0, None);
    };
    let digits: String = a.number.chars().take_while(char::is_ascii_digit).collect();
    let rest = a.number[digits.len()..].trim();
    let suffix = [rest, a.box_number.as_deref().unwrap_or("")]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    (
        digits.parse().unwrap_or(0),
        (!suffix.is_empty()).then_some(suffix),
    )
}

fn insured(keys: &PracticeKeys, practice: PracticeId, r: &LineRow) -> Result<Insured, BatchError> {
    let bsn = r
        .national_number_enc
        .as_ref()
        .map(|c| {
            keys.decrypt_string(
                platform::patients::national_number_field(practice, r.patient_id),
                c,
            )
        })
        .transpose()
        .map_err(anyhow::Error::from)?
        .unwrap_or_default();
    let address: Option<PostalAddress> = r
        .address_enc
        .as_ref()
        .map(|c| keys.decrypt(platform::patients::address_field(practice, r.patient_id), c))
        .transpose()
        .map_err(anyhow::Error::from)?
        .map(|json| serde_json::from_slice(&json))
        .transpose()
        .map_err(anyhow::Error::from)?;
    let (house_number, suffix) = house(address.as_ref());
    let dutch = address.as_ref().is_some_and(|a| a.country == "NL");
    let postcode = address
        .as_ref()
        .map(|a| a.postcode.replace(' ', "").to_uppercase());
    Ok(Insured {
        bsn,
        uzovi: r.uzovi.clone().unwrap_or_default(),
        insured_number: r.policy_number.clone().filter(|p| !p.is_empty()),
        patient_number: None,
        birth_date: r.birth_date,
        sex: match r.sex.as_str() {
            "male" => 1,
            "female" => 2,
            _ => 0,
        },
        family_name: r.family_name.clone(),
        initials: initials(&r.given_names),
        postcode: postcode.clone().filter(|_| dutch),
        postcode_abroad: postcode.filter(|_| !dutch),
        house_number,
        house_number_suffix: suffix,
        country: address.map(|a| a.country),
    })
}

fn service(r: &LineRow, practice_agb: &str) -> Service {
    let quantity = u32::try_from(r.quantity.trunc().mantissa()).unwrap_or(0);
    let tariff = cents(r.unit_price);
    Service {
        service_date: r.service_date,
        code: r.code.clone(),
        quantity,
        practitioner_agb: r
            .practitioner_agb
            .clone()
            .unwrap_or_else(|| practice_agb.to_owned()),
        tariff,
        calculated: tariff * u64::from(quantity),
        amount: cents(r.amount),
        credit: r.kind == "credit",
        reference: r.reference.clone(),
        previous_reference: r.corrects_reference.clone(),
        referral: r
            .referral_date
            .zip(r.referrer.clone())
            .map(|(date, referrer_agb)| Referral {
                date,
                referrer_agb,
                specialism: r.referrer_specialism.clone(),
            }),
    }
}

fn fits(e: WriteError) -> BatchError {
    match e {
        WriteError::Encode(e) => BatchError::DoesNotFit(e.to_string()),
        WriteError::NoInsured => BatchError::Other(anyhow::anyhow!("{e}")),
        WriteError::Io(e) => BatchError::Other(e.into()),
    }
}

/// The rows of the batch's file, in file order: the cursor's query (and the benchmark's COPY).
pub fn lines_query(batch: ClaimBatchId) -> String {
    format!(
        "         select l.patient_id, l.reference, l.kind, c.reference as corrects_reference, l.code, l.service_date,
                l.quantity, l.amount, abs(il.unit_price) as unit_price, pr.agb_code as practitioner_agb,
                p.family_name, p.given_names, p.birth_date, p.sex, p.uzovi, p.policy_number,
                p.national_number_enc, p.address_enc,
                rf.referral_date, rf.prescriber_number as referrer, rf.prescriber_specialism as referrer_specialism
           {}
          order by l.patient_id, l.service_date, l.reference",
        crate::batches::store::lines_from(batch)
    )
}

/// Writes the batch's PM304 file into encrypted chunks; answers what was stored. The caller
/// writes the file's row and rolls back on any error.
pub(crate) async fn write(
    tx: &mut TenantTx,
    keys: Arc<PracticeKeys>,
    f: &FileFor<'_>,
) -> Result<Stored, BatchError> {
    let cursor = LineCursor::open(tx, "pm304_lines", lines_query(f.batch)).await?;
    let header = Header {
        test: f.test,
        uzovi: f.uzovi.to_owned(),
        practice_agb: f.practice_agb.to_owned(),
        period_start: f.period.0,
        period_end: f.period.1,
        invoice_number: f.file_number.to_owned(),
        invoice_date: f.today,
    };
    let out = Tee(
        ChunkWriter::new(f.practice, keys.clone()),
        Validator::new(&PM304),
    );
    let mut w = Pm304Writer::start(out, &PM304, &header).map_err(fits)?;
    let mut current: Option<PatientId> = None;
    loop {
        let page: Vec<LineRow> = cursor.next(tx).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            if current != Some(r.patient_id) {
                w.insured(&insured(&keys, f.practice, r)?).map_err(fits)?;
                current = Some(r.patient_id);
            }
            w.service(&service(r, f.practice_agb)).map_err(fits)?;
        }
        w.output_mut().0.store_full(tx).await?;
    }
    cursor.close(tx).await?;
    let (Tee(chunks, validator), _) = w.finish().map_err(fits)?;
    let findings = validator.finish();
    if !findings.is_empty() {
        return Err(BatchError::Invalid(findings));
    }
    Ok(chunks.finish(tx).await?)
}
