-- Hardening after the outside probe (issue 9).

-- A hold is a slot kept for a moment, often before anyone knows the patient; cancelling it
-- (releasing the slot) must not need one. Booked appointments still always name their patient.
alter table scheduling.appointment
    drop constraint appointment_patient_required,
    add constraint appointment_patient_required
        check (status in ('held', 'expired', 'cancelled') or patient_id is not null);

-- A practice always keeps one active practice admin: nobody else can unlock, reset or create
-- accounts. Changes that take an admin away are serialised per practice by a transaction-level
-- advisory lock (not row locks: each update already holds its own row, and locking the others'
-- rows would deadlock two admins deactivating each other); under READ COMMITTED the check after
-- the lock sees the other's committed change, so the second is refused.
create function core.keep_one_admin() returns trigger
language plpgsql as $$
begin
    if old.role = 'practice_admin' and old.deactivated_at is null
       and (new.role <> 'practice_admin' or new.deactivated_at is not null) then
        perform pg_advisory_xact_lock(hashtextextended('praxis.keep_one_admin:' || old.practice_id::text, 0));
        if not exists (
            select 1 from core.staff_account
             where practice_id = old.practice_id and staff_id <> old.staff_id
               and role = 'practice_admin' and deactivated_at is null
        ) then
            raise exception 'the practice would have no active admin left'
                using errcode = 'check_violation', constraint = 'staff_account_last_admin',
                      table = 'staff_account', schema = 'core';
        end if;
    end if;
    return new;
end
$$;

create trigger staff_account_keep_one_admin
    before update of role, deactivated_at on core.staff_account
    for each row execute function core.keep_one_admin();

-- inbound_seen held plain SHA-256 digests of (provider, number, time, text): a number is
-- recovered from them by trying every mobile number of a country. Keys are now keyed HMACs
-- (praxis/inbound-seen/v1 under the master key); the old digests go. They only served to
-- recognise a provider's retry within minutes of a reply.
delete from notifications.inbound_seen;
