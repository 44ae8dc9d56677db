//! The data directory's layout and the few durable file operations the intake needs.
//!
//! Everything the intake keeps lives under one folder (`--data DIR`):
//!
//! ```text
//! DIR/intake.sqlite                       cases, tokens, uploads, bundles, escalations
//! DIR/uploads/<upload_id>.part            bytes of an upload in progress (committed prefix)
//! DIR/uploads/<upload_id>.<nonce>.chunk   one PATCH body being received (deleted afterwards)
//! DIR/bundles/<case_id>/<sha256>.zip      accepted bundles
//! ```
//!
//! Folders are created 0700 and files 0600 on unix: bundles hold customer logs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ids::{CaseId, UploadId};

/// Paths inside the data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Creates the folder and its `uploads/` and `bundles/` subfolders if needed.
    pub fn create(root: &Path) -> io::Result<Self> {
        let dir = DataDir {
            root: root.to_path_buf(),
        };
        create_private_dir_all(&dir.root)?;
        create_private_dir_all(&dir.uploads())?;
        create_private_dir_all(&dir.bundles())?;
        Ok(dir)
    }

    /// The paths of an existing data folder, creating nothing (for reading commands).
    pub fn existing(root: &Path) -> Self {
        DataDir {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("intake.sqlite")
    }

    pub fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    pub fn bundles(&self) -> PathBuf {
        self.root.join("bundles")
    }

    /// The committed bytes of an upload. Only `UploadId`s (32 hex digits) reach here,
    /// so the name can never escape `uploads/`.
    pub fn part(&self, id: &UploadId) -> PathBuf {
        self.uploads().join(format!("{id}.part"))
    }

    /// A fresh file name for one PATCH body; the nonce lets two PATCHes race safely.
    pub fn chunk(&self, id: &UploadId, nonce: &str) -> PathBuf {
        self.uploads().join(format!("{id}.{nonce}.chunk"))
    }

    pub fn case_bundles(&self, case: CaseId) -> PathBuf {
        self.bundles().join(case.to_string())
    }

    pub fn bundle(&self, case: CaseId, sha256: &str) -> PathBuf {
        self.case_bundles(case).join(format!("{sha256}.zip"))
    }
}

/// `mkdir -p` with mode 0700 for every folder it creates.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Open options that create files 0600 on unix.
pub fn private_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))] // only unix has a mode to set
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Flushes a folder's entries (a rename or a new file) to disk. Without this a crash
/// right after `rename` may forget the rename even though the file's data is safe.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(path)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a folder as a file; NTFS journals renames itself.
        let _ = path;
        Ok(())
    }
}

/// Removes a file, treating "already gone" as success.
pub fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// SHA-256 of a whole file as lowercase hex, read in 64 KiB steps.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buf)?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}
