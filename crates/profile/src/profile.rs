//! The profile: every JumpCloud and support-guideline fact jcdiag relies on, as data.
//!
//! The default profile is `profile.toml`, compiled in. Keeping the facts in one data file means
//! they are checked against their sources in one place (see the tests below) and a path that
//! turns out wrong is fixed without touching code.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::sla::SlaProfile;
use crate::target::TargetOs;

/// `profile.toml`, as JSON (see build.rs).
const DEFAULT_PROFILE: &str = include_str!(concat!(env!("OUT_DIR"), "/profile.json"));

#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub agent: AgentLayouts,
    pub logs: LogFormat,
    pub secrets: SecretRules,
    pub record: RecordRules,
    /// What JumpCloud's own collection scripts gather, per OS.
    pub parity: crate::parity::ParityLists,
    pub screenshots: ScreenshotFolders,
    /// `agentServerHost` value → region name.
    pub regions: BTreeMap<String, String>,
    /// "1", "2", "3" → the seed's definition.
    pub severities: BTreeMap<String, SeverityInfo>,
    pub contacts: Contacts,
    /// Tier id → contact channel ids (keys of `contacts`, or a benefit such as `early_access`).
    pub channels: BTreeMap<String, Vec<String>>,
    /// Support hours and each tier's response terms.
    pub sla: SlaProfile,
    /// Where people's accounts are, per target OS (for `--obfuscate users`).
    pub accounts: Accounts,
    /// The guideline's escalation path.
    pub escalation: EscalationPath,
    /// What the findings checks look at, their thresholds and the known error signatures.
    pub findings: FindingsRules,
}

/// The findings checks' data (`[findings]`): sizes and durations as written in the profile
/// (`1GiB`, `6h`), parsed by the engine.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingsRules {
    pub client_cert: PerOs,
    pub client_key: PerOs,
    pub ca_cert: PerOs,
    pub cert_expiry_warn_days: i64,
    pub log_age_warn: String,
    pub log_age_fail: String,
    pub disk_free_warn: String,
    pub disk_free_fail: String,
    pub clock_skew_warn: String,
    pub clock_skew_fail: String,
    pub restart_marker: String,
    pub restarts_warn: u64,
    pub verbose_log_levels: Vec<String>,
    pub signature_levels: Vec<String>,
    pub top_signatures: usize,
    pub macos_fda_probe: String,
    pub link: String,
    pub agent_version: AgentVersions,
    pub network: NetworkTargets,
    pub known_signatures: Vec<KnownSignatureRule>,
}

/// One path per OS.
#[derive(Debug, Clone, Deserialize)]
pub struct PerOs {
    pub linux: String,
    pub macos: String,
    pub windows: String,
}

impl PerOs {
    pub fn get(&self, os: TargetOs) -> &str {
        match os {
            TargetOs::Linux => &self.linux,
            TargetOs::Macos => &self.macos,
            TargetOs::Windows => &self.windows,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AgentVersions {
    pub minimum: String,
    pub newest: String,
    /// When `newest` was written down (YYYY-MM-DD).
    pub recorded: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NetworkTargets {
    pub default_agent_host: String,
    pub kickstart_host: String,
    pub ports: Vec<u16>,
    pub connect_timeout_secs: u64,
}

/// A known error line: every text of `match` occurs in the message.
#[derive(Debug, Clone, Deserialize)]
pub struct KnownSignatureRule {
    pub id: String,
    #[serde(rename = "match")]
    pub matches: Vec<String>,
    pub meaning: String,
    pub advice: String,
    pub link: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EscalationPath {
    pub how: String,
    pub next: String,
    /// The conditions before a case is de-escalated, in the guideline's words.
    pub de_escalation: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Accounts {
    pub linux: AccountLayout,
    pub macos: AccountLayout,
    pub windows: AccountLayout,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountLayout {
    pub homes: Vec<String>,
    /// A passwd file ("" when the OS keeps accounts elsewhere).
    pub passwd: String,
    pub first_person_uid: u32,
    pub not_people: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AgentLayouts {
    pub linux: AgentLayout,
    pub macos: AgentLayout,
    pub windows: AgentLayout,
}

/// Where the agent keeps its files on one OS. Paths are in the target OS's own notation.
#[derive(Debug, Clone, Deserialize)]
pub struct AgentLayout {
    pub main_log: String,
    pub other_logs: Vec<String>,
    pub config: String,
    pub version_file: String,
    pub log_level_file: String,
    pub proxy_config: String,
    pub process: String,
    pub service: String,
    pub never_collect: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogFormat {
    pub rotated_suffixes: Vec<String>,
    pub timestamp_format: String,
    pub error_marker: String,
}

/// What `jcdiag record` needs beyond the log paths.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordRules {
    /// Endings of files that rotation makes (renamed, copied or compressed logs).
    pub archive_suffixes: Vec<String>,
}

/// Where each OS keeps screenshots, and which file names are images.
#[derive(Debug, Clone, Deserialize)]
pub struct ScreenshotFolders {
    pub extensions: Vec<String>,
    pub linux: ScreenshotLayout,
    pub macos: ScreenshotLayout,
    pub windows: ScreenshotLayout,
}

/// One OS's screenshot folders. Optional keys apply to the OS that has them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScreenshotLayout {
    pub folders: Vec<String>,
    #[serde(default)]
    pub homes: Vec<String>,
    /// Linux: per-home file holding `XDG_PICTURES_DIR`, and the folder used without it.
    pub xdg_user_dirs: Option<String>,
    pub xdg_pictures_default: Option<String>,
    /// macOS: per-home screencapture preferences (`location`), and the folder used without it.
    pub screencapture_plist: Option<String>,
    pub screencapture_default: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecretRules {
    pub never_collect_names: Vec<String>,
    pub key_words: Vec<String>,
    pub public_keys: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeverityInfo {
    pub name: String,
    pub definition: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Contacts {
    pub email: String,
    pub partner_email: String,
    pub escalation_email: String,
    pub customer_success_email: String,
    pub web: String,
    pub chat: String,
    pub phone: String,
    pub knowledge_base: String,
}

impl Profile {
    /// The compiled-in profile, parsed once.
    pub fn builtin() -> &'static Profile {
        static PROFILE: OnceLock<Profile> = OnceLock::new();
        PROFILE.get_or_init(|| {
            serde_json::from_str(DEFAULT_PROFILE).expect("the compiled-in profile.toml is valid")
        })
    }

    pub fn layout(&self, os: TargetOs) -> &AgentLayout {
        match os {
            TargetOs::Linux => &self.agent.linux,
            TargetOs::Macos => &self.agent.macos,
            TargetOs::Windows => &self.agent.windows,
        }
    }

    pub fn accounts(&self, os: TargetOs) -> &AccountLayout {
        match os {
            TargetOs::Linux => &self.accounts.linux,
            TargetOs::Macos => &self.accounts.macos,
            TargetOs::Windows => &self.accounts.windows,
        }
    }

    pub fn screenshot_layout(&self, os: TargetOs) -> &ScreenshotLayout {
        match os {
            TargetOs::Linux => &self.screenshots.linux,
            TargetOs::Macos => &self.screenshots.macos,
            TargetOs::Windows => &self.screenshots.windows,
        }
    }

    /// The region an `agentServerHost` value names, if known.
    pub fn region_of(&self, server_host: &str) -> Option<&str> {
        self.regions.get(server_host).map(String::as_str)
    }

    /// Human-readable contact channels of a tier, e.g. `email: support@jumpcloud.com`.
    pub fn channels_of(&self, tier: &str, partner: bool) -> Vec<String> {
        let c = &self.contacts;
        self.channels
            .get(tier)
            .into_iter()
            .flatten()
            .map(|id| match id.as_str() {
                "knowledge_base" => format!("knowledge base: {}", c.knowledge_base),
                "email" if partner => format!("email: {}", c.partner_email),
                "email" => format!("email: {}", c.email),
                "web" => format!("web: {}", c.web),
                "chat" => format!("chat: {}", c.chat),
                "phone" => format!("phone: {}", c.phone),
                "early_access" => "eligible for early access functionality".to_string(),
                "dedicated_specialist" => "a dedicated support specialist".to_string(),
                other => other.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../../tests/data/support-request-guidelines.txt");
    const JUMPCLOUD: &str = include_str!("../../../tests/data/JUMPCLOUD.md");
    const HEALTH_CHECKS: &str = include_str!("../../../tests/data/JUMPCLOUD-health-checks.md");

    #[test]
    fn agent_log_paths_are_the_seeds() {
        let p = Profile::builtin();
        assert!(SEED.contains(r"Windows: C:\Windows\Temp\jcagent.log"));
        assert!(SEED.contains("Mac & Linux: /var/log/jcagent.log"));
        assert_eq!(p.agent.windows.main_log, r"C:\Windows\Temp\jcagent.log");
        assert_eq!(p.agent.macos.main_log, "/var/log/jcagent.log");
        assert_eq!(p.agent.linux.main_log, "/var/log/jcagent.log");
    }

    /// Every file, folder and command of the doc's parity list is in the profile (agent layout
    /// or parity list), and every parity item is one the doc names.
    #[test]
    fn the_parity_list_is_the_agent_docs() {
        let p = Profile::builtin();
        let section = JUMPCLOUD
            .split("## What JumpCloud's own collection scripts gather")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap();
        for (os, list, layout) in [
            ("linux", &p.parity.linux, &p.agent.linux),
            ("macos", &p.parity.macos, &p.agent.macos),
            ("windows", &p.parity.windows, &p.agent.windows),
        ] {
            let mut profile_text: Vec<String> = list
                .files
                .iter()
                .chain(&list.per_user)
                .map(|f| format!("{} {}", f.path, f.names.as_deref().unwrap_or_default()))
                .collect();
            profile_text.extend(layout.other_logs.iter().cloned());
            profile_text.extend([layout.version_file.clone(), layout.proxy_config.clone()]);
            for c in &list.commands {
                profile_text.push(format!("{} {}", c.program[0], c.args.join(" ")));
            }
            if let Some(j) = &list.journal {
                profile_text.push(j.program[0].clone());
            }
            let profile_text = profile_text.join("\n");
            for item in list.files.iter().chain(&list.per_user) {
                let last = item.path.rsplit(['/', '\\']).next().unwrap();
                let stem = last.split('*').max_by_key(|s| s.len()).unwrap();
                assert!(
                    section.contains(stem),
                    "{os}: {} is not in the doc",
                    item.path
                );
                assert!(
                    p.parity.sources.iter().any(|s| s.name == item.source),
                    "{os}: {} has an unknown source",
                    item.path
                );
            }
            for c in &list.commands {
                assert!(
                    p.parity.sources.iter().any(|s| s.name == c.source),
                    "{os}: {}",
                    c.name
                );
                assert!(
                    c.program
                        .iter()
                        .all(|p| p.starts_with('/') || p.starts_with("C:\\")),
                    "{os}: {} must name absolute paths",
                    c.name
                );
            }
            let named: &[&str] = match os {
                "linux" => &[
                    "/var/log/jc",
                    "jumpcloud",
                    "jcagentInstall.log",
                    "version.txt",
                    "managedUsers.json",
                    "packageUpgradeBackup.json",
                    "policyConf.json",
                    "policies",
                    "jcagent-proxy.conf",
                    "syslog",
                    "auth.log",
                    "messages",
                    "secure",
                    "apt/term.log",
                    "apt/history.log",
                    "dpkg.log",
                    "hostnamectl",
                    "jcosqueryi --line select * from users",
                    "last",
                    "iptables -L",
                    "list-units --type=service --all",
                    "ps",
                    "JumpCloud Password Manager/logs",
                    "data/daemon/log",
                    "JumpCloud-Remote-Assist/logs",
                    "journalctl",
                ],
                "macos" => &[
                    "/var/log/jc*.log*",
                    "jumpcloud",
                    "jumpcloud-loginwindow",
                    "com.jumpcloud.Nudge.json",
                    "managedUsers.json",
                    "install.log*",
                    "DiagnosticReports/Certificate*",
                    "com.apple.SoftwareUpdate.plist",
                    "SoftwareUpdateDDMStatePersistence.plist",
                    "profiles show -o stdout",
                    "softwareupdate --list",
                    "launchctl print system",
                    "mdmclient QueryDeviceInformation",
                    "fdesetup list",
                    "diskutil apfs list",
                    "Library/Logs/JumpCloud Password Manager",
                    "JumpCloud Password Manager/data/daemon/log",
                    "Library/Logs/JumpCloud-Remote-Assist",
                    "Library/Logs/JumpCloud",
                    "/var/root/Library/Logs/JumpCloud-Remote-Assist",
                    "'jumpcloud'",
                    "JCLoginPlugin",
                    "DurtService",
                    "JumpCloudGo",
                    "appstored",
                    "SoftwareUpdateMacController",
                ],
                _ => &[
                    "jcagent_updater.log",
                    "jcExecUpgradeScript.log",
                    "jcUninstallUpgrade.log",
                    "jcUpdate.log",
                    "jcUpgradeScript.log",
                    "jc_raasvc.log",
                    "JumpCloud_AD_Integration.log",
                    "JCCredentialProvider\\provider.log",
                    "CredentialProvider\\provider*.json",
                    "CredentialProvider\\provider*.log",
                    "DependencyLoader\\loader.log",
                    "Tray\\*\\tray*.log",
                    "TrayApp",
                    "jumpcloudtray.log",
                    "lockoutCache.json",
                    "managedUsers.json",
                    "version.txt",
                    "JumpCloud\\policyConf.json",
                    "jcagent-proxy.conf",
                    "JumpCloud-Remote-Assist\\logs\\*.log",
                    "JumpCloud_AD_Import_Grpc*.log",
                    "jcadimportagent.config.json",
                    "JumpCloud_AD_Sync.log",
                    "AD Sync\\config.json",
                    "jc-user-agent.log",
                    "jcupdate.log",
                    "jc-native-messaging-host*.log",
                    "logs-live.log",
                    "daemon\\log\\*.log",
                    "Windows NT\\CurrentVersion",
                    "Credential Providers",
                    "LogonUI",
                    "chocolatey\\logs",
                    "Application",
                    "System",
                    "net.exe user",
                    "localgroup",
                ],
            };
            for name in named {
                assert!(
                    profile_text.contains(name),
                    "{os}: {name} is not in the profile"
                );
            }
        }
    }

    #[test]
    fn severity_definitions_are_quoted_from_the_seed() {
        let p = Profile::builtin();
        assert_eq!(p.severities.len(), 3);
        for (level, info) in &p.severities {
            assert!(
                SEED.contains(&format!("Severity {level}\n{}", info.definition)),
                "{level}"
            );
        }
    }

    #[test]
    fn the_escalation_path_is_quoted_from_the_seed() {
        let e = &Profile::builtin().escalation;
        // The seed has a no-break space after "Verified".
        let seed = SEED.replace('\u{a0}', " ");
        assert_eq!(e.de_escalation.len(), 3);
        for condition in &e.de_escalation {
            assert!(seed.contains(condition.as_str()), "{condition}");
        }
        assert!(seed.contains(&e.how), "{}", e.how);
    }

    #[test]
    fn contacts_are_the_seeds() {
        let c = &Profile::builtin().contacts;
        for address in [
            &c.email,
            &c.partner_email,
            &c.escalation_email,
            &c.customer_success_email,
        ] {
            assert!(SEED.contains(address.as_str()), "{address}");
        }
        assert!(SEED.contains("+1 720 240 5005, Option 2"));
        assert!(c.phone.starts_with("+1 720 240 5005, Option 2"));
        assert!(SEED.contains(&c.web));
    }

    #[test]
    fn every_file_the_agent_doc_names_is_in_the_profile() {
        let p = Profile::builtin();
        for layout in [&p.agent.linux, &p.agent.macos, &p.agent.windows] {
            for path in [&layout.config, &layout.version_file, &layout.proxy_config] {
                let file = path.rsplit(['/', '\\']).next().unwrap();
                assert!(JUMPCLOUD.contains(file), "{path}");
            }
            assert!(
                JUMPCLOUD.contains(&format!("`{}`", layout.process)),
                "{}",
                layout.process
            );
        }
        for log in &p.agent.windows.other_logs {
            let file = log.rsplit('\\').next().unwrap();
            assert!(JUMPCLOUD.contains(file), "{log}");
        }
        assert!(
            JUMPCLOUD
                .contains("`jcagent.log.1` … `jcagent.log.9`, older agents `jcagent.log.prev`")
        );
        assert_eq!(p.logs.rotated_suffixes.len(), 10);
    }

    #[test]
    fn secret_keys_of_the_agent_doc_are_secret_and_system_key_is_not() {
        let p = Profile::builtin();
        for key in [
            "systemToken",
            "local_ldap_bind_pwd",
            "certuuid",
            "connectKey",
        ] {
            assert!(JUMPCLOUD.contains(key));
            let lower = key.to_lowercase();
            assert!(
                p.secrets
                    .key_words
                    .iter()
                    .any(|w| lower.contains(w.as_str())),
                "{key}"
            );
        }
        assert!(p.secrets.public_keys.iter().any(|k| k == "systemKey"));
        for name in ["client.key", "ca.crt", "*.pem", "*.pfx"] {
            assert!(JUMPCLOUD.contains(name.trim_start_matches('*')));
        }
    }

    #[test]
    fn response_terms_are_the_seeds_table() {
        use crate::sla::{ResponseRule, Severity, Tier};
        let sla = &Profile::builtin().sla;
        let rule = |tier, level: u8| {
            sla.tiers[&tier]
                .response
                .get(&Severity::try_from(level).unwrap())
                .cloned()
        };
        // Seed: Severity 1 "4 hours 1 hour", 2 "8 hours 2 hours", 3 "Next business day 4 hours".
        assert!(SEED.contains("4 hours 1 hour") && SEED.contains("8 hours 2 hours"));
        assert!(SEED.contains("Next business day 4 hours"));
        assert_eq!(
            rule(Tier::Premium, 1),
            Some(ResponseRule::Wall { hours: 1 })
        );
        assert_eq!(
            rule(Tier::Premium, 2),
            Some(ResponseRule::Wall { hours: 2 })
        );
        assert_eq!(
            rule(Tier::Premium, 3),
            Some(ResponseRule::Wall { hours: 4 })
        );
        assert_eq!(
            rule(Tier::Standard, 1),
            Some(ResponseRule::Support { hours: 4 })
        );
        assert_eq!(
            rule(Tier::Standard, 2),
            Some(ResponseRule::Support { hours: 8 })
        );
        assert_eq!(rule(Tier::Standard, 3), Some(ResponseRule::NextBusinessDay));
        assert!(SEED.contains("9am-5pm MT") && SEED.contains("24 x 7 x 365"));
        assert_eq!(sla.support_hours.time_zone, chrono_tz::America::Denver);
        assert!(!sla.tiers[&Tier::Free].accepts_cases);
    }

    #[test]
    fn regions_cover_the_agent_server_hosts() {
        let p = Profile::builtin();
        for host in [
            "agent.jumpcloud.com",
            "agent.eu.jumpcloud.com",
            "agent.in.jumpcloud.com",
        ] {
            assert!(JUMPCLOUD.contains(host));
            assert!(p.region_of(host).is_some(), "{host}");
        }
    }

    #[test]
    fn the_known_signatures_are_the_agent_docs_error_lines() {
        let p = Profile::builtin();
        assert!(p.findings.known_signatures.len() >= 2);
        for rule in &p.findings.known_signatures {
            for text in &rule.matches {
                assert!(HEALTH_CHECKS.contains(text.as_str()), "{}: {text}", rule.id);
            }
        }
        for host in [
            &p.findings.network.default_agent_host,
            &p.findings.network.kickstart_host,
        ] {
            assert!(HEALTH_CHECKS.contains(host.as_str()), "{host}");
        }
        assert!(HEALTH_CHECKS.contains("ports 443 and 444, 3 s connect timeout"));
        assert_eq!(p.findings.network.ports, [443, 444]);
        assert_eq!(p.findings.network.connect_timeout_secs, 3);
        for os in [TargetOs::Linux, TargetOs::Macos, TargetOs::Windows] {
            let cert = p.findings.client_cert.get(os);
            assert!(
                p.layout(os).never_collect.iter().any(|n| n == cert),
                "{cert}"
            );
        }
    }

    #[test]
    fn premium_has_every_channel_and_free_only_the_knowledge_base() {
        let p = Profile::builtin();
        assert_eq!(p.channels_of("free", false).len(), 1);
        let premium = p.channels_of("premium", false).join("\n");
        assert!(premium.contains("support@jumpcloud.com") && premium.contains("+1 720 240 5005"));
        assert!(
            p.channels_of("standard", true)
                .join(" ")
                .contains("partnersupport@")
        );
    }
}
