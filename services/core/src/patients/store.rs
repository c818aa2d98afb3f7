//! The patient row: validation into plain fields, encryption and the blind index, the one
//! write, and decoding (decryption) back into the view.

use chrono::{DateTime, NaiveDate, Utc};
use domain::identifiers::{
    MobileNumber, NationalNumber, parse_email, parse_mutuality_code, parse_uzovi,
};
use domain::people::{ConsentMethod, PostalAddress, Sex};
use domain::practice::{Country, Language, Permission};
use domain::{PatientId, PracticeId};
use platform::auth::Staff;
use platform::crypto::{FieldRef, PracticeKeys};
use platform::db::TenantTx;
use platform::{ApiError, ApiResult, AppState};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::model::*;

/// Plain, validated patient fields.
#[derive(Debug, Clone)]
pub(super) struct PatientData {
    pub(super) family_name: String,
    pub(super) given_names: String,
    pub(super) birth_date: NaiveDate,
    pub(super) sex: Sex,
    pub(super) mobile: Option<String>,
    pub(super) email: Option<String>,
    pub(super) preferred_language: Language,
    pub(super) insurance_country: Option<Country>,
    pub(super) mutuality_code: Option<String>,
    pub(super) uzovi: Option<String>,
    pub(super) policy_number: Option<String>,
    pub(super) insurance_valid_from: Option<NaiveDate>,
    pub(super) insurance_valid_until: Option<NaiveDate>,
    pub(super) national_number: Option<String>,
    pub(super) gp_name: Option<String>,
    pub(super) clinical_summary: Option<String>,
    pub(super) address: Option<PostalAddress>,
}

pub(super) fn opt_line(
    field: &'static str,
    v: Option<String>,
    max: usize,
) -> ApiResult<Option<String>> {
    platform::json::optional_line(field, v.as_deref(), max)
}

impl PatientData {
    /// Trims, checks and normalises every field.
    pub(super) fn normalise(self, practice_country: Country) -> ApiResult<Self> {
        let today = Utc::now().date_naive();
        if self.birth_date > today {
            return Err(ApiError::invalid_field(
                "birth_date",
                "may not be in the future",
            ));
        }
        if self.birth_date < NaiveDate::from_ymd_opt(1890, 1, 1).expect("valid date") {
            return Err(ApiError::invalid_field("birth_date", "is before 1890"));
        }
        let country = self.insurance_country.unwrap_or(practice_country);
        let mobile = opt_line("mobile", self.mobile, 40)?
            .map(|m| MobileNumber::parse(practice_country, &m).map(|m| m.as_str().to_owned()))
            .transpose()
            .map_err(|e| ApiError::invalid_field("mobile", e.to_string()))?;
        let email = opt_line("email", self.email, 254)?
            .map(|e| parse_email(&e))
            .transpose()
            .map_err(|e| ApiError::invalid_field("email", e.to_string()))?;
        let national_number = opt_line("national_number", self.national_number, 40)?
            .map(|n| NationalNumber::parse(country, &n).map(|n| n.digits().to_owned()))
            .transpose()
            .map_err(|e| {
                let scheme = if country == Country::BE {
                    "INSZ/NISS"
                } else {
                    "BSN"
                };
                ApiError::invalid_field("national_number", format!("not a valid {scheme}: {e}"))
            })?;
        let mutuality_code = opt_line("mutuality_code", self.mutuality_code, 10)?
            .map(|m| parse_mutuality_code(&m))
            .transpose()
            .map_err(|e| ApiError::invalid_field("mutuality_code", e.to_string()))?;
        let uzovi = opt_line("uzovi", self.uzovi, 10)?
            .map(|u| parse_uzovi(&u))
            .transpose()
            .map_err(|e| ApiError::invalid_field("uzovi", e.to_string()))?;
        if mutuality_code.is_some() && country != Country::BE {
            return Err(ApiError::invalid_field(
                "mutuality_code",
                "applies to Belgian insurance only",
            ));
        }
        if uzovi.is_some() && country != Country::NL {
            return Err(ApiError::invalid_field(
                "uzovi",
                "applies to Dutch insurance only",
            ));
        }
        if let (Some(from), Some(until)) = (self.insurance_valid_from, self.insurance_valid_until)
            && until < from
        {
            return Err(ApiError::invalid_field(
                "insurance_valid_until",
                "may not be before insurance_valid_from",
            ));
        }
        Ok(Self {
            family_name: platform::json::line("family_name", &self.family_name, MAX_TEXT)?,
            given_names: platform::json::line("given_names", &self.given_names, MAX_TEXT)?,
            birth_date: self.birth_date,
            sex: self.sex,
            mobile,
            email,
            preferred_language: self.preferred_language,
            insurance_country: self.insurance_country,
            mutuality_code,
            uzovi,
            policy_number: opt_line("policy_number", self.policy_number, 40)?,
            insurance_valid_from: self.insurance_valid_from,
            insurance_valid_until: self.insurance_valid_until,
            national_number,
            gp_name: opt_line("gp_name", self.gp_name, MAX_TEXT)?,
            clinical_summary: platform::json::optional_text(
                "clinical_summary",
                self.clinical_summary.as_deref(),
                MAX_CLINICAL,
            )?,
            address: self
                .address
                .map(PostalAddress::normalise)
                .transpose()
                .map_err(|e| ApiError::invalid_field(format!("address.{}", e.field), e.problem))?,
        })
    }
}

pub(super) fn field(practice: PracticeId, column: &'static str, patient: PatientId) -> FieldRef {
    FieldRef {
        practice,
        table: TABLE,
        column,
        row: patient.as_uuid(),
    }
}

pub(super) async fn practice_defaults(tx: &mut TenantTx) -> ApiResult<(Country, Language)> {
    let (country, lang): (String, String) =
        sqlx::query_as("select country, default_language from core.practice")
            .fetch_one(&mut **tx)
            .await?;
    Ok((
        Country::parse(&country)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("bad country")))?,
        Language::parse(&lang)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("bad language")))?,
    ))
}

/// Writes the row (insert or full update) with encrypted fields and the blind index.
pub(super) async fn write(
    tx: &mut TenantTx,
    keys: &PracticeKeys,
    practice: PracticeId,
    id: PatientId,
    d: &PatientData,
    insert: bool,
) -> ApiResult<()> {
    let nn_enc = d
        .national_number
        .as_ref()
        .map(|n| keys.encrypt(field(practice, "national_number_enc", id), n.as_bytes()));
    let nn_idx = d
        .national_number
        .as_ref()
        .map(|n| keys.blind_index(NATIONAL_NUMBER_INDEX, n));
    let clinical = d
        .clinical_summary
        .as_ref()
        .map(|c| keys.encrypt(field(practice, "clinical_summary_enc", id), c.as_bytes()));
    let address = d
        .address
        .as_ref()
        .map(|a| {
            serde_json::to_vec(a)
                .map(|json| keys.encrypt(field(practice, "address_enc", id), &json))
                .map_err(ApiError::internal)
        })
        .transpose()?;
    let address_country = d.address.as_ref().map(|a| a.country.as_str());
    let sql = if insert {
        r#"insert into core.patient (practice_id, patient_id, family_name, given_names, birth_date, sex, mobile_e164, email,
               preferred_language, insurance_country, mutuality_code, uzovi, policy_number, national_number_enc,
               national_number_bidx, gp_name, clinical_summary_enc, address_enc, address_country,
               insurance_valid_from, insurance_valid_until)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"#
    } else {
        r#"update core.patient set family_name = $3, given_names = $4, birth_date = $5, sex = $6, mobile_e164 = $7,
               email = $8, preferred_language = $9, insurance_country = $10, mutuality_code = $11, uzovi = $12,
               policy_number = $13, national_number_enc = $14, national_number_bidx = $15, gp_name = $16,
               clinical_summary_enc = $17, address_enc = $18, address_country = $19,
               insurance_valid_from = $20, insurance_valid_until = $21, version = version + 1
           where practice_id = $1 and patient_id = $2"#
    };
    sqlx::query(sql)
        .bind(practice.as_uuid())
        .bind(id.as_uuid())
        .bind(&d.family_name)
        .bind(&d.given_names)
        .bind(d.birth_date)
        .bind(d.sex.as_str())
        .bind(&d.mobile)
        .bind(&d.email)
        .bind(d.preferred_language.as_str())
        .bind(d.insurance_country.map(Country::as_str))
        .bind(&d.mutuality_code)
        .bind(&d.uzovi)
        .bind(&d.policy_number)
        .bind(nn_enc)
        .bind(nn_idx)
        .bind(&d.gp_name)
        .bind(clinical)
        .bind(address)
        .bind(address_country)
        .bind(d.insurance_valid_from)
        .bind(d.insurance_valid_until)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) const COLUMNS: &str = "patient_id, family_name, given_names, birth_date, sex, mobile_e164, email, preferred_language, \
     sms_consent_at, sms_consent_method, sms_consent_withdrawn_at, insurance_country, mutuality_code, uzovi, policy_number, \
     insurance_valid_from, insurance_valid_until, national_number_enc, gp_name, clinical_summary_enc, address_enc, version, created_at, updated_at";

pub(super) fn internal(what: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!("invalid {what} in database"))
}

pub(super) fn decode(
    row: &PgRow,
    keys: &PracticeKeys,
    practice: PracticeId,
) -> ApiResult<(Patient, PatientData)> {
    let id = PatientId::from_uuid(row.try_get("patient_id")?);
    let nn: Option<Vec<u8>> = row.try_get("national_number_enc")?;
    let national_number = nn
        .map(|c| keys.decrypt_string(field(practice, "national_number_enc", id), &c))
        .transpose()?;
    let cs: Option<Vec<u8>> = row.try_get("clinical_summary_enc")?;
    let clinical_summary = cs
        .map(|c| keys.decrypt_string(field(practice, "clinical_summary_enc", id), &c))
        .transpose()?;
    let ad: Option<Vec<u8>> = row.try_get("address_enc")?;
    let address = ad
        .map(|c| keys.decrypt(field(practice, "address_enc", id), &c))
        .transpose()?
        .map(|json| serde_json::from_slice::<PostalAddress>(&json).map_err(|_| internal("address")))
        .transpose()?;
    let sex = Sex::parse(row.try_get("sex")?).ok_or_else(|| internal("sex"))?;
    let lang =
        Language::parse(row.try_get("preferred_language")?).ok_or_else(|| internal("language"))?;
    let insurance_country = row
        .try_get::<Option<String>, _>("insurance_country")?
        .and_then(|c| Country::parse(&c));
    let consent_at: Option<DateTime<Utc>> = row.try_get("sms_consent_at")?;
    let method: Option<String> = row.try_get("sms_consent_method")?;
    let sms_consent = match (consent_at, method.as_deref().and_then(ConsentMethod::parse)) {
        (Some(given_at), Some(method)) => Some(SmsConsent {
            given_at,
            method,
            withdrawn_at: row.try_get("sms_consent_withdrawn_at")?,
        }),
        _ => None,
    };
    let data = PatientData {
        family_name: row.try_get("family_name")?,
        given_names: row.try_get("given_names")?,
        birth_date: row.try_get("birth_date")?,
        sex,
        mobile: row.try_get("mobile_e164")?,
        email: row.try_get("email")?,
        preferred_language: lang,
        insurance_country,
        mutuality_code: row.try_get("mutuality_code")?,
        uzovi: row.try_get("uzovi")?,
        policy_number: row.try_get("policy_number")?,
        insurance_valid_from: row.try_get("insurance_valid_from")?,
        insurance_valid_until: row.try_get("insurance_valid_until")?,
        national_number,
        gp_name: row.try_get("gp_name")?,
        clinical_summary,
        address,
    };
    let patient = Patient {
        patient_id: id,
        family_name: data.family_name.clone(),
        given_names: data.given_names.clone(),
        birth_date: data.birth_date,
        sex,
        mobile: data.mobile.clone(),
        email: data.email.clone(),
        preferred_language: lang,
        sms_consent,
        insurance_country,
        mutuality_code: data.mutuality_code.clone(),
        uzovi: data.uzovi.clone(),
        policy_number: data.policy_number.clone(),
        insurance_valid_from: data.insurance_valid_from,
        insurance_valid_until: data.insurance_valid_until,
        national_number: data.national_number.clone(),
        gp_name: data.gp_name.clone(),
        clinical_summary: data.clinical_summary.clone(),
        address: data.address.clone(),
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    };
    Ok((patient, data))
}

/// Loads one patient (locked for update when asked) or answers 404.
pub(super) async fn load(
    tx: &mut TenantTx,
    state: &AppState,
    practice: PracticeId,
    id: Uuid,
    for_update: bool,
) -> ApiResult<(Patient, PatientData)> {
    let lock = if for_update { " for update" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from core.patient where patient_id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("patient_not_found", "patient_id"))?;
    let keys = state.practice_keys(tx, practice).await?;
    decode(&row, &keys, practice)
}

/// Writing clinical text needs its own permission; a refusal is audited like any other.
pub(super) async fn require_clinical(state: &AppState, staff: &Staff) -> ApiResult<()> {
    staff
        .require(state, Permission::ClinicalText)
        .await
        .map_err(|e| e.with_field("clinical_summary"))
}

pub(super) fn redact(mut p: Patient, can: impl Fn(Permission) -> bool) -> Patient {
    if !can(Permission::ClinicalText) {
        p.clinical_summary = None;
    }
    p
}

/// Validates and inserts a patient in the caller's transaction. The caller checks permissions
/// and writes the audit row.
pub async fn insert(
    tx: &mut TenantTx,
    state: &AppState,
    practice: PracticeId,
    body: NewPatient,
) -> ApiResult<PatientId> {
    let consent_at = match &body.sms_consent {
        Some(c) => Some(consent_time(c)?),
        None => None,
    };
    let (country, default_language) = practice_defaults(tx).await?;
    let data = PatientData {
        family_name: body.family_name,
        given_names: body.given_names,
        birth_date: body.birth_date,
        sex: body.sex,
        mobile: body.mobile,
        email: body.email,
        preferred_language: body.preferred_language.unwrap_or(default_language),
        insurance_country: body.insurance_country,
        mutuality_code: body.mutuality_code,
        uzovi: body.uzovi,
        policy_number: body.policy_number,
        insurance_valid_from: body.insurance_valid_from,
        insurance_valid_until: body.insurance_valid_until,
        national_number: body.national_number,
        gp_name: body.gp_name,
        clinical_summary: body.clinical_summary,
        address: body.address,
    }
    .normalise(country)?;
    let id = PatientId::new();
    let keys = state.practice_keys(tx, practice).await?;
    write(tx, &keys, practice, id, &data, true).await?;
    if let (Some(c), Some(at)) = (&body.sms_consent, consent_at) {
        set_consent(tx, id, c.method, at).await?;
    }
    Ok(id)
}

pub(super) fn consent_time(c: &ConsentInput) -> ApiResult<DateTime<Utc>> {
    let at = c.given_at.unwrap_or_else(Utc::now);
    if at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(ApiError::invalid_field(
            "sms_consent.given_at",
            "may not be in the future",
        ));
    }
    Ok(at)
}

pub(super) async fn set_consent(
    tx: &mut TenantTx,
    id: PatientId,
    method: ConsentMethod,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    sqlx::query(
        "update core.patient set sms_consent_at = $2, sms_consent_method = $3, sms_consent_withdrawn_at = null where patient_id = $1",
    )
    .bind(id.as_uuid())
    .bind(at)
    .bind(method.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
