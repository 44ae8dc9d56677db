//! The case form: what the support guidelines ask every case for.
//!
//! Fields arrive from flags, `JCDIAG_*` variables (clap reads both), a `--form` file (TOML or
//! JSON with the flags' names) and the config file. [`CaseForm::or`] layers them so that the
//! first source that sets a field wins: flag > environment > form file > config file.

use std::path::{Path, PathBuf};

use jcdiag_profile::sla::{SlaProfile, Tier};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("cannot read the form file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the form file {path} is not valid {format}: {message}")]
    Parse {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Every field of the form, all optional until validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseForm {
    pub description: Option<String>,
    pub troubleshooting: Option<String>,
    /// Error messages the user saw (`--error`, repeatable).
    #[serde(default, alias = "errors", deserialize_with = "one_or_many")]
    pub error: Vec<String>,
    pub severity: Option<u8>,
    pub tier: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub org: Option<String>,
    pub partner: Option<bool>,
    pub case: Option<String>,
    #[serde(default, alias = "screenshots", deserialize_with = "one_or_many_paths")]
    pub screenshot: Vec<PathBuf>,
}

pub const TIERS: [&str; 4] = ["free", "standard", "premium", "jumpstart"];

/// Why the support guideline gives this form no case: a new case (not a bundle for an existing
/// one) on a tier whose terms accept no cases (Free). The answer is the tier's note, which says
/// what to do instead.
pub fn tier_refusal<'a>(form: &CaseForm, sla: &'a SlaProfile) -> Option<&'a str> {
    if form.case.is_some() {
        return None;
    }
    let tier: Tier = form.tier.as_deref()?.parse().ok()?;
    let terms = sla.tiers.get(&tier)?;
    (!terms.accepts_cases).then(|| terms.no_target_note.as_deref().unwrap_or(""))
}

impl CaseForm {
    /// Fills every field this form leaves unset from `lower` (a lower-precedence source).
    /// Lists are taken whole from the first source that has any.
    pub fn or(self, lower: CaseForm) -> CaseForm {
        fn list<T>(high: Vec<T>, low: Vec<T>) -> Vec<T> {
            if high.is_empty() { low } else { high }
        }
        CaseForm {
            description: self.description.or(lower.description),
            troubleshooting: self.troubleshooting.or(lower.troubleshooting),
            error: list(self.error, lower.error),
            severity: self.severity.or(lower.severity),
            tier: self.tier.or(lower.tier),
            email: self.email.or(lower.email),
            name: self.name.or(lower.name),
            org: self.org.or(lower.org),
            partner: self.partner.or(lower.partner),
            case: self.case.or(lower.case),
            screenshot: list(self.screenshot, lower.screenshot),
        }
    }

    /// Reads a form file: JSON when it ends in `.json` or starts with `{`, TOML otherwise.
    /// Relative screenshot paths are taken relative to the form file's folder.
    pub fn from_file(path: &Path) -> Result<CaseForm, FormError> {
        let text = std::fs::read_to_string(path).map_err(|source| FormError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            || text.trim_start().starts_with('{');
        let mut form: CaseForm = if is_json {
            serde_json::from_str(&text).map_err(|e| FormError::Parse {
                path: path.to_path_buf(),
                format: "JSON",
                message: e.to_string(),
            })?
        } else {
            toml::from_str(&text).map_err(|e| FormError::Parse {
                path: path.to_path_buf(),
                format: "TOML",
                message: e.message().to_string(),
            })?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        for shot in &mut form.screenshot {
            if shot.is_relative() {
                *shot = base.join(&*shot);
            }
        }
        Ok(form)
    }

    /// Checks the values that are set; `required` names fields that must be present.
    /// Every problem is reported at once, each naming the field and the fix.
    pub fn validate(&self, required: &[&str]) -> Result<(), FormError> {
        let mut problems = Vec::new();
        for field in required {
            let missing = match *field {
                "description" => blank(&self.description),
                "severity" => self.severity.is_none(),
                "tier" => self.tier.is_none(),
                "email" => blank(&self.email),
                "name" => blank(&self.name),
                _ => false,
            };
            if missing {
                problems.push(format!(
                    "{field}: missing; give --{field} (or JCDIAG_{})",
                    field.to_uppercase()
                ));
            }
        }
        if let Some(severity) = self.severity
            && !(1..=3).contains(&severity)
        {
            problems.push(format!("severity: `{severity}` is not 1, 2 or 3"));
        }
        if let Some(tier) = &self.tier
            && !TIERS.contains(&tier.as_str())
        {
            problems.push(format!("tier: `{tier}` is not one of {}", TIERS.join(", ")));
        }
        if let Some(email) = &self.email
            && !looks_like_email(email)
        {
            problems.push(format!(
                "email: `{email}` is not an email address like admin@example.com"
            ));
        }
        if let Some(case) = &self.case
            && (case.is_empty() || !case.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            problems.push(format!("case: `{case}` is not a case number like 01234567"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FormError::Invalid(format!(
                "the case form has problems:\n  {}",
                problems.join("\n  ")
            )))
        }
    }
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

/// Deliberately loose: one `@`, something before it, a dotted domain after it, no spaces.
pub fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn one_or_many_paths<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    Ok(one_or_many(d)?.into_iter().map(PathBuf::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_sources_win_field_by_field() {
        let flags = CaseForm {
            description: Some("from flag".into()),
            ..Default::default()
        };
        let file = CaseForm {
            description: Some("from file".into()),
            severity: Some(2),
            error: vec!["e1".into()],
            ..Default::default()
        };
        let merged = flags.or(file);
        assert_eq!(merged.description.as_deref(), Some("from flag"));
        assert_eq!(merged.severity, Some(2));
        assert_eq!(merged.error, ["e1"]);
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let form = CaseForm {
            severity: Some(7),
            email: Some("nope".into()),
            ..Default::default()
        };
        let message = form
            .validate(&["description", "tier"])
            .unwrap_err()
            .to_string();
        for needle in [
            "description: missing",
            "tier: missing",
            "severity: `7`",
            "email: `nope`",
        ] {
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn form_files_take_toml_and_json_with_the_flag_names() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("form.toml");
        std::fs::write(&toml_path, "description = \"Login fails\"\nerror = [\"E1\", \"E2\"]\nseverity = 2\nscreenshot = \"a.png\"\n").unwrap();
        let form = CaseForm::from_file(&toml_path).unwrap();
        assert_eq!(form.error, ["E1", "E2"]);
        assert_eq!(form.screenshot, [dir.path().join("a.png")]);
        let json_path = dir.path().join("form.json");
        std::fs::write(
            &json_path,
            r#"{"description": "x", "tier": "premium", "partner": true}"#,
        )
        .unwrap();
        let form = CaseForm::from_file(&json_path).unwrap();
        assert_eq!(form.tier.as_deref(), Some("premium"));
        std::fs::write(&json_path, r#"{"descripton": "typo"}"#).unwrap();
        assert!(
            CaseForm::from_file(&json_path)
                .unwrap_err()
                .to_string()
                .contains("descripton")
        );
    }
}
