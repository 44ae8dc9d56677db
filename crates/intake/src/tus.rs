//! Bundle uploads over tus 1.0.0 (<https://tus.io/protocols/resumable-upload>) with the
//! creation, checksum (sha256), expiration and termination extensions.
//!
//! The life of an upload:
//!
//! 1. `POST /v1/cases/{id}/uploads` records the upload (length, declared SHA-256, expiry).
//! 2. Each `PATCH /v1/uploads/{id}` streams its body into a fresh `*.chunk` file. Only a
//!    body that arrived whole (and matches `Upload-Checksum`, if given) is appended to the
//!    `.part` file, fsync'd, and then the new offset is committed to SQLite. A cut
//!    connection therefore appends nothing, and the committed offset always names bytes
//!    that are on disk. (Bytes past the committed offset, left by a crash between append
//!    and commit, are cut off before the next append.)
//! 3. The PATCH that reaches `Upload-Length` also verifies the whole file's SHA-256 and
//!    inspects the zip; an accepted bundle is renamed into `bundles/<case>/<sha256>.zip`
//!    and the answer carries `Jcdiag-Receipt`. A refused one is deleted with its record.
//! 4. `GET /v1/uploads/{id}/receipt` repeats the receipt for a client that lost the
//!    final PATCH's answer.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::api::authorize_case;
use super::backend::ChunkCommit;
use super::error::{ApiError, checksum_mismatch_status};
use super::files::{self, remove_if_exists, sha256_file};
use super::ids::{CaseId, UploadId, is_sha256_hex, new_receipt_id, random_hex};
use super::inspect;
use super::state::{AppState, Claim, Guards, base_url};
use super::store::{Receipt, UploadRecord, Usage, timestamp};
use super::tokens::Principal;

pub use jcdiag_protocol::TUS_VERSION;
pub const TUS_EXTENSIONS: &str = "creation,checksum,expiration,termination";
/// The header that carries the receipt id on the final PATCH.
pub const RECEIPT_HEADER: &str = jcdiag_protocol::header::RECEIPT;

const OFFSET_STREAM: &str = "application/offset+octet-stream";
/// `Retry-After` when a case or org has too many unfinished uploads: others may finish soon.
const OPEN_UPLOADS_RETRY: Duration = Duration::from_secs(60);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/cases/{id}/uploads", post(create).options(options))
        .route(
            "/v1/uploads/{id}",
            axum::routing::head(head)
                .patch(patch)
                .delete(terminate)
                .options(options),
        )
        .route("/v1/uploads/{id}/receipt", get(receipt))
        // tus wants `Tus-Resumable` on every response, errors included.
        .layer(middleware::map_response(
            |mut response: Response| async move {
                response
                    .headers_mut()
                    .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
                response
            },
        ))
}

/// Discovery: what this server supports. Needs no token (it reveals nothing).
async fn options(State(state): State<AppState>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    headers.insert("tus-checksum-algorithm", HeaderValue::from_static("sha256"));
    headers.insert("tus-max-size", HeaderValue::from(state.config.max_bundle));
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// Every tus request but OPTIONS must say which protocol version it speaks.
fn require_tus(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers
        .get("tus-resumable")
        .is_some_and(|v| v == TUS_VERSION)
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "tus_version_unsupported",
        "send `Tus-Resumable: 1.0.0`: this endpoint speaks tus 1.0.0 only",
    )
    .with_header(HeaderName::from_static("tus-version"), TUS_VERSION))
}

/// RFC 7231 date, as tus's `Upload-Expires` wants it.
fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn header_u64(headers: &HeaderMap, name: &str) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    // Digits only: `u64::from_str` would also take a leading `+`.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "invalid_header",
            format!("{name} must be a non-negative integer"),
        ));
    }
    text.parse()
        .map(Some)
        .map_err(|_| ApiError::bad_request("invalid_header", format!("{name} is too large")))
}

/// `Upload-Metadata: key base64value,key2 base64value2` → the `sha256` and `filename` values.
fn parse_metadata(headers: &HeaderMap) -> Result<(String, Option<String>), ApiError> {
    let invalid = |message: &str| ApiError::bad_request("invalid_metadata", message.to_owned());
    let text = headers
        .get("upload-metadata")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (mut sha256, mut filename) = (None, None);
    for pair in text
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let decoded = STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| invalid("Upload-Metadata values must be base64 of UTF-8 text"))?;
        match key {
            "sha256" => sha256 = Some(decoded.to_ascii_lowercase()),
            "filename" => filename = Some(decoded),
            _ => {}
        }
    }
    let sha256 = sha256.filter(|s| is_sha256_hex(s)).ok_or_else(|| {
        invalid(
            "Upload-Metadata must include `sha256`: base64 of the bundle's lowercase hex SHA-256",
        )
    })?;
    // Kept for support staff only; never used as a path.
    let filename = filename
        .filter(|f| !f.is_empty())
        .map(|f| f.chars().take(255).collect());
    Ok((sha256, filename))
}

/// `POST /v1/cases/{id}/uploads`: the tus creation extension.
async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    principal: Principal,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    let case_id = authorize_case(&state, &principal, &id).await?;
    let length = match header_u64(&headers, "upload-length")? {
        Some(0) => {
            return Err(ApiError::bad_request(
                "invalid_header",
                "Upload-Length must be more than 0",
            ));
        }
        Some(length) => length,
        None => {
            return Err(ApiError::bad_request(
                "invalid_header",
                "send Upload-Length: the bundle's size in bytes (deferred lengths are not supported)",
            ));
        }
    };
    if length > state.config.max_bundle {
        return Err(ApiError::too_large(length, state.config.max_bundle));
    }
    let (sha256, filename) = parse_metadata(&headers)?;

    let now = Utc::now();
    let expires = now
        + chrono::Duration::from_std(state.config.upload_ttl).unwrap_or(chrono::Duration::days(7));
    let upload_id = UploadId::random().map_err(ApiError::internal)?;
    let record = UploadRecord {
        id: upload_id.clone(),
        case_id,
        length,
        offset: 0,
        sha256,
        filename,
        expires,
        receipt: None,
    };
    state
        .blocking(move |state| {
            // A case with announced bundles takes exactly those.
            let pending = state.store.pending_bundles(case_id)?;
            if !pending.is_empty() {
                let Some(declared) = pending.iter().find(|b| b.sha256 == record.sha256) else {
                    let expected: Vec<&str> = pending.iter().map(|b| b.sha256.as_str()).collect();
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "bundle_not_declared",
                        format!(
                            "case {case_id} expects a bundle with sha256 {}; this upload declares {}: upload the bundle you announced",
                            expected.join(" or "),
                            record.sha256
                        ),
                    ));
                };
                if declared.size != record.length {
                    return Err(ApiError::bad_request(
                        "length_mismatch",
                        format!(
                            "the bundle was announced as {} bytes but Upload-Length is {}",
                            declared.size, record.length
                        ),
                    ));
                }
            }
            let guards = &state.config.guards;
            let length = record.length;
            let mut refusal = None;
            let admitted = state.store.insert_upload(&record, now, &mut |case, org| {
                match within_quotas(guards, case_id, length, case, org) {
                    Ok(()) => true,
                    Err(error) => {
                        refusal = Some(error);
                        false
                    }
                }
            })?;
            match refusal {
                Some(error) if !admitted => Err(error),
                _ => Ok(()),
            }
        })
        .await?;
    tracing::info!(%case_id, upload_id = %upload_id, length, "upload created");

    let location = format!("{}/v1/uploads/{upload_id}", base_url(&state, &headers)?);
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (
                HeaderName::from_static("upload-expires"),
                http_date(expires),
            ),
        ],
    )
        .into_response())
}

/// Whether a new upload of `length` bytes fits the case's and the org's quotas. Limits
/// that only an operator can lift answer 403/413, so the client stops; the number of
/// unfinished uploads drops as they finish, are cancelled or expire, so that one is a 429.
fn within_quotas(
    guards: &Guards,
    case_id: CaseId,
    length: u64,
    case: &Usage,
    org: &Usage,
) -> Result<(), ApiError> {
    if case.bundles >= guards.max_bundles_per_case {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "case_bundle_limit",
            format!(
                "case {case_id} already holds {} bundles, the most this endpoint keeps per case: ask support to take further bundles",
                case.bundles
            ),
        ));
    }
    for (scope, usage, limit) in [
        ("case", case, guards.max_bytes_per_case),
        ("organisation", org, guards.max_bytes_per_org),
    ] {
        if usage.bytes.saturating_add(length) > limit {
            return Err(ApiError::quota_exceeded(format!(
                "this {scope} already holds {} bytes (unfinished uploads included); {length} more would pass its quota of {limit}: ask support to make room",
                usage.bytes
            )));
        }
    }
    for (scope, usage, limit) in [
        ("case", case, guards.max_open_uploads_per_case),
        ("organisation", org, guards.max_open_uploads_per_org),
    ] {
        if usage.open_uploads >= limit {
            return Err(ApiError::too_many_requests(
                "too_many_open_uploads",
                format!(
                    "this {scope} has {} unfinished uploads, the most allowed: finish or cancel (DELETE) one, or try again later",
                    usage.open_uploads
                ),
                OPEN_UPLOADS_RETRY,
            ));
        }
    }
    Ok(())
}

/// Loads an upload the caller may touch. Unfinished uploads past their expiry are deleted
/// here and answered with 410.
async fn load(state: &AppState, principal: &Principal, id: &str) -> Result<UploadRecord, ApiError> {
    // Not one of our ids (`..%2F..%2Fintake.sqlite`, …): 404 without touching the disk.
    let id = UploadId::parse(id).ok_or_else(ApiError::upload_not_found)?;
    let principal = principal.clone();
    let upload = state
        .blocking(move |state| {
            let upload = state
                .store
                .upload(&id)?
                .ok_or_else(ApiError::upload_not_found)?;
            let org = state.store.case_org(upload.case_id)?.unwrap_or_default();
            if !principal.may_touch_case(upload.case_id, &org) {
                return Err(ApiError::forbidden(
                    "this token may not touch this upload's case",
                ));
            }
            Ok(upload)
        })
        .await?;
    if !upload.is_complete() && upload.expires <= Utc::now() {
        if let Some(claim) = state.claim(&upload.id) {
            purge(state, &upload, claim).await?;
        }
        return Err(ApiError::new(
            StatusCode::GONE,
            "upload_expired",
            "this upload expired before it was finished and its data was deleted: start a new upload",
        ));
    }
    Ok(upload)
}

/// Deletes an upload's data and record (refused, expired or terminated uploads).
async fn purge(state: &AppState, upload: &UploadRecord, claim: Claim) -> Result<(), ApiError> {
    let id = upload.id.clone();
    state
        .blocking(move |state| {
            let _claim = claim;
            state.objects.remove_part(&id).map_err(ApiError::internal)?;
            Ok(state.store.delete_upload(&id)?)
        })
        .await
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "upload_busy",
        "another request is writing this upload right now: wait for it, then HEAD the upload and resume",
    )
}

fn offset_mismatch(expected: u64) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "offset_mismatch",
        format!(
            "the upload is at offset {expected}: HEAD the upload and send the bytes from there"
        ),
    )
    .with_header(HeaderName::from_static("upload-offset"), expected)
}

fn already_complete(upload: &UploadRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "upload_complete",
        format!(
            "this upload is finished and its bundle was accepted: GET /v1/uploads/{}/receipt for the receipt",
            upload.id
        ),
    )
    .with_header(HeaderName::from_static("upload-offset"), upload.length)
}

/// `HEAD /v1/uploads/{id}`: where to resume.
async fn head(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    principal: Principal,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    let upload = load(&state, &principal, &id).await?;
    Ok((
        StatusCode::OK,
        [
            ("upload-offset", upload.offset.to_string()),
            ("upload-length", upload.length.to_string()),
            ("upload-expires", http_date(upload.expires)),
            ("cache-control", "no-store".to_owned()),
        ],
    )
        .into_response())
}

/// The raw SHA-256 from `Upload-Checksum: sha256 <base64>`, if the header is present.
fn parse_checksum(headers: &HeaderMap) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(value) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let (algorithm, digest) = text.split_once(' ').unwrap_or((text, ""));
    if algorithm != "sha256" {
        return Err(ApiError::bad_request(
            "unsupported_checksum_algorithm",
            format!("Upload-Checksum algorithm `{algorithm}` is not supported: use sha256"),
        ));
    }
    STANDARD.decode(digest.trim()).ok().and_then(|raw| raw.try_into().ok()).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_checksum",
            "Upload-Checksum must be `sha256 <base64 of the 32-byte digest of this PATCH's body>`",
        )
    })
}

/// A chunk file that is deleted whatever happens to the request (success, error, or the
/// connection dropping and the handler being cancelled).
struct ChunkFile(std::path::PathBuf);

impl Drop for ChunkFile {
    fn drop(&mut self) {
        if let Err(error) = remove_if_exists(&self.0) {
            tracing::warn!("cannot remove {}: {error}", self.0.display());
        }
    }
}

/// A place among the PATCH bodies this replica receives at once, held for the request.
/// Over the limit, the PATCH is answered 503 with `Retry-After` before a byte of its body is
/// read, and before its token or upload is looked up: under a burst, refused PATCHes that
/// each cost database reads (measured: two per refusal, 11,000 refusals in five minutes at
/// 1,000 concurrent uploads) slow the ones being received. The client waits and resumes,
/// here or on a replica with room; an invalid token still gets its 401 once there is room.
pub struct ReceiveSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl axum::extract::FromRequestParts<AppState> for ReceiveSlot {
    type Rejection = ApiError;

    async fn from_request_parts(
        _parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        state.receive_slot().map(|p| ReceiveSlot { _permit: p }).ok_or_else(|| {
            let wait = state.refused();
            tracing::info!(retry_after = wait.as_secs(), "PATCH refused: overloaded (--max-concurrent-uploads)");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "this endpoint is receiving as many uploads as it takes at once: wait for Retry-After, then HEAD the upload and resume",
            )
            .with_header(header::RETRY_AFTER, wait.as_secs())
        })
    }
}

/// `PATCH /v1/uploads/{id}`: appends one chunk.
async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    // Before `Principal`: extractors run in order, so see `ReceiveSlot`.
    _slot: ReceiveSlot,
    principal: Principal,
    body: Body,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    if headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v != OFFSET_STREAM)
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("PATCH bodies must be sent as `Content-Type: {OFFSET_STREAM}`"),
        ));
    }
    let offset = header_u64(&headers, "upload-offset")?.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_header",
            "send Upload-Offset: where this chunk starts",
        )
    })?;
    let checksum = parse_checksum(&headers)?;
    let upload = load(&state, &principal, &id).await?;
    if upload.is_complete() {
        return Err(already_complete(&upload));
    }
    if offset != upload.offset {
        return Err(offset_mismatch(upload.offset));
    }
    let room = upload.length - upload.offset;
    let too_long = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "chunk_too_long",
            format!("this chunk goes past Upload-Length: at most {room} more bytes fit"),
        )
    };
    if header_u64(&headers, "content-length")?.is_some_and(|len| len > room) {
        return Err(too_long());
    }

    // One writer per upload, decided before a byte of the body is read or stored: a
    // second PATCH is answered at once instead of filling a chunk file of its own.
    let claim = state.claim(&upload.id).ok_or_else(busy)?;

    // Receive the body into its own file first, hashing as it streams.
    let chunk = ChunkFile(
        state
            .objects
            .chunk_path(&upload.id, &random_hex(8).map_err(ApiError::internal)?),
    );
    let mut file = tokio::fs::OpenOptions::from(files::private_options())
        .write(true)
        .create_new(true)
        .open(&chunk.0)
        .await
        .map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut body = body;
    let mut pace = Pace::new(&state.config.guards);
    let mut last_frame = Instant::now();
    loop {
        pace.check()?;
        let idle_end = last_frame + state.config.body_idle_timeout;
        let frame = match tokio::time::timeout_at(
            idle_end.min(pace.window_end()).into(),
            body.frame(),
        )
        .await
        {
            Err(_) if Instant::now() < idle_end => continue, // a rate window ended
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the chunk stopped arriving; nothing of it was kept: HEAD the upload and resume",
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                // Usually the client went away mid-chunk; nothing is appended.
                tracing::info!(upload_id = %upload.id, received, "PATCH body cut short: {error}");
                return Err(ApiError::bad_request(
                    "body_incomplete",
                    "the chunk did not arrive whole; nothing of it was kept: HEAD the upload and resume",
                ));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        }; // trailers carry nothing for us
        last_frame = Instant::now();
        pace.add(data.len() as u64);
        received += data.len() as u64;
        if received > room {
            return Err(too_long());
        }
        hasher.update(&data);
        file.write_all(&data).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    drop(file);

    if let Some(expected) = checksum
        && hasher.finalize()[..] != expected[..]
    {
        return Err(ApiError::new(
            checksum_mismatch_status(),
            "checksum_mismatch",
            "this chunk's SHA-256 does not match Upload-Checksum; nothing of it was kept: resend the chunk",
        ));
    }

    let new_offset = offset + received;
    if received > 0 {
        let id = upload.id.clone();
        state
            .blocking(move |state| {
                // Re-checked under the store's lock: a concurrent PATCH (here or on another
                // replica) may have committed meanwhile.
                let objects = &state.objects;
                let mut write = || objects.append(&id, &chunk.0, offset);
                match state
                    .store
                    .commit_chunk(&id, offset, new_offset, &mut write)?
                {
                    ChunkCommit::Committed => Ok(()),
                    ChunkCommit::Moved(current) => Err(offset_mismatch(current)),
                    ChunkCommit::Gone => Err(ApiError::upload_not_found()),
                }
            })
            .await?;
    }
    if new_offset < upload.length {
        return Ok((
            StatusCode::NO_CONTENT,
            [("upload-offset", new_offset.to_string())],
        )
            .into_response());
    }

    let upload = UploadRecord {
        offset: new_offset,
        ..upload
    };
    let receipt = finish(&state, upload, claim).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [
            ("upload-offset", new_offset.to_string()),
            (RECEIPT_HEADER, receipt.receipt_id),
        ],
    )
        .into_response())
}

/// The minimum rate of a PATCH body: at least `min_rate` bytes a second over each
/// `rate_window`, so a body sent a byte at a time cannot hold a chunk file and a
/// connection for long (the idle timeout alone never fires while bytes trickle in).
struct Pace {
    window: Duration,
    needed: u64,
    start: Instant,
    bytes: u64,
}

impl Pace {
    fn new(guards: &Guards) -> Pace {
        let window = guards.rate_window.max(Duration::from_millis(100));
        Pace {
            window,
            needed: (guards.min_rate as f64 * window.as_secs_f64()) as u64,
            start: Instant::now(),
            bytes: 0,
        }
    }

    fn window_end(&self) -> Instant {
        self.start + self.window
    }

    fn add(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    /// At the end of each window: enough bytes arrived, or the chunk is dropped.
    fn check(&mut self) -> Result<(), ApiError> {
        if Instant::now() < self.window_end() {
            return Ok(());
        }
        if self.bytes < self.needed {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_too_slow",
                format!(
                    "the chunk arrived slower than this endpoint's minimum of {} bytes per {:?}; nothing of it was kept: HEAD the upload and resume",
                    self.needed, self.window
                ),
            ));
        }
        self.start = Instant::now();
        self.bytes = 0;
        Ok(())
    }
}

/// Checks a fully received upload and either accepts it (bundle moved into place,
/// receipt recorded) or deletes it. Runs under the upload's claim.
async fn finish(state: &AppState, upload: UploadRecord, claim: Claim) -> Result<Receipt, ApiError> {
    let checked = state
        .blocking(move |state| {
            let part = state
                .objects
                .assembled(&upload.id, upload.length)
                .map_err(ApiError::internal)?;
            let actual = sha256_file(&part).map_err(ApiError::internal)?;
            if actual != upload.sha256 {
                return Ok(Err((upload, claim, whole_file_mismatch(&actual))));
            }
            match inspect::inspect(&part, &state.config.limits) {
                Ok(_) => {}
                Err(inspect::Rejection::Io(error)) => return Err(ApiError::internal(error)),
                Err(rejection) => {
                    let error = ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "bundle_rejected",
                        format!("the bundle was refused and deleted: {rejection}"),
                    );
                    return Ok(Err((upload, claim, error)));
                }
            }
            accept(state, &upload).map(Ok)
        })
        .await?;
    match checked {
        Ok(receipt) => Ok(receipt),
        Err((upload, claim, error)) => {
            tracing::warn!(upload_id = %upload.id, case_id = %upload.case_id, "bundle refused: {}", error.message);
            purge(state, &upload, claim).await?;
            Err(error)
        }
    }
}

fn whole_file_mismatch(actual: &str) -> ApiError {
    ApiError::new(
        checksum_mismatch_status(),
        "bundle_checksum_mismatch",
        format!(
            "the uploaded bytes hash to {actual}, not the sha256 in Upload-Metadata; the upload was deleted: upload the bundle again"
        ),
    )
}

/// Moves a checked bundle into `bundles/<case>/<sha256>.zip` durably, then records it.
/// Also used at start-up, so it tolerates a bundle that was already moved.
fn accept(state: &AppState, upload: &UploadRecord) -> Result<Receipt, ApiError> {
    state
        .objects
        .keep(&upload.id, upload.case_id, &upload.sha256)
        .map_err(ApiError::internal)?;

    let receipt = Receipt {
        receipt_id: new_receipt_id().map_err(ApiError::internal)?,
        case_id: upload.case_id.to_string(),
        sha256: upload.sha256.clone(),
        size: upload.length,
        received_at: timestamp(Utc::now()),
    };
    state.store.complete_upload(upload, &receipt)?;
    // Another replica may have finished the same upload first: the stored receipt is the one.
    let receipt = state
        .store
        .upload(&upload.id)?
        .and_then(|stored| stored.receipt)
        .unwrap_or(receipt);
    tracing::info!(case_id = %upload.case_id, sha256 = %upload.sha256, receipt_id = %receipt.receipt_id, "bundle accepted");
    Ok(receipt)
}

/// `GET /v1/uploads/{id}/receipt`: the receipt of a finished upload, for a client that
/// lost the final PATCH's answer.
async fn receipt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let upload = load(&state, &principal, &id).await?;
    if let Some(receipt) = upload.receipt {
        return Ok(axum::Json(receipt).into_response());
    }
    // Every byte arrived but the checks did not finish (they failed on our side, e.g. a
    // full disk, or are running right now). Retry them here, so a client polling for its
    // receipt is not stuck; if they are running, the claim fails and the 409 says wait.
    if upload.offset == upload.length
        && let Some(claim) = state.claim(&upload.id)
    {
        let receipt = finish(&state, upload, claim).await?;
        return Ok(axum::Json(receipt).into_response());
    }
    let message = if upload.offset == upload.length {
        "every byte arrived and the bundle is being checked: ask again in a few seconds".to_owned()
    } else {
        format!(
            "the upload is not finished ({} of {} bytes): HEAD it and send the rest",
            upload.offset, upload.length
        )
    };
    Err(
        ApiError::new(StatusCode::CONFLICT, "upload_incomplete", message)
            .with_header(HeaderName::from_static("upload-offset"), upload.offset),
    )
}

/// `DELETE /v1/uploads/{id}`: the tus termination extension.
async fn terminate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    principal: Principal,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    let upload = load(&state, &principal, &id).await?;
    if upload.is_complete() {
        // The bundle is part of the case now; termination cannot take it back.
        return Err(already_complete(&upload));
    }
    let claim = state.claim(&upload.id).ok_or_else(busy)?;
    purge(&state, &upload, claim).await?;
    tracing::info!(upload_id = %upload.id, "upload terminated");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Start-up housekeeping, before the first request: finishes uploads whose last PATCH
/// was committed just before a stop, and deletes files no upload owns (chunks of
/// interrupted PATCHes, `.part` files of uploads deleted before a crash).
pub fn recover(state: &AppState) -> Result<(), ApiError> {
    for id in state.store.unfinished_full_uploads()? {
        let Some(upload) = state.store.upload(&id)? else {
            continue;
        };
        let objects = &state.objects;
        let verdict = if objects.has_part(&id).map_err(ApiError::internal)? {
            let part = objects
                .assembled(&id, upload.length)
                .map_err(ApiError::internal)?;
            let whole = sha256_file(&part).map_err(ApiError::internal)? == upload.sha256;
            whole && inspect::inspect(&part, &state.config.limits).is_ok()
        } else {
            // Moved before the stop, not yet recorded.
            objects
                .has_bundle(upload.case_id, &upload.sha256)
                .map_err(ApiError::internal)?
        };
        if verdict {
            accept(state, &upload)?;
        } else {
            objects.remove_part(&id).map_err(ApiError::internal)?;
            state.store.delete_upload(&id)?;
        }
    }
    for stray in state.objects.strays().map_err(ApiError::internal)? {
        let keep = match &stray.owner {
            Some(id) => state.store.upload(id)?.is_some_and(|u| !u.is_complete()),
            None => false,
        };
        if !keep {
            tracing::info!("removing leftover {}", stray.name);
            state
                .objects
                .remove_stray(&stray)
                .map_err(ApiError::internal)?;
        }
    }
    Ok(())
}

/// Deletes unfinished uploads past their expiry (run at start-up and periodically).
pub async fn sweep_expired(state: &AppState) -> Result<(), ApiError> {
    let now = Utc::now();
    let expired = state
        .blocking(move |state| Ok(state.store.expired_uploads(now)?))
        .await?;
    for id in expired {
        let Some(claim) = state.claim(&id) else {
            continue;
        };
        let record = state.blocking({
            let id = id.clone();
            move |state| Ok(state.store.upload(&id)?)
        });
        if let Some(upload) = record.await? {
            tracing::info!(upload_id = %id, "deleting expired upload");
            purge(state, &upload, claim).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_needs_a_sha256() {
        let digest = "ab".repeat(32);
        let mut headers = HeaderMap::new();
        let value = format!(
            "filename {},sha256 {}",
            STANDARD.encode("b.zip"),
            STANDARD.encode(&digest)
        );
        headers.insert("upload-metadata", value.parse().unwrap());
        assert_eq!(
            parse_metadata(&headers).unwrap(),
            (digest, Some("b.zip".into()))
        );

        headers.insert(
            "upload-metadata",
            format!("filename {}", STANDARD.encode("b.zip"))
                .parse()
                .unwrap(),
        );
        assert!(parse_metadata(&headers).is_err());
    }

    #[test]
    fn http_dates() {
        let at = DateTime::parse_from_rfc3339("2026-05-01T08:09:10Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(http_date(at), "Fri, 01 May 2026 08:09:10 GMT");
    }
}
