//! Exit codes, decided here and nowhere else (SPEC "Exit codes"): library errors name their
//! cause, and the `From` impls below give each cause its code.

use jcdiag_client::deliver::DeliverError;

/// A failure that produced nothing to report, with its exit code (SPEC "Exit codes").
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommandError {
    /// Exit 1: nothing usable was produced.
    #[error("{0}")]
    Internal(String),
    /// Exit 2: the message names the input and what is wrong with it.
    #[error("{0}")]
    Usage(String),
    /// Exit 4: the endpoint refused (bad token, unknown case).
    #[error("{0}")]
    Refused(String),
}

/// SPEC "Exit codes", the one place that numbers them.
pub(crate) mod code {
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const QUEUED: i32 = 3;
    pub const REFUSED: i32 = 4;
    /// `doctor`: the checks ran and at least one failed.
    pub const CHECK_FAILED: i32 = 5;
}

impl CommandError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Internal(_) => code::INTERNAL,
            CommandError::Usage(_) => code::USAGE,
            CommandError::Refused(_) => code::REFUSED,
        }
    }
}

/// The exit code of a delivery that did not finish: queued cases are safe in the outbox (3),
/// refused ones are kept too (4); settings that cannot work are a usage error.
pub(crate) fn delivery_exit_code(error: &DeliverError) -> i32 {
    match error {
        DeliverError::Invalid(_) => code::USAGE,
        DeliverError::Queued(_) => code::QUEUED,
        DeliverError::Refused(_) => code::REFUSED,
        DeliverError::Outbox(_) => code::INTERNAL,
    }
}

/// Which exit code each library error gets: what the user got wrong is a usage error (2),
/// what broke underneath is internal (1).
macro_rules! exit_class {
    ($($error:ty => $variant:ident),* $(,)?) => {$(
        impl From<$error> for CommandError {
            fn from(error: $error) -> CommandError {
                CommandError::$variant(error.to_string())
            }
        }
    )*};
}

exit_class! {
    jcdiag_client::form::FormError => Usage,
    jcdiag_client::sources::screenshots::ScreenshotError => Usage,
    jcdiag_profile::sla::SlaError => Usage,
    crate::wizard::WizardError => Usage,
    jcdiag_client::deliver::OutboxError => Internal,
    jcdiag_client::record::RecordError => Internal,
    jcdiag_client::bundle::BundleError => Internal,
}

impl From<crate::config::ConfigError> for CommandError {
    fn from(error: crate::config::ConfigError) -> CommandError {
        match error {
            crate::config::ConfigError::Write { .. } => CommandError::Internal(error.to_string()),
            _ => CommandError::Usage(error.to_string()),
        }
    }
}

/// A delivery error that ends the command (a queued or refused case is a report instead).
impl From<DeliverError> for CommandError {
    fn from(error: DeliverError) -> CommandError {
        match delivery_exit_code(&error) {
            code::USAGE => CommandError::Usage(error.to_string()),
            code::REFUSED => CommandError::Refused(error.to_string()),
            _ => CommandError::Internal(error.to_string()),
        }
    }
}

impl From<jcdiag_client::email::EmailError> for CommandError {
    fn from(error: jcdiag_client::email::EmailError) -> CommandError {
        match error {
            jcdiag_client::email::EmailError::Invalid(message) => CommandError::Usage(message),
            other => CommandError::Internal(other.to_string()),
        }
    }
}
