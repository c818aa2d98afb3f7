-- Functions that do in one round trip what hot paths did in several. They run as the caller
-- (no SECURITY DEFINER), so row-level security applies inside them as anywhere else.

-- Session check: sets the tenant for the statement's own transaction, touches last_seen_at
-- when it is older than p_touch_after (and the session is still within its idle timeout, so a
-- touch never revives an idle session), and returns the session with its account.
create function core.session_lookup(p_practice uuid, p_token_hash bytea, p_touch_after interval, p_idle interval)
returns table (session_id uuid, staff_id uuid, stage text, role text, last_seen_at timestamptz,
               expires_at timestamptz, revoked_at timestamptz, account_ok boolean)
language plpgsql as $$
#variable_conflict use_column
begin
    perform set_config('app.practice_id', p_practice::text, true);
    update core.session s set last_seen_at = now()
     where s.token_hash = p_token_hash and s.revoked_at is null and s.expires_at > now()
       and s.last_seen_at < now() - p_touch_after and s.last_seen_at > now() - p_idle;
    return query
        select s.session_id, s.staff_id, s.stage, a.role, s.last_seen_at, s.expires_at, s.revoked_at,
               (a.deactivated_at is null and a.locked_at is null)
          from core.session s
          join core.staff_account a on a.practice_id = s.practice_id and a.staff_id = s.staff_id
         where s.token_hash = p_token_hash;
end $$;
grant execute on function core.session_lookup(uuid, bytea, interval, interval) to praxis_app;

-- Before writing an appointment over p_blocked: take the practitioner's advisory lock (shared
-- for ordinary bookings, exclusive for deliberate overlaps), return a deliberate overlap an
-- ordinary booking would land on, and expire lapsed holds in the way.
create function scheduling.prepare_write(p_practitioner uuid, p_blocked tstzrange, p_room uuid, p_skip uuid, p_overlap boolean)
returns uuid
language plpgsql as $$
declare
    deliberate uuid;
begin
    if p_overlap then
        perform pg_advisory_xact_lock(hashtext('scheduling.practitioner/' || p_practitioner));
    else
        perform pg_advisory_xact_lock_shared(hashtext('scheduling.practitioner/' || p_practitioner));
        -- The starts_at range lets the (practice, practitioner, starts_at) index find the
        -- candidates: an appointment blocks at most 12 hours around its start.
        select a.appointment_id into deliberate
          from scheduling.appointment a
         where a.practitioner_id = p_practitioner and a.overlap_reason is not null
           and a.starts_at > lower(p_blocked) - interval '12 hours' and a.starts_at < upper(p_blocked) + interval '12 hours' 
           and a.status in ('held', 'booked') and a.blocked && p_blocked
           and (p_skip is null or a.appointment_id <> p_skip)
         limit 1;
        if deliberate is not null then
            return deliberate;
        end if;
    end if;
    update scheduling.appointment a set status = 'expired', version = a.version + 1
     where a.status = 'held' and a.hold_expires_at <= now() and a.blocked && p_blocked
       and a.starts_at > lower(p_blocked) - interval '12 hours' and a.starts_at < upper(p_blocked) + interval '12 hours' 
       and (a.practitioner_id = p_practitioner or (p_room is not null and a.room_id = p_room));
    return null;
end $$;
grant execute on function scheduling.prepare_write(uuid, tstzrange, uuid, uuid, boolean) to praxis_app;
