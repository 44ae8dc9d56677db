//! The wizard, driven through a real pseudo-terminal: `jcdiag` alone on a terminal asks for
//! the form, shows what will be sent, asks for consent and delivers the case to a real
//! jcdiag-intake. Ctrl-C at any step leaves nothing behind. Unix only (rexpect needs a pty).
#![cfg(unix)]

use std::path::PathBuf;
use std::process::Command;

use crate::support::{Intake, ORG, Sandbox, files_under, log_lines};
use rexpect::session::{PtySession, spawn_command};

const TIMEOUT_MS: u64 = 60_000;

/// `jcdiag ARGS…` for a pty: stdin, stdout and stderr are the terminal (so not the
/// `crate::support::jcdiag()` command, which closes stdin), kept in the sandbox's folder. The
/// environment carries the sending settings the config file would give on a real machine.
fn on_terminal(args: &[&str], sandbox: &Sandbox, intake: &Intake, token: &str) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jcdiag"));
    crate::support::isolate(&mut command, sandbox.dir.path());
    let config = sandbox.dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    command
        .args(args)
        .env("JCDIAG_CONFIG", &config)
        .env("JCDIAG_ENDPOINT", &intake.url)
        .env("JCDIAG_TOKEN", token)
        .env("JCDIAG_CA_FILE", &intake.certs.ca_pem)
        .env("JCDIAG_SYSROOT", sandbox.root())
        .env("JCDIAG_TARGET_OS", "linux")
        .env("JCDIAG_STATE_DIR", state_dir(sandbox))
        .env("TERM", "dumb");
    spawn_command(command, Some(TIMEOUT_MS)).expect("a pty")
}

fn state_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.dir.path().join("state")
}

/// Exit code of the finished session.
fn exit_code(session: &mut PtySession) -> String {
    format!("{:?}", session.process_mut().wait().unwrap())
}

fn sandbox_with_log() -> Sandbox {
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(50, "wizard"));
    sandbox
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typed_answers_become_the_case_that_support_receives() {
    let intake = Intake::start().await;
    let token = intake.token(ORG, None);
    let sandbox = sandbox_with_log();
    let shot = sandbox.dir.path().join("login.png");
    std::fs::write(&shot, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-fake-but-png-magic").unwrap();
    let not_an_image = sandbox.dir.path().join("notes.txt");
    std::fs::write(&not_an_image, b"just text").unwrap();

    let mut session = on_terminal(&[], &sandbox, &intake, &token);
    let typed = tokio::task::spawn_blocking(move || {
        let p = &mut session;
        p.exp_string("Describe the problem").unwrap();
        p.send_line("Login fails after password change").unwrap();
        p.send_line("on every Mac in the office").unwrap();
        p.send_line("").unwrap();
        p.exp_string("tried already").unwrap();
        p.send_line("Rebooted; re-entered the password").unwrap();
        p.send_line("").unwrap();
        p.exp_string("Error messages").unwrap();
        p.send_line("Invalid credentials").unwrap();
        p.send_line("").unwrap();
        p.exp_string("Entire loss of functionality").unwrap(); // severity 1's definition
        p.exp_string("Choose 1, 2 or 3").unwrap();
        p.send_line("2").unwrap();
        p.exp_string("support tier").unwrap();
        p.send_line("premium").unwrap();
        p.exp_string("Admin contact email").unwrap();
        p.send_line("not an address").unwrap();
        p.exp_string("is not an email address").unwrap();
        p.send_line("admin@example.com").unwrap();
        p.exp_string("Your name").unwrap();
        p.send_line("Ada Admin").unwrap();
        p.exp_string("screenshot:").unwrap();
        p.send_line(not_an_image.to_str().unwrap()).unwrap();
        p.exp_string("not an image").unwrap();
        p.send_line(shot.to_str().unwrap()).unwrap();
        p.send_line("").unwrap();
        p.exp_string("These files will be sent to JumpCloud support")
            .unwrap();
        let listing = p.exp_string("Send them? [y/N]").unwrap();
        p.send_line("y").unwrap();
        let receipt = p.exp_string("received").unwrap();
        let rest = p.exp_eof().unwrap();
        (listing, format!("{receipt}{rest}"), exit_code(p))
    })
    .await
    .unwrap();
    let (listing, receipt, code) = typed;
    assert!(listing.contains("logs/var/log/jcagent.log"), "{listing}");
    assert!(listing.contains("screenshots/login.png"), "{listing}");
    assert!(code.ends_with(", 0)"), "{code}: {receipt}");
    assert!(receipt.contains("Case "), "{receipt}");

    let cases = intake
        .cli_json(&["case", "list"])
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(cases.len(), 1);
    let case = intake.cli_json(&["case", "show", cases[0]["case_id"].as_str().unwrap()]);
    let form = &case["form"];
    assert_eq!(
        form["description"],
        "Login fails after password change\non every Mac in the office"
    );
    assert_eq!(form["troubleshooting"], "Rebooted; re-entered the password");
    assert_eq!(form["errors"][0], "Invalid credentials");
    assert_eq!(form["contact"]["email"], "admin@example.com");
    assert_eq!(form["contact"]["name"], "Ada Admin");
    assert_eq!(form["screenshots"][0], "login.png");
    assert_eq!(case["severity"], 2, "{case}");
    assert_eq!(case["tier"], "premium");
    assert_eq!(case["bundles"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_mid_form_or_at_consent_leaves_nothing() {
    let intake = Intake::start().await;
    let token = intake.token(ORG, None);
    for stop_at in ["Choose 1, 2 or 3", "Send them? [y/N]"] {
        let sandbox = sandbox_with_log();
        let out = sandbox.out();
        let mut session = on_terminal(
            &["submit", "--out", out.to_str().unwrap()],
            &sandbox,
            &intake,
            &token,
        );
        let (seen, code) = tokio::task::spawn_blocking(move || {
            let p = &mut session;
            p.exp_string("Describe the problem").unwrap();
            p.send_line("Something broke").unwrap();
            p.send_line("").unwrap();
            if stop_at.starts_with("Send") {
                p.exp_string("Choose 1, 2 or 3").unwrap();
                p.send_line("3").unwrap();
                p.exp_string("support tier").unwrap();
                p.send_line("standard").unwrap();
                p.exp_string("Admin contact email").unwrap();
                p.send_line("admin@example.com").unwrap();
            }
            p.exp_string(stop_at).unwrap();
            p.send_control('c').unwrap();
            let seen = p.exp_eof().unwrap();
            (seen, exit_code(p))
        })
        .await
        .unwrap();
        assert!(
            code.ends_with(", 130)"),
            "stopped at {stop_at}: {code}: {seen}"
        );
        assert!(seen.contains("interrupted; nothing was kept"), "{seen}");
        assert_eq!(
            files_under(&out),
            Vec::<PathBuf>::new(),
            "stopped at {stop_at}"
        );
        let kept: Vec<PathBuf> = files_under(&state_dir(&sandbox))
            .into_iter()
            .filter(|p| !p.starts_with(state_dir(&sandbox).join("log")))
            .collect();
        assert_eq!(kept, Vec::<PathBuf>::new(), "stopped at {stop_at}");
    }
    assert!(
        intake
            .cli_json(&["case", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// `jcdiag collect` on a terminal (no intake needed), with extra environment.
fn collect_on_terminal(sandbox: &Sandbox, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jcdiag"));
    crate::support::isolate(&mut command, sandbox.dir.path());
    command.env_remove("NO_COLOR");
    let config = sandbox.dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    command
        .arg("collect")
        .arg("--sysroot")
        .arg(sandbox.root())
        .args(["--target-os", "linux", "--description", "colours"])
        .arg("--out")
        .arg(sandbox.out())
        .arg("--state-dir")
        .arg(state_dir(sandbox))
        .env("JCDIAG_CONFIG", &config)
        .env("TERM", "xterm-256color")
        .envs(env.iter().copied());
    let mut session = spawn_command(command, Some(TIMEOUT_MS)).expect("a pty");
    let seen = session.exp_eof().unwrap();
    assert!(exit_code(&mut session).ends_with(", 0)"), "{seen}");
    seen
}

#[test]
fn a_terminal_gets_a_progress_spinner_and_colour_unless_no_color_says_otherwise() {
    // A log big enough that collecting it takes a few spinner ticks, and a missing agent
    // config so that there is a warning to colour.
    let sandbox = Sandbox::new("linux");
    sandbox.write("/var/log/jcagent.log", log_lines(20_000, "big"));
    sandbox.write("/var/log/jcagent.log.1", log_lines(20_000, "older"));
    let sgr = |text: &str| text.contains("\u{1b}[33m") || text.contains("\u{1b}[36m");

    let seen = collect_on_terminal(&sandbox, &[]);
    assert!(seen.contains("collecting: "), "no spinner: {seen:?}");
    assert!(sgr(&seen), "no colour on a colour terminal: {seen:?}");

    std::fs::remove_dir_all(sandbox.out()).unwrap();
    std::fs::create_dir(sandbox.out()).unwrap();
    let seen = collect_on_terminal(&sandbox, &[("NO_COLOR", "1")]);
    assert!(!sgr(&seen), "colour despite NO_COLOR: {seen:?}");

    std::fs::remove_dir_all(sandbox.out()).unwrap();
    std::fs::create_dir(sandbox.out()).unwrap();
    let seen = collect_on_terminal(&sandbox, &[("JCDIAG_COLOR", "never")]);
    assert!(!sgr(&seen), "colour despite --color never: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_says_plainly_when_the_case_holds_no_agent_log() {
    let intake = Intake::start().await;
    let token = intake.token(ORG, None);
    let form = [
        "--description",
        "agent never installed",
        "--severity",
        "3",
        "--tier",
        "standard",
        "--email",
        "admin@example.com",
    ];
    // A bundle made earlier (`submit BUNDLE`), then one collected by `submit` itself.
    let earlier = Sandbox::new("linux");
    assert!(earlier.collect(&["--description", "x"]).status.success());
    let bundle = earlier.bundle().path;
    for given in [Some(bundle), None] {
        let sandbox = Sandbox::new("linux");
        let mut args = vec!["submit"];
        if let Some(bundle) = &given {
            args.push(bundle.to_str().unwrap());
        }
        args.extend(form);
        let mut session = on_terminal(&args, &sandbox, &intake, &token);
        let listing = tokio::task::spawn_blocking(move || {
            let p = &mut session;
            p.exp_string("These files will be sent to JumpCloud support")
                .unwrap();
            let listing = p.exp_string("Send them? [y/N]").unwrap();
            p.send_line("n").unwrap();
            p.exp_eof().unwrap();
            listing
        })
        .await
        .unwrap();
        assert!(
            listing.contains("No JumpCloud agent log was found: the case will hold no agent log"),
            "{given:?}: {listing}"
        );
    }
    assert!(
        intake
            .cli_json(&["case", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}
