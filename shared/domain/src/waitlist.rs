//! The waitlist's vocabularies: where an entry stands, and what became of an offer.
//!
//! ```text
//! entry:  waiting ─▶ booked (an offer was accepted) | withdrawn (staff removed it)
//! offer:  open ─▶ accepted | declined | taken (someone else was faster) | expired
//! ```

use crate::vocabulary;

vocabulary! {
    /// Where a waitlist entry stands.
    pub enum EntryStatus {
        /// Waiting for a freed slot.
        Waiting = "waiting",
        /// Booked from an offer.
        Booked = "booked",
        /// Removed by staff.
        Withdrawn = "withdrawn",
    }
}

vocabulary! {
    /// What became of an offer of a freed slot.
    pub enum OfferStatus {
        /// Can be accepted until it expires.
        Open = "open",
        /// Accepted: the appointment is booked.
        Accepted = "accepted",
        /// Declined by the patient.
        Declined = "declined",
        /// Another entry accepted the same slot first.
        Taken = "taken",
        /// Not accepted in time.
        Expired = "expired",
    }
}
