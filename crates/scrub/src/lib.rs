//! Removing secrets from collected text (the [`Scrubber`], whose module documentation is its
//! specification) and replacing names and addresses with stable aliases ([`obfuscate`]).

mod grams;
pub mod obfuscate;
pub mod provider;
mod scrub;

pub use scrub::*;
