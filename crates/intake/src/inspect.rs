//! Sanity checks on an uploaded bundle, without extracting anything to disk.
//!
//! Support engineers unzip bundles on their own machines, so the intake refuses archives
//! that would hurt them there: paths that escape the target folder, symlinks, and zip
//! bombs. The checks run in three passes, cheapest first:
//!
//! 1. the end-of-central-directory record alone: entry count and directory size, so a
//!    hostile file cannot make the zip reader allocate millions of entries;
//! 2. every central directory entry: names, file types, declared sizes and ratios, and
//!    whether entries' data overlap (the trick behind non-recursive zip bombs);
//! 3. every entry decompressed into a counting sink, capped at its declared size, which
//!    catches lying headers, corrupt deflate streams and CRC mismatches.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use zip::CompressionMethod;
use zip::ZipArchive;

/// What a bundle may contain. The defaults are the contract's numbers.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_entries: u64,
    pub max_total_uncompressed: u64,
    /// Largest uncompressed:compressed ratio of one entry.
    pub max_ratio: u64,
    /// Entries smaller than this (uncompressed) are exempt from the ratio check: a few
    /// KiB of repeated log lines can compress 300:1, but cannot amplify anything.
    pub ratio_exempt_below: u64,
    /// Largest central directory accepted (10,000 entries with long names fit easily).
    pub max_central_directory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 10_000,
            max_total_uncompressed: 4 << 30,
            max_ratio: 200,
            ratio_exempt_below: 64 << 10,
            max_central_directory: 64 << 20,
        }
    }
}

/// Why a bundle was refused. Each message names the entry and what is wrong with it,
/// because it goes back to the client as the 422 message.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error(
        "the bundle is not a readable zip ({0}); it may be truncated or corrupt: rebuild it with `jcdiag collect`"
    )]
    NotAZip(String),
    #[error("the bundle has {count} entries; at most {limit} are accepted")]
    TooManyEntries { count: u64, limit: u64 },
    #[error("the bundle's central directory is {size} bytes; at most {limit} are accepted")]
    DirectoryTooLarge { size: u64, limit: u64 },
    #[error("entry `{name}` has an unsafe name: {why}")]
    UnsafeName { name: String, why: &'static str },
    #[error("entry `{name}` is a symbolic link; bundles may only hold files and folders")]
    Symlink { name: String },
    #[error("entry `{name}` is encrypted; bundles must not be encrypted")]
    Encrypted { name: String },
    #[error(
        "entry `{name}` uses compression method {method}; only stored and deflate are accepted"
    )]
    Compression { name: String, method: String },
    #[error("entry `{name}` expands {ratio}:1; more than {limit}:1 looks like a zip bomb")]
    Ratio {
        name: String,
        ratio: u64,
        limit: u64,
    },
    #[error("the bundle expands to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("entry `{name}` shares its data with another entry (a zip bomb trick)")]
    Overlap { name: String },
    #[error("entry `{name}` is corrupt: {detail}")]
    Corrupt { name: String, detail: String },
    #[error("cannot read the bundle: {0}")]
    Io(#[from] io::Error),
}

/// What a bundle that passed holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    pub total_uncompressed: u64,
}

/// Runs every check on the zip at `path`.
pub fn inspect(path: &Path, limits: &Limits) -> Result<Summary, Rejection> {
    let mut file = File::open(path)?;
    precheck_end_record(&mut file, limits)?;
    file.seek(SeekFrom::Start(0))?;

    let mut archive =
        ZipArchive::new(BufReader::new(file)).map_err(|e| Rejection::NotAZip(e.to_string()))?;
    let count = archive.len() as u64;
    if count > limits.max_entries {
        return Err(Rejection::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }

    // Pass 2: metadata only.
    let mut total: u64 = 0;
    let mut spans = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| Rejection::NotAZip(e.to_string()))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        check_name(&name)?;
        if entry
            .unix_mode()
            .is_some_and(|mode| mode & 0o170000 == 0o120000)
        {
            return Err(Rejection::Symlink { name });
        }
        if entry.encrypted() {
            return Err(Rejection::Encrypted { name });
        }
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(Rejection::Compression {
                name,
                method: format!("{:?}", entry.compression()),
            });
        }
        let (size, packed) = (entry.size(), entry.compressed_size());
        if size >= limits.ratio_exempt_below {
            let ratio = size / packed.max(1);
            if ratio > limits.max_ratio {
                return Err(Rejection::Ratio {
                    name,
                    ratio,
                    limit: limits.max_ratio,
                });
            }
        }
        total = total.saturating_add(size);
        if total > limits.max_total_uncompressed {
            return Err(Rejection::TooLarge {
                limit: limits.max_total_uncompressed,
            });
        }
        let data_start = entry.data_start().ok_or_else(|| Rejection::Corrupt {
            name: name.clone(),
            detail: "its local header cannot be located".into(),
        })?;
        spans.push((
            entry.header_start(),
            data_start.saturating_add(packed),
            name,
        ));
    }
    spans.sort();
    let directory_start = archive.central_directory_start();
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(Rejection::Overlap {
                name: pair[1].2.clone(),
            });
        }
    }
    if let Some((_, end, name)) = spans.last()
        && *end > directory_start
    {
        return Err(Rejection::Overlap { name: name.clone() });
    }

    // Pass 3: decompress everything into a sink. Reading to the end makes the zip crate
    // compare the CRC; the `take` cap stops an entry whose header under-states its size.
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| Rejection::NotAZip(e.to_string()))?;
        let name = entry.name_raw().to_vec();
        let declared = entry.size();
        let corrupt = |detail: String| Rejection::Corrupt {
            name: String::from_utf8_lossy(&name).into_owned(),
            detail,
        };
        let copied = io::copy(
            &mut (&mut entry).take(declared.saturating_add(1)),
            &mut io::sink(),
        )
        .map_err(|e| corrupt(e.to_string()))?;
        if copied != declared {
            return Err(corrupt(format!(
                "it declares {declared} bytes but holds {copied}"
            )));
        }
    }
    Ok(Summary {
        entries: count,
        total_uncompressed: total,
    })
}

/// Rejects names that could land outside the folder a support engineer extracts into,
/// on any OS they might use.
fn check_name(name: &str) -> Result<(), Rejection> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.contains('\\') {
        Some("it contains a backslash")
    } else if name.starts_with('/') {
        Some("it is an absolute path")
    } else if name.as_bytes().get(1) == Some(&b':') {
        Some("it starts with a drive letter")
    } else if name.split('/').any(|part| part == "..") {
        Some("it has a `..` component")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    };
    match why {
        Some(why) => Err(Rejection::UnsafeName {
            name: name.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

/// Reads the end-of-central-directory record (and its zip64 twin) to learn the entry count
/// and directory size before the zip reader parses and allocates the whole directory.
fn precheck_end_record(file: &mut File, limits: &Limits) -> Result<(), Rejection> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const EOCD_LEN: u64 = 22;
    const ZIP64_LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const ZIP64_EOCD: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];

    let len = file.metadata()?.len();
    if len < EOCD_LEN {
        return Err(Rejection::NotAZip(format!("it is only {len} bytes long")));
    }
    // The record is 22 bytes plus a comment of up to 65,535 bytes, at the very end.
    let tail_len = len.min(EOCD_LEN + 0xFFFF);
    let tail_start = len - tail_len;
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(tail_start))?;
    file.read_exact(&mut tail)?;
    let at = (0..=tail.len() - EOCD_LEN as usize)
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD)
        .ok_or_else(|| Rejection::NotAZip("no end-of-central-directory record".into()))?;
    let record = &tail[at..];
    let mut entries = u64::from(u16::from_le_bytes([record[10], record[11]]));
    let mut directory = u64::from(u32::from_le_bytes([
        record[12], record[13], record[14], record[15],
    ]));

    if entries == 0xFFFF || directory == 0xFFFF_FFFF {
        // Zip64: a 20-byte locator sits right before the record and points at the zip64 one.
        let locator_at = (tail_start + at as u64)
            .checked_sub(20)
            .ok_or_else(|| Rejection::NotAZip("zip64 locator missing".into()))?;
        let mut locator = [0u8; 20];
        file.seek(SeekFrom::Start(locator_at))?;
        file.read_exact(&mut locator)?;
        if locator[..4] != ZIP64_LOCATOR {
            return Err(Rejection::NotAZip("zip64 locator missing".into()));
        }
        let record_at = u64::from_le_bytes(locator[8..16].try_into().expect("8 bytes"));
        let mut zip64 = [0u8; 56];
        file.seek(SeekFrom::Start(record_at))
            .and_then(|_| file.read_exact(&mut zip64))
            .map_err(|_| Rejection::NotAZip("zip64 end record is out of the file".into()))?;
        if zip64[..4] != ZIP64_EOCD {
            return Err(Rejection::NotAZip("zip64 end record missing".into()));
        }
        entries = u64::from_le_bytes(zip64[32..40].try_into().expect("8 bytes"));
        directory = u64::from_le_bytes(zip64[40..48].try_into().expect("8 bytes"));
    }
    if entries > limits.max_entries {
        return Err(Rejection::TooManyEntries {
            count: entries,
            limit: limits.max_entries,
        });
    }
    if directory > limits.max_central_directory {
        return Err(Rejection::DirectoryTooLarge {
            size: directory,
            limit: limits.max_central_directory,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("logs/jcagent.log").is_ok());
        assert!(check_name("a/..b/c").is_ok());
        for bad in [
            "",
            "../evil",
            "a/../../b",
            "/etc/passwd",
            "C:/x",
            "a\\b",
            "a\u{0}b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
