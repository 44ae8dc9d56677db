//! Provider credentials (issue #15): every positive example of the vendored Nosey Parker rule
//! set, planted in a log, a YAML value, a plist value and a JSON value of a real system layout,
//! is gone from the bundle `jcdiag collect` makes; the `--dry-run` preview names the rules; and
//! Yelp's detect-secrets, run with its provider plugins over the unpacked bundle, finds nothing
//! (while it does find the planted credentials in the system's files).

use std::path::Path;

use jcdiag_scrub::provider::{VendoredRule, covered, excluded, vendored};
use jcdiag_testkit::Launch;

use crate::support::{Bundle, Sandbox};

/// Shapes the issue names, as agents, scripts and admins print them. Not all of them are
/// examples of the vendored rules. (`secret`, `planted text`); values are made up.
const ISSUE_SHAPES: &[(&str, &str)] = &[
    (
        "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",
        "sending mail with key 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",
    ),
    (
        "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
        "discord bot started, token MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    ),
    (
        "1102015430:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1",
        "telegram: https://api.telegram.org/bot1102015430:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1/getMe",
    ),
    (
        "sq0csp-0p9h7g6f5e4d3c2b1a0z9y8x7w6v5u4t3s2r1q0Abcd",
        "square app secret sq0csp-0p9h7g6f5e4d3c2b1a0z9y8x7w6v5u4t3s2r1q0Abcd loaded",
    ),
    (
        "AKCp8igrDNFerC357m4422e4tmu7xB983QLPxJhKFcSMfoux2RFvp8rc4jC8t9ncdmYCMFD8W",
        "curl -H 'X-JFrog-Art-Api: AKCp8igrDNFerC357m4422e4tmu7xB983QLPxJhKFcSMfoux2RFvp8rc4jC8t9ncdmYCMFD8W' https://repo.example.com/artifactory/api/system/ping",
    ),
    (
        "NjEwGHd9+piK+iCi2C2XURWPmeDDjif9UKN1HAszYptL4iQ+yD7/dgjLMZc3VOpURsa53aJ4HZfbVWzL429C5g==",
        "storage: DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=NjEwGHd9+piK+iCi2C2XURWPmeDDjif9UKN1HAszYptL4iQ+yD7/dgjLMZc3VOpURsa53aJ4HZfbVWzL429C5g==;EndpointSuffix=core.windows.net",
    ),
    (
        "Tr0ub4dor&3x",
        "mounting share with credentials 'Tr0ub4dor&3x' as backup",
    ),
];

/// The rules in use (and those excluded as covered by jcdiag's own rules) and, for each
/// positive example, what its rule takes out of it.
fn examples() -> Vec<(VendoredRule, String, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    for rule in vendored().expect("vendored rules parse").rules {
        if excluded(&rule.id).is_some() && !covered(&rule.id) {
            continue;
        }
        let re = rule.regex().expect("vendored rule compiles");
        for ex in rule.examples.clone() {
            let secrets = rule.secrets_in(&re, ex.as_bytes());
            out.push((rule.clone(), ex, secrets));
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` without `[REDACTED:kind]` placeholders (a kind may spell a word that is also a
/// secret, `password`).
fn without_placeholders(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = memchr::memmem::find(rest, b"[REDACTED:") {
        out.extend_from_slice(&rest[..i]);
        rest = &rest[i..];
        let close = memchr::memchr(b']', rest).map_or(rest.len(), |j| j + 1);
        rest = &rest[close..];
    }
    out.extend_from_slice(rest);
    out
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find_iter(hay, needle).count()
}

/// The planted files: (system path, bundle entry name, text, how a secret is written in it).
struct Planted {
    system_path: &'static str,
    entry: &'static str,
    text: String,
    encode: fn(&str) -> String,
}

fn plant(sandbox: &Sandbox) -> (Vec<Planted>, Vec<(String, String)>) {
    let examples = examples();
    let mut log = String::new();
    let mut yaml = String::from("examples:\n");
    let mut plist = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n",
    );
    let mut json = serde_json::Map::new();
    let mut secrets = Vec::new();
    let all = examples
        .iter()
        .map(|(rule, ex, found)| {
            let found: Vec<String> = found
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            (rule.id.clone(), ex.clone(), found)
        })
        .chain(ISSUE_SHAPES.iter().map(|(secret, text)| {
            (
                "issue".to_string(),
                text.to_string(),
                vec![secret.to_string()],
            )
        }));
    for (i, (id, ex, found)) in all.enumerate() {
        log.push_str(&format!("2026/01/02 03:04:05 [4242] [INFO] loaded {ex}\n"));
        let indented = ex.trim_end().replace('\n', "\n    ");
        yaml.push_str(&format!("  e{i}: |\n    {indented}\n"));
        plist.push_str(&format!(
            "\t<key>Example{i}</key>\n\t<string>{}</string>\n",
            xml_escape(&ex)
        ));
        json.insert(format!("e{i}"), serde_json::Value::String(ex));
        secrets.extend(found.into_iter().map(|s| (id.clone(), s)));
    }
    plist.push_str("</dict>\n</plist>\n");
    let json = serde_json::to_string_pretty(&serde_json::json!({ "notes": json })).unwrap();
    let planted = vec![
        Planted {
            system_path: "/var/log/jumpcloud/provider.log",
            entry: "provider.log",
            text: log,
            encode: |s| s.to_string(),
        },
        Planted {
            system_path: "/var/log/jumpcloud/provider.yaml",
            entry: "provider.yaml",
            text: yaml,
            encode: |s| s.to_string(),
        },
        Planted {
            system_path: "/var/log/jumpcloud/provider.plist",
            entry: "provider.plist",
            text: plist,
            encode: xml_escape,
        },
        Planted {
            system_path: "/opt/jc/jcagent.conf",
            entry: "jcagent.conf",
            text: json,
            encode: |s| {
                let quoted = serde_json::to_string(s).unwrap();
                quoted[1..quoted.len() - 1].to_string()
            },
        },
    ];
    for p in &planted {
        sandbox.write(p.system_path, &p.text);
    }
    (planted, secrets)
}

fn entry<'a>(bundle: &'a Bundle, suffix: &str) -> &'a [u8] {
    bundle
        .entries
        .iter()
        .find(|(name, _)| name.ends_with(suffix))
        .map(|(_, bytes)| bytes.as_slice())
        .unwrap_or_else(|| panic!("{suffix} not in the bundle: {:?}", bundle.entries.keys()))
}

#[test]
fn every_vendored_example_leaves_the_bundle_without_its_secret() {
    let sandbox = Sandbox::new("linux");
    let (planted, secrets) = plant(&sandbox);
    assert!(secrets.len() > 300, "{} secrets", secrets.len());

    let output = sandbox.collect(&["--description", "provider secrets"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bundle = sandbox.bundle();
    let mut leaks = Vec::new();
    for p in &planted {
        let got = without_placeholders(entry(&bundle, p.entry));
        for (id, secret) in &secrets {
            let secret = (p.encode)(secret);
            // A secret may also be a word of its example (`password 'password'`): it leaks
            // if it is still there as often as it was planted.
            let before = count(p.text.as_bytes(), secret.as_bytes());
            if before > 0 && count(&got, secret.as_bytes()) >= before {
                leaks.push(format!("{id} in {}: {secret:?}", p.entry));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );

    // The manifest counts the redactions by rule.
    let manifest = bundle.manifest();
    let redactions = manifest["redactions"].as_object().unwrap();
    for kind in [
        "sendgrid-api-key",
        "telegram-bot-token",
        "age-identity",
        "connection-string",
        "discord-bot-token",
    ] {
        assert!(redactions.contains_key(kind), "{kind}: {redactions:?}");
    }

    // The dry run's preview names them too.
    let output = sandbox.collect(&["--dry-run"]);
    assert!(output.status.success());
    let preview = String::from_utf8_lossy(&output.stdout);
    assert!(
        preview.contains(" sendgrid-api-key") && preview.contains(" age-identity"),
        "{preview}"
    );
}

/// The Python with detect-secrets: `JCDIAG_TEST_PYTHON` (scripts/test.sh's virtual
/// environment), else `python3`.
fn python() -> std::process::Command {
    std::process::Command::new(
        std::env::var_os("JCDIAG_TEST_PYTHON").unwrap_or_else(|| "python3".into()),
    )
}

/// detect-secrets' findings in `dir`, by file, with its provider plugins only: its entropy,
/// keyword and public-IP plugins would flag the manifest's hashes and addresses.
fn detect_secrets(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    let output = python()
        .args(["-m", "detect_secrets", "scan", "--all-files"])
        .args([
            "--disable-plugin",
            "Base64HighEntropyString",
            "--disable-plugin",
            "HexHighEntropyString",
            "--disable-plugin",
            "KeywordDetector",
            "--disable-plugin",
            "IPPublicDetector",
        ])
        .arg(".")
        .current_dir(dir)
        .run()
        .expect("python runs");
    assert!(
        output.status.success(),
        "detect-secrets did not run ({}): {}\nRun the tests with scripts/test.sh: it installs detect-secrets in a virtual environment and sets JCDIAG_TEST_PYTHON",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    report["results"].as_object().cloned().unwrap_or_default()
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs detect-secrets in a Linux Python virtual environment (scripts/test.sh)"
)]
fn detect_secrets_finds_nothing_in_the_bundle_of_the_provider_corpus() {
    let sandbox = Sandbox::new("linux");
    plant(&sandbox);
    // The tool finds the planted credentials in the system's files: it can see what it must
    // not see in the bundle.
    let before = detect_secrets(&sandbox.root());
    let found: usize = before
        .values()
        .map(|v| v.as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        found >= 20,
        "detect-secrets found only {found} in the corpus: {before:?}"
    );

    let output = sandbox.collect(&["--description", "provider secrets"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bundle = sandbox.bundle();
    let unpacked = tempfile::tempdir().unwrap();
    for (name, bytes) in &bundle.entries {
        let path = unpacked.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let after = detect_secrets(unpacked.path());
    let lines: Vec<String> = after
        .iter()
        .flat_map(|(file, found)| {
            let text = std::fs::read_to_string(unpacked.path().join(file)).unwrap_or_default();
            found
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |f| {
                    let n = f["line_number"].as_u64().unwrap_or(0) as usize;
                    let line = text.lines().nth(n.saturating_sub(1)).unwrap_or_default();
                    format!("{file}:{n}: {}: {line}", f["type"])
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        lines.is_empty(),
        "detect-secrets found:\n{}",
        lines.join("\n")
    );
}

/// `disabled_secret_rules` in the config file turns a provider rule off, by kind or id; a name
/// that is no rule is a usage error (exit 2) that names the key.
#[test]
fn the_config_turns_a_provider_rule_off_and_rejects_an_unknown_one() {
    let sendgrid = "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";
    let square = "sq0csp-0p9h7g6f5e4d3c2b1a0z9y8x7w6v5u4t3s2r1q0Abcd";
    let sandbox = Sandbox::new("linux");
    sandbox.write(
        "/var/log/jumpcloud/provider.log",
        format!(
            "2026/01/02 03:04:05 [1] [INFO] mail key {sendgrid}\n\
             2026/01/02 03:04:06 [1] [INFO] square {square}\n"
        ),
    );
    let config = sandbox.dir.path().join("config.toml");

    std::fs::write(&config, "disabled_secret_rules = [\"sendgrid-api-key\"]\n").unwrap();
    let output = sandbox.collect(&[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bundle = sandbox.bundle();
    assert!(
        bundle.contains(sendgrid.as_bytes()),
        "the rule was turned off"
    );
    assert!(
        !bundle.contains(square.as_bytes()),
        "the other rules still run"
    );
    std::fs::remove_dir_all(sandbox.out()).unwrap();
    std::fs::create_dir_all(sandbox.out()).unwrap();

    std::fs::write(&config, "disabled_secret_rules = [\"no-such-rule\"]\n").unwrap();
    let output = sandbox.collect(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("disabled_secret_rules") && stderr.contains("no-such-rule"),
        "{stderr}"
    );
    assert!(sandbox.out_files().is_empty());
}
