//! `jcdiag record` run as a process while a test writes, rotates and truncates agent logs in a
//! system layout built in a temp folder.
//!
//! The recording is ended with `--stop-file` (works everywhere, Wine included) and, on Unix,
//! with SIGINT as a user's Ctrl-C would.

use jcdiag_testkit::Launch;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::support::{Sandbox, jcdiag};

fn main_log(os: &str) -> &'static str {
    match os {
        "windows" => r"C:\Windows\Temp\jcagent.log",
        _ => "/var/log/jcagent.log",
    }
}

/// A second agent log that matches the profile, created during the window.
fn late_log(os: &str) -> &'static str {
    match os {
        "windows" => r"C:\Windows\Temp\jcUpdate.log",
        _ => "/var/log/jcUpdate.log",
    }
}

/// A jcagent.log line the scrubber leaves alone, unique by tag and number.
fn line(tag: &str, n: usize) -> String {
    format!(
        "2026/11/27 09:{:02}:{:02} [4242] [INFO] {tag} line {n:07}: applying policy\n",
        (n / 60) % 60,
        n % 60
    )
}

/// `jcdiag record` running in the background, started (its start offsets taken).
struct Running {
    child: Child,
    stop_file: PathBuf,
    stderr: Receiver<String>,
}

fn start_record(sandbox: &Sandbox, extra: &[&str]) -> Running {
    let stop_file = sandbox.dir.path().join("stop-recording");
    let mut command = jcdiag(sandbox.dir.path());
    command
        .arg("record")
        .arg("--sysroot")
        .arg(sandbox.root())
        .args(["--target-os", sandbox.os])
        .arg("--out")
        .arg(sandbox.out())
        .arg("--stop-file")
        .arg(&stop_file)
        .args([
            "--description",
            "login fails after password change",
            "--json",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.start().expect("jcdiag starts");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Lines written from now on are in the window: wait until jcdiag says it is recording.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("recording since") => break,
            Ok(_) => continue,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "jcdiag record did not start: {:?}",
                    child.wait_with_output()
                );
            }
        }
    }
    Running {
        child,
        stop_file,
        stderr: rx,
    }
}

impl Running {
    /// Ends the recording by its stop file and waits for the bundle.
    fn stop(self) -> (Output, String) {
        File::create(&self.stop_file).unwrap();
        self.wait()
    }

    fn wait(self) -> (Output, String) {
        let output = self.child.wait_with_output().unwrap();
        let stderr: Vec<String> = self.stderr.try_iter().collect();
        (output, stderr.join("\n"))
    }
}

fn assert_ok(output: &Output, stderr: &str) {
    assert!(
        output.status.success(),
        "jcdiag record failed ({:?}):\nstdout: {}\nstderr: {stderr}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
    );
}

/// Appends lines to a log, as the agent would, a few at a time.
struct Writer {
    file: File,
}

impl Writer {
    fn open(path: &Path) -> Writer {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        Writer { file }
    }

    /// Writes `count` lines tagged `tag`, pausing now and then; returns what was written.
    fn lines(&mut self, tag: &str, count: usize) -> String {
        let mut all = String::new();
        for n in 0..count {
            let text = line(tag, n);
            self.file.write_all(text.as_bytes()).unwrap();
            all.push_str(&text);
            if n % 50 == 49 {
                std::thread::sleep(Duration::from_millis(15));
            }
        }
        all
    }
}

/// Moves `log.N` to `log.N+1`, newest last, like a rotating agent.
fn shift_rotated(log: &Path) {
    for n in (1..9).rev() {
        let from = PathBuf::from(format!("{}.{n}", log.display()));
        if from.exists() {
            std::fs::rename(&from, format!("{}.{}", log.display(), n + 1)).unwrap();
        }
    }
}

/// Cuts a log to zero through a handle of its own, as logrotate's copytruncate does (the
/// agent's append-only handle may not truncate on Windows).
fn truncate(log: &Path) {
    File::options()
        .write(true)
        .open(log)
        .unwrap()
        .set_len(0)
        .unwrap();
}

/// A pause in which the agent writes nothing (rotation is not instantaneous either).
fn pause() {
    std::thread::sleep(Duration::from_millis(700));
}

/// The acceptance scenario: lines before the start, lines during the window, a rotation by
/// rename (with lines written to the renamed file through the agent's open handle), a
/// copytruncate, and a second log that appears late. Every window line is recorded exactly
/// once and in order; no line from before the start is.
fn record_through_rotation_and_truncation(os: &'static str, extra: &[&str]) {
    let sandbox = Sandbox::new(os);
    let log = sandbox.path(main_log(os));
    let mut before = String::new();
    for n in 0..500 {
        before.push_str(&line("before", n));
    }
    sandbox.write(main_log(os), &before);
    sandbox.write(&format!("{}.1", main_log(os)), line("older", 1));

    let running = start_record(&sandbox, extra);
    let mut expected = String::new();
    let mut agent = Writer::open(&log);
    expected += &agent.lines("window-a", 300);
    pause();

    // Rotation by rename; the agent writes a few more lines before it reopens.
    shift_rotated(&log);
    std::fs::rename(&log, format!("{}.1", log.display())).unwrap();
    expected += &agent.lines("renamed-a", 40);
    let mut agent = Writer::open(&log);
    expected += &agent.lines("window-b", 300);
    pause();

    // copytruncate: the log is copied aside and cut to zero; the agent goes on writing.
    shift_rotated(&log);
    std::fs::copy(&log, format!("{}.1", log.display())).unwrap();
    truncate(&log);
    expected += &agent.lines("window-c", 300);
    pause();

    let mut late = Writer::open(&sandbox.path(late_log(os)));
    let late_expected = late.lines("late", 200);
    expected += &agent.lines("window-d", 100);
    pause();

    let (output, stderr) = running.stop();
    assert_ok(&output, &stderr);
    let bundle = sandbox.bundle();
    let recorded = bundle.text("logs/recorded/jcagent.log");
    assert!(
        !recorded.contains("before line") && !recorded.contains("older line"),
        "{os} {extra:?}: a line from before the start was recorded"
    );
    assert_eq!(
        recorded.lines().count(),
        expected.lines().count(),
        "{os} {extra:?}: lines recorded; stderr: {stderr}"
    );
    assert!(
        recorded == expected,
        "{os} {extra:?}: the recorded log differs from what was written in the window"
    );
    assert_eq!(bundle.text("logs/recorded/jcUpdate.log"), late_expected);

    // The window is in the manifest and in the case form; the usual log tail is still there.
    let manifest = bundle.manifest();
    let window = &manifest["recording"];
    let start = window["start"].as_str().unwrap();
    let end = window["end"].as_str().unwrap();
    assert!(start < end, "{window}");
    // The manifest says how changes were noticed; events did arrive where inotify is there.
    let watch = window["watch"].as_str().unwrap();
    if extra.contains(&"--poll") {
        assert!(watch.starts_with("polling"), "{watch}");
        assert_eq!(window["file_events"], 0);
    } else {
        assert_eq!(watch, "file events");
        if cfg!(target_os = "linux") {
            assert!(window["file_events"].as_u64().unwrap() > 0, "{window}");
        }
    }
    let case = bundle.json("case.json");
    assert_eq!(case["recording"]["start"], start);
    assert_eq!(case["recording"]["end"], end);
    assert!(
        bundle
            .text("summary.txt")
            .contains(&format!("Recorded:    {start} to {end}"))
    );
    let main = window["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["entry"] == "logs/recorded/jcagent.log")
        .expect("the main log's recording is described");
    assert!(main["rotations"].as_u64().unwrap() >= 1, "{main}");
    assert!(main["truncations"].as_u64().unwrap() >= 1, "{main}");
    let entry = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "logs/recorded/jcagent.log")
        .unwrap();
    assert_eq!(entry["source"], main_log(os));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["recording"]["start"], start);
    assert!(
        bundle
            .entries
            .keys()
            .any(|k| k.starts_with("logs/") && !k.starts_with("logs/recorded/"))
    );
}

#[test]
fn every_line_of_the_window_is_recorded_once_in_order_with_file_events() {
    for os in ["linux", "windows"] {
        record_through_rotation_and_truncation(os, &[]);
    }
}

#[test]
fn every_line_of_the_window_is_recorded_once_in_order_when_polling() {
    for os in ["linux", "windows"] {
        record_through_rotation_and_truncation(os, &["--poll"]);
    }
}

/// 50,000 lines a second (by default for 10 s; `JCDIAG_RATE_TEST_SECS` changes it) written
/// to the main log in 10 ms batches: every line is in the recording, once, in order.
#[test]
fn a_writer_at_50000_lines_a_second_loses_no_line() {
    let seconds: u64 = std::env::var("JCDIAG_RATE_TEST_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", line("before", 0));
    let running = start_record(
        &sandbox,
        &["--max-log-size", "256MiB", "--max-total-log-size", "1KiB"],
    );
    let log = sandbox.path("/var/log/jcagent.log");
    let batches = seconds * 100;
    let writer = std::thread::spawn(move || {
        let mut file = File::options().append(true).open(&log).unwrap();
        let started = Instant::now();
        let mut batch = String::with_capacity(500 * 80);
        for b in 0..batches {
            let due = started + Duration::from_millis(10 * b);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            batch.clear();
            for n in 0..500 {
                batch.push_str(&line("fast", (b * 500 + n) as usize));
            }
            file.write_all(batch.as_bytes()).unwrap();
        }
        started.elapsed()
    });
    let took = writer.join().unwrap();
    let total = batches * 500;
    let rate = total as f64 / took.as_secs_f64();
    eprintln!("wrote {total} lines in {took:?}: {rate:.0} lines/s");
    assert!(
        rate >= 45_000.0,
        "the writer fell behind: {rate:.0} lines/s"
    );
    let (output, stderr) = running.stop();
    assert_ok(&output, &stderr);
    let recorded = sandbox.bundle().text("logs/recorded/jcagent.log");
    let mut expected = 0usize;
    for got in recorded.lines() {
        let want = line("fast", expected);
        assert_eq!(got, want.trim_end(), "line {expected} of {total}");
        expected += 1;
    }
    assert_eq!(expected as u64, total, "lines recorded");
}

#[test]
fn the_duration_ends_the_recording() {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", line("before", 0));
    let started = Instant::now();
    let output = jcdiag(sandbox.dir.path())
        .arg("record")
        .arg("--sysroot")
        .arg(sandbox.root())
        .args(["--target-os", "linux", "--for", "2s", "--silent"])
        .arg("--out")
        .arg(sandbox.out())
        .run()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("ok bundle="));
    let manifest = sandbox.bundle().manifest();
    assert!(manifest["recording"]["start"].is_string());
    // Nothing was written in the window: no recorded entry, and the log tail is still there.
    assert!(
        !sandbox
            .bundle()
            .entries
            .contains_key("logs/recorded/jcagent.log")
    );
}

/// Screenshots saved in the user's folder during the window: left out of an unattended run,
/// added with `--include-new-screenshots`; images there before the start never are.
#[test]
fn new_screenshots_are_added_only_when_asked_for() {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image body";
    for include in [false, true] {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", line("before", 0));
        sandbox.write("/home/ana/Pictures/Screenshots/old.png", PNG);
        let extra: &[&str] = if include {
            &["--include-new-screenshots"]
        } else {
            &[]
        };
        let running = start_record(&sandbox, extra);
        sandbox.write(
            "/home/ana/Pictures/Screenshots/Screenshot from 2026-11-27.png",
            PNG,
        );
        sandbox.write("/home/ana/Pictures/Screenshots/notes.txt", "not an image");
        pause();
        let (output, stderr) = running.stop();
        assert_ok(&output, &stderr);
        let bundle = sandbox.bundle();
        let shots: Vec<&String> = bundle
            .entries
            .keys()
            .filter(|k| k.starts_with("screenshots/"))
            .collect();
        if include {
            assert_eq!(shots, ["screenshots/Screenshot from 2026-11-27.png"]);
        } else {
            assert!(shots.is_empty(), "{shots:?}");
        }
        let seen = bundle.manifest()["recording"]["new_screenshots"].to_string();
        assert!(
            seen.contains("Screenshot from 2026-11-27.png") && !seen.contains("old.png"),
            "{seen}"
        );
    }
}

#[test]
fn screenshots_since_adds_recent_images_from_the_screenshot_folders() {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image body";
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", line("before", 0));
    sandbox.write(
        "/home/ana/.config/user-dirs.dirs",
        "XDG_PICTURES_DIR=\"$HOME/Bilder\"\n",
    );
    sandbox.write("/home/ana/Bilder/recent.png", PNG);
    sandbox.write(
        "/home/ana/Bilder/old.png",
        b"\x89PNG\r\n\x1a\nanother image",
    );
    sandbox.age("/home/ana/Bilder/old.png", 7200);
    let output = sandbox.collect(&["--screenshots-since", "1h"]);
    assert!(output.status.success(), "{output:?}");
    let bundle = sandbox.bundle();
    assert!(bundle.entries.contains_key("screenshots/recent.png"));
    assert!(!bundle.entries.contains_key("screenshots/old.png"));
}

#[cfg(unix)]
mod ctrl_c {
    use super::*;
    use rustix::process::{Pid, Signal, kill_process};

    fn interrupt(child: &Child) {
        kill_process(Pid::from_child(child), Signal::INT).unwrap();
    }

    #[test]
    fn ctrl_c_ends_the_recording_and_the_bundle_is_written() {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", line("before", 0));
        let running = start_record(&sandbox, &[]);
        let mut agent = Writer::open(&sandbox.path("/var/log/jcagent.log"));
        let expected = agent.lines("window", 100);
        pause();
        interrupt(&running.child);
        let (output, stderr) = running.wait();
        assert_ok(&output, &stderr);
        assert_eq!(sandbox.bundle().text("logs/recorded/jcagent.log"), expected);
    }

    #[test]
    fn a_second_ctrl_c_aborts_and_leaves_nothing_behind() {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", line("before", 0));
        // A big log keeps jcdiag busy bundling long enough for the second Ctrl-C.
        let running = start_record(&sandbox, &["--max-log-size", "64MiB"]);
        let mut agent = Writer::open(&sandbox.path("/var/log/jcagent.log"));
        agent.lines("window", 200);
        interrupt(&running.child);
        // Soon enough to land while the recording winds up or the bundle is written.
        std::thread::sleep(Duration::from_millis(20));
        interrupt(&running.child);
        let (output, stderr) = running.wait();
        assert_eq!(output.status.code(), Some(130), "{stderr}");
        assert!(sandbox.out_files().is_empty(), "{:?}", sandbox.out_files());
    }
}

/// `record --submit` sends the recorded case like `submit` does: delivered, with the recorded
/// log in the bundle the endpoint received.
#[tokio::test(flavor = "multi_thread")]
async fn record_submit_delivers_the_recorded_case() {
    let intake = crate::support::Intake::start().await;
    let token = intake.token(crate::support::ORG, None);
    let (url, ca) = (intake.url.clone(), intake.certs.ca_pem.clone());
    let (output, stderr, bundle, expected) = tokio::task::spawn_blocking(move || {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", line("before", 0));
        let state = sandbox.dir.path().join("state");
        let state = state.to_str().unwrap();
        let ca = ca.to_str().unwrap();
        let running = start_record(
            &sandbox,
            &[
                "--submit",
                "--yes",
                "--severity",
                "2",
                "--tier",
                "premium",
                "--email",
                "admin@example.com",
                "--endpoint",
                &url,
                "--token",
                &token,
                "--ca-file",
                ca,
                "--state-dir",
                state,
            ],
        );
        let mut agent = Writer::open(&sandbox.path("/var/log/jcagent.log"));
        let expected = agent.lines("window", 100);
        pause();
        let (output, stderr) = running.stop();
        let bundle = sandbox.bundle();
        (output, stderr, bundle, expected)
    })
    .await
    .unwrap();
    assert_ok(&output, &stderr);
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["status"], "delivered", "{result}");
    assert!(result["recording"]["start"].is_string(), "{result}");
    assert_eq!(bundle.text("logs/recorded/jcagent.log"), expected);
    let received = intake.files_in("bundles");
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(std::fs::read(&received[0]).unwrap(), bundle.raw);
}

/// copytruncate right after the agent wrote, before jcdiag looked again: the lines not read yet
/// are taken from the copy, once.
#[test]
fn a_copytruncate_right_after_writing_loses_nothing() {
    for round in 0..3 {
        let sandbox = Sandbox::new("linux");
        sandbox.write("/var/log/jcagent.log", line("before", 0));
        let running = start_record(&sandbox, &["--poll"]);
        let log = sandbox.path("/var/log/jcagent.log");
        let mut agent = Writer::open(&log);
        let mut expected = agent.lines("first", 100);
        pause();
        // Written and rotated away within one polling interval.
        let burst: String = (0..50).map(|n| line("burst", n)).collect();
        agent.file.write_all(burst.as_bytes()).unwrap();
        expected += &burst;
        std::fs::copy(&log, format!("{}.1", log.display())).unwrap();
        truncate(&log);
        expected += &agent.lines("after", 100);
        pause();
        let (output, stderr) = running.stop();
        assert_ok(&output, &stderr);
        let recorded = sandbox.bundle().text("logs/recorded/jcagent.log");
        assert!(recorded == expected, "round {round}: {stderr}\n{recorded}");
    }
}
