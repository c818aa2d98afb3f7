//! The closed vocabularies of `shared/domain` and the database's CHECK constraints list the
//! same spellings: a value added on one side only fails here, not in production.

use std::collections::BTreeSet;

use domain::appointment::{AppointmentStatus, ChangedVia};
use domain::claims::{BatchOutcome, BatchState, ClaimFormat, ClaimLineKind, ClaimLineState};
use domain::invoice::{InvoiceKind, InvoiceStatus, PayerKind, PaymentMethod, VatCategory};
use domain::message::MessageState;
use domain::waitlist::{EntryStatus, OfferStatus};
use praxis_tests::*;

/// The quoted values in a constraint's definition.
async fn constraint_values(app: &TestApp, name: &str) -> BTreeSet<String> {
    let def: String = sqlx::query_scalar(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = $1 limit 1",
    )
    .bind(name)
    .fetch_one(&app.owner)
    .await
    .unwrap_or_else(|e| panic!("constraint {name}: {e}"));
    def.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn spellings<T: Copy + Into<&'static str>>(all: &[T]) -> BTreeSet<String> {
    all.iter().map(|v| (*v).into().to_owned()).collect()
}

#[tokio::test]
async fn every_vocabulary_matches_its_check_constraint() {
    let app = spawn_app().await;
    let pairs = [
        ("appointment_status", spellings(AppointmentStatus::ALL)),
        ("appointment_confirmed_via", spellings(ChangedVia::ALL)),
        ("appointment_cancelled_via", spellings(ChangedVia::ALL)),
        ("message_state", spellings(MessageState::ALL)),
        ("waitlist_entry_status", spellings(EntryStatus::ALL)),
        ("waitlist_offer_status", spellings(OfferStatus::ALL)),
        ("invoice_status", spellings(InvoiceStatus::ALL)),
        ("invoice_kind", spellings(InvoiceKind::ALL)),
        ("payment_method", spellings(PaymentMethod::ALL)),
        ("tariff_vat_category", spellings(VatCategory::ALL)),
        ("invoice_line_vat_category", spellings(VatCategory::ALL)),
        ("payer_kind", spellings(PayerKind::ALL)),
        ("number_counter_series", spellings(InvoiceKind::ALL)),
        ("claim_line_state", spellings(ClaimLineState::ALL)),
        ("claim_line_kind", spellings(ClaimLineKind::ALL)),
        ("batch_state", spellings(BatchState::ALL)),
        ("batch_outcome", spellings(BatchOutcome::ALL)),
        ("batch_format", spellings(ClaimFormat::ALL)),
    ];
    for (constraint, rust) in pairs {
        assert_eq!(
            constraint_values(&app, constraint).await,
            rust,
            "{constraint} and the enum differ"
        );
    }
    // The overlap constraints (and the queries written to use their index) count exactly the
    // statuses that occupy a slot.
    let occupying: Vec<AppointmentStatus> = AppointmentStatus::ALL
        .iter()
        .copied()
        .filter(|s| s.occupies_slot())
        .collect();
    for constraint in ["appointment_no_overlap", "appointment_room_no_overlap"] {
        assert_eq!(
            constraint_values(&app, constraint).await,
            spellings(&occupying),
            "{constraint}"
        );
    }
}
