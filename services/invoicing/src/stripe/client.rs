//! The calls invoicing makes to Stripe, each built from a type that holds only what the call
//! needs (shared/reference/stripe.md §1): a Checkout Session is an amount, a currency, a
//! generic label with the invoice number, our opaque checkout id, an expiry and return URLs; a
//! refund is a payment intent, an amount, a reason and our refund id. No customer, e-mail,
//! name or description can be attached, because the request types have no place for them.
//!
//! Every call takes a [`Permit`] from the egress gate and carries an `Idempotency-Key` derived
//! from a row written before the call (`cs:<checkout id>`, `refund:<refund id>`), so a retry
//! after a lost answer gets Stripe's first answer instead of a second session or refund. Each
//! practice is a connected account: every call names it in `Stripe-Account`.

use std::time::Duration;

use domain::practice::Language;
use platform::egress::Permit;
use secrecy::ExposeSecret;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAllowedPaymentMethodTypes as Method,
    CreateCheckoutSessionCustomerCreation, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionLineItemsPriceData, ExpireCheckoutSession, ProductData,
    RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSessionLocale, CheckoutSessionMode};
use uuid::Uuid;

/// The data categories a Checkout Session discloses (the register lists them for `stripe-eu`).
pub const SESSION_CATEGORIES: [&str; 3] = ["amount", "currency", "payment_reference"];
/// The fields a Checkout Session sends, for the disclosure log; the golden tests check that
/// the form body holds exactly these.
pub const SESSION_FIELDS: [&str; 13] = [
    "allowed_payment_method_types",
    "cancel_url",
    "client_reference_id",
    "customer_creation",
    "expires_at",
    "line_items.price_data.currency",
    "line_items.price_data.product_data.name",
    "line_items.price_data.unit_amount",
    "line_items.quantity",
    "locale",
    "metadata.checkout",
    "mode",
    "success_url",
];
/// The fields a refund sends.
pub const REFUND_FIELDS: [&str; 4] = ["amount", "metadata.refund", "payment_intent", "reason"];
/// The data categories a refund discloses.
pub const REFUND_CATEGORIES: [&str; 2] = ["amount", "payment_reference"];
/// The register id of Stripe.
pub const SUBPROCESSOR: &str = "stripe-eu";

/// A Checkout Session to open.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    /// Our attempt id: `client_reference_id`, `metadata[checkout]` and the idempotency key.
    pub checkout: Uuid,
    /// The amount in cents (EUR).
    pub amount_cents: i64,
    /// The generic label shown on Stripe's page: "Invoice 2026-000123" in the patient's
    /// language, nothing more.
    pub label: String,
    /// When the session closes (unix seconds; 30 min to 24 h from now).
    pub expires_at: i64,
    /// Where Stripe sends the patient after paying (our page; no personal data in it).
    pub success_url: String,
    /// Where the back button goes.
    pub cancel_url: String,
    /// The page's language.
    pub language: Language,
}

impl SessionRequest {
    /// The request as async-stripe sends it; its form body is what Stripe receives.
    pub fn form(&self) -> CreateCheckoutSession {
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(stripe_types::Currency::EUR);
        price.unit_amount = Some(self.amount_cents);
        price.product_data = Some(ProductData::new(self.label.clone()));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.quantity = Some(1);
        item.price_data = Some(price);
        let locale = match self.language {
            Language::Nl => CheckoutSessionLocale::Nl,
            Language::Fr => CheckoutSessionLocale::Fr,
            Language::En => CheckoutSessionLocale::En,
            Language::De => CheckoutSessionLocale::De,
        };
        CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .allowed_payment_method_types(vec![Method::Card, Method::Bancontact, Method::Ideal])
            .customer_creation(CreateCheckoutSessionCustomerCreation::IfRequired)
            .client_reference_id(self.checkout.to_string())
            .metadata([("checkout".to_owned(), self.checkout.to_string())])
            .expires_at(self.expires_at)
            .success_url(self.success_url.clone())
            .cancel_url(self.cancel_url.clone())
            .locale(locale)
    }

    /// The idempotency key: one per attempt row.
    pub fn idempotency_key(&self) -> String {
        format!("cs:{}", self.checkout)
    }
}

/// A refund to ask for.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// Our refund id: `metadata[refund]` and the idempotency key.
    pub refund: Uuid,
    /// The payment intent of the completed session.
    pub payment_intent: String,
    /// Cents to give back.
    pub amount_cents: i64,
    /// A second payment of the same invoice (`duplicate`) or the practice's decision.
    pub duplicate: bool,
}

impl RefundRequest {
    /// The request as async-stripe sends it.
    pub fn form(&self) -> stripe_core::refund::CreateRefund {
        use stripe_core::refund::{CreateRefund, CreateRefundReason};
        CreateRefund::new()
            .payment_intent(self.payment_intent.clone())
            .amount(self.amount_cents)
            .reason(if self.duplicate {
                CreateRefundReason::Duplicate
            } else {
                CreateRefundReason::RequestedByCustomer
            })
            .metadata([("refund".to_owned(), self.refund.to_string())])
    }

    /// The idempotency key.
    pub fn idempotency_key(&self) -> String {
        format!("refund:{}", self.refund)
    }
}

/// An open session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `cs_…`.
    pub id: String,
    /// Stripe's hosted page.
    pub url: String,
    /// When it closes (unix seconds).
    pub expires_at: i64,
}

/// Where a session stands, as Stripe says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Still open.
    Open,
    /// Paid (or being paid by a delayed method); the payment intent when known.
    Complete(Option<String>),
    /// Closed without payment.
    Expired,
}

/// A refund Stripe took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundCreated {
    /// `re_…`.
    pub id: String,
    /// `pending`, `succeeded`, `failed`, `requires_action` or `canceled`.
    pub status: String,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    /// Stripe refused the request (4xx): the same request will be refused again.
    #[error("refused: {0}")]
    Refused(String),
    /// Not now (429, or a concurrent request with the same key): the same request may pass
    /// later.
    #[error("busy: {0}")]
    Busy(String),
    /// Stripe failed (5xx): it keeps that answer for the key, so a new attempt needs a new key.
    #[error("failed: {0}")]
    Failed(String),
    /// No answer (timeout, connection lost, unreadable): Stripe may have done it; the same
    /// key finds out.
    #[error("in doubt: {0}")]
    InDoubt(String),
}

impl PayError {
    /// Stripe is configured but cannot be reached from here (see [`Payments::Unavailable`]).
    fn unavailable() -> Self {
        PayError::Refused("configuration".into())
    }

    /// A short class for the disclosure log and metrics (`http_402`, `timeout`); never data.
    pub fn class(&self) -> &str {
        match self {
            PayError::Refused(c)
            | PayError::Busy(c)
            | PayError::Failed(c)
            | PayError::InDoubt(c) => c,
        }
    }

    fn from_stripe(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(_, status) => {
                let class = format!("http_{status}");
                match status {
                    409 | 429 => PayError::Busy(class),
                    500.. => PayError::Failed(class),
                    _ => PayError::Refused(class),
                }
            }
            StripeError::Timeout => PayError::InDoubt("timeout".into()),
            StripeError::ClientError(_) => PayError::InDoubt("connection".into()),
            StripeError::JSONDeserialize(_) => PayError::InDoubt("unreadable_answer".into()),
            StripeError::ConfigError(_) => PayError::Refused("configuration".into()),
        }
    }
}

/// The payment provider: Stripe, or the offline sandbox.
#[derive(Clone)]
pub enum Payments {
    /// Opens nothing anywhere: the session's page is the success page of this server.
    Sandbox,
    /// Stripe is configured but its client could not be built: every call is refused, so
    /// nothing is pretended paid or refunded (the server refuses to start this way; see
    /// [`install`]).
    Unavailable,
    /// Stripe's API (or a simulator at `STRIPE_API_BASE`).
    Stripe {
        /// The platform account's client.
        client: Box<Client>,
        /// Live-mode key.
        live: bool,
    },
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Payments::Sandbox => "Payments::Sandbox",
            Payments::Unavailable => "Payments::Unavailable",
            Payments::Stripe { .. } => "Payments::Stripe",
        })
    }
}

impl Payments {
    /// The provider the settings name.
    pub fn from_settings(settings: &platform::Settings) -> Result<Self, StripeError> {
        use platform::config::PaymentProviderSettings as P;
        Ok(match &settings.payments.provider {
            P::Sandbox => Payments::Sandbox,
            P::Stripe {
                secret_key,
                api_base,
                live,
            } => Payments::Stripe {
                client: Box::new(client(
                    secret_key.expose_secret(),
                    api_base,
                    settings.payments.timeout,
                )?),
                live: *live,
            },
        })
    }

    /// Whether events must be live-mode ones.
    pub fn live(&self) -> bool {
        matches!(self, Payments::Stripe { live: true, .. })
    }

    /// Opens a Checkout Session on the practice's account.
    pub async fn create_session(
        &self,
        _permit: &Permit,
        account: &str,
        r: &SessionRequest,
    ) -> Result<Session, PayError> {
        let client = match self {
            Payments::Sandbox => {
                return Ok(Session {
                    id: format!("cs_sandbox_{}", r.checkout.simple()),
                    url: r.success_url.clone(),
                    expires_at: r.expires_at,
                });
            }
            Payments::Unavailable => return Err(PayError::unavailable()),
            Payments::Stripe { client, .. } => &**client,
        };
        let s = post(client, &r.form(), &r.idempotency_key(), account).await?;
        Ok(Session {
            id: s.id.as_str().to_owned(),
            url: s
                .url
                .ok_or_else(|| PayError::InDoubt("session_without_url".into()))?,
            expires_at: s.expires_at,
        })
    }

    /// Closes an open session before a new one is opened. A session that cannot be expired
    /// is looked up: it may have been paid meanwhile.
    pub async fn expire_session(
        &self,
        _permit: &Permit,
        account: &str,
        session_id: &str,
        key: &str,
    ) -> Result<SessionState, PayError> {
        let client = match self {
            Payments::Sandbox => return Ok(SessionState::Expired),
            Payments::Unavailable => return Err(PayError::unavailable()),
            Payments::Stripe { client, .. } => &**client,
        };
        let expired = ExpireCheckoutSession::new(session_id)
            .customize()
            .request_strategy(strategy(key)?)
            .account_id(stripe::AccountId::from(account))
            .send(client)
            .await;
        let session = match expired {
            Ok(s) => s,
            Err(StripeError::Stripe(_, status))
                if (400..500).contains(&status) && status != 429 =>
            {
                RetrieveCheckoutSession::new(session_id)
                    .customize()
                    .account_id(stripe::AccountId::from(account))
                    .send(client)
                    .await
                    .map_err(PayError::from_stripe)?
            }
            Err(e) => return Err(PayError::from_stripe(e)),
        };
        use stripe_shared::CheckoutSessionStatus as S;
        Ok(match session.status {
            Some(S::Complete) => {
                SessionState::Complete(session.payment_intent.map(|p| p.id().as_str().to_owned()))
            }
            Some(S::Open) => SessionState::Open,
            _ => SessionState::Expired,
        })
    }

    /// Asks for a refund on the practice's account.
    pub async fn create_refund(
        &self,
        _permit: &Permit,
        account: &str,
        r: &RefundRequest,
    ) -> Result<RefundCreated, PayError> {
        let client = match self {
            Payments::Sandbox => {
                return Ok(RefundCreated {
                    id: format!("re_sandbox_{}", r.refund.simple()),
                    status: "succeeded".into(),
                });
            }
            Payments::Unavailable => return Err(PayError::unavailable()),
            Payments::Stripe { client, .. } => &**client,
        };
        let refund = post(client, &r.form(), &r.idempotency_key(), account).await?;
        Ok(RefundCreated {
            id: refund.id.as_str().to_owned(),
            status: refund.status.unwrap_or_else(|| "pending".into()),
        })
    }

    /// The practice's events of the given types since `since` (unix seconds), newest first,
    /// each as its JSON (for [`super::event::Whitelisted`] to pick from). Stripe keeps 30 days.
    pub async fn events_since(
        &self,
        _permit: &Permit,
        account: &str,
        types: &[&str],
        since: i64,
    ) -> Result<Vec<serde_json::Value>, PayError> {
        let client = match self {
            Payments::Sandbox => return Ok(Vec::new()),
            Payments::Unavailable => return Err(PayError::unavailable()),
            Payments::Stripe { client, .. } => &**client,
        };
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        // At most 20 pages of 100: a reconciliation run looks at a bounded window.
        for _ in 0..20 {
            let mut list = stripe_core::event::ListEvent::new()
                .types(types.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())
                .created(stripe_types::RangeQueryTs::gte(since))
                .limit(100);
            if let Some(a) = &after {
                list = list.starting_after(a.clone());
            }
            let page = list
                .customize()
                .account_id(stripe::AccountId::from(account))
                .send(client)
                .await
                .map_err(PayError::from_stripe)?;
            for e in &page.data {
                out.push(event_json(e)?);
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.as_str().to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }
}

/// An event as JSON: its id, type, time, mode, account and object.
fn event_json(e: &stripe_shared::Event) -> Result<serde_json::Value, PayError> {
    let object: serde_json::Value =
        serde_json::from_str(&miniserde::json::to_string(&e.data.object))
            .map_err(|_| PayError::InDoubt("unreadable_event".into()))?;
    Ok(serde_json::json!({
        "id": e.id.as_str(),
        "type": e.type_.as_str(),
        "created": e.created,
        "livemode": e.livemode,
        "account": e.account,
        "data": {"object": object},
    }))
}

/// Sends a POST on the practice's account with its idempotency key, once (retries are the
/// caller's, with the same key).
async fn post<R>(
    client: &Client,
    request: &R,
    key: &str,
    account: &str,
) -> Result<R::Output, PayError>
where
    R: StripeRequest,
    R::Output: miniserde::Deserialize,
{
    request
        .customize()
        .request_strategy(strategy(key)?)
        .account_id(stripe::AccountId::from(account))
        .send(client)
        .await
        .map_err(PayError::from_stripe)
}

fn strategy(key: &str) -> Result<RequestStrategy, PayError> {
    Ok(RequestStrategy::Idempotent(
        IdempotencyKey::new(key).map_err(|_| PayError::Refused("idempotency_key".into()))?,
    ))
}

fn client(secret: &str, api_base: &str, timeout: Duration) -> Result<Client, StripeError> {
    ClientBuilder::new(secret)
        .url(api_base)
        .timeout(timeout)
        .app_info("praxis", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
        .build()
}

/// Builds the payment provider the settings name into the state, or says why it cannot be
/// built: the server calls this before it serves, so a Stripe configuration that cannot work
/// stops the start instead of surfacing at a patient's first payment.
pub fn install(state: &platform::AppState) -> Result<(), StripeError> {
    let built = Payments::from_settings(state.settings())?;
    state.service(move |_| built);
    Ok(())
}

/// The state's payment provider (made once from the settings). A client that cannot be built
/// fails closed ([`Payments::Unavailable`]), never open: the sandbox would pretend payments.
pub fn payments(state: &platform::AppState) -> std::sync::Arc<Payments> {
    state.service(|s| {
        Payments::from_settings(s.settings()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the Stripe client could not be built; online payments are refused");
            Payments::Unavailable
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_that_could_not_be_built_refuses_every_call_and_pretends_nothing() {
        let d = platform::egress::Disclosure {
            practice: domain::PracticeId::new(),
            subprocessor: "stripe",
            purpose: "payment_reconciliation",
            data_categories: &[],
            fields: &[],
            correlation_id: "test",
        };
        let permit = platform::egress::decide(&d, None).expect("no refusal");
        let p = Payments::Unavailable;
        assert!(!p.live());
        let listed = p
            .events_since(&permit, "acct_1", &["charge.refunded"], 0)
            .await;
        assert!(matches!(listed, Err(PayError::Refused(_))));
        let expired = p.expire_session(&permit, "acct_1", "cs_1", "key-1").await;
        assert!(matches!(expired, Err(PayError::Refused(_))));
        // The sandbox would answer a refund "succeeded"; this one is refused.
        let refund = RefundRequest {
            refund: Uuid::now_v7(),
            payment_intent: "pi_1".into(),
            amount_cents: 2437,
            duplicate: false,
        };
        let refunded = p.create_refund(&permit, "acct_1", &refund).await;
        assert!(matches!(refunded, Err(PayError::Refused(_))));
        // The permit's outcome is the caller's to record; here nothing left.
        drop(permit);
    }
}
