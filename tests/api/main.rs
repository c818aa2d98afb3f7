//! End-to-end tests: the real server over HTTP, its own PostgreSQL database per test.

mod audit;
mod auth;
mod bad_input;
mod claims;
mod contract;
mod egress;
mod encryption;
mod hardening;
mod http;
mod idempotency;
mod invoicing;
mod link;
mod notifications;
mod permissions;
mod scheduling;
mod support;
mod tenancy;
mod versions;
mod vocabulary;
