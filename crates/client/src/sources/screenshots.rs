//! Screenshots the user names: recognised by their content, stored once each.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::sources::logs;
use jcdiag_fs::fsafe::{self, Refusal, Trust};
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

/// Reads and checks one screenshot. Links are refused like everywhere else; ownership is
/// not checked because the user's own files are meant here.
pub fn read(path: &Path, cap: u64) -> Result<Screenshot, ScreenshotError> {
    let mut file = match fsafe::open_untrusted(
        path,
        Trust {
            require_root_owner: false,
        },
    ) {
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

/// The screenshot folders of a layout that exist below `sysroot`: the profile's fixed folders,
/// each home's XDG pictures folder (Linux) and screencapture location (macOS). A folder named
/// by a user's settings is used only when it lies inside that user's home.
pub fn folders(profile: &Profile, os: TargetOs, sysroot: &Path, live: bool) -> Vec<PathBuf> {
    let layout = profile.screenshot_layout(os);
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut add = |path: PathBuf| {
        if fsafe::is_real_dir(&path) && !dirs.contains(&path) {
            dirs.push(path);
        }
    };
    for pattern in &layout.folders {
        for (path, _) in logs::find_dirs(os, sysroot, pattern) {
            add(path);
        }
    }
    for pattern in &layout.homes {
        for (home, home_system) in logs::find_dirs(os, sysroot, pattern) {
            if let (Some(file), Some(default)) =
                (&layout.xdg_user_dirs, &layout.xdg_pictures_default)
            {
                let named = read_small(&home.join(file))
                    .and_then(|text| xdg_pictures_dir(&text, &home_system));
                let dir = named.unwrap_or_else(|| format!("{home_system}/{default}"));
                add(os.resolve(sysroot, &dir));
            }
            if let (Some(plist), Some(default)) =
                (&layout.screencapture_plist, &layout.screencapture_default)
            {
                let named = screencapture_xml(&home.join(plist), live)
                    .and_then(|xml| screencapture_location(&xml, &home_system));
                let dir = named.unwrap_or_else(|| format!("{home_system}/{default}"));
                add(os.resolve(sysroot, &dir));
            }
        }
    }
    dirs
}

/// Image files (by name) directly in `dir`, with their modification times. Links and
/// folders are left out.
pub fn images_in(profile: &Profile, dir: &Path) -> Vec<(PathBuf, Option<SystemTime>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut images: Vec<(PathBuf, Option<SystemTime>)> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            name.rsplit_once('.')
                .is_some_and(|(_, ext)| profile.screenshots.extensions.iter().any(|e| e == ext))
        })
        .filter_map(|entry| {
            let meta = std::fs::symlink_metadata(entry.path()).ok()?;
            meta.is_file().then(|| (entry.path(), meta.modified().ok()))
        })
        .collect();
    images.sort_by_key(|(_, modified)| *modified);
    images
}

/// Images in the screenshot folders modified at or after `since`, oldest first.
pub fn recent(
    profile: &Profile,
    os: TargetOs,
    sysroot: &Path,
    live: bool,
    since: SystemTime,
) -> Vec<PathBuf> {
    let mut found: Vec<(PathBuf, Option<SystemTime>)> = folders(profile, os, sysroot, live)
        .iter()
        .flat_map(|dir| images_in(profile, dir))
        .filter(|(_, modified)| modified.is_some_and(|m| m >= since))
        .collect();
    found.sort_by_key(|(_, modified)| *modified);
    found.into_iter().map(|(path, _)| path).collect()
}

fn read_small(path: &Path) -> Option<String> {
    let mut file = fsafe::open_untrusted(path, USER_FILES).ok()?;
    let (bytes, cut) = file.read_tail(64 << 10).ok()?;
    (!cut).then(|| String::from_utf8_lossy(&bytes).into_owned())
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

/// The screencapture preferences as XML: read as is, or converted by `plutil` on a live Mac
/// (the file is usually a binary plist).
fn screencapture_xml(path: &Path, live: bool) -> Option<String> {
    let text = read_small(path)?;
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
