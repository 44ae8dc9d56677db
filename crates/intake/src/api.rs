//! The JSON side of Case Intake API v1: cases, attachments, escalations, the OpenAPI
//! document, and the request plumbing the routes share (authentication, JSON bodies, the
//! case check). The tus upload routes live in `tus.rs`; the state in `state.rs`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::ids::{CaseId, is_sha256_hex};
use super::sla;
use super::state::{AppState, base_url};
use super::store::{CaseHandle, DeclaredBundle, NewCase};
use super::tokens::{self, Principal};
use jcdiag_protocol::{
    AgentVersion, BundleDeclaration, CASE_SCHEMA, CaseRecord, CreateAttachment, CreateCase,
    Created, EscalationAnswer, EscalationRequest, header as wire,
};

/// The OpenAPI document, served as is and checked by the tests.
pub const OPENAPI: &str = include_str!("../../../openapi/intake-v1.json");

/// Largest JSON request body. A case.json is a form and some metadata: kilobytes.
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// The case routes; the server merges them with the upload and release routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route(jcdiag_protocol::AGENT_VERSION_PATH, get(agent_version))
        .route("/v1/cases", post(create_case))
        .route("/v1/cases/{id}/attachments", post(add_attachment))
        .route("/v1/cases/{id}/escalations", post(escalate))
}

/// Authentication: every route that names a `Principal` argument requires a valid token.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        // An address that keeps guessing is refused before its token is even looked at.
        let blocked = match peer {
            Some(peer) => state.login_blocked_shared(peer).await,
            None => None,
        };
        if let Some(wait) = blocked {
            return Err(ApiError::too_many_requests(
                "too_many_failed_logins",
                "too many failed authentications from this address: wait for Retry-After, and check the token",
                wait,
            ));
        }
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let now = Utc::now();
        let failure = match state
            .blocking(move |state| Ok(tokens::authenticate(&*state.store, header.as_deref(), now)?))
            .await?
        {
            Ok(principal) => return Ok(principal),
            Err(failure) => failure,
        };
        // Logged with the address and the reason, never the token.
        let from = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
        let reason = failure.reason();
        if failure == tokens::AuthFailure::Missing {
            tracing::info!(peer = %from, reason, "authentication failed");
        } else {
            tracing::warn!(peer = %from, reason, "authentication failed");
            if let Some(peer) = peer
                && state.login_failed_shared(peer).await == state.config.guards.max_auth_failures
            {
                tracing::warn!(peer = %from, "too many failed authentications: refusing this address for a while");
            }
        }
        Err(ApiError::unauthorized(failure))
    }
}

/// A JSON body whose every failure (size, syntax, shape) becomes an `ApiError`, so clients
/// always get the JSON error format.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                ApiError::new(rejection.status(), "invalid_body", rejection.body_text())
            })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::bad_request(
                "invalid_json",
                format!("the request body is not the expected JSON: {e}"),
            )
        })
    }
}

/// Parses `{id}` in a path and checks the caller may touch that case. A case it may not touch
/// (another org's, or another case for a case-scoped token) answers exactly like a case that
/// does not exist, so no token can learn which case ids are in use.
pub async fn authorize_case(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<CaseId, ApiError> {
    let case_id: CaseId = id.parse().map_err(|_| ApiError::case_not_found(id))?;
    let org = state
        .blocking(move |state| Ok(state.store.case_org(case_id)?))
        .await?;
    let Some(org) = org else {
        return Err(ApiError::case_not_found(id));
    };
    if !principal.may_touch_case(case_id, &org) {
        return Err(ApiError::case_not_found(id));
    }
    Ok(case_id)
}

/// `POST /v1/cases`: the case stays a JSON value so it is stored exactly as received.
type CreateCaseRequest = CreateCase<Value>;
/// `POST /v1/cases/{id}/attachments`: only the bundle is read.
type AttachmentRequest = CreateAttachment<serde::de::IgnoredAny>;

trait Validate {
    fn validate(self, max_bundle: u64) -> Result<DeclaredBundle, ApiError>;
}

impl Validate for BundleDeclaration {
    fn validate(self, max_bundle: u64) -> Result<DeclaredBundle, ApiError> {
        let sha256 = self.sha256.to_ascii_lowercase();
        if !is_sha256_hex(&sha256) {
            return Err(ApiError::bad_request(
                "invalid_bundle",
                "bundle.sha256 must be 64 hex digits",
            ));
        }
        if self.size == 0 {
            return Err(ApiError::bad_request(
                "invalid_bundle",
                "bundle.size must be more than 0",
            ));
        }
        if self.size > max_bundle {
            return Err(ApiError::too_large(self.size, max_bundle));
        }
        Ok(DeclaredBundle {
            sha256,
            size: self.size,
        })
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get(wire::IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "missing_idempotency_key",
            "send an `Idempotency-Key` header (the case's uuid) so a retried request cannot create a second case",
        ));
    }
    Ok(key.to_owned())
}

/// Checks the parts of case.json the intake relies on and pulls out the indexed fields.
fn validate_case(org: &str, case: Value) -> Result<NewCase, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_case", message);
    let Value::Object(object) = &case else {
        return Err(invalid(
            "`case` must be the JSON object from case.json".into(),
        ));
    };
    if object.get("schema").and_then(Value::as_str) != Some(CASE_SCHEMA) {
        return Err(invalid(format!(
            "case.schema must be \"{CASE_SCHEMA}\": this endpoint speaks Case Intake API v1"
        )));
    }
    if !object.get("form").is_some_and(Value::is_object) {
        return Err(invalid(
            "case.form must be an object holding the issue form".into(),
        ));
    }
    // The shared type reads every shape jcdiag has sent: the tier by name in any case, the
    // severity as a number, a string or an object with its `level`. Its errors name the field.
    let record = CaseRecord::deserialize(&case).map_err(|e| {
        let e = e.to_string();
        invalid(if e.starts_with("case.") {
            e
        } else {
            format!("case: {e}")
        })
    })?;
    // Tier and severity are shown in `case list`.
    let missing = |name: &str| invalid(format!("case.{name} is missing: set it (e.g. --{name})"));
    let tier = record.tier.ok_or_else(|| missing("tier"))?;
    let severity = record.severity.ok_or_else(|| missing("severity"))?.level;
    let response_due = match record.response_due {
        None => None,
        Some(text) if DateTime::parse_from_rfc3339(&text).is_ok() => Some(text),
        Some(_) => {
            return Err(invalid(
                "case.response_due must be an RFC 3339 time or null".into(),
            ));
        }
    };
    Ok(NewCase {
        org: org.to_owned(),
        case_json: case.to_string(),
        tier,
        severity,
        response_due,
        intake_tier: None,
        intake_due: None,
    })
}

fn case_response(
    state: &AppState,
    headers: &HeaderMap,
    handle: CaseHandle,
) -> Result<Response, ApiError> {
    let base = base_url(state, headers)?;
    let body = Created {
        case_id: handle.case_id.to_string(),
        upload_url: format!("{base}/v1/cases/{}/uploads", handle.case_id),
        response_due: handle.response_due,
    };
    // 201 the first time; a replayed Idempotency-Key gets the same body with 200.
    let status = if handle.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)).into_response())
}

async fn create_case(
    State(state): State<AppState>,
    headers: HeaderMap,
    principal: Principal,
    JsonBody(request): JsonBody<CreateCaseRequest>,
) -> Result<Response, ApiError> {
    if !principal.may_create_cases() {
        return Err(ApiError::forbidden(
            "this token is scoped to one case: it can add bundles and escalations to that case, not open new cases",
        ));
    }
    let key = idempotency_key(&headers)?;
    let bundle = request.bundle.validate(state.config.max_bundle)?;
    let mut case = validate_case(&principal.org, request.case)?;
    let now = Utc::now();
    // The queue position is the intake's: the org's tier on record (none: no target), not
    // the tier or target the client's case.json claims, which are kept as what it said.
    let org = principal.org.clone();
    case.intake_tier = state
        .blocking(move |state| Ok(state.store.org_tier(&org)?))
        .await?;
    case.intake_due = case
        .intake_tier
        .and_then(|tier| sla::response_due(&state.config.holidays, tier, case.severity, now));
    let handle = state
        .blocking(move |state| Ok(state.store.create_case(&key, &case, &bundle, now)?))
        .await?;
    if handle.created {
        tracing::info!(case_id = %handle.case_id, org = %principal.org, "case created");
    }
    case_response(&state, &headers, handle)
}

async fn add_attachment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    principal: Principal,
    JsonBody(request): JsonBody<AttachmentRequest>,
) -> Result<Response, ApiError> {
    let case_id = authorize_case(&state, &principal, &id).await?;
    let key = idempotency_key(&headers)?;
    let bundle = request.bundle.validate(state.config.max_bundle)?;
    let org = principal.org.clone();
    let handle = state
        .blocking(move |state| Ok(state.store.add_attachment(&org, &key, case_id, &bundle)?))
        .await?;
    case_response(&state, &headers, handle)
}

async fn escalate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    JsonBody(request): JsonBody<EscalationRequest>,
) -> Result<Response, ApiError> {
    let case_id = authorize_case(&state, &principal, &id).await?;
    let reason = request.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 10_000 {
        return Err(ApiError::bad_request(
            "invalid_reason",
            "reason must be 1 to 10,000 characters saying why",
        ));
    }
    let now = Utc::now();
    state
        .blocking(move |state| Ok(state.store.add_escalation(case_id, &reason, now)?))
        .await?;
    tracing::info!(%case_id, "escalation recorded");
    Ok((
        StatusCode::CREATED,
        Json(EscalationAnswer {
            case_id: case_id.to_string(),
            status: "recorded".into(),
        }),
    )
        .into_response())
}

/// Public: the API description holds nothing secret, and tools fetch it without a token.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The newest agent version, when `--agent-newest` gave one. No token: the version is public,
/// and `doctor` asks before any case exists.
async fn agent_version(State(state): State<AppState>) -> Result<Json<AgentVersion>, ApiError> {
    match &state.config.agent_newest {
        Some(newest) => Ok(Json(AgentVersion {
            schema: jcdiag_protocol::AGENT_VERSION_SCHEMA.into(),
            newest: newest.clone(),
        })),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_published",
            "this endpoint publishes no agent version (jcdiag-intake serve --agent-newest VERSION)",
        )),
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: see /v1/openapi.json for the routes this server offers",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method: see /v1/openapi.json",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jcdiag_protocol::Tier;
    use serde_json::json;

    #[test]
    fn case_validation_names_the_field() {
        let ok = json!({"schema": "jcdiag.case/1", "form": {}, "tier": "premium", "severity": 2, "response_due": null});
        let case = validate_case("acme", ok).unwrap();
        assert_eq!((case.tier, case.severity.get()), (Tier::Premium, 2));
        // Severity as a string, and as jcdiag's case.json writes it, read the same.
        for severity in [json!("2"), json!({"level": 2, "name": "High"})] {
            let case = json!({"schema": "jcdiag.case/1", "form": {}, "tier": "Premium", "severity": severity});
            let case = validate_case("acme", case).unwrap();
            assert_eq!((case.tier, case.severity.get()), (Tier::Premium, 2));
        }
        let bad = json!({"schema": "jcdiag.case/1", "form": {}, "tier": "gold", "severity": 4});
        assert!(
            validate_case("acme", bad)
                .unwrap_err()
                .message
                .contains("case.tier")
        );
        let bad = json!({"schema": "jcdiag.case/1", "form": {}, "tier": "free", "severity": 4});
        assert!(
            validate_case("acme", bad)
                .unwrap_err()
                .message
                .contains("case.severity")
        );

        let no_tier = json!({"schema": "jcdiag.case/1", "form": {}, "severity": 2});
        assert!(
            validate_case("acme", no_tier)
                .unwrap_err()
                .message
                .contains("case.tier")
        );
        let bad_due = json!({"schema": "jcdiag.case/1", "form": {}, "tier": "free", "severity": 1, "response_due": "soon"});
        assert!(
            validate_case("acme", bad_due)
                .unwrap_err()
                .message
                .contains("response_due")
        );
    }
}
