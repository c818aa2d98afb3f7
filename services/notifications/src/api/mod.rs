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

use platform::ApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(
            get_notification_settings,
            put_notification_settings
        ))
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(list_templates))
        .routes(routes!(put_template, delete_template))
        .routes(routes!(attention_messages))
        .routes(routes!(retry_message))
        .routes(routes!(appointment_messages))
        .routes(routes!(patient_messages))
        .routes(routes!(get_provider, put_provider, delete_provider))
        .routes(routes!(list_replies))
        .routes(routes!(handle_reply))
}
