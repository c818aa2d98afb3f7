-- Notifications (services/notifications): SMS reminders and other patient messages, delivery
-- reports, replies and opt-out. Same tenancy rules as core: practice_id leads every key, RLS
-- ENABLE + FORCE with the app.practice_id policy.
--
-- Exactly one SMS per reminder: a message row with a unique (practice, dedupe_key) is written
-- before any provider call; the send job moves it scheduled → sending → sent, and a send found
-- in `sending` after a crash is settled through the provider (SMSAPI idx/check_idx, or the
-- platform API's refId in delivery reports) before it is ever sent again.

create schema if not exists notifications;
grant usage on schema notifications to praxis_app;

-- GDPR art. 18: a restriction of processing stops every message to the patient.
alter table core.patient add column processing_restricted_at timestamptz;
-- Set by a permanent delivery failure (unknown subscriber, number error) for staff to check.
alter table core.patient add column mobile_flagged_at timestamptz;
alter table core.patient add column mobile_flag_reason text;

-- A patient's answer to a reminder.
alter table scheduling.appointment add column confirmed_at timestamptz;
alter table scheduling.appointment add column confirmed_via text
    constraint appointment_confirmed_via check (confirmed_via in ('staff', 'patient_reply'));

create table notifications.settings (
    practice_id        uuid primary key references core.practice (practice_id),
    -- Name in messages; the practice's name when null.
    display_name       text,
    address_line       text,
    quiet_start        time not null default '21:00',
    quiet_end          time not null default '08:00',
    practitioner_name_in_messages boolean not null default false,
    -- A reminder that cannot go out at least this long before the appointment is skipped.
    min_lead_minutes   integer not null default 60 constraint settings_min_lead check (min_lead_minutes between 0 and 1440),
    updated_at         timestamptz not null default now()
);

-- Reminder offsets: the practice's (type_id null) or one appointment type's, which replace the
-- practice's for that type. No rule at all means one reminder 24 hours before.
create table notifications.reminder_rule (
    practice_id        uuid not null references core.practice (practice_id),
    rule_id            uuid not null,
    type_id            uuid,
    offset_minutes     integer not null constraint reminder_rule_offset check (offset_minutes between 15 and 20160),
    created_at         timestamptz not null default now(),
    constraint reminder_rule_pkey primary key (practice_id, rule_id),
    constraint reminder_rule_key unique nulls not distinct (practice_id, type_id, offset_minutes),
    constraint reminder_rule_type_fkey foreign key (practice_id, type_id) references scheduling.appointment_type (practice_id, type_id)
);

-- A practice's own text for a kind of message in a language (built-in texts otherwise).
create table notifications.template (
    practice_id        uuid not null references core.practice (practice_id),
    kind               text not null constraint template_kind check (kind in ('reminder', 'waitlist_offer', 'payment_link', 'payment_reminder')),
    language           text not null constraint template_language check (language in ('nl', 'fr', 'en', 'de')),
    body               text not null constraint template_body_length check (char_length(body) between 1 and 1000),
    encoding           text not null,
    segments           integer not null,
    updated_by         uuid,
    updated_at         timestamptz not null default now(),
    constraint template_pkey primary key (practice_id, kind, language)
);

-- What notifications knows of each appointment: a projection fed by scheduling's
-- `notifications.appointment-changed` events, applied only when newer (version).
create table notifications.appointment (
    practice_id        uuid not null references core.practice (practice_id),
    appointment_id     uuid not null,
    version            integer not null,
    patient_id         uuid,
    practitioner_id    uuid not null,
    type_id            uuid not null,
    starts_at          timestamptz not null,
    status             text not null,
    updated_at         timestamptz not null default now(),
    constraint appointment_pkey primary key (practice_id, appointment_id)
);
create index appointment_patient_idx on notifications.appointment (practice_id, patient_id, starts_at);

create table notifications.message (
    practice_id        uuid not null references core.practice (practice_id),
    message_id         uuid not null,
    -- One message per key, e.g. reminder:<appointment>:<rule>:<start>. Written before sending.
    dedupe_key         text not null,
    kind               text not null constraint message_kind check (kind in ('reminder', 'waitlist_offer', 'payment_link', 'payment_reminder')),
    patient_id         uuid not null,
    appointment_id     uuid,
    -- The entity the message is about (waitlist offer, invoice).
    about_id           uuid,
    -- The appointment time the message announces.
    starts_at          timestamptz,
    link               text,
    state              text not null constraint message_state check (state in
                           ('scheduled', 'sending', 'retrying', 'sent', 'delivered', 'failed', 'expired', 'skipped', 'cancelled', 'dead')),
    -- Why skipped, cancelled, failed or dead: a short code, never personal data.
    reason             text,
    due_at             timestamptz not null,
    attempts           integer not null default 0,
    next_attempt_at    timestamptz,
    -- When the current attempt started (a crash leaves the message here, in doubt).
    sending_since      timestamptz,
    provider           text,
    provider_id        text,
    encoding           text,
    segments           integer,
    sent_at            timestamptz,
    final_at           timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint message_pkey primary key (practice_id, message_id),
    constraint message_dedupe_key unique (practice_id, dedupe_key),
    constraint message_patient_fkey foreign key (practice_id, patient_id) references core.patient (practice_id, patient_id)
);
create index message_appointment_idx on notifications.message (practice_id, appointment_id) where appointment_id is not null;
create index message_patient_idx on notifications.message (practice_id, patient_id, created_at);
create index message_attention_idx on notifications.message (practice_id, updated_at) where state in ('dead', 'failed');
create trigger message_updated_at before update on notifications.message for each row execute function core.set_updated_at();

-- Delivery reports as received, one row per message part and status: a replayed report
-- conflicts and changes nothing.
create table notifications.delivery_report (
    practice_id        uuid not null,
    message_id         uuid not null,
    part               integer not null,
    provider_status    text not null,
    state              text not null,
    received_at        timestamptz not null default now(),
    constraint delivery_report_pkey primary key (practice_id, message_id, part, provider_status),
    constraint delivery_report_message_fkey foreign key (practice_id, message_id) references notifications.message (practice_id, message_id)
);

-- Replies. Text that is not a keyword is kept for staff, encrypted with the practice key.
create table notifications.reply (
    practice_id        uuid not null references core.practice (practice_id),
    reply_id           uuid not null,
    patient_id         uuid,
    message_id         uuid,
    appointment_id     uuid,
    intent             text not null constraint reply_intent check (intent in ('confirm', 'cancel', 'stop', 'other')),
    -- What it did: confirmed, cancelled, opted_out, too_late, no_appointment, kept.
    outcome            text not null,
    body_enc           bytea,
    received_at        timestamptz not null,
    handled_at         timestamptz,
    handled_by         uuid,
    constraint reply_pkey primary key (practice_id, reply_id)
);
create index reply_open_idx on notifications.reply (practice_id, received_at) where handled_at is null and intent = 'other';

-- Where a reply or a delivery report belongs. Callbacks arrive without a tenant; they name our
-- reference (= message id) or come from a phone number. This table maps both to the practice.
-- The phone appears only as an HMAC (key derived from the master key). A callback opens a
-- read-only transaction with app.routing = 'on' to read it, then works inside the tenant.
create table notifications.route (
    reference          text primary key,
    practice_id        uuid not null references core.practice (practice_id),
    patient_id         uuid not null,
    -- Set when the message is sent (the number it went to); null until then.
    phone_hmac         bytea,
    sent_at            timestamptz not null default now()
);
create index route_phone_idx on notifications.route (phone_hmac, sent_at desc) where phone_hmac is not null;

-- Inbound messages already handled (providers retry until acknowledged).
create table notifications.inbound_seen (
    inbound_key        bytea primary key,
    received_at        timestamptz not null default now()
);
grant select, insert on notifications.inbound_seen to praxis_app;

do $$
declare t text;
begin
    foreach t in array array['settings', 'reminder_rule', 'template', 'appointment', 'message', 'delivery_report', 'reply']
    loop
        execute format('alter table notifications.%I enable row level security', t);
        execute format('alter table notifications.%I force row level security', t);
        execute format($p$create policy %I on notifications.%I
                          using (practice_id = (select core.current_practice_id()))
                          with check (practice_id = (select core.current_practice_id()))$p$, t || '_isolation', t);
        execute format('grant select, insert, update, delete on notifications.%I to praxis_app', t);
    end loop;
end $$;

alter table notifications.route enable row level security;
alter table notifications.route force row level security;
create policy route_isolation on notifications.route
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
create policy route_callbacks on notifications.route for select
    using (current_setting('app.routing', true) = 'on');
grant select, insert, update, delete on notifications.route to praxis_app;

-- A practice's own SMS account (overrides the global one). Credentials and ids are encrypted
-- with the practice's data key (AAD: practice, table, column); provider, host and sender stay
-- readable for the settings screen.
create table notifications.provider_override (
    practice_id        uuid primary key references core.practice (practice_id),
    provider           text not null constraint provider_override_provider check (provider in ('link_platform', 'smsapi')),
    base_url           text not null,
    sender             text not null,
    config_enc         bytea not null,
    updated_by         uuid,
    updated_at         timestamptz not null default now()
);
alter table notifications.provider_override enable row level security;
alter table notifications.provider_override force row level security;
create policy provider_override_isolation on notifications.provider_override
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update, delete on notifications.provider_override to praxis_app;

-- The egress gate's register check (design §4) as SQL, so hot paths can run it inside the
-- query that loads what they send: the refusal code, or null when the call is allowed.
create function core.egress_refusal(p_subprocessor text, p_categories text[]) returns text
language plpgsql stable as $$
-- plpgsql rather than SQL: its plan is cached per session (a SQL function's body is parsed
-- and planned again on every call when it cannot be inlined).
declare
    s core.subprocessor;
begin
    select * into s from core.subprocessor where subprocessor_id = p_subprocessor;
    if not found then return 'unregistered'; end if;
    if not s.active then return 'inactive'; end if;
    if s.effective_at > now() then return 'not_yet_effective'; end if;
    if not s.eu_eea and s.transfer_basis is null then return 'no_transfer_basis'; end if;
    if exists (select 1 from core.subprocessor_objection o where o.subprocessor_id = p_subprocessor) then
        return 'objected';
    end if;
    if not (p_categories <@ s.data_categories) then return 'category_not_registered'; end if;
    return null;
end $$;
grant execute on function core.egress_refusal(text, text[]) to praxis_app;

-- Everything the send worker needs about some messages of one practice, in one round trip (functions run as the
-- caller: row-level security applies inside). Sets the tenant for the statement's transaction.
create function notifications.send_load(p_practice uuid, p_messages uuid[], p_subprocessor text, p_categories text[])
returns table (message_id uuid, state text, kind text, patient_id uuid, starts_at timestamptz, link text, due_at timestamptz,
               next_attempt_at timestamptz, sending_since timestamptz, mobile_e164 text, preferred_language text,
               consent boolean, restricted boolean, flagged boolean, practice_name text, time_zone text,
               display_name text, address_line text, practitioner_in_messages boolean, min_lead_minutes integer,
               quiet_start time, quiet_end time, appt_status text, appt_starts_at timestamptz, template text,
               practitioner_name text, type_name text, type_in_messages boolean, refusal text)
language plpgsql as $$
#variable_conflict use_column
begin
    perform set_config('app.practice_id', p_practice::text, true);
    refusal := core.egress_refusal(p_subprocessor, p_categories);
    return query
    select m.message_id, m.state, m.kind, m.patient_id, m.starts_at, m.link, m.due_at, m.next_attempt_at, m.sending_since,
           p.mobile_e164, p.preferred_language,
           (p.sms_consent_at is not null and p.sms_consent_withdrawn_at is null),
           p.processing_restricted_at is not null,
           p.mobile_flagged_at is not null,
           pr.name, pr.time_zone,
           s.display_name, s.address_line,
           coalesce(s.practitioner_name_in_messages, false),
           coalesce(s.min_lead_minutes, 60),
           coalesce(s.quiet_start, time '21:00'),
           coalesce(s.quiet_end, time '08:00'),
           a.status, a.starts_at,
           t.body,
           sp.display_name, st.name,
           coalesce(st.name_in_messages, false),
           refusal
      from notifications.message m
      join core.patient p on p.practice_id = m.practice_id and p.patient_id = m.patient_id
      join core.practice pr on pr.practice_id = m.practice_id
      left join notifications.settings s on s.practice_id = m.practice_id
      left join notifications.appointment a on a.practice_id = m.practice_id and a.appointment_id = m.appointment_id
      left join notifications.template t on t.practice_id = m.practice_id and t.kind = m.kind and t.language = p.preferred_language
      left join scheduling.practitioner sp on sp.practice_id = m.practice_id and sp.practitioner_id = a.practitioner_id
      left join scheduling.appointment_type st on st.practice_id = m.practice_id and st.type_id = a.type_id
     where m.message_id = any(p_messages);
end $$;
grant execute on function notifications.send_load(uuid, uuid[], text, text[]) to praxis_app;

-- Sends the provider accepted, recorded together for one practice in one statement (one
-- transaction): each attempt, state (kept when a delivery report got there first), reply route
-- and disclosure, set-based.
create function notifications.sends_accepted(p_practice uuid, p_messages uuid[], p_patients uuid[],
    p_providers text[], p_encodings text[], p_segments integer[], p_references text[], p_phone_hmacs bytea[],
    p_provider_ids text[], p_disclosure_ids uuid[], p_subprocessors text[], p_purposes text[],
    p_categories text[], p_fields text[])
returns table (message_id uuid, attempts integer)
language plpgsql as $$
#variable_conflict use_column
begin
    perform set_config('app.practice_id', p_practice::text, true);
    insert into notifications.route (reference, practice_id, patient_id, phone_hmac)
    select distinct on (g.reference) g.reference, p_practice, g.patient, g.phone_hmac
      from unnest(p_references, p_patients, p_phone_hmacs) as g(reference, patient, phone_hmac)
    on conflict (reference) do update set sent_at = now(), phone_hmac = excluded.phone_hmac;
    insert into core.disclosure (practice_id, disclosure_id, subprocessor_id, purpose, data_categories, fields, outcome, correlation_id)
    select p_practice, g.disclosure_id, g.subprocessor, g.purpose, p_categories, p_fields, 'sent', g.reference
      from unnest(p_disclosure_ids, p_subprocessors, p_purposes, p_references) as g(disclosure_id, subprocessor, purpose, reference);
    return query
    update notifications.message m
       set state = case when m.state in ('scheduled', 'retrying', 'sending') then 'sent' else m.state end,
           reason = case when m.state in ('scheduled', 'retrying', 'sending') then null else m.reason end,
           attempts = m.attempts + 1, provider = g.provider, encoding = g.encoding, segments = g.segments,
           provider_id = coalesce(nullif(g.provider_id, ''), m.provider_id), sent_at = coalesce(m.sent_at, now()),
           sending_since = null, next_attempt_at = null
      from unnest(p_messages, p_providers, p_encodings, p_segments, p_provider_ids)
           as g(message_id, provider, encoding, segments, provider_id)
     where m.message_id = g.message_id
    returning m.message_id, m.attempts;
end $$;
grant execute on function notifications.sends_accepted(uuid, uuid[], uuid[], text[], text[], integer[], text[], bytea[], text[], uuid[], text[], text[], text[], text[]) to praxis_app;
