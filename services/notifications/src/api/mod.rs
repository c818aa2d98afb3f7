//! Staff API: message settings, reminder rules, templates, what happened to each message, dead
//! messages, and replies kept for staff.

mod messages;
mod provider;
mod replies;
mod settings;
mod templates;

pub use messages::*;
pub use provider::*;
pub use replies::*;
pub use settings::*;
pub use templates::*;

use axum::Router;
use axum::routing::{get, post, put};
use platform::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/notifications/settings",
            get(get_notification_settings).put(put_notification_settings),
        )
        .route(
            "/v1/notifications/reminder-rules",
            get(get_rules).put(put_rules),
        )
        .route("/v1/notifications/templates", get(list_templates))
        .route(
            "/v1/notifications/templates/{kind}/{language}",
            put(put_template).delete(delete_template),
        )
        .route("/v1/notifications/messages", get(attention_messages))
        .route(
            "/v1/notifications/messages/{message_id}/retry",
            post(retry_message),
        )
        .route(
            "/v1/appointments/{appointment_id}/messages",
            get(appointment_messages),
        )
        .route("/v1/patients/{patient_id}/messages", get(patient_messages))
        .route(
            "/v1/notifications/provider",
            get(get_provider).put(put_provider).delete(delete_provider),
        )
        .route("/v1/notifications/replies", get(list_replies))
        .route(
            "/v1/notifications/replies/{reply_id}/handled",
            post(handle_reply),
        )
}
