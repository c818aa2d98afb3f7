//! Per-IP rate limit on the login, setup and second-factor routes (governor's GCRA).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Keyed by client IP.
#[derive(Clone)]
pub struct LoginLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl LoginLimiter {
    /// `per_minute` attempts per IP, all of them available as a burst.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Takes one attempt for `ip`; false when over the limit.
    pub fn check(&self, ip: IpAddr) -> bool {
        let ok = self.limiter.check_key(&ip).is_ok();
        if !ok {
            metrics::counter!("auth_rate_limited_total").increment(1);
        }
        // Keep the map from growing without bound under a spray of addresses.
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        ok
    }
}

/// The peer address of the connection (the server is served with connect info). Behind a
/// proxy, put the rate limit in the proxy too: forwarded headers are not trusted here.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}
