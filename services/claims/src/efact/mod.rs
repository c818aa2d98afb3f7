//! MyCareNet eFact for Belgian mutualities: message 920000 (third-party payer invoicing, the
//! paramedical subset) on the fixed-width records of [`crate::records`]
//! (shared/reference/claim-files.md §2).
//!
//! - [`layout`]: segments 200/300 and records 10–96 as data;
//! - [`write`]: the streaming writer (record numbers, check digits, totals);
//! - [`validate`]: the strict validator (an `io::Write`); [`parse`]: reading a message back;
//! - [`answer`]: the mutualities' answers (931000, 920999, 920098/920099/920900).

pub mod answer;
pub mod layout;
pub mod parse;
pub mod validate;
pub mod write;

#[cfg(test)]
mod tests;
