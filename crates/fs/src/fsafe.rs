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
    /// A folder on the way (named from the root) is a link or junction.
    LinkedFolder(String),
    /// Read for a user's folder: the user (this uid) could not have read it.
    UserCouldNotRead(u32),
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
            Refusal::LinkedFolder(folder) => write!(
                f,
                "the folder {folder} on the way is a symbolic link or junction: links are never followed"
            ),
            Refusal::UserCouldNotRead(uid) => write!(
                f,
                "the user (uid {uid}) whose folder this is could not read it: not read for them"
            ),
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

// ---------------------------------------------------------------------------------------------
// Walking a path one folder at a time, without following a link at any folder on the way.
//
// `open_untrusted` refuses a link at the file itself, but the OS resolves every folder before
// it: a planted link at `/var/log/jumpcloud` or `~/Pictures` would be followed. These functions
// start at a root the admin named (the sysroot: opened as the OS resolves it, since the admin
// chose it, links included) and enter each folder below it with
// `openat(O_NOFOLLOW | O_DIRECTORY)` (Unix) or after checking it is no reparse point (Windows),
// so a name swapped for a link while jcdiag runs is refused too (Unix; on Windows each folder is
// checked, then entered by path).

/// What a name in a folder is, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Missing,
    Folder,
    File,
    /// A symbolic link.
    Link,
    /// A Windows junction or other reparse point.
    Reparse,
    Other,
}

/// Whether `name` may be one component of a path: no empty name, `.`, `..` or separator, and on
/// Windows no `:` (an alternate data stream or a drive).
pub fn valid_component(name: &str) -> bool {
    let windows_only = cfg!(windows) && name.contains(':');
    !(name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || windows_only)
}

/// The rule for entering one folder of a path, the same on every platform: a link or reparse
/// point is refused, a missing name or a file is "not found".
pub fn folder_step(name: &str, kind: Kind) -> Result<(), Refusal> {
    if !valid_component(name) {
        return Err(Refusal::Unreadable(format!("`{name}` is not a plain name")));
    }
    match kind {
        Kind::Folder => Ok(()),
        Kind::Link => Err(Refusal::SymbolicLink),
        Kind::Reparse => Err(Refusal::ReparsePoint),
        Kind::Missing | Kind::File | Kind::Other => Err(Refusal::NotFound),
    }
}

/// Checks every folder of `folders` in turn with [`folder_step`], `kind_of` telling what the
/// path so far is. A link or reparse point on the way becomes [`Refusal::LinkedFolder`] naming
/// it. This is the whole of the Windows walk (tested on constructed paths: junctions cannot be
/// made under wine); Unix walks the same steps on open folder descriptors.
pub fn walk_folders(
    folders: &[&str],
    mut kind_of: impl FnMut(&[&str]) -> Kind,
) -> Result<(), Refusal> {
    for depth in 0..folders.len() {
        let so_far = &folders[..=depth];
        folder_step(folders[depth], kind_of(so_far)).map_err(|why| on_the_way(so_far, why))?;
    }
    Ok(())
}

fn on_the_way(so_far: &[&str], why: Refusal) -> Refusal {
    match why {
        Refusal::SymbolicLink | Refusal::ReparsePoint => Refusal::LinkedFolder(so_far.join("/")),
        other => other,
    }
}

/// Whether the user `uid` could read a file (or list and enter a folder) of this owner and mode,
/// by the owner and "other" permission bits. Group permissions are not counted: jcdiag does not
/// resolve group membership, so a file only a group may read is treated as unreadable (refused,
/// never read in excess). Owners other than the user and root are refused: it is not theirs.
pub fn user_could_read(uid: u32, owner: u32, mode: u32, folder: bool) -> bool {
    let (read, enter) = if owner == uid {
        (0o400, 0o100)
    } else if owner == 0 {
        (0o004, 0o001)
    } else {
        return false;
    };
    mode & read != 0 && (!folder || mode & enter != 0)
}

/// A folder opened without following links, below a root the admin named.
#[derive(Debug)]
pub struct SafeDir {
    path: std::path::PathBuf,
    /// The folders from the root, for messages.
    below: Vec<String>,
    handle: platform_walk::Handle,
}

impl SafeDir {
    /// Opens the root itself as the OS resolves it: the admin named it (`--sysroot`, `/`, `C:\`),
    /// so a link there is their choice. Everything below is walked with [`SafeDir::dir`].
    pub fn root(root: &Path) -> Result<SafeDir, Refusal> {
        platform_walk::open_root(root).map(|handle| SafeDir {
            path: root.to_path_buf(),
            below: Vec::new(),
            handle,
        })
    }

    /// The real path of this folder, for display and for OS calls that need one.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Enters the folder `name`, refusing a link, a reparse point or anything but a folder.
    pub fn dir(&self, name: &str) -> Result<SafeDir, Refusal> {
        if !valid_component(name) {
            return Err(Refusal::Unreadable(format!("`{name}` is not a plain name")));
        }
        if self.is_macos_system_link(name) {
            return self.dir("private")?.dir(name);
        }
        let mut below = self.below.clone();
        below.push(name.to_string());
        let path = self.path.join(name);
        platform_walk::open_dir(self, name).map(|handle| SafeDir {
            path,
            below,
            handle,
        })
    }

    /// macOS's own top-level links `var`, `etc` and `tmp` → `private/…` (made by the OS on a
    /// volume only root can write): walked as `private/…`, at a root only.
    fn is_macos_system_link(&self, name: &str) -> bool {
        cfg!(target_os = "macos")
            && self.below.is_empty()
            && ["var", "etc", "tmp"].contains(&name)
            && self.kind(name) == Kind::Link
            && platform_walk::link_target(self, name).is_some_and(|to| {
                to == format!("private/{name}") || to == format!("/private/{name}")
            })
    }

    /// Enters each folder of `names` in turn; a link among them is [`Refusal::LinkedFolder`].
    pub fn walk(&self, names: &[&str]) -> Result<SafeDir, Refusal> {
        let mut here: Option<SafeDir> = None;
        for name in names {
            let next = here.as_ref().unwrap_or(self).dir(name);
            here = Some(next.map_err(|why| {
                let mut so_far: Vec<&str> = self.below.iter().map(String::as_str).collect();
                if let Some(at) = &here {
                    so_far = at.below.iter().map(String::as_str).collect();
                }
                so_far.push(name);
                on_the_way(&so_far, why)
            })?);
        }
        match here {
            Some(dir) => Ok(dir),
            None => Ok(SafeDir {
                path: self.path.clone(),
                below: self.below.clone(),
                handle: platform_walk::duplicate(&self.handle)?,
            }),
        }
    }

    /// What `name` is in this folder, without following it.
    pub fn kind(&self, name: &str) -> Kind {
        if !valid_component(name) {
            return Kind::Missing;
        }
        platform_walk::kind(self, name)
    }

    /// The names in this folder (not `.` and `..`), read through the open folder. Names that are
    /// not UTF-8 are left out: no profile path or image extension matches them.
    pub fn names(&self) -> Vec<String> {
        platform_walk::names(self)
    }

    /// Opens the file `name` here with [`open_untrusted`]'s checks, without following a link.
    pub fn file(&self, name: &str, trust: Trust) -> Result<OpenedFile, Refusal> {
        if !valid_component(name) {
            return Err(Refusal::NotFound);
        }
        platform_walk::open_file(self, name, trust)
    }

    /// The owner of this folder (Unix), for reading a user's folder with that user's rights.
    pub fn owner(&self) -> Option<u32> {
        platform_walk::owner_and_mode(self).map(|(owner, _)| owner)
    }

    /// Whether the user `uid` could list and enter this folder ([`user_could_read`]); always
    /// true where owners are not known (Windows).
    pub fn user_could_enter(&self, uid: Option<u32>) -> bool {
        match (uid, platform_walk::owner_and_mode(self)) {
            (Some(uid), Some((owner, mode))) => user_could_read(uid, owner, mode, true),
            _ => true,
        }
    }

    /// Opens the file `name` when the user `uid` could read it themselves (Unix; the check is
    /// made on the open handle), else [`Refusal::UserCouldNotRead`].
    pub fn file_for_user(
        &self,
        name: &str,
        uid: Option<u32>,
        trust: Trust,
    ) -> Result<OpenedFile, Refusal> {
        let opened = self.file(name, trust)?;
        #[cfg(unix)]
        if let Some(uid) = uid {
            use std::os::unix::fs::MetadataExt;
            let meta = opened
                .file
                .metadata()
                .map_err(|e| Refusal::Unreadable(e.to_string()))?;
            if !user_could_read(uid, meta.uid(), meta.mode(), false) {
                return Err(Refusal::UserCouldNotRead(uid));
            }
        }
        #[cfg(not(unix))]
        let _ = uid;
        Ok(opened)
    }
}

/// Opens `components` (a file) below `root`, following no link at any folder on the way nor at
/// the file: see [`SafeDir`].
pub fn open_below(root: &Path, components: &[&str], trust: Trust) -> Result<OpenedFile, Refusal> {
    let Some((name, folders)) = components.split_last() else {
        return Err(Refusal::NotRegular("directory"));
    };
    SafeDir::root(root)?.walk(folders)?.file(name, trust)
}

/// Opens the folder `components` below `root`, following no link on the way.
pub fn open_dir_below(root: &Path, components: &[&str]) -> Result<SafeDir, Refusal> {
    SafeDir::root(root)?.walk(components)
}

/// Opens the folder holding `path` and names the file in it, walking from the file system root
/// (or, for a relative path, the current folder) without following a link on the way (on macOS
/// the system's own `/var`, `/etc`, `/tmp` are walked as their `/private` folders).
pub fn open_parent_no_links(path: &Path) -> Result<(SafeDir, String), Refusal> {
    use std::path::Component;
    let mut start = std::path::PathBuf::new();
    let mut names: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => start.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(Refusal::Unreadable("`..` in the path".into()));
            }
            Component::Normal(name) => names.push(
                name.to_str()
                    .ok_or_else(|| Refusal::Unreadable("the path is not UTF-8".into()))?
                    .to_string(),
            ),
        }
    }
    if start.as_os_str().is_empty() {
        start.push(".");
    }
    let Some(file) = names.pop() else {
        return Err(Refusal::NotRegular("directory"));
    };
    let folders: Vec<&str> = names.iter().map(String::as_str).collect();
    let dir = SafeDir::root(&start)?.walk(&folders)?;
    Ok((dir, file))
}

#[cfg(unix)]
mod platform_walk {
    use super::{Kind, OpenedFile, Refusal, SafeDir, Trust};
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use std::fs::File;
    use std::io;
    use std::os::fd::OwnedFd;
    use std::path::Path;

    pub type Handle = OwnedFd;

    pub fn duplicate(fd: &OwnedFd) -> Result<OwnedFd, Refusal> {
        fd.try_clone()
            .map_err(|e| Refusal::Unreadable(e.to_string()))
    }

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::CLOEXEC)
        .union(OFlags::NOCTTY);

    fn refusal(e: rustix::io::Errno) -> Refusal {
        match e {
            rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => Refusal::NotFound,
            rustix::io::Errno::LOOP => Refusal::SymbolicLink,
            e => Refusal::Unreadable(io::Error::from(e).to_string()),
        }
    }

    pub fn open_root(root: &Path) -> Result<OwnedFd, Refusal> {
        rustix::fs::open(root, DIR_FLAGS, Mode::empty()).map_err(refusal)
    }

    pub fn open_dir(dir: &SafeDir, name: &str) -> Result<OwnedFd, Refusal> {
        match rustix::fs::openat(
            &dir.handle,
            name,
            DIR_FLAGS | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(fd),
            // O_DIRECTORY may report a link as "not a folder": say which it is.
            Err(e) => Err(match kind(dir, name) {
                Kind::Link => Refusal::SymbolicLink,
                Kind::Missing | Kind::File | Kind::Other => Refusal::NotFound,
                _ => refusal(e),
            }),
        }
    }

    pub fn kind(dir: &SafeDir, name: &str) -> Kind {
        match rustix::fs::statat(&dir.handle, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => match FileType::from_raw_mode(stat.st_mode as _) {
                FileType::Directory => Kind::Folder,
                FileType::RegularFile => Kind::File,
                FileType::Symlink => Kind::Link,
                _ => Kind::Other,
            },
            Err(_) => Kind::Missing,
        }
    }

    pub fn names(dir: &SafeDir) -> Vec<String> {
        let Ok(listing) = rustix::fs::Dir::read_from(&dir.handle) else {
            return Vec::new();
        };
        listing
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().ok().map(str::to_string))
            .filter(|name| name != "." && name != "..")
            .collect()
    }

    pub fn open_file(dir: &SafeDir, name: &str, trust: Trust) -> Result<OpenedFile, Refusal> {
        // Look before opening: opening a device or FIFO can itself have effects or block.
        let stat =
            rustix::fs::statat(&dir.handle, name, AtFlags::SYMLINK_NOFOLLOW).map_err(refusal)?;
        match FileType::from_raw_mode(stat.st_mode as _) {
            FileType::RegularFile => {}
            FileType::Symlink => return Err(Refusal::SymbolicLink),
            FileType::Directory => return Err(Refusal::NotRegular("directory")),
            FileType::Fifo => return Err(Refusal::NotRegular("FIFO")),
            FileType::Socket => return Err(Refusal::NotRegular("socket")),
            FileType::CharacterDevice | FileType::BlockDevice => {
                return Err(Refusal::NotRegular("device"));
            }
            _ => return Err(Refusal::NotRegular("special file")),
        }
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let file = File::from(
            rustix::fs::openat(&dir.handle, name, flags, Mode::empty()).map_err(refusal)?,
        );
        // Check again on the handle itself: the name may have been swapped since the look.
        let meta = file
            .metadata()
            .map_err(|e| Refusal::Unreadable(e.to_string()))?;
        super::platform::check_handle(&file, &meta, trust)?;
        Ok(OpenedFile {
            len: meta.len(),
            modified: meta.modified().ok(),
            file,
        })
    }

    pub fn link_target(dir: &SafeDir, name: &str) -> Option<String> {
        let target = rustix::fs::readlinkat(&dir.handle, name, Vec::new()).ok()?;
        target.into_string().ok()
    }

    pub fn owner_and_mode(dir: &SafeDir) -> Option<(u32, u32)> {
        let stat = rustix::fs::fstat(&dir.handle).ok()?;
        Some((stat.st_uid, stat.st_mode as u32))
    }
}

#[cfg(not(unix))]
mod platform_walk {
    use super::{Kind, OpenedFile, Refusal, SafeDir, Trust};
    use std::path::Path;

    pub type Handle = ();

    pub fn duplicate(_handle: &()) -> Result<(), Refusal> {
        Ok(())
    }

    pub fn open_root(root: &Path) -> Result<(), Refusal> {
        match std::fs::metadata(root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(Refusal::NotFound),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Refusal::NotFound),
            Err(e) => Err(Refusal::Unreadable(e.to_string())),
        }
    }

    fn kind_of_path(path: &Path) -> Kind {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Kind::Missing;
        };
        if super::platform::precheck_reparse(&meta).is_err() {
            Kind::Reparse
        } else if meta.file_type().is_symlink() {
            Kind::Link
        } else if meta.is_dir() {
            Kind::Folder
        } else if meta.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }

    pub fn open_dir(dir: &SafeDir, name: &str) -> Result<(), Refusal> {
        super::folder_step(name, kind_of_path(&dir.path.join(name)))
    }

    pub fn kind(dir: &SafeDir, name: &str) -> Kind {
        kind_of_path(&dir.path.join(name))
    }

    pub fn names(dir: &SafeDir) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&dir.path) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()
    }

    pub fn open_file(dir: &SafeDir, name: &str, trust: Trust) -> Result<OpenedFile, Refusal> {
        super::open_untrusted(&dir.path.join(name), trust)
    }

    pub fn link_target(_dir: &SafeDir, _name: &str) -> Option<String> {
        None
    }

    pub fn owner_and_mode(_dir: &SafeDir) -> Option<(u32, u32)> {
        None
    }
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

/// Root on Unix; a member of Administrators with an elevated token on Windows.
pub fn is_elevated() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(windows)]
    {
        // SAFETY: IsUserAnAdmin takes no arguments and only reads the process token.
        unsafe { windows_sys::Win32::UI::Shell::IsUserAnAdmin() != 0 }
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

    /// The Windows walk on constructed paths: junctions cannot be made under wine, so the
    /// component logic is checked with the kinds a real `C:\Users\ana\...` would report.
    #[test]
    fn a_junction_or_link_anywhere_on_a_windows_path_is_refused_by_name() {
        let path = r"C:\Users\ana\Pictures\Screenshots";
        let folders: Vec<&str> = path.strip_prefix(r"C:\").unwrap().split('\\').collect();
        fn layout(junction: &'static str, kind: Kind) -> impl FnMut(&[&str]) -> Kind {
            move |so_far| {
                if so_far.join("\\") == junction {
                    kind
                } else {
                    Kind::Folder
                }
            }
        }
        assert_eq!(walk_folders(&folders, |_| Kind::Folder), Ok(()));
        assert_eq!(
            walk_folders(&folders, layout(r"Users\ana\Pictures", Kind::Reparse)),
            Err(Refusal::LinkedFolder("Users/ana/Pictures".into()))
        );
        assert_eq!(
            walk_folders(&folders, layout("Users", Kind::Link)),
            Err(Refusal::LinkedFolder("Users".into()))
        );
        assert_eq!(
            walk_folders(&folders, layout(r"Users\ana", Kind::File)),
            Err(Refusal::NotFound)
        );
        for bad in ["..", ".", "", r"a\b", "a/b"] {
            assert!(walk_folders(&[bad], |_| Kind::Folder).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_user_reads_what_they_own_or_what_root_lets_everyone_read() {
        assert!(user_could_read(1000, 1000, 0o600, false));
        assert!(!user_could_read(1000, 1000, 0o200, false));
        assert!(user_could_read(1000, 0, 0o644, false));
        assert!(!user_could_read(1000, 0, 0o640, false));
        assert!(!user_could_read(1000, 1001, 0o644, false));
        assert!(user_could_read(1000, 1000, 0o700, true));
        assert!(!user_could_read(1000, 0, 0o700, true));
        assert!(!user_could_read(1000, 0, 0o644, true));
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_folder_below_the_root_is_refused_and_the_root_itself_may_be_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("log")).unwrap();
        std::fs::write(real.join("log/agent.log"), "hello").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("agent.log"), "secret").unwrap();
        std::os::unix::fs::symlink(&elsewhere, real.join("linked")).unwrap();
        let root_link = dir.path().join("root-link");
        std::os::unix::fs::symlink(&real, &root_link).unwrap();

        let mut opened = open_below(&root_link, &["log", "agent.log"], TRUST).unwrap();
        assert_eq!(opened.read_tail(100).unwrap().0, b"hello");
        assert_eq!(
            open_below(&real, &["linked", "agent.log"], TRUST).unwrap_err(),
            Refusal::LinkedFolder("linked".into())
        );
        assert_eq!(
            open_below(&real, &["missing", "agent.log"], TRUST).unwrap_err(),
            Refusal::NotFound
        );
        let root = SafeDir::root(&real).unwrap();
        assert_eq!(root.kind("linked"), Kind::Link);
        let mut names = root.names();
        names.sort();
        assert_eq!(names, ["linked", "log"]);
        assert_eq!(root.dir("linked").unwrap_err(), Refusal::SymbolicLink);
    }
}
