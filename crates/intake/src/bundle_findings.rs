//! What jcdiag found on the machine, read back from a stored bundle's `findings.json`, for
//! `case show` and `case list`. Bundles made before findings existed have none.

use std::io::Read;

use jcdiag_protocol::{Findings, Status};

use crate::backend::Objects;
use crate::store::CaseRecord;

/// findings.json is a few KiB; a bigger one is not read.
const FINDINGS_CAP: u64 = 4 << 20;

/// The findings of the case's newest bundle that has any, read where the bundles are kept.
pub fn latest(objects: &dyn Objects, case: &CaseRecord) -> Option<Findings> {
    let mut bundles: Vec<_> = case.bundles.iter().collect();
    bundles.sort_by(|a, b| b.received_at.cmp(&a.received_at));
    bundles
        .into_iter()
        .find_map(|bundle| read_from(objects.open_bundle(case.case_id, &bundle.sha256).ok()?))
}

/// A bundle's findings.json, when it has a readable one of at most 4 MiB.
pub fn read_from(bundle: impl Read + std::io::Seek) -> Option<Findings> {
    let mut zip = zip::ZipArchive::new(bundle).ok()?;
    let entry = zip.by_name("findings.json").ok()?;
    if entry.size() > FINDINGS_CAP {
        return None;
    }
    let mut text = String::new();
    entry.take(FINDINGS_CAP).read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// The worst finding as one cell: `fail agent.enrolled` (the first check of that status), or
/// `ok`; `-` without findings.
pub fn worst_cell(findings: Option<&Findings>) -> String {
    let Some(findings) = findings else {
        return "-".into();
    };
    match findings.worst() {
        None => "-".into(),
        Some(Status::Ok) => "ok".into(),
        Some(worst) => {
            let first = findings.checks.iter().find(|c| c.status == worst);
            let more = findings.checks.iter().filter(|c| c.status == worst).count() - 1;
            let id = first.map_or("", |c| c.id.as_str());
            if more > 0 {
                format!("{worst} {id} +{more}")
            } else {
                format!("{worst} {id}")
            }
        }
    }
}
