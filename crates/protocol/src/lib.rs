//! The wire and file formats jcdiag and jcdiag-intake share: `case.json`, `manifest.json`,
//! `system.json`, `findings.json`, the Case Intake API v1 bodies, the receipt, and the header
//! names. Both sides use these types, so a change to the contract is a change to one place.
//!
//! Readers accept every shape jcdiag and the intake have written so far (the golden files in
//! `tests/fixtures/`); writers produce today's shape, field for field.

pub mod api;
pub mod case;
pub mod findings;
pub mod level;
pub mod manifest;
pub mod system;

pub use api::{
    AgentVersion, BundleDeclaration, CreateAttachment, CreateCase, Created, ErrorBody,
    EscalationAnswer, EscalationRequest, Receipt, ReceiptError,
};
pub use case::{CaseForm, CaseRecord, Contact, RecordingWindow, SeverityInfo};
pub use findings::{Check, Evidence, FINDINGS_SCHEMA, Findings, KnownSignature, Signature, Status};
pub use level::{LevelError, Severity, Tier};
pub use manifest::{CommandRun, Entry, Manifest, RecordedLog, Recording, Skipped};
pub use system::{AgentFacts, Collection, SystemFacts};

/// `schema` of case.json.
pub const CASE_SCHEMA: &str = "jcdiag.case/1";
/// `schema` of manifest.json.
pub const MANIFEST_SCHEMA: &str = "jcdiag.manifest/1";
/// `schema` of system.json.
pub const SYSTEM_SCHEMA: &str = "jcdiag.system/1";

/// `schema` of the `GET /v1/agent-version` answer.
pub const AGENT_VERSION_SCHEMA: &str = "jcdiag.agent-version/1";
/// Where an endpoint publishes the newest agent version.
pub const AGENT_VERSION_PATH: &str = "/v1/agent-version";

/// The tus protocol version both sides speak.
pub const TUS_VERSION: &str = "1.0.0";

/// Header names the two sides share. HTTP header names are case-insensitive; these are spelled
/// as the API document writes them.
pub mod header {
    /// The receipt id on the PATCH that completed an upload.
    pub const RECEIPT: &str = "Jcdiag-Receipt";
    /// The outbox id on case creation, so a retried request cannot open a second case.
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    pub const TUS_RESUMABLE: &str = "Tus-Resumable";
    pub const TUS_VERSION: &str = "Tus-Version";
    pub const UPLOAD_OFFSET: &str = "Upload-Offset";
    pub const UPLOAD_LENGTH: &str = "Upload-Length";
    pub const UPLOAD_METADATA: &str = "Upload-Metadata";
    pub const UPLOAD_CHECKSUM: &str = "Upload-Checksum";
    pub const UPLOAD_EXPIRES: &str = "Upload-Expires";
}
