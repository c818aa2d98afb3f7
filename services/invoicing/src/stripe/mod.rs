//! Stripe: what payments need from it and nothing more. [`signature`] checks the
//! `Stripe-Signature` header of a webhook on the exact bytes received, before anything reads the
//! body.

pub mod signature;
