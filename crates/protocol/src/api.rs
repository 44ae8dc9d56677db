//! The JSON bodies of Case Intake API v1 (`openapi/intake-v1.json`).

use serde::{Deserialize, Serialize};

use crate::case::CaseRecord;

/// What the bundle about to be uploaded is: the intake checks the upload against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleDeclaration {
    /// Lowercase hex SHA-256 of the whole zip.
    pub sha256: String,
    pub size: u64,
}

/// `POST /v1/cases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateCase<C = CaseRecord> {
    pub case: C,
    pub bundle: BundleDeclaration,
}

/// `POST /v1/cases/{id}/attachments`. jcdiag sends its case record along; the intake reads
/// only the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateAttachment<C = CaseRecord> {
    pub bundle: BundleDeclaration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<C>,
}

/// The answer to both: where to upload the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub case_id: String,
    /// The tus creation URL for the bundle.
    pub upload_url: String,
    /// RFC 3339; null when the tier has no published target.
    pub response_due: Option<String>,
}

/// `POST /v1/cases/{id}/escalations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationRequest {
    pub reason: String,
}

/// Its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationAnswer {
    pub case_id: String,
    /// `recorded`.
    pub status: String,
}

/// The endpoint's acknowledgement of a complete, verified bundle: `GET
/// /v1/uploads/{id}/receipt`. Every field is required: without one it is no receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub receipt_id: String,
    pub case_id: String,
    /// Lowercase hex SHA-256 of the bundle the intake stored.
    pub sha256: String,
    pub size: u64,
    /// RFC 3339, UTC.
    pub received_at: String,
}

/// A receipt that is not one.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt is not the expected JSON: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("the receipt's {0} is empty")]
    Empty(&'static str),
}

impl Receipt {
    /// Reads a receipt body, refusing one with a missing or empty field.
    pub fn from_json(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        let receipt: Receipt = serde_json::from_slice(bytes)?;
        for (name, value) in [
            ("receipt_id", &receipt.receipt_id),
            ("case_id", &receipt.case_id),
            ("sha256", &receipt.sha256),
            ("received_at", &receipt.received_at),
        ] {
            if value.trim().is_empty() {
                return Err(ReceiptError::Empty(name));
            }
        }
        Ok(receipt)
    }
}

/// `GET /v1/agent-version` (no token needed): the newest JumpCloud agent version this endpoint's
/// support team publishes (`jcdiag-intake serve --agent-newest`). `doctor` and `submit` compare
/// the installed agent with it, and fall back on the profile's recorded version without it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentVersion {
    /// [`crate::AGENT_VERSION_SCHEMA`].
    pub schema: String,
    /// A dotted number, e.g. `0.155.0`.
    pub newest: String,
}

/// Every refusal's body: a stable code and a sentence for the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
