//! Claims: the insurer's share of issued invoices and credit notes as claim lines, checked
//! before any batch takes them ([`lines`]: made by the job `claims.claimable`, checked by the
//! rules of `domain::claims`; [`api`]: what billing staff see and correct). Batches and claim
//! files (Vektis PM304/PM305, eFact, FHIR) build on these lines.

pub mod api;
pub mod batches;
mod corrections;
pub mod efact;
pub mod files;
pub mod lines;
pub mod records;
pub mod transport;
pub mod vektis;

use platform::{ApiRouter, AppState};

/// This service's routes.
pub fn router() -> ApiRouter {
    ApiRouter::with_openapi(<Api as utoipa::OpenApi>::openapi())
        .merge(api::router())
        .merge(batches::router())
}

/// The queues this service consumes.
pub fn workers(state: &AppState) -> Vec<platform::jobs::Consumer> {
    use domain::jobs::Claimable;
    use platform::jobs::Consumer;
    let s = state.clone();
    vec![Consumer::typed::<Claimable, _, _>(8, 2, move |job| {
        let state = s.clone();
        async move {
            Ok(format!(
                "{} new lines",
                lines::make_lines(&state, job).await?
            ))
        }
    })]
}

/// This service's OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "claims", description = "Insurer claims: claim lines and what to correct before they are batched")))]
pub struct Api;
