-- The period a patient's insurance covers, when the practice records it: claims check that a
-- service falls inside it before a line goes into a batch. Not personal data beyond the
-- insurance fields beside it.
alter table core.patient
    add column insurance_valid_from date,
    add column insurance_valid_until date,
    add constraint patient_insurance_period check (insurance_valid_until >= insurance_valid_from);
