//! A zip builder that writes raw records, so that a test can make a zip lie in exactly one
//! way; the zips of the tests (legitimate and hostile) as seeds for the fuzz run; and the
//! entry listings of `unzip -Z1`, Python's `zipfile` and `bsdtar -t`. Shared by the tests
//! (`zipwalk`, `fuzz`) and `examples/fuzz_inspect.rs`.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use jcdiag_testkit::{Launch, zip_of};
use zip::write::SimpleFileOptions;

// ---------------------------------------------------------------------------------------------
// A raw zip builder
// ---------------------------------------------------------------------------------------------

pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A raw deflate stream of `data`, cut out of a one-entry zip the zip crate wrote.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let zip = zip_of(&[("x", data)]);
    let word = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let packed = u32::from_le_bytes(zip[18..22].try_into().unwrap()) as usize;
    let start = 30 + word(26) + word(28);
    zip[start..start + packed].to_vec()
}

/// One entry as the builder writes it. The `local_*` fields, when set, make the local header
/// say something else than the central record.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) name: Vec<u8>,
    pub(crate) method: u16,
    pub(crate) flags: u16,
    pub(crate) packed: Vec<u8>,
    pub(crate) crc: u32,
    pub(crate) size: u32,
    /// Version made by: the high byte is the system (0 MS-DOS, 3 Unix).
    pub(crate) made_by: u16,
    pub(crate) external: u32,
    pub(crate) central_extra: Vec<u8>,
    pub(crate) local_extra: Vec<u8>,
    pub(crate) local_name: Option<Vec<u8>>,
    pub(crate) local_method: Option<u16>,
    pub(crate) local_crc: Option<u32>,
    pub(crate) local_size: Option<u32>,
    pub(crate) local_packed: Option<u32>,
    /// Version needed to extract, in the central record and the local header.
    pub(crate) version_needed: Option<u16>,
    /// Central sizes and offset written as 0xFFFFFFFF with a zip64 extra field holding them.
    pub(crate) zip64: bool,
}

impl Entry {
    pub(crate) fn stored(name: &str, contents: &[u8]) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            method: 0,
            flags: 0,
            packed: contents.to_vec(),
            crc: crc32(contents),
            size: contents.len() as u32,
            made_by: 3 << 8 | 20,
            external: 0o100644 << 16,
            central_extra: Vec::new(),
            local_extra: Vec::new(),
            local_name: None,
            local_method: None,
            local_crc: None,
            local_size: None,
            local_packed: None,
            version_needed: None,
            zip64: false,
        }
    }

    pub(crate) fn deflated(name: &str, contents: &[u8]) -> Entry {
        Entry {
            method: 8,
            packed: deflate(contents),
            ..Entry::stored(name, contents)
        }
    }

    pub(crate) fn symlink(name: &str, target: &str) -> Entry {
        Entry {
            external: 0o120777 << 16,
            ..Entry::stored(name, target.as_bytes())
        }
    }
}

/// A zip being written: the body (local headers and data) and the central directory.
#[derive(Default)]
pub(crate) struct Raw {
    pub(crate) body: Vec<u8>,
    pub(crate) central: Vec<u8>,
    pub(crate) count: u64,
}

/// What the end record says. `None` fields hold the truth.
#[derive(Default)]
pub(crate) struct End {
    pub(crate) entries: Option<u16>,
    pub(crate) directory_size: Option<u32>,
    pub(crate) directory_offset: Option<u32>,
    pub(crate) comment: Vec<u8>,
}

pub(crate) fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn u64le(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn end_record(entries: u16, size: u32, offset: u32, comment: &[u8]) -> Vec<u8> {
    let mut out = b"PK\x05\x06".to_vec();
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, entries);
    u16le(&mut out, entries);
    u32le(&mut out, size);
    u32le(&mut out, offset);
    u16le(&mut out, comment.len() as u16);
    out.extend_from_slice(comment);
    out
}

pub(crate) fn zip64_end_record(entries: u64, size: u64, offset: u64) -> Vec<u8> {
    let mut out = b"PK\x06\x06".to_vec();
    u64le(&mut out, 44);
    u16le(&mut out, 45);
    u16le(&mut out, 45);
    u32le(&mut out, 0);
    u32le(&mut out, 0);
    u64le(&mut out, entries);
    u64le(&mut out, entries);
    u64le(&mut out, size);
    u64le(&mut out, offset);
    out
}

pub(crate) fn zip64_locator(record_at: u64) -> Vec<u8> {
    let mut out = b"PK\x06\x07".to_vec();
    u32le(&mut out, 0);
    u64le(&mut out, record_at);
    u32le(&mut out, 1);
    out
}

/// An Info-ZIP Unicode Path extra field (0x7075) giving `name` for an entry called `header`.
pub(crate) fn unicode_path(header: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    u16le(&mut out, 0x7075);
    u16le(&mut out, (5 + name.len()) as u16);
    out.push(1);
    u32le(&mut out, crc32(header));
    out.extend_from_slice(name.as_bytes());
    out
}

impl Raw {
    pub(crate) fn with(entries: &[Entry]) -> Raw {
        let mut raw = Raw::default();
        for entry in entries {
            raw.entry(entry);
        }
        raw
    }

    pub(crate) fn entry(&mut self, e: &Entry) {
        let offset = self.body.len() as u64;
        let local_name = e.local_name.as_ref().unwrap_or(&e.name);
        let b = &mut self.body;
        b.extend_from_slice(b"PK\x03\x04");
        u16le(b, e.version_needed.unwrap_or(20));
        u16le(b, e.flags);
        u16le(b, e.local_method.unwrap_or(e.method));
        u32le(b, 0);
        u32le(b, e.local_crc.unwrap_or(e.crc));
        u32le(b, e.local_packed.unwrap_or(e.packed.len() as u32));
        u32le(b, e.local_size.unwrap_or(e.size));
        u16le(b, local_name.len() as u16);
        u16le(b, e.local_extra.len() as u16);
        b.extend_from_slice(local_name);
        b.extend_from_slice(&e.local_extra);
        b.extend_from_slice(&e.packed);

        let mut extra = e.central_extra.clone();
        let (size, packed, offset32) = if e.zip64 {
            u16le(&mut extra, 1);
            u16le(&mut extra, 24);
            u64le(&mut extra, u64::from(e.size));
            u64le(&mut extra, e.packed.len() as u64);
            u64le(&mut extra, offset);
            (u32::MAX, u32::MAX, u32::MAX)
        } else {
            (e.size, e.packed.len() as u32, offset as u32)
        };
        let c = &mut self.central;
        c.extend_from_slice(b"PK\x01\x02");
        u16le(c, e.made_by);
        u16le(c, e.version_needed.unwrap_or(if e.zip64 { 45 } else { 20 }));
        u16le(c, e.flags);
        u16le(c, e.method);
        u32le(c, 0);
        u32le(c, e.crc);
        u32le(c, packed);
        u32le(c, size);
        u16le(c, e.name.len() as u16);
        u16le(c, extra.len() as u16);
        u16le(c, 0);
        u16le(c, 0);
        u16le(c, 0);
        u32le(c, e.external);
        u32le(c, offset32);
        c.extend_from_slice(&e.name);
        c.extend_from_slice(&extra);
        self.count += 1;
    }

    /// The zip with a truthful end record.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.finish_with(|_| {})
    }

    /// The zip with an end record that `lie` may change.
    pub(crate) fn finish_with(self, lie: impl FnOnce(&mut End)) -> Vec<u8> {
        let mut end = End::default();
        lie(&mut end);
        let mut out = self.body;
        let offset = out.len() as u32;
        out.extend_from_slice(&self.central);
        out.extend_from_slice(&end_record(
            end.entries.unwrap_or(self.count as u16),
            end.directory_size.unwrap_or(self.central.len() as u32),
            end.directory_offset.unwrap_or(offset),
            &end.comment,
        ));
        out
    }
}

pub(crate) fn case_json() -> Entry {
    Entry::deflated(
        "case.json",
        jcdiag_testkit::case_json().to_string().as_bytes(),
    )
}

/// A 1 MiB run of zeros, deflated to about 1 KiB: over 200:1.
pub(crate) fn bomb() -> Entry {
    Entry::deflated("logs/huge.log", &vec![0u8; 1 << 20])
}

pub(crate) fn clean() -> Vec<u8> {
    Raw::with(&[
        case_json(),
        Entry::stored("summary.txt", b"Agent stopped.\n"),
    ])
    .finish()
}

// ---------------------------------------------------------------------------------------------
// Extractors
// ---------------------------------------------------------------------------------------------

/// The entry names each extractor lists, or why it could not be asked.
pub(crate) fn listings(path: &Path) -> Vec<(&'static str, Result<Vec<String>, String>)> {
    let python = std::env::var("JCDIAG_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, zipfile\nfor n in zipfile.ZipFile(sys.argv[1]).namelist(): print(n)";
    let runs: [(&'static str, String, Vec<String>); 3] = [
        ("unzip -Z1", "unzip".into(), vec!["-Z1".into()]),
        ("python zipfile", python, vec!["-c".into(), script.into()]),
        ("bsdtar -t", "bsdtar".into(), vec!["-tf".into()]),
    ];
    runs.into_iter()
        .map(|(label, program, mut args)| {
            args.push(path.display().to_string());
            let listed = Command::new(&program)
                .args(&args)
                .env("LC_ALL", "C.UTF-8")
                .run()
                .map_err(|e| format!("cannot run {program}: {e}"))
                .and_then(|out| {
                    if out.status.success() {
                        Ok(String::from_utf8_lossy(&out.stdout)
                            .lines()
                            .map(str::to_owned)
                            .collect())
                    } else {
                        Err(format!(
                            "{label} failed: {}",
                            String::from_utf8_lossy(&out.stderr)
                        ))
                    }
                });
            (label, listed)
        })
        .collect()
}

pub(crate) fn tool_missing(label: &str) -> bool {
    let program = match label {
        "unzip -Z1" => "unzip",
        "bsdtar -t" => "bsdtar",
        _ => return false,
    };
    Command::new(program).arg("--help").run().is_err()
}

/// A zip the zip crate writes, with nested folders, empty files, stored and deflated entries
/// and a non-ASCII name; `stream` makes it use data descriptors.
pub(crate) fn written(
    stream: bool,
    options: impl Fn(SimpleFileOptions) -> SimpleFileOptions,
) -> Vec<u8> {
    fn fill<W: Write + std::io::Seek>(
        writer: &mut zip::ZipWriter<W>,
        options: &dyn Fn(SimpleFileOptions) -> SimpleFileOptions,
    ) {
        let deflated = options(
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated),
        );
        let stored = options(
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
        );
        for (name, data, how) in [
            ("case.json", &b"{\"case\": 1}"[..], Some(deflated)),
            ("logs/", b"", None),
            ("logs/jcagent/", b"", None),
            (
                "logs/jcagent/jcagent.log",
                &b"line\n".repeat(5000),
                Some(deflated),
            ),
            ("logs/jcagent/empty.log", b"", Some(stored)),
            ("logs/empty-deflated.log", b"", Some(deflated)),
            ("screenshots/caf\u{e9}.png", b"\x89PNG....", Some(stored)),
        ] {
            match how {
                Some(how) => {
                    writer.start_file(name, how).unwrap();
                    writer.write_all(data).unwrap();
                }
                None => writer.add_directory(name, stored).unwrap(),
            }
        }
    }
    if stream {
        let mut writer = zip::ZipWriter::new_stream(Vec::new());
        fill(&mut writer, &options);
        writer.finish().unwrap().into_inner()
    } else {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        fill(&mut writer, &options);
        writer.finish().unwrap().into_inner()
    }
}

pub(crate) const WRITTEN: &[&str] = &[
    "case.json",
    "logs/",
    "logs/jcagent/",
    "logs/jcagent/jcagent.log",
    "logs/jcagent/empty.log",
    "logs/empty-deflated.log",
    "screenshots/caf\u{e9}.png",
];

// ---------------------------------------------------------------------------------------------
// Seeds for the fuzz run
// ---------------------------------------------------------------------------------------------

/// Zips the intake accepts: the testkit's bundles and the shapes the zip crate writes.
pub(crate) fn legitimate_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("sample bundle", jcdiag_testkit::bundle_of_size(4096)),
        ("raw builder", clean()),
        ("nested folders", written(false, |o| o)),
        ("streamed", written(true, |o| o)),
        ("zip64 fields", written(false, |o| o.large_file(true))),
        ("truthful zip64 entry", {
            let entry = Entry {
                zip64: true,
                ..Entry::stored("logs/a.log", b"hello")
            };
            Raw::with(&[case_json(), entry]).finish()
        }),
    ]
}

/// One zip of each hostile shape the tests build, all refused.
pub(crate) fn hostile_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let link = || Entry::symlink("logs/shadow", "/etc/shadow");
    let mut seeds = vec![
        (
            "under-counted",
            Raw::with(&[case_json(), link(), bomb()]).finish_with(|end| end.entries = Some(1)),
        ),
        (
            "symlink made on MS-DOS",
            Raw::with(&[
                case_json(),
                Entry {
                    made_by: 20,
                    ..link()
                },
            ])
            .finish(),
        ),
        (
            "local name differs",
            Raw::with(&[
                case_json(),
                Entry {
                    local_name: Some(b"../../etc/cron.d/x".to_vec()),
                    ..Entry::stored("logs/agent.log", b"hello\n")
                },
            ])
            .finish(),
        ),
        (
            "Unicode Path differs",
            Raw::with(&[Entry {
                central_extra: unicode_path(b"logs/a.log", "../evil"),
                ..Entry::stored("logs/a.log", b"x")
            }])
            .finish(),
        ),
        (
            "fake end record in the comment",
            Raw::with(&[case_json()]).finish_with(|end| end.comment = end_record(0, 0, 0, b"")),
        ),
    ];
    let mut front = Raw::with(&[link(), bomb()]).finish();
    front.extend_from_slice(&clean());
    seeds.push(("hostile zip in front", front));
    let raw = Raw::with(&[case_json(), Entry::stored("summary.txt", b"x")]);
    let (body_len, central_len) = (raw.body.len() as u64, raw.central.len() as u64);
    let mut zip = raw.body;
    zip.extend_from_slice(&raw.central);
    let record_at = zip.len() as u64;
    zip.extend_from_slice(&zip64_end_record(2, central_len, body_len));
    zip.extend_from_slice(&zip64_locator(record_at));
    zip.extend_from_slice(&end_record(2, central_len as u32, body_len as u32, b""));
    seeds.push(("zip64 record without sentinels", zip));
    seeds
}
