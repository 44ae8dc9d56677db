//! The support console in a real browser: headless Chromium driven over WebDriver against a
//! real jcdiag-intake (TLS on 127.0.0.1, `serve --releases` with this build's jcdiag), with
//! real uploads. One browser session for the whole module.
//!
//! Compiled out on Windows: Chromium, chromedriver and dash are Linux tools here, and a
//! Windows test binary under Wine cannot start them.
#![cfg(unix)]

use std::process::Command;

use jcdiag_protocol::findings::{Check, Evidence, Findings, KnownSignature, Signature, Status};
use jcdiag_testkit::webdriver::{self, Browser};
use reqwest::Method;
use serde_json::{Value, json};

use crate::installer::{Machine, blocking, bundle_count, intake_with, releases};
use crate::support::*;

const EMAIL: &str = "grace@support.example.com";
const PASSWORD: &str = "console test password";
/// Hostile text as a customer could type it into the form or get it into a log.
const HOSTILE: [&str; 3] = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "<a href=\"javascript:window.__pwned = 'link'\">click me</a>",
];
const SHARED_SIGNATURE: &str = "failed to poll server: Get <url>: EOF";
const NEEDLE: &str = "needle-7f3a9c";

fn findings(signature: &str) -> Findings {
    let check = |id: &str, status, advice: Option<&str>| Check {
        id: id.into(),
        title: format!("check {id}"),
        status,
        summary: format!("summary of {id} {}", HOSTILE[1]),
        evidence: vec![Evidence {
            text: format!("evidence for {id}"),
            file: Some("logs/jcagent.log".into()),
            line: Some(3),
        }],
        advice: advice.map(str::to_owned),
        link: Some("javascript:window.__pwned = 'finding'".into()),
    };
    Findings {
        schema: jcdiag_protocol::findings::FINDINGS_SCHEMA.into(),
        generated: "2026-12-01T10:00:00Z".into(),
        checks: vec![
            check("agent.enrolled", Status::Ok, None),
            check(
                "cert.client.validity",
                Status::Fail,
                Some("Re-install the agent to renew its certificate"),
            ),
            check("net.agent-host.443", Status::Warn, None),
        ],
        signatures: vec![Signature {
            signature: signature.into(),
            level: "ERROR".into(),
            count: 12,
            first_seen: None,
            last_seen: None,
            example: Evidence {
                text: "example".into(),
                file: None,
                line: None,
            },
            known: Some(KnownSignature {
                id: "poll-eof".into(),
                meaning: "the agent lost its connection".into(),
                advice: "check the proxy".into(),
                link: None,
            }),
        }],
    }
}

/// A 64 MiB agent log: hostile lines at 2-4, an ERROR every 997 lines, one needle line.
fn big_log() -> (Vec<u8>, u64) {
    let mut log = Vec::with_capacity(65 << 20);
    log.extend_from_slice(b"2026/12/01 09:00:00 [100] [INFO] agent starting\n");
    for hostile in HOSTILE {
        log.extend_from_slice(format!("2026/12/01 09:00:01 [100] [INFO] {hostile}\n").as_bytes());
    }
    let mut line = 4u64;
    let mut needle_line = 0;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while log.len() < 64 << 20 {
        line += 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let level = if line.is_multiple_of(997) {
            "ERROR"
        } else {
            "INFO"
        };
        let extra = if line == 500_003 {
            needle_line = line;
            NEEDLE
        } else {
            ""
        };
        log.extend_from_slice(
            format!(
                "2026/12/01 10:{:02}:{:02} [{}] [{level}] request {x:016x} done{extra}\n",
                (line / 60) % 60,
                line % 60,
                x % 9000
            )
            .as_bytes(),
        );
    }
    assert!(needle_line > 0);
    (log, needle_line)
}

fn bundle_with(case: &Value, log: &[u8], signature: &str) -> Vec<u8> {
    let system = json!({"agent": {"version": "1.210.0"}, "hostname": "host-1"});
    zip_of(&[
        ("case.json", case.to_string().as_bytes()),
        (
            "summary.txt",
            format!("Summary: agent offline {}\n", HOSTILE[0]).as_bytes(),
        ),
        ("system.json", system.to_string().as_bytes()),
        (
            "findings.json",
            serde_json::to_string(&findings(signature))
                .unwrap()
                .as_bytes(),
        ),
        ("logs/jcagent.log", log),
    ])
}

/// Opens a case with `case` as its case.json and uploads `bundle` to it.
async fn submit_case(intake: &Intake, token: &str, case: &Value, bundle: &[u8]) -> String {
    let body =
        json!({"case": case, "bundle": {"sha256": sha256_hex(bundle), "size": bundle.len()}});
    let request = intake
        .request(Method::POST, "/v1/cases", Some(token))
        .header("Idempotency-Key", uuid())
        .json(&body);
    let reply = intake.send("/v1/cases", request).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let case_id = reply.body["case_id"].as_str().unwrap().to_owned();
    let url = intake.start_upload(token, &case_id, bundle).await;
    let reply = intake.upload_all(token, &url, bundle, 16 << 20).await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    case_id
}

/// Nothing hostile ran or became an element: checked in the page, not in the HTML text.
async fn assert_inert(browser: &Browser) {
    let found = browser
        .execute(
            "return {pwned: window.__pwned === undefined ? null : String(window.__pwned),
                     scripts: document.scripts.length,
                     imgs: document.images.length,
                     js_links: Array.from(document.links).filter(a => a.protocol === 'javascript:').length,
                     onerror: document.querySelectorAll('[onerror]').length};",
        )
        .await;
    assert_eq!(
        found,
        json!({"pwned": null, "scripts": 0, "imgs": 0, "js_links": 0, "onerror": 0}),
        "hostile content became live in {}",
        browser.url().await
    );
}

async fn page_text(browser: &Browser) -> String {
    browser
        .execute("return document.body.innerText;")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn support_works_a_case_in_the_browser_from_the_queue_to_a_requested_bundle() {
    if !webdriver::available() {
        panic!(
            "this test needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
        );
    }
    let releases = releases(false);
    let intake = intake_with(releases.path()).await;
    add_staff(&intake.data_dir, EMAIL, PASSWORD);
    let token = intake.token(ORG, None);

    // The case under test: a hostile form, a 64 MiB log. Two more cases share a signature.
    let mut hostile_case = case_json();
    hostile_case["form"]["description"] = json!(HOSTILE.join("\n"));
    hostile_case["form"]["hostname"] = json!(HOSTILE[2]);
    let (log, needle_line) = big_log();
    let main_bundle = bundle_with(&hostile_case, &log, SHARED_SIGNATURE);
    drop(log);
    let main = submit_case(&intake, &token, &hostile_case, &main_bundle).await;
    let small = bundle_with(&case_json(), b"2026/12/01 [INFO] fine\n", SHARED_SIGNATURE);
    let overdue = submit_case(&intake, &token, &case_json(), &small).await;
    let other = bundle_with(
        &case_json(),
        b"2026/12/01 [INFO] other\n",
        "another signature",
    );
    let soon = submit_case(&intake, &token, &case_json(), &other).await;
    set_response_due(&intake.data_dir, &main, "2099-01-01T00:00:00Z");
    set_response_due(&intake.data_dir, &overdue, "2020-01-01T00:00:00-07:00");
    set_response_due(&intake.data_dir, &soon, "2030-01-01T00:00:00Z");

    let browser = Browser::start(&intake.certs).await;
    let console = format!("{}/console", intake.url);

    // Without a session, the login form; log in.
    browser.goto(&console).await;
    browser
        .type_into(&browser.find("input[name=email]").await, EMAIL)
        .await;
    browser
        .type_into(&browser.find("input[name=password]").await, PASSWORD)
        .await;
    browser
        .click_to_load(&browser.find("form.login button").await)
        .await;
    assert_eq!(browser.url().await, console);

    // The queue: overdue first and marked, then by response target.
    let mut order = Vec::new();
    for row in browser.find_all("tr[data-case]").await {
        order.push(browser.attribute(&row, "data-case").await.unwrap());
    }
    assert_eq!(order, [overdue.clone(), soon.clone(), main.clone()]);
    let first = browser.text(&browser.find("tr.overdue").await).await;
    assert!(
        first.contains(&overdue) && first.contains("OVERDUE"),
        "{first}"
    );

    // The case: hostile form text shown as written, nothing live.
    browser
        .click_to_load(
            &browser
                .find(&format!("a[href='/console/cases/{main}']"))
                .await,
        )
        .await;
    let text = page_text(&browser).await;
    for hostile in HOSTILE {
        assert!(
            text.contains(hostile),
            "{hostile} not shown as text in:\n{text}"
        );
    }
    assert!(text.contains("javascript:window.__pwned = 'finding'"));
    assert_inert(&browser).await;
    // Findings worst first, with evidence and advice; summary.txt and system facts.
    let checks = browser.find_all("ul.checks li.check").await;
    assert_eq!(
        browser.attribute(&checks[0], "class").await.as_deref(),
        Some("check fail")
    );
    let failing = browser.text(&checks[0]).await;
    assert!(
        failing.contains("Re-install the agent")
            && failing.contains("evidence for cert.client.validity"),
        "{failing}"
    );
    assert!(
        text.contains("Summary: agent offline") && text.contains("1.210.0"),
        "{text}"
    );

    // The log viewer: hostile lines inert; search lands on the line's page, highlighted.
    browser
        .click_to_load(&browser.find("a[href*='entry=logs%2Fjcagent.log']").await)
        .await;
    let text = page_text(&browser).await;
    for hostile in HOSTILE {
        assert!(text.contains(hostile), "{hostile} not shown in the log");
    }
    assert_inert(&browser).await;
    browser
        .type_into(&browser.find("form.search input[name=q]").await, NEEDLE)
        .await;
    browser
        .click_to_load(&browser.find("form.search button").await)
        .await;
    let hit = browser.find("li.hit").await;
    assert_eq!(
        browser.attribute(&hit, "id").await.unwrap(),
        format!("L{needle_line}")
    );
    assert!(browser.text(&hit).await.contains(NEEDLE));
    // The next ERROR line after it: 500,003 -> 500,455 (every 997th line).
    browser
        .click_to_load(&browser.find("a.err[href*='error=next']").await)
        .await;
    let hit = browser.find("li.hit").await;
    let next_error = needle_line.div_ceil(997) * 997;
    assert_eq!(
        browser.attribute(&hit, "id").await.unwrap(),
        format!("L{next_error}")
    );
    assert!(browser.text(&hit).await.contains("[ERROR]"));

    // Status: waiting on customer, with who in the history.
    browser.goto(&format!("{console}/cases/{main}")).await;
    browser
        .click(
            &browser
                .find("form[action$='/status'] option[value=waiting]")
                .await,
        )
        .await;
    browser
        .click_to_load(&browser.find("form[action$='/status'] button").await)
        .await;
    assert_eq!(
        browser.text(&browser.find("#status").await).await,
        "waiting on customer"
    );
    assert!(
        browser
            .text(&browser.find("#history").await)
            .await
            .contains(EMAIL)
    );

    // Request a bundle, and run the one-liner shown, adapted for the test: the test CA for
    // curl, dash instead of sudo sh, and the install folder and CA from the environment.
    browser
        .click_to_load(&browser.find("#request button").await)
        .await;
    let unix = browser.text(&browser.find("#unix").await).await;
    let jumpcloud: Value =
        serde_json::from_str(&browser.text(&browser.find("#jumpcloud").await).await).unwrap();
    assert!(
        unix.starts_with(&format!(
            "curl -fsSL {}/install.sh | sudo sh -s -- --case {main} --token jcd_",
            intake.url
        )),
        "{unix}"
    );
    let token_shown = unix.rsplit(' ').next().unwrap().to_owned();
    assert!(
        jumpcloud["command"]
            .as_str()
            .unwrap()
            .ends_with(&format!("--case {main} --token {token_shown}"))
    );
    let adapted = unix
        .replacen(
            "curl -fsSL ",
            &format!("curl -fsSL --cacert '{}' ", intake.certs.ca_pem.display()),
            1,
        )
        .replacen("| sudo sh -s --", "| dash -s --", 1);
    let machine = Machine::new();
    let extra: Vec<String> = machine.submit_args(&main, &token_shown)[4..]
        .iter()
        .map(|arg| format!("'{arg}'"))
        .collect();
    let mut run = Command::new("sh");
    run.arg("-c").arg(format!("{adapted} {}", extra.join(" ")));
    isolate(&mut run, machine.dir.path());
    run.env("HOME", machine.dir.path().join("home"))
        .env("JCDIAG_INSTALL_DIR", machine.install_dir())
        .env("JCDIAG_CA_FILE", &intake.certs.ca_pem)
        .env("JCDIAG_CONFIG", machine.dir.path().join("config.toml"))
        .env("JCDIAG_STATE_DIR", machine.dir.path().join("state"));
    let output = blocking(run).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        bundle_count(&intake, &main),
        2,
        "the bundle arrived on case {main}"
    );
    browser.goto(&format!("{console}/cases/{main}")).await;
    assert!(page_text(&browser).await.contains("Bundles (2)"));

    // The fleet: the shared signature counts two cases and links to both.
    browser.goto(&format!("{console}/fleet")).await;
    let rows = browser.find_all("section#signatures tbody tr").await;
    let first = browser.text(&rows[0]).await;
    assert!(
        first.contains(SHARED_SIGNATURE) && first.contains(&main) && first.contains(&overdue),
        "{first}"
    );
    assert_eq!(
        browser
            .text(&browser.find("section#signatures tbody tr td.cases").await)
            .await,
        "2"
    );
    assert!(page_text(&browser).await.contains("1.210.0"));
    browser.quit().await;
}
