-- Online payments through Stripe (services/invoicing/src/stripe): payment links, Checkout
-- Sessions, webhook events, refunds. Stripe learns an amount, a currency, a generic label with
-- the invoice number and opaque ids; nothing here holds a name, an address or clinical text.

-- Each practice is paid into its own Stripe account, connected to the operator's platform
-- account (Stripe Connect): calls carry `Stripe-Account: acct_…`. The id is not a secret.
-- Payment reminders: days after the due date on which an unpaid invoice gets an SMS with a
-- payment link (empty: none).
alter table invoicing.settings
    add column stripe_account text constraint settings_stripe_account check (stripe_account ~ '^acct_[A-Za-z0-9]{6,40}$'),
    add column reminder_days integer[] not null default '{7,21}'
        constraint settings_reminder_days check (
            cardinality(reminder_days) <= 6
            and array_position(reminder_days, null) is null
            and 1 <= all(reminder_days) and 120 >= all(reminder_days));

-- Callbacks and the patient's link arrive without a tenant. This maps what they name to the
-- practice: `link:<sha-256 of the token, hex>`, `checkout:<uuid>`, `refund:<uuid>`. Read in a
-- read-only transaction with app.routing = 'on'; the work then runs inside the tenant.
create table invoicing.route (
    reference           text primary key,
    practice_id         uuid not null references core.practice (practice_id),
    created_at          timestamptz not null default now()
);
alter table invoicing.route enable row level security;
alter table invoicing.route force row level security;
create policy route_isolation on invoicing.route
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
create policy route_callbacks on invoicing.route for select
    using (current_setting('app.routing', true) = 'on');
grant select, insert, delete on invoicing.route to praxis_app;

-- A payment link: `PUBLIC_URL/p/<token>`, 128 random bits. Only the token's SHA-256 is kept
-- (the token is a random secret, not personal data: a plain hash cannot be reversed). Kept
-- with the invoice.
create table invoicing.payment_link (
    practice_id         uuid not null,
    link_id             uuid not null,
    invoice_id          uuid not null,
    token_sha256        bytea not null constraint payment_link_token unique,
    -- Who made it: staff by hand, or a payment reminder.
    origin              text not null constraint payment_link_origin check (origin in ('staff', 'reminder')),
    created_by          uuid,
    created_at          timestamptz not null default now(),
    expires_at          timestamptz not null,
    opened_at           timestamptz,
    constraint payment_link_pkey primary key (practice_id, link_id),
    constraint payment_link_invoice_fkey foreign key (practice_id, invoice_id)
        references invoicing.invoice (practice_id, invoice_id)
);
create index payment_link_invoice_idx on invoicing.payment_link (practice_id, invoice_id);
select invoicing.tenant_policy('invoicing.payment_link');
grant select, insert, update on invoicing.payment_link to praxis_app;

-- One Checkout Session attempt. The row is written before Stripe is called; its id is the
-- session's `client_reference_id` and `metadata[checkout]`, and `cs:<id>` its Idempotency-Key,
-- so a retried call cannot open a second session. `creating` until Stripe answered.
create table invoicing.checkout (
    practice_id         uuid not null,
    checkout_id         uuid not null,
    invoice_id          uuid not null,
    link_id             uuid not null,
    amount_cents        bigint not null constraint checkout_amount check (amount_cents > 0),
    state               text not null default 'creating'
        constraint checkout_state check (state in ('creating', 'open', 'complete', 'expired', 'failed')),
    session_id          text constraint checkout_session_id check (session_id ~ '^cs_[A-Za-z0-9_]{1,200}$'),
    url                 text,
    expires_at          timestamptz not null,
    payment_intent      text constraint checkout_payment_intent check (payment_intent ~ '^pi_[A-Za-z0-9_]{1,200}$'),
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint checkout_pkey primary key (practice_id, checkout_id),
    constraint checkout_session_unique unique (session_id),
    constraint checkout_link_fkey foreign key (practice_id, link_id)
        references invoicing.payment_link (practice_id, link_id),
    constraint checkout_invoice_fkey foreign key (practice_id, invoice_id)
        references invoicing.invoice (practice_id, invoice_id),
    constraint checkout_open_has_session check (state in ('creating', 'failed') or session_id is not null)
);
create index checkout_invoice_idx on invoicing.checkout (practice_id, invoice_id, created_at desc);
select invoicing.tenant_policy('invoicing.checkout');
grant select, insert, update on invoicing.checkout to praxis_app;

-- A Stripe payment is recorded once per Checkout Session, whatever the events say.
alter table invoicing.payment
    add column checkout_id uuid,
    add constraint payment_checkout_unique unique (practice_id, checkout_id),
    add constraint payment_checkout_stripe check (checkout_id is null or method = 'stripe');

-- Refunds: staff ask for one (full or partial) of a Stripe payment, or the system does for a
-- second payment of an invoice already paid. `requested` until Stripe has it (the job calls
-- with Idempotency-Key `refund:<id>`), then Stripe's status, final by webhook.
create table invoicing.refund (
    practice_id         uuid not null,
    refund_id           uuid not null,
    invoice_id          uuid not null,
    payment_id          uuid not null,
    amount_cents        bigint not null constraint refund_amount check (amount_cents > 0),
    reason              text not null constraint refund_reason check (reason in ('requested_by_customer', 'duplicate')),
    state               text not null default 'requested'
        constraint refund_state check (state in ('requested', 'pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
    stripe_refund_id    text constraint refund_stripe_id check (stripe_refund_id ~ '^(re|pyr)_[A-Za-z0-9_]{1,200}$'),
    -- The credit note the refund goes with (a refund of money owed is not a credit: null).
    credit_note_id      uuid,
    -- Whether the invoice's paid amount was already lowered for it (once, on success).
    settled             boolean not null default false,
    requested_by        uuid,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint refund_pkey primary key (practice_id, refund_id),
    constraint refund_stripe_unique unique (stripe_refund_id),
    constraint refund_payment_fkey foreign key (practice_id, payment_id)
        references invoicing.payment (practice_id, payment_id),
    constraint refund_invoice_fkey foreign key (practice_id, invoice_id)
        references invoicing.invoice (practice_id, invoice_id)
);
create index refund_invoice_idx on invoicing.refund (practice_id, invoice_id);
select invoicing.tenant_policy('invoicing.refund');
grant select, insert, update on invoicing.refund to praxis_app;

-- Stripe events, deduplicated by id. Only whitelisted fields are kept (the session's
-- `customer_details` — name, e-mail, address the patient typed on Stripe's page — never):
-- the object's id, our reference, amounts, the payment intent and a status word.
create table invoicing.stripe_event (
    practice_id         uuid not null,
    event_id            text not null constraint stripe_event_id check (event_id ~ '^evt_[A-Za-z0-9_]{1,200}$'),
    type                text not null constraint stripe_event_type check (type ~ '^[a-z_.]{1,80}$'),
    created             timestamptz not null,
    object_id           text not null constraint stripe_event_object check (object_id ~ '^[a-z]{2,4}_[A-Za-z0-9_]{1,200}$'),
    checkout_id         uuid,
    refund_id           uuid,
    payment_intent      text constraint stripe_event_payment_intent check (payment_intent ~ '^pi_[A-Za-z0-9_]{1,200}$'),
    amount_cents        bigint,
    status              text constraint stripe_event_status check (status ~ '^[a-z_]{1,40}$'),
    -- Webhook or reconciliation.
    source              text not null constraint stripe_event_source check (source in ('webhook', 'reconciliation')),
    received_at         timestamptz not null default now(),
    processed_at        timestamptz,
    outcome             text constraint stripe_event_outcome check (outcome ~ '^[a-z_]{1,40}$'),
    constraint stripe_event_pkey primary key (practice_id, event_id)
);
create index stripe_event_unprocessed_idx on invoicing.stripe_event (practice_id, received_at) where processed_at is null;
select invoicing.tenant_policy('invoicing.stripe_event');
grant select, insert, update on invoicing.stripe_event to praxis_app;

-- Payment reminders sent (the dunning history): one row per reminder and invoice, so a
-- reminder day is never sent twice.
create table invoicing.reminder (
    practice_id         uuid not null,
    invoice_id          uuid not null,
    -- Which of the practice's reminder days (1 = first).
    ordinal             integer not null constraint reminder_ordinal check (ordinal between 1 and 6),
    link_id             uuid not null,
    message_id          uuid,
    created_at          timestamptz not null default now(),
    constraint reminder_pkey primary key (practice_id, invoice_id, ordinal),
    constraint reminder_invoice_fkey foreign key (practice_id, invoice_id)
        references invoicing.invoice (practice_id, invoice_id),
    constraint reminder_link_fkey foreign key (practice_id, link_id)
        references invoicing.payment_link (practice_id, link_id)
);
select invoicing.tenant_policy('invoicing.reminder');
grant select, insert on invoicing.reminder to praxis_app;

-- Bank statement entries already recorded as payments (CAMT.053 import): importing the same
-- statement again records nothing twice. The key is a keyed HMAC (master key) of the account
-- and the entry's identity (the bank's reference, or its date, amount and remittance lines,
-- which may hold a payer's words): nothing of the entry itself is kept.
create table invoicing.bank_entry (
    practice_id         uuid not null references core.practice (practice_id),
    entry_key           bytea not null,
    payment_id          uuid not null,
    imported_at         timestamptz not null default now(),
    constraint bank_entry_pkey primary key (practice_id, entry_key),
    constraint bank_entry_payment_fkey foreign key (practice_id, payment_id)
        references invoicing.payment (practice_id, payment_id)
);
select invoicing.tenant_policy('invoicing.bank_entry');
grant select, insert on invoicing.bank_entry to praxis_app;

-- A payment message is not sent once its invoice is settled (paid, credited or written off
-- between the request and the send, a reminder waiting out the quiet hours, say): the send
-- load says so (`invoice_settled`) and the send job cancels the message. The function's result
-- gains a column, so it is dropped and created again (same body otherwise).
drop function notifications.send_load(uuid, uuid[], text, text[]);
create function notifications.send_load(p_practice uuid, p_messages uuid[], p_subprocessor text, p_categories text[])
returns table (message_id uuid, state text, kind text, patient_id uuid, starts_at timestamptz, link text, due_at timestamptz,
               next_attempt_at timestamptz, sending_since timestamptz, mobile_e164 text, preferred_language text,
               consent boolean, restricted boolean, flagged boolean, practice_name text, time_zone text,
               display_name text, address_line text, practitioner_in_messages boolean, min_lead_minutes integer,
               quiet_start time, quiet_end time, appt_status text, appt_starts_at timestamptz, template text,
               practitioner_name text, type_name text, type_in_messages boolean, refusal text,
               invoice_settled boolean)
language plpgsql as $$
#variable_conflict use_column
begin
    perform set_config('app.practice_id', p_practice::text, true);
    refusal := core.egress_refusal(p_subprocessor, p_categories);
    return query
    with m as materialized (
        select x.message_id, x.state, x.kind, x.patient_id, x.appointment_id, x.about_id, x.starts_at, x.link, x.due_at,
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
           refusal,
           inv.settled
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
          offset 0) st on true
      left join lateral (
          select x.status not in ('issued', 'partially_paid') as settled
            from invoicing.invoice x
           where m.kind in ('payment_link', 'payment_reminder')
             and x.practice_id = p_practice and x.invoice_id = m.about_id
          offset 0) inv on true;
end $$;
grant execute on function notifications.send_load(uuid, uuid[], text, text[]) to praxis_app;

-- A replayed answer of a versioned resource (an issued invoice, a draft) carries its ETag like
-- the first one did.
alter table core.idempotency_key add column version integer;
