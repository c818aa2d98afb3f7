//! A message's life: its state, and the reasons a message is not sent.
//!
//! ```text
//! scheduled ─▶ sending ─▶ sent ─▶ delivered | failed | expired   (delivery reports)
//!     │           │ ╲──▶ retrying ─▶ sending …      ╲──▶ dead    (retries exhausted, or refused)
//!     ╰───────────┴──▶ skipped | cancelled                       (no longer wanted)
//! ```

use crate::vocabulary;

vocabulary! {
    /// Where a message stands.
    pub enum MessageState {
        /// Waiting for its time.
        Scheduled = "scheduled",
        /// An attempt started; its outcome is not recorded yet (in doubt after a crash).
        Sending = "sending",
        /// Waiting for the next attempt after a retryable error.
        Retrying = "retrying",
        /// Accepted by the provider.
        Sent = "sent",
        /// Reported delivered (every part).
        Delivered = "delivered",
        /// Reported undeliverable, or refused for good.
        Failed = "failed",
        /// Reported expired by the network.
        Expired = "expired",
        /// Not sent: no longer wanted, or not allowed (see the reason).
        Skipped = "skipped",
        /// Not sent: the appointment it was about changed.
        Cancelled = "cancelled",
        /// Retries exhausted; listed for staff.
        Dead = "dead",
    }
}

impl MessageState {
    /// Whether a send attempt may still be made.
    pub const fn is_pending(self) -> bool {
        matches!(
            self,
            MessageState::Scheduled | MessageState::Sending | MessageState::Retrying
        )
    }

    /// Whether a delivery report settled it: later reports are recorded but change nothing.
    pub const fn is_reported_final(self) -> bool {
        matches!(
            self,
            MessageState::Delivered | MessageState::Failed | MessageState::Expired
        )
    }

    /// Whether staff should look at it.
    pub const fn needs_attention(self) -> bool {
        matches!(self, MessageState::Dead | MessageState::Failed)
    }
}

vocabulary! {
    /// Why a message was not sent.
    pub enum SkipReason {
        /// The appointment moved or was cancelled after the message was planned.
        AppointmentChanged = "appointment_changed",
        /// Too close to the appointment to be useful.
        TooLate = "too_late",
        /// The patient has no mobile number.
        NoMobileNumber = "no_mobile_number",
        /// The patient restricted processing (GDPR art. 18).
        ProcessingRestricted = "processing_restricted",
        /// The patient gave no SMS consent, or withdrew it.
        NoSmsConsent = "no_sms_consent",
        /// The number was reported unreachable.
        MobileNumberFlagged = "mobile_number_flagged",
        /// The next allowed time is past the latest useful time.
        QuietHours = "quiet_hours",
        /// A payment message whose invoice was paid, credited or written off meanwhile.
        InvoiceSettled = "invoice_settled",
    }
}

impl SkipReason {
    /// The state a message ends in for this reason.
    pub const fn state(self) -> MessageState {
        match self {
            SkipReason::AppointmentChanged | SkipReason::InvoiceSettled => MessageState::Cancelled,
            _ => MessageState::Skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_final_and_attention_states_do_not_overlap() {
        for s in MessageState::ALL {
            assert!(
                !(s.is_pending() && s.is_reported_final()),
                "{s} is pending and final"
            );
        }
        assert!(MessageState::Failed.needs_attention() && MessageState::Dead.needs_attention());
        assert!(!MessageState::Skipped.needs_attention());
    }

    #[test]
    fn only_a_changed_appointment_or_a_settled_invoice_cancels_a_message() {
        for r in SkipReason::ALL {
            let expected = if matches!(
                r,
                SkipReason::AppointmentChanged | SkipReason::InvoiceSettled
            ) {
                MessageState::Cancelled
            } else {
                MessageState::Skipped
            };
            assert_eq!(r.state(), expected);
        }
    }
}
