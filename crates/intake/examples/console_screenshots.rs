//! Screenshots of the support console from the real UI (`scripts/console-screenshots.sh`
//! runs it): a real intake over TLS with a few uploaded cases, headless Chromium logged in,
//! the queue and a case page saved as PNGs into the folder given (default `docs/`).
//! `cargo run -p jcdiag-intake --example console_screenshots [-- DIR]`.

use jcdiag_testkit::webdriver::Browser;
use jcdiag_testkit::*;
use serde_json::json;

const EMAIL: &str = "support@example.com";
const PASSWORD: &str = "screenshot password";

fn findings(signature: &str, fail: bool) -> String {
    json!({
        "schema": "jcdiag.findings/1",
        "generated": "2026-12-01T10:00:00Z",
        "checks": [
            {"id": "cert.client.validity", "title": "Agent client certificate", "status": if fail { "fail" } else { "ok" },
             "summary": if fail { "the client certificate expired 3 days ago" } else { "valid for 212 more days" },
             "evidence": [{"text": "notAfter=Nov 28 09:12:44 2026 GMT", "file": "logs/jcagent.log", "line": 1841}],
             "advice": if fail { Some("Re-install the agent with a fresh connect key to renew its certificate") } else { None }},
            {"id": "net.agent-host.443", "title": "agent.jumpcloud.com:443 reachable", "status": "warn",
             "summary": "reached through a proxy that answered slowly (2.4 s)", "evidence": []},
            {"id": "agent.enrolled", "title": "Agent enrolled", "status": "ok", "summary": "system key present", "evidence": []}
        ],
        "signatures": [{"signature": signature, "level": "ERROR", "count": 37, "first_seen": "2026/11/28 09:12:44",
                        "last_seen": "2026/12/01 09:58:02", "example": {"text": signature, "file": "logs/jcagent.log", "line": 1841}}]
    })
    .to_string()
}

fn bundle(description: &str, org_host: &str, signature: &str, fail: bool) -> Vec<u8> {
    let mut case = case_json();
    case["form"]["description"] = json!(description);
    let log: String = (0..3000)
        .map(|i| {
            let level = if i % 211 == 7 { "ERROR" } else { "INFO" };
            let message = if level == "ERROR" {
                signature.to_owned()
            } else {
                "Sending heartbeat to agent.jumpcloud.com".to_owned()
            };
            format!(
                "2026/12/01 09:{:02}:{:02} [3217] [{level}] {message}\n",
                (i / 60) % 60,
                i % 60
            )
        })
        .collect();
    let system = json!({"agent": {"version": "1.210.0"}, "hostname": org_host});
    zip_of(&[
        ("case.json", case.to_string().as_bytes()),
        ("summary.txt", format!("{description}\n\nAgent 1.210.0 on {org_host}; last check-in 2026-11-28 09:12 UTC.\n").as_bytes()),
        ("system.json", system.to_string().as_bytes()),
        ("findings.json", findings(signature, fail).as_bytes()),
        ("logs/jcagent.log", log.as_bytes()),
        ("logs/jcupdate.log", b"2026/12/01 08:00:00 [INFO] no update\n"),
    ])
}

#[tokio::main]
async fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "docs".into()));
    let intake = Intake::start().await;
    add_staff(&intake.data_dir, EMAIL, PASSWORD);
    let cases = [
        (
            "acme",
            "The agent stopped checking in after the certificate rotation",
            "failed to poll server: Get <url>: EOF",
            true,
            Some(3),
        ),
        (
            "globex",
            "Users cannot log in with their JumpCloud password on two Macs",
            "password sync failed: <n> users",
            false,
            None,
        ),
        (
            "initech",
            "Agent update fails on Windows Server 2022",
            "failed to poll server: Get <url>: EOF",
            true,
            Some(26),
        ),
        (
            "umbrella",
            "Policy results never reach the console",
            "policy result upload: status <n>",
            false,
            None,
        ),
        (
            "acme",
            "High CPU from jumpcloud-agent on Ubuntu 24.04",
            "failed to poll server: Get <url>: EOF",
            false,
            None,
        ),
    ];
    // The case page shown: the overdue one with a failing check.
    let mut shown = String::new();
    for (org, description, signature, fail, due) in cases {
        let data = bundle(description, &format!("{org}-host-01"), signature, fail);
        let token = intake.token(org, None);
        let mut case = case_json();
        case["form"]["description"] = json!(description);
        case["form"]["email"] = json!(format!("it-admin@{org}.example.com"));
        let body =
            json!({"case": case, "bundle": {"sha256": sha256_hex(&data), "size": data.len()}});
        let request = intake
            .request(reqwest::Method::POST, "/v1/cases", Some(&token))
            .header("Idempotency-Key", uuid())
            .json(&body);
        let reply = intake.send("/v1/cases", request).await;
        let case_id = reply.body["case_id"].as_str().expect("case id").to_owned();
        let url = intake.start_upload(&token, &case_id, &data).await;
        intake.upload_all(&token, &url, &data, data.len()).await;
        if let Some(hours_ago) = due {
            let due = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
            set_response_due(
                &intake.data_dir,
                &case_id,
                &due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
        }
        if org == "initech" {
            shown = case_id;
        }
    }
    let browser = Browser::start(&intake.certs).await;
    browser.goto(&format!("{}/console", intake.url)).await;
    browser
        .type_into(&browser.find("input[name=email]").await, EMAIL)
        .await;
    browser
        .type_into(&browser.find("input[name=password]").await, PASSWORD)
        .await;
    browser
        .click_to_load(&browser.find("form.login button").await)
        .await;
    std::fs::write(out.join("console-queue.png"), browser.screenshot().await)
        .expect("queue screenshot");
    browser
        .goto(&format!("{}/console/cases/{shown}", intake.url))
        .await;
    std::fs::write(out.join("console-case.png"), browser.screenshot().await)
        .expect("case screenshot");
    browser.quit().await;
    println!(
        "wrote {}/console-queue.png and console-case.png",
        out.display()
    );
}
