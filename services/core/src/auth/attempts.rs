//! The trail of sign-in attempts: audit rows in their own transaction, and locking an account.

use domain::practice::Role;
use domain::{PracticeId, StaffId};
use platform::audit::{self, Action, AuditEvent};
use platform::auth::session::{self};
use platform::{ApiResult, AppState};

pub(super) const LOGIN_ROUTE: &str = "/v1/auth/login";
pub(super) const PASSWORD_ROUTE: &str = "/v1/auth/password";

pub(super) fn auth_event<'a>(
    event: &'a str,
    actor: Option<(StaffId, Role)>,
    outcome: &'a str,
    reason: Option<&'a str>,
    route: &'a str,
) -> AuditEvent<'a> {
    AuditEvent {
        event,
        action: Action::Execute,
        actor,
        support_grant: None,
        patient: None,
        purpose: "authentication",
        route,
        outcome,
        reason,
    }
}

/// Records an authentication event in its own transaction. An unknown practice has no trail
/// to write to; that attempt is counted in a metric only.
pub(super) async fn record_auth(
    state: &AppState,
    practice: PracticeId,
    ev: AuditEvent<'_>,
) -> ApiResult<()> {
    let mut tx = state.db().tenant(practice).await?;
    let exists: bool = sqlx::query_scalar("select exists (select 1 from core.practice)")
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        metrics::counter!("auth_unknown_practice_total").increment(1);
        return Ok(());
    }
    audit::record(&mut tx, practice, &ev).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn lock(
    tx: &mut platform::db::TenantTx,
    practice: PracticeId,
    staff: StaffId,
    role: Role,
    route: &str,
) -> ApiResult<()> {
    sqlx::query(
        "update core.staff_account set locked_at = now() where staff_id = $1 and locked_at is null",
    )
    .bind(staff.as_uuid())
    .execute(&mut **tx)
    .await?;
    session::revoke_all(tx, staff, "locked").await?;
    audit::record(
        tx,
        practice,
        &auth_event(
            "authn_login_lock",
            Some((staff, role)),
            "locked",
            None,
            route,
        ),
    )
    .await?;
    metrics::counter!("auth_lockouts_total").increment(1);
    tracing::warn!(practice.id = %practice, staff.id = %staff, "account locked after failed attempts");
    Ok(())
}
