//! Tier and Severity: one type each for case.json, the intake's store and JSON, the profile and
//! `sla --json`. A tier is its lowercase name; a severity a number 1 to 3, read from a number or
//! a string (a TOML key, or rows the intake stored as text).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A tier or severity that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("unknown tier \"{0}\"; valid tiers: free, standard, premium, jumpstart")]
    UnknownTier(String),
    #[error("invalid severity \"{0}\"; allowed: 1, 2, 3")]
    InvalidSeverity(String),
}

/// JumpCloud plan, as named on the command line and in `[tiers.<name>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Standard,
    Premium,
    Jumpstart,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Standard, Tier::Premium, Tier::Jumpstart];

    /// The lowercase id used in the profile and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Standard => "standard",
            Tier::Premium => "premium",
            Tier::Jumpstart => "jumpstart",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Tier {
    type Err = LevelError;

    /// Case-insensitive, so "JumpStart" as printed by JumpCloud is accepted.
    fn from_str(s: &str) -> Result<Self, LevelError> {
        Tier::ALL
            .into_iter()
            .find(|t| t.id().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| LevelError::UnknownTier(s.to_string()))
    }
}

/// Case severity, 1 (most severe) to 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "SeverityInput")]
pub struct Severity(u8);

impl Severity {
    pub const ALL: [Severity; 3] = [Severity(1), Severity(2), Severity(3)];

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<u8> for Severity {
    type Error = LevelError;

    fn try_from(n: u8) -> Result<Self, LevelError> {
        match n {
            1..=3 => Ok(Severity(n)),
            _ => Err(LevelError::InvalidSeverity(n.to_string())),
        }
    }
}

impl FromStr for Severity {
    type Err = LevelError;

    fn from_str(s: &str) -> Result<Self, LevelError> {
        s.trim()
            .parse::<u8>()
            .map_err(|_| LevelError::InvalidSeverity(s.to_string()))?
            .try_into()
            .map_err(|_| LevelError::InvalidSeverity(s.to_string()))
    }
}

/// A severity arrives as a string when it is a TOML key (`1 = "1h wall"`) and
/// may arrive as a number elsewhere; both go through the same check.
#[derive(Deserialize)]
#[serde(untagged)]
enum SeverityInput {
    Number(i64),
    Text(String),
}

impl TryFrom<SeverityInput> for Severity {
    type Error = LevelError;

    fn try_from(input: SeverityInput) -> Result<Self, LevelError> {
        match input {
            SeverityInput::Number(n) => n.to_string().parse(),
            SeverityInput::Text(s) => s.parse(),
        }
    }
}
