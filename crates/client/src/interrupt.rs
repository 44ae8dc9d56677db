//! Ctrl-C leaves nothing behind: files being written register here and are removed if the
//! run is interrupted before they are complete.
//!
//! While `record` records, the first Ctrl-C (or SIGTERM on Unix) only ends the recording, which
//! then goes on to the bundle; a second one aborts like anywhere else.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The files being written; `None` once an abort has begun, so a file registered after that is
/// removed by its own thread (which then waits for the exit) instead of being missed.
static IN_PROGRESS: Mutex<Option<Vec<PathBuf>>> = Mutex::new(Some(Vec::new()));
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

/// While this guard lives, the first Ctrl-C ends the recording instead of the run; once it is
/// dropped, Ctrl-C aborts again.
#[must_use = "Ctrl-C ends the recording only while the guard lives"]
#[derive(Debug)]
pub struct RecordingWindow(());

/// From now on, until the guard is dropped, the first Ctrl-C ends the recording.
pub fn begin_recording() -> RecordingWindow {
    STOP_RECORDING.store(false, Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
    RecordingWindow(())
}

impl RecordingWindow {
    /// Whether Ctrl-C asked the recording to end.
    pub fn stop_requested(&self) -> bool {
        STOP_RECORDING.load(Ordering::SeqCst)
    }
}

impl Drop for RecordingWindow {
    fn drop(&mut self) {
        RECORDING.store(false, Ordering::SeqCst);
    }
}

/// A file being written: removed if the run is interrupted while this guard lives. Dropping the
/// guard (the file is complete, renamed or already removed) takes it off the list.
#[must_use = "the file is only protected while the guard lives"]
#[derive(Debug)]
pub struct InProgress {
    path: PathBuf,
}

impl InProgress {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes `path` if Ctrl-C ends the run before the returned guard is dropped.
pub fn remove_if_interrupted(path: &Path) -> InProgress {
    let mut in_progress = IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner());
    match in_progress.as_mut() {
        Some(paths) => paths.push(path.to_path_buf()),
        None => {
            // Ctrl-C came between the file's creation and this call: the handler is exiting.
            let _ = std::fs::remove_file(path);
            drop(in_progress);
            loop {
                std::thread::park();
            }
        }
    }
    InProgress {
        path: path.to_path_buf(),
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if let Some(paths) = IN_PROGRESS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            paths.retain(|p| p != &self.path);
        }
    }
}

/// Removes every registered file and closes the list, so that none is registered after.
fn remove_all() {
    let taken = IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).take();
    for path in taken.into_iter().flatten() {
        let _ = std::fs::remove_file(&path);
    }
}
