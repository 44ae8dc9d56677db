//! Screenshots the user names: recognised by their content, stored once each.

use std::path::{Path, PathBuf};

use crate::fsafe::{self, Refusal, Trust};

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

/// A screenshot read and checked.
#[derive(Debug)]
pub struct Screenshot {
    pub source: PathBuf,
    pub format: &'static str,
    pub bytes: Vec<u8>,
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

#[cfg(test)]
mod tests {
    use super::sniff;

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
