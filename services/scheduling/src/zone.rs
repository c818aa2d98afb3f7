//! The practice's time zone, and instants shown in it.

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use domain::practice::Country;
use platform::db::TenantTx;
use platform::{ApiError, ApiResult};

/// The practice's zone and country.
pub(crate) async fn practice_zone(tx: &mut TenantTx) -> ApiResult<(Tz, Country)> {
    let (tz, country): (String, String) =
        sqlx::query_as("select time_zone, country from core.practice")
            .fetch_one(&mut **tx)
            .await?;
    let tz: Tz = tz
        .parse()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("invalid time zone in database")))?;
    let country = Country::parse(&country)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("invalid country")))?;
    Ok((tz, country))
}

/// An instant shown with the practice's offset at that instant.
pub(crate) fn local(tz: Tz, t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&tz).fixed_offset()
}
