//! The outbox: cases kept on disk until the endpoint has acknowledged them with a receipt.
//!
//! One owner-only folder per case under `<state dir>/outbox/<id>/` holding `bundle.zip`,
//! `case.json` (what `POST /v1/cases` sends) and `state.json` (case id, upload URL, confirmed
//! offset, attempts, last error). Every file is written aside and renamed, so a crash leaves
//! either the old or the new state. No token is ever written here.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use jcdiag_fs::fsafe;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the outbox {path} cannot be used: {source} (choose a writable --state-dir)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("outbox entry {0} does not exist; `jcdiag outbox list` shows the kept cases")]
    Unknown(String),
    #[error("outbox entry {path} is damaged: {message}")]
    Damaged { path: PathBuf, message: String },
}

/// Where a case stands on its way to the endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeliveryState {
    /// The outbox id, also the `Idempotency-Key` of the case creation.
    pub id: String,
    pub created: String,
    /// Set once the endpoint created (or found) the case.
    pub case_id: Option<String>,
    /// True when the bundle is added to an existing case (`--case`).
    pub attach_to_existing: bool,
    /// The tus creation URL the endpoint gave.
    pub upload_url: Option<String>,
    /// The tus upload resource once created.
    pub upload_location: Option<String>,
    /// Bytes the endpoint confirmed.
    pub offset: u64,
    pub size: u64,
    pub sha256: String,
    pub response_due: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The endpoint the case was first sent to; `outbox flush` uses it when no flag, variable
    /// or config file names one. (Entries written before it was used may lack it.)
    pub endpoint: Option<String>,
    /// The `--ca-file` the case was sent with, for the same reason. The token is never kept,
    /// nor the proxy (its URL may hold a password; the environment and system proxy still apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// One kept case.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: PathBuf,
    pub state: DeliveryState,
}

impl Entry {
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle.zip")
    }

    pub fn case_json(&self) -> PathBuf {
        self.dir.join("case.json")
    }

    /// The case as `POST /v1/cases` sends it.
    pub fn case(&self) -> Result<jcdiag_protocol::CaseRecord, OutboxError> {
        let path = self.case_json();
        let bytes = std::fs::read(&path).map_err(|e| OutboxError::Damaged {
            path: path.clone(),
            message: format!("case.json unreadable: {e}"),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| OutboxError::Damaged {
            path,
            message: format!("case.json unreadable: {e}"),
        })
    }

    /// Persists the state (aside, fsync, rename).
    pub fn save(&self) -> Result<(), OutboxError> {
        let bytes = serde_json::to_vec_pretty(&self.state).expect("state serialises");
        write_atomic(&self.dir.join("state.json"), &bytes)
    }
}

pub struct Outbox {
    pub dir: PathBuf,
}

impl Outbox {
    pub fn new(state_dir: &Path) -> Outbox {
        Outbox {
            dir: state_dir.join("outbox"),
        }
    }

    /// Creates an entry holding `bundle` and the case JSON. With `take`, the bundle file is
    /// moved in (a bundle jcdiag just made); otherwise the entry gets its own link or copy, so
    /// that the case survives the user deleting the original.
    pub fn add(
        &self,
        bundle: &Path,
        take: bool,
        case_json: &[u8],
        mut state: DeliveryState,
    ) -> Result<Entry, OutboxError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OutboxError::Io { path, source }
        };
        fsafe::create_private_dir(&self.dir).map_err(io(&self.dir))?;
        let dir = self.dir.join(&state.id);
        fsafe::create_private_dir(&dir).map_err(io(&dir))?;
        let (sha256, size) = crate::bundle::sha256_file(bundle).map_err(io(bundle))?;
        state.sha256 = sha256;
        state.size = size;
        let entry = Entry { dir, state };
        // A hard link is as safe as a copy against deletion of the original, and free; the
        // endpoint checks the SHA-256 recorded here, so a later edit of the original is caught.
        let placed = if take {
            std::fs::rename(bundle, entry.bundle()).is_ok()
        } else {
            std::fs::hard_link(bundle, entry.bundle()).is_ok()
        };
        if !placed {
            copy_atomic(bundle, &entry.bundle())?;
        }
        write_atomic(&entry.case_json(), case_json)?;
        entry.save()?;
        Ok(entry)
    }

    /// Every kept case, oldest first. Damaged entries are reported, not hidden.
    pub fn list(&self) -> Result<Vec<Result<Entry, OutboxError>>, OutboxError> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(OutboxError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut entries: Vec<Result<Entry, OutboxError>> = read
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| load(&e.path()))
            .collect();
        entries.sort_by_key(|e| {
            e.as_ref()
                .map(|e| e.state.created.clone())
                .unwrap_or_default()
        });
        Ok(entries)
    }

    pub fn get(&self, id: &str) -> Result<Entry, OutboxError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(OutboxError::Unknown(id.to_string()));
        }
        let dir = self.dir.join(id);
        if !dir.is_dir() {
            return Err(OutboxError::Unknown(id.to_string()));
        }
        load(&dir)
    }

    /// Removes an entry: after a receipt, or when the user purges it.
    pub fn remove(&self, entry: &Entry) -> Result<(), OutboxError> {
        std::fs::remove_dir_all(&entry.dir).map_err(|source| OutboxError::Io {
            path: entry.dir.clone(),
            source,
        })
    }
}

fn load(dir: &Path) -> Result<Entry, OutboxError> {
    let path = dir.join("state.json");
    let bytes = std::fs::read(&path).map_err(|source| OutboxError::Io {
        path: path.clone(),
        source,
    })?;
    let state: DeliveryState =
        serde_json::from_slice(&bytes).map_err(|e| OutboxError::Damaged {
            path: path.clone(),
            message: e.to_string(),
        })?;
    Ok(Entry {
        dir: dir.to_path_buf(),
        state,
    })
}

/// A new outbox id: random, so it is also a safe idempotency key.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn now_rfc3339() -> String {
    let now: DateTime<Utc> = Utc::now();
    now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn temp_beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    path.with_file_name(name)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutboxError> {
    use std::io::Write;
    let temp = temp_beside(path);
    let io = |source| OutboxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let result = (|| {
        let mut file = fsafe::create_private(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        replace(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(io)?;
    if let Some(dir) = path.parent() {
        let _ = fsafe::sync_dir(dir);
    }
    Ok(())
}

fn copy_atomic(from: &Path, to: &Path) -> Result<(), OutboxError> {
    let temp = temp_beside(to);
    let result = (|| {
        let mut out = fsafe::create_private(&temp)?;
        let mut input = std::fs::File::open(from)?;
        std::io::copy(&mut input, &mut out)?;
        out.sync_all()?;
        drop(out);
        replace(&temp, to)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|source| OutboxError::Io {
        path: to.to_path_buf(),
        source,
    })
}

/// Rename over an existing file (Windows' rename refuses when the target exists).
fn replace(from: &Path, to: &Path) -> std::io::Result<()> {
    if cfg!(windows) && to.exists() {
        std::fs::remove_file(to)?;
    }
    std::fs::rename(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_json_written_before_the_endpoint_was_kept_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"id": "x", "created": "2026-11-27T10:00:00.000Z", "case_id": null,
            "attach_to_existing": false, "upload_url": null, "upload_location": null,
            "offset": 0, "size": 9, "sha256": "ab", "response_due": null, "attempts": 1,
            "last_error": "down"}"#;
        std::fs::write(dir.path().join("state.json"), old).unwrap();
        let entry = load(dir.path()).unwrap();
        assert_eq!((entry.state.endpoint, entry.state.ca_file), (None, None));
    }

    #[test]
    fn an_outbox_entry_of_todays_format_still_loads_with_its_case() {
        // Left by `jcdiag submit` to a dead endpoint before jcdiag-protocol existed.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/fixtures/outbox");
        let entry = load(&dir).unwrap();
        assert_eq!(entry.state.id, "d331adaf-7571-45e4-857b-a0027edc32b7");
        assert_eq!(
            entry.state.endpoint.as_deref(),
            Some("https://127.0.0.1:9/")
        );
        assert_eq!((entry.state.size, entry.state.attempts), (3176, 6));
        assert_eq!(entry.state.case_id, None);
        let case = entry.case().unwrap();
        assert_eq!(case.schema, jcdiag_protocol::CASE_SCHEMA);
        assert_eq!(case.tier, Some(jcdiag_protocol::Tier::Standard));
        assert_eq!(case.severity.unwrap().level.get(), 2);
    }

    #[test]
    fn entries_survive_a_reload_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("b.zip");
        std::fs::write(&bundle, b"zip bytes").unwrap();
        let outbox = Outbox::new(&dir.path().join("state"));
        let state = DeliveryState {
            id: new_id(),
            created: now_rfc3339(),
            ..Default::default()
        };
        let mut entry = outbox.add(&bundle, false, b"{}", state).unwrap();
        assert_eq!(entry.state.size, 9);
        entry.state.offset = 4;
        entry.save().unwrap();
        let listed = outbox.list().unwrap();
        assert_eq!(listed.len(), 1);
        let loaded = listed.into_iter().next().unwrap().unwrap();
        assert_eq!(loaded.state, entry.state);
        let files: Vec<String> = std::fs::read_dir(&entry.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files.len(), 3, "{files:?}");
        assert!(outbox.get("../etc").is_err());
        outbox.remove(&loaded).unwrap();
        assert!(outbox.list().unwrap().is_empty());
    }
}
