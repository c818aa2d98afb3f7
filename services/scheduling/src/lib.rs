//! Scheduling: practitioners, rooms, appointment types, working hours, exceptions, closures,
//! availability search and conflict-free booking.
//!
//! Time rules: instants are stored as `timestamptz`; working hours are wall-clock times in the
//! practice's IANA zone and are turned into instants per date (`domain::schedule`), so slots,
//! reminders and recurrences land on the intended local time across DST changes. The API
//! answers instants with the practice's UTC offset (`2026-10-25T02:30:00+01:00`), which keeps
//! autumn-overlap times unambiguous.

pub mod agenda;
pub mod appointments;
pub mod availability;
mod events;
pub mod hours;
pub mod replies;
pub mod resources;
pub mod series;
pub mod settings;
pub mod waitlist;
mod zone;

use platform::{ApiRouter, AppState};

/// This service's routes, with their OpenAPI description.
pub fn router() -> ApiRouter {
    ApiRouter::with_openapi(<Api as utoipa::OpenApi>::openapi())
        .merge(resources::router())
        .merge(hours::router())
        .merge(availability::router())
        .merge(appointments::router())
        .merge(agenda::router())
        .merge(series::router())
        .merge(waitlist::router())
        .merge(settings::router())
}

/// The queues this service consumes.
pub fn workers(state: &AppState) -> Vec<platform::jobs::Consumer> {
    use domain::jobs::{PatientReply, SlotFreed};
    use platform::jobs::Consumer;
    let (s1, s2) = (state.clone(), state.clone());
    vec![
        Consumer::of::<SlotFreed, _, _>(8, 2, move |job| {
            let state = s1.clone();
            async move {
                let offers = waitlist::offer_freed_slot(&state, job).await?;
                Ok(format!("{offers} offers"))
            }
        }),
        Consumer::of::<PatientReply, _, _>(8, 2, move |job| {
            let state = s2.clone();
            async move { Ok(format!("{:?}", replies::patient_reply(&state, job).await?)) }
        }),
    ]
}

/// What this service adds to the OpenAPI description besides its routes (which `router()`
/// registers once, each with its path).
#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "scheduling", description = "Practitioners, working hours, availability and appointments"))
)]
pub struct Api;
