-- Claim batches and files (services/claims): lines of one insurer and period go into a batch,
-- the batch's file is written once (streamed, validated, encrypted in chunks with the practice
-- key), downloaded, sent, and answered by the insurer's return file.

-- Where a line comes from: an invoice or credit note line (one each, as before), or the
-- correction of a rejected line (a credit mirroring it and a new debit, both in a later batch).
alter table claims.claim_line
    add column origin text not null default 'invoice'
        constraint claim_line_origin check (origin in ('invoice', 'credit_note', 'correction', 'resubmission')),
    add column batch_id uuid,
    -- The insurer's answer: what it granted and its retourcodes.
    add column granted numeric(12,2),
    add column return_codes text[] not null default '{}',
    add column answered_at timestamptz,
    -- A rejected line is settled once: corrected and resubmitted, or re-billed to the patient.
    add column settled text constraint claim_line_settled check (settled in ('resubmitted', 'rebilled')),
    add column settled_at timestamptz,
    -- A resubmission names the line it replaces.
    add column replaces_line_id uuid,
    add constraint claim_line_replaces_fkey foreign key (practice_id, replaces_line_id)
        references claims.claim_line (practice_id, line_id);
update claims.claim_line set origin = 'credit_note' where kind = 'credit';
alter table claims.claim_line drop constraint claim_line_reference;
-- `<number>/<line>`, and for corrections `-C<n>` (the credit) or `-R<n>` (the new debit).
alter table claims.claim_line add constraint claim_line_reference
    check (reference ~ '^[A-Z0-9-]{1,24}/[0-9]{1,3}(-[CR][0-9]{1,2})?$');
alter table claims.claim_line drop constraint claim_line_invoice_line_key;
create unique index claim_line_invoice_line_key on claims.claim_line (practice_id, invoice_id, invoice_line_no)
    where origin in ('invoice', 'credit_note');
create index claim_line_batch_idx on claims.claim_line (practice_id, batch_id) where batch_id is not null;

-- One batch per insurer (UZOVI or mutuality) and period. `file_number` is given when the file
-- is generated, never reused (a resubmission is a new batch with a new number).
create table claims.batch (
    practice_id   uuid not null references core.practice (practice_id),
    batch_id      uuid not null,
    format        text not null constraint batch_format check (format in ('pm304', 'efact')),
    insurer       text not null constraint batch_insurer check (insurer ~ '^[0-9]{3,4}$'),
    period_start  date not null,
    period_end    date not null,
    state         text not null default 'draft'
        constraint batch_state check (state in ('draft', 'generated', 'sent', 'answered')),
    outcome       text constraint batch_outcome check (outcome in ('accepted', 'partly', 'rejected')),
    file_number   text constraint batch_file_number check (file_number ~ '^[0-9]{12}$'),
    line_count    integer not null default 0,
    -- Σ debit − Σ credit of its lines.
    total         numeric(14,2) not null default 0,
    granted       numeric(14,2),
    created_at    timestamptz not null default now(),
    created_by    uuid,
    generated_at  timestamptz,
    sent_at       timestamptz,
    answered_at   timestamptz,
    version       integer not null default 1,
    constraint batch_pkey primary key (practice_id, batch_id),
    constraint batch_file_number_key unique (practice_id, file_number),
    constraint batch_period check (period_start <= period_end),
    constraint batch_answered check ((state = 'answered') = (outcome is not null)),
    constraint batch_numbered check ((state = 'draft') = (file_number is null))
);
alter table claims.batch enable row level security;
alter table claims.batch force row level security;
create policy tenant_isolation on claims.batch
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update, delete on claims.batch to praxis_app;
alter table claims.claim_line add constraint claim_line_batch_fkey foreign key (practice_id, batch_id)
    references claims.batch (practice_id, batch_id);

-- File numbers per practice and year: `<year><8 digits>`, row-locked like invoice numbers.
create table claims.file_counter (
    practice_id  uuid not null references core.practice (practice_id),
    year         integer not null,
    last_number  integer not null,
    constraint file_counter_pkey primary key (practice_id, year)
);
alter table claims.file_counter enable row level security;
alter table claims.file_counter force row level security;
create policy tenant_isolation on claims.file_counter
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update on claims.file_counter to praxis_app;

-- Files sent and received: personal data, so only encrypted chunks (AES-GCM with the practice
-- key, each chunk's position in its associated data) and what describes them.
create table claims.claim_file (
    practice_id  uuid not null references core.practice (practice_id),
    file_id      uuid not null,
    batch_id     uuid not null,
    direction    text not null constraint claim_file_direction check (direction in ('out', 'in')),
    format       text not null constraint claim_file_format check (format in ('pm304', 'pm305', 'efact', 'efact-answer', 'fhir')),
    name         text not null constraint claim_file_name check (name ~ '^[A-Za-z0-9._-]{1,80}$'),
    byte_size    bigint not null,
    sha256       bytea not null,
    chunk_count  integer not null,
    created_at   timestamptz not null default now(),
    created_by   uuid,
    -- When the outbox delivered it (out) or picked it up (in).
    delivered_at timestamptz,
    constraint claim_file_pkey primary key (practice_id, file_id),
    constraint claim_file_batch_fkey foreign key (practice_id, batch_id)
        references claims.batch (practice_id, batch_id)
);
create index claim_file_batch_idx on claims.claim_file (practice_id, batch_id);
alter table claims.claim_file enable row level security;
alter table claims.claim_file force row level security;
create policy tenant_isolation on claims.claim_file
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update on claims.claim_file to praxis_app;

create table claims.file_chunk (
    practice_id  uuid not null,
    file_id      uuid not null,
    seq          integer not null,
    data         bytea not null,
    constraint file_chunk_pkey primary key (practice_id, file_id, seq),
    constraint file_chunk_file_fkey foreign key (practice_id, file_id)
        references claims.claim_file (practice_id, file_id) on delete cascade
        -- Chunks are written while the file is made, its row (size, digest) once it is done.
        deferrable initially deferred
);
alter table claims.file_chunk enable row level security;
alter table claims.file_chunk force row level security;
create policy tenant_isolation on claims.file_chunk
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert on claims.file_chunk to praxis_app;

-- What claims reads to write a file: the practitioner of a line's appointment (AGB / RIZIV).
grant usage on schema scheduling to praxis_app;

-- A rejected claim line re-billed to the patient becomes a draft invoice of its own (made by
-- invoicing's job `invoicing.rebill-claim`): at most one per claim line.
alter table invoicing.invoice add column rebills_claim_line_id uuid;
create unique index invoice_rebills_claim_line_key on invoicing.invoice (practice_id, rebills_claim_line_id)
    where rebills_claim_line_id is not null;
