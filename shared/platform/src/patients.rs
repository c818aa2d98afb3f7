//! What every service may ask of the shared kernel's patients (`core.patient`) without owning
//! them: whether one exists in the practice of the transaction, and the two contact-state
//! changes that come from outside the practice (a `STOP` reply, an unreachable number), each
//! audited here so no service writes `core.patient` with SQL of its own.

use crate::db::TenantTx;
use crate::error::ApiError;
use domain::PatientId;

/// Whether the patient exists in the transaction's practice (row-level security hides every
/// other practice's patients, so another practice's id answers `false` like an unknown one).
pub async fn exists(tx: &mut TenantTx, patient: PatientId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from core.patient where patient_id = $1)")
        .bind(patient.as_uuid())
        .fetch_one(&mut **tx)
        .await
}

/// Requires the patient named by the path: 404 `patient_not_found` otherwise.
pub async fn require(tx: &mut TenantTx, patient: PatientId) -> Result<(), ApiError> {
    if exists(tx, patient).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("patient_not_found", "patient_id"))
    }
}

/// A change of a patient's contact state that no staff member made: the patient's own `STOP`,
/// or the network's report that the number does not exist. Services other than core change
/// `core.patient` only through these, and each change is an audit row.
#[derive(Debug, Clone, Copy)]
pub struct ContactSource<'a> {
    /// The callback route or job that learned it (`callback:sms_inbound`, `job:notifications.send`).
    pub route: &'a str,
    /// Purpose of use for the audit row.
    pub purpose: &'a str,
}

/// Withdraws the SMS consent of every patient of the transaction's practice with this mobile
/// number (they answered `STOP`); one audit row each. Returns the patients whose consent
/// changed (a second `STOP` changes nothing).
pub async fn withdraw_sms_consent(
    tx: &mut TenantTx,
    practice: domain::PracticeId,
    mobile_e164: &str,
    source: ContactSource<'_>,
) -> Result<Vec<PatientId>, sqlx::Error> {
    let patients: Vec<uuid::Uuid> = sqlx::query_scalar(
        r#"update core.patient set sms_consent_withdrawn_at = now()
            where mobile_e164 = $1 and sms_consent_withdrawn_at is null returning patient_id"#,
    )
    .bind(mobile_e164)
    .fetch_all(&mut **tx)
    .await?;
    let patients: Vec<PatientId> = patients.into_iter().map(PatientId::from_uuid).collect();
    for p in &patients {
        audit_contact(tx, practice, *p, source, "sms_opt_out").await?;
    }
    Ok(patients)
}

/// Flags a patient's mobile number for staff (the network reported it unreachable or
/// invalid); audited. A number already flagged stays flagged with its first reason; returns
/// whether this call flagged it.
pub async fn flag_mobile(
    tx: &mut TenantTx,
    practice: domain::PracticeId,
    patient: PatientId,
    reason: &'static str,
    source: ContactSource<'_>,
) -> Result<bool, sqlx::Error> {
    let flagged = sqlx::query(
        "update core.patient set mobile_flagged_at = now(), mobile_flag_reason = $2 where patient_id = $1 and mobile_flagged_at is null",
    )
    .bind(patient.as_uuid())
    .bind(reason)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0;
    if flagged {
        audit_contact(tx, practice, patient, source, reason).await?;
    }
    Ok(flagged)
}

async fn audit_contact(
    tx: &mut TenantTx,
    practice: domain::PracticeId,
    patient: PatientId,
    source: ContactSource<'_>,
    reason: &'static str,
) -> Result<(), sqlx::Error> {
    let ev = crate::audit::AuditEvent {
        event: "sensitive_update",
        action: crate::audit::Action::Update,
        actor: None,
        support_grant: None,
        patient: Some(patient),
        purpose: source.purpose,
        route: source.route,
        outcome: "success",
        reason: Some(reason),
    };
    crate::audit::record(tx, practice, &ev).await
}

/// Who an invoice is addressed to: the patient's name and postal address (decrypted).
#[derive(Debug, Clone)]
pub struct Addressee {
    /// Given names and family name.
    pub name: String,
    /// The postal address, when the practice recorded one.
    pub address: Option<domain::people::PostalAddress>,
    /// The patient's language.
    pub language: domain::practice::Language,
}

/// The field reference of a patient's encrypted address (the same one core writes with).
pub fn address_field(practice: domain::PracticeId, patient: PatientId) -> crate::crypto::FieldRef {
    crate::crypto::FieldRef {
        practice,
        table: "core.patient",
        column: "address_enc",
        row: patient.as_uuid(),
    }
}

/// The name, address and language of a patient of the transaction's practice, for documents
/// addressed to them; `None` for an unknown patient. The caller audits the read.
pub async fn addressee(
    tx: &mut TenantTx,
    keys: &crate::crypto::PracticeKeys,
    practice: domain::PracticeId,
    patient: PatientId,
) -> Result<Option<Addressee>, ApiError> {
    let row: Option<(String, String, Option<Vec<u8>>, String)> = sqlx::query_as(
        "select given_names, family_name, address_enc, preferred_language from core.patient where patient_id = $1",
    )
    .bind(patient.as_uuid())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((given, family, address, language)) = row else {
        return Ok(None);
    };
    let address = address
        .map(|c| keys.decrypt(address_field(practice, patient), &c))
        .transpose()?
        .map(|json| serde_json::from_slice(&json))
        .transpose()
        .map_err(ApiError::internal)?;
    let language = domain::practice::Language::parse(&language)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("invalid language in core.patient")))?;
    Ok(Some(Addressee {
        name: format!("{given} {family}"),
        address,
        language,
    }))
}

/// What a claim needs to know of a patient: the insurance, the national number decrypted, and
/// the referrals their care rests on.
#[derive(Clone)]
pub struct Insurance {
    /// `BE` or `NL`, when recorded.
    pub country: Option<domain::practice::Country>,
    /// BE: the mutuality code.
    pub mutuality_code: Option<String>,
    /// NL: the UZOVI number.
    pub uzovi: Option<String>,
    /// INSZ/NISS or BSN.
    pub national_number: Option<String>,
    /// The birth date.
    pub birth_date: chrono::NaiveDate,
    /// `male`, `female`, `other` or `unknown`.
    pub sex: String,
    /// The period the insurance covers, when recorded.
    pub valid: (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>),
    /// The patient's referrals, oldest first.
    pub referrals: Vec<domain::referral::Referral>,
}

impl std::fmt::Debug for Insurance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the national number.
        f.debug_struct("Insurance")
            .field("country", &self.country)
            .field("has_national_number", &self.national_number.is_some())
            .field("referrals", &self.referrals.len())
            .finish_non_exhaustive()
    }
}

/// The field reference of a patient's encrypted national number (the one core writes with).
pub fn national_number_field(
    practice: domain::PracticeId,
    patient: PatientId,
) -> crate::crypto::FieldRef {
    crate::crypto::FieldRef {
        practice,
        table: "core.patient",
        column: "national_number_enc",
        row: patient.as_uuid(),
    }
}

/// A patient's insurance identifiers for a claim; `None` for an unknown patient. The caller
/// audits the read.
pub async fn insurance(
    tx: &mut TenantTx,
    keys: &crate::crypto::PracticeKeys,
    practice: domain::PracticeId,
    patient: PatientId,
) -> Result<Option<Insurance>, ApiError> {
    #[allow(clippy::type_complexity)]
    let row: Option<(
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Vec<u8>>,
        chrono::NaiveDate,
        String,
        Option<chrono::NaiveDate>,
        Option<chrono::NaiveDate>,
    )> = sqlx::query_as(
        "select insurance_country, mutuality_code, uzovi, national_number_enc, birth_date, sex,
                insurance_valid_from, insurance_valid_until
               from core.patient where patient_id = $1",
    )
    .bind(patient.as_uuid())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((country, mutuality_code, uzovi, national, birth_date, sex, from, until)) = row else {
        return Ok(None);
    };
    let national_number = national
        .map(|c| keys.decrypt_string(national_number_field(practice, patient), &c))
        .transpose()?;
    let referrals = referrals(tx, patient).await?;
    Ok(Some(Insurance {
        country: country
            .as_deref()
            .and_then(domain::practice::Country::parse),
        mutuality_code,
        uzovi,
        national_number,
        birth_date,
        sex,
        valid: (from, until),
        referrals,
    }))
}

/// A patient's referrals, oldest first (core owns the table; claims read it through here).
pub async fn referrals(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<domain::referral::Referral>, sqlx::Error> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        uuid::Uuid,
        chrono::NaiveDate,
        Option<chrono::NaiveDate>,
        String,
        Option<String>,
    )> = sqlx::query_as(
        "select referral_id, referral_date, valid_until, prescriber_number, prescriber_specialism
           from core.referral where patient_id = $1 order by referral_date, referral_id",
    )
    .bind(patient.as_uuid())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, referral_date, valid_until, prescriber_number, prescriber_specialism)| {
                domain::referral::Referral {
                    referral_id: domain::ReferralId::from_uuid(id),
                    referral_date,
                    valid_until,
                    prescriber_number,
                    prescriber_specialism,
                }
            },
        )
        .collect())
}
