//! Ctrl-C leaves nothing behind: files being written register here and are removed if the
//! run is interrupted before they are complete.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Exit status of a run ended by Ctrl-C (128 + SIGINT, the shell convention).
pub const INTERRUPTED_EXIT: i32 = 130;

/// Installs the handler once per process. Later calls do nothing.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        remove_all();
        eprintln!("jcdiag: interrupted; nothing was kept");
        std::process::exit(INTERRUPTED_EXIT);
    });
}

pub fn register(path: &Path) {
    IN_PROGRESS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_path_buf());
}

pub fn unregister(path: &Path) {
    IN_PROGRESS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| p != path);
}

fn remove_all() {
    for path in IN_PROGRESS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
    {
        let _ = std::fs::remove_file(&path);
    }
}
