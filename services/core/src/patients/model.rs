//! What the patient API reads and answers: inputs with their validation rules, and views.

use chrono::{DateTime, NaiveDate, Utc};
use domain::PatientId;
use domain::people::{ConsentMethod, PostalAddress, Sex};
use domain::practice::{Country, Language};
use platform::{ApiError, ApiResult};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

pub(super) const TABLE: &str = "core.patient";
pub(super) const NATIONAL_NUMBER_INDEX: &str = "core.patient.national_number";
pub(super) const MAX_TEXT: usize = 200;
pub(super) const MAX_CLINICAL: usize = 10_000;

/// A new patient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"family_name": "Peeters", "given_names": "An", "birth_date": "1985-04-12", "sex": "female", "mobile": "+32470123456", "preferred_language": "nl", "insurance_country": "BE", "mutuality_code": "100", "national_number": "85041212369", "sms_consent": {"method": "verbal"}}))]
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
    /// First day the insurance covers, when known.
    #[serde(default)]
    pub insurance_valid_from: Option<NaiveDate>,
    /// Last day the insurance covers, when known (not before the first).
    #[serde(default)]
    pub insurance_valid_until: Option<NaiveDate>,
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
    /// Postal address (for invoices); stored encrypted.
    #[serde(default)]
    pub address: Option<PostalAddress>,
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
    pub(super) fn apply_opt(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }

    pub(super) fn apply_required(self, current: T, field: &'static str) -> ApiResult<T> {
        match self {
            Patch::Keep => Ok(current),
            Patch::Clear => Err(ApiError::invalid_field(field, "may not be null")),
            Patch::Set(v) => Ok(v),
        }
    }

    pub(super) fn touches(&self) -> bool {
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
    /// First day the insurance covers; `null` removes it.
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub insurance_valid_from: Patch<NaiveDate>,
    /// Last day the insurance covers; `null` removes it.
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub insurance_valid_until: Patch<NaiveDate>,
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
    /// Postal address (replaced whole); `null` removes it.
    #[serde(default)]
    #[schema(value_type = Option<PostalAddress>)]
    pub address: Patch<PostalAddress>,
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
    /// First day the insurance covers.
    pub insurance_valid_from: Option<NaiveDate>,
    /// Last day the insurance covers.
    pub insurance_valid_until: Option<NaiveDate>,
    /// National number (INSZ/NISS or BSN).
    pub national_number: Option<String>,
    /// GP name.
    pub gp_name: Option<String>,
    /// Clinical summary; absent for roles without clinical access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinical_summary: Option<String>,
    /// Postal address.
    pub address: Option<PostalAddress>,
    /// Raised by every change; the `ETag` (send it as `If-Match` with a change).
    pub version: i32,
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
