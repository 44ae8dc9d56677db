//! Sanity checks on an uploaded bundle, without extracting anything to disk.
//!
//! Support engineers unzip bundles on their own machines, so the intake refuses archives
//! that would hurt them there: paths that escape the target folder, symlinks, and zip
//! bombs. And it checks the zip as every extractor will see it: tools differ in what they
//! trust (the end record's counts, the central directory, the local headers, a Unicode Path
//! field), so a zip on which they could disagree is refused. The checks run in three passes,
//! cheapest first:
//!
//! 1. the strict walk ([`walk`]) over the raw bytes: exactly one end record, zip64 records
//!    only where its sentinel values call for them, the central directory walked record by
//!    record (the end record's count must agree, and the entry and size caps apply to what
//!    is there), every local header equal to its central record, and the entries tiling the
//!    file from offset 0 up to the directory with nothing before, between or after;
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
    #[error(
        "entry `{name}` is a special file (mode {mode:o}); bundles may only hold files and folders"
    )]
    SpecialFile { name: String, mode: u32 },
    #[error(
        "the bundle is a zip that extractors would read differently: {0}; rebuild it with `jcdiag collect`"
    )]
    Ambiguous(String),
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
    inspect_listing(path, limits).map(|(summary, _)| summary)
}

/// Runs every check on the zip at `path`, and returns the names of the entries it checked
/// (in central directory order): the entries any extractor will list.
pub fn inspect_listing(path: &Path, limits: &Limits) -> Result<(Summary, Vec<String>), Rejection> {
    let mut file = File::open(path)?;
    let walked = walk(&mut file, limits)?;
    file.seek(SeekFrom::Start(0))?;

    let mut archive =
        ZipArchive::new(BufReader::new(file)).map_err(|e| Rejection::NotAZip(e.to_string()))?;
    // The zip crate reads the same directory; if it saw anything else, the walk and the
    // reader that decompresses below would be checking different entries.
    if archive.len() != walked.len()
        || !archive
            .file_names_raw()
            .eq(walked.iter().map(|entry| entry.name.as_bytes()))
    {
        return Err(Rejection::Ambiguous(
            "the zip reader lists other entries than the central directory holds".into(),
        ));
    }
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
    Ok((
        Summary {
            entries: count,
            total_uncompressed: total,
        },
        walked.into_iter().map(|entry| entry.name).collect(),
    ))
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

/// One entry as the strict walk read it: its central record, checked against its local header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    pub name: String,
    pub method: u16,
    pub crc: u32,
    pub compressed: u64,
    pub size: u64,
    /// Where its local header starts and where its data (and data descriptor) ends.
    pub span: (u64, u64),
}

const EOCD: &[u8; 4] = b"PK\x05\x06";
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
const ZIP64_EOCD: &[u8; 4] = b"PK\x06\x06";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
const LOCAL: &[u8; 4] = b"PK\x03\x04";
const DESCRIPTOR: &[u8; 4] = b"PK\x07\x08";
/// General-purpose flags: encrypted, data descriptor, UTF-8 name.
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;

fn ambiguous(why: impl Into<String>) -> Rejection {
    Rejection::Ambiguous(why.into())
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32
}

fn read_at(file: &mut File, at: u64, buf: &mut [u8]) -> Result<(), Rejection> {
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(buf).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => Rejection::NotAZip(format!(
            "a record at offset {at} runs past the end of the file"
        )),
        _ => Rejection::Io(error),
    })
}

/// The strict walk: reads the zip's structure from the raw bytes as the least trusting
/// extractor would, and refuses anything two extractors could read differently. Returns the
/// entries in central directory order. Nothing is decompressed here.
pub fn walk(file: &mut File, limits: &Limits) -> Result<Vec<Walked>, Rejection> {
    let len = file.metadata()?.len();
    let (directory_start, directory_end, declared) = end_records(file, len, limits)?;
    let size = directory_end - directory_start;
    if size > limits.max_central_directory {
        return Err(Rejection::DirectoryTooLarge {
            size,
            limit: limits.max_central_directory,
        });
    }
    let mut directory = vec![0u8; size as usize];
    read_at(file, directory_start, &mut directory)?;

    // Walk every record to the directory's end, whatever the end record counts: a reader
    // that trusts the count would not see the entries past it, `unzip` and Python would.
    let mut entries = Vec::new();
    let mut count: u64 = 0;
    let mut at = 0usize;
    while at < directory.len() {
        let record = central_record(&directory, at)?;
        at = record.end;
        count += 1;
        if count <= limits.max_entries {
            entries.push(record);
        }
    }
    if count > limits.max_entries {
        return Err(Rejection::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }
    if count != declared {
        return Err(ambiguous(format!(
            "the end record counts {declared} entries, the central directory holds {count}"
        )));
    }

    let mut seen = std::collections::HashSet::new();
    let mut walked = Vec::with_capacity(entries.len());
    for record in entries {
        if !seen.insert(record.walked.name.clone()) {
            return Err(ambiguous(format!(
                "entry `{}` appears twice",
                record.walked.name
            )));
        }
        walked.push(local_header(file, record, directory_start)?);
    }

    // The entries tile the file from offset 0 up to the directory: nothing hides before,
    // between or after them (a zip in front of a clean one, a second archive in a gap).
    let mut spans: Vec<(u64, u64, &str)> = walked
        .iter()
        .map(|entry| (entry.span.0, entry.span.1, entry.name.as_str()))
        .collect();
    spans.sort_unstable();
    let mut expected = 0u64;
    for (start, end, name) in spans {
        if start < expected {
            return Err(Rejection::Overlap {
                name: name.to_owned(),
            });
        }
        if start > expected {
            return Err(ambiguous(format!(
                "{} bytes at offset {expected} belong to no entry",
                start - expected
            )));
        }
        expected = end;
    }
    if expected > directory_start {
        return Err(ambiguous("an entry runs into the central directory"));
    }
    if expected < directory_start {
        return Err(ambiguous(format!(
            "{} bytes at offset {expected} belong to no entry",
            directory_start - expected
        )));
    }
    Ok(walked)
}

/// Finds the one end record and, if its sentinel values call for them, the zip64 locator and
/// record. Returns where the central directory starts and ends, and the entry count declared.
fn end_records(file: &mut File, len: u64, limits: &Limits) -> Result<(u64, u64, u64), Rejection> {
    if len < EOCD_LEN as u64 {
        return Err(Rejection::NotAZip(format!("it is only {len} bytes long")));
    }
    // The record is 22 bytes plus a comment of up to 65,535 bytes, at the very end.
    let tail_len = len.min(EOCD_LEN as u64 + 0xFFFF);
    let tail_start = len - tail_len;
    let mut tail = vec![0u8; tail_len as usize];
    read_at(file, tail_start, &mut tail)?;
    let signatures: Vec<usize> = memchr_all(&tail, EOCD);
    // Readers search backwards for the last signature, or look at exactly len-22 first:
    // with a second record in the comment they would not agree on which is the real one.
    let at = *signatures
        .iter()
        .rfind(|&&i| i + EOCD_LEN <= tail.len())
        .ok_or_else(|| Rejection::NotAZip("no end-of-central-directory record".into()))?;
    // An earlier signature whose comment length reaches the file's end is a second record
    // that readers searching forwards, or from len-22, could take.
    let complete = |i: usize| {
        i + EOCD_LEN <= tail.len() && i + EOCD_LEN + usize::from(le16(&tail, i + 20)) == tail.len()
    };
    if signatures
        .iter()
        .any(|&i| i > at || (i < at && complete(i)))
    {
        return Err(ambiguous("it has more than one end record"));
    }
    let record = &tail[at..];
    let comment = usize::from(le16(record, 20));
    if EOCD_LEN + comment != record.len() {
        return Err(ambiguous(format!(
            "the end record's comment is {comment} bytes but {} bytes follow the record",
            record.len() - EOCD_LEN
        )));
    }
    if memchr_all(&record[EOCD_LEN..], b"PK\x05\x06").len()
        + memchr_all(&record[EOCD_LEN..], b"PK\x06\x06").len()
        + memchr_all(&record[EOCD_LEN..], b"PK\x06\x07").len()
        != 0
    {
        return Err(ambiguous("the zip comment holds an end record"));
    }
    let eocd_at = tail_start + at as u64;
    let (disk, directory_disk) = (le16(record, 4), le16(record, 6));
    let (disk_entries, entries) = (le16(record, 8), le16(record, 10));
    let (size, offset) = (le32(record, 12), le32(record, 16));
    let zip64 = disk == 0xFFFF
        || directory_disk == 0xFFFF
        || disk_entries == 0xFFFF
        || entries == 0xFFFF
        || size == u32::MAX
        || offset == u32::MAX;
    if !zip64 {
        if disk != 0 || directory_disk != 0 || disk_entries != entries {
            return Err(Rejection::NotAZip("it spans several disks".into()));
        }
        let (size, offset) = (u64::from(size), u64::from(offset));
        if size > limits.max_central_directory {
            return Err(Rejection::DirectoryTooLarge {
                size,
                limit: limits.max_central_directory,
            });
        }
        // Without sentinels there is no zip64 record: the directory ends at the end record
        // (a zip64 record or locator in between breaks this, as readers that look for one
        // regardless would take it).
        if offset.checked_add(size) != Some(eocd_at) {
            return Err(ambiguous(
                "the central directory does not end where the end record starts",
            ));
        }
        return Ok((offset, eocd_at, u64::from(entries)));
    }

    // Zip64: the 20-byte locator right before the end record, the 56-byte zip64 record (no
    // extensible data) right before the locator, and the directory right before that.
    let locator_at = eocd_at
        .checked_sub(20)
        .ok_or_else(|| Rejection::NotAZip("zip64 locator missing".into()))?;
    let mut locator = [0u8; 20];
    read_at(file, locator_at, &mut locator)?;
    if &locator[..4] != ZIP64_LOCATOR {
        return Err(Rejection::NotAZip("zip64 locator missing".into()));
    }
    let record_at = le64(&locator, 8);
    if le32(&locator, 4) != 0
        || le32(&locator, 16) > 1
        || record_at.checked_add(56) != Some(locator_at)
    {
        return Err(ambiguous(
            "the zip64 locator does not point at a zip64 record right before it",
        ));
    }
    let mut zip64_record = [0u8; 56];
    read_at(file, record_at, &mut zip64_record)?;
    if &zip64_record[..4] != ZIP64_EOCD || le64(&zip64_record, 4) != 44 {
        return Err(Rejection::NotAZip(
            "zip64 end record missing or malformed".into(),
        ));
    }
    let z_disk = le32(&zip64_record, 16);
    let z_directory_disk = le32(&zip64_record, 20);
    let z_disk_entries = le64(&zip64_record, 24);
    let z_entries = le64(&zip64_record, 32);
    let z_size = le64(&zip64_record, 40);
    let z_offset = le64(&zip64_record, 48);
    if z_disk != 0 || z_directory_disk != 0 || z_disk_entries != z_entries {
        return Err(Rejection::NotAZip("it spans several disks".into()));
    }
    // A field that is not a sentinel must say what the zip64 record says.
    let agrees = |short: u64, sentinel: u64, long: u64| short == sentinel || short == long;
    if !agrees(u64::from(entries), 0xFFFF, z_entries)
        || !agrees(u64::from(disk_entries), 0xFFFF, z_disk_entries)
        || !agrees(u64::from(size), 0xFFFF_FFFF, z_size)
        || !agrees(u64::from(offset), 0xFFFF_FFFF, z_offset)
    {
        return Err(ambiguous(
            "the end record and the zip64 end record disagree",
        ));
    }
    if z_size > limits.max_central_directory {
        return Err(Rejection::DirectoryTooLarge {
            size: z_size,
            limit: limits.max_central_directory,
        });
    }
    if z_offset.checked_add(z_size) != Some(record_at) {
        return Err(ambiguous(
            "the central directory does not end where the zip64 end record starts",
        ));
    }
    Ok((z_offset, record_at, z_entries))
}

/// Every position of `needle` in `haystack`.
fn memchr_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Python's `zipfile` refuses an entry that says it needs a zip version above 6.3 (the
/// newest), which `unzip` and `bsdtar` list: refuse it here too.
fn check_version_needed(needed: u16, name: &str) -> Result<(), Rejection> {
    if needed & 0xFF > 63 {
        return Err(ambiguous(format!(
            "entry `{name}` says it needs zip version {}.{}",
            (needed & 0xFF) / 10,
            (needed & 0xFF) % 10
        )));
    }
    Ok(())
}

/// A central record read, not yet compared with its local header.
struct Central {
    walked: Walked,
    raw_name: Vec<u8>,
    flags: u16,
    offset: u64,
    /// Where the next record starts.
    end: usize,
}

/// The extra fields of a record, which must tile their area exactly.
fn extra_fields<'a>(extra: &'a [u8], name: &str) -> Result<Vec<(u16, &'a [u8])>, Rejection> {
    let mut fields = Vec::new();
    let mut at = 0;
    while at < extra.len() {
        if extra.len() - at < 4 {
            return Err(corrupt_entry(name, "its extra fields are truncated"));
        }
        let (id, len) = (le16(extra, at), usize::from(le16(extra, at + 2)));
        let data = extra
            .get(at + 4..at + 4 + len)
            .ok_or_else(|| corrupt_entry(name, "its extra fields are truncated"))?;
        if fields.iter().any(|(seen, _)| *seen == id) && matches!(id, 0x0001 | 0x7075) {
            return Err(ambiguous(format!(
                "entry `{name}` has two extra fields of type {id:#06x}"
            )));
        }
        fields.push((id, data));
        at += 4 + len;
    }
    Ok(fields)
}

fn corrupt_entry(name: &str, detail: &str) -> Rejection {
    Rejection::Corrupt {
        name: name.to_owned(),
        detail: detail.to_owned(),
    }
}

/// A Unicode Path field (0x7075), if any, must give exactly the entry's name: the extractors
/// that honour it would otherwise write somewhere else than the name the checks saw.
fn check_unicode_path(
    fields: &[(u16, &[u8])],
    raw_name: &[u8],
    name: &str,
) -> Result<(), Rejection> {
    for (_, data) in fields.iter().filter(|(id, _)| *id == 0x7075) {
        if data.len() < 5 || data[0] != 1 || &data[5..] != raw_name {
            return Err(ambiguous(format!(
                "entry `{name}` has a Unicode Path field that names something else"
            )));
        }
    }
    Ok(())
}

fn central_record(directory: &[u8], at: usize) -> Result<Central, Rejection> {
    let header = directory
        .get(at..at + 46)
        .filter(|header| &header[..4] == CENTRAL)
        .ok_or_else(|| {
            Rejection::NotAZip(format!(
                "the central directory holds something else than entries at byte {at}"
            ))
        })?;
    let needed = le16(header, 6);
    let flags = le16(header, 8);
    let method = le16(header, 10);
    let crc = le32(header, 16);
    let compressed = le32(header, 20);
    let size = le32(header, 24);
    let (name_len, extra_len, comment_len) = (
        usize::from(le16(header, 28)),
        usize::from(le16(header, 30)),
        usize::from(le16(header, 32)),
    );
    let disk = le16(header, 34);
    let external = le32(header, 38);
    let mode = external >> 16;
    let offset = le32(header, 42);
    let end = at + 46 + name_len + extra_len + comment_len;
    if end > directory.len() {
        return Err(Rejection::NotAZip(
            "a central directory record runs past the directory".into(),
        ));
    }
    let raw_name = directory[at + 46..at + 46 + name_len].to_vec();
    let lossy = String::from_utf8_lossy(&raw_name).into_owned();
    let extra = &directory[at + 46 + name_len..at + 46 + name_len + extra_len];
    let fields = extra_fields(extra, &lossy)?;
    check_unicode_path(&fields, &raw_name, &lossy)?;
    // Extractors decode a name without the UTF-8 flag as code page 437; only ASCII reads the
    // same both ways (or a name whose Unicode Path field, checked above, says it in UTF-8).
    let name = String::from_utf8(raw_name.clone()).map_err(|_| Rejection::UnsafeName {
        name: lossy.clone(),
        why: "it is not UTF-8",
    })?;
    if !name.is_ascii() && flags & FLAG_UTF8 == 0 && !fields.iter().any(|(id, _)| *id == 0x7075) {
        return Err(Rejection::UnsafeName {
            name,
            why: "it is not ASCII and not marked as UTF-8",
        });
    }
    // The file type lives in the high half of the external attributes for every extractor
    // that restores it, whatever "made by" system the entry claims.
    match mode & 0o170000 {
        0 | 0o100000 | 0o040000 => {}
        0o120000 => return Err(Rejection::Symlink { name }),
        _ => return Err(Rejection::SpecialFile { name, mode }),
    }
    // Folder attributes (Unix mode or the MS-DOS folder bit) on a name without the trailing
    // slash: bsdtar lists a folder, the others a file.
    let folder = mode & 0o170000 == 0o040000 || external & 0x10 != 0;
    if folder && !name.ends_with('/') {
        return Err(ambiguous(format!(
            "entry `{name}` has folder attributes but no trailing slash"
        )));
    }
    check_version_needed(needed, &name)?;
    // Zip64 extra field: exactly the values whose 32-bit fields hold the sentinel, in order.
    let mut values = [
        (u64::from(size), size == u32::MAX),
        (u64::from(compressed), compressed == u32::MAX),
        (u64::from(offset), offset == u32::MAX),
    ];
    let wanted = values.iter().filter(|(_, sentinel)| *sentinel).count() * 8
        + if disk == 0xFFFF { 4 } else { 0 };
    match fields.iter().find(|(id, _)| *id == 0x0001) {
        Some((_, data)) => {
            if data.len() != wanted {
                return Err(ambiguous(format!(
                    "entry `{name}` has a zip64 field of {} bytes where its record calls for {wanted}",
                    data.len()
                )));
            }
            let mut read = 0;
            for (value, sentinel) in &mut values {
                if *sentinel {
                    *value = le64(data, read);
                    read += 8;
                }
            }
            if disk == 0xFFFF && le32(data, read) != 0 {
                return Err(Rejection::NotAZip("it spans several disks".into()));
            }
        }
        None if wanted != 0 => {
            return Err(ambiguous(format!(
                "entry `{name}` has zip64 sentinels but no zip64 field"
            )));
        }
        None => {}
    }
    if disk != 0 && disk != 0xFFFF {
        return Err(Rejection::NotAZip("it spans several disks".into()));
    }
    let [(size, _), (compressed, _), (offset, _)] = values;
    Ok(Central {
        walked: Walked {
            name,
            method,
            crc,
            compressed,
            size,
            span: (offset, 0),
        },
        raw_name,
        flags,
        offset,
        end,
    })
}

/// Reads the local header of `central`'s entry and requires it to say the same: Java's
/// reader and `jar` go by the local headers, everything else by the directory.
fn local_header(
    file: &mut File,
    central: Central,
    directory_start: u64,
) -> Result<Walked, Rejection> {
    let Central {
        mut walked,
        raw_name,
        flags,
        offset,
        ..
    } = central;
    let name = walked.name.clone();
    let differs =
        |what: &str| ambiguous(format!("entry `{name}`'s local header has another {what}"));
    if offset.saturating_add(30) > directory_start {
        return Err(Rejection::NotAZip(format!(
            "entry `{name}`'s local header is not before the central directory"
        )));
    }
    let mut header = [0u8; 30];
    read_at(file, offset, &mut header)?;
    if &header[..4] != LOCAL {
        return Err(Rejection::NotAZip(format!(
            "entry `{name}` has no local header where the directory says"
        )));
    }
    let local_flags = le16(&header, 6);
    let mask = FLAG_ENCRYPTED | FLAG_DESCRIPTOR | FLAG_UTF8;
    if local_flags & mask != flags & mask {
        return Err(differs("set of flags"));
    }
    check_version_needed(le16(&header, 4), &name)?;
    if le16(&header, 8) != walked.method {
        return Err(differs("compression method"));
    }
    let (name_len, extra_len) = (
        usize::from(le16(&header, 26)),
        usize::from(le16(&header, 28)),
    );
    let mut rest = vec![0u8; name_len + extra_len];
    read_at(file, offset + 30, &mut rest)?;
    if rest[..name_len] != raw_name[..] {
        return Err(differs("name"));
    }
    let fields = extra_fields(&rest[name_len..], &name)?;
    check_unicode_path(&fields, &raw_name, &name)?;
    let (mut size, mut compressed) = (u64::from(le32(&header, 22)), u64::from(le32(&header, 18)));
    let zip64 = fields.iter().find(|(id, _)| *id == 0x0001);
    if size == 0xFFFF_FFFF || compressed == 0xFFFF_FFFF {
        // The local zip64 field holds both sizes; readers take each one only where its
        // 32-bit field holds the sentinel, so the other field must be true on its own.
        let data = zip64
            .map(|(_, data)| *data)
            .filter(|data| data.len() >= 16)
            .ok_or_else(|| differs("size (zip64 sentinels without a zip64 field)"))?;
        if size == 0xFFFF_FFFF {
            size = le64(data, 0);
        }
        if compressed == 0xFFFF_FFFF {
            compressed = le64(data, 8);
        }
    }
    let crc = le32(&header, 14);
    let descriptor = flags & FLAG_DESCRIPTOR != 0;
    // With a data descriptor, the local header may leave the CRC and sizes at zero.
    let same = |local: u64, central: u64| local == central || (descriptor && local == 0);
    if !same(u64::from(crc), u64::from(walked.crc)) {
        return Err(differs("CRC"));
    }
    if !same(size, walked.size) || !same(compressed, walked.compressed) {
        return Err(differs("size"));
    }
    let data_end = (offset + 30 + (name_len + extra_len) as u64)
        .checked_add(walked.compressed)
        .filter(|&end| end <= directory_start)
        .ok_or_else(|| {
            Rejection::NotAZip(format!("entry `{name}`'s data runs into the directory"))
        })?;
    let mut end = data_end;
    if descriptor {
        end = data_descriptor(file, data_end, directory_start, &walked, zip64.is_some())
            .ok_or_else(|| differs("CRC or size in its data descriptor"))?;
    }
    walked.span = (offset, end);
    Ok(walked)
}

/// Reads the data descriptor at `at` and returns where it ends, if it says what the central
/// record says. It may start with a signature; its sizes are 8 bytes when the entry has a
/// zip64 field.
fn data_descriptor(
    file: &mut File,
    at: u64,
    directory_start: u64,
    walked: &Walked,
    zip64: bool,
) -> Option<u64> {
    let available = directory_start.checked_sub(at)?.min(24) as usize;
    let mut buf = vec![0u8; available];
    read_at(file, at, &mut buf).ok()?;
    let body = |skip: usize| -> Option<u64> {
        let b = buf.get(skip..)?;
        let (sizes, len) = if zip64 {
            (b.get(4..20).map(|s| (le64(s, 8), le64(s, 0)))?, 20)
        } else {
            (
                b.get(4..12)
                    .map(|s| (u64::from(le32(s, 4)), u64::from(le32(s, 0))))?,
                12,
            )
        };
        (le32(b, 0) == walked.crc && sizes == (walked.size, walked.compressed))
            .then_some(at + (skip + len) as u64)
    };
    if buf.get(..4) == Some(&DESCRIPTOR[..]) {
        body(4)
    } else {
        body(0)
    }
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
