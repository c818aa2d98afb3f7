//! Invoicing over HTTP: tariffs, drafts, issue and numbering, credit notes, payments, the job
//! that drafts from completed appointments, and what the database refuses.

mod bank;
mod documents;
mod draft_job;
mod invoices;
mod numbering;
mod online;
mod pages;
mod payments;
mod peppol;
mod reminders;
mod tariffs;
mod webhook_storm;
