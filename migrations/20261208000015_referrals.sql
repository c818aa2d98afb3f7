-- Referrals (NL verwijzing, BE voorschrift): the doctor's referral or prescription a service
-- rests on. Some codes are only paid on one (a tariff says so: `referral_required`); claims
-- then check that a referral of the patient covers the service date, keep which one on the
-- line, and write its date and the prescriber's number into the file (PM304 0424–0426, eFact
-- record 50 zones 20, 24 and 26).
--
-- Personal data: the link of a referral to its patient (that the patient was referred for
-- paramedical care is health data). The row holds no clinical text: a date, an optional end
-- and the prescriber's professional number (AGB or RIZIV/INAMI, public registers). Kept with
-- the patient's record and erased with it.

create table core.referral (
    practice_id             uuid not null,
    referral_id             uuid not null,
    patient_id              uuid not null,
    -- AGB (NL, 8 digits) or RIZIV/INAMI (BE, 11 digits) of the referring doctor.
    prescriber_number       text not null constraint referral_prescriber_format check (prescriber_number ~ '^([0-9]{8}|[0-9]{11})$'),
    -- NL: the referrer's specialism (Vektis COD016, 4 digits), when known.
    prescriber_specialism   text constraint referral_specialism_format check (prescriber_specialism ~ '^[0-9]{4}$'),
    referral_date           date not null,
    -- Last day it covers; open-ended when absent.
    valid_until             date,
    created_at              timestamptz not null default now(),
    constraint referral_pkey primary key (practice_id, referral_id),
    constraint referral_patient_fkey foreign key (practice_id, patient_id)
        references core.patient (practice_id, patient_id) on delete cascade,
    constraint referral_validity check (valid_until >= referral_date)
);
create index referral_patient_idx on core.referral (practice_id, patient_id, referral_date);
alter table core.referral enable row level security;
alter table core.referral force row level security;
create policy tenant_isolation on core.referral
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
-- A referral is never edited: a wrong one is deleted (while no claim line rests on it) and
-- entered again.
grant select, insert, delete on core.referral to praxis_app;

-- Whether a code is only paid on a referral is the tariff's to say (per practice, code,
-- insurer and period, like its fee). A tariff is never edited: the flag comes with it.
alter table invoicing.tariff add column referral_required boolean not null default false;

-- The referral a claim line rests on, chosen when the line was last checked; the file writes
-- this one. A referral a line rests on cannot be deleted.
alter table claims.claim_line
    add column referral_id uuid,
    add constraint claim_line_referral_fkey foreign key (practice_id, referral_id)
        references core.referral (practice_id, referral_id);
create index claim_line_referral_idx on claims.claim_line (practice_id, referral_id)
    where referral_id is not null;

-- Whether a claim line's service needs a referral: its tariff says so; a line made without a
-- tariff follows any tariff of the practice for the same code that applied on the day.
create function claims.referral_required(p_tariff uuid, p_code text, p_on date) returns boolean
language sql stable as $$
    select coalesce(
        (select t.referral_required from invoicing.tariff t
          where t.practice_id = (select core.current_practice_id()) and t.tariff_id = p_tariff),
        exists (select 1 from invoicing.tariff t
                 where t.practice_id = (select core.current_practice_id()) and t.code = p_code
                   and t.referral_required and t.valid_from <= p_on
                   and (t.valid_until is null or t.valid_until >= p_on)))
$$;
grant execute on function claims.referral_required(uuid, text, date) to praxis_app;
