//! `manifest.json`: what the bundle holds, where each entry came from, and what is missing.
//! The types are the shared ones of jcdiag-protocol.

pub use jcdiag_protocol::MANIFEST_SCHEMA as SCHEMA;
pub use jcdiag_protocol::manifest::*;
