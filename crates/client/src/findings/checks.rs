//! The checks that read the system (no network): agent installed and enrolled, service, log
//! freshness, version, log level, client certificate, proxy, disk space, macOS Full Disk
//! Access, restarts, known errors. Their thresholds and texts come from the profile.

use std::path::{Path, PathBuf};

use chrono::{Local, NaiveDateTime};
use jcdiag_fs::fsafe::{self, Kind, Refusal};
use jcdiag_profile::target::TargetOs;
use jcdiag_protocol::{Check, Evidence, Status};
use serde_json::Value;

use super::signatures::{LogScan, RESTART_EVIDENCE};
use super::{Context, cert, duration, human_duration, human_size, size};

/// Agent files are small; anything over this is not one.
const FILE_CAP: u64 = 1 << 20;

/// A file of the agent as the checks read it.
enum Read {
    Found(Vec<u8>),
    Missing,
    Refused(String),
}

fn read(ctx: &Context, system_path: &str) -> Read {
    let parts = ctx.os.components(system_path);
    match fsafe::open_below(ctx.sysroot, &parts, ctx.trust) {
        Ok(mut file) => match file.read_tail(FILE_CAP) {
            Ok((bytes, false)) => Read::Found(bytes),
            Ok((_, true)) => Read::Refused(format!("over {FILE_CAP} bytes")),
            Err(e) => Read::Refused(e.to_string()),
        },
        Err(Refusal::NotFound) => Read::Missing,
        Err(why) => Read::Refused(why.to_string()),
    }
}

/// Whether a file exists, without opening it (for key files, which are never opened).
fn exists(ctx: &Context, system_path: &str) -> bool {
    let parts = ctx.os.components(system_path);
    let Some((name, folders)) = parts.split_last() else {
        return false;
    };
    fsafe::open_dir_below(ctx.sysroot, folders).is_ok_and(|dir| dir.kind(name) == Kind::File)
}

fn file_name(system_path: &str) -> &str {
    system_path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(system_path)
}

/// Evidence about an agent file: in a bundle it is `agent/<name>`, else the system path.
fn about(ctx: &Context, system_path: &str, text: String, line: Option<u64>) -> Evidence {
    Evidence {
        text,
        file: Some(if ctx.in_bundle {
            format!("agent/{}", file_name(system_path))
        } else {
            system_path.to_string()
        }),
        line,
    }
}

/// Evidence about a file that is not in the bundle (a certificate, a missing file).
fn on_system(system_path: &str, text: String) -> Evidence {
    Evidence {
        text: format!("{system_path}: {text}"),
        file: None,
        line: None,
    }
}

fn check(id: &str, title: &str, status: Status, summary: String) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        status,
        summary,
        evidence: Vec::new(),
        advice: None,
        link: None,
    }
}

/// Adds advice (and the profile's link) to a check that did not pass.
fn advise(mut check: Check, ctx: &Context, advice: &str) -> Check {
    if check.status > Status::Unknown {
        check.advice = Some(advice.to_string());
        check.link = Some(ctx.profile.findings.link.clone());
    }
    check
}

/// The config's `agentServerHost`, if the agent has a readable config.
pub fn agent_server_host(ctx: &Context) -> Option<String> {
    let layout = ctx.profile.layout(ctx.os);
    let Read::Found(bytes) = read(ctx, &layout.config) else {
        return None;
    };
    let config: Value = serde_json::from_slice(&bytes).ok()?;
    config
        .get("agentServerHost")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The proxy the agent's `jcagent-proxy.conf` names, if any.
pub fn agent_proxy(ctx: &Context) -> Option<super::network::Proxy> {
    let layout = ctx.profile.layout(ctx.os);
    match read(ctx, &layout.proxy_config) {
        Read::Found(bytes) => super::network::proxy_of(&String::from_utf8_lossy(&bytes)),
        _ => None,
    }
}

pub fn offline(
    ctx: &Context,
    scan: &LogScan,
    endpoint_newest: Option<&super::EndpointNewest>,
) -> Vec<Check> {
    let layout = ctx.profile.layout(ctx.os);
    let config = read(ctx, &layout.config);
    let version = read(ctx, &layout.version_file);
    let installed =
        matches!(config, Read::Found(_)) || matches!(version, Read::Found(_)) || scan.main_scanned;
    let parsed: Option<Value> = match &config {
        Read::Found(bytes) => serde_json::from_slice(bytes).ok(),
        _ => None,
    };
    let mut checks = vec![
        installed_check(ctx, installed, &config, &version, scan),
        enrolled_check(ctx, installed, &config, parsed.as_ref()),
        service_check(ctx, installed),
        log_fresh_check(ctx, installed, scan),
        version_check(ctx, installed, &version, endpoint_newest),
        log_level_check(ctx, installed),
        cert_check(ctx, installed),
        proxy_check(ctx),
        disk_check(
            ctx,
            "disk.logs",
            "Free space for the agent's logs",
            &layout.main_log,
        ),
        disk_check(
            ctx,
            "disk.agent-state",
            "Free space for the agent's state",
            &layout.config,
        ),
    ];
    if ctx.os == TargetOs::Macos {
        checks.push(full_disk_access_check(ctx));
    }
    checks.push(restarts_check(ctx, scan));
    checks.push(known_errors_check(ctx, scan));
    checks
}

fn not_installed(id: &str, title: &str) -> Check {
    check(
        id,
        title,
        Status::Unknown,
        "not checked: the agent is not installed".into(),
    )
}

fn installed_check(
    ctx: &Context,
    installed: bool,
    config: &Read,
    version: &Read,
    scan: &LogScan,
) -> Check {
    let layout = ctx.profile.layout(ctx.os);
    let title = "The JumpCloud agent is installed";
    let mut c = if installed {
        check(
            "agent.installed",
            title,
            Status::Ok,
            "the agent's files are present".into(),
        )
    } else {
        check(
            "agent.installed",
            title,
            Status::Fail,
            format!(
                "the JumpCloud agent is not installed: none of {}, {} or {} was found",
                layout.config, layout.version_file, layout.main_log
            ),
        )
    };
    for (path, read) in [(&layout.config, config), (&layout.version_file, version)] {
        let state = match read {
            Read::Found(_) => "present".to_string(),
            Read::Missing => "not found".to_string(),
            Read::Refused(why) => format!("not read: {why}"),
        };
        c.evidence.push(on_system(path, state));
    }
    if !scan.main_scanned {
        c.evidence
            .push(on_system(&layout.main_log, "not found or not read".into()));
    }
    advise(
        c,
        ctx,
        "Install the JumpCloud agent (Admin Portal → Devices → add a device), or run jcdiag where it is installed (--sysroot for a mounted disk).",
    )
}

fn enrolled_check(ctx: &Context, installed: bool, config: &Read, parsed: Option<&Value>) -> Check {
    let layout = ctx.profile.layout(ctx.os);
    let (id, title) = (
        "agent.enrolled",
        "The agent is enrolled (jcagent.conf holds a systemKey)",
    );
    if !installed {
        return not_installed(id, title);
    }
    let mut c = match (config, parsed) {
        (Read::Missing, _) => {
            let mut c = check(
                id,
                title,
                Status::Fail,
                format!("{} is missing", layout.config),
            );
            c.evidence
                .push(on_system(&layout.config, "not found".into()));
            c
        }
        (Read::Refused(why), _) => {
            let mut c = check(
                id,
                title,
                Status::Unknown,
                format!("{} was not read: {why}", layout.config),
            );
            c.evidence.push(on_system(&layout.config, why.clone()));
            c
        }
        (Read::Found(_), None) => check(
            id,
            title,
            Status::Fail,
            format!("{} is not valid JSON", layout.config),
        ),
        (Read::Found(_), Some(config)) => {
            match config
                .get("systemKey")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
            {
                Some(key) => {
                    let mut c = check(id, title, Status::Ok, format!("enrolled as system {key}"));
                    c.evidence.push(about(
                        ctx,
                        &layout.config,
                        format!("systemKey: {key}"),
                        None,
                    ));
                    c
                }
                None => {
                    let mut c = check(
                        id,
                        title,
                        Status::Fail,
                        "jcagent.conf holds no systemKey: the agent never finished enrolling"
                            .into(),
                    );
                    c.evidence
                        .push(about(ctx, &layout.config, "no systemKey".into(), None));
                    c
                }
            }
        }
    };
    if let Some(host) = parsed
        .and_then(|c| c.get("agentServerHost"))
        .and_then(Value::as_str)
    {
        c.evidence.push(about(
            ctx,
            &layout.config,
            format!("agentServerHost: {host}"),
            None,
        ));
    }
    advise(
        c,
        ctx,
        "Re-install the agent with the organisation's connect key so it enrols (Admin Portal → Devices → add a device).",
    )
}

fn service_check(ctx: &Context, installed: bool) -> Check {
    let layout = ctx.profile.layout(ctx.os);
    let (id, title) = ("agent.service", "The agent's service is running");
    if !installed {
        return not_installed(id, title);
    }
    if !ctx.live {
        return check(
            id,
            title,
            Status::Unknown,
            "not checked: a disk under --sysroot has no running processes".into(),
        );
    }
    let mut c = match process_running(&layout.process) {
        Some(true) => check(
            id,
            title,
            Status::Ok,
            format!("{} is running", layout.process),
        ),
        Some(false) => check(
            id,
            title,
            Status::Fail,
            format!(
                "{} is not running (service {})",
                layout.process, layout.service
            ),
        ),
        None => check(
            id,
            title,
            Status::Unknown,
            "the process list could not be read".into(),
        ),
    };
    c.evidence.push(Evidence {
        text: format!("process {} looked for in the process list", layout.process),
        file: None,
        line: None,
    });
    advise(
        c,
        ctx,
        &format!(
            "Start the agent's service ({}) and check that it stays up.",
            layout.service
        ),
    )
}

/// Whether a process of this name runs on this machine (None: the list could not be read).
fn process_running(name: &str) -> Option<bool> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};
    let mut system = System::new_with_specifics(RefreshKind::nothing()).ok()?;
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing());
    Some(
        system
            .processes()
            .values()
            .any(|p| p.name().to_string_lossy().eq_ignore_ascii_case(name)),
    )
}

fn local_now(ctx: &Context) -> NaiveDateTime {
    ctx.now.with_timezone(&Local).naive_local()
}

fn log_fresh_check(ctx: &Context, installed: bool, scan: &LogScan) -> Check {
    let layout = ctx.profile.layout(ctx.os);
    let rules = &ctx.profile.findings;
    let (id, title) = ("agent.log.fresh", "The agent is still writing its log");
    if !installed {
        return not_installed(id, title);
    }
    let Some(newest) = &scan.main_newest else {
        let summary = if scan.main_scanned {
            format!("{} has no timestamped line", layout.main_log)
        } else {
            format!("{} was not found or not read", layout.main_log)
        };
        return advise(
            check(id, title, Status::Warn, summary),
            ctx,
            "Check that the agent runs and can write its log.",
        );
    };
    let Some(at) = newest.at else {
        return check(
            id,
            title,
            Status::Unknown,
            "the newest line's time was not read".into(),
        );
    };
    let age = (local_now(ctx) - at).num_seconds().max(0) as u64;
    let status = if age >= duration(&rules.log_age_fail).as_secs() {
        Status::Fail
    } else if age >= duration(&rules.log_age_warn).as_secs() {
        Status::Warn
    } else {
        Status::Ok
    };
    let mut c = check(
        id,
        title,
        status,
        format!(
            "the newest line of {} is {} old ({at})",
            file_name(&layout.main_log),
            human_duration(age)
        ),
    );
    c.evidence.push(newest.evidence.clone());
    advise(
        c,
        ctx,
        &format!(
            "The agent has stopped writing its log: restart its service ({}) and look at the last lines before it stopped.",
            layout.service
        ),
    )
}

/// `1.2.3` → [1, 2, 3]; None when a part is not a number.
fn version_parts(text: &str) -> Option<Vec<u64>> {
    let text = text.trim().trim_start_matches(['v', 'V']);
    text.split('.').map(|p| p.trim().parse().ok()).collect()
}

/// The newest version to compare with: the endpoint's when it published one, else the
/// profile's with the date it was recorded. The second part says where it came from.
fn newest_known(ctx: &Context, endpoint: Option<&super::EndpointNewest>) -> (String, String) {
    let known = &ctx.profile.findings.agent_version;
    let recorded = format!("recorded {}", known.recorded);
    match endpoint {
        Some(super::EndpointNewest {
            endpoint,
            answer: Ok(Some(newest)),
        }) => (newest.clone(), format!("published by {endpoint}")),
        Some(super::EndpointNewest {
            endpoint,
            answer: Ok(None),
        }) => (
            known.newest.clone(),
            format!("{recorded}; {endpoint} publishes none"),
        ),
        Some(super::EndpointNewest {
            endpoint,
            answer: Err(why),
        }) => (
            known.newest.clone(),
            format!("{recorded}; {endpoint} was not asked: {why}"),
        ),
        None => (known.newest.clone(), recorded),
    }
}

fn version_check(
    ctx: &Context,
    installed: bool,
    version: &Read,
    endpoint: Option<&super::EndpointNewest>,
) -> Check {
    let layout = ctx.profile.layout(ctx.os);
    let known = &ctx.profile.findings.agent_version;
    let (id, title) = ("agent.version", "The agent's version is current");
    if !installed {
        return not_installed(id, title);
    }
    let Read::Found(bytes) = version else {
        return advise(
            check(
                id,
                title,
                Status::Warn,
                format!("{} was not found or not read", layout.version_file),
            ),
            ctx,
            "Re-install the agent: its version file is missing.",
        );
    };
    let text = String::from_utf8_lossy(bytes).trim().to_string();
    let (newest_text, source) = newest_known(ctx, endpoint);
    let (Some(have), Some(minimum), Some(newest)) = (
        version_parts(&text),
        version_parts(&known.minimum),
        version_parts(&newest_text),
    ) else {
        let mut c = check(
            id,
            title,
            Status::Unknown,
            format!("version `{text}` is not a dotted number"),
        );
        c.evidence
            .push(about(ctx, &layout.version_file, text, Some(1)));
        return c;
    };
    let reference = format!(
        "minimum {}, newest known {newest_text} ({source})",
        known.minimum
    );
    let (status, summary) = if have < minimum {
        (
            Status::Fail,
            format!(
                "agent {text} is older than the minimum supported {}",
                known.minimum
            ),
        )
    } else if have < newest {
        (
            Status::Warn,
            format!("agent {text} is older than the newest known {newest_text} ({source})"),
        )
    } else {
        (
            Status::Ok,
            format!("agent {text} is at or above the newest known {newest_text}"),
        )
    };
    let mut c = check(id, title, status, summary);
    c.evidence
        .push(about(ctx, &layout.version_file, text, Some(1)));
    c.evidence.push(Evidence {
        text: reference,
        file: None,
        line: None,
    });
    advise(
        c,
        ctx,
        "Update the agent (it updates itself when it can reach JumpCloud; otherwise re-install the current one).",
    )
}

fn log_level_check(ctx: &Context, installed: bool) -> Check {
    let layout = ctx.profile.layout(ctx.os);
    let (id, title) = (
        "agent.log-level",
        "The agent's log level is not left at DEBUG/TRACE",
    );
    if !installed {
        return not_installed(id, title);
    }
    let bytes = match read(ctx, &layout.log_level_file) {
        Read::Found(bytes) => bytes,
        Read::Missing => {
            return check(
                id,
                title,
                Status::Ok,
                format!(
                    "no {}: the agent's default level",
                    file_name(&layout.log_level_file)
                ),
            );
        }
        Read::Refused(why) => {
            return check(
                id,
                title,
                Status::Unknown,
                format!("{} was not read: {why}", layout.log_level_file),
            );
        }
    };
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let upper = text.to_ascii_uppercase();
    let verbose = ctx
        .profile
        .findings
        .verbose_log_levels
        .iter()
        .find(|level| upper.contains(level.as_str()));
    let mut c = match verbose {
        Some(level) => check(
            id,
            title,
            Status::Warn,
            format!(
                "the log level is {level}: the 50 MB of rotated logs fill in hours and older entries are lost"
            ),
        ),
        None => check(id, title, Status::Ok, format!("log level `{text}`")),
    };
    c.evidence
        .push(about(ctx, &layout.log_level_file, text, Some(1)));
    advise(
        c,
        ctx,
        "Set the log level back to INFO once the problem is captured (remove the log level file or set it to INFO, then restart the agent).",
    )
}

fn cert_check(ctx: &Context, installed: bool) -> Check {
    let rules = &ctx.profile.findings;
    let path = rules.client_cert.get(ctx.os);
    let (id, title) = (
        "cert.client",
        "The agent's client certificate is present and valid",
    );
    if !installed {
        return not_installed(id, title);
    }
    let mut evidence: Vec<Evidence> = [
        (rules.client_key.get(ctx.os), "key"),
        (rules.ca_cert.get(ctx.os), "CA certificate"),
    ]
    .into_iter()
    .map(|(file, what)| {
        let state = if exists(ctx, file) {
            "present"
        } else {
            "not found"
        };
        on_system(file, format!("{what} {state}"))
    })
    .collect();
    let mut c = match read(ctx, path) {
        Read::Missing => check(
            id,
            title,
            Status::Fail,
            format!("{path} is missing: the agent cannot authenticate to JumpCloud"),
        ),
        Read::Refused(why) => check(
            id,
            title,
            Status::Unknown,
            format!("{path} was not read: {why}"),
        ),
        Read::Found(bytes) => match cert::validity(&bytes) {
            Err(e) => check(id, title, Status::Fail, format!("{path}: {e}")),
            Ok(validity) => {
                let days_left = (validity.not_after - ctx.now).num_days();
                evidence.insert(
                    0,
                    on_system(
                        path,
                        format!(
                            "valid from {} to {}",
                            validity
                                .not_before
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            validity
                                .not_after
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                    ),
                );
                if ctx.now > validity.not_after {
                    let ago = (ctx.now - validity.not_after).num_seconds().max(0) as u64;
                    check(
                        id,
                        title,
                        Status::Fail,
                        format!(
                            "the client certificate expired {} ago ({})",
                            human_duration(ago),
                            validity.not_after.format("%Y-%m-%d")
                        ),
                    )
                } else if ctx.now < validity.not_before {
                    check(
                        id,
                        title,
                        Status::Fail,
                        format!(
                            "the client certificate is not valid before {} (is the clock right?)",
                            validity.not_before.format("%Y-%m-%d %H:%M UTC")
                        ),
                    )
                } else if days_left < rules.cert_expiry_warn_days {
                    check(
                        id,
                        title,
                        Status::Warn,
                        format!(
                            "the client certificate expires in {days_left} days ({})",
                            validity.not_after.format("%Y-%m-%d")
                        ),
                    )
                } else {
                    check(
                        id,
                        title,
                        Status::Ok,
                        format!(
                            "valid until {} ({days_left} days)",
                            validity.not_after.format("%Y-%m-%d")
                        ),
                    )
                }
            }
        },
    };
    c.evidence.extend(evidence);
    advise(
        c,
        ctx,
        "The agent renews its certificate while it can reach JumpCloud; if it expired or is missing, re-install the agent so it enrols again.",
    )
}

fn proxy_check(ctx: &Context) -> Check {
    let layout = ctx.profile.layout(ctx.os);
    let (id, title) = ("agent.proxy", "Proxy configuration of the agent");
    match read(ctx, &layout.proxy_config) {
        Read::Missing => check(
            id,
            title,
            Status::Ok,
            format!("no proxy configured ({} not present)", layout.proxy_config),
        ),
        Read::Refused(why) => check(
            id,
            title,
            Status::Unknown,
            format!("{} was not read: {why}", layout.proxy_config),
        ),
        Read::Found(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let mut c = match super::network::proxy_of(&text) {
                Some(proxy) => check(
                    id,
                    title,
                    Status::Ok,
                    format!(
                        "the agent goes through the proxy {}:{}",
                        proxy.host, proxy.port
                    ),
                ),
                None => check(
                    id,
                    title,
                    Status::Warn,
                    format!(
                        "{} is present but names no http(s):// proxy URL",
                        layout.proxy_config
                    ),
                ),
            };
            c.evidence.push(about(
                ctx,
                &layout.proxy_config,
                "present (credentials, if any, are redacted in the bundle)".into(),
                None,
            ));
            advise(
                c,
                ctx,
                "Check that jcagent-proxy.conf names the proxy as a URL (http://host:port).",
            )
        }
    }
}

/// The nearest existing folder of a system path below the sysroot (the volume it is on).
fn existing_folder(ctx: &Context, system_path: &str) -> PathBuf {
    let mut path = ctx.os.resolve(ctx.sysroot, system_path);
    while !path.is_dir() {
        if !path.pop() {
            return ctx.sysroot.to_path_buf();
        }
    }
    path
}

/// Bytes free for an unprivileged writer on the volume holding `path` (asked of that volume
/// itself: no list of every mount to read).
#[cfg(unix)]
fn free_space(path: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(windows)]
fn free_space(path: &Path) -> Option<u64> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut available = 0u64;
    // SAFETY: a NUL-terminated path, and a u64 out-pointer; the other outputs are optional.
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            wide.as_ptr(),
            &mut available,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    (ok != 0).then_some(available)
}

fn disk_check(ctx: &Context, id: &str, title: &str, system_path: &str) -> Check {
    let rules = &ctx.profile.findings;
    let folder = existing_folder(ctx, system_path);
    let place = folder.display().to_string();
    let Some(free) = free_space(&folder) else {
        return check(
            id,
            title,
            Status::Unknown,
            format!("the free space of {place}'s volume could not be read"),
        );
    };
    let (warn, fail) = (size(&rules.disk_free_warn), size(&rules.disk_free_fail));
    let status = if free < fail {
        Status::Fail
    } else if free < warn {
        Status::Warn
    } else {
        Status::Ok
    };
    let mut c = check(
        id,
        title,
        status,
        format!("{} free on the volume of {place}", human_size(free)),
    );
    c.evidence.push(Evidence {
        text: format!(
            "{place}: {free} bytes free on its volume (warn below {}, fail below {})",
            rules.disk_free_warn, rules.disk_free_fail
        ),
        file: None,
        line: None,
    });
    advise(
        c,
        ctx,
        &format!(
            "Free space on the volume of {place}: the agent needs room for its 50 MB of logs and its state."
        ),
    )
}

fn full_disk_access_check(ctx: &Context) -> Check {
    let probe = &ctx.profile.findings.macos_fda_probe;
    let (id, title) = (
        "macos.full-disk-access",
        "jcdiag has Full Disk Access (macOS)",
    );
    if !ctx.live {
        return check(
            id,
            title,
            Status::Unknown,
            "not checked: only the running Mac can say".into(),
        );
    }
    // Opening the protected file is the probe JumpCloud's own script uses; nothing is read.
    let c = match std::fs::File::open(ctx.os.resolve(ctx.sysroot, probe)) {
        Ok(_) => check(
            id,
            title,
            Status::Ok,
            "a file only Full Disk Access opens was opened".into(),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => check(
            id,
            title,
            Status::Warn,
            "no Full Disk Access: protected logs and the agent's own access cannot be checked"
                .into(),
        ),
        Err(e) => check(id, title, Status::Unknown, format!("{probe}: {e}")),
    };
    advise(
        c,
        ctx,
        "Give the terminal (or the MDM agent running jcdiag) Full Disk Access in System Settings → Privacy & Security, and check that the JumpCloud agent has it too.",
    )
}

fn restarts_check(ctx: &Context, scan: &LogScan) -> Check {
    let rules = &ctx.profile.findings;
    let (id, title) = (
        "agent.restarts",
        "The agent is not restarting over and over",
    );
    let Some(newest) = scan.newest else {
        return check(
            id,
            title,
            Status::Unknown,
            "no timestamped log line to count restarts by".into(),
        );
    };
    let since = newest - chrono::Duration::days(1);
    let mut recent: Vec<_> = scan
        .restarts
        .iter()
        .filter(|r| r.at.is_some_and(|at| at >= since))
        .collect();
    recent.sort_by_key(|r| r.at);
    let count = recent.len() as u64;
    let status = if count > rules.restarts_warn {
        Status::Warn
    } else {
        Status::Ok
    };
    let mut c = check(
        id,
        title,
        status,
        format!(
            "{count} agent starts (`{}` lines) in the day before {newest}",
            rules.restart_marker
        ),
    );
    c.evidence = recent
        .iter()
        .rev()
        .take(RESTART_EVIDENCE)
        .map(|r| r.evidence.clone())
        .collect();
    advise(
        c,
        ctx,
        "The agent keeps restarting: look at the lines before each start for the error that stops it.",
    )
}

fn known_errors_check(ctx: &Context, scan: &LogScan) -> Check {
    let (id, title) = ("logs.known-errors", "No known error in the agent logs");
    let signatures = scan.signatures(&ctx.profile.findings);
    let known: Vec<_> = signatures.iter().filter(|s| s.known.is_some()).collect();
    let Some(first) = known.first() else {
        return check(
            id,
            title,
            Status::Ok,
            "none of the profile's known error lines occurs".into(),
        );
    };
    let mut c = check(
        id,
        title,
        Status::Warn,
        format!(
            "{} known error{}: {}",
            known.len(),
            if known.len() == 1 { "" } else { "s" },
            known
                .iter()
                .map(|s| format!(
                    "{} ({}×, last {})",
                    s.known.as_ref().map_or("", |k| k.id.as_str()),
                    s.count,
                    s.last_seen.as_deref().unwrap_or("?")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    c.evidence = known.iter().map(|s| s.example.clone()).collect();
    if let Some(k) = &first.known {
        c.advice = Some(format!("{} {}", k.meaning, k.advice));
        c.link = k.link.clone();
    }
    c
}
