//! Which OS layout a collection reads, and how the profile's paths map into `--sysroot`.

use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetOs {
    Linux,
    Macos,
    Windows,
}

impl TargetOs {
    /// The OS this binary runs on (macOS and Linux layouts cover the other Unixes poorly, so
    /// anything that is neither Windows nor macOS is treated as Linux).
    pub fn current() -> TargetOs {
        if cfg!(windows) {
            TargetOs::Windows
        } else if cfg!(target_os = "macos") {
            TargetOs::Macos
        } else {
            TargetOs::Linux
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TargetOs::Linux => "linux",
            TargetOs::Macos => "macos",
            TargetOs::Windows => "windows",
        }
    }

    /// The root that profile paths are relative to when no `--sysroot` is given.
    pub fn default_sysroot() -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(r"C:\")
        } else {
            PathBuf::from("/")
        }
    }

    /// Splits a profile path (`/var/log/jcagent.log`, `C:\Windows\Temp\jcagent.log`) into its
    /// components below the root of the disk.
    pub fn components(self, profile_path: &str) -> Vec<&str> {
        let rest = match self {
            TargetOs::Windows => profile_path
                .strip_prefix("C:\\")
                .or_else(|| profile_path.strip_prefix("c:\\"))
                .unwrap_or(profile_path),
            _ => profile_path.trim_start_matches('/'),
        };
        rest.split(['/', '\\']).filter(|c| !c.is_empty()).collect()
    }

    /// The real path of a profile path below `sysroot`.
    pub fn resolve(self, sysroot: &Path, profile_path: &str) -> PathBuf {
        let mut path = sysroot.to_path_buf();
        path.extend(self.components(profile_path));
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths_map_below_the_drive_root() {
        let p = TargetOs::Windows.resolve(Path::new("/mnt/c"), r"C:\Windows\Temp\jcagent.log");
        assert_eq!(
            p,
            Path::new("/mnt/c")
                .join("Windows")
                .join("Temp")
                .join("jcagent.log")
        );
    }

    #[test]
    fn unix_paths_map_below_the_sysroot() {
        let p = TargetOs::Linux.resolve(Path::new("/tmp/root"), "/var/log/jcagent.log");
        assert_eq!(p, Path::new("/tmp/root/var/log/jcagent.log"));
    }
}
