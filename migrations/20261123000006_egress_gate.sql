-- The egress gate (design §4): every call that carries personal data out of the system names a
-- registered subprocessor and a purpose, and is written to the disclosure log.

-- The operator's subprocessor register. Operator-wide (no practice_id): the application role
-- reads it; changes are made by migrations or by the operator, and announced to practices
-- with an objection window (effective_at).
create table core.subprocessor (
    subprocessor_id    text primary key constraint subprocessor_id_format check (subprocessor_id ~ '^[a-z0-9-]{2,40}$'),
    legal_entity       text not null,
    country            text not null constraint subprocessor_country_format check (country ~ '^[A-Z]{2}$'),
    eu_eea             boolean not null,
    -- Required outside the EU/EEA: the transfer basis (adequacy decision, SCCs, ...).
    transfer_basis     text,
    activities         text not null,
    data_categories    text[] not null,
    active             boolean not null default true,
    announced_at       timestamptz not null default now(),
    -- End of the objection window: calls are refused before it.
    effective_at       timestamptz not null default now(),
    constraint subprocessor_transfer_basis check (eu_eea or transfer_basis is not null)
);
grant select on core.subprocessor to praxis_app;

insert into core.subprocessor (subprocessor_id, legal_entity, country, eu_eea, activities, data_categories) values
    ('linkmobility-pl', 'LINK Mobility Poland sp. z o.o.', 'PL', true,
     'Delivery of SMS messages (appointment reminders, waitlist offers, payment links) and of replies',
     array['mobile_number', 'message_text']),
    ('stripe-eu', 'Stripe Payments Europe, Limited', 'IE', true,
     'Online payment of patient invoices (card, Bancontact, iDEAL)',
     array['amount', 'currency', 'payment_reference']);

-- A practice's objection to a subprocessor: the gate refuses calls for that practice.
create table core.subprocessor_objection (
    practice_id        uuid not null references core.practice (practice_id),
    subprocessor_id    text not null references core.subprocessor (subprocessor_id),
    objected_by        uuid not null,
    reason             text not null,
    objected_at        timestamptz not null default now(),
    constraint subprocessor_objection_pkey primary key (practice_id, subprocessor_id)
);
alter table core.subprocessor_objection enable row level security;
alter table core.subprocessor_objection force row level security;
create policy subprocessor_objection_isolation on core.subprocessor_objection
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update, delete on core.subprocessor_objection to praxis_app;

-- The disclosure log: which data categories and field names (never values) went to whom,
-- for what, when, and with what outcome. Insert and read only.
create table core.disclosure (
    practice_id        uuid not null references core.practice (practice_id),
    disclosure_id      uuid not null,
    subprocessor_id    text not null,
    purpose            text not null,
    data_categories    text[] not null,
    fields             text[] not null,
    occurred_at        timestamptz not null default now(),
    -- 'sent', 'failed', 'refused'
    outcome            text not null constraint disclosure_outcome check (outcome in ('sent', 'failed', 'refused')),
    -- Why a call was refused, or the provider's error class; never personal data.
    detail             text,
    correlation_id     text,
    constraint disclosure_pkey primary key (practice_id, disclosure_id)
);
create index disclosure_time_idx on core.disclosure (practice_id, occurred_at);
alter table core.disclosure enable row level security;
alter table core.disclosure force row level security;
create policy disclosure_isolation on core.disclosure
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert on core.disclosure to praxis_app;
