//! The canary test: a planted corpus of secrets in every format the agent's files use, laid out
//! as a real system, collected by `jcdiag collect`, and searched for in every byte of the zip.
//! New scrub rules are checked the same way by adding to `support/canary.rs`.

use jcdiag_testkit::Launch;
use std::collections::BTreeSet;

use crate::support::Sandbox;
use crate::support::canary::*;

/// Where each corpus file sits in the system layout jcdiag collects from.
fn system_path(name: &str) -> String {
    match name {
        n if n.starts_with("jcagent.log") => format!("/var/log/{n}"),
        "jcagent.conf" => "/opt/jc/jcagent.conf".into(),
        "proxy.conf" => "/etc/jcagent-proxy.conf".into(),
        // Everything else is an "other agent log" under /var/log/jumpcloud/.
        other => format!("/var/log/jumpcloud/{other}"),
    }
}

#[test]
fn no_planted_secret_survives_and_every_lookalike_does() {
    let sandbox = Sandbox::new("linux");
    let corpus = write_corpus(&|name| sandbox.path(&system_path(name)));
    assert!(
        corpus.secrets.len() >= 40,
        "{} secrets",
        corpus.secrets.len()
    );
    let kinds: BTreeSet<&String> = corpus.secrets.iter().map(|(k, _)| k).collect();
    assert!(kinds.len() >= 12, "{kinds:?}");

    let output = sandbox.collect(&["--description", "canary"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bundle = sandbox.bundle();
    // The corpus really went in: every log and config file is in the bundle.
    for name in [
        "logs/var/log/jcagent.log",
        "logs/var/log/jcagent.log.2",
        "agent/jcagent.conf",
        "agent/jcagent-proxy.conf",
    ] {
        assert!(
            bundle.entries.contains_key(name),
            "{name} missing: {:?}",
            bundle.entries.keys()
        );
    }
    let leaked: Vec<&(String, Vec<u8>)> = corpus
        .secrets
        .iter()
        .filter(|(_, value)| bundle.contains(value))
        .collect();
    assert!(
        leaked.is_empty(),
        "leaked: {:?}",
        leaked
            .iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(v)))
            .collect::<Vec<_>>()
    );
    let lost: Vec<String> = corpus
        .lookalikes
        .iter()
        .filter(|value| !bundle.contains(value))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(lost.is_empty(), "look-alikes changed: {lost:?}");
    assert!(!bundle.entries.keys().any(|n| n.ends_with("client.key")));
    let total: u64 = bundle.manifest()["redactions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        total >= corpus.secrets.len() as u64 - 2,
        "{total} redactions counted"
    );
}

/// jcdiag's own log, its outbox metadata and everything it prints hold neither the token nor a
/// collected secret: through a failed delivery (endpoint down, case kept) and a good one.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_the_outbox_and_the_messages_hold_no_token_and_no_secret() {
    use crate::support::{Intake, ORG};
    let sandbox = Sandbox::new("linux");
    let corpus = write_corpus(&|name| sandbox.path(&system_path(name)));
    let state = sandbox.dir.path().join("state");
    let mut intake = Intake::start().await;
    let token = intake.token(ORG, None);
    intake.stop().await;
    let submit = |extra: &[&str]| {
        let mut command = crate::support::jcdiag(sandbox.dir.path());
        command
            .args([
                "submit",
                "--yes",
                "-v",
                "--description",
                "canary",
                "--severity",
                "2",
            ])
            .args([
                "--tier",
                "premium",
                "--email",
                "admin@example.com",
                "--deadline",
                "2s",
            ])
            .arg("--sysroot")
            .arg(sandbox.root())
            .args([
                "--target-os",
                "linux",
                "--endpoint",
                &intake.url,
                "--token",
                &token,
            ])
            .arg("--ca-file")
            .arg(&intake.certs.ca_pem)
            .arg("--state-dir")
            .arg(&state)
            .arg("--out")
            .arg(sandbox.out())
            .args(extra);
        command
    };
    let mut printed = Vec::new();
    let down = tokio::task::spawn_blocking({
        let mut command = submit(&[]);
        move || command.run().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        down.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    printed.extend([down.stdout, down.stderr]);

    let with_bytes = |dir: &std::path::Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        crate::support::files_under(dir)
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect()
    };
    let kept = with_bytes(&state);
    let names: Vec<String> = kept.iter().map(|(p, _)| p.display().to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("jcdiag.log")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("outbox")), "{names:?}");
    let log = std::fs::read_to_string(state.join("log").join("jcdiag.log")).unwrap();
    assert!(log.contains("delivery attempt failed"), "{log}");

    intake.resume().await;
    let flushed = tokio::task::spawn_blocking({
        let mut command = crate::support::jcdiag(sandbox.dir.path());
        command
            .args([
                "outbox",
                "flush",
                "-v",
                "--token",
                &token,
                "--endpoint",
                &intake.url,
            ])
            .arg("--ca-file")
            .arg(&intake.certs.ca_pem)
            .arg("--state-dir")
            .arg(&state);
        move || command.run().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        flushed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&flushed.stderr)
    );
    printed.extend([flushed.stdout, flushed.stderr]);
    let log = std::fs::read_to_string(state.join("log").join("jcdiag.log")).unwrap();
    assert!(log.contains("delivered; receipt issued"), "{log}");

    let mut haystacks: Vec<(String, Vec<u8>)> = kept
        .into_iter()
        .chain(with_bytes(&state))
        .map(|(p, bytes)| (p.display().to_string(), bytes))
        .collect();
    haystacks.extend(
        printed
            .into_iter()
            .map(|bytes| ("output".to_string(), bytes)),
    );
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    for (place, bytes) in &haystacks {
        assert!(
            !contains(bytes, token.as_bytes()),
            "the token is in {place}"
        );
        for (kind, secret) in &corpus.secrets {
            assert!(
                !contains(bytes, secret),
                "a planted {kind} secret is in {place}"
            );
        }
    }
}

#[test]
fn corpus_is_well_formed() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let root = std::env::temp_dir().join(format!("canary-corpus-{}-{nanos}", std::process::id()));
    let corpus = write_corpus(&|name| root.join("logical").join(name));

    assert_eq!(corpus.files.len(), LOGICAL_NAMES.len());
    let all: Vec<Vec<u8>> = corpus
        .files
        .iter()
        .map(|f| std::fs::read(f).expect("read back"))
        .collect();
    let found = |needle: &[u8]| {
        all.iter()
            .any(|f| f.windows(needle.len()).any(|w| w == needle))
    };

    assert!(
        corpus.secrets.len() >= 40,
        "{} secrets",
        corpus.secrets.len()
    );
    let kinds: BTreeSet<&str> = corpus.secrets.iter().map(|(k, _)| k.as_str()).collect();
    assert!(kinds.len() >= 12, "{} kinds: {kinds:?}", kinds.len());
    for (kind, value) in &corpus.secrets {
        assert!(value.len() >= 12, "{kind} secret too short");
        assert!(
            found(value),
            "{kind} secret {:?} not in any file",
            String::from_utf8_lossy(value)
        );
    }
    assert!(
        corpus.lookalikes.len() >= 40,
        "{} look-alikes",
        corpus.lookalikes.len()
    );
    for l in &corpus.lookalikes {
        assert!(
            found(l),
            "look-alike {:?} not in any file",
            String::from_utf8_lossy(l)
        );
    }
    let longest = all
        .iter()
        .flat_map(|f| f.split(|&b| b == b'\n'))
        .map(<[u8]>::len)
        .max();
    assert!(longest > Some(100_000));
    assert!(
        all.iter().any(|f| std::str::from_utf8(f).is_err()),
        "some invalid UTF-8"
    );
    // Deterministic: the same corpus every time.
    let again = write_corpus(&|name| root.join("again").join(name));
    assert_eq!(corpus.secrets, again.secrets);
    std::fs::remove_dir_all(&root).ok();
}
