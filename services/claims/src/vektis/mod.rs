//! Vektis EI flat files for Dutch insurers: PM304 declarations of paramedical care and the
//! PM305 return files that answer them (shared/reference/claim-files.md §1), on the
//! fixed-width records of [`crate::records`].
//!
//! - [`pm304_v32`]: the v3.2 tables — a newer version is a new table beside it;
//! - [`model`]: what a declaration says, as values;
//! - [`write`]: the streaming writer; [`validate`]: the strict validator (an `io::Write`, so a
//!   file is checked while it is written); [`parse`]: reading declarations and return files.

pub mod model;
pub mod parse;
pub mod pm304_v32;
pub mod validate;
pub mod write;

#[cfg(test)]
mod tests;
