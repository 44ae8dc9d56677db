//! `jcdiag-intake staff add|list|remove`: the support console's accounts.
//!
//! Passwords are read from standard input (`--password-stdin`, the first line), never from
//! an argument (which other users can see in the process list), and stored as argon2id.

use std::io::{self, BufRead, Write};
use std::path::Path;

use chrono::Utc;
use clap::Subcommand;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};

use super::backend::Metadata;
use super::backend::postgres::{Database, Postgres};
use super::files::DataDir;
use super::store::{Store, StoreError};

/// Shortest password `staff add` accepts.
pub const MIN_PASSWORD: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD} characters")]
    TooShort,
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The argon2id PHC string for `password` (argon2's default cost: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(PasswordError::TooShort);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(PasswordError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a support engineer (or set a new password for one), for the console at /console.
    Add {
        /// The engineer's email: the login name.
        #[arg(value_name = "EMAIL")]
        email: String,
        /// Read the password (at least 12 characters) from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Remove an account and end its sessions.
    Remove {
        #[arg(value_name = "EMAIL")]
        email: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("`{0}` is not an email address")]
    BadEmail(String),
    #[error(
        "no password on standard input: pipe it in, e.g. `printf '%s\\n' \"$PW\" | jcdiag-intake staff add EMAIL --password-stdin`"
    )]
    NoPassword,
    #[error("no staff account {0}: `jcdiag-intake staff list` shows them")]
    Unknown(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("cannot use the data folder {0}: {1}")]
    DataDir(String, io::Error),
    #[error("cannot read standard input or write the output: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StaffError {
    /// 2 for mistakes in how the command was called, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            StaffError::BadEmail(_)
            | StaffError::NoPassword
            | StaffError::Unknown(_)
            | StaffError::Password(PasswordError::TooShort) => 2,
            _ => 1,
        }
    }
}

/// Emails are compared lowercased, as the login form does.
fn normalize(email: &str) -> Result<String, StaffError> {
    let email = email.trim().to_ascii_lowercase();
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible {
        Ok(email)
    } else {
        Err(StaffError::BadEmail(email))
    }
}

/// Runs `command` on the accounts in `database` (`--database`: every replica's console
/// sees them), else in the data folder's SQLite store.
pub fn run(
    data: &Path,
    database: Option<&Database>,
    command: StaffCommand,
) -> Result<(), StaffError> {
    let store: Box<dyn Metadata> = match database {
        Some(database) => Box::new(Postgres::connect(database)?),
        None => {
            let dir = DataDir::create(data)
                .map_err(|e| StaffError::DataDir(data.display().to_string(), e))?;
            Box::new(Store::open(&dir.database())?)
        }
    };
    let mut out = io::stdout().lock();
    match command {
        StaffCommand::Add { email, .. } => {
            let email = normalize(&email)?;
            let mut line = String::new();
            io::stdin().lock().read_line(&mut line)?;
            let password = line.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                return Err(StaffError::NoPassword);
            }
            let hash = hash_password(password)?;
            if store.put_staff(&email, &hash, Utc::now())? {
                writeln!(out, "added {email}")?;
            } else {
                writeln!(out, "new password set for {email}")?;
            }
        }
        StaffCommand::List => {
            let staff = store.staff()?;
            if staff.is_empty() {
                writeln!(
                    out,
                    "No staff accounts yet: `jcdiag-intake staff add EMAIL --password-stdin`."
                )?;
            }
            for account in staff {
                writeln!(out, "{}  added {}", account.email, account.created)?;
            }
        }
        StaffCommand::Remove { email } => {
            let email = normalize(&email)?;
            if !store.remove_staff(&email)? {
                return Err(StaffError::Unknown(email));
            }
            writeln!(out, "removed {email}")?;
        }
    }
    Ok(())
}
