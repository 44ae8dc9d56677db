//! `system.json`: the facts about the collected system and the run.
//!
//! The top level and the parts that are the same everywhere are typed. `os`, `machine`,
//! `agent.process` and `run` stay JSON values: their fields depend on the OS and on what could
//! be read (a disk under `--sysroot` has no processes or memory to ask), and only people read
//! them, so a fixed type would add nothing but a second place to change.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemFacts {
    /// [`crate::SYSTEM_SCHEMA`].
    pub schema: String,
    pub collection: Collection,
    /// Name, version, build and where they were read from.
    pub os: Value,
    /// The collected system's host name (its alias with `--obfuscate hostnames`).
    pub hostname: String,
    /// The machine running jcdiag: CPU, memory, disks, network interfaces.
    pub machine: Value,
    pub agent: AgentFacts,
    /// Who ran jcdiag and how.
    pub run: Value,
}

/// Where the facts were collected from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub target_os: String,
    pub sysroot: String,
    /// False when collected from a disk or tree under `--sysroot`.
    pub live_system: bool,
}

/// The JumpCloud agent as its files describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentFacts {
    pub version: Option<String>,
    pub system_key: Option<String>,
    pub server_host: Option<String>,
    pub region: Option<String>,
    /// The agent's service name on this OS.
    pub service: String,
    /// Whether its process runs, or why that was not checked.
    pub process: Value,
}
