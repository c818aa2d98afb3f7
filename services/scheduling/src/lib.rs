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

use axum::Router;
use platform::AppState;

/// This service's routes.
pub fn router() -> Router<AppState> {
    Router::new()
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

/// This service's OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        resources::create_practitioner,
        resources::list_practitioners,
        resources::update_practitioner,
        resources::create_room,
        resources::list_rooms,
        resources::create_appointment_type,
        resources::list_appointment_types,
        resources::update_appointment_type,
        hours::put_working_hours,
        hours::get_working_hours,
        hours::create_exception,
        hours::list_exceptions,
        hours::delete_exception,
        hours::create_closure,
        hours::list_closures,
        hours::delete_closure,
        hours::apply_holidays,
        availability::search_availability,
        appointments::book_appointment,
        appointments::hold_slot,
        appointments::confirm_hold,
        appointments::get_appointment,
        appointments::reschedule_appointment,
        appointments::cancel_appointment,
        appointments::complete_appointment,
        appointments::no_show_appointment,
        agenda::get_agenda,
        agenda::patient_appointments,
        series::create_series,
        series::reschedule_following,
        series::cancel_following,
        waitlist::join_waitlist,
        waitlist::list_waitlist,
        waitlist::leave_waitlist,
        waitlist::list_offers,
        waitlist::accept_offer,
        settings::get_scheduling_settings,
        settings::put_scheduling_settings,
    ),
    tags((name = "scheduling", description = "Practitioners, working hours, availability and appointments"))
)]
pub struct Api;
