//! Readings of the parity list's command outputs that the summary shows in one line: the
//! agent service's state from `sc queryex` (Windows), `launchctl print` (macOS) and
//! `systemctl list-units` (Linux), and the configuration profiles `profiles show` lists.
//! Each parser is tested on recorded outputs of the real tools (`tests/fixtures/commands/`).

/// The one-line reading of a command's output by the parser the profile names, if any.
pub fn reading(parser: &str, output: &str) -> Option<String> {
    match parser {
        "sc-queryex" => sc_queryex(output).map(|s| s.describe()),
        "launchctl-print" => launchctl_print(output).map(|s| s.describe()),
        "systemctl-units" => {
            let units = systemctl_units(output);
            (!units.is_empty()).then(|| {
                units
                    .iter()
                    .map(|u| format!("{} {}/{}", u.name, u.active, u.sub))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        }
        "profiles" => {
            let names = profiles(output);
            Some(match names.len() {
                0 => "no configuration profile installed".to_string(),
                n => format!("{n} configuration profile(s): {}", names.join(", ")),
            })
        }
        _ => None,
    }
}

/// A service's state as a service manager reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub state: String,
    pub pid: Option<u32>,
    pub last_exit: Option<String>,
}

impl ServiceState {
    fn describe(&self) -> String {
        let mut text = format!("agent service {}", self.state);
        if let Some(pid) = self.pid {
            text.push_str(&format!(", pid {pid}"));
        }
        if let Some(exit) = &self.last_exit {
            text.push_str(&format!(", last exit code {exit}"));
        }
        text
    }
}

/// `sc queryex NAME`: `STATE : 4  RUNNING`, `PID : 1234`, `WIN32_EXIT_CODE : 0  (0x0)`.
pub fn sc_queryex(output: &str) -> Option<ServiceState> {
    let field = |key: &str| {
        output.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let state = field("STATE")?;
    // "4  RUNNING": the name after the number.
    let state = state.split_whitespace().nth(1)?.to_string();
    let pid = field("PID")
        .and_then(|p| p.parse().ok())
        .filter(|&p| p != 0);
    let last_exit = field("WIN32_EXIT_CODE")
        .and_then(|v| v.split_whitespace().next().map(str::to_string))
        .filter(|code| code != "0");
    Some(ServiceState {
        state,
        pid,
        last_exit,
    })
}

/// `launchctl print system/LABEL`: the service's own `state = running`, `pid = 123`,
/// `last exit code = 0` lines (one tab deep; deeper ones belong to its endpoints).
pub fn launchctl_print(output: &str) -> Option<ServiceState> {
    let field = |key: &str| {
        output.lines().find_map(|line| {
            let depth = line.len() - line.trim_start_matches('\t').len();
            let (k, v) = line.trim().split_once(" = ")?;
            (depth == 1 && k == key).then(|| v.trim().to_string())
        })
    };
    let state = field("state")?;
    Some(ServiceState {
        state,
        pid: field("pid").and_then(|p| p.parse().ok()),
        last_exit: field("last exit code").filter(|c| c != "0"),
    })
}

/// A unit line of `systemctl list-units --plain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub name: String,
    pub load: String,
    pub active: String,
    pub sub: String,
}

pub fn systemctl_units(output: &str) -> Vec<Unit> {
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?.trim_start_matches('●').to_string();
            if !name.contains('.') {
                return None;
            }
            Some(Unit {
                name,
                load: fields.next()?.into(),
                active: fields.next()?.into(),
                sub: fields.next()?.into(),
            })
        })
        .collect()
}

/// `profiles show`: each profile's name (`attribute: name: …`), else its identifier.
pub fn profiles(output: &str) -> Vec<String> {
    let mut names: Vec<(String, String)> = Vec::new(); // (profile key, name)
    for line in output.lines() {
        let Some((key, rest)) = line.trim().split_once(" attribute: ") else {
            continue;
        };
        let Some((attribute, value)) = rest.split_once(": ") else {
            continue;
        };
        let value = value.trim().to_string();
        match names.iter_mut().find(|(k, _)| k == key) {
            Some(entry) if attribute == "name" => entry.1 = value,
            Some(_) => {}
            None if attribute == "name" || attribute == "profileIdentifier" => {
                names.push((key.to_string(), value))
            }
            None => {}
        }
    }
    names.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded outputs (see their README), compiled in so that the Windows test binary
    /// needs no path to them.
    fn fixture(name: &str) -> String {
        match name {
            "sc-queryex-running.txt" => {
                include_str!("../../tests/fixtures/commands/sc-queryex-running.txt")
            }
            "sc-queryex-stopped.txt" => {
                include_str!("../../tests/fixtures/commands/sc-queryex-stopped.txt")
            }
            "sc-queryex-missing.txt" => {
                include_str!("../../tests/fixtures/commands/sc-queryex-missing.txt")
            }
            "launchctl-print-running.txt" => {
                include_str!("../../tests/fixtures/commands/launchctl-print-running.txt")
            }
            "launchctl-print-not-running.txt" => {
                include_str!("../../tests/fixtures/commands/launchctl-print-not-running.txt")
            }
            "profiles-show.txt" => include_str!("../../tests/fixtures/commands/profiles-show.txt"),
            "profiles-none.txt" => include_str!("../../tests/fixtures/commands/profiles-none.txt"),
            other => panic!("no fixture {other}"),
        }
        .to_string()
    }

    #[test]
    fn sc_queryex_of_a_running_and_a_stopped_service() {
        let running = sc_queryex(&fixture("sc-queryex-running.txt")).unwrap();
        assert_eq!(running.state, "RUNNING");
        assert_eq!(running.pid, Some(10476));
        assert_eq!(running.last_exit, None);
        let stopped = sc_queryex(&fixture("sc-queryex-stopped.txt")).unwrap();
        assert_eq!(stopped.state, "STOPPED");
        assert_eq!(stopped.pid, None);
        assert_eq!(stopped.last_exit.as_deref(), Some("1077"));
        assert_eq!(
            reading("sc-queryex", &fixture("sc-queryex-stopped.txt")).unwrap(),
            "agent service STOPPED, last exit code 1077"
        );
        // sc's answer for a service that does not exist has no state.
        assert_eq!(sc_queryex(&fixture("sc-queryex-missing.txt")), None);
    }

    #[test]
    fn launchctl_print_reads_the_services_own_state_not_its_endpoints() {
        let state = launchctl_print(&fixture("launchctl-print-running.txt")).unwrap();
        assert_eq!(state.state, "running");
        assert_eq!(state.pid, Some(913));
        assert_eq!(state.last_exit.as_deref(), Some("(never exited)"));
        let state = launchctl_print(&fixture("launchctl-print-not-running.txt")).unwrap();
        assert_eq!(state.state, "not running");
        assert_eq!(state.pid, None);
        assert_eq!(state.last_exit.as_deref(), Some("78: EX_CONFIG"));
    }

    #[test]
    fn profiles_lists_names_or_identifiers() {
        assert_eq!(
            profiles(&fixture("profiles-show.txt")),
            ["MDM Profile", "com.jamfsoftware.tcc.management"]
        );
        assert_eq!(
            reading("profiles", &fixture("profiles-none.txt")).unwrap(),
            "no configuration profile installed"
        );
    }

    #[test]
    fn systemctl_units_of_the_agent() {
        let units = systemctl_units(
            "jcagent.service loaded active running JumpCloud Agent\n\nLegend: LOAD …\n",
        );
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].sub, "running");
    }
}
