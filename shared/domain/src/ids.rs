//! Typed ids: a `PatientId` cannot be passed where a `StaffId` is expected. Each is a UUID on
//! the wire (serde transparent, an OpenAPI string of format uuid) and in the database (with the
//! `sqlx` feature: bound and decoded as `uuid`, so a row struct and a `bind` take the typed id).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! new_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

new_id!(
    /// A practice: the tenant, and the GDPR controller.
    PracticeId
);
new_id!(
    /// A staff account of one practice.
    StaffId
);
new_id!(
    /// A patient of one practice.
    PatientId
);
new_id!(
    /// A staff login session.
    SessionId
);
new_id!(
    /// One audit trail event.
    AuditId
);
new_id!(
    /// A time-boxed support access grant.
    SupportGrantId
);
new_id!(
    /// A practitioner of one practice (scheduling).
    PractitionerId
);
new_id!(
    /// An appointment (or a hold) in a practice's agenda.
    AppointmentId
);
new_id!(
    /// An appointment type (scheduling).
    AppointmentTypeId
);
new_id!(
    /// A room (scheduling).
    RoomId
);
new_id!(
    /// A patient message (notifications).
    MessageId
);
new_id!(
    /// A patient's SMS reply (notifications).
    ReplyId
);
new_id!(
    /// An invoice or a credit note.
    InvoiceId
);
new_id!(
    /// A tariff (one fee of an appointment type over a validity period).
    TariffId
);
new_id!(
    /// A payment received for an invoice.
    PaymentId
);
new_id!(
    /// Who pays a patient's invoices instead of the patient (a parent, an employer).
    PayerId
);
new_id!(
    /// A payment link (`/p/<token>`) of an invoice.
    PaymentLinkId
);
new_id!(
    /// One Checkout Session attempt: Stripe's `client_reference_id`.
    CheckoutId
);
new_id!(
    /// A refund of an online payment.
    RefundId
);
new_id!(
    /// A claim line: the insurer's share of one invoice or credit note line.
    ClaimLineId
);

new_id!(
    /// A claim batch: lines of one insurer and period, and the file made of them.
    ClaimBatchId
);

new_id!(
    /// A claim file sent to or received from an insurer.
    ClaimFileId
);

new_id!(
    /// A referral or prescription a patient's care rests on.
    ReferralId
);
