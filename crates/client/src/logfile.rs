//! jcdiag's own log: `<state dir>/log/jcdiag.log`, what happened in each run, for the admin
//! or MDM operator asking "did it run, and why did it fail?".
//!
//! What goes in: the command, collection totals (entries, bytes, redactions per kind),
//! each delivery attempt and its error, the outcome and exit code. What never goes in: flag
//! values (a `--token` would be one), the token itself, collected text. The folder is
//! owner-only like the rest of the state folder.
//!
//! Rotation happens when a run starts: a log over [`ROTATE_AT`] becomes `jcdiag.log.1`
//! (older ones shift up to `.3`, the oldest is dropped), so a machine keeps at most ~4 MiB.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Size at which a run starts a new log file.
pub const ROTATE_AT: u64 = 1 << 20;
/// Rotated files kept besides the current one.
const KEEP: u32 = 3;

/// Where the log of a state folder is.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("log").join("jcdiag.log")
}

/// Opens (rotating first if needed) the log of `state_dir` and sends `tracing` events at
/// `level` and above to it for the rest of the process. A log that cannot be opened is not an
/// error of the run: the caller gets the reason to show as a warning.
pub fn start(state_dir: &Path, level: tracing::Level) -> Result<PathBuf, io::Error> {
    let path = path(state_dir);
    let dir = path.parent().expect("the log has a folder");
    jcdiag_fs::fsafe::create_private_dir(dir)?;
    rotate(&path)?;
    let file = open_append(&path)?;
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .with_max_level(level)
        .finish();
    // A second start in one process (tests calling `app::run` twice) keeps the first log.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(path)
}

fn rotate(path: &Path) -> io::Result<()> {
    let size = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if size < ROTATE_AT {
        return Ok(());
    }
    let numbered = |n: u32| PathBuf::from(format!("{}.{n}", path.display()));
    let _ = std::fs::remove_file(numbered(KEEP));
    for n in (1..KEEP).rev() {
        let _ = std::fs::rename(numbered(n), numbered(n + 1));
    }
    std::fs::rename(path, numbered(1))
}

/// Appends to the log, creating it owner-only. A link in its place is refused, not followed.
fn open_append(path: &Path) -> io::Result<File> {
    jcdiag_fs::fsafe::open_private_append(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_log_is_rotated_and_at_most_three_old_ones_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = path(dir.path());
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        for round in 0..5u8 {
            std::fs::write(&log, vec![b'a' + round; ROTATE_AT as usize]).unwrap();
            rotate(&log).unwrap();
        }
        assert!(!log.exists());
        let first_byte = |n: u32| std::fs::read(format!("{}.{n}", log.display())).unwrap()[0];
        assert_eq!(
            [first_byte(1), first_byte(2), first_byte(3)],
            [b'e', b'd', b'c']
        );
        assert!(!PathBuf::from(format!("{}.4", log.display())).exists());
    }

    #[test]
    fn a_small_log_is_kept_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let log = path(dir.path());
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(&log, b"earlier run\n").unwrap();
        rotate(&log).unwrap();
        io::Write::write_all(&mut open_append(&log).unwrap(), b"this run\n").unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"earlier run\nthis run\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_in_place_of_the_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = path(dir.path());
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"x").unwrap();
        std::os::unix::fs::symlink(&target, &log).unwrap();
        assert!(open_append(&log).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
    }
}
