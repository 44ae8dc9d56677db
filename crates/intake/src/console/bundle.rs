//! What the console reads from a kept bundle: its file list, small entries (summary.txt,
//! system.json, findings.json) and the facts the queue and the fleet view index.
//!
//! Bundles passed the intake's zip check on arrival (`inspect`), so their names are plain
//! relative paths and their sizes bounded; still, every entry is read with a cap.

use std::io::Read;

use jcdiag_protocol::findings::{Findings, Status};
use serde_json::Value;

use super::ConsoleError;
use crate::backend::{BundleRead, Objects};
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

/// One of a case's kept bundles, wherever the objects are (data folder or object store).
#[derive(Clone, Copy)]
pub struct Kept<'a> {
    pub objects: &'a dyn Objects,
    pub case: CaseId,
    pub sha256: &'a str,
}

impl<'a> Kept<'a> {
    pub fn new(state: &'a AppState, case: CaseId, sha256: &'a str) -> Self {
        Kept {
            objects: &*state.objects,
            case,
            sha256,
        }
    }

    /// The bundle's bytes, opened where they are kept.
    pub fn reader(&self) -> std::io::Result<Box<dyn BundleRead>> {
        self.objects.open_bundle(self.case, self.sha256)
    }

    pub fn archive(&self) -> Result<zip::ZipArchive<Box<dyn BundleRead>>, ConsoleError> {
        zip::ZipArchive::new(self.reader()?).map_err(ConsoleError::internal)
    }
}

/// Every file in the bundle, by name.
pub fn entries(bundle: Kept) -> Result<Vec<Entry>, ConsoleError> {
    let mut archive = bundle.archive()?;
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
pub fn read_small(bundle: Kept, name: &str) -> Result<Option<Vec<u8>>, ConsoleError> {
    let mut archive = bundle.archive()?;
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
pub fn findings(bundle: Kept) -> Result<Option<Findings>, ConsoleError> {
    Ok(crate::bundle_findings::read_from(bundle.reader()?))
}

/// The bundle's system.json as JSON, when it has one.
pub fn system(bundle: Kept) -> Result<Option<Value>, ConsoleError> {
    Ok(read_small(bundle, "system.json")?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
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
pub fn facts(bundle: Kept) -> Result<BundleFacts, ConsoleError> {
    let findings = findings(bundle)?;
    let agent_version = system(bundle)?.and_then(|system| {
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
        let facts = match facts(Kept::new(state, case, &sha256)) {
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
