//! Invoices over HTTP: draft (or let the job draft from a completed appointment), edit the
//! lines of a draft, issue, credit, write off, record payments, read and list. Handlers only:
//! each checks the permission, opens the tenant transaction, calls the change path
//! ([`change`]), writes its audit row and commits. Every read and change of an invoice is
//! audited with its patient.

pub(crate) mod change;
pub mod draft;
pub mod numbering;
pub mod rebill;
pub(crate) mod store;
pub(crate) mod view;

pub(crate) use view::printed_reference;
pub use view::{Invoice, InvoiceLine, InvoiceSummary, Payment, Refund, Reminder, StoredDocument};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use domain::bounded::Int;
use domain::invoice::{InvoiceKind, InvoiceStatus, PaymentMethod, VatCategory};
use domain::money::{Amount, Quantity};
use domain::practice::Permission;
use domain::text::Line;
use domain::{InvoiceId, PatientId, PayerId, TariffId};
use platform::audit::{self, Action};
use platform::auth::Staff;
use platform::db::TenantTx;
use platform::idempotency::{Answer, Idempotency, Idempotent};
use platform::json::{ApiJson, ApiPath, ApiQuery};
use platform::versions::IfMatch;
use platform::{ApiError, ApiResult, ApiRouter, AppState};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use change::LineSpec;
use store::{NewPayment, Row};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_invoices, create_invoice))
        .routes(routes!(get_invoice, discard_invoice))
        .routes(routes!(add_invoice_lines))
        .routes(routes!(remove_invoice_line))
        .routes(routes!(issue_invoice))
        .routes(routes!(credit_invoice))
        .routes(routes!(write_off_invoice))
        .routes(routes!(record_payment))
}

/// A line to put on a draft: from a tariff (`tariff_id`), or free (`code`, `label`,
/// `unit_price`, optionally VAT).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineInput {
    /// The tariff to copy code, label, fee, insurer share and VAT from.
    #[serde(default)]
    pub tariff_id: Option<TariffId>,
    /// A free line's code.
    #[serde(default)]
    pub code: Option<Line<12>>,
    /// A free line's text.
    #[serde(default)]
    pub label: Option<Line<200>>,
    /// A free line's price per unit before VAT.
    #[serde(default)]
    pub unit_price: Option<Amount>,
    /// A free line's VAT category: `E` (exempt, default) or `S`.
    #[serde(default)]
    pub vat_category: Option<VatCategory>,
    /// A free line's VAT rate in percent, for category `S`.
    #[serde(default)]
    pub vat_rate: Option<Amount>,
    /// When the care was given or the product sold.
    pub service_date: NaiveDate,
    /// Units (default 1).
    #[serde(default)]
    pub quantity: Option<Quantity>,
}

/// A new draft invoice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patient_id": "0193a0c2-6f1e-7c4b-9a51-2d6f0e8b1a01", "lines": [{"code": "MAT01", "label": "Elastische tape", "unit_price": "12.40", "vat_category": "S", "vat_rate": "21", "service_date": "2027-03-15", "quantity": "2"}]}))]
pub struct NewInvoice {
    /// Who is invoiced.
    pub patient_id: PatientId,
    /// Who pays instead of the patient (the documents are addressed to it).
    #[serde(default)]
    pub payer_id: Option<PayerId>,
    /// Its first lines (more can be added while it is a draft).
    #[serde(default)]
    #[schema(max_items = 200)]
    pub lines: Vec<InvoiceLineInput>,
}

/// Lines to add to a draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"code": "EXTRA", "label": "Verslag voor de verzekeraar", "unit_price": "15.00", "service_date": "2027-03-15"}]}))]
pub struct NewInvoiceLines {
    /// The lines.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<InvoiceLineInput>,
}

/// A credit note for an issued invoice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"line_nos": [1]}))]
pub struct NewCreditNote {
    /// The lines to take back; every line not yet credited when absent.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 200)]
    pub line_nos: Option<Vec<Int<1, 200>>>,
}

/// A payment received by the practice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method": "bank_transfer", "amount": "8.13", "received_on": "2027-03-20", "reference": "+++260/0000/12349+++"}))]
pub struct NewManualPayment {
    /// `cash`, `card_terminal` or `bank_transfer` (Stripe payments are recorded by Stripe's
    /// events).
    pub method: PaymentMethod,
    /// Amount, above zero.
    pub amount: Amount,
    /// When it was received (default today); not in the future.
    #[serde(default)]
    pub received_on: Option<NaiveDate>,
    /// The bank's reference or communication.
    #[serde(default)]
    pub reference: Option<Line<140>>,
}

/// Filters of the invoice list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// Only this status.
    pub status: Option<InvoiceStatus>,
    /// Only invoices or only credit notes.
    pub kind: Option<InvoiceKind>,
    /// Only this patient's.
    pub patient_id: Option<PatientId>,
    /// Issued (drafts: created) on or after.
    pub from: Option<NaiveDate>,
    /// Issued (drafts: created) on or before.
    pub to: Option<NaiveDate>,
    /// At most this many (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<Int<1, 500>>,
}

/// The specs of request lines, checked; errors name `lines[i].<field>`.
fn specs(lines: Vec<InvoiceLineInput>) -> ApiResult<Vec<(String, LineSpec)>> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let field = format!("lines[{i}]");
            let quantity = l.quantity.map_or(Decimal::ONE, Quantity::get);
            let spec = spec(&field, l, quantity)?;
            Ok((field, spec))
        })
        .collect()
}

fn spec(field: &str, l: InvoiceLineInput, quantity: Decimal) -> ApiResult<LineSpec> {
    let named = |name: &str| format!("{field}.{name}");
    if let Some(tariff_id) = l.tariff_id {
        if l.code.is_some()
            || l.label.is_some()
            || l.unit_price.is_some()
            || l.vat_category.is_some()
            || l.vat_rate.is_some()
        {
            return Err(ApiError::invalid_field(
                named("tariff_id"),
                "a line is either a tariff or a code, label and unit price",
            ));
        }
        return Ok(LineSpec::Tariff {
            tariff_id,
            service_date: l.service_date,
            quantity,
        });
    }
    let missing = |name: &str| {
        ApiError::invalid_field(
            named(name),
            "a line without a tariff needs code, label and unit_price",
        )
    };
    let code = l.code.ok_or_else(|| missing("code"))?.into_inner();
    let label = l.label.ok_or_else(|| missing("label"))?.into_inner();
    let unit_price = l.unit_price.ok_or_else(|| missing("unit_price"))?.get();
    let category = l.vat_category.unwrap_or(VatCategory::Exempt);
    let rate = l.vat_rate.map_or(Decimal::ZERO, Amount::get);
    let rate_ok = match category {
        VatCategory::Exempt => rate.is_zero(),
        VatCategory::Standard => rate > Decimal::ZERO && rate < Decimal::ONE_HUNDRED,
    };
    if !rate_ok {
        return Err(ApiError::invalid_field(
            named("vat_rate"),
            "category E has no rate; category S needs a rate above 0 and below 100",
        ));
    }
    Ok(LineSpec::Free {
        code,
        label,
        unit_price,
        vat_category: category,
        vat_rate: rate,
        service_date: l.service_date,
        quantity,
    })
}

pub(crate) async fn record(
    tx: &mut TenantTx,
    staff: &Staff,
    event: &'static str,
    action: Action,
    row: &Row,
) -> ApiResult<()> {
    let ev = staff.audit(event, action, Some(row.patient_id), "success");
    audit::record(tx, staff.practice(), &ev).await?;
    Ok(())
}

/// Audits the change or read of `row` (`event`), keeps the answer with the request's
/// idempotency key, commits, and answers the full view of `row` with `status`.
async fn answer(
    mut tx: TenantTx,
    staff: &Staff,
    idem: &Idempotency,
    status: StatusCode,
    (event, action): (&'static str, Action),
    row: Row,
) -> ApiResult<Answer> {
    record(&mut tx, staff, event, action, &row).await?;
    let view = view::detail(&mut tx, row).await?;
    let answer = idem
        .answer_versioned(&mut tx, staff, status, &view, view.version)
        .await?;
    tx.commit().await?;
    Ok(answer)
}

/// [`answer`] for a change without an idempotency key: 200 with the invoice.
async fn updated(tx: TenantTx, staff: &Staff, event: &'static str, row: Row) -> ApiResult<Answer> {
    answer(
        tx,
        staff,
        &Idempotency::none(),
        StatusCode::OK,
        (event, Action::Update),
        row,
    )
    .await
}

/// Drafts an invoice. A draft has no number; its lines can change until it is issued.
#[utoipa::path(post, path = "/v1/invoices", tag = "invoicing", security(("session" = [])), request_body = NewInvoice,
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]{1,255}$", description = "A retry with the same key and request gets the first answer (`Idempotent-Replayed: true`) without the work being done again; kept 24 hours")),
    responses((status = 201, body = Invoice), (status = 422, body = platform::error::Problem)))]
pub async fn create_invoice(
    State(state): State<AppState>,
    staff: Staff,
    Idempotent(idem, b): Idempotent<NewInvoice>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let specs = specs(b.lines)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    if let Some(replay) = idem.claim(&mut tx, &staff).await? {
        tx.commit().await?;
        return Ok(replay);
    }
    let lines = change::resolve(&mut tx, specs, None).await?;
    let row = change::draft(
        &mut tx,
        staff.practice(),
        (b.patient_id, b.payer_id),
        change::Origin::default(),
        &lines,
    )
    .await?
    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a draft without appointment conflicted")))?;
    answer(
        tx,
        &staff,
        &idem,
        StatusCode::CREATED,
        ("sensitive_create", Action::Create),
        row,
    )
    .await
}

/// Lists invoices and credit notes, newest first.
#[utoipa::path(get, path = "/v1/invoices", tag = "invoicing", security(("session" = [])), params(InvoiceQuery),
    responses((status = 200, body = Vec<InvoiceSummary>)))]
pub async fn list_invoices(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> ApiResult<Json<Vec<InvoiceSummary>>> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let filter = store::Filter {
        status: q.status,
        kind: q.kind,
        patient: q.patient_id,
        from: q.from,
        to: q.to,
        limit: q.limit.map_or(100, Int::get),
    };
    let mut tx = state.db().tenant(staff.practice()).await?;
    let rows = store::list(&mut tx, &filter).await?;
    let patients: Vec<Option<PatientId>> = rows.iter().map(|r| Some(r.patient_id)).collect();
    let ev = staff.audit("sensitive_read", Action::Read, None, "success");
    audit::record_for_patients(&mut tx, staff.practice(), &ev, &patients).await?;
    tx.commit().await?;
    Ok(Json(rows.iter().map(Row::summary).collect()))
}

/// Reads an invoice or credit note with its lines, payments and credit notes.
#[utoipa::path(get, path = "/v1/invoices/{invoice_id}", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice")),
    responses((status = 200, body = Invoice, headers(("ETag" = String, description = "The invoice's version")))))]
pub async fn get_invoice(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceRead).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = store::load(&mut tx, id, false).await?;
    answer(
        tx,
        &staff,
        &Idempotency::none(),
        StatusCode::OK,
        ("sensitive_read", Action::Read),
        row,
    )
    .await
}

/// Throws a draft away. Issued invoices are never deleted: they are credited.
#[utoipa::path(delete, path = "/v1/invoices/{invoice_id}", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The draft"), ("If-Match" = Option<String>, Header, pattern = r#"^(|\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$"#, description = "The version (`ETag`) the change was made from; a stale one answers 412 and nothing is written (empty: no condition)")),
    responses((status = 204, description = "Discarded"), (status = 409, description = "Not a draft", body = platform::error::Problem)))]
pub async fn discard_invoice(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let row = store::load(&mut tx, id, true).await?;
    if_match.check(row.version)?;
    change::discard(&mut tx, &row).await?;
    record(&mut tx, &staff, "sensitive_delete", Action::Delete, &row).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds lines to a draft.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/lines", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The draft"), ("If-Match" = Option<String>, Header, pattern = r#"^(|\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$"#, description = "The version (`ETag`) the change was made from; a stale one answers 412 and nothing is written (empty: no condition)")), request_body = NewInvoiceLines,
    responses((status = 200, body = Invoice), (status = 409, description = "Not a draft", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn add_invoice_lines(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
    if_match: IfMatch,
    ApiJson(b): ApiJson<NewInvoiceLines>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    if b.lines.is_empty() {
        return Err(ApiError::invalid_field("lines", "at least one line"));
    }
    let specs = specs(b.lines)?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let current = store::load(&mut tx, id, true).await?;
    if_match.check(current.version)?;
    let lines = change::resolve(&mut tx, specs, None).await?;
    let row = change::add_lines(&mut tx, staff.practice(), &current, &lines).await?;
    updated(tx, &staff, "sensitive_update", row).await
}

/// Removes a line from a draft.
#[utoipa::path(delete, path = "/v1/invoices/{invoice_id}/lines/{line_no}", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The draft"), ("line_no" = i32, Path, minimum = 1, maximum = 200, description = "The line"), ("If-Match" = Option<String>, Header, pattern = r#"^(|\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$"#, description = "The version (`ETag`) the change was made from; a stale one answers 412 and nothing is written (empty: no condition)")),
    responses((status = 200, body = Invoice), (status = 409, description = "Not a draft", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn remove_invoice_line(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath((id, line_no)): ApiPath<(InvoiceId, Int<1, 200>)>,
    if_match: IfMatch,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let current = store::load(&mut tx, id, true).await?;
    if_match.check(current.version)?;
    let row = change::remove_line(&mut tx, &current, line_no.get_i32()).await?;
    updated(tx, &staff, "sensitive_update", row).await
}

/// Issues a draft: it gets the next number of the practice's invoice series for this year, an
/// issue and a due date and its payment reference, and never changes again.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/issue", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The draft"), ("If-Match" = Option<String>, Header, pattern = r#"^(|\*|(W/)?"[0-9]{1,9}"(\s*,\s*(W/)?"[0-9]{1,9}")*)$"#, description = "The version (`ETag`) the change was made from; a stale one answers 412 and nothing is written (empty: no condition)"), ("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]{1,255}$", description = "A retry with the same key and request gets the first answer (`Idempotent-Replayed: true`) without the work being done again; kept 24 hours")),
    responses((status = 200, body = Invoice), (status = 409, description = "Not a draft, or the practice's invoicing details are incomplete", body = platform::error::Problem),
              (status = 422, description = "The draft has no lines", body = platform::error::Problem)))]
pub async fn issue_invoice(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
    if_match: IfMatch,
    idem: Idempotency,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    if let Some(replay) = idem.claim(&mut tx, &staff).await? {
        tx.commit().await?;
        return Ok(replay);
    }
    let current = store::load(&mut tx, id, true).await?;
    if_match.check(current.version)?;
    // Everything but the number first: the number's statement locks the series until commit.
    let lines = store::lines(&mut tx, id).await?;
    record(&mut tx, &staff, "invoice_issued", Action::Update, &current).await?;
    let row = change::issue(&mut tx, staff.practice(), &current, Some(staff.staff_id())).await?;
    // Just issued: no payments or credit notes yet.
    let view = view::assemble(row, lines, Vec::new(), &[]);
    let answer = idem
        .answer_versioned(&mut tx, &staff, StatusCode::OK, &view, view.version)
        .await?;
    tx.commit().await?;
    Ok(answer)
}

/// Corrects an issued invoice with a credit note (numbered in the credit note series): all
/// lines not yet credited, or the lines named. Answers the credit note.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/credit-notes", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice"), ("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]{1,255}$", description = "A retry with the same key and request gets the first answer (`Idempotent-Replayed: true`) without the work being done again; kept 24 hours")), request_body = NewCreditNote,
    responses((status = 201, body = Invoice), (status = 409, description = "Not creditable, or a line is already credited", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn credit_invoice(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
    Idempotent(idem, b): Idempotent<NewCreditNote>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let nos: Option<Vec<i32>> = b
        .line_nos
        .map(|v| v.into_iter().map(Int::get_i32).collect());
    if nos.as_ref().is_some_and(|v| v.is_empty() || v.len() > 200) {
        return Err(ApiError::invalid_field("line_nos", "1 to 200 line numbers"));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    if let Some(replay) = idem.claim(&mut tx, &staff).await? {
        tx.commit().await?;
        return Ok(replay);
    }
    let current = store::load(&mut tx, id, true).await?;
    let (note, invoice) = change::credit(
        &mut tx,
        staff.practice(),
        &current,
        nos.as_deref(),
        Some(staff.staff_id()),
    )
    .await?;
    record(
        &mut tx,
        &staff,
        "invoice_credited",
        Action::Update,
        &invoice,
    )
    .await?;
    answer(
        tx,
        &staff,
        &idem,
        StatusCode::CREATED,
        ("sensitive_create", Action::Create),
        note,
    )
    .await
}

/// Writes off what is still owed on an issued invoice.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/write-off", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice")),
    responses((status = 200, body = Invoice), (status = 409, description = "Not open", body = platform::error::Problem)))]
pub async fn write_off_invoice(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    let mut tx = state.db().tenant(staff.practice()).await?;
    let current = store::load(&mut tx, id, true).await?;
    let row = change::write_off(&mut tx, &current).await?;
    updated(tx, &staff, "invoice_written_off", row).await
}

/// Records a payment received at the desk or by bank transfer. Partial payments and
/// overpayments are accepted; the invoice's status and balance follow.
#[utoipa::path(post, path = "/v1/invoices/{invoice_id}/payments", tag = "invoicing", security(("session" = [])),
    params(("invoice_id" = InvoiceId, Path, description = "The invoice"), ("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]{1,255}$", description = "A retry with the same key and request gets the first answer (`Idempotent-Replayed: true`) without the work being done again; kept 24 hours")), request_body = NewManualPayment,
    responses((status = 201, body = Invoice), (status = 409, description = "The invoice does not take payments (draft, paid, credited, written off)", body = platform::error::Problem),
              (status = 422, body = platform::error::Problem)))]
pub async fn record_payment(
    State(state): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<InvoiceId>,
    Idempotent(idem, b): Idempotent<NewManualPayment>,
) -> ApiResult<Answer> {
    staff.require(&state, Permission::InvoiceWrite).await?;
    if !change::manual_method(b.method) {
        return Err(ApiError::invalid_field(
            "method",
            "cash, card_terminal or bank_transfer; Stripe payments come from Stripe",
        ));
    }
    if b.amount.get().is_zero() {
        return Err(ApiError::invalid_field("amount", "must be above zero"));
    }
    let mut tx = state.db().tenant(staff.practice()).await?;
    if let Some(replay) = idem.claim(&mut tx, &staff).await? {
        tx.commit().await?;
        return Ok(replay);
    }
    let current = store::load(&mut tx, id, true).await?;
    let today = change::practice_place(&mut tx).await?.today();
    let received_on = b.received_on.unwrap_or(today);
    if received_on > today {
        return Err(ApiError::invalid_field(
            "received_on",
            "must not be in the future",
        ));
    }
    let payment = NewPayment {
        method: b.method,
        amount: b.amount.get(),
        received_on,
        reference: b.reference.as_ref().map(Line::as_str),
        by: Some(staff.staff_id()),
        checkout: None,
    };
    let (_, row) = change::record_payment(&mut tx, staff.practice(), &current, &payment).await?;
    answer(
        tx,
        &staff,
        &idem,
        StatusCode::CREATED,
        ("payment_recorded", Action::Update),
        row,
    )
    .await
}
