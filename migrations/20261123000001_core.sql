-- Core schema: the shared kernel owned by shared/platform (design §3).
--
-- Tenancy: every table with practice_id has ENABLE + FORCE row-level security and a policy on
-- app.practice_id, which every request and job sets with set_config(.., true) inside its
-- transaction. The application connects as praxis_app (created by `praxis migrate` before this
-- file runs): it owns nothing, is not superuser and has no BYPASSRLS, so the policies bind it.
-- NULLIF(.., '') makes a missing tenant fail closed: zero rows, never an error or a leak.

create schema if not exists core;
grant usage on schema core to praxis_app;

create function core.current_practice_id() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.practice_id', true), '')::uuid $$;

create function core.set_updated_at() returns trigger
    language plpgsql
    as $$ begin new.updated_at = now(); return new; end $$;

-- Practices -------------------------------------------------------------------------------
create table core.practice (
    practice_id        uuid primary key,
    name               text not null constraint practice_name_not_blank check (btrim(name) <> ''),
    country            text not null constraint practice_country_valid check (country in ('BE', 'NL')),
    time_zone          text not null,
    default_language   text not null constraint practice_language_valid check (default_language in ('nl', 'fr', 'en', 'de')),
    -- BE: KBO/BCE enterprise number (10 digits); NL: KvK number (8 digits). Validated in code.
    registration_number text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);
create trigger practice_updated_at before update on core.practice
    for each row execute function core.set_updated_at();
alter table core.practice enable row level security;
alter table core.practice force row level security;
create policy practice_isolation on core.practice
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
-- Background steps that work practice by practice (audit sealing, later reminder sweeps) must
-- first learn which practices exist. They open a read-only transaction with app.directory = 'on'
-- and see practice rows (and nothing else): the only cross-tenant read the application can make.
create policy practice_directory on core.practice for select
    using (current_setting('app.directory', true) = 'on');
grant select, insert, update on core.practice to praxis_app;

-- Per-practice keys (envelope encryption, design §6.3) ---------------------------------------
-- The data key encrypts national numbers, clinical text and TOTP secrets; the index key makes
-- blind indexes. Both are wrapped (AES-256-GCM) by the master key from configuration, with the
-- practice id and key version in the associated data. Deleting this row erases every copy.
create table core.practice_key (
    practice_id        uuid not null references core.practice (practice_id),
    key_version        integer not null constraint practice_key_version_positive check (key_version > 0),
    wrapped_data_key   bytea not null,
    wrapped_index_key  bytea not null,
    created_at         timestamptz not null default now(),
    constraint practice_key_pkey primary key (practice_id, key_version)
);
alter table core.practice_key enable row level security;
alter table core.practice_key force row level security;
create policy practice_key_isolation on core.practice_key
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert on core.practice_key to praxis_app;

-- Staff accounts ----------------------------------------------------------------------------
create table core.staff_account (
    practice_id        uuid not null references core.practice (practice_id),
    staff_id           uuid not null,
    email              text not null constraint staff_email_lowercase check (email = lower(btrim(email))),
    display_name       text not null,
    role               text not null constraint staff_role_valid
                           check (role in ('practitioner', 'receptionist', 'billing', 'practice_admin')),
    password_hash      text,
    -- One-time setup token (first login and password reset): SHA-256 of the token.
    setup_token_hash   bytea,
    setup_token_expires_at timestamptz,
    -- TOTP secret, encrypted with the practice data key (bound to this row and column).
    totp_secret_enc    bytea,
    totp_confirmed_at  timestamptz,
    -- Highest 30-second step accepted so far: a code is valid once.
    totp_last_step     bigint,
    -- Failed password or second-factor attempts since the last full login. A password check
    -- reserves its attempt here before it runs, so concurrent guesses cannot exceed the limit.
    failed_attempts    integer not null default 0,
    locked_at          timestamptz,
    deactivated_at     timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint staff_account_pkey primary key (practice_id, staff_id),
    constraint staff_account_email_key unique (practice_id, email)
);
create trigger staff_account_updated_at before update on core.staff_account
    for each row execute function core.set_updated_at();
alter table core.staff_account enable row level security;
alter table core.staff_account force row level security;
create policy staff_account_isolation on core.staff_account
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update on core.staff_account to praxis_app;

-- Sessions: opaque tokens, stored as SHA-256 only.
create table core.session (
    practice_id        uuid not null,
    session_id         uuid not null,
    staff_id           uuid not null,
    token_hash         bytea not null,
    -- 'second_factor' (password accepted, TOTP code due), 'enrolment' (TOTP not set up yet),
    -- 'active' (both factors). Only 'active' sessions reach patient data.
    stage              text not null constraint session_stage_valid check (stage in ('second_factor', 'enrolment', 'active')),
    created_at         timestamptz not null default now(),
    last_seen_at       timestamptz not null default now(),
    expires_at         timestamptz not null,
    revoked_at         timestamptz,
    revoked_reason     text,
    constraint session_pkey primary key (practice_id, session_id),
    constraint session_token_hash_key unique (token_hash),
    constraint session_staff_fkey foreign key (practice_id, staff_id) references core.staff_account (practice_id, staff_id)
);
create index session_staff_idx on core.session (practice_id, staff_id) where revoked_at is null;
alter table core.session enable row level security;
alter table core.session force row level security;
create policy session_isolation on core.session
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update on core.session to praxis_app;

-- Patients ----------------------------------------------------------------------------------
create table core.patient (
    practice_id        uuid not null references core.practice (practice_id),
    patient_id         uuid not null,
    family_name        text not null,
    given_names        text not null,
    birth_date         date not null,
    sex                text not null constraint patient_sex_valid check (sex in ('female', 'male', 'other', 'unknown')),
    mobile_e164        text constraint patient_mobile_e164 check (mobile_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    email              text,
    preferred_language text not null constraint patient_language_valid check (preferred_language in ('nl', 'fr', 'en', 'de')),
    sms_consent_at     timestamptz,
    sms_consent_method text constraint patient_consent_method_valid check (sms_consent_method in ('verbal', 'written', 'online', 'intake_form')),
    sms_consent_withdrawn_at timestamptz,
    -- Insurance. BE: mutuality code (3 digits) and INSZ/NISS; NL: UZOVI (4 digits), BSN, policy number.
    insurance_country  text constraint patient_insurance_country_valid check (insurance_country in ('BE', 'NL')),
    mutuality_code     text constraint patient_mutuality_code_format check (mutuality_code ~ '^[0-9]{3}$'),
    uzovi              text constraint patient_uzovi_format check (uzovi ~ '^[0-9]{4}$'),
    policy_number      text,
    -- National number (INSZ/NISS or BSN): AES-256-GCM with the practice data key, plus an
    -- HMAC-SHA256 blind index (practice index key, truncated to 16 bytes) for exact lookup.
    national_number_enc  bytea,
    national_number_bidx bytea,
    gp_name            text,
    clinical_summary_enc bytea,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint patient_pkey primary key (practice_id, patient_id),
    constraint patient_national_number_pair check ((national_number_enc is null) = (national_number_bidx is null))
);
create trigger patient_updated_at before update on core.patient
    for each row execute function core.set_updated_at();
create index patient_family_name_idx on core.patient (practice_id, lower(family_name) text_pattern_ops, patient_id);
create index patient_birth_date_idx on core.patient (practice_id, birth_date);
create index patient_national_number_idx on core.patient (practice_id, national_number_bidx) where national_number_bidx is not null;
alter table core.patient enable row level security;
alter table core.patient force row level security;
create policy patient_isolation on core.patient
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update, delete on core.patient to praxis_app;

-- Audit trail (design §6.2, NEN 7513) ----------------------------------------------------------
-- Events are inserted in parallel by requests and jobs, in the transaction of the access they
-- record. A background step seals them into a per-practice hash chain (core.audit_chain) in
-- order, so audit writes never serialise requests. The application role may only insert and
-- read both tables; no update, delete or truncate.
create table core.audit_event (
    practice_id        uuid not null references core.practice (practice_id),
    audit_id           uuid not null,
    occurred_at        timestamptz not null default clock_timestamp(),
    -- OWASP logging vocabulary: authn_login_success, authn_login_fail, authn_login_lock,
    -- sensitive_read, sensitive_create, sensitive_update, sensitive_delete, authz_fail, ...
    event              text not null,
    -- NEN 7513 action code: C, R, U, D or E (execute).
    action             text not null constraint audit_event_action_valid check (action in ('C', 'R', 'U', 'D', 'E')),
    actor_staff_id     uuid,
    actor_role         text,
    -- When operator staff act under a support grant, the grant is the responsible party.
    support_grant_id   uuid,
    patient_id         uuid,
    purpose            text not null,
    route              text not null,
    outcome            text not null,
    request_id         text,
    -- Short machine reason (e.g. 'bad_password', 'locked'); never personal data.
    reason             text,
    constraint audit_event_pkey primary key (practice_id, audit_id)
);
create index audit_event_patient_idx on core.audit_event (practice_id, patient_id, occurred_at) where patient_id is not null;
create index audit_event_time_idx on core.audit_event (practice_id, occurred_at, audit_id);
alter table core.audit_event enable row level security;
alter table core.audit_event force row level security;
create policy audit_event_isolation on core.audit_event
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert on core.audit_event to praxis_app;

create table core.audit_chain (
    practice_id        uuid not null references core.practice (practice_id),
    seq                bigint not null constraint audit_chain_seq_positive check (seq > 0),
    audit_id           uuid not null,
    prev_hash          bytea not null,
    hash               bytea not null,
    sealed_at          timestamptz not null default now(),
    constraint audit_chain_pkey primary key (practice_id, seq),
    constraint audit_chain_audit_key unique (practice_id, audit_id)
);
alter table core.audit_chain enable row level security;
alter table core.audit_chain force row level security;
create policy audit_chain_isolation on core.audit_chain
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert on core.audit_chain to praxis_app;

-- Time-boxed support access: operator staff see no practice data unless a practice admin grants
-- it. Every use is audited with the grant id.
create table core.support_grant (
    practice_id        uuid not null references core.practice (practice_id),
    grant_id           uuid not null,
    granted_by         uuid not null,
    -- Operator-side reference of the support engineer (ticket or employee id, not a name).
    operator_ref       text not null,
    reason             text not null,
    starts_at          timestamptz not null default now(),
    expires_at         timestamptz not null,
    revoked_at         timestamptz,
    -- SHA-256 of the support token handed to the operator.
    token_hash         bytea not null,
    constraint support_grant_pkey primary key (practice_id, grant_id),
    constraint support_grant_token_key unique (token_hash),
    constraint support_grant_window check (expires_at > starts_at),
    constraint support_grant_granter_fkey foreign key (practice_id, granted_by) references core.staff_account (practice_id, staff_id)
);
alter table core.support_grant enable row level security;
alter table core.support_grant force row level security;
create policy support_grant_isolation on core.support_grant
    using (practice_id = (select core.current_practice_id()))
    with check (practice_id = (select core.current_practice_id()));
grant select, insert, update on core.support_grant to praxis_app;

grant execute on function core.current_practice_id() to praxis_app;
