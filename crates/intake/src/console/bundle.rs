//! What the console reads from a kept bundle: its file list, small entries (summary.txt,
//! system.json, findings.json) and the facts the queue and the fleet view index.
//!
//! Bundles passed the intake's zip check on arrival (`inspect`), so their names are plain
//! relative paths and their sizes bounded; still, every entry is read with a cap.

use std::io::Read;
use std::path::PathBuf;

use jcdiag_protocol::findings::{Findings, Status};
use serde_json::Value;

use super::ConsoleError;
use crate::ids::CaseId;
use crate::state::AppState;
use crate::store::console::BundleFacts;

/// The largest summary.txt or system.json the console reads.
pub const SMALL_ENTRY_CAP: u64 = 8 << 20;

/// One entry of a bundle.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub size: u64,
}

/// The kept file of one of `case`'s bundles.
pub fn path(state: &AppState, case: CaseId, sha256: &str) -> PathBuf {
    state.dir.bundle(case, sha256)
}

fn open(path: &std::path::Path) -> Result<zip::ZipArchive<std::fs::File>, ConsoleError> {
    let file = std::fs::File::open(path)?;
    zip::ZipArchive::new(file).map_err(ConsoleError::internal)
}

/// Every file in the bundle, by name.
pub fn entries(path: &std::path::Path) -> Result<Vec<Entry>, ConsoleError> {
    let mut archive = open(path)?;
    let mut found = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(ConsoleError::internal)?;
        if entry.is_file() {
            found.push(Entry {
                name: entry.name().map_err(ConsoleError::internal)?.into_owned(),
                size: entry.size(),
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// An entry's bytes, if it exists and is at most `cap` bytes.
pub fn read_small(path: &std::path::Path, name: &str) -> Result<Option<Vec<u8>>, ConsoleError> {
    let mut archive = open(path)?;
    let Ok(entry) = archive.by_name(name) else {
        return Ok(None);
    };
    if entry.size() > SMALL_ENTRY_CAP {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.take(SMALL_ENTRY_CAP).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// The bundle's findings.json, when it has a readable one.
pub fn findings(path: &std::path::Path) -> Result<Option<Findings>, ConsoleError> {
    Ok(crate::bundle_findings::read(path))
}

/// The bundle's system.json as JSON, when it has one.
pub fn system(path: &std::path::Path) -> Result<Option<Value>, ConsoleError> {
    Ok(read_small(path, "system.json")?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// `bundle_facts.worst`'s number for a status.
pub fn rank(status: Status) -> u8 {
    match status {
        Status::Ok => 0,
        Status::Unknown => 1,
        Status::Warn => 2,
        Status::Fail => 3,
    }
}

pub fn rank_name(rank: u8) -> &'static str {
    match rank {
        0 => "ok",
        1 => "unknown",
        2 => "warn",
        _ => "fail",
    }
}

/// The facts of one bundle: worst finding, agent version, error signatures.
pub fn facts(path: &std::path::Path) -> Result<BundleFacts, ConsoleError> {
    let findings = findings(path)?;
    let agent_version = system(path)?.and_then(|system| {
        system
            .pointer("/agent/version")
            .and_then(Value::as_str)
            .map(|v| v.chars().take(64).collect())
    });
    Ok(BundleFacts {
        worst: findings.as_ref().and_then(Findings::worst).map(rank),
        agent_version,
        signatures: findings
            .map(|f| {
                f.signatures
                    .into_iter()
                    .map(|s| (s.signature, s.level, s.count))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads the facts of every bundle not indexed yet (new uploads since the last look).
pub fn index_new_bundles(state: &AppState) -> Result<(), ConsoleError> {
    for (case, sha256) in state.store.bundles_without_facts()? {
        let facts = match facts(&path(state, case, &sha256)) {
            Ok(facts) => facts,
            Err(error) => {
                // Indexed as "no facts", so one unreadable bundle is not retried forever.
                tracing::warn!(%case, sha256, "bundle facts not read: {}", error.message);
                BundleFacts::default()
            }
        };
        state.store.put_bundle_facts(case, &sha256, &facts)?;
    }
    Ok(())
}
