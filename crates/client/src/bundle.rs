//! Writing the case bundle: one zip, complete or absent, readable only by its owner.
//!
//! The zip is written beside its destination under a temporary name created owner-only, every
//! entry is compressed on a worker thread while the next one is read and scrubbed, and only a
//! finished, fsync'd file is renamed into place. An interrupted run (error, panic, Ctrl-C)
//! removes the temporary file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};
use zip::write::{PreparedZipFile, SimpleFileOptions};
use zip::{CompressionMethod, ZipWriter};

use crate::interrupt;
use crate::sources::Screenshot;
use jcdiag_fs::fsafe;
use jcdiag_scrub::Scrubbed;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot create the bundle in {dir}: {source} (choose a writable folder with --out)")]
    Create { dir: PathBuf, source: io::Error },
    #[error("cannot write the bundle {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot compress bundle entry {name}: {source}")]
    Compress {
        name: String,
        source: zip::result::ZipError,
    },
    #[error("cannot scrub bundle entry {name}: {source}")]
    Scrub {
        name: String,
        source: jcdiag_scrub::ScrubError,
    },
}

/// The default file name: `jcdiag-<host>-<UTC yyyymmddThhmmssZ>.zip`.
pub fn file_name(host: &str, at: DateTime<Utc>) -> String {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let host = if host.is_empty() {
        "unknown-host".to_string()
    } else {
        host
    };
    format!("jcdiag-{host}-{}.zip", at.format("%Y%m%dT%H%M%SZ"))
}

/// Where `--out` puts the bundle: into a folder it names, or at the file path it names. In a
/// folder, a name already taken (two runs in one second) gets `-2`, `-3`… before `.zip`; a
/// file path given by the user is used as given (and never overwritten, see `create`).
pub fn destination(out: &Path, default_name: &str) -> PathBuf {
    let names_folder = out.is_dir() || out.as_os_str().to_string_lossy().ends_with(['/', '\\']);
    if !names_folder {
        return out.to_path_buf();
    }
    let stem = default_name.trim_end_matches(".zip");
    (1..1000)
        .map(|n| match n {
            1 => out.join(default_name),
            n => out.join(format!("{stem}-{n}.zip")),
        })
        .find(|candidate| std::fs::symlink_metadata(candidate).is_err())
        .unwrap_or_else(|| out.join(default_name))
}

/// An entry that has been added: its name, stored size and SHA-256.
#[derive(Debug, Clone)]
pub struct Stored {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

pub struct BundleWriter {
    zip: Option<ZipWriter<BufWriter<File>>>,
    temp: PathBuf,
    /// Removes `temp` on Ctrl-C until the bundle is renamed into place or dropped.
    in_progress: Option<interrupt::InProgress>,
    dest: PathBuf,
    options: SimpleFileOptions,
    in_flight: VecDeque<(String, JoinHandle<zip::result::ZipResult<PreparedZipFile>>)>,
    parallelism: usize,
    /// A preview (`--dry-run`) hashes and counts entries but writes nothing.
    preview: bool,
}

/// Threads for work done per entry (compressing here, scrubbing in a collection): the cores,
/// at most 4.
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

impl BundleWriter {
    /// Starts a bundle that will become `dest`; the entries' time is `at`.
    pub fn create(dest: &Path, at: DateTime<Utc>) -> Result<BundleWriter, BundleError> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = dir.join(format!(".{}.{}.part", file_stem(dest), random_suffix()));
        let file =
            fsafe::create_private(&temp).map_err(|source| BundleError::Create { dir, source })?;
        let in_progress = interrupt::remove_if_interrupted(&temp);
        let modified = zip::DateTime::from_date_and_time(
            at.year().clamp(1980, 2107) as u16,
            at.month() as u8,
            at.day() as u8,
            at.hour() as u8,
            at.minute() as u8,
            at.second() as u8,
        )
        .unwrap_or_default();
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(6))
            .last_modified_time(modified)
            .unix_permissions(0o600)
            .large_file(false);
        Ok(BundleWriter {
            zip: Some(ZipWriter::new(BufWriter::with_capacity(1 << 20, file))),
            temp,
            in_progress: Some(in_progress),
            dest: dest.to_path_buf(),
            options,
            in_flight: VecDeque::new(),
            parallelism: workers(),
            preview: false,
        })
    }

    /// A writer for `--dry-run`: entries are measured and hashed, no file is created.
    pub fn preview(dest: &Path) -> BundleWriter {
        BundleWriter {
            zip: None,
            temp: PathBuf::new(),
            in_progress: None,
            dest: dest.to_path_buf(),
            options: SimpleFileOptions::default(),
            in_flight: VecDeque::new(),
            parallelism: 1,
            preview: true,
        }
    }

    /// Adds a text entry. It must be [`Scrubbed`]: only the scrubber (and the obfuscator, from
    /// scrubbed text) makes one, so unscrubbed text cannot reach the bundle by mistake.
    /// Returns the stored size and hash.
    pub fn add(&mut self, name: &str, text: Scrubbed) -> Result<Stored, BundleError> {
        self.add_and_read(name, text, &mut |_| {})
    }

    /// [`BundleWriter::add`], then `read` over the entry's text while it is compressed: work
    /// on the text (the findings' scan of a log) that no longer holds the compression back.
    pub fn add_and_read(
        &mut self,
        name: &str,
        text: Scrubbed,
        read: &mut dyn FnMut(&[u8]),
    ) -> Result<Stored, BundleError> {
        let (bytes, _) = text.into_parts();
        self.add_bytes(name, bytes, read)
    }

    /// Adds a screenshot as it is: the one kind of entry that is not scrubbed. A
    /// [`Screenshot`] is made only by `screenshots::read`, which recognises the image by
    /// its content.
    pub fn add_image(&mut self, name: &str, image: Screenshot) -> Result<Stored, BundleError> {
        self.add_bytes(name, image.into_bytes(), &mut |_| {})
    }

    /// Compression happens on a worker thread; the hash and `read` while it runs.
    fn add_bytes(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        read: &mut dyn FnMut(&[u8]),
    ) -> Result<Stored, BundleError> {
        // Entries over 4 GiB are impossible here (caps), so zip64 is only needed for huge sets.
        let options = self
            .options
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        let bytes = Arc::new(bytes);
        if !self.preview {
            let entry_name = name.to_string();
            let shared = Arc::clone(&bytes);
            let worker = std::thread::spawn(move || {
                PreparedZipFile::from_data(entry_name, options, &shared)
            });
            self.in_flight.push_back((name.to_string(), worker));
        }
        let stored = Stored {
            name: name.to_string(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&*bytes)),
        };
        read(&bytes);
        drop(bytes);
        while self.in_flight.len() > self.parallelism {
            self.write_oldest()?;
        }
        Ok(stored)
    }

    fn write_oldest(&mut self) -> Result<(), BundleError> {
        let Some((name, worker)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let prepared = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .map_err(|source| BundleError::Compress {
                name: name.clone(),
                source,
            })?;
        let zip = self.zip.as_mut().expect("writer is open until finish");
        zip.add_prepared_file(prepared)
            .map_err(|source| BundleError::Compress { name, source })
    }

    /// Writes the central directory, flushes to disk and renames the bundle into place.
    pub fn finish(mut self) -> Result<PathBuf, BundleError> {
        if self.preview {
            return Ok(self.dest.clone());
        }
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        let write_err = |source| BundleError::Write {
            path: self.dest.clone(),
            source,
        };
        let zip = self.zip.take().expect("writer is open until finish");
        let buffered = zip.finish().map_err(|e| write_err(io::Error::other(e)))?;
        let file = buffered
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        if self.dest.exists() {
            return Err(write_err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file of that name exists; choose another --out",
            )));
        }
        std::fs::rename(&self.temp, &self.dest).map_err(write_err)?;
        self.in_progress = None;
        if let Some(dir) = self.dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = fsafe::sync_dir(dir);
        }
        Ok(self.dest.clone())
    }
}

impl Drop for BundleWriter {
    /// An unfinished bundle leaves nothing behind.
    fn drop(&mut self) {
        if self.zip.is_some() {
            self.zip = None;
            let _ = std::fs::remove_file(&self.temp);
            self.in_progress = None;
        }
    }
}

fn file_stem(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "jcdiag".into(), |n| n.to_string_lossy().into_owned())
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    // A predictable temp name in a shared folder could be pre-planted; the name is random
    // and creation is exclusive anyway.
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

/// SHA-256 of a file on disk, streamed in 1 MiB reads (a submit of a large bundle starts
/// with this; `io::copy`'s 8 KiB reads made it a tenth of the upload time).
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(text: &str) -> Scrubbed {
        let secrets = &jcdiag_profile::Profile::builtin().secrets;
        jcdiag_scrub::Scrubber::new(&secrets.key_words, &secrets.public_keys)
            .unwrap()
            .scrub_text(text.as_bytes())
    }

    #[test]
    fn a_second_bundle_in_the_same_second_gets_its_own_name() {
        let dir = tempfile::tempdir().unwrap();
        let name = "jcdiag-ws01-20261127T060325Z.zip";
        assert_eq!(destination(dir.path(), name), dir.path().join(name));
        std::fs::write(dir.path().join(name), b"first").unwrap();
        let second = dir.path().join("jcdiag-ws01-20261127T060325Z-2.zip");
        assert_eq!(destination(dir.path(), name), second);
        std::fs::write(&second, b"second").unwrap();
        assert_eq!(
            destination(dir.path(), name),
            dir.path().join("jcdiag-ws01-20261127T060325Z-3.zip")
        );
        // A file path the user chose is used as given.
        let chosen = dir.path().join("case.zip");
        assert_eq!(destination(&chosen, name), chosen);
    }

    #[test]
    fn names_follow_the_spec() {
        let at = DateTime::parse_from_rfc3339("2026-11-27T06:03:25Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            file_name("ws 01/a", at),
            "jcdiag-ws_01_a-20261127T060325Z.zip"
        );
    }

    #[test]
    fn an_unfinished_bundle_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("b.zip");
        let mut writer = BundleWriter::create(&dest, Utc::now()).unwrap();
        writer.add("a.txt", scrubbed("hello")).unwrap();
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_finished_bundle_holds_its_entries_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("b.zip");
        let mut writer = BundleWriter::create(&dest, Utc::now()).unwrap();
        for i in 0..5 {
            writer
                .add(&format!("e{i}.txt"), scrubbed(&format!("entry {i}")))
                .unwrap();
        }
        assert_eq!(writer.finish().unwrap(), dest);
        let mut zip = zip::ZipArchive::new(File::open(&dest).unwrap()).unwrap();
        let names: Vec<String> = (0..zip.len())
            .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        assert_eq!(names, ["e0.txt", "e1.txt", "e2.txt", "e3.txt", "e4.txt"]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
