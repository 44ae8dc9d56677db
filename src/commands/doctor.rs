//! `jcdiag doctor`: every finding check on this machine (or a `--sysroot`), said at once, with
//! no bundle written: what support would find first, before a case is filed.

use crate::cli::{CollectionArgs, DoctorArgs, GlobalArgs, NetworkCheckArgs, SubmitArgs};
use crate::exit::{CommandError, code};
use crate::output::Report;
use crate::settings::{caps, load_config, place_of};
use jcdiag_client::collect;
use jcdiag_client::deliver::{self, client::Connection};
use jcdiag_client::findings::{self, Context, EndpointNewest, NetworkFindings, network};
use jcdiag_fs::fsafe::Trust;
use jcdiag_profile::Profile;
use jcdiag_protocol::{Check, Status};

pub(crate) fn doctor_command(
    global: &GlobalArgs,
    args: DoctorArgs,
) -> Result<Report, CommandError> {
    let config = load_config(global)?;
    let profile = Profile::builtin();
    let (os, sysroot, live) = place_of(&args.place)?;
    let overrides = check_hosts(&args.network)?;
    let scrubber = collect::scrubber(profile, &config.secret_key_words)
        .map_err(|e| CommandError::Internal(format!("the secret rules cannot be built: {e}")))?;
    let ctx = Context {
        profile,
        os,
        sysroot: &sysroot,
        live,
        trust: Trust {
            require_root_owner: collect::system::is_elevated(),
        },
        now: chrono::Utc::now(),
        in_bundle: false,
    };
    let scan =
        findings::scan_system_logs(&ctx, &scrubber, caps(&CollectionArgs::default(), &config));
    let endpoint = match args.endpoint.clone().or(config.endpoint.clone()) {
        Some(text) => Some(Connection {
            endpoint: deliver::client::parse_endpoint(&text)?,
            // Never sent: the agent version needs no token.
            token: String::new(),
            ca_file: args.ca_file.clone().or(config.ca_file.clone()),
            proxy: config.proxy.clone(),
        }),
        None => None,
    };
    let network = NetworkFindings {
        checks: run_network_checks(&ctx, &args.network, &overrides)?,
        agent_newest: ask_endpoint(&args.network, endpoint.as_ref())?,
    };
    let found = findings::evaluate(&ctx, &scan, network);
    let failed: Vec<&str> = found
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.id.as_str())
        .collect();
    let worst = found.worst().unwrap_or(Status::Ok);
    let mut human = format!("jcdiag doctor: {} ({})\n", sysroot.display(), os.name());
    human += &findings::render(&found, true, 10);
    if args.network.offline {
        human += "Network checks skipped (--offline).\n";
    }
    let line = format!(
        "doctor worst={worst} failed={} checks={}",
        failed.len(),
        found.checks.len()
    );
    let problem = (!failed.is_empty()).then(|| format!("failed checks: {}", failed.join(", ")));
    // Exactly findings.json's shape (`jcdiag.findings/1`).
    let json = serde_json::to_value(&found)
        .map_err(|e| CommandError::Internal(format!("findings cannot be written: {e}")))?;
    Ok(Report {
        json,
        line,
        human,
        warnings: Vec::new(),
        exit_code: if failed.is_empty() {
            0
        } else {
            code::CHECK_FAILED
        },
        problem,
    })
}

/// `--check-host NAME=HOST:PORT`, parsed (a bad one is a usage error).
pub(crate) fn check_hosts(args: &NetworkCheckArgs) -> Result<Vec<network::Target>, CommandError> {
    args.check_hosts
        .iter()
        .map(|text| network::parse_override(text).map_err(CommandError::Usage))
        .collect()
}

/// The network checks unless `--offline`.
pub(crate) fn run_network_checks(
    ctx: &Context,
    args: &NetworkCheckArgs,
    overrides: &[network::Target],
) -> Result<Vec<Check>, CommandError> {
    if args.offline {
        // A mistyped target is a mistake even when nothing is checked.
        network::targets(ctx.profile, None, overrides).map_err(CommandError::Usage)?;
        return Ok(Vec::new());
    }
    findings::network_checks(ctx, overrides, args.check_ca_file.as_deref())
        .map_err(CommandError::Usage)
}

/// The newest agent version the endpoint publishes, unless `--offline` or no endpoint is known.
pub(crate) fn ask_endpoint(
    args: &NetworkCheckArgs,
    endpoint: Option<&Connection>,
) -> Result<Option<EndpointNewest>, CommandError> {
    let Some(conn) = endpoint.filter(|_| !args.offline) else {
        return Ok(None);
    };
    let answer = super::block_on(async {
        Ok::<_, deliver::DeliverError>(deliver::client::published_agent_version(conn).await)
    })?
    .unwrap_or_else(|e| Err(e.to_string()));
    Ok(Some(EndpointNewest {
        endpoint: conn.endpoint.to_string(),
        answer,
    }))
}

/// `submit`'s network checks, for findings.json: none with `--offline`, `--dry-run` or
/// `--via email` (nothing goes to JumpCloud's hosts then). `endpoint` is asked for the newest
/// agent version.
pub(crate) fn network_for(
    args: &SubmitArgs,
    endpoint: Option<&Connection>,
) -> Result<NetworkFindings, CommandError> {
    let dry_run = args.collect.collection.dry_run;
    if args.network.offline || dry_run || args.email.via == crate::cli::Via::Email {
        return Ok(NetworkFindings::default());
    }
    let overrides = check_hosts(&args.network)?;
    let (os, sysroot, live) = place_of(&args.collect.place)?;
    let ctx = Context {
        profile: Profile::builtin(),
        os,
        sysroot: &sysroot,
        live,
        trust: Trust {
            require_root_owner: collect::system::is_elevated(),
        },
        now: chrono::Utc::now(),
        in_bundle: true,
    };
    Ok(NetworkFindings {
        checks: run_network_checks(&ctx, &args.network, &overrides)?,
        agent_newest: ask_endpoint(&args.network, endpoint)?,
    })
}
