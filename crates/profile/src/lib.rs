//! The facts jcdiag works from, as data: JumpCloud's agent layout per OS (log paths, config and key
//! files), the secret key words, and the support guideline's severities, tiers, response times,
//! contact channels and escalation path (`profile.toml`, checked against its sources by tests);
//! [`sla`] turns a tier and severity into a response target; [`target`] names the OS layouts.

mod parity;
mod profile;
pub mod sla;
pub mod target;

pub use parity::*;
pub use profile::*;
