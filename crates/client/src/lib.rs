//! The jcdiag client library: everything `jcdiag` does below its command line.
//!
//! [`form`] and [`case`] describe the case; [`collect`] gathers it from a system (and [`record`]
//! during a reproduction); [`bundle`] and [`manifest`] write the zip; [`deliver`] sends it to the
//! intake through the on-disk outbox; [`findings`] says what is wrong (checks, error signatures); [`email`] is the mail channel; [`logfile`] is jcdiag's own
//! log; [`interrupt`] turns Ctrl-C into a clean stop.

pub mod bundle;
pub mod case;
pub mod collect;
pub mod deliver;
pub mod email;
pub mod findings;
pub mod form;
pub mod interrupt;
pub mod logfile;
pub mod manifest;
pub mod record;
pub mod sources;
