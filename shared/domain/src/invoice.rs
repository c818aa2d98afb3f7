//! An invoice's life: its status and the transitions invoicing allows.
//!
//! ```text
//! draft ──issue──▶ issued ──pay──▶ partially_paid ──pay──▶ paid
//!                    │  ╲───────────────pay─────────────────▶ paid
//!                    ├──credit──▶ credited
//!                    ╰──write off──▶ written_off
//! ```
//! A draft has no number and may change; everything after `issued` is fixed in law: it is only
//! corrected by a credit note.

use rust_decimal::Decimal;

use crate::money::{Currency, Money};
use crate::vocabulary;

vocabulary! {
    /// Where an invoice stands.
    pub enum InvoiceStatus {
        /// Being prepared; no number yet.
        Draft = "draft",
        /// Numbered and sent; nothing paid.
        Issued = "issued",
        /// Some of it paid.
        PartiallyPaid = "partially_paid",
        /// Paid in full.
        Paid = "paid",
        /// Cancelled by a credit note for the full amount.
        Credited = "credited",
        /// Given up on.
        WrittenOff = "written_off",
    }
}

impl InvoiceStatus {
    /// Whether its content may still change.
    pub const fn is_editable(self) -> bool {
        matches!(self, InvoiceStatus::Draft)
    }

    /// Whether a payment can be recorded against it.
    pub const fn accepts_payment(self) -> bool {
        matches!(self, InvoiceStatus::Issued | InvoiceStatus::PartiallyPaid)
    }

    /// Whether a credit note can correct it.
    pub const fn can_be_credited(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Issued | InvoiceStatus::PartiallyPaid | InvoiceStatus::Paid
        )
    }
}

vocabulary! {
    /// An invoice or a credit note (each numbered in its own series).
    pub enum InvoiceKind {
        /// An invoice.
        Invoice = "invoice",
        /// A credit note correcting an invoice.
        CreditNote = "credit_note",
    }
}

vocabulary! {
    /// How a payment was received.
    pub enum PaymentMethod {
        /// Cash at the desk.
        Cash = "cash",
        /// The practice's card terminal.
        CardTerminal = "card_terminal",
        /// A bank transfer.
        BankTransfer = "bank_transfer",
        /// Online, through Stripe.
        Stripe = "stripe",
    }
}

vocabulary! {
    /// Who a payer is.
    pub enum PayerKind {
        /// A person (a parent, a guardian).
        Person = "person",
        /// A business or organisation (an employer for occupational care).
        Organisation = "organisation",
    }
}

vocabulary! {
    /// The VAT category of a line (UNCL5305 codes, as EN 16931 uses them).
    pub enum VatCategory {
        /// Exempt: medical care (EU VAT directive art. 132 1 c); needs an exemption reason.
        Exempt = "E",
        /// Standard-rated (a product sold at the desk).
        Standard = "S",
    }
}

/// The exemption reason of medical care (VATEX code list).
pub const MEDICAL_EXEMPTION: &str = "VATEX-EU-132-1C";

/// The amounts of one invoice line, each rounded once by the rule in [`crate::money`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmounts {
    /// `quantity × unit price`, before VAT.
    pub net: Money,
    /// VAT on `net` at the line's rate.
    pub vat: Money,
    /// What the insurer pays of `net + vat`.
    pub insurer: Money,
    /// What the patient pays: the rest, so the two shares always add up to the line.
    pub patient: Money,
}

impl LineAmounts {
    /// One line: `quantity` units at `unit_price`, VAT at `vat_rate` percent, the insurer
    /// paying `insurer_unit` per unit (capped at the line's gross amount).
    pub fn compute(
        quantity: Decimal,
        unit_price: Decimal,
        vat_rate: Decimal,
        insurer_unit: Decimal,
        currency: Currency,
    ) -> LineAmounts {
        let net = Money::line(unit_price, quantity, currency);
        let vat = Money::rounded(net.amount() * vat_rate / Decimal::ONE_HUNDRED, currency);
        let gross = net + vat;
        let insurer = Money::line(insurer_unit, quantity, currency);
        let insurer = if insurer.amount() > gross.amount() {
            gross
        } else {
            insurer
        };
        LineAmounts {
            net,
            vat,
            insurer,
            patient: gross - insurer,
        }
    }

    /// The line's total, VAT included.
    pub fn gross(&self) -> Money {
        self.net + self.vat
    }
}

/// The totals of a document: sums of its rounded lines, never rounded again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Sum of line nets.
    pub net: Money,
    /// Sum of line VAT.
    pub vat: Money,
    /// Sum of insurer shares.
    pub insurer: Money,
    /// Sum of patient shares.
    pub patient: Money,
}

impl Totals {
    /// The totals of `lines`.
    pub fn of(currency: Currency, lines: &[LineAmounts]) -> Totals {
        let zero = Money::zero(currency);
        lines.iter().fold(
            Totals {
                net: zero,
                vat: zero,
                insurer: zero,
                patient: zero,
            },
            |t, l| Totals {
                net: t.net + l.net,
                vat: t.vat + l.vat,
                insurer: t.insurer + l.insurer,
                patient: t.patient + l.patient,
            },
        )
    }

    /// The grand total.
    pub fn total(&self) -> Money {
        self.net + self.vat
    }
}

/// The amounts that decide where an issued invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The invoice's total.
    pub total: Decimal,
    /// What credit notes took off it.
    pub credited: Decimal,
    /// The patient's share of the total.
    pub patient_total: Decimal,
    /// What credit notes took off the patient's share.
    pub credited_patient: Decimal,
    /// What the patient paid.
    pub paid: Decimal,
}

impl Settlement {
    /// What the patient still owes (negative: paid too much).
    pub fn balance(&self) -> Decimal {
        self.patient_total - self.credited_patient - self.paid
    }

    /// Where an issued invoice stands: credited in full, paid (the patient's payments cover
    /// the patient share that credits left), partly paid, or open. Written-off invoices and
    /// drafts stay as they are.
    pub fn status(&self, current: InvoiceStatus) -> InvoiceStatus {
        if matches!(current, InvoiceStatus::WrittenOff | InvoiceStatus::Draft) {
            return current;
        }
        if self.credited >= self.total {
            InvoiceStatus::Credited
        } else if self.paid > Decimal::ZERO && self.balance() <= Decimal::ZERO {
            InvoiceStatus::Paid
        } else if self.paid > Decimal::ZERO {
            InvoiceStatus::PartiallyPaid
        } else {
            InvoiceStatus::Issued
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InvoiceStatus::*;
    use super::*;
    use proptest::prelude::*;

    fn cents(c: i64) -> Decimal {
        Decimal::new(c, 2)
    }

    proptest! {
        #[test]
        fn shares_add_up_to_the_line_and_lines_to_the_total(
            lines in proptest::collection::vec((1i64..=400, 0i64..=2_000_000, prop_oneof![Just(0i64), Just(600), Just(2100)], 0i64..=2_500_000), 1..20)
        ) {
            let computed: Vec<LineAmounts> = lines.iter().map(|&(q, unit, rate, ins)| {
                LineAmounts::compute(cents(q * 25), Decimal::new(unit, 4), cents(rate), Decimal::new(ins, 4), Currency::Eur)
            }).collect();
            for l in &computed {
                prop_assert_eq!(l.insurer + l.patient, l.gross());
                prop_assert!(!l.patient.is_negative() && !l.insurer.is_negative());
                prop_assert_eq!(l.net.amount().scale() <= 2, true);
            }
            let total = Money::sum(Currency::Eur, computed.iter().map(|l| l.gross())).unwrap();
            let shares = Money::sum(Currency::Eur, computed.iter().flat_map(|l| [l.insurer, l.patient])).unwrap();
            let parts = Money::sum(Currency::Eur, computed.iter().flat_map(|l| [l.net, l.vat])).unwrap();
            prop_assert_eq!(total, shares);
            prop_assert_eq!(total, parts);
        }

        #[test]
        fn credit_notes_of_some_lines_each_negate_the_invoice_exactly(
            lines in proptest::collection::vec((1i64..=400, 0i64..=2_000_000, 0i64..=2_500_000), 1..12),
            split in proptest::collection::vec(0usize..3, 12)
        ) {
            // An invoice's lines credited in up to three credit notes (whole lines each): the
            // credit notes together equal the invoice, component by component.
            let computed: Vec<LineAmounts> = lines.iter().map(|&(q, unit, ins)| {
                LineAmounts::compute(cents(q * 25), Decimal::new(unit, 4), Decimal::ZERO, Decimal::new(ins, 4), Currency::Eur)
            }).collect();
            let invoice = Totals::of(Currency::Eur, &computed);
            let notes: Vec<Totals> = (0..3).map(|n| {
                let mine: Vec<LineAmounts> = computed.iter().enumerate().filter(|(i, _)| split[*i] == n).map(|(_, l)| *l).collect();
                Totals::of(Currency::Eur, &mine)
            }).collect();
            let sum = |f: fn(&Totals) -> Money| Money::sum(Currency::Eur, notes.iter().map(f)).unwrap();
            prop_assert_eq!(sum(|t| t.net), invoice.net);
            prop_assert_eq!(sum(|t| t.vat), invoice.vat);
            prop_assert_eq!(sum(|t| t.insurer), invoice.insurer);
            prop_assert_eq!(sum(|t| t.patient), invoice.patient);
            prop_assert_eq!(invoice.insurer + invoice.patient, invoice.total());
        }
    }

    #[test]
    fn the_status_follows_the_amounts() {
        // An invoice of 100.00 of which the patient owes 40.00.
        let s = |credited: i64, credited_patient: i64, paid: i64| {
            Settlement {
                total: cents(10_000),
                credited: cents(credited),
                patient_total: cents(4_000),
                credited_patient: cents(credited_patient),
                paid: cents(paid),
            }
            .status(Issued)
        };
        assert_eq!(s(0, 0, 0), Issued);
        assert_eq!(s(0, 0, 1), PartiallyPaid);
        assert_eq!(s(0, 0, 4_000), Paid);
        assert_eq!(s(0, 0, 5_000), Paid);
        assert_eq!(s(5_000, 2_000, 2_000), Paid);
        assert_eq!(s(5_000, 2_000, 1_000), PartiallyPaid);
        assert_eq!(s(10_000, 4_000, 0), Credited);
        assert_eq!(s(10_000, 4_000, 4_000), Credited);
        let written_off = Settlement {
            total: cents(1),
            credited: cents(0),
            patient_total: cents(1),
            credited_patient: cents(0),
            paid: cents(1),
        };
        assert_eq!(written_off.status(WrittenOff), WrittenOff);
        assert_eq!(written_off.balance(), Decimal::ZERO);
    }

    #[test]
    fn only_drafts_change_and_only_open_invoices_take_payments() {
        assert!(Draft.is_editable());
        for s in [Issued, PartiallyPaid, Paid, Credited, WrittenOff] {
            assert!(!s.is_editable(), "{s}");
        }
        assert!(Issued.accepts_payment() && PartiallyPaid.accepts_payment());
        for s in [Draft, Paid, Credited, WrittenOff] {
            assert!(!s.accepts_payment(), "{s}");
            assert_eq!(s.can_be_credited(), s == Paid, "{s}");
        }
    }
}
