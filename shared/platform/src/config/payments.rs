//! The payments section (invoicing): the operator's Stripe platform account, its webhook
//! secret, and how long payment links live. Each practice is paid into its own connected
//! account, named in its invoicing settings.

use std::time::Duration;

use secrecy::SecretString;

use super::source::{ConfigError, Source, err};

/// Which payment provider answers, with its credentials.
#[derive(Clone)]
pub enum PaymentProviderSettings {
    /// Opens no real session: the "checkout" is a page of this server that says so. The
    /// offline default; production refuses it unless `ALLOW_SANDBOX_PROVIDERS=true`.
    Sandbox,
    /// Stripe (`STRIPE_*`).
    Stripe {
        /// `STRIPE_SECRET_KEY`: the platform's secret or restricted key (`sk_…`, `rk_…`).
        secret_key: SecretString,
        /// `STRIPE_API_BASE` (default `https://api.stripe.com/`; a simulator in tests).
        api_base: String,
        /// Whether the key is a live-mode key (events of the other mode are refused).
        live: bool,
    },
}

/// Online payments.
#[derive(Clone)]
pub struct PaymentSettings {
    /// `STRIPE_SECRET_KEY` set: Stripe; unset: the sandbox.
    pub provider: PaymentProviderSettings,
    /// `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secret (`whsec_…`). Random per process
    /// when unset in development (nothing can then sign a webhook).
    pub webhook_secret: SecretString,
    /// `STRIPE_TIMEOUT_MS`: how long one Stripe call may take.
    pub timeout: Duration,
    /// `PAYMENT_LINK_DAYS`: how long a payment link can be opened.
    pub link_lifetime: Duration,
    /// `CHECKOUT_MINUTES`: how long a Checkout Session stays open (Stripe: 30 min to 24 h).
    pub checkout_lifetime: Duration,
    /// `STRIPE_RECONCILE_MINUTES`: how often recent events are listed to heal missed webhooks.
    pub reconcile_interval: Duration,
    /// `PAYMENT_REMINDER_MINUTES`: how often overdue invoices are looked at for reminders.
    pub reminder_interval: Duration,
}

impl PaymentSettings {
    pub(crate) fn read(env: &Source<'_>) -> Result<Self, ConfigError> {
        let provider = match env.get("STRIPE_SECRET_KEY") {
            None => PaymentProviderSettings::Sandbox,
            Some(key) => {
                let live = key.starts_with("sk_live_") || key.starts_with("rk_live_");
                let test = key.starts_with("sk_test_") || key.starts_with("rk_test_");
                if !(live || test) {
                    return Err(err(
                        "STRIPE_SECRET_KEY",
                        "must be a Stripe secret or restricted key (sk_… or rk_…)",
                    ));
                }
                // Sent as a header: a stray newline from a secrets file would fail every call.
                if !key.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(err(
                        "STRIPE_SECRET_KEY",
                        "holds a space, line break or character outside ASCII",
                    ));
                }
                if env.production() && !live && !env.flag("ALLOW_SANDBOX_PROVIDERS", false)? {
                    return Err(err("STRIPE_SECRET_KEY", "is a test-mode key in production"));
                }
                PaymentProviderSettings::Stripe {
                    secret_key: SecretString::from(key),
                    api_base: env.provider_url(
                        "STRIPE_API_BASE",
                        env.get("STRIPE_API_BASE")
                            .unwrap_or_else(|| "https://api.stripe.com/".to_owned()),
                    )?,
                    live,
                }
            }
        };
        let sandbox = matches!(provider, PaymentProviderSettings::Sandbox);
        if env.production() && sandbox && !env.flag("ALLOW_SANDBOX_PROVIDERS", false)? {
            return Err(err(
                "STRIPE_SECRET_KEY",
                "is not set; set it or ALLOW_SANDBOX_PROVIDERS=true",
            ));
        }
        let webhook_secret = match env.get("STRIPE_WEBHOOK_SECRET") {
            Some(s) if s.starts_with("whsec_") && s.len() >= 16 => s,
            Some(_) => {
                return Err(err(
                    "STRIPE_WEBHOOK_SECRET",
                    "must be the endpoint's signing secret (whsec_…)",
                ));
            }
            None if !sandbox => {
                return Err(err(
                    "STRIPE_WEBHOOK_SECRET",
                    "is required with STRIPE_SECRET_KEY",
                ));
            }
            None => crate::crypto::random_token("whsec_"),
        };
        let checkout_minutes = env.positive("CHECKOUT_MINUTES", 60)?;
        if !(31..=1440).contains(&checkout_minutes) {
            return Err(err("CHECKOUT_MINUTES", "must be between 31 and 1440"));
        }
        Ok(Self {
            provider,
            webhook_secret: SecretString::from(webhook_secret),
            timeout: Duration::from_millis(env.positive("STRIPE_TIMEOUT_MS", 20_000)?.into()),
            link_lifetime: Duration::from_secs(
                u64::from(env.positive("PAYMENT_LINK_DAYS", 90)?) * 86_400,
            ),
            checkout_lifetime: Duration::from_secs(u64::from(checkout_minutes) * 60),
            reconcile_interval: Duration::from_secs(
                u64::from(env.positive("STRIPE_RECONCILE_MINUTES", 15)?) * 60,
            ),
            reminder_interval: Duration::from_secs(
                u64::from(env.positive("PAYMENT_REMINDER_MINUTES", 60)?) * 60,
            ),
        })
    }
}
