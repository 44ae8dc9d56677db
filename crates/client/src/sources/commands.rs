//! Running a command of the parity list: an absolute path, never a shell; a timeout; the child
//! and every descendant killed at the end (its own process group on Unix, a Job object on
//! Windows); the output capped; exit code and duration kept. Nothing here fails a collection:
//! a command that cannot start, fails or times out comes back as a [`Status`] to record.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use jcdiag_profile::Keep;

/// How much of a command's error output is kept (for the manifest's reason).
const STDERR_CAP: u64 = 4 << 10;
/// How long to wait for the output pipes once the process group is gone: a descendant that
/// left the group may still hold them.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub timeout: Duration,
    /// Most bytes of output kept.
    pub cap: u64,
    pub keep: Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Ended by itself with this exit code (None: killed by a signal).
    Exited(Option<i32>),
    /// Killed, with its descendants, at its timeout.
    TimedOut(Duration),
    /// Could not be started.
    NotStarted(String),
}

impl Status {
    pub fn succeeded(&self) -> bool {
        *self == Status::Exited(Some(0))
    }

    /// `exit code 0`, `timed out after 10 s`, `could not start: …`.
    pub fn describe(&self) -> String {
        match self {
            Status::Exited(Some(code)) => format!("exit code {code}"),
            Status::Exited(None) => "ended by a signal".into(),
            Status::TimedOut(after) => format!("timed out after {}", seconds(*after)),
            Status::NotStarted(why) => format!("could not start: {why}"),
        }
    }
}

/// `10 s`, `1.5 s`.
pub fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What a run gave.
#[derive(Debug)]
pub struct Ran {
    pub status: Status,
    pub stdout: Vec<u8>,
    /// Bytes the command wrote on stdout in all.
    pub stdout_len: u64,
    pub truncated: bool,
    /// The end of stderr.
    pub stderr: Vec<u8>,
    pub duration: Duration,
    /// Set when the output pipes stayed open after the group was killed (a descendant that left
    /// it): the output read so far is lost.
    pub note: Option<String>,
}

/// Runs `spec` to its end or its timeout. Never panics, never waits past the timeout (plus a
/// short grace for the pipes).
pub fn run(spec: &Spec) -> Ran {
    let started = Instant::now();
    let not_started = |why: String| Ran {
        status: Status::NotStarted(why),
        stdout: Vec::new(),
        stdout_len: 0,
        truncated: false,
        stderr: Vec::new(),
        duration: started.elapsed(),
        note: None,
    };
    if !spec.program.is_absolute() {
        return not_started(format!(
            "{} is not an absolute path",
            spec.program.display()
        ));
    }
    let mut command = Command::new(spec.program);
    command
        .args(spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    platform::prepare(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return not_started(e.to_string()),
    };
    let group = platform::Group::adopt(&child);
    let stdout = child.stdout.take().map(|pipe| {
        let (cap, keep) = (spec.cap, spec.keep);
        thread::spawn(move || read_capped(pipe, cap, keep))
    });
    let stderr = child
        .stderr
        .take()
        .map(|pipe| thread::spawn(move || read_capped(pipe, STDERR_CAP, Keep::Tail)));
    let status = wait(&mut child, spec.timeout, started);
    // Whatever the child left running dies with it; the child itself is killed directly too,
    // should the group or job not have been made.
    group.kill_all();
    let _ = child.kill();
    let _ = child.wait();
    // The pipes close once every holder is dead; a descendant that left the group may keep
    // them open: its readers are then left behind, their output lost.
    let grace = Instant::now() + PIPE_GRACE;
    let collect = |reader: Option<thread::JoinHandle<(Vec<u8>, u64, bool)>>| {
        let reader = reader?;
        while !reader.is_finished() && Instant::now() < grace {
            thread::sleep(Duration::from_millis(10));
        }
        if reader.is_finished() {
            reader.join().ok()
        } else {
            None
        }
    };
    let had_stdout = stdout.is_some();
    let out = collect(stdout);
    let err = collect(stderr);
    let note = (had_stdout && out.is_none()).then(|| {
        "its output stayed open after it ended (a descendant left its process group): output lost"
            .to_string()
    });
    let (stdout, stdout_len, truncated) = out.unwrap_or_default();
    let (stderr, _, _) = err.unwrap_or_default();
    Ran {
        status,
        stdout,
        stdout_len,
        truncated,
        stderr,
        duration: started.elapsed(),
        note,
    }
}

fn wait(child: &mut Child, timeout: Duration, started: Instant) -> Status {
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Status::Exited(status.code()),
            Ok(None) => {}
            Err(e) => return Status::NotStarted(format!("waiting for it failed: {e}")),
        }
        if started.elapsed() >= timeout {
            return Status::TimedOut(timeout);
        }
        thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Reads a pipe to its end, keeping at most `cap` bytes: the first ones, or the last ones cut at
/// a line start. Returns the kept bytes, the total read and whether any was dropped.
fn read_capped(mut pipe: impl Read, cap: u64, keep: Keep) -> (Vec<u8>, u64, bool) {
    let cap = cap as usize;
    let mut kept = Vec::new();
    let mut total: u64 = 0;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        total += n as u64;
        match keep {
            Keep::Head => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            Keep::Tail => {
                kept.extend_from_slice(&chunk[..n]);
                // Amortised: trim only when twice the cap is held.
                if kept.len() > cap.saturating_mul(2).max(chunk.len()) {
                    let cut = kept.len() - cap;
                    kept.drain(..cut);
                }
            }
        }
    }
    let truncated = total > kept.len() as u64 || kept.len() > cap;
    match keep {
        Keep::Head => {
            // End at a line end, so no entry is half kept.
            if truncated && let Some(end) = memchr::memrchr(b'\n', &kept) {
                kept.truncate(end + 1);
            }
        }
        Keep::Tail => {
            if kept.len() > cap {
                let cut = kept.len() - cap;
                kept.drain(..cut);
            }
            if truncated && let Some(start) = memchr::memchr(b'\n', &kept) {
                kept.drain(..=start);
            }
        }
    }
    (kept, total, truncated)
}

#[cfg(unix)]
mod platform {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    pub fn prepare(command: &mut Command) {
        // Its own process group, so that the whole tree can be killed; a plain environment so
        // that no pager, colour or locale of the caller changes the output.
        command.process_group(0);
        command.env_clear();
        command.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        command.env("LC_ALL", "C");
        command.env("SYSTEMD_PAGER", "");
        command.env("PAGER", "cat");
        command.env("SYSTEMD_COLORS", "0");
    }

    pub struct Group(Option<rustix::process::Pid>);

    impl Group {
        pub fn adopt(child: &Child) -> Group {
            Group(Some(rustix::process::Pid::from_child(child)))
        }

        pub fn kill_all(&self) {
            if let Some(pid) = self.0 {
                // ESRCH (the group is gone) is the usual case.
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

#[cfg(windows)]
mod platform {
    use std::os::windows::io::AsRawHandle;
    use std::os::windows::process::CommandExt;
    use std::process::{Child, Command};

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
        SetInformationJobObject, TerminateJobObject,
    };

    const CREATE_NO_WINDOW: u32 = 0x0800_0000;

    pub fn prepare(command: &mut Command) {
        command.creation_flags(CREATE_NO_WINDOW);
    }

    /// A Job object holding the child: whatever it starts afterwards is in the job too, and
    /// terminating the job ends them all (closing it does as well, should jcdiag die first).
    /// The child is assigned just after it starts; a descendant started in that instant
    /// escapes the job (std starts no process suspended).
    pub struct Group(HANDLE);

    impl Group {
        pub fn adopt(child: &Child) -> Group {
            // SAFETY: plain Win32 calls on handles we own; the limit structure is fully
            // initialised (zeroed, then the one flag set).
            unsafe {
                let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
                if job.is_null() {
                    return Group(std::ptr::null_mut());
                }
                let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
                limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
                SetInformationJobObject(
                    job,
                    JobObjectExtendedLimitInformation,
                    (&raw const limits).cast(),
                    size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
                );
                AssignProcessToJobObject(job, child.as_raw_handle() as HANDLE);
                Group(job)
            }
        }

        pub fn kill_all(&self) {
            if !self.0.is_null() {
                // SAFETY: the job handle is ours and open.
                unsafe {
                    TerminateJobObject(self.0, 1);
                }
            }
        }
    }

    impl Drop for Group {
        fn drop(&mut self) {
            if !self.0.is_null() {
                // SAFETY: closed once, here.
                unsafe {
                    CloseHandle(self.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_kept_from_a_line_start_and_the_head_to_a_line_end() {
        let text = b"one\ntwo\nthree\nfour\n".repeat(10_000);
        let (kept, total, cut) = read_capped(&text[..], 100, Keep::Tail);
        assert!(cut && total == text.len() as u64 && kept.len() <= 100);
        assert!(kept.ends_with(b"four\n") && text.ends_with(&kept));
        assert!(
            kept.starts_with(b"one\n")
                || kept.starts_with(b"two\n")
                || kept.starts_with(b"three\n")
                || kept.starts_with(b"four\n")
        );
        let (kept, _, cut) = read_capped(&text[..], 100, Keep::Head);
        assert!(cut && kept.len() <= 100 && kept.ends_with(b"\n") && text.starts_with(&kept));
        let (kept, _, cut) = read_capped(&b"short\n"[..], 100, Keep::Tail);
        assert!(!cut && kept == b"short\n");
    }

    #[test]
    fn a_relative_program_is_never_run() {
        let ran = run(&Spec {
            program: Path::new("hostname"),
            args: &[],
            timeout: Duration::from_secs(5),
            cap: 1000,
            keep: Keep::Tail,
        });
        assert!(matches!(ran.status, Status::NotStarted(ref why) if why.contains("absolute")));
    }

    #[test]
    fn a_missing_program_is_a_status_not_a_panic() {
        let ran = run(&Spec {
            program: Path::new(if cfg!(windows) {
                r"C:\nowhere\none.exe"
            } else {
                "/nowhere/none"
            }),
            args: &[],
            timeout: Duration::from_secs(5),
            cap: 1000,
            keep: Keep::Tail,
        });
        assert!(
            matches!(ran.status, Status::NotStarted(_)),
            "{:?}",
            ran.status
        );
    }

    /// A real tool of the machine: its output, exit code and a failing one's code.
    #[test]
    fn a_real_tool_runs_and_its_exit_code_is_kept() {
        let (program, ok, failing): (&str, Vec<String>, Vec<String>) = if cfg!(windows) {
            (
                r"C:\windows\system32\reg.exe",
                vec![
                    "query".into(),
                    r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion".into(),
                ],
                vec!["query".into(), r"HKLM\SOFTWARE\jcdiag-no-such-key".into()],
            )
        } else {
            (
                "/bin/sh",
                vec!["-c".into(), "echo out; echo err >&2".into()],
                vec!["-c".into(), "exit 3".into()],
            )
        };
        let spec = |args| Spec {
            program: Path::new(program),
            args,
            timeout: Duration::from_secs(60),
            cap: 1 << 20,
            keep: Keep::Tail,
        };
        let ran = run(&spec(&ok));
        assert!(
            ran.status.succeeded(),
            "{:?} {}",
            ran.status,
            String::from_utf8_lossy(&ran.stderr)
        );
        if cfg!(windows) {
            assert!(String::from_utf8_lossy(&ran.stdout).contains("CurrentVersion"));
        } else {
            assert_eq!(ran.stdout, b"out\n");
            assert_eq!(ran.stderr, b"err\n");
        }
        let ran = run(&spec(&failing));
        assert!(
            matches!(ran.status, Status::Exited(Some(code)) if code != 0),
            "{:?}",
            ran.status
        );
    }

    /// A command that never ends and leaves a grandchild is killed at its timeout, grandchild
    /// included: the grandchild's pid file names a process that no longer exists.
    #[cfg(unix)]
    #[test]
    fn a_hung_command_and_its_grandchild_are_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let script = format!(
            "sleep 1000 & echo $! > {}; echo started; sleep 1000",
            pid_file.display()
        );
        let args = vec!["-c".to_string(), script];
        let ran = run(&Spec {
            program: Path::new("/bin/sh"),
            args: &args,
            timeout: Duration::from_secs(1),
            cap: 1000,
            keep: Keep::Tail,
        });
        assert_eq!(ran.status, Status::TimedOut(Duration::from_secs(1)));
        assert_eq!(ran.status.describe(), "timed out after 1 s");
        assert_eq!(ran.stdout, b"started\n");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Reaped by init once killed: poll briefly, the kill is asynchronous.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
        });
        assert!(gone, "the grandchild {pid} outlived the timeout");
    }

    /// Helper processes of the Windows test below, not tests: run only with `--exact` (the
    /// test starts them so), they return at once in any other run.
    #[cfg(windows)]
    #[test]
    #[ignore = "a helper process of a_hung_command_and_its_grandchild_are_killed_by_the_job"]
    fn sleeper_child() {
        if !std::env::args().any(|a| a == "--exact") {
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let grandchild = std::process::Command::new(exe)
            .args([
                "--ignored",
                "--exact",
                "sources::commands::tests::sleeper_grandchild",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        println!("GRANDCHILD {}", grandchild.id());
        std::io::Write::flush(&mut std::io::stdout()).unwrap();
        std::thread::sleep(Duration::from_secs(1000));
        // Never reached: the job ends this process first.
        let _ = { grandchild }.wait();
    }

    #[cfg(windows)]
    #[test]
    #[ignore = "a helper process of a_hung_command_and_its_grandchild_are_killed_by_the_job"]
    fn sleeper_grandchild() {
        if std::env::args().any(|a| a == "--exact") {
            std::thread::sleep(Duration::from_secs(1000));
        }
    }

    /// Windows: the Job object ends the child and the grandchild it started at the timeout.
    #[cfg(windows)]
    #[test]
    fn a_hung_command_and_its_grandchild_are_killed_by_the_job() {
        use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
        use windows_sys::Win32::System::Threading::{
            GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
        };
        let exe = std::env::current_exe().unwrap();
        let args: Vec<String> = [
            "--ignored",
            "--exact",
            "sources::commands::tests::sleeper_child",
            "--nocapture",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let ran = run(&Spec {
            program: &exe,
            args: &args,
            timeout: Duration::from_secs(5),
            cap: 1 << 16,
            keep: Keep::Tail,
        });
        assert_eq!(ran.status, Status::TimedOut(Duration::from_secs(5)));
        let out = String::from_utf8_lossy(&ran.stdout);
        let pid: u32 = out
            .lines()
            .find_map(|l| l.strip_prefix("GRANDCHILD "))
            .unwrap_or_else(|| panic!("no grandchild started: {out}"))
            .trim()
            .parse()
            .unwrap();
        let alive = || {
            // SAFETY: plain Win32 calls; the handle is closed here.
            unsafe {
                let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
                if handle.is_null() {
                    return false;
                }
                let mut code = 0u32;
                let ok = GetExitCodeProcess(handle, &mut code);
                CloseHandle(handle);
                ok != 0 && code == STILL_ACTIVE as u32
            }
        };
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !alive()
        });
        assert!(gone, "the grandchild {pid} outlived the timeout");
    }
}
