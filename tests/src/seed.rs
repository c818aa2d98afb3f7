//! Bulk seeding for the notification benchmark and crash test: `n` consenting patients, each
//! with a booked appointment (in notifications' projection) and a reminder due now, and one
//! send job per reminder, written straight into the database as the owner.

use sqlx::PgPool;
use uuid::Uuid;

/// Quiet hours that do not cover now (a minute at 02:00 or 04:00 Brussels time), so a run at
/// any hour sends at once.
pub async fn open_quiet_hours(owner: &PgPool, practice: Uuid) {
    use chrono::Timelike;
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Brussels);
    let start = if (1..=2).contains(&now.hour()) {
        "04:00"
    } else {
        "02:00"
    };
    sqlx::query(
        r#"insert into notifications.settings (practice_id, quiet_start, quiet_end)
           values ($1, $2::time, $2::time + interval '1 minute')
           on conflict (practice_id) do update set quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end"#,
    )
    .bind(practice)
    .bind(start)
    .execute(owner)
    .await
    .expect("quiet hours");
}

/// Seeds `n` reminders due now for `practice`; returns their message ids.
pub async fn due_reminders(owner: &PgPool, practice: Uuid, n: i64) -> Vec<Uuid> {
    open_quiet_hours(owner, practice).await;
    sqlx::query(
        r#"insert into core.patient (practice_id, patient_id, family_name, given_names, birth_date, sex, mobile_e164,
                                    preferred_language, sms_consent_at, sms_consent_method)
           select $1, gen_random_uuid(), 'Bench', 'Patient', date '1980-01-01', 'unknown',
                  '+3247' || lpad(i::text, 7, '0'), 'nl', now(), 'written'
             from generate_series(1, $2) i"#,
    )
    .bind(practice)
    .bind(n)
    .execute(owner)
    .await
    .expect("patients");
    sqlx::query(
        r#"insert into notifications.appointment (practice_id, appointment_id, version, patient_id, practitioner_id, type_id, starts_at, status)
           select practice_id, gen_random_uuid(), 1, patient_id, $2, $2, date_trunc('hour', now()) + interval '3 days', 'booked'
             from core.patient where practice_id = $1"#,
    )
    .bind(practice)
    .bind(Uuid::now_v7())
    .execute(owner)
    .await
    .expect("appointments");
    let ids: Vec<Uuid> = sqlx::query_scalar(
        r#"insert into notifications.message (practice_id, message_id, dedupe_key, kind, patient_id, appointment_id, starts_at, state, due_at)
           select practice_id, gen_random_uuid(), 'reminder:' || appointment_id || ':1440m', 'reminder', patient_id, appointment_id,
                  starts_at, 'scheduled', now()
             from notifications.appointment where practice_id = $1
           returning message_id"#,
    )
    .bind(practice)
    .fetch_all(owner)
    .await
    .expect("messages");
    // As planning does: each message's route (reference → practice) is written with it.
    sqlx::query(
        r#"insert into notifications.route (reference, practice_id, patient_id)
           select replace(message_id::text, '-', ''), practice_id, patient_id
             from notifications.message where practice_id = $1"#,
    )
    .bind(practice)
    .execute(owner)
    .await
    .expect("routes");
    sqlx::query(
        r#"insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
           select apalis.generate_ulid(), 'notifications.send',
                  convert_to(json_build_object('practice_id', practice_id, 'message_id', message_id)::text, 'UTF8'),
                  'Pending', 0, 10, now(), 0, 'send:' || message_id
             from notifications.message where practice_id = $1"#,
    )
    .bind(practice)
    .execute(owner)
    .await
    .expect("send jobs");
    ids
}

/// Messages of `practice` in state `sent` or later.
pub async fn settled(owner: &PgPool, practice: Uuid) -> i64 {
    sqlx::query_scalar(
        "select count(*) from notifications.message where practice_id = $1 and state in ('sent', 'delivered')",
    )
    .bind(practice)
    .fetch_one(owner)
    .await
    .expect("count")
}
