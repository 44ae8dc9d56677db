//! `findings.json`: what the checks found, and the agent log's error signatures.
//!
//! Written by jcdiag into the bundle and by `jcdiag doctor --json`; read by jcdiag-intake
//! (`case show`, `case list`, the support console). Statuses are ordered so that the worst
//! finding of a case is the maximum.

use serde::{Deserialize, Serialize};

/// `schema` of findings.json.
pub const FINDINGS_SCHEMA: &str = "jcdiag.findings/1";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// [`FINDINGS_SCHEMA`].
    pub schema: String,
    /// RFC 3339 time the checks ran.
    pub generated: String,
    /// Every check that ran, in the order they ran.
    pub checks: Vec<Check>,
    /// ERROR/WARN lines of the agent logs grouped by signature, most frequent first.
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id, e.g. `agent.enrolled`, `cert.client.validity`, `net.agent-host.443`.
    pub id: String,
    pub title: String,
    pub status: Status,
    /// One line saying what was found, e.g. "the client certificate expired 3 days ago".
    pub summary: String,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// What to do, when there is something to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Worst last: `Ord` gives the worst finding as the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Unknown,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unknown => "unknown",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value the check saw, and where in the bundle it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub text: String,
    /// Bundle entry name (e.g. `logs/jcagent.log`), when the evidence is in the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// ERROR/WARN lines that are the same once timestamps, PIDs, ids, numbers and paths are removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// The normalised message, e.g. `failed to poll server: Get <url>: EOF`.
    pub signature: String,
    /// `ERROR` or `WARN`.
    pub level: String,
    pub count: u64,
    /// Timestamps as the log wrote them (the agent writes local time without a zone).
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// One occurrence in the bundle.
    pub example: Evidence,
    /// The profile's meaning and advice when the signature is a known one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<KnownSignature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownSignature {
    pub id: String,
    pub meaning: String,
    pub advice: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl Findings {
    /// The worst status of any check, or None when no check ran.
    pub fn worst(&self) -> Option<Status> {
        self.checks.iter().map(|check| check.status).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_is_fail_then_warn_then_unknown_then_ok() {
        let check = |status| Check {
            id: "x".into(),
            title: "x".into(),
            status,
            summary: String::new(),
            evidence: vec![],
            advice: None,
            link: None,
        };
        let mut findings = Findings::default();
        assert_eq!(findings.worst(), None);
        for (status, worst) in [
            (Status::Ok, Status::Ok),
            (Status::Unknown, Status::Unknown),
            (Status::Warn, Status::Warn),
            (Status::Ok, Status::Warn),
            (Status::Fail, Status::Fail),
            (Status::Warn, Status::Fail),
        ] {
            findings.checks.push(check(status));
            assert_eq!(findings.worst(), Some(worst));
        }
        let text = serde_json::to_string(&Status::Warn).unwrap();
        assert_eq!(text, "\"warn\"");
    }
}
