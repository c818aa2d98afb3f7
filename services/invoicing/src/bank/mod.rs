//! Bank statement import: billing staff upload a CAMT.053 statement; every credit whose
//! remittance names one of our invoices — the Belgian structured communication
//! (`+++123/4567/89012+++`, mod-97 checked; in `Strd/CdtrRefInf/Ref` or typed in the free
//! text) or the invoice number (the Dutch payment reference) — is recorded as a bank-transfer
//! payment of that invoice; the answer lists what matched and what did not, with why.
//!
//! All or nothing: a file that does not read is refused (400/422) and nothing is written; an
//! entry already recorded by an earlier import is reported, not recorded again. Nothing of the
//! payer (name, account, free text) is stored or answered.

pub mod camt;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::NaiveDate;
use domain::invoice::PaymentMethod;
use domain::payment_reference::StructuredCommunication;
use domain::practice::Permission;
use domain::{InvoiceId, PaymentId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::invoices::change;
use crate::invoices::store::{self, NewPayment};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(import_bank_statement))
}

/// A credit recorded as a payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchedEntry {
    /// The entry's place in the statement (1 = first).
    pub index: usize,
    /// The invoice it paid.
    pub invoice_id: InvoiceId,
    /// The payment recorded.
    pub payment_id: PaymentId,
    /// The amount.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "8.13")]
    pub amount: Decimal,
}

/// An entry not recorded, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnmatchedEntry {
    /// The entry's place in the statement (1 = first).
    pub index: usize,
    /// The amount.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "25.00")]
    pub amount: Decimal,
    /// The booking date.
    pub booked_on: Option<NaiveDate>,
    /// The structured communication found, if any (printed form).
    pub reference: Option<String>,
    /// `debit` (money out), `reversal`, `currency` (not EUR), `no_reference` (none found),
    /// `unknown_reference` (no invoice of ours), `ambiguous` (several invoices),
    /// `invoice_closed` (paid, credited or written off: money to return or to look at), or
    /// `already_imported`.
    pub reason: &'static str,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementImport {
    /// Entries read.
    pub entries: usize,
    /// Credits recorded as payments.
    pub matched: Vec<MatchedEntry>,
    /// Entries not recorded.
    pub unmatched: Vec<UnmatchedEntry>,
}

/// The references a credit's remittance names: structured communications (12 digits) and
/// tokens that may be invoice numbers.
fn references(e: &camt::Entry) -> (Vec<String>, Vec<String>) {
    let mut ogm = Vec::new();
    for s in &e.structured {
        if let Ok(c) = StructuredCommunication::parse(s) {
            ogm.push(c.digits());
        }
    }
    let mut numbers = Vec::new();
    for line in &e.unstructured {
        // +++123/4567/89012+++, ***…***, or the twelve digits with or without separators.
        let squeezed: String = line
            .chars()
            .filter(|c| !matches!(c, '+' | '*' | '/' | ' '))
            .collect();
        for run in squeezed.split(|c: char| !c.is_ascii_digit()) {
            if run.len() == 12
                && let Ok(c) = StructuredCommunication::parse(run)
            {
                ogm.push(c.digits());
            }
        }
        for token in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if (6..=24).contains(&token.len())
                && token.contains('-')
                && token.bytes().any(|b| b.is_ascii_digit())
            {
                numbers.push(token.to_ascii_uppercase());
            }
        }
    }
    ogm.sort();
    ogm.dedup();
    numbers.sort();
    numbers.dedup();
    (ogm, numbers)
}

fn unmatched(e: &camt::Entry, reference: Option<String>, reason: &'static str) -> UnmatchedEntry {
    UnmatchedEntry {
        index: e.index,
        amount: e.amount,
        booked_on: e.booked_on,
        reference: reference.and_then(|r| {
            StructuredCommunication::parse(&r)
                .ok()
                .map(|c| c.to_string())
        }),
        reason,
    }
}

/// Imports a CAMT.053 bank statement (`application/xml`): credits that name an invoice are
/// recorded as bank-transfer payments; the answer lists what matched and what did not.
/// Importing the same statement again records nothing twice.
#[utoipa::path(post, path = "/v1/invoicing/bank-statements", tag = "invoicing", security(("session" = [])),
    request_body(content = String, content_type = "application/xml", description = "An ISO 20022 CAMT.053 statement (BkToCstmrStmt)"),
    responses((status = 200, body = StatementImport),
              (status = 400, description = "Not well-formed XML", body = platform::error::Problem),
              (status = 415, description = "Not application/xml", body = platform::error::Problem),
              (status = 422, description = "Not a CAMT.053 statement, or an entry that does not read", body = platform::error::Problem)))]
pub async fn import_bank_statement(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    body: String,
) -> ApiResult<(StatusCode, Json<StatementImport>)> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let xml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.split(';').next().unwrap_or_default().trim();
            v.eq_ignore_ascii_case("application/xml") || v.eq_ignore_ascii_case("text/xml")
        });
    if !xml {
        return Err(ApiError::unsupported_media_type());
    }
    let statement = camt::parse(&body).map_err(|e| match e {
        camt::CamtError::NotXml => ApiError::invalid_body(None, e.to_string()),
        camt::CamtError::NotCamt053 => ApiError::invalid_field("body", e.to_string()),
        camt::CamtError::Invalid(element) => {
            ApiError::invalid_field(format!("body.{element}"), e.to_string())
        }
    })?;
    let master = &state.settings().security.master_key;
    let account = statement.account.clone().unwrap_or_default();
    let mut tx = state.db().tenant(staff.practice()).await?;
    let today = change::practice_place(&mut tx).await?.today();
    let mut report = StatementImport {
        entries: statement.entries.len(),
        matched: Vec::new(),
        unmatched: Vec::new(),
    };
    for e in &statement.entries {
        if !e.credit {
            report.unmatched.push(unmatched(e, None, "debit"));
            continue;
        }
        if e.reversal {
            report.unmatched.push(unmatched(e, None, "reversal"));
            continue;
        }
        if e.currency != "EUR" || e.amount <= Decimal::ZERO || e.amount.scale() > 2 {
            report.unmatched.push(unmatched(e, None, "currency"));
            continue;
        }
        let (ogm, numbers) = references(e);
        let first = ogm.first().cloned();
        if ogm.is_empty() && numbers.is_empty() {
            report.unmatched.push(unmatched(e, None, "no_reference"));
            continue;
        }
        let found: Vec<InvoiceId> = sqlx::query_scalar(
            "select invoice_id from invoicing.invoice
              where kind = 'invoice' and status <> 'draft'
                and (payment_reference = any($1) or upper(number) = any($2))",
        )
        .bind(&ogm)
        .bind(&numbers)
        .fetch_all(&mut *tx)
        .await?;
        let id = match found.as_slice() {
            [] => {
                report
                    .unmatched
                    .push(unmatched(e, first, "unknown_reference"));
                continue;
            }
            [one] => *one,
            _ => {
                report.unmatched.push(unmatched(e, first, "ambiguous"));
                continue;
            }
        };
        let identity = match &e.bank_reference {
            Some(r) => vec!["ref", account.as_str(), r.as_str()],
            None => {
                let mut v = vec!["entry", account.as_str()];
                v.extend(e.structured.iter().map(String::as_str));
                v.extend(e.unstructured.iter().map(String::as_str));
                v
            }
        };
        let booked = e.booked_on.map(|d| d.to_string()).unwrap_or_default();
        let amount = e.amount.to_string();
        let mut parts = identity;
        parts.push(&booked);
        parts.push(&amount);
        let key = master.bank_entry(&parts);
        let seen: bool = sqlx::query_scalar(
            "select exists (select 1 from invoicing.bank_entry where entry_key = $1)",
        )
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
        if seen {
            report
                .unmatched
                .push(unmatched(e, first, "already_imported"));
            continue;
        }
        let current = store::load(&mut tx, id, true).await?;
        if !current.status.accepts_payment() {
            report.unmatched.push(unmatched(e, first, "invoice_closed"));
            continue;
        }
        let payment = NewPayment {
            method: PaymentMethod::BankTransfer,
            amount: e.amount,
            received_on: e.booked_on.unwrap_or(today).min(today),
            reference: e.bank_reference.as_deref().filter(|r| r.len() <= 100),
            by: Some(staff.staff_id()),
            checkout: None,
        };
        let (row, invoice) =
            change::record_payment(&mut tx, staff.practice(), &current, &payment).await?;
        sqlx::query(
            "insert into invoicing.bank_entry (practice_id, entry_key, payment_id) values ($1, $2, $3)",
        )
        .bind(staff.practice())
        .bind(&key)
        .bind(row.payment_id)
        .execute(&mut *tx)
        .await?;
        let ev = staff.audit(
            "payment_recorded",
            Action::Update,
            Some(invoice.patient_id),
            "success",
        );
        audit::record(&mut tx, staff.practice(), &ev).await?;
        report.matched.push(MatchedEntry {
            index: e.index,
            invoice_id: id,
            payment_id: row.payment_id,
            amount: e.amount,
        });
    }
    tx.commit().await?;
    Ok((StatusCode::OK, Json(report)))
}
