//! Screenshots the user names: recognised by their content, stored once each.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::sources::logs;
use jcdiag_fs::fsafe::{self, Kind, Refusal, SafeDir, Trust};
use jcdiag_profile::Profile;
use jcdiag_profile::target::TargetOs;

#[derive(Debug, thiserror::Error)]
pub enum ScreenshotError {
    #[error("screenshot {0}: file not found; check the path given to --screenshot")]
    NotFound(PathBuf),
    #[error("screenshot {0}: {1}; pass the image file itself")]
    Refused(PathBuf, Refusal),
    #[error("screenshot {path}: {size} bytes is over the {cap}-byte limit; crop or compress it")]
    TooLarge { path: PathBuf, size: u64, cap: u64 },
    #[error(
        "screenshot {0}: not an image (PNG, JPEG, GIF, BMP, WebP, HEIC or TIFF); attach image files only"
    )]
    NotAnImage(PathBuf),
    #[error("screenshot {0}: cannot be read: {1}")]
    Read(PathBuf, std::io::Error),
}

/// A screenshot read and checked: [`read`] is the only way to make one, so its bytes are an
/// image recognised by content ([`sniff`]). The bundle stores these unscrubbed, through
/// `BundleWriter::add_image`.
#[derive(Debug)]
pub struct Screenshot {
    pub source: PathBuf,
    format: &'static str,
    bytes: Vec<u8>,
}

impl Screenshot {
    /// The format its first bytes announce (`png`, `jpeg`…).
    pub fn format(&self) -> &'static str {
        self.format
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The image bytes, for the bundle writer.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The image format that the first bytes announce.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("gif")
    } else if starts(b"BM") && head.len() >= 14 {
        Some("bmp")
    } else if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Some("webp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("tiff")
    } else if head.get(4..8) == Some(b"ftyp")
        && matches!(
            head.get(8..12),
            Some(b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1")
        )
    {
        Some("heic")
    } else {
        None
    }
}

/// Reads and checks one screenshot. Links are refused like everywhere else; the owner need not
/// be root because the user's own files are meant here. Run elevated, no folder on the way may
/// be a link and the file must be one its folder's owner could read ([`fsafe::user_could_read`]).
pub fn read(path: &Path, cap: u64) -> Result<Screenshot, ScreenshotError> {
    let opened = if elevated() {
        // Root reads it as the owner of its folder could: no link on the way, and only a file
        // that owner could read themselves.
        fsafe::open_parent_no_links(path)
            .and_then(|(dir, name)| dir.file_for_user(&name, dir.owner(), USER_FILES))
    } else {
        fsafe::open_untrusted(path, USER_FILES)
    };
    let mut file = match opened {
        Ok(file) => file,
        Err(Refusal::NotFound) => return Err(ScreenshotError::NotFound(path.to_path_buf())),
        Err(why) => return Err(ScreenshotError::Refused(path.to_path_buf(), why)),
    };
    if file.len > cap {
        return Err(ScreenshotError::TooLarge {
            path: path.to_path_buf(),
            size: file.len,
            cap,
        });
    }
    let (bytes, _) = file
        .read_tail(cap)
        .map_err(|e| ScreenshotError::Read(path.to_path_buf(), e))?;
    let format = sniff(&bytes).ok_or_else(|| ScreenshotError::NotAnImage(path.to_path_buf()))?;
    Ok(Screenshot {
        source: path.to_path_buf(),
        format,
        bytes,
    })
}

/// The user's own files: links are refused, ownership is not checked.
const USER_FILES: Trust = Trust {
    require_root_owner: false,
};

/// Skipped files or folders: the path and why.
pub type Skips = Vec<(String, String)>;

/// Whether users' folders are read with their owner's rights (see [`folders_checked`]).
fn elevated() -> bool {
    jcdiag_fs::fsafe::is_elevated()
}

/// The screenshot folders of a layout that exist below `sysroot`: see [`folders_checked`].
pub fn folders(profile: &Profile, os: TargetOs, sysroot: &Path, live: bool) -> Vec<PathBuf> {
    folders_checked(profile, os, sysroot, live).0
}

/// The screenshot folders of a layout that exist below `sysroot` (the profile's fixed folders,
/// each home's XDG pictures folder on Linux and screencapture location on macOS), and the ones
/// refused, with why. A folder named by a user's settings is used only when it lies inside that
/// user's home. Every folder is entered without following a link. Run elevated, a folder inside
/// a home is entered only when the home's owner could enter every folder from the home down
/// ([`fsafe::user_could_read`]): root reads a user's folders with that user's rights.
pub fn folders_checked(
    profile: &Profile,
    os: TargetOs,
    sysroot: &Path,
    live: bool,
) -> (Vec<PathBuf>, Skips) {
    // The sysroot is the admin's choice, links included: resolved once, so the folders found
    // can be walked again from the file system root without meeting a link.
    let sysroot = std::fs::canonicalize(sysroot).unwrap_or_else(|_| sysroot.to_path_buf());
    let sysroot = sysroot.as_path();
    let layout = profile.screenshot_layout(os);
    let uid_of = |home: &SafeDir| if elevated() { home.owner() } else { None };
    let mut skipped: Skips = Vec::new();
    let mut skip = |path: String, why: Refusal| {
        if !skipped.iter().any(|(p, _)| p == &path) {
            skipped.push((path, why.to_string()));
        }
    };
    let mut wanted: Vec<String> = Vec::new();
    for pattern in &layout.folders {
        let (found, linked) = logs::find_dirs_checked(os, sysroot, pattern);
        wanted.extend(found.into_iter().map(|(_, system)| system));
        for (system, why) in linked {
            skip(os.resolve(sysroot, &system).display().to_string(), why);
        }
    }
    let homes: Vec<(PathBuf, String)> = layout
        .homes
        .iter()
        .flat_map(|pattern| logs::find_dirs(os, sysroot, pattern))
        .collect();
    for (_, home_system) in &homes {
        let Ok(home) = fsafe::open_dir_below(sysroot, &os.components(home_system)) else {
            continue;
        };
        let uid = uid_of(&home);
        if let (Some(file), Some(default)) = (&layout.xdg_user_dirs, &layout.xdg_pictures_default) {
            let named = read_user_file(&home, file, uid)
                .and_then(|(text, _)| xdg_pictures_dir(&text, home_system));
            wanted.push(named.unwrap_or_else(|| format!("{home_system}/{default}")));
        }
        if let (Some(plist), Some(default)) =
            (&layout.screencapture_plist, &layout.screencapture_default)
        {
            let named = read_user_file(&home, plist, uid)
                .and_then(|(text, path)| screencapture_xml(text, &path, live))
                .and_then(|xml| screencapture_location(&xml, home_system));
            wanted.push(named.unwrap_or_else(|| format!("{home_system}/{default}")));
        }
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for system in wanted {
        match open_users_folder(os, sysroot, &homes, &system, &uid_of) {
            Ok(path) if !dirs.contains(&path) => dirs.push(path),
            Ok(_) | Err((_, Refusal::NotFound)) => {}
            Err((path, why)) => skip(path.display().to_string(), why),
        }
    }
    (dirs, skipped)
}

/// Opens the folder at `system` (a system path) below `sysroot` without following a link; inside
/// a home, one folder at a time with the home owner's rights (`uid_of`). Returns its real path,
/// or the folder refused and why.
fn open_users_folder(
    os: TargetOs,
    sysroot: &Path,
    homes: &[(PathBuf, String)],
    system: &str,
    uid_of: &dyn Fn(&SafeDir) -> Option<u32>,
) -> Result<PathBuf, (PathBuf, Refusal)> {
    let parts = os.components(system);
    let home = homes
        .iter()
        .map(|(_, home)| os.components(home))
        .find(|home| parts.starts_with(home));
    let home_parts = home.unwrap_or_default();
    let at = |so_far: &[&str]| {
        let mut path = sysroot.to_path_buf();
        path.extend(so_far);
        path
    };
    let start =
        fsafe::open_dir_below(sysroot, &home_parts).map_err(|why| (at(&home_parts), why))?;
    let uid = if home_parts.is_empty() {
        None
    } else {
        uid_of(&start)
    };
    let mut here = start;
    for depth in home_parts.len()..parts.len() {
        let so_far = &parts[..=depth];
        let next = here.dir(parts[depth]).map_err(|why| (at(so_far), why))?;
        if !next.user_could_enter(uid) {
            return Err((
                at(so_far),
                Refusal::UserCouldNotRead(uid.unwrap_or_default()),
            ));
        }
        here = next;
    }
    Ok(here.path().to_path_buf())
}

/// Reads a small settings file below a home (`rel` in profile form, `/` or `\` separated),
/// without following a link and, with `uid`, only when that user could read it. Returns the text
/// and the file's real path.
fn read_user_file(home: &SafeDir, rel: &str, uid: Option<u32>) -> Option<(String, PathBuf)> {
    let parts: Vec<&str> = rel.split(['/', '\\']).filter(|c| !c.is_empty()).collect();
    let (name, folders) = parts.split_last()?;
    let mut here = home.walk(&[]).ok()?;
    for folder in folders {
        here = here.dir(folder).ok()?;
        if !here.user_could_enter(uid) {
            return None;
        }
    }
    let mut file = here.file_for_user(name, uid, USER_FILES).ok()?;
    let (bytes, cut) = file.read_tail(64 << 10).ok()?;
    (!cut).then(|| {
        (
            String::from_utf8_lossy(&bytes).into_owned(),
            here.path().join(name),
        )
    })
}

/// Opens the folder at `dir` (a real path), walking from the file system root without following
/// a link ([`fsafe::open_parent_no_links`]).
fn open_folder(dir: &Path) -> Option<SafeDir> {
    let (parent, name) = fsafe::open_parent_no_links(dir).ok()?;
    parent.dir(&name).ok()
}

/// Image files (by name) directly in `dir`, with their modification times. Links and
/// folders are left out.
pub fn images_in(profile: &Profile, dir: &Path) -> Vec<(PathBuf, Option<SystemTime>)> {
    images_in_checked(profile, dir).0
}

/// [`images_in`], and the image files refused with why: run elevated, a file the folder's owner
/// could not read themselves ([`fsafe::user_could_read`]). The folder is listed through itself,
/// reached without following a link.
pub fn images_in_checked(
    profile: &Profile,
    dir: &Path,
) -> (Vec<(PathBuf, Option<SystemTime>)>, Skips) {
    let Some(folder) = open_folder(dir) else {
        return (Vec::new(), Vec::new());
    };
    let uid = if elevated() { folder.owner() } else { None };
    let mut images = Vec::new();
    let mut skipped = Vec::new();
    for name in folder.names() {
        let lower = name.to_ascii_lowercase();
        let is_image = lower
            .rsplit_once('.')
            .is_some_and(|(_, ext)| profile.screenshots.extensions.iter().any(|e| e == ext));
        if !is_image || folder.kind(&name) != Kind::File {
            continue;
        }
        let path = dir.join(&name);
        match folder.file_for_user(&name, uid, USER_FILES) {
            Ok(file) => images.push((path, file.modified)),
            Err(why) => skipped.push((path.display().to_string(), why.to_string())),
        }
    }
    images.sort_by_key(|(_, modified)| *modified);
    (images, skipped)
}

/// Images in the screenshot folders modified at or after `since`, oldest first.
pub fn recent(
    profile: &Profile,
    os: TargetOs,
    sysroot: &Path,
    live: bool,
    since: SystemTime,
) -> Vec<PathBuf> {
    recent_checked(profile, os, sysroot, live, since).0
}

/// [`recent`], and the folders and files refused on the way, with why (for the manifest).
pub fn recent_checked(
    profile: &Profile,
    os: TargetOs,
    sysroot: &Path,
    live: bool,
    since: SystemTime,
) -> (Vec<PathBuf>, Skips) {
    let (dirs, mut skipped) = folders_checked(profile, os, sysroot, live);
    let mut found: Vec<(PathBuf, Option<SystemTime>)> = Vec::new();
    for dir in &dirs {
        let (images, refused) = images_in_checked(profile, dir);
        found.extend(
            images
                .into_iter()
                .filter(|(_, modified)| modified.is_some_and(|m| m >= since)),
        );
        skipped.extend(refused);
    }
    found.sort_by_key(|(_, modified)| *modified);
    (found.into_iter().map(|(path, _)| path).collect(), skipped)
}

/// `XDG_PICTURES_DIR="$HOME/Pictures"` from a user-dirs file, as a system path inside `home`.
fn xdg_pictures_dir(text: &str, home: &str) -> Option<String> {
    let value = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("XDG_PICTURES_DIR="))
        .next_back()?
        .trim()
        .trim_matches('"');
    let path = match value.strip_prefix("$HOME") {
        Some(rest) => format!("{home}{rest}"),
        None => value.to_string(),
    };
    inside_home(path, home)
}

/// The screencapture preferences as XML: `text` as read, or the file at `path` converted by
/// `plutil` on a live Mac (the file is usually a binary plist).
fn screencapture_xml(text: String, path: &Path, live: bool) -> Option<String> {
    if text.trim_start().starts_with("<?xml") {
        return Some(text);
    }
    if cfg!(target_os = "macos") && live {
        let output = std::process::Command::new("/usr/bin/plutil")
            .args(["-convert", "xml1", "-o", "-"])
            .arg(path)
            .output()
            .ok()?;
        return output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned());
    }
    None
}

/// The `location` key of an XML screencapture plist, as a system path inside `home`.
fn screencapture_location(xml: &str, home: &str) -> Option<String> {
    let after_key = &xml[xml.find("<key>location</key>")? + "<key>location</key>".len()..];
    let start = after_key.find("<string>")? + "<string>".len();
    let value = after_key[start..].split("</string>").next()?.trim();
    let path = match value.strip_prefix('~') {
        Some(rest) => format!("{home}{rest}"),
        None => value.to_string(),
    };
    inside_home(path.trim_end_matches('/').to_string(), home)
}

/// A user's setting may name any folder; a root-run collector only follows it within the home.
fn inside_home(path: String, home: &str) -> Option<String> {
    let inside = path == home || path.starts_with(&format!("{home}/"));
    (inside && !path.split(['/', '\\']).any(|c| c == "..")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_settings_name_folders_inside_the_home_only() {
        let xdg = "# written by xdg-user-dirs-update\nXDG_PICTURES_DIR=\"$HOME/Bilder\"\n";
        assert_eq!(
            xdg_pictures_dir(xdg, "/home/ana").as_deref(),
            Some("/home/ana/Bilder")
        );
        assert_eq!(
            xdg_pictures_dir("XDG_PICTURES_DIR=\"/etc\"", "/home/ana"),
            None
        );
        assert_eq!(
            xdg_pictures_dir("XDG_PICTURES_DIR=\"$HOME/../bob\"", "/home/ana"),
            None
        );
        let plist = "<?xml version=\"1.0\"?><plist><dict><key>location</key>\
            <string>~/Pictures/Shots/</string></dict></plist>";
        assert_eq!(
            screencapture_location(plist, "/Users/ana").as_deref(),
            Some("/Users/ana/Pictures/Shots")
        );
    }

    #[test]
    fn formats_are_known_by_their_magic_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpeg"));
        assert_eq!(sniff(b"GIF89a..."), Some("gif"));
        assert_eq!(sniff(b"BM\0\0\0\0\0\0\0\0\0\0\0\0"), Some("bmp"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(sniff(b"II*\0...."), Some("tiff"));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic...."), Some("heic"));
        assert_eq!(sniff(b"just text named screenshot.png"), None);
        assert_eq!(sniff(b""), None);
    }
}
