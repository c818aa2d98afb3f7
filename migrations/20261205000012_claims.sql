-- Claims (services/claims): the insurer's share of issued invoices and credit notes as claim
-- lines, checked before any batch takes them. Lines hold ids, codes, dates and amounts; the
-- patient's identifiers stay in core.patient (encrypted) and are read, decrypted, only to check
-- a line and to write a file.

create schema claims;
grant usage on schema claims to praxis_app;

-- One line per invoice line with an insurer share (debit), or per credit note line that takes
-- one back (credit, mirroring the debit line it corrects). `reference` is stable for ever:
-- `<invoice number>/<line number>`, as insurers echo it in return files. The tariff, code and
-- amounts are copied from the issued line (which never changes). `problems` lists what fails the
-- rules (rule, field, Vektis retourcode); state `invalid` until they are corrected, then `ready`.
create table claims.claim_line (
    practice_id         uuid not null references core.practice (practice_id),
    line_id             uuid not null,
    reference           text not null constraint claim_line_reference check (reference ~ '^[A-Z0-9-]{1,24}/[0-9]{1,3}$'),
    invoice_id          uuid not null,
    invoice_line_no     integer not null,
    kind                text not null constraint claim_line_kind check (kind in ('debit', 'credit')),
    corrects_line_id    uuid,
    patient_id          uuid not null,
    country             text not null constraint claim_line_country check (country in ('BE', 'NL')),
    -- UZOVI (NL) or mutuality code (BE) when the line was made (the batch's insurer).
    insurer             text constraint claim_line_insurer check (insurer ~ '^[0-9]{3,4}$'),
    tariff_id           uuid,
    code                text not null,
    service_date        date not null,
    invoice_date        date not null,
    quantity            numeric(9,2) not null,
    -- The insurer's share, positive; `kind` gives the sign.
    amount              numeric(12,2) not null constraint claim_line_amount check (amount > 0),
    state               text not null default 'invalid'
        constraint claim_line_state check (state in ('invalid', 'ready', 'batched', 'accepted', 'rejected')),
    problems            jsonb not null default '[]',
    checked_at          timestamptz not null default now(),
    created_at          timestamptz not null default now(),
    constraint claim_line_pkey primary key (practice_id, line_id),
    constraint claim_line_reference_key unique (practice_id, reference),
    constraint claim_line_invoice_line_key unique (practice_id, invoice_id, invoice_line_no),
    constraint claim_line_credit_mirrors check ((kind = 'credit') = (corrects_line_id is not null)),
    constraint claim_line_corrects_fkey foreign key (practice_id, corrects_line_id)
        references claims.claim_line (practice_id, line_id),
    constraint claim_line_patient_fkey foreign key (practice_id, patient_id)
        references core.patient (practice_id, patient_id)
);
create index claim_line_state_idx on claims.claim_line (practice_id, state, country, insurer);
create index claim_line_patient_idx on claims.claim_line (practice_id, patient_id);
alter table claims.claim_line enable row level security;
alter table claims.claim_line force row level security;
create policy tenant_isolation on claims.claim_line
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update on claims.claim_line to praxis_app;

-- Claims reads the issued invoices it claims (read-only).
grant usage on schema invoicing to praxis_app;
