//! Delivering a case: create it (idempotently), upload the bundle with tus in checksummed
//! chunks, and empty the outbox entry only on a receipt.
//!
//! Every step's result is saved in the entry's `state.json` before the next step, so a run
//! that is killed, cut off or out of time resumes where the endpoint says it stopped, and
//! nothing is sent twice beyond one chunk.

pub mod client;
pub mod outbox;

use std::time::{Duration, Instant};

pub use client::{Api, Connection, Receipt};
pub use outbox::{DeliveryState, Entry, Outbox, OutboxError};

use client::{Backoff, Failure};

/// Default size of one tus PATCH (each checksummed and confirmed on its own).
pub const CHUNK_SIZE: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The settings cannot work (endpoint URL, CA file, proxy): the message names the one.
    #[error("{0}")]
    Invalid(String),
    /// Not delivered within the deadline; kept in the outbox, to be retried.
    #[error("not delivered yet: {0}; the case is kept in the outbox")]
    Queued(String),
    /// The endpoint refused; kept in the outbox.
    #[error("refused by the endpoint: {0}; the case is kept in the outbox")]
    Refused(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Progress reports while uploading (bytes confirmed, total).
pub trait Progress {
    fn uploaded(&self, confirmed: u64, total: u64);
}

impl Progress for () {
    fn uploaded(&self, _: u64, _: u64) {}
}

/// What a delivery produced.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub receipt: Receipt,
    pub case_id: String,
    pub response_due: Option<String>,
}

/// Delivers one outbox entry, within `deadline`. The entry is removed only after a receipt.
pub async fn deliver(
    api: &Api,
    outbox: &Outbox,
    mut entry: Entry,
    deadline: Instant,
    chunk_size: usize,
    progress: &dyn Progress,
) -> Result<Delivered, DeliverError> {
    let mut backoff = Backoff {
        attempt: 0,
        base: Duration::from_millis(250),
        cap: Duration::from_secs(8),
        deadline,
    };
    let case = entry.case()?;
    let mut restarts = 0;
    loop {
        // The deadline bounds every await of a step: connecting, TLS, each request and each
        // body read. A server that never answers, or answers a byte at a time, is cut off.
        let outcome = within(deadline, step(api, &mut entry, &case, chunk_size, progress)).await;
        match outcome {
            Ok(Some(receipt)) => {
                let case_id = entry
                    .state
                    .case_id
                    .clone()
                    .unwrap_or_else(|| receipt.case_id.clone());
                let response_due = entry.state.response_due.clone();
                tracing::info!(
                    outbox_id = %entry.state.id,
                    case_id = %case_id,
                    receipt_id = %receipt.receipt_id,
                    attempts = entry.state.attempts,
                    "delivered; receipt issued"
                );
                outbox.remove(&entry)?;
                return Ok(Delivered {
                    receipt,
                    case_id,
                    response_due,
                });
            }
            Ok(None) => continue,
            Err(failure) => {
                entry.state.attempts += 1;
                let (message, wait, fatal) = match failure {
                    Failure::Transient { message, wait } => (message, wait, None),
                    Failure::OffsetConflict => (
                        "the endpoint holds another offset; asking again".into(),
                        Some(Duration::ZERO),
                        None,
                    ),
                    Failure::UploadGone => {
                        // Expired or unknown upload: start the upload over, a bounded number of times.
                        restarts += 1;
                        entry.state.upload_location = None;
                        entry.state.offset = 0;
                        let message =
                            "the endpoint no longer has the upload; starting it again".to_string();
                        let fatal = (restarts > 2).then(|| DeliverError::Refused(message.clone()));
                        (message, Some(Duration::ZERO), fatal)
                    }
                    Failure::Refused { message, .. } => {
                        (message.clone(), None, Some(DeliverError::Refused(message)))
                    }
                    Failure::Untrusted(message) => {
                        (message.clone(), None, Some(DeliverError::Queued(message)))
                    }
                };
                tracing::warn!(
                    outbox_id = %entry.state.id,
                    attempt = entry.state.attempts,
                    offset = entry.state.offset,
                    "delivery attempt failed: {message}"
                );
                entry.state.last_error = Some(message.clone());
                entry.save()?;
                if let Some(fatal) = fatal {
                    return Err(fatal);
                }
                match backoff.next(wait) {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        return Err(DeliverError::Queued(format!(
                            "deadline reached; last error: {message}"
                        )));
                    }
                }
            }
        }
    }
}

/// Runs `work` until `deadline`; past it, a transient failure that says so (the caller's
/// backoff then finds no time left and gives up).
async fn within<T>(
    deadline: Instant,
    work: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), work)
        .await
        .unwrap_or_else(|_| {
            Err(Failure::Transient {
                message: "the endpoint did not answer before the deadline".into(),
                wait: None,
            })
        })
}

/// One step forward. `Ok(None)`: progress made, call again; `Ok(Some)`: delivered.
async fn step(
    api: &Api,
    entry: &mut Entry,
    case: &client::CaseRecord,
    chunk_size: usize,
    progress: &dyn Progress,
) -> Result<Option<Receipt>, Failure> {
    let state = &mut entry.state;
    if state.upload_url.is_none() {
        let attach_to = state
            .attach_to_existing
            .then(|| state.case_id.clone())
            .flatten();
        let created = api
            .create(
                case,
                attach_to.as_deref(),
                &state.id,
                &state.sha256,
                state.size,
            )
            .await?;
        state.case_id = Some(created.case_id);
        state.upload_url = Some(created.upload_url);
        state.response_due = created.response_due.or(state.response_due.take());
        entry.save().map_err(local)?;
        return Ok(None);
    }
    if state.upload_location.is_none() {
        let upload_url = state.upload_url.clone().unwrap_or_default();
        let name = format!("{}.zip", state.id);
        state.upload_location = Some(
            api.create_upload(&upload_url, state.size, &state.sha256, &name)
                .await?,
        );
        state.offset = 0;
        entry.save().map_err(local)?;
        return Ok(None);
    }
    let location = state.upload_location.clone().unwrap_or_default();
    // The server's offset is the truth: after a cut or a crash it may be behind ours.
    let mut offset = api.offset(&location).await?;
    progress.uploaded(offset, state.size);
    let (bundle, size) = (entry.bundle(), entry.state.size);
    // The next chunk is read and hashed while the current one travels: at most two chunks
    // are in memory.
    let prefetch = |from: u64| {
        let (path, len) = (
            bundle.clone(),
            chunk_size.min(size.saturating_sub(from) as usize),
        );
        tokio::spawn(async move { (from, client::read_chunk(&path, from, len).await) })
    };
    let mut next = (offset < size).then(|| prefetch(offset));
    while let Some(pending) = next.take() {
        let (from, chunk) = pending
            .await
            .map_err(|e| local_io(&std::io::Error::other(e)))?;
        let chunk = chunk.map_err(|e| local_io(&e))?;
        let expected = from + chunk.bytes.len() as u64;
        if expected < size {
            next = Some(prefetch(expected));
        }
        let (confirmed, receipt_id) = api.patch(&location, from, chunk).await?;
        offset = confirmed;
        entry.state.offset = offset;
        entry.state.last_error = None;
        entry.save().map_err(local)?;
        progress.uploaded(offset, size);
        if receipt_id.is_some() && offset >= size {
            break;
        }
        if confirmed != expected {
            // The server kept less than we sent: continue from its offset, not our guess.
            next = (confirmed < size).then(|| prefetch(confirmed));
        }
    }
    Ok(Some(api.receipt(&location).await?))
}

fn local(e: OutboxError) -> Failure {
    Failure::Refused {
        status: 0,
        message: e.to_string(),
    }
}

fn local_io(e: &std::io::Error) -> Failure {
    Failure::Refused {
        status: 0,
        message: format!("the outbox bundle cannot be read: {e}"),
    }
}

/// What became of an escalation request.
#[derive(Debug)]
pub enum Escalation {
    /// The endpoint recorded it.
    Recorded,
    /// The endpoint could not be reached before the deadline (the last error says why).
    Unreachable(String),
}

/// Sends an escalation request, retrying connection errors and 5xx until `deadline`.
/// A refusal (bad token, unknown case, another case's token) is `Err` with the reason.
pub async fn escalate(
    api: &Api,
    case_id: &str,
    reason: &str,
    deadline: Instant,
) -> Result<Escalation, DeliverError> {
    let mut backoff = Backoff {
        attempt: 0,
        base: Duration::from_millis(250),
        cap: Duration::from_secs(4),
        deadline,
    };
    loop {
        let (message, wait) = match within(deadline, api.escalate(case_id, reason)).await {
            Ok(_) => {
                tracing::info!(case_id, "escalation recorded");
                return Ok(Escalation::Recorded);
            }
            Err(Failure::Refused { message, .. }) => return Err(DeliverError::Refused(message)),
            Err(Failure::Untrusted(message)) => return Ok(Escalation::Unreachable(message)),
            Err(Failure::Transient { message, wait }) => (message, wait),
            Err(Failure::UploadGone | Failure::OffsetConflict) => {
                ("unexpected answer from the endpoint".to_string(), None)
            }
        };
        tracing::warn!(case_id, "escalation attempt failed: {message}");
        match backoff.next(wait) {
            Some(pause) => tokio::time::sleep(pause).await,
            None => return Ok(Escalation::Unreachable(message)),
        }
    }
}
