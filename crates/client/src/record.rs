//! `jcdiag record`: captures what the agent writes to its logs while the user reproduces a
//! problem, and notices the screenshots taken meanwhile.
//!
//! Events (notify, on the logs' parent folders, non-recursive) or a polling timer only say
//! *when* to look; what is captured is decided the same way for both: every log file the
//! profile names is tracked by identity (device and inode, volume and file index), its open
//! handle is kept, and each look reads the bytes between the last offset and the end. So a log
//! renamed by rotation is drained through its handle before its successor is read, a
//! truncation (size below the offset, or different bytes just before it) restarts at 0, and a
//! log that appears during the window is read from its start. Logs that exist at the start are
//! read from their end: nothing written before the start is captured. Captured bytes are
//! spooled to owner-only temporary files, at most about twice the per-file cap each.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::sources::{logs, screenshots};
use jcdiag_fs::fsafe::{self, FileId, OpenedFile, Refusal, Trust};
use jcdiag_profile::Profile;
use jcdiag_profile::target::TargetOs;

/// How often `--poll` looks, and how often the event watcher looks anyway (a missed event, a
/// log folder that appears, new screenshots).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
const SAFETY_INTERVAL: Duration = Duration::from_secs(1);
/// Under a flood of events, looks are at least this far apart (they read everything anyway).
const MIN_SCAN_GAP: Duration = Duration::from_millis(20);
/// Bytes kept from before the offset to notice a truncation followed by new writes.
const TAIL_CHECK: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create a temporary file for the recording in {dir}: {source}")]
    Spool { dir: PathBuf, source: io::Error },
    #[error("cannot write the recording's temporary file: {0}")]
    SpoolWrite(io::Error),
}

/// What a recording needs to know.
pub struct Options<'a> {
    pub profile: &'a Profile,
    pub os: TargetOs,
    pub sysroot: PathBuf,
    /// The live system (no `--sysroot`): macOS screencapture settings may be asked of `plutil`.
    pub live: bool,
    pub trust: Trust,
    /// `--poll`: look every [`POLL_INTERVAL`] instead of waiting for events.
    pub poll: bool,
    /// Most bytes kept per log (the newest, like `collect`).
    pub per_file_cap: u64,
}

/// How changes were noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    Events,
    /// Polling, and why (`--poll`, or the watcher could not start).
    Polling(String),
}

/// Progress, for the status line.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub elapsed: Duration,
    /// Log file name and lines captured so far.
    pub logs: Vec<(String, u64)>,
    pub screenshots: usize,
}

/// One log's captured bytes.
pub struct RecordedLog {
    /// The path the log was written under (as on the target OS).
    pub system_path: String,
    pub bytes: u64,
    pub lines: u64,
    pub rotations: u32,
    pub truncations: u32,
    spool: Option<Spool>,
}

impl RecordedLog {
    /// The newest `cap` bytes captured (from a line start when cut), and whether it was cut.
    pub fn read(&mut self, cap: u64) -> io::Result<(Vec<u8>, bool)> {
        match &mut self.spool {
            Some(spool) => spool.read_kept(cap),
            None => Ok((Vec::new(), false)),
        }
    }
}

/// A finished recording.
pub struct Recording {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub watch: Watch,
    pub logs: Vec<RecordedLog>,
    /// Images that appeared in the screenshot folders during the window, oldest first.
    pub new_screenshots: Vec<PathBuf>,
    /// Files that could not be followed, and other remarks for the manifest.
    pub notes: Vec<String>,
    /// File events about the watched logs and folders that arrived (diagnostics: 0 with
    /// events means every change was found by the once-a-second look).
    pub events: u64,
}

impl Recording {
    pub fn start_rfc3339(&self) -> String {
        self.start.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
    pub fn end_rfc3339(&self) -> String {
        self.end.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

struct Tracked {
    id: FileId,
    file: File,
    system_path: String,
    offset: u64,
    /// The last bytes before `offset`.
    tail: Vec<u8>,
    /// Index into `streams`; `None` for an archive that appeared during the window.
    stream: Option<usize>,
    /// Appeared during the window under an archive name: a copytruncate copy, maybe.
    new_archive: bool,
}

pub struct Recorder<'a> {
    opts: Options<'a>,
    start: DateTime<Utc>,
    started: Instant,
    start_time: SystemTime,
    tracked: Vec<Tracked>,
    streams: Vec<RecordedLog>,
    watcher: Option<(
        notify::RecommendedWatcher,
        Receiver<notify::Result<notify::Event>>,
    )>,
    watch: Watch,
    watched_dirs: BTreeSet<PathBuf>,
    /// Last components of the profile's log paths: events for other files are ignored.
    name_patterns: Vec<String>,
    screenshot_dirs: Vec<PathBuf>,
    screenshots_before: BTreeSet<PathBuf>,
    screenshots_seen: usize,
    refused: BTreeSet<String>,
    notes: Vec<String>,
    events: u64,
    last_scan: Instant,
    last_safety: Instant,
}

impl<'a> Recorder<'a> {
    /// Starts watching: every log present now is taken at its current end.
    pub fn start(opts: Options<'a>) -> Result<Recorder<'a>, RecordError> {
        let layout = opts.profile.layout(opts.os);
        let mut patterns = vec![layout.main_log.clone()];
        patterns.extend(
            opts.profile
                .logs
                .rotated_suffixes
                .iter()
                .map(|s| format!("{}{s}", layout.main_log)),
        );
        patterns.extend(layout.other_logs.iter().cloned());
        let name_patterns = patterns
            .iter()
            .filter_map(|p| opts.os.components(p).last().map(|c| c.to_string()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut recorder = Recorder {
            start: Utc::now(),
            started: Instant::now(),
            start_time: SystemTime::now(),
            tracked: Vec::new(),
            streams: Vec::new(),
            watcher: None,
            watch: Watch::Polling("--poll given".into()),
            watched_dirs: BTreeSet::new(),
            name_patterns,
            screenshot_dirs: Vec::new(),
            screenshots_before: BTreeSet::new(),
            screenshots_seen: 0,
            refused: BTreeSet::new(),
            notes: Vec::new(),
            events: 0,
            last_scan: Instant::now(),
            last_safety: Instant::now(),
            opts,
        };
        if !recorder.opts.poll {
            recorder.start_watcher();
        }
        recorder.scan(true)?;
        recorder.look_at_screenshots(true);
        Ok(recorder)
    }

    pub fn watch(&self) -> &Watch {
        &self.watch
    }

    pub fn start_time(&self) -> DateTime<Utc> {
        self.start
    }

    fn start_watcher(&mut self) {
        let (tx, rx) = mpsc::channel();
        match notify::recommended_watcher(tx) {
            Ok(watcher) => {
                self.watcher = Some((watcher, rx));
                self.watch = Watch::Events;
                self.add_watches();
            }
            Err(e) => self.fall_back(format!("the file watcher did not start ({e})")),
        }
    }

    fn fall_back(&mut self, why: String) {
        self.watcher = None;
        self.notes
            .push(format!("polling every {POLL_INTERVAL:?}: {why}"));
        self.watch = Watch::Polling(why);
    }

    /// The folders holding the logs (and the screenshot folders), watched non-recursively;
    /// folders that appear later are added at the next safety look.
    fn log_dirs(&self) -> Vec<PathBuf> {
        let layout = self.opts.profile.layout(self.opts.os);
        let mut dirs = BTreeSet::new();
        for pattern in std::iter::once(&layout.main_log).chain(&layout.other_logs) {
            let parts = self.opts.os.components(pattern);
            let Some((_, parent)) = parts.split_last() else {
                continue;
            };
            let parent = match self.opts.os {
                TargetOs::Windows => format!("C:\\{}", parent.join("\\")),
                _ => format!("/{}", parent.join("/")),
            };
            for (dir, _) in logs::find_dirs(self.opts.os, &self.opts.sysroot, &parent) {
                dirs.insert(dir);
            }
        }
        dirs.into_iter().collect()
    }

    fn add_watches(&mut self) {
        if self.watcher.is_none() {
            return;
        }
        let mut dirs = Vec::new();
        for dir in self.log_dirs() {
            if !self.watched_dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        for dir in self.screenshot_dirs.clone() {
            if !self.watched_dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        for dir in dirs {
            let Some((watcher, _)) = &mut self.watcher else {
                return;
            };
            if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
                let why = format!("cannot watch {} ({e})", dir.display());
                self.fall_back(why);
                return;
            }
            self.watched_dirs.insert(dir);
        }
    }

    /// Records until `stop` says so, calling `status` about once a second.
    pub fn run(
        &mut self,
        stop: &dyn Fn() -> bool,
        status: &mut dyn FnMut(&Status),
    ) -> Result<(), RecordError> {
        let mut last_status = Instant::now() - Duration::from_secs(2);
        while !stop() {
            let mut look = false;
            let received = match &self.watcher {
                Some((_, rx)) => match rx.recv_timeout(POLL_INTERVAL) {
                    Ok(event) => Some(std::iter::once(event).chain(rx.try_iter()).collect()),
                    Err(RecvTimeoutError::Timeout) => Some(Vec::new()),
                    Err(RecvTimeoutError::Disconnected) => None,
                },
                None => {
                    std::thread::sleep(POLL_INTERVAL);
                    look = true;
                    Some(Vec::new())
                }
            };
            match received {
                Some(events) => {
                    let relevant = events.into_iter().filter(|e| self.relevant(e)).count();
                    self.events += relevant as u64;
                    look |= relevant > 0;
                }
                None => self.fall_back("the file watcher stopped".into()),
            }
            let safety = self.last_safety.elapsed() >= SAFETY_INTERVAL;
            if safety {
                self.last_safety = Instant::now();
                self.look_at_screenshots(false);
                self.add_watches();
            }
            if look || safety {
                let gap = self.last_scan.elapsed();
                if gap < MIN_SCAN_GAP {
                    std::thread::sleep(MIN_SCAN_GAP - gap);
                }
                self.scan(false)?;
            }
            if last_status.elapsed() >= Duration::from_secs(1) {
                last_status = Instant::now();
                status(&self.status());
            }
        }
        Ok(())
    }

    /// Whether an event may concern a log (or a screenshot folder). Opening and reading files
    /// (ours included) and metadata changes never do.
    fn relevant(&self, event: &notify::Result<notify::Event>) -> bool {
        let Ok(event) = event else {
            return true;
        };
        if event.need_rescan() {
            return true;
        }
        if matches!(
            event.kind,
            EventKind::Access(_) | EventKind::Modify(notify::event::ModifyKind::Metadata(_))
        ) {
            return false;
        }
        event.paths.iter().any(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            self.name_patterns
                .iter()
                .any(|p| logs::wildcard_match(p, &name))
                || path
                    .parent()
                    .is_some_and(|dir| self.screenshot_dirs.iter().any(|d| d == dir))
        })
    }

    pub fn status(&self) -> Status {
        Status {
            elapsed: self.started.elapsed(),
            logs: self
                .streams
                .iter()
                .filter(|s| s.bytes > 0)
                .map(|s| (file_name(&s.system_path).to_string(), s.lines))
                .collect(),
            screenshots: self.screenshots_seen,
        }
    }

    /// Ends the recording: a last look drains everything written until now.
    pub fn finish(mut self) -> Result<Recording, RecordError> {
        self.scan(false)?;
        let end = Utc::now();
        self.look_at_screenshots(false);
        let new_screenshots = self.new_screenshots();
        let mut notes = self.notes;
        for refused in self.refused {
            notes.push(refused);
        }
        Ok(Recording {
            start: self.start,
            end,
            watch: self.watch,
            logs: self.streams,
            new_screenshots,
            notes,
            events: self.events,
        })
    }

    fn is_archive(&self, system_path: &str) -> bool {
        let name = file_name(system_path).to_ascii_lowercase();
        self.opts
            .profile
            .record
            .archive_suffixes
            .iter()
            .any(|suffix| name.ends_with(&suffix.to_ascii_lowercase()))
    }

    fn stream_for(&mut self, system_path: &str) -> usize {
        if let Some(i) = self
            .streams
            .iter()
            .position(|s| s.system_path.eq_ignore_ascii_case(system_path))
        {
            return i;
        }
        self.streams.push(RecordedLog {
            system_path: system_path.to_string(),
            bytes: 0,
            lines: 0,
            rotations: 0,
            truncations: 0,
            spool: None,
        });
        self.streams.len() - 1
    }

    /// One look: find the logs by name, match them to tracked files by identity, then read
    /// every tracked file in the order first seen (a renamed log before its successor).
    fn scan(&mut self, initial: bool) -> Result<(), RecordError> {
        let search = logs::find_logs(self.opts.profile, self.opts.os, &self.opts.sysroot);
        let mut fresh: Vec<(logs::Located, OpenedFile, FileId)> = Vec::new();
        for located in search.found {
            if let Some(id) = fsafe::identity_of_path(&located.path)
                && self.mark_present(id, &located.system_path)
            {
                continue;
            }
            match located.open(self.opts.trust) {
                Ok(opened) => {
                    let Ok(id) = fsafe::identity(&opened.file) else {
                        continue;
                    };
                    if !self.mark_present(id, &located.system_path)
                        && !fresh.iter().any(|(_, _, other)| *other == id)
                    {
                        fresh.push((located, opened, id));
                    }
                }
                Err(Refusal::NotFound) => {}
                Err(why) => {
                    self.refused
                        .insert(format!("{}: not followed: {why}", located.system_path));
                }
            }
        }
        for (located, opened, id) in fresh {
            let archive = !initial && self.is_archive(&located.system_path);
            // Present at the start: from its end. New: from its start, unless it is an
            // archive (a renamed, copied or compressed log), whose content is older.
            let offset = if initial || archive { opened.len } else { 0 };
            let stream = (!archive).then(|| self.stream_for(&located.system_path));
            let mut tracked = Tracked {
                id,
                file: opened.file,
                system_path: located.system_path,
                offset,
                tail: Vec::new(),
                stream,
                new_archive: archive,
            };
            tracked.tail = read_before(&mut tracked.file, offset).unwrap_or_default();
            self.tracked.push(tracked);
        }
        for i in 0..self.tracked.len() {
            self.read_new(i)?;
        }
        self.last_scan = Instant::now();
        Ok(())
    }

    /// Finds the tracked file with this identity and notes its current name (a rotation).
    fn mark_present(&mut self, id: FileId, system_path: &str) -> bool {
        let Some(tracked) = self.tracked.iter_mut().find(|t| t.id == id) else {
            return false;
        };
        if tracked.system_path != system_path {
            if let Some(stream) = tracked.stream
                && tracked
                    .system_path
                    .eq_ignore_ascii_case(&self.streams[stream].system_path)
            {
                self.streams[stream].rotations += 1;
            }
            tracked.system_path = system_path.to_string();
        }
        true
    }

    /// Reads what was appended to tracked file `i` since the last look.
    fn read_new(&mut self, i: usize) -> Result<(), RecordError> {
        let Some(stream) = self.tracked[i].stream else {
            return Ok(());
        };
        let tracked = &mut self.tracked[i];
        let Ok(len) = tracked.file.metadata().map(|m| m.len()) else {
            return Ok(());
        };
        let same_start = tracked.offset <= len
            && (tracked.tail.is_empty()
                || read_before(&mut tracked.file, tracked.offset).ok().as_ref()
                    == Some(&tracked.tail));
        if !same_start {
            let (old_offset, tail) = (tracked.offset, std::mem::take(&mut tracked.tail));
            tracked.offset = 0;
            self.streams[stream].truncations += 1;
            self.recover_from_copy(stream, old_offset, &tail)?;
        }
        let tracked = &mut self.tracked[i];
        if tracked.file.seek(SeekFrom::Start(tracked.offset)).is_err() {
            return Ok(());
        }
        let mut buffer = vec![0u8; 1 << 20];
        let cap = self.opts.per_file_cap;
        loop {
            let n = match tracked.file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            tracked.offset += n as u64;
            self.streams[stream].append(&buffer[..n], cap)?;
        }
        let tracked = &mut self.tracked[i];
        tracked.tail = read_before(&mut tracked.file, tracked.offset).unwrap_or_default();
        Ok(())
    }

    /// After a truncation: when a copy made during the window (copytruncate) holds the bytes
    /// just before the old offset, the bytes after them in the copy were written before the
    /// truncation and not read yet. Takes them from the copy.
    fn recover_from_copy(
        &mut self,
        stream: usize,
        old_offset: u64,
        tail: &[u8],
    ) -> Result<(), RecordError> {
        if tail.is_empty() {
            return Ok(());
        }
        let cap = self.opts.per_file_cap;
        for copy in self.tracked.iter_mut().filter(|t| t.new_archive) {
            if read_before(&mut copy.file, old_offset).ok().as_deref() != Some(tail) {
                continue;
            }
            let mut rest = Vec::new();
            if copy.file.seek(SeekFrom::Start(old_offset)).is_ok()
                && copy.file.read_to_end(&mut rest).is_ok()
            {
                self.streams[stream].append(&rest, cap)?;
            }
            copy.new_archive = false;
            return Ok(());
        }
        Ok(())
    }

    /// Lists the screenshot folders; at the start, what is there is the baseline.
    fn look_at_screenshots(&mut self, initial: bool) {
        if initial || self.screenshot_dirs.is_empty() {
            self.screenshot_dirs = screenshots::folders(
                self.opts.profile,
                self.opts.os,
                &self.opts.sysroot,
                self.opts.live,
            );
        }
        if initial {
            self.screenshots_before = self
                .screenshot_dirs
                .iter()
                .flat_map(|dir| screenshots::images_in(self.opts.profile, dir))
                .map(|(path, _)| path)
                .collect();
        } else {
            self.screenshots_seen = self.new_screenshots().len();
        }
    }

    fn new_screenshots(&self) -> Vec<PathBuf> {
        let mut found: Vec<(PathBuf, Option<SystemTime>)> = self
            .screenshot_dirs
            .iter()
            .flat_map(|dir| screenshots::images_in(self.opts.profile, dir))
            .filter(|(path, modified)| {
                !self.screenshots_before.contains(path)
                    && modified.is_none_or(|m| m + Duration::from_secs(2) >= self.start_time)
            })
            .collect();
        found.sort_by_key(|(_, modified)| *modified);
        found.into_iter().map(|(path, _)| path).collect()
    }
}

impl RecordedLog {
    fn append(&mut self, bytes: &[u8], cap: u64) -> Result<(), RecordError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.spool.is_none() {
            self.spool = Some(Spool::create()?);
        }
        let spool = self.spool.as_mut().expect("created above");
        spool.append(bytes, cap).map_err(RecordError::SpoolWrite)?;
        self.bytes += bytes.len() as u64;
        self.lines += memchr::memchr_iter(b'\n', bytes).count() as u64;
        Ok(())
    }
}

/// Up to [`TAIL_CHECK`] bytes just before `offset`.
fn read_before(file: &mut File, offset: u64) -> io::Result<Vec<u8>> {
    let start = offset.saturating_sub(TAIL_CHECK as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(TAIL_CHECK);
    file.take(offset - start).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn file_name(system_path: &str) -> &str {
    system_path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(system_path)
}

/// Captured bytes on disk, owner-only: an unlinked file on Unix (nothing can be left behind),
/// elsewhere a randomly named file removed when dropped or on Ctrl-C.
struct Spool {
    file: File,
    /// The spool's name, while it has one (not unlinked at creation).
    path: Option<crate::interrupt::InProgress>,
    len: u64,
    /// Older bytes were dropped to stay within the cap.
    cut: bool,
}

impl Spool {
    fn create() -> Result<Spool, RecordError> {
        let dir = std::env::temp_dir();
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| RecordError::Spool {
            dir: dir.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        let path = dir.join(format!("jcdiag-record-{}.tmp", hex::encode(random)));
        let file = fsafe::create_private(&path).map_err(|source| RecordError::Spool {
            dir: dir.clone(),
            source,
        })?;
        // Unlinked at once where the system allows it; otherwise removed on drop or Ctrl-C.
        let path = if cfg!(unix) && std::fs::remove_file(&path).is_ok() {
            None
        } else {
            Some(crate::interrupt::remove_if_interrupted(&path))
        };
        Ok(Spool {
            file,
            path,
            len: 0,
            cut: false,
        })
    }

    fn append(&mut self, bytes: &[u8], cap: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(self.len))?;
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        if self.len > cap.saturating_mul(2).max(1 << 20) {
            // Keep the newest `cap` bytes from a line start, as the bundle will.
            let (kept, _) = self.read_tail(cap)?;
            self.file.set_len(0)?;
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(&kept)?;
            self.len = kept.len() as u64;
            self.cut = true;
        }
        Ok(())
    }

    fn read_tail(&mut self, cap: u64) -> io::Result<(Vec<u8>, bool)> {
        let mut opened = OpenedFile {
            file: self.file.try_clone()?,
            len: self.len,
            modified: None,
        };
        opened.file.seek(SeekFrom::Start(0))?;
        opened.read_tail(cap)
    }

    fn read_kept(&mut self, cap: u64) -> io::Result<(Vec<u8>, bool)> {
        let (bytes, cut) = self.read_tail(cap)?;
        Ok((bytes, cut || self.cut))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(in_progress) = self.path.take() {
            let _ = std::fs::remove_file(in_progress.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_keeps_the_newest_lines_within_twice_the_cap() {
        let mut spool = Spool::create().unwrap();
        let cap = 1 << 20;
        let line = b"2021/05/07 09:25:13 [32713] [INFO] heartbeat\n";
        let mut total = 0u64;
        for _ in 0..60_000 {
            spool.append(line, cap).unwrap();
            total += line.len() as u64;
            assert!(spool.len <= 2 * cap + line.len() as u64);
        }
        let (kept, cut) = spool.read_kept(cap).unwrap();
        assert!(cut && total > 2 * cap);
        assert!(kept.len() as u64 <= cap && kept.starts_with(b"2021/05/07"));
        assert!(kept.ends_with(line));
    }
}
