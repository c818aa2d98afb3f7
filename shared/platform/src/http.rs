//! HTTP conventions shared by every service (design §7): request ids and spans, one access log
//! line per request, the 5xx cause logged once, security headers, body limits, panics as
//! problems, health, readiness and metrics.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::error::{ApiError, ErrorCause, REQUEST_ID};
use crate::state::AppState;

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Health, readiness and metrics routes.
pub fn ops_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    sqlx::query("select 1")
        .execute(state.db().pool())
        .await
        .map_err(|_| ApiError::unavailable("the database is not reachable"))?;
    Ok("ready")
}

/// `/metrics` on the public port, as [`crate::config::Settings::public_metrics`] says.
async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    use crate::config::PublicMetrics;
    match state.settings().server.public_metrics() {
        PublicMetrics::Open => {}
        PublicMetrics::Hidden => return Err(ApiError::no_route()),
        PublicMetrics::Bearer(token) => {
            use secrecy::ExposeSecret;
            use subtle::ConstantTimeEq;
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !bool::from(sent.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
                return Err(ApiError::unauthenticated());
            }
        }
    }
    Ok(render_metrics().into_response())
}

fn render_metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
}

/// The router of the separate metrics listener (`METRICS_BIND_ADDR`): `/metrics` only.
pub fn metrics_only_router() -> Router {
    Router::new()
        .route("/metrics", get(|| async { render_metrics() }))
        .fallback(route_not_found)
        .layer(middleware::from_fn(security_headers))
}

/// Wraps the composed routers of a process with the conventions. `max_body_bytes` bounds
/// every request body.
pub fn finish(router: Router, max_body_bytes: usize) -> Router {
    router
        .fallback(route_not_found)
        .layer(middleware::from_fn(request_context))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(middleware::from_fn(security_headers))
}

async fn route_not_found() -> ApiError {
    ApiError::no_route()
}

/// Request id, span, access log, the 5xx cause, and request metrics.
async fn request_context(request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::now_v7().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(
            request_id.clone(),
            next.run(request).instrument(span.clone()),
        )
        .await;
    let elapsed = started.elapsed();
    let status = response.status();
    let _enter = span.enter();
    if let Some(cause) = response.extensions().get::<ErrorCause>() {
        tracing::error!(
            status = status.as_u16(),
            error = format!("{:#}", cause.0),
            "request failed"
        );
    }
    let quiet = matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics");
    if quiet {
        tracing::debug!(
            status = status.as_u16(),
            latency_ms = elapsed.as_millis() as u64,
            "served"
        );
    } else {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = elapsed.as_millis() as u64,
            "served"
        );
    }
    let labels = [
        ("route", route),
        ("method", method.to_string()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    response
}

/// The policy of the API explorer's pages (`/docs` and below), and of them only: its own
/// scripts, styles and images; Swagger UI sets inline styles and draws icons as `data:` images;
/// "try it out" calls this origin. Nothing from another origin, no inline script, no framing.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The policy of the patients' payment pages (`/p/…`): their one stylesheet, forms to this
/// server (and, after the pay button, the redirect to Stripe's page), nothing else.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self' https://checkout.stripe.com; base-uri 'none'; frame-ancestors 'none'";

/// HSTS and friends on every response; API answers are never cached.
async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_docs = path == "/docs" || path.starts_with("/docs/");
    let is_page = path.starts_with("/p/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        if is_docs {
            HeaderValue::from_static(DOCS_CSP)
        } else if is_page {
            HeaderValue::from_static(PAGE_CSP)
        } else {
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
        },
    );
    if !(is_page && h.contains_key(header::CACHE_CONTROL)) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_page && is_html {
        // A patient's page explains its own errors (an expired link: 410 in their language).
        return response;
    }
    if response.status().is_client_error() || response.status().is_server_error() {
        return as_problem(response);
    }
    response
}

/// Every error answer is a problem document: the few that axum or tower produce on their own
/// (405 with its `Allow` header, a 413 from the body limit) are rewritten here, once.
fn as_problem(response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/problem+json");
    if is_problem {
        return response;
    }
    let status = response.status();
    let problem = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
        StatusCode::NOT_FOUND => ApiError::no_route(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        _ if status.is_server_error() => {
            ApiError::internal(anyhow::anyhow!("{status} answered without a problem body"))
        }
        _ => ApiError::invalid_request(status),
    };
    let (parts, _) = response.into_parts();
    let mut rewritten = problem.into_response();
    *rewritten.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}
