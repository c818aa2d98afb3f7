//! A Stripe event reduced to the fields we keep. The body is read into a struct that names
//! only those fields; everything else (the session's `customer_details`: the name, e-mail,
//! address and phone the patient typed on Stripe's page) is skipped by the parser and never
//! stored or logged. Ids are checked against their shapes before they go anywhere.

use chrono::{DateTime, Utc};
use domain::{CheckoutId, RefundId};
use serde::Deserialize;

/// The event types we act on (the webhook endpoint subscribes to these).
pub(crate) const TYPES: [&str; 7] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "refund.created",
    "refund.updated",
    "refund.failed",
];

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `checkout.session.completed` (paid now, or later for a delayed method).
    SessionCompleted,
    /// `checkout.session.async_payment_succeeded`.
    SessionPaidLater,
    /// `checkout.session.async_payment_failed`.
    SessionPaymentFailed,
    /// `checkout.session.expired`.
    SessionExpired,
    /// `refund.created`, `refund.updated`, `refund.failed`.
    Refund,
}

impl Kind {
    fn of(t: &str) -> Option<Kind> {
        Some(match t {
            "checkout.session.completed" => Kind::SessionCompleted,
            "checkout.session.async_payment_succeeded" => Kind::SessionPaidLater,
            "checkout.session.async_payment_failed" => Kind::SessionPaymentFailed,
            "checkout.session.expired" => Kind::SessionExpired,
            "refund.created" | "refund.updated" | "refund.failed" => Kind::Refund,
            _ => return None,
        })
    }
}

/// The fields we keep of an event we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Whitelisted {
    pub event_id: String,
    pub event_type: String,
    pub kind: Kind,
    pub created: DateTime<Utc>,
    pub livemode: bool,
    /// The connected account it happened on.
    pub account: Option<String>,
    /// `cs_…` or `re_…`.
    pub object_id: String,
    /// Our attempt (sessions: `client_reference_id` / `metadata[checkout]`).
    pub checkout: Option<CheckoutId>,
    /// Our refund (`metadata[refund]`); none for a refund made in Stripe's Dashboard.
    pub refund: Option<RefundId>,
    pub payment_intent: Option<String>,
    /// Sessions: `amount_total`; refunds: `amount`.
    pub amount_cents: Option<i64>,
    /// Sessions: `payment_status`; refunds: `status`.
    pub status: Option<String>,
}

/// Why a body is not an event we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EventError {
    /// Not JSON of an event's shape.
    #[error("not a Stripe event")]
    Malformed,
    /// A type we do not act on (answered 200, stored nowhere).
    #[error("an event type we do not act on")]
    Ignored,
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    livemode: bool,
    #[serde(default)]
    account: Option<String>,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: Object,
}

#[derive(Deserialize)]
struct Object {
    id: String,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: Option<std::collections::HashMap<String, String>>,
    #[serde(default)]
    payment_status: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    amount_total: Option<i64>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
}

/// An id, or the object it names when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

fn id_shaped(s: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        s.strip_prefix(p).is_some_and(|rest| {
            (1..=200).contains(&rest.len())
                && rest.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        })
    })
}

fn word(s: Option<String>) -> Option<String> {
    s.filter(|w| {
        (1..=40).contains(&w.len()) && w.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
    })
}

/// Reads the fields we keep; a type we do not act on is [`EventError::Ignored`].
pub(crate) fn parse(body: &[u8]) -> Result<Whitelisted, EventError> {
    let e: Envelope = serde_json::from_slice(body).map_err(|_| EventError::Malformed)?;
    if !id_shaped(&e.id, &["evt_"]) {
        return Err(EventError::Malformed);
    }
    let kind = Kind::of(&e.kind).ok_or(EventError::Ignored)?;
    let o = e.data.object;
    let expected = if kind == Kind::Refund {
        &["re_", "pyr_"][..]
    } else {
        &["cs_"][..]
    };
    if !id_shaped(&o.id, expected) {
        return Err(EventError::Malformed);
    }
    if o.currency.as_deref().is_some_and(|c| c != "eur") {
        return Err(EventError::Malformed);
    }
    let metadata = o.metadata.unwrap_or_default();
    let uuid = |s: Option<&String>| s.and_then(|s| uuid::Uuid::parse_str(s).ok());
    let checkout = if kind == Kind::Refund {
        None
    } else {
        uuid(o.client_reference_id.as_ref())
            .or_else(|| uuid(metadata.get("checkout")))
            .map(CheckoutId::from_uuid)
    };
    let refund = if kind == Kind::Refund {
        uuid(metadata.get("refund")).map(RefundId::from_uuid)
    } else {
        None
    };
    let payment_intent = o
        .payment_intent
        .map(|p| match p {
            Expandable::Id(id) | Expandable::Object { id } => id,
        })
        .filter(|p| id_shaped(p, &["pi_"]));
    let (amount_cents, status) = if kind == Kind::Refund {
        (o.amount, word(o.status))
    } else {
        (o.amount_total, word(o.payment_status))
    };
    if amount_cents.is_some_and(|a| a < 0) {
        return Err(EventError::Malformed);
    }
    let account = e.account.filter(|a| id_shaped(a, &["acct_"]));
    Ok(Whitelisted {
        event_id: e.id,
        event_type: e.kind,
        kind,
        created: DateTime::from_timestamp(e.created, 0).ok_or(EventError::Malformed)?,
        livemode: e.livemode,
        account,
        object_id: o.id,
        checkout,
        refund,
        payment_intent,
        amount_cents,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_whitelist_and_nothing_of_the_customer() {
        let body = br#"{"id":"evt_1","type":"checkout.session.completed","created":1700000000,"livemode":false,
            "account":"acct_123456","data":{"object":{"id":"cs_test_1","object":"checkout.session",
            "client_reference_id":"0193a4c2-0000-7000-8000-000000000001","payment_status":"paid","status":"complete",
            "payment_intent":"pi_1","amount_total":4550,"currency":"eur",
            "customer_details":{"email":"jan@example.be","name":"Jan Peeters","phone":"+32470123456"}}}}"#;
        let w = parse(body).unwrap();
        assert_eq!(w.kind, Kind::SessionCompleted);
        assert_eq!(w.amount_cents, Some(4550));
        assert_eq!(w.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(w.status.as_deref(), Some("paid"));
        assert!(w.checkout.is_some());
        let debug = format!("{w:?}");
        assert!(
            !debug.contains("Peeters") && !debug.contains("example.be") && !debug.contains("+32")
        );
    }

    #[test]
    fn other_types_are_ignored_and_odd_ids_refused() {
        let other = br#"{"id":"evt_1","type":"customer.created","created":1,"livemode":false,"data":{"object":{"id":"cus_1"}}}"#;
        assert_eq!(parse(other), Err(EventError::Ignored));
        let odd = br#"{"id":"evt_1'; drop table","type":"checkout.session.expired","created":1,"livemode":false,"data":{"object":{"id":"cs_1"}}}"#;
        assert_eq!(parse(odd), Err(EventError::Malformed));
        assert_eq!(parse(b"[1,2]"), Err(EventError::Malformed));
    }
}
