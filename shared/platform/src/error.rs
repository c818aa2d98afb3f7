//! The one error envelope: `application/problem+json` (RFC 9457) with a stable `code`.
//!
//! 4xx bodies say what is wrong and name the field or id; they carry no request id, so the same
//! mistake always gets the same body. 5xx bodies say only "internal error" and the request id;
//! the cause chain goes into the response extensions and is logged once by the request-logging
//! middleware, inside the request span.
//!
//! # Error policy
//!
//! - **Below HTTP, each area has a small `thiserror` enum** saying what can go wrong in its
//!   terms (`scheduling::appointments::ChangeError { NotFound, InvalidTransition, Conflict, … }`).
//!   Store and change functions return it; they never build an [`ApiError`], so they can be
//!   called from a handler, a job or a command alike.
//! - **One `From<AreaError> for ApiError` per area** decides status, code and field, in one
//!   place. Handlers only use `?`.
//! - **What is logged, where, once:** a 4xx is not logged as an error (it is the client's; the
//!   request log line has its status and code). A 5xx keeps its cause in `source` and the
//!   request middleware logs the chain once, with the request id. Jobs return
//!   `anyhow::Error` with `.context(…)` naming ids (never personal data); the worker logs it once
//!   when the job fails. Nothing logs and then returns the same error.
//! - **Messages carry ids and codes, never values:** no names, numbers, e-mails or clinical
//!   text in a `detail`, an error's `Display` or a log field.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being served, set by the request middleware.
    pub static REQUEST_ID: String;
}

/// The current request id, if inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: Cow<'static, str>,
    field: Option<Cow<'static, str>>,
    extensions: serde_json::Map<String, serde_json::Value>,
    source: Option<anyhow::Error>,
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// The cause of a 5xx, left in the response extensions for the logging middleware.
#[derive(Clone)]
pub struct ErrorCause(pub Arc<anyhow::Error>);

/// The problem document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// The request field (JSON path, query or path parameter) at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request id, for 5xx answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Problem-specific members (RFC 9457 extensions), e.g. `conflicting_appointment_id`.
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            field: None,
            extensions: serde_json::Map::new(),
            source: None,
        }
    }

    /// 422: a field is well-formed JSON but a value the API does not accept.
    pub fn invalid_field(
        field: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "A field is not valid",
            detail,
        )
        .with_field(field)
    }

    /// 400: the body is not the JSON the route takes.
    pub fn invalid_body(field: Option<String>, detail: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The request body is not valid",
            detail,
        );
        e.field = field.map(Cow::Owned);
        e
    }

    /// 400: a query or path parameter is malformed.
    pub fn invalid_parameter(
        field: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "A parameter is not valid",
            detail,
        )
        .with_field(field)
    }

    /// 404: the thing does not exist for this practice. The same answer for an id that exists
    /// in another practice and one that exists nowhere, and the id is not repeated back.
    pub fn not_found(code: &'static str, field: &'static str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code,
            "Not found",
            format!("nothing with this {field} exists here"),
        )
        .with_field(field)
    }

    /// 404 for a path no route serves.
    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "Not found",
            "no route serves this path",
        )
    }

    /// 405: the route exists but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            "this route does not take this method (see the Allow header)",
        )
    }

    /// Any other client error a layer answered without a body of its own.
    pub fn invalid_request(status: StatusCode) -> Self {
        Self::new(
            status,
            "invalid_request",
            "The request is not valid",
            status.canonical_reason().unwrap_or("invalid request"),
        )
    }

    /// 415: the body is not `application/json`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "Content-Type must be application/json",
        )
    }

    /// 401 for every failed login, whatever the reason: wrong password, unknown account,
    /// locked account, wrong or replayed code.
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid credentials",
            "the e-mail address, password, token or code is not correct",
        )
    }

    /// 401: no valid session.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Not signed in",
            "a valid session token is required",
        )
    }

    /// 403: the session has not finished the second factor.
    pub fn second_factor_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "second_factor_required",
            "Second factor required",
            "confirm a TOTP code before using this route",
        )
    }

    /// 403: the role does not allow this. Only [`crate::auth::Staff::require`] and its kin build
    /// it, after writing the refusal to the audit trail, so no refusal goes unaudited.
    pub(crate) fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// 409: conflicts with existing data.
    pub fn conflict(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    /// 412: `If-Match` named a version that is no longer current.
    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "stale_version",
            "Precondition failed",
            "it changed since it was read; read it again and retry",
        )
        .with_field("If-Match")
    }

    /// 413: body too large.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body too large",
            "the body is larger than this server accepts (MAX_BODY_BYTES)",
        )
    }

    /// 429: slow down.
    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            "try again later",
        )
    }

    /// 503: a dependency is down.
    pub fn unavailable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// 500 with the cause kept for the log.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "internal error",
        );
        e.source = Some(source.into());
        e
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The same answer under a more specific code (`file_invalid` rather than `invalid_field`).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// Adds a problem-specific member to the body.
    pub fn with_extension(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e.as_ref() as _)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut => {
                let mut err = ApiError::unavailable("the database is busy; try again");
                err.source = Some(e.into());
                err
            }
            _ => ApiError::internal(e),
        }
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let server_side = self.status.is_server_error();
        let body = Problem {
            type_: format!(
                "https://praxis.dev/problems/{}",
                self.code.replace('_', "-")
            ),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.into_owned(),
            code: self.code.to_owned(),
            field: self.field.map(Cow::into_owned),
            request_id: if server_side {
                current_request_id()
            } else {
                None
            },
            extensions: self.extensions,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(source) = self.source {
            response
                .extensions_mut()
                .insert(ErrorCause(Arc::new(source)));
        }
        response
    }
}

/// Adds `.on_constraint(name, f)` to database results: a named constraint becomes a
/// client error, anything else stays a 500.
pub trait ResultExt<T> {
    /// Maps a violation of `name` to the error `f` builds.
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|e| {
            if crate::db::violated_constraint(&e) == Some(name) {
                f()
            } else {
                ApiError::from(e)
            }
        })
    }
}

impl<T> ResultExt<T> for Result<T, ApiError> {
    /// Chains after a first `on_constraint`: a 500 whose cause violated `name` becomes `f()`.
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|e| {
            let matches = e
                .source
                .as_ref()
                .and_then(|s| s.downcast_ref::<sqlx::Error>())
                .is_some_and(|s| crate::db::violated_constraint(s) == Some(name));
            if matches { f() } else { e }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_error_is_a_std_error_whose_cause_stays_out_of_its_message() {
        let e = ApiError::internal(anyhow::anyhow!("connection reset by peer"));
        assert_eq!(e.to_string(), "500 internal: internal error");
        let source = std::error::Error::source(&e).expect("the cause is kept");
        assert_eq!(source.to_string(), "connection reset by peer");
        let e = ApiError::not_found("patient_not_found", "patient_id");
        assert!(std::error::Error::source(&e).is_none());
        assert!(e.to_string().starts_with("404 patient_not_found"));
    }
}
