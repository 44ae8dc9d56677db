//! Ctrl-C leaves nothing behind: files being written register here and are removed if the
//! run is interrupted before they are complete.
//!
//! While `record` records, the first Ctrl-C (or SIGTERM on Unix) only ends the recording, which
//! then goes on to the bundle; a second one aborts like anywhere else.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static RECORDING: AtomicBool = AtomicBool::new(false);
static STOP_RECORDING: AtomicBool = AtomicBool::new(false);

/// Exit status of a run ended by Ctrl-C (128 + SIGINT, the shell convention).
pub const INTERRUPTED_EXIT: i32 = 130;

/// Installs the handler once per process. Later calls do nothing.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if RECORDING.swap(false, Ordering::SeqCst) {
            STOP_RECORDING.store(true, Ordering::SeqCst);
            eprintln!("\njcdiag: recording stopped; press Ctrl-C again to abort without a bundle");
            return;
        }
        remove_all();
        eprintln!("jcdiag: interrupted; nothing was kept");
        std::process::exit(INTERRUPTED_EXIT);
    });
}

/// From now on the first Ctrl-C ends the recording instead of the run.
pub fn begin_recording() {
    STOP_RECORDING.store(false, Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
}

/// Whether Ctrl-C asked the recording to end.
pub fn recording_stop_requested() -> bool {
    STOP_RECORDING.load(Ordering::SeqCst)
}

/// The recording is over: Ctrl-C aborts again.
pub fn end_recording() {
    RECORDING.store(false, Ordering::SeqCst);
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
