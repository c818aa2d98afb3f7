//! An appointment's life: its status and the transitions between them, and how it was
//! confirmed or cancelled. Pure rules; scheduling applies them.
//!
//! ```text
//! held ──confirm──▶ booked ──reschedule──▶ booked
//!  │  ╲                │ ╲────────────────▶ completed | no_show   (once it has started)
//!  │   ╲──lapse──▶ expired
//!  ╰──────cancel──────┴──────────────────▶ cancelled
//! ```

use crate::vocabulary;

vocabulary! {
    /// Where an appointment stands.
    pub enum AppointmentStatus {
        /// A slot kept for a few minutes while a booking is completed.
        Held = "held",
        /// Booked for a patient.
        Booked = "booked",
        /// It took place.
        Completed = "completed",
        /// Cancelled by staff or by the patient's reply.
        Cancelled = "cancelled",
        /// The patient did not come.
        NoShow = "no_show",
        /// A hold that lapsed.
        Expired = "expired",
    }
}

/// A change asked of an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A hold becomes a booking.
    Confirm,
    /// A booking moves.
    Reschedule,
    /// A hold or booking is called off.
    Cancel,
    /// A started booking took place.
    Complete,
    /// A started booking was missed.
    NoShow,
}

impl Transition {
    /// What the change is called in an error message.
    pub const fn verb(self) -> &'static str {
        match self {
            Transition::Confirm => "confirm",
            Transition::Reschedule => "reschedule",
            Transition::Cancel => "cancel",
            Transition::Complete => "complete",
            Transition::NoShow => "mark as no-show",
        }
    }
}

impl AppointmentStatus {
    /// The status `transition` leads to from `self`, or `None` when it is not allowed. Time
    /// conditions (a live hold, a started appointment) are the caller's to check.
    pub const fn after(self, transition: Transition) -> Option<AppointmentStatus> {
        use AppointmentStatus::*;
        match (self, transition) {
            (Held, Transition::Confirm) => Some(Booked),
            (Booked, Transition::Reschedule) => Some(Booked),
            (Held | Booked, Transition::Cancel) => Some(Cancelled),
            (Booked, Transition::Complete) => Some(Completed),
            (Booked, Transition::NoShow) => Some(NoShow),
            _ => None,
        }
    }

    /// Whether it occupies its slot (the overlap constraints count it).
    pub const fn occupies_slot(self) -> bool {
        matches!(self, AppointmentStatus::Held | AppointmentStatus::Booked)
    }

    /// Whether nothing can happen to it any more.
    pub const fn is_final(self) -> bool {
        !matches!(self, AppointmentStatus::Held | AppointmentStatus::Booked)
    }
}

vocabulary! {
    /// Who confirmed or cancelled an appointment.
    pub enum ChangedVia {
        /// Practice staff, through the API.
        Staff = "staff",
        /// The patient, by answering a reminder.
        PatientReply = "patient_reply",
    }
}

#[cfg(test)]
mod tests {
    use super::AppointmentStatus::*;
    use super::*;

    const ALL_TRANSITIONS: [Transition; 5] = [
        Transition::Confirm,
        Transition::Reschedule,
        Transition::Cancel,
        Transition::Complete,
        Transition::NoShow,
    ];

    #[test]
    fn final_statuses_allow_nothing() {
        for s in AppointmentStatus::ALL.iter().filter(|s| s.is_final()) {
            for t in ALL_TRANSITIONS {
                assert_eq!(s.after(t), None, "{s} {t:?}");
            }
        }
    }

    #[test]
    fn the_allowed_transitions_are_exactly_these() {
        let mut allowed = Vec::new();
        for s in AppointmentStatus::ALL {
            for t in ALL_TRANSITIONS {
                if let Some(to) = s.after(t) {
                    allowed.push((*s, t, to));
                }
            }
        }
        assert_eq!(
            allowed,
            vec![
                (Held, Transition::Confirm, Booked),
                (Held, Transition::Cancel, Cancelled),
                (Booked, Transition::Reschedule, Booked),
                (Booked, Transition::Cancel, Cancelled),
                (Booked, Transition::Complete, Completed),
                (Booked, Transition::NoShow, NoShow),
            ]
        );
    }

    #[test]
    fn only_held_and_booked_occupy_a_slot() {
        let occupying: Vec<_> = AppointmentStatus::ALL
            .iter()
            .filter(|s| s.occupies_slot())
            .collect();
        assert_eq!(occupying, [&Held, &Booked]);
    }
}
