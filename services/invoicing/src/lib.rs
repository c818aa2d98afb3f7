//! Invoicing: the practice's invoicing details, tariffs, invoices and credit notes with gapless
//! numbers, and payments. Stripe (payment links, webhooks) lives in [`stripe`].
//!
//! Money follows `domain::money`: each line is rounded once, half away from zero, to cents;
//! totals are sums of lines. An invoice's states are `domain::invoice`'s; once issued, the
//! database itself refuses any change but its payment state.

pub mod bank;
pub mod documents;
mod error;
mod events;
pub mod invoices;
pub mod payers;
mod place;
pub mod receivables;
pub mod reminders;
pub mod settings;
pub mod stripe;
pub mod tariffs;

pub use invoices::numbering;

use platform::{ApiRouter, AppState};

/// This service's routes.
pub fn router() -> ApiRouter {
    ApiRouter::with_openapi(<Api as utoipa::OpenApi>::openapi())
        .merge(settings::router())
        .merge(tariffs::router())
        .merge(invoices::router())
        .merge(receivables::router())
        .merge(documents::routes::router())
        .merge(payers::router())
        .merge(stripe::router())
        .merge(bank::router())
}

/// The queues this service consumes.
pub fn workers(state: &AppState) -> Vec<platform::jobs::Consumer> {
    use domain::jobs::{DraftInvoice, RebillClaim, RenderDocuments, SendRefund, StripeEvent};
    use platform::jobs::Consumer;
    let (s1, s2, s3, s4, s5) = (
        state.clone(),
        state.clone(),
        state.clone(),
        state.clone(),
        state.clone(),
    );
    vec![
        Consumer::of::<DraftInvoice, _, _>(8, 2, move |job| {
            let state = s1.clone();
            async move {
                let drafted = invoices::draft::draft_invoice(&state, job).await?;
                Ok(format!("{drafted:?}"))
            }
        }),
        Consumer::of::<RenderDocuments, _, _>(8, 2, move |job| {
            let state = s2.clone();
            async move { Ok(documents::render_documents(&state, job).await?.to_owned()) }
        }),
        Consumer::typed::<StripeEvent, _, _>(32, 16, move |job| {
            let state = s3.clone();
            async move {
                Ok(format!(
                    "{:?}",
                    stripe::apply::apply_event(&state, job).await?
                ))
            }
        }),
        Consumer::typed::<SendRefund, _, _>(8, 2, move |job| {
            let state = s4.clone();
            async move {
                Ok(format!(
                    "{:?}",
                    stripe::refunds::send_refund(&state, job).await?
                ))
            }
        }),
        Consumer::typed::<RebillClaim, _, _>(8, 2, move |job| {
            let state = s5.clone();
            async move {
                Ok(match invoices::rebill::rebill_claim(&state, job).await? {
                    Some(id) => format!("drafted {id}"),
                    None => "nothing to draft".to_owned(),
                })
            }
        }),
    ]
}

/// What this service adds to the OpenAPI description besides its routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(domain::CheckoutId)),
    tags((name = "invoicing", description = "Tariffs, invoices, credit notes and payments"),
         (name = "payment pages", description = "The patient's pages behind a payment link (HTML, no session): the link's page, the pay button that opens a Stripe Checkout Session, and the pages Stripe sends the patient back to"))
)]
pub struct Api;
