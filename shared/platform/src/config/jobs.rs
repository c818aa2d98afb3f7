//! The jobs section: how workers poll and prove they are alive, and how often the audit trail
//! is sealed.

use std::time::Duration;

use super::source::{ConfigError, Source};

/// Background work.
#[derive(Clone)]
pub struct JobSettings {
    /// `JOB_HEARTBEAT_MS`: worker heartbeat; a worker silent for three is presumed dead and
    /// its jobs run again.
    pub heartbeat: Duration,
    /// `JOB_POLL_MS`: how often an idle worker looks for due jobs (the latency of a new job).
    pub poll: Duration,
    /// `AUDIT_SEAL_INTERVAL_MS`: how often the audit sealer runs.
    pub audit_seal_interval: Duration,
}

impl JobSettings {
    pub(crate) fn read(env: &Source<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            heartbeat: Duration::from_millis(env.positive("JOB_HEARTBEAT_MS", 5_000)?.into()),
            poll: Duration::from_millis(env.positive("JOB_POLL_MS", 200)?.into()),
            audit_seal_interval: Duration::from_millis(env.parse("AUDIT_SEAL_INTERVAL_MS", 2000)?),
        })
    }
}
