//! Patients: identity, contact, SMS consent, insurance and a clinical summary.
//!
//! National numbers and clinical text are encrypted with the practice data key, bound to
//! practice, table, column and row; national numbers also get a blind index for exact search.
//! Every read, create and update writes an audit row per patient, in the same transaction.
//! Roles without clinical access neither see nor write the clinical summary.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use domain::identifiers::{
    MobileNumber, NationalNumber, parse_email, parse_mutuality_code, parse_uzovi,
};
use domain::people::{ConsentMethod, Sex};
use domain::practice::{Country, Language, Permission};
use domain::{PatientId, PracticeId};
use platform::audit::{self, Action};
use platform::auth::{Reader, Staff};
use platform::crypto::{FieldRef, PracticeKeys};
use platform::db::TenantTx;
use platform::json::{ApiJson, ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, AppState};
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/patients", get(list_patients).post(create_patient))
        .route("/v1/patients/search", post(search_patients))
        .route(
            "/v1/patients/{patient_id}",
            get(get_patient).patch(update_patient),
        )
        .route(
            "/v1/patients/{patient_id}/sms-consent",
            post(give_sms_consent).delete(withdraw_sms_consent),
        )
        .route(
            "/v1/patients/{patient_id}/processing-restriction",
            post(restrict_processing).delete(lift_restriction),
        )
}

const TABLE: &str = "core.patient";
const NATIONAL_NUMBER_INDEX: &str = "core.patient.national_number";
const MAX_TEXT: usize = 200;
const MAX_CLINICAL: usize = 10_000;

/// A new patient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPatient {
    /// Family name.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub family_name: String,
    /// Given names.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub given_names: String,
    /// Birth date, YYYY-MM-DD.
    pub birth_date: NaiveDate,
    /// Administrative sex.
    pub sex: Sex,
    /// Mobile number, national or international form; stored as E.164.
    #[serde(default)]
    #[schema(max_length = 40, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub mobile: Option<String>,
    /// E-mail address.
    #[serde(default)]
    #[schema(max_length = 254, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub email: Option<String>,
    /// Language for messages; the practice default when absent.
    #[serde(default)]
    pub preferred_language: Option<Language>,
    /// Country of the insurance (BE or NL); decides which national number applies.
    #[serde(default)]
    pub insurance_country: Option<Country>,
    /// BE: mutuality code (3 digits).
    #[serde(default)]
    #[schema(max_length = 10, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub mutuality_code: Option<String>,
    /// NL: UZOVI code of the insurer (4 digits).
    #[serde(default)]
    #[schema(max_length = 10, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub uzovi: Option<String>,
    /// Insurance policy (member) number.
    #[serde(default)]
    #[schema(max_length = 40, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub policy_number: Option<String>,
    /// BE INSZ/NISS or NL BSN, after the insurance country (or the practice's).
    #[serde(default)]
    #[schema(max_length = 40, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub national_number: Option<String>,
    /// The patient's GP.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub gp_name: Option<String>,
    /// Clinical summary (e.g. pathology); practitioners and admins only.
    #[serde(default)]
    #[schema(max_length = 10000, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    pub clinical_summary: Option<String>,
    /// SMS consent given at intake.
    #[serde(default)]
    pub sms_consent: Option<ConsentInput>,
}

/// Recording SMS consent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// How it was given.
    pub method: ConsentMethod,
    /// When; now when absent. Not in the future.
    #[serde(default)]
    pub given_at: Option<DateTime<Utc>>,
}

/// Absent: keep; `null`: clear; a value: set.
#[derive(Debug, Default)]
pub enum Patch<T> {
    /// Not in the body.
    #[default]
    Keep,
    /// `null`.
    Clear,
    /// A new value.
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(|o| o.map_or(Patch::Clear, Patch::Set))
    }
}

impl<T> Patch<T> {
    fn apply_opt(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }

    fn apply_required(self, current: T, field: &'static str) -> ApiResult<T> {
        match self {
            Patch::Keep => Ok(current),
            Patch::Clear => Err(ApiError::invalid_field(field, "may not be null")),
            Patch::Set(v) => Ok(v),
        }
    }

    fn touches(&self) -> bool {
        !matches!(self, Patch::Keep)
    }
}

/// Changes to a patient: absent fields stay, `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientPatch {
    /// Family name.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub family_name: Patch<String>,
    /// Given names.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub given_names: Patch<String>,
    /// Birth date.
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub birth_date: Patch<NaiveDate>,
    /// Administrative sex.
    #[serde(default)]
    #[schema(value_type = Option<Sex>)]
    pub sex: Patch<Sex>,
    /// Mobile number.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 40, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub mobile: Patch<String>,
    /// E-mail address.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 254, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub email: Patch<String>,
    /// Language for messages.
    #[serde(default)]
    #[schema(value_type = Option<Language>)]
    pub preferred_language: Patch<Language>,
    /// Insurance country.
    #[serde(default)]
    #[schema(value_type = Option<Country>)]
    pub insurance_country: Patch<Country>,
    /// BE mutuality code.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub mutuality_code: Patch<String>,
    /// NL UZOVI code.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub uzovi: Patch<String>,
    /// Policy number.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 40, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub policy_number: Patch<String>,
    /// National number.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 40, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub national_number: Patch<String>,
    /// GP name.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub gp_name: Patch<String>,
    /// Clinical summary; practitioners and admins only.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    pub clinical_summary: Patch<String>,
}

/// SMS consent as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsConsent {
    /// When it was given.
    pub given_at: DateTime<Utc>,
    /// How.
    pub method: ConsentMethod,
    /// When it was withdrawn, if it was.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// A patient.
#[derive(Debug, Serialize, ToSchema)]
pub struct Patient {
    /// The patient.
    pub patient_id: PatientId,
    /// Family name.
    pub family_name: String,
    /// Given names.
    pub given_names: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Administrative sex.
    pub sex: Sex,
    /// Mobile number (E.164).
    pub mobile: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Language for messages.
    pub preferred_language: Language,
    /// SMS consent, if ever given.
    pub sms_consent: Option<SmsConsent>,
    /// Insurance country.
    pub insurance_country: Option<Country>,
    /// BE mutuality code.
    pub mutuality_code: Option<String>,
    /// NL UZOVI code.
    pub uzovi: Option<String>,
    /// Policy number.
    pub policy_number: Option<String>,
    /// National number (INSZ/NISS or BSN).
    pub national_number: Option<String>,
    /// GP name.
    pub gp_name: Option<String>,
    /// Clinical summary; absent for roles without clinical access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinical_summary: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A patient in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientSummary {
    /// The patient.
    pub patient_id: PatientId,
    /// Family name.
    pub family_name: String,
    /// Given names.
    pub given_names: String,
    /// Birth date.
    pub birth_date: NaiveDate,
}

/// A page of patients.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientPage {
    /// The patients, oldest first.
    pub items: Vec<PatientSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<PatientId>,
}

/// Plain, validated patient fields.
#[derive(Debug, Clone)]
struct PatientData {
    family_name: String,
    given_names: String,
    birth_date: NaiveDate,
    sex: Sex,
    mobile: Option<String>,
    email: Option<String>,
    preferred_language: Language,
    insurance_country: Option<Country>,
    mutuality_code: Option<String>,
    uzovi: Option<String>,
    policy_number: Option<String>,
    national_number: Option<String>,
    gp_name: Option<String>,
    clinical_summary: Option<String>,
}

fn opt_line(field: &'static str, v: Option<String>, max: usize) -> ApiResult<Option<String>> {
    platform::json::optional_line(field, v.as_deref(), max)
}

impl PatientData {
    /// Trims, checks and normalises every field.
    fn normalise(self, practice_country: Country) -> ApiResult<Self> {
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
            national_number,
            gp_name: opt_line("gp_name", self.gp_name, MAX_TEXT)?,
            clinical_summary: platform::json::optional_text(
                "clinical_summary",
                self.clinical_summary.as_deref(),
                MAX_CLINICAL,
            )?,
        })
    }
}

fn field(practice: PracticeId, column: &'static str, patient: PatientId) -> FieldRef {
    FieldRef {
        practice,
        table: TABLE,
        column,
        row: patient.as_uuid(),
    }
}

async fn practice_defaults(tx: &mut TenantTx) -> ApiResult<(Country, Language)> {
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
async fn write(
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
    let sql = if insert {
        r#"insert into core.patient (practice_id, patient_id, family_name, given_names, birth_date, sex, mobile_e164, email,
               preferred_language, insurance_country, mutuality_code, uzovi, policy_number, national_number_enc,
               national_number_bidx, gp_name, clinical_summary_enc)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"#
    } else {
        r#"update core.patient set family_name = $3, given_names = $4, birth_date = $5, sex = $6, mobile_e164 = $7,
               email = $8, preferred_language = $9, insurance_country = $10, mutuality_code = $11, uzovi = $12,
               policy_number = $13, national_number_enc = $14, national_number_bidx = $15, gp_name = $16,
               clinical_summary_enc = $17
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
        .execute(&mut **tx)
        .await?;
    Ok(())
}

const COLUMNS: &str = "patient_id, family_name, given_names, birth_date, sex, mobile_e164, email, preferred_language, \
     sms_consent_at, sms_consent_method, sms_consent_withdrawn_at, insurance_country, mutuality_code, uzovi, policy_number, \
     national_number_enc, gp_name, clinical_summary_enc, created_at, updated_at";

fn internal(what: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!("invalid {what} in database"))
}

fn decode(
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
        national_number,
        gp_name: row.try_get("gp_name")?,
        clinical_summary,
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
        national_number: data.national_number.clone(),
        gp_name: data.gp_name.clone(),
        clinical_summary: data.clinical_summary.clone(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    };
    Ok((patient, data))
}

/// Loads one patient (locked for update when asked) or answers 404.
async fn load(
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
async fn require_clinical(state: &AppState, staff: &Staff) -> ApiResult<()> {
    staff
        .require(state, Permission::ClinicalText)
        .await
        .map_err(|e| e.with_field("clinical_summary"))
}

fn redact(mut p: Patient, can: impl Fn(Permission) -> bool) -> Patient {
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
        national_number: body.national_number,
        gp_name: body.gp_name,
        clinical_summary: body.clinical_summary,
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

/// Creates a patient.
#[utoipa::path(post, path = "/v1/patients", tag = "patients", security(("session" = [])), request_body = NewPatient,
    responses((status = 201, body = Patient), (status = 400, body = platform::error::Problem),
              (status = 403, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn create_patient(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<NewPatient>,
) -> ApiResult<(StatusCode, Json<Patient>)> {
    staff.require(&state, Permission::PatientWrite).await?;
    if body.clinical_summary.is_some() {
        require_clinical(&state, &staff).await?;
    }
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let id = insert(&mut tx, &state, practice, body).await?;
    audit::record(
        &mut tx,
        practice,
        &staff.audit("sensitive_create", Action::Create, Some(id), "success"),
    )
    .await?;
    let (patient, _) = load(&mut tx, &state, practice, id.as_uuid(), false).await?;
    tx.commit().await?;
    tracing::info!(practice.id = %practice, patient.id = %id, "patient created");
    Ok((StatusCode::CREATED, Json(redact(patient, |p| staff.can(p)))))
}

/// Reads a patient.
#[utoipa::path(get, path = "/v1/patients/{patient_id}", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 200, body = Patient), (status = 404, body = platform::error::Problem)))]
pub async fn get_patient(
    State(state): State<AppState>,
    staff: Reader,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Patient>> {
    staff.require(&state, Permission::PatientRead).await?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    audit::record(
        &mut tx,
        practice,
        &staff.audit(
            "sensitive_read",
            Action::Read,
            Some(patient.patient_id),
            "success",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(redact(patient, |p| staff.can(p))))
}

/// Changes a patient: absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/patients/{patient_id}", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)), request_body = PatientPatch,
    responses((status = 200, body = Patient), (status = 404, body = platform::error::Problem), (status = 422, body = platform::error::Problem)))]
pub async fn update_patient(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(p): ApiJson<PatientPatch>,
) -> ApiResult<Json<Patient>> {
    staff.require(&state, Permission::PatientWrite).await?;
    if p.clinical_summary.touches() {
        require_clinical(&state, &staff).await?;
    }
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let (country, _) = practice_defaults(&mut tx).await?;
    let (_, cur) = load(&mut tx, &state, practice, id, true).await?;
    let data = PatientData {
        family_name: p
            .family_name
            .apply_required(cur.family_name, "family_name")?,
        given_names: p
            .given_names
            .apply_required(cur.given_names, "given_names")?,
        birth_date: p.birth_date.apply_required(cur.birth_date, "birth_date")?,
        sex: p.sex.apply_required(cur.sex, "sex")?,
        mobile: p.mobile.apply_opt(cur.mobile),
        email: p.email.apply_opt(cur.email),
        preferred_language: p
            .preferred_language
            .apply_required(cur.preferred_language, "preferred_language")?,
        insurance_country: p.insurance_country.apply_opt(cur.insurance_country),
        mutuality_code: p.mutuality_code.apply_opt(cur.mutuality_code),
        uzovi: p.uzovi.apply_opt(cur.uzovi),
        policy_number: p.policy_number.apply_opt(cur.policy_number),
        national_number: p.national_number.apply_opt(cur.national_number),
        gp_name: p.gp_name.apply_opt(cur.gp_name),
        clinical_summary: p.clinical_summary.apply_opt(cur.clinical_summary),
    }
    .normalise(country)?;
    let pid = PatientId::from_uuid(id);
    let keys = state.practice_keys(&mut tx, practice).await?;
    write(&mut tx, &keys, practice, pid, &data, false).await?;
    audit::record(
        &mut tx,
        practice,
        &staff.audit("sensitive_update", Action::Update, Some(pid), "success"),
    )
    .await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    tx.commit().await?;
    Ok(Json(redact(patient, |p| staff.can(p))))
}

/// Paging parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<Uuid>,
}

fn page_limit(limit: Option<i64>) -> ApiResult<i64> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=200) => Ok(n),
        Some(_) => Err(ApiError::invalid_parameter(
            "limit",
            "must be between 1 and 200",
        )),
    }
}

async fn page(
    tx: &mut TenantTx,
    staff: &Reader,
    reason: &'static str,
    limit: i64,
    rows: Vec<(Uuid, String, String, NaiveDate)>,
) -> ApiResult<PatientPage> {
    let has_more = rows.len() as i64 > limit;
    let items: Vec<PatientSummary> = rows
        .into_iter()
        .take(limit as usize)
        .map(
            |(id, family_name, given_names, birth_date)| PatientSummary {
                patient_id: PatientId::from_uuid(id),
                family_name,
                given_names,
                birth_date,
            },
        )
        .collect();
    let shown: Vec<Option<PatientId>> = items.iter().map(|p| Some(p.patient_id)).collect();
    let mut ev = staff.audit("sensitive_read", Action::Read, None, "success");
    ev.reason = Some(reason);
    audit::record_for_patients(tx, staff.practice(), &ev, &shown).await?;
    let next_cursor = if has_more {
        items.last().map(|p| p.patient_id)
    } else {
        None
    };
    Ok(PatientPage { items, next_cursor })
}

/// Lists patients, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/patients", tag = "patients", security(("session" = [])), params(PageQuery),
    responses((status = 200, body = PatientPage), (status = 400, body = platform::error::Problem)))]
pub async fn list_patients(
    State(state): State<AppState>,
    staff: Reader,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<PatientPage>> {
    staff.require(&state, Permission::PatientRead).await?;
    let limit = page_limit(q.limit)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = sqlx::query_as(
        r#"select patient_id, family_name, given_names, birth_date from core.patient
            where ($1::uuid is null or patient_id > $1) order by patient_id limit $2"#,
    )
    .bind(q.cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let out = page(&mut tx, &staff, "list", limit, rows).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Search criteria; at least one. Sent in the body so that national numbers never appear in
/// URLs or access logs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientSearch {
    /// Family name prefix, any case.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Exact birth date.
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    /// Exact national number (INSZ/NISS or BSN).
    #[serde(default)]
    pub national_number: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<Uuid>,
}

/// Finds patients by family name prefix, birth date or national number.
#[utoipa::path(post, path = "/v1/patients/search", tag = "patients", security(("session" = [])), request_body = PatientSearch,
    responses((status = 200, body = PatientPage), (status = 422, body = platform::error::Problem)))]
pub async fn search_patients(
    State(state): State<AppState>,
    staff: Reader,
    ApiJson(q): ApiJson<PatientSearch>,
) -> ApiResult<Json<PatientPage>> {
    staff.require(&state, Permission::PatientRead).await?;
    let limit = page_limit(q.limit).map_err(|e| e.with_field("limit"))?;
    let name = opt_line("family_name", q.family_name, MAX_TEXT)?;
    if name.is_none() && q.birth_date.is_none() && q.national_number.is_none() {
        return Err(ApiError::invalid_field(
            "family_name",
            "give family_name, birth_date or national_number",
        ));
    }
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    let bidx = match q.national_number {
        Some(n) => {
            // Either scheme: a BE practice may treat a patient with Dutch insurance.
            let digits = NationalNumber::parse(Country::BE, &n)
                .or_else(|_| NationalNumber::parse(Country::NL, &n))
                .map_err(|_| {
                    ApiError::invalid_field("national_number", "not a valid INSZ/NISS or BSN")
                })?;
            let keys = state.practice_keys(&mut tx, practice).await?;
            Some(keys.blind_index(NATIONAL_NUMBER_INDEX, digits.digits()))
        }
        None => None,
    };
    let pattern = name.map(|n| {
        format!(
            "{}%",
            n.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = sqlx::query_as(
        r#"select patient_id, family_name, given_names, birth_date from core.patient
            where ($1::text is null or lower(family_name) like $1)
              and ($2::date is null or birth_date = $2)
              and ($3::bytea is null or national_number_bidx = $3)
              and ($4::uuid is null or patient_id > $4)
            order by patient_id limit $5"#,
    )
    .bind(pattern)
    .bind(q.birth_date)
    .bind(bidx)
    .bind(q.cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let out = page(&mut tx, &staff, "search", limit, rows).await?;
    tx.commit().await?;
    Ok(Json(out))
}

fn consent_time(c: &ConsentInput) -> ApiResult<DateTime<Utc>> {
    let at = c.given_at.unwrap_or_else(Utc::now);
    if at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(ApiError::invalid_field(
            "sms_consent.given_at",
            "may not be in the future",
        ));
    }
    Ok(at)
}

async fn set_consent(
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

/// Records the patient's consent to SMS messages.
#[utoipa::path(post, path = "/v1/patients/{patient_id}/sms-consent", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)), request_body = ConsentInput,
    responses((status = 200, body = Patient), (status = 404, body = platform::error::Problem)))]
pub async fn give_sms_consent(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ConsentInput>,
) -> ApiResult<Json<Patient>> {
    staff.require(&state, Permission::PatientWrite).await?;
    let at = consent_time(&body)?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    load(&mut tx, &state, practice, id, true).await?;
    let pid = PatientId::from_uuid(id);
    set_consent(&mut tx, pid, body.method, at).await?;
    let mut ev = staff.audit("sensitive_update", Action::Update, Some(pid), "success");
    ev.reason = Some("sms_consent_given");
    audit::record(&mut tx, practice, &ev).await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    tx.commit().await?;
    Ok(Json(redact(patient, |p| staff.can(p))))
}

/// Records that the patient withdrew SMS consent; no SMS goes out from then on.
#[utoipa::path(delete, path = "/v1/patients/{patient_id}/sms-consent", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 200, body = Patient), (status = 404, body = platform::error::Problem)))]
pub async fn withdraw_sms_consent(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Patient>> {
    staff.require(&state, Permission::PatientWrite).await?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    load(&mut tx, &state, practice, id, true).await?;
    sqlx::query("update core.patient set sms_consent_withdrawn_at = now() where patient_id = $1 and sms_consent_withdrawn_at is null")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let pid = PatientId::from_uuid(id);
    let mut ev = staff.audit("sensitive_update", Action::Update, Some(pid), "success");
    ev.reason = Some("sms_consent_withdrawn");
    audit::record(&mut tx, practice, &ev).await?;
    let (patient, _) = load(&mut tx, &state, practice, id, false).await?;
    tx.commit().await?;
    Ok(Json(redact(patient, |p| staff.can(p))))
}

/// Restricts processing of the patient's data (GDPR art. 18): no message goes to the patient
/// while the restriction lasts. Privacy managers (practice admins) only.
#[utoipa::path(post, path = "/v1/patients/{patient_id}/processing-restriction", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = platform::error::Problem), (status = 404, body = platform::error::Problem)))]
pub async fn restrict_processing(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::http::StatusCode> {
    set_restriction(&state, &staff, id, true).await
}

/// Lifts a restriction of processing.
#[utoipa::path(delete, path = "/v1/patients/{patient_id}/processing-restriction", tag = "patients", security(("session" = [])),
    params(("patient_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = platform::error::Problem), (status = 404, body = platform::error::Problem)))]
pub async fn lift_restriction(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::http::StatusCode> {
    set_restriction(&state, &staff, id, false).await
}

async fn set_restriction(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
    restricted: bool,
) -> ApiResult<axum::http::StatusCode> {
    staff.require(state, Permission::PrivacyManage).await?;
    let practice = staff.practice();
    let mut tx = state.db().tenant(practice).await?;
    load(&mut tx, state, practice, id, true).await?;
    sqlx::query(
        "update core.patient set processing_restricted_at = case when $2 then coalesce(processing_restricted_at, now()) end where patient_id = $1",
    )
    .bind(id)
    .bind(restricted)
    .execute(&mut *tx)
    .await?;
    let mut ev = staff.audit(
        "sensitive_update",
        Action::Update,
        Some(PatientId::from_uuid(id)),
        "success",
    );
    ev.reason = Some(if restricted {
        "processing_restricted"
    } else {
        "processing_restriction_lifted"
    });
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
