//! The one way an invoice changes, whoever asks: billing staff over HTTP, the job that drafts
//! the invoice of a completed appointment, later the payment webhooks. Each function checks the
//! rules, writes the rows, then its events, all in the caller's transaction; the caller checks
//! permissions, writes its audit row and commits.

use chrono::{Datelike, Days, NaiveDate};
use domain::invoice::{
    InvoiceKind, InvoiceStatus, LineAmounts, MEDICAL_EXEMPTION, PaymentMethod, Settlement,
    VatCategory,
};
use domain::money::Currency;
use domain::practice::Country;
use domain::{AppointmentId, ClaimLineId, PatientId, PayerId, PracticeId, StaffId, TariffId};
use platform::db::TenantTx;
use rust_decimal::Decimal;

use super::store::{
    self, Issue, LineRow, NewInvoice, NewLine, NewPayment, PaymentRow, Reference, Row,
};
use crate::error::InvoiceError;
pub(crate) use crate::place::practice_place;
use crate::{events, settings, tariffs};

/// Lines on one invoice at most.
pub(crate) const MAX_LINES: i32 = 200;

/// What a line is made from.
#[derive(Debug, Clone)]
pub(crate) enum LineSpec {
    /// A tariff: code, label, fee, insurer share and VAT are copied from it.
    Tariff {
        tariff_id: TariffId,
        service_date: NaiveDate,
        quantity: Decimal,
    },
    /// A free line (a product, a fee without a tariff): the patient pays all of it.
    Free {
        code: String,
        label: String,
        unit_price: Decimal,
        vat_category: VatCategory,
        vat_rate: Decimal,
        service_date: NaiveDate,
        quantity: Decimal,
    },
}

/// Turns specs into lines with their amounts; `field` names each spec in errors
/// (`lines[2].tariff_id`).
pub(crate) async fn resolve(
    tx: &mut TenantTx,
    specs: Vec<(String, LineSpec)>,
    appointment: Option<AppointmentId>,
) -> Result<Vec<NewLine>, InvoiceError> {
    let mut out = Vec::with_capacity(specs.len());
    for (field, spec) in specs {
        let line = match spec {
            LineSpec::Tariff {
                tariff_id,
                service_date,
                quantity,
            } => {
                let t = tariffs::load(tx, tariff_id)
                    .await?
                    .ok_or_else(|| InvoiceError::TariffNotFound(format!("{field}.tariff_id")))?;
                if !t.applies_on(service_date) {
                    return Err(InvoiceError::TariffNotValid(format!(
                        "{field}.service_date"
                    )));
                }
                tariff_line(&t, service_date, quantity, appointment)
            }
            LineSpec::Free {
                code,
                label,
                unit_price,
                vat_category,
                vat_rate,
                service_date,
                quantity,
            } => NewLine {
                appointment_id: appointment,
                tariff_id: None,
                corrects_line_no: None,
                code,
                label,
                service_date,
                quantity,
                unit_price,
                vat_category,
                vat_rate,
                vat_exemption_reason: (vat_category == VatCategory::Exempt)
                    .then(|| MEDICAL_EXEMPTION.to_owned()),
                amounts: LineAmounts::compute(
                    quantity,
                    unit_price,
                    vat_rate,
                    Decimal::ZERO,
                    Currency::Eur,
                ),
            },
        };
        out.push(line);
    }
    Ok(out)
}

/// The line a tariff gives: a copy of what applied, so later tariff changes move nothing.
pub(crate) fn tariff_line(
    t: &tariffs::Tariff,
    service_date: NaiveDate,
    quantity: Decimal,
    appointment: Option<AppointmentId>,
) -> NewLine {
    NewLine {
        appointment_id: appointment,
        tariff_id: Some(t.tariff_id),
        corrects_line_no: None,
        code: t.code.clone(),
        label: t.label.clone(),
        service_date,
        quantity,
        unit_price: t.fee,
        vat_category: t.vat_category,
        vat_rate: t.vat_rate,
        vat_exemption_reason: t.vat_exemption_reason.clone(),
        amounts: LineAmounts::compute(quantity, t.fee, t.vat_rate, t.insurer_share, Currency::Eur),
    }
}

/// Where a draft comes from: a completed appointment, a rejected claim line, or neither
/// (billing staff).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Origin {
    pub(crate) appointment: Option<AppointmentId>,
    pub(crate) rebills: Option<ClaimLineId>,
}

/// A new draft for `patient` in the patient's language, with `lines`; `None` when its
/// appointment already has its invoice.
pub(crate) async fn draft(
    tx: &mut TenantTx,
    practice: PracticeId,
    (patient, payer): (PatientId, Option<PayerId>),
    Origin {
        appointment,
        rebills,
    }: Origin,
    lines: &[NewLine],
) -> Result<Option<Row>, InvoiceError> {
    check_count(0, lines.len())?;
    if let Some(payer) = payer {
        let known: bool =
            sqlx::query_scalar("select exists (select 1 from invoicing.payer where payer_id = $1)")
                .bind(payer)
                .fetch_one(&mut **tx)
                .await?;
        if !known {
            return Err(InvoiceError::PayerNotFound);
        }
    }
    let language: String =
        sqlx::query_scalar("select preferred_language from core.patient where patient_id = $1")
            .bind(patient)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(InvoiceError::PatientNotFound)?;
    let new = NewInvoice {
        kind: InvoiceKind::Invoice,
        patient,
        appointment,
        corrects: None,
        payer,
        language,
        rebills,
    };
    let Some(row) = store::insert(tx, practice, &new).await? else {
        return Ok(None);
    };
    if lines.is_empty() {
        return Ok(Some(row));
    }
    Ok(Some(
        store::add_lines(tx, practice, row.invoice_id, lines).await?,
    ))
}

fn check_count(current: i32, adding: usize) -> Result<(), InvoiceError> {
    let adding = i32::try_from(adding).unwrap_or(i32::MAX);
    if current.saturating_add(adding) > MAX_LINES {
        return Err(InvoiceError::TooManyLines(MAX_LINES));
    }
    Ok(())
}

fn require_draft(current: &Row) -> Result<(), InvoiceError> {
    if current.status == InvoiceStatus::Draft {
        Ok(())
    } else {
        Err(InvoiceError::NotDraft(current.status))
    }
}

/// Adds lines to a draft.
pub(crate) async fn add_lines(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    lines: &[NewLine],
) -> Result<Row, InvoiceError> {
    require_draft(current)?;
    check_count(current.line_count, lines.len())?;
    Ok(store::add_lines(tx, practice, current.invoice_id, lines).await?)
}

/// Removes a line from a draft.
pub(crate) async fn remove_line(
    tx: &mut TenantTx,
    current: &Row,
    line_no: i32,
) -> Result<Row, InvoiceError> {
    require_draft(current)?;
    if !store::delete_line(tx, current.invoice_id, line_no).await? {
        return Err(InvoiceError::LineNotFound {
            line_no,
            field: "line_no".into(),
        });
    }
    Ok(store::refresh_totals(tx, current.invoice_id).await?)
}

/// Throws a draft away.
pub(crate) async fn discard(tx: &mut TenantTx, current: &Row) -> Result<(), InvoiceError> {
    require_draft(current)?;
    Ok(store::delete_draft(tx, current.invoice_id).await?)
}

/// Issues a draft: the next number of its series and year, the issue and due dates, the
/// payment reference. From here on the database refuses any change but its payment state.
///
/// The number is taken by the last statement, so the series' counter stays locked only for
/// that statement and the caller's commit: write the audit row before calling this.
pub(crate) async fn issue(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    by: Option<StaffId>,
) -> Result<Row, InvoiceError> {
    if current.status != InvoiceStatus::Draft {
        return Err(InvoiceError::InvalidTransition {
            from: current.status,
            verb: "issue",
        });
    }
    if current.line_count == 0 {
        return Err(InvoiceError::Empty);
    }
    let (s, place) = settings::load_with_place(tx).await?;
    s.check_complete()?;
    let today = place.today();
    let (prefix, due, reference) = match (current.kind, place.country) {
        (InvoiceKind::Invoice, country) => (
            s.invoice_prefix.as_str(),
            today
                .checked_add_days(Days::new(u64::try_from(s.payment_terms_days).unwrap_or(30)))
                .unwrap_or(today),
            if country == Country::BE {
                Reference::Structured
            } else {
                Reference::Number
            },
        ),
        (InvoiceKind::CreditNote, _) => (s.credit_note_prefix.as_str(), today, Reference::None),
    };
    events::issued(tx, practice, current).await?;
    let row = store::set_issued(
        tx,
        practice,
        current.invoice_id,
        &Issue {
            kind: current.kind,
            year: today.year(),
            prefix,
            digits: s.number_digits,
            reference,
            issue_date: today,
            due_date: due,
            by,
        },
    )
    .await?;
    Ok(row)
}

/// Corrects an issued invoice with a credit note: every line not yet credited, or the lines
/// named (`line_nos`, each at most once over all credit notes). The credit note copies the
/// lines' amounts exactly, is numbered in its own series at once, and the invoice's payment
/// state follows. Answers the credit note and the invoice.
pub(crate) async fn credit(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    line_nos: Option<&[i32]>,
    by: Option<StaffId>,
) -> Result<(Row, Row), InvoiceError> {
    if current.kind == InvoiceKind::CreditNote {
        return Err(InvoiceError::CreditNote("credited"));
    }
    if !current.status.can_be_credited() {
        return Err(InvoiceError::InvalidTransition {
            from: current.status,
            verb: "credit",
        });
    }
    let lines = store::lines(tx, current.invoice_id).await?;
    let already = store::credited_lines(tx, current.invoice_id).await?;
    let chosen: Vec<&LineRow> = match line_nos {
        None => lines
            .iter()
            .filter(|l| !already.contains(&l.line_no))
            .collect(),
        Some(nos) => {
            let mut chosen = Vec::with_capacity(nos.len());
            for (i, no) in nos.iter().enumerate() {
                let field = format!("line_nos[{i}]");
                let line = lines.iter().find(|l| l.line_no == *no).ok_or_else(|| {
                    InvoiceError::LineNotFound {
                        line_no: *no,
                        field: field.clone(),
                    }
                })?;
                if already.contains(no) || nos[..i].contains(no) {
                    return Err(InvoiceError::LineAlreadyCredited {
                        line_no: *no,
                        field,
                    });
                }
                chosen.push(line);
            }
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(InvoiceError::InvalidTransition {
            from: current.status,
            verb: "credit again",
        });
    }
    let copies: Vec<NewLine> = chosen.iter().map(|l| credit_line(l)).collect();
    let new = NewInvoice {
        kind: InvoiceKind::CreditNote,
        patient: current.patient_id,
        appointment: None,
        corrects: Some(current.invoice_id),
        payer: current.payer_id,
        language: current.language.clone(),
        rebills: None,
    };
    let note = store::insert(tx, practice, &new)
        .await?
        .ok_or(InvoiceError::NotFound)?;
    let note = store::add_lines(tx, practice, note.invoice_id, &copies).await?;
    let note = issue(tx, practice, &note, by).await?;
    let s = Settlement {
        credited: current.credited + note.total,
        credited_patient: current.credited_patient + note.patient_total,
        ..current.settlement()
    };
    let invoice =
        store::set_settlement(tx, current.invoice_id, s.status(current.status), &s).await?;
    Ok((note, invoice))
}

/// A credit note line taking back `l` exactly.
fn credit_line(l: &LineRow) -> NewLine {
    let m = |d: Decimal| domain::money::Money::new(d, Currency::Eur);
    NewLine {
        appointment_id: l.appointment_id,
        tariff_id: l.tariff_id,
        corrects_line_no: Some(l.line_no),
        code: l.code.clone(),
        label: l.label.clone(),
        service_date: l.service_date,
        quantity: l.quantity,
        unit_price: l.unit_price,
        vat_category: l.vat_category,
        vat_rate: l.vat_rate,
        vat_exemption_reason: l.vat_exemption_reason.clone(),
        amounts: LineAmounts {
            net: m(l.net_amount),
            vat: m(l.vat_amount),
            insurer: m(l.insurer_share),
            patient: m(l.patient_share),
        },
    }
}

/// Records money received for an issued invoice. Partial payments and overpayments are
/// accepted (an overpayment shows as a negative balance, to refund).
pub(crate) async fn record_payment(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    payment: &NewPayment<'_>,
) -> Result<(PaymentRow, Row), InvoiceError> {
    if current.kind == InvoiceKind::CreditNote {
        return Err(InvoiceError::CreditNote("paid"));
    }
    if !current.status.accepts_payment() {
        return Err(InvoiceError::InvalidTransition {
            from: current.status,
            verb: "record a payment on",
        });
    }
    let row = store::insert_payment(tx, practice, current.invoice_id, payment).await?;
    let s = Settlement {
        paid: current.paid + payment.amount,
        ..current.settlement()
    };
    let invoice =
        store::set_settlement(tx, current.invoice_id, s.status(current.status), &s).await?;
    Ok((row, invoice))
}

/// Records money Stripe took for an invoice. Unlike a desk payment it is never refused: the
/// money is there, whatever the invoice's state. What it pays beyond what was owed (a second
/// payment, a payment of a credited invoice) is returned as the excess, to refund.
pub(crate) async fn record_online_payment(
    tx: &mut TenantTx,
    practice: PracticeId,
    current: &Row,
    payment: &NewPayment<'_>,
) -> Result<(PaymentRow, Row, Decimal), InvoiceError> {
    let owed = current.settlement().balance().max(Decimal::ZERO);
    let row = store::insert_payment(tx, practice, current.invoice_id, payment).await?;
    let s = Settlement {
        paid: current.paid + payment.amount,
        ..current.settlement()
    };
    let invoice =
        store::set_settlement(tx, current.invoice_id, s.status(current.status), &s).await?;
    let excess = (payment.amount - owed).max(Decimal::ZERO);
    Ok((row, invoice, excess))
}

/// Money went back to the patient (`returned`), or a refund that had succeeded failed after
/// all (`!returned`): what the invoice counts as paid follows.
pub(crate) async fn settle_refund(
    tx: &mut TenantTx,
    current: &Row,
    amount: Decimal,
    returned: bool,
) -> Result<Row, InvoiceError> {
    let paid = if returned {
        current.paid - amount
    } else {
        current.paid + amount
    };
    let s = Settlement {
        paid,
        ..current.settlement()
    };
    Ok(store::set_settlement(tx, current.invoice_id, s.status(current.status), &s).await?)
}

/// Gives up on what is still owed on an issued invoice.
pub(crate) async fn write_off(tx: &mut TenantTx, current: &Row) -> Result<Row, InvoiceError> {
    if current.kind == InvoiceKind::CreditNote {
        return Err(InvoiceError::CreditNote("written off"));
    }
    if !current.status.accepts_payment() {
        return Err(InvoiceError::InvalidTransition {
            from: current.status,
            verb: "write off",
        });
    }
    Ok(store::set_settlement(
        tx,
        current.invoice_id,
        InvoiceStatus::WrittenOff,
        &current.settlement(),
    )
    .await?)
}

/// The payment method a staff member may record by hand (Stripe payments come from Stripe).
pub(crate) fn manual_method(m: PaymentMethod) -> bool {
    m != PaymentMethod::Stripe
}
