//! Stripe: what online payment needs from it and nothing more (shared/reference/stripe.md).
//!
//! - [`client`]: the calls (Checkout Sessions, refunds, the event list), each from a request
//!   type that has room only for what the call needs, through the egress gate, with an
//!   idempotency key from a row written before the call;
//! - [`links`]: payment links `PUBLIC_URL/p/<token>` for staff and reminders;
//! - [`checkout`] and [`pages`]: the patient's side — the page behind a link, the session
//!   opened just in time, the pages Stripe sends the patient back to;
//! - [`signature`], [`event`], [`webhook`]: `POST /v1/hooks/stripe` — verified on the raw
//!   body, reduced to whitelisted fields, stored once per event id;
//! - [`apply`]: the job that applies stored events in any order with the same result;
//! - [`refunds`]: refunds asked for by staff or for money paid twice;
//! - [`reconcile`]: lists recent events and stores those no webhook brought.
//!
//! Each practice is paid into its own Stripe account, connected to the operator's platform
//! account (Stripe Connect): calls carry `Stripe-Account`, events name `account`.

pub mod apply;
pub(crate) mod checkout;
pub mod client;
pub(crate) mod event;
pub mod links;
pub mod pages;
pub mod reconcile;
pub mod refunds;
pub mod signature;
pub mod webhook;

use platform::ApiRouter;
use utoipa_axum::routes;

pub use links::PaymentLink;
pub use refunds::NewRefund;

/// Staff routes, the patient's pages and the webhook.
pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(links::create_payment_link))
        .routes(routes!(refunds::create_refund))
        .routes(routes!(webhook::stripe_webhook))
        .routes(routes!(pages::payment_page))
        .routes(routes!(pages::pay))
        .routes(routes!(pages::done))
        .routes(routes!(pages::back))
        .routes(routes!(pages::stylesheet))
}
