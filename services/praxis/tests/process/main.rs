//! The real `praxis` binary, one process per test: its command line, its log output and its
//! process-wide metrics. One test binary, so that these tests run side by side.

mod cli;
mod common;
mod logs;
mod metrics;
