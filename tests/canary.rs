//! The canary test: a planted corpus of secrets in every format the agent's files use, laid out
//! as a real system, collected by `jcdiag collect`, and searched for in every byte of the zip.
//! New scrub rules are checked the same way by adding to `support/canary.rs`.

mod support;

use std::collections::BTreeSet;

use support::Sandbox;
use support::canary::*;

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
