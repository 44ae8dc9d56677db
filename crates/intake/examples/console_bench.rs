//! The console's server time with 10,000 cases in the store (`benches/console.sh` runs it):
//! the median of 20 `Server-Timing` values (the time from the request reaching the console's
//! routes to the answer's head) for the queue page and for a case page, against the goals
//! (queue <= 100 ms, case <= 150 ms). `cargo run -p jcdiag-intake --example console_bench
//! [-- CASES]`.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use jcdiag_intake::store::{Receipt, Store, UploadRecord};
use jcdiag_intake::{Config, ids, serve};
use rusqlite::params;

const RUNS: usize = 20;
const PASSWORD: &str = "bench password, long enough";

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, contents) in entries {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(contents).expect("zip write");
    }
    writer.finish().expect("zip").into_inner()
}

/// 10,000 cases over 50 orgs, every tier and severity, a third of them with a bundle, some
/// overdue, some answered or resolved; case 1 has a real bundle with findings and a log.
fn fill(data: &std::path::Path, cases: i64) -> String {
    let store = Store::open(&data.join("intake.sqlite")).expect("store");
    drop(store);
    let mut conn = rusqlite::Connection::open(data.join("intake.sqlite")).expect("sqlite");
    let tx = conn.transaction().expect("transaction");
    let now = Utc::now();
    let tiers = ["free", "standard", "premium", "jumpstart"];
    for id in 1..=cases {
        let due = (id % 4 != 3).then(|| {
            let hours = (id * 7919) % 400 - 100; // some overdue
            (now + chrono::Duration::hours(hours)).to_rfc3339()
        });
        let case_json = format!(
            r#"{{"schema":"jcdiag.case/1","form":{{"description":"case {id}: the agent stopped checking in","email":"admin{id}@example.com"}},"tier":"premium","severity":2}}"#
        );
        tx.execute(
            "INSERT INTO cases (id, org, case_json, tier, severity, response_due, created, intake_tier, intake_due)
             VALUES (?1, ?2, ?3, 'premium', ?4, NULL, ?5, ?6, ?7)",
            params![
                id,
                format!("org-{:02}", id % 50),
                case_json,
                (id % 4 + 1).to_string(),
                (now - chrono::Duration::minutes(id)).to_rfc3339(),
                tiers[(id % 4) as usize],
                due
            ],
        )
        .expect("case");
        if id % 3 == 0 {
            let sha = format!("{id:064x}");
            tx.execute(
                "INSERT INTO bundles (case_id, sha256, size, received_at) VALUES (?1, ?2, 1000, ?3)",
                params![id, sha, now.to_rfc3339()],
            )
            .expect("bundle");
            tx.execute(
                "INSERT INTO bundle_facts (case_id, sha256, worst, agent_version) VALUES (?1, ?2, ?3, ?4)",
                params![id, sha, id % 4, format!("1.{}.0", 200 + id % 7)],
            )
            .expect("facts");
            tx.execute(
                "INSERT INTO bundle_signatures (case_id, sha256, signature, level, count) VALUES (?1, ?2, ?3, 'ERROR', ?4)",
                params![id, sha, format!("signature number {}", id % 40), id % 100 + 1],
            )
            .expect("signature");
        }
        if id % 5 == 0 {
            tx.execute(
                "INSERT INTO case_work (case_id, status, first_response_at, first_response_by)
                 VALUES (?1, ?2, ?3, 'bench@example.com')",
                params![
                    id,
                    ["open", "waiting", "resolved"][(id % 3) as usize],
                    now.to_rfc3339()
                ],
            )
            .expect("work");
        }
    }
    tx.commit().expect("commit");
    drop(conn);

    // Case 1: a real bundle, as a finished upload leaves it.
    let log: String = (0..20_000)
        .map(|i| {
            format!(
                "2026/12/01 10:00:{:02} [42] [{}] line {i}\n",
                i % 60,
                if i % 97 == 0 { "ERROR" } else { "INFO" }
            )
        })
        .collect();
    let findings = r#"{"schema":"jcdiag.findings/1","generated":"2026-12-01T10:00:00Z","checks":[{"id":"agent.enrolled","title":"Agent enrolled","status":"ok","summary":"enrolled"},{"id":"cert.client.validity","title":"Client certificate","status":"fail","summary":"expired 3 days ago","evidence":[{"text":"notAfter=2026-11-28","file":"logs/jcagent.log","line":3}],"advice":"Re-install the agent"}],"signatures":[{"signature":"signature number 1","level":"ERROR","count":12,"first_seen":null,"last_seen":null,"example":{"text":"x"}}]}"#;
    let bundle = zip_of(&[
        ("case.json", b"{}"),
        ("summary.txt", b"The agent stopped checking in.\n"),
        (
            "system.json",
            br#"{"agent":{"version":"1.210.0"},"hostname":"bench-host"}"#,
        ),
        ("findings.json", findings.as_bytes()),
        ("logs/jcagent.log", log.as_bytes()),
    ]);
    let sha = hex::encode(sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(&bundle),
    ));
    let case = ids::CaseId::from_row(1);
    let dir = jcdiag_intake::files::DataDir::create(data).expect("data folder");
    std::fs::create_dir_all(dir.case_bundles(case)).expect("bundle folder");
    std::fs::write(dir.bundle(case, &sha), &bundle).expect("bundle file");
    let store = Store::open(&dir.database()).expect("store");
    let upload = UploadRecord {
        id: ids::UploadId::random().expect("random"),
        case_id: case,
        length: bundle.len() as u64,
        offset: bundle.len() as u64,
        sha256: sha.clone(),
        filename: None,
        expires: now,
        receipt: None,
    };
    let receipt = Receipt {
        receipt_id: "bench".into(),
        case_id: case.to_string(),
        sha256: sha,
        size: bundle.len() as u64,
        received_at: jcdiag_intake::store::timestamp(now),
    };
    store
        .complete_upload(&upload, &receipt)
        .expect("bundle row");
    let hash = jcdiag_intake::staff::hash_password(PASSWORD).expect("hash");
    store
        .put_staff("bench@example.com", &hash, now)
        .expect("staff");
    case.to_string()
}

fn server_ms(response: &reqwest::Response) -> f64 {
    response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|v| v.parse().ok())
        .expect("a Server-Timing header")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0
}

#[tokio::main]
async fn main() {
    let cases: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let tmp = tempfile::tempdir().expect("temp folder");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("data folder");
    let started = std::time::Instant::now();
    let case = fill(&data, cases);
    eprintln!(
        "filled {cases} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = serve(Config::new(&data), listener).await.expect("serve");
    let base = server.url();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    // Log in through the form, as a browser does.
    let login = http
        .get(format!("{base}/console/login"))
        .send()
        .await
        .expect("login page");
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let page = login.text().await.expect("page");
    let token = page
        .split("name=\"login_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("token")
        .to_owned();
    let answer = http
        .post(format!("{base}/console/login"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "login_csrf={token}&email=bench%40example.com&password={}",
            PASSWORD.replace(' ', "+").replace(',', "%2C")
        ))
        .send()
        .await
        .expect("login");
    assert_eq!(answer.status(), 303, "login failed");
    let session = answer.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();

    let mut results = Vec::new();
    for (name, path, goal) in [
        ("queue page", "/console".to_owned(), 100.0),
        ("case page", format!("/console/cases/{case}"), 150.0),
    ] {
        let mut times = Vec::new();
        for run in 0..=RUNS {
            let response = http
                .get(format!("{base}{path}"))
                .header("cookie", &session)
                .send()
                .await
                .expect("page");
            assert_eq!(response.status(), 200, "{path}");
            let ms = server_ms(&response);
            response.bytes().await.expect("body");
            if run > 0 {
                times.push(ms); // the first is a warm-up (first facts read, statement cache)
            }
        }
        results.push((name, median(times), goal));
    }
    for (name, ms, goal) in &results {
        let verdict = if ms <= goal { "ok" } else { "OVER GOAL" };
        println!(
            "{name:<11} median of {RUNS}: {ms:7.1} ms server time (goal <= {goal} ms) {verdict}"
        );
    }
    server.shutdown().await;
}
