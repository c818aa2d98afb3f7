//! Payers: who pays a patient's invoices instead of the patient — a parent, or an employer for
//! occupational care — with its own address and, for organisations, the enterprise number and
//! the Peppol participant id their e-invoices (UBL) go to. A payer is added once and named on
//! the invoices it pays; its address is encrypted like a patient's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::PayerId;
use domain::invoice::PayerKind;
use domain::people::PostalAddress;
use domain::practice::{Country, Permission};
use domain::text::Line;
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::crypto::{FieldRef, PracticeKeys};
use platform::db::TenantTx;
use platform::json::{ApiJson, ApiPath};
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_payers, create_payer))
        .routes(routes!(get_payer))
}

/// A new payer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "organisation", "name": "Arbeidsgeneeskundige Dienst NV", "address": {"street": "Kerkstraat", "number": "2", "postcode": "2000", "city": "Antwerpen", "country": "BE"}, "enterprise_number": "0202239951", "peppol_id": "0208:0202239951"}))]
pub struct NewPayer {
    /// A person or an organisation.
    pub kind: PayerKind,
    /// The person's or organisation's name.
    pub name: Line<200>,
    /// Postal address.
    pub address: PostalAddress,
    /// Organisations: the enterprise number (BE KBO/BCE with check digits, NL KvK).
    #[serde(default)]
    pub enterprise_number: Option<Line<14>>,
    /// Organisations: the VAT number.
    #[serde(default)]
    pub vat_number: Option<Line<16>>,
    /// Organisations: the Peppol participant id, `scheme:id` (e.g. `0208:0202239951`).
    #[serde(default)]
    #[schema(pattern = "^[0-9]{4}:[A-Za-z0-9.-]{1,50}$")]
    pub peppol_id: Option<Line<55>>,
}

/// A payer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payer {
    /// Id.
    pub payer_id: PayerId,
    /// A person or an organisation.
    pub kind: PayerKind,
    /// Name.
    pub name: String,
    /// Postal address.
    pub address: PostalAddress,
    /// Enterprise number.
    pub enterprise_number: Option<String>,
    /// VAT number.
    pub vat_number: Option<String>,
    /// Peppol participant id.
    pub peppol_id: Option<String>,
}

fn field(practice: domain::PracticeId, payer: PayerId) -> FieldRef {
    FieldRef {
        practice,
        table: "invoicing.payer",
        column: "address_enc",
        row: payer.as_uuid(),
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    payer_id: PayerId,
    kind: PayerKind,
    name: String,
    address_enc: Vec<u8>,
    enterprise_number: Option<String>,
    vat_number: Option<String>,
    peppol_id: Option<String>,
}

const COLUMNS: &str = "payer_id, kind, name, address_enc, enterprise_number, vat_number, peppol_id";

impl Row {
    fn view(self, keys: &PracticeKeys, practice: domain::PracticeId) -> ApiResult<Payer> {
        let json = keys.decrypt(field(practice, self.payer_id), &self.address_enc)?;
        let address = serde_json::from_slice(&json).map_err(ApiError::internal)?;
        Ok(Payer {
            payer_id: self.payer_id,
            kind: self.kind,
            name: self.name,
            address,
            enterprise_number: self.enterprise_number,
            vat_number: self.vat_number,
            peppol_id: self.peppol_id,
        })
    }
}

/// One payer of the transaction's practice, decrypted; `None` when unknown.
pub(crate) async fn load(
    tx: &mut TenantTx,
    keys: &PracticeKeys,
    practice: domain::PracticeId,
    id: PayerId,
) -> ApiResult<Option<Payer>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.payer where payer_id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| r.view(keys, practice)).transpose()
}

/// Adds a payer.
#[utoipa::path(post, path = "/v1/payers", tag = "invoicing", security(("session" = [])), request_body = NewPayer,
    responses((status = 201, body = Payer), (status = 422, body = platform::error::Problem)))]
pub async fn create_payer(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewPayer>,
) -> ApiResult<(StatusCode, Json<Payer>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let address = b
        .address
        .normalise()
        .map_err(|e| ApiError::invalid_field(format!("address.{}", e.field), e.problem))?;
    let organisation = b.kind == PayerKind::Organisation;
    if !organisation
        && (b.enterprise_number.is_some() || b.vat_number.is_some() || b.peppol_id.is_some())
    {
        return Err(ApiError::invalid_field(
            "kind",
            "only an organisation has an enterprise number, a VAT number or a Peppol id",
        ));
    }
    let country = Country::parse(&address.country);
    let enterprise = b
        .enterprise_number
        .as_ref()
        .map(|n| match country {
            Some(c) => domain::identifiers::parse_registration_number(c, n.as_str())
                .map_err(|e| ApiError::invalid_field("enterprise_number", e.to_string())),
            None => Err(ApiError::invalid_field(
                "enterprise_number",
                "enterprise numbers are checked for Belgian and Dutch addresses",
            )),
        })
        .transpose()?;
    let vat = b
        .vat_number
        .as_ref()
        .map(|v| match country {
            Some(c) => domain::identifiers::parse_vat_number(c, v.as_str())
                .map_err(|e| ApiError::invalid_field("vat_number", e.to_string())),
            None => Err(ApiError::invalid_field(
                "vat_number",
                "BE or NL VAT numbers only",
            )),
        })
        .transpose()?;
    let peppol = b.peppol_id.map(Line::into_inner);
    if let Some(p) = &peppol {
        let ok = p.split_once(':').is_some_and(|(scheme, id)| {
            scheme.len() == 4
                && scheme.bytes().all(|c| c.is_ascii_digit())
                && (1..=50).contains(&id.len())
                && id
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
        });
        if !ok {
            return Err(ApiError::invalid_field(
                "peppol_id",
                "scheme:id, e.g. 0208:0202239951",
            ));
        }
    }
    let id = PayerId::new();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let keys = state.practice_keys(&mut tx, staff.practice()).await?;
    let json = serde_json::to_vec(&address).map_err(ApiError::internal)?;
    let enc = keys.encrypt(field(staff.practice(), id), &json);
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into invoicing.payer (practice_id, payer_id, kind, name, address_enc, address_country, enterprise_number, vat_number, peppol_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning {COLUMNS}"
    )))
    .bind(staff.practice())
    .bind(id)
    .bind(b.kind)
    .bind(b.name.as_str())
    .bind(enc)
    .bind(&address.country)
    .bind(enterprise.as_deref())
    .bind(vat.as_deref())
    .bind(peppol.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    let ev = staff.audit("payer_created", Action::Create, None, "success");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    let view = row.view(&keys, staff.practice())?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Lists the practice's payers.
#[utoipa::path(get, path = "/v1/payers", tag = "invoicing", security(("session" = [])),
    responses((status = 200, body = Vec<Payer>)))]
pub async fn list_payers(
    State(state): State<AppState>,
    staff: Staff,
) -> ApiResult<Json<Vec<Payer>>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let keys = state.practice_keys(&mut tx, staff.practice()).await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.payer order by name, payer_id limit 1000"
    )))
    .fetch_all(&mut *tx)
    .await?;
    let ev = staff.audit("sensitive_read", Action::Read, None, "success");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    let out = rows
        .into_iter()
        .map(|r| r.view(&keys, staff.practice()))
        .collect::<ApiResult<Vec<_>>>()?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Reads a payer.
#[utoipa::path(get, path = "/v1/payers/{payer_id}", tag = "invoicing", security(("session" = [])),
    params(("payer_id" = PayerId, Path, description = "The payer")),
    responses((status = 200, body = Payer)))]
pub async fn get_payer(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<PayerId>,
) -> ApiResult<Json<Payer>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let keys = state.practice_keys(&mut tx, staff.practice()).await?;
    let payer = load(&mut tx, &keys, staff.practice(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("payer_not_found", "payer_id"))?;
    let ev = staff.audit("sensitive_read", Action::Read, None, "success");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(Json(payer))
}
