//! Users' home folders, for the parity list's per-user files. Only real home folders count
//! (a folder under a homes root such as `/home`, `/Users` or `C:\Users`, not a link, not a
//! system folder of `not_people`), and a file in one is read only when it is owned by root or
//! by that home's owner (Unix): a file another user planted there is skipped, with why.

use std::path::Path;

use jcdiag_fs::fsafe::{self, Kind, OpenedFile, Refusal, Trust};
use jcdiag_profile::AccountLayout;
use jcdiag_profile::target::TargetOs;

use super::logs;

/// A real home folder.
#[derive(Debug, Clone)]
pub struct Home {
    /// `/home/ana`, `C:\Users\ana`.
    pub system_path: String,
    /// Its owner (Unix), from the folder opened without following a link.
    pub owner: Option<u32>,
}

impl Home {
    /// Ok when the file is root's or the home owner's; else why it is skipped.
    pub fn check_owner(&self, file: &OpenedFile) -> Result<(), String> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let uid = file
                .file
                .metadata()
                .map_err(|e| Refusal::Unreadable(e.to_string()).to_string())?
                .uid();
            if uid != 0 && Some(uid) != self.owner {
                return Err(format!(
                    "is owned by uid {uid}, neither root nor the owner of {} (uid {}): it may have been planted by another user",
                    self.system_path,
                    self.owner
                        .map_or_else(|| "unknown".into(), |o| o.to_string())
                ));
            }
        }
        #[cfg(not(unix))]
        let _ = file;
        Ok(())
    }
}

/// The real home folders below the layout's homes roots, and the entries refused (a link where
/// a home folder should be).
pub fn homes(
    os: TargetOs,
    sysroot: &Path,
    accounts: &AccountLayout,
) -> (Vec<Home>, Vec<(String, String)>) {
    let mut homes = Vec::new();
    let mut refused = Vec::new();
    for root in &accounts.homes {
        let root_parts: Vec<String> = os
            .components(root)
            .into_iter()
            .map(str::to_string)
            .collect();
        let parts: Vec<&str> = root_parts.iter().map(String::as_str).collect();
        let Ok(dir) = fsafe::open_dir_below(sysroot, &parts) else {
            continue;
        };
        let mut names = dir.names();
        names.sort();
        for name in names {
            if name.starts_with('.')
                || accounts
                    .not_people
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&name))
            {
                continue;
            }
            let mut here = root_parts.clone();
            here.push(name.clone());
            let system_path = logs::system_path(os, &here);
            match dir.kind(&name) {
                Kind::Folder => match dir.dir(&name) {
                    Ok(home) => homes.push(Home {
                        system_path,
                        owner: home.owner(),
                    }),
                    Err(why) => refused.push((system_path, why.to_string())),
                },
                Kind::Link | Kind::Reparse => refused.push((
                    system_path,
                    "is a link, not a real home folder: its per-user files are not read".into(),
                )),
                _ => {}
            }
        }
    }
    (homes, refused)
}

/// Opens a file in a home folder (no link on the way or at the file, one link count), owned
/// by anyone: [`Home::check_owner`] then decides.
pub fn open(sysroot: &Path, parts: &[String]) -> Result<OpenedFile, Refusal> {
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    fsafe::open_below(
        sysroot,
        &parts,
        Trust {
            require_root_owner: false,
        },
    )
}
