//! What the API shows of an invoice: the detail with its lines, payments and credit notes, and
//! the summary of a list. Amounts are decimal strings (`"42.50"`).

use chrono::{DateTime, NaiveDate, Utc};
use domain::invoice::{InvoiceKind, InvoiceStatus, PaymentMethod, VatCategory};
use domain::online::RefundState;
use domain::payment_reference::StructuredCommunication;
use domain::{AppointmentId, InvoiceId, PatientId, PayerId, PaymentId, RefundId, TariffId};
use platform::db::TenantTx;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::store::{self, LineRow, PaymentRow, Row};

/// An invoice or credit note.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    /// Id.
    pub invoice_id: InvoiceId,
    /// Invoice or credit note.
    pub kind: InvoiceKind,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// Its number, from issue on.
    pub number: Option<String>,
    /// The patient.
    pub patient_id: PatientId,
    /// The completed appointment it was drafted from.
    pub appointment_id: Option<AppointmentId>,
    /// A credit note's invoice.
    pub corrects_invoice_id: Option<InvoiceId>,
    /// Who pays instead of the patient.
    pub payer_id: Option<PayerId>,
    /// ISO 4217.
    pub currency: String,
    /// The language of its documents.
    pub language: String,
    /// Date of issue.
    pub issue_date: Option<NaiveDate>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
    /// BE: the structured communication (`+++123/4567/89002+++`); NL: the invoice number.
    pub payment_reference: Option<String>,
    /// Sum of line nets.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "32.50")]
    pub net_total: Decimal,
    /// Sum of line VAT.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "0.00")]
    pub vat_total: Decimal,
    /// Net plus VAT.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "32.50")]
    pub total: Decimal,
    /// What the insurer pays (claimed separately).
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "24.37")]
    pub insurer_total: Decimal,
    /// What the patient pays.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "8.13")]
    pub patient_total: Decimal,
    /// What the patient paid.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "0.00")]
    pub paid: Decimal,
    /// What credit notes took off it.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "0.00")]
    pub credited: Decimal,
    /// What the patient still owes; negative when paid too much.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "8.13")]
    pub balance: Decimal,
    /// Lines.
    pub lines: Vec<InvoiceLine>,
    /// Payments received.
    pub payments: Vec<Payment>,
    /// Credit notes correcting it.
    pub credit_notes: Vec<InvoiceSummary>,
    /// Refunds of its online payments.
    pub refunds: Vec<Refund>,
    /// Payment reminders sent (the dunning history), oldest first.
    pub reminders: Vec<Reminder>,
    /// Its documents as stored (written once at issue; each downloadable at its `path`).
    pub documents: Vec<StoredDocument>,
    /// Raised by every change.
    pub version: i32,
}

/// One line.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLine {
    /// Position, from 1.
    pub line_no: i32,
    /// The appointment it invoices.
    pub appointment_id: Option<AppointmentId>,
    /// The tariff it was copied from.
    pub tariff_id: Option<TariffId>,
    /// A credit note's line: the invoice line it takes back.
    pub corrects_line_no: Option<i32>,
    /// Nomenclature code or prestatiecode.
    pub code: String,
    /// Text.
    pub label: String,
    /// When the care was given.
    pub service_date: NaiveDate,
    /// Units.
    #[schema(value_type = String, example = "1")]
    pub quantity: Decimal,
    /// Price per unit before VAT.
    #[schema(value_type = String, example = "32.50")]
    pub unit_price: Decimal,
    /// `quantity × unit_price`, rounded half-up to cents.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "32.50")]
    pub net_amount: Decimal,
    /// VAT category.
    pub vat_category: VatCategory,
    /// VAT rate in percent.
    #[schema(value_type = String, example = "0")]
    pub vat_rate: Decimal,
    /// Exemption reason code (category `E`).
    pub vat_exemption_reason: Option<String>,
    /// VAT, rounded per line.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "0.00")]
    pub vat_amount: Decimal,
    /// The insurer's share.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "24.37")]
    pub insurer_share: Decimal,
    /// The patient's share.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "8.13")]
    pub patient_share: Decimal,
}

/// A payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    /// Id.
    pub payment_id: PaymentId,
    /// How it was paid.
    pub method: PaymentMethod,
    /// Amount.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "8.13")]
    pub amount: Decimal,
    /// When the money was received.
    pub received_on: NaiveDate,
    /// The bank's or provider's reference.
    pub reference: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// An invoice in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceSummary {
    /// Id.
    pub invoice_id: InvoiceId,
    /// Invoice or credit note.
    pub kind: InvoiceKind,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// Number.
    pub number: Option<String>,
    /// The patient.
    pub patient_id: PatientId,
    /// Date of issue.
    pub issue_date: Option<NaiveDate>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
    /// Total.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "32.50")]
    pub total: Decimal,
    /// The patient's share.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "8.13")]
    pub patient_total: Decimal,
    /// What the patient still owes.
    #[serde(serialize_with = "domain::money::serialize_cents")]
    #[schema(value_type = String, example = "8.13")]
    pub balance: Decimal,
}

/// The payment reference as shown and printed: a Belgian structured communication dressed
/// (`+++123/4567/89002+++`), anything else as stored.
pub(crate) fn printed_reference(r: Option<String>) -> Option<String> {
    r.map(|r| match StructuredCommunication::parse(&r) {
        Ok(c) if r.len() == 12 => c.to_string(),
        _ => r,
    })
}

impl Row {
    pub(crate) fn summary(&self) -> InvoiceSummary {
        InvoiceSummary {
            invoice_id: self.invoice_id,
            kind: self.kind,
            status: self.status,
            number: self.number.clone(),
            patient_id: self.patient_id,
            issue_date: self.issue_date,
            due_date: self.due_date,
            total: self.total,
            patient_total: self.patient_total,
            balance: self.balance(),
        }
    }

    /// What the patient still owes on an invoice (nothing on a credit note), in cents.
    pub(crate) fn balance(&self) -> Decimal {
        let mut b = match self.kind {
            InvoiceKind::Invoice => self.settlement().balance(),
            InvoiceKind::CreditNote => Decimal::ZERO,
        };
        b.rescale(2);
        b
    }
}

impl From<LineRow> for InvoiceLine {
    fn from(l: LineRow) -> Self {
        InvoiceLine {
            line_no: l.line_no,
            appointment_id: l.appointment_id,
            tariff_id: l.tariff_id,
            corrects_line_no: l.corrects_line_no,
            code: l.code,
            label: l.label,
            service_date: l.service_date,
            quantity: l.quantity.normalize(),
            unit_price: l.unit_price.normalize(),
            net_amount: l.net_amount,
            vat_category: l.vat_category,
            vat_rate: l.vat_rate.normalize(),
            vat_exemption_reason: l.vat_exemption_reason,
            vat_amount: l.vat_amount,
            insurer_share: l.insurer_share,
            patient_share: l.patient_share,
        }
    }
}

impl From<PaymentRow> for Payment {
    fn from(p: PaymentRow) -> Self {
        Payment {
            payment_id: p.payment_id,
            method: p.method,
            amount: p.amount,
            received_on: p.received_on,
            reference: p.reference,
            recorded_at: p.created_at,
        }
    }
}

/// The full view of `row`: its lines, payments and credit notes.
pub(crate) async fn detail(tx: &mut TenantTx, row: Row) -> Result<Invoice, sqlx::Error> {
    let lines = store::lines(tx, row.invoice_id).await?;
    if row.status == InvoiceStatus::Draft {
        return Ok(assemble(row, lines, Vec::new(), &[]));
    }
    let documents = documents_of(tx, row.invoice_id).await?;
    if row.kind == InvoiceKind::CreditNote {
        let mut view = assemble(row, lines, Vec::new(), &[]);
        view.documents = documents;
        return Ok(view);
    }
    let payments = store::payments(tx, row.invoice_id).await?;
    let notes = store::credit_notes(tx, row.invoice_id).await?;
    let refunds = of_invoice(tx, row.invoice_id).await?;
    let reminders = reminders_of(tx, row.invoice_id).await?;
    let mut view = assemble(row, lines, payments, &notes);
    view.refunds = refunds;
    view.reminders = reminders;
    view.documents = documents;
    Ok(view)
}

/// The full view of `row` from its parts, read by the caller.
pub(crate) fn assemble(
    row: Row,
    lines: Vec<LineRow>,
    payments: Vec<PaymentRow>,
    notes: &[Row],
) -> Invoice {
    let balance = row.balance();
    Invoice {
        invoice_id: row.invoice_id,
        kind: row.kind,
        status: row.status,
        number: row.number,
        patient_id: row.patient_id,
        appointment_id: row.appointment_id,
        corrects_invoice_id: row.corrects_invoice_id,
        payer_id: row.payer_id,
        currency: row.currency,
        language: row.language,
        issue_date: row.issue_date,
        due_date: row.due_date,
        payment_reference: printed_reference(row.payment_reference),
        net_total: row.net_total,
        vat_total: row.vat_total,
        total: row.total,
        insurer_total: row.insurer_total,
        patient_total: row.patient_total,
        paid: row.paid,
        credited: row.credited,
        balance,
        lines: lines.into_iter().map(InvoiceLine::from).collect(),
        payments: payments.into_iter().map(Payment::from).collect(),
        credit_notes: notes.iter().map(Row::summary).collect(),
        refunds: Vec::new(),
        reminders: Vec::new(),
        documents: Vec::new(),
        version: row.version,
    }
}

/// A payment reminder sent for an invoice.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Reminder {
    /// Which of the practice's reminder days (1 = the first).
    pub ordinal: i32,
    /// The SMS it went out as (notifications), once notifications wrote it.
    pub message_id: Option<domain::MessageId>,
    /// Where that SMS stands (`scheduled`, `sent`, `delivered`, `failed`, …; absent until
    /// written, or when the patient cannot get SMS).
    pub message_state: Option<String>,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

async fn reminders_of(tx: &mut TenantTx, invoice: InvoiceId) -> Result<Vec<Reminder>, sqlx::Error> {
    sqlx::query_as(
        "select r.ordinal, m.message_id, m.state as message_state, r.created_at
           from invoicing.reminder r
           left join notifications.message m
             on m.dedupe_key = 'payment-reminder:' || r.invoice_id || ':' || r.ordinal
          where r.invoice_id = $1 order by r.ordinal",
    )
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await
}

/// A refund of an online payment.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Refund {
    /// The refund.
    pub refund_id: RefundId,
    /// The invoice whose payment it returns.
    pub invoice_id: InvoiceId,
    /// The payment it returns (part of).
    pub payment_id: PaymentId,
    /// Cents given back.
    pub amount_cents: i64,
    /// `requested_by_customer` (staff) or `duplicate` (a payment beyond what was owed).
    pub reason: String,
    /// `requested`, `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    #[schema(value_type = String)]
    pub state: RefundState,
    /// The credit note it goes with.
    pub credit_note_id: Option<InvoiceId>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
}

pub(crate) const REFUND_COLUMNS: &str =
    "refund_id, invoice_id, payment_id, amount_cents, reason, state, credit_note_id, created_at";

/// The refunds of an invoice, oldest first.
pub(crate) async fn of_invoice(
    tx: &mut platform::db::TenantTx,
    invoice: InvoiceId,
) -> Result<Vec<Refund>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {REFUND_COLUMNS} from invoicing.refund where invoice_id = $1 order by created_at, refund_id"
    )))
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await
}

/// A document of an invoice as stored.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StoredDocument {
    /// `pdf` or `ubl`.
    pub format: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Where to download it.
    pub path: String,
}

async fn documents_of(
    tx: &mut TenantTx,
    invoice: InvoiceId,
) -> Result<Vec<StoredDocument>, sqlx::Error> {
    sqlx::query_as(
        "select format, created_at, '/v1/invoices/' || invoice_id || '/' || format as path
           from invoicing.document where invoice_id = $1 order by format",
    )
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await
}
