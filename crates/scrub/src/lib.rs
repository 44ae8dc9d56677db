//! Removing secrets from collected text (the [`Scrubber`], whose module documentation is its
//! specification) and replacing names and addresses with stable aliases ([`obfuscate`]).

pub mod obfuscate;
mod scrub;

pub use scrub::*;
