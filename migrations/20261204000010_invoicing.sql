-- Invoicing (services/invoicing): the practice's invoicing identity and numbering settings,
-- tariffs, invoices and credit notes with their lines, the numbering counters and payments;
-- plus the patient's postal address and the API-wide idempotency keys (core).
--
-- Tenancy as everywhere: practice_id leads every key, RLS ENABLE + FORCE with the
-- app.practice_id policy, grants for exactly the statements the code runs.
--
-- Personal data here: the patient link of an invoice (patient_id) and, through it, the
-- patient's identity on the documents. Invoices, credit notes, their lines and payments are
-- kept 7 years after the end of the financial year (BE: WIB/CIR art. 315, btw-wetboek art. 60;
-- NL: AWR art. 52 — 7 years), then erased by the privacy office's retention run.
--
-- Money: numeric(12,2) for amounts (cents), numeric(12,4) for unit prices. The rounding rule
-- (domain::money): each line rounded once, half away from zero, to cents; totals are plain
-- sums of lines and are stored, so a document never changes when re-read.

create schema if not exists invoicing;
grant usage on schema invoicing to praxis_app;

create function invoicing.tenant_policy(t regclass) returns void
language plpgsql as $$
begin
    execute format('alter table %s enable row level security', t);
    execute format('alter table %s force row level security', t);
    execute format(
        'create policy tenant_isolation on %s using (practice_id = (select core.current_practice_id())) '
        'with check (practice_id = (select core.current_practice_id()))', t);
end
$$;

-- Settings: the practice's invoicing identity and how numbers look ---------------------------
-- Not personal data (a practice's business identity); kept while the practice is a customer.
create table invoicing.settings (
    practice_id         uuid primary key references core.practice (practice_id),
    legal_name          text,
    street              text,
    house_number        text,
    box                 text,
    postcode            text,
    city                text,
    country             text constraint settings_country check (country in ('BE', 'NL')),
    -- BE: KBO/BCE enterprise number (10 digits); NL: KvK number (8 digits).
    enterprise_number   text constraint settings_enterprise_number check (enterprise_number ~ '^[0-9]{8,10}$'),
    -- VAT number (BE0123456789, NL123456789B01); null: the practice is not VAT-registered.
    vat_number          text constraint settings_vat_number check (vat_number ~ '^(BE[01][0-9]{9}|NL[0-9]{9}B[0-9]{2})$'),
    iban                text constraint settings_iban check (iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$'),
    bic                 text constraint settings_bic check (bic ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
    -- BE: RIZIV/INAMI number (11 digits); NL: AGB code (8 digits).
    provider_number     text constraint settings_provider_number check (provider_number ~ '^([0-9]{8}|[0-9]{11})$'),
    -- Numbers: <prefix><year>-<sequence, zero-padded to number_digits>. The year is always in
    -- the number: sequences restart every year, so without it numbers would repeat.
    invoice_prefix      text not null default '' constraint settings_invoice_prefix check (invoice_prefix ~ '^[A-Z0-9]{0,8}$'),
    credit_note_prefix  text not null default 'C' constraint settings_credit_note_prefix check (credit_note_prefix ~ '^[A-Z0-9]{1,8}$'),
    number_digits       integer not null default 6 constraint settings_number_digits check (number_digits between 3 and 9),
    payment_terms_days  integer not null default 30 constraint settings_payment_terms check (payment_terms_days between 0 and 120),
    version             integer not null default 1,
    updated_at          timestamptz not null default now(),
    constraint settings_prefixes_differ check (invoice_prefix <> credit_note_prefix)
);
select invoicing.tenant_policy('invoicing.settings');
grant select, insert, update on invoicing.settings to praxis_app;

-- Tariffs ------------------------------------------------------------------------------------
-- What an appointment type costs from a date on, optionally for one insurer (UZOVI, NL) or
-- mutuality (BE) and one convention/contract. Rows are never edited: a change closes the old
-- tariff (valid_until) and adds a new one, and the tariff that applied is copied onto each
-- invoice line, so nothing issued moves when a tariff does. Not personal data.
create table invoicing.tariff (
    practice_id         uuid not null references core.practice (practice_id),
    tariff_id           uuid not null,
    type_id             uuid not null,
    -- BE: RIZIV/INAMI nomenclature code (6 digits); NL: prestatiecode (NZa, e.g. 1000 or 25001).
    code                text not null constraint tariff_code_format check (code ~ '^[0-9A-Z]{3,12}$'),
    label               text not null constraint tariff_label_not_blank check (btrim(label) <> ''),
    -- UZOVI (4 digits) or mutuality code (3 digits); null: every insurer without its own row.
    insurer             text constraint tariff_insurer_format check (insurer ~ '^[0-9]{3,4}$'),
    convention          text,
    valid_from          date not null,
    -- Last day it applies (inclusive); null: open-ended.
    valid_until         date,
    fee                 numeric(12,2) not null constraint tariff_fee check (fee >= 0),
    insurer_share       numeric(12,2) not null constraint tariff_insurer_share check (insurer_share >= 0),
    vat_category        text not null default 'E' constraint tariff_vat_category check (vat_category in ('E', 'S')),
    vat_rate            numeric(5,2) not null default 0,
    vat_exemption_reason text,
    created_at          timestamptz not null default now(),
    constraint tariff_pkey primary key (practice_id, tariff_id),
    constraint tariff_type_fkey foreign key (practice_id, type_id)
        references scheduling.appointment_type (practice_id, type_id),
    constraint tariff_validity check (valid_until is null or valid_until >= valid_from),
    -- Exempt (medical care, EU VAT directive art. 132 1 c) with its reason code, or standard-rated.
    constraint tariff_vat check (
        (vat_category = 'E' and vat_rate = 0 and vat_exemption_reason is not null)
        or (vat_category = 'S' and vat_rate > 0 and vat_rate < 100 and vat_exemption_reason is null)),
    constraint tariff_share_within_fee check (insurer_share <= fee * (1 + vat_rate / 100)),
    constraint tariff_no_overlap exclude using gist (
        practice_id with =, type_id with =, (coalesce(insurer, '')) with =,
        (coalesce(convention, '')) with =, daterange(valid_from, valid_until, '[]') with &&)
);
select invoicing.tenant_policy('invoicing.tariff');
grant select, insert on invoicing.tariff to praxis_app;
grant update (valid_until) on invoicing.tariff to praxis_app;

-- Payers -------------------------------------------------------------------------------------
-- Who pays a patient's invoices instead of the patient: a person (a parent) or an organisation
-- (an employer for occupational care), with its own address and, for organisations, the
-- enterprise number and Peppol participant id e-invoices go to. A person payer is personal
-- data: the address is encrypted like a patient's (one document, practice data key); names are
-- stored like patients' names. Kept while an invoice addressed to it is kept.
create table invoicing.payer (
    practice_id         uuid not null references core.practice (practice_id),
    payer_id            uuid not null,
    kind                text not null constraint payer_kind check (kind in ('person', 'organisation')),
    name                text not null constraint payer_name_not_blank check (btrim(name) <> ''),
    address_enc         bytea not null,
    address_country     text not null,
    enterprise_number   text,
    vat_number          text,
    -- `scheme:id`, e.g. 0208:0403019261 (KBO/BCE) or 0106:12345678 (KvK).
    peppol_id           text constraint payer_peppol_id check (peppol_id ~ '^[0-9]{4}:[A-Za-z0-9.-]{1,50}$'),
    created_at          timestamptz not null default now(),
    constraint payer_pkey primary key (practice_id, payer_id),
    constraint payer_organisation_fields check (kind = 'organisation' or (enterprise_number is null and vat_number is null and peppol_id is null))
);
select invoicing.tenant_policy('invoicing.payer');
grant select, insert on invoicing.payer to praxis_app;

-- Numbering ----------------------------------------------------------------------------------
-- One row per practice, series and year; the issuing transaction increments it (insert … on
-- conflict do update … returning), which locks the row until that transaction ends: numbers
-- are consecutive, a rolled-back issue gives its number back, and two issues in one series
-- queue behind each other for the length of one transaction.
create table invoicing.number_counter (
    practice_id         uuid not null references core.practice (practice_id),
    series              text not null constraint number_counter_series check (series in ('invoice', 'credit_note')),
    year                integer not null constraint number_counter_year check (year between 2000 and 2999),
    last_number         integer not null constraint number_counter_positive check (last_number > 0),
    constraint number_counter_pkey primary key (practice_id, series, year)
);
select invoicing.tenant_policy('invoicing.number_counter');
grant select, insert, update on invoicing.number_counter to praxis_app;

-- The Belgian structured communication of an invoice (domain::payment_reference, the same
-- rule): ten digits — the year's last two and the sequence — and their remainder mod 97 (97
-- for 0). Issuing computes it in the statement that takes the number, so the counter row is
-- locked for that one statement and the commit. Null past 99,999,999 invoices a year.
create function invoicing.structured_communication(year integer, seq integer) returns text
language sql immutable strict as $$
    select lpad(b::text, 10, '0') || lpad((case when b % 97 = 0 then 97 else b % 97 end)::text, 2, '0')
      from (select (year % 100)::bigint * 100000000 + seq as b) x
     where seq between 1 and 99999999
$$;

-- Invoices and credit notes ------------------------------------------------------------------
-- Amounts are positive on both kinds (as UBL has them); a credit note subtracts by its kind.
create table invoicing.invoice (
    practice_id         uuid not null references core.practice (practice_id),
    invoice_id          uuid not null,
    kind                text not null constraint invoice_kind check (kind in ('invoice', 'credit_note')),
    status              text not null default 'draft'
        constraint invoice_status check (status in ('draft', 'issued', 'partially_paid', 'paid', 'credited', 'written_off')),
    patient_id          uuid not null,
    -- Drafted automatically from this completed appointment (at most one invoice each).
    appointment_id      uuid,
    -- A credit note's invoice.
    corrects_invoice_id uuid,
    -- Who pays instead of the patient (the document is addressed to it).
    payer_id            uuid,
    currency            text not null default 'EUR' constraint invoice_currency check (currency = 'EUR'),
    language            text not null constraint invoice_language check (language in ('nl', 'fr', 'en', 'de')),
    number_year         integer,
    number_seq          integer,
    number              text,
    issue_date          date,
    due_date            date,
    issued_at           timestamptz,
    issued_by           uuid,
    -- BE: the 12 digits of the structured communication (+++xxx/xxxx/xxxxx+++); NL: the
    -- payment reference (the number). Set at issue.
    payment_reference   text,
    line_count          integer not null default 0,
    net_total           numeric(12,2) not null default 0,
    vat_total           numeric(12,2) not null default 0,
    total               numeric(12,2) not null default 0,
    insurer_total       numeric(12,2) not null default 0,
    patient_total       numeric(12,2) not null default 0,
    -- What the patient paid (payments less refunds), for the status. The patient owes the
    -- patient share; the insurer share is claimed (services/claims).
    paid                numeric(12,2) not null default 0,
    -- What credit notes took off this invoice: in all, and of the patient share.
    credited            numeric(12,2) not null default 0,
    credited_patient    numeric(12,2) not null default 0,
    version             integer not null default 1,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint invoice_pkey primary key (practice_id, invoice_id),
    constraint invoice_patient_fkey foreign key (practice_id, patient_id)
        references core.patient (practice_id, patient_id),
    constraint invoice_corrects_fkey foreign key (practice_id, corrects_invoice_id)
        references invoicing.invoice (practice_id, invoice_id),
    constraint invoice_payer_fkey foreign key (practice_id, payer_id)
        references invoicing.payer (practice_id, payer_id),
    constraint invoice_number_key unique (practice_id, kind, number_year, number_seq),
    constraint invoice_numbered check ((status = 'draft') = (number is null)
        and (number is null) = (number_seq is null) and (number is null) = (issue_date is null)),
    constraint invoice_credit_note_target check ((kind = 'credit_note') = (corrects_invoice_id is not null)),
    constraint invoice_totals check (total = net_total + vat_total and total = insurer_total + patient_total),
    constraint invoice_amounts check (total >= 0 and insurer_total >= 0 and patient_total >= 0 and paid >= 0 and credited >= 0 and credited_patient >= 0
        and credited <= total and credited_patient <= patient_total)
);
create unique index invoice_appointment_key on invoicing.invoice (practice_id, appointment_id)
    where appointment_id is not null;
create index invoice_patient_idx on invoicing.invoice (practice_id, patient_id, created_at);
create index invoice_status_idx on invoicing.invoice (practice_id, status, due_date);
create index invoice_corrects_idx on invoicing.invoice (practice_id, corrects_invoice_id) where corrects_invoice_id is not null;
select invoicing.tenant_policy('invoicing.invoice');
grant select, insert, update on invoicing.invoice to praxis_app;
-- Drafts may be thrown away; the guard below refuses it for anything issued.
grant delete on invoicing.invoice to praxis_app;

create table invoicing.invoice_line (
    practice_id         uuid not null,
    invoice_id          uuid not null,
    line_no             integer not null constraint invoice_line_no check (line_no > 0),
    appointment_id      uuid,
    tariff_id           uuid,
    -- A credit note's line: the line of the corrected invoice it takes back.
    corrects_line_no    integer,
    code                text not null,
    label               text not null,
    service_date        date not null,
    quantity            numeric(10,2) not null constraint invoice_line_quantity check (quantity > 0),
    unit_price          numeric(12,4) not null constraint invoice_line_unit_price check (unit_price >= 0),
    net_amount          numeric(12,2) not null,
    vat_category        text not null constraint invoice_line_vat_category check (vat_category in ('E', 'S')),
    vat_rate            numeric(5,2) not null,
    vat_exemption_reason text,
    vat_amount          numeric(12,2) not null,
    insurer_share       numeric(12,2) not null,
    patient_share       numeric(12,2) not null,
    constraint invoice_line_pkey primary key (practice_id, invoice_id, line_no),
    constraint invoice_line_invoice_fkey foreign key (practice_id, invoice_id)
        references invoicing.invoice (practice_id, invoice_id) on delete cascade,
    constraint invoice_line_shares check (insurer_share >= 0 and patient_share >= 0
        and insurer_share + patient_share = net_amount + vat_amount)
);
select invoicing.tenant_policy('invoicing.invoice_line');
grant select, insert, update, delete on invoicing.invoice_line to praxis_app;

-- Issued is final, in the database: after issue only the payment state of an invoice moves
-- (status, paid, credited, credited_patient, version, updated_at); it is never deleted and its
-- lines never change. This holds for the application role whatever the code does.
create function invoicing.guard_issued_invoice() returns trigger
language plpgsql as $$
declare
    moving constant text[] := array['status', 'paid', 'credited', 'credited_patient', 'version', 'updated_at'];
begin
    if tg_op = 'DELETE' then
        if old.status <> 'draft' then
            raise exception 'invoice % is issued; it is corrected by a credit note', old.invoice_id
                using errcode = 'check_violation', constraint = 'invoice_issued_is_final',
                      table = 'invoice', schema = 'invoicing';
        end if;
        return old;
    end if;
    if old.status <> 'draft' and (new.status = 'draft'
        or (to_jsonb(new) - moving) is distinct from (to_jsonb(old) - moving)) then
        raise exception 'invoice % is issued; it is corrected by a credit note', old.invoice_id
            using errcode = 'check_violation', constraint = 'invoice_issued_is_final',
                  table = 'invoice', schema = 'invoicing';
    end if;
    return new;
end
$$;
create trigger invoice_issued_is_final before update or delete on invoicing.invoice
    for each row execute function invoicing.guard_issued_invoice();

create function invoicing.guard_issued_lines() returns trigger
language plpgsql as $$
declare
    target uuid := case when tg_op = 'INSERT' then new.invoice_id else old.invoice_id end;
    practice uuid := case when tg_op = 'INSERT' then new.practice_id else old.practice_id end;
    current_status text;
begin
    select status into current_status from invoicing.invoice
     where practice_id = practice and invoice_id = target;
    -- A cascade from deleting a draft finds no invoice any more: nothing to guard.
    if current_status is not null and current_status <> 'draft' then
        raise exception 'invoice % is issued; its lines are final', target
            using errcode = 'check_violation', constraint = 'invoice_issued_is_final',
                  table = 'invoice_line', schema = 'invoicing';
    end if;
    if tg_op = 'UPDATE' and (new.invoice_id, new.practice_id) is distinct from (old.invoice_id, old.practice_id) then
        raise exception 'a line stays on its invoice'
            using errcode = 'check_violation', constraint = 'invoice_issued_is_final';
    end if;
    return case when tg_op = 'DELETE' then old else new end;
end
$$;
create trigger invoice_line_issued_is_final before insert or update or delete on invoicing.invoice_line
    for each row execute function invoicing.guard_issued_lines();

-- Documents ----------------------------------------------------------------------------------
-- The PDF (and UBL) of an issued invoice or credit note, written once (at issue, by a job, or
-- on first download) and served unchanged afterwards. Personal data (the patient's name and
-- address): AES-256-GCM under the practice data key. Kept as long as the invoice.
create table invoicing.document (
    practice_id         uuid not null,
    invoice_id          uuid not null,
    format              text not null constraint document_format check (format in ('pdf', 'ubl')),
    content_enc         bytea not null,
    created_at          timestamptz not null default now(),
    constraint document_pkey primary key (practice_id, invoice_id, format),
    constraint document_invoice_fkey foreign key (practice_id, invoice_id)
        references invoicing.invoice (practice_id, invoice_id)
);
select invoicing.tenant_policy('invoicing.document');
grant select, insert on invoicing.document to praxis_app;

-- Payments -----------------------------------------------------------------------------------
-- Money received for an invoice: recorded by billing staff (cash, card terminal, bank
-- transfer) or from Stripe. Append-only: a mistake is corrected by a refund.
create table invoicing.payment (
    practice_id         uuid not null,
    payment_id          uuid not null,
    invoice_id          uuid not null,
    method              text not null constraint payment_method check (method in ('cash', 'card_terminal', 'bank_transfer', 'stripe')),
    amount              numeric(12,2) not null constraint payment_amount check (amount > 0),
    received_on         date not null,
    -- The bank's or provider's reference (not personal data: an id or a structured communication).
    reference           text,
    recorded_by         uuid,
    created_at          timestamptz not null default now(),
    constraint payment_pkey primary key (practice_id, payment_id),
    constraint payment_invoice_fkey foreign key (practice_id, invoice_id)
        references invoicing.invoice (practice_id, invoice_id)
);
create index payment_invoice_idx on invoicing.payment (practice_id, invoice_id);
select invoicing.tenant_policy('invoicing.payment');
grant select, insert on invoicing.payment to praxis_app;

-- The patient's postal address (for invoices) ------------------------------------------------
-- Personal data: street, number, box, postcode and city as one AES-256-GCM document under the
-- practice data key, like the national number; only the country stays readable (it decides
-- validation and never identifies anyone). Erased with the patient.
alter table core.patient
    add column address_enc bytea,
    add column address_country text constraint patient_address_country check (address_country ~ '^[A-Z]{2}$'),
    add constraint patient_address_pair check ((address_enc is null) = (address_country is null));

-- Concurrent edits (platform::versions): a patient's version, raised by every change, is its
-- ETag; a change with a stale If-Match is refused.
alter table core.patient add column version integer not null default 1;

-- Idempotency keys (platform::idempotency) ---------------------------------------------------
-- A POST with an Idempotency-Key stores its answer here in its own transaction; a retry with
-- the same key and body gets that answer back without the work being done again. The
-- fingerprint is an HMAC (master key) of method, route and body, never a plain hash: a body
-- may hold personal data. The answer is the one the first request got, byte for byte (ids,
-- numbers, amounts; it may name a patient id). Kept 24 hours.
create table core.idempotency_key (
    practice_id         uuid not null references core.practice (practice_id),
    key                 text not null constraint idempotency_key_length check (length(key) between 1 and 255),
    fingerprint         bytea not null,
    status              smallint,
    response            bytea,
    created_at          timestamptz not null default now(),
    constraint idempotency_key_pkey primary key (practice_id, key)
);
create index idempotency_key_created_idx on core.idempotency_key (practice_id, created_at);
alter table core.idempotency_key enable row level security;
alter table core.idempotency_key force row level security;
create policy idempotency_key_isolation on core.idempotency_key
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update, delete on core.idempotency_key to praxis_app;
