-- Recurring series and the waitlist (services/scheduling).

-- A series: occurrences are ordinary appointments carrying series_id, computed on the local
-- wall clock (every N weeks at the same local time).
create table scheduling.appointment_series (
    practice_id        uuid not null references core.practice (practice_id),
    series_id          uuid not null,
    patient_id         uuid not null,
    practitioner_id    uuid not null,
    type_id            uuid not null,
    interval_weeks     integer not null constraint appointment_series_interval check (interval_weeks between 1 and 8),
    occurrences        integer not null constraint appointment_series_count check (occurrences between 2 and 60),
    created_by         uuid,
    created_at         timestamptz not null default now(),
    constraint appointment_series_pkey primary key (practice_id, series_id),
    constraint appointment_series_patient_fkey foreign key (practice_id, patient_id) references core.patient (practice_id, patient_id)
);
alter table scheduling.appointment
    add constraint appointment_series_fkey foreign key (practice_id, series_id) references scheduling.appointment_series (practice_id, series_id);
create index appointment_series_idx on scheduling.appointment (practice_id, series_id, starts_at) where series_id is not null;

-- The waitlist: patients who want an earlier or another slot. Entries are offered in order of
-- creation when a matching slot frees.
create table scheduling.waitlist_entry (
    practice_id        uuid not null references core.practice (practice_id),
    entry_id           uuid not null,
    patient_id         uuid not null,
    type_id            uuid not null,
    -- Preferred practitioner; any when null.
    practitioner_id    uuid,
    -- ISO weekdays the patient can come (1 = Monday); any when empty.
    weekdays           smallint[] not null default '{}',
    -- Local time window; any time when null.
    earliest_time      time,
    latest_time        time,
    status             text not null default 'waiting' constraint waitlist_entry_status check (status in ('waiting', 'booked', 'withdrawn')),
    appointment_id     uuid,
    created_by         uuid,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint waitlist_entry_pkey primary key (practice_id, entry_id),
    constraint waitlist_entry_window check (earliest_time is null or latest_time is null or earliest_time < latest_time),
    constraint waitlist_entry_patient_fkey foreign key (practice_id, patient_id) references core.patient (practice_id, patient_id),
    constraint waitlist_entry_type_fkey foreign key (practice_id, type_id) references scheduling.appointment_type (practice_id, type_id),
    constraint waitlist_entry_practitioner_fkey foreign key (practice_id, practitioner_id) references scheduling.practitioner (practice_id, practitioner_id)
);
create index waitlist_entry_waiting_idx on scheduling.waitlist_entry (practice_id, created_at) where status = 'waiting';
create trigger waitlist_entry_updated_at before update on scheduling.waitlist_entry for each row execute function core.set_updated_at();

-- An offer of a freed slot to one entry. Several entries may hold offers for the same slot;
-- the first acceptance books it through the same exclusion constraint as any booking.
create table scheduling.waitlist_offer (
    practice_id        uuid not null,
    offer_id           uuid not null,
    entry_id           uuid not null,
    practitioner_id    uuid not null,
    starts_at          timestamptz not null,
    status             text not null default 'open' constraint waitlist_offer_status check (status in ('open', 'accepted', 'declined', 'taken', 'expired')),
    expires_at         timestamptz not null,
    appointment_id     uuid,
    created_at         timestamptz not null default now(),
    constraint waitlist_offer_pkey primary key (practice_id, offer_id),
    constraint waitlist_offer_entry_fkey foreign key (practice_id, entry_id) references scheduling.waitlist_entry (practice_id, entry_id),
    -- One offer per entry and slot: a repeated "slot freed" job offers nothing twice.
    constraint waitlist_offer_slot_key unique (practice_id, entry_id, practitioner_id, starts_at)
);

do $$
declare t text;
begin
    foreach t in array array['appointment_series', 'waitlist_entry', 'waitlist_offer']
    loop
        execute format('alter table scheduling.%I enable row level security', t);
        execute format('alter table scheduling.%I force row level security', t);
        execute format($p$create policy %I on scheduling.%I
                          using (practice_id = (select core.current_practice_id()))
                          with check (practice_id = (select core.current_practice_id()))$p$, t || '_isolation', t);
        execute format('grant select, insert, update, delete on scheduling.%I to praxis_app', t);
    end loop;
end $$;
