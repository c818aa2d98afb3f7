//! The claims section: where claim files are handed to the transport (an outbox directory,
//! until VECOZO or MyCareNet transport is configured) and how often it is swept.

use std::path::PathBuf;
use std::time::Duration;

use super::source::{ConfigError, Source, err};

/// Claim file delivery.
#[derive(Clone, Debug)]
pub struct ClaimSettings {
    /// `CLAIMS_OUTBOX_DIR`: generated files are delivered to `<dir>/<practice id>/out/` and
    /// return files picked up from `<dir>/<practice id>/in/`. Unset: files are only downloaded
    /// by billing staff.
    pub outbox_dir: Option<PathBuf>,
    /// `CLAIMS_OUTBOX_MINUTES`: how often the outbox is swept.
    pub outbox_interval: Duration,
}

impl ClaimSettings {
    pub(crate) fn read(env: &Source<'_>) -> Result<Self, ConfigError> {
        let outbox_dir = match env.get("CLAIMS_OUTBOX_DIR") {
            None => None,
            Some(d) if d.starts_with('/') => Some(PathBuf::from(d)),
            Some(_) => return Err(err("CLAIMS_OUTBOX_DIR", "must be an absolute path")),
        };
        Ok(Self {
            outbox_dir,
            outbox_interval: Duration::from_secs(
                u64::from(env.positive("CLAIMS_OUTBOX_MINUTES", 5)?) * 60,
            ),
        })
    }
}
