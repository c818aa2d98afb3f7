//! Payment links: `PUBLIC_URL/p/<token>`, 128 random bits, nothing else in the URL (no invoice
//! number, no name). Only the token's SHA-256 is stored; the link is shown once, to whoever
//! made it (staff, or the payment reminder that puts it in an SMS).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::invoice::InvoiceKind;
use domain::practice::Permission;
use domain::{InvoiceId, PaymentLinkId, PracticeId, StaffId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::json::ApiPath;
use platform::{ApiResult, AppState};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::InvoiceError;
use crate::invoices::store::{self, Row};

/// A link a patient pays through.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentLink {
    /// The link's id (the URL holds a token, not this id).
    pub link_id: PaymentLinkId,
    /// `PUBLIC_URL/p/<token>`: shown once; only a hash of the token is kept.
    pub url: String,
    /// Until when it can be opened.
    pub expires_at: DateTime<Utc>,
}

/// Who made a link.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// Billing staff, to hand over or send themselves.
    Staff(StaffId),
    /// A payment reminder by SMS.
    Reminder,
}

/// The routing reference of a token (its SHA-256, hex).
pub(crate) fn route_of(token: &str) -> String {
    format!("link:{}", hex::encode(platform::crypto::token_hash(token)))
}

/// Makes a link for an invoice the patient still owes on.
pub(crate) async fn create(
    tx: &mut TenantTx,
    state: &AppState,
    practice: PracticeId,
    invoice: &Row,
    origin: Origin,
) -> Result<PaymentLink, InvoiceError> {
    if invoice.kind == InvoiceKind::CreditNote {
        return Err(InvoiceError::CreditNote("paid"));
    }
    if !invoice.status.accepts_payment() || invoice.settlement().balance() <= Decimal::ZERO {
        return Err(InvoiceError::InvalidTransition {
            from: invoice.status,
            verb: "make a payment link for",
        });
    }
    let token = platform::crypto::short_token();
    let link_id = PaymentLinkId::new();
    let payments = &state.settings().payments;
    let lifetime = chrono::Duration::from_std(payments.link_lifetime).unwrap_or_default();
    let expires_at = Utc::now() + lifetime;
    let (kind, by) = match origin {
        Origin::Staff(s) => ("staff", Some(s)),
        Origin::Reminder => ("reminder", None),
    };
    sqlx::query(
        r#"with l as (
               insert into invoicing.payment_link (practice_id, link_id, invoice_id, token_sha256, origin, created_by, expires_at)
               values ($1, $2, $3, $4, $5, $6, $7))
           insert into invoicing.route (reference, practice_id) values ($8, $1)"#,
    )
    .bind(practice)
    .bind(link_id)
    .bind(invoice.invoice_id)
    .bind(platform::crypto::token_hash(&token))
    .bind(kind)
    .bind(by)
    .bind(expires_at)
    .bind(route_of(&token))
    .execute(&mut **tx)
    .await?;
    let base = state.settings().server.public_url.trim_end_matches('/');
    Ok(PaymentLink {
        link_id,
        url: format!("{base}/p/{token}"),
        expires_at,
    })
}

/// Makes a payment link for an issued invoice that is not paid yet, to give to the patient
/// (the SMS payment reminders make their own). The URL is in this answer only.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/payment-links", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice")),
    responses((status = 201, body = PaymentLink),
              (status = 409, description = "Nothing to pay (a draft, a credit note, paid, credited or written off)", body = platform::error::Problem)))]
pub async fn create_payment_link(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<(StatusCode, axum::Json<PaymentLink>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let invoice = store::load(&mut tx, id, true).await?;
    let link = create(
        &mut tx,
        &state,
        staff.practice(),
        &invoice,
        Origin::Staff(staff.staff_id()),
    )
    .await?;
    let ev = staff.audit(
        "payment_link_created",
        Action::Create,
        Some(invoice.patient_id),
        "success",
    );
    audit::record(&mut tx, staff.practice(), &ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(link)))
}
