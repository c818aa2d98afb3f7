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

#[cfg(test)]
mod tests {
    use super::InvoiceStatus::*;

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
