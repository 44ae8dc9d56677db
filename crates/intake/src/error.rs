//! The one error type HTTP handlers return, rendered as
//! `{"error": "<code>", "message": "<what is wrong and how to fix it>"}`.
//!
//! Codes are stable identifiers for clients to match on; messages are for people.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::StoreError;
use super::tokens::AuthFailure;

/// tus's "checksum mismatch" status; not in the `http` crate's list.
pub fn checksum_mismatch_status() -> StatusCode {
    StatusCode::from_u16(460).expect("460 is a valid status code")
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: impl ToString) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            self.headers.push((name, value));
        }
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn case_not_found(case: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "case_not_found",
            format!("case {case} does not exist: check the case id support gave you"),
        )
    }

    pub fn upload_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "upload_not_found",
            "no such upload: it was finished, cancelled or expired; start a new upload on the case's upload_url",
        )
    }

    pub fn too_large(size: u64, limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bundle_too_large",
            format!(
                "the bundle is {size} bytes; this endpoint accepts at most {limit}: collect fewer logs or screenshots"
            ),
        )
    }

    /// A case or org quota would be passed: only an operator can make room, so no retry.
    pub fn quota_exceeded(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded", message)
    }

    /// A limit that passes with time: 429 with `Retry-After` (whole seconds, at least 1).
    pub fn too_many_requests(
        code: &'static str,
        message: impl Into<String>,
        retry_after: std::time::Duration,
    ) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
            .with_header(header::RETRY_AFTER, retry_after.as_secs().max(1))
    }

    /// Something broke on our side. The detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the intake hit an internal error; nothing was recorded for this request, so it is safe to retry",
        )
    }

    pub fn unauthorized(failure: AuthFailure) -> Self {
        let (code, message) = match failure {
            AuthFailure::Missing => (
                "missing_token",
                "this request needs `Authorization: Bearer <token>`: pass the token support gave you (--token)",
            ),
            AuthFailure::Unknown => (
                "invalid_token",
                "the token is not known to this endpoint: check it, or ask support for a new one",
            ),
            AuthFailure::Expired => (
                "token_expired",
                "the token has expired: ask support for a new one",
            ),
        };
        Self::new(StatusCode::UNAUTHORIZED, code, message)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::IdempotencyConflict(scope) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                format!(
                    "this Idempotency-Key was already used for another request ({scope}); send a new key for a new request"
                ),
            ),
            other => Self::internal(other),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}
