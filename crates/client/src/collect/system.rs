//! `system.json`: the facts support asks for first.
//!
//! Facts come from two places and say which: the disk being collected (OS release, agent
//! version, time zone files), read under `--sysroot`; and the live machine running jcdiag
//! (CPU, memory, disks, network, uptime, running processes), from sysinfo. When `--sysroot`
//! points at another disk, live facts are labelled as being about the collecting machine.

use std::path::Path;

use serde_json::{Value, json};

use jcdiag_fs::fsafe::{self, Trust};
use jcdiag_profile::AccountLayout;
use jcdiag_profile::target::TargetOs;

/// How jcdiag was run, for `system.json` and the summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    pub user: String,
    pub elevated: bool,
    pub interactive: bool,
    pub silent: bool,
    pub command: String,
    pub tool_version: &'static str,
}

impl RunInfo {
    pub fn detect(command: &str, silent: bool, interactive: bool) -> RunInfo {
        RunInfo {
            user: current_user(),
            elevated: is_elevated(),
            interactive,
            silent,
            command: command.to_string(),
            tool_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| {
            #[cfg(unix)]
            return format!("uid {}", rustix::process::geteuid().as_raw());
            #[cfg(not(unix))]
            return "unknown".to_string();
        })
}

pub use jcdiag_fs::fsafe::is_elevated;

/// What the agent's own files say, gathered by the agent collector.
#[derive(Debug, Default, Clone)]
pub struct AgentFacts {
    pub version: Option<String>,
    pub system_key: Option<String>,
    pub server_host: Option<String>,
    pub region: Option<String>,
}

/// Where facts come from for one collection.
pub struct Source<'a> {
    pub os: TargetOs,
    pub sysroot: &'a Path,
    /// True when collecting the running system itself (no `--sysroot`, same OS).
    pub live: bool,
    pub trust: Trust,
}

/// OS facts read from the disk (or the live registry / `sw_vers` when live).
pub fn os_facts(src: &Source) -> Value {
    let mut facts = match src.os {
        TargetOs::Linux => linux_release(src),
        TargetOs::Macos => macos_release(src),
        TargetOs::Windows => windows_release(src),
    };
    if src.live {
        facts["kernel"] = json!(sysinfo::System::kernel_long_version().ok());
    }
    facts["time_zone"] = json!(time_zone(src));
    facts
}

/// The affected machine's host name: the disk's when it records one, else the live one.
pub fn host_name(src: &Source) -> String {
    if !src.live
        && src.os == TargetOs::Linux
        && let Some(name) = read_small(src, "/etc/hostname")
    {
        let name = name.trim();
        if !name.is_empty() {
            return name.to_string();
        }
    }
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown-host".into())
}

/// The names of people's accounts on the target (for `--obfuscate users`): passwd entries from
/// the profile's first person uid, and folders under the home roots. Only names are read; no
/// link is followed.
pub fn people(src: &Source, accounts: &AccountLayout) -> Vec<String> {
    let mut names = Vec::new();
    if !accounts.passwd.is_empty()
        && let Some(passwd) = read_small(src, &accounts.passwd)
    {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if let [name, _, uid, ..] = fields[..]
                && uid
                    .parse::<u32>()
                    .is_ok_and(|uid| uid >= accounts.first_person_uid && uid < 65534)
            {
                names.push(name.to_string());
            }
        }
    }
    for root in &accounts.homes {
        // Listed through the folder itself, entered without following a link.
        let Ok(dir) = fsafe::open_dir_below(src.sysroot, &src.os.components(root)) else {
            continue;
        };
        for name in dir.names() {
            let is_dir = dir.kind(&name) == fsafe::Kind::Folder;
            if is_dir
                && !name.starts_with('.')
                && !accounts
                    .not_people
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&name))
            {
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Facts about the machine running jcdiag.
pub fn machine_facts(src: &Source) -> Value {
    use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};
    let system = System::new_with_specifics(
        RefreshKind::nothing()
            .with_memory(MemoryRefreshKind::everything())
            .with_cpu(CpuRefreshKind::nothing()),
    )
    .ok();
    let cpu = system
        .as_ref()
        .and_then(|s| s.cpus().first())
        .map(|c| c.brand().trim().to_string());
    let disks = Disks::new_with_refreshed_list().map(|disks| {
        disks
            .iter()
            .map(|d| {
                json!({
                    "mount_point": d.mount_point().display().to_string(),
                    "file_system": d.file_system().to_string_lossy(),
                    "total_bytes": d.total_space(),
                    "available_bytes": d.available_space(),
                })
            })
            .collect::<Vec<_>>()
    });
    let networks = Networks::new_with_refreshed_list().map(|nets| {
        let mut list: Vec<Value> = nets
            .iter()
            .map(|(name, data)| {
                json!({
                    // An OsString would serialise as {"Unix": [bytes]}; names are text.
                    "name": name.to_string_lossy(),
                    "mac": data.mac_address().to_string(),
                    "addresses": data.ip_networks().iter().map(|n| format!("{}/{}", n.addr, n.prefix)).collect::<Vec<_>>(),
                })
            })
            .collect();
        list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        list
    });
    json!({
        "about": if src.live { "this machine" } else { "the machine running jcdiag, not the disk under --sysroot" },
        "hostname": sysinfo::System::host_name().ok(),
        "architecture": sysinfo::System::cpu_arch(),
        "uptime_seconds": sysinfo::System::uptime().ok(),
        "clock_utc": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "clock_local": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "time_zone": iana_time_zone::get_timezone().ok(),
        "cpu": {
            "brand": cpu,
            "logical_cores": system.as_ref().map(|s| s.cpus().len()),
            "physical_cores": System::physical_core_count().ok(),
        },
        "memory": {
            "total_bytes": system.as_ref().map(System::total_memory),
            "available_bytes": system.as_ref().map(System::available_memory),
        },
        "disks": disks.ok(),
        "network_interfaces": networks.ok(),
    })
}

/// Whether the agent's process runs; only knowable on the live system.
pub fn agent_running(src: &Source, process_name: &str) -> Value {
    if !src.live {
        return json!({ "running": null, "note": "not checked: collected from a disk with --sysroot" });
    }
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};
    let Ok(mut system) = System::new_with_specifics(RefreshKind::nothing()) else {
        return json!({ "running": null, "note": "the process list could not be read" });
    };
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing());
    let running = system.processes().values().any(|p| {
        p.name()
            .to_string_lossy()
            .eq_ignore_ascii_case(process_name)
    });
    json!({ "running": running, "process": process_name })
}

/// Reads a small text file of the target system, refusing links and planted files.
pub fn read_small(src: &Source, profile_path: &str) -> Option<String> {
    // One folder at a time from the sysroot: a linked /etc is refused, not followed.
    let parts = src.os.components(profile_path);
    let mut file = fsafe::open_below(src.sysroot, &parts, src.trust).ok()?;
    let (bytes, _) = file.read_tail(64 * 1024).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn linux_release(src: &Source) -> Value {
    // /etc/os-release is usually a link to /usr/lib/os-release; links are not followed, so
    // the target is read directly when the first is refused.
    let text =
        read_small(src, "/etc/os-release").or_else(|| read_small(src, "/usr/lib/os-release"));
    let Some(text) = text else {
        return json!({ "name": "Linux", "source": "not found: /etc/os-release" });
    };
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    json!({
        "name": field("NAME").unwrap_or_else(|| "Linux".into()),
        "version": field("VERSION_ID"),
        "pretty_name": field("PRETTY_NAME"),
        "build": field("BUILD_ID"),
        "source": "/etc/os-release",
    })
}

fn macos_release(src: &Source) -> Value {
    let plist = "/System/Library/CoreServices/SystemVersion.plist";
    let text = read_small(src, plist).unwrap_or_default();
    let key = |name: &str| {
        let after = text.split(&format!("<key>{name}</key>")).nth(1)?;
        let value = after.split("<string>").nth(1)?.split("</string>").next()?;
        Some(value.trim().to_string())
    };
    let mut build = key("ProductBuildVersion");
    if build.is_none() && src.live {
        build = command_output("sw_vers", &["-buildVersion"]);
    }
    json!({
        "name": key("ProductName").unwrap_or_else(|| "macOS".into()),
        "version": key("ProductVersion").or_else(|| src.live.then(|| sysinfo::System::os_version().ok()).flatten()),
        "build": build,
        "source": if text.is_empty() { "sw_vers" } else { plist },
    })
}

fn windows_release(src: &Source) -> Value {
    if src.live
        && let Some(facts) = windows_registry_release()
    {
        return facts;
    }
    json!({
        "name": "Windows",
        "version": null,
        "build": null,
        "source": "not available: the registry of a disk under --sysroot is not read",
    })
}

#[cfg(windows)]
fn windows_registry_release() -> Option<Value> {
    use windows_sys::Win32::System::Registry::{
        HKEY_LOCAL_MACHINE, RRF_RT_REG_DWORD, RRF_RT_REG_SZ, RegGetValueW,
    };
    let key: Vec<u16> = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
        .encode_utf16()
        .chain(Some(0))
        .collect();
    let read_string = |name: &str| -> Option<String> {
        let name: Vec<u16> = name.encode_utf16().chain(Some(0)).collect();
        let mut buffer = [0u16; 256];
        let mut size = (buffer.len() * 2) as u32;
        // SAFETY: buffers are valid for the sizes given.
        let status = unsafe {
            RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                name.as_ptr(),
                RRF_RT_REG_SZ,
                std::ptr::null_mut(),
                buffer.as_mut_ptr().cast(),
                &mut size,
            )
        };
        (status == 0)
            .then(|| String::from_utf16_lossy(&buffer[..(size as usize / 2).saturating_sub(1)]))
    };
    let read_dword = |name: &str| -> Option<u32> {
        let name: Vec<u16> = name.encode_utf16().chain(Some(0)).collect();
        let mut value = 0u32;
        let mut size = 4u32;
        // SAFETY: the out-pointer is a u32 as the size says.
        let status = unsafe {
            RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                name.as_ptr(),
                RRF_RT_REG_DWORD,
                std::ptr::null_mut(),
                (&mut value as *mut u32).cast(),
                &mut size,
            )
        };
        (status == 0).then_some(value)
    };
    let build = read_string("CurrentBuild")?;
    let build = match read_dword("UBR") {
        Some(ubr) => format!("{build}.{ubr}"),
        None => build,
    };
    Some(json!({
        "name": read_string("ProductName").unwrap_or_else(|| "Windows".into()),
        "edition": read_string("EditionID"),
        "version": read_string("DisplayVersion").or_else(|| read_string("CurrentVersion")),
        "build": build,
        "source": r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion",
    }))
}

#[cfg(not(windows))]
fn windows_registry_release() -> Option<Value> {
    None
}

fn time_zone(src: &Source) -> Option<String> {
    if src.live {
        return iana_time_zone::get_timezone().ok();
    }
    if src.os == TargetOs::Windows {
        return None;
    }
    // /etc/localtime is a link whose target names the zone; reading the link is not reading
    // through it.
    let link = std::fs::read_link(src.os.resolve(src.sysroot, "/etc/localtime")).ok();
    if let Some(zone) = link
        .as_ref()
        .and_then(|l| l.to_str())
        .and_then(|l| l.split("zoneinfo/").nth(1))
    {
        return Some(zone.to_string());
    }
    read_small(src, "/etc/timezone")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
