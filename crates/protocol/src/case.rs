//! `case.json`: the issue form as support receives it, with the severity's definition and the
//! response target attached. jcdiag writes it into the bundle and the outbox, and sends it as
//! `case` when it opens a case; the intake checks it and stores it as received.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::level::{Severity, Tier};

/// One case. Written by jcdiag with every field (null where unknown); read leniently, as the
/// intake has always accepted it: only `schema` and `form` are required, and fields this
/// version does not know are kept in `extra` and written back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// [`crate::CASE_SCHEMA`].
    pub schema: String,
    /// An existing case the bundle belongs to (`--case`), else null.
    #[serde(default)]
    pub case_id: Option<String>,
    /// RFC 3339, UTC, when jcdiag made the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub form: CaseForm,
    #[serde(default, deserialize_with = "tier_field")]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub severity: Option<SeverityInfo>,
    /// RFC 3339 with the support team's offset; null when no target applies.
    #[serde(default)]
    pub response_due: Option<String>,
    /// The response target in words, or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_target: Option<String>,
    /// The support channels the tier is entitled to.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    /// `jcdiag record`: the window the recording covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingWindow>,
    /// Fields of a newer format, kept so nothing is lost on the way through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The form the user filled in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub troubleshooting: Option<String>,
    #[serde(default)]
    pub errors: Vec<String>,
    /// File names only: the images travel in the bundle.
    #[serde(default)]
    pub screenshots: Vec<String>,
    #[serde(default)]
    pub contact: Contact,
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub partner: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// The severity with the guideline's name and definition for it. Read also as a bare number
/// or string (`1`, `"1"`), as earlier clients and hand-written cases sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityInfo {
    pub level: Severity,
    pub name: Option<String>,
    pub definition: Option<String>,
}

impl SeverityInfo {
    pub fn bare(level: Severity) -> SeverityInfo {
        SeverityInfo {
            level,
            name: None,
            definition: None,
        }
    }
}

impl<'de> Deserialize<'de> for SeverityInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a Value so every shape gets one clear message naming the field.
        let bad = |e: String| de::Error::custom(format!("case.severity: {e}"));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        match Value::deserialize(d)? {
            Value::Object(object) => {
                let level = object
                    .get("level")
                    .ok_or_else(|| bad("the object has no `level`".into()))?;
                Ok(SeverityInfo {
                    level: Severity::deserialize(level).map_err(|e| bad(e.to_string()))?,
                    name: text(object.get("name")),
                    definition: text(object.get("definition")),
                })
            }
            other => Severity::deserialize(&other)
                .map(SeverityInfo::bare)
                .map_err(|e| bad(e.to_string())),
        }
    }
}

/// The tier by name, in any case ("Premium" as JumpCloud prints it); blank is no tier.
fn tier_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tier>, D::Error> {
    match Option::<String>::deserialize(d)
        .map_err(|e| de::Error::custom(format!("case.tier: {e}")))?
    {
        Some(text) if !text.trim().is_empty() => text
            .parse()
            .map(Some)
            .map_err(|e| de::Error::custom(format!("case.tier: {e}"))),
        _ => Ok(None),
    }
}

/// The window of a `jcdiag record` run, RFC 3339 start and end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingWindow {
    pub start: String,
    pub end: String,
}
