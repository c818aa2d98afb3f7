-- Scheduling (services/scheduling): practitioners, rooms, appointment types, working hours,
-- exceptions, closures and appointments. Same tenancy rules as core: practice_id leads every
-- key, RLS ENABLE + FORCE with the app.practice_id policy.
--
-- No double booking: exclusion constraints on (practitioner, blocked time) and (room, blocked
-- time) among active appointments are the source of truth. `blocked` is the appointment plus
-- its type's buffers. A deliberate overlap (overlap_reason set, staff with the right role) is
-- left out of the constraints; the booking code makes ordinary bookings respect those rows too.

create extension if not exists btree_gist;

create schema if not exists scheduling;
grant usage on schema scheduling to praxis_app;

create table scheduling.settings (
    practice_id        uuid primary key references core.practice (practice_id),
    -- Wall-clock grid on which slots are offered.
    slot_step_minutes  integer not null default 15 constraint settings_slot_step check (slot_step_minutes between 5 and 120),
    -- No slot starts sooner than this after now.
    min_notice_minutes integer not null default 0 constraint settings_min_notice check (min_notice_minutes between 0 and 20160),
    -- No slot starts later than this many days ahead.
    horizon_days       integer not null default 365 constraint settings_horizon check (horizon_days between 1 and 1095),
    -- How long a held slot stays reserved during a booking flow.
    hold_minutes       integer not null default 5 constraint settings_hold check (hold_minutes between 1 and 60),
    updated_at         timestamptz not null default now()
);

create table scheduling.practitioner (
    practice_id        uuid not null references core.practice (practice_id),
    practitioner_id    uuid not null,
    staff_id           uuid,
    display_name       text not null,
    -- NL: AGB code (8 digits); BE: RIZIV/INAMI number (11 digits, mod 97). Validated in code.
    agb_code           text constraint practitioner_agb_format check (agb_code ~ '^[0-9]{8}$'),
    riziv_number       text constraint practitioner_riziv_format check (riziv_number ~ '^[0-9]{11}$'),
    active             boolean not null default true,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint practitioner_pkey primary key (practice_id, practitioner_id),
    constraint practitioner_staff_fkey foreign key (practice_id, staff_id) references core.staff_account (practice_id, staff_id),
    constraint practitioner_staff_key unique (practice_id, staff_id)
);

create table scheduling.room (
    practice_id        uuid not null references core.practice (practice_id),
    room_id            uuid not null,
    name               text not null,
    active             boolean not null default true,
    created_at         timestamptz not null default now(),
    constraint room_pkey primary key (practice_id, room_id),
    constraint room_name_key unique (practice_id, name)
);

create table scheduling.appointment_type (
    practice_id        uuid not null references core.practice (practice_id),
    type_id            uuid not null,
    name               text not null,
    duration_minutes   integer not null constraint appointment_type_duration check (duration_minutes between 5 and 480),
    buffer_before_minutes integer not null default 0 constraint appointment_type_buffer_before check (buffer_before_minutes between 0 and 120),
    buffer_after_minutes  integer not null default 0 constraint appointment_type_buffer_after check (buffer_after_minutes between 0 and 120),
    -- Tariff (nomenclature / prestatie) code for invoicing.
    tariff_code        text,
    needs_room         boolean not null default false,
    patient_bookable   boolean not null default false,
    -- Whether the type's name may appear in messages to the patient (default: no).
    name_in_messages   boolean not null default false,
    active             boolean not null default true,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint appointment_type_pkey primary key (practice_id, type_id),
    constraint appointment_type_name_key unique (practice_id, name)
);

-- Weekly working hours in the practice's local time; ISO weekday 1 = Monday.
create table scheduling.working_hours (
    practice_id        uuid not null,
    practitioner_id    uuid not null,
    weekday            smallint not null constraint working_hours_weekday check (weekday between 1 and 7),
    starts_local       time not null,
    ends_local         time not null,
    constraint working_hours_pkey primary key (practice_id, practitioner_id, weekday, starts_local),
    constraint working_hours_order check (ends_local > starts_local),
    constraint working_hours_practitioner_fkey foreign key (practice_id, practitioner_id)
        references scheduling.practitioner (practice_id, practitioner_id) on delete cascade
);

-- Absences (remove time) and extra hours (add time) of one practitioner.
create table scheduling.schedule_exception (
    practice_id        uuid not null,
    exception_id       uuid not null,
    practitioner_id    uuid not null,
    kind               text not null constraint schedule_exception_kind check (kind in ('absence', 'extra')),
    period             tstzrange not null constraint schedule_exception_period check (not isempty(period)),
    reason             text,
    created_at         timestamptz not null default now(),
    constraint schedule_exception_pkey primary key (practice_id, exception_id),
    constraint schedule_exception_practitioner_fkey foreign key (practice_id, practitioner_id)
        references scheduling.practitioner (practice_id, practitioner_id) on delete cascade
);
create index schedule_exception_period_idx on scheduling.schedule_exception using gist (practice_id, practitioner_id, period);

-- Practice-wide closures; public holidays are applied as whole local days.
create table scheduling.closure (
    practice_id        uuid not null references core.practice (practice_id),
    closure_id         uuid not null,
    period             tstzrange not null constraint closure_period check (not isempty(period)),
    reason             text not null,
    source             text not null default 'manual' constraint closure_source check (source in ('manual', 'holiday')),
    created_at         timestamptz not null default now(),
    constraint closure_pkey primary key (practice_id, closure_id)
);
create unique index closure_holiday_key on scheduling.closure (practice_id, period) where source = 'holiday';

create table scheduling.appointment (
    practice_id        uuid not null,
    appointment_id     uuid not null,
    practitioner_id    uuid not null,
    -- A hold during a booking flow may not know its patient yet.
    patient_id         uuid,
    type_id            uuid not null,
    room_id            uuid,
    starts_at          timestamptz not null,
    ends_at            timestamptz not null,
    -- The appointment plus its type's buffers: what the constraints keep apart.
    blocked            tstzrange not null,
    status             text not null constraint appointment_status check (status in ('held', 'booked', 'completed', 'cancelled', 'no_show', 'expired')),
    hold_expires_at    timestamptz,
    -- Set on a deliberate overlap (audited); such rows are outside the exclusion constraints.
    overlap_reason     text,
    -- Set when booked outside working hours on purpose.
    outside_hours_reason text,
    cancelled_at       timestamptz,
    cancelled_by       uuid,
    cancel_reason      text,
    -- Who cancelled: staff or the patient (by SMS reply, later).
    cancelled_via      text constraint appointment_cancelled_via check (cancelled_via in ('staff', 'patient_reply')),
    series_id          uuid,
    -- Increases on every change; jobs carry it and do nothing when it moved on.
    version            integer not null default 1,
    created_by         uuid,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint appointment_pkey primary key (practice_id, appointment_id),
    constraint appointment_time_order check (ends_at > starts_at),
    constraint appointment_blocked_covers check (blocked @> tstzrange(starts_at, ends_at)),
    constraint appointment_patient_required check (status in ('held', 'expired') or patient_id is not null),
    constraint appointment_hold_expiry check (status <> 'held' or hold_expires_at is not null),
    constraint appointment_practitioner_fkey foreign key (practice_id, practitioner_id) references scheduling.practitioner (practice_id, practitioner_id),
    constraint appointment_patient_fkey foreign key (practice_id, patient_id) references core.patient (practice_id, patient_id),
    constraint appointment_type_fkey foreign key (practice_id, type_id) references scheduling.appointment_type (practice_id, type_id),
    constraint appointment_room_fkey foreign key (practice_id, room_id) references scheduling.room (practice_id, room_id),
    constraint appointment_no_overlap exclude using gist (practice_id with =, practitioner_id with =, blocked with &&)
        where (status in ('held', 'booked') and overlap_reason is null),
    constraint appointment_room_no_overlap exclude using gist (practice_id with =, room_id with =, blocked with &&)
        where (room_id is not null and status in ('held', 'booked') and overlap_reason is null)
);
create index appointment_practitioner_time_idx on scheduling.appointment (practice_id, practitioner_id, starts_at);
create index appointment_patient_time_idx on scheduling.appointment (practice_id, patient_id, starts_at) where patient_id is not null;
create index appointment_held_idx on scheduling.appointment (practice_id, hold_expires_at) where status = 'held';

create trigger practitioner_updated_at before update on scheduling.practitioner for each row execute function core.set_updated_at();
create trigger appointment_type_updated_at before update on scheduling.appointment_type for each row execute function core.set_updated_at();
create trigger appointment_updated_at before update on scheduling.appointment for each row execute function core.set_updated_at();
create trigger settings_updated_at before update on scheduling.settings for each row execute function core.set_updated_at();

do $$
declare t text;
begin
    foreach t in array array['settings', 'practitioner', 'room', 'appointment_type', 'working_hours',
                             'schedule_exception', 'closure', 'appointment']
    loop
        execute format('alter table scheduling.%I enable row level security', t);
        execute format('alter table scheduling.%I force row level security', t);
        execute format($p$create policy %I on scheduling.%I
                          using (practice_id = (select core.current_practice_id()))
                          with check (practice_id = (select core.current_practice_id()))$p$, t || '_isolation', t);
        execute format('grant select, insert, update, delete on scheduling.%I to praxis_app', t);
    end loop;
end $$;
