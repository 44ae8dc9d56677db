//! The zip check sees what extractors see (issue #13, class 1). Hostile zips are built here
//! from raw records, so that each can lie in exactly one way: counts in the end record, local
//! headers that differ from the central directory, bytes around or between entries, a second
//! end record, zip64 records, mode bits of any "made by" system. Each must be refused. And for
//! every zip the intake accepts, `unzip -Z1`, Python's `zipfile` and `bsdtar -t` must list
//! exactly the entries the intake checked.

use jcdiag_intake::inspect::{self, Limits, Rejection, Summary};
use jcdiag_testkit::Intake;
use jcdiag_testkit::Launch;

use crate::rawzip::*;

// ---------------------------------------------------------------------------------------------
// Running the check and the extractors
// ---------------------------------------------------------------------------------------------

fn check_with(zip: &[u8], limits: &Limits) -> Result<Summary, Rejection> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.zip");
    std::fs::write(&path, zip).unwrap();
    inspect::inspect(&path, limits)
}

/// `zip` is refused, and not because the bundle could not be read from disk.
#[track_caller]
fn assert_refused(what: &str, zip: &[u8]) {
    assert_refused_with(what, zip, &Limits::default());
}

#[track_caller]
fn assert_refused_with(what: &str, zip: &[u8], limits: &Limits) {
    match check_with(zip, limits) {
        Ok(summary) => panic!("{what}: accepted ({summary:?})"),
        Err(Rejection::Io(error)) => panic!("{what}: I/O error {error}"),
        Err(_) => {}
    }
}

/// If the intake accepts `zip`, each extractor lists exactly the entries the intake checked,
/// which are `expected` (in any order).
#[track_caller]
fn assert_tools_agree(what: &str, zip: &[u8], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.zip");
    std::fs::write(&path, zip).unwrap();
    let Ok((summary, mut checked)) = inspect::inspect_listing(&path, &Limits::default()) else {
        return;
    };
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    checked.sort();
    assert_eq!(checked, expected, "{what}: the entries the intake checked");
    assert_eq!(summary.entries, checked.len() as u64);
    for (label, listed) in listings(&path) {
        let mut listed = match listed {
            Ok(listed) => listed,
            Err(why) if tool_missing(label) => {
                eprintln!(
                    "!!! SKIPPED {label} for {what}: {why} (install unzip and libarchive-tools)"
                );
                continue;
            }
            Err(why) => panic!("{what}: the intake accepted it but {why}"),
        };
        listed.sort();
        assert_eq!(
            listed, checked,
            "{what}: {label} against the intake's entries"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile zips
// ---------------------------------------------------------------------------------------------

/// An end record that under-counts hides entries from a reader that trusts it; `unzip` and
/// Python read the whole directory.
#[test]
fn end_record_that_undercounts_is_refused() {
    let entries = [
        case_json(),
        Entry::symlink("logs/shadow", "/etc/shadow"),
        bomb(),
    ];
    let zip = Raw::with(&entries).finish_with(|end| end.entries = Some(1));
    assert_tools_agree(
        "under-counted",
        &zip,
        &["case.json", "logs/shadow", "logs/huge.log"],
    );
    assert_refused("end record says 1 of 3 entries", &zip);
    // Over-counting is as wrong.
    let zip = Raw::with(&entries[..1]).finish_with(|end| end.entries = Some(2));
    assert_refused("end record says 2 of 1 entries", &zip);
}

/// The entry cap holds for the entries in the directory, whatever the end record says.
#[test]
fn entry_cap_counts_the_directory_not_the_end_record() {
    let limits = Limits {
        max_entries: 100,
        ..Limits::default()
    };
    let mut raw = Raw::default();
    for i in 0..1000 {
        raw.entry(&Entry::stored(&format!("f{i}"), b""));
    }
    assert_refused_with(
        "1000 entries, end record says 1",
        &raw.finish_with(|end| end.entries = Some(1)),
        &limits,
    );
}

/// The entry cap at its real default, past the end record's 16-bit count.
#[test]
fn many_entries_behind_a_small_count_are_refused() {
    let mut raw = Raw::default();
    for i in 0..10_050 {
        raw.entry(&Entry::stored(&format!("{i}"), b""));
    }
    let count = raw.count;
    match check_with(
        &raw.finish_with(|end| end.entries = Some(3)),
        &Limits::default(),
    ) {
        Err(Rejection::TooManyEntries { .. }) => {}
        other => panic!("{count} entries: {other:?}"),
    }
}

/// A symlink is a symlink whichever system the entry claims it was made on.
#[test]
fn symlink_mode_bits_count_on_any_system() {
    for (system, made_by) in [
        ("MS-DOS", 20),
        ("Unix", 3 << 8 | 20),
        ("NTFS", 11 << 8 | 20),
    ] {
        let link = Entry {
            made_by,
            ..Entry::symlink("logs/shadow", "/etc/shadow")
        };
        let zip = Raw::with(&[case_json(), link]).finish();
        match check_with(&zip, &Limits::default()) {
            Err(Rejection::Symlink { name }) => assert_eq!(name, "logs/shadow"),
            other => panic!("symlink made on {system}: {other:?}"),
        }
    }
    // Other special files (a FIFO, a device, a socket) are not files or folders either.
    for mode in [0o010644u32, 0o020644, 0o060644, 0o140777] {
        let special = Entry {
            made_by: 20,
            external: mode << 16,
            ..Entry::stored("logs/special", b"")
        };
        assert_refused(
            &format!("mode {mode:o}"),
            &Raw::with(&[case_json(), special]).finish(),
        );
    }
}

/// Java's reader (and `jar`) use the local headers: each must say what the directory says.
#[test]
fn local_header_that_differs_from_the_directory_is_refused() {
    let base = || Entry::stored("logs/agent.log", b"hello\n");
    let cases = [
        (
            "local name",
            Entry {
                local_name: Some(b"../../etc/cron.d/x".to_vec()),
                ..base()
            },
        ),
        (
            "local name, same length",
            Entry {
                local_name: Some(b"logs/agent.exe".to_vec()),
                ..base()
            },
        ),
        (
            "local method",
            Entry {
                local_method: Some(8),
                ..base()
            },
        ),
        (
            "local CRC",
            Entry {
                local_crc: Some(0x1234_5678),
                ..base()
            },
        ),
        (
            "local size",
            Entry {
                local_size: Some(5),
                ..base()
            },
        ),
    ];
    for (what, entry) in cases {
        let zip = Raw::with(&[case_json(), entry]).finish();
        assert_refused(what, &zip);
    }
}

/// A Unicode Path extra field names the entry for the extractors that honour it.
#[test]
fn unicode_path_field_that_differs_from_the_name_is_refused() {
    let name = b"logs/agent.log";
    for (what, central, local) in [
        ("in the directory", unicode_path(name, "../../evil"), vec![]),
        (
            "in the local header",
            vec![],
            unicode_path(name, "../../evil"),
        ),
        (
            "harmless but different",
            unicode_path(name, "logs/other.log"),
            vec![],
        ),
    ] {
        let entry = Entry {
            central_extra: central,
            local_extra: local,
            ..Entry::stored("logs/agent.log", b"x")
        };
        assert_refused(what, &Raw::with(&[case_json(), entry]).finish());
    }
    // Equal to the name is fine.
    let entry = Entry {
        central_extra: unicode_path(name, "logs/agent.log"),
        ..Entry::stored("logs/agent.log", b"x")
    };
    let zip = Raw::with(&[case_json(), entry]).finish();
    check_with(&zip, &Limits::default()).expect("a Unicode Path equal to the name");
}

/// Entries must tile the file from offset 0: nothing before, between or after them but the
/// directory and the end record.
#[test]
fn bytes_outside_the_entries_are_refused() {
    let hostile = Raw::with(&[Entry::symlink("logs/shadow", "/etc/shadow"), bomb()]).finish();
    // A hostile zip in front of a clean one, the clean one's offsets not adjusted...
    let mut front = hostile.clone();
    front.extend_from_slice(&clean());
    assert_refused("hostile zip in front, offsets as they were", &front);
    // ... and adjusted (`zip -A`), so that the clean one reads fine on its own.
    let mut raw = Raw {
        body: hostile.clone(),
        ..Raw::default()
    };
    raw.entry(&case_json());
    assert_refused("hostile zip in front, offsets adjusted", &raw.finish());
    // Junk before the first entry, between two entries, and between the last one and the
    // directory.
    let mut raw = Raw {
        body: b"MZ\x90\x00 a self-extractor stub".to_vec(),
        ..Raw::default()
    };
    raw.entry(&case_json());
    assert_refused("bytes before the first entry", &raw.finish());
    let mut raw = Raw::with(&[case_json()]);
    raw.body.extend_from_slice(b"hidden");
    raw.entry(&Entry::stored("summary.txt", b"x"));
    assert_refused("bytes between entries", &raw.finish());
    let mut raw = Raw::with(&[case_json()]);
    raw.body.extend_from_slice(&hostile);
    assert_refused(
        "a whole zip between the last entry and the directory",
        &raw.finish(),
    );
    // Bytes after the end record that its comment length does not cover.
    let mut after = clean();
    after.extend_from_slice(b"trailing");
    assert_refused("bytes after the end record", &after);
    // The directory's offset off by a few bytes.
    let zip = Raw::with(&[case_json()]).finish_with(|end| end.directory_offset = Some(3));
    assert_refused("directory offset wrong", &zip);
}

/// Exactly one end record: a second one in the comment is what some readers take.
#[test]
fn a_second_end_record_is_refused() {
    let limits = Limits {
        max_central_directory: 1000,
        ..Limits::default()
    };
    let mut raw = Raw::default();
    for i in 0..40 {
        raw.entry(&Entry::stored(&format!("logs/{i:04}.log"), b"x"));
    }
    // The real directory is over the cap; a fake end record in the comment says it is small.
    assert!(raw.central.len() > 1000);
    let offset = raw.body.len() as u32;
    let fake = end_record(1, 60, offset, b"");
    assert_refused_with(
        "fake end record in the comment",
        &raw.finish_with(|end| end.comment = fake),
        &limits,
    );
    // An end record in the comment of an otherwise clean zip.
    let zip = Raw::with(&[case_json()]).finish_with(|end| end.comment = end_record(0, 0, 0, b""));
    assert_refused("second end record", &zip);
}

/// Zip64 records only where the end record says so, and then read strictly.
#[test]
fn zip64_records_are_parsed_strictly() {
    let limits = Limits {
        max_central_directory: 1000,
        ..Limits::default()
    };
    // No sentinel values in the end record, but a zip64 record and locator before it that
    // some readers prefer: the end record claims a small directory, the zip64 one the truth.
    let mut raw = Raw::default();
    for i in 0..40 {
        raw.entry(&Entry::stored(&format!("logs/{i:04}.log"), b"x"));
    }
    let (body_len, central_len) = (raw.body.len() as u64, raw.central.len() as u64);
    let mut zip = raw.body;
    zip.extend_from_slice(&raw.central);
    let record_at = zip.len() as u64;
    zip.extend_from_slice(&zip64_end_record(40, central_len, body_len));
    zip.extend_from_slice(&zip64_locator(record_at));
    zip.extend_from_slice(&end_record(1, 60, body_len as u32, b""));
    assert_refused_with("zip64 record without sentinels", &zip, &limits);

    // Sentinels, but the zip64 record disagrees with the directory.
    let raw = Raw::with(&[case_json()]);
    let (body_len, central_len) = (raw.body.len() as u64, raw.central.len() as u64);
    let build = |entries: u64, size: u64, gap: &[u8]| {
        let mut zip = raw.body.clone();
        zip.extend_from_slice(&raw.central);
        zip.extend_from_slice(gap);
        let record_at = zip.len() as u64;
        zip.extend_from_slice(&zip64_end_record(entries, size, body_len));
        zip.extend_from_slice(&zip64_locator(record_at));
        zip.extend_from_slice(&end_record(0xFFFF, u32::MAX, u32::MAX, b""));
        zip
    };
    check_with(&build(1, central_len, b""), &Limits::default()).expect("a truthful zip64 end");
    assert_refused("zip64 count wrong", &build(2, central_len, b""));
    assert_refused("zip64 size wrong", &build(1, central_len + 9, b""));
    assert_refused(
        "bytes between directory and zip64 record",
        &build(1, central_len, b"junk"),
    );

    // A zip64 extra field in an entry must hold exactly the values the sentinels stand for.
    let entry = Entry {
        zip64: true,
        ..Entry::stored("logs/a.log", b"hello")
    };
    check_with(
        &Raw::with(std::slice::from_ref(&entry)).finish(),
        &Limits::default(),
    )
    .expect("an entry with a truthful zip64 extra field");
    let mut lying = entry.clone();
    lying.central_extra = {
        // A second zip64 field in front of the real one.
        let mut extra = Vec::new();
        u16le(&mut extra, 1);
        u16le(&mut extra, 24);
        u64le(&mut extra, 1);
        u64le(&mut extra, 1);
        u64le(&mut extra, 0);
        extra
    };
    assert_refused("two zip64 extra fields", &Raw::with(&[lying]).finish());
}

/// What the fuzz run found the three extractors disagree on, in zips the walk accepted.
#[test]
fn fuzz_findings_are_refused() {
    // Python's zipfile refuses a "version needed to extract" above 6.3; the others list it.
    for needed in [64, 0x0D85, 0xFFFF] {
        let entry = Entry {
            version_needed: Some(needed),
            ..Entry::stored("logs/a.log", b"x")
        };
        assert_refused(
            &format!("version needed {needed:#x}"),
            &Raw::with(&[case_json(), entry]).finish(),
        );
    }
    // Folder mode bits (Unix, or the MS-DOS folder attribute) on a name without a trailing
    // slash: bsdtar lists `logs/a.log/`, the others `logs/a.log`.
    for external in [0o040755 << 16, 0x10, 0o100644 << 16 | 0xFE] {
        let entry = Entry {
            external,
            ..Entry::stored("logs/a.log", b"")
        };
        assert_refused(
            &format!("folder attributes {external:#x}"),
            &Raw::with(&[case_json(), entry]).finish(),
        );
    }
    // A local header with one size at the zip64 sentinel and the other one lying: readers
    // take the zip64 value only for the field that holds the sentinel.
    let mut zip64 = Vec::new();
    u16le(&mut zip64, 1);
    u16le(&mut zip64, 16);
    u64le(&mut zip64, 1);
    u64le(&mut zip64, 1);
    let entry = Entry {
        local_extra: zip64,
        local_packed: Some(u32::MAX),
        local_size: Some(81_264_639),
        ..Entry::stored("logs/a.log", b"x")
    };
    assert_refused(
        "local size beside a zip64 sentinel",
        &Raw::with(&[case_json(), entry]).finish(),
    );
}

/// The under-counted zip of the report, uploaded: refused with 422 and nothing kept.
#[tokio::test]
async fn undercounted_bundle_upload_is_refused() {
    let intake = Intake::start().await;
    let zip = Raw::with(&[
        case_json(),
        Entry::symlink("logs/shadow", "/etc/shadow"),
        bomb(),
    ])
    .finish_with(|end| end.entries = Some(1));
    let reply = intake.submit(&zip).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.error(), "bundle_rejected");
    assert!(reply.header("jcdiag-receipt").is_none());
    assert!(
        intake.leftovers().is_empty(),
        "left behind: {:?}",
        intake.leftovers()
    );
}

// ---------------------------------------------------------------------------------------------
// Legitimate zips
// ---------------------------------------------------------------------------------------------

/// Real bundle shapes pass, and the three extractors list exactly what the intake checked.
#[test]
#[cfg_attr(
    windows,
    ignore = "runs unzip, Python's zipfile and bsdtar: Linux programs a Windows test binary under Wine cannot start"
)]
fn legitimate_zips_pass_and_extractors_agree() {
    let shapes: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "sample bundle",
            jcdiag_testkit::sample_bundle(),
            &["case.json", "summary.txt", "screenshots/screen.bin"],
        ),
        (
            "raw builder, deflated and stored",
            clean(),
            &["case.json", "summary.txt"],
        ),
        ("zip crate, nested folders", written(false, |o| o), WRITTEN),
        (
            "zip crate, streamed (data descriptors)",
            written(true, |o| o),
            WRITTEN,
        ),
        (
            "zip crate, zip64 extra fields",
            written(false, |o| o.large_file(true)),
            WRITTEN,
        ),
    ];
    for (what, zip, names) in &shapes {
        if let Err(why) = check_with(zip, &Limits::default()) {
            panic!("{what}: refused: {why}");
        }
        assert_tools_agree(what, zip, names);
    }
}

/// Zips made by Info-ZIP's `zip` (its extra fields, folders, an empty file) pass too, and
/// the extractors agree. Two of its shapes are refused by design: a non-ASCII name stored
/// without the UTF-8 flag (Python's `zipfile` reads it as code page 437, `caf├⌐.log`, while
/// `unzip` and `bsdtar` read UTF-8), and what it writes from standard input (a zip64 end
/// record without sentinel values in the end record).
#[test]
#[cfg_attr(
    windows,
    ignore = "runs unzip, Python's zipfile and bsdtar: Linux programs a Windows test binary under Wine cannot start"
)]
fn info_zip_archives_pass_and_extractors_agree() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if Command::new("zip").arg("-v").run().is_err() {
        eprintln!("!!! SKIPPED: Info-ZIP `zip` is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("logs/sub")).unwrap();
    std::fs::write(src.join("logs/cafe.log"), "hi\n").unwrap();
    std::fs::write(src.join("logs/empty"), "").unwrap();
    // Numbered lines: a log that compresses well, but not like a bomb.
    let log: String = (0..20_000).map(|i| format!("{i} heartbeat\n")).collect();
    std::fs::write(src.join("logs/sub/big.log"), &log).unwrap();
    let tree = dir.path().join("tree.zip");
    let status = Command::new("zip")
        .args(["-qr", tree.to_str().unwrap(), "."])
        .current_dir(&src)
        .env("LC_ALL", "C.UTF-8")
        .status()
        .unwrap();
    assert!(status.success());
    let streamed = dir.path().join("streamed.zip");
    let mut child = Command::new("zip")
        .args(["-q", streamed.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .start()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let zip = std::fs::read(&tree).unwrap();
    if let Err(why) = check_with(&zip, &Limits::default()) {
        panic!("zip -r: refused: {why}");
    }
    assert_tools_agree(
        "zip -r",
        &zip,
        &[
            "logs/",
            "logs/cafe.log",
            "logs/empty",
            "logs/sub/",
            "logs/sub/big.log",
        ],
    );
    assert_refused(
        "zip from standard input",
        &std::fs::read(&streamed).unwrap(),
    );
    std::fs::write(src.join("logs/caf\u{e9}.log"), "hi\n").unwrap();
    let status = Command::new("zip")
        .args(["-qr", tree.to_str().unwrap(), "."])
        .current_dir(&src)
        .env("LC_ALL", "C.UTF-8")
        .status()
        .unwrap();
    assert!(status.success());
    match check_with(&std::fs::read(&tree).unwrap(), &Limits::default()) {
        Err(Rejection::UnsafeName { name, why }) => {
            assert_eq!(name, "logs/caf\u{e9}.log");
            assert!(why.contains("not marked as UTF-8"), "{why}");
        }
        other => panic!("an unflagged UTF-8 name: {other:?}"),
    }
}
