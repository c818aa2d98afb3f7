//! Claims over HTTP: claim lines made from issued invoices and credit notes, checked, corrected.

mod lines;
