//! Provider callbacks: delivery reports and inbound messages (replies).
//!
//! Authentication: every callback URL carries the secret token `SMS_CALLBACK_TOKEN` in its
//! path; LINK platform gates also send the Basic credentials stored on the gate
//! (`LINK_GATE_USERNAME`/`LINK_GATE_PASSWORD`). A wrong token is answered 404 (nothing to
//! discover), wrong credentials 401, a malformed body 400. Reports about messages we do not
//! know are acknowledged (so the provider stops retrying) and change nothing; a replayed report
//! or inbound message matches its earlier row and changes nothing. Every callback is counted
//! in `sms_callbacks_total{kind, result}`.
//!
//! Callbacks carry no tenant. Our reference (the message id) or the sender's number is looked up
//! in `notifications.route` in a read-only transaction with `app.routing = on`; the work itself
//! then runs inside the practice's tenant.
//!
//! The parts: [`auth`] checks a callback, [`reports`] applies delivery reports, [`inbound`]
//! applies replies;
//! [`link`] and [`smsapi`] are each provider's callback routes (their wire types live with the
//! provider, in `crate::providers`).

mod auth;
mod inbound;
mod link;
mod reports;
mod smsapi;

pub(crate) use inbound::reply_field;
pub use inbound::{Inbound, apply_inbound};
pub(crate) use link::{__path_link_dlr, __path_link_mo, link_dlr, link_mo};
pub use reports::{Applied, apply_report};
pub(crate) use smsapi::{
    __path_smsapi_dlr_get, __path_smsapi_dlr_post, __path_smsapi_mo, smsapi_dlr_get,
    smsapi_dlr_post, smsapi_mo,
};

use platform::ApiRouter;
use utoipa_axum::routes;

/// The callback routes (no session; see the module docs).
pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(link_dlr))
        .routes(routes!(link_mo))
        .routes(routes!(smsapi_dlr_get, smsapi_dlr_post))
        .routes(routes!(smsapi_mo))
}
