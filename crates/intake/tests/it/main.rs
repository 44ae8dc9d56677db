//! jcdiag-intake's integration tests: one binary. Each test starts a real intake over TLS on
//! 127.0.0.1 (`jcdiag-testkit`) or runs the `jcdiag-intake` binary itself.

mod access;
mod agent_version;
mod cli;
mod console;
mod fuzz;
mod hostile;
mod limits;
mod load;
mod migrate;
mod not_found;
mod public_url;
mod quotas;
mod race;
mod raw;
mod rawzip;
mod replicas;
mod shedding;
mod targets;
mod terminal;
mod upload;
mod zipwalk;
