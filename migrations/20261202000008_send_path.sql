-- The send path, measured (README, "Benchmark", "Notifications"): the load reads only the messages
-- it is asked for, and a send rewrites no index of the message row.

-- 1. The load starts from the message ids and reaches everything else by key, one row at a
--    time. The first version let the planner join from the practice's patients and
--    appointments, which it did whenever their statistics were stale (after a bulk import):
--    every load then read every patient and appointment of the practice. Each lateral join is
--    fenced (`offset 0`) so it stays a per-row index look-up whatever the statistics say.
create or replace function notifications.send_load(p_practice uuid, p_messages uuid[], p_subprocessor text, p_categories text[])
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
    with m as materialized (
        select x.message_id, x.state, x.kind, x.patient_id, x.appointment_id, x.starts_at, x.link, x.due_at,
               x.next_attempt_at, x.sending_since
          from notifications.message x
         where x.practice_id = p_practice and x.message_id = any(p_messages)
    )
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
      from m
      cross join (select x.name, x.time_zone from core.practice x where x.practice_id = p_practice) pr
      left join (select x.* from notifications.settings x where x.practice_id = p_practice) s on true
      join lateral (
          select x.mobile_e164, x.preferred_language, x.sms_consent_at, x.sms_consent_withdrawn_at,
                 x.processing_restricted_at, x.mobile_flagged_at
            from core.patient x
           where x.practice_id = p_practice and x.patient_id = m.patient_id
          offset 0) p on true
      left join lateral (
          select x.status, x.starts_at, x.practitioner_id, x.type_id
            from notifications.appointment x
           where x.practice_id = p_practice and x.appointment_id = m.appointment_id
          offset 0) a on true
      left join lateral (
          select x.body
            from notifications.template x
           where x.practice_id = p_practice and x.kind = m.kind and x.language = p.preferred_language
          offset 0) t on true
      left join lateral (
          select x.display_name
            from scheduling.practitioner x
           where x.practice_id = p_practice and x.practitioner_id = a.practitioner_id
          offset 0) sp on true
      left join lateral (
          select x.name, x.name_in_messages
            from scheduling.appointment_type x
           where x.practice_id = p_practice and x.type_id = a.type_id
          offset 0) st on true;
end $$;

-- 2. A send changes the message's state, attempts and times, none of which an index needs, so
--    PostgreSQL can update the row in place (a HOT update: no new entry in any of its indexes).
--    That needs room on the page (fillfactor) and no index that mentions `state` or
--    `updated_at`: the list of messages that need an admin now keys on a stored flag that only
--    changes when a message becomes (or stops being) dead or failed.
alter table notifications.message
    add column needs_attention boolean generated always as (state in ('dead', 'failed')) stored;
drop index notifications.message_attention_idx;
create index message_attention_idx on notifications.message (practice_id) where needs_attention;
alter table notifications.message set (fillfactor = 50);
