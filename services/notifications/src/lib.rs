//! Notifications: SMS reminders and other patient messages through LINK Mobility, delivery
//! reports, replies and opt-out. See `planning` (which messages exist and when), `sending` (the
//! send worker and its exactly-once argument) and `hooks` (provider callbacks).

pub mod api;
pub mod hooks;
pub mod hooks_doc;
pub mod planning;
pub mod providers;
pub mod replies;
pub mod send;

use axum::Router;
use platform::AppState;

/// This service's routes.
pub fn router() -> Router<AppState> {
    Router::new().merge(api::router()).merge(hooks::router())
}

/// This service's OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        api::get_notification_settings, api::put_notification_settings, api::get_rules, api::put_rules, api::list_templates,
        api::put_template, api::delete_template, api::appointment_messages, api::patient_messages,
        api::attention_messages, api::retry_message, api::list_replies, api::handle_reply,
        api::get_provider, api::put_provider, api::delete_provider, hooks::link_dlr, hooks::link_mo,
        hooks::smsapi_dlr_get, hooks::smsapi_dlr_post, hooks::smsapi_mo
    ),
    components(schemas(
        api::NotificationSettings, api::ReminderRule, api::ReminderRules, api::Template,
        api::TemplateBody, api::Message, api::Reply, api::ProviderAccount,
        api::ProviderAccountInput
    )),
    tags((name = "notifications", description = "SMS reminders, templates, delivery and replies"),
         (name = "provider callbacks", description = "Delivery reports and replies from LINK Mobility (platform gate and SMSAPI). No session: the path carries SMS_CALLBACK_TOKEN."))
)]
pub struct Api;
