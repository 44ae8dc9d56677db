//! The place in support's queue is the intake's to set: the org's tier is the one given with
//! its token (`token create --tier`), and the response target is computed by the intake from
//! that tier, the severity, the time it received the case and its own holidays. What the
//! client's case.json says (a 1970 target, another tier) is kept only as what the client said.

use jcdiag_testkit::Launch;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, Days, SubsecRound, Utc};
use jcdiag_profile::Profile;
use jcdiag_profile::sla::{ResponseDue, Severity, Tier};
use jcdiag_testkit::{sample_bundle, sha256_hex, uuid};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_jcdiag-intake");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn intake(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("JCDIAG_INTAKE_DATA")
        .run()
        .unwrap()
}

fn stdout(data: &Path, args: &[&str]) -> String {
    let output = intake(data, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The target the intake must compute, with `holidays` added to the built-in support hours.
fn expected(
    tier: Tier,
    severity: u8,
    at: DateTime<Utc>,
    holidays: &[chrono::NaiveDate],
) -> DateTime<Utc> {
    let mut sla = Profile::builtin().sla.clone();
    sla.support_hours.holidays.extend(holidays.iter().copied());
    let severity: Severity = severity.to_string().parse().unwrap();
    match sla.response_due(tier, severity, at).unwrap() {
        ResponseDue::At(due) => due.with_timezone(&Utc),
        other => panic!("no target: {other:?}"),
    }
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(
        value
            .as_str()
            .unwrap_or_else(|| panic!("not a time: {value}")),
    )
    .unwrap()
    .with_timezone(&Utc)
}

#[tokio::test]
async fn the_intake_sets_the_target_from_the_orgs_tier_and_its_own_holidays() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = |org: &str, tier: Option<&str>| {
        let mut args = vec!["token", "create", "--org", org];
        args.extend(tier.map(|t| ["--tier", t]).into_iter().flatten());
        stdout(&data, &args).trim().to_owned()
    };
    let standard = token("acme", Some("standard"));
    let premium = token("gold", Some("premium"));
    // A token made without --tier (as every token before this change): no tier on record.
    let legacy = token("legacy", None);
    // A tier that is not one of the four is refused.
    assert_eq!(
        intake(
            &data,
            &["token", "create", "--org", "x", "--tier", "platinum"]
        )
        .status
        .code(),
        Some(2)
    );

    // The next three weeks are holidays (in the support time zone): a Standard case's target
    // can only fall after them.
    let denver = Profile::builtin().sla.support_hours.time_zone;
    let today = Utc::now().with_timezone(&denver).date_naive();
    let holidays: Vec<_> = (0..21).map(|d| today + Days::new(d)).collect();
    let mut serve = Command::new(BIN);
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env_remove("JCDIAG_INTAKE_DATA")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    for day in &holidays {
        serve.args(["--holiday", &day.to_string()]);
    }
    let mut child = serve.start().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Server(child);
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("serve did not start: {line:?}"))
        .to_owned();

    let http = jcdiag_testkit::Certs::generate(tmp.path()).http_client();
    let bundle = sample_bundle();
    // Every case claims to be Premium and long overdue.
    let submit = |token: String, severity: u8| {
        let http = http.clone();
        let url = format!("{base}/v1/cases");
        let body = json!({
            "case": {"schema": "jcdiag.case/1", "form": {"description": "down"}, "tier": "premium",
                     "severity": severity, "response_due": "1970-01-01T00:00:00Z"},
            "bundle": {"sha256": sha256_hex(&bundle), "size": bundle.len()},
        });
        async move {
            // Targets are stored to the second.
            let before = Utc::now().trunc_subsecs(0);
            let answer = http
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", uuid())
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 201);
            let answer: Value = answer.json().await.unwrap();
            (before, Utc::now(), answer)
        }
    };

    let (before, after, acme) = submit(standard, 1).await;
    let due = time(&acme["response_due"]);
    assert!(
        expected(Tier::Standard, 1, before, &holidays) <= due
            && due <= expected(Tier::Standard, 1, after, &holidays),
        "Standard severity 1 after the holidays, not the client's 1970: {due}"
    );
    assert!(due.with_timezone(&denver).date_naive() > *holidays.last().unwrap());

    let (before, after, gold) = submit(premium, 3).await;
    let due = time(&gold["response_due"]);
    assert!(
        expected(Tier::Premium, 3, before, &[]) <= due
            && due <= expected(Tier::Premium, 3, after, &[]),
        "Premium severity 3: 4 hours of wall clock: {due}"
    );

    let (_, _, unknown) = submit(legacy, 1).await;
    assert_eq!(
        unknown["response_due"],
        Value::Null,
        "no tier on record: no target"
    );

    // The queue follows the intake's targets: Premium (hours) before Standard (weeks), the case
    // without a target last; none is overdue, whatever the clients claimed.
    let list: Value = serde_json::from_str(&stdout(&data, &["case", "list", "--json"])).unwrap();
    let order: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap())
        .collect();
    let ids = [&gold, &acme, &unknown].map(|c| c["case_id"].as_str().unwrap());
    assert_eq!(order, ids);
    for case in list.as_array().unwrap() {
        assert_eq!(case["overdue"], false, "{case}");
        assert_eq!(case["client_said"]["tier"], "premium", "{case}");
        assert_eq!(
            case["client_said"]["response_due"], "1970-01-01T00:00:00Z",
            "{case}"
        );
    }
    assert_eq!(list[0]["tier"], "premium");
    assert_eq!(list[1]["tier"], "standard");
    assert_eq!(list[2]["tier"], Value::Null);
    assert_eq!(list[1]["response_due"], acme["response_due"]);

    let table = stdout(&data, &["case", "list"]);
    assert!(
        !table.contains("OVERDUE") && !table.contains("1970"),
        "{table}"
    );

    let acme_id = ids[1];
    let page = stdout(&data, &["case", "show", acme_id]);
    let due_line = page
        .lines()
        .find(|l| l.contains("Response due (intake)"))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        due_line.contains(acme["response_due"].as_str().unwrap()),
        "{page}"
    );
    let said = page
        .lines()
        .find(|l| l.contains("Client said"))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        said.contains("premium") && said.contains("1970-01-01T00:00:00Z"),
        "{page}"
    );
}
