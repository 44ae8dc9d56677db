//! The wizard: prompts on a terminal for the case form's missing fields.
//!
//! It runs for `jcdiag` with no arguments (every useful field is offered), and for `submit`
//! on a terminal when required fields are missing (only those are asked). Unattended runs
//! (no terminal, `--yes`, `--silent`, `--json`) never get here: they fail listing what is
//! missing instead.
//!
//! Plain line prompts on stderr, answers read line by line from stdin: they work on any
//! terminal (and through a pseudo-terminal in the tests). Ctrl-C is the terminal's SIGINT and
//! ends the run through [`jcdiag_client::interrupt`]; end of input (Ctrl-D) abandons the form. Nothing
//! is written before the form is complete.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use jcdiag_client::form::{CaseForm, TIERS, looks_like_email};
use jcdiag_profile::Profile;

#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    #[error("the form was not finished (input ended); nothing was written")]
    Ended,
    #[error("cannot talk to the terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// Which fields to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only the required fields that are missing.
    Required,
    /// Every field that is still empty (the no-argument wizard).
    Everything,
}

pub struct Wizard<'a, R: BufRead, W: Write> {
    input: R,
    out: W,
    profile: &'a Profile,
}

impl<'a, R: BufRead, W: Write> Wizard<'a, R, W> {
    pub fn new(input: R, out: W, profile: &'a Profile) -> Self {
        Wizard {
            input,
            out,
            profile,
        }
    }

    /// Asks for the fields of `form` that `scope` and `required` call for. `check_screenshot`
    /// validates a path as it is typed (the same check a `--screenshot` flag gets).
    pub fn fill(
        &mut self,
        form: &mut CaseForm,
        required: &[&str],
        scope: Scope,
        check_screenshot: &dyn Fn(&Path) -> Result<(), String>,
    ) -> Result<(), WizardError> {
        let wanted = |field: &str| scope == Scope::Everything || required.contains(&field);
        if scope == Scope::Everything {
            writeln!(
                self.out,
                "jcdiag: open a JumpCloud support case. Press Ctrl-C at any time to stop; nothing is kept."
            )?;
        }
        if wanted("description") && blank(&form.description) {
            let text = self.lines(
                "Describe the problem in detail: what happens, since when, who is affected.\n(end with an empty line)",
                true,
            )?;
            form.description = Some(text.join("\n"));
        }
        if scope == Scope::Everything && blank(&form.troubleshooting) {
            let text = self.lines(
                "What have you tried already? (end with an empty line; an empty line alone skips)",
                false,
            )?;
            form.troubleshooting = (!text.is_empty()).then(|| text.join("\n"));
        }
        if scope == Scope::Everything && form.error.is_empty() {
            form.error = self.lines(
                "Error messages you saw, one per line (end with an empty line)",
                false,
            )?;
        }
        if wanted("severity") && form.severity.is_none() {
            form.severity = Some(self.severity()?);
        }
        if wanted("tier") && form.tier.is_none() {
            form.tier = Some(self.tier()?);
        }
        if wanted("email") && blank(&form.email) {
            form.email = Some(self.email()?);
        }
        if scope == Scope::Everything && blank(&form.name) {
            let name = self.ask("Your name (optional): ")?;
            form.name = (!name.is_empty()).then_some(name);
        }
        if scope == Scope::Everything && form.screenshot.is_empty() {
            form.screenshot = self.screenshots(check_screenshot)?;
        }
        Ok(())
    }

    /// The endpoint or token when neither flag, environment nor config gave it.
    pub fn ask_required(&mut self, question: &str) -> Result<String, WizardError> {
        loop {
            let answer = self.ask(question)?;
            if !answer.is_empty() {
                return Ok(answer);
            }
            writeln!(self.out, "  an answer is needed to send the case")?;
        }
    }

    fn severity(&mut self) -> Result<u8, WizardError> {
        writeln!(self.out, "Severity:")?;
        for level in ["1", "2", "3"] {
            if let Some(info) = self.profile.severities.get(level) {
                writeln!(self.out, "  {level}  {}: {}", info.name, info.definition)?;
            }
        }
        loop {
            match self.ask("Choose 1, 2 or 3: ")?.as_str() {
                "1" => return Ok(1),
                "2" => return Ok(2),
                "3" => return Ok(3),
                other => writeln!(self.out, "  `{other}` is not 1, 2 or 3")?,
            }
        }
    }

    fn tier(&mut self) -> Result<String, WizardError> {
        loop {
            let answer = self
                .ask(&format!(
                    "Your organisation's support tier ({}): ",
                    TIERS.join(", ")
                ))?
                .to_ascii_lowercase();
            if TIERS.contains(&answer.as_str()) {
                return Ok(answer);
            }
            writeln!(self.out, "  `{answer}` is not one of {}", TIERS.join(", "))?;
        }
    }

    fn email(&mut self) -> Result<String, WizardError> {
        loop {
            let answer = self.ask("Admin contact email: ")?;
            if looks_like_email(&answer) {
                return Ok(answer);
            }
            writeln!(
                self.out,
                "  `{answer}` is not an email address like admin@example.com"
            )?;
        }
    }

    fn screenshots(
        &mut self,
        check: &dyn Fn(&Path) -> Result<(), String>,
    ) -> Result<Vec<PathBuf>, WizardError> {
        writeln!(
            self.out,
            "Screenshot files to include, one path per line (end with an empty line):"
        )?;
        let mut shots = Vec::new();
        loop {
            let answer = self.ask("  screenshot: ")?;
            if answer.is_empty() {
                return Ok(shots);
            }
            let path = PathBuf::from(answer);
            match check(&path) {
                Ok(()) => shots.push(path),
                Err(why) => writeln!(self.out, "  {why}")?,
            }
        }
    }

    /// Lines up to an empty one. `required`: at least one line must be given.
    fn lines(&mut self, question: &str, required: bool) -> Result<Vec<String>, WizardError> {
        writeln!(self.out, "{question}")?;
        let mut lines = Vec::new();
        loop {
            let line = self.ask("> ")?;
            if line.is_empty() {
                if lines.is_empty() && required {
                    writeln!(self.out, "  this is required: type at least one line")?;
                    continue;
                }
                return Ok(lines);
            }
            lines.push(line);
        }
    }

    fn ask(&mut self, prompt: &str) -> Result<String, WizardError> {
        write!(self.out, "{prompt}")?;
        self.out.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            return Err(WizardError::Ended);
        }
        Ok(line.trim().to_string())
    }
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(answers: &str, form: &mut CaseForm, scope: Scope) -> (Result<(), WizardError>, String) {
        let mut out = Vec::new();
        let result = {
            let mut wizard = Wizard::new(answers.as_bytes(), &mut out, Profile::builtin());
            let check = |p: &Path| {
                if p.to_string_lossy().ends_with(".png") {
                    Ok(())
                } else {
                    Err(format!("{}: not an image", p.display()))
                }
            };
            wizard.fill(
                form,
                &["description", "severity", "tier", "email"],
                scope,
                &check,
            )
        };
        (result, String::from_utf8(out).unwrap())
    }

    #[test]
    fn every_field_is_asked_validated_and_kept() {
        let mut form = CaseForm::default();
        let answers = "Agent stopped\nsince Monday\n\nrebooted\n\nerror 42\n\n\
                       7\n2\ngold\npremium\nnot-an-email\nadmin@example.com\nAda\n\
                       notes.txt\nshot.png\n\n";
        let (result, shown) = run(answers, &mut form, Scope::Everything);
        result.unwrap();
        assert_eq!(
            form.description.as_deref(),
            Some("Agent stopped\nsince Monday")
        );
        assert_eq!(form.troubleshooting.as_deref(), Some("rebooted"));
        assert_eq!(form.error, ["error 42"]);
        assert_eq!(form.severity, Some(2));
        assert_eq!(form.tier.as_deref(), Some("premium"));
        assert_eq!(form.email.as_deref(), Some("admin@example.com"));
        assert_eq!(form.name.as_deref(), Some("Ada"));
        assert_eq!(form.screenshot, [PathBuf::from("shot.png")]);
        // The picker shows the guideline's definitions; bad answers are named and asked again.
        let severity_1 = &Profile::builtin().severities["1"].definition;
        assert!(shown.contains(severity_1.as_str()), "{shown}");
        assert!(shown.contains("`7` is not 1, 2 or 3"));
        assert!(shown.contains("`gold` is not one of"));
        assert!(shown.contains("`not-an-email` is not an email address"));
        assert!(shown.contains("notes.txt: not an image"));
    }

    #[test]
    fn only_missing_required_fields_are_asked_when_flags_gave_the_rest() {
        let mut form = CaseForm {
            description: Some("given".into()),
            tier: Some("standard".into()),
            ..CaseForm::default()
        };
        let (result, shown) = run("3\nadmin@example.com\n", &mut form, Scope::Required);
        result.unwrap();
        assert_eq!(form.severity, Some(3));
        assert_eq!(form.description.as_deref(), Some("given"));
        assert!(!shown.contains("Describe the problem"));
        assert!(!shown.contains("tried already"));
    }

    #[test]
    fn end_of_input_abandons_the_form() {
        let mut form = CaseForm::default();
        let (result, _) = run("half a description\n", &mut form, Scope::Everything);
        assert!(matches!(result, Err(WizardError::Ended)));
    }

    #[test]
    fn a_description_is_required() {
        let mut form = CaseForm::default();
        let (result, shown) = run("\nnow given\n\n", &mut form, Scope::Required);
        assert!(
            matches!(result, Err(WizardError::Ended)),
            "ran out after the description"
        );
        assert!(shown.contains("this is required"));
        assert_eq!(form.description.as_deref(), Some("now given"));
    }
}
