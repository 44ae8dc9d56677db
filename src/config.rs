//! The config file: site-wide defaults that an MDM package or an admin puts in place.
//!
//! Looked for at `/etc/jcdiag/config.toml` (Linux), `/Library/Application Support/jcdiag/config.toml`
//! (macOS) and `C:\ProgramData\jcdiag\config.toml` (Windows), or at `--config FILE`. It sits
//! below flags and environment variables in precedence. Unknown keys are an error, so a typo
//! does not silently do nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use jcdiag_client::form::CaseForm;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the config file {path} cannot be read: {source} (fix the path given to --config or JCDIAG_CONFIG)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write the config file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    // Defaults for the case form.
    pub tier: Option<String>,
    pub severity: Option<u8>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub org: Option<String>,
    pub partner: Option<bool>,
    // Sending. A token here is readable by whoever can read this file: the MSI and packages
    // create it owner-only.
    pub endpoint: Option<String>,
    pub token: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<String>,
    pub state_dir: Option<PathBuf>,
    /// Parsed when the file is read: a bad value is named with its key before anything runs.
    #[serde(default, deserialize_with = "duration")]
    pub deadline: Option<Duration>,
    // Collection.
    pub out: Option<PathBuf>,
    #[serde(default, deserialize_with = "size")]
    pub max_log_size: Option<u64>,
    #[serde(default, deserialize_with = "size")]
    pub max_total_log_size: Option<u64>,
    #[serde(default, deserialize_with = "size")]
    pub max_screenshot_size: Option<u64>,
    /// Support holidays (`YYYY-MM-DD`) on which the Standard tier's clock does not run.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Words that mark a key as secret, added to the profile's list.
    #[serde(default)]
    pub secret_key_words: Vec<String>,
    /// The collection's time budget (`60s`).
    #[serde(default, deserialize_with = "duration")]
    pub collection_budget: Option<Duration>,
    /// Sources or items of the parity list left out.
    #[serde(default)]
    pub skip_sources: Vec<String>,
    /// Provider rules of the scrubber to turn off, by id (`np.slack.2`) or by the kind the
    /// manifest counts them under (`slack-bot-token`).
    #[serde(default)]
    pub disabled_secret_rules: Vec<String>,
}

/// `10MiB`, as the flags take it.
fn size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(deserializer)?;
    jcdiag_fs::size::parse_size(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// `90s`, `5m`, `2d`, as the flags take it.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    jcdiag_fs::duration::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl Config {
    /// The platform's config path.
    pub fn default_path() -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(r"C:\ProgramData\jcdiag\config.toml")
        } else if cfg!(target_os = "macos") {
            PathBuf::from("/Library/Application Support/jcdiag/config.toml")
        } else {
            PathBuf::from("/etc/jcdiag/config.toml")
        }
    }

    /// Loads `explicit` (which must exist) or the default path (which may be absent).
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => (Config::default_path(), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path,
            message: e.to_string(),
        })
    }

    /// Sets string keys in the config file at `path`, keeping its other keys (the file must
    /// be a valid config). The new file is written owner-only beside it (0600; on Windows an
    /// owner/SYSTEM/Administrators-only ACL), fsync'd and renamed over the old one.
    pub fn update(path: &Path, values: &[(&str, String)]) -> Result<(), ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let mut table = match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str::<Config>(&text).map_err(|e| parse(e.to_string()))?;
                text.parse::<toml::Table>()
                    .map_err(|e| parse(e.to_string()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        for (key, value) in values {
            table.insert((*key).to_owned(), toml::Value::String(value.clone()));
        }
        let body = toml::to_string(&table).map_err(|e| parse(e.to_string()))?;
        let text = format!(
            "# jcdiag settings (see `jcdiag --help`). Owner-only: it may hold an upload token.\n{body}"
        );
        let write_error = |source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        jcdiag_fs::fsafe::create_private_dir(&dir).map_err(write_error)?;
        let aside = dir.join(format!(".config.toml.{}", uuid::Uuid::new_v4().simple()));
        let written = (|| {
            use std::io::Write;
            let mut file = jcdiag_fs::fsafe::create_private(&aside)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&aside, path)?;
            jcdiag_fs::fsafe::sync_dir(&dir)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&aside);
        }
        written.map_err(write_error)
    }

    /// Where jcdiag keeps its outbox and log when neither `--state-dir` nor the config says:
    /// a system folder when elevated (the MDM case), the user's own otherwise.
    pub fn default_state_dir(elevated: bool) -> PathBuf {
        let home = |var: &str| std::env::var_os(var).map(PathBuf::from);
        if cfg!(windows) {
            if elevated {
                PathBuf::from(r"C:\ProgramData\jcdiag")
            } else {
                home("LOCALAPPDATA")
                    .unwrap_or_else(std::env::temp_dir)
                    .join("jcdiag")
            }
        } else if cfg!(target_os = "macos") {
            if elevated {
                PathBuf::from("/Library/Application Support/jcdiag/state")
            } else {
                home("HOME")
                    .unwrap_or_else(std::env::temp_dir)
                    .join("Library/Application Support/jcdiag")
            }
        } else if elevated {
            PathBuf::from("/var/lib/jcdiag")
        } else {
            home("XDG_STATE_HOME")
                .or_else(|| home("HOME").map(|h| h.join(".local/state")))
                .unwrap_or_else(std::env::temp_dir)
                .join("jcdiag")
        }
    }

    /// The form defaults this file sets.
    pub fn form(&self) -> CaseForm {
        CaseForm {
            tier: self.tier.clone(),
            severity: self.severity,
            email: self.email.clone(),
            name: self.name.clone(),
            org: self.org.clone(),
            partner: self.partner,
            ..CaseForm::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_default_file_is_fine_but_a_named_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(
            Config::load(Some(&missing))
                .unwrap_err()
                .to_string()
                .contains("--config")
        );
    }

    #[test]
    fn update_sets_keys_keeps_the_others_and_writes_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/jcdiag/config.toml");
        Config::update(&path, &[("endpoint", "https://a.example.com".into())]).unwrap();
        std::fs::write(&path, "tier = \"premium\"\nendpoint = \"https://old\"\n").unwrap();
        Config::update(
            &path,
            &[
                ("endpoint", "https://support.example.com".into()),
                ("token", "t\"ok".into()),
            ],
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.tier.as_deref(), Some("premium"));
        assert_eq!(
            config.endpoint.as_deref(),
            Some("https://support.example.com")
        );
        assert_eq!(config.token.as_deref(), Some("t\"ok"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        std::fs::write(&path, "endpiont = 1\n").unwrap();
        assert!(Config::update(&path, &[("token", "x".into())]).is_err());
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "tier = \"premium\"\nendpiont = \"x\"\n").unwrap();
        assert!(
            Config::load(Some(&path))
                .unwrap_err()
                .to_string()
                .contains("endpiont")
        );
        std::fs::write(&path, "tier = \"premium\"\nsecret_key_words = [\"pin\"]\n").unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.form().tier.as_deref(), Some("premium"));
        assert_eq!(config.secret_key_words, ["pin"]);
    }

    #[test]
    fn sizes_and_durations_are_typed_when_read_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "max_log_size = \"2MiB\"\nmax_screenshot_size = \"512KiB\"\ndeadline = \"90s\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.max_log_size, Some(2 << 20));
        assert_eq!(config.max_screenshot_size, Some(512 << 10));
        assert_eq!(config.max_total_log_size, None);
        assert_eq!(config.deadline, Some(Duration::from_secs(90)));
        std::fs::write(&path, "max_total_log_size = \"lots\"\n").unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(error.contains("max_total_log_size"), "{error}");
        std::fs::write(&path, "deadline = \"soon\"\n").unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(error.contains("deadline"), "{error}");
    }
}
