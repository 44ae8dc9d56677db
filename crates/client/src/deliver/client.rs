//! Talking to the Case Intake API: HTTPS with rustls, the OS trust store plus `--ca-file`,
//! retries with backoff, and the tus 1.0.0 upload of the bundle.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::DeliverError;
use jcdiag_protocol::header;
pub use jcdiag_protocol::{CaseRecord, Created, Receipt, TUS_VERSION};

/// How to reach the endpoint.
#[derive(Debug, Clone)]
pub struct Connection {
    pub endpoint: Url,
    pub token: String,
    pub ca_file: Option<std::path::PathBuf>,
    pub proxy: Option<String>,
}

/// Checks an endpoint URL: `https://`, or `http://` to a loopback address only.
pub fn parse_endpoint(text: &str) -> Result<Url, DeliverError> {
    let url = Url::parse(text.trim_end_matches('/')).map_err(|e| {
        DeliverError::Invalid(format!(
            "--endpoint `{text}` is not a URL ({e}); write it as https://support.example.com"
        ))
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(DeliverError::Invalid(format!(
            "--endpoint `{text}`: plain http:// is only allowed to loopback addresses; use https://"
        ))),
        other => Err(DeliverError::Invalid(format!(
            "--endpoint `{text}`: scheme `{other}` is not https"
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The newest agent version the endpoint publishes (`GET /v1/agent-version`, no token sent):
/// `Ok(None)` when it publishes none (404), `Err` with the reason when it could not be asked.
/// A short timeout: it is one line of `doctor`, not worth waiting for.
pub async fn published_agent_version(conn: &Connection) -> Result<Option<String>, String> {
    let client = http_client(conn).map_err(|e| e.to_string())?;
    let url = format!(
        "{}{}",
        conn.endpoint.as_str().trim_end_matches('/'),
        jcdiag_protocol::AGENT_VERSION_PATH
    );
    let response = client
        .get(&url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| chain(&e))?;
    match response.status() {
        StatusCode::NOT_FOUND => Ok(None),
        status if status.is_success() => {
            let body = json_body(response).await.map_err(|failure| match failure {
                Failure::Transient { message, .. }
                | Failure::Refused { message, .. }
                | Failure::Untrusted(message) => message,
                Failure::UploadGone | Failure::OffsetConflict => "no answer".into(),
            })?;
            let answer: jcdiag_protocol::AgentVersion =
                serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            Ok(Some(answer.newest))
        }
        status => Err(format!("it answered {status}")),
    }
}

/// The HTTP client with jcdiag's TLS rules: certificates are always checked, against the OS
/// trust store (the platform verifier) plus the CAs of `--ca-file`.
pub fn http_client(conn: &Connection) -> Result<reqwest::Client, DeliverError> {
    // One process-wide provider; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let extra = match &conn.ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let certs = extra
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>();
    let certs = certs.map_err(|e| DeliverError::Invalid(format!("--ca-file: {e}")))?;
    match base_builder(conn)?.tls_certs_merge(certs).build() {
        Ok(client) => Ok(client),
        // Where the platform verifier cannot take extra roots (seen under wine), verify with
        // webpki against the OS store's roots plus the extra CAs instead: still fully checked.
        Err(_) if !extra.is_empty() => {
            let config = webpki_config(&extra)?;
            base_builder(conn)?
                .tls_backend_preconfigured(config)
                .build()
                .map_err(|e| DeliverError::Invalid(format!("cannot set up HTTPS: {}", chain(&e))))
        }
        Err(e) => Err(DeliverError::Invalid(format!(
            "cannot set up HTTPS: {}",
            chain(&e)
        ))),
    }
}

fn base_builder(conn: &Connection) -> Result<reqwest::ClientBuilder, DeliverError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .user_agent(concat!("jcdiag/", env!("CARGO_PKG_VERSION")))
        // Redirects stay on the origin they start from; one elsewhere comes back as the 3xx
        // answer, which is refused.
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let same = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if same && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .https_only(conn.endpoint.scheme() == "https");
    if let Some(proxy) = &conn.proxy {
        let proxy = reqwest::Proxy::all(proxy).map_err(|e| {
            DeliverError::Invalid(format!("--proxy `{proxy}` is not a proxy URL ({e})"))
        })?;
        builder = builder.proxy(proxy);
    }
    Ok(builder)
}

/// The certificates of a PEM file, as DER.
pub(crate) fn read_ca_file(path: &std::path::Path) -> Result<Vec<Vec<u8>>, DeliverError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|e| {
        DeliverError::Invalid(format!(
            "--ca-file {}: cannot be read ({e}); give a PEM file of CA certificates",
            path.display()
        ))
    })?;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            DeliverError::Invalid(format!(
                "--ca-file {}: not PEM certificates ({e})",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(DeliverError::Invalid(format!(
            "--ca-file {}: holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

pub(crate) fn webpki_config(extra: &[Vec<u8>]) -> Result<rustls::ClientConfig, DeliverError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    for der in extra {
        roots
            .add(rustls_pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| {
                DeliverError::Invalid(format!(
                    "--ca-file: a certificate is not usable as a CA ({e})"
                ))
            })?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DeliverError::Invalid(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// One failed exchange, classified for the retry loop.
#[derive(Debug)]
pub enum Failure {
    /// Worth retrying (connection cut, 5xx, 429); `wait` from `Retry-After`.
    Transient {
        message: String,
        wait: Option<Duration>,
    },
    /// The endpoint refused; retrying will not help.
    Refused { status: u16, message: String },
    /// The certificate was not trusted: retrying will not help until the trust is fixed.
    Untrusted(String),
    /// The upload resource is gone (expired or unknown): start the upload again.
    UploadGone,
    /// Our offset differs from the server's: ask it again.
    OffsetConflict,
}

impl Failure {
    fn from_reqwest(e: reqwest::Error) -> Failure {
        let message = chain(&e);
        let lower = message.to_lowercase();
        if lower.contains("certificate")
            || lower.contains("unknownissuer")
            || lower.contains("invalid peer")
        {
            return Failure::Untrusted(format!(
                "the endpoint's TLS certificate is not trusted ({message}); if it uses a private CA, pass it with --ca-file"
            ));
        }
        if lower.contains("tunnel") {
            return Failure::Transient {
                message: format!(
                    "the proxy failed ({message}); check --proxy, HTTPS_PROXY and NO_PROXY"
                ),
                wait: None,
            };
        }
        Failure::Transient {
            message,
            wait: None,
        }
    }
}

/// The full error chain in one line (reqwest's top-level message hides the cause).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// The most of an answer's body jcdiag reads (a refusal's text, a JSON answer): a server
/// that sends more, or never stops, cannot make it hold more than this.
pub const BODY_CAP: usize = 64 << 10;

/// Reads at most `cap` bytes of a body, chunk by chunk. `Ok((bytes, false))`: the whole body;
/// `Ok((first cap bytes, true))`: the body was longer and the rest was not read.
async fn read_capped(mut response: Response, cap: usize) -> Result<(Vec<u8>, bool), Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Failure::from_reqwest)? {
        if body.len() + chunk.len() > cap {
            body.extend_from_slice(&chunk[..cap - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// A JSON answer's body, refused when it is longer than [`BODY_CAP`].
async fn json_body(response: Response) -> Result<Vec<u8>, Failure> {
    let status = response.status().as_u16();
    match read_capped(response, BODY_CAP).await? {
        (body, false) => Ok(body),
        (_, true) => Err(Failure::Refused {
            status,
            message: format!(
                "the endpoint's answer is longer than {} KiB, which no answer of the API is",
                BODY_CAP >> 10
            ),
        }),
    }
}

/// Reads a refusal's JSON `message` (or the body text) for the user.
async fn refusal(response: Response) -> Failure {
    let status = response.status();
    let wait = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Only the start of the body: an error page may be huge or never end.
    let origin = response.url().origin().ascii_serialization();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match read_capped(response, BODY_CAP).await {
        Ok((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let json = serde_json::from_str::<Value>(&body).unwrap_or_default();
    let code = json["error"].as_str().unwrap_or_default().to_string();
    let detail = json["message"]
        .as_str()
        .map_or_else(|| body.chars().take(300).collect(), str::to_string);
    let message = match location {
        Some(to) if status.is_redirection() => format!(
            "the endpoint answered {status}, a redirect to {to}; jcdiag follows redirects only within the endpoint's origin {origin}"
        ),
        _ => format!("the endpoint answered {status}: {detail}"),
    };
    match (status.as_u16(), code.as_str()) {
        // A whole-bundle mismatch deletes the upload: the bundle itself is bad.
        (460, "bundle_checksum_mismatch") => Failure::Refused {
            status: 460,
            message,
        },
        // A chunk damaged on the way: send it again.
        (408 | 429 | 460 | 500..=599, _) => Failure::Transient { message, wait },
        (409, "offset_mismatch" | "upload_complete") => Failure::OffsetConflict,
        // Busy, or still checking the completed bundle: ask again shortly.
        (409, _) => Failure::Transient {
            message,
            wait: wait.or(Some(Duration::from_millis(500))),
        },
        (code, _) => Failure::Refused {
            status: code,
            message,
        },
    }
}

pub struct Api {
    client: reqwest::Client,
    conn: Connection,
}

impl Api {
    pub fn new(conn: Connection) -> Result<Api, DeliverError> {
        Ok(Api {
            client: http_client(&conn)?,
            conn,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.conn.endpoint
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.conn.endpoint.as_str().trim_end_matches('/')
        )
    }

    /// A request that carries the token: only ever to the endpoint's own origin.
    fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, Failure> {
        self.same_origin(url)?;
        Ok(self
            .client
            .request(method, url)
            .bearer_auth(&self.conn.token))
    }

    /// Checks that `url` (an `upload_url` or `Location` the endpoint gave) has the endpoint's
    /// origin (scheme, host, port). Another origin, or http where the endpoint is https, would
    /// hand the token to someone else: refused.
    fn same_origin(&self, url: &str) -> Result<Url, Failure> {
        let ours = self.conn.endpoint.origin().ascii_serialization();
        let parsed = Url::parse(url).map_err(|e| Failure::Refused {
            status: 0,
            message: format!("the endpoint gave `{url}`, which is not a URL ({e})"),
        })?;
        if parsed.origin() == self.conn.endpoint.origin() {
            return Ok(parsed);
        }
        let theirs = parsed.origin().ascii_serialization();
        let why = if self.conn.endpoint.scheme() == "https" && parsed.scheme() != "https" {
            "a downgrade from https"
        } else {
            "another origin"
        };
        Err(Failure::Refused {
            status: 0,
            message: format!(
                "the endpoint sent jcdiag on to {theirs} ({why}); the token goes only to the endpoint's origin {ours}"
            ),
        })
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let response = request.send().await.map_err(Failure::from_reqwest)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(refusal(response).await)
        }
    }

    /// Creates the case, or adds a bundle to an existing one; idempotent by `key`.
    pub async fn create(
        &self,
        case: &CaseRecord,
        attach_to: Option<&str>,
        key: &str,
        sha256: &str,
        size: u64,
    ) -> Result<Created, Failure> {
        let bundle = jcdiag_protocol::BundleDeclaration {
            sha256: sha256.to_string(),
            size,
        };
        let request = match attach_to {
            Some(id) => self
                .request(
                    Method::POST,
                    &self.url(&format!("/v1/cases/{id}/attachments")),
                )?
                .json(&jcdiag_protocol::CreateAttachment {
                    bundle,
                    case: Some(case),
                }),
            None => self
                .request(Method::POST, &self.url("/v1/cases"))?
                .json(&jcdiag_protocol::CreateCase { case, bundle }),
        };
        let response = self
            .send(request.header(header::IDEMPOTENCY_KEY, key))
            .await?;
        let answer = json_body(response).await?;
        let created = serde_json::from_slice::<Created>(&answer).map_err(|e| Failure::Refused {
            status: 200,
            message: format!(
                "the endpoint's answer lacks case_id or upload_url ({e}): {}",
                String::from_utf8_lossy(&answer)
            ),
        })?;
        // Refused before it is kept: the upload would carry the token there.
        self.same_origin(&created.upload_url)?;
        Ok(created)
    }

    /// tus creation: returns the upload resource's URL.
    pub async fn create_upload(
        &self,
        upload_url: &str,
        size: u64,
        sha256: &str,
        file_name: &str,
    ) -> Result<String, Failure> {
        let metadata = format!(
            "sha256 {},filename {}",
            BASE64.encode(sha256),
            BASE64.encode(file_name)
        );
        let response = self
            .send(
                self.request(Method::POST, upload_url)?
                    .header(header::TUS_RESUMABLE, TUS_VERSION)
                    .header(header::UPLOAD_LENGTH, size.to_string())
                    .header(header::UPLOAD_METADATA, metadata),
            )
            .await?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(Failure::Refused {
                status: 201,
                message: "the endpoint created an upload without a Location".into(),
            })?;
        // Location may be relative to the creation URL.
        let base = Url::parse(upload_url).map_err(|e| Failure::Refused {
            status: 201,
            message: e.to_string(),
        })?;
        let absolute = base.join(location).map_err(|e| Failure::Refused {
            status: 201,
            message: e.to_string(),
        })?;
        Ok(self.same_origin(absolute.as_str())?.to_string())
    }

    /// tus HEAD: the offset the server holds.
    pub async fn offset(&self, location: &str) -> Result<u64, Failure> {
        let response = self
            .request(Method::HEAD, location)?
            .header(header::TUS_RESUMABLE, TUS_VERSION)
            .send()
            .await
            .map_err(Failure::from_reqwest)?;
        let response = upload_answer(response).await?;
        header_u64(&response, header::UPLOAD_OFFSET).ok_or(Failure::Transient {
            message: "the endpoint's HEAD answer has no Upload-Offset".into(),
            wait: None,
        })
    }

    /// tus PATCH of one chunk with its SHA-256. Returns the new offset and the receipt id
    /// when the server completed the upload with this chunk.
    pub async fn patch(
        &self,
        location: &str,
        offset: u64,
        chunk: Chunk,
    ) -> Result<(u64, Option<String>), Failure> {
        let Chunk {
            bytes: chunk,
            digest,
        } = chunk;
        let response = self
            .request(Method::PATCH, location)?
            .header(header::TUS_RESUMABLE, TUS_VERSION)
            .header("Content-Type", "application/offset+octet-stream")
            .header(header::UPLOAD_OFFSET, offset.to_string())
            .header(header::UPLOAD_CHECKSUM, format!("sha256 {digest}"))
            .body(chunk)
            .send()
            .await
            .map_err(Failure::from_reqwest)?;
        let response = upload_answer(response).await?;
        let new_offset =
            header_u64(&response, header::UPLOAD_OFFSET).ok_or(Failure::Transient {
                message: "PATCH answer without Upload-Offset".into(),
                wait: None,
            })?;
        let receipt = response
            .headers()
            .get(header::RECEIPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok((new_offset, receipt))
    }

    /// The receipt of a completed upload.
    pub async fn receipt(&self, location: &str) -> Result<Receipt, Failure> {
        let url = format!("{}/receipt", location.trim_end_matches('/'));
        let response = self
            .request(Method::GET, &url)?
            .send()
            .await
            .map_err(Failure::from_reqwest)?;
        // Gone means refused, expired or deleted: only a new upload can bring a receipt.
        let response = upload_answer(response).await?;
        let body = json_body(response).await?;
        // A receipt the client cannot read is no proof of delivery: the case stays kept.
        Receipt::from_json(&body).map_err(|e| Failure::Refused {
            status: 200,
            message: format!(
                "{e}; the endpoint's answer was: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ),
        })
    }

    /// `POST /v1/cases/{id}/escalations`.
    pub async fn escalate(
        &self,
        case_id: &str,
        reason: &str,
    ) -> Result<jcdiag_protocol::EscalationAnswer, Failure> {
        let url = self.url(&format!("/v1/cases/{case_id}/escalations"));
        let body = jcdiag_protocol::EscalationRequest {
            reason: reason.to_string(),
        };
        let response = self
            .send(self.request(Method::POST, &url)?.json(&body))
            .await?;
        let body = json_body(response).await?;
        serde_json::from_slice(&body).map_err(|e| Failure::Refused {
            status: 200,
            message: format!("the endpoint's answer to the escalation is not readable ({e})"),
        })
    }
}

/// An answer about an upload resource: gone (404/410), refused, or usable.
async fn upload_answer(response: Response) -> Result<Response, Failure> {
    match response.status() {
        StatusCode::NOT_FOUND | StatusCode::GONE => Err(Failure::UploadGone),
        s if !s.is_success() => Err(refusal(response).await),
        _ => Ok(response),
    }
}

fn header_u64(response: &Response, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads `len` bytes at `offset` of a file: one chunk, so memory stays at one chunk.
pub async fn read_chunk(path: &Path, offset: u64, len: usize) -> std::io::Result<Chunk> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let mut bytes = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut bytes).await?;
    Ok(Chunk::new(bytes))
}

/// One PATCH body with its `Upload-Checksum` digest (base64 of the SHA-256).
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub digest: String,
}

impl Chunk {
    pub fn new(bytes: Vec<u8>) -> Chunk {
        let digest = BASE64.encode(Sha256::digest(&bytes));
        Chunk { bytes, digest }
    }
}

/// Exponential backoff with full jitter, capped, never past the deadline.
pub struct Backoff {
    pub attempt: u32,
    pub base: Duration,
    pub cap: Duration,
    pub deadline: Instant,
}

impl Backoff {
    /// The pause before the next attempt, or `None` when the deadline leaves no room.
    pub fn next(&mut self, server_wait: Option<Duration>) -> Option<Duration> {
        let ceiling = self
            .base
            .saturating_mul(1 << self.attempt.min(16))
            .min(self.cap);
        self.attempt += 1;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).ok()?;
        let jitter = ceiling.mul_f64(u64::from_le_bytes(random) as f64 / u64::MAX as f64);
        let pause = server_wait.unwrap_or(jitter);
        let left = self.deadline.checked_duration_since(Instant::now())?;
        (pause < left).then_some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_loopback_only() {
        assert!(parse_endpoint("https://support.example.com").is_ok());
        assert!(parse_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(parse_endpoint("http://[::1]:8080").is_ok());
        assert!(parse_endpoint("http://localhost:8080").is_ok());
        let refused = parse_endpoint("http://support.example.com")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("loopback"), "{refused}");
        assert!(parse_endpoint("ftp://x").is_err());
    }

    #[test]
    fn backoff_grows_within_its_cap_and_stops_at_the_deadline() {
        let mut backoff = Backoff {
            attempt: 0,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            deadline: Instant::now() + Duration::from_secs(3600),
        };
        for _ in 0..20 {
            assert!(backoff.next(None).unwrap() <= Duration::from_secs(1));
        }
        assert_eq!(
            backoff.next(Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        backoff.deadline = Instant::now();
        assert_eq!(backoff.next(None), None);
    }

    #[test]
    fn the_token_goes_only_to_the_endpoints_origin() {
        let api = Api::new(Connection {
            endpoint: Url::parse("https://support.example.com").unwrap(),
            token: "t".into(),
            ca_file: None,
            proxy: None,
        })
        .unwrap();
        assert!(
            api.same_origin("https://support.example.com:443/v1/uploads/x")
                .is_ok()
        );
        assert!(
            api.same_origin("https://SUPPORT.example.com/v1/uploads")
                .is_ok()
        );
        for elsewhere in [
            "https://support.example.com:8443/v1/uploads",
            "https://evil.example.com/v1/uploads",
            "https://support.example.com.evil.example/v1/uploads",
            "http://support.example.com/v1/uploads",
            "ftp://support.example.com/x",
        ] {
            match api.same_origin(elsewhere) {
                Err(Failure::Refused { message, .. }) => {
                    assert!(message.contains("https://support.example.com"), "{message}")
                }
                other => panic!("{elsewhere} was accepted: {other:?}"),
            }
        }
        let downgrade = format!("{:?}", api.same_origin("http://support.example.com/x"));
        assert!(downgrade.contains("downgrade"), "{downgrade}");
    }

    /// Serves `body` as the JSON answer to every request, on loopback.
    async fn answering(body: &'static str) -> Api {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = vec![0u8; 8192];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        Api::new(Connection {
            endpoint,
            token: "t".into(),
            ca_file: None,
            proxy: None,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_receipt_without_its_id_is_refused_not_taken_for_delivery() {
        let api = answering(r#"{"case_id": "00000001", "sha256": "ab", "size": 3, "received_at": "2026-12-01T15:44:02Z"}"#).await;
        let location = format!("{}v1/uploads/x", api.endpoint());
        match api.receipt(&location).await {
            Err(Failure::Refused { message, .. }) => {
                assert!(message.contains("receipt_id"), "{message}")
            }
            other => panic!("a receipt without receipt_id was taken: {other:?}"),
        }
        let api = answering(
            r#"{"receipt_id": "", "case_id": "1", "sha256": "ab", "size": 3, "received_at": "x"}"#,
        )
        .await;
        let location = format!("{}v1/uploads/x", api.endpoint());
        assert!(matches!(
            api.receipt(&location).await,
            Err(Failure::Refused { .. })
        ));
    }
}
