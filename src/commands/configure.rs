//! `jcdiag configure`.

use crate::cli::{ConfigureArgs, GlobalArgs};
use crate::config::Config;
use crate::exit::CommandError;

/// `jcdiag configure`: empty values count as not given (an MSI passes every property).
pub(crate) fn configure_command(
    global: &GlobalArgs,
    args: ConfigureArgs,
) -> Result<(), CommandError> {
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let mut values = Vec::new();
    if let Some(endpoint) = given(args.endpoint) {
        jcdiag_client::deliver::client::parse_endpoint(&endpoint)?;
        values.push(("endpoint", endpoint));
    }
    if let Some(token) = given(args.token) {
        values.push(("token", token));
    }
    if values.is_empty() {
        return Err(CommandError::Usage(
            "nothing to configure: give --endpoint URL and/or --token TOKEN".into(),
        ));
    }
    let path = global.config.clone().unwrap_or_else(Config::default_path);
    Config::update(&path, &values)?;
    let keys: Vec<&str> = values.iter().map(|(key, _)| *key).collect();
    println!("{}: set {}", path.display(), keys.join(", "));
    Ok(())
}
