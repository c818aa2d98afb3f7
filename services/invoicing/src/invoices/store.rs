//! The invoice, line and payment tables: the rows, their columns, and every write of them.
//! The database guards what the code promises: an issued invoice changes only in its payment
//! state and its lines never (trigger `invoice_issued_is_final`).

use chrono::{DateTime, NaiveDate, Utc};
use domain::invoice::{
    InvoiceKind, InvoiceStatus, LineAmounts, PaymentMethod, Settlement, VatCategory,
};
use domain::{
    AppointmentId, ClaimLineId, InvoiceId, PatientId, PayerId, PaymentId, PracticeId, StaffId,
    TariffId,
};
use platform::db::TenantTx;
use rust_decimal::Decimal;

use crate::error::InvoiceError;

/// One invoice or credit note as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) invoice_id: InvoiceId,
    pub(crate) kind: InvoiceKind,
    pub(crate) status: InvoiceStatus,
    pub(crate) patient_id: PatientId,
    pub(crate) appointment_id: Option<AppointmentId>,
    pub(crate) corrects_invoice_id: Option<InvoiceId>,
    pub(crate) payer_id: Option<PayerId>,
    pub(crate) currency: String,
    pub(crate) language: String,
    pub(crate) number: Option<String>,
    pub(crate) issue_date: Option<NaiveDate>,
    pub(crate) due_date: Option<NaiveDate>,
    pub(crate) payment_reference: Option<String>,
    pub(crate) line_count: i32,
    pub(crate) net_total: Decimal,
    pub(crate) vat_total: Decimal,
    pub(crate) total: Decimal,
    pub(crate) insurer_total: Decimal,
    pub(crate) patient_total: Decimal,
    pub(crate) paid: Decimal,
    pub(crate) credited: Decimal,
    pub(crate) credited_patient: Decimal,
    pub(crate) version: i32,
}

/// The columns of [`Row`].
pub(crate) const COLUMNS: &str = "invoice_id, kind, status, patient_id, appointment_id, corrects_invoice_id, payer_id, currency, language, \
     number, issue_date, due_date, payment_reference, line_count, net_total, vat_total, total, \
     insurer_total, patient_total, paid, credited, credited_patient, version";

/// One line as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct LineRow {
    pub(crate) line_no: i32,
    pub(crate) appointment_id: Option<AppointmentId>,
    pub(crate) tariff_id: Option<TariffId>,
    pub(crate) corrects_line_no: Option<i32>,
    pub(crate) code: String,
    pub(crate) label: String,
    pub(crate) service_date: NaiveDate,
    pub(crate) quantity: Decimal,
    pub(crate) unit_price: Decimal,
    pub(crate) net_amount: Decimal,
    pub(crate) vat_category: VatCategory,
    pub(crate) vat_rate: Decimal,
    pub(crate) vat_exemption_reason: Option<String>,
    pub(crate) vat_amount: Decimal,
    pub(crate) insurer_share: Decimal,
    pub(crate) patient_share: Decimal,
}

const LINE_COLUMNS: &str = "line_no, appointment_id, tariff_id, corrects_line_no, code, label, service_date, quantity, \
     unit_price, net_amount, vat_category, vat_rate, vat_exemption_reason, vat_amount, insurer_share, patient_share";

/// A line to add: what it is and its computed amounts.
#[derive(Debug, Clone)]
pub(crate) struct NewLine {
    pub(crate) appointment_id: Option<AppointmentId>,
    pub(crate) tariff_id: Option<TariffId>,
    pub(crate) corrects_line_no: Option<i32>,
    pub(crate) code: String,
    pub(crate) label: String,
    pub(crate) service_date: NaiveDate,
    pub(crate) quantity: Decimal,
    pub(crate) unit_price: Decimal,
    pub(crate) vat_category: VatCategory,
    pub(crate) vat_rate: Decimal,
    pub(crate) vat_exemption_reason: Option<String>,
    pub(crate) amounts: LineAmounts,
}

/// A new invoice or credit note (a draft).
pub(crate) struct NewInvoice {
    pub(crate) kind: InvoiceKind,
    pub(crate) patient: PatientId,
    pub(crate) appointment: Option<AppointmentId>,
    pub(crate) corrects: Option<InvoiceId>,
    pub(crate) payer: Option<PayerId>,
    pub(crate) language: String,
    /// A rejected claim line billed to the patient instead (one invoice per claim line).
    pub(crate) rebills: Option<ClaimLineId>,
}

/// Inserts a draft; `None` when the appointment already has its invoice.
pub(crate) async fn insert(
    tx: &mut TenantTx,
    practice: PracticeId,
    new: &NewInvoice,
) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into invoicing.invoice (practice_id, invoice_id, kind, patient_id, appointment_id, corrects_invoice_id, language, payer_id,
                                        rebills_claim_line_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (practice_id, appointment_id) where appointment_id is not null do nothing
         returning {COLUMNS}"
    )))
    .bind(practice)
    .bind(InvoiceId::new())
    .bind(new.kind)
    .bind(new.patient)
    .bind(new.appointment)
    .bind(new.corrects)
    .bind(&new.language)
    .bind(new.payer)
    .bind(new.rebills)
    .fetch_optional(&mut **tx)
    .await
}

/// Reads one invoice, locked for a change when `for_update`.
pub(crate) async fn load(
    tx: &mut TenantTx,
    id: InvoiceId,
    for_update: bool,
) -> Result<Row, InvoiceError> {
    let lock = if for_update { " for update" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.invoice where invoice_id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(InvoiceError::NotFound)
}

/// The lines of an invoice, in order.
pub(crate) async fn lines(tx: &mut TenantTx, id: InvoiceId) -> Result<Vec<LineRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {LINE_COLUMNS} from invoicing.invoice_line where invoice_id = $1 order by line_no"
    )))
    .bind(id)
    .fetch_all(&mut **tx)
    .await
}

/// Appends lines after the last one, then recomputes the totals.
pub(crate) async fn add_lines(
    tx: &mut TenantTx,
    practice: PracticeId,
    id: InvoiceId,
    lines: &[NewLine],
) -> Result<Row, sqlx::Error> {
    let first: i32 = sqlx::query_scalar(
        "select coalesce(max(line_no), 0) + 1 from invoicing.invoice_line where invoice_id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    for (i, l) in lines.iter().enumerate() {
        let no = first + i32::try_from(i).unwrap_or(i32::MAX - first);
        sqlx::query(
            "insert into invoicing.invoice_line (practice_id, invoice_id, line_no, appointment_id, tariff_id, corrects_line_no,
                 code, label, service_date, quantity, unit_price, net_amount, vat_category, vat_rate, vat_exemption_reason,
                 vat_amount, insurer_share, patient_share)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(practice)
        .bind(id)
        .bind(no)
        .bind(l.appointment_id)
        .bind(l.tariff_id)
        .bind(l.corrects_line_no)
        .bind(&l.code)
        .bind(&l.label)
        .bind(l.service_date)
        .bind(l.quantity)
        .bind(l.unit_price)
        .bind(l.amounts.net.amount())
        .bind(l.vat_category)
        .bind(l.vat_rate)
        .bind(l.vat_exemption_reason.as_deref())
        .bind(l.amounts.vat.amount())
        .bind(l.amounts.insurer.amount())
        .bind(l.amounts.patient.amount())
        .execute(&mut **tx)
        .await?;
    }
    refresh_totals(tx, id).await
}

/// Removes one line of a draft; false when it has no such line.
pub(crate) async fn delete_line(
    tx: &mut TenantTx,
    id: InvoiceId,
    line_no: i32,
) -> Result<bool, sqlx::Error> {
    let n =
        sqlx::query("delete from invoicing.invoice_line where invoice_id = $1 and line_no = $2")
            .bind(id)
            .bind(line_no)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(n == 1)
}

/// Recomputes a draft's totals from its lines (sums of rounded lines) and raises its version.
pub(crate) async fn refresh_totals(tx: &mut TenantTx, id: InvoiceId) -> Result<Row, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update invoicing.invoice i
            set line_count = s.n, net_total = s.net, vat_total = s.vat, total = s.net + s.vat,
                insurer_total = s.insurer, patient_total = s.patient, version = i.version + 1
           from (select count(*)::int as n, coalesce(sum(net_amount), 0) as net, coalesce(sum(vat_amount), 0) as vat,
                        coalesce(sum(insurer_share), 0) as insurer, coalesce(sum(patient_share), 0) as patient
                   from invoicing.invoice_line where invoice_id = $1) s
          where i.invoice_id = $1
         returning {}",
        prefixed("i.")
    )))
    .bind(id)
    .fetch_one(&mut **tx)
    .await
}

fn prefixed(prefix: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How an issued document's payment reference is made.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reference {
    /// BE: the structured communication of its year and sequence.
    Structured,
    /// NL: its number.
    Number,
    /// A credit note: none.
    None,
}

/// What issuing writes besides the number.
pub(crate) struct Issue<'a> {
    pub(crate) kind: InvoiceKind,
    pub(crate) year: i32,
    pub(crate) prefix: &'a str,
    pub(crate) digits: i32,
    pub(crate) reference: Reference,
    pub(crate) issue_date: NaiveDate,
    pub(crate) due_date: NaiveDate,
    pub(crate) by: Option<StaffId>,
}

/// A draft becomes issued: one statement takes the next number of its series and year from
/// the counter (locking the counter row until the transaction ends, see
/// [`super::numbering`]) and writes it, formatted as [`super::numbering::format`] does, with
/// the payment reference. Call it last in the issuing transaction, right before the commit.
pub(crate) async fn set_issued(
    tx: &mut TenantTx,
    practice: PracticeId,
    id: InvoiceId,
    issue: &Issue<'_>,
) -> Result<Row, sqlx::Error> {
    let reference = match issue.reference {
        Reference::Structured => "structured",
        Reference::Number => "number",
        Reference::None => "none",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with n as ({take_next}),
         f as (
             select next_seq, $5 || $3::text || '-' || lpad(next_seq::text, greatest($6, length(next_seq::text)), '0') as formatted
               from n)
         update invoicing.invoice
            set status = 'issued', number_year = $3, number_seq = f.next_seq, number = f.formatted,
                payment_reference = case $7 when 'structured' then invoicing.structured_communication($3, f.next_seq)
                                            when 'number' then f.formatted end,
                issue_date = $8, due_date = $9, issued_by = $10, issued_at = now(), version = version + 1
           from f
          where invoice_id = $4
         returning {COLUMNS}",
        take_next = super::numbering::TAKE_NEXT
    )))
    .bind(practice)
    .bind(super::numbering::series(issue.kind))
    .bind(issue.year)
    .bind(id)
    .bind(issue.prefix)
    .bind(issue.digits)
    .bind(reference)
    .bind(issue.issue_date)
    .bind(issue.due_date)
    .bind(issue.by)
    .fetch_one(&mut **tx)
    .await
}

/// The payment state of an issued invoice: its status, what was paid and what was credited.
pub(crate) async fn set_settlement(
    tx: &mut TenantTx,
    id: InvoiceId,
    status: InvoiceStatus,
    s: &Settlement,
) -> Result<Row, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update invoicing.invoice set status = $2, paid = $3, credited = $4, credited_patient = $5, version = version + 1
          where invoice_id = $1
         returning {COLUMNS}"
    )))
    .bind(id)
    .bind(status)
    .bind(s.paid)
    .bind(s.credited)
    .bind(s.credited_patient)
    .fetch_one(&mut **tx)
    .await
}

/// Throws a draft away (its lines go with it).
pub(crate) async fn delete_draft(tx: &mut TenantTx, id: InvoiceId) -> Result<(), sqlx::Error> {
    sqlx::query("delete from invoicing.invoice where invoice_id = $1 and status = 'draft'")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The line numbers of `invoice` that its credit notes took back.
pub(crate) async fn credited_lines(
    tx: &mut TenantTx,
    invoice: InvoiceId,
) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "select l.corrects_line_no from invoicing.invoice_line l
           join invoicing.invoice c on c.practice_id = l.practice_id and c.invoice_id = l.invoice_id
          where c.corrects_invoice_id = $1 and l.corrects_line_no is not null",
    )
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await
}

/// The credit notes of an invoice.
pub(crate) async fn credit_notes(
    tx: &mut TenantTx,
    invoice: InvoiceId,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.invoice where corrects_invoice_id = $1 order by number_seq"
    )))
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await
}

/// Filters of the invoice list.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    pub(crate) status: Option<InvoiceStatus>,
    pub(crate) kind: Option<InvoiceKind>,
    pub(crate) patient: Option<PatientId>,
    pub(crate) from: Option<NaiveDate>,
    pub(crate) to: Option<NaiveDate>,
    pub(crate) limit: i64,
}

/// Invoices matching `f`, newest first. Dates filter on the issue date (drafts: creation).
pub(crate) async fn list(tx: &mut TenantTx, f: &Filter) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invoicing.invoice
          where ($1::text is null or status = $1) and ($2::text is null or kind = $2)
            and ($3::uuid is null or patient_id = $3)
            and ($4::date is null or coalesce(issue_date, created_at::date) >= $4)
            and ($5::date is null or coalesce(issue_date, created_at::date) <= $5)
          order by created_at desc, invoice_id desc
          limit $6"
    )))
    .bind(f.status)
    .bind(f.kind)
    .bind(f.patient)
    .bind(f.from)
    .bind(f.to)
    .bind(f.limit)
    .fetch_all(&mut **tx)
    .await
}

/// One payment as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PaymentRow {
    pub(crate) payment_id: PaymentId,
    pub(crate) method: PaymentMethod,
    pub(crate) amount: Decimal,
    pub(crate) received_on: NaiveDate,
    pub(crate) reference: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

const PAYMENT_COLUMNS: &str = "payment_id, method, amount, received_on, reference, created_at";

impl Row {
    /// The amounts that decide its payment state.
    pub(crate) fn settlement(&self) -> Settlement {
        Settlement {
            total: self.total,
            credited: self.credited,
            patient_total: self.patient_total,
            credited_patient: self.credited_patient,
            paid: self.paid,
        }
    }
}

/// A payment to record.
pub(crate) struct NewPayment<'a> {
    pub(crate) method: PaymentMethod,
    pub(crate) amount: Decimal,
    pub(crate) received_on: NaiveDate,
    pub(crate) reference: Option<&'a str>,
    pub(crate) by: Option<StaffId>,
    /// The Checkout Session attempt it came through (Stripe payments; one payment each).
    pub(crate) checkout: Option<domain::CheckoutId>,
}

/// Records a payment.
pub(crate) async fn insert_payment(
    tx: &mut TenantTx,
    practice: PracticeId,
    invoice: InvoiceId,
    p: &NewPayment<'_>,
) -> Result<PaymentRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into invoicing.payment (practice_id, payment_id, invoice_id, method, amount, received_on, reference, recorded_by, checkout_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning {PAYMENT_COLUMNS}"
    )))
    .bind(practice)
    .bind(PaymentId::new())
    .bind(invoice)
    .bind(p.method)
    .bind(p.amount)
    .bind(p.received_on)
    .bind(p.reference)
    .bind(p.by)
    .bind(p.checkout)
    .fetch_one(&mut **tx)
    .await
}

/// The payments of an invoice, oldest first.
pub(crate) async fn payments(
    tx: &mut TenantTx,
    invoice: InvoiceId,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PAYMENT_COLUMNS} from invoicing.payment where invoice_id = $1 order by created_at, payment_id"
    )))
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await
}
