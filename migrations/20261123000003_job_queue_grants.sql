-- The application role enqueues jobs inside its business transactions and runs the workers:
-- it needs the job tables and functions of schema apalis (created by apalis's own migrator,
-- which `praxis migrate` runs first). The apalis tables carry no practice_id; payloads carry
-- ids only, and every handler opens its own tenant-scoped transaction from them.
grant usage on schema apalis to praxis_app;
grant select, insert, update, delete on all tables in schema apalis to praxis_app;
grant execute on all functions in schema apalis to praxis_app;
