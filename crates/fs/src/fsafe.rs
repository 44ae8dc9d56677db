//! Opening files that other users may have planted, and creating files only we can read.
//!
//! jcdiag runs as root or SYSTEM and reads folders such as `/var/log` and `C:\Windows\Temp`
//! where anyone may create entries. A symbolic link named `jcagent.log` pointing at
//! `/etc/shadow` must not be followed, a FIFO must not block the run, and a hard link to a
//! root-only file must not be read through its second name. Every refusal carries a reason
//! that ends up in the manifest.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::SystemTime;

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    SymbolicLink,
    /// A Windows junction or other reparse point.
    ReparsePoint,
    NotRegular(&'static str),
    HardLinked(u64),
    NotOwnedByRoot(u32),
    Unreadable(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound => write!(f, "not found"),
            Refusal::SymbolicLink => write!(f, "is a symbolic link: links are never followed"),
            Refusal::ReparsePoint => write!(f, "is a junction or reparse point: never followed"),
            Refusal::NotRegular(kind) => write!(f, "is a {kind}, not a regular file"),
            Refusal::HardLinked(n) => {
                write!(
                    f,
                    "has {n} hard links: it may be another file under a planted name"
                )
            }
            Refusal::NotOwnedByRoot(uid) => {
                write!(
                    f,
                    "is owned by uid {uid}, not root: it may have been planted"
                )
            }
            Refusal::Unreadable(why) => write!(f, "cannot be read: {why}"),
        }
    }
}

/// What the caller trusts. Elevated runs insist on root ownership (Unix) because a file another
/// user owns under an agent log name is not the agent's.
#[derive(Debug, Clone, Copy)]
pub struct Trust {
    pub require_root_owner: bool,
}

/// An open regular file that passed every check.
#[derive(Debug)]
pub struct OpenedFile {
    pub file: File,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl OpenedFile {
    /// Reads at most `cap` bytes from the end of the file. When the file is longer, the first
    /// partial line is dropped so the kept text starts at a line boundary. Costs O(cap), not
    /// O(file size).
    pub fn read_tail(&mut self, cap: u64) -> io::Result<(Vec<u8>, bool)> {
        if self.len <= cap {
            let mut bytes = Vec::with_capacity(self.len as usize);
            (&mut self.file).take(cap).read_to_end(&mut bytes)?;
            return Ok((bytes, false));
        }
        self.file.seek(SeekFrom::Start(self.len - cap))?;
        let mut bytes = Vec::with_capacity(cap as usize);
        (&mut self.file).take(cap).read_to_end(&mut bytes)?;
        if let Some(newline) = memchr::memchr(b'\n', &bytes) {
            bytes.drain(..=newline);
        }
        Ok((bytes, true))
    }
}

/// Opens `path` for reading without following a link at the file itself, accepting only a
/// regular file with a single link (and, when asked, owned by root).
pub fn open_untrusted(path: &Path, trust: Trust) -> Result<OpenedFile, Refusal> {
    // Look before opening: opening a device or FIFO can itself have effects or block.
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Refusal::NotFound),
        Err(e) => return Err(Refusal::Unreadable(e.to_string())),
    };
    precheck(&meta)?;
    let file = platform::open_no_follow(path)?;
    // Check again on the handle itself: the name may have been swapped since the look.
    let meta = file
        .metadata()
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    platform::check_handle(&file, &meta, trust)?;
    Ok(OpenedFile {
        len: meta.len(),
        modified: meta.modified().ok(),
        file,
    })
}

fn precheck(meta: &std::fs::Metadata) -> Result<(), Refusal> {
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(Refusal::SymbolicLink);
    }
    platform::precheck_reparse(meta)?;
    if kind.is_dir() {
        return Err(Refusal::NotRegular("directory"));
    }
    if !kind.is_file() {
        return Err(Refusal::NotRegular(platform::special_kind(meta)));
    }
    Ok(())
}

/// Names a file across renames: device and inode (Unix), volume serial and file index (Windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId(pub u64, pub u64);

/// The identity of an open file.
pub fn identity(file: &File) -> io::Result<FileId> {
    platform::identity(file)
}

/// The identity of the file at `path` without opening it, where the OS gives it (Unix: from
/// `lstat`, so a link is never followed); `None` where a handle is needed (Windows).
pub fn identity_of_path(path: &Path) -> Option<FileId> {
    platform::identity_of_path(path)
}

/// Whether a directory may be descended into while expanding a `*` in a profile path.
pub fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.is_dir() && platform::precheck_reparse(&m).is_ok())
        .unwrap_or(false)
}

/// Creates a new file that only its owner can read or write, failing if the name exists.
/// The permission is set at creation, never by a later chmod.
pub fn create_private(path: &Path) -> io::Result<File> {
    platform::create_private(path)
}

/// Opens a file for appending, creating it owner-only if it does not exist; a link at the file
/// itself is not followed (Unix).
pub fn open_private_append(path: &Path) -> io::Result<File> {
    match create_private(path) {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let mut options = std::fs::OpenOptions::new();
            options.append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
            }
            options.open(path)
        }
        Err(e) => Err(e),
    }
}

/// Makes a directory (and its parents) that only the owner can enter.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    platform::create_private_dir(path)
}

/// Flushes a directory entry (after a rename) to disk where the OS allows it.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    platform::sync_dir(dir)
}

#[cfg(unix)]
mod platform {
    use super::{Refusal, Trust};
    use std::fs::{File, Metadata};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
    use std::path::Path;

    pub fn precheck_reparse(_meta: &Metadata) -> Result<(), Refusal> {
        Ok(())
    }

    pub fn special_kind(meta: &Metadata) -> &'static str {
        let t = meta.file_type();
        if t.is_fifo() {
            "FIFO"
        } else if t.is_socket() {
            "socket"
        } else if t.is_block_device() || t.is_char_device() {
            "device"
        } else {
            "special file"
        }
    }

    pub fn open_no_follow(path: &Path) -> Result<File, Refusal> {
        use rustix::fs::{Mode, OFlags};
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(File::from(fd)),
            Err(rustix::io::Errno::LOOP) => Err(Refusal::SymbolicLink),
            Err(rustix::io::Errno::NOENT) => Err(Refusal::NotFound),
            Err(e) => Err(Refusal::Unreadable(io::Error::from(e).to_string())),
        }
    }

    pub fn check_handle(_file: &File, meta: &Metadata, trust: Trust) -> Result<(), Refusal> {
        if !meta.file_type().is_file() {
            return Err(Refusal::NotRegular(if meta.is_dir() {
                "directory"
            } else {
                special_kind(meta)
            }));
        }
        if meta.nlink() > 1 {
            return Err(Refusal::HardLinked(meta.nlink()));
        }
        if trust.require_root_owner && meta.uid() != 0 {
            return Err(Refusal::NotOwnedByRoot(meta.uid()));
        }
        Ok(())
    }

    pub fn create_private(path: &Path) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
    }

    pub fn create_private_dir(path: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
    }

    pub fn sync_dir(dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    pub fn identity(file: &File) -> io::Result<super::FileId> {
        let meta = file.metadata()?;
        Ok(super::FileId(meta.dev(), meta.ino()))
    }

    pub fn identity_of_path(path: &Path) -> Option<super::FileId> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        meta.is_file()
            .then(|| super::FileId(meta.dev(), meta.ino()))
    }
}

#[cfg(windows)]
mod platform {
    use super::{Refusal, Trust};
    use std::fs::{File, Metadata};
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
    use std::os::windows::io::{AsRawHandle, FromRawHandle, RawHandle};
    use std::path::Path;
    use windows_sys::Win32::Foundation::{INVALID_HANDLE_VALUE, LocalFree};
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, CREATE_NEW, CreateDirectoryW, CreateFileW,
        FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_OPEN_REPARSE_POINT,
        GetFileInformationByHandle,
    };

    /// Owner, SYSTEM and Administrators get full access; the `P` flag blocks inherited entries.
    const OWNER_ONLY_SDDL: &str = "D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)";

    pub fn precheck_reparse(meta: &Metadata) -> Result<(), Refusal> {
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(Refusal::ReparsePoint);
        }
        Ok(())
    }

    pub fn special_kind(_meta: &Metadata) -> &'static str {
        "special file"
    }

    pub fn open_no_follow(path: &Path) -> Result<File, Refusal> {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Refusal::NotFound,
                _ => Refusal::Unreadable(e.to_string()),
            })
    }

    pub fn identity(file: &File) -> io::Result<super::FileId> {
        // SAFETY: the handle is valid for the life of `file`; the struct is plain data.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        if unsafe { GetFileInformationByHandle(file.as_raw_handle() as _, &mut info) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(super::FileId(
            u64::from(info.dwVolumeSerialNumber),
            (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        ))
    }

    pub fn identity_of_path(_path: &Path) -> Option<super::FileId> {
        None
    }

    pub fn check_handle(file: &File, meta: &Metadata, _trust: Trust) -> Result<(), Refusal> {
        precheck_reparse(meta)?;
        if !meta.is_file() {
            return Err(Refusal::NotRegular("directory"));
        }
        // SAFETY: the handle is valid for the life of `file`; the struct is plain data.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        let ok = unsafe { GetFileInformationByHandle(file.as_raw_handle() as _, &mut info) };
        if ok != 0 && info.nNumberOfLinks > 1 {
            return Err(Refusal::HardLinked(u64::from(info.nNumberOfLinks)));
        }
        Ok(())
    }

    fn wide(path: &Path) -> Vec<u16> {
        path.as_os_str().encode_wide().chain(Some(0)).collect()
    }

    /// Runs `f` with security attributes carrying the owner-only DACL.
    fn with_owner_only<T>(f: impl FnOnce(*const SECURITY_ATTRIBUTES) -> T) -> io::Result<T> {
        let sddl: Vec<u16> = OWNER_ONLY_SDDL.encode_utf16().chain(Some(0)).collect();
        let mut descriptor = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated string and out-pointer; freed with LocalFree below.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor,
            bInheritHandle: 0,
        };
        let result = f(&attributes);
        // SAFETY: allocated by the conversion above.
        unsafe { LocalFree(descriptor as _) };
        Ok(result)
    }

    pub fn create_private(path: &Path) -> io::Result<File> {
        let name = wide(path);
        let handle = with_owner_only(|attributes| unsafe {
            // SAFETY: valid path and attributes for the duration of the call.
            CreateFileW(
                name.as_ptr(),
                0x8000_0000 | 0x4000_0000, // GENERIC_READ | GENERIC_WRITE
                0,
                attributes,
                CREATE_NEW,
                FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                std::ptr::null_mut(),
            )
        })?;
        if handle == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh, owned, valid handle.
        Ok(unsafe { File::from_raw_handle(handle as RawHandle) })
    }

    pub fn create_private_dir(path: &Path) -> io::Result<()> {
        if path.is_dir() {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let name = wide(path);
        // SAFETY: valid path and attributes for the duration of the call.
        let ok =
            with_owner_only(|attributes| unsafe { CreateDirectoryW(name.as_ptr(), attributes) })?;
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn sync_dir(_dir: &Path) -> io::Result<()> {
        // NTFS journals renames; a directory cannot be opened for flushing without
        // backup privileges, so there is nothing to do here.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TRUST: Trust = Trust {
        require_root_owner: false,
    };

    #[test]
    fn tail_starts_at_a_line_boundary_and_keeps_the_newest_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut f = std::fs::File::create(&path).unwrap();
        for i in 0..1000 {
            writeln!(f, "line {i:04}").unwrap();
        }
        drop(f);
        let mut opened = open_untrusted(&path, TRUST).unwrap();
        let (tail, truncated) = opened.read_tail(25).unwrap();
        assert!(truncated);
        assert_eq!(String::from_utf8(tail).unwrap(), "line 0998\nline 0999\n");
    }

    #[test]
    fn a_short_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "one\ntwo").unwrap();
        let mut opened = open_untrusted(&path, TRUST).unwrap();
        assert_eq!(
            opened.read_tail(100).unwrap(),
            (b"one\ntwo".to_vec(), false)
        );
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            open_untrusted(dir.path(), TRUST).unwrap_err(),
            Refusal::NotRegular("directory")
        );
    }

    #[test]
    fn private_files_refuse_existing_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        create_private(&path).unwrap();
        assert!(create_private(&path).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_owner_only_from_creation() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        create_private(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
