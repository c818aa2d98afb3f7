//! The aged-receivables report: what patients still owe on issued invoices, by how long it is
//! overdue on a day. Sums and counts only; no patient is named, so reading it reads no
//! personal data.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use domain::practice::Permission;
use platform::auth::Staff;
use platform::json::ApiQuery;
use platform::{ApiResult, ApiRouter, AppState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::place::practice_place;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(aged_receivables))
}

/// The day of the report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReceivablesQuery {
    /// The day (default today, where the practice is).
    pub as_of: Option<NaiveDate>,
}

/// One age bucket.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AgeBucket {
    /// `not_due`, `1-30`, `31-60`, `61-90` or `over_90` days past the due date.
    pub bucket: String,
    /// Open invoices in it.
    pub invoices: i64,
    /// What patients owe on them.
    #[schema(value_type = String, example = "162.60")]
    #[serde(serialize_with = "domain::money::serialize_cents")]
    pub balance: Decimal,
}

/// The report.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgedReceivables {
    /// The day.
    pub as_of: NaiveDate,
    /// Every bucket, youngest first (empty ones too).
    pub buckets: Vec<AgeBucket>,
    /// All open invoices.
    pub invoices: i64,
    /// All that patients owe.
    #[schema(value_type = String, example = "162.60")]
    #[serde(serialize_with = "domain::money::serialize_cents")]
    pub balance: Decimal,
}

const BUCKETS: [&str; 5] = ["not_due", "1-30", "31-60", "61-90", "over_90"];

/// What patients still owe on issued invoices, by days past due.
#[utoipa::path(get, path = "/v1/invoicing/aged-receivables", tag = "invoicing", security(("session" = [])), params(ReceivablesQuery),
    responses((status = 200, body = AgedReceivables)))]
pub async fn aged_receivables(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<ReceivablesQuery>,
) -> ApiResult<Json<AgedReceivables>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let as_of = match q.as_of {
        Some(d) => d,
        None => practice_place(&mut tx).await?.today(),
    };
    let rows: Vec<AgeBucket> = sqlx::query_as(
        "select case when due_date >= $1 then 'not_due'
                     when $1 - due_date <= 30 then '1-30'
                     when $1 - due_date <= 60 then '31-60'
                     when $1 - due_date <= 90 then '61-90'
                     else 'over_90' end as bucket,
                count(*) as invoices, sum(patient_total - credited_patient - paid) as balance
           from invoicing.invoice
          where kind = 'invoice' and status in ('issued', 'partially_paid') and issue_date <= $1
            and patient_total - credited_patient - paid > 0
          group by 1",
    )
    .bind(as_of)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let buckets: Vec<AgeBucket> = BUCKETS
        .iter()
        .map(|b| {
            rows.iter().find(|r| r.bucket == *b).map_or_else(
                || AgeBucket {
                    bucket: (*b).to_owned(),
                    invoices: 0,
                    balance: Decimal::ZERO,
                },
                |r| AgeBucket {
                    bucket: r.bucket.clone(),
                    invoices: r.invoices,
                    balance: r.balance,
                },
            )
        })
        .collect();
    Ok(Json(AgedReceivables {
        as_of,
        invoices: buckets.iter().map(|b| b.invoices).sum(),
        balance: buckets.iter().map(|b| b.balance).sum(),
        buckets,
    }))
}
