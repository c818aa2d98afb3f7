//! Notifications: SMS reminders and other patient messages through LINK Mobility, delivery
//! reports, replies and opt-out. See `planning` (which messages exist and when), `outbox` (the
//! route and send job written with each message), `send` (the send worker and its exactly-once
//! argument) and `hooks` (provider callbacks).

pub mod api;
pub mod hooks;
pub mod hooks_doc;
pub mod outbox;
pub mod planning;
pub mod providers;
pub mod replies;
pub mod send;

use platform::{ApiRouter, AppState};

/// This service's routes.
pub fn router() -> ApiRouter {
    ApiRouter::with_openapi(<Api as utoipa::OpenApi>::openapi())
        .merge(api::router())
        .merge(hooks::router())
}

/// The queues this service consumes; the send worker gets the configured providers (one HTTP
/// client each) and the group loader and recorder.
pub fn workers(state: &AppState) -> anyhow::Result<Vec<platform::jobs::Consumer>> {
    use domain::jobs::{AppointmentChanged, MessageRequest, ReplyApplied, SendMessage};
    use platform::jobs::Consumer;
    let sender = std::sync::Arc::new(send::Sender::new(state)?);
    let settings = state.settings();
    let (s1, s2, s3, s4) = (state.clone(), state.clone(), state.clone(), state.clone());
    Ok(vec![
        Consumer::of::<ReplyApplied, _, _>(8, 2, move |job| {
            let state = s1.clone();
            async move {
                let changed = replies::reply_applied(&state, job).await?;
                Ok(if changed {
                    "recorded"
                } else {
                    "already settled"
                }
                .to_owned())
            }
        }),
        Consumer::of::<AppointmentChanged, _, _>(16, 4, move |job| {
            let state = s2.clone();
            async move {
                Ok(format!(
                    "{:?}",
                    planning::appointment_changed(&state, job).await?
                ))
            }
        }),
        Consumer::of::<MessageRequest, _, _>(8, 2, move |job| {
            let state = s3.clone();
            async move {
                let written = planning::request_message(&state, job).await?;
                Ok(if written { "written" } else { "duplicate" }.to_owned())
            }
        }),
        Consumer::of::<SendMessage, _, _>(
            settings.sms.send_batch,
            settings.sms.send_concurrency,
            move |job| {
                let (state, sender) = (s4.clone(), sender.clone());
                async move { Ok(format!("{:?}", send::send(&state, &sender, job).await?)) }
            },
        ),
    ])
}

/// This service's OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(
        api::NotificationSettings, api::ReminderRule, api::ReminderRules, api::Template,
        api::TemplateBody, api::Message, api::Reply, api::ProviderAccount,
        api::ProviderAccountInput
    )),
    tags((name = "notifications", description = "SMS reminders, templates, delivery and replies"),
         (name = "provider callbacks", description = "Delivery reports and replies from LINK Mobility (platform gate and SMSAPI). No session: the path carries SMS_CALLBACK_TOKEN."))
)]
pub struct Api;
