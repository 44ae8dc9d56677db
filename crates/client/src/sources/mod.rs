//! Where a case's files are on a system, and reading them safely: the agent's logs (found by the
//! profile's paths and globs, tail-read under caps) and screenshots (recognised by content).
//! Used by [`crate::collect`] for a snapshot and by [`crate::record`] while it follows the logs.

pub mod commands;
pub mod logs;
pub mod parse;
pub mod per_user;
pub mod plist;
pub mod screenshots;
pub mod syslog;

pub use logs::Caps;
pub use screenshots::Screenshot;
