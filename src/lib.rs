//! jcdiag: collects a complete, scrubbed JumpCloud support case and delivers it.
//!
//! One module per job: `profile` holds the facts, `collect` gathers them from a system,
//! `scrub` removes secrets, `bundle` writes the zip, `form` and `sla` describe the case,
//! `cli` defines the command line and `app` runs it.

pub mod app;
pub mod bundle;
pub mod case;
pub mod cli;
pub mod collect;
pub mod config;
pub mod deliver;
pub mod duration;
pub mod email;
pub mod form;
pub mod fsafe;
pub mod intake;
pub mod interrupt;
pub mod logfile;
pub mod manifest;
pub mod obfuscate;
pub mod profile;
pub mod record;
pub mod scrub;
pub mod size;
pub mod sla;
pub mod target;
pub mod wizard;
