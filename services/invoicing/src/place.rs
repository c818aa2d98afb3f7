//! Where the practice is: its time zone (for dates: issue, due, service) and its country (for
//! references, identifiers and the exemption mention).

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use domain::practice::Country;
use platform::db::TenantTx;

use crate::error::InvoiceError;

/// Where the practice is: its time zone (for dates) and country (for references).
pub(crate) struct PracticePlace {
    pub(crate) tz: Tz,
    pub(crate) country: Country,
}

/// Reads the practice's zone and country.
pub(crate) async fn practice_place(tx: &mut TenantTx) -> Result<PracticePlace, InvoiceError> {
    let (tz, country): (String, String) =
        sqlx::query_as("select time_zone, country from core.practice")
            .fetch_one(&mut **tx)
            .await?;
    PracticePlace::parse(&tz, &country)
}

impl PracticePlace {
    /// From the stored zone and country.
    pub(crate) fn parse(tz: &str, country: &str) -> Result<PracticePlace, InvoiceError> {
        let bad = |what: &str| {
            InvoiceError::Db(sqlx::Error::Decode(
                format!("invalid {what} in core.practice").into(),
            ))
        };
        Ok(PracticePlace {
            tz: tz.parse().map_err(|_| bad("time zone"))?,
            country: Country::parse(country).ok_or_else(|| bad("country"))?,
        })
    }

    /// Today where the practice is.
    pub(crate) fn today(&self) -> NaiveDate {
        self.date_of(Utc::now())
    }

    /// The practice's date at an instant.
    pub(crate) fn date_of(&self, at: chrono::DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }
}
