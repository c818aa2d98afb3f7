//! Claim batches over HTTP, for billing staff: the ready lines of one insurer and period go
//! into a draft; generating writes its file (validated first, stored encrypted, under a file
//! number never used again); the file is downloaded or delivered, the batch marked sent, and
//! the insurer's return file answers it line by line. Every generation, download and return
//! file is an audit row naming the patients in the file.

pub(crate) mod change;
pub mod efact;
pub(crate) mod error;
pub(crate) mod fhir;
pub mod pm304;
pub(crate) mod store;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use domain::claims::{BatchState, ClaimFormat};
use domain::practice::Permission;
use domain::{ClaimBatchId, ClaimFileId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::json::{ApiJson, ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use self::error::BatchError;
use self::store::Row;

/// The largest return file taken (a 100,000-line PM305 is 37 MB).
pub const RETURN_FILE_MAX_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn router() -> ApiRouter {
    let returns = ApiRouter::new()
        .routes(routes!(upload_return_file))
        .layer(DefaultBodyLimit::max(RETURN_FILE_MAX_BYTES));
    ApiRouter::new()
        .routes(routes!(list_batches, create_batch))
        .routes(routes!(get_batch, discard_batch))
        .routes(routes!(generate_batch))
        .routes(routes!(mark_batch_sent))
        .routes(routes!(download_batch_file))
        .routes(routes!(export_batch_fhir))
        .merge(returns)
}

/// A file of a batch.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct BatchFile {
    /// The file.
    pub file_id: ClaimFileId,
    /// `out` (to the insurer) or `in` (its answer).
    pub direction: String,
    /// `pm304`, `pm305`, `efact`, …
    pub format: String,
    /// Its name.
    pub name: String,
    /// Size in bytes.
    pub byte_size: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A batch: lines of one insurer and period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Batch {
    /// The batch.
    pub batch_id: ClaimBatchId,
    /// `pm304` (NL) or `efact` (BE).
    #[schema(value_type = String)]
    pub format: ClaimFormat,
    /// UZOVI number or mutuality code.
    pub insurer: String,
    /// First service day.
    pub period_start: NaiveDate,
    /// Last service day.
    pub period_end: NaiveDate,
    /// `draft`, `generated`, `sent` or `answered`.
    #[schema(value_type = String)]
    pub state: BatchState,
    /// Once answered: `accepted`, `partly` or `rejected`.
    pub outcome: Option<String>,
    /// The file number (given at generation, never reused).
    pub file_number: Option<String>,
    /// Lines in the batch.
    pub line_count: i32,
    /// Claimed: debit minus credit.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "112.50")]
    pub total: Decimal,
    /// Granted, once answered.
    #[serde(serialize_with = "domain::money::serialize_cents_opt")]
    #[schema(value_type = Option<String>, example = "75.00")]
    pub granted: Option<Decimal>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// File written.
    pub generated_at: Option<DateTime<Utc>>,
    /// Sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// Answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// Its files, oldest first.
    pub files: Vec<BatchFile>,
}

fn view(r: Row, files: Vec<BatchFile>) -> Batch {
    Batch {
        batch_id: r.batch_id,
        format: r.format,
        insurer: r.insurer,
        period_start: r.period_start,
        period_end: r.period_end,
        state: r.state,
        outcome: r.outcome,
        file_number: r.file_number,
        line_count: r.line_count,
        total: r.total,
        granted: r.granted,
        created_at: r.created_at,
        generated_at: r.generated_at,
        sent_at: r.sent_at,
        answered_at: r.answered_at,
        files,
    }
}

async fn files_of(tx: &mut TenantTx, batch: ClaimBatchId) -> Result<Vec<BatchFile>, sqlx::Error> {
    sqlx::query_as(
        "select file_id, direction, format, name, byte_size, created_at from claims.claim_file
          where batch_id = $1 order by created_at, file_id",
    )
    .bind(batch)
    .fetch_all(&mut **tx)
    .await
}

async fn load(tx: &mut TenantTx, id: ClaimBatchId, lock: bool) -> Result<Row, BatchError> {
    store::load(tx, id, lock).await?.ok_or(BatchError::NotFound)
}

/// What a new batch takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"insurer": "3311", "period_start": "2026-11-01", "period_end": "2026-11-30"}))]
pub struct NewBatch {
    /// UZOVI number (NL, 4 digits) or mutuality code (BE, 3 digits).
    #[schema(pattern = "^[0-9]{3,4}$")]
    pub insurer: String,
    /// First service day.
    pub period_start: NaiveDate,
    /// Last service day (not before the first).
    pub period_end: NaiveDate,
}

/// Filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BatchFilter {
    /// Only batches in this state.
    #[param(value_type = Option<String>, pattern = "^(draft|generated|sent|answered)$")]
    pub state: Option<BatchState>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Lists batches, newest first.
#[utoipa::path(get, path = "/v1/claims/batches", tag = "claims", security(("session" = [])), params(BatchFilter),
    responses((status = 200, body = Vec<Batch>)))]
pub async fn list_batches(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(f): ApiQuery<BatchFilter>,
) -> ApiResult<Json<Vec<Batch>>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let limit = platform::json::page_limit(f.limit, 50, 500)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = store::list(&mut tx, f.state, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let files = files_of(&mut tx, r.batch_id).await?;
        out.push(view(r, files));
    }
    tx.commit().await?;
    Ok(Json(out))
}

/// Puts every ready line of the insurer with a service date in the period, not yet in a
/// batch, into a new draft batch.
#[utoipa::path(post, path = "/v1/claims/batches", tag = "claims", security(("session" = [])), request_body = NewBatch,
    responses((status = 201, body = Batch),
              (status = 422, description = "Not an insurer code of the practice's country, a period that ends before it starts, or no ready line of this insurer and period", body = platform::error::Problem)))]
pub async fn create_batch(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<NewBatch>,
) -> ApiResult<(StatusCode, Json<Batch>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    if b.period_end < b.period_start {
        return Err(ApiError::invalid_field(
            "period_end",
            "the period ends before it starts",
        ));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = change::create(
        &mut tx,
        staff.practice(),
        &b.insurer,
        (b.period_start, b.period_end),
        staff.staff_id(),
    )
    .await?;
    let ev = staff.audit("claim_batch_created", Action::Create, None, "success");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(row, Vec::new()))))
}

/// One batch with its files.
#[utoipa::path(get, path = "/v1/claims/batches/{batch_id}", tag = "claims", security(("session" = [])),
    params(("batch_id" = ClaimBatchId, Path, description = "The batch")),
    responses((status = 200, body = Batch), (status = 404, body = platform::error::Problem)))]
pub async fn get_batch(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimBatchId>,
) -> ApiResult<Json<Batch>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = load(&mut tx, id, false).await?;
    let files = files_of(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(view(row, files)))
}

/// Throws a draft batch away; its lines are ready again.
#[utoipa::path(delete, path = "/v1/claims/batches/{batch_id}", tag = "claims", security(("session" = [])),
    params(("batch_id" = ClaimBatchId, Path, description = "The batch")),
    responses((status = 204, description = "Thrown away"), (status = 404, body = platform::error::Problem),
              (status = 409, description = "Not a draft", body = platform::error::Problem)))]
pub async fn discard_batch(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimBatchId>,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = load(&mut tx, id, true).await?;
    change::discard(&mut tx, &row).await?;
    let ev = staff.audit("claim_batch_discarded", Action::Delete, None, "success");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Writes the draft's claim file: validated as the insurer would before anything is stored
/// (a file that fails is answered with its findings and never stored), encrypted at rest,
/// under a new file number.
#[utoipa::path(post, path = "/v1/claims/batches/{batch_id}/generate", tag = "claims", security(("session" = [])),
    params(("batch_id" = ClaimBatchId, Path, description = "The batch")),
    responses((status = 200, body = Batch), (status = 404, body = platform::error::Problem),
              (status = 409, description = "Not a draft (a sent batch is never generated again)", body = platform::error::Problem),
              (status = 422, description = "The file would fail the insurer's checks (`findings`: rule, record, field, retourcode)", body = platform::error::Problem)))]
pub async fn generate_batch(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimBatchId>,
) -> ApiResult<Json<Batch>> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = load(&mut tx, id, true).await?;
    let (row, _) =
        change::generate(&state, &mut tx, staff.practice(), &row, staff.staff_id()).await?;
    let patients = store::patients(&mut tx, id).await?;
    let ev = staff.audit("claim_file_generated", Action::Create, None, "success");
    audit::record_for_patients(&mut tx, staff.practice(), &ev, &patients).await?;
    let files = files_of(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(view(row, files)))
}

/// Marks a generated batch sent (the outbox does it when it delivers the file).
#[utoipa::path(post, path = "/v1/claims/batches/{batch_id}/sent", tag = "claims", security(("session" = [])),
    params(("batch_id" = ClaimBatchId, Path, description = "The batch")),
    responses((status = 200, body = Batch), (status = 404, body = platform::error::Problem),
              (status = 409, description = "Not generated", body = platform::error::Problem)))]
pub async fn mark_batch_sent(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimBatchId>,
) -> ApiResult<Json<Batch>> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = load(&mut tx, id, true).await?;
    let row = change::mark_sent(&mut tx, &row).await?;
    let ev = staff.audit("claim_batch_sent", Action::Update, None, "success");
    audit::record(&mut tx, staff.practice(), &ev).await?;
    let files = files_of(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(view(row, files)))
}

/// Which file of a batch to download.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileChoice {
    /// `fhir` for the FHIR export; by default the claim file (PM304 or eFact).
    #[param(pattern = "^(pm304|efact|fhir)$")]
    pub format: Option<String>,
}

/// Downloads the batch's claim file as generated, or its FHIR export (streamed; the download is
/// an audit row naming every patient in it).
#[utoipa::path(get, path = "/v1/claims/batches/{batch_id}/file", tag = "claims", security(("session" = [])),
    params(("batch_id" = ClaimBatchId, Path, description = "The batch"), FileChoice),
    responses((status = 200, description = "The claim file (fixed-width records, CR LF for PM304), or the FHIR bundle", content(
                  (Vec<u8> = "application/octet-stream"), (serde_json::Value = "application/fhir+json"))),
              (status = 404, body = platform::error::Problem),
              (status = 409, description = "No such file generated yet", body = platform::error::Problem)))]
pub async fn download_batch_file(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimBatchId>,
    ApiQuery(choice): ApiQuery<FileChoice>,
) -> ApiResult<Response> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let format = match choice.format.as_deref() {
        None => None,
        Some(f @ ("pm304" | "efact" | "fhir")) => Some(f.to_owned()),
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "format",
                "pm304, efact or fhir",
            ));
        }
    };
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = load(&mut tx, id, false).await?;
    let format = format.unwrap_or_else(|| row.format.as_str().to_owned());
    let file: Option<(uuid::Uuid, String, i64, i32)> = sqlx::query_as(
        "select file_id, name, byte_size, chunk_count from claims.claim_file
          where batch_id = $1 and direction = 'out' and format = $2 order by created_at desc limit 1",
    )
    .bind(id)
    .bind(&format)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((file_id, name, size, chunks)) = file else {
        return Err(BatchError::InvalidTransition {
            from: row.state,
            verb: "downloaded in this format",
        }
        .into());
    };
    let patients = store::patients(&mut tx, id).await?;
    let ev = staff.audit("claim_file_downloaded", Action::Read, None, "success");
    audit::record_for_patients(&mut tx, staff.practice(), &ev, &patients).await?;
    tx.commit().await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if format == "fhir" {
            "application/fhir+json"
        } else {
            "application/octet-stream"
        }),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body: Body = crate::files::body(state.clone(), staff.practice(), file_id, chunks);
    Ok((headers, body).into_response())
}

/// Exports the batch (in any state) as an HL7 FHIR R4 Bundle of Claim resources with their
/// Patient, Coverage and Organization entries, stored encrypted beside the claim file and
/// downloaded with `GET …/file?format=fhir`.
#[utoipa::path(post, path = "/v1/claims/batches/{batch_id}/fhir", tag = "claims", security(("session" = [])),
    params(("batch_id" = ClaimBatchId, Path, description = "The batch")),
    responses((status = 201, body = Batch), (status = 404, body = platform::error::Problem)))]
pub async fn export_batch_fhir(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<ClaimBatchId>,
) -> ApiResult<(StatusCode, Json<Batch>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = load(&mut tx, id, true).await?;
    change::export_fhir(&state, &mut tx, staff.practice(), &row, staff.staff_id()).await?;
    let patients = store::patients(&mut tx, id).await?;
    let ev = staff.audit("claim_fhir_exported", Action::Create, None, "success");
    audit::record_for_patients(&mut tx, staff.practice(), &ev, &patients).await?;
    let files = files_of(&mut tx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(row, files))))
}

/// An answer file as sent: printable ASCII records (PM305: each ended by CR LF).
#[derive(ToSchema)]
#[schema(value_type = String, pattern = r"^[ -~\r\n]*$")]
pub struct ReturnFileText(#[allow(dead_code)] String);

/// What a return file did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnApplied {
    /// The batch it answered.
    pub batch: Batch,
    /// Lines accepted.
    pub accepted: usize,
    /// Lines rejected (now listed with `state=rejected`, their retourcodes in `return_codes`).
    pub rejected: usize,
}

/// Reads an insurer's answer to a sent batch (`text/plain` or `application/octet-stream`, at
/// most 64 MiB): a Vektis PM305 return file (NL), or a mutuality's eFact answer (BE: `931000`
/// acknowledgement, `920999` refusal, `920098`/`920099`/`920900` errors in detail). The batch
/// whose file number it names is answered, each line accepted or rejected with the insurer's
/// codes and granted amount. A file that breaks its standard or answers no sent batch of this
/// practice is refused and nothing is written.
#[utoipa::path(post, path = "/v1/claims/return-files", tag = "claims", security(("session" = [])),
    request_body(content = ReturnFileText, content_type = "text/plain", description = "A Vektis PM305 v3.2 return file (370-byte records, CR LF) or an eFact answer (931000, 920999, 920098, 920099, 920900), at most 64 MiB"),
    responses((status = 200, body = ReturnApplied),
              (status = 409, description = "The batch it answers is not sent, or already answered", body = platform::error::Problem),
              (status = 415, description = "Not text/plain or application/octet-stream", body = platform::error::Problem),
              (status = 422, description = "The file breaks the standard (`findings`) or answers no sent batch of this practice", body = platform::error::Problem)))]
pub async fn upload_return_file(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ReturnApplied>> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let plain = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.split(';').next().unwrap_or_default().trim();
            v.eq_ignore_ascii_case("text/plain")
                || v.eq_ignore_ascii_case("application/octet-stream")
        });
    if !plain {
        return Err(ApiError::unsupported_media_type());
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    let (row, answered) = change::apply_return(
        &state,
        &mut tx,
        staff.practice(),
        &body,
        Some(staff.staff_id()),
    )
    .await?;
    let patients = store::patients(&mut tx, row.batch_id).await?;
    let ev = staff.audit("claim_return_file_read", Action::Update, None, "success");
    audit::record_for_patients(&mut tx, staff.practice(), &ev, &patients).await?;
    let files = files_of(&mut tx, row.batch_id).await?;
    tx.commit().await?;
    Ok(Json(ReturnApplied {
        accepted: answered.accepted,
        rejected: answered.rejected,
        batch: view(row, files),
    }))
}
